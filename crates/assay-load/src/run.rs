//! The load itself: connect, read the metadata, make and encode the request, then each level
//! (closed-loop concurrency or open-loop rate) with a warm-up, a measurement, progress events
//! and a result row.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use assay_engine::{
    bench::{
        Arrivals, BENCH_SCHEMA, BenchEvent, BenchObserver, BenchReport, BenchResult, CoCorrection,
        LoadFigures, LoadMode, ModelRef, Phase, ServedTarget, Settings, Throughput,
    },
    fingerprint, stats,
};
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use tokio::sync::Semaphore;

use crate::{
    correction, cpu,
    error::LoadError,
    lone::{Lone, LoneRequest},
    metadata,
    plan::LoadPlan,
    request::{self, Encoded},
    target::Target,
    wire::{self, Conn, Failure, Prepared},
};

/// How often progress is reported.
const TICK: Duration = Duration::from_millis(250);
/// Distinct error messages kept per level.
const ERROR_EXAMPLES: usize = 5;

/// Runs the plan against its server and returns the report (not yet stored). Must run on a
/// Tokio runtime with I/O and timers; a current-thread one keeps the client on one core.
pub async fn run_load(
    plan: &LoadPlan,
    observer: &mut dyn BenchObserver,
) -> Result<BenchReport, LoadError> {
    plan.validate()?;
    let started = Instant::now();
    let started_at = fingerprint::unix_now();
    let target = &plan.target;
    let prepared = Arc::new(Prepared::new(target)?);
    let mut conn = wire::connect(target).await?;
    let model = metadata::fetch(target, &prepared, &mut conn).await?;
    let model_url = target.model_url();
    let (tensors, batch) = assay_engine::inputs::prepare_served(
        &model.inputs,
        Path::new(&model_url),
        &plan.inputs,
        plan.batch,
    )?;
    let names: Vec<String> = model.inputs.iter().map(|i| i.name.clone()).collect();
    let encoded = Arc::new(request::encode(target, &names, &tensors)?);
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    // The first (cold) request, which also shows at once whether the server accepts it.
    let first = Instant::now();
    let answered = tokio::time::timeout(plan.timeout, conn.send(&prepared, &encoded))
        .await
        .unwrap_or_else(|_| {
            Err(Failure {
                kind: assay_engine::ErrorKind::Unavailable,
                message: format!("timed out: no answer within {:?}", plan.timeout),
                broken: true,
            })
        });
    answered.map_err(|f| {
        // "HTTP 400: what the server said" → the status, and what it said.
        let (status, said) = f.message.split_once(": ").unwrap_or(("failed", &f.message));
        LoadError::Server {
            url: format!("{model_url}/infer"),
            status: status.to_string(),
            message: said.to_string(),
            kind: f.kind,
        }
    })?;
    let first_inference_ms = first.elapsed().as_secs_f64() * 1e3;
    drop(conn);

    let levels: Vec<Level> = match &plan.mode {
        LoadMode::Closed { concurrency } => concurrency.iter().map(|&c| Level::Closed(c)).collect(),
        LoadMode::Open { rates, .. } => rates.iter().map(|&r| Level::Open(r)).collect(),
    };
    observer.event(BenchEvent::Started {
        model: model_url.clone(),
        configs: levels.len(),
    });
    let input_shapes: BTreeMap<String, Vec<i64>> = names
        .iter()
        .zip(&tensors)
        .map(|(n, t)| (n.clone(), t.shape.clone()))
        .collect();
    let ctx = Arc::new(Context {
        target: target.clone(),
        prepared,
        encoded,
        plan: plan.clone(),
    });
    let mut results = Vec::with_capacity(levels.len());
    let mut warnings = Vec::new();
    for (index, level) in levels.iter().enumerate() {
        observer.event(BenchEvent::ConfigStarted {
            index,
            provider: target.protocol.label().into(),
            batch,
            concurrency: level.concurrency(),
        });
        let outcome = match *level {
            Level::Closed(c) => closed_level(&ctx, index, c, observer).await?,
            Level::Open(rate) => open_level(&ctx, index, rate, observer).await?,
        };
        let row = result_row(&ctx, level, outcome, batch, &input_shapes)?;
        for w in &row.warnings {
            observer.event(BenchEvent::Warning { message: w.clone() });
        }
        observer.event(BenchEvent::ConfigFinished {
            index,
            result: Box::new(row.clone()),
        });
        results.push(row);
    }
    if target.version.is_none() {
        warnings.push(
            "no version was asked for, so the server chose one per request (a gateway's canary split shows here)".into(),
        );
    }
    let sha256 = match &plan.model_file {
        Some(p) => assay_engine::digest::sha256_file(p)?,
        None => {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(
                format!("served:{model_url}").as_bytes(),
            ))
        }
    };
    let mode = plan.mode.clone();
    Ok(BenchReport {
        schema: BENCH_SCHEMA.into(),
        run_id: None,
        model: ModelRef {
            path: model_url.clone().into(),
            sha256,
        },
        environment: fingerprint::collect_host(),
        settings: Settings {
            warmup_runs: 0,
            warmup_ms: plan.warmup.as_secs_f64() * 1e3,
            min_iterations: 0,
            min_duration_ms: plan.duration.as_secs_f64() * 1e3,
            intra_threads: None,
            inter_threads: None,
            opt_level: "served".into(),
            seed: plan.seed,
            inputs: names
                .iter()
                .map(|n| {
                    let source = plan
                        .inputs
                        .input_files
                        .get(n)
                        .or_else(|| plan.inputs.input_files.get("*"))
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "synthetic".into());
                    (n.clone(), source)
                })
                .collect(),
            dims: plan.inputs.dims.clone(),
            shapes: plan.inputs.shapes.clone(),
            fills: plan.inputs.fills.clone(),
            ranges: plan.inputs.ranges.clone(),
        },
        load_ms,
        first_inference_ms,
        results,
        warnings,
        started_at,
        total_s: started.elapsed().as_secs_f64(),
        served: Some(ServedTarget {
            url: target.url.clone(),
            protocol: target.protocol,
            model: target.model.clone(),
            version: target.version.clone(),
            server: model.server,
            mode,
            warmup_s: plan.warmup.as_secs_f64(),
            duration_s: plan.duration.as_secs_f64(),
        }),
        comparisons: Vec::new(),
    })
}

/// One level of the load.
#[derive(Debug, Clone, Copy)]
enum Level {
    Closed(usize),
    Open(f64),
}

impl Level {
    /// The row's concurrency: the level's in a closed loop, 0 (none fixed) in an open one.
    fn concurrency(&self) -> usize {
        match self {
            Level::Closed(c) => *c,
            Level::Open(_) => 0,
        }
    }

    fn describe(&self) -> String {
        match self {
            Level::Closed(c) => format!("concurrency {c}"),
            Level::Open(r) => format!("{r} requests/s"),
        }
    }
}

/// What every request of a run shares.
struct Context {
    target: Target,
    prepared: Arc<Prepared>,
    encoded: Arc<Encoded>,
    plan: LoadPlan,
}

/// Counters the senders share with the progress ticker.
#[derive(Default)]
struct Counters {
    done: AtomicU64,
    sum_ns: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Counters {
    fn start(&self) {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(n, Ordering::Relaxed);
    }

    fn finish(&self, latency_ns: u64, ok: bool) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if ok {
            self.done.fetch_add(1, Ordering::Relaxed);
            self.sum_ns.fetch_add(latency_ns, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What one level measured.
struct Outcome {
    /// (send offset from the measurement start, latency) of each measured success, in
    /// send order.
    samples: Vec<(u64, u64)>,
    errors: u64,
    error_examples: Vec<(String, u64)>,
    window_s: f64,
    cpu_s: f64,
    peak_in_flight: usize,
    /// The first error, for a level where every request failed.
    first_error: Option<Failure>,
}

/// What one sender recorded in the measurement window.
#[derive(Default)]
struct Record {
    samples: Vec<(u64, u64)>,
    errors: BTreeMap<String, u64>,
    first_error: Option<Failure>,
    error_count: u64,
    last_end: Option<Instant>,
}

impl Record {
    fn add(&mut self, offset_ns: u64, latency_ns: u64, result: &Result<(), Failure>, end: Instant) {
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));
        match result {
            Ok(()) => self.samples.push((offset_ns, latency_ns)),
            Err(f) => {
                self.error_count += 1;
                if self.errors.len() < ERROR_EXAMPLES || self.errors.contains_key(&f.message) {
                    *self.errors.entry(f.message.clone()).or_default() += 1;
                }
                self.first_error.get_or_insert_with(|| f.clone());
            }
        }
    }

    fn merge(&mut self, other: Record) {
        self.samples.extend(other.samples);
        for (m, n) in other.errors {
            if self.errors.len() < ERROR_EXAMPLES || self.errors.contains_key(&m) {
                *self.errors.entry(m).or_default() += n;
            }
        }
        self.error_count += other.error_count;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_end = match (self.last_end, other.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Sends one request with the run's timeout.
async fn send_once(ctx: &Context, conn: &mut Conn) -> Result<(), Failure> {
    match tokio::time::timeout(ctx.plan.timeout, conn.send(&ctx.prepared, &ctx.encoded)).await {
        Ok(r) => r,
        Err(_) => Err(Failure {
            kind: assay_engine::ErrorKind::Unavailable,
            message: format!("no answer within {:?}", ctx.plan.timeout),
            broken: true,
        }),
    }
}

/// A level's times: its start, the end of its warm-up, the end of its measurement.
#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    measure_from: Instant,
    end: Instant,
}

impl Window {
    fn from_now(plan: &LoadPlan) -> Window {
        let started = Instant::now();
        let measure_from = started + plan.warmup;
        Window {
            started,
            measure_from,
            end: measure_from + plan.duration,
        }
    }
}

/// Reports progress every tick until the window's end, switching from warm-up to
/// measurement on the way; returns the process CPU time over the measurement.
async fn tick_until(
    index: usize,
    counters: &Counters,
    window: Window,
    duration: Duration,
    observer: &mut dyn BenchObserver,
) -> Duration {
    let Window {
        started,
        measure_from,
        end,
    } = window;
    observer.event(BenchEvent::Phase {
        index,
        phase: Phase::Warmup,
    });
    let mut phase = Phase::Warmup;
    let mut cpu_start = cpu::process_cpu();
    let (mut last_done, mut last_sum) = (0u64, 0u64);
    let mut next = started + TICK;
    loop {
        let wake = if phase == Phase::Warmup {
            next.min(measure_from)
        } else {
            next.min(end)
        };
        tokio::time::sleep_until(wake.into()).await;
        let now = Instant::now();
        if phase == Phase::Warmup && now >= measure_from {
            cpu_start = cpu::process_cpu();
            phase = Phase::Measure;
            observer.event(BenchEvent::Phase {
                index,
                phase: Phase::Measure,
            });
        }
        if now >= end {
            return cpu::process_cpu().saturating_sub(cpu_start);
        }
        if now >= next {
            let done = counters.done.load(Ordering::Relaxed);
            let sum = counters.sum_ns.load(Ordering::Relaxed);
            let window_count = done - last_done;
            let since = if phase == Phase::Measure {
                measure_from
            } else {
                started
            };
            observer.event(BenchEvent::Progress {
                index,
                phase,
                done,
                elapsed_ms: now.saturating_duration_since(since).as_secs_f64() * 1e3,
                target_iterations: 0,
                target_ms: duration.as_secs_f64() * 1e3,
                window_mean_ms: (window_count > 0)
                    .then(|| (sum - last_sum) as f64 / window_count as f64 / 1e6),
                window_count,
            });
            (last_done, last_sum) = (done, sum);
            next += TICK;
        }
    }
}

/// What a closed-loop worker does around each request: stop at the window's end, keep the
/// counters, record what falls in the measurement.
struct Turns {
    counters: Arc<Counters>,
    record: Record,
    measure_from: Instant,
    end: Instant,
}

impl Turns {
    /// The next request's start, or `None` once the window is over.
    fn begin(&self) -> Option<Instant> {
        let s = Instant::now();
        if s >= self.end {
            return None;
        }
        self.counters.start();
        Some(s)
    }

    /// The request that began at `s` has its answer (or failed).
    fn finish(&mut self, s: Instant, r: &Result<(), Failure>) {
        let e = Instant::now();
        let latency = (e - s).as_nanos() as u64;
        self.counters.finish(latency, r.is_ok());
        if s >= self.measure_from {
            self.record
                .add((s - self.measure_from).as_nanos() as u64, latency, r, e);
        }
    }
}

/// A closed loop: `c` workers, each with its own connection, each sending its next request
/// when the last one is answered. A lone worker over plain REST or gRPC runs on a thread of
/// its own with a blocking socket (see `lone`): with nothing to multiplex, that costs the
/// client the least.
async fn closed_level(
    ctx: &Arc<Context>,
    index: usize,
    c: usize,
    observer: &mut dyn BenchObserver,
) -> Result<Outcome, LoadError> {
    let counters = Arc::new(Counters::default());
    let lone = (c == 1)
        .then(|| LoneRequest::new(&ctx.target, &ctx.prepared, &ctx.encoded))
        .flatten();
    let blocking = match lone {
        Some(request) => {
            let (target, timeout) = (ctx.target.clone(), ctx.plan.timeout);
            let conn = tokio::task::spawn_blocking(move || {
                Lone::connect(&target, request, timeout).map_err(|f| LoadError::Unreachable {
                    url: target.url.clone(),
                    message: f.message,
                })
            })
            .await
            .expect("connecting does not panic")?;
            Some(conn)
        }
        None => None,
    };
    let mut conns = Vec::with_capacity(c);
    if blocking.is_none() {
        for _ in 0..c {
            conns.push(wire::connect(&ctx.target).await?);
        }
    }
    let window = Window::from_now(&ctx.plan);
    let turns = || Turns {
        counters: counters.clone(),
        record: Record::default(),
        measure_from: window.measure_from,
        end: window.end,
    };
    let mut workers = Vec::with_capacity(c);
    if let Some(mut conn) = blocking {
        let mut turns = turns();
        workers.push(tokio::task::spawn_blocking(move || {
            while let Some(s) = turns.begin() {
                let r = conn.send();
                turns.finish(s, &r);
                if let Err(f) = &r
                    && f.broken
                    && conn.reconnect().is_err()
                {
                    // The server is gone: a pause before the next try (as below).
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            turns.record
        }));
    }
    for mut conn in conns {
        let shared = ctx.clone();
        let mut turns = turns();
        workers.push(tokio::spawn(async move {
            let ctx = &*shared;
            while let Some(s) = turns.begin() {
                let r = send_once(ctx, &mut conn).await;
                turns.finish(s, &r);
                if let Err(f) = &r
                    && f.broken
                {
                    match wire::connect(&ctx.target).await {
                        Ok(c) => conn = c,
                        // The server is gone: wait a little before the next try, so a dead
                        // server is not hammered in a tight loop.
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
            turns.record
        }));
    }
    let cpu = tick_until(index, &counters, window, ctx.plan.duration, observer).await;
    let mut record = Record::default();
    for w in workers {
        record.merge(w.await.expect("a load worker does not panic"));
    }
    Ok(outcome(
        record,
        &counters,
        window.measure_from,
        window.end,
        cpu,
    ))
}

/// An open loop: Poisson arrivals at `rate` per second, each request sent at its scheduled
/// time on a free connection (a new one when none is free), its latency counted from that
/// time.
async fn open_level(
    ctx: &Arc<Context>,
    index: usize,
    rate: f64,
    observer: &mut dyn BenchObserver,
) -> Result<Outcome, LoadError> {
    let max = ctx.plan.max_in_flight;
    // gRPC multiplexes every request over one connection; HTTP/1.1 needs one per request
    // in flight, kept in a pool of idle ones.
    let first = wire::connect(&ctx.target).await?;
    let pool = Arc::new(Mutex::new(vec![first]));
    let permits = Arc::new(Semaphore::new(max));
    let counters = Arc::new(Counters::default());
    let records = Arc::new(Mutex::new(Record::default()));
    let shared = ctx.clone();
    let window = Window::from_now(&ctx.plan);
    let Window {
        started,
        measure_from,
        end,
    } = window;
    let gaps = Exp::new(rate).expect("a checked positive rate");
    let mut rng = rand::rngs::StdRng::seed_from_u64(ctx.plan.seed ^ rate.to_bits());
    let poisson = !matches!(
        ctx.plan.mode,
        LoadMode::Open {
            arrivals: Arrivals::Constant,
            ..
        }
    );

    let scheduler = {
        let (pool, permits, counters, records, shared) = (
            pool.clone(),
            permits.clone(),
            counters.clone(),
            records.clone(),
            shared.clone(),
        );
        // The schedule is kept by a thread of its own: Tokio's timer rounds every sleep up
        // to the next millisecond, and since latencies count from the scheduled time, that
        // slack would be charged to the server. A thread's sleep wakes within tens of µs,
        // and hands each due time to the runtime, which sends at once.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        std::thread::Builder::new()
            .name("assay-load-schedule".into())
            .spawn(move || {
                let mut due = started;
                loop {
                    due += Duration::from_secs_f64(if poisson {
                        gaps.sample(&mut rng)
                    } else {
                        1.0 / rate
                    });
                    if due >= end {
                        break;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    if tx.send(due).is_err() {
                        break;
                    }
                }
            })
            .expect("a thread can be started");
        async move {
            while let Some(due) = rx.recv().await {
                // At the cap, wait for a request to finish; the wait counts in latency.
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let (pool, counters, records, shared) = (
                    pool.clone(),
                    counters.clone(),
                    records.clone(),
                    shared.clone(),
                );
                tokio::spawn(async move {
                    let ctx = &*shared;
                    counters.start();
                    let taken = {
                        let mut p = pool.lock().expect("pool lock");
                        match p.last().and_then(Conn::share) {
                            Some(c) => Some(c),
                            None => p.pop(),
                        }
                    };
                    let conn = match taken {
                        Some(c) => Ok(c),
                        None => wire::connect(&ctx.target).await.map_err(|e| Failure {
                            kind: e.kind(),
                            message: e.to_string(),
                            broken: true,
                        }),
                    };
                    let (r, conn) = match conn {
                        Ok(mut c) => (send_once(ctx, &mut c).await, Some(c)),
                        Err(f) => (Err(f), None),
                    };
                    let e = Instant::now();
                    let latency = (e - due).as_nanos() as u64;
                    counters.finish(latency, r.is_ok());
                    if due >= measure_from {
                        records.lock().expect("records lock").add(
                            (due - measure_from).as_nanos() as u64,
                            latency,
                            &r,
                            e,
                        );
                    }
                    let keep = !matches!(&r, Err(f) if f.broken);
                    if let (Some(c), true) = (conn, keep)
                        && !matches!(c, Conn::Grpc(..))
                    {
                        pool.lock().expect("pool lock").push(c);
                    }
                    drop(permit);
                });
            }
        }
    };
    let scheduler = tokio::spawn(scheduler);
    let cpu = tick_until(index, &counters, window, ctx.plan.duration, observer).await;
    scheduler.await.expect("the scheduler does not panic");
    // Let the requests still in flight finish (each has the run's timeout).
    let _ = tokio::time::timeout(
        ctx.plan.timeout + Duration::from_secs(1),
        permits.acquire_many(max as u32),
    )
    .await;
    let record = std::mem::take(&mut *records.lock().expect("records lock"));
    Ok(outcome(record, &counters, measure_from, end, cpu))
}

fn outcome(
    mut record: Record,
    counters: &Counters,
    measure_from: Instant,
    end: Instant,
    cpu: Duration,
) -> Outcome {
    record.samples.sort_unstable_by_key(|&(offset, _)| offset);
    // The window runs to the last answer of a request sent in it.
    let last = record.last_end.unwrap_or(end).max(end);
    Outcome {
        samples: record.samples,
        errors: record.error_count,
        error_examples: record.errors.into_iter().collect(),
        window_s: (last - measure_from).as_secs_f64(),
        cpu_s: cpu.as_secs_f64(),
        peak_in_flight: counters.peak.load(Ordering::Relaxed),
        first_error: record.first_error,
    }
}

/// A level's result row: percentiles (corrected for coordinated omission) with their
/// intervals, throughput, errors and the client's CPU cost.
fn result_row(
    ctx: &Context,
    level: &Level,
    o: Outcome,
    batch: i64,
    input_shapes: &BTreeMap<String, Vec<i64>>,
) -> Result<BenchResult, LoadError> {
    let measured: Vec<u64> = o.samples.iter().map(|&(_, l)| l).collect();
    if measured.is_empty() {
        return Err(LoadError::AllFailed {
            level: level.describe(),
            errors: o.errors,
            first: o.first_error.map(|f| f.message).unwrap_or_else(|| {
                "no request was sent in the measurement window; measure longer".into()
            }),
        });
    }
    let uncorrected = stats::summarize_ns(&measured).expect("samples");
    let (added, expected_ms) = match level {
        Level::Closed(_) => {
            let expected_ns = (uncorrected.latency_ms.p50 * 1e6) as u64;
            (
                correction::omitted(&measured, expected_ns),
                Some(uncorrected.latency_ms.p50),
            )
        }
        Level::Open(_) => (Vec::new(), None),
    };
    let summary = if added.is_empty() {
        uncorrected.clone()
    } else {
        let mut all = measured.clone();
        all.extend_from_slice(&added);
        stats::summarize_ns(&all).expect("samples")
    };
    let n = measured.len();
    let inferences_per_s = n as f64 / o.window_s;
    let mut warnings = Vec::new();
    if o.errors > 0 {
        let examples: Vec<String> = o
            .error_examples
            .iter()
            .map(|(m, k)| format!("{k}× {m}"))
            .collect();
        warnings.push(format!(
            "{} of {} requests failed at {}: {}",
            o.errors,
            o.errors + n as u64,
            level.describe(),
            examples.join("; ")
        ));
    }
    if let Level::Open(rate) = level {
        if inferences_per_s < 0.9 * rate {
            warnings.push(format!(
                "the server answered {inferences_per_s:.0} requests/s of the {rate} offered: it is saturated at this rate, and latencies grow with the queue"
            ));
        }
        if o.peak_in_flight >= ctx.plan.max_in_flight {
            warnings.push(format!(
                "{} requests were in flight at once, the most allowed: later requests waited for a free one (their wait counts in their latency)",
                o.peak_in_flight
            ));
        }
    }
    let client_cpu_us_per_request = if n > 0 {
        o.cpu_s * 1e6 / (n as u64 + o.errors) as f64
    } else {
        0.0
    };
    Ok(BenchResult {
        provider: ctx.target.protocol.label().into(),
        executed_by: BTreeMap::new(),
        fallback: None,
        batch,
        concurrency: level.concurrency(),
        input_shapes: input_shapes.clone(),
        samples: n,
        latency_ms: summary.latency_ms,
        ci95_ms: summary.ci95_ms,
        unsupported_percentiles: summary.unsupported.iter().map(|s| s.to_string()).collect(),
        throughput: Throughput {
            inferences_per_s,
            samples_per_s: inferences_per_s * batch as f64,
        },
        overhead_us: 0.0,
        peak_rss_bytes: None,
        gpu: None,
        load_ms: 0.0,
        first_inference_ms: 0.0,
        measured_s: o.window_s,
        accuracy: None,
        load: Some(LoadFigures {
            offered_per_s: match level {
                Level::Open(r) => Some(*r),
                Level::Closed(_) => None,
            },
            completed: n as u64,
            errors: o.errors,
            error_examples: o.error_examples,
            client_cpu_us_per_request,
            client_cpu_cores: o.cpu_s / ctx.plan.duration.as_secs_f64(),
            coordinated_omission: CoCorrection {
                from_schedule: matches!(level, Level::Open(_)),
                expected_interval_ms: expected_ms,
                added_samples: added.len() as u64,
                uncorrected_p99_ms: uncorrected.latency_ms.p99,
            },
            peak_in_flight: o.peak_in_flight,
        }),
        warnings,
        samples_ns: measured,
    })
}
