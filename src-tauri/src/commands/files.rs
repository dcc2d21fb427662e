//! Exports: copy a file the console made (a flame graph, a trace) to where the user chose
//! in the save dialog.

use std::path::Path;

use assay_engine::durable;

use crate::{
    data::{DataDirs, is_inside},
    error::UiError,
};

/// `export_file`: copies `from`, a file the console made (under its data folder), to `to`
/// through a temporary file, so a failed copy never leaves a half-written export under the
/// chosen name.
#[tauri::command]
pub async fn export_file<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    from: String,
    to: String,
) -> Result<u64, UiError> {
    let root = DataDirs::of(&app)?.root;
    super::blocking(move || {
        let (from, to) = (Path::new(&from), Path::new(&to));
        if !is_inside(&root, from) {
            return Err(UiError::usage(format!(
                "{} is not a file the console made (those are under {})",
                from.display(),
                root.display()
            )));
        }
        if !from.is_file() {
            return Err(UiError::usage(format!("{} does not exist", from.display())));
        }
        // An export is for sharing: the usual file mode, not a temporary file's 0600.
        let mut n = 0;
        durable::write_with(to, durable::Mode::Shared, durable::Replace::Always, |f| {
            n = std::io::copy(&mut std::fs::File::open(from)?, f)?;
            Ok(())
        })
        .map_err(|e| {
            UiError::io(
                format!("cannot copy {} to {}", from.display(), to.display()),
                e,
            )
        })?;
        Ok(n)
    })
    .await
}
