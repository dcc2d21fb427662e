//! Long jobs: start one in the worker process, stream its events, cancel it.

use serde::Serialize;
use tauri::{State, ipc::Channel};

use crate::{
    data::DataDirs,
    error::UiError,
    gateway_book::GatewayBook,
    job::{JobContext, JobSpec},
    job_event::JobEvent,
    worker::{self, Jobs},
};

/// A started job: its id (for `cancel_job`) and the file or folder it writes.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct JobStarted {
    pub id: u64,
    pub output: Option<String>,
}

/// `start_job`: runs `spec` in the `assay` worker; events arrive on `on_event`, the last
/// one being `exit`, `cancelled` or `error` (docs/EVENTS.md).
#[tauri::command]
pub async fn start_job<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    jobs: State<'_, Jobs>,
    spec: JobSpec,
    on_event: Channel<JobEvent>,
) -> Result<JobStarted, UiError> {
    let dirs = DataDirs::of(&app)?;
    let gateway = match &spec {
        // The token comes from the keychain, which may block: off the UI thread.
        JobSpec::Push { gateway, .. } | JobSpec::Load { gateway, .. } => {
            let (book, name) = (GatewayBook::open(dirs.gateways.clone()), gateway.clone());
            Some(super::blocking(move || book.resolve(&name)).await?)
        }
        _ => None,
    };
    let ctx = JobContext {
        db: dirs.db.clone(),
        data_dir: dirs.root.clone(),
        gateway,
    };
    let inv = spec.invocation(&ctx)?;
    let id = jobs.spawn(&worker::locate(), inv.args, inv.envs, move |event| {
        // A closed window drops the channel; the job still finishes (and is recorded).
        let _ = on_event.send(event);
    })?;
    Ok(JobStarted {
        id,
        output: inv.output.map(|p| p.display().to_string()),
    })
}

/// `cancel_job`: stops a running job; false when it had already ended.
#[tauri::command]
pub fn cancel_job(jobs: State<'_, Jobs>, id: u64) -> bool {
    jobs.cancel(id)
}
