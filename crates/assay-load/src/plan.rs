//! What a load run is asked to do, checked before anything is sent.

use std::{path::PathBuf, time::Duration};

use assay_engine::{EngineError, Setting, bench::LoadMode, inputs::InputPlan};

use crate::target::Target;

/// A load run: where, how much, how long, and with what inputs.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub target: Target,
    pub mode: LoadMode,
    /// Synthetic data or `.npy`/`.npz` files, bound to the server's inputs as a local run's.
    pub inputs: InputPlan,
    /// The batch size (the leading dynamic dimension); from the files or 1 when not given.
    pub batch: Option<i64>,
    /// Load before each level's measurement, not measured.
    pub warmup: Duration,
    /// How long each level is measured.
    pub duration: Duration,
    /// A request that takes longer fails (and counts as an error).
    pub timeout: Duration,
    /// Open loop: the most requests in flight; a request due when all are busy waits (and
    /// its wait counts in its latency).
    pub max_in_flight: usize,
    /// The model file the server serves, when known: the run is then recorded under its
    /// digest, so `assay compare` pairs it with in-process runs of the same model.
    pub model_file: Option<PathBuf>,
    /// Seed of the open loop's arrival times.
    pub seed: u64,
}

/// The most connections one level opens.
pub const MAX_CONCURRENCY: usize = 4096;

impl LoadPlan {
    /// Checks what needs no server.
    pub fn validate(&self) -> Result<(), EngineError> {
        match &self.mode {
            LoadMode::Closed { concurrency } => {
                if concurrency.is_empty() {
                    return Err(EngineError::invalid(
                        Setting::Concurrency,
                        "give at least one concurrency level",
                    ));
                }
                if let Some(c) = concurrency.iter().find(|&&c| c == 0 || c > MAX_CONCURRENCY) {
                    return Err(EngineError::invalid(
                        Setting::Concurrency,
                        format!("{c}: a concurrency level is from 1 to {MAX_CONCURRENCY}"),
                    ));
                }
            }
            LoadMode::Open { rates, .. } => {
                if rates.is_empty() {
                    return Err(EngineError::invalid(
                        Setting::Rate,
                        "give at least one rate",
                    ));
                }
                if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
                    return Err(EngineError::invalid(
                        Setting::Rate,
                        format!("{r}: a rate is a positive number of requests per second"),
                    ));
                }
                if self.max_in_flight == 0 || self.max_in_flight > MAX_CONCURRENCY {
                    return Err(EngineError::invalid(
                        Setting::Concurrency,
                        format!(
                            "{}: the most requests in flight is from 1 to {MAX_CONCURRENCY}",
                            self.max_in_flight
                        ),
                    ));
                }
            }
        }
        if self.duration.is_zero() {
            return Err(EngineError::invalid(
                Setting::Duration,
                "the measurement needs a duration above zero",
            ));
        }
        if let Some(b) = self.batch.filter(|&b| b < 1) {
            return Err(EngineError::invalid(
                Setting::Batch,
                format!("{b}: a batch size is at least 1"),
            ));
        }
        self.inputs.validate()
    }
}
