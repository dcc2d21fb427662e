//! What the HTTP layer is given: the gateway's parts, each owning one concern. Handlers take
//! the part they need, so an inference route never touches uploads and an upload never
//! touches routing except through the registry.

use std::{sync::Arc, time::Instant};

use assay_release::signing::Trust;

use crate::{
    audit::AuditLog,
    auth::Auth,
    backend::{Backend, BackendInfo},
    config::Config,
    metrics::Metrics,
    pulls::Pulls,
    registry::Registry,
    state::{Layout, StateError},
    uploads::Uploads,
};

/// The server's shared state: cheap to clone (each part is shared).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Models, versions, routing, canaries and their lifecycle.
    pub registry: Arc<Registry>,
    /// Admin and inference tokens, rate limits.
    pub auth: Arc<Auth>,
    /// Who changed what, append-only.
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    /// Resumable, verified pushes.
    pub uploads: Arc<Uploads>,
    /// Verified pulls from OCI registries, and the repositories watched.
    pub pulls: Arc<Pulls>,
    /// The keys a release must be signed by.
    pub trust: Arc<Trust>,
    pub backend: BackendInfo,
    pub started: Instant,
}

/// Why the gateway could not open its data folder or restore its state.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data folder {}: {source}", path.display())]
    DataFolder {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Trust(#[from] assay_release::ReleaseError),
    #[error(transparent)]
    State(#[from] StateError),
}

impl AppState {
    /// Opens the data folder and the trusted keys, restores the saved state and loads, with
    /// `backend`, every version it says serves.
    pub async fn open(config: Config, backend: Arc<dyn Backend>) -> Result<AppState, OpenError> {
        let config = Arc::new(config);
        let layout = Layout {
            root: config.data.clone(),
        };
        layout.create().map_err(|source| OpenError::DataFolder {
            path: layout.root.clone(),
            source,
        })?;
        let trust = Arc::new(Trust::from_dir(&config.trusted_keys)?);
        let audit = Arc::new(AuditLog::new(&layout.audit()));
        let metrics = Metrics::new();
        let auth = Arc::new(Auth::new(
            &config.admin_tokens,
            config.inference_tokens.as_deref(),
            config.rate_limit,
        ));
        let info = backend.describe();
        let registry = Registry::open(
            config.clone(),
            backend,
            layout,
            metrics.clone(),
            audit.clone(),
        )
        .await?;
        let uploads = Arc::new(Uploads::new(
            registry.clone(),
            trust.clone(),
            audit.clone(),
            config.max_release_bytes,
        ));
        let pulls = Arc::new(Pulls::new(
            registry.clone(),
            uploads.clone(),
            trust.clone(),
            audit.clone(),
            config.registry.clone(),
            config.max_release_bytes,
        ));
        Ok(AppState {
            config,
            registry,
            auth,
            audit,
            metrics,
            uploads,
            pulls,
            trust,
            backend: info,
            started: Instant::now(),
        })
    }

    /// Ready to take traffic: every model with a stable release serves it, and every watched
    /// model has one (a new replica is not ready before its first verified pull).
    pub fn ready(&self) -> bool {
        self.registry.ready()
            && self.config.watches.iter().all(|w| {
                self.registry
                    .state()
                    .models
                    .get(&w.model)
                    .is_some_and(|m| m.stable.is_some())
            })
    }

    /// One round of the background work: the canary analysis of every model (acting on its
    /// verdicts) and forgetting idle rate-limit buckets.
    pub async fn tick(&self) {
        self.registry.analyze_canaries().await;
        self.auth.housekeeping();
    }
}
