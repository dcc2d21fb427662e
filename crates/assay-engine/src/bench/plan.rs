//! What a benchmark run measures: the model, the sweep and the stopping rules.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::Serialize;

use crate::error::{EngineError, Result};

/// An execution provider a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda,
    TensorRt,
}

impl Provider {
    /// Parses `cpu`, `cuda`, `tensorrt` (also `trt`).
    pub fn parse(s: &str) -> Result<Provider> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda),
            "tensorrt" | "trt" => Ok(Provider::TensorRt),
            other => Err(EngineError::invalid(
                "--provider",
                format!("unknown provider '{other}' (expected cpu, cuda or tensorrt)"),
            )),
        }
    }

    /// The short name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::TensorRt => "tensorrt",
        }
    }

    /// ONNX Runtime's name for it.
    pub fn ort_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
            Provider::TensorRt => "TensorrtExecutionProvider",
        }
    }

    pub fn is_gpu(self) -> bool {
        !matches!(self, Provider::Cpu)
    }
}

/// ONNX Runtime's graph optimization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    All,
}

impl OptLevel {
    /// Parses `disable|basic|extended|all` (or `0..3`).
    pub fn parse(s: &str) -> Result<OptLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" | "off" | "0" => Ok(OptLevel::Disable),
            "basic" | "1" => Ok(OptLevel::Basic),
            "extended" | "2" => Ok(OptLevel::Extended),
            "all" | "3" | "99" => Ok(OptLevel::All),
            other => Err(EngineError::invalid(
                "--opt-level",
                format!("'{other}' is not one of disable, basic, extended, all"),
            )),
        }
    }
}

/// A benchmark: one model measured at every (provider, batch, concurrency) combination.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkPlan {
    pub model: PathBuf,
    pub providers: Vec<Provider>,
    /// Fail instead of falling back to CPU when a GPU provider cannot be used.
    pub strict_provider: bool,
    /// Batch sizes to sweep; each binds the batch dimension.
    pub batches: Vec<i64>,
    /// The symbolic dimension that is the batch (default: the first dynamic dimension).
    pub batch_dim: Option<String>,
    /// Numbers of parallel streams, each with its own session.
    pub concurrency: Vec<usize>,
    /// Values for dynamic dimensions (`--dim NAME=VALUE`), by handle: the symbol, or
    /// `input.axis` for an unnamed one.
    pub dims: BTreeMap<String, i64>,
    /// Values used for this model before (from the run history), offered in errors only:
    /// a benchmark never measures a shape nobody asked for.
    #[serde(skip)]
    pub remembered_dims: BTreeMap<String, i64>,
    /// Full shapes for inputs (`--shape INPUT=1x3x224x224`).
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Real data: input name → `.npy`, or `*` → an `.npz` holding arrays by input name.
    pub input_files: BTreeMap<String, PathBuf>,
    /// Constant fills (`--fill NAME=VALUE`), e.g. a sample-rate input.
    pub fills: BTreeMap<String, f64>,
    pub intra_threads: Option<usize>,
    pub inter_threads: Option<usize>,
    pub opt_level: OptLevel,
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
            strict_provider: false,
            batches: Vec::new(),
            batch_dim: None,
            concurrency: vec![1],
            dims: BTreeMap::new(),
            remembered_dims: BTreeMap::new(),
            shapes: BTreeMap::new(),
            input_files: BTreeMap::new(),
            fills: BTreeMap::new(),
            intra_threads: None,
            inter_threads: None,
            opt_level: OptLevel::All,
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
                "--provider",
                "give at least one provider",
            ));
        }
        if let Some(b) = self.batches.iter().find(|&&b| b < 1) {
            return Err(EngineError::invalid(
                "--batch",
                format!("batch sizes must be at least 1, got {b}"),
            ));
        }
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            return Err(EngineError::invalid(
                "--concurrency",
                "concurrency must be at least 1",
            ));
        }
        if let Some(c) = self.concurrency.iter().find(|&&c| c > 1024) {
            return Err(EngineError::invalid(
                "--concurrency",
                format!("{c} streams is more than the 1024 allowed"),
            ));
        }
        if let Some((n, v)) = self.dims.iter().find(|(_, v)| **v < 0) {
            return Err(EngineError::invalid(
                "--dim",
                format!("{n}={v}: a dimension cannot be negative"),
            ));
        }
        if self.int_range.0 >= self.int_range.1 {
            return Err(EngineError::invalid(
                "--int-range",
                format!("{}..{} is empty", self.int_range.0, self.int_range.1),
            ));
        }
        if self.intra_threads == Some(0) || self.inter_threads == Some(0) {
            return Err(EngineError::invalid(
                "--intra-threads/--inter-threads",
                "thread counts must be at least 1 (omit them for ONNX Runtime's default)",
            ));
        }
        Ok(())
    }
}

/// Parses `1,8,32` into a list, naming the option in errors.
pub fn parse_list<T: std::str::FromStr>(option: &str, s: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<T>()
                .map_err(|_| EngineError::invalid(option, format!("'{p}' is not a valid number")))
        })
        .collect::<Result<Vec<T>>>()
        .and_then(|v| {
            if v.is_empty() {
                Err(EngineError::invalid(option, "the list is empty"))
            } else {
                Ok(v)
            }
        })
}

/// Parses `NAME=VALUE`.
pub fn parse_assignment<'a>(option: &str, s: &'a str) -> Result<(&'a str, &'a str)> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => Ok((n.trim(), v.trim())),
        _ => Err(EngineError::invalid(
            option,
            format!("'{s}' is not NAME=VALUE"),
        )),
    }
}

/// Parses a shape `1x3x224x224` (also `1,3,224,224`).
pub fn parse_shape(option: &str, s: &str) -> Result<Vec<i64>> {
    let dims: Vec<i64> = s
        .split(['x', 'X', ','])
        .map(|d| {
            d.trim().parse::<i64>().map_err(|_| {
                EngineError::invalid(option, format!("'{s}' is not a shape like 1x3x224x224"))
            })
        })
        .collect::<Result<_>>()?;
    if dims.iter().any(|&d| d < 0) {
        return Err(EngineError::invalid(
            option,
            format!("'{s}' has a negative dimension"),
        ));
    }
    Ok(dims)
}

/// Parses a duration: `500ms`, `2s`, `1.5s`, `1m`, or plain seconds.
pub fn parse_duration(option: &str, s: &str) -> Result<Duration> {
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = t.strip_suffix('m') {
        (v, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * scale < 86_400.0 => {
            Ok(Duration::from_secs_f64(v * scale))
        }
        _ => Err(EngineError::invalid(
            option,
            format!("'{s}' is not a duration like 500ms, 2s or 1m"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        assert_eq!(
            parse_list::<i64>("--batch", "1, 8,32").unwrap(),
            vec![1, 8, 32]
        );
        assert!(parse_list::<i64>("--batch", "1,x").is_err());
        assert_eq!(
            parse_shape("--shape", "1x3x224x224").unwrap(),
            vec![1, 3, 224, 224]
        );
        assert!(parse_shape("--shape", "1x-3").is_err());
        assert_eq!(
            parse_duration("--duration", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_duration("--duration", "2").unwrap(),
            Duration::from_secs(2)
        );
        assert!(parse_duration("--duration", "soon").is_err());
        assert!(parse_duration("--duration", "-1s").is_err());
        assert_eq!(
            parse_assignment("--dim", "batch=4").unwrap(),
            ("batch", "4")
        );
        assert!(parse_assignment("--dim", "batch").is_err());
        assert_eq!(Provider::parse("TRT").unwrap(), Provider::TensorRt);
        assert!(Provider::parse("tpu").is_err());
    }

    #[test]
    fn validation_names_the_option() {
        let mut p = BenchmarkPlan::new("m.onnx");
        p.concurrency = vec![0];
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("--concurrency")
        );
    }
}
