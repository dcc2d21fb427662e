//! One connection to the server and the one request it sends: an HTTP/1.1 keep-alive
//! connection, or an HTTP/2 connection for gRPC (hyper both), through which tonic's
//! generated client calls. In a closed loop each worker has a connection of its own; in an
//! open loop HTTP/1.1 takes a free one from a pool and gRPC multiplexes on one.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use assay_engine::ErrorKind;
use assay_protocol::pb::grpc_inference_service_client::GrpcInferenceServiceClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, TE},
};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::{error::LoadError, request::Encoded, target::Target, tls};

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
    /// tonic's generated client for the metadata calls, and the same connection for
    /// `ModelInfer`, which sends the request's frame as made once (see `send`).
    Grpc(GrpcInferenceServiceClient<H2>, H2),
}

/// An HTTP/2 connection as the service tonic's generated client calls. Each call goes
/// straight to hyper's connection: tonic's own `Channel` puts a buffer task in between, one
/// more task hop per request, which a load generator pays for on every request.
#[derive(Clone)]
pub(crate) struct H2(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

impl tower_service::Service<http::Request<tonic::body::Body>> for H2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// Headers and paths every request of a target repeats, made once.
pub(crate) struct Prepared {
    host: HeaderValue,
    auth: Option<HeaderValue>,
    infer_path: String,
    /// `ModelInfer`'s absolute URI (HTTP/2 sends the scheme and authority).
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
            grpc_infer: format!(
                "{}://{}/inference.GRPCInferenceService/ModelInfer",
                if target.tls { "https" } else { "http" },
                target.authority()
            )
            .parse()
            .map_err(|_| bad(format!("'{}' is not a valid host", target.host)))?,
        })
    }
}

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
        // Answers in frames of up to 1 MiB (large outputs in fewer frames); what this
        // client sends is bounded by the server's own setting (the gateway's is 1 MiB).
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .max_frame_size(1 << 20)
            .handshake(io)
            .await
            .map_err(|e| unreachable(source_chain(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let scheme = if target.tls { "https" } else { "http" };
        let origin: http::Uri = format!("{scheme}://{}", target.authority())
            .parse()
            .map_err(|e: http::uri::InvalidUri| unreachable(e.to_string()))?;
        Ok(Conn::Grpc(
            GrpcInferenceServiceClient::with_origin(H2(sender.clone()), origin)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX),
            H2(sender),
        ))
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

/// The error's message with its causes (tonic's transport errors say little on their own).
fn source_chain(e: &dyn std::error::Error) -> String {
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
                let mut b =
                    Request::post(prepared.infer_path.as_str()).header(HOST, prepared.host.clone());
                // Typed names and static values: nothing is parsed per request.
                b = match header_len {
                    Some(n) => b
                        .header(
                            CONTENT_TYPE,
                            HeaderValue::from_static("application/octet-stream"),
                        )
                        .header(
                            HeaderName::from_static("inference-header-content-length"),
                            HeaderValue::from(*n),
                        ),
                    None => b.header(CONTENT_TYPE, HeaderValue::from_static("application/json")),
                };
                if let Some(a) = &prepared.auth {
                    b = b.header(AUTHORIZATION, a.clone());
                }
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
            (Conn::Grpc(_, h2), Encoded::Grpc(frame)) => {
                // The unary call as tonic's client makes it, but with the request framed
                // once for the whole load: tonic encoded the message again for every
                // request and streamed it through its body type. Measured on the MLP at
                // concurrency 16: 26 µs of client CPU a request instead of 40–50.
                let mut b = Request::post(prepared.grpc_infer.clone())
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/grpc"))
                    .header(TE, HeaderValue::from_static("trailers"));
                if let Some(a) = &prepared.auth {
                    b = b.header(AUTHORIZATION, a.clone());
                }
                let req = b
                    .body(tonic::body::Body::new(Full::new(frame.clone())))
                    .expect("a request from checked parts");
                let broken = |e: hyper::Error| Failure {
                    kind: ErrorKind::Unreachable,
                    message: format!("the connection failed: {}", source_chain(&e)),
                    broken: true,
                };
                h2.0.ready().await.map_err(broken)?;
                let resp = h2.0.send_request(req).await.map_err(broken)?;
                grpc_answer(resp).await
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

    /// The gRPC client (metadata calls).
    pub(crate) fn grpc(&mut self) -> &mut GrpcInferenceServiceClient<H2> {
        match self {
            Conn::Grpc(c, _) => c,
            Conn::Http(_) => unreachable!("gRPC metadata on a gRPC connection"),
        }
    }

    /// A second handle on the same connection (gRPC multiplexes; HTTP/1.1 cannot).
    pub(crate) fn share(&self) -> Option<Conn> {
        match self {
            Conn::Grpc(c, h2) => Some(Conn::Grpc(c.clone(), h2.clone())),
            Conn::Http(_) => None,
        }
    }
}

/// A `ModelInfer` answer: its gRPC status (in the trailers, or in the headers of an
/// answer without a body), then the one framed `ModelInferResponse`, which must decode.
async fn grpc_answer(resp: http::Response<hyper::body::Incoming>) -> Result<(), Failure> {
    let head_status = tonic::Status::from_header_map(resp.headers());
    let http_status = resp.status();
    let collected = resp.into_body().collect().await.map_err(|e| Failure {
        kind: ErrorKind::Unreachable,
        message: format!("the connection failed: {}", source_chain(&e)),
        broken: true,
    })?;
    let status = head_status.or_else(|| {
        collected
            .trailers()
            .and_then(tonic::Status::from_header_map)
    });
    let malformed = |what: String| Failure {
        kind: ErrorKind::Gateway,
        message: format!("gRPC: a malformed answer: {what}"),
        broken: false,
    };
    match status {
        Some(s) if s.code() != tonic::Code::Ok => return Err(status_failure(&s)),
        Some(_) => {}
        None if !http_status.is_success() => {
            return Err(Failure {
                kind: crate::error::kind_of_status(http_status.as_u16()),
                message: format!("HTTP {} on a gRPC call", http_status.as_u16()),
                broken: false,
            });
        }
        None => return Err(malformed("no grpc-status".into())),
    }
    let body = collected.to_bytes();
    let message = match body.get(..5) {
        Some([0, len @ ..])
            if body.len() - 5 == u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize =>
        {
            body.slice(5..)
        }
        _ => {
            return Err(malformed(format!(
                "{} bytes, not one uncompressed message",
                body.len()
            )));
        }
    };
    use prost::Message;
    assay_protocol::pb::ModelInferResponse::decode(message)
        .map(drop)
        .map_err(|e| malformed(e.to_string()))
}

/// A gRPC status as a failure, classified like an HTTP one.
pub(crate) fn status_failure(s: &tonic::Status) -> Failure {
    use tonic::Code::*;
    let kind = match s.code() {
        InvalidArgument | OutOfRange | FailedPrecondition => ErrorKind::Usage,
        NotFound => ErrorKind::NotFound,
        Unauthenticated | PermissionDenied => ErrorKind::Unauthorized,
        ResourceExhausted => ErrorKind::Overloaded,
        Unavailable => ErrorKind::Unavailable,
        DeadlineExceeded => ErrorKind::Unavailable,
        _ => ErrorKind::Gateway,
    };
    Failure {
        kind,
        message: format!("gRPC {:?}: {}", s.code(), s.message()),
        // A transport failure shows as UNAVAILABLE or UNKNOWN with no server message.
        broken: matches!(s.code(), Unavailable | Unknown) && s.metadata().is_empty(),
    }
}

/// The `error` of an Open Inference Protocol error body, or the body's start.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.error,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
