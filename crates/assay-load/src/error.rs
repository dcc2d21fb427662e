//! What can go wrong in a load run, classified by the engine's [`ErrorKind`] so the CLI's
//! exit code and the console's message come from one place.

use assay_engine::{EngineError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bad setting, or inputs that do not fit the served model.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The server could not be reached at all.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The server answered the metadata request with an error.
    #[error("{url} answered {status}: {message}")]
    Server {
        url: String,
        status: String,
        message: String,
        kind: ErrorKind,
    },
    /// The server answered with something that is not the protocol.
    #[error("{url} does not speak the Open Inference Protocol: {message}")]
    Protocol { url: String, message: String },
    /// Every request of a level failed: no latency to report.
    #[error("every request failed at {level} ({errors} errors); the first: {first}")]
    AllFailed {
        level: String,
        errors: u64,
        first: String,
    },
}

impl LoadError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            LoadError::Engine(e) => e.kind(),
            LoadError::Unreachable { .. } => ErrorKind::Unreachable,
            LoadError::Server { kind, .. } => *kind,
            LoadError::Protocol { .. } => ErrorKind::Gateway,
            LoadError::AllFailed { .. } => ErrorKind::Unavailable,
        }
    }
}

/// The engine's classification of an HTTP status a server answered with.
pub(crate) fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        400 | 422 => ErrorKind::Usage,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        413 => ErrorKind::TooLarge,
        429 => ErrorKind::Overloaded,
        503 | 504 => ErrorKind::Unavailable,
        _ => ErrorKind::Gateway,
    }
}
