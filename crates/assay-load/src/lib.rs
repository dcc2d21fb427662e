//! `assay load`: a load generator for any server that speaks the Open Inference Protocol
//! (assay-gateway, Triton, KServe, MLServer), over REST (tensors as JSON or as raw bytes) or
//! gRPC.
//!
//! - **Closed loop** ([`LoadMode::Closed`]): a sweep of concurrency levels; each of the `c`
//!   workers has its own connection and sends its next request when the last one returns.
//! - **Open loop** ([`LoadMode::Open`]): Poisson arrivals at each given rate, sent on
//!   schedule whatever the server does, each on a free connection (a new one when none is).
//!
//! Latencies are corrected for coordinated omission (see [`correction`]) and every measured
//! sample is kept, so a load run is a [`BenchReport`] like an in-process benchmark: the same
//! percentiles and bootstrap intervals, the same history, `assay compare` and `assay report`.
//! The request is encoded once per level and sent as shared bytes, and everything runs on
//! one thread (a lone worker on a blocking socket of its own, see `lone`), so the
//! client costs as little CPU per request as it can; that cost is measured and reported
//! ([`assay_engine::bench::LoadFigures::client_cpu_us_per_request`]).
//!
//! [`BenchReport`]: assay_engine::bench::BenchReport
//! [`LoadMode::Closed`]: assay_engine::bench::LoadMode::Closed
//! [`LoadMode::Open`]: assay_engine::bench::LoadMode::Open

pub mod correction;
mod cpu;
mod error;
mod grpc;
mod h2c;
mod http1;
mod lone;
mod metadata;
mod plan;
mod request;
mod run;
mod socket;
mod target;
mod tls;
mod wire;

pub use error::LoadError;
pub use metadata::ServedModel;
pub use plan::LoadPlan;
pub use run::run_load;
pub use target::Target;
