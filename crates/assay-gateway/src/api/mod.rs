//! The network surface: the Open Inference Protocol and Triton's configuration route over
//! REST ([`infer`]) and gRPC ([`grpc`]), `/metrics`, and the admin API ([`admin`]).

mod admin;
mod grpc;
mod infer;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{any, get, post, put},
};

use std::sync::Arc;

use crate::app::AppState;

/// The router's state: one shared pointer, so each request clones one `Arc`.
pub(crate) type App = Arc<AppState>;

/// Every route, over the gateway's parts.
pub fn router(app: AppState) -> Router {
    let v2 = Router::new()
        .route("/v2", get(infer::server_metadata))
        .route("/v2/health/live", get(infer::live))
        .route("/v2/health/ready", get(infer::ready))
        .route("/v2/models/{model}", get(infer::model_metadata))
        .route("/v2/models/{model}/ready", get(infer::model_ready))
        .route("/v2/models/{model}/config", get(infer::model_config))
        .route("/v2/models/{model}/stats", get(infer::model_stats))
        .route("/v2/models/{model}/infer", post(infer::infer))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(infer::version_metadata),
        )
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(infer::version_ready),
        )
        .route(
            "/v2/models/{model}/versions/{version}/config",
            get(infer::version_config),
        )
        .route(
            "/v2/models/{model}/versions/{version}/stats",
            get(infer::version_stats),
        )
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(infer::infer_version),
        )
        .route("/metrics", get(infer::metrics));
    let admin = Router::new()
        .route("/admin/v1/status", get(admin::status))
        .route("/admin/v1/models", get(admin::models))
        .route("/admin/v1/models/{model}", get(admin::model))
        .route(
            "/admin/v1/models/{model}/releases/{version}",
            get(admin::release).delete(admin::delete_release),
        )
        .route("/admin/v1/models/{model}/activate", post(admin::activate))
        .route("/admin/v1/models/{model}/pull", post(admin::pull))
        .route("/admin/v1/models/{model}/canary", post(admin::canary))
        .route("/admin/v1/models/{model}/shadow", post(admin::shadow))
        .route("/admin/v1/models/{model}/promote", post(admin::promote))
        .route("/admin/v1/models/{model}/rollback", post(admin::rollback))
        .route("/admin/v1/models/{model}/events", get(admin::events))
        .route("/admin/v1/models/{model}/analysis", get(admin::analysis))
        .route("/admin/v1/uploads", post(admin::create_upload))
        .route(
            "/admin/v1/uploads/{id}",
            get(admin::upload_status).delete(admin::discard_upload),
        )
        .route("/admin/v1/uploads/{id}/files/{*path}", put(admin::put_file))
        .route("/admin/v1/uploads/{id}/commit", post(admin::commit))
        .route("/admin/v1/debug/profile", get(admin::profile))
        .route("/admin/v1/{*rest}", any(admin::not_found));
    v2.merge(admin)
        .fallback(infer::no_route)
        // Infer bodies are limited by hand (to answer in the protocol's JSON); uploads stream.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(Arc::new(app))
}

/// The gRPC Open Inference Protocol, as a router served beside (not inside) the REST one.
pub fn grpc_router(app: AppState) -> Router {
    tonic::service::Routes::new(grpc::service(Arc::new(app)))
        .prepare()
        .into_axum_router()
        .layer(tower_http::trace::TraceLayer::new_for_grpc())
}
