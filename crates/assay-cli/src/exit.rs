//! Exit codes and the one-line error a user sees (never a panic or a backtrace).
//!
//! 0 success · 1 model, runtime, store or IO failure · 2 usage error · 3 no ONNX Runtime
//! found · 4 a regression gate failed (`compare --fail-if-slower`) · 5 a release failed
//! verification · 6 an accuracy gate failed · 7 no display for the viewer's window. The code comes from [`ErrorKind::exit_code`], the one classification the
//! console and the gateway use too.

use assay_engine::{EngineError, ErrorKind, Setting};

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

/// `accuracy --fail-on-mismatch` found a candidate outside tolerance: exit code 6.
#[derive(Debug)]
pub struct MismatchGate(pub String);

impl std::fmt::Display for MismatchGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MismatchGate {}

/// No display for the native viewer's window: exit code 7.
#[derive(Debug)]
pub struct NoDisplay(pub String);

impl std::fmt::Display for NoDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoDisplay {}

/// Prints `err` and returns the exit code for it.
pub fn report(err: &anyhow::Error, machine: Machine) -> i32 {
    let kind = kind_of(err);
    let code = kind.exit_code();
    let message = in_flag_words(err);
    match machine {
        Machine::Text => {}
        Machine::Json => println!(
            "{}",
            serde_json::json!({"error": {"kind": kind, "message": message, "exit_code": code}})
        ),
        Machine::Events => println!(
            "{}",
            serde_json::to_string(&assay_engine::ErrorEvent::Error {
                kind,
                message: message.clone(),
                exit_code: Some(code),
                signal: None,
                detail: None,
            })
            .expect("an error event serializes")
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

/// The message, with the settings the libraries name in plain words said as this CLI's
/// flags (a library never knows a flag name). An error wrapped in context keeps its context.
fn in_flag_words(err: &anyhow::Error) -> String {
    let Some(e) = err.downcast_ref::<EngineError>() else {
        return err.to_string();
    };
    if err.to_string() != e.to_string() {
        return err.to_string();
    }
    match e {
        EngineError::InvalidOption { option, message } => {
            format!("invalid value for {}: {message}", flag(*option))
        }
        EngineError::UnboundDimension {
            dims,
            suggested,
            sources,
        } => {
            let flags: Vec<String> = suggested
                .iter()
                .map(|(h, v)| format!("--dim {h}={v}"))
                .collect();
            format!(
                "the model's dynamic dimensions {dims} have no value; bind them with {} (suggested: {sources}), or give whole shapes with --shape INPUT=...",
                flags.join(" ")
            )
        }
        EngineError::NoRuntime => "no ONNX Runtime found; run `assay runtime install` (or pass --runtime PATH / set ASSAY_ORT_DYLIB)".into(),
        _ => e.to_string(),
    }
}

/// The flag that sets `s`.
fn flag(s: Setting) -> &'static str {
    match s {
        Setting::Provider => "--provider",
        Setting::Batch => "--batch",
        Setting::Concurrency => "--concurrency",
        Setting::Dim => "--dim",
        Setting::Shape => "--shape",
        Setting::Input => "--input",
        Setting::Fill => "--fill",
        Setting::IntRange => "--int-range",
        Setting::Threads => "--intra-threads/--inter-threads",
        Setting::Iterations => "--iterations",
        Setting::ProfileIterations => "--profile-iterations",
        Setting::Duration => "--duration",
        Setting::Compare => "the runs to compare",
        Setting::Chart => "the chart",
        Setting::IndexUrl => "--index-url",
        Setting::Wheel => "--from-wheel",
        Setting::Candidate => "--candidate",
        Setting::Tolerance => "--atol/--rtol/--check",
        Setting::InputSets => "--sets",
        Setting::CheckSets => "--check-sets",
        Setting::Target => "the target URL",
        Setting::Rate => "--rate",
    }
}

/// The kind of any error a command returns, from the libraries' own classification; an
/// error of unknown origin (a bare `anyhow` context) counts as `io`.
fn kind_of(err: &anyhow::Error) -> ErrorKind {
    if let Some(e) = err.downcast_ref::<EngineError>() {
        e.kind()
    } else if let Some(e) = err.downcast_ref::<assay_store::StoreError>() {
        e.kind()
    } else if let Some(e) = err.downcast_ref::<assay_load::LoadError>() {
        e.kind()
    } else if let Some(e) = err.downcast_ref::<assay_release::ReleaseError>() {
        e.kind()
    } else if err.downcast_ref::<UsageError>().is_some() {
        ErrorKind::Usage
    } else if err.downcast_ref::<RegressionGate>().is_some() {
        ErrorKind::Regression
    } else if err.downcast_ref::<MismatchGate>().is_some() {
        ErrorKind::Mismatch
    } else if err.downcast_ref::<VerificationFailed>().is_some() {
        ErrorKind::Verification
    } else if err.downcast_ref::<NoDisplay>().is_some() {
        ErrorKind::NoDisplay
    } else {
        ErrorKind::Io
    }
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
