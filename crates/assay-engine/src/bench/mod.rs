//! Benchmarking: a [`BenchmarkPlan`] in, a [`BenchReport`] out, with [`BenchEvent`]s on
//! the way.
//!
//! ```no_run
//! use assay_engine::{bench::{BenchmarkPlan, NoProgress, run_benchmark}, runtime, session::Provider};
//!
//! let rt = runtime::activate(None)?;
//! let mut plan = BenchmarkPlan::new("model.onnx").with_batches(vec![1, 8, 32]);
//! plan.providers = vec![Provider::Cpu, Provider::Cuda]; // CUDA falls back to CPU, with a warning
//! plan.concurrency = vec![1, 4];
//! let report = run_benchmark(rt, &plan, &mut NoProgress)?;
//! for r in &report.results {
//!     println!("{} b={} c={}: p50 {:.3} ms", r.provider, r.batch, r.concurrency, r.latency_ms.p50);
//! }
//! # Ok::<(), assay_engine::EngineError>(())
//! ```

mod check;
mod memory;
mod plan;
mod progress;
mod report;
pub(crate) mod runner;

pub use check::{AccuracyCheck, RowAccuracy};
pub use plan::BenchmarkPlan;
pub use progress::{BenchEvent, BenchObserver, NoProgress, Phase};
pub use report::{
    Arrivals, BENCH_SCHEMA, BenchReport, BenchResult, CoCorrection, LoadFigures, LoadMode,
    ModelRef, ServedProtocol, ServedTarget, Settings, Throughput,
};
pub use runner::run_benchmark;
