//! What a benchmark run measures: the model, the sweep and the stopping rules.

use std::{path::PathBuf, time::Duration};

use serde::Serialize;

use super::check::AccuracyCheck;
use crate::{
    error::{EngineError, Result},
    inputs::InputPlan,
    session::{Provider, SessionOptions},
};

/// A benchmark: one model measured at every (provider, batch, concurrency) combination.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkPlan {
    pub model: PathBuf,
    pub providers: Vec<Provider>,
    /// How each session is built (optimization level, threads, strict providers).
    pub session: SessionOptions,
    /// Batch sizes to sweep; each binds the batch dimension.
    pub batches: Vec<i64>,
    /// Numbers of parallel streams, each with its own session.
    pub concurrency: Vec<usize>,
    /// The inputs: dimension values, shapes, files, fills and the synthetic generator.
    #[serde(flatten)]
    pub inputs: InputPlan,
    pub warmup_runs: u64,
    pub warmup_time: Duration,
    pub min_iterations: u64,
    pub min_duration: Duration,
    /// Check which provider ran each node with one profiled run (on by default).
    pub placement_check: bool,
    /// Compare each row's outputs against a reference (`--check-against`).
    pub check: Option<AccuracyCheck>,
}

impl BenchmarkPlan {
    /// A plan with the defaults: CPU, batch 1, one stream, warmup ≥ 10 runs and ≥ 1 s,
    /// measurement ≥ 100 runs and ≥ 2 s.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        BenchmarkPlan {
            model: model.into(),
            providers: vec![Provider::Cpu],
            session: SessionOptions::default(),
            batches: Vec::new(),
            concurrency: vec![1],
            inputs: InputPlan::default(),
            warmup_runs: 10,
            warmup_time: Duration::from_secs(1),
            min_iterations: 100,
            min_duration: Duration::from_secs(2),
            placement_check: true,
            check: None,
        }
    }

    /// Sets the batch sweep.
    pub fn with_batches(mut self, batches: Vec<i64>) -> Self {
        self.batches = batches;
        self
    }

    /// Checks option values that do not need the model.
    pub fn validate(&self) -> Result<()> {
        if self.providers.is_empty() {
            return Err(EngineError::invalid(
                crate::setting::Setting::Provider,
                "give at least one provider",
            ));
        }
        if let Some(b) = self.batches.iter().find(|&&b| b < 1) {
            return Err(EngineError::invalid(
                crate::setting::Setting::Batch,
                format!("batch sizes must be at least 1, got {b}"),
            ));
        }
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            return Err(EngineError::invalid(
                crate::setting::Setting::Concurrency,
                "concurrency must be at least 1",
            ));
        }
        if let Some(c) = self.concurrency.iter().find(|&&c| c > 1024) {
            return Err(EngineError::invalid(
                crate::setting::Setting::Concurrency,
                format!("{c} streams is more than the 1024 allowed"),
            ));
        }
        self.inputs.validate()?;
        if let Some(c) = &self.check
            && c.sets == 0
        {
            return Err(EngineError::invalid(
                crate::setting::Setting::CheckSets,
                "compare on at least one input set",
            ));
        }
        if self.session.intra_threads == Some(0) || self.session.inter_threads == Some(0) {
            return Err(EngineError::invalid(
                crate::setting::Setting::Threads,
                "thread counts must be at least 1 (omit them for ONNX Runtime's default)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_option() {
        let mut p = BenchmarkPlan::new("m.onnx");
        p.concurrency = vec![0];
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("concurrency")
        );
    }
}
