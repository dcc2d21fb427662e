//! ONNX Runtime sessions, the one way every part of Assay builds them (a benchmark, a
//! profile, the gateway's session pool): [`SessionOptions`] in, a session out, with the
//! execution providers of [`provider`] and, after a profiled run, the real placement of each
//! node from [`placement`].

mod placement;
mod provider;

pub(crate) use placement::nodes_by_provider;
pub use provider::{Provider, UnknownProvider};
pub(crate) use provider::{ProviderSetup, setup_provider};

use std::{fmt, path::Path, str::FromStr};

use ort::session::{Session, builder::GraphOptimizationLevel};
use serde::{Deserialize, Serialize};

use crate::{
    error::{EngineError, Result},
    runtime::Runtime,
};

/// ONNX Runtime's graph optimization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    All,
}

/// An optimization level name that is not one of [`OptLevel`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not one of disable, basic, extended, all")]
pub struct UnknownOptLevel(pub String);

impl FromStr for OptLevel {
    type Err = UnknownOptLevel;

    /// `disable|basic|extended|all` (or `0..3`).
    fn from_str(s: &str) -> std::result::Result<OptLevel, UnknownOptLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" | "off" | "0" => Ok(OptLevel::Disable),
            "basic" | "1" => Ok(OptLevel::Basic),
            "extended" | "2" => Ok(OptLevel::Extended),
            "all" | "3" | "99" => Ok(OptLevel::All),
            _ => Err(UnknownOptLevel(s.trim().to_string())),
        }
    }
}

impl TryFrom<String> for OptLevel {
    type Error = UnknownOptLevel;
    fn try_from(s: String) -> std::result::Result<OptLevel, UnknownOptLevel> {
        s.parse()
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptLevel::Disable => "disable",
            OptLevel::Basic => "basic",
            OptLevel::Extended => "extended",
            OptLevel::All => "all",
        })
    }
}

/// How a session is configured, whatever it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionOptions {
    pub opt_level: OptLevel,
    /// Intra-op threads (`None`: ONNX Runtime's choice, one per physical core).
    pub intra_threads: Option<usize>,
    /// Inter-op threads; more than 1 turns on parallel execution.
    pub inter_threads: Option<usize>,
    /// Fail instead of falling back to CPU when a GPU provider cannot be used.
    pub strict_provider: bool,
    /// Whether idle intra-op threads spin for work (ONNX Runtime's default). A server turns
    /// it off: its sessions share the cores with each other and with its network threads,
    /// and a spinning pool takes CPU that a neighbour's inference needs.
    #[serde(skip_serializing_if = "is_true")]
    pub intra_spinning: bool,
    /// How long, in µs, an idle intra-op thread spins for work before it sleeps, when it
    /// spins (`None`: ONNX Runtime's own spin count). A short spin keeps a pool awake
    /// between the parallel sections of one run, so none of them pays a thread's wake-up,
    /// and lets it sleep soon after the run, so it takes no CPU from whatever runs next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intra_spin_us: Option<u32>,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            opt_level: OptLevel::All,
            intra_threads: None,
            inter_threads: None,
            strict_provider: false,
            intra_spinning: true,
            intra_spin_us: None,
        }
    }
}

/// Creates one session with these options and the chosen providers.
pub(crate) fn build_session(
    rt: &Runtime,
    model: &Path,
    options: &SessionOptions,
    setup: &ProviderSetup,
    profile_to: Option<&Path>,
) -> Result<Session> {
    let ctx = |what: &str| format!("configuring the session ({what})");
    let mut b =
        Session::builder(rt.environment()).map_err(|e| EngineError::runtime(ctx("builder"), e))?;
    b = b
        .with_optimization_level(match options.opt_level {
            OptLevel::Disable => GraphOptimizationLevel::Disable,
            OptLevel::Basic => GraphOptimizationLevel::Level1,
            OptLevel::Extended => GraphOptimizationLevel::Level2,
            OptLevel::All => GraphOptimizationLevel::All,
        })
        .map_err(|e| EngineError::runtime(ctx("optimization level"), e))?;
    if let Some(n) = options.intra_threads {
        b = b
            .with_intra_threads(n)
            .map_err(|e| EngineError::runtime(ctx("intra-op threads"), e))?;
    }
    if !options.intra_spinning {
        b = b
            .with_intra_op_spinning(false)
            .map_err(|e| EngineError::runtime(ctx("intra-op spinning"), e))?;
    } else if let Some(us) = options.intra_spin_us {
        b = b
            .with_config_entry("session.intra_op.spin_duration_us", us.to_string())
            .map_err(|e| EngineError::runtime(ctx("intra-op spin duration"), e))?;
    }
    if let Some(n) = options.inter_threads {
        b = b
            .with_parallel_execution(n > 1)
            .map_err(|e| EngineError::runtime(ctx("parallel execution"), e))?
            .with_inter_threads(n)
            .map_err(|e| EngineError::runtime(ctx("inter-op threads"), e))?;
    }
    if !setup.dispatch.is_empty() {
        b = b
            .with_execution_providers(&setup.dispatch)
            .map_err(|e| EngineError::runtime(ctx("execution providers"), e))?;
    }
    if let Some(p) = profile_to {
        b = b
            .with_profiling(p)
            .map_err(|e| EngineError::runtime(ctx("profiling"), e))?;
    }
    b.commit_from_file(model)
        .map_err(|e| EngineError::ModelLoad {
            path: model.to_path_buf(),
            message: clean_ort_message(&e.to_string()),
        })
}

/// Opens one session of `model` (the gateway's session pool, a comparison): the same
/// provider policy as a benchmark, so without `strict_provider` a missing GPU falls back to
/// CPU and the returned notice says why.
pub fn open_session(
    rt: &Runtime,
    model: &Path,
    provider: Provider,
    options: &SessionOptions,
) -> Result<(Session, Option<String>)> {
    let setup = setup_provider(rt, provider, options)?;
    let session = build_session(rt, model, options, &setup, None)?;
    Ok((session, setup.fallback))
}

/// ORT prefixes load errors with the path again; keep the part a user can act on.
fn clean_ort_message(msg: &str) -> String {
    let m = msg.trim();
    match m.find(" failed:") {
        Some(i) if m.starts_with("Load model from") => m[i + " failed:".len()..].trim().to_string(),
        _ => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_errors_lose_the_repeated_path() {
        assert_eq!(
            clean_ort_message("Load model from /x.onnx failed:Fatal error: op is not registered"),
            "Fatal error: op is not registered"
        );
        assert_eq!(clean_ort_message("other"), "other");
    }
}
