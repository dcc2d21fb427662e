//! The release library's errors. Each verification failure has its own variant, so the
//! gateway and the CLI can say exactly why a release was refused.

use std::path::PathBuf;

/// Errors from keys, release folders, signing and verification.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The bundle's `mediaType` is not the Sigstore bundle v0.3 type.
    #[error("bad media type '{0}': expected application/vnd.dev.sigstore.bundle.v0.3+json")]
    BadMediaType(String),

    /// The DSSE payload type is not in-toto.
    #[error("bad payload type '{0}': expected application/vnd.in-toto+json")]
    BadPayloadType(String),

    /// The signature does not verify with the key.
    #[error("bad signature: the signature does not match the payload and the public key")]
    BadSignature,

    /// The bundle names a key that is not among the trusted keys.
    #[error("unknown key: the bundle was signed with key {hint}, which is not trusted")]
    UnknownKey { hint: String },

    /// The statement is not a model_signing v1.0 in-toto statement.
    #[error("bad statement: {0}")]
    BadStatement(String),

    /// A file's digest differs from the signed one.
    #[error("digest mismatch: {file} was changed after signing")]
    DigestMismatch { file: String },

    /// A file on disk is not in the signed manifest.
    #[error("extra file: {file} is not part of the signed release")]
    ExtraFile { file: String },

    /// A signed file is missing on disk.
    #[error("missing file: {file} is part of the signed release but is not there")]
    MissingFile { file: String },

    /// A symbolic link in the release (refused unless allowed).
    #[error("refused symlink: {file} is a symbolic link")]
    SymlinkRefused { file: String },

    /// A file name that cannot be signed or verified safely (`..`, absolute, backslash, NUL,
    /// not UTF-8, too long).
    #[error("refused file name {name:?}: {reason}")]
    HostileName { name: String, reason: &'static str },

    /// The bundle file is not a well-formed Sigstore bundle.
    #[error("malformed bundle: {0}")]
    MalformedBundle(String),

    /// A key could not be read, decrypted or written.
    #[error("key {name}: {message}")]
    Key { name: String, message: String },

    /// No key of that name in the key store.
    #[error("no key named '{0}' (see `assay key list`)")]
    UnknownKeyName(String),

    /// Invalid user input (a version that is not semver, a release folder that exists, ...).
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },

    /// The gateway answered with an error status.
    #[error("the gateway refused ({status}): {message}")]
    Remote {
        status: u16,
        /// The kind the gateway gave in its error body, when it gave one.
        kind: Option<assay_engine::ErrorKind>,
        message: String,
    },

    /// The gateway answered, in a form this client cannot read (a much newer or older
    /// gateway, or not a gateway at all).
    #[error("{url} answered in a form this assay cannot read: {message}")]
    UnreadableAnswer { url: String, message: String },

    /// The gateway could not be reached (after retries, for pushes).
    #[error("cannot reach the gateway at {url}: {message}")]
    Unreachable { url: String, message: String },

    /// What a registry serves under a reference is not an Assay release (another artifact
    /// type, a manifest over the size cap, layers of negative or absurd sizes).
    #[error("not an Assay release: {reference}: {why}")]
    NotARelease { reference: String, why: String },

    /// A release in a registry has no model_signing bundle attached to it.
    #[error(
        "no signature: {reference} has no signature attached (no referrer of type application/vnd.dev.sigstore.bundle.v0.3+json); push it with `assay push DIR --signature SIG oci://...`"
    )]
    NoSignature { reference: String },

    /// An OCI registry refused the credentials (or asked for some and none were found).
    #[error(
        "the registry {registry} refused the credentials: {message} (the CLI takes them from ~/.docker/config.json or $DOCKER_CONFIG, as `docker login` and `oras login` write them; a gateway from [registry] username and password_file in its config)"
    )]
    RegistryUnauthorized { registry: String, message: String },

    /// The reference names a repository, tag or blob the registry does not hold.
    #[error("not found in the registry: {what}")]
    RegistryNotFound { what: String },

    /// An OCI registry answered with an error of its own.
    #[error("the registry refused {reference}: {message}")]
    Registry { reference: String, message: String },

    /// An OCI registry could not be reached (or its TLS certificate was not trusted).
    #[error("cannot reach the registry {registry}: {message}")]
    RegistryUnreachable { registry: String, message: String },

    /// A fleet rollout's analysis failed on a gateway; the changed gateways were rolled back.
    #[error("the rollout failed: {0}")]
    RolloutFailed(String),

    /// A fleet rollout stopped before the end (halted), and can be resumed.
    #[error("the rollout stopped: {0}")]
    RolloutStopped(String),

    /// A push stopped at the user's request (Ctrl-C) between two chunks; the registry keeps
    /// what it received, and the same push continues from there.
    #[error(
        "interrupted: {:.1} of {:.1} MiB pushed to {what}; run the same push again to continue from there",
        *done as f64 / 1048576.0,
        *total as f64 / 1048576.0
    )]
    Interrupted { what: String, done: u64, total: u64 },

    /// A read or write failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ReleaseError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReleaseError::Io {
            path: path.into(),
            source,
        }
    }

    /// The shared classification (exit code, console kind, HTTP status). A gateway's own
    /// refusal keeps the kind it answered with when that is a verification failure, so a
    /// release refused remotely reads like one refused here.
    pub fn kind(&self) -> assay_engine::ErrorKind {
        use assay_engine::ErrorKind as K;
        match self {
            e if e.is_verification_failure() => K::Verification,
            ReleaseError::Invalid { .. } | ReleaseError::UnknownKeyName(_) => K::Usage,
            ReleaseError::Remote {
                kind: Some(K::Verification),
                ..
            } => K::Verification,
            ReleaseError::Remote { .. } | ReleaseError::UnreadableAnswer { .. } => K::Gateway,
            ReleaseError::Unreachable { .. } | ReleaseError::RegistryUnreachable { .. } => {
                K::Unreachable
            }
            ReleaseError::RegistryUnauthorized { .. } => K::Unauthorized,
            ReleaseError::RegistryNotFound { .. } => K::NotFound,
            ReleaseError::Registry { .. } => K::Gateway,
            ReleaseError::RolloutFailed(_) => K::Regression,
            ReleaseError::RolloutStopped(_) => K::Conflict,
            ReleaseError::Interrupted { .. } => K::Io,
            ReleaseError::Io { .. } => K::Io,
            _ => K::Release,
        }
    }

    /// True for the failures that mean "this release must not be trusted" (as opposed to
    /// usage or IO problems).
    pub fn is_verification_failure(&self) -> bool {
        use ReleaseError::*;
        matches!(
            self,
            BadMediaType(_)
                | BadPayloadType(_)
                | BadSignature
                | UnknownKey { .. }
                | BadStatement(_)
                | DigestMismatch { .. }
                | ExtraFile { .. }
                | MissingFile { .. }
                | SymlinkRefused { .. }
                | HostileName { .. }
                | MalformedBundle(_)
                | NoSignature { .. }
                | NotARelease { .. }
        )
    }
}

/// The release library's result type.
pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;
