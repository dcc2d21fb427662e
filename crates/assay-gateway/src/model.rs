//! One loaded model version as the core sees it: its signature, its settings and the queue
//! its backend gave it, warmed before it may receive traffic.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use assay_engine::model::DimBindings;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::{
    backend::{Backend, BackendError, Done, Job, LoadSpec, Queue, has_batch_dim},
    config::ModelSettings,
    error::GatewayError,
    metrics::VersionMetrics,
    protocol::InferRequest,
    tensor::Datatype,
};

/// An input or output as the protocol describes it (`-1` for a dynamic dimension).
#[derive(Debug, Clone, Serialize)]
pub struct IoSpec {
    pub name: String,
    #[serde(serialize_with = "datatype_name")]
    pub datatype: Datatype,
    pub shape: Vec<i64>,
}

fn datatype_name<S: serde::Serializer>(d: &Datatype, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.name())
}

/// What a version warms up with: values for its dynamic dimensions (by handle) and its
/// constant inputs (a sample rate that picks the model's branch).
#[derive(Debug, Clone, Default)]
pub struct WarmUp {
    pub dims: DimBindings,
    pub fills: BTreeMap<String, f64>,
}

/// A version ready to serve.
pub struct LoadedVersion {
    pub model: String,
    pub version: String,
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    /// Every input and output has a leading dynamic (batch) dimension.
    pub has_batch_dim: bool,
    pub settings: ModelSettings,
    /// Why the requested provider fell back to CPU, when it did.
    pub notice: Option<String>,
    /// How many rows batches merge, as measured at load.
    pub batching: Option<crate::backend::calibrate::BatchCalibration>,
    pub metrics: VersionMetrics,
    pub load_ms: f64,
    queue: Box<dyn Queue>,
}

impl LoadedVersion {
    /// Loads and warms a version through `backend` (blocking). Any failure means the
    /// version never serves.
    pub fn load(backend: &dyn Backend, spec: LoadSpec<'_>) -> Result<LoadedVersion, BackendError> {
        let started = Instant::now();
        let (model, version, settings, metrics) = (
            spec.model.to_string(),
            spec.version.to_string(),
            spec.settings.clone(),
            spec.metrics.clone(),
        );
        let loaded = backend.load(spec)?;
        Ok(LoadedVersion {
            model,
            version,
            has_batch_dim: has_batch_dim(&loaded.inputs, &loaded.outputs),
            inputs: loaded.inputs,
            outputs: loaded.outputs,
            settings,
            notice: loaded.notice,
            batching: loaded.batching,
            metrics,
            load_ms: started.elapsed().as_secs_f64() * 1e3,
            queue: loaded.queue,
        })
    }

    /// Its inputs and outputs, for the compatibility check.
    pub fn signature(&self) -> crate::compat::Signature<'_> {
        crate::compat::Signature {
            inputs: &self.inputs,
            outputs: &self.outputs,
        }
    }

    /// The largest request the version takes (Triton's `max_batch_size`; 0 = no batch dim).
    pub fn max_batch_size(&self) -> usize {
        if self.has_batch_dim {
            self.settings.max_batch_size
        } else {
            0
        }
    }

    /// An input's or output's dims in Triton's model configuration: without the batch
    /// dimension when the version batches (`max_batch_size` > 0), which is how perf_analyzer
    /// and tritonclient shape their requests.
    pub fn config_dims(&self, spec: &IoSpec) -> Vec<i64> {
        if self.max_batch_size() > 0 {
            spec.shape[1..].to_vec()
        } else {
            spec.shape.clone()
        }
    }

    /// Runs this version in the background (it only shadows) or the foreground (it serves).
    pub fn set_background(&self, on: bool) {
        self.queue.set_background(on);
    }

    /// Queues the request and waits for its outputs, at most `timeout` in all.
    pub async fn infer(
        &self,
        req: &mut InferRequest,
        timeout: Duration,
    ) -> Result<Done, GatewayError> {
        if self.has_batch_dim && req.rows > self.settings.max_batch_size {
            return Err(GatewayError::BadRequest(format!(
                "the request holds {} rows; this model takes at most {} (max_batch_size)",
                req.rows, self.settings.max_batch_size
            )));
        }
        let (tx, rx) = oneshot::channel();
        let now = Instant::now();
        self.queue.submit(Job {
            inputs: std::mem::take(&mut req.inputs),
            rows: req.rows,
            enqueued: now,
            deadline: now + timeout,
            reply: tx,
        })?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(GatewayError::Internal(
                "the session thread stopped before answering".into(),
            )),
            Err(_) => Err(GatewayError::Unavailable {
                message: format!("timed out after {} ms", timeout.as_millis()),
                retry_after_s: 1,
            }),
        }
    }
}
