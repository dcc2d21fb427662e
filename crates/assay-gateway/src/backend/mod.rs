//! The backend layer: what turns a release's model file into something that answers
//! requests. The core (routing, canaries, lifecycle) sees only [`Backend`] and the [`Queue`]
//! a loaded version hands it, so it can be driven by a test backend without ONNX Runtime,
//! and another runtime could sit here without the core changing.
//!
//! - [`OnnxBackend`]: ONNX Runtime sessions, warmed at the serving shapes, behind the
//!   dynamic [`batcher`].

mod batcher;
pub mod calibrate;
mod onnx;

use std::{path::Path, time::Duration, time::Instant};

use tokio::sync::oneshot;

pub use crate::{
    config::ModelSettings,
    error::GatewayError,
    metrics::VersionMetrics,
    model::{IoSpec, WarmUp},
    tensor::{Datatype, Tensor, TensorError},
};
pub(crate) use batcher::set_idle_policy;
pub use onnx::OnnxBackend;

/// A runtime that loads model versions.
pub trait Backend: Send + Sync + 'static {
    /// The runtime and its version, as the admin status shows them.
    fn describe(&self) -> BackendInfo;

    /// Opens and warms one version. Blocking: the core calls it off the request path, and a
    /// version whose load fails never takes traffic.
    fn load(&self, spec: LoadSpec<'_>) -> Result<Loaded, BackendError>;
}

/// What a backend is.
#[derive(Debug, Clone)]
pub struct BackendInfo {
    /// "onnxruntime", or a test backend's name.
    pub runtime: String,
    pub version: String,
}

/// One version to load.
pub struct LoadSpec<'a> {
    pub model_path: &'a Path,
    pub model: &'a str,
    pub version: &'a str,
    pub settings: &'a ModelSettings,
    pub metrics: VersionMetrics,
    pub warm_up: &'a WarmUp,
}

/// A loaded, warmed version: its signature and where its requests go.
pub struct Loaded {
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    /// Why the requested execution provider was not used, when it was not.
    pub notice: Option<String>,
    /// How many rows batches merge, as measured at load (none when requests are not merged
    /// or the measurement is off).
    pub batching: Option<calibrate::BatchCalibration>,
    pub queue: Box<dyn Queue>,
}

/// Where a loaded version takes requests. Dropping it lets the version go once the requests
/// already queued are answered.
pub trait Queue: Send + Sync {
    /// Queues `job`, or refuses it at once (a full queue, a version shutting down). The
    /// answer goes to `job.reply`.
    fn submit(&self, job: Job) -> Result<(), GatewayError>;

    /// Runs this version's work in the background, on CPU the served versions leave idle
    /// (a version that only shadows), or in the foreground again. A hint: a backend that
    /// cannot may ignore it.
    fn set_background(&self, _on: bool) {}
}

/// One request's work.
pub struct Job {
    pub inputs: Vec<Tensor>,
    pub rows: usize,
    pub enqueued: Instant,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<Done, GatewayError>>,
}

/// A finished request.
#[derive(Debug)]
pub struct Done {
    pub outputs: Vec<Tensor>,
    pub queue: Duration,
    pub compute: Duration,
    pub batch_rows: usize,
}

/// Whether every input and output leads with a dynamic (batch) dimension, so requests can be
/// merged along it.
pub fn has_batch_dim(inputs: &[IoSpec], outputs: &[IoSpec]) -> bool {
    inputs
        .iter()
        .chain(outputs)
        .all(|s| s.shape.first() == Some(&-1))
}

/// Why a version could not load.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Engine(#[from] assay_engine::EngineError),
    #[error("'{name}' is {what}; the gateway serves tensors of numeric types")]
    Unservable { name: String, what: String },
    #[error("the warm-up inference at {tried} failed: {source}{hint}")]
    WarmUp {
        tried: String,
        source: WarmFailure,
        /// Set when some dimension took Assay's default rather than a serving value.
        hint: &'static str,
    },
}

/// What failed in a warm-up inference.
#[derive(Debug, thiserror::Error)]
pub enum WarmFailure {
    #[error(transparent)]
    Tensor(#[from] TensorError),
    #[error(transparent)]
    Run(#[from] ort::Error),
}
