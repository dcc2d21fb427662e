//! One loaded model version: its signature, its session pool and batcher, warmed before it
//! may receive traffic.

use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant},
};

use assay_engine::{
    model::{DimBindings, DimSource},
    runtime::Runtime,
};
use ort::value::ValueType;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::{
    batcher::{Batcher, Done, Job, Policy},
    config::ModelSettings,
    error::GatewayError,
    metrics::VersionMetrics,
    protocol::InferRequest,
    tensor::{Datatype, Tensor},
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
    pub metrics: VersionMetrics,
    pub load_ms: f64,
    batcher: Batcher,
}

impl LoadedVersion {
    /// Opens `settings.instances` sessions of `model_path` and runs one warm-up inference on
    /// each, with the dynamic dimensions bound by `dims` (by handle; the batch to 1 unless
    /// given, any other missing one to Assay's suggestion). Any failure means the version
    /// never serves; the error names the shapes the warm-up tried.
    pub fn load(
        rt: &Runtime,
        model_path: &Path,
        model: &str,
        version: &str,
        settings: ModelSettings,
        metrics: VersionMetrics,
        warm_up: &WarmUp,
    ) -> Result<LoadedVersion, String> {
        let (dims, fills) = (&warm_up.dims, &warm_up.fills);
        let started = Instant::now();
        let mut sessions = Vec::with_capacity(settings.instances);
        let mut notice = None;
        for _ in 0..settings.instances {
            let options = assay_engine::session::SessionOptions {
                intra_threads: settings.intra_threads,
                ..Default::default()
            };
            let (s, n) =
                assay_engine::session::open_session(rt, model_path, settings.provider, &options)
                    .map_err(|e| e.to_string())?;
            notice = notice.or(n);
            sessions.push(s);
        }
        if let Some(n) = &notice {
            tracing::warn!(model, version, "{n}");
        }
        let inputs = specs(sessions[0].inputs().iter().map(|o| (o.name(), o.dtype())))?;
        let outputs = specs(sessions[0].outputs().iter().map(|o| (o.name(), o.dtype())))?;
        let has_batch_dim = inputs
            .iter()
            .chain(&outputs)
            .all(|s| s.shape.first() == Some(&-1));
        let free = assay_engine::model::suggest_dims(model_path, dims, &DimBindings::new())
            .map_err(|e| e.to_string())?;
        let bound = assay_engine::model::bindings(&free);
        let shapes = warm_shapes(&sessions[0], &bound);
        for session in &mut sessions {
            warm(session, &inputs, &shapes, fills).map_err(|e| {
                let tried: Vec<String> = shapes
                    .iter()
                    .map(|(n, s)| match fills.get(n) {
                        Some(v) => format!("{n}={}={v}", shape_text(s)),
                        None => format!("{n}={}", shape_text(s)),
                    })
                    .collect();
                format!(
                    "the warm-up inference at {} failed: {e}{}",
                    tried.join(" "),
                    if free.iter().any(|d| d.source == DimSource::Default) {
                        " (dimensions without a serving value took Assay's defaults; give the release its serving shapes, or set them in the gateway's config)"
                    } else {
                        ""
                    }
                )
            })?;
        }
        let policy = Policy {
            merge: settings.dynamic_batching && has_batch_dim && settings.max_batch_size > 1,
            max_rows: if has_batch_dim {
                settings.max_batch_size
            } else {
                1
            },
            max_delay: settings.max_queue_delay,
            preferred: settings.preferred_batch_size.clone(),
        };
        let batcher = Batcher::start(
            &format!("{model}@{version}"),
            sessions,
            outputs.iter().map(|o| o.name.clone()).collect(),
            policy,
            settings.queue_size,
            metrics.clone(),
        );
        Ok(LoadedVersion {
            model: model.into(),
            version: version.into(),
            inputs,
            outputs,
            has_batch_dim,
            settings,
            notice,
            metrics,
            load_ms: started.elapsed().as_secs_f64() * 1e3,
            batcher,
        })
    }

    /// The largest request the version takes (Triton's `max_batch_size`; 0 = no batch dim).
    pub fn max_batch_size(&self) -> usize {
        if self.has_batch_dim {
            self.settings.max_batch_size
        } else {
            0
        }
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
        self.batcher.submit(Job {
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

fn specs<'a>(
    outlets: impl Iterator<Item = (&'a str, &'a ValueType)>,
) -> Result<Vec<IoSpec>, String> {
    outlets
        .map(|(name, ty)| match ty {
            ValueType::Tensor { ty, shape, .. } => {
                let datatype = Datatype::from_ort(*ty)
                    .filter(|d| *d != Datatype::Bytes)
                    .ok_or_else(|| {
                        format!("'{name}' has element type {ty:?}, which the gateway cannot serve")
                    })?;
                Ok(IoSpec {
                    name: name.to_string(),
                    datatype,
                    shape: shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect(),
                })
            }
            other => Err(format!(
                "'{name}' is a {other:?}, not a tensor; the gateway serves tensor models"
            )),
        })
        .collect()
}

/// The shape of every input for the warm-up: each dynamic axis from `bound` by its handle
/// (the symbol, or `input.axis`), 1 when nothing binds it.
fn warm_shapes(session: &ort::session::Session, bound: &DimBindings) -> Vec<(String, Vec<i64>)> {
    session
        .inputs()
        .iter()
        .map(|o| {
            let shape = match o.dtype() {
                ValueType::Tensor {
                    shape,
                    dimension_symbols,
                    ..
                } => shape
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| {
                        if d >= 0 {
                            return d;
                        }
                        let sym = dimension_symbols.get(k).map(String::as_str).unwrap_or("");
                        let handle = if assay_engine::model::is_placeholder_symbol(sym) {
                            assay_engine::model::unnamed_handle(o.name(), k)
                        } else {
                            sym.to_string()
                        };
                        bound.get(&handle).copied().unwrap_or(1)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (o.name().to_string(), shape)
        })
        .collect()
}

fn shape_text(s: &[i64]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// One inference at the serving shapes, on zeros except the release's constant inputs (a
/// sample rate picks a model's branch), so the first request pays no cold cost and a model
/// that cannot run is found before it takes traffic.
fn warm(
    session: &mut ort::session::Session,
    inputs: &[IoSpec],
    shapes: &[(String, Vec<i64>)],
    fills: &BTreeMap<String, f64>,
) -> Result<(), String> {
    let values = inputs
        .iter()
        .map(|s| {
            let shape: Vec<i64> = shapes
                .iter()
                .find(|(n, _)| *n == s.name)
                .map(|(_, sh)| sh.clone())
                .unwrap_or_else(|| s.shape.iter().map(|&d| d.max(1)).collect());
            let n = Tensor::element_count(&shape).unwrap_or(0);
            let filled = fills
                .get(&s.name)
                .and_then(|&v| s.datatype.element_type().filled(n, v));
            let t = Tensor {
                name: s.name.clone(),
                datatype: s.datatype,
                data: filled.unwrap_or_else(|| vec![0u8; n * s.datatype.size().unwrap_or(1)]),
                shape,
            };
            t.to_value().map(|v| (s.name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    session.run(values).map(|_| ()).map_err(|e| e.to_string())
}
