//! `assay push` and `assay gateway …`: thin over `assay_release::remote`.

use std::io::IsTerminal;

use anyhow::Context;
use assay_release::{
    remote::{GatewayClient, PushEvent, encode_segment},
    views::{GatewayStatus, ModelList, PullOutcome, ReleaseRole},
};
use serde_json::{Value, json};

use super::emit_line;
use crate::{
    cli::{GatewayCommand, GatewayConn, PushArgs},
    exit::UsageError,
};

fn client(c: &GatewayConn) -> anyhow::Result<GatewayClient> {
    let token = match (&c.token, &c.token_file) {
        (_, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the token file {}", f.display()))?
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .ok_or_else(|| UsageError(format!("{} holds no token", f.display())))?,
        (Some(t), None) => t.clone(),
        (None, None) => {
            return Err(UsageError(
                "no admin token: give --token-file FILE or set ASSAY_GATEWAY_TOKEN".into(),
            )
            .into());
        }
    };
    Ok(GatewayClient::new(
        c.gateway.as_deref().ok_or_else(|| {
            UsageError("no gateway: give --gateway URL or set ASSAY_GATEWAY_URL".into())
        })?,
        &token,
        c.ca_cert.as_deref(),
    )?)
}

pub fn push(a: &PushArgs) -> anyhow::Result<()> {
    if !a.dir.is_dir() {
        return Err(UsageError(format!("{} is not a release folder", a.dir.display())).into());
    }
    if let Some(target) = &a.target {
        return super::registry::push(a, target);
    }
    let gw = client(&a.conn)?;
    let bar = super::release::bar(
        !a.events && !a.conn.json && std::io::stderr().is_terminal(),
        "pushing",
    );
    let mut last_event = std::time::Instant::now() - std::time::Duration::from_secs(1);
    let result = gw.push(&a.dir, &a.signature, !a.no_activate, &mut |p| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.sent);
        }
        if a.events && (last_event.elapsed().as_millis() >= 100 || p.sent == p.total) {
            last_event = std::time::Instant::now();
            emit_line(&PushEvent::PushProgress(p));
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = result?;
    if a.events {
        emit_line(&PushEvent::Pushed {
            result: Box::new(out),
        });
    } else if a.conn.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if out.already_present {
        println!(
            "{} {} is already on the gateway (same signed contents); nothing sent",
            out.model, out.version
        );
    } else {
        match &out.release {
            Some(r) => println!(
                "pushed {} {}: {} files, {} bytes, signed by key {}, verified by the gateway",
                out.model, out.version, r.files, r.bytes, r.signer
            ),
            None => println!(
                "pushed {} {}, verified by the gateway",
                out.model, out.version
            ),
        }
        match (out.activated, &out.state) {
            (Some(true), _) => println!("it is now the stable release"),
            (_, Some(s)) => println!("stable release: {}", s.stable.as_deref().unwrap_or("none")),
            (_, None) => {}
        }
    }
    Ok(())
}

pub fn run(c: &GatewayCommand) -> anyhow::Result<()> {
    let conn = c.conn();
    let gw = client(conn)?;
    let m = |model: &str| format!("/admin/v1/models/{}", encode_segment(model));
    match c {
        GatewayCommand::Status(_) => {
            let status: GatewayStatus = gw.get_as("/admin/v1/status", ADMIN_TIMEOUT)?;
            return show(conn, &status, print_status);
        }
        GatewayCommand::Releases { model: None, .. } => {
            let list: ModelList = gw.get_as("/admin/v1/models", ADMIN_TIMEOUT)?;
            return show(conn, &list, print_releases);
        }
        GatewayCommand::Profile { seconds, out, .. } => return profile(&gw, conn, *seconds, out),
        GatewayCommand::Pull {
            model,
            reference,
            no_activate,
            ..
        } => {
            let out: PullOutcome = gw
                .post_as(
                    &format!("{}/pull", m(model)),
                    &json!({"reference": reference, "activate": !no_activate}),
                )
                .map_err(super::release::verification_error)?;
            return show(conn, &out, print_pull);
        }
        _ => {}
    }
    let out: Value = match c {
        GatewayCommand::Status(_)
        | GatewayCommand::Releases { model: None, .. }
        | GatewayCommand::Profile { .. }
        | GatewayCommand::Pull { .. } => {
            unreachable!("answered above")
        }
        GatewayCommand::Releases { model: Some(model), .. } => gw.get(&m(model))?,
        GatewayCommand::Activate { model, version, dim, force, .. } => {
            let dims = super::plan::dims(dim);
            let mut body = json!({"version": version, "force": force});
            if !dims.is_empty() {
                body["dims"] = json!(dims);
            }
            gw.post(&format!("{}/activate", m(model)), &body)?
        }
        GatewayCommand::Canary { model, version, percent, auto_promote_after, force, .. } => gw.post(
            &format!("{}/canary", m(model)),
            &json!({"version": version, "percent": percent, "auto_promote_after": auto_promote_after, "force": force}),
        )?,
        GatewayCommand::Shadow { model, version, percent, force, .. } => gw.post(
            &format!("{}/shadow", m(model)),
            &json!({"version": version, "percent": percent, "force": force}),
        )?,
        GatewayCommand::Promote { model, .. } => gw.post(&format!("{}/promote", m(model)), &Value::Null)?,
        GatewayCommand::Rollback { model, .. } => gw.post(&format!("{}/rollback", m(model)), &Value::Null)?,
        GatewayCommand::Events { model, .. } => gw.get(&format!("{}/events", m(model)))?,
        GatewayCommand::Analysis { model, .. } => gw.get(&format!("{}/analysis", m(model)))?,
        GatewayCommand::Rm { model, version, .. } => {
            gw.delete(&format!("{}/releases/{}", m(model), encode_segment(version)))?
        }
    };
    if conn.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match c {
        GatewayCommand::Releases {
            model: Some(model), ..
        } => {
            println!(
                "{model}: stable {}{}",
                out["stable"].as_str().unwrap_or("none"),
                canary_text(&out["canary"])
            );
            for (v, r) in out["releases"].as_object().cloned().unwrap_or_default() {
                println!(
                    "  {v:<16} {:>12} bytes  key {}",
                    r["bytes"],
                    r["signer"].as_str().unwrap_or("?")
                );
            }
        }
        GatewayCommand::Events { .. } => {
            for e in out["events"].as_array().cloned().unwrap_or_default() {
                println!(
                    "  {} {:<13} {:<10} {}  ({})",
                    e["at"],
                    e["kind"].as_str().unwrap_or("?"),
                    e["version"].as_str().unwrap_or("-"),
                    e["detail"].as_str().unwrap_or(""),
                    e["actor"].as_str().unwrap_or("?")
                );
            }
        }
        GatewayCommand::Analysis { model, .. } => {
            if let Some(sh) = out["shadow"].as_object() {
                print_shadow(sh);
            }
            analysis_text(model, &out);
        }
        _ => println!("{}", out["detail"].as_str().unwrap_or("done")),
    }
    Ok(())
}

/// `assay gateway profile`: the gateway samples itself for `seconds`; the folded stacks go to
/// `out`, the heaviest are printed.
fn profile(
    gw: &GatewayClient,
    conn: &GatewayConn,
    seconds: u64,
    out: &Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    if !(1..=60).contains(&seconds) {
        return Err(UsageError(format!(
            "--seconds {seconds}: a profile lasts 1 to 60 seconds"
        ))
        .into());
    }
    let path = format!("/admin/v1/debug/profile?seconds={seconds}&format=folded");
    let text = match gw.get_within(&path, std::time::Duration::from_secs(seconds + 30))? {
        Value::String(text) => text,
        _ => {
            anyhow::bail!("the gateway did not answer with a profile (is it older than this CLI?)")
        }
    };
    if let Some(out) = out {
        crate::format::write_atomic(out, text.as_bytes())?;
    }
    let p = assay_release::views::CpuProfile::from_folded(&text, seconds);
    if conn.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    println!(
        "{} samples over {seconds} s (99 a second per busy thread)",
        p.samples
    );
    for s in p.stacks.iter().take(10) {
        // The innermost frames say where the time went; the thread comes first.
        let frames: Vec<&str> = s.stack.split(';').collect();
        let tail = frames[frames.len().saturating_sub(3)..].join(" ← ");
        println!(
            "{:>6.1}%  {}  [{}]",
            s.weight as f64 * 100.0 / p.samples.max(1) as f64,
            tail,
            frames[0]
        );
    }
    if let Some(out) = out {
        println!(
            "folded stacks written to {} (flamegraph.pl, inferno-flamegraph and speedscope read them)",
            out.display()
        );
    }
    Ok(())
}

/// The shadow's comparison, in lines.
fn print_shadow(sh: &serde_json::Map<String, Value>) {
    let n = |k: &str| sh[k].as_u64().unwrap_or(0);
    let ms = |k: &str| {
        sh[k]
            .as_f64()
            .map_or("-".to_string(), |v| format!("{v:.2}"))
    };
    println!(
        "shadow {} against stable {} at {}%: {} mirrored, {} dropped (queue full)",
        sh["version"].as_str().unwrap_or("?"),
        sh["stable"].as_str().unwrap_or("?"),
        sh["percent"].as_f64().unwrap_or(0.0),
        n("mirrored"),
        n("dropped")
    );
    println!(
        "  outputs: {} of {} compared agree ({:.2}%), |error| p50 {:.3e}, p99 {:.3e}, max {:.3e} (atol {:e}, rtol {:e}); {} shadow errors",
        n("agreed"),
        n("compared"),
        sh["agreement"].as_f64().unwrap_or(1.0) * 100.0,
        sh["abs_error_p50"].as_f64().unwrap_or(0.0),
        sh["abs_error_p99"].as_f64().unwrap_or(0.0),
        sh["abs_error_max"].as_f64().unwrap_or(0.0),
        sh["atol"].as_f64().unwrap_or(0.0),
        sh["rtol"].as_f64().unwrap_or(0.0),
        n("errors")
    );
    println!(
        "  latency: stable p50 {} ms, p99 {} ms; shadow p50 {} ms, p99 {} ms",
        ms("stable_p50_ms"),
        ms("stable_p99_ms"),
        ms("shadow_p50_ms"),
        ms("shadow_p99_ms")
    );
    if let Some(p) = sh["last_problem"].as_str() {
        println!("  last problem: {p}");
    }
}

fn analysis_text(model: &str, out: &Value) {
    match out["analysis"].as_object() {
        None => println!("{model}: no canary analysis yet (no canary, or no traffic)"),
        Some(a) => {
            for arm in ["stable", "candidate"] {
                let s = &a[arm];
                println!(
                    "  {arm:<9} {} requests, {} errors ({:.2}%), p50 {} ms, p99 {} ms",
                    s["requests"],
                    s["errors"],
                    s["error_rate"].as_f64().unwrap_or(0.0) * 100.0,
                    s["p50_ms"],
                    s["p99_ms"]
                );
            }
            println!(
                "  errors: Fisher exact p = {:.3e}; latency: Mann-Whitney p = {:.3e}",
                a["error_p_value"].as_f64().unwrap_or(1.0),
                a["latency_p_value"].as_f64().unwrap_or(1.0)
            );
            println!(
                "  verdict: {} ({})",
                a["verdict"]["action"].as_str().unwrap_or("?"),
                a["verdict"]["reason"].as_str().unwrap_or("")
            );
        }
    }
}

/// How long an admin read may take before the command gives up.
const ADMIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Prints a typed answer as JSON (`--json`) or as text.
fn show<T: serde::Serialize>(conn: &GatewayConn, answer: &T, text: fn(&T)) -> anyhow::Result<()> {
    if conn.json {
        println!("{}", serde_json::to_string_pretty(answer)?);
    } else {
        text(answer);
    }
    Ok(())
}

fn print_pull(p: &PullOutcome) {
    let o = &p.outcome;
    if o.already_present {
        println!(
            "{} {} is already on the gateway (same signed contents)",
            o.model, o.version
        );
    } else {
        println!(
            "pulled {} {} from {}: verified, {} fetched, {} file(s) shared with other versions, {:.1} s",
            o.model,
            o.version,
            p.source.pinned,
            crate::format::bytes(p.source.bytes_fetched),
            p.source.files_reused,
            p.source.seconds
        );
        if o.activated == Some(true) {
            println!("it is now the stable release");
        }
    }
}

fn print_status(s: &GatewayStatus) {
    println!(
        "assay-gateway {} · ONNX Runtime {} · {} · up {} s",
        s.version,
        s.onnxruntime,
        if s.ready { "ready" } else { "NOT ready" },
        s.uptime_s
    );
    if s.models.is_empty() {
        println!("no models yet: push a release with `assay push`");
    }
    for (name, m) in &s.models {
        println!(
            "  {name}: stable {}{} · {} release(s){}",
            m.stable.as_deref().unwrap_or("none"),
            m.canary
                .as_ref()
                .map(|c| format!(" · canary {} at {}%", c.version, c.percent))
                .unwrap_or_default(),
            m.releases,
            if m.ready { "" } else { " · not serving" }
        );
    }
}

fn print_releases(list: &ModelList) {
    for model in &list.models {
        println!("{}", model.name);
        for r in &model.releases {
            let role = match r.role {
                ReleaseRole::Stable => "stable",
                ReleaseRole::Canary => "canary",
                ReleaseRole::Shadow => "shadow",
                ReleaseRole::Idle => "",
            };
            // The signed accuracy evidence, to look at before activating or canarying it.
            let accuracy = match &r.accuracy {
                Some(e) => format!(
                    "  accuracy {} (run {}, {} candidate{}, worst max abs {:.2e})",
                    if e.passed { "passed" } else { "FAILED" },
                    e.run_id,
                    e.candidates.len(),
                    if e.candidates.len() == 1 { "" } else { "s" },
                    e.candidates
                        .iter()
                        .map(|c| c.worst_max_abs)
                        .fold(0.0, f64::max)
                ),
                None => String::new(),
            };
            println!(
                "  {:<16} {:<7} {:>12} bytes  key {}{accuracy}",
                r.version, role, r.bytes, r.signer
            );
        }
    }
}

fn canary_text(c: &Value) -> String {
    match c.as_object() {
        Some(c) => format!(
            " · canary {} at {}%",
            c["version"].as_str().unwrap_or("?"),
            c["percent"]
        ),
        None => String::new(),
    }
}
