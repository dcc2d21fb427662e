//! `assay bench MODEL`

use std::{io::IsTerminal, path::PathBuf, time::Duration};

use assay_engine::{
    EngineError,
    bench::{
        self, BenchEvent, BenchObserver, BenchReport, BenchmarkPlan, OptLevel, Phase, Provider,
    },
    runtime,
};
use comfy_table::{CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use indicatif::{ProgressBar, ProgressStyle};

use super::emit_line;
use crate::{
    cli::{BenchArgs, Cli},
    format,
};

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let plan = plan_from_args(args)?;
    // Check the model before loading the runtime: a typo in a path is not a runtime problem.
    assay_engine::model::check_model_path(&plan.model)?;
    let rt = runtime::activate(cli.runtime.as_deref())?;

    let report = if args.events {
        bench::run_benchmark(rt, &plan, &mut EventsObserver)?
    } else {
        let mut bar = BarObserver::new(!args.json && std::io::stderr().is_terminal());
        let r = bench::run_benchmark(rt, &plan, &mut bar);
        bar.finish();
        r?
    };

    if let Some(out) = &args.out {
        format::write_atomic(out, &serde_json::to_vec_pretty(&report)?)?;
    }
    if args.events {
        emit_line(&BenchEvent::Result {
            report: Box::new(report),
        });
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
        if let Some(out) = &args.out {
            println!("result written to {}", out.display());
        }
    }
    Ok(())
}

fn plan_from_args(a: &BenchArgs) -> Result<BenchmarkPlan, EngineError> {
    let mut p = BenchmarkPlan::new(&a.model);
    p.providers = a
        .provider
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Provider::parse)
        .collect::<Result<_, _>>()?;
    p.providers.dedup();
    p.strict_provider = a.strict_provider;
    if let Some(b) = &a.batch {
        p.batches = bench::parse_list("--batch", b)?;
    }
    p.batch_dim = a.batch_dim.clone();
    p.concurrency = bench::parse_list("--concurrency", &a.concurrency)?;
    for d in &a.dim {
        let (n, v) = bench::parse_assignment("--dim", d)?;
        let v = v.parse::<i64>().map_err(|_| EngineError::InvalidOption {
            option: "--dim".into(),
            message: format!("'{d}': '{v}' is not a whole number"),
        })?;
        p.dims.insert(n.to_string(), v);
    }
    for s in &a.shape {
        let (n, v) = bench::parse_assignment("--shape", s)?;
        p.shapes
            .insert(n.to_string(), bench::parse_shape("--shape", v)?);
    }
    for i in &a.input {
        match i.split_once('=') {
            Some((n, f)) if !n.is_empty() && !f.is_empty() => {
                p.input_files.insert(n.to_string(), PathBuf::from(f));
            }
            _ if i.ends_with(".npz") => {
                p.input_files.insert("*".into(), PathBuf::from(i));
            }
            _ => {
                return Err(EngineError::InvalidOption {
                    option: "--input".into(),
                    message: format!("'{i}' is neither INPUT=FILE.npy nor FILE.npz"),
                });
            }
        }
    }
    for f in &a.fill {
        let (n, v) = bench::parse_assignment("--fill", f)?;
        let v = v.parse::<f64>().map_err(|_| EngineError::InvalidOption {
            option: "--fill".into(),
            message: format!("'{f}': '{v}' is not a number"),
        })?;
        p.fills.insert(n.to_string(), v);
    }
    p.intra_threads = a.intra_threads;
    p.inter_threads = a.inter_threads;
    p.opt_level = OptLevel::parse(&a.opt_level)?;
    p.warmup_runs = a.warmup;
    p.warmup_time = bench::parse_duration("--warmup-time", &a.warmup_time)?;
    p.min_iterations = a.iterations.max(1);
    p.min_duration = bench::parse_duration("--duration", &a.duration)?;
    p.seed = a.seed;
    p.int_range = match a.int_range.split_once("..") {
        Some((lo, hi)) => match (lo.trim().parse(), hi.trim().parse()) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            _ => {
                return Err(EngineError::InvalidOption {
                    option: "--int-range".into(),
                    message: format!("'{}' is not LO..HI", a.int_range),
                });
            }
        },
        None => {
            return Err(EngineError::InvalidOption {
                option: "--int-range".into(),
                message: format!("'{}' is not LO..HI", a.int_range),
            });
        }
    };
    p.placement_check = !a.no_placement_check;
    p.validate()?;
    Ok(p)
}

/// NDJSON on stdout, flushed per line: the console's worker protocol.
struct EventsObserver;

impl BenchObserver for EventsObserver {
    fn event(&mut self, event: BenchEvent) {
        emit_line(&event);
    }
}

/// A progress bar on stderr when it is a terminal; warnings always reach stderr.
struct BarObserver {
    bar: Option<ProgressBar>,
    configs: usize,
}

impl BarObserver {
    fn new(tty: bool) -> Self {
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

    fn finish(&mut self) {
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
            _ => {}
        }
    }
}

fn print_human(r: &BenchReport) {
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

    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
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
    ]);
    let mut footnote = false;
    for row in &r.results {
        let mut flag = |name: &str, v: f64| {
            if row.unsupported_percentiles.iter().any(|u| u == name) {
                footnote = true;
                format!("({})†", format::ms(v))
            } else {
                format::ms(v)
            }
        };
        let l = &row.latency_ms;
        let p50 = format!(
            "{} [{}–{}]",
            format::ms(l.p50),
            format::ms(row.ci95_ms.p50[0]),
            format::ms(row.ci95_ms.p50[1])
        );
        let p99 = if row.unsupported_percentiles.iter().any(|u| u == "p99") {
            flag("p99", l.p99)
        } else {
            format!(
                "{} [{}–{}]",
                format::ms(l.p99),
                format::ms(row.ci95_ms.p99[0]),
                format::ms(row.ci95_ms.p99[1])
            )
        };
        let provider = match &row.fallback {
            Some(_) => format!("{} → cpu", row.provider),
            None => row.provider.clone(),
        };
        t.add_row(vec![
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
    for w in &r.warnings {
        println!("{w}");
    }
}
