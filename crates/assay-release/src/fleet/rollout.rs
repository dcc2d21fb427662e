//! Staged rollouts: wave by wave, each gateway of a wave pulls the release from the registry
//! (verifying it against its own trusted keys), makes it a canary, and waits for its own
//! canary analysis; the wave's gateways run side by side. The reference is pinned to its
//! digest before any gateway is touched. A failed analysis anywhere halts the rollout and
//! rolls back every gateway it changed. Every step is saved, and a rollout run again resumes
//! from what the gateways actually serve.

use std::{
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::json;

use super::{
    file::FleetFile,
    state::{
        GatewayProgress, GatewayStep, RolloutState, RolloutStatus, StateLock, WaveState,
        halt_marker, now,
    },
};
use crate::{
    error::{ReleaseError, Result},
    remote::{GatewayClient, encode_segment},
    views::{ModelList, ModelOverview, PullOutcome},
};

/// Called after every saved change, with a sentence about it.
pub type OnChange<'a> = &'a (dyn Fn(&RolloutState, &str) + Sync);

struct Ctx<'a> {
    file: &'a FleetFile,
    model: &'a str,
    path: &'a Path,
    state: Mutex<RolloutState>,
    on_change: OnChange<'a>,
}

enum Stop {
    Halted,
    Failed(String),
}

impl From<ReleaseError> for Stop {
    fn from(e: ReleaseError) -> Stop {
        Stop::Failed(e.to_string())
    }
}

impl<'a> Ctx<'a> {
    fn new(
        file: &'a FleetFile,
        model: &'a str,
        path: &'a Path,
        state: RolloutState,
        on_change: OnChange<'a>,
    ) -> Ctx<'a> {
        Ctx {
            file,
            model,
            path,
            state: Mutex::new(state),
            on_change,
        }
    }

    /// Changes the state, saves it and reports it, under one lock (the wave's gateways run
    /// on threads of their own).
    fn update(&self, say: &str, f: impl FnOnce(&mut RolloutState)) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        s.save(self.path)?;
        (self.on_change)(&s, say);
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&RolloutState) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn into_state(self) -> RolloutState {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    fn halted(&self) -> bool {
        halt_marker(self.path).exists()
    }

    /// Marks `name` as changed by the rollout, before the change is made: a crash right after
    /// it still leaves the gateway to be rolled back.
    fn changing(&self, name: &str, step: GatewayStep, detail: &str) -> Result<()> {
        self.update(&format!("{name}: {detail}"), |s| {
            s.set(name, step, detail);
            if let Some(p) = s.gateways.get_mut(name) {
                p.changed = true;
            }
        })
    }
}

fn overview(c: &GatewayClient, model: &str) -> Result<Option<ModelOverview>> {
    let list: ModelList = c.get_as("/admin/v1/models", Duration::from_secs(30))?;
    Ok(list.models.into_iter().find(|m| m.name == model))
}

/// Rolls `reference` out as `model` across `file`'s fleet, saving progress at `path`. A saved
/// rollout of the same reference that was running or halted is resumed; a finished one is
/// returned as it is. One process at a time works on a rollout.
pub fn rollout(
    file: &FleetFile,
    model: &str,
    reference: &str,
    path: &Path,
    on_change: OnChange<'_>,
) -> Result<RolloutState> {
    let parsed = crate::oci::OciReference::parse(reference)?;
    let waves = file.waves(path)?;
    let _lock = StateLock::take(path)?;
    let _ = std::fs::remove_file(halt_marker(path));
    let active =
        |s: &RolloutState| matches!(s.status, RolloutStatus::Running | RolloutStatus::Halted);
    let resumed = match RolloutState::load(path)? {
        Some(s) if s.reference == reference && s.status == RolloutStatus::Done => return Ok(s),
        Some(s) if active(&s) && s.reference != reference => {
            return Err(ReleaseError::Invalid {
                what: "rollout",
                message: format!(
                    "a rollout of {} to fleet '{}' is {}: finish it (`assay fleet rollout` with that reference) or undo it (`assay fleet rollback`) first",
                    s.reference,
                    file.name,
                    if s.status == RolloutStatus::Halted {
                        "halted"
                    } else {
                        "running"
                    }
                ),
            });
        }
        Some(s) if active(&s) && s.version.is_some() && s.pinned.is_some() => Some(s),
        _ => None,
    };
    let (state, say) = match resumed {
        Some(mut s) => {
            s.status = RolloutStatus::Running;
            s.error = None;
            let at = s
                .waves
                .iter()
                .position(|w| !w.done)
                .unwrap_or(s.waves.len());
            let say = format!("resuming at wave {} of {}", at + 1, s.waves.len());
            (s, say)
        }
        None => {
            // Pinned before any gateway is touched: every gateway pulls these bytes, and the
            // version is known when recording what each gateway served before.
            let resolved = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ReleaseError::io(path, e))?
                .block_on(crate::oci::resolve(&parsed, &file.registry_options()))?;
            if resolved.name != model {
                return Err(ReleaseError::Invalid {
                    what: "rollout",
                    message: format!(
                        "{reference} is a release of model '{}', not '{model}'",
                        resolved.name
                    ),
                });
            }
            let say = format!(
                "rolling {model} {} ({}) out to {} gateways in {} waves",
                resolved.version,
                resolved.pinned,
                waves.iter().map(Vec::len).sum::<usize>(),
                waves.len()
            );
            let s = RolloutState {
                fleet: file.name.clone(),
                model: model.to_string(),
                reference: reference.to_string(),
                pinned: Some(resolved.pinned.to_string()),
                version: Some(resolved.version),
                status: RolloutStatus::Running,
                waves: waves
                    .iter()
                    .map(|g| WaveState {
                        gateways: g.clone(),
                        done: false,
                    })
                    .collect(),
                gateways: waves
                    .iter()
                    .flatten()
                    .map(|g| (g.clone(), GatewayProgress::pending()))
                    .collect(),
                error: None,
                started_at: now(),
                updated_at: now(),
                seconds: Default::default(),
            };
            (s, say)
        }
    };
    let ctx = Ctx::new(file, model, path, state, on_change);
    ctx.update(&say, |_| {})?;

    let n = ctx.read(|s| s.waves.len());
    for w in 0..n {
        let (done, names) = ctx.read(|s| (s.waves[w].done, s.waves[w].gateways.clone()));
        if done {
            continue;
        }
        ctx.update(
            &format!("wave {} of {n}: {}", w + 1, names.join(", ")),
            |_| {},
        )?;
        let outcomes: Vec<(String, std::result::Result<(), Stop>)> = std::thread::scope(|sc| {
            let handles: Vec<_> = names
                .iter()
                .map(|g| {
                    let ctx = &ctx;
                    (g.clone(), sc.spawn(move || advance(ctx, g)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(g, h)| {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Err(Stop::Failed("stopped unexpectedly".into())));
                    (g, r)
                })
                .collect()
        });
        // A failure beats a halt: a failed gateway is rolled back even while halting.
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(|(g, r)| match r {
                Err(Stop::Failed(m)) => Some(format!("{g}: {m}")),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            let error = format!("wave {} failed: {}", w + 1, failures.join("; "));
            for (g, r) in &outcomes {
                if let Err(Stop::Failed(m)) = r {
                    ctx.update(&format!("{g}: {m}"), |s| {
                        s.set(g, GatewayStep::Failed, m.clone())
                    })?;
                }
            }
            ctx.update(
                &format!("{error}; rolling back every gateway changed"),
                |s| {
                    s.status = RolloutStatus::Failed;
                    s.error = Some(error.clone());
                },
            )?;
            undo_all(&ctx);
            return Ok(ctx.into_state());
        }
        if outcomes.iter().any(|(_, r)| matches!(r, Err(Stop::Halted))) {
            ctx.update(
                "halted: gateways stay as they are; run the rollout again to resume, or roll it back",
                |s| {
                    s.status = RolloutStatus::Halted;
                    s.error = Some("halted by `assay fleet halt`".into());
                },
            )?;
            return Ok(ctx.into_state());
        }
        ctx.update(&format!("wave {} of {n} done", w + 1), |s| {
            s.waves[w].done = true
        })?;
    }
    let version = ctx.read(|s| s.version.clone()).unwrap_or_default();
    ctx.update(
        &format!("done: every gateway serves {model} {version}"),
        |s| s.status = RolloutStatus::Done,
    )?;
    Ok(ctx.into_state())
}

/// Takes one gateway from wherever it is to serving the release as stable.
fn advance(ctx: &Ctx, name: &str) -> std::result::Result<(), Stop> {
    let g = ctx
        .file
        .gateway(name)
        .ok_or_else(|| Stop::Failed(format!("'{name}' is no longer in the fleet file")))?;
    let c = ctx.file.client(g)?;
    let model = ctx.model;
    let m = format!("/admin/v1/models/{}", encode_segment(model));
    let (version, pinned) = ctx.read(|s| {
        (
            s.version.clone().unwrap_or_default(),
            s.pinned.clone().unwrap_or_else(|| s.reference.clone()),
        )
    });
    let ov = overview(&c, model)?;
    let stable = ov.as_ref().and_then(|o| o.stable.clone());
    ctx.update(&format!("{name}: checking"), |s| {
        let p = s
            .gateways
            .entry(name.to_string())
            .or_insert_with(GatewayProgress::pending);
        if p.step == GatewayStep::Pending {
            p.prior_stable = stable.clone().filter(|st| *st != version);
        }
    })?;
    if stable.as_deref() == Some(version.as_str()) {
        ctx.update(&format!("{name}: serves {version}"), |s| {
            s.set(name, GatewayStep::Promoted, "stable")
        })?;
        return Ok(());
    }
    let holds = ov
        .as_ref()
        .is_some_and(|o| o.releases.iter().any(|r| r.version == version));
    if !holds {
        ctx.changing(name, GatewayStep::Pulling, "pulling and verifying")?;
        let t = Instant::now();
        let out: PullOutcome = c.post_as(
            &format!("{m}/pull"),
            &json!({"reference": pinned, "activate": true}),
        )?;
        if out.outcome.version != version {
            // The digest is pinned, so this is a gateway answering about something else.
            return Err(Stop::Failed(format!(
                "the gateway pulled version {} from {pinned}, not {version}",
                out.outcome.version
            )));
        }
        ctx.update(&format!("{name}: pulled {model} {version}"), |s| {
            s.seconds.pulling += t.elapsed().as_secs_f64();
        })?;
        if out.outcome.activated == Some(true) {
            ctx.update(
                &format!("{name}: the model's first release there, now stable"),
                |s| {
                    s.set(
                        name,
                        GatewayStep::Promoted,
                        "first release of the model: stable",
                    )
                },
            )?;
            return Ok(());
        }
    }
    let plan = &ctx.file.rollout;
    let ov = overview(&c, model)?;
    if ov.as_ref().and_then(|o| o.stable.as_deref()) == Some(version.as_str()) {
        ctx.update(&format!("{name}: stable"), |s| {
            s.set(name, GatewayStep::Promoted, "stable")
        })?;
        return Ok(());
    }
    let canary = format!("canary at {}%", plan.canary_percent);
    if ov
        .as_ref()
        .and_then(|o| o.canary.as_ref())
        .map(|c| c.version.as_str())
        != Some(version.as_str())
    {
        ctx.changing(name, GatewayStep::Canary, "setting the canary")?;
        let t = Instant::now();
        c.post_as::<serde_json::Value>(
            &format!("{m}/canary"),
            &json!({"version": version, "percent": plan.canary_percent, "auto_promote_after": plan.requests}),
        )?;
        ctx.update(&format!("{name}: {canary}"), |s| {
            s.seconds.warming += t.elapsed().as_secs_f64();
            s.set(name, GatewayStep::Canary, canary.clone());
        })?;
    } else {
        ctx.changing(name, GatewayStep::Canary, &canary)?;
    }
    let started = Instant::now();
    let result = watch_canary(ctx, &c, name, &version);
    ctx.update(&format!("{name}: analysis ended"), |s| {
        s.seconds.analysis += started.elapsed().as_secs_f64()
    })?;
    result
}

fn watch_canary(
    ctx: &Ctx,
    c: &GatewayClient,
    name: &str,
    version: &str,
) -> std::result::Result<(), Stop> {
    let model = ctx.model;
    let m = format!("/admin/v1/models/{}", encode_segment(model));
    let plan = &ctx.file.rollout;
    let started = Instant::now();
    let mut last_requests = u64::MAX;
    loop {
        if ctx.halted() {
            return Err(Stop::Halted);
        }
        std::thread::sleep(Duration::from_millis(plan.poll_ms));
        let ov = overview(c, model)?;
        let ov = ov.ok_or_else(|| Stop::Failed(format!("the gateway no longer has {model}")))?;
        if ov.stable.as_deref() == Some(version) {
            ctx.update(&format!("{name}: promoted by its canary analysis"), |s| {
                s.set(
                    name,
                    GatewayStep::Promoted,
                    "promoted by the gateway's analysis",
                )
            })?;
            return Ok(());
        }
        let Some(canary) = ov.canary.filter(|cs| cs.version == version) else {
            return Err(Stop::Failed(format!(
                "the gateway rolled the canary back: {}",
                last_rollback(c, &m)
            )));
        };
        let analysis = c.get_within(&format!("{m}/analysis"), Duration::from_secs(30))?;
        let requests = analysis["analysis"]["candidate_total"]
            .as_u64()
            .unwrap_or(0);
        if requests != last_requests {
            last_requests = requests;
            let verdict = analysis["analysis"]["verdict"]["reason"]
                .as_str()
                .unwrap_or("waiting for traffic")
                .to_string();
            ctx.update(
                &format!("{name}: {requests} canary requests; {verdict}"),
                |s| {
                    if let Some(p) = s.gateways.get_mut(name) {
                        p.candidate_requests = requests;
                        p.detail = verdict.clone();
                    }
                },
            )?;
        }
        if let Some(hold) = plan.hold_s
            && now().saturating_sub(canary.since) >= hold
            && plan.requests.is_none_or(|n| requests >= n)
        {
            c.post_as::<serde_json::Value>(&format!("{m}/promote"), &json!({}))?;
            ctx.update(
                &format!("{name}: promoted after {hold} s without a rollback"),
                |s| {
                    s.set(
                        name,
                        GatewayStep::Promoted,
                        format!("promoted after {hold} s"),
                    )
                },
            )?;
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(plan.timeout_s) {
            return Err(Stop::Failed(format!(
                "no decision within {} s ({requests} canary requests)",
                plan.timeout_s
            )));
        }
    }
}

/// The gateway's own words for its last rollback.
fn last_rollback(c: &GatewayClient, m: &str) -> String {
    c.get_within(&format!("{m}/events"), Duration::from_secs(30))
        .ok()
        .and_then(|v| {
            v["events"].as_array().and_then(|e| {
                e.iter()
                    .rev()
                    .find(|e| e.to_string().contains("rollback"))
                    .and_then(|e| e["detail"].as_str().map(String::from))
            })
        })
        .unwrap_or_else(|| "the canary is gone".into())
}

/// Returns every gateway the rollout changed to what it served before. Each is tried even
/// when another fails; one that could not be undone is marked so, and tried again by
/// `assay fleet rollback`.
fn undo_all(ctx: &Ctx) {
    let names: Vec<String> = ctx.read(|s| {
        s.gateways
            .iter()
            .filter(|(_, p)| p.changed && p.step != GatewayStep::RolledBack)
            .map(|(g, _)| g.clone())
            .collect()
    });
    for g in names {
        let (step, said) = match undo(ctx, &g) {
            Ok(said) => (GatewayStep::RolledBack, said),
            Err(e) => (GatewayStep::UndoFailed, format!("could not roll back: {e}")),
        };
        let _ = ctx.update(&format!("{g}: {said}"), |s| s.set(&g, step, said.clone()));
    }
}

fn undo(ctx: &Ctx, name: &str) -> Result<String> {
    let (version, prior) = ctx.read(|s| {
        (
            s.version.clone().unwrap_or_default(),
            s.gateways.get(name).and_then(|p| p.prior_stable.clone()),
        )
    });
    let g = ctx
        .file
        .gateway(name)
        .ok_or_else(|| ReleaseError::Invalid {
            what: "fleet file",
            message: format!("'{name}' is no longer in the fleet file"),
        })?;
    let c = ctx.file.client(g)?;
    let m = format!("/admin/v1/models/{}", encode_segment(ctx.model));
    let Some(ov) = overview(&c, ctx.model)? else {
        return Ok("the model is gone: nothing to undo".into());
    };
    if ov.canary.as_ref().is_some_and(|c| c.version == version) {
        c.post_as::<serde_json::Value>(&format!("{m}/rollback"), &json!({}))?;
        return Ok(format!(
            "canary ended; all traffic on {}",
            ov.stable.unwrap_or_default()
        ));
    }
    if ov.stable.as_deref() == Some(version.as_str()) {
        return match prior {
            Some(p) => {
                c.post_as::<serde_json::Value>(&format!("{m}/activate"), &json!({"version": p}))?;
                Ok(format!("back on {p}"))
            }
            None => Ok(format!(
                "{version} is the model's only release there (the rollout brought the first one): left serving"
            )),
        };
    }
    Ok(format!(
        "not serving {version} (stable {})",
        ov.stable.unwrap_or_else(|| "none".into())
    ))
}

/// `assay fleet rollback`: undoes a saved rollout on every gateway it changed (and retries
/// those whose undo failed before).
pub fn rollback(
    file: &FleetFile,
    model: &str,
    path: &Path,
    on_change: OnChange<'_>,
) -> Result<RolloutState> {
    let _lock = StateLock::take(path)?;
    let state = RolloutState::load(path)?.ok_or_else(|| ReleaseError::Invalid {
        what: "rollout",
        message: format!(
            "no rollout of {model} to fleet '{}' is saved at {}",
            file.name,
            path.display()
        ),
    })?;
    let ctx = Ctx::new(file, model, path, state, on_change);
    undo_all(&ctx);
    let failed: Vec<String> = ctx.read(|s| {
        s.gateways
            .iter()
            .filter(|(_, p)| p.step == GatewayStep::UndoFailed)
            .map(|(g, _)| g.clone())
            .collect()
    });
    if failed.is_empty() {
        ctx.update("rolled back", |s| s.status = RolloutStatus::RolledBack)?;
    } else {
        let error = format!(
            "could not roll back {}; run `assay fleet rollback` again",
            failed.join(", ")
        );
        ctx.update(&error, |s| {
            s.status = RolloutStatus::Failed;
            s.error = Some(error.clone());
        })?;
    }
    Ok(ctx.into_state())
}
