//! The Models view: inspect a model file, and find the bundled sample model.

use assay_engine::ErrorKind;
use std::path::PathBuf;

use tauri::{Manager, path::BaseDirectory};

use crate::error::UiError;

/// `inspect_model`: the model's inputs, outputs, metadata, operator histogram, size and
/// sha256, read without running it.
#[tauri::command]
pub async fn inspect_model(path: String) -> Result<assay_engine::model::ModelReport, UiError> {
    // Hashing a large model takes a moment: keep it off the UI thread.
    super::blocking(move || Ok(assay_engine::model::inspect(path.as_ref())?)).await
}

/// `model_dims`: the model's dynamic dimensions, each with the value the forms pre-fill and
/// where it came from (the model's metadata, the last run of this model in the shared
/// history, or a default).
#[tauri::command]
pub async fn model_dims<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    path: String,
    sha256: String,
) -> Result<Vec<assay_engine::model::FreeDim>, UiError> {
    let s = super::runs::store(&app).await?;
    let remembered = s.last_dims(&sha256).await;
    s.close().await;
    let remembered = remembered?;
    super::blocking(move || {
        Ok(assay_engine::model::suggest_dims(
            path.as_ref(),
            &Default::default(),
            &remembered,
        )?)
    })
    .await
}

/// `sample_model`: the path of the bundled sample model (the first-launch default).
#[tauri::command]
pub fn sample_model<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> Result<String, UiError> {
    let bundled = app
        .path()
        .resolve("assets/sample-mlp.onnx", BaseDirectory::Resource)
        .ok()
        .filter(|p| p.is_file());
    // A development build runs from the source tree, where the resource is not copied.
    let source = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/sample-mlp.onnx"
    ));
    bundled
        .or_else(|| source.is_file().then_some(source))
        .map(|p| p.display().to_string())
        .ok_or(UiError {
            kind: ErrorKind::Io,
            message: "the bundled sample model is missing from this installation".into(),
            detail: None,
        })
}
