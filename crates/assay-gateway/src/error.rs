//! The gateway's errors and how each one reads over HTTP: a status, an
//! Open-Inference-Protocol body `{"error": "..."}`, and `Retry-After` when the answer is
//! "come back later".

use assay_engine::ErrorKind;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// Why a request failed, in the categories the metrics count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureReason {
    /// The request itself was wrong (shape, datatype, JSON).
    BadRequest,
    /// Refused for load: queue full, rate limited.
    Rejected,
    /// Waited longer than the request timeout.
    Timeout,
    /// The client went away before the answer.
    Canceled,
    /// ONNX Runtime failed to run the batch.
    Backend,
    /// Anything else (unknown model, internal).
    Other,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::BadRequest => "bad_request",
            FailureReason::Rejected => "rejected",
            FailureReason::Timeout => "timeout",
            FailureReason::Canceled => "canceled",
            FailureReason::Backend => "backend",
            FailureReason::Other => "other",
        }
    }
}

/// Every error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    TooLarge(String),
    /// The release failed verification: the message names the reason.
    #[error("release refused: {0}")]
    Refused(String),
    /// A version could not be loaded or warmed, so it receives no traffic.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests: the queue is full or the caller's rate is exceeded.
    #[error("{message}")]
    Overloaded { message: String, retry_after_s: u64 },
    /// Not ready or timed out under load.
    #[error("{message}")]
    Unavailable { message: String, retry_after_s: u64 },
    #[error("inference failed: {0}")]
    Backend(String),
    /// A registry the gateway pulls from failed or refused (its credentials, its TLS, its
    /// own errors): the gateway is fine, its upstream is not.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Internal(String),
}

impl GatewayError {
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        GatewayError::Internal(format!("{context}: {e}"))
    }

    /// The shared classification: the HTTP status and the `kind` of the error body come
    /// from it, and the release client reads that `kind` back.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::BadRequest(_) => ErrorKind::Usage,
            GatewayError::NotFound(_) => ErrorKind::NotFound,
            GatewayError::Conflict(_) => ErrorKind::Conflict,
            GatewayError::Unauthorized(_) => ErrorKind::Unauthorized,
            GatewayError::TooLarge(_) => ErrorKind::TooLarge,
            GatewayError::Refused(_) => ErrorKind::Verification,
            GatewayError::Unprocessable(_) => ErrorKind::Model,
            GatewayError::Overloaded { .. } => ErrorKind::Overloaded,
            GatewayError::Unavailable { .. } => ErrorKind::Unavailable,
            GatewayError::Backend(_) => ErrorKind::Runtime,
            GatewayError::Upstream(_) => ErrorKind::Gateway,
            GatewayError::Internal(_) => ErrorKind::Io,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind().http_status()).expect("a valid HTTP status")
    }

    /// The metrics category of this failure.
    pub fn reason(&self) -> FailureReason {
        match self {
            GatewayError::BadRequest(_) | GatewayError::TooLarge(_) => FailureReason::BadRequest,
            GatewayError::Overloaded { .. } => FailureReason::Rejected,
            GatewayError::Unavailable { .. } => FailureReason::Timeout,
            GatewayError::Backend(_) => FailureReason::Backend,
            _ => FailureReason::Other,
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = match &self {
            GatewayError::Overloaded { retry_after_s, .. }
            | GatewayError::Unavailable { retry_after_s, .. } => Some(*retry_after_s),
            _ => None,
        };
        let mut resp = (
            status,
            // `error` is the Open Inference Protocol's field; `kind` is Assay's addition.
            axum::Json(serde_json::json!({"error": self.to_string(), "kind": self.kind()})),
        )
            .into_response();
        if let Some(s) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"assay-gateway\""),
            );
        }
        resp
    }
}

impl From<GatewayError> for tonic::Status {
    /// The gRPC status of each error, the same classification as its HTTP status; the
    /// message is the same sentence, and `retry-after` rides in the metadata.
    fn from(e: GatewayError) -> tonic::Status {
        use tonic::Code;
        let code = match &e {
            GatewayError::BadRequest(_) => Code::InvalidArgument,
            GatewayError::NotFound(_) => Code::NotFound,
            GatewayError::Conflict(_) | GatewayError::Unprocessable(_) => Code::FailedPrecondition,
            GatewayError::Unauthorized(_) => Code::Unauthenticated,
            GatewayError::TooLarge(_) | GatewayError::Overloaded { .. } => Code::ResourceExhausted,
            GatewayError::Refused(_) => Code::PermissionDenied,
            GatewayError::Unavailable { .. } | GatewayError::Upstream(_) => Code::Unavailable,
            GatewayError::Backend(_) | GatewayError::Internal(_) => Code::Internal,
        };
        let retry = match &e {
            GatewayError::Overloaded { retry_after_s, .. }
            | GatewayError::Unavailable { retry_after_s, .. } => Some(*retry_after_s),
            _ => None,
        };
        let mut status = tonic::Status::new(code, e.to_string());
        if let Some(s) = retry {
            status
                .metadata_mut()
                .insert("retry-after", s.max(1).to_string().parse().expect("digits"));
        }
        status
    }
}
