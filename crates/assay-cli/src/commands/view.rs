//! `assay view MODEL [--profile RUN] [--diff RUN_A RUN_B] [--accuracy RUN]` and
//! `assay view TRACE.json`: the native viewer (`assay-viewer`), in a process of its own, on
//! this command's history.

use std::{path::PathBuf, process::Command};

use assay_store::Store;

use crate::{
    cli::{Cli, ViewArgs},
    exit::{NoDisplay, UsageError},
};

/// The viewer binary: `ASSAY_VIEWER`, or `assay-viewer` next to this executable.
fn viewer() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("ASSAY_VIEWER") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let beside = me.with_file_name(format!("assay-viewer{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        Ok(beside)
    } else {
        anyhow::bail!(
            "the native viewer is not installed: {} is missing (cargo build -p assay-viewer, or set ASSAY_VIEWER)",
            beside.display()
        )
    }
}

pub fn run(cli: &Cli, a: &ViewArgs) -> anyhow::Result<()> {
    assay_engine::model::check_model_path(&a.model)?;
    let trace = a
        .model
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let overlays =
        a.profile.is_some() || a.diff.is_some() || a.accuracy.is_some() || a.node_data.is_some();
    if trace && overlays {
        return Err(UsageError(format!(
            "{} is a trace: --profile, --diff, --accuracy and --node-data lay data over a model's graph, so give the .onnx model with them",
            a.model.display()
        ))
        .into());
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(NoDisplay(
            "no display to open the viewer on (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop session, or under xvfb-run".into(),
        )
        .into());
    }
    let mut cmd = Command::new(viewer()?);
    cmd.arg("--db").arg(match &cli.db {
        Some(p) => p.clone(),
        None => Store::default_path()?,
    });
    if let Some(run) = &a.profile {
        cmd.arg(format!("--profile={run}"));
    }
    if let Some(run) = &a.accuracy {
        cmd.arg(format!("--accuracy={run}"));
    }
    if let Some(d) = &a.diff {
        cmd.arg("--diff").args(d);
    }
    if let Some(f) = &a.node_data {
        cmd.arg("--node-data").arg(f);
    }
    cmd.arg("--").arg(&a.model);
    let status = cmd.status()?;
    match status.code() {
        Some(0) => Ok(()),
        Some(c) if c == assay_engine::ErrorKind::NoDisplay.exit_code() => {
            Err(NoDisplay("the viewer found no display to open its window on".into()).into())
        }
        Some(c) => anyhow::bail!("the viewer exited with code {c}"),
        None => anyhow::bail!("the viewer was stopped by a signal"),
    }
}
