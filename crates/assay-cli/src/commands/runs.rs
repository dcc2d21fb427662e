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
            let kind = match kind.as_deref() {
                None => None,
                Some(k) => Some(RunKind::parse(k).ok_or_else(|| {
                    UsageError(format!(
                        "invalid value for --kind: '{k}' (expected bench or profile)"
                    ))
                })?),
            };
            let runs = h.run(h.store.list(model.as_deref(), kind, *limit))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(());
            }
            if runs.is_empty() {
                println!("no runs recorded in {}", h.store.path().display());
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
                removed.push(h.run(h.store.delete(id))?);
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
