//! A unary gRPC call on an HTTP/2 connection, made with the `h2` crate directly.
//!
//! Why not tonic's client, or hyper's: both hand a request's body to a task of its own, so
//! its headers and its message leave in two writes, and on loopback every write also runs
//! the server's side of TCP on the client's clock. Here the headers and the one framed
//! message are queued together before the connection task runs, and leave in one write:
//! measured on the MLP at concurrency 1, two `writev`s a request became one (strace).

use bytes::{Bytes, BytesMut};
use http::{
    HeaderValue, Request, Uri,
    header::{AUTHORIZATION, CONTENT_TYPE, TE},
};

/// How a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The connection failed or was closed: the next call needs a new one.
    Transport(String),
    /// The server answered with a gRPC status other than OK.
    Status(tonic::Status),
    /// An HTTP status other than 200 and no gRPC status (not a gRPC server, or a proxy).
    Http(u16),
    /// An answer that is not one uncompressed gRPC message with a status.
    Malformed(String),
}

/// One HTTP/2 connection's sending half; cheap to clone, every clone multiplexes on it.
#[derive(Clone)]
pub(crate) struct Grpc(h2::client::SendRequest<Bytes>);

impl Grpc {
    /// The HTTP/2 handshake over a connected stream; the connection then runs on a task of
    /// its own until the last sender is dropped or the server closes it.
    pub(crate) async fn handshake<S>(io: S) -> Result<Grpc, h2::Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        // Answers in frames of up to 1 MiB and a 1 MiB window (large outputs in few frames,
        // few window updates); what this client sends is bounded by the server's settings.
        let (send, conn) = h2::client::Builder::new()
            .max_frame_size(1 << 20)
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 20)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Grpc(send))
    }

    /// Calls `uri` (the method's absolute URI) with one message already in gRPC's framing;
    /// the answer's message, unframed.
    pub(crate) async fn unary(
        &mut self,
        uri: &Uri,
        auth: Option<&HeaderValue>,
        frame: Bytes,
    ) -> Result<Bytes, CallError> {
        let transport = |e: h2::Error| CallError::Transport(crate::wire::source_chain(&e));
        std::future::poll_fn(|cx| self.0.poll_ready(cx))
            .await
            .map_err(transport)?;
        let mut b = Request::post(uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/grpc"))
            .header(TE, HeaderValue::from_static("trailers"));
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a.clone());
        }
        let req = b.body(()).expect("a request from checked parts");
        let (answer, mut body) = self.0.send_request(req, false).map_err(transport)?;
        body.send_data(frame, true).map_err(transport)?;
        let (head, mut body) = answer.await.map_err(transport)?.into_parts();
        // A call that fails before any message carries its status in the headers.
        let head_status = tonic::Status::from_header_map(&head.headers);
        if let Some(s) = head_status.as_ref()
            && s.code() != tonic::Code::Ok
        {
            return Err(CallError::Status(s.clone()));
        }
        // An answer is one DATA frame in practice: kept as it came, copied only if split.
        let mut first: Option<Bytes> = None;
        let mut more = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(transport)?;
            // Handing the window back lets the server send the next answers.
            let _ = body.flow_control().release_capacity(chunk.len());
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if more.is_empty() {
                        more.extend_from_slice(f);
                    }
                    more.extend_from_slice(&chunk);
                }
            }
        }
        let trailers = body.trailers().await.map_err(transport)?;
        let status =
            head_status.or_else(|| trailers.as_ref().and_then(tonic::Status::from_header_map));
        match status {
            Some(s) if s.code() != tonic::Code::Ok => return Err(CallError::Status(s)),
            Some(_) => {}
            None if !head.status.is_success() => return Err(CallError::Http(head.status.as_u16())),
            None => return Err(CallError::Malformed("no grpc-status".into())),
        }
        let data = if more.is_empty() {
            first.unwrap_or_default()
        } else {
            more.freeze()
        };
        unframe(data)
    }
}

/// The one message of a gRPC body: a 0 (uncompressed) byte and a 4-byte big-endian length,
/// then exactly that many bytes.
fn unframe(body: Bytes) -> Result<Bytes, CallError> {
    let message = unframe_slice(&body)?;
    Ok(body.slice_ref(message))
}

/// [`unframe`] on borrowed bytes.
pub(crate) fn unframe_slice(body: &[u8]) -> Result<&[u8], CallError> {
    match body {
        [0, a, b, c, d, message @ ..]
            if message.len() == u32::from_be_bytes([*a, *b, *c, *d]) as usize =>
        {
            Ok(message)
        }
        _ => Err(CallError::Malformed(format!(
            "{} bytes, not one uncompressed message",
            body.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_must_hold_exactly_one_uncompressed_message() {
        assert_eq!(
            unframe(Bytes::from_static(&[0, 0, 0, 0, 2, 7, 9])).unwrap(),
            Bytes::from_static(&[7, 9])
        );
        for bad in [
            &[0, 0, 0, 0, 3, 7, 9][..], // shorter than it says
            &[0, 0, 0, 0, 1, 7, 9],     // longer
            &[1, 0, 0, 0, 2, 7, 9],     // compressed
            &[0, 0, 0],                 // no prefix
        ] {
            assert!(matches!(
                unframe(Bytes::copy_from_slice(bad)),
                Err(CallError::Malformed(_))
            ));
        }
    }
}
