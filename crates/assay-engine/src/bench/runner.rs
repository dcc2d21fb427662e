//! The measurement loops.
//!
//! Each configuration gets fresh sessions (one per stream, since `Session::run` takes
//! `&mut self`), one cold inference, a warmup on every stream, and then a measurement that
//! starts on all streams at once (a barrier) and stops when both the iteration and the
//! duration minimums are met. A stream's hot loop does only this per inference: two clock
//! reads around `Session::run`, a push into a preallocated vector and two relaxed atomic
//! adds. Everything else — progress, stopping, GPU sampling — happens on the coordinator
//! thread, and the wall time the loop spends outside `Session::run` is measured and
//! reported as `overhead_us`.

use std::{
    collections::BTreeMap,
    sync::{
        Barrier, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use ort::session::{Session, SessionInputValue};

use super::{
    check::RowChecks,
    memory,
    plan::BenchmarkPlan,
    progress::{BenchEvent, BenchObserver, Phase},
    report::{BENCH_SCHEMA, BenchReport, BenchResult, ModelRef, Settings, Throughput},
};
use crate::{
    digest::sha256_file,
    error::{EngineError, Result},
    fingerprint,
    gpu::GpuSampler,
    inputs::{self, InputSpec, PreparedInput},
    runtime::Runtime,
    session::{Provider, ProviderSetup, build_session, nodes_by_provider, setup_provider},
    stats,
};

/// Runs every configuration of `plan` and returns the report.
pub fn run_benchmark(
    rt: &Runtime,
    plan: &BenchmarkPlan,
    observer: &mut dyn BenchObserver,
) -> Result<BenchReport> {
    plan.validate()?;
    let started = Instant::now();
    let started_at = fingerprint::unix_now();
    // Decode first: a broken file gets Assay's specific error rather than ORT's.
    crate::model::validate_model_file(&plan.model)?;
    let sha256 = sha256_file(&plan.model)?;
    let environment = fingerprint::collect(rt);

    let batches: Vec<Option<i64>> = if plan.batches.is_empty() {
        vec![None]
    } else {
        plan.batches.iter().map(|&b| Some(b)).collect()
    };
    let total = plan.providers.len() * batches.len() * plan.concurrency.len();
    observer.event(BenchEvent::Started {
        model: plan.model.display().to_string(),
        configs: total,
    });

    let mut warnings = Vec::new();
    let mut results = Vec::new();
    let mut placements: BTreeMap<Provider, BTreeMap<String, u64>> = BTreeMap::new();
    let mut checks = RowChecks::default();
    let mut index = 0;
    for &provider in &plan.providers {
        let setup = setup_provider(rt, provider, &plan.session)?;
        if let Some(f) = &setup.fallback {
            let message = format!("warning: {f}");
            observer.event(BenchEvent::Warning {
                message: message.clone(),
            });
            warnings.push(message);
        }
        for &batch in &batches {
            for &concurrency in &plan.concurrency {
                observer.event(BenchEvent::ConfigStarted {
                    index,
                    provider: provider.as_str().into(),
                    batch: batch.unwrap_or(1),
                    concurrency,
                });
                let mut row = run_config(
                    rt,
                    plan,
                    provider,
                    &setup,
                    batch,
                    concurrency,
                    index,
                    observer,
                )?;
                if plan.placement_check {
                    if let std::collections::btree_map::Entry::Vacant(e) =
                        placements.entry(provider)
                    {
                        e.insert(check_placement(rt, plan, &setup, batch)?);
                    }
                    row.executed_by = placements[&provider].clone();
                    if provider.is_gpu()
                        && setup.fallback.is_none()
                        && !row.executed_by.contains_key(provider.ort_name())
                    {
                        row.warnings.push(format!(
                            "no node ran on {}: ONNX Runtime placed every node elsewhere",
                            provider.ort_name()
                        ));
                    }
                }
                if let Some(check) = plan.check.as_ref().filter(|_| !observer.cancelled()) {
                    observer.event(BenchEvent::Phase {
                        index,
                        phase: Phase::Check,
                    });
                    // A check that cannot run (a reference that does not load, a tolerance
                    // for an output the model lacks) must not lose the row it measured.
                    match checks.row(rt, plan, check, provider, batch, observer) {
                        Ok(a) => row.accuracy = a,
                        Err(e) => row
                            .warnings
                            .push(format!("the accuracy check could not run: {e}")),
                    }
                }
                for w in &row.warnings {
                    observer.event(BenchEvent::Warning { message: w.clone() });
                }
                observer.event(BenchEvent::ConfigFinished {
                    index,
                    result: Box::new(row.clone()),
                });
                results.push(row);
                index += 1;
                if observer.cancelled() {
                    warnings.push("the run was cancelled; the results cover the configurations finished so far".into());
                    break;
                }
            }
        }
    }

    let first = results.first().expect("at least one configuration ran");
    let settings = Settings {
        warmup_runs: plan.warmup_runs,
        warmup_ms: plan.warmup_time.as_secs_f64() * 1e3,
        min_iterations: plan.min_iterations,
        min_duration_ms: plan.min_duration.as_secs_f64() * 1e3,
        intra_threads: plan.session.intra_threads,
        inter_threads: plan.session.inter_threads,
        opt_level: plan.session.opt_level.to_string(),
        seed: plan.inputs.seed,
        inputs: plan
            .inputs
            .input_files
            .iter()
            .map(|(k, v)| (k.clone(), v.display().to_string()))
            .collect(),
        dims: plan.inputs.dims.clone(),
        shapes: plan.inputs.shapes.clone(),
        fills: plan.inputs.fills.clone(),
        ranges: plan.inputs.ranges.clone(),
    };
    let report = BenchReport {
        schema: BENCH_SCHEMA.into(),
        run_id: None,
        model: ModelRef {
            path: plan.model.clone(),
            sha256,
        },
        environment,
        settings,
        load_ms: first.load_ms,
        first_inference_ms: first.first_inference_ms,
        warnings,
        results,
        started_at,
        total_s: started.elapsed().as_secs_f64(),
        served: None,
        comparisons: checks.into_reports(),
    };
    Ok(report)
}

/// What one stream measured.
struct StreamOutcome {
    samples: Vec<u64>,
    loop_ns: u64,
    end: Instant,
}

/// Counters the streams share with the coordinator.
struct Shared {
    stop: AtomicBool,
    ready: AtomicUsize,
    done: AtomicU64,
    sum_ns: AtomicU64,
    error: Mutex<Option<EngineError>>,
}

impl Shared {
    fn fail(&self, e: EngineError) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        self.stop.store(true, Relaxed);
    }
}

#[allow(clippy::too_many_arguments)]
fn run_config(
    rt: &Runtime,
    plan: &BenchmarkPlan,
    provider: Provider,
    setup: &ProviderSetup,
    batch: Option<i64>,
    concurrency: usize,
    index: usize,
    observer: &mut dyn BenchObserver,
) -> Result<BenchResult> {
    memory::reset_peak();
    observer.event(BenchEvent::Phase {
        index,
        phase: Phase::Load,
    });
    let t = Instant::now();
    let first_session = build_session(rt, &plan.model, &plan.session, setup, None)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;

    let specs = InputSpec::from_outlets(first_session.inputs())?;
    inputs::check_names(&specs, &plan.inputs)?;
    let batch_dim = inputs::batch_dim(&specs, &plan.inputs)?;
    inputs::check_batch(&specs, &plan.inputs, batch, &batch_dim)?;
    let (prepared, bound_batch) =
        inputs::prepare(&specs, &plan.model, &plan.inputs, batch, &batch_dim)?;
    let effective_batch = inputs::effective_batch(&prepared, &batch_dim, bound_batch);
    let ctx = format!(
        "{} on {}, batch {effective_batch}",
        plan.model.display(),
        provider.as_str()
    );

    let mut sessions = vec![first_session];
    for _ in 1..concurrency {
        sessions.push(build_session(rt, &plan.model, &plan.session, setup, None)?);
    }
    let values: Vec<Vec<ort::value::DynValue>> = (0..concurrency)
        .map(|_| {
            prepared
                .iter()
                .map(PreparedInput::to_value)
                .collect::<Result<_>>()
        })
        .collect::<Result<_>>()?;

    // The cold inference: the first run of a fresh session.
    let first_inference_ms = {
        let views: Vec<SessionInputValue<'_>> =
            values[0].iter().map(SessionInputValue::from).collect();
        let t = Instant::now();
        let out = sessions[0]
            .run(views.as_slice())
            .map_err(|e| EngineError::runtime(&ctx, e))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        drop(out);
        ms
    };

    let shared = Shared {
        stop: AtomicBool::new(false),
        ready: AtomicUsize::new(0),
        done: AtomicU64::new(0),
        sum_ns: AtomicU64::new(0),
        error: Mutex::new(None),
    };
    let barrier = Barrier::new(concurrency + 1);
    let mut gpu = None;
    let mut measure_start = Instant::now();

    let outcomes: Vec<StreamOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter_mut()
            .zip(values.iter())
            .map(|(session, vals)| {
                let (shared, barrier, ctx) = (&shared, &barrier, &ctx);
                scope.spawn(move || stream(session, vals, plan, shared, barrier, ctx))
            })
            .collect();

        // Warmup: report progress until every stream is ready, then release them together.
        observer.event(BenchEvent::Phase {
            index,
            phase: Phase::Warmup,
        });
        let warm_start = Instant::now();
        let mut next_report = Instant::now();
        while shared.ready.load(Relaxed) < concurrency {
            if Instant::now() >= next_report {
                next_report += Duration::from_millis(100);
                observer.event(BenchEvent::Progress {
                    index,
                    phase: Phase::Warmup,
                    done: 0,
                    elapsed_ms: warm_start.elapsed().as_secs_f64() * 1e3,
                    target_iterations: plan.warmup_runs,
                    target_ms: plan.warmup_time.as_secs_f64() * 1e3,
                    window_mean_ms: None,
                    window_count: 0,
                });
            }
            if observer.cancelled() {
                shared.stop.store(true, Relaxed);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if provider.is_gpu() && setup.fallback.is_none() {
            gpu = GpuSampler::start();
        }
        measure_start = Instant::now();
        barrier.wait();
        observer.event(BenchEvent::Phase {
            index,
            phase: Phase::Measure,
        });

        let (mut last_done, mut last_sum) = (0u64, 0u64);
        let mut next_report = measure_start + Duration::from_millis(100);
        while !shared.stop.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
            let done = shared.done.load(Relaxed);
            let elapsed = measure_start.elapsed();
            if done >= plan.min_iterations && elapsed >= plan.min_duration || observer.cancelled() {
                shared.stop.store(true, Relaxed);
            }
            if Instant::now() >= next_report {
                next_report += Duration::from_millis(100);
                let sum = shared.sum_ns.load(Relaxed);
                let window_count = done - last_done;
                observer.event(BenchEvent::Progress {
                    index,
                    phase: Phase::Measure,
                    done,
                    elapsed_ms: elapsed.as_secs_f64() * 1e3,
                    target_iterations: plan.min_iterations,
                    target_ms: plan.min_duration.as_secs_f64() * 1e3,
                    window_mean_ms: (window_count > 0)
                        .then(|| (sum - last_sum) as f64 / window_count as f64 / 1e6),
                    window_count,
                });
                (last_done, last_sum) = (done, sum);
            }
        }
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let gpu = gpu.and_then(GpuSampler::finish);
    if let Some(e) = shared.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let peak_rss_bytes = memory::peak_rss_bytes();

    let end = outcomes
        .iter()
        .map(|o| o.end)
        .max()
        .unwrap_or_else(Instant::now);
    let measured_s = end.duration_since(measure_start).as_secs_f64();
    let total_loop_ns: u64 = outcomes.iter().map(|o| o.loop_ns).sum();
    let mut all: Vec<u64> = Vec::with_capacity(outcomes.iter().map(|o| o.samples.len()).sum());
    for o in &outcomes {
        all.extend_from_slice(&o.samples);
    }
    let run_ns: u64 = all.iter().sum();
    let n = all.len();
    let summary = stats::summarize_ns(&all)
        .ok_or_else(|| EngineError::runtime(&ctx, "no inference completed"))?;
    let mut warnings = Vec::new();
    if !summary.unsupported.is_empty() {
        warnings.push(format!(
            "batch {effective_batch}, concurrency {concurrency}: {n} samples cannot support {} (each needs at least 10 samples beyond it); raise the minimum iterations or the duration",
            summary.unsupported.join(", ")
        ));
    }
    let inferences_per_s = if measured_s > 0.0 {
        n as f64 / measured_s
    } else {
        0.0
    };
    Ok(BenchResult {
        provider: provider.as_str().into(),
        executed_by: BTreeMap::new(),
        fallback: setup.fallback.clone(),
        batch: effective_batch,
        concurrency,
        input_shapes: prepared
            .iter()
            .map(|p| (p.spec.name.clone(), p.tensor.shape.clone()))
            .collect(),
        samples: n,
        latency_ms: summary.latency_ms,
        ci95_ms: summary.ci95_ms,
        unsupported_percentiles: summary.unsupported.iter().map(|s| s.to_string()).collect(),
        throughput: Throughput {
            inferences_per_s,
            samples_per_s: inferences_per_s * effective_batch as f64,
        },
        overhead_us: if n > 0 {
            total_loop_ns.saturating_sub(run_ns) as f64 / n as f64 / 1e3
        } else {
            0.0
        },
        peak_rss_bytes,
        gpu,
        load_ms,
        first_inference_ms,
        measured_s,
        accuracy: None,
        load: None,
        warnings,
        samples_ns: all,
    })
}

/// One stream: warm up, wait for the others, then measure until told to stop.
fn stream(
    session: &mut Session,
    values: &[ort::value::DynValue],
    plan: &BenchmarkPlan,
    shared: &Shared,
    barrier: &Barrier,
    ctx: &str,
) -> StreamOutcome {
    let views: Vec<SessionInputValue<'_>> = values.iter().map(SessionInputValue::from).collect();
    let inputs = views.as_slice();

    let warm_start = Instant::now();
    let mut runs = 0u64;
    while (runs < plan.warmup_runs || warm_start.elapsed() < plan.warmup_time)
        && !shared.stop.load(Relaxed)
    {
        if let Err(e) = session.run(inputs) {
            shared.fail(EngineError::runtime(ctx, e));
            break;
        }
        runs += 1;
    }
    shared.ready.fetch_add(1, Relaxed);
    barrier.wait();

    let mut samples = Vec::with_capacity(1 << 16);
    let loop_start = Instant::now();
    while !shared.stop.load(Relaxed) {
        let t0 = Instant::now();
        let out = session.run(inputs);
        let t1 = Instant::now();
        match out {
            Ok(out) => drop(out),
            Err(e) => {
                shared.fail(EngineError::runtime(ctx, e));
                break;
            }
        }
        let ns = t1.duration_since(t0).as_nanos() as u64;
        samples.push(ns);
        shared.done.fetch_add(1, Relaxed);
        shared.sum_ns.fetch_add(ns, Relaxed);
    }
    let end = Instant::now();
    StreamOutcome {
        samples,
        loop_ns: end.duration_since(loop_start).as_nanos() as u64,
        end,
    }
}

/// Runs one profiled inference to learn which provider ran each node.
fn check_placement(
    rt: &Runtime,
    plan: &BenchmarkPlan,
    setup: &ProviderSetup,
    batch: Option<i64>,
) -> Result<BTreeMap<String, u64>> {
    let dir = tempfile::tempdir().map_err(|e| EngineError::io(std::env::temp_dir(), e))?;
    let (_, trace) = profiled_runs(rt, plan, setup, batch, 0, 1, &dir.path().join("placement"))?;
    nodes_by_provider(&trace)
}

/// Runs a session with ONNX Runtime's profiler on: `warmup` untimed runs, then `iterations`
/// timed ones. Returns the timed latencies (ns) and the trace file, written at `prefix_*.json`.
pub(crate) fn profiled_runs(
    rt: &Runtime,
    plan: &BenchmarkPlan,
    setup: &ProviderSetup,
    batch: Option<i64>,
    warmup: u64,
    iterations: u64,
    prefix: &std::path::Path,
) -> Result<(Vec<u64>, std::path::PathBuf)> {
    let mut session = build_session(rt, &plan.model, &plan.session, setup, Some(prefix))?;
    let specs = InputSpec::from_outlets(session.inputs())?;
    let batch_dim = inputs::batch_dim(&specs, &plan.inputs)?;
    let (prepared, _) = inputs::prepare(&specs, &plan.model, &plan.inputs, batch, &batch_dim)?;
    let values: Vec<_> = prepared
        .iter()
        .map(PreparedInput::to_value)
        .collect::<Result<_>>()?;
    let views: Vec<SessionInputValue<'_>> = values.iter().map(SessionInputValue::from).collect();
    let mut samples = Vec::with_capacity(iterations as usize);
    for i in 0..warmup + iterations {
        let t = Instant::now();
        let out = session
            .run(views.as_slice())
            .map_err(|e| EngineError::runtime("profiled run", e))?;
        let ns = t.elapsed().as_nanos() as u64;
        drop(out);
        if i >= warmup {
            samples.push(ns);
        }
    }
    let trace = session
        .end_profiling()
        .map_err(|e| EngineError::runtime("ending the profile", e))?;
    let path = std::path::PathBuf::from(&trace);
    // ORT writes the trace relative to the working directory when given a relative prefix.
    let path = if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    };
    Ok((samples, path))
}
