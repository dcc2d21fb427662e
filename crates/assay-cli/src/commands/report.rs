//! `assay report RUN --out report.html`

use assay_engine::viz::{
    accuracy, charts,
    report::{ProfileSection, ReportWritten, render_html},
};

use super::store::History;
use crate::{
    cli::{Cli, ReportArgs},
    format,
};

pub fn run(cli: &Cli, args: &ReportArgs) -> anyhow::Result<()> {
    let h = History::open(cli)?;
    if h.run(h.store.is_accuracy_run(&args.run))? {
        return comparison(&h, args);
    }
    let run = h.run(h.store.run(&args.run))?;
    let section = run.profile.as_ref().map(|p| ProfileSection {
        mode: if p.optimized {
            "optimized"
        } else {
            "unoptimized"
        },
        op_types: &p.operators.op_types,
        nodes: &p.operators.nodes,
        folded: &p.folded,
    });
    let html = render_html(&run.id, &run.report, section.as_ref())?;
    format::write_atomic(&args.out, html.as_bytes())?;
    let charts = match &args.charts {
        Some(dir) => assay_engine::viz::charts::write_chart_files(
            dir,
            &run.report.results,
            run.profile
                .as_ref()
                .map(|p| p.operators.op_types.as_slice()),
        )?,
        None => Vec::new(),
    };
    print_written(
        args,
        "run",
        ReportWritten {
            run_id: run.id.clone(),
            report: args.out.clone(),
            bytes: html.len(),
            charts,
        },
    )
}

/// The report of an output comparison; `--charts` writes each output's error distribution.
fn comparison(h: &History, args: &ReportArgs) -> anyhow::Result<()> {
    let report = h.run(h.store.accuracy_run(&args.run))?;
    let id = report.run_id.clone().unwrap_or_else(|| args.run.clone());
    let html = accuracy::render_accuracy_html(&id, &report)?;
    format::write_atomic(&args.out, html.as_bytes())?;
    let mut charts = Vec::new();
    if let Some(dir) = &args.charts {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        for (i, c) in report.candidates.iter().enumerate() {
            for o in c.outputs.iter().filter(|o| !o.stats.histogram.is_empty()) {
                let name: String = o
                    .name
                    .chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                    .collect();
                // SVG and PNG, as for a benchmark's charts.
                let stem = dir.join(format!("errors-{}-{name}", i + 1));
                let svg =
                    charts::svg(|area| accuracy::error_distribution(area, &c.subject.label, o))?;
                let svg_path = stem.with_extension("svg");
                format::write_atomic(&svg_path, svg.as_bytes())?;
                let png_path = stem.with_extension("png");
                charts::png(&png_path, |area| {
                    accuracy::error_distribution(area, &c.subject.label, o)
                })?;
                charts.push(svg_path);
                charts.push(png_path);
            }
        }
    }
    print_written(
        args,
        "comparison",
        ReportWritten {
            run_id: id,
            report: args.out.clone(),
            bytes: html.len(),
            charts,
        },
    )
}

/// What `report` says once the files are written: the `ReportWritten` document, or a line.
fn print_written(args: &ReportArgs, what: &str, w: ReportWritten) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(&w)?);
    } else {
        println!(
            "report of {what} {} written to {} ({})",
            w.run_id,
            w.report.display(),
            format::bytes(w.bytes as u64)
        );
        if let Some(dir) = args.charts.as_ref().filter(|_| !w.charts.is_empty()) {
            println!(
                "{} chart files written to {}",
                w.charts.len(),
                dir.display()
            );
        }
    }
    Ok(())
}
