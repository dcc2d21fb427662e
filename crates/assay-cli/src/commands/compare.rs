//! `assay compare A B`

use std::path::PathBuf;

use assay_engine::{compare, profile::flame};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use super::store::History;
use crate::{
    cli::{Cli, CompareArgs},
    exit::RegressionGate,
    format,
};

pub fn run(cli: &Cli, args: &CompareArgs) -> anyhow::Result<()> {
    let h = History::open(cli)?;
    let a = h.run(h.store.run(&args.a))?;
    let b = h.run(h.store.run(&args.b))?;
    let c = compare::compare(&a.id, &a.report, &b.id, &b.report)?;
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }

    let mut diff_path = None;
    if let (Some(pa), Some(pb)) = (&a.profile, &b.profile) {
        let path = args
            .diff_flamegraph
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("diff-{}-{}.svg", a.id, b.id)));
        let mut svg = Vec::new();
        flame::render_runs_diff_svg(&a.id, &pa.folded, &b.id, &pb.folded, &mut svg)?;
        format::write_atomic(&path, &svg)?;
        diff_path = Some(path);
    }

    if args.json {
        let mut v = serde_json::to_value(&c)?;
        v["diff_flamegraph"] = serde_json::json!(diff_path);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "A = run {} ({})\nB = run {} ({})\n",
            c.a.id, c.a.model_path, c.b.id, c.b.model_path
        );
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
            "provider",
            "batch",
            "conc",
            "p50 A → B ms",
            "Δ p50 [95% CI]",
            "p99 A → B ms",
            "Δ p99 [95% CI]",
            "verdict",
        ]);
        for r in &c.rows {
            let (p50_values, p50_change) = change_cells(&r.p50);
            let (p99_values, p99_change) = change_cells(&r.p99);
            t.add_row(vec![
                r.provider.clone(),
                r.batch.to_string(),
                r.concurrency.to_string(),
                p50_values,
                p50_change,
                p99_values,
                p99_change,
                r.verdict.to_string(),
            ]);
        }
        println!("{t}");
        if !c.unmatched.is_empty() {
            println!("rows without a partner: {}", c.unmatched.join(", "));
        }
        if let Some(p) = &diff_path {
            println!("differential flame graph written to {}", p.display());
        }
    }
    if let Some(pct) = args.fail_if_slower {
        let breaches = c.breaches(pct);
        if !breaches.is_empty() {
            let rows: Vec<String> = breaches
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}/{} ({:+.2}%, CI lower bound {:+.2}%)",
                        r.provider, r.batch, r.concurrency, r.p50.delta_pct, r.p50.ci95_pct[0]
                    )
                })
                .collect();
            return Err(RegressionGate(format!(
                "run {} is significantly slower than run {} by more than {pct}%: {}",
                c.b.id,
                c.a.id,
                rows.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

/// "A → B" and "Δ [lo, hi]" for one percentile's change.
fn change_cells(c: &compare::Change) -> (String, String) {
    let pct = |x: f64| format!("{x:+.2}%");
    (
        format!("{} → {}", format::ms(c.a_ms), format::ms(c.b_ms)),
        format!(
            "{} [{}, {}]",
            pct(c.delta_pct),
            pct(c.ci95_pct[0]),
            pct(c.ci95_pct[1])
        ),
    )
}
