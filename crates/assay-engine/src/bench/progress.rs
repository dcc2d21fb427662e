//! Progress events of a benchmark. The CLI prints them as a progress bar, or with
//! its events mode as NDJSON lines (schema in docs/EVENTS.md) that the console reads from its
//! worker process.

use serde::{Deserialize, Serialize};

use super::report::{BenchReport, BenchResult};

/// Which loop a configuration is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Load,
    Warmup,
    Measure,
    /// Comparing the row's outputs against the reference (`--check-against`).
    Check,
}

/// Something that happened during a run. Serialized with an `event` tag.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BenchEvent {
    /// The run begins: how many configurations it will measure.
    Started { model: String, configs: usize },
    /// A configuration begins.
    ConfigStarted {
        index: usize,
        provider: String,
        batch: i64,
        concurrency: usize,
    },
    /// A configuration moved to another phase.
    Phase { index: usize, phase: Phase },
    /// Periodic (about every 100 ms) measurement progress.
    Progress {
        index: usize,
        phase: Phase,
        /// Inferences completed in this phase.
        done: u64,
        elapsed_ms: f64,
        /// The minimums that end the phase.
        target_iterations: u64,
        target_ms: f64,
        /// Mean latency of the inferences finished since the previous progress event.
        window_mean_ms: Option<f64>,
        window_count: u64,
    },
    /// Something the user should know (fallbacks, unsupported percentiles).
    Warning { message: String },
    /// A configuration's result row.
    ConfigFinished {
        index: usize,
        result: Box<BenchResult>,
    },
    /// The whole report (the last event of a successful run).
    Result { report: Box<BenchReport> },
}

/// Receives events as a run goes.
pub trait BenchObserver {
    fn event(&mut self, event: BenchEvent);

    /// Polled between iterations of the coordinator; return true to stop the run early.
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct NoProgress;

impl BenchObserver for NoProgress {
    fn event(&mut self, _: BenchEvent) {}
}
