//! Where the console keeps its data: the app data dir (`~/.local/share/dev.assay.console`
//! on Linux), or `$ASSAY_CONSOLE_DATA` (tests, portable installs). Signing keys are not
//! here: they are shared with the `assay` CLI (`<data dir>/assay/keys`).

use std::path::PathBuf;

use serde::Serialize;
use tauri::Manager;

use crate::error::UiError;

/// The console's data locations, as Settings shows them.
#[derive(Debug, Clone, Serialize)]
pub struct DataDirs {
    pub root: PathBuf,
    /// The SQLite run history.
    pub db: PathBuf,
    /// One folder per profile (operators, flame graph, traces).
    pub profiles: PathBuf,
    /// Release folders and their signatures.
    pub releases: PathBuf,
    /// Saved gateways (their tokens are in the keychain).
    pub gateways: PathBuf,
    /// Signing keys, shared with the CLI.
    pub keys: Option<PathBuf>,
}

impl DataDirs {
    pub fn at(root: PathBuf) -> DataDirs {
        DataDirs {
            db: root.join("assay.db"),
            profiles: root.join("profiles"),
            releases: root.join("releases"),
            gateways: root.join("gateways"),
            keys: assay_release::keystore::KeyStore::default_dir().ok(),
            root,
        }
    }

    pub fn of<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<DataDirs, UiError> {
        let root = match std::env::var_os("ASSAY_CONSOLE_DATA") {
            Some(p) => PathBuf::from(p),
            None => app
                .path()
                .app_data_dir()
                .map_err(|e| UiError::io("cannot tell where the app data folder is", e))?,
        };
        std::fs::create_dir_all(&root)
            .map_err(|e| UiError::io(format!("cannot create {}", root.display()), e))?;
        Ok(DataDirs::at(root))
    }
}

/// Whether `path` lies under `root`, judged on the words of the path (no `..` anywhere, so a
/// path cannot climb out after the prefix matches). Both must be absolute.
pub fn is_inside(root: &std::path::Path, path: &std::path::Path) -> bool {
    use std::path::Component;
    path.is_absolute()
        && !path.components().any(|c| matches!(c, Component::ParentDir))
        && path.starts_with(root)
}
