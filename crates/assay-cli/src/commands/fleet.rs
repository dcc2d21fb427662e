//! `assay fleet status|rollout|halt|rollback`: thin over `assay_release::fleet`.

use std::path::PathBuf;

use assay_release::{
    ReleaseError,
    fleet::{self, FleetEvent, FleetFile, RolloutState, RolloutStatus},
};

use super::emit_line;
use crate::cli::{FleetCommand, FleetStateArgs};

fn state_path(file: &FleetFile, model: &str, a: &FleetStateArgs) -> PathBuf {
    a.state
        .clone()
        .unwrap_or_else(|| fleet::default_path(&file.name, model))
}

/// The fleet file, and where its rollout of `model` is saved.
fn open(
    fleet: &std::path::Path,
    model: &str,
    a: &FleetStateArgs,
) -> anyhow::Result<(FleetFile, PathBuf)> {
    let file = FleetFile::load(fleet)?;
    let path = state_path(&file, model, a);
    Ok((file, path))
}

pub fn run(c: &FleetCommand) -> anyhow::Result<()> {
    match c {
        FleetCommand::Status {
            fleet: f,
            model,
            state,
            json,
        } => {
            let file = FleetFile::load(f)?;
            let (saved, halt) = match model {
                Some(m) => {
                    let p = state_path(&file, m, state);
                    (RolloutState::load(&p)?, fleet::halt_marker(&p).exists())
                }
                None => (None, false),
            };
            let st = fleet::status(&file, saved, halt);
            if *json {
                println!("{}", serde_json::to_string_pretty(&st)?);
                return Ok(());
            }
            println!("fleet {} · {} gateways", st.fleet, st.gateways.len());
            for g in &st.gateways {
                match (&g.status, &g.error) {
                    (Some(s), _) => {
                        let models: Vec<String> = s
                            .models
                            .iter()
                            .filter(|(name, _)| model.as_ref().is_none_or(|m| m == *name))
                            .map(|(name, m)| {
                                let mut line =
                                    format!("{name} {}", m.stable.as_deref().unwrap_or("-"));
                                if let Some(c) = &m.canary {
                                    line.push_str(&format!(
                                        " (canary {} at {}%)",
                                        c.version, c.percent
                                    ));
                                }
                                line
                            })
                            .collect();
                        println!(
                            "  {:<12} {:<28} {}  {}",
                            g.name,
                            g.url,
                            if s.ready { "ready" } else { "not ready" },
                            models.join(", ")
                        );
                    }
                    (None, e) => println!(
                        "  {:<12} {:<28} unreachable: {}",
                        g.name,
                        g.url,
                        e.as_deref().unwrap_or("?")
                    ),
                }
            }
            if let Some(r) = &st.rollout {
                print_rollout(r);
            }
            Ok(())
        }
        FleetCommand::Rollout {
            fleet: f,
            model,
            reference,
            state,
            events,
            json,
        } => {
            let (file, path) = open(f, model, state)?;
            let (events, json) = (*events, *json);
            let say = move |s: &RolloutState, message: &str| {
                if events {
                    emit_line(&FleetEvent::Rollout {
                        message: message.to_string(),
                        state: Box::new(s.clone()),
                    });
                } else if !json {
                    println!("{message}");
                }
            };
            let out = fleet::rollout(&file, model, reference, &path, &say)?;
            finish(out, json, events)
        }
        FleetCommand::Halt {
            fleet: f,
            model,
            state,
        } => {
            let (file, path) = open(f, model, state)?;
            let Some(s) = RolloutState::load(&path)? else {
                return Err(ReleaseError::Invalid {
                    what: "rollout",
                    message: format!("no rollout of {model} to fleet '{}' is saved", file.name),
                }
                .into());
            };
            if s.status != RolloutStatus::Running {
                println!(
                    "the rollout is {:?}, not running; nothing to halt",
                    s.status
                );
                return Ok(());
            }
            let marker = fleet::halt_marker(&path);
            std::fs::write(&marker, b"halt\n")?;
            println!(
                "asked the rollout of {} to stop at its next look ({})",
                s.reference,
                marker.display()
            );
            Ok(())
        }
        FleetCommand::Rollback {
            fleet: f,
            model,
            state,
            json,
        } => {
            let (file, path) = open(f, model, state)?;
            let json = *json;
            let say = move |_: &RolloutState, message: &str| {
                if !json {
                    println!("{message}");
                }
            };
            let out = fleet::rollback(&file, model, &path, &say)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            match out.status {
                RolloutStatus::RolledBack => Ok(()),
                _ => Err(ReleaseError::RolloutStopped(out.error.unwrap_or_default()).into()),
            }
        }
    }
}

/// The rollout's end: printed whole with --json, and an error (with its exit code) unless it
/// finished.
fn finish(out: RolloutState, json: bool, events: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if !events {
        print_rollout(&out);
    }
    let why = out.error.clone().unwrap_or_default();
    match out.status {
        RolloutStatus::Done => Ok(()),
        RolloutStatus::Failed => Err(ReleaseError::RolloutFailed(why).into()),
        _ => Err(ReleaseError::RolloutStopped(why).into()),
    }
}

fn print_rollout(r: &RolloutState) {
    println!(
        "rollout of {} {} ({}): {:?}",
        r.model,
        r.version.as_deref().unwrap_or("?"),
        r.reference,
        r.status
    );
    for (i, w) in r.waves.iter().enumerate() {
        println!("  wave {} {}", i + 1, if w.done { "done" } else { "" });
        for g in &w.gateways {
            if let Some(p) = r.gateways.get(g) {
                println!("    {g:<12} {:?}: {}", p.step, p.detail);
            }
        }
    }
    println!(
        "  time: pulling {:.1} s, warming {:.1} s, analysis {:.1} s",
        r.seconds.pulling, r.seconds.warming, r.seconds.analysis
    );
    if let Some(e) = &r.error {
        println!("  {e}");
    }
}
