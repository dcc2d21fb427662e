//! `assay load` against real servers on 127.0.0.1: the gateway over REST (JSON and binary)
//! and gRPC, in closed and open loops, recorded in the history as a `load` run that
//! `assay compare` pairs with an in-process benchmark; its throughput against Triton's
//! perf_analyzer on the gateway and on the FastAPI baseline; and its errors.

use std::{path::Path, process::Stdio, time::Duration};

use super::common::*;
use super::harness::*;
use serde_json::Value;

/// `assay load` with the test's quick settings, as JSON.
fn load(env: &Env, db: &Path, args: &[&str]) -> Value {
    let o = run(env
        .assay()
        .arg("load")
        .args(args)
        .args(["--warmup-time", "200ms", "--json", "--db"])
        .arg(db));
    assert_eq!(o.code, 0, "assay load {args:?}: {}", o.stderr);
    json(&o.stdout)
}

/// The gateway's count of answered requests of a model, from its metrics.
fn answered(gw: &Gateway, model: &str) -> f64 {
    gw.metrics_text()
        .lines()
        .filter(|l| l.starts_with(&format!("assay_request_success_total{{model=\"{model}\"")))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Checks what every load row must hold: samples that are requests the server answered,
/// throughput that is their count over the window, and the client's cost.
fn check_row(row: &Value, protocol: &str) -> u64 {
    assert_eq!(row["provider"], protocol, "{row}");
    let samples = row["samples"].as_u64().unwrap();
    let l = &row["load"];
    assert_eq!(l["completed"].as_u64().unwrap(), samples, "{row}");
    assert_eq!(l["errors"], 0, "{row}");
    assert!(
        samples >= 50,
        "a level of a second sent only {samples} requests: {row}"
    );
    let window = row["measured_s"].as_f64().unwrap();
    let tput = row["throughput"]["inferences_per_s"].as_f64().unwrap();
    assert!(
        (tput - samples as f64 / window).abs() < 1e-6 * tput,
        "{row}"
    );
    let p50 = row["latency_ms"]["p50"].as_f64().unwrap();
    let p99 = row["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p50 > 0.01 && p99 >= p50, "{row}");
    assert!(
        l["client_cpu_us_per_request"].as_f64().unwrap() > 0.0,
        "{row}"
    );
    samples
}

#[test]
fn assay_load_measures_the_gateway_over_rest_and_grpc_into_the_history() {
    let env = Env::new();
    let gw = Gateway::start_with(&env, "gw", "", &[], &["--grpc-listen", "127.0.0.1:0"]);
    let grpc = format!("grpc://127.0.0.1:{}", gw.grpc_port.unwrap());
    let model = fixture("mlp.onnx");
    assert_eq!(
        env.push(&gw, &env.release(&model, "mlp", "1.0.0"), &[])
            .code,
        0
    );
    let db = env.path("history.db");

    // Closed loop over REST/JSON: two levels, each of real requests the gateway answered.
    let before = answered(&gw, "mlp");
    let model_arg = model.to_str().unwrap();
    let r = load(
        &env,
        &db,
        &[
            &gw.url(),
            "mlp",
            "--concurrency",
            "1,4",
            "--duration",
            "1s",
            "--model-file",
            model_arg,
        ],
    );
    let rows = r["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    assert_eq!(rows[0]["concurrency"], 1);
    assert_eq!(rows[1]["concurrency"], 4);
    let measured: u64 = rows.iter().map(|row| check_row(row, "rest-json")).sum();
    // The gateway answered every measured request, plus the warm-ups and the first one.
    assert!(answered(&gw, "mlp") - before >= measured as f64 + 1.0);
    assert!(
        rows[1]["load"]["peak_in_flight"].as_u64().unwrap() == 4,
        "{r}"
    );
    let served = &r["served"];
    assert_eq!(served["protocol"], "rest-json");
    assert!(
        served["server"]
            .as_str()
            .unwrap()
            .starts_with("assay-gateway"),
        "{served}"
    );
    assert_eq!(served["mode"]["loop"], "closed");
    assert_eq!(r["model"]["path"], format!("{}/v2/models/mlp", gw.url()));
    // --model-file records the run under the file's digest.
    let sha = run(env.assay().args(["inspect", "--json"]).arg(&model));
    assert_eq!(r["model"]["sha256"], json(&sha.stdout)["file"]["sha256"]);
    let load_id = r["run_id"].as_str().unwrap().to_string();

    // REST with binary tensors, and gRPC.
    for (url, extra, protocol) in [
        (gw.url(), "--binary", "rest-binary"),
        (grpc.clone(), "--no-save", "grpc"),
    ] {
        let r = load(
            &env,
            &db,
            &[&url, "mlp", extra, "--concurrency", "2", "--duration", "1s"],
        );
        check_row(&r["results"][0], protocol);
    }

    // Real inputs from a .npy: its batch of 3 is what every request carries.
    let (x, _) = super::mlp_inputs_and_expected(&env);
    let input = format!("input={}", x.display());
    let r = load(
        &env,
        &db,
        &[
            &grpc,
            "mlp",
            "--input",
            &input,
            "--duration",
            "1s",
            "--no-save",
        ],
    );
    assert_eq!(r["results"][0]["batch"], 3, "{r}");
    assert_eq!(
        r["results"][0]["input_shapes"]["input"],
        serde_json::json!([3, 512])
    );
    let row = &r["results"][0];
    assert!(
        (row["throughput"]["samples_per_s"].as_f64().unwrap()
            - 3.0 * row["throughput"]["inferences_per_s"].as_f64().unwrap())
        .abs()
            < 1e-6
    );

    // A whole shape is a batch too: 4 rows a request, counted as 4 samples (not 1).
    let r = load(
        &env,
        &db,
        &[
            &gw.url(),
            "mlp",
            "--shape",
            "input=4x512",
            "--duration",
            "1s",
            "--no-save",
        ],
    );
    let row = &r["results"][0];
    assert_eq!(row["batch"], 4, "{r}");
    assert_eq!(row["input_shapes"]["input"], serde_json::json!([4, 512]));
    assert!(
        (row["throughput"]["samples_per_s"].as_f64().unwrap()
            - 4.0 * row["throughput"]["inferences_per_s"].as_f64().unwrap())
        .abs()
            < 1e-6,
        "{r}"
    );

    // Open loop, evenly spaced: the rate asked for is the rate served.
    let r = load(
        &env,
        &db,
        &[
            &gw.url(),
            "mlp",
            "--rate",
            "200",
            "--arrivals",
            "constant",
            "--duration",
            "2s",
            "--no-save",
        ],
    );
    let row = &r["results"][0];
    check_row(row, "rest-json");
    assert_eq!(row["concurrency"], 0);
    assert_eq!(row["load"]["offered_per_s"], 200.0);
    assert_eq!(row["load"]["coordinated_omission"]["from_schedule"], true);
    let tput = row["throughput"]["inferences_per_s"].as_f64().unwrap();
    assert!(
        (tput - 200.0).abs() <= 10.0,
        "{tput} requests/s for 200 offered: {row}"
    );
    assert_eq!(r["served"]["mode"]["arrivals"], "constant");

    // The history: a `load` run, which compare pairs with an in-process benchmark of the
    // same model file, and which report renders.
    let listed = run(on(&db).args(["runs", "list", "--json"]));
    let listed = json(&listed.stdout);
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    // The runs saved (the others were --no-save): JSON with the model file's digest, binary.
    assert_eq!(kinds, ["load", "load"], "{listed}");
    let bench = bench_run(&db, &model, &["--concurrency", "1,4"]);
    let o = run(on(&db).args(["compare", &bench, &load_id, "--json"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c = json(&o.stdout);
    let matched: Vec<(&str, u64)> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap(),
                r["concurrency"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        [("cpu vs rest-json", 1), ("cpu vs rest-json", 4)],
        "{c}"
    );
    let warnings = c["warnings"].to_string();
    assert!(warnings.contains("through a server"), "{warnings}");
    assert!(!warnings.contains("different models"), "{warnings}");
    let html = env.path("load.html");
    let o = run(on(&db).args(["report", &load_id, "--out"]).arg(&html));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("rest-json"),
        "the report shows the rows' protocol"
    );
}

#[test]
fn assay_load_says_what_is_wrong_with_a_target() {
    let env = Env::new();
    let gw = Gateway::start_with(&env, "gw", "", &[], &["--grpc-listen", "127.0.0.1:0"]);
    assert_eq!(
        env.push(&gw, &env.release(&fixture("mlp.onnx"), "mlp", "1.0.0"), &[])
            .code,
        0
    );
    let grpc = format!("grpc://127.0.0.1:{}", gw.grpc_port.unwrap());
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    let load = |args: &[&str]| {
        let mut c = env.assay();
        c.arg("load")
            .args(args)
            .args(["--duration", "200ms", "--no-save"]);
        c
    };
    expect_error(&mut load(&[&dead_url, "mlp"]), 1, "cannot reach");
    expect_error(
        &mut load(&[&dead_url.replace("http", "grpc"), "mlp"]),
        1,
        "cannot reach",
    );
    expect_error(
        &mut load(&[&gw.url(), "nope"]),
        2,
        "HTTP 404: unknown model 'nope'",
    );
    expect_error(&mut load(&[&grpc, "nope"]), 2, "NotFound");
    // A shape the model does not take: the server's own sentence.
    expect_error(
        &mut load(&[&gw.url(), "mlp", "--shape", "input=1x511"]),
        2,
        "input",
    );
    // A batch and a whole shape that both say how many rows: refused, neither wins.
    expect_error(
        &mut load(&[&grpc, "mlp", "--batch", "2", "--shape", "input=4x512"]),
        2,
        "batch 2 conflicts with --shape input=4x512",
    );
    expect_error(&mut load(&["localhost:8000", "mlp"]), 2, "scheme");
    expect_error(&mut load(&[&gw.url(), "mlp", "--rate", "0"]), 2, "--rate");
    expect_error(&mut load(&[&grpc, "mlp", "--binary"]), 2, "REST option");
    expect_error(
        &mut load(&[&gw.url(), "mlp", "--input", "input=/no/such.npy"]),
        1,
        "no/such.npy",
    );
}

/// perf_analyzer's throughput on one load, as it reports it.
fn perf_analyzer(port: u16, model: &str, args: &[&str]) -> f64 {
    let pa = root().join(".cache/perf_analyzer");
    let csv = tempfile::NamedTempFile::new().unwrap();
    let o = std::process::Command::new(pa.join("bin/perf_analyzer"))
        .env("LD_LIBRARY_PATH", pa.join("lib"))
        .args([
            "-m",
            model,
            "-u",
            &format!("127.0.0.1:{port}"),
            "-i",
            "http",
            "-b",
            "1",
        ])
        .args(args)
        .arg("-f")
        .arg(csv.path())
        .output()
        .expect("perf_analyzer runs (make setup installs it)");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(csv.path()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "Inferences/Second")
        .unwrap();
    row[col].parse().unwrap()
}

/// The FastAPI + onnxruntime baseline server (scripts/baseline_server.py), killed on drop.
struct Baseline(std::process::Child, u16);

impl Baseline {
    fn start(model: &Path, name: &str) -> Baseline {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(root().join(".cache/venv-baseline/bin/python"))
            .arg(root().join("scripts/baseline_server.py"))
            .arg(model)
            .args([name, &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the baseline's venv exists (make setup)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the baseline never started"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let ready = http(
            &agent(),
            "GET",
            &format!("http://127.0.0.1:{port}/v2/health/ready"),
            None,
            &[],
            None,
        );
        assert_eq!(ready.status, 200);
        Baseline(child, port)
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn assay_load_agrees_with_perf_analyzer_on_the_gateway_and_the_fastapi_baseline() {
    let env = Env::new();
    let gw = Gateway::start(&env, "gw", "", &[]);
    let model = fixture("convnet.onnx");
    assert_eq!(
        env.push(&gw, &env.release(&model, "conv", "1.0.0"), &[])
            .code,
        0
    );
    let baseline = Baseline::start(&model, "conv");
    // A load neither the servers nor the clients are saturated by: 150 requests a second,
    // evenly spaced, as perf_analyzer's request-rate mode sends them.
    for (port, server) in [
        (gw.port, "the gateway"),
        (baseline.1, "the FastAPI baseline"),
    ] {
        let r = load(
            &env,
            &env.path("h.db"),
            &[
                &format!("http://127.0.0.1:{port}"),
                "conv",
                "--binary",
                "--rate",
                "150",
                "--arrivals",
                "constant",
                "--duration",
                "3s",
                "--no-save",
            ],
        );
        check_row(&r["results"][0], "rest-binary");
        let ours = r["results"][0]["throughput"]["inferences_per_s"]
            .as_f64()
            .unwrap();
        let theirs = perf_analyzer(
            port,
            "conv",
            &[
                "--request-rate-range",
                "150:150",
                "--request-distribution",
                "constant",
                "--measurement-interval",
                "3000",
                // Its windows' latencies need not agree within 10% (the default) for the
                // throughput to be measured: other tests share the machine.
                "-s",
                "100",
                "--max-trials",
                "10",
            ],
        );
        eprintln!("{server}: assay load {ours:.1} requests/s, perf_analyzer {theirs:.1}");
        assert!(
            (ours - theirs).abs() <= 0.05 * theirs,
            "{server}: assay load measured {ours:.1} requests/s, perf_analyzer {theirs:.1}"
        );
    }
}
