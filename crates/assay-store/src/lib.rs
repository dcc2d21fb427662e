//! # assay-store
//!
//! The run history behind `assay runs`, `assay compare` and the console: every model (by
//! sha256), every benchmark or profile run with its configuration, environment fingerprint
//! and summary, every latency sample (compactly encoded), operator profiles, and output
//! comparisons (`assay.accuracy/1` documents).
//!
//! SQLite through sqlx, in WAL mode with a busy timeout, so several `assay bench`
//! processes can record into one database at once without losing a run. The schema lives
//! in the repository's `migrations/` (forward-only, versioned, applied on open); a database
//! written by a newer Assay is refused rather than misread.
//!
//! ```no_run
//! # async fn demo(report: assay_engine::bench::BenchReport) -> Result<(), assay_store::StoreError> {
//! let store = assay_store::Store::open(&assay_store::Store::default_path()?).await?;
//! let id = store.save_bench(&report, None).await?;
//! let run = store.run(&id).await?;           // ids may be abbreviated to a unique prefix
//! println!("{} samples in row 0", run.report.results[0].samples_ns.len());
//! # Ok(()) }
//! ```

mod accuracy;
mod codec;
mod error;
mod import;
mod runs;
mod store;

pub use accuracy::AccuracySummary;
pub use error::StoreError;
pub use runs::{ProfileRecord, Providers, RunKind, RunSummary, StoredRun};
pub use store::Store;
