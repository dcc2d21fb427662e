//! Where the console keeps its data: the app data dir (`~/.local/share/dev.assay.console`
//! on Linux), or `$ASSAY_CONSOLE_DATA` (tests, portable installs). The run history and the
//! signing keys are not here: they are shared with the `assay` CLI (`<data dir>/assay/`),
//! so a run made in one shows in the other. A console database from before that move is
//! imported into the shared one once, and left in place.

use std::path::PathBuf;

use serde::Serialize;
use tauri::Manager;

use crate::error::UiError;

/// The console's data locations, as Settings shows them.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
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
        let (root, portable) = match std::env::var_os("ASSAY_CONSOLE_DATA") {
            Some(p) => (PathBuf::from(p), true),
            None => (
                app.path()
                    .app_data_dir()
                    .map_err(|e| UiError::io("cannot tell where the app data folder is", e))?,
                false,
            ),
        };
        std::fs::create_dir_all(&root)
            .map_err(|e| UiError::io(format!("cannot create {}", root.display()), e))?;
        let mut dirs = DataDirs::at(root);
        // The CLI's history: `$ASSAY_DB`, else its default. A portable data folder keeps its
        // own unless `$ASSAY_DB` says otherwise.
        if let Some(db) = std::env::var_os("ASSAY_DB").filter(|v| !v.is_empty()) {
            dirs.db = PathBuf::from(db);
        } else if !portable {
            dirs.db = assay_store::Store::default_path()?;
        }
        Ok(dirs)
    }

    /// The console's own database from before the history was shared, when it is not the
    /// history itself.
    fn legacy_db(&self) -> Option<PathBuf> {
        let old = self.root.join("assay.db");
        (old != self.db && old.is_file()).then_some(old)
    }

    /// Imports the console's old database into the shared history, once: a marker beside
    /// the old file records that it was done (the old file stays, as a backup).
    pub async fn adopt_legacy_history(&self, store: &assay_store::Store) -> Result<(), UiError> {
        let Some(old) = self.legacy_db() else {
            return Ok(());
        };
        let marker = self.root.join("assay.db.imported");
        if marker.exists() {
            return Ok(());
        }
        let n = store.import_from(&old).await?;
        assay_engine::durable::write(
            &marker,
            format!("{n} runs imported into {}\n", self.db.display()).as_bytes(),
            assay_engine::durable::Mode::Shared,
        )
        .map_err(|e| UiError::io(format!("cannot write {}", marker.display()), e))?;
        Ok(())
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
