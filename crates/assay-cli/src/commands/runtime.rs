//! `assay runtime install|list`

use std::io::IsTerminal;

use assay_engine::runtime::{
    self,
    install::{InstallEvent, InstallProgress, InstallRequest},
};
use indicatif::{ProgressBar, ProgressStyle};

use super::emit_line;
use crate::{
    cli::{Cli, InstallArgs, ListArgs},
    format,
};

pub fn install(a: &InstallArgs) -> anyhow::Result<()> {
    let req = InstallRequest {
        version: a.version.clone(),
        gpu: a.gpu,
        from_wheel: a.from_wheel.clone(),
        index_url: a.index_url.clone(),
        sha256: a.sha256.clone(),
        force: a.force,
        python: None,
    };
    let tty = std::io::stderr().is_terminal() && !a.events;
    let mut bar: Option<ProgressBar> = None;
    let mut last_step_pct = u64::MAX;
    let outcome = runtime::install::install(&req, &mut |p| match p {
        InstallProgress::Step(s) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if a.events {
                emit_line(&InstallEvent::Step { message: s });
            } else {
                eprintln!("{s}");
            }
        }
        InstallProgress::Bytes { what, done, total } => {
            if a.events {
                // About one event per percent, not per megabyte.
                let pct = total.map(|t| done * 100 / t.max(1)).unwrap_or(done >> 24);
                if pct != last_step_pct {
                    last_step_pct = pct;
                    emit_line(&InstallEvent::Progress {
                        what: what.clone(),
                        done,
                        total,
                    });
                }
            } else if tty {
                let b = bar.get_or_insert_with(|| {
                    let b = ProgressBar::new(total.unwrap_or(0));
                    b.set_style(
                        ProgressStyle::with_template("  [{bar:30}] {bytes}/{total_bytes} {msg}")
                            .expect("valid template")
                            .progress_chars("=> "),
                    );
                    b.set_message(what.clone());
                    b
                });
                b.set_position(done);
            }
        }
    });
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let outcome = outcome?;
    if a.events {
        emit_line(&InstallEvent::Result { install: outcome });
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        for w in &outcome.wheels {
            println!("{}  sha256 {}  ({})", w.filename, w.sha256, w.source);
        }
        println!(
            "ONNX Runtime {} ({}) {} at {}",
            outcome.version,
            outcome.flavor,
            if outcome.already_installed {
                "is installed"
            } else {
                "installed"
            },
            outcome.library.display()
        );
    }
    Ok(())
}

pub fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<()> {
    let (listing, active) = runtime::RuntimeListing::gather(cli.runtime.as_deref())?;
    let installed = &listing.installed;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        println!("installed in {}", listing.root.display());
        if installed.is_empty() {
            println!("  (none)");
        }
        for r in installed {
            let size: u64 = std::fs::read_dir(r.dir.join("capi"))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0);
            let mark = match &active {
                Ok(rt) if rt.info.library == r.library => "*",
                _ => " ",
            };
            println!(
                "{mark} {:<10} {:<4} {:>10}  {}",
                r.version,
                r.flavor.as_str(),
                format::bytes(size),
                r.library.display()
            );
        }
        if let Ok(rt) = &active {
            println!(
                "\nactive   ONNX Runtime {} from {} ({:?})",
                rt.info.version,
                rt.info.library.display(),
                rt.info.source
            );
            println!("providers {}", rt.info.providers.join(", "));
        }
    }
    // No usable runtime is exit code 3 (or 1 for a broken one), after listing what there is.
    active.map(|_| ()).map_err(Into::into)
}
