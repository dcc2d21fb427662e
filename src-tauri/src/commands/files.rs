//! Exports: copy a file the console made (a flame graph, a trace) to where the user chose
//! in the save dialog.

use std::path::Path;

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
        let dir = to
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| UiError::io(format!("cannot write in {}", dir.display()), e))?;
        let n = std::fs::copy(from, tmp.path())
            .map_err(|e| UiError::io(format!("cannot copy {}", from.display()), e))?;
        // An export is for sharing: the usual file mode, not the temporary file's 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(to)
            .map_err(|e| UiError::io(format!("cannot write {}", to.display()), e.error))?;
        Ok(n)
    })
    .await
}
