//! The versioned benchmark result document (`assay.bench/1`).

use std::{collections::BTreeMap, path::PathBuf};

use serde::{Deserialize, Serialize};

use super::check::RowAccuracy;
use crate::accuracy::AccuracyReport;
use crate::gpu::GpuUsage;
use crate::{
    fingerprint::Environment,
    stats::{ConfidenceIntervals, LatencyStats},
};

/// The schema tag of [`BenchReport`]; bumped on any incompatible change.
pub const BENCH_SCHEMA: &str = "assay.bench/1";

/// A whole benchmark: the model, the environment, and one row per configuration.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BenchReport {
    pub schema: String,
    /// The id under which the run history recorded this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub model: ModelRef,
    pub environment: Environment,
    pub settings: Settings,
    /// Session creation time of the first configuration, in milliseconds.
    pub load_ms: f64,
    /// The first (cold) inference of the first configuration, in milliseconds.
    pub first_inference_ms: f64,
    pub results: Vec<BenchResult>,
    /// Warnings that apply to the whole run (each row has its own too).
    pub warnings: Vec<String>,
    /// Unix time (seconds) when the run started.
    pub started_at: u64,
    pub total_s: f64,
    /// Set for a served load run (`assay load`): the server, model and load that were
    /// measured. Its rows' latencies are then request round trips seen by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub served: Option<ServedTarget>,
    /// The full comparisons behind the rows' `accuracy` (`--check-against`), which the
    /// history keeps as comparisons of their own. Kept out of the JSON document.
    #[serde(skip)]
    #[ts(skip)]
    pub comparisons: Vec<AccuracyReport>,
}

impl BenchReport {
    /// Records the history ids of [`BenchReport::comparisons`], in order, in the rows
    /// that refer to them.
    pub fn link_comparisons(&mut self, ids: &[String]) {
        for a in self.results.iter_mut().filter_map(|r| r.accuracy.as_mut()) {
            a.comparison_id = ids.get(a.comparison).cloned();
        }
        for (c, id) in self.comparisons.iter_mut().zip(ids) {
            c.run_id = Some(id.clone());
        }
    }
}

/// The model measured.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelRef {
    pub path: PathBuf,
    pub sha256: String,
}

/// The settings every row shares.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Settings {
    pub warmup_runs: u64,
    pub warmup_ms: f64,
    pub min_iterations: u64,
    pub min_duration_ms: f64,
    pub intra_threads: Option<usize>,
    pub inter_threads: Option<usize>,
    pub opt_level: String,
    pub seed: u64,
    /// `synthetic` or the input files used.
    pub inputs: BTreeMap<String, String>,
    /// The values given for dynamic dimensions, by handle (what later runs of this model,
    /// releases and gateways reuse).
    #[serde(default)]
    pub dims: BTreeMap<String, i64>,
    /// Whole input shapes given.
    #[serde(default)]
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Constant inputs given, e.g. a sample rate.
    #[serde(default)]
    pub fills: BTreeMap<String, f64>,
    /// Ranges given for synthetic inputs (`LOW..HIGH`), by input.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, (f64, f64)>>", optional)]
    pub ranges: BTreeMap<String, (f64, f64)>,
}

/// One (provider, batch, concurrency) configuration.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BenchResult {
    /// The provider asked for (`cpu`, `cuda`, `tensorrt`).
    pub provider: String,
    /// Nodes per execution provider, from a profiled run: who really ran the model.
    pub executed_by: BTreeMap<String, u64>,
    /// Set when the requested provider could not be used and CPU ran instead.
    pub fallback: Option<String>,
    pub batch: i64,
    pub concurrency: usize,
    pub input_shapes: BTreeMap<String, Vec<i64>>,
    pub samples: usize,
    pub latency_ms: LatencyStats,
    pub ci95_ms: ConfidenceIntervals,
    /// Percentiles the sample count cannot support (fewer than 10 samples beyond them).
    pub unsupported_percentiles: Vec<String>,
    pub throughput: Throughput,
    /// Mean wall time per inference spent outside `Session::run`, in microseconds.
    pub overhead_us: f64,
    pub peak_rss_bytes: Option<u64>,
    pub gpu: Option<GpuUsage>,
    pub load_ms: f64,
    pub first_inference_ms: f64,
    pub measured_s: f64,
    /// This row's session compared against a reference (`--check-against`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub accuracy: Option<RowAccuracy>,
    /// A served load run's own figures (`assay load`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub load: Option<LoadFigures>,
    pub warnings: Vec<String>,
    /// Every latency sample in nanoseconds, in measurement order (stream by stream). Kept
    /// out of the JSON document (the store keeps them, compactly encoded).
    #[serde(skip)]
    pub samples_ns: Vec<u64>,
}

/// Throughput over the measurement window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Throughput {
    pub inferences_per_s: f64,
    pub samples_per_s: f64,
}

/// What a served load run (`assay load`) measured: which server, model and protocol, and
/// how the load was offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ServedTarget {
    /// The server's base URL (`http://127.0.0.1:8000`, `grpc://127.0.0.1:8001`).
    pub url: String,
    pub protocol: ServedProtocol,
    pub model: String,
    /// The version asked for; `None` lets the server route (a gateway's canary split).
    pub version: Option<String>,
    /// The server's name and version from its metadata (`assay-gateway 0.1.0`, `triton 2.50`).
    pub server: String,
    pub mode: LoadMode,
    /// Seconds of warm-up load before each level's measurement.
    pub warmup_s: f64,
    /// Seconds each level is measured.
    pub duration_s: f64,
}

/// How requests went over the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "kebab-case")]
pub enum ServedProtocol {
    /// REST with tensors as JSON arrays.
    RestJson,
    /// REST with tensors as raw bytes after a JSON header (Triton's binary extension).
    RestBinary,
    /// gRPC `ModelInfer` with `raw_input_contents`.
    Grpc,
}

impl ServedProtocol {
    /// The row label that stands where a local run has its provider.
    pub fn label(self) -> &'static str {
        match self {
            ServedProtocol::RestJson => "rest-json",
            ServedProtocol::RestBinary => "rest-binary",
            ServedProtocol::Grpc => "grpc",
        }
    }
}

/// Closed loop (a fixed number of requests in flight, each sent when the last returns) or
/// open loop (Poisson arrivals at a fixed rate, whatever the server does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "loop", rename_all = "snake_case")]
pub enum LoadMode {
    Closed {
        concurrency: Vec<usize>,
    },
    Open {
        rates: Vec<f64>,
        #[serde(default)]
        arrivals: Arrivals,
    },
}

/// How an open loop spaces its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Exponential gaps: independent users, as real traffic arrives.
    #[default]
    Poisson,
    /// Evenly spaced: the same count in every window (comparing clients, wrk2's default).
    Constant,
}

/// A load level's figures that a local run has no counterpart for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct LoadFigures {
    /// Requests per second offered (open loop); `None` in a closed loop.
    pub offered_per_s: Option<f64>,
    /// Requests sent and answered with success in the measurement window.
    pub completed: u64,
    /// Requests that failed (an error status, a transport error, a timeout).
    pub errors: u64,
    /// The first few distinct error messages, with their counts.
    pub error_examples: Vec<(String, u64)>,
    /// The client's own CPU time (user + system) per completed request, in microseconds.
    pub client_cpu_us_per_request: f64,
    /// The client's CPU use over the window, in cores (1.0 = one core busy).
    pub client_cpu_cores: f64,
    /// Coordinated-omission correction. Open loop: every latency is measured from the
    /// request's scheduled send time, so a stalled server is charged for the requests it
    /// delayed. Closed loop: HdrHistogram's correction, with the level's median round trip as
    /// the expected interval, adds the requests a stall kept from being sent.
    pub coordinated_omission: CoCorrection,
    /// The most requests in flight at once.
    pub peak_in_flight: usize,
}

/// What the coordinated-omission correction did to a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CoCorrection {
    /// Latencies measured from the scheduled send time (open loop).
    pub from_schedule: bool,
    /// The expected interval used to fill in stalls (closed loop), in milliseconds.
    pub expected_interval_ms: Option<f64>,
    /// Samples added by the correction (they enter the percentiles, not `samples_ns`).
    pub added_samples: u64,
    /// The p99 of the measured round trips alone, before the correction.
    pub uncorrected_p99_ms: f64,
}
