//! The Settings view: ONNX Runtimes, providers and GPUs, and where the data lives.
//! Installing a runtime is a job (`start_job` with `install_runtime`).

use assay_engine::runtime::RuntimeListing;

use super::blocking;
use crate::{data::DataDirs, error::UiError, worker};

/// `system_info`: `assay runtime list --json` (installed runtimes, the active one with
/// its execution providers, GPUs) as the worker process sees it.
#[tauri::command]
pub async fn system_info() -> Result<RuntimeListing, UiError> {
    blocking(|| worker::run_json(&["runtime", "list", "--json"])).await
}

/// `data_locations`: the run history, profiles, releases, gateways and keys.
#[tauri::command]
pub fn data_locations<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> Result<DataDirs, UiError> {
    DataDirs::of(&app)
}
