//! A rollout's progress, saved after every step, so a rollout interrupted by Ctrl-C or a crash
//! resumes where it stopped, `assay fleet status` shows it, and `assay fleet rollback` knows
//! which gateways it changed and what they served before.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::{ReleaseError, Result};

/// Where a rollout stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    Running,
    /// Every wave promoted.
    Done,
    /// A gateway's analysis failed (or it could not be changed); the changed gateways were
    /// rolled back.
    Failed,
    /// Stopped by `assay fleet halt`: gateways stay as they are until the rollout is run
    /// again (which resumes it) or rolled back.
    Halted,
    /// Undone by `assay fleet rollback`.
    RolledBack,
}

/// Where one gateway stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum GatewayStep {
    /// Its wave has not reached it.
    Pending,
    /// Pulling and verifying the release from the registry.
    Pulling,
    /// The release is the canary; waiting for the analysis.
    Canary,
    /// The release is its stable release.
    Promoted,
    Failed,
    RolledBack,
    /// Rolling it back failed (unreachable, refused): `assay fleet rollback` tries again.
    UndoFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct GatewayProgress {
    pub step: GatewayStep,
    /// Its stable release before the rollout changed it (what a rollback restores).
    pub prior_stable: Option<String>,
    /// The last thing that happened, in words.
    pub detail: String,
    /// Canary requests seen so far, from the gateway's analysis.
    #[serde(default)]
    pub candidate_requests: u64,
    /// Whether the rollout changed this gateway (a pull or a canary), so a rollback must
    /// undo it. A gateway that already served the release was not changed.
    #[serde(default)]
    pub changed: bool,
    pub updated_at: u64,
}

impl GatewayProgress {
    pub fn pending() -> GatewayProgress {
        GatewayProgress {
            step: GatewayStep::Pending,
            prior_stable: None,
            detail: "waiting for its wave".into(),
            candidate_requests: 0,
            changed: false,
            updated_at: now(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct WaveState {
    pub gateways: Vec<String>,
    pub done: bool,
}

/// A rollout of one release of one model across a fleet.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RolloutState {
    pub fleet: String,
    pub model: String,
    pub reference: String,
    /// The reference pinned to its manifest digest when the rollout started: what every
    /// gateway pulls, so a tag that moves meanwhile changes nothing.
    #[serde(default)]
    pub pinned: Option<String>,
    /// The release's version, from its config when the rollout started.
    pub version: Option<String>,
    pub status: RolloutStatus,
    pub waves: Vec<WaveState>,
    pub gateways: BTreeMap<String, GatewayProgress>,
    /// Why the rollout failed or halted.
    pub error: Option<String>,
    pub started_at: u64,
    pub updated_at: u64,
    /// Seconds spent pulling, warming (activation of the canary) and in analysis, summed
    /// over gateways.
    #[serde(default)]
    pub seconds: StepSeconds,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct StepSeconds {
    pub pulling: f64,
    pub warming: f64,
    pub analysis: f64,
}

/// The worker protocol's line for a rollout (`assay fleet rollout --events`): what happened,
/// and the whole state after it.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FleetEvent {
    Rollout {
        message: String,
        state: Box<RolloutState>,
    },
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where a fleet's rollout of `model` is saved: under the user's data folder, by fleet name.
pub fn default_path(fleet: &str, model: &str) -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("assay/fleet")
        .join(fleet)
        .join(format!("{model}.json"))
}

/// The marker `assay fleet halt` leaves beside the state: a running rollout stops at its next
/// look, and running the rollout again removes it.
pub fn halt_marker(state: &Path) -> PathBuf {
    state.with_extension("halt")
}

/// Holds the rollout's lock (`<state>.lock`) for as long as it lives: one process at a time
/// changes a rollout, so a rollback cannot race the rollout it undoes.
pub struct StateLock(#[allow(dead_code)] std::fs::File);

impl StateLock {
    pub fn take(state: &Path) -> Result<StateLock> {
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ReleaseError::io(dir, e))?;
        }
        let path = state.with_extension("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ReleaseError::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => Ok(StateLock(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(ReleaseError::RolloutStopped(format!(
                "another assay process is working on this rollout ({} is locked)",
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(ReleaseError::io(&path, e)),
        }
    }
}

impl RolloutState {
    pub fn load(path: &Path) -> Result<Option<RolloutState>> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| ReleaseError::Invalid {
                    what: "rollout state",
                    message: format!("{}: {e}", path.display()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ReleaseError::io(path, e)),
        }
    }

    /// Written whole and atomically: a crash leaves the previous step, never half a file.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.updated_at = now();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ReleaseError::io(dir, e))?;
        }
        let bytes = serde_json::to_vec_pretty(self).expect("the state serializes");
        assay_engine::durable::write(path, &bytes, assay_engine::durable::Mode::Private)
            .map_err(|e| ReleaseError::io(path, e))
    }

    pub fn set(&mut self, gateway: &str, step: GatewayStep, detail: impl Into<String>) {
        // A hand-edited or older state may lack a gateway its waves name.
        let g = self
            .gateways
            .entry(gateway.to_string())
            .or_insert_with(GatewayProgress::pending);
        g.step = step;
        g.detail = detail.into();
        g.updated_at = now();
    }
}
