//! Is it still right? An output comparison of a reference (by default the model on CPU at
//! FP32) against candidates: the same model on another provider or with other session
//! settings, or another model file (a new version, an FP16 or INT8 conversion).
//!
//! - [`plan`]: what is compared, on which inputs, with which tolerances;
//! - [`run_accuracy`]: the reference and every candidate on the same input sets, one set at a
//!   time, with the reference's own run-to-run noise floor;
//! - error statistics per output (NumPy's `isclose` rule, percentiles, cosine, top-k,
//!   one-sided NaN/Inf), verdicts against tolerance and noise;
//! - the first diverging node of a failing candidate, by bisection over graph prefixes with a
//!   bounded number of exposed tensors;
//! - [`golden`]: saved inputs and outputs, Assay's `.npz` or Polygraphy's JSON;
//! - the `assay.accuracy/1` document ([`AccuracyReport`]).

mod errors;
pub mod golden;
mod locate;
mod plan;
mod report;
mod run;
mod tolerance;

pub use errors::{ErrorBin, ErrorPercentiles, ErrorStats, NonFinite, TopK, WorstElement, compare};
pub use plan::{AccuracyPlan, InputSource, Subject};
pub use report::{
    ACCURACY_SCHEMA, AccuracyReport, CandidateReport, Divergence, InputsReport, NoiseFloor,
    OutputReport, ProbedNode, SubjectReport, TensorError, TensorSource, Verdict,
};
pub use run::{AccuracyEvent, AccuracyObserver, NoAccuracyProgress, run_accuracy};
pub use tolerance::{CheckStat, Tolerance, ToleranceField, ToleranceOverride, Tolerances};
