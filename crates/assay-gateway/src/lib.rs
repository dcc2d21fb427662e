//! # assay-gateway
//!
//! The server that receives signed Assay releases and serves them over the Open Inference
//! Protocol (KServe v2, REST, with the binary tensor extension and Triton's model
//! configuration route, so `tritonclient` and `perf_analyzer` work unchanged).
//!
//! - [`config`]: the TOML file and flags;
//! - `uploads`: resumable pushes, verified against the trusted keys before anything is
//!   listed; `state`: the durable state, written atomically;
//! - `registry`: loaded versions and the stable/canary routing, swapped atomically;
//! - `batcher`: dynamic batching over a pool of ONNX Runtime sessions;
//! - `canary`: the statistical canary analysis (automatic rollback and promotion);
//! - `metrics`, `audit`, `auth`: Prometheus metrics, the audit log, tokens and rate limits.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use assay_gateway::{config::{Config, Overrides}, serve};
//! let config = Config::load(None, Overrides {
//!     data: Some("/var/lib/assay-gateway".into()),
//!     trusted_keys: Some("/etc/assay/trusted".into()),
//!     token_file: Some("/etc/assay/admin-token".into()),
//!     ..Default::default()
//! })?;
//! serve(config, std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod api;
mod audit;
mod auth;
mod batcher;
mod canary;
pub mod config;
mod error;
mod failpoint;
mod metrics;
mod model;
mod protocol;
mod registry;
mod state;
mod tensor;
mod uploads;

use std::{future::Future, net::SocketAddr};

pub use error::GatewayError;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Startup(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

/// Runs the gateway until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    config: config::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let rt = assay_engine::runtime::activate(config.runtime.as_deref())
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    tracing::info!(onnxruntime = %rt.info.version, library = %rt.info.library.display(), "ONNX Runtime loaded");
    let addr = config.listen;
    let tls = config.tls.clone();
    let gw = registry::Gateway::open(config, rt)
        .await
        .map_err(ServeError::Startup)?;
    let analysis = {
        let gw = gw.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(gw.config.canary.interval);
            loop {
                tick.tick().await;
                gw.analyze_canaries().await;
                gw.auth.housekeeping();
            }
        })
    };
    let app = api::router(gw.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            handle.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
        });
    }
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let result = match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| {
                    ServeError::Tls(format!("{} / {}: {e}", cert.display(), key.display()))
                })?;
            tracing::info!(%bound, "serving HTTPS");
            eprintln!("assay-gateway: listening on https://{bound}");
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            tracing::info!(%bound, "serving HTTP");
            eprintln!("assay-gateway: listening on http://{bound}");
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await
        }
    };
    analysis.abort();
    result.map_err(|e| ServeError::Startup(e.to_string()))
}
