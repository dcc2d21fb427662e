//! The admin API under `/admin/v1`: every route takes the [`Admin`] extractor (an admin
//! bearer token), and every change is written to the audit log (by the registry and the
//! upload code).

use assay_release::remote::UploadRequest;
use axum::{
    Json,
    body::Body,
    extract::{FromRequestParts, Path, Query, State},
    http::request::Parts,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{api::App, error::GatewayError, registry::Registry};
use assay_release::views::{
    ChangeOutcome, GatewayStatus, ModelList, ModelOverview, ModelStatus, PullOutcome, PushOutcome,
};

type Answer<T = Value> = Result<Json<T>, GatewayError>;

/// The admin caller, by token id. Taking it as a handler's first argument after the state
/// is what makes a route admin-only, and it runs before any other extractor (no path is
/// parsed and no body read for a stranger), so no handler can forget the check.
pub struct Admin(pub String);

impl FromRequestParts<App> for Admin {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Admin, GatewayError> {
        app.auth.admin(&parts.headers).map(Admin)
    }
}

pub async fn not_found(_admin: Admin) -> Answer {
    Err(GatewayError::NotFound("no such admin route".into()))
}

pub async fn status(State(app): State<App>, _admin: Admin) -> Answer<GatewayStatus> {
    let state = app.registry.state();
    let models = state
        .models
        .iter()
        .map(|(name, ms)| {
            let status = ModelStatus {
                stable: ms.stable.clone(),
                canary: ms.canary.clone(),
                releases: ms.releases.len(),
                ready: app.registry.is_ready(name, None),
            };
            (name.clone(), status)
        })
        .collect();
    Ok(Json(GatewayStatus {
        name: "assay-gateway".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: app.started.elapsed().as_secs(),
        ready: app.ready(),
        onnxruntime: app.backend.version.clone(),
        trusted_keys: match &*app.trust {
            assay_release::signing::Trust::Keys(k) => k.iter().map(|k| k.hint()).collect(),
            assay_release::signing::Trust::Key(k) => vec![k.hint()],
        },
        models,
    }))
}

pub async fn models(State(app): State<App>, _admin: Admin) -> Answer<ModelList> {
    let state = app.registry.state();
    let models = state
        .models
        .iter()
        .map(|(name, ms)| ModelOverview {
            name: name.clone(),
            stable: ms.stable.clone(),
            canary: ms.canary.clone(),
            previous: ms.previous.clone(),
            ready: app.registry.is_ready(name, None),
            releases: ms.release_summaries(),
            shadow: ms.shadow.clone(),
            shadow_report: app
                .registry
                .existing_slot(name)
                .and_then(|s| s.shadow.load_full())
                .map(|s| s.report()),
        })
        .collect();
    Ok(Json(ModelList { models }))
}

fn model_state(registry: &Registry, model: &str) -> Result<crate::state::ModelState, GatewayError> {
    registry
        .state()
        .models
        .get(model)
        .cloned()
        .ok_or_else(|| GatewayError::NotFound(format!("unknown model '{model}'")))
}

pub async fn model(State(app): State<App>, _admin: Admin, Path(model): Path<String>) -> Answer {
    let ms = model_state(&app.registry, &model)?;
    let mut v = json!(ms.routing());
    v["name"] = json!(model);
    v["ready"] = json!(app.registry.is_ready(&model, None));
    v["releases"] = json!(ms.releases);
    v["events"] = json!(ms.events.iter().rev().take(50).collect::<Vec<_>>());
    Ok(Json(v))
}

pub async fn release(
    State(app): State<App>,
    _admin: Admin,
    Path((model, version)): Path<(String, String)>,
) -> Answer {
    let ms = model_state(&app.registry, &model)?;
    let r = ms.releases.get(&version).ok_or_else(|| {
        GatewayError::NotFound(format!("model '{model}' has no version '{version}'"))
    })?;
    let mut v = json!(r);
    let loaded = app
        .registry
        .existing_slot(&model)
        .and_then(|s| s.loaded(&version));
    v["loaded"] = json!(loaded.is_some());
    if let Some(l) = loaded {
        v["serving"] = json!({
            "inputs": l.inputs, "outputs": l.outputs, "max_batch_size": l.max_batch_size(),
            "dynamic_batching": l.settings.dynamic_batching, "instances": l.settings.instances,
            "load_ms": l.load_ms, "provider_notice": l.notice, "batching": l.batching,
        });
    }
    Ok(Json(v))
}

pub async fn delete_release(
    State(app): State<App>,
    Admin(actor): Admin,
    Path((model, version)): Path<(String, String)>,
) -> Answer<ChangeOutcome> {
    Ok(Json(app.registry.delete(&model, &version, &actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    version: String,
    /// Warm-up values for dynamic dimensions, by handle (activate only).
    #[serde(default)]
    dims: Option<std::collections::BTreeMap<String, i64>>,
    /// Serve it even if its signature breaks the stable's clients (audited).
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryBody {
    version: String,
    percent: f64,
    #[serde(default)]
    auto_promote_after: Option<u64>,
    /// Serve it even if its signature breaks the stable's clients (audited).
    #[serde(default)]
    force: bool,
}

/// Reads a small JSON body, after the token was checked (so strangers cannot make the
/// gateway buffer anything).
async fn json_body<T: serde::de::DeserializeOwned>(
    body: Body,
    limit: usize,
) -> Result<T, GatewayError> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| GatewayError::TooLarge(format!("the request body is over {limit} bytes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::BadRequest(format!("bad request body: {e}")))
}

pub async fn activate(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
    body: Body,
) -> Answer<ChangeOutcome> {
    let b: VersionBody = json_body(body, 64 << 10).await?;
    Ok(Json(
        app.registry
            .activate(&model, &b.version, b.dims, b.force, &actor)
            .await?,
    ))
}

pub async fn canary(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
    body: Body,
) -> Answer<ChangeOutcome> {
    let b: CanaryBody = json_body(body, 64 << 10).await?;
    Ok(Json(
        app.registry
            .set_canary(
                &model,
                &b.version,
                b.percent,
                b.auto_promote_after,
                b.force,
                &actor,
            )
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowBody {
    version: String,
    percent: f64,
    /// Shadow it even if its signature breaks the stable's clients (audited).
    #[serde(default)]
    force: bool,
}

pub async fn shadow(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
    body: Body,
) -> Answer<ChangeOutcome> {
    let b: ShadowBody = json_body(body, 64 << 10).await?;
    Ok(Json(
        app.registry
            .set_shadow(&model, &b.version, b.percent, b.force, &actor)
            .await?,
    ))
}

pub async fn promote(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
) -> Answer<ChangeOutcome> {
    Ok(Json(app.registry.promote(&model, &actor).await?))
}

pub async fn rollback(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
) -> Answer<ChangeOutcome> {
    Ok(Json(app.registry.rollback(&model, &actor).await?))
}

pub async fn events(State(app): State<App>, _admin: Admin, Path(model): Path<String>) -> Answer {
    let ms = model_state(&app.registry, &model)?;
    Ok(Json(json!({"model": model, "events": ms.events})))
}

pub async fn analysis(State(app): State<App>, _admin: Admin, Path(model): Path<String>) -> Answer {
    let ms = model_state(&app.registry, &model)?;
    let last = app.registry.existing_slot(&model).and_then(|s| {
        s.last_analysis
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    });
    let shadow = app
        .registry
        .existing_slot(&model)
        .and_then(|s| s.shadow.load_full())
        .map(|s| s.report());
    Ok(Json(json!({
        "model": model,
        "stable": ms.stable,
        "canary": ms.canary,
        "analysis": last,
        "shadow": shadow,
    })))
}

pub async fn create_upload(
    State(app): State<App>,
    Admin(actor): Admin,
    body: axum::body::Body,
) -> Answer {
    // The bundle and file list are small; a release's bytes go through put_file.
    let req: UploadRequest = json_body(body, 16 << 20).await?;
    Ok(Json(json!(app.uploads.create(req, &actor).await?)))
}

pub async fn upload_status(
    State(app): State<App>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Answer {
    Ok(Json(json!(app.uploads.status(&id)?)))
}

pub async fn discard_upload(
    State(app): State<App>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Answer {
    Ok(Json(app.uploads.discard(&id)?))
}

#[derive(Deserialize)]
pub struct OffsetQuery {
    #[serde(default)]
    offset: u64,
}

pub async fn put_file(
    State(app): State<App>,
    _admin: Admin,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<OffsetQuery>,
    body: Body,
) -> Answer {
    Ok(Json(
        app.uploads.put_file(&id, &path, q.offset, body).await?,
    ))
}

#[derive(Deserialize)]
pub struct CommitQuery {
    #[serde(default = "yes")]
    activate: bool,
}

fn yes() -> bool {
    true
}

pub async fn commit(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(id): Path<String>,
    Query(q): Query<CommitQuery>,
) -> Answer<PushOutcome> {
    Ok(Json(app.uploads.commit(&id, q.activate, &actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullBody {
    /// `oci://REGISTRY/REPOSITORY:TAG` (or `@sha256:…`).
    reference: String,
    /// Make it stable when it is the model's first release (as a push does).
    #[serde(default = "yes")]
    activate: bool,
}

/// `POST /admin/v1/models/{m}/pull`: pulls a signed release from an OCI registry, verifies
/// it against the trusted keys, and lists it (nothing is visible before that).
pub async fn pull(
    State(app): State<App>,
    Admin(actor): Admin,
    Path(model): Path<String>,
    Json(body): Json<PullBody>,
) -> Answer<PullOutcome> {
    Ok(Json(
        app.pulls
            .pull(&model, &body.reference, body.activate, &actor)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileQuery {
    #[serde(default = "default_seconds")]
    seconds: u64,
    /// `pprof` (protobuf, the default) or `folded` (text, for flame graphs).
    #[serde(default)]
    format: Option<String>,
}

fn default_seconds() -> u64 {
    10
}

/// `GET /admin/v1/debug/profile?seconds=N&format=pprof|folded`: the gateway's own CPU
/// profile over the next N seconds.
pub async fn profile(
    State(app): State<App>,
    Admin(actor): Admin,
    Query(q): Query<ProfileQuery>,
) -> Result<axum::response::Response, GatewayError> {
    use axum::{http::header, response::IntoResponse};
    let format = q.format.as_deref().unwrap_or("pprof");
    if !matches!(format, "pprof" | "folded") {
        return Err(GatewayError::BadRequest(format!(
            "format={format}: the profile comes as `pprof` (protobuf) or `folded` (text)"
        )));
    }
    let p = crate::self_profile::CpuProfile::take(q.seconds).await?;
    app.audit.record(
        &actor,
        "profile",
        None,
        None,
        Ok(&format!("{} s CPU profile ({format})", q.seconds)),
    );
    Ok(match format {
        "folded" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            p.folded(),
        )
            .into_response(),
        _ => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"assay-gateway.pb\"",
                ),
            ],
            p.pprof()?,
        )
            .into_response(),
    })
}
