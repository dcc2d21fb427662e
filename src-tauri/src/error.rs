//! What a command's failure looks like to the UI: a sentence to show, a stable `kind` to
//! branch on, and the detail one click away.

use serde::Serialize;

/// A failed command, serialized as `{"kind", "message", "detail"}`.
#[derive(Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    /// `model`, `runtime`, `io`, `usage` (mirrors the engine's error kinds).
    pub kind: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl From<assay_engine::EngineError> for UiError {
    fn from(e: assay_engine::EngineError) -> Self {
        use assay_engine::ErrorKind::*;
        UiError {
            kind: match e.kind() {
                Usage => "usage",
                NoRuntime => "no_runtime",
                Model => "model",
                Runtime => "runtime",
                Io => "io",
            },
            message: e.to_string(),
            detail: Some(format!("{e:?}")),
        }
    }
}
