//! The commands the front end invokes, one module per view (jobs and files are shared),
//! and [`blocking`], which keeps slow work off the UI thread.

use crate::error::UiError;
use assay_engine::ErrorKind;

pub mod files;
pub mod fleet;
pub mod gateways;
pub mod jobs;
pub mod keys;
pub mod models;
pub mod probe;
pub mod profiles;
pub mod releases;
pub mod runs;
pub mod settings;
pub mod viewer;

/// Runs slow, non-crashing work (hashing, key derivation) off the UI thread.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UiError> + Send + 'static,
) -> Result<T, UiError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| UiError {
            kind: ErrorKind::Internal,
            message: "the work stopped unexpectedly".into(),
            detail: Some(e.to_string()),
        })?
}
