//! What a command's failure looks like to the UI: a sentence to show, a stable `kind` to
//! branch on, and the detail one click away.

use serde::Serialize;

/// A failed command, serialized as `{"kind", "message", "detail"}`.
#[derive(Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    /// `usage`, `model`, `runtime`, `no_runtime`, `io`, `store`, `release`, `verification`,
    /// `gateway`, `unreachable`, `worker`, `crashed`.
    pub kind: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl UiError {
    /// Input the user can fix.
    pub fn usage(message: impl Into<String>) -> UiError {
        UiError {
            kind: "usage",
            message: message.into(),
            detail: None,
        }
    }

    /// A file or folder that cannot be read or written.
    pub fn io(message: impl Into<String>, e: impl std::fmt::Display) -> UiError {
        UiError {
            kind: "io",
            message: message.into(),
            detail: Some(e.to_string()),
        }
    }
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

impl From<assay_store::StoreError> for UiError {
    fn from(e: assay_store::StoreError) -> Self {
        UiError {
            kind: "store",
            message: e.to_string(),
            detail: Some(format!("{e:?}")),
        }
    }
}

impl From<assay_release::ReleaseError> for UiError {
    fn from(e: assay_release::ReleaseError) -> Self {
        use assay_release::ReleaseError::*;
        let kind = match &e {
            _ if e.is_verification_failure() => "verification",
            Invalid { .. } | UnknownKeyName(_) => "usage",
            Remote { .. } => "gateway",
            Unreachable { .. } => "unreachable",
            Io { .. } => "io",
            _ => "release",
        };
        UiError {
            kind,
            message: e.to_string(),
            detail: Some(format!("{e:?}")),
        }
    }
}
