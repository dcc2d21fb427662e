//! `assay load URL MODEL`

use std::io::IsTerminal;

use assay_engine::bench::{Arrivals, BenchReport, LoadMode};
use assay_load::{LoadError, LoadPlan, Target};
use comfy_table::{CellAlignment, Table, presets::UTF8_BORDERS_ONLY};

use super::{
    bench::{BarObserver, EventsObserver, percentile_cell, with_interval},
    plan::input_plan,
    store::History,
};
use crate::{
    cli::{Cli, LoadArgs},
    format,
};

pub fn run(cli: &Cli, args: &LoadArgs) -> anyhow::Result<()> {
    let mut target = Target::parse(
        &args.url,
        &args.model,
        args.model_version.clone(),
        args.binary,
        args.token.clone(),
    )?;
    if args.ca_cert.is_some() && !target.tls {
        return Err(crate::exit::UsageError(
            "--ca-cert is for https:// and grpcs:// targets".into(),
        )
        .into());
    }
    target.ca_cert = args.ca_cert.clone();
    let mode = if args.rate.is_empty() {
        LoadMode::Closed {
            concurrency: if args.concurrency.is_empty() {
                vec![1]
            } else {
                args.concurrency.clone()
            },
        }
    } else {
        LoadMode::Open {
            rates: args.rate.clone(),
            arrivals: args.arrivals,
        }
    };
    let plan = LoadPlan {
        target,
        mode,
        inputs: input_plan(&args.inputs),
        batch: args.batch,
        warmup: args.warmup_time,
        duration: args.duration,
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        model_file: args.model_file.clone(),
        seed: args.inputs.seed,
    };
    plan.validate()?;
    if let Some(f) = &plan.model_file {
        assay_engine::model::check_model_path(f)?;
    }
    let history = if args.no_save {
        None
    } else {
        Some(History::open(cli)?)
    };
    // One thread for the whole client: the load generator must cost the machine as little
    // as it can, and its CPU per request is measured on this thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = if args.output.events {
        rt.block_on(assay_load::run_load(&plan, &mut EventsObserver))
    } else {
        let mut bar = BarObserver::new(!args.output.json && std::io::stderr().is_terminal());
        let r = rt.block_on(assay_load::run_load(&plan, &mut bar));
        bar.finish();
        r
    };
    let report = outcome.map_err(|e| match e {
        // Its setting is named as a flag by the exit module.
        LoadError::Engine(e) => anyhow::Error::from(e),
        e => anyhow::Error::from(e),
    })?;
    let saved = history
        .as_ref()
        .map(|h| h.run(h.store.save_bench(&report, None)));
    super::bench::deliver(report, saved, &args.output, print_human)
}

pub(crate) fn print_human(r: &BenchReport) {
    let Some(s) = &r.served else {
        return super::bench::print_human(r);
    };
    let e = &r.environment;
    println!(
        "target   {}  ({}, {})",
        r.model.path.display(),
        s.protocol.label(),
        if s.server.is_empty() {
            "server unnamed"
        } else {
            &s.server
        }
    );
    println!(
        "client   {} · {} cores · {}",
        e.cpu_model, e.logical_cores, e.os
    );
    println!(
        "load     {} · warm-up {} s, measured {} s per level · first request (cold) {} ms\n",
        match &s.mode {
            LoadMode::Closed { .. } => "closed loop",
            LoadMode::Open {
                arrivals: Arrivals::Poisson,
                ..
            } => "open loop, Poisson arrivals",
            LoadMode::Open {
                arrivals: Arrivals::Constant,
                ..
            } => "open loop, evenly spaced arrivals",
        },
        s.warmup_s,
        s.duration_s,
        format::ms(r.first_inference_ms)
    );
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "protocol",
        "batch",
        "load",
        "requests",
        "errors",
        "p50 ms [95% CI]",
        "p90",
        "p99 ms [95% CI]",
        "p99.9",
        "req/s",
        "samples/s",
        "client CPU/req",
        "CO added",
    ]);
    let mut footnote = false;
    for row in &r.results {
        let l = &row.latency_ms;
        let mut flag = |name: &str, v: f64| percentile_cell(row, name, v, &mut footnote);
        let p99 = if row.unsupported_percentiles.iter().any(|u| u == "p99") {
            flag("p99", l.p99)
        } else {
            with_interval(l.p99, row.ci95_ms.p99)
        };
        let lf = row.load.as_ref();
        t.add_row(vec![
            row.provider.clone(),
            row.batch.to_string(),
            match lf.and_then(|f| f.offered_per_s) {
                Some(rate) => format!("{rate}/s"),
                None => format!("c={}", row.concurrency),
            },
            format::count(row.samples as u64),
            lf.map(|f| f.errors.to_string()).unwrap_or_default(),
            with_interval(l.p50, row.ci95_ms.p50),
            flag("p90", l.p90),
            p99,
            flag("p999", l.p999),
            format!("{:.1}", row.throughput.inferences_per_s),
            format!("{:.1}", row.throughput.samples_per_s),
            lf.map(|f| format!("{:.1} µs", f.client_cpu_us_per_request))
                .unwrap_or_default(),
            lf.map(|f| f.coordinated_omission.added_samples.to_string())
                .unwrap_or_default(),
        ]);
    }
    for c in 1..13 {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{t}");
    if footnote {
        println!(
            "† fewer than 10 samples lie beyond this percentile: an estimate, not a measurement (raise --duration)."
        );
    }
    println!(
        "Latencies are corrected for coordinated omission (\"CO added\": requests a closed-loop stall held back, counted in the percentiles)."
    );
    for row in &r.results {
        for w in &row.warnings {
            println!("{w}");
        }
    }
    for w in &r.warnings {
        println!("{w}");
    }
}
