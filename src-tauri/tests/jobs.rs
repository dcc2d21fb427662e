//! Long jobs in the real `assay` worker process: events stream in, cancel stops the job
//! without recording it, and a crash or a kill of the worker is reported while the console
//! (this test process) keeps running and starts the next job.

use std::{
    path::PathBuf,
    sync::mpsc,
    time::{Duration, Instant},
};

use assay_console::{
    job::{JobContext, JobSpec},
    worker::Jobs,
};
use serde_json::{Value, json};

fn worker() -> PathBuf {
    let p = std::env::var_os("ASSAY_WORKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/debug/assay"
            ))
        });
    assert!(
        p.is_file(),
        "{} is missing: build the worker first (cargo build -p assay-cli)",
        p.display()
    );
    p
}

fn sample() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/sample-mlp.onnx").into()
}

struct Started {
    id: u64,
    events: mpsc::Receiver<Value>,
}

fn start(jobs: &Jobs, data: &std::path::Path, spec: Value) -> Started {
    let spec: JobSpec = serde_json::from_value(spec).unwrap();
    let inv = spec
        .invocation(&JobContext {
            db: data.join("assay.db"),
            data_dir: data.to_path_buf(),
            gateway: None,
        })
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let id = jobs
        .spawn(&worker(), inv.args, inv.envs, move |e| {
            // What the view receives over the IPC channel: the event as JSON.
            let _ = tx.send(serde_json::to_value(e).unwrap());
        })
        .unwrap();
    Started { id, events: rx }
}

/// Every event until the terminal one (exit, cancelled or the console's own error).
fn drain(s: &Started, until: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Ok(e) = s
        .events
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        let done = matches!(e["event"].as_str(), Some("exit" | "cancelled"))
            || (e["event"] == "error" && e.get("signal").is_some());
        let hit = until.is_some_and(|u| e["event"] == u);
        out.push(e);
        if done || hit {
            return out;
        }
    }
    panic!(
        "the job did not finish; last events: {:?}",
        &out[out.len().saturating_sub(3)..]
    );
}

fn bench(duration: &str) -> Value {
    json!({"kind": "bench", "model": sample(), "run": {"batch": "1", "duration": duration, "warmup": 2}})
}

fn runs_in(data: &std::path::Path) -> usize {
    tauri::async_runtime::block_on(async {
        let s = assay_store::Store::open(&data.join("assay.db"))
            .await
            .unwrap();
        let n = s.list(None, None, 100).await.unwrap().len();
        s.close().await;
        n
    })
}

#[test]
fn a_benchmark_streams_progress_then_its_result_and_is_recorded() {
    let data = tempfile::tempdir().unwrap();
    let jobs = Jobs::default();
    let s = start(&jobs, data.path(), bench("500ms"));
    let events = drain(&s, None);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert!(kinds.contains(&"progress"), "{kinds:?}");
    assert_eq!(&kinds[kinds.len() - 2..], ["result", "exit"], "{kinds:?}");
    let report = &events[events.len() - 2]["report"];
    assert_eq!(report["schema"], "assay.bench/1");
    assert!(report["results"][0]["samples"].as_u64().unwrap() >= 100);
    assert!(jobs.running().is_empty());
    assert_eq!(runs_in(data.path()), 1);
}

#[test]
fn a_cancelled_benchmark_ends_as_cancelled_and_records_nothing() {
    let data = tempfile::tempdir().unwrap();
    let jobs = Jobs::default();
    let s = start(&jobs, data.path(), bench("60s"));
    drain(&s, Some("progress"));
    assert!(jobs.cancel(s.id));
    let events = drain(&s, None);
    assert_eq!(events.last().unwrap()["event"], "cancelled", "{events:?}");
    assert!(
        !jobs.cancel(s.id),
        "a finished job cannot be cancelled again"
    );
    assert!(!data.path().join("assay.db").exists() || runs_in(data.path()) == 0);
}

fn crash_with(signal: i32) -> Value {
    let data = tempfile::tempdir().unwrap();
    let jobs = Jobs::default();
    let s = start(&jobs, data.path(), bench("60s"));
    drain(&s, Some("progress"));
    // What ONNX Runtime aborting (SIGABRT: a failed check, an uncaught C++ exception) or the
    // OOM killer (SIGKILL) does to the worker. (A SIGSEGV sent with kill(2) is not a fault:
    // Rust's stack-overflow handler swallows the first one, so it cannot stand in for one.)
    let pid = jobs.pid(s.id).expect("the worker runs") as i32;
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let events = drain(&s, None);
    let last = events.last().unwrap().clone();
    assert!(jobs.running().is_empty());
    // The console is fine: the next job runs.
    let again = start(&jobs, data.path(), bench("200ms"));
    assert_eq!(drain(&again, None).last().unwrap()["event"], "exit");
    last
}

#[test]
fn a_worker_that_crashes_is_reported_and_the_console_goes_on() {
    let last = crash_with(libc::SIGABRT);
    assert_eq!(last["event"], "error");
    assert_eq!(last["kind"], "crashed");
    assert_eq!(last["signal"], libc::SIGABRT);
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("crashed (signal 6)"),
        "{last}"
    );
}

#[test]
fn a_worker_killed_for_memory_is_reported_as_such() {
    let last = crash_with(libc::SIGKILL);
    assert_eq!(last["kind"], "crashed");
    assert!(
        last["message"].as_str().unwrap().contains("out of memory"),
        "{last}"
    );
}

#[test]
fn the_workers_own_error_is_forwarded_with_its_sentence() {
    let data = tempfile::tempdir().unwrap();
    let jobs = Jobs::default();
    let s = start(
        &jobs,
        data.path(),
        json!({"kind": "bench", "model": "/nonexistent/model.onnx"}),
    );
    let events = drain(&s, None);
    let err = events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/model.onnx"),
        "{err}"
    );
    assert_eq!(events.last().unwrap()["event"], "exit");
    assert_ne!(events.last().unwrap()["code"], 0);
}

#[test]
fn a_missing_worker_is_a_sentence_not_a_panic() {
    let jobs = Jobs::default();
    let err = jobs
        .spawn("/nonexistent/assay".as_ref(), vec![], vec![], |_| {})
        .unwrap_err();
    assert_eq!(err.kind, assay_engine::ErrorKind::Worker);
    assert!(
        err.message.contains("/nonexistent/assay"),
        "{}",
        err.message
    );
}

/// Whether a process whose command line contains `marker` is alive.
fn alive(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(marker))
            .unwrap_or(false)
    })
}

#[test]
fn cancel_stops_what_the_worker_started_too() {
    // `assay runtime install` runs pip; pip inherits the worker's stderr. A cancel must stop
    // both, and must not wait for a grandchild that holds the pipe open.
    let marker = format!("{}", 424_242 + std::process::id() % 1000);
    let script =
        format!("echo '{{\"event\":\"step\",\"message\":\"downloading\"}}'; sleep {marker} & wait");
    let jobs = Jobs::default();
    let (tx, rx) = mpsc::channel();
    let id = jobs
        .spawn(
            "/bin/sh".as_ref(),
            vec!["-c".into(), script.into()],
            vec![],
            move |e| {
                let _ = tx.send(serde_json::to_value(e).unwrap());
            },
        )
        .unwrap();
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first["event"], "step");
    // /proc/PID/cmdline separates arguments with NULs: this is the sleep, not the shell.
    let grandchild = format!("sleep\0{marker}");
    let until = Instant::now() + Duration::from_secs(5);
    while !alive(&grandchild) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(&grandchild), "the grandchild never started");
    let started = Instant::now();
    assert!(jobs.cancel(id));
    let last = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(last["event"], "cancelled", "{last}");
    assert!(started.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(&grandchild), "the grandchild outlived the cancel");
}

/// The console's history from before it was shared with the CLI is merged into the shared
/// one the first time the console opens it, and only then: nothing lost, nothing doubled.
#[test]
fn the_old_console_history_is_merged_into_the_shared_one_once() {
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("assay.db");
    let out = std::process::Command::new(worker())
        .arg("bench")
        .arg(format!("--db={}", legacy.display()))
        .args([
            "--warmup-time",
            "20ms",
            "--duration",
            "100ms",
            "--json",
            "--",
        ])
        .arg(sample())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut dirs = assay_console::data::DataDirs::at(root.path().to_path_buf());
    dirs.db = root.path().join("shared/assay.db");
    let rt = tauri::async_runtime::block_on(async {
        let store = assay_store::Store::open(&dirs.db).await.unwrap();
        dirs.adopt_legacy_history(&store).await.unwrap();
        let after_first = store.list(None, None, 100).await.unwrap();
        dirs.adopt_legacy_history(&store).await.unwrap();
        let after_second = store.list(None, None, 100).await.unwrap();
        let run = store.run(&id).await.unwrap();
        store.close().await;
        (after_first, after_second, run)
    });
    let (first, second, run) = rt;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, id);
    assert_eq!(second.len(), 1, "a second start imports nothing");
    assert!(!run.samples_ns[0].is_empty(), "the samples came across");
    assert!(root.path().join("assay.db.imported").is_file());
    assert!(legacy.is_file(), "the old database stays, as a backup");
}
