//! `assay bench`, run as a process on the real ONNX Runtime and real models.

mod common;

use common::*;
use serde_json::Value;

fn bench_json(args: &[&str]) -> Value {
    let o = run(assay().arg("bench").args(args).args(QUICK).arg("--json"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    json(&o.stdout)
}

#[test]
fn sweeps_batch_and_concurrency_with_full_statistics() {
    let model = fixture("mlp.onnx");
    let r = bench_json(&[
        model.to_str().unwrap(),
        "--batch",
        "1,4",
        "--concurrency",
        "1,2",
        "--intra-threads",
        "1",
        "--iterations",
        "50",
    ]);
    assert_eq!(r["schema"], "assay.bench/1");
    assert_eq!(r["environment"]["ort_version"], "1.31.1");
    assert!(r["environment"]["cpu_model"].as_str().unwrap().len() > 1);
    assert!(r["load_ms"].as_f64().unwrap() > 0.0);
    assert!(r["first_inference_ms"].as_f64().unwrap() > 0.0);
    let rows = r["results"].as_array().unwrap();
    let keys: Vec<(i64, u64)> = rows
        .iter()
        .map(|x| {
            (
                x["batch"].as_i64().unwrap(),
                x["concurrency"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [(1, 1), (1, 2), (4, 1), (4, 2)]);
    for row in rows {
        let l = &row["latency_ms"];
        let f = |k: &str| l[k].as_f64().unwrap();
        assert!(
            f("min") <= f("p50")
                && f("p50") <= f("p90")
                && f("p90") <= f("p95")
                && f("p95") <= f("p99")
                && f("p99") <= f("p999")
                && f("p999") <= f("max"),
            "{l}"
        );
        assert!(row["samples"].as_u64().unwrap() >= 50);
        let ci = &row["ci95_ms"]["p50"];
        assert!(
            ci[0].as_f64().unwrap() <= f("p50") && f("p50") <= ci[1].as_f64().unwrap(),
            "CI {ci} must hold p50 {}",
            f("p50")
        );
        let t = &row["throughput"];
        let batch = row["batch"].as_f64().unwrap();
        assert!(
            (t["samples_per_s"].as_f64().unwrap()
                - batch * t["inferences_per_s"].as_f64().unwrap())
            .abs()
                < 1e-6 * t["samples_per_s"].as_f64().unwrap()
        );
        assert!(row["overhead_us"].as_f64().unwrap() >= 0.0);
        assert!(row["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
        assert!(row["executed_by"]["CPUExecutionProvider"].as_u64().unwrap() > 0);
        assert_eq!(row["input_shapes"]["input"][0].as_f64().unwrap(), batch);
    }
    // Two streams on two sessions complete more inferences per second than one (or at least not
    // catastrophically fewer): concurrency really ran in parallel.
    assert!(
        rows[1]["throughput"]["inferences_per_s"].as_f64().unwrap()
            > 0.5 * rows[0]["throughput"]["inferences_per_s"].as_f64().unwrap()
    );
}

#[test]
fn small_samples_flag_unsupported_percentiles() {
    let o = run(assay().arg("bench").arg(fixture("convnet.onnx")).args([
        "--iterations",
        "20",
        "--duration",
        "0s",
        "--warmup",
        "2",
        "--warmup-time",
        "0s",
        "--json",
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("cannot support") && o.stderr.contains("p999"),
        "the flag is also said in words:\n{}",
        o.stderr
    );
    let r = json(&o.stdout);
    let row = &r["results"][0];
    let n = row["samples"].as_u64().unwrap();
    let flagged: Vec<&str> = row["unsupported_percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        n < 1000 && flagged.contains(&"p99") && flagged.contains(&"p999"),
        "n={n} flagged={flagged:?}"
    );
    assert!(row["ci95_ms"].get("p999").is_none());
}

#[test]
fn real_inputs_from_npy_and_npz() {
    let r = bench_json(&[
        fixture("mlp.onnx").to_str().unwrap(),
        "--input",
        &format!("input={}", fixture("inputs/mlp_b4.npy").display()),
    ]);
    assert_eq!(
        r["results"][0]["batch"], 4,
        "the file's batch binds the batch dimension"
    );
    assert!(
        r["settings"]["inputs"]["input"]
            .as_str()
            .unwrap()
            .ends_with("mlp_b4.npy")
    );
    let r = bench_json(&[
        fixture("multi_input.onnx").to_str().unwrap(),
        "--input",
        fixture("inputs/multi_b2.npz").to_str().unwrap(),
    ]);
    assert_eq!(
        r["results"][0]["input_shapes"]["tokens"],
        serde_json::json!([2, 7])
    );
}

#[test]
fn every_dtype_fixture_runs_on_synthetic_data() {
    let r = bench_json(&[fixture("mlp_fp16.onnx").to_str().unwrap(), "--batch", "2"]);
    assert_eq!(
        r["results"][0]["input_shapes"]["input"],
        serde_json::json!([2, 64])
    );
    let r = bench_json(&[
        fixture("multi_input.onnx").to_str().unwrap(),
        "--dim",
        "seq=5",
        "--int-range",
        "0..32",
    ]);
    assert_eq!(
        r["results"][0]["input_shapes"]["tokens"],
        serde_json::json!([1, 5])
    );
}

#[test]
fn third_party_stateful_models() {
    let silero = third_party("silero-vad-6.2.3/silero_vad_16k_op15.onnx");
    let r = bench_json(&[
        silero.to_str().unwrap(),
        "--dim",
        "sequence=512",
        "--fill",
        "sr=16000",
        "--batch",
        "1,2",
    ]);
    assert_eq!(
        r["results"][1]["input_shapes"]["state"],
        serde_json::json!([2, 2, 128])
    );
    let silero = third_party("silero-vad-6.2.3/silero_vad.onnx");
    let r = bench_json(&[
        silero.to_str().unwrap(),
        "--shape",
        "input=1x512",
        "--shape",
        "state=2x1x128",
        "--fill",
        "sr=16000",
    ]);
    assert!(r["results"][0]["samples"].as_u64().unwrap() > 0);
    let magika = third_party("magika-1.0.3/model.onnx");
    let r = bench_json(&[
        magika.to_str().unwrap(),
        "--int-range",
        "0..257",
        "--iterations",
        "10",
    ]);
    assert_eq!(
        r["results"][0]["input_shapes"]["bytes"],
        serde_json::json!([1, 2048])
    );
}

#[test]
fn events_stream_is_ndjson_ending_in_the_result() {
    let o = run(assay()
        .arg("bench")
        .arg(sample_model())
        .args(QUICK)
        .arg("--events"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let events: Vec<Value> = o.stdout.lines().map(json).collect();
    assert_eq!(events[0]["event"], "started");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "progress" && e["phase"] == "measure")
    );
    assert!(events.iter().any(|e| e["event"] == "config_finished"));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "result");
    assert_eq!(last["report"]["schema"], "assay.bench/1");
}

#[test]
fn events_report_errors_as_an_event() {
    let o = run(assay().args(["bench", "/nope.onnx", "--events"]));
    assert_eq!(o.code, 1);
    let last = json(o.stdout.lines().last().unwrap());
    assert_eq!(last["event"], "error");
    assert_eq!(last["exit_code"], 1);
}

#[test]
fn out_file_holds_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.json");
    let o = run(assay()
        .arg("bench")
        .arg(sample_model())
        .args(QUICK)
        .arg("--out")
        .arg(&out));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("p50"),
        "the human table still prints:\n{}",
        o.stdout
    );
    let doc = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(doc["schema"], "assay.bench/1");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp files left behind"
    );
}

#[test]
fn gpu_provider_without_gpu_falls_back_visibly_or_fails_strictly() {
    let o = run(assay().arg("bench").arg(sample_model()).args(QUICK).args([
        "--provider",
        "cuda",
        "--json",
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("fell back to CPU"),
        "the fallback must be visible:\n{}",
        o.stderr
    );
    let r = json(&o.stdout);
    assert_eq!(r["results"][0]["provider"], "cuda");
    assert!(
        r["results"][0]["fallback"]
            .as_str()
            .unwrap()
            .contains("CUDAExecutionProvider")
    );
    assert!(
        r["results"][0]["executed_by"]["CPUExecutionProvider"]
            .as_u64()
            .unwrap()
            > 0
    );
    expect_error(
        assay().arg("bench").arg(sample_model()).args([
            "--provider",
            "tensorrt",
            "--strict-provider",
        ]),
        1,
        "execution provider tensorrt is not usable",
    );
}

#[test]
fn model_failures_exit_1() {
    expect_error(
        assay().arg("bench").arg(fixture("unsupported_op.onnx")),
        1,
        "AssayNoSuchOp",
    );
    expect_error(assay().args(["bench", "/nope.onnx"]), 1, "no such file");
    expect_error(
        assay().arg("bench").arg(fixture("tensor.pb")),
        1,
        "not a model",
    );
}

#[test]
fn input_mismatches_exit_2_and_name_the_problem() {
    let mlp = fixture("mlp.onnx");
    let arg = |f: &str| format!("input={}", fixture(f).display());
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .arg("--input")
            .arg(arg("inputs/mlp_wrong_shape.npy")),
        2,
        "dimension 1 is 100 but the model fixes it at 512",
    );
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .arg("--input")
            .arg(arg("inputs/mlp_wrong_dtype.npy")),
        2,
        "dtype '<i4' but the model expects float",
    );
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .args(["--batch", "8", "--input"])
            .arg(arg("inputs/mlp_b4.npy")),
        2,
        "batch dimension is 4 but the batch size asked for is 8",
    );
    expect_error(
        assay().arg("bench").arg(fixture("multi_input.onnx")),
        2,
        "dynamic dimensions seq (input tokens, mask) have no value; bind them with --dim seq=128",
    );
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .args(["--shape", "input=1x2x3"]),
        2,
        "has rank 3",
    );
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .args(["--dim", "nosuchdim=3"]),
        2,
        "dimension 'nosuchdim' is not in the model",
    );
    expect_error(
        assay()
            .arg("bench")
            .arg(&mlp)
            .args(["--fill", "nosuchinput=3"]),
        2,
        "input 'nosuchinput' is not in the model",
    );
}

#[test]
fn nonsense_option_values_exit_2() {
    let m = sample_model();
    for (args, needle) in [
        (&["--batch", "0"][..], "--batch"),
        (&["--batch", "two"][..], "--batch"),
        (&["--concurrency", "0"][..], "--concurrency"),
        (&["--duration", "soon"][..], "--duration"),
        (&["--warmup-time=-3s"][..], "--warmup-time"),
        (&["--provider", "tpu"][..], "--provider"),
        (&["--opt-level", "fast"][..], "--opt-level"),
        (&["--dim", "batch"][..], "--dim"),
        (&["--int-range", "5..1"][..], "--int-range"),
        (&["--intra-threads", "0"][..], "thread counts"),
    ] {
        expect_error(assay().arg("bench").arg(&m).args(args), 2, needle);
    }
}
