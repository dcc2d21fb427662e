//! The Settings view: installed ONNX Runtimes and where the data lives.

use serde::Serialize;

use crate::error::UiError;

/// What Settings shows about runtimes.
#[derive(Debug, Serialize)]
pub struct RuntimesView {
    /// Where `assay runtime install` puts runtimes.
    pub root: String,
    pub installed: Vec<assay_engine::runtime::InstalledRuntime>,
}

/// `runtimes`: the installed ONNX Runtime builds, newest first.
#[tauri::command]
pub fn runtimes() -> Result<RuntimesView, UiError> {
    let root = assay_engine::runtime::runtimes_root()?;
    Ok(RuntimesView {
        root: root.display().to_string(),
        installed: assay_engine::runtime::installed_runtimes()?,
    })
}
