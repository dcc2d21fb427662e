//! The ONNX Runtime backend: a pool of sessions per version, each warmed with one inference
//! at the serving shapes before the version may take traffic, behind the dynamic batcher.

use std::collections::BTreeMap;

use assay_engine::{
    model::{DimBindings, DimSource},
    runtime::Runtime,
};
use ort::value::ValueType;

use super::{
    Backend, BackendError, BackendInfo, GatewayError, Job, LoadSpec, Loaded, Queue, WarmFailure,
    batcher::{Batcher, Policy},
    calibrate::calibrate,
    has_batch_dim,
};
use crate::{
    model::IoSpec,
    tensor::{Datatype, Tensor},
};

/// ONNX Runtime, loaded once for the process.
pub struct OnnxBackend {
    rt: &'static Runtime,
}

impl OnnxBackend {
    pub fn new(rt: &'static Runtime) -> OnnxBackend {
        OnnxBackend { rt }
    }
}

impl Queue for Batcher {
    fn submit(&self, job: Job) -> Result<(), GatewayError> {
        Batcher::submit(self, job)
    }

    fn set_background(&self, on: bool) {
        Batcher::set_background(self, on)
    }
}

impl Backend for OnnxBackend {
    fn describe(&self) -> BackendInfo {
        BackendInfo {
            runtime: "onnxruntime".into(),
            version: self.rt.info.version.clone(),
        }
    }

    /// Opens `settings.instances` sessions of the model and runs one warm-up inference on
    /// each, with the dynamic dimensions bound by the warm-up values (by handle; the batch to
    /// 1 unless given, any other missing one to Assay's suggestion). The error of a failed
    /// warm-up names the shapes it tried.
    fn load(&self, spec: LoadSpec<'_>) -> Result<Loaded, BackendError> {
        let LoadSpec {
            model_path,
            model,
            version,
            settings,
            metrics,
            warm_up,
        } = spec;
        let (dims, fills) = (&warm_up.dims, &warm_up.fills);
        let mut notice = None;
        let mut open =
            |intra_threads, spin_us: u32| -> Result<ort::session::Session, BackendError> {
                let options = assay_engine::session::SessionOptions {
                    intra_threads,
                    // Pooled sessions share the cores with each other and with the network
                    // threads, so their threads sleep at once: spinning pools took CPU from the
                    // network threads (the MLP's throughput at 16 fell by 28%). The solo session
                    // runs only while every other session idles, so its threads may spin a
                    // little (`solo_spin_us`): long enough to bridge one run's parallel
                    // sections, each of which would otherwise wake a sleeping thread.
                    intra_spinning: spin_us > 0,
                    intra_spin_us: (spin_us > 0).then_some(spin_us),
                    ..Default::default()
                };
                let (s, n) = assay_engine::session::open_session(
                    self.rt,
                    model_path,
                    settings.provider,
                    &options,
                )?;
                notice = notice.take().or(n);
                Ok(s)
            };
        let mut sessions = (0..settings.instances)
            .map(|_| open(settings.intra_threads, 0))
            .collect::<Result<Vec<_>, _>>()?;
        // The solo session: only where it has more threads than a pooled one.
        let mut solo = if settings.solo_threads > settings.intra_threads.unwrap_or(0) {
            Some(open(Some(settings.solo_threads), settings.solo_spin_us)?)
        } else {
            None
        };
        if let Some(n) = &notice {
            tracing::warn!(model, version, "{n}");
        }
        let inputs = specs(sessions[0].inputs().iter().map(|o| (o.name(), o.dtype())))?;
        let outputs = specs(sessions[0].outputs().iter().map(|o| (o.name(), o.dtype())))?;
        let batched = has_batch_dim(&inputs, &outputs);
        let free = assay_engine::model::suggest_dims(model_path, dims, &DimBindings::new())?;
        let bound = assay_engine::model::bindings(&free);
        let shapes = warm_shapes(&sessions[0], &bound);
        for session in sessions.iter_mut().chain(solo.as_mut()) {
            warm(session, &inputs, &shapes, fills).map_err(|source| {
                let tried: Vec<String> = shapes
                    .iter()
                    .map(|(n, s)| match fills.get(n) {
                        Some(v) => format!("{n}={}={v}", shape_text(s)),
                        None => format!("{n}={}", shape_text(s)),
                    })
                    .collect();
                BackendError::WarmUp {
                    tried: tried.join(" "),
                    source,
                    hint: if free.iter().any(|d| d.source == DimSource::Default) {
                        " (dimensions without a serving value took Assay's defaults; give the release its serving shapes, or set them in the gateway's config)"
                    } else {
                        ""
                    },
                }
            })?;
        }
        let merge = settings.dynamic_batching && batched && settings.max_batch_size > 1;
        let batching = if merge && settings.calibrate_batching {
            let c = calibrate(
                &mut sessions[0],
                &inputs,
                &shapes,
                fills,
                settings.max_batch_size,
            )
            .map_err(|source| BackendError::WarmUp {
                tried: format!(
                    "up to {} rows (measuring batch sizes)",
                    settings.max_batch_size
                ),
                source,
                hint: " (set calibrate_batching = false for this model to skip the measurement)",
            })?;
            tracing::info!(
                model, version, cap = c.cap, per_row_us = ?c.per_row_us,
                "batches merge up to {} rows (measured cost per row)", c.cap
            );
            Some(c)
        } else {
            None
        };
        let policy = Policy {
            merge,
            max_rows: match (&batching, batched) {
                (Some(c), _) => c.cap,
                (None, true) => settings.max_batch_size,
                (None, false) => 1,
            },
            max_delay: settings.max_queue_delay,
            preferred: settings.preferred_batch_size.clone(),
        };
        let batcher = Batcher::start(
            &format!("{model}@{version}"),
            sessions,
            solo,
            outputs.iter().map(|o| o.name.clone()).collect(),
            policy,
            settings.queue_size,
            metrics,
        );
        Ok(Loaded {
            inputs,
            outputs,
            notice,
            batching,
            queue: Box::new(batcher),
        })
    }
}

fn specs<'a>(
    outlets: impl Iterator<Item = (&'a str, &'a ValueType)>,
) -> Result<Vec<IoSpec>, BackendError> {
    outlets
        .map(|(name, ty)| match ty {
            ValueType::Tensor { ty, shape, .. } => {
                let datatype = Datatype::from_ort(*ty)
                    .filter(|d| *d != Datatype::Bytes)
                    .ok_or_else(|| BackendError::Unservable {
                        name: name.to_string(),
                        what: format!("of element type {ty:?}"),
                    })?;
                Ok(IoSpec {
                    name: name.to_string(),
                    datatype,
                    shape: shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect(),
                })
            }
            other => Err(BackendError::Unservable {
                name: name.to_string(),
                what: format!("a {other:?}, not a tensor"),
            }),
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
                        let handle = assay_engine::model::axis_handle(o.name(), k, sym);
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
) -> Result<(), WarmFailure> {
    run_once(session, &warm_inputs(inputs, shapes, fills))
}

/// Runs `tensors` once; the outputs are dropped.
pub(super) fn run_once(
    session: &mut ort::session::Session,
    tensors: &[Tensor],
) -> Result<(), WarmFailure> {
    let values = tensors
        .iter()
        .map(|t| t.to_value().map(|v| (t.name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    session.run(values)?;
    Ok(())
}

/// Every input at its warm-up shape, zeros except the release's constant inputs.
pub(super) fn warm_inputs(
    inputs: &[IoSpec],
    shapes: &[(String, Vec<i64>)],
    fills: &BTreeMap<String, f64>,
) -> Vec<Tensor> {
    inputs
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
            Tensor {
                name: s.name.clone(),
                datatype: s.datatype,
                data: filled.unwrap_or_else(|| vec![0u8; n * s.datatype.size().unwrap_or(1)]),
                shape,
            }
        })
        .collect()
}
