//! Operator profiles: where an inference's time goes, node by node, and what the profiler
//! itself costs.
//!
//! [`run_profile`] first measures the model without the profiler (a normal benchmark), then
//! runs it again with ONNX Runtime's profiler on, streams the trace through an
//! [`aggregate::Aggregator`], and writes into the output folder:
//!
//! | file | what |
//! |---|---|
//! | `operators.csv`, `operators.json` | per node and per op type: calls, total, mean, p50, share, provider, shapes |
//! | `flamegraph.svg`, `flamegraph.folded` | the scope flame graph ([`flame`]) |
//! | `speedscope.json` | the same stacks for speedscope |
//! | `trace.json` | ONNX Runtime's Chrome trace (opens in Perfetto) |
//! | `profile.json` | the [`ProfileReport`], with the profiling overhead |
//!
//! Files are written into a staging folder inside the output folder and renamed into place
//! only when all of them are complete, so a failure (a full disk) leaves nothing half-written.

pub mod aggregate;
pub mod flame;
mod operators;
pub mod synthetic;
pub mod timeline;
pub mod trace;

use std::path::{Path, PathBuf};

use crate::durable;
use serde::{Deserialize, Serialize};

use crate::{
    bench::{BenchObserver, BenchReport, BenchmarkPlan, run_benchmark, runner::profiled_runs},
    error::{EngineError, Result},
    runtime::Runtime,
    session::{OptLevel, setup_provider},
    stats,
};
pub use aggregate::{NodeStats, OpTypeStats};
pub use operators::{OPERATORS_SCHEMA, Operators};

/// The files a profile writes into its output folder.
pub const FILES: [&str; 7] = [
    "operators.csv",
    "operators.json",
    "flamegraph.svg",
    "flamegraph.folded",
    "speedscope.json",
    "trace.json",
    "profile.json",
];

/// What to profile and where to write it.
#[derive(Debug, Clone)]
pub struct ProfilePlan {
    /// Inputs, provider (the first one), batch (the first one) and thread settings.
    pub bench: BenchmarkPlan,
    /// Graph optimizations on (the default) or off, so node names map to
    /// the original graph.
    pub optimize: bool,
    /// Profiled inferences (after a 5-run warmup that is also in the trace).
    pub iterations: u64,
    pub out_dir: PathBuf,
}

/// The outcome of a profile, saved as `profile.json`.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ProfileReport {
    pub schema: String,
    pub model: crate::bench::ModelRef,
    pub provider: String,
    pub batch: i64,
    /// `optimized` (ONNX Runtime's full optimizations) or `unoptimized` (optimizations off).
    pub mode: String,
    pub inferences: u64,
    pub trace_events: u64,
    pub overhead: ProfilingOverhead,
    /// Sum of all kernel times per inference, in milliseconds.
    pub kernel_ms_per_inference: f64,
    pub nodes: Vec<NodeStats>,
    pub op_types: Vec<OpTypeStats>,
    /// The files written, relative to the output folder.
    pub files: Vec<String>,
    pub out_dir: PathBuf,
    /// Folded stacks (also in `flamegraph.folded`).
    #[serde(skip)]
    pub folded: String,
}

/// The last line of `assay profile --events` (docs/EVENTS.md); the lines before it are the
/// unprofiled measurement's [`crate::bench::BenchEvent`]s.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProfileEvent {
    Result {
        profile: Box<ProfileReport>,
        /// The run's id in the history, when it was saved there.
        run_id: Option<String>,
    },
}

/// Profiled against unprofiled latency, measured in the same invocation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct ProfilingOverhead {
    pub unprofiled_p50_ms: f64,
    pub profiled_p50_ms: f64,
    /// profiled / unprofiled: 1.0 means the profiler cost nothing.
    pub ratio: f64,
}

/// Measures, profiles and writes the profile files. Returns the report and the unprofiled
/// benchmark (with its samples, for the run store).
pub fn run_profile(
    rt: &Runtime,
    plan: &ProfilePlan,
    observer: &mut dyn BenchObserver,
) -> Result<(ProfileReport, BenchReport)> {
    let mut bp = plan.bench.clone();
    bp.providers.truncate(1);
    bp.batches.truncate(1);
    bp.concurrency = vec![1];
    bp.placement_check = false;
    if !plan.optimize {
        bp.session.opt_level = OptLevel::Disable;
    }
    if plan.iterations == 0 {
        return Err(EngineError::invalid(
            crate::setting::Setting::ProfileIterations,
            "profile at least one inference",
        ));
    }
    std::fs::create_dir_all(&plan.out_dir).map_err(|e| EngineError::io(&plan.out_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".assay-staging-")
        .tempdir_in(&plan.out_dir)
        .map_err(|e| EngineError::io(&plan.out_dir, e))?;

    let bench = run_benchmark(rt, &bp, observer)?;
    let row = bench
        .results
        .first()
        .ok_or_else(|| EngineError::runtime("profile", "the benchmark produced no result"))?;
    let provider = bp.providers[0];
    let setup = setup_provider(rt, provider, &bp.session)?;
    let batch = bp.batches.first().copied();
    let (samples, ort_trace) = profiled_runs(
        rt,
        &bp,
        &setup,
        batch,
        5,
        plan.iterations,
        &staging.path().join("ort"),
    )?;

    let mut agg = aggregate::Aggregator::default();
    let file = std::fs::File::open(&ort_trace).map_err(|e| EngineError::io(&ort_trace, e))?;
    let events = trace::for_each_event(file, |e| agg.add(e)).map_err(|e| {
        // ONNX Runtime does not report a failed trace write; a full disk shows up here.
        if disk_full(staging.path()) {
            EngineError::io(
                &plan.out_dir,
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on the device: the profiler's trace was cut short",
                ),
            )
        } else {
            EngineError::runtime(format!("reading {}", ort_trace.display()), e)
        }
    })?;
    let (nodes, op_types) = agg.finish();
    let folded = flame::folded(&nodes);

    let mut sorted: Vec<f64> = samples.iter().map(|&ns| ns as f64 / 1e6).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let profiled_p50_ms = stats::quantile_sorted(&sorted, 0.5);
    let unprofiled_p50_ms = row.latency_ms.p50;
    let mode = if plan.optimize {
        "optimized"
    } else {
        "unoptimized"
    };
    let mut report = ProfileReport {
        schema: "assay.profile/1".into(),
        model: bench.model.clone(),
        provider: provider.as_str().into(),
        batch: row.batch,
        mode: mode.into(),
        inferences: agg.inferences,
        trace_events: events,
        overhead: ProfilingOverhead {
            unprofiled_p50_ms,
            profiled_p50_ms,
            ratio: profiled_p50_ms / unprofiled_p50_ms.max(1e-12),
        },
        kernel_ms_per_inference: nodes.iter().map(|n| n.per_inference_us).sum::<f64>() / 1e3,
        nodes,
        op_types,
        files: Vec::new(),
        out_dir: plan.out_dir.clone(),
        folded,
    };
    write_outputs(&mut report, staging.path(), &ort_trace)?;
    publish(staging.path(), &plan.out_dir, &report.files)?;
    Ok((report, bench))
}

#[derive(Serialize)]
struct CsvRow<'a> {
    level: &'static str,
    name: &'a str,
    op_type: &'a str,
    provider: &'a str,
    calls: u64,
    total_ms: f64,
    mean_us: f64,
    p50_us: f64,
    share_pct: f64,
    per_inference_us: f64,
    input_shapes: &'a str,
    output_shapes: &'a str,
}

fn write_outputs(report: &mut ProfileReport, dir: &Path, ort_trace: &Path) -> Result<()> {
    let io = |p: &Path, e: std::io::Error| EngineError::io(p, e);
    let path = |name: &str| dir.join(name);

    let csv_path = path("operators.csv");
    let mut w = csv::Writer::from_writer(Vec::new());
    for n in &report.nodes {
        w.serialize(CsvRow {
            level: "node",
            name: &n.name,
            op_type: &n.op_type,
            provider: &n.provider,
            calls: n.calls,
            total_ms: round(n.total_ms, 4),
            mean_us: round(n.mean_us, 3),
            p50_us: round(n.p50_us, 3),
            share_pct: round(n.share_pct, 3),
            per_inference_us: round(n.per_inference_us, 3),
            input_shapes: &n.input_shapes,
            output_shapes: &n.output_shapes,
        })
        .map_err(|e| EngineError::runtime("writing operators.csv", e))?;
    }
    for t in &report.op_types {
        w.serialize(CsvRow {
            level: "op_type",
            name: &t.op_type,
            op_type: &t.op_type,
            provider: &t.providers.join("+"),
            calls: t.calls,
            total_ms: round(t.total_ms, 4),
            mean_us: round(t.mean_us, 3),
            p50_us: round(t.p50_us, 3),
            share_pct: round(t.share_pct, 3),
            per_inference_us: round(t.per_inference_us, 3),
            input_shapes: "",
            output_shapes: "",
        })
        .map_err(|e| EngineError::runtime("writing operators.csv", e))?;
    }
    let csv = w
        .into_inner()
        .map_err(|e| EngineError::runtime("writing operators.csv", e.into_error()))?;
    write_file(&csv_path, &csv)?;

    let operators = Operators::from(&*report);
    write_file(
        &path("operators.json"),
        serde_json::to_vec_pretty(&operators)
            .expect("serializes")
            .as_slice(),
    )?;
    write_file(&path("flamegraph.folded"), report.folded.as_bytes())?;
    let subtitle = format!(
        "{} · {} graph · {} · batch {} · weights: mean kernel ns per inference over {} inferences",
        report.model.path.display(),
        report.mode,
        report.provider,
        report.batch,
        report.inferences
    );
    let svg_path = path("flamegraph.svg");
    durable::write_with(
        &svg_path,
        durable::Mode::Shared,
        durable::Replace::Always,
        |f| {
            let mut svg = std::io::BufWriter::new(f);
            flame::render_svg(
                &report.folded,
                "Assay: where one inference spends its time",
                subtitle,
                &mut svg,
            )?;
            std::io::Write::flush(&mut svg)
        },
    )
    .map_err(|e| io(&svg_path, e))?;
    let name = report
        .model
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    write_file(
        &path("speedscope.json"),
        serde_json::to_vec(&flame::speedscope(&report.folded, &name))
            .expect("serializes")
            .as_slice(),
    )?;
    std::fs::rename(ort_trace, path("trace.json")).map_err(|e| io(ort_trace, e))?;

    report.files = FILES.map(String::from).to_vec();
    write_file(
        &path("profile.json"),
        serde_json::to_vec_pretty(report)
            .expect("serializes")
            .as_slice(),
    )?;
    Ok(())
}

/// True when the file system holding `dir` has (almost) no space left.
fn disk_full(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: statvfs fills the struct we pass; `c` is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 {
            // A truncated trace with under 1 MiB left is a full disk, not a profiler bug.
            return (st.f_bavail as u128) * (st.f_frsize as u128) < 1024 * 1024;
        }
    }
    false
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Writes and syncs a whole file, so a full disk shows up here as an error.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    durable::write(path, bytes, durable::Mode::Shared).map_err(|e| EngineError::io(path, e))
}

/// Moves the finished files from staging into the output folder.
fn publish(staging: &Path, out: &Path, files: &[String]) -> Result<()> {
    for f in files {
        std::fs::rename(staging.join(f), out.join(f))
            .map_err(|e| EngineError::io(out.join(f), e))?;
    }
    durable::sync_dir(out).map_err(|e| EngineError::io(out, e))
}
