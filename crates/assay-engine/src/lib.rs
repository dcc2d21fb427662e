//! # assay-engine
//!
//! The engine under every Assay front end (the `assay` CLI, the console, the gateway):
//!
//! - [`runtime`]: find, provision and load the ONNX Runtime shared library (`load-dynamic`);
//! - [`model`]: read a model's protobuf without running it ([`model::inspect`]);
//! - [`session`]: build ONNX Runtime sessions: options, execution providers with a visible
//!   CPU fallback, and where each node really ran; [`gpu`]: NVIDIA GPUs through NVML;
//! - [`bench`]: measure a model honestly ([`bench::run_benchmark`]), with statistics from
//!   every sample ([`stats`]) and an environment fingerprint ([`fingerprint`]);
//! - [`profile`]: per-operator profiles, scope flame graphs and traces;
//! - [`compare`]: A/B comparison of two runs with bootstrap confidence intervals;
//! - [`viz`]: plotters charts and the self-contained HTML report.
//!
//! ```no_run
//! use assay_engine::{bench::{BenchmarkPlan, run_benchmark, NoProgress}, runtime};
//!
//! let rt = runtime::activate(None)?;                // an explicit path, env vars, or installed
//! let plan = BenchmarkPlan::new("assets/sample-mlp.onnx").with_batches(vec![1, 8]);
//! let report = run_benchmark(rt, &plan, &mut NoProgress)?;
//! println!("p50 = {:.3} ms", report.results[0].latency_ms.p50);
//! # Ok::<(), assay_engine::EngineError>(())
//! ```

pub mod accuracy;
pub mod bench;
pub mod compare;
pub mod digest;
pub mod dtype;
pub mod durable;
mod error;
pub mod fingerprint;
pub mod gpu;
pub mod inputs;
pub mod kind;
pub mod model;
pub mod paths;
pub mod profile;
pub mod runtime;
pub mod session;
pub mod setting;
pub mod stats;
pub mod tensor;
pub mod viz;

pub use error::{EngineError, Result};
pub use kind::{ErrorEvent, ErrorKind};
pub use setting::Setting;
