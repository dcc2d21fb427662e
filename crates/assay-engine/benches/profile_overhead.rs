//! `make bench-profile` (part 2): what ONNX Runtime's profiler costs, per fixture. For
//! each model, the same invocation measures p50 without the profiler and with it.

use std::time::Duration;

use assay_engine::{
    bench::{BenchmarkPlan, NoProgress},
    profile::{ProfilePlan, run_profile},
    runtime,
};

fn main() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rt = runtime::activate(None).expect("an installed ONNX Runtime (make setup)");
    let out = tempfile::tempdir().unwrap();
    println!(
        "ONNX Runtime {} · intra-op threads 1 · optimized graphs",
        rt.info.version
    );
    println!(
        "{:<26} {:>16} {:>14} {:>8}",
        "model", "unprofiled p50", "profiled p50", "ratio"
    );
    type Case<'a> = (&'a str, &'a [(&'a str, i64)], &'a [(&'a str, f64)]);
    let models: [Case; 6] = [
        ("assets/sample-mlp.onnx", &[], &[]),
        (".cache/fixtures/mlp.onnx", &[], &[]),
        (".cache/fixtures/convnet.onnx", &[], &[]),
        (".cache/fixtures/multi_input.onnx", &[("seq", 16)], &[]),
        (".cache/fixtures/mlp_fp16.onnx", &[], &[]),
        (
            ".cache/models/silero-vad-6.2.3/silero_vad_16k_op15.onnx",
            &[("sequence", 512)],
            &[("sr", 16000.0)],
        ),
    ];
    for (model, dims, fills) in models {
        let mut bench = BenchmarkPlan::new(root.join(model));
        bench.session.intra_threads = Some(1);
        bench.min_duration = Duration::from_secs(2);
        bench.inputs.int_range = (0, 32);
        bench.inputs.dims = dims.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        bench.inputs.fills = fills.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let plan = ProfilePlan {
            bench,
            optimize: true,
            iterations: 1000,
            out_dir: out.path().join(model.replace('/', "_")),
        };
        let (p, _) = run_profile(rt, &plan, &mut NoProgress).expect("profile runs");
        println!(
            "{:<26} {:>13.4} ms {:>11.4} ms {:>7.2}×",
            std::path::Path::new(model)
                .file_name()
                .unwrap()
                .to_string_lossy(),
            p.overhead.unprofiled_p50_ms,
            p.overhead.profiled_p50_ms,
            p.overhead.ratio
        );
    }
}
