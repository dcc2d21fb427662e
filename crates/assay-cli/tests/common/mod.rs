//! Helpers for the CLI tests: the real `assay` binary, the fixtures made by
//! `scripts/make_fixtures.py`, and the third-party models fetched by `scripts/setup.sh`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn must_exist(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (scripts/setup.sh) first",
        p.display()
    );
    p
}

pub fn fixture(name: &str) -> PathBuf {
    must_exist(root().join(".cache/fixtures").join(name))
}

pub fn third_party(rel: &str) -> PathBuf {
    must_exist(root().join(".cache/models").join(rel))
}

pub fn sample_model() -> PathBuf {
    must_exist(root().join("assets/sample-mlp.onnx"))
}

pub fn ort_wheel() -> PathBuf {
    let dir = must_exist(root().join(".cache/wheels"));
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("onnxruntime-")
        })
        .expect("the onnxruntime wheel is in .cache/wheels (scripts/setup.sh)")
}

/// `assay` with a clean log environment and this test process's own run history.
pub fn assay() -> Command {
    let mut c = Command::cargo_bin("assay").unwrap();
    c.env_remove("ASSAY_LOG")
        .env_remove("RUST_BACKTRACE")
        .env("ASSAY_DB", test_db());
    c
}

/// A run database private to this test binary's process.
pub fn test_db() -> PathBuf {
    std::env::temp_dir().join(format!("assay-test-{}.db", std::process::id()))
}

/// Fast settings for benchmarks whose numbers the test does not judge.
pub const QUICK: [&str; 4] = ["--warmup-time", "20ms", "--duration", "150ms"];

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().unwrap();
    let o = Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    // Whatever happened, it must never look like a crash.
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "internal error",
    ] {
        assert!(!o.stderr.contains(bad), "looks like a crash:\n{}", o.stderr);
    }
    o
}

/// Runs a command expected to fail with `code` and one `error:` line containing `needle`.
pub fn expect_error(cmd: &mut Command, code: i32, needle: &str) -> Outcome {
    let o = run(cmd);
    assert_eq!(
        o.code, code,
        "exit code for {needle:?}; stderr:\n{}",
        o.stderr
    );
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error line expected, got:\n{}",
        o.stderr
    );
    assert!(
        errors[0].contains(needle),
        "{:?} does not mention {needle:?}",
        errors[0]
    );
    o
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

/// The ONNX Runtime library discovery finds with the real environment.
pub fn runtime_library() -> PathBuf {
    static LIB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        let o = run(assay().args(["runtime", "list", "--json"]));
        assert_eq!(
            o.code, 0,
            "no ONNX Runtime installed (make setup): {}",
            o.stderr
        );
        PathBuf::from(
            json(&o.stdout)["active"]["library"]
                .as_str()
                .expect("an active runtime"),
        )
    })
    .clone()
}

// The run history's helpers (history.rs, import.rs).

/// `assay` on a database of its own.
pub fn on(db: &Path) -> assert_cmd::Command {
    let mut c = assay();
    // Files a verb writes by default (compare's diff-A-B.svg) land beside the database.
    c.env("ASSAY_DB", db)
        .current_dir(db.parent().expect("a database path has a folder"));
    c
}

pub fn bench_run(db: &Path, model: &Path, extra: &[&str]) -> String {
    let o = run(on(db)
        .arg("bench")
        .arg(model)
        .args(QUICK)
        .args(extra)
        .arg("--json"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    json(&o.stdout)["run_id"]
        .as_str()
        .expect("the run id is in the document")
        .to_string()
}

pub fn profile_run(db: &Path, model: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = run(on(db)
        .arg("profile")
        .arg(model)
        .args(QUICK)
        .arg("--out")
        .arg(out)
        .args(["--profile-iterations", "30", "--json"])
        .args(extra));
    assert_eq!(o.code, 0, "{}", o.stderr);
    json(&o.stdout)
}
