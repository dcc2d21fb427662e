//! One connection to the server and the one request it sends: an HTTP/1.1 keep-alive
//! connection (hyper), or an HTTP/2 connection for gRPC (see `grpc`). In a closed loop each
//! worker has a connection of its own (a lone worker a blocking one, see `lone`); in
//! an open loop HTTP/1.1 takes a free one from a pool and gRPC multiplexes on one.

use std::time::Duration;

use assay_engine::ErrorKind;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue},
};
use hyper_util::rt::TokioIo;

use crate::{
    error::LoadError,
    grpc::{CallError, Grpc},
    request::Encoded,
    target::Target,
    tls,
};

/// Why one request failed: how to classify it, and what to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    /// The connection is gone (a transport error): the next request needs a new one.
    pub broken: bool,
}

/// A connection, ready to send.
pub(crate) enum Conn {
    Http(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Grpc(Grpc),
}

/// Headers and paths every request of a target repeats, made once.
pub(crate) struct Prepared {
    /// The target's `host:port`.
    pub(crate) host: HeaderValue,
    /// `Bearer <token>`, when the target has one.
    pub(crate) auth: Option<HeaderValue>,
    infer_path: String,
    /// `scheme://authority`, which HTTP/2 sends with every request.
    origin: String,
    /// `ModelInfer`'s absolute URI.
    grpc_infer: http::Uri,
}

impl Prepared {
    pub(crate) fn new(target: &Target) -> Result<Prepared, LoadError> {
        let bad = |m: String| {
            LoadError::Engine(assay_engine::EngineError::invalid(
                assay_engine::Setting::Target,
                m,
            ))
        };
        let origin = format!(
            "{}://{}",
            if target.tls { "https" } else { "http" },
            target.authority()
        );
        Ok(Prepared {
            host: HeaderValue::from_str(&target.authority())
                .map_err(|_| bad(format!("'{}' is not a valid host", target.host)))?,
            auth: target
                .token
                .as_ref()
                .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
                .transpose()
                .map_err(|_| bad("the token holds characters a header cannot".into()))?,
            infer_path: format!("{}/infer", target.model_path()),
            grpc_infer: format!("{origin}{GRPC_INFER_PATH}")
                .parse()
                .map_err(|_| bad(format!("'{}' is not a valid host", target.host)))?,
            origin,
        })
    }

    /// The headers of every REST inference request, in order: the host, the body's type
    /// (and the JSON header's length when raw tensors follow it), the token. Typed names and
    /// values made once: nothing is parsed per request.
    fn rest_headers(
        &self,
        header_len: Option<usize>,
        mut each: impl FnMut(HeaderName, HeaderValue),
    ) {
        each(HOST, self.host.clone());
        match header_len {
            Some(n) => {
                each(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                each(
                    HeaderName::from_static("inference-header-content-length"),
                    HeaderValue::from(n),
                );
            }
            None => each(CONTENT_TYPE, HeaderValue::from_static("application/json")),
        }
        if let Some(a) = &self.auth {
            each(AUTHORIZATION, a.clone());
        }
    }

    /// The whole REST inference request as HTTP/1.1 puts it on the wire, the same headers as
    /// hyper sends and the body in one buffer (for the blocking client, which writes it with
    /// one call); `None` for gRPC.
    pub(crate) fn http1_request(&self, request: &Encoded) -> Option<Bytes> {
        let Encoded::Rest { body, header_len } = request else {
            return None;
        };
        let mut wire = format!("POST {} HTTP/1.1\r\n", self.infer_path).into_bytes();
        self.rest_headers(*header_len, |name, value| {
            wire.extend_from_slice(name.as_str().as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
        });
        wire.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        wire.extend_from_slice(body);
        Some(wire.into())
    }

    /// The absolute URI of a method of the inference service.
    pub(crate) fn grpc_method(&self, method: &str) -> http::Uri {
        format!("{}{GRPC_SERVICE}{method}", self.origin)
            .parse()
            .expect("the origin was checked with ModelInfer's URI")
    }
}

/// The path prefix of every method of KServe's gRPC inference service.
const GRPC_SERVICE: &str = "/inference.GRPCInferenceService/";
/// `ModelInfer`'s path.
pub(crate) const GRPC_INFER_PATH: &str = "/inference.GRPCInferenceService/ModelInfer";

/// Opens a connection to the target.
pub(crate) async fn connect(target: &Target) -> Result<Conn, LoadError> {
    let unreachable = |message: String| LoadError::Unreachable {
        url: target.url.clone(),
        message,
    };
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| unreachable("no answer to the connection in 10 s".into()))?
    .map_err(|e| unreachable(e.to_string()))?;
    stream.set_nodelay(true).ok();
    if target.tls {
        let connector = tls::connector(target)?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|e| unreachable(format!("'{}' is not a TLS server name: {e}", target.host)))?;
        let stream = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, stream))
            .await
            .map_err(|_| unreachable("no TLS handshake in 10 s".into()))?
            .map_err(|e| {
                let mut m = source_chain(&e);
                if m.contains("certificate") {
                    m.push_str(
                        " (a server with a private CA: give its certificate with --ca-cert FILE)",
                    );
                }
                unreachable(m)
            })?;
        return handshake(target, TokioIo::new(stream)).await;
    }
    handshake(target, TokioIo::new(stream)).await
}

/// HTTP/2 (gRPC) or HTTP/1.1 over a connected stream, plain or TLS.
async fn handshake<S>(target: &Target, io: TokioIo<S>) -> Result<Conn, LoadError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let unreachable = |message: String| LoadError::Unreachable {
        url: target.url.clone(),
        message,
    };
    // Each connection's own task reads and writes the socket; it ends when the last sender
    // is dropped or the server closes it.
    if target.protocol == assay_engine::bench::ServedProtocol::Grpc {
        Grpc::handshake(io.into_inner())
            .await
            .map(Conn::Grpc)
            .map_err(|e| unreachable(source_chain(&e)))
    } else {
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn::Http(sender))
    }
}

/// The error's message with its causes (transport errors say little on their own).
pub(crate) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl Conn {
    /// Sends the request and reads the whole answer.
    pub(crate) async fn send(
        &mut self,
        prepared: &Prepared,
        request: &Encoded,
    ) -> Result<(), Failure> {
        match (self, request) {
            (Conn::Http(sender), Encoded::Rest { body, header_len }) => {
                let mut b = Request::post(prepared.infer_path.as_str());
                let headers = b.headers_mut().expect("a fresh builder");
                prepared.rest_headers(*header_len, |name, value| {
                    headers.insert(name, value);
                });
                let req = b
                    .body(Full::new(body.clone()))
                    .expect("a request from checked parts");
                let broken = |e: hyper::Error| Failure {
                    kind: ErrorKind::Unreachable,
                    message: format!("the connection failed: {}", source_chain(&e)),
                    broken: true,
                };
                sender.ready().await.map_err(broken)?;
                let resp = sender.send_request(req).await.map_err(broken)?;
                let status = resp.status();
                let body = resp.into_body().collect().await.map_err(broken)?.to_bytes();
                if status.is_success() {
                    return Ok(());
                }
                Err(Failure {
                    kind: crate::error::kind_of_status(status.as_u16()),
                    message: format!("HTTP {}: {}", status.as_u16(), error_text(&body)),
                    broken: false,
                })
            }
            (Conn::Grpc(g), Encoded::Grpc(frame)) => {
                // The request is framed once for the whole load (tonic's client encoded the
                // message again for every request): measured on the MLP at concurrency 16,
                // 26 µs of client CPU a request instead of 40–50.
                let message = g
                    .unary(&prepared.grpc_infer, prepared.auth.as_ref(), frame.clone())
                    .await
                    .map_err(Failure::from)?;
                infer_answer(message)
            }
            _ => unreachable!("a request is encoded for its target's protocol"),
        }
    }

    /// A GET of a REST path, decoded as `T`.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &mut self,
        target: &Target,
        prepared: &Prepared,
        path: &str,
    ) -> Result<T, LoadError> {
        let Conn::Http(sender) = self else {
            unreachable!("REST metadata on a REST connection")
        };
        let mut b = Request::get(path).header(HOST, prepared.host.clone());
        if let Some(a) = &prepared.auth {
            b = b.header(AUTHORIZATION, a.clone());
        }
        let req = b.body(Full::new(Bytes::new())).expect("a request");
        let unreachable = |e: hyper::Error| LoadError::Unreachable {
            url: target.url.clone(),
            message: source_chain(&e),
        };
        sender.ready().await.map_err(unreachable)?;
        let resp = sender.send_request(req).await.map_err(unreachable)?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(unreachable)?
            .to_bytes();
        if !status.is_success() {
            return Err(LoadError::Server {
                url: format!("{}{path}", target.url),
                status: format!("HTTP {}", status.as_u16()),
                message: error_text(&body),
                kind: crate::error::kind_of_status(status.as_u16()),
            });
        }
        serde_json::from_slice(&body).map_err(|e| LoadError::Protocol {
            url: format!("{}{path}", target.url),
            message: format!("GET {path} answered with {e}"),
        })
    }

    /// A unary gRPC call of the inference service's `method`, decoded as `T`.
    pub(crate) async fn grpc_call<T: prost::Message + Default>(
        &mut self,
        prepared: &Prepared,
        method: &str,
        request: &impl prost::Message,
    ) -> Result<T, CallError> {
        let Conn::Grpc(g) = self else {
            unreachable!("a gRPC call on a gRPC connection")
        };
        let message = g
            .unary(
                &prepared.grpc_method(method),
                prepared.auth.as_ref(),
                crate::request::grpc_frame(request),
            )
            .await?;
        T::decode(message).map_err(|e| CallError::Malformed(e.to_string()))
    }

    /// A second handle on the same connection (gRPC multiplexes; HTTP/1.1 cannot).
    pub(crate) fn share(&self) -> Option<Conn> {
        match self {
            Conn::Grpc(g) => Some(Conn::Grpc(g.clone())),
            Conn::Http(_) => None,
        }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Failure {
        match e {
            CallError::Transport(m) => Failure {
                kind: ErrorKind::Unreachable,
                message: format!("the connection failed: {m}"),
                broken: true,
            },
            CallError::Status(s) => Failure {
                kind: kind_of_code(s.code()),
                message: format!("gRPC {:?}: {}", s.code(), s.message()),
                broken: false,
            },
            CallError::Http(status) => Failure {
                kind: crate::error::kind_of_status(status),
                message: format!("HTTP {status} on a gRPC call"),
                broken: false,
            },
            CallError::Malformed(m) => Failure {
                kind: ErrorKind::Gateway,
                message: format!("gRPC: a malformed answer: {m}"),
                broken: false,
            },
        }
    }
}

/// Checks that a `ModelInfer` answer's message is one (as decoded as any client would).
pub(crate) fn infer_answer(message: impl bytes::Buf) -> Result<(), Failure> {
    use prost::Message;
    assay_protocol::pb::ModelInferResponse::decode(message)
        .map(drop)
        .map_err(|e| Failure::from(CallError::Malformed(e.to_string())))
}

/// The engine's classification of a gRPC status code (as `kind_of_status` for HTTP).
pub(crate) fn kind_of_code(code: tonic::Code) -> ErrorKind {
    use tonic::Code::*;
    match code {
        InvalidArgument | OutOfRange | FailedPrecondition => ErrorKind::Usage,
        NotFound => ErrorKind::NotFound,
        Unauthenticated | PermissionDenied => ErrorKind::Unauthorized,
        ResourceExhausted => ErrorKind::Overloaded,
        Unavailable | DeadlineExceeded => ErrorKind::Unavailable,
        _ => ErrorKind::Gateway,
    }
}

/// The `error` of an Open Inference Protocol error body, or the body's start.
pub(crate) fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.error,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
