//! The Profile view's extras beyond the worker's profile document: one inference's
//! timeline, read from the trace the profile wrote.

use assay_engine::ErrorKind;
use std::path::PathBuf;

use assay_engine::profile::timeline::{self, Timeline};

use super::blocking;
use crate::error::UiError;

/// `profile_timeline`: the last profiled inference's kernels in time, from `trace.json` in
/// the profile folder (or a trace file given directly).
#[tauri::command]
pub async fn profile_timeline(path: String) -> Result<Option<Timeline>, UiError> {
    blocking(move || {
        let mut p = PathBuf::from(&path);
        if p.is_dir() {
            p = p.join("trace.json");
        }
        let f = std::fs::File::open(&p)
            .map_err(|e| UiError::io(format!("cannot read the trace {}", p.display()), e))?;
        timeline::last_inference(f).map_err(|e| UiError {
            kind: ErrorKind::Io,
            message: e.to_string(),
            detail: Some(p.display().to_string()),
        })
    })
    .await
}
