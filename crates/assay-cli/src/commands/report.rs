//! `assay report RUN --out report.html`

use assay_engine::viz::report::{ProfileSection, render_html};

use super::store::History;
use crate::{
    cli::{Cli, ReportArgs},
    format,
};

pub fn run(cli: &Cli, args: &ReportArgs) -> anyhow::Result<()> {
    let h = History::open(cli)?;
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
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&assay_engine::viz::report::ReportWritten {
                run_id: run.id.clone(),
                report: args.out.clone(),
                bytes: html.len(),
                charts,
            })?
        );
    } else {
        println!(
            "report of run {} written to {} ({})",
            run.id,
            args.out.display(),
            format::bytes(html.len() as u64)
        );
        if let Some(dir) = &args.charts {
            println!("{} chart files written to {}", charts.len(), dir.display());
        }
    }
    Ok(())
}
