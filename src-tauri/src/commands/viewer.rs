//! "Open in the native viewer": `assay view` in a process of its own, on the console's
//! history, left running when the console closes (it is a window of its own).

use std::process::{Command, Stdio};

use assay_engine::ErrorKind;

use crate::{data::DataDirs, error::UiError, worker};

/// `open_viewer`: the model's graph, with a profile run or an accuracy comparison laid over
/// it when one is given.
#[tauri::command]
pub async fn open_viewer<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    model: String,
    profile: Option<String>,
    accuracy: Option<String>,
) -> Result<(), UiError> {
    let db = DataDirs::of(&app)?.db;
    if model.trim().is_empty() {
        return Err(UiError::usage("open a model first"));
    }
    super::blocking(move || start(&db, &model, profile, accuracy)).await
}

fn start(
    db: &std::path::Path,
    model: &str,
    profile: Option<String>,
    accuracy: Option<String>,
) -> Result<(), UiError> {
    let mut cmd = Command::new(worker::locate());
    cmd.arg("view").arg(format!("--db={}", db.display()));
    for (flag, run) in [("profile", profile), ("accuracy", accuracy)] {
        if let Some(run) = run.filter(|r| !r.trim().is_empty()) {
            cmd.arg(format!("--{flag}={}", run.trim()));
        }
    }
    cmd.arg("--").arg(model);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| UiError {
        kind: ErrorKind::Worker,
        message: format!("could not start the viewer: {e}"),
        detail: None,
    })?;
    // Reaped when it closes; a quick failure (no viewer installed) is reported here.
    std::thread::sleep(std::time::Duration::from_millis(300));
    match child.try_wait() {
        Ok(Some(status)) if !status.success() => {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let line = err
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            Err(UiError {
                kind: if status.code() == Some(ErrorKind::NoDisplay.exit_code()) {
                    ErrorKind::NoDisplay
                } else {
                    ErrorKind::Worker
                },
                message: if line.is_empty() {
                    format!("the viewer exited with {status}")
                } else {
                    line
                },
                detail: None,
            })
        }
        _ => {
            // Keep reading what it says (Mesa and wgpu warn), or a full pipe would stall it;
            // then reap it.
            std::thread::spawn(move || {
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::copy(&mut e, &mut std::io::sink());
                }
                child.wait()
            });
            Ok(())
        }
    }
}
