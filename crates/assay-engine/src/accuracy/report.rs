//! The versioned output-comparison document (`assay.accuracy/1`): what was compared, on
//! which inputs, against which tolerances, and each candidate's verdict per output.

use std::{collections::BTreeMap, path::PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    errors::ErrorStats,
    tolerance::{Tolerance, Tolerances},
};
use crate::fingerprint::Environment;

/// The schema tag of [`AccuracyReport`].
pub const ACCURACY_SCHEMA: &str = "assay.accuracy/1";

/// A whole comparison: the reference, the inputs, the noise floor and every candidate.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct AccuracyReport {
    pub schema: String,
    /// The id under which the run history recorded this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub reference: SubjectReport,
    pub environment: Environment,
    pub inputs: InputsReport,
    pub tolerances: Tolerances,
    pub noise: NoiseFloor,
    pub candidates: Vec<CandidateReport>,
    /// Every candidate passed (an output within the noise floor counts as passing).
    pub passed: bool,
    pub warnings: Vec<String>,
    /// Unix time (seconds) when the run started.
    pub started_at: u64,
    pub total_s: f64,
}

/// One side of a comparison: a model file on a provider with session settings.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SubjectReport {
    /// How the report and the console name it (`model.onnx on cuda`).
    pub label: String,
    pub model: PathBuf,
    pub sha256: String,
    /// The provider asked for.
    pub provider: String,
    /// Set when the provider could not be used and CPU ran instead.
    pub fallback: Option<String>,
    pub opt_level: String,
    pub intra_threads: Option<usize>,
    /// Mean time of one inference, over the input sets, in milliseconds.
    pub mean_ms: f64,
}

/// The inputs every side ran on.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct InputsReport {
    /// `synthetic`, or the file the sets were read from.
    pub source: String,
    pub sets: usize,
    pub seed: u64,
    /// Each input's shape in the first set.
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Ranges and constants given for synthetic inputs.
    pub ranges: BTreeMap<String, (f64, f64)>,
    pub fills: BTreeMap<String, f64>,
    /// Where the inputs and the reference outputs were saved, when asked.
    pub saved_inputs: Option<PathBuf>,
    pub saved_outputs: Option<PathBuf>,
    /// Set when the reference outputs were read from a file instead of computed.
    pub loaded_outputs: Option<PathBuf>,
}

/// How far the reference is from itself: a second session of it on the first sets.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NoiseFloor {
    /// Input sets run twice (0: not measured, e.g. with loaded outputs).
    pub sets: usize,
    /// Every output was bit-identical between the two sessions.
    pub deterministic: bool,
    /// The largest absolute difference of each output between the two sessions.
    pub max_abs: BTreeMap<String, f64>,
}

/// What a candidate's output is judged to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within tolerance.
    Pass,
    /// Outside tolerance, but no further from the reference than the reference is from
    /// itself run to run: the difference is noise, not the candidate.
    Noise,
    /// Outside tolerance and above the noise floor.
    Fail,
}

impl Verdict {
    /// How tables print it: a failure stands out.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Noise => "noise",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One output of one candidate.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct OutputReport {
    pub name: String,
    pub element_type: String,
    pub shape: Vec<i64>,
    pub tolerance: Tolerance,
    pub stats: ErrorStats,
    /// The reference's own run-to-run difference on this output.
    pub noise_max_abs: f64,
    pub verdict: Verdict,
}

/// A candidate and its verdict.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CandidateReport {
    pub subject: SubjectReport,
    pub outputs: Vec<OutputReport>,
    /// The worst output's verdict.
    pub verdict: Verdict,
    /// The first node whose output leaves tolerance, when the candidate failed and the
    /// search ran.
    pub divergence: Option<Divergence>,
}

/// The first node, in topological order, whose output exceeds tolerance.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Divergence {
    pub node: String,
    pub op_type: String,
    /// The node name's scope (`/encoder/layer.0/attn`), from its `/`-separated name.
    pub scope: String,
    /// Its position in topological order, of `nodes`.
    pub index: usize,
    pub nodes: usize,
    /// The error of each input and output of the node.
    pub inputs: Vec<TensorError>,
    pub outputs: Vec<TensorError>,
    /// The input set it was found on (the candidate's worst).
    pub set: usize,
    /// Rounds of the search, and the most intermediate tensors any round exposed.
    pub rounds: usize,
    pub max_exposed: usize,
    /// Every node the search compared, in topological order, with its error: where along
    /// the graph the results drift (what the viewer's accuracy overlay draws).
    #[serde(default)]
    pub probed: Vec<ProbedNode>,
}

/// A node the divergence search compared, and how far apart its outputs were.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ProbedNode {
    pub node: String,
    /// Its position in topological order.
    pub index: usize,
    /// The largest absolute difference over its outputs.
    pub max_abs: f64,
    /// Elements of its outputs outside tolerance.
    pub outside_tolerance: u64,
}

/// Where a tensor of a node comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum TensorSource {
    /// A model input: the same data on both sides.
    GraphInput,
    /// A weight stored in the model file.
    Initializer,
    /// Computed by an earlier node.
    Activation,
}

/// One tensor's difference between the two sides.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TensorError {
    pub name: String,
    pub source: TensorSource,
    pub elements: u64,
    pub max_abs: f64,
    pub mean_abs: f64,
    pub outside_tolerance: u64,
    /// `None` when the tensor is missing on the candidate's side (renamed or removed).
    pub compared: bool,
}
