//! The Runs view: the run history in SQLite, one run with its samples, and two runs
//! compared.

use assay_store::{RunKind, RunSummary, Store, StoredRun};

use crate::{data::DataDirs, error::UiError};

/// The shared history (the CLI's), with the console's old database merged in once.
pub(crate) async fn store<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<Store, UiError> {
    let dirs = DataDirs::of(app)?;
    let s = Store::open(&dirs.db).await?;
    dirs.adopt_legacy_history(&s).await?;
    Ok(s)
}

/// `list_runs`: newest first, optionally of one model (sha256 prefix or path fragment) or
/// one kind (`bench`, `profile`).
#[tauri::command]
pub async fn list_runs<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    model: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
) -> Result<Vec<RunSummary>, UiError> {
    let kind = match kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            RunKind::parse(k).ok_or_else(|| UiError::usage(format!("unknown run kind '{k}'")))?,
        ),
    };
    let s = store(&app).await?;
    let model = model.filter(|m| !m.trim().is_empty());
    let list = s
        .list(
            model.as_deref(),
            kind,
            limit.unwrap_or(200).clamp(1, 10_000),
        )
        .await;
    s.close().await;
    Ok(list?)
}

/// `get_run`: one run with every latency sample (for the charts) and its profile.
#[tauri::command]
pub async fn get_run<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    id: String,
) -> Result<StoredRun, UiError> {
    let s = store(&app).await?;
    let run = s.run(&id).await;
    s.close().await;
    Ok(run?)
}

/// `compare_runs`: row-by-row changes with confidence intervals and a verdict, plus the
/// differential flame graph (SVG) when both runs are profiles.
#[tauri::command]
pub async fn compare_runs<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    a: String,
    b: String,
) -> Result<RunComparison, UiError> {
    let s = store(&app).await?;
    let runs =
        async { Ok::<_, assay_store::StoreError>((s.run(&a).await?, s.run(&b).await?)) }.await;
    s.close().await;
    let (ra, rb) = runs?;
    let cmp = assay_engine::compare::compare(&ra.id, &ra.report, &rb.id, &rb.report)?;
    let diff_svg = match (&ra.profile, &rb.profile) {
        (Some(pa), Some(pb)) => {
            let mut svg = Vec::new();
            assay_engine::profile::flame::render_runs_diff_svg(
                &ra.id, &pa.folded, &rb.id, &pb.folded, &mut svg,
            )
            .ok()
            .map(|_| String::from_utf8_lossy(&svg).into_owned())
        }
        _ => None,
    };
    Ok(RunComparison {
        comparison: cmp,
        diff_flamegraph_svg: diff_svg,
    })
}

/// Two runs compared, with their differential flame graph when both are profiles.
#[derive(Debug, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RunComparison {
    pub comparison: assay_engine::compare::Comparison,
    pub diff_flamegraph_svg: Option<String>,
}

/// `delete_run`: removes a run, its samples and its profile record.
#[tauri::command]
pub async fn delete_run<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    id: String,
) -> Result<String, UiError> {
    let s = store(&app).await?;
    let r = s.delete(&id).await;
    s.close().await;
    Ok(r?)
}
