//! Exports: copy a file the console made (a flame graph, a trace) to where the user chose
//! in the save dialog.

use std::path::Path;

use crate::error::UiError;

/// `export_file`: copies `from` to `to` through a temporary file, so a failed copy never
/// leaves a half-written export under the chosen name.
#[tauri::command]
pub async fn export_file(from: String, to: String) -> Result<u64, UiError> {
    super::keys::blocking(move || {
        let (from, to) = (Path::new(&from), Path::new(&to));
        if !from.is_file() {
            return Err(UiError::usage(format!("{} does not exist", from.display())));
        }
        let dir = to
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| UiError::io(format!("cannot write in {}", dir.display()), e))?;
        let n = std::fs::copy(from, tmp.path())
            .map_err(|e| UiError::io(format!("cannot copy {}", from.display()), e))?;
        tmp.persist(to)
            .map_err(|e| UiError::io(format!("cannot write {}", to.display()), e.error))?;
        Ok(n)
    })
    .await
}
