//! `assay report RUN --out report.html`

use assay_engine::{
    profile::{NodeStats, OpTypeStats},
    viz::report::{ProfileSection, render_html},
};

use super::store::History;
use crate::{
    cli::{Cli, ReportArgs},
    format,
};

pub fn run(cli: &Cli, args: &ReportArgs) -> anyhow::Result<()> {
    let h = History::open(cli)?;
    let run = h.run(h.store.run(&args.run))?;
    let profile = match &run.profile {
        Some(p) => {
            let op_types: Vec<OpTypeStats> =
                serde_json::from_value(p.operators["op_types"].clone()).unwrap_or_default();
            let nodes: Vec<NodeStats> =
                serde_json::from_value(p.operators["nodes"].clone()).unwrap_or_default();
            Some((
                op_types,
                nodes,
                p.folded.clone(),
                if p.optimized {
                    "optimized"
                } else {
                    "unoptimized"
                },
            ))
        }
        None => None,
    };
    let section = profile
        .as_ref()
        .map(|(op_types, nodes, folded, mode)| ProfileSection {
            mode,
            op_types,
            nodes,
            folded,
        });
    let html = render_html(&run.id, &run.report, section.as_ref())?;
    format::write_atomic(&args.out, html.as_bytes())?;
    let charts = match &args.charts {
        Some(dir) => assay_engine::viz::charts::write_chart_files(
            dir,
            &run.report.results,
            profile.as_ref().map(|p| p.0.as_slice()),
        )?,
        None => Vec::new(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"run_id": run.id, "report": args.out, "bytes": html.len(), "charts": charts})
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
