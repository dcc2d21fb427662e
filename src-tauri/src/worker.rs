//! Long jobs run in the `assay` worker process, never in the console: an ONNX Runtime crash
//! or an out-of-memory kill then ends the worker, and the console reports it and keeps
//! running.
//!
//! The worker speaks the NDJSON protocol of docs/EVENTS.md on stdout. [`Jobs::spawn`]
//! forwards each event to a sink and always ends the stream with exactly one terminal
//! event of its own: `{"event":"exit"}` after a clean exit, `{"event":"cancelled"}`, or an
//! `error` event (the worker's own, or `kind: ErrorKind::Crashed` with the exit status and the tail
//! of stderr when it died without one). Verbs that print one JSON document instead of
//! events (`sign --json`) get it forwarded as `{"event":"result","value":…}`.

use assay_engine::{ErrorEvent, ErrorKind};
use std::{
    collections::{HashMap, VecDeque},
    ffi::OsString,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::{
    error::UiError,
    job_event::{ConsoleEvent, Document, DocumentEvent, JobEvent},
};

/// Lines of the worker's stderr kept for a crash report.
const STDERR_TAIL: usize = 20;

struct Running {
    pid: u32,
    child: Arc<Mutex<Child>>,
    cancelled: Arc<AtomicBool>,
}

/// The running worker processes, by job id (Tauri managed state).
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    running: Arc<Mutex<HashMap<u64, Running>>>,
}

/// Where the `assay` worker binary is: `$ASSAY_WORKER`, else next to the console's own
/// executable (how the .deb and `cargo build` lay them out), else on `PATH`.
pub fn locate() -> PathBuf {
    if let Some(p) = std::env::var_os("ASSAY_WORKER") {
        return p.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("assay")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "assay".into())
}

impl Jobs {
    /// Starts `program args…` with `envs` added, and streams its events to `sink` from a
    /// reader thread. Returns the job id at once.
    pub fn spawn(
        &self,
        program: &Path,
        args: Vec<OsString>,
        envs: Vec<(String, String)>,
        sink: impl Fn(JobEvent) + Send + 'static,
    ) -> Result<u64, UiError> {
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so cancel also stops what the worker started (pip, during
        // a runtime install).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        #[cfg(target_os = "linux")]
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| UiError {
            kind: ErrorKind::Worker,
            message: format!(
                "could not start the worker process {}: {e}",
                program.display()
            ),
            detail: Some(
                "The console runs long jobs in the `assay` binary. Install it next to the \
                 console, or set ASSAY_WORKER to its path."
                    .into(),
            ),
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let child = Arc::new(Mutex::new(child));
        let cancelled = Arc::new(AtomicBool::new(false));
        self.running.lock().unwrap().insert(
            id,
            Running {
                pid: child.lock().unwrap().id(),
                child: child.clone(),
                cancelled: cancelled.clone(),
            },
        );
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_thread = {
            let tail = tail.clone();
            std::thread::spawn(move || keep_tail(stderr, &tail))
        };
        let running = self.running.clone();
        std::thread::Builder::new()
            .name(format!("assay-job-{id}"))
            .spawn(move || {
                let ended_with_error = forward(stdout, &sink);
                let status = wait(&child);
                let pid = child.lock().unwrap().id();
                // Whatever the worker left behind in its group goes with it.
                kill_group(pid);
                // A grandchild could still hold stderr open: the report does not wait for it.
                let until = std::time::Instant::now() + Duration::from_secs(2);
                while !stderr_thread.is_finished() && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                running.lock().unwrap().remove(&id);
                let tail: Vec<String> = tail.lock().unwrap().drain(..).collect();
                sink(terminal(
                    status,
                    cancelled.load(Ordering::SeqCst),
                    ended_with_error,
                    &tail,
                ));
            })
            .map_err(|e| UiError {
                kind: ErrorKind::Worker,
                message: format!("could not watch the worker process: {e}"),
                detail: None,
            })?;
        Ok(id)
    }

    /// Stops a job: the worker is killed (an interrupted push resumes next time; a
    /// benchmark that never finished records nothing). False when the job already ended.
    pub fn cancel(&self, id: u64) -> bool {
        let running = self.running.lock().unwrap();
        let Some(job) = running.get(&id) else {
            return false;
        };
        let mut child = job.child.lock().unwrap();
        // A job that has already exited finished on its own: its outcome stands.
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        job.cancelled.store(true, Ordering::SeqCst);
        kill_group(job.pid);
        child.kill().is_ok()
    }

    /// The worker's process id while the job runs.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.running.lock().unwrap().get(&id).map(|r| r.pid)
    }

    /// Ids of the jobs still running.
    pub fn running(&self) -> Vec<u64> {
        self.running.lock().unwrap().keys().copied().collect()
    }
}

/// Kills the worker's process group (the worker and anything it started).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    // SAFETY: killpg only sends a signal; a group that no longer exists is ESRCH.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Makes the kernel kill the worker if the console dies, so no orphan keeps a GPU busy.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches nothing but this process's state.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A JSON document printed instead of events is small (a signature summary, an install
/// record); anything past this is not kept.
const DOCUMENT_CAP: usize = 16 << 20;

/// Lines of a pipe, decoded lossily: one line that is not UTF-8 (a native library's output)
/// must not end the stream.
fn lines(r: impl Read) -> impl Iterator<Item = String> {
    let mut r = BufReader::new(r);
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                Some(String::from_utf8_lossy(&buf).into_owned())
            }
        }
    })
}

/// Forwards event lines; gathers anything else as one JSON document for a `result` event.
/// Returns whether the worker reported an `error` event itself.
fn forward(stdout: impl Read, sink: &impl Fn(JobEvent)) -> bool {
    let mut saw_error = false;
    let mut document = String::new();
    for line in lines(stdout) {
        // Each line is read once as an event; only a line that is not one is looked at again,
        // to tell a newer worker's event from a line of a document.
        match line
            .starts_with('{')
            .then(|| serde_json::from_str::<JobEvent>(&line))
        {
            Some(Ok(event)) => {
                saw_error |= event.is_error();
                sink(event);
            }
            // A newer worker's event this console does not know: views ignore unknown
            // events anyway (docs/EVENTS.md).
            Some(Err(e)) if is_event_line(&line) => {
                eprintln!("assay-console: skipping a worker event it cannot read ({e})")
            }
            _ if document.len() + line.len() < DOCUMENT_CAP => {
                document.push_str(&line);
                document.push('\n');
            }
            _ => {}
        }
    }
    match serde_json::from_str::<Document>(&document) {
        Ok(value) => sink(JobEvent::Document(DocumentEvent::Result { value })),
        Err(e) if !document.trim().is_empty() => {
            eprintln!("assay-console: the worker's document is not one it knows ({e})")
        }
        Err(_) => {}
    }
    saw_error
}

/// An NDJSON event line: one JSON object with a string `event` field. A verb's own JSON
/// document spans many lines, and its first line is only `{`.
fn is_event_line(line: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Tag<'a> {
        #[expect(dead_code, reason = "only its presence is checked")]
        #[serde(borrow)]
        event: std::borrow::Cow<'a, str>,
    }
    line.starts_with('{') && serde_json::from_str::<Tag>(line).is_ok()
}

fn keep_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in lines(stderr) {
        let mut t = tail.lock().unwrap();
        if t.len() == STDERR_TAIL {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// Waits without holding the lock across the wait, so `cancel` can always reach the child.
fn wait(child: &Mutex<Child>) -> std::io::Result<ExitStatus> {
    loop {
        if let Some(status) = child.lock().unwrap().try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminal(
    status: std::io::Result<ExitStatus>,
    cancelled: bool,
    reported_error: bool,
    stderr_tail: &[String],
) -> JobEvent {
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            return JobEvent::Error(ErrorEvent::Error {
                kind: ErrorKind::Crashed,
                message: format!("lost track of the worker process: {e}"),
                exit_code: None,
                signal: None,
                detail: None,
            });
        }
    };
    if status.success() {
        return JobEvent::Console(ConsoleEvent::Exit { code: Some(0) });
    }
    if cancelled {
        return JobEvent::Console(ConsoleEvent::Cancelled);
    }
    if reported_error {
        return JobEvent::Console(ConsoleEvent::Exit {
            code: status.code(),
        });
    }
    // The worker died without saying why: a signal (a crash, the OOM killer) or an error
    // printed as text. Its stderr says the rest.
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let last = stderr_tail
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim_start_matches("error: ").to_string());
    let message = match (signal, &last) {
        (Some(9), _) => "the worker process was killed (signal 9: out of memory, or killed \
                         from outside); the console is fine"
            .to_string(),
        (Some(s), _) => format!(
            "the worker process crashed (signal {s}) — likely inside ONNX Runtime; the \
             console is fine"
        ),
        (None, Some(line)) => line.clone(),
        (None, None) => format!(
            "the worker process failed with exit code {}",
            status.code().unwrap_or(-1)
        ),
    };
    JobEvent::Error(ErrorEvent::Error {
        kind: if signal.is_some() {
            ErrorKind::Crashed
        } else {
            ErrorKind::Worker
        },
        message,
        exit_code: status.code(),
        signal,
        detail: Some(stderr_tail.join("\n")),
    })
}

/// Runs a short worker command that prints one JSON document (`runtime list --json`) and
/// returns it. The worker, not the console, loads ONNX Runtime to answer.
pub fn run_json<T: serde::de::DeserializeOwned>(args: &[&str]) -> Result<T, UiError> {
    let program = locate();
    let out = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| UiError {
            kind: ErrorKind::Worker,
            message: format!(
                "could not start the worker process {}: {e}",
                program.display()
            ),
            detail: None,
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(UiError {
            kind: ErrorKind::Worker,
            message: stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("the worker process failed")
                .trim_start_matches("error: ")
                .to_string(),
            detail: Some(stderr.into_owned()),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| UiError {
        kind: ErrorKind::Worker,
        message: "the worker process answered with something this console cannot read".into(),
        detail: Some(e.to_string()),
    })
}
