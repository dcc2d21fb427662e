//! The gateway's admin answers, as one shape for both sides: `assay-gateway` builds them, and
//! the CLI and the console read them (the console's TypeScript types are generated from
//! these), so a field renamed on one side breaks the build rather than a view.
//!
//! Fields added after the first release of the gateway have defaults, so this client still
//! reads the answers of older gateways in a fleet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A canary split: `percent` of unpinned traffic goes to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CanarySplit {
    pub version: String,
    pub percent: f64,
    /// Promote automatically after this many canary requests, once non-inferiority is shown.
    pub auto_promote_after: Option<u64>,
    /// When the split started (Unix seconds).
    pub since: u64,
}

/// A shadow: `percent` of the requests the stable release serves are also run on `version`,
/// and the two answers compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ShadowSplit {
    pub version: String,
    pub percent: f64,
    /// When the shadow started (Unix seconds).
    pub since: u64,
}

/// How a shadow compares with the stable release so far (in the analysis endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ShadowReport {
    pub version: String,
    pub stable: String,
    pub percent: f64,
    /// Requests chosen for mirroring, and those dropped because the shadow's queue was full.
    pub mirrored: u64,
    pub dropped: u64,
    /// Mirrored requests whose shadow answer was compared, and those whose every output
    /// was within tolerance (the tolerance of `assay accuracy`: NumPy's isclose).
    pub compared: u64,
    pub agreed: u64,
    /// `agreed / compared` (1 when nothing was compared yet).
    pub agreement: f64,
    /// Mirrored requests the shadow failed on (an error, or outputs of another shape).
    pub errors: u64,
    /// The largest absolute error of each compared request: its quantiles and maximum.
    pub abs_error_p50: f64,
    pub abs_error_p99: f64,
    pub abs_error_max: f64,
    /// Latency of the same requests on each side, in milliseconds (the stable's is the
    /// client's; the shadow's is its own queue and compute).
    pub stable_p50_ms: Option<f64>,
    pub stable_p99_ms: Option<f64>,
    pub shadow_p50_ms: Option<f64>,
    pub shadow_p99_ms: Option<f64>,
    /// The last disagreement or error, in words.
    pub last_problem: Option<String>,
    /// Tolerance used: absolute and relative.
    pub atol: f64,
    pub rtol: f64,
}

/// A gateway's own CPU profile (`GET /admin/v1/debug/profile?format=folded`), read into
/// stacks for a flame graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CpuProfile {
    pub seconds: u64,
    /// Samples in all (at 99 per second per busy thread).
    pub samples: u64,
    /// `thread;outermost;…;innermost` and its samples, heaviest first.
    pub stacks: Vec<FoldedStack>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FoldedStack {
    pub stack: String,
    pub weight: u64,
}

impl CpuProfile {
    /// Reads folded stacks (`frame;…;frame COUNT` per line); other lines are skipped.
    pub fn from_folded(text: &str, seconds: u64) -> CpuProfile {
        let mut stacks: Vec<FoldedStack> = text
            .lines()
            .filter_map(|l| {
                let (stack, n) = l.trim_end().rsplit_once(' ')?;
                Some(FoldedStack {
                    stack: stack.to_string(),
                    weight: n.parse().ok()?,
                })
            })
            .collect();
        stacks.sort_by_key(|s| std::cmp::Reverse(s.weight));
        CpuProfile {
            seconds,
            samples: stacks.iter().map(|s| s.weight).sum(),
            stacks,
        }
    }
}

/// `GET /admin/v1/status`: the gateway, its runtime and keys, and a line per model.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct GatewayStatus {
    pub name: String,
    pub version: String,
    pub uptime_s: u64,
    /// Every model with a stable release can serve it.
    pub ready: bool,
    /// The runtime's version (ONNX Runtime's, for the ONNX backend).
    pub onnxruntime: String,
    /// The hints of the keys releases must be signed by.
    pub trusted_keys: Vec<String>,
    pub models: BTreeMap<String, ModelStatus>,
}

/// One model in [`GatewayStatus`].
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelStatus {
    pub stable: Option<String>,
    pub canary: Option<CanarySplit>,
    pub releases: usize,
    pub ready: bool,
}

/// `GET /admin/v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelList {
    pub models: Vec<ModelOverview>,
}

/// A model with its routing and every release it holds.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelOverview {
    pub name: String,
    pub stable: Option<String>,
    pub canary: Option<CanarySplit>,
    /// Earlier stable versions, most recent last: what a rollback returns to.
    pub previous: Vec<String>,
    pub ready: bool,
    pub releases: Vec<ReleaseSummary>,
    /// The shadow, and how it compares so far.
    #[serde(default)]
    pub shadow: Option<ShadowSplit>,
    #[serde(default)]
    pub shadow_report: Option<ShadowReport>,
}

/// Which side of the split a release is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRole {
    Stable,
    Canary,
    /// Run on a copy of the stable's traffic and compared; it answers no client.
    Shadow,
    /// Held, and serving nothing (older gateways say `""`).
    #[default]
    #[serde(alias = "")]
    Idle,
}

/// A release a gateway holds.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReleaseSummary {
    pub version: String,
    /// When it was pushed (Unix seconds).
    pub pushed_at: u64,
    /// The hint of the key that signed it.
    pub signer: String,
    pub bytes: u64,
    pub files: usize,
    pub root_digest: String,
    pub model_file: String,
    /// The serving dimension values it was signed with.
    #[serde(default)]
    pub serving_dims: BTreeMap<String, i64>,
    /// Warm-up values an operator gave when activating it.
    #[serde(default)]
    pub warm_dims: BTreeMap<String, i64>,
    /// Why its last load failed; `None` once it loads.
    #[serde(default)]
    pub load_error: Option<String>,
    #[serde(default)]
    pub role: ReleaseRole,
    /// The output comparison it was signed with, to look at before activating it.
    #[serde(default)]
    pub accuracy: Option<crate::metadata::AccuracyEvidence>,
}

/// A model's routing, as a change leaves it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelRouting {
    pub stable: Option<String>,
    pub canary: Option<CanarySplit>,
    /// A candidate that sees a copy of some stable traffic; clients never get its answers.
    #[serde(default)]
    pub shadow: Option<ShadowSplit>,
    pub previous: Vec<String>,
    pub versions: Vec<String>,
}

/// The answer to activate, canary, promote, rollback and delete.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ChangeOutcome {
    pub model: String,
    /// The sentence the audit log records.
    pub detail: String,
    pub state: ModelRouting,
}

/// The answer to a push: what the gateway now holds.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PushOutcome {
    pub model: String,
    pub version: String,
    /// The gateway already held these signed contents, so nothing was sent.
    #[serde(default)]
    pub already_present: bool,
    /// The release as the gateway lists it.
    pub release: Option<ReleaseSummary>,
    /// The model's routing after the push.
    pub state: Option<ModelRouting>,
    /// Whether the push made it the stable release (`None`: unknown, because the answer to
    /// the commit was lost and the release was found listed afterwards).
    pub activated: Option<bool>,
}

/// The answer to `POST /admin/v1/models/{m}/pull`: what the gateway now holds, and where
/// it came from.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PullOutcome {
    pub outcome: PushOutcome,
    pub source: PulledFrom,
}

/// Where a pulled release came from, and what the pull cost.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PulledFrom {
    /// The reference as asked for, and pinned to the manifest digest that was verified.
    pub reference: String,
    pub pinned: String,
    /// Bytes fetched from the registry, and files linked from the gateway's blob store
    /// (held by another version) instead.
    pub bytes_fetched: u64,
    pub files_reused: usize,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What gateways before these types answered: a release role of `""`, and the push
    /// answer's release as the gateway's own record (no serving shapes, no role).
    #[test]
    fn answers_of_older_gateways_are_read() {
        let list: ModelList = serde_json::from_str(
            r#"{"models": [{"name": "mlp", "stable": "1.0.0", "canary": null, "previous": [],
                "ready": true, "releases": [
                  {"version": "1.0.0", "pushed_at": 1, "signer": "k", "bytes": 2, "files": 1,
                   "root_digest": "d", "model_file": "m.onnx", "serving_dims": {},
                   "warm_dims": {}, "load_error": null, "role": "stable"},
                  {"version": "1.0.1", "pushed_at": 2, "signer": "k", "bytes": 2, "files": 1,
                   "root_digest": "d", "model_file": "m.onnx", "serving_dims": {"batch": 1},
                   "warm_dims": {}, "load_error": null, "role": ""}]}]}"#,
        )
        .unwrap();
        let roles: Vec<ReleaseRole> = list.models[0].releases.iter().map(|r| r.role).collect();
        assert_eq!(roles, [ReleaseRole::Stable, ReleaseRole::Idle]);
        let pushed: PushOutcome = serde_json::from_str(
            r#"{"model": "mlp", "version": "1.0.1", "activated": false,
                "release": {"version": "1.0.1", "pushed_at": 2, "signer": "k", "root_digest": "d",
                            "files": 1, "bytes": 2, "model_file": "m.onnx", "metadata": {}},
                "state": {"stable": "1.0.0", "canary": null, "previous": [], "versions": ["1.0.0", "1.0.1"]}}"#,
        )
        .unwrap();
        assert!(!pushed.already_present);
        assert_eq!(pushed.activated, Some(false));
        let r = pushed.release.unwrap();
        assert_eq!((r.version.as_str(), r.role), ("1.0.1", ReleaseRole::Idle));
        assert_eq!(pushed.state.unwrap().stable.as_deref(), Some("1.0.0"));
    }
}
