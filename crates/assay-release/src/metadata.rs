//! `assay-release.json` (`assay.release/1`): what a release says about itself. One typed
//! shape from `assay release create` through the signature (it is signed twice over: as a
//! file, and inside the in-toto predicate) to the gateway's state and the console's
//! Releases view.
//!
//! Fields added after the first version carry serde defaults, so every release signed so far
//! still reads; unknown fields are ignored, so an older verifier reads a newer release.

use std::collections::BTreeMap;

use assay_engine::{
    accuracy::{AccuracyReport, Verdict},
    bench::{BenchReport, Throughput},
    fingerprint::Environment,
    model::{Opset, TensorSignature},
    stats::ConfidenceIntervals,
};
use serde::{Deserialize, Serialize};

/// The schema tag of [`ReleaseMetadata`].
pub const RELEASE_SCHEMA: &str = "assay.release/1";

/// The metadata every Assay release carries (and signs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReleaseMetadata {
    pub schema: String,
    pub name: String,
    pub version: String,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: u64,
    #[serde(default)]
    pub notes: Option<String>,
    pub model: ReleasedModel,
    /// The model's inputs and outputs, as inspected when the release was made.
    #[serde(default)]
    pub signature: ModelSignature,
    #[serde(default)]
    pub serving: Serving,
    /// The files of the release besides this one (the model first).
    #[serde(default)]
    pub files: Vec<String>,
    /// The benchmark run the release was measured with.
    #[serde(default)]
    pub evidence: Option<BenchEvidence>,
    /// The output comparison the release was checked with (`assay accuracy`).
    #[serde(default)]
    pub accuracy: Option<AccuracyEvidence>,
}

/// The model file of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReleasedModel {
    /// Its file name inside the release.
    pub file: String,
    pub sha256: String,
    pub size_bytes: u64,
    /// `producer_name producer_version`, from the model.
    #[serde(default)]
    pub producer: String,
    #[serde(default)]
    pub opsets: Vec<Opset>,
}

/// A model's graph inputs and outputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelSignature {
    pub inputs: Vec<TensorSignature>,
    pub outputs: Vec<TensorSignature>,
}

/// The shapes and constants a release is served with: gateways warm up with them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Serving {
    /// Values of the model's dynamic dimensions, by handle.
    #[serde(default)]
    pub dims: BTreeMap<String, i64>,
    /// Where each value came from (`given`, `model`, `suggested`, ...), by handle.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// Constant inputs (a sample rate), by input name.
    #[serde(default)]
    pub fills: BTreeMap<String, f64>,
}

/// Benchmark evidence: the run, where it ran and its figures, one row per configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BenchEvidence {
    pub run_id: String,
    /// The model file the run measured (a release may differ from it: `create` warns).
    pub model_sha256: String,
    pub environment: Environment,
    pub summary: Vec<EvidenceRow>,
}

/// One measured configuration of a [`BenchEvidence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct EvidenceRow {
    pub provider: String,
    pub batch: i64,
    pub concurrency: usize,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub ci95_ms: ConfidenceIntervals,
    pub throughput: Throughput,
}

/// Accuracy evidence: a recorded output comparison, its verdict and each candidate's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct AccuracyEvidence {
    pub run_id: String,
    /// The reference (`model.onnx on cpu`) and its model file's digest.
    pub reference: String,
    pub reference_sha256: String,
    pub sets: usize,
    /// Every candidate passed (within tolerance, or within the reference's noise).
    pub passed: bool,
    pub candidates: Vec<AccuracyEvidenceRow>,
}

/// One candidate of an [`AccuracyEvidence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct AccuracyEvidenceRow {
    pub label: String,
    pub sha256: String,
    pub verdict: Verdict,
    /// The largest max abs error of any of its outputs.
    pub worst_max_abs: f64,
    /// Its outputs that failed, by name.
    pub failed_outputs: Vec<String>,
    /// The first diverging node, when it failed and the search found one.
    pub diverging_node: Option<String>,
}

impl AccuracyEvidence {
    /// The evidence of the recorded comparison `run_id`.
    pub fn of_run(run_id: &str, report: &AccuracyReport) -> Self {
        AccuracyEvidence {
            run_id: run_id.to_string(),
            reference: report.reference.label.clone(),
            reference_sha256: report.reference.sha256.clone(),
            sets: report.inputs.sets,
            passed: report.passed,
            candidates: report
                .candidates
                .iter()
                .map(|c| AccuracyEvidenceRow {
                    label: c.subject.label.clone(),
                    sha256: c.subject.sha256.clone(),
                    verdict: c.verdict,
                    worst_max_abs: c
                        .outputs
                        .iter()
                        .map(|o| o.stats.max_abs)
                        .filter(|v| v.is_finite())
                        .fold(0.0, f64::max),
                    failed_outputs: c
                        .outputs
                        .iter()
                        .filter(|o| o.verdict == Verdict::Fail)
                        .map(|o| o.name.clone())
                        .collect(),
                    diverging_node: c.divergence.as_ref().map(|d| d.node.clone()),
                })
                .collect(),
        }
    }

    /// Whether the comparison measured this model file (as its reference or a candidate).
    pub fn covers(&self, sha256: &str) -> bool {
        self.reference_sha256 == sha256 || self.candidates.iter().any(|c| c.sha256 == sha256)
    }
}

impl BenchEvidence {
    /// The evidence of the stored run `run_id`.
    pub fn of_run(run_id: &str, report: &BenchReport) -> Self {
        BenchEvidence {
            run_id: run_id.to_string(),
            model_sha256: report.model.sha256.clone(),
            environment: report.environment.clone(),
            summary: report
                .results
                .iter()
                .map(|r| EvidenceRow {
                    provider: r.provider.clone(),
                    batch: r.batch,
                    concurrency: r.concurrency,
                    samples: r.samples,
                    p50_ms: r.latency_ms.p50,
                    p99_ms: r.latency_ms.p99,
                    ci95_ms: r.ci95_ms,
                    throughput: r.throughput,
                })
                .collect(),
        }
    }
}

impl ReleaseMetadata {
    /// Reads `assay-release.json` bytes, naming what does not match the format.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let meta: ReleaseMetadata = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "{} is not an {RELEASE_SCHEMA} document: {e}",
                crate::release::RELEASE_FILE
            )
        })?;
        if meta.schema != RELEASE_SCHEMA {
            return Err(format!(
                "{} has schema '{}'; this Assay reads {RELEASE_SCHEMA}",
                crate::release::RELEASE_FILE,
                meta.schema
            ));
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A release written by an earlier Assay (no `sources`, no `fills`, no evidence) reads,
    /// and a schema this version does not know is refused by name.
    #[test]
    fn reads_older_releases_and_refuses_other_schemas() {
        let old = br#"{"schema":"assay.release/1","name":"m","version":"1.0.0","created_at":1,
            "notes":null,"model":{"file":"m.onnx","sha256":"ab","size_bytes":3,"producer":"x","opsets":[{"domain":"","version":17}]},
            "signature":{"inputs":[{"name":"x","element_type":"float","shape":["batch",4,null]}],"outputs":[]},
            "serving":{"dims":{"batch":1}},"files":["m.onnx"],"evidence":null,"later_field":true}"#;
        let m = ReleaseMetadata::from_json(old).unwrap();
        assert_eq!(m.serving.dims["batch"], 1);
        assert!(m.serving.fills.is_empty());
        let shape = m.signature.inputs[0].shape.as_ref().unwrap();
        assert_eq!(
            shape,
            &vec![
                assay_engine::model::Dim::Symbolic("batch".into()),
                assay_engine::model::Dim::Fixed(4),
                assay_engine::model::Dim::Unknown
            ]
        );
        // What it writes reads back the same.
        let again = ReleaseMetadata::from_json(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(again, m);

        let other = String::from_utf8_lossy(old).replace("assay.release/1", "assay.release/9");
        let err = ReleaseMetadata::from_json(other.as_bytes()).unwrap_err();
        assert!(err.contains("assay.release/9"), "{err}");
        let err = ReleaseMetadata::from_json(br#"{"schema":"assay.release/1"}"#).unwrap_err();
        assert!(err.contains("missing field `name`"), "{err}");
    }
}
