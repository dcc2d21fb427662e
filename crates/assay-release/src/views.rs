//! The gateway's admin answers, as one shape for both sides: `assay-gateway` builds them, and
//! the CLI and the console read them (the console's TypeScript types are generated from
//! these), so a field renamed on one side breaks the build rather than a view.

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
}

/// Which side of the split a release is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRole {
    Stable,
    Canary,
    /// Held, and serving nothing.
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
    pub serving_dims: BTreeMap<String, i64>,
    /// Warm-up values an operator gave when activating it.
    pub warm_dims: BTreeMap<String, i64>,
    /// Why its last load failed; `None` once it loads.
    pub load_error: Option<String>,
    pub role: ReleaseRole,
}

/// A model's routing, as a change leaves it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelRouting {
    pub stable: Option<String>,
    pub canary: Option<CanarySplit>,
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
