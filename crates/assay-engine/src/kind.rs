//! The one classification of every failure in Assay. Each library error says which
//! [`ErrorKind`] it is (`EngineError::kind`, `StoreError::kind`, `ReleaseError::kind`, the
//! gateway's own), and every front end reads its answer from the kind alone:
//!
//! - the CLI's exit code ([`ErrorKind::exit_code`]) and its JSON `kind`;
//! - the console's `UiError.kind`, serialized with the same names ([`ErrorKind::as_str`]);
//! - the gateway's HTTP status ([`ErrorKind::http_status`]), and the `kind` in its error
//!   bodies, which the release client reads back so that no rule ever matches message text.
//!
//! It lives in the engine because every crate depends on the engine and nothing below it.

use serde::{Deserialize, Serialize};

/// What went wrong, grouped by how a caller reacts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is wrong: a bad option value, an input that does not fit the model.
    Usage,
    /// A named thing (model, version, run, upload) does not exist.
    NotFound,
    /// The request conflicts with the current state (a version that exists, a busy model).
    Conflict,
    /// Missing or wrong credentials.
    Unauthorized,
    /// A body or file over a size limit.
    TooLarge,
    /// The model file cannot be read, parsed, loaded or warmed up.
    Model,
    /// A release or signature did not verify: do not trust it.
    Verification,
    /// No ONNX Runtime library could be found.
    NoRuntime,
    /// ONNX Runtime failed, or an execution provider could not be used.
    Runtime,
    /// A file system or network operation failed.
    Io,
    /// The run history (SQLite) failed.
    Store,
    /// Making or reading a release failed for a reason other than verification.
    Release,
    /// A gateway answered with an error of its own.
    Gateway,
    /// A gateway or registry could not be reached.
    Unreachable,
    /// Refused for load: a full queue or a rate limit (come back later).
    Overloaded,
    /// Not ready, or timed out under load.
    Unavailable,
    /// A regression gate failed (a comparison that must not be slower).
    Regression,
    /// An accuracy gate failed: a candidate's outputs are outside tolerance and above the
    /// reference's noise floor (`assay accuracy --fail-on-mismatch`).
    Mismatch,
    /// No display to open a window on (the native viewer without X11 or Wayland).
    NoDisplay,
    /// The console's worker process failed before it could say why.
    Worker,
    /// The worker process died on a signal (a crash inside ONNX Runtime, the OOM killer).
    Crashed,
    /// A bug: work that stopped unexpectedly (a panicked task).
    Internal,
}

impl ErrorKind {
    /// The name used in JSON (the CLI's JSON, the console, the gateway's bodies).
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Usage => "usage",
            NotFound => "not_found",
            Conflict => "conflict",
            Unauthorized => "unauthorized",
            TooLarge => "too_large",
            Model => "model",
            Verification => "verification",
            NoRuntime => "no_runtime",
            Runtime => "runtime",
            Io => "io",
            Store => "store",
            Release => "release",
            Gateway => "gateway",
            Unreachable => "unreachable",
            Overloaded => "overloaded",
            Unavailable => "unavailable",
            Regression => "regression",
            Mismatch => "mismatch",
            NoDisplay => "no_display",
            Worker => "worker",
            Crashed => "crashed",
            Internal => "internal",
        }
    }

    /// The CLI's exit code: 2 a usage error, 3 no ONNX Runtime, 4 a regression gate,
    /// 5 a failed verification, 6 an accuracy gate, 7 no display for a window, 1 anything
    /// else.
    pub fn exit_code(self) -> i32 {
        use ErrorKind::*;
        match self {
            Usage | NotFound | Unauthorized | TooLarge => 2,
            NoRuntime => 3,
            Regression => 4,
            Verification => 5,
            Mismatch => 6,
            NoDisplay => 7,
            Conflict | Model | Runtime | Io | Store | Release | Gateway | Unreachable
            | Overloaded | Unavailable | Worker | Crashed | Internal => 1,
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(self) -> u16 {
        use ErrorKind::*;
        match self {
            Usage => 400,
            Unauthorized => 401,
            NotFound => 404,
            Conflict | Regression | Mismatch => 409,
            TooLarge => 413,
            Model | Verification => 422,
            Overloaded => 429,
            Gateway | Unreachable => 502,
            NoRuntime | Unavailable | NoDisplay => 503,
            Runtime | Io | Store | Release | Worker | Crashed | Internal => 500,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last event of a job that failed (docs/EVENTS.md): the worker's own, or the console's
/// when the worker died without one.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ErrorEvent {
    Error {
        kind: ErrorKind,
        message: String,
        /// The worker's exit code, when it exited.
        exit_code: Option<i32>,
        /// The signal that killed the worker (the console's event only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// The tail of the worker's stderr (the console's event only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for k in [
            ErrorKind::Usage,
            ErrorKind::NotFound,
            ErrorKind::NoRuntime,
            ErrorKind::TooLarge,
            ErrorKind::Crashed,
        ] {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
            let back: ErrorKind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn exit_codes_and_statuses() {
        assert_eq!(ErrorKind::Usage.exit_code(), 2);
        assert_eq!(ErrorKind::NoRuntime.exit_code(), 3);
        assert_eq!(ErrorKind::Regression.exit_code(), 4);
        assert_eq!(ErrorKind::Verification.exit_code(), 5);
        assert_eq!(ErrorKind::Model.exit_code(), 1);
        assert_eq!(ErrorKind::Verification.http_status(), 422);
        assert_eq!(ErrorKind::Overloaded.http_status(), 429);
        assert_eq!(ErrorKind::Unavailable.http_status(), 503);
    }
}
