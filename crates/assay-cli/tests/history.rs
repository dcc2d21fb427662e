//! The run history, profiles, comparisons and reports, through the real `assay` binary, a
//! real ONNX Runtime and real SQLite files.

mod common;

use std::path::Path;

use common::*;

#[test]
fn runs_are_recorded_listed_shown_exported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let id = bench_run(&db, &sample_model(), &["--batch", "1,2"]);
    assert_eq!(id.len(), 8);

    let list = json(&run(on(&db).args(["runs", "list", "--json"])).stdout);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["rows"], 2);

    let o = run(on(&db).args(["runs", "show", &id[..4]]));
    assert_eq!(o.code, 0, "a unique prefix is enough: {}", o.stderr);
    assert!(o.stdout.contains(&id) && o.stdout.contains("p50"));

    let export = dir.path().join("export.json");
    assert_eq!(
        run(on(&db).args(["runs", "export", &id, "--out"]).arg(&export)).code,
        0
    );
    let e = json(&std::fs::read_to_string(&export).unwrap());
    let samples = e["run"]["samples_ns"][0].as_array().unwrap();
    assert_eq!(
        samples.len() as u64,
        e["run"]["report"]["results"][0]["samples"]
            .as_u64()
            .unwrap(),
        "every sample is kept"
    );
    assert!(samples.iter().all(|s| s.as_u64().unwrap() > 0));

    assert_eq!(run(on(&db).args(["runs", "rm", &id])).code, 0);
    expect_error(
        on(&db).args(["runs", "show", &id]),
        1,
        &format!("no run with id '{id}'"),
    );
    let none = run(on(&db).args(["runs", "list", "--json"]));
    assert_eq!(json(&none.stdout).as_array().unwrap().len(), 0);
}

#[test]
fn no_save_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let o = run(on(&db)
        .arg("bench")
        .arg(sample_model())
        .args(QUICK)
        .args(["--no-save", "--json"]));
    assert_eq!(o.code, 0);
    assert!(json(&o.stdout).get("run_id").is_none());
    assert_eq!(
        json(&run(on(&db).args(["runs", "list", "--json"])).stdout)
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn concurrent_bench_processes_lose_no_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
                .env("ASSAY_DB", &db)
                .arg("bench")
                .arg(sample_model())
                .args([
                    "--warmup-time",
                    "10ms",
                    "--duration",
                    "300ms",
                    "--json",
                    "--no-placement-check",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            json(&String::from_utf8_lossy(&out.stdout))["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    let mut listed: Vec<String> = json(&run(on(&db).args(["runs", "list", "--json"])).stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(ids, listed);
}

#[test]
fn profile_writes_every_artifact_with_scope_frames() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let out = dir.path().join("prof");
    let p = profile_run(
        &db,
        &fixture("mlp.onnx"),
        &out,
        &["--no-optimize", "--intra-threads", "1"],
    );
    assert_eq!(p["mode"], "unoptimized");
    // The list, spelled out here rather than taken from the engine.
    for f in [
        "operators.csv",
        "operators.json",
        "flamegraph.svg",
        "flamegraph.folded",
        "speedscope.json",
        "trace.json",
        "profile.json",
    ] {
        assert!(out.join(f).is_file(), "{f} is missing");
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        7,
        "no staging leftovers"
    );
    // The multi-layer fixture's scopes are the flame graph's frames.
    let folded = std::fs::read_to_string(out.join("flamegraph.folded")).unwrap();
    let stacks: Vec<&str> = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect();
    for want in [
        "encoder;layer.0;fc;MatMul",
        "encoder;layer.1;act;Relu",
        "encoder;layer.2;fc;Add",
        "head;MatMul",
    ] {
        assert!(stacks.contains(&want), "{want} not in\n{folded}");
    }
    let svg = std::fs::read_to_string(out.join("flamegraph.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("layer.1") && svg.contains("<script"),
        "an interactive SVG"
    );
    let ss = json(&std::fs::read_to_string(out.join("speedscope.json")).unwrap());
    assert_eq!(ss["profiles"][0]["type"], "sampled");
    let trace = json(&std::fs::read_to_string(out.join("trace.json")).unwrap());
    assert!(trace.as_array().unwrap().iter().any(|e| e["cat"] == "Node"));
    // The profiler's own cost is measured in the same invocation.
    let ov = &p["overhead"];
    assert!(
        ov["profiled_p50_ms"].as_f64().unwrap() > 0.0
            && ov["unprofiled_p50_ms"].as_f64().unwrap() > 0.0
    );
    assert!(
        (ov["ratio"].as_f64().unwrap()
            - ov["profiled_p50_ms"].as_f64().unwrap() / ov["unprofiled_p50_ms"].as_f64().unwrap())
        .abs()
            < 1e-9
    );
    // Shares add up and the costliest node is a MatMul.
    let share: f64 = p["op_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["share_pct"].as_f64().unwrap())
        .sum();
    assert!((share - 100.0).abs() < 0.01);
    // Medians, not totals: a busy machine can preempt any kernel, but not every call.
    let p50_of = |op: &str| {
        p["op_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["op_type"] == op)
            .unwrap()["p50_us"]
            .as_f64()
            .unwrap()
    };
    assert!(
        p50_of("MatMul") > p50_of("Relu"),
        "a 512x768 MatMul costs more than a Relu"
    );

    // The CSV's shape: its header, and which (level, op type) rows it has with how many fields.
    let mut reader = csv::Reader::from_path(out.join("operators.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut structure: Vec<String> = reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| format!("{} {} ({} fields)", &r[0], &r[2], r.len()))
        .collect();
    structure.sort();
    structure.dedup();
    structure.insert(0, header.join(","));
    insta::assert_snapshot!("operators_csv_structure", structure.join("\n"));
}

#[test]
fn compare_gives_verdicts_gates_and_a_differential_flame_graph() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    // The convnet, whose fusions (Conv+BatchNorm+Relu) pay off on every CPU: with them off, B
    // is clearly slower than A. (On some CPUs the MLP runs as fast unfused.)
    let model = fixture("convnet.onnx");
    let a = profile_run(
        &db,
        &model,
        &dir.path().join("a"),
        &["--intra-threads", "1"],
    )["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = profile_run(
        &db,
        &model,
        &dir.path().join("b"),
        &["--intra-threads", "1", "--opt-level", "disable"],
    )["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let diff = dir.path().join("diff.svg");
    let o = run(on(&db)
        .args(["compare", &a, &b, "--json", "--diff-flamegraph"])
        .arg(&diff));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c = json(&o.stdout);
    let row = &c["rows"][0];
    assert_eq!(row["verdict"], "slower", "{row}");
    let ci = row["p50"]["ci95_pct"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= row["p50"]["delta_pct"].as_f64().unwrap());
    assert!(std::fs::read_to_string(&diff).unwrap().contains("<svg"));

    // As a CI gate: a tiny allowance is breached (exit 4), a huge one is not.
    let gate = expect_error(
        on(&db).args(["compare", &a, &b, "--fail-if-slower", "1"]),
        4,
        "significantly slower",
    );
    assert!(gate.stdout.contains("slower"));
    assert_eq!(
        run(on(&db).args(["compare", &a, &b, "--fail-if-slower", "100000"])).code,
        0
    );
    // And the reverse direction is faster.
    let rev = json(&run(on(&db).args(["compare", &b, &a, "--json"])).stdout);
    assert_eq!(rev["rows"][0]["verdict"], "faster");
}

#[test]
fn compare_refuses_what_it_cannot_compare() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let a = bench_run(&db, &sample_model(), &["--batch", "1"]);
    let b = bench_run(&db, &sample_model(), &["--batch", "2"]);
    let c = bench_run(&db, &fixture("convnet.onnx"), &["--batch", "1"]);
    expect_error(
        on(&db).args(["compare", &a, "ffffffff"]),
        1,
        "no run with id 'ffffffff'",
    );
    expect_error(
        on(&db).args(["compare", &a, &b]),
        2,
        "no (provider, batch, concurrency) row in common",
    );
    let o = run(on(&db).args(["compare", &a, &c]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("warning: the runs measured different models"),
        "{}",
        o.stderr
    );
}

#[test]
fn report_is_one_self_contained_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let p = profile_run(&db, &fixture("convnet.onnx"), &dir.path().join("p"), &[]);
    let id = p["run_id"].as_str().unwrap();
    let html_path = dir.path().join("report.html");
    let charts = dir.path().join("charts");
    let o = run(on(&db)
        .args(["report", id, "--out"])
        .arg(&html_path)
        .arg("--charts")
        .arg(&charts));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let html = std::fs::read_to_string(&html_path).unwrap();
    let headings: Vec<&str> = html
        .match_indices("<h2>")
        .map(|(i, _)| &html[i + 4..i + 4 + html[i + 4..].find("</h2>").unwrap()])
        .collect();
    insta::assert_snapshot!("report_sections", headings.join("\n"));
    assert!(html.matches("<svg").count() >= 3, "charts are inline SVG");
    assert!(
        html.contains("data:image/svg+xml;base64,"),
        "the flame graph is embedded"
    );
    for external in ["src=\"http", "href=\"http", "<link ", "@import"] {
        assert!(
            !html.contains(external),
            "the report must open offline, found {external}"
        );
    }
    for f in [
        "latency-histogram-0.png",
        "latency-histogram-0.svg",
        "latency-over-time-0.png",
        "operator-share.png",
    ] {
        let meta = std::fs::metadata(charts.join(f)).unwrap_or_else(|_| panic!("{f} missing"));
        assert!(meta.len() > 1000, "{f} is empty");
    }
}

/// A small tmpfs at a fresh mount point, when this process may mount (root on Linux).
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?
            .success();
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_during_a_profile_leaves_nothing_half_written() {
    let Some(disk) = SmallDisk::mount("300k") else {
        return;
    };
    let out = disk.path().join("prof");
    let dir = tempfile::tempdir().unwrap();
    let o = run(on(&dir.path().join("runs.db"))
        .arg("profile")
        .arg(fixture("mlp.onnx"))
        .args(QUICK)
        .arg("--out")
        .arg(&out)
        .args(["--profile-iterations", "2000"]));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("No space left") || o.stderr.contains("space"),
        "{}",
        o.stderr
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing may be left behind: {left:?}");
}

#[test]
fn a_read_only_database_is_refused_with_a_sentence() {
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let db = disk.path().join("runs.db");
    bench_run(&db, &sample_model(), &[]);
    assert!(
        std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(disk.path())
            .status()
            .unwrap()
            .success()
    );
    let o = expect_error(
        on(&db).arg("bench").arg(sample_model()).args(QUICK),
        1,
        "read-only",
    );
    assert!(
        !o.stderr.contains("p50"),
        "the run is refused before measuring"
    );
    let _ = std::process::Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(disk.path())
        .status();
}

#[test]
fn a_database_from_a_newer_assay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    bench_run(&db, &sample_model(), &[]);
    // A later Assay would have applied a migration this build does not know.
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (9999, 'future', CURRENT_TIMESTAMP, 1, X'00', 0)\"); c.commit()")
        .arg(&db)
        .status()
        .unwrap();
    assert!(py.success());
    expect_error(
        on(&db).args(["runs", "list"]),
        1,
        "created by a newer version of Assay",
    );
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    expect_error(on(&db).args(["runs", "list"]), 1, "not an Assay database");
}

#[test]
fn a_locked_database_keeps_the_results_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    bench_run(&db, &sample_model(), &[]);
    // Another process holds the write lock until it is killed at the end (a fixed time
    // could run out first on a loaded machine, and the save would then succeed).
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(600)")
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let o = expect_error(
        on(&db)
            .env("ASSAY_DB_BUSY_TIMEOUT_MS", "300")
            .arg("bench")
            .arg(sample_model())
            .args(QUICK),
        1,
        "locked by another process",
    );
    assert!(
        o.stdout.contains("p50"),
        "the measurement is still shown:\n{}",
        o.stdout
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn third_party_models_profile_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let silero = third_party("silero-vad-6.2.3/silero_vad_16k_op15.onnx");
    let p = profile_run(
        &db,
        &silero,
        &dir.path().join("vad"),
        &["--dim", "sequence=512", "--fill", "sr=16000"],
    );
    assert!(p["nodes"].as_array().unwrap().len() > 10);
    assert!(p["inferences"].as_u64().unwrap() >= 30);
    let magika = third_party("magika-1.0.3/model.onnx");
    let p = profile_run(
        &db,
        &magika,
        &dir.path().join("magika"),
        &["--int-range", "0..257", "--no-optimize"],
    );
    assert_eq!(p["mode"], "unoptimized");
    assert!(
        p["op_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["op_type"] == "MatMul" || t["op_type"] == "Gemm")
    );
}

#[test]
fn a_history_from_before_the_summary_columns_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    bench_run(&new, &sample_model(), &["--batch", "1,2"]);
    profile_run(
        &new,
        &fixture("mlp.onnx"),
        &dir.path().join("prof"),
        &["--intra-threads", "1"],
    );
    let listed = |db: &Path| json(&run(on(db).args(["runs", "list", "--json"])).stdout);
    let want = listed(&new);
    assert_eq!(want.as_array().unwrap().len(), 2);

    // The same history as the first schema held it, then opened by today's Assay.
    let old = dir.path().join("old.db");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/history/downgrade.py"))
        .args([&new, &old, &root.join("migrations/0001_runs.sql")])
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = listed(&old);
    // Every summary column is filled from the stored reports, exactly.
    assert_eq!(got, want);
    for r in got.as_array().unwrap() {
        assert!(r["p50_ms"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["p99_ms"].as_f64().unwrap() >= r["p50_ms"].as_f64().unwrap(),
            "{r}"
        );
        assert_eq!(r["providers"], serde_json::json!(["cpu"]));
    }
    assert_eq!(got[1]["rows"], 2, "the bench run swept two batch sizes");

    // The profile's operators became the whole typed document, overhead included.
    let id = got[0]["id"].as_str().unwrap();
    let shown = |db: &Path| json(&run(on(db).args(["runs", "show", id, "--json"])).stdout);
    let (a, b) = (shown(&new), shown(&old));
    let (ops_new, ops_old) = (&a["profile"]["operators"], &b["profile"]["operators"]);
    assert_eq!(ops_old["schema"], "assay.operators/1");
    assert_eq!(ops_old["overhead"], ops_new["overhead"]);
    assert_eq!(ops_old["op_types"], ops_new["op_types"]);
    assert!(!ops_old["op_types"].as_array().unwrap().is_empty());
    let (k_new, k_old) = (
        ops_new["kernel_ms_per_inference"].as_f64().unwrap(),
        ops_old["kernel_ms_per_inference"].as_f64().unwrap(),
    );
    assert!(
        k_old > 0.0 && (k_old - k_new).abs() <= k_new * 0.01,
        "{k_old} vs {k_new}"
    );
    // And a report of the upgraded profile still draws its operators.
    let html = dir.path().join("r.html");
    assert_eq!(
        run(on(&old).args(["report", id, "--out"]).arg(&html)).code,
        0
    );
    let text = std::fs::read_to_string(&html).unwrap();
    let op = ops_old["op_types"][0]["op_type"].as_str().unwrap();
    assert!(text.contains(op), "the report names {op}");
    // Every sample came through the rebuild of `runs` (migration 4) that let load runs in.
    for r in got.as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let samples = |db: &Path| {
            json(&run(on(db).args(["runs", "show", id, "--json"])).stdout)["samples_ns"].clone()
        };
        let (kept, before) = (samples(&old), samples(&new));
        assert!(!before[0].as_array().unwrap().is_empty(), "{id}");
        assert_eq!(kept, before, "the samples of {id}");
    }
}
