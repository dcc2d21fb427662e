//! `assay profile MODEL --out DIR`

use std::io::IsTerminal;

use assay_engine::{
    profile::{self, ProfileEvent, ProfilePlan, ProfileReport},
    runtime,
};
use assay_store::ProfileRecord;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde_json::json;

use super::{
    bench::{BarObserver, EventsObserver},
    emit_line,
    plan::plan_from_args,
    store::History,
};
use crate::{
    cli::{Cli, ProfileArgs},
    format,
};

pub fn run(cli: &Cli, args: &ProfileArgs) -> anyhow::Result<()> {
    let bench = plan_from_args(&args.run, &[1])?;
    assay_engine::model::check_model_path(&bench.model)?;
    let rt = runtime::activate(cli.runtime.as_deref())?;
    let history = if args.run.no_save {
        None
    } else {
        Some(History::open(cli)?)
    };
    let plan = ProfilePlan {
        bench,
        optimize: !args.no_optimize,
        iterations: args.profile_iterations,
        out_dir: args.out.clone(),
    };

    let (report, mut bench_report) = if args.events {
        profile::run_profile(rt, &plan, &mut EventsObserver)?
    } else {
        let mut bar = BarObserver::new(!args.json && std::io::stderr().is_terminal());
        let r = profile::run_profile(rt, &plan, &mut bar);
        bar.finish();
        r?
    };

    let record = ProfileRecord {
        optimized: plan.optimize,
        operators: (&report).into(),
        folded: report.folded.clone(),
        trace_path: std::fs::canonicalize(args.out.join("trace.json"))
            .ok()
            .map(|p| p.display().to_string()),
    };
    let saved = history
        .as_ref()
        .map(|h| h.run(h.store.save_bench(&bench_report, Some(&record))));
    if let Some(Ok(id)) = &saved {
        bench_report.run_id = Some(id.clone());
    }
    let run_id = bench_report.run_id.clone();
    if args.events {
        emit_line(&ProfileEvent::Result {
            profile: Box::new(report),
            run_id,
        });
    } else if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["run_id"] = json!(run_id);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_human(&report, run_id.as_deref());
    }
    match saved {
        Some(Err(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

fn print_human(r: &ProfileReport, run_id: Option<&str>) {
    println!(
        "profile of {} · {} graph{} · {} · batch {}",
        r.model.path.display(),
        r.mode,
        if r.mode == "optimized" {
            " (node names are ONNX Runtime's fused nodes; --no-optimize maps to the original graph)"
        } else {
            ""
        },
        r.provider,
        r.batch
    );
    println!(
        "{} profiled inferences · kernel time {} ms per inference · profiler overhead: p50 {} ms profiled vs {} ms unprofiled ({:.2}×)\n",
        r.inferences,
        format::ms(r.kernel_ms_per_inference),
        format::ms(r.overhead.profiled_p50_ms),
        format::ms(r.overhead.unprofiled_p50_ms),
        r.overhead.ratio
    );
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "op type",
        "nodes",
        "µs / inference",
        "share",
        "p50 µs / call",
    ]);
    for o in r.op_types.iter().take(12) {
        t.add_row(vec![
            o.op_type.clone(),
            o.nodes.to_string(),
            format!("{:.2}", o.per_inference_us),
            format!("{:.1}%", o.share_pct),
            format!("{:.2}", o.p50_us),
        ]);
    }
    println!("{t}");
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "costliest nodes",
        "op",
        "µs / inference",
        "share",
        "shapes in → out",
    ]);
    for n in r.nodes.iter().take(10) {
        t.add_row(vec![
            n.name.clone(),
            n.op_type.clone(),
            format!("{:.2}", n.per_inference_us),
            format!("{:.1}%", n.share_pct),
            format!("{} → {}", n.input_shapes, n.output_shapes),
        ]);
    }
    println!("{t}");
    println!("written to {}: {}", r.out_dir.display(), r.files.join(", "));
    if let Some(id) = run_id {
        println!("saved as run {id}");
    }
}
