//! Serving routes: health, metadata, Triton's model configuration, inference and metrics.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::StreamExt;

use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    api::App,
    app::AppState,
    backend::Done,
    error::GatewayError,
    model::{IoSpec, LoadedVersion},
    protocol,
    registry::Registry,
    serving::{self, Call, Protocol},
    statistics::{ModelStats, StatsAnswer},
    trace_context::TRACEPARENT,
};

/// The response header naming the version that served.
pub const SERVED_BY: &str = "x-assay-model-version";

/// The protocol extensions the server metadata names (REST and gRPC alike).
pub(crate) const EXTENSIONS: [&str; 5] = [
    "binary_tensor_data",
    "model_configuration",
    "statistics",
    "assay_canary",
    "assay_signed_releases",
];

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "assay-gateway",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
}

pub async fn live() -> StatusCode {
    StatusCode::OK
}

pub async fn ready(State(app): State<App>) -> StatusCode {
    if app.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

pub async fn model_ready(
    State(app): State<App>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> StatusCode {
    if app.auth.serving(&headers).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    readiness(&app.registry, &model, None)
}

pub async fn version_ready(
    State(app): State<App>,
    headers: HeaderMap,
    Path((model, version)): Path<(String, String)>,
) -> StatusCode {
    if app.auth.serving(&headers).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    readiness(&app.registry, &model, Some(&version))
}

pub(crate) fn readiness(registry: &Registry, model: &str, version: Option<&str>) -> StatusCode {
    let known = registry
        .state()
        .models
        .get(model)
        .is_some_and(|m| version.is_none_or(|v| m.releases.contains_key(v)));
    if !known {
        StatusCode::NOT_FOUND
    } else if registry.is_ready(model, version) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// The versions model metadata lists: the one asked for, or every release of the model.
pub(crate) fn listed_versions(registry: &Registry, v: &LoadedVersion, pinned: bool) -> Vec<String> {
    if pinned {
        vec![v.version.clone()]
    } else {
        registry
            .state()
            .models
            .get(&v.model)
            .map(|m| m.releases.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn metadata_json(registry: &Registry, v: &LoadedVersion, pinned: bool) -> Value {
    let versions = listed_versions(registry, v, pinned);
    json!({
        "name": v.model,
        "versions": versions,
        "platform": "onnx_onnxv1",
        "inputs": v.inputs,
        "outputs": v.outputs,
    })
}

pub async fn model_metadata(
    State(app): State<App>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> Result<Json<Value>, GatewayError> {
    app.auth.serving(&headers)?;
    let v = app.registry.describe(&model, None).await?;
    Ok(Json(metadata_json(&app.registry, &v, false)))
}

pub async fn version_metadata(
    State(app): State<App>,
    headers: HeaderMap,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<Value>, GatewayError> {
    app.auth.serving(&headers)?;
    let v = app.registry.describe(&model, Some(&version)).await?;
    Ok(Json(metadata_json(&app.registry, &v, true)))
}

/// Triton's model configuration: with `max_batch_size` > 0 the dims leave out the batch
/// dimension, which is how perf_analyzer and tritonclient shape their requests.
fn config_json(v: &LoadedVersion) -> Value {
    let max_batch = v.max_batch_size();
    let dims = |s: &IoSpec| v.config_dims(s);
    let io = |specs: &[IoSpec]| -> Vec<Value> {
        specs
            .iter()
            .map(
                |s| json!({"name": s.name, "data_type": s.datatype.triton_name(), "dims": dims(s)}),
            )
            .collect()
    };
    let mut c = json!({
        "name": v.model,
        "platform": "onnxruntime_onnx",
        "backend": "onnxruntime",
        "version_policy": {"specific": {"versions": [v.version]}},
        "max_batch_size": max_batch,
        "input": io(&v.inputs),
        "output": io(&v.outputs),
        "instance_group": [{"name": v.model, "kind": "KIND_CPU", "count": v.settings.instances}],
        "parameters": {"assay_version": {"string_value": v.version}},
    });
    if max_batch > 0 && v.settings.dynamic_batching {
        c["dynamic_batching"] = json!({
            "preferred_batch_size": v.settings.preferred_batch_size,
            "max_queue_delay_microseconds": v.settings.max_queue_delay.as_micros() as u64,
            "default_queue_policy": {"max_queue_size": v.settings.queue_size},
        });
    }
    c
}

pub async fn model_config(
    State(app): State<App>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> Result<Json<Value>, GatewayError> {
    app.auth.serving(&headers)?;
    Ok(Json(config_json(
        &*app.registry.describe(&model, None).await?,
    )))
}

pub async fn version_config(
    State(app): State<App>,
    headers: HeaderMap,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<Value>, GatewayError> {
    app.auth.serving(&headers)?;
    Ok(Json(config_json(
        &*app.registry.describe(&model, Some(&version)).await?,
    )))
}

/// `GET /v2/models/{m}/stats`: Triton's statistics extension, every loaded version.
pub async fn model_stats(
    State(app): State<App>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> Result<Json<StatsAnswer>, GatewayError> {
    app.auth.serving(&headers)?;
    stats(&app, &model, None).map(Json)
}

/// `GET /v2/models/{m}/versions/{v}/stats`.
pub async fn version_stats(
    State(app): State<App>,
    headers: HeaderMap,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<StatsAnswer>, GatewayError> {
    app.auth.serving(&headers)?;
    stats(&app, &model, Some(&version)).map(Json)
}

/// The statistics of `version`, or of every loaded version of `model` (REST and gRPC).
pub(crate) fn stats(
    app: &App,
    model: &str,
    version: Option<&str>,
) -> Result<StatsAnswer, GatewayError> {
    // Only what is loaded: asking for statistics never loads a version.
    let mut versions = app.registry.loaded_versions(model)?;
    if let Some(v) = version {
        versions.retain(|l| l.version == v);
        if versions.is_empty() {
            return Err(GatewayError::NotFound(format!(
                "model '{model}' has no loaded version '{v}'"
            )));
        }
    }
    Ok(StatsAnswer {
        model_stats: versions.iter().map(|v| ModelStats::of(v)).collect(),
    })
}

pub async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

pub async fn no_route() -> GatewayError {
    GatewayError::NotFound(
        "no such route; the gateway speaks the Open Inference Protocol (/v2/...)".into(),
    )
}

pub async fn infer(
    State(app): State<App>,
    Path(model): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(app, model, None, peer, headers, body).await
}

pub async fn infer_version(
    State(app): State<App>,
    Path((model, version)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(app, model, Some(version), peer, headers, body).await
}

async fn serve(
    app: App,
    model: String,
    version: Option<String>,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call {
        model: &model,
        version: version.as_deref(),
        headers: &headers,
        peer: Some(peer.ip()),
        protocol: Protocol::Rest,
    };
    let served = serving::serve(&app, call, |v| decode(&app, v, &headers, body), encode).await;
    let mut resp = match served.result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let Some(tp) = served.traceparent {
        resp.headers_mut().insert(TRACEPARENT, tp);
    }
    if let Some((v, role)) = served.routed {
        let h = resp.headers_mut();
        if let Ok(val) = HeaderValue::from_str(&v.version) {
            h.insert(SERVED_BY, val);
        }
        h.insert("x-assay-route", HeaderValue::from_static(role.as_str()));
    }
    resp
}

/// How much of an oversized body is read (and dropped) before the 413 goes out, and for how
/// long.
const DRAIN_BYTES: usize = 256 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Reads a request body of at most `limit` bytes. The rest of an oversized one is read and
/// dropped (up to [`DRAIN_BYTES`]) before answering: a client still writing its body would
/// otherwise see its connection reset instead of the 413 that says why.
async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // One chunk (the usual case) is kept as it came; more are gathered into one buffer.
    let mut first: Option<bytes::Bytes> = None;
    let mut buf = bytes::BytesMut::new();
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    let mut give_up = None;
    loop {
        let next = match give_up {
            // Draining: a client that stops sending is not waited for long.
            Some(at) => match tokio::time::timeout_at(at, stream.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => stream.next().await,
        };
        let Some(chunk) = next else { break };
        let chunk = chunk
            .map_err(|e| GatewayError::BadRequest(format!("reading the request body: {e}")))?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            match first.take() {
                None if buf.is_empty() => first = Some(chunk),
                earlier => {
                    if buf.is_empty() {
                        buf.reserve(declared.unwrap_or(seen).min(limit));
                    }
                    if let Some(e) = earlier {
                        buf.extend_from_slice(&e);
                    }
                    buf.extend_from_slice(&chunk);
                }
            }
        } else if seen > DRAIN_BYTES {
            break;
        } else {
            give_up.get_or_insert_with(|| tokio::time::Instant::now() + DRAIN_TIME);
        }
    }
    if seen > limit {
        return Err(GatewayError::TooLarge(format!(
            "the request body is over the {limit}-byte limit (limits.max_request_bytes)"
        )));
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Reads and parses a REST infer request against the version's signature.
async fn decode(
    app: &AppState,
    v: Arc<LoadedVersion>,
    headers: &HeaderMap,
    body: Body,
) -> Result<protocol::InferRequest, GatewayError> {
    let bytes = read_limited(body, headers, app.config.max_request_bytes).await?;
    let header_len = match headers.get(protocol::rest::HEADER_LENGTH) {
        None => None,
        Some(h) => Some(
            h.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    GatewayError::BadRequest(
                        "Inference-Header-Content-Length is not a number".into(),
                    )
                })?,
        ),
    };
    protocol::rest::parse(&bytes, header_len, &v.inputs, &v.outputs, v.has_batch_dim)
}

/// The REST answer: JSON, or binary tensors after a JSON header, with the timing header.
fn encode(
    v: &LoadedVersion,
    req: &protocol::InferRequest,
    done: Done,
) -> Result<Response, GatewayError> {
    let enc = protocol::rest::encode(&v.model, &v.version, req, &done.outputs)?;
    let mut resp = Response::new(Body::from(enc.body));
    let h = resp.headers_mut();
    match enc.header_len {
        Some(n) => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(protocol::rest::HEADER_LENGTH, HeaderValue::from(n));
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    h.insert(
        "x-assay-timing",
        HeaderValue::from_str(&format!(
            "queue_us={};compute_us={};batch_rows={}",
            done.queue.as_micros(),
            done.compute.as_micros(),
            done.batch_rows
        ))
        .expect("ascii"),
    );
    Ok(resp)
}
