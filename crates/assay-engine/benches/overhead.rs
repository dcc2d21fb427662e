//! `make bench-overhead`: Assay's measurement loop against a raw `Session::run` loop written
//! directly against `ort`, and against Python onnxruntime's plain `sess.run` loop, on the
//! same model (the ~100 µs MLP fixture), inputs and thread settings, in one run.
//!
//! Targets (docs/BENCHMARKS.md): overhead ≤ 2 µs per inference, Assay p50 / raw p50 ≤ 1.02,
//! and Assay's p50 never above Python's.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use assay_engine::{
    bench::{BenchmarkPlan, NoProgress, run_benchmark},
    runtime,
    stats::quantile_sorted,
};
use ort::{session::Session, value::Tensor};

const THREADS: usize = 1;
/// Rounds (`BENCH_ROUNDS` overrides): on a shared 2-core VM one round's sessions can land
/// 10-20% apart either way, so the verdict is the median of paired per-round ratios.
const ROUNDS: usize = 25;
const SECONDS: f64 = 2.0;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = root.join(".cache/fixtures/mlp.onnx");
    assert!(
        model.exists(),
        "run `make setup` first: {} is missing",
        model.display()
    );
    let rt = runtime::activate(None).expect("an installed ONNX Runtime (make setup)");
    println!(
        "model: {} · ONNX Runtime {} · intra-op threads {THREADS}",
        model.display(),
        rt.info.version
    );

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let mut raw = Vec::new();
    let mut assay = Vec::new();
    let mut overhead = Vec::new();
    let mut ratios = Vec::new();
    // Interleave the two so drift on a shared machine hits both alike; within a round the
    // order alternates, so neither always runs on a warmer machine.
    for round in 1..=rounds {
        let first_raw = round % 2 == 1;
        let r0 = first_raw.then(|| raw_loop(rt, &model));
        let mut plan = BenchmarkPlan::new(&model).with_batches(vec![1]);
        plan.session.intra_threads = Some(THREADS);
        plan.min_duration = Duration::from_secs_f64(SECONDS);
        plan.placement_check = false;
        let report = run_benchmark(rt, &plan, &mut NoProgress).expect("benchmark runs");
        let r = r0.unwrap_or_else(|| raw_loop(rt, &model));
        let row = &report.results[0];
        println!(
            "round {round}: raw p50 {:.2} µs · assay p50 {:.2} µs · ratio {:.4} · assay overhead {:.3} µs/inference",
            r * 1e3,
            row.latency_ms.p50 * 1e3,
            row.latency_ms.p50 / r,
            row.overhead_us
        );
        raw.push(r);
        assay.push(row.latency_ms.p50);
        overhead.push(row.overhead_us);
        ratios.push(row.latency_ms.p50 / r);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (raw_p50, assay_p50, over) = (median(&mut raw), median(&mut assay), median(&mut overhead));
    let ratio = median(&mut ratios);

    let python = python_p50(&root, &model);
    println!();
    println!("raw ort loop p50        {:>9.2} µs", raw_p50 * 1e3);
    println!("assay p50               {:>9.2} µs", assay_p50 * 1e3);
    println!(
        "assay / raw p50 ratio   {:>9.4}   median of {} paired rounds (range {:.4}–{:.4}) (target ≤ 1.02) {}",
        ratio,
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1],
        verdict(ratio <= 1.02)
    );
    println!(
        "assay harness overhead  {:>9.3} µs (target ≤ 2 µs) {}",
        over,
        verdict(over <= 2.0)
    );
    match python {
        Some(p) => println!(
            "python onnxruntime p50  {:>9.2} µs   assay/python {:.3} (target ≤ 1) {}",
            p * 1e3,
            assay_p50 / p,
            verdict(assay_p50 <= p)
        ),
        None => println!("python onnxruntime p50  (not available: run `make setup`)"),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

/// The loop a user would write against `ort` directly; p50 in milliseconds.
fn raw_loop(rt: &runtime::Runtime, model: &std::path::Path) -> f64 {
    let mut session = Session::builder(rt.environment())
        .unwrap()
        .with_intra_threads(THREADS)
        .unwrap()
        .commit_from_file(model)
        .unwrap();
    // Values like Assay's synthetic inputs and the Python baseline's: uniform in [-1, 1).
    // (A constant input ran about 4% faster than either, which is not the harness.)
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let values: Vec<f32> = (0..512)
        .map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0))
        .collect();
    let input = Tensor::from_array(([1usize, 512], values)).unwrap();
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        session.run(ort::inputs!["input" => &input]).unwrap();
    }
    let mut lat = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < SECONDS {
        let t = Instant::now();
        let out = session.run(ort::inputs!["input" => &input]).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        drop(out);
    }
    lat.sort_by(f64::total_cmp);
    quantile_sorted(&lat, 0.5)
}

fn python_p50(root: &std::path::Path, model: &std::path::Path) -> Option<f64> {
    let py = root.join(".cache/venv/bin/python");
    let out = Command::new(py)
        .arg(root.join("scripts/python_baseline.py"))
        .arg("--model")
        .arg(model)
        .args([
            "--threads",
            &THREADS.to_string(),
            "--seconds",
            &SECONDS.to_string(),
        ])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["p50_ms"].as_f64()
}
