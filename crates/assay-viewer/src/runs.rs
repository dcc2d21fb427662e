//! Overlays from the run history: a stored profile run's per-node times, or an accuracy
//! comparison's first diverging node and the errors its search measured, each checked to be
//! of the model on screen. Every problem is a sentence for the window, never a panic.

use std::path::Path;

use assay_engine::{accuracy::Divergence, profile::NodeStats};
use assay_store::Store;

fn reader() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the history reader: {e}"))
}

fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

/// One profile run's per-node statistics, after checking that it profiled the model whose
/// sha256 is `model_sha256`.
pub fn profile_nodes(
    db: &Path,
    run: &str,
    model_sha256: &str,
) -> Result<(String, Vec<NodeStats>), String> {
    reader()?.block_on(async {
        let store = Store::open(db).await.map_err(|e| e.to_string())?;
        let stored = store.run(run).await.map_err(|e| e.to_string())?;
        let Some(profile) = stored.profile else {
            return Err(format!("run {} is a benchmark, not a profile: it has no per-node times (run `assay profile`)", stored.id));
        };
        if stored.report.model.sha256 != model_sha256 {
            return Err(format!(
                "run {} profiled another model ({}, sha256 {}…), not this one (sha256 {}…)",
                stored.id,
                stored.report.model.path.display(),
                short(&stored.report.model.sha256),
                short(model_sha256)
            ));
        }
        Ok((stored.id, profile.operators.nodes))
    })
}

/// An accuracy comparison's first diverging node (of its first candidate that has one),
/// after checking that the model on screen is one of the models it compared. Returns the run
/// id, the candidate's label and the divergence.
pub fn divergence(
    db: &Path,
    run: &str,
    model_sha256: &str,
) -> Result<(String, String, Divergence), String> {
    reader()?.block_on(async {
        let store = Store::open(db).await.map_err(|e| e.to_string())?;
        let report = store.accuracy_run(run).await.map_err(|e| e.to_string())?;
        let id = report.run_id.clone().unwrap_or_else(|| run.to_string());
        let ours = report.reference.sha256 == model_sha256
            || report.candidates.iter().any(|c| c.subject.sha256 == model_sha256);
        if !ours {
            return Err(format!(
                "comparison {id} compared other models ({}, sha256 {}…), not this one (sha256 {}…)",
                report.reference.model.display(),
                short(&report.reference.sha256),
                short(model_sha256)
            ));
        }
        report
            .candidates
            .into_iter()
            .find_map(|c| c.divergence.map(|d| (c.subject.label, d)))
            .map(|(label, d)| (id.clone(), label, d))
            .ok_or_else(|| format!("comparison {id} found no diverging node: every candidate passed, or the search was off (--no-locate)"))
    })
}
