//! What a benchmark run measures: the model, the sweep and the stopping rules.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::Serialize;

use crate::{
    error::{EngineError, Result},
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
    /// The symbolic dimension that is the batch (default: the first dynamic dimension).
    pub batch_dim: Option<String>,
    /// Numbers of parallel streams, each with its own session.
    pub concurrency: Vec<usize>,
    /// Values for dynamic dimensions (`NAME=VALUE`), by handle: the symbol, or
    /// `input.axis` for an unnamed one.
    pub dims: BTreeMap<String, i64>,
    /// Values used for this model before (from the run history), offered in errors only:
    /// a benchmark never measures a shape nobody asked for.
    #[serde(skip)]
    pub remembered_dims: BTreeMap<String, i64>,
    /// Full shapes for inputs (`INPUT=1x3x224x224`).
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Real data: input name → `.npy`, or `*` → an `.npz` holding arrays by input name.
    pub input_files: BTreeMap<String, PathBuf>,
    /// Constant fills (`NAME=VALUE`), e.g. a sample-rate input.
    pub fills: BTreeMap<String, f64>,
    pub warmup_runs: u64,
    pub warmup_time: Duration,
    pub min_iterations: u64,
    pub min_duration: Duration,
    /// Seed of the synthetic input generator.
    pub seed: u64,
    /// Half-open range for synthetic integer inputs (token ids, indices).
    pub int_range: (i64, i64),
    /// Check which provider ran each node with one profiled run (on by default).
    pub placement_check: bool,
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
            batch_dim: None,
            concurrency: vec![1],
            dims: BTreeMap::new(),
            remembered_dims: BTreeMap::new(),
            shapes: BTreeMap::new(),
            input_files: BTreeMap::new(),
            fills: BTreeMap::new(),
            warmup_runs: 10,
            warmup_time: Duration::from_secs(1),
            min_iterations: 100,
            min_duration: Duration::from_secs(2),
            seed: 0x5eed,
            int_range: (0, 10),
            placement_check: true,
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
        if let Some((n, v)) = self.dims.iter().find(|(_, v)| **v < 0) {
            return Err(EngineError::invalid(
                crate::setting::Setting::Dim,
                format!("{n}={v}: a dimension cannot be negative"),
            ));
        }
        if self.int_range.0 >= self.int_range.1 {
            return Err(EngineError::invalid(
                crate::setting::Setting::IntRange,
                format!("{}..{} is empty", self.int_range.0, self.int_range.1),
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
