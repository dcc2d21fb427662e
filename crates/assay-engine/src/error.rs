//! The engine's one error type. Every message is written for the person at the keyboard:
//! it names the file, input or option at fault and, where there is one, the fix.

use std::path::PathBuf;

use crate::{kind::ErrorKind, setting::Setting};

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A path given by the user does not exist.
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },

    /// A model path points at a directory.
    #[error("{}: is a directory, not an ONNX model file", path.display())]
    IsDirectory { path: PathBuf },

    /// A model file has zero bytes.
    #[error("{}: the file is empty, not an ONNX model", path.display())]
    EmptyFile { path: PathBuf },

    /// The bytes are not an ONNX ModelProto (random data, truncation, another protobuf).
    #[error("{}: not an ONNX model: {reason}", path.display())]
    NotAModel { path: PathBuf, reason: String },

    /// ONNX Runtime refused to load the model (unsupported operator, bad graph, ...).
    #[error("{}: ONNX Runtime cannot load this model: {message}", path.display())]
    ModelLoad { path: PathBuf, message: String },

    /// A read or write failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// No ONNX Runtime library was found by any discovery rule. (The CLI adds its own way
    /// to point at one.)
    #[error(
        "no ONNX Runtime found; run `assay runtime install` (or set ASSAY_ORT_DYLIB to the library's path)"
    )]
    NoRuntime,

    /// A library was found but it is not an ONNX Runtime this build can use.
    #[error("{}: ONNX Runtime {found} is not supported; Assay needs {expected} (run `assay runtime install`)", path.display())]
    RuntimeVersion {
        path: PathBuf,
        found: String,
        expected: String,
    },

    /// The ONNX Runtime library could not be loaded at all.
    #[error("{}: cannot load ONNX Runtime: {message}", path.display())]
    RuntimeLoad { path: PathBuf, message: String },

    /// A different runtime was already loaded into this process (ONNX Runtime allows one).
    #[error("ONNX Runtime is already loaded from {}; a process can use only one", loaded.display())]
    RuntimeAlreadyLoaded { loaded: PathBuf },

    /// An ONNX Runtime call failed during a run.
    #[error("ONNX Runtime error{}: {message}", context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Runtime {
        context: Option<String>,
        message: String,
    },

    /// A requested execution provider could not be used and a strict provider was asked for.
    #[error("execution provider {provider} is not usable: {reason}")]
    ProviderUnavailable { provider: String, reason: String },

    /// A bad value for a setting; each front end names the setting in its own words (the
    /// CLI its flag, the console its field).
    #[error("invalid value for {option}: {message}")]
    InvalidOption { option: Setting, message: String },

    /// Dynamic dimensions have no value from a dimension binding, a whole shape, the batch
    /// or an input file. All of them are named at once, with suggested values that each
    /// front end offers in its own words (the CLI as flags to copy).
    #[error(
        "the model's dynamic dimensions {dims} have no value; bind them ({}) (suggested: {sources}), or give whole input shapes",
        suggested.iter().map(|(h, v)| format!("{h}={v}")).collect::<Vec<_>>().join(" ")
    )]
    UnboundDimension {
        dims: String,
        /// The suggested bindings, by handle.
        suggested: Vec<(String, i64)>,
        sources: String,
    },

    /// An option names an input or dimension the model does not have.
    #[error("{what} '{name}' is not in the model; it has: {known}")]
    UnknownName {
        what: &'static str,
        name: String,
        known: String,
    },

    /// A tensor given as an input file does not fit the model's input.
    #[error("input '{input}' from {}: {message}", file.display())]
    InputMismatch {
        input: String,
        file: PathBuf,
        message: String,
    },

    /// A tensor file could not be read as .npy/.npz.
    #[error("{}: cannot read tensor file: {message}", path.display())]
    TensorFile { path: PathBuf, message: String },

    /// Provisioning the runtime failed (wheel not found, checksum mismatch, network).
    #[error("runtime install: {0}")]
    Install(String),

    /// Two models cannot be compared: their inputs or outputs differ by name or shape.
    #[error("{} cannot be compared with {}: {message}", candidate.display(), reference.display())]
    Incomparable {
        reference: PathBuf,
        candidate: PathBuf,
        message: String,
    },

    /// The model uses a feature this engine does not handle (e.g. a sequence-typed input).
    #[error("{0}")]
    Unsupported(String),
}

impl EngineError {
    /// The shared classification: the CLI's exit code, the console's kind, an HTTP status.
    pub fn kind(&self) -> ErrorKind {
        use EngineError::*;
        match self {
            InvalidOption { .. }
            | UnboundDimension { .. }
            | UnknownName { .. }
            | InputMismatch { .. } => ErrorKind::Usage,
            NotFound { .. }
            | IsDirectory { .. }
            | EmptyFile { .. }
            | NotAModel { .. }
            | ModelLoad { .. }
            | TensorFile { .. }
            | Incomparable { .. }
            | Unsupported(_) => ErrorKind::Model,
            NoRuntime => ErrorKind::NoRuntime,
            RuntimeVersion { .. }
            | RuntimeLoad { .. }
            | RuntimeAlreadyLoaded { .. }
            | Runtime { .. }
            | ProviderUnavailable { .. } => ErrorKind::Runtime,
            Io { .. } | Install(_) => ErrorKind::Io,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    /// A bad value for a setting (also what other crates report their settings with).
    pub fn invalid(option: Setting, message: impl Into<String>) -> Self {
        EngineError::InvalidOption {
            option,
            message: message.into(),
        }
    }

    pub(crate) fn runtime(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        EngineError::Runtime {
            context: Some(context.into()),
            message: err.to_string(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
