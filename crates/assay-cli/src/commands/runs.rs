//! `assay runs list|show|export|rm`

use assay_store::RunKind;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde_json::json;

use super::store::History;
use crate::{
    cli::{Cli, RunsCommand},
    exit::UsageError,
    format,
};

pub fn run(cli: &Cli, cmd: &RunsCommand) -> anyhow::Result<()> {
    let h = History::open(cli)?;
    match cmd {
        RunsCommand::List {
            model,
            kind,
            limit,
            json,
        } => {
            if kind.as_deref() == Some("accuracy") {
                let runs = h.run(h.store.accuracy_list(model.as_deref(), *limit))?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&runs)?);
                } else {
                    print_comparisons(&h, &runs);
                }
                return Ok(());
            }
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(RunKind::parse(k).ok_or_else(|| {
                    UsageError(format!(
                        "invalid value for --kind: '{k}' (expected bench, profile or accuracy)"
                    ))
                })?),
            };
            let runs = h.run(h.store.list(model.as_deref(), kind, *limit))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(());
            }
            // Without --kind, the comparisons follow the timing runs in a table of their own.
            let comparisons = if kind.is_none() {
                h.run(h.store.accuracy_list(model.as_deref(), *limit))?
            } else {
                Vec::new()
            };
            if runs.is_empty() && comparisons.is_empty() {
                println!("no runs recorded in {}", h.store.path().display());
                return Ok(());
            }
            if runs.is_empty() {
                print_comparisons(&h, &comparisons);
                return Ok(());
            }
            let mut t = Table::new();
            t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
                "id",
                "kind",
                "when (UTC)",
                "model",
                "rows",
                "p50 ms (row 1)",
                "providers",
            ]);
            for r in runs {
                t.add_row(vec![
                    r.id,
                    format!("{:?}", r.kind).to_lowercase(),
                    format::timestamp(r.created_at),
                    r.model_path,
                    r.rows.to_string(),
                    r.p50_ms.map(format::ms).unwrap_or_default(),
                    r.providers.0.join(","),
                ]);
            }
            println!("{t}");
            if !comparisons.is_empty() {
                println!();
                print_comparisons(&h, &comparisons);
            }
        }
        RunsCommand::Show { id, json } if h.run(h.store.is_accuracy_run(id))? => {
            let report = h.run(h.store.accuracy_run(id))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "comparison {} recorded {}",
                    report.run_id.as_deref().unwrap_or(id),
                    format::timestamp(report.started_at as i64)
                );
                super::accuracy::print_human(&report);
            }
        }
        RunsCommand::Show { id, json } => {
            let run = h.run(h.store.run(id))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                println!(
                    "run {} ({:?}) recorded {}",
                    run.id,
                    run.kind,
                    format::timestamp(run.created_at)
                );
                super::bench::print_human(&run.report);
                if let Some(p) = &run.profile {
                    println!(
                        "profile: {} graph, trace at {}",
                        if p.optimized {
                            "optimized"
                        } else {
                            "unoptimized"
                        },
                        p.trace_path.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        RunsCommand::Export { id, out } if h.run(h.store.is_accuracy_run(id))? => {
            // A comparison's document is already whole: its assay.accuracy/1 report.
            let report = h.run(h.store.accuracy_run(id))?;
            let bytes = serde_json::to_vec_pretty(&report)?;
            match out {
                Some(path) => {
                    format::write_atomic(path, &bytes)?;
                    eprintln!(
                        "comparison {} exported to {}",
                        report.run_id.as_deref().unwrap_or(id),
                        path.display()
                    );
                }
                None => println!("{}", String::from_utf8_lossy(&bytes)),
            }
        }
        RunsCommand::Export { id, out } => {
            let run = h.run(h.store.run(id))?;
            // The run carries every sample (`run.samples_ns`, one list per row).
            let doc = json!({"schema": "assay.run-export/1", "run": run});
            let bytes = serde_json::to_vec_pretty(&doc)?;
            match out {
                Some(path) => {
                    format::write_atomic(path, &bytes)?;
                    eprintln!("run {} exported to {}", run.id, path.display());
                }
                None => println!("{}", String::from_utf8_lossy(&bytes)),
            }
        }
        RunsCommand::Import { from, json } => {
            if !from.is_file() {
                anyhow::bail!(crate::exit::UsageError(format!(
                    "{}: no such database file",
                    from.display()
                )));
            }
            let n = h.run(h.store.import_from(from))?;
            if *json {
                println!("{}", json!({"imported": n, "into": h.store.path()}));
            } else {
                println!(
                    "{n} runs imported from {} into {}",
                    from.display(),
                    h.store.path().display()
                );
            }
        }
        RunsCommand::Rm { ids, json } => {
            let mut removed = Vec::new();
            for id in ids {
                removed.push(if h.run(h.store.is_accuracy_run(id))? {
                    h.run(h.store.delete_accuracy(id))?
                } else {
                    h.run(h.store.delete(id))?
                });
            }
            if *json {
                println!("{}", json!({"removed": removed}));
            } else {
                for id in removed {
                    println!("removed run {id}");
                }
            }
        }
    }
    Ok(())
}

/// The comparisons table of `runs list`.
fn print_comparisons(h: &History, runs: &[assay_store::AccuracySummary]) {
    if runs.is_empty() {
        println!("no comparisons recorded in {}", h.store.path().display());
        return;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "id",
        "kind",
        "when (UTC)",
        "reference model",
        "verdict",
        "worst max abs",
        "candidates",
    ]);
    for r in runs {
        t.add_row(vec![
            r.id.clone(),
            "accuracy".into(),
            format::timestamp(r.created_at),
            r.model_path.clone(),
            if r.passed { "pass" } else { "FAIL" }.into(),
            r.worst_max_abs
                .map(|v| format!("{v:.3e}"))
                .unwrap_or_default(),
            r.labels.clone(),
        ]);
    }
    println!("{t}");
}
