//! The Gateways view: saved gateways, their health and releases, traffic control and live
//! metrics. Pushing runs in the worker (`start_job`).

use assay_engine::ErrorKind;
use std::{sync::Arc, time::Duration};

use assay_release::{
    remote::GatewayClient,
    views::{ChangeOutcome, CpuProfile, GatewayStatus, ModelList, ModelOverview},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tauri::Manager;

use super::blocking;
use crate::{
    data::DataDirs,
    error::UiError,
    gateway_book::{Clients, GatewayBook, SavedGateway},
    scrape::{self, Sample},
};

/// A status read; the view refreshes by hand, so a stalled gateway fails rather than hangs.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Below the two-second poll interval, so polls never pile up behind a stalled gateway.
const METRICS_TIMEOUT: Duration = Duration::from_millis(1800);

fn book<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<GatewayBook, UiError> {
    Ok(GatewayBook::open(DataDirs::of(app)?.gateways))
}

/// The cached client of a saved gateway, made off the UI thread (the keychain may block).
async fn client<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    name: String,
) -> Result<Arc<GatewayClient>, UiError> {
    let book = book(app)?;
    let app = app.clone();
    blocking(move || app.state::<Clients>().get(&book, &name)).await
}

#[tauri::command]
pub fn list_gateways<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
) -> Result<Vec<SavedGateway>, UiError> {
    book(&app)?.list()
}

/// `add_gateway`: saves the URL, and the token in the OS keychain (or a 0600 file).
#[tauri::command]
pub async fn add_gateway<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
    url: String,
    token: String,
    ca_cert: Option<String>,
) -> Result<SavedGateway, UiError> {
    let ca = ca_cert.filter(|c| !c.trim().is_empty()).map(Into::into);
    let book = book(&app)?;
    let saved = blocking(move || book.add(name.trim(), url.trim(), &token, ca)).await?;
    app.state::<Clients>().forget(&saved.name);
    Ok(saved)
}

#[tauri::command]
pub async fn remove_gateway<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<(), UiError> {
    let book = book(&app)?;
    app.state::<Clients>().forget(&name);
    blocking(move || book.remove(&name)).await
}

/// What the Gateways view shows of one gateway.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct GatewayOverview {
    pub status: GatewayStatus,
    pub models: Vec<ModelOverview>,
}

/// `gateway_overview`: status (health, runtime, trusted keys) and every model's releases.
#[tauri::command]
pub async fn gateway_overview<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<GatewayOverview, UiError> {
    let client = client(&app, name).await?;
    blocking(move || {
        let status = client.get_as("/admin/v1/status", ADMIN_TIMEOUT)?;
        let models: ModelList = client.get_as("/admin/v1/models", ADMIN_TIMEOUT)?;
        Ok(GatewayOverview {
            status,
            models: models.models,
        })
    })
    .await
}

/// A traffic change.
#[derive(Debug, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    /// `dims`: warm-up values by handle, to retry a version that failed to load.
    Activate {
        version: String,
        #[serde(default)]
        dims: Option<std::collections::BTreeMap<String, i64>>,
    },
    Canary {
        version: String,
        percent: f64,
    },
    /// Mirror `percent` of the stable's traffic to `version` and compare (0 ends it).
    Shadow {
        version: String,
        percent: f64,
    },
    Promote,
    Rollback,
}

/// `gateway_control`: activate, canary or shadow (with its share), promote or roll back a
/// model.
#[tauri::command]
pub async fn gateway_control<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
    model: String,
    control: Control,
) -> Result<ChangeOutcome, UiError> {
    let client = client(&app, name).await?;
    let base = format!(
        "/admin/v1/models/{}",
        assay_release::remote::encode_segment(&model)
    );
    blocking(move || {
        Ok(match control {
            Control::Activate { version, dims } => {
                let body = match dims.filter(|d| !d.is_empty()) {
                    Some(d) => json!({"version": version, "dims": d}),
                    None => json!({"version": version}),
                };
                client.post_as(&format!("{base}/activate"), &body)?
            }
            Control::Canary { version, percent } => {
                if !(0.0..=100.0).contains(&percent) {
                    return Err(UiError::usage("the canary share must be within 0–100 %"));
                }
                client.post_as(
                    &format!("{base}/canary"),
                    &json!({"version": version, "percent": percent}),
                )?
            }
            Control::Shadow { version, percent } => {
                if !(0.0..=100.0).contains(&percent) {
                    return Err(UiError::usage("the shadow share must be within 0–100 %"));
                }
                client.post_as(
                    &format!("{base}/shadow"),
                    &json!({"version": version, "percent": percent}),
                )?
            }
            Control::Promote => client.post_as(&format!("{base}/promote"), &Value::Null)?,
            Control::Rollback => client.post_as(&format!("{base}/rollback"), &Value::Null)?,
        })
    })
    .await
}

/// `gateway_profile`: the gateway's own CPU profile over the next `seconds`, as stacks for
/// a flame graph.
#[tauri::command]
pub async fn gateway_profile<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
    seconds: u64,
) -> Result<CpuProfile, UiError> {
    if !(1..=60).contains(&seconds) {
        return Err(UiError::usage("a profile lasts 1 to 60 seconds"));
    }
    let client = client(&app, name).await?;
    blocking(move || {
        let path = format!("/admin/v1/debug/profile?seconds={seconds}&format=folded");
        match client.get_within(&path, Duration::from_secs(seconds + 30))? {
            Value::String(text) => Ok(CpuProfile::from_folded(&text, seconds)),
            other => Err(UiError {
                kind: ErrorKind::Gateway,
                message:
                    "the gateway did not answer with a profile (is it older than this console?)"
                        .into(),
                detail: Some(other.to_string()),
            }),
        }
    })
    .await
}

/// `gateway_metrics`: one scrape of `/metrics`, reduced to the samples the charts use.
#[tauri::command]
pub async fn gateway_metrics<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    name: String,
) -> Result<Vec<Sample>, UiError> {
    let client = client(&app, name).await?;
    blocking(
        move || match client.get_within("/metrics", METRICS_TIMEOUT)? {
            Value::String(text) => Ok(scrape::samples(&text)),
            other => Err(UiError {
                kind: ErrorKind::Gateway,
                message: "the gateway's /metrics did not answer with metrics text".into(),
                detail: Some(other.to_string()),
            }),
        },
    )
    .await
}
