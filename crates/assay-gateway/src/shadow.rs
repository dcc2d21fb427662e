//! Shadow traffic: a share of the requests the stable release serves is also run on a
//! candidate, and the two answers compared (outputs with the tolerance of `assay accuracy`,
//! latency and errors). Clients only ever get the stable's answer.
//!
//! The shadow never holds the stable back: a mirrored request is handed over after the
//! stable answered, through a bounded queue that drops (and counts) what does not fit; the
//! candidate runs on its own sessions, at most `concurrency` requests at a time, and the
//! comparison runs on a blocking thread. All of it (sessions, hand-over, comparison) runs
//! under Linux's `SCHED_IDLE`, on CPU the served versions leave.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use assay_engine::{
    accuracy::{Tolerance, compare},
    stats::quantile_sorted,
    tensor::{HostTensor, TensorData},
};
use assay_release::views::ShadowReport;
use tokio::sync::{Semaphore, mpsc};

use crate::{
    config::ShadowSettings, metrics::ShadowMetrics, model::LoadedVersion, protocol::InferRequest,
    tensor::Tensor,
};

/// How many recent compared requests the quantiles are taken over.
const WINDOW: usize = 10_000;

/// One request as the stable served it, for the shadow to run again.
pub struct Mirror {
    pub inputs: Vec<Tensor>,
    pub stable_outputs: Vec<Tensor>,
    pub stable_ms: f64,
}

/// A running shadow of one model.
pub struct Shadow {
    pub version: Arc<LoadedVersion>,
    pub stable: String,
    /// The share mirrored, as f64 bits (changed in place when only the share changes).
    percent: AtomicU64,
    counter: AtomicU64,
    tx: mpsc::Sender<Mirror>,
    record: Arc<Record>,
    tolerance: Tolerance,
}

/// What the comparisons found so far.
struct Record {
    metrics: ShadowMetrics,
    inner: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    mirrored: u64,
    dropped: u64,
    compared: u64,
    agreed: u64,
    errors: u64,
    abs_max: f64,
    abs_errors: VecDeque<f64>,
    stable_ms: VecDeque<f64>,
    shadow_ms: VecDeque<f64>,
    last_problem: Option<String>,
}

fn push(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

impl Shadow {
    /// Starts the shadow's worker (a thread of its own). It stops when the shadow is
    /// dropped.
    pub fn start(
        version: Arc<LoadedVersion>,
        stable: String,
        percent: f64,
        settings: &ShadowSettings,
        metrics: ShadowMetrics,
        timeout: Duration,
    ) -> Arc<Shadow> {
        let (tx, mut rx) = mpsc::channel::<Mirror>(settings.queue);
        let record = Arc::new(Record {
            metrics,
            inner: Mutex::new(Tally::default()),
        });
        let shadow = Arc::new(Shadow {
            version: version.clone(),
            stable,
            percent: AtomicU64::new(percent.to_bits()),
            counter: AtomicU64::new(0),
            tx,
            record: record.clone(),
            tolerance: settings.tolerance,
        });
        let permits = Arc::new(Semaphore::new(settings.concurrency));
        let tolerance = settings.tolerance;
        let worker = async move {
            while let Some(m) = rx.recv().await {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let (version, record) = (version.clone(), record.clone());
                tokio::spawn(async move {
                    run_one(&version, &record, m, tolerance, timeout).await;
                    drop(permit);
                });
            }
        };
        // The shadow's own work (taking mirrored requests, waiting on the candidate, the
        // comparison) runs on a thread of its own under SCHED_IDLE, like the candidate's
        // sessions, with a runtime of its own: none of it takes the CPU the stable needs.
        // The comparison's blocking threads are started from it, and so idle too.
        let spawned = std::thread::Builder::new()
            .name("shadow".into())
            .spawn(move || {
                if let Err(e) = crate::backend::set_idle_policy() {
                    tracing::debug!(error = %e, "the shadow's thread keeps normal priority");
                }
                match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt.block_on(worker),
                    Err(e) => tracing::error!(error = %e, "the shadow could not start; it compares nothing"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the shadow's thread could not start; it compares nothing");
        }
        shadow
    }

    pub fn percent(&self) -> f64 {
        f64::from_bits(self.percent.load(Ordering::Relaxed))
    }

    pub fn set_percent(&self, percent: f64) {
        self.percent.store(percent.to_bits(), Ordering::Relaxed);
    }

    /// Whether this request is mirrored: exactly `percent` of them, evenly spread.
    pub fn pick(&self) -> bool {
        let p = self.percent() / 100.0;
        let n = self.counter.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * p).floor() > (n * p).floor()
    }

    /// Whether the queue has room for a mirrored request. When it has none, the request is
    /// counted as mirrored and dropped here, before anything is copied for it.
    pub fn has_room(&self) -> bool {
        if self.tx.capacity() > 0 {
            return true;
        }
        let mut t = self.record.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.mirrored += 1;
        t.dropped += 1;
        self.record.metrics.dropped.inc();
        false
    }

    /// Hands a request over, or drops it (counted) when the queue is full.
    pub fn offer(&self, m: Mirror) {
        let sent = self.tx.try_send(m).is_ok();
        let mut t = self.record.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.mirrored += 1;
        if !sent {
            t.dropped += 1;
            self.record.metrics.dropped.inc();
        }
    }

    /// Requests compared so far and the share that disagreed (errors count as
    /// disagreements).
    pub fn disagreement(&self) -> (u64, f64) {
        let t = self.record.inner.lock().unwrap_or_else(|p| p.into_inner());
        let judged = t.compared + t.errors;
        let bad = (t.compared - t.agreed) + t.errors;
        (
            judged,
            if judged == 0 {
                0.0
            } else {
                bad as f64 / judged as f64
            },
        )
    }

    pub fn report(&self) -> ShadowReport {
        let t = self.record.inner.lock().unwrap_or_else(|p| p.into_inner());
        let sorted = |q: &VecDeque<f64>| {
            let mut v: Vec<f64> = q.iter().copied().collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let q = |v: &[f64], p: f64| (!v.is_empty()).then(|| quantile_sorted(v, p));
        let abs = sorted(&t.abs_errors);
        let (stable, shadow) = (sorted(&t.stable_ms), sorted(&t.shadow_ms));
        ShadowReport {
            version: self.version.version.clone(),
            stable: self.stable.clone(),
            percent: self.percent(),
            mirrored: t.mirrored,
            dropped: t.dropped,
            compared: t.compared,
            agreed: t.agreed,
            agreement: if t.compared == 0 {
                1.0
            } else {
                t.agreed as f64 / t.compared as f64
            },
            errors: t.errors,
            abs_error_p50: q(&abs, 0.5).unwrap_or(0.0),
            abs_error_p99: q(&abs, 0.99).unwrap_or(0.0),
            abs_error_max: t.abs_max,
            stable_p50_ms: q(&stable, 0.5),
            stable_p99_ms: q(&stable, 0.99),
            shadow_p50_ms: q(&shadow, 0.5),
            shadow_p99_ms: q(&shadow, 0.99),
            last_problem: t.last_problem.clone(),
            atol: self.tolerance.atol,
            rtol: self.tolerance.rtol,
        }
    }
}

fn host(t: &Tensor) -> HostTensor {
    HostTensor {
        ty: t.datatype.element_type(),
        shape: t.shape.clone(),
        data: TensorData::Bytes(t.data.clone()),
    }
}

/// What one comparison found.
enum Verdict {
    Compared {
        agree: bool,
        max_abs: f64,
        problem: Option<String>,
    },
    Failed(String),
}

/// Compares the shadow's outputs with the stable's, output by output.
fn judge(stable: &[Tensor], shadow: &[Tensor], tolerance: Tolerance) -> Verdict {
    let mut max_abs = 0.0f64;
    let mut problem = None;
    for s in stable {
        let Some(c) = shadow.iter().find(|t| t.name == s.name) else {
            return Verdict::Failed(format!("the shadow gave no output '{}'", s.name));
        };
        if c.shape != s.shape || c.datatype != s.datatype {
            return Verdict::Failed(format!(
                "output '{}' is {} {:?} on the shadow but {} {:?} on the stable release",
                s.name,
                c.datatype.name(),
                c.shape,
                s.datatype.name(),
                s.shape
            ));
        }
        let stats = compare(&host(s), &host(c), tolerance);
        max_abs = max_abs.max(stats.max_abs);
        if !stats.within_tolerance && problem.is_none() {
            problem = Some(format!(
                "output '{}': {} of {} elements outside tolerance (atol {:e}, rtol {:e}), max |error| {:.3e}",
                s.name,
                stats.outside_tolerance,
                stats.elements,
                tolerance.atol,
                tolerance.rtol,
                stats.max_abs
            ));
        }
    }
    Verdict::Compared {
        agree: problem.is_none(),
        max_abs,
        problem,
    }
}

async fn run_one(
    version: &LoadedVersion,
    record: &Record,
    m: Mirror,
    tolerance: Tolerance,
    timeout: Duration,
) {
    let started = Instant::now();
    let verdict = match fit(version, m.inputs) {
        Err(why) => Verdict::Failed(why),
        Ok(mut req) => {
            run_fitted(
                version,
                &mut req,
                m.stable_outputs,
                m.stable_ms,
                started,
                record,
                tolerance,
                timeout,
            )
            .await
        }
    };
    record_verdict(record, verdict);
}

/// The stable's inputs as the shadow takes them: by name, in the shadow's order, each
/// checked against its signature (the compatibility check can be forced past), with the
/// shadow's own batch rows.
fn fit(version: &LoadedVersion, inputs: Vec<Tensor>) -> Result<InferRequest, String> {
    let mut by_name: std::collections::HashMap<String, Tensor> =
        inputs.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut ordered = Vec::with_capacity(version.inputs.len());
    for spec in &version.inputs {
        let t = by_name.remove(&spec.name).ok_or_else(|| {
            format!(
                "the shadow takes input '{}', which the stable's request lacks",
                spec.name
            )
        })?;
        crate::protocol::check_input(&version.inputs, &t.name, t.datatype.name(), &t.shape)
            .map_err(|e| format!("the shadow cannot take the stable's request: {e}"))?;
        ordered.push(t);
    }
    // Checked above: with a batch dimension every input has rank >= 1.
    let rows = match ordered.first() {
        Some(t) if version.has_batch_dim => t.shape[0].max(1) as usize,
        _ => 1,
    };
    Ok(InferRequest {
        id: None,
        inputs: ordered,
        outputs: Vec::new(),
        rows,
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_fitted(
    version: &LoadedVersion,
    req: &mut InferRequest,
    stable_outputs: Vec<Tensor>,
    stable_ms: f64,
    started: Instant,
    record: &Record,
    tolerance: Tolerance,
    timeout: Duration,
) -> Verdict {
    match version.infer(req, timeout).await {
        Err(e) => Verdict::Failed(format!("the shadow failed: {e}")),
        Ok(done) => {
            let shadow_ms = started.elapsed().as_secs_f64() * 1e3;
            let v = tokio::task::spawn_blocking(move || {
                judge(&stable_outputs, &done.outputs, tolerance)
            })
            .await
            .unwrap_or_else(|e| Verdict::Failed(format!("the comparison failed: {e}")));
            let mut t = record.inner.lock().unwrap_or_else(|p| p.into_inner());
            push(&mut t.stable_ms, stable_ms);
            push(&mut t.shadow_ms, shadow_ms);
            v
        }
    }
}

fn record_verdict(record: &Record, verdict: Verdict) {
    let mut t = record.inner.lock().unwrap_or_else(|p| p.into_inner());
    match verdict {
        Verdict::Failed(why) => {
            t.errors += 1;
            record.metrics.error.inc();
            t.last_problem = Some(why);
        }
        Verdict::Compared {
            agree,
            max_abs,
            problem,
        } => {
            t.compared += 1;
            if agree {
                t.agreed += 1;
                record.metrics.agree.inc();
            } else {
                record.metrics.disagree.inc();
                t.last_problem = problem;
            }
            t.abs_max = t.abs_max.max(max_abs);
            push(&mut t.abs_errors, max_abs);
            record.metrics.abs_error.observe(max_abs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Datatype;

    fn t(name: &str, values: &[f32]) -> Tensor {
        Tensor {
            name: name.into(),
            datatype: Datatype::Fp32,
            shape: vec![1, values.len() as i64],
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn outputs_are_judged_with_the_accuracy_tolerance() {
        let tol = Tolerance::default();
        let same = judge(&[t("y", &[1.0, 2.0])], &[t("y", &[1.0, 2.0])], tol);
        assert!(matches!(same, Verdict::Compared { agree: true, max_abs, .. } if max_abs == 0.0));
        let off = judge(&[t("y", &[1.0, 2.0])], &[t("y", &[1.0, 2.02])], tol);
        let Verdict::Compared {
            agree: false,
            max_abs,
            problem: Some(p),
        } = off
        else {
            panic!("a 1% error agreed")
        };
        assert!((max_abs - 0.02).abs() < 1e-6, "{max_abs}");
        assert!(
            p.starts_with("output 'y': 1 of 2 elements outside tolerance"),
            "{p}"
        );
        let Verdict::Failed(why) = judge(&[t("y", &[1.0])], &[t("y", &[1.0, 2.0])], tol) else {
            panic!("a shape change was compared")
        };
        assert!(
            why.contains("[1, 2] on the shadow but FP32 [1, 1]"),
            "{why}"
        );
    }
}
