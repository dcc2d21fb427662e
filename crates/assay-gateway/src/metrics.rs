//! Prometheus metrics, named after Triton's with an `assay_` prefix and labelled by model and
//! version. Durations are histograms (Triton exports counters of microseconds, which cannot
//! give a p99). Each loaded version holds its own handles, so the hot path never looks a
//! label set up.

use std::sync::Arc;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::error::FailureReason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    model: String,
    version: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    model: String,
    version: String,
    outcome: String,
}

type Hist = Family<VersionLabels, Histogram, fn() -> Histogram>;

fn abs_errors() -> Histogram {
    // 1e-9 to 1e3, two buckets a decade.
    Histogram::new(exponential_buckets(1e-9, 10f64.sqrt(), 25))
}

fn seconds() -> Histogram {
    // 50 µs to ~52 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 21))
}

fn rows() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    success: Family<VersionLabels, Counter>,
    failure: Family<FailureLabels, Counter>,
    inference_count: Family<VersionLabels, Counter>,
    execution_count: Family<VersionLabels, Counter>,
    solo_executions: Family<VersionLabels, Counter>,
    pending: Family<VersionLabels, Gauge>,
    request_duration: Hist,
    queue_duration: Hist,
    compute_duration: Hist,
    batch_size: Hist,
    canary_percent: Family<ModelLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    canary_decisions: Family<FailureLabels, Counter>,
    shadow_requests: Family<OutcomeLabels, Counter>,
    shadow_abs_error: Hist,
}

/// One shadow version's handles: mirrored requests by outcome, and the largest absolute
/// error of each compared request.
#[derive(Clone)]
pub struct ShadowMetrics {
    pub agree: Counter,
    pub disagree: Counter,
    pub error: Counter,
    pub dropped: Counter,
    pub abs_error: Histogram,
}

/// One version's handles (cheap clones of shared atomics).
#[derive(Clone)]
pub struct VersionMetrics {
    pub success: Counter,
    failure: Vec<(FailureReason, Counter)>,
    pub inference_count: Counter,
    pub execution_count: Counter,
    /// Executions that ran alone on the solo session (every core).
    pub solo_executions: Counter,
    pub pending: Gauge,
    pub request_duration: Histogram,
    pub queue_duration: Histogram,
    pub compute_duration: Histogram,
    pub batch_size: Histogram,
    /// When the last request was answered (ms since the epoch; Triton's `last_inference`).
    last_inference: Arc<std::sync::atomic::AtomicU64>,
}

impl VersionMetrics {
    pub fn failed(&self, reason: FailureReason) {
        if let Some((_, c)) = self.failure.iter().find(|(r, _)| *r == reason) {
            c.inc();
        }
    }

    /// Failed requests, every reason together.
    pub fn failures(&self) -> u64 {
        self.failure.iter().map(|(_, c)| c.get()).sum()
    }

    /// Records an answered request's time (for the statistics extension).
    pub fn answered_now(&self) {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_inference
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn last_inference_ms(&self) -> u64 {
        self.last_inference
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("assay");
        let success = Family::<VersionLabels, Counter>::default();
        let failure = Family::<FailureLabels, Counter>::default();
        let inference_count = Family::<VersionLabels, Counter>::default();
        let execution_count = Family::<VersionLabels, Counter>::default();
        let solo_executions = Family::<VersionLabels, Counter>::default();
        let pending = Family::<VersionLabels, Gauge>::default();
        let request_duration: Hist = Family::new_with_constructor(seconds);
        let queue_duration: Hist = Family::new_with_constructor(seconds);
        let compute_duration: Hist = Family::new_with_constructor(seconds);
        let batch_size: Hist = Family::new_with_constructor(rows);
        let canary_percent = Family::default();
        let canary_decisions = Family::default();
        let shadow_requests = Family::<OutcomeLabels, Counter>::default();
        let shadow_abs_error: Hist = Family::new_with_constructor(abs_errors);
        registry.register(
            "request_success",
            "Inference requests that succeeded",
            success.clone(),
        );
        registry.register(
            "request_failure",
            "Inference requests that failed, by reason (bad_request, rejected, timeout, canceled, backend, other)",
            failure.clone(),
        );
        registry.register(
            "inference_count",
            "Rows inferred (inference_count / execution_count is the mean batch size)",
            inference_count.clone(),
        );
        registry.register(
            "execution_count",
            "Model executions (batches run)",
            execution_count.clone(),
        );
        registry.register(
            "solo_executions",
            "Executions that ran while every other session was idle, on the solo session with every core (solo_threads)",
            solo_executions.clone(),
        );
        registry.register(
            "pending_requests",
            "Requests waiting in the queue",
            pending.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from receiving a request to answering it",
            request_duration.clone(),
        );
        registry.register(
            "queue_duration_seconds",
            "Time a request waited in the batching queue",
            queue_duration.clone(),
        );
        registry.register(
            "compute_duration_seconds",
            "Time ONNX Runtime took for one batch",
            compute_duration.clone(),
        );
        registry.register("batch_size", "Rows per model execution", batch_size.clone());
        registry.register(
            "canary_percent",
            "Share of unpinned traffic routed to the canary",
            canary_percent.clone(),
        );
        registry.register(
            "canary_decisions",
            "Automatic canary decisions (reason = rollback or promote)",
            canary_decisions.clone(),
        );
        registry.register(
            "shadow_requests",
            "Requests mirrored to a shadow version, by outcome (agree, disagree, error, dropped)",
            shadow_requests.clone(),
        );
        registry.register(
            "shadow_abs_error",
            "Largest absolute output error of each compared shadow request",
            shadow_abs_error.clone(),
        );
        Arc::new(Metrics {
            registry,
            success,
            failure,
            inference_count,
            execution_count,
            solo_executions,
            pending,
            request_duration,
            queue_duration,
            compute_duration,
            batch_size,
            canary_percent,
            canary_decisions,
            shadow_requests,
            shadow_abs_error,
        })
    }

    /// The handles for a shadow version of `model`.
    pub fn shadow(&self, model: &str, version: &str) -> ShadowMetrics {
        let outcome = |o: &str| {
            self.shadow_requests
                .get_or_create(&OutcomeLabels {
                    model: model.into(),
                    version: version.into(),
                    outcome: o.into(),
                })
                .clone()
        };
        ShadowMetrics {
            agree: outcome("agree"),
            disagree: outcome("disagree"),
            error: outcome("error"),
            dropped: outcome("dropped"),
            abs_error: self
                .shadow_abs_error
                .get_or_create(&VersionLabels {
                    model: model.into(),
                    version: version.into(),
                })
                .clone(),
        }
    }

    /// The handles for one model version.
    pub fn version(&self, model: &str, version: &str) -> VersionMetrics {
        let l = VersionLabels {
            model: model.into(),
            version: version.into(),
        };
        let failure = [
            FailureReason::BadRequest,
            FailureReason::Rejected,
            FailureReason::Timeout,
            FailureReason::Canceled,
            FailureReason::Backend,
            FailureReason::Other,
        ]
        .into_iter()
        .map(|r| {
            let labels = FailureLabels {
                model: model.into(),
                version: version.into(),
                reason: r.as_str().into(),
            };
            (r, self.failure.get_or_create(&labels).clone())
        })
        .collect();
        VersionMetrics {
            success: self.success.get_or_create(&l).clone(),
            failure,
            inference_count: self.inference_count.get_or_create(&l).clone(),
            execution_count: self.execution_count.get_or_create(&l).clone(),
            solo_executions: self.solo_executions.get_or_create(&l).clone(),
            pending: self.pending.get_or_create(&l).clone(),
            request_duration: self.request_duration.get_or_create(&l).clone(),
            queue_duration: self.queue_duration.get_or_create(&l).clone(),
            compute_duration: self.compute_duration.get_or_create(&l).clone(),
            batch_size: self.batch_size.get_or_create(&l).clone(),
            last_inference: Arc::default(),
        }
    }

    /// A failure that happened before a version was chosen (unknown model, bad route).
    pub fn unrouted_failure(&self, reason: FailureReason) {
        self.failure
            .get_or_create(&FailureLabels {
                model: String::new(),
                version: String::new(),
                reason: reason.as_str().into(),
            })
            .inc();
    }

    pub fn set_canary_percent(&self, model: &str, percent: f64) {
        self.canary_percent
            .get_or_create(&ModelLabels {
                model: model.into(),
            })
            .set(percent);
    }

    pub fn canary_decision(&self, model: &str, version: &str, decision: &str) {
        self.canary_decisions
            .get_or_create(&FailureLabels {
                model: model.into(),
                version: version.into(),
                reason: decision.into(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
