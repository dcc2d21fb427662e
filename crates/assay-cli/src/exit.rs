//! Exit codes and the one-line error a user sees (never a panic or a backtrace).
//!
//! 0 success · 1 model, runtime, store or IO failure · 2 usage error · 3 no ONNX Runtime
//! found · 4 a regression gate failed (`compare --fail-if-slower`) · 5 a release failed
//! verification.

use assay_engine::{EngineError, ErrorKind};

/// How the command wants its error: plain text, a JSON object, or an NDJSON event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Text,
    Json,
    Events,
}

/// An error raised by the CLI itself about its arguments.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A release did not verify: exit code 5.
#[derive(Debug)]
pub struct VerificationFailed(pub String);

impl std::fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "verification failed: {}", self.0)
    }
}

impl std::error::Error for VerificationFailed {}

/// `compare --fail-if-slower` found a significant regression: exit code 4.
#[derive(Debug)]
pub struct RegressionGate(pub String);

impl std::fmt::Display for RegressionGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegressionGate {}

/// Prints `err` and returns the exit code for it.
pub fn report(err: &anyhow::Error, machine: Machine) -> i32 {
    let (kind, code) = classify(err);
    let message = err.to_string();
    match machine {
        Machine::Text => {}
        Machine::Json => println!(
            "{}",
            serde_json::json!({"error": {"kind": kind, "message": message, "exit_code": code}})
        ),
        Machine::Events => println!(
            "{}",
            serde_json::json!({"event": "error", "kind": kind, "message": message, "exit_code": code})
        ),
    }
    eprintln!("error: {message}");
    code
}

/// A command line clap refused. `--help` and `--version` print as usual; a real error is
/// reported like any other usage error, so `--json` and `--events` callers (the console's
/// worker) get it as JSON with the flag named, not as clap's usage text on stderr.
pub fn bad_arguments(e: clap::Error) -> i32 {
    if !e.use_stderr() {
        e.exit();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let machine = if args.iter().any(|a| a == "--events") {
        Machine::Events
    } else if args.iter().any(|a| a == "--json") {
        Machine::Json
    } else {
        e.exit()
    };
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    report(&anyhow::Error::new(UsageError(message)), machine)
}

fn classify(err: &anyhow::Error) -> (&'static str, i32) {
    if let Some(e) = err.downcast_ref::<EngineError>() {
        return match e.kind() {
            ErrorKind::Usage => ("usage", 2),
            ErrorKind::NoRuntime => ("no_runtime", 3),
            ErrorKind::Model => ("model", 1),
            ErrorKind::Runtime => ("runtime", 1),
            ErrorKind::Io => ("io", 1),
        };
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return ("usage", 2);
    }
    if err.downcast_ref::<RegressionGate>().is_some() {
        return ("regression", 4);
    }
    if err.downcast_ref::<assay_store::StoreError>().is_some() {
        return ("store", 1);
    }
    if err.downcast_ref::<VerificationFailed>().is_some() {
        return ("verification", 5);
    }
    if let Some(e) = err.downcast_ref::<assay_release::ReleaseError>() {
        return match e {
            assay_release::ReleaseError::Invalid { .. }
            | assay_release::ReleaseError::UnknownKeyName(_) => ("usage", 2),
            e if e.is_verification_failure() => ("verification", 5),
            // The gateway refused the release after verifying it.
            assay_release::ReleaseError::Remote {
                status: 422,
                message,
            } if message.starts_with("release refused") => ("verification", 5),
            assay_release::ReleaseError::Remote { .. } => ("gateway", 1),
            assay_release::ReleaseError::Unreachable { .. } => ("unreachable", 1),
            _ => ("release", 1),
        };
    }
    ("io", 1)
}

/// A panic is a bug, but the user still gets one readable line, not a backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error in assay ({msg}{at}); please report it");
    }));
}
