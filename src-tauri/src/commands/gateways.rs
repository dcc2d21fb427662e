//! The Gateways view: saved gateways, their health and releases, traffic control and live
//! metrics. Pushing runs in the worker (`start_job`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::keys::blocking;
use crate::{
    data::DataDirs,
    error::UiError,
    gateway_book::{GatewayBook, SavedGateway},
    scrape::{self, Sample},
};

fn book<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<GatewayBook, UiError> {
    Ok(GatewayBook::open(DataDirs::of(app)?.gateways))
}

#[tauri::command]
pub fn list_gateways<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
) -> Result<Vec<SavedGateway>, UiError> {
    book(&app)?.list()
}

/// `add_gateway`: saves the URL, and the token in the OS keychain (or a 0600 file).
#[tauri::command]
pub fn add_gateway<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
    url: String,
    token: String,
    ca_cert: Option<String>,
) -> Result<SavedGateway, UiError> {
    let ca = ca_cert.filter(|c| !c.trim().is_empty()).map(Into::into);
    book(&app)?.add(name.trim(), url.trim(), &token, ca)
}

#[tauri::command]
pub fn remove_gateway<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<(), UiError> {
    book(&app)?.remove(&name)
}

/// `gateway_overview`: status (health, runtime, trusted keys) and every model's releases.
#[tauri::command]
pub async fn gateway_overview<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<Value, UiError> {
    let client = book(&app)?.client(&name)?;
    blocking(move || {
        let status = client.get("/admin/v1/status")?;
        let models = client.get("/admin/v1/models")?;
        Ok(json!({"status": status, "models": models["models"]}))
    })
    .await
}

/// A traffic change.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    Activate { version: String },
    Canary { version: String, percent: f64 },
    Promote,
    Rollback,
}

/// `gateway_control`: activate, canary (with its share), promote or roll back a model.
#[tauri::command]
pub async fn gateway_control<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
    model: String,
    control: Control,
) -> Result<Value, UiError> {
    let client = book(&app)?.client(&name)?;
    let base = format!(
        "/admin/v1/models/{}",
        assay_release::remote::encode_segment(&model)
    );
    blocking(move || {
        Ok(match control {
            Control::Activate { version } => {
                client.post(&format!("{base}/activate"), &json!({"version": version}))?
            }
            Control::Canary { version, percent } => {
                if !(0.0..=100.0).contains(&percent) {
                    return Err(UiError::usage("the canary share must be within 0–100 %"));
                }
                client.post(
                    &format!("{base}/canary"),
                    &json!({"version": version, "percent": percent}),
                )?
            }
            Control::Promote => client.post(&format!("{base}/promote"), &Value::Null)?,
            Control::Rollback => client.post(&format!("{base}/rollback"), &Value::Null)?,
        })
    })
    .await
}

/// `gateway_metrics`: one scrape of `/metrics`, reduced to the samples the charts use.
#[tauri::command]
pub async fn gateway_metrics<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<Vec<Sample>, UiError> {
    let client = book(&app)?.client(&name)?;
    blocking(move || match client.get("/metrics")? {
        Value::String(text) => Ok(scrape::samples(&text)),
        other => Err(UiError {
            kind: "gateway",
            message: "the gateway's /metrics did not answer with metrics text".into(),
            detail: Some(other.to_string()),
        }),
    })
    .await
}
