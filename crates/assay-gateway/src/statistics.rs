//! Triton's statistics extension (`GET /v2/models/{m}[/versions/{v}]/stats`, gRPC
//! `ModelStatistics`): a version's counters and cumulative durations, read from the same
//! metric handles that `/metrics` exports, so `tritonclient`'s `get_inference_statistics`
//! and perf_analyzer's server-side figures agree with Prometheus.
//!
//! Durations are cumulative nanoseconds with their counts: `success` per answered request
//! (handler to answer), `queue` per request (waiting for a session), `compute_infer` per
//! execution (one batch; `execution_count` of them). Assay does not time input and output
//! copies apart from the execution, so `compute_input` and `compute_output` count the
//! executions with no time; there is no response cache.

use serde::Serialize;

use crate::{metrics::VersionMetrics, model::LoadedVersion};

/// One version's statistics, in the extension's JSON shape.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStats {
    pub name: String,
    pub version: String,
    /// Milliseconds since the epoch of the last answered request; 0 before the first.
    pub last_inference: u64,
    pub inference_count: u64,
    pub execution_count: u64,
    pub inference_stats: InferStats,
    pub batch_stats: Vec<BatchStats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InferStats {
    pub success: StatDuration,
    pub fail: StatDuration,
    pub queue: StatDuration,
    pub compute_input: StatDuration,
    pub compute_infer: StatDuration,
    pub compute_output: StatDuration,
    pub cache_hit: StatDuration,
    pub cache_miss: StatDuration,
}

/// A count and its cumulative duration.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StatDuration {
    pub count: u64,
    pub ns: u64,
}

/// Executions of one batch size (not tracked per size: left empty).
#[derive(Debug, Clone, Serialize)]
pub struct BatchStats {
    pub batch_size: u64,
    pub compute_infer: StatDuration,
}

/// The extension's answer: every version asked for.
#[derive(Debug, Clone, Serialize)]
pub struct StatsAnswer {
    pub model_stats: Vec<ModelStats>,
}

fn ns(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

impl ModelStats {
    pub fn of(v: &LoadedVersion) -> ModelStats {
        let m: &VersionMetrics = &v.metrics;
        let executions = m.execution_count.get();
        let untimed = StatDuration {
            count: executions,
            ns: 0,
        };
        ModelStats {
            name: v.model.clone(),
            version: v.version.clone(),
            last_inference: m.last_inference_ms(),
            inference_count: m.inference_count.get(),
            execution_count: executions,
            inference_stats: InferStats {
                success: StatDuration {
                    count: m.success.get(),
                    ns: ns(m.request_duration.sum()),
                },
                fail: StatDuration {
                    count: m.failures(),
                    ns: 0,
                },
                queue: StatDuration {
                    count: m.queue_duration.count(),
                    ns: ns(m.queue_duration.sum()),
                },
                compute_input: untimed,
                compute_infer: StatDuration {
                    count: m.compute_duration.count(),
                    ns: ns(m.compute_duration.sum()),
                },
                compute_output: untimed,
                cache_hit: StatDuration::default(),
                cache_miss: StatDuration::default(),
            },
            batch_stats: Vec::new(),
        }
    }
}
