//! `assay bench MODEL`

use std::{io::IsTerminal, time::Duration};

use assay_engine::{
    bench::{self, BenchEvent, BenchObserver, BenchReport, Phase},
    runtime,
};
use comfy_table::{CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use indicatif::{ProgressBar, ProgressStyle};

use super::{emit_line, plan::plan_from_args, store::History};
use crate::{
    cli::{BenchArgs, Cli, DocumentArgs},
    exit::UsageError,
    format,
};

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let mut plan = plan_from_args(&args.run, &args.concurrency)?;
    plan.placement_check = !args.no_placement_check;
    plan.check = match &args.check_against {
        Some(spec) => Some(bench::AccuracyCheck {
            reference: spec.resolve(
                &plan.model,
                args.run.intra_threads,
                args.run.strict_provider,
            ),
            tolerances: args.tolerance.tolerances()?,
            sets: args.check_sets,
        }),
        None if args.tolerance.given() => {
            return Err(UsageError(
                "--atol, --rtol and --check set the tolerances of --check-against: give it too"
                    .into(),
            )
            .into());
        }
        None => None,
    };
    plan.validate()?;
    // Check the model (and the check's reference) before loading the runtime: a typo in a
    // path is not a runtime problem, and is better said before a long measurement.
    assay_engine::model::check_model_path(&plan.model)?;
    if let Some(c) = &plan.check {
        assay_engine::model::check_model_path(&c.reference.model)?;
    }
    let rt = runtime::activate(cli.runtime.as_deref())?;

    // Open the history first: a read-only or locked database is reported before the run.
    let history = if args.run.no_save {
        None
    } else {
        Some(History::open(cli)?)
    };
    let mut report = if args.output.events {
        bench::run_benchmark(rt, &plan, &mut EventsObserver)?
    } else {
        let mut bar = BarObserver::new(!args.output.json && std::io::stderr().is_terminal());
        let r = bench::run_benchmark(rt, &plan, &mut bar);
        bar.finish();
        r?
    };
    // A failed save must not lose the measurement: the results are still printed (and
    // written to --out), then the error is reported. The rows' comparisons are saved first,
    // so that the run's rows name them.
    let saved = history.as_ref().map(|h| {
        let ids = report
            .comparisons
            .iter()
            .map(|c| h.run(h.store.save_accuracy(c)))
            .collect::<Result<Vec<_>, _>>()?;
        report.link_comparisons(&ids);
        h.run(h.store.save_bench(&report, None))
    });
    deliver(report, saved, &args.output, print_human)
}

/// Hands a finished benchmark or load report out: its history id, the `--out` file, then
/// the `result` event, the JSON document or the table. A failed save is reported after the
/// results are out, so the measurement is never lost.
pub(crate) fn deliver(
    mut report: BenchReport,
    saved: Option<Result<String, assay_store::StoreError>>,
    output: &DocumentArgs,
    print: fn(&BenchReport),
) -> anyhow::Result<()> {
    if let Some(Ok(id)) = &saved {
        report.run_id = Some(id.clone());
    }
    if let Some(out) = &output.out {
        format::write_atomic(out, &serde_json::to_vec_pretty(&report)?)?;
    }
    if output.events {
        emit_line(&BenchEvent::Result {
            report: Box::new(report),
        });
    } else if output.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
        if let Some(out) = &output.out {
            println!("result written to {}", out.display());
        }
        if let Some(id) = &report.run_id {
            println!("saved as run {id}");
        }
    }
    match saved {
        Some(Err(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

/// NDJSON on stdout, flushed per line: the console's worker protocol.
pub(crate) struct EventsObserver;

impl BenchObserver for EventsObserver {
    fn event(&mut self, event: BenchEvent) {
        emit_line(&event);
    }
}

/// A progress bar on stderr when it is a terminal; warnings always reach stderr.
pub(crate) struct BarObserver {
    bar: Option<ProgressBar>,
    configs: usize,
}

impl BarObserver {
    pub(crate) fn new(tty: bool) -> Self {
        let bar = tty.then(|| {
            let b = ProgressBar::new(1000);
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        BarObserver { bar, configs: 0 }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl BenchObserver for BarObserver {
    fn event(&mut self, event: BenchEvent) {
        match event {
            BenchEvent::Warning { message } => match &self.bar {
                Some(b) => b.println(message),
                None => eprintln!("{message}"),
            },
            BenchEvent::Started { configs, .. } => self.configs = configs,
            BenchEvent::ConfigStarted {
                index,
                provider,
                batch,
                concurrency,
            } => {
                if let Some(b) = &self.bar {
                    b.set_prefix(format!(
                        "[{}/{}] {provider} batch {batch} x{concurrency}",
                        index + 1,
                        self.configs
                    ));
                    b.set_position(0);
                }
            }
            BenchEvent::Progress {
                phase,
                done,
                elapsed_ms,
                target_iterations,
                target_ms,
                window_mean_ms,
                ..
            } => {
                if let Some(b) = &self.bar {
                    let frac = (elapsed_ms / target_ms.max(1.0)).min(
                        if phase == Phase::Measure {
                            (done as f64 / target_iterations.max(1) as f64).max(0.0)
                        } else {
                            1.0
                        }
                        .max(elapsed_ms / target_ms.max(1.0)),
                    );
                    b.set_position((frac.min(1.0) * 1000.0) as u64);
                    let what = if phase == Phase::Warmup {
                        "warming up".to_string()
                    } else {
                        format!("{done} runs")
                    };
                    b.set_message(match window_mean_ms {
                        Some(m) => format!("{what}, {} ms", format::ms(m)),
                        None => what,
                    });
                }
            }
            BenchEvent::Phase {
                phase: Phase::Load, ..
            } => {
                if let Some(b) = &self.bar {
                    b.set_message("loading the model");
                }
            }
            BenchEvent::Phase {
                phase: Phase::Check,
                ..
            } => {
                if let Some(b) = &self.bar {
                    b.set_message("comparing its outputs against the reference");
                }
            }
            _ => {}
        }
    }
}

/// A percentile's cell: in parentheses with a † (and `footnote` set) when the sample count
/// cannot support it.
pub(crate) fn percentile_cell(
    row: &assay_engine::bench::BenchResult,
    name: &str,
    v: f64,
    footnote: &mut bool,
) -> String {
    if row.unsupported_percentiles.iter().any(|u| u == name) {
        *footnote = true;
        format!("({})†", format::ms(v))
    } else {
        format::ms(v)
    }
}

/// A percentile with its 95% interval.
pub(crate) fn with_interval(v: f64, ci: [f64; 2]) -> String {
    format!(
        "{} [{}–{}]",
        format::ms(v),
        format::ms(ci[0]),
        format::ms(ci[1])
    )
}

pub(crate) fn print_human(r: &BenchReport) {
    let e = &r.environment;
    println!(
        "model    {}  (sha256 {}…)",
        r.model.path.display(),
        &r.model.sha256[..16]
    );
    println!(
        "runtime  ONNX Runtime {}  [{}]",
        e.ort_version,
        e.ort_providers.join(", ")
    );
    println!(
        "machine  {} · {} cores · {} · {}",
        e.cpu_model,
        e.logical_cores,
        format::bytes(e.memory_bytes),
        e.os
    );
    for g in &e.gpus {
        println!(
            "gpu      {} (driver {}, {})",
            g.name,
            g.driver_version,
            format::bytes(g.memory_bytes)
        );
    }
    println!(
        "load     {} ms · first inference (cold) {} ms\n",
        format::ms(r.load_ms),
        format::ms(r.first_inference_ms)
    );

    let checked = r.results.iter().any(|row| row.accuracy.is_some());
    let mut t = Table::new();
    let mut header = vec![
        "provider",
        "batch",
        "conc",
        "samples",
        "p50 ms [95% CI]",
        "p90",
        "p99 ms [95% CI]",
        "p99.9",
        "mean ± sd (cv)",
        "inf/s",
        "samples/s",
        "overhead",
        "peak RSS",
    ];
    if checked {
        header.extend(["accuracy", "max abs err"]);
    }
    t.load_preset(UTF8_BORDERS_ONLY).set_header(header);
    let mut footnote = false;
    for row in &r.results {
        let mut flag = |name: &str, v: f64| percentile_cell(row, name, v, &mut footnote);
        let l = &row.latency_ms;
        let p50 = with_interval(l.p50, row.ci95_ms.p50);
        let p99 = if row.unsupported_percentiles.iter().any(|u| u == "p99") {
            flag("p99", l.p99)
        } else {
            with_interval(l.p99, row.ci95_ms.p99)
        };
        let provider = match &row.fallback {
            Some(_) => format!("{} → cpu", row.provider),
            None => row.provider.clone(),
        };
        let mut cells = vec![
            provider,
            row.batch.to_string(),
            row.concurrency.to_string(),
            format::count(row.samples as u64),
            p50,
            flag("p90", l.p90),
            p99,
            flag("p999", l.p999),
            format!(
                "{} ± {} ({:.1}%)",
                format::ms(l.mean),
                format::ms(l.stddev),
                l.cv * 100.0
            ),
            format!("{:.1}", row.throughput.inferences_per_s),
            format!("{:.1}", row.throughput.samples_per_s),
            format!("{:.2} µs", row.overhead_us),
            row.peak_rss_bytes
                .map(format::bytes)
                .unwrap_or_else(|| "-".into()),
        ];
        if checked {
            match &row.accuracy {
                Some(a) => {
                    cells.extend([a.verdict.word().to_string(), format!("{:.3e}", a.max_abs)])
                }
                None => cells.extend(["-".to_string(), "-".to_string()]),
            }
        }
        t.add_row(cells);
    }
    for c in (1..13).chain(if checked { 14..15 } else { 0..0 }) {
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
    for row in &r.results {
        if !row.executed_by.is_empty() {
            let placed: Vec<String> = row
                .executed_by
                .iter()
                .map(|(p, n)| format!("{p}: {n} nodes"))
                .collect();
            println!(
                "executed by ({} batch {}): {}",
                row.provider,
                row.batch,
                placed.join(", ")
            );
            break;
        }
    }
    if let Some(a) = r.results.iter().find_map(|row| row.accuracy.as_ref()) {
        let ids: Vec<&str> = r
            .results
            .iter()
            .filter_map(|row| row.accuracy.as_ref()?.comparison_id.as_deref())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        println!(
            "outputs checked against {} on {} input set{} (noise: outside tolerance but within the reference's own run-to-run difference){}",
            a.reference,
            a.sets,
            if a.sets == 1 { "" } else { "s" },
            if ids.is_empty() {
                String::new()
            } else {
                format!("; comparisons saved as {}", ids.join(", "))
            }
        );
    }
    for w in &r.warnings {
        println!("{w}");
    }
}
