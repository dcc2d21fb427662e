//! What a command's failure looks like to the UI: a sentence to show, a stable `kind` to
//! branch on, and the detail one click away.

use assay_engine::ErrorKind;
use serde::Serialize;

/// A failed command, serialized as `{"kind", "message", "detail"}`.
#[derive(Debug, Serialize, thiserror::Error, ts_rs::TS)]
#[ts(export)]
#[error("{message}")]
pub struct UiError {
    /// The shared classification ([`ErrorKind`]): the same names as the CLI's `--json`
    /// errors and the gateway's error bodies.
    pub kind: ErrorKind,
    pub message: String,
    /// The full error, one click away (absent for errors the front end makes itself).
    #[ts(optional = nullable)]
    pub detail: Option<String>,
}

impl UiError {
    /// Input the user can fix.
    pub fn usage(message: impl Into<String>) -> UiError {
        UiError {
            kind: ErrorKind::Usage,
            message: message.into(),
            detail: None,
        }
    }

    /// A file or folder that cannot be read or written.
    pub fn io(message: impl Into<String>, e: impl std::fmt::Display) -> UiError {
        UiError {
            kind: ErrorKind::Io,
            message: message.into(),
            detail: Some(e.to_string()),
        }
    }

    /// Any library error, classified by the library itself.
    fn from_library(kind: ErrorKind, e: &(impl std::fmt::Display + std::fmt::Debug)) -> UiError {
        UiError {
            kind,
            message: e.to_string(),
            detail: Some(format!("{e:?}")),
        }
    }
}

impl From<assay_engine::EngineError> for UiError {
    fn from(e: assay_engine::EngineError) -> Self {
        UiError::from_library(e.kind(), &e)
    }
}

impl From<assay_store::StoreError> for UiError {
    fn from(e: assay_store::StoreError) -> Self {
        UiError::from_library(e.kind(), &e)
    }
}

impl From<assay_release::ReleaseError> for UiError {
    fn from(e: assay_release::ReleaseError) -> Self {
        UiError::from_library(e.kind(), &e)
    }
}
