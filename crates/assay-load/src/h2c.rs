//! gRPC on cleartext HTTP/2 over a blocking socket: the closed loop at concurrency 1 over
//! plain gRPC, as `http1` is for REST.
//!
//! With one call in flight there is nothing to multiplex, and the `h2` crate's machinery
//! (its connection task, stream store and flow-control bookkeeping, and a hand-over to the
//! worker on every answer) cost the client 29–31 µs a call where REST on a blocking socket
//! cost 17–18 (docs/BENCHMARKS.md); polling `h2` on the worker's own thread saved the
//! hand-overs but not the rest. Here a call is what the wire needs: the request's frames
//! leave in one `writev` (the header block is made once; the message is the one encoded for
//! the whole load), then the thread blocks in `read` until the answer's frames are in. They
//! are read in place: header blocks through an HPACK decoder (`loona-hpack`), the message
//! copied once.
//!
//! What HTTP/2 asks of a client is all here: the preface and settings, acknowledged settings
//! and pings, flow control both ways (a request waits for window when the server's is
//! smaller than its message; the server gets the largest window there is, handed back as it
//! is used), frames split to the server's largest size, CONTINUATION, padding, RST_STREAM
//! and GOAWAY. A frame that breaks the protocol closes the connection with a clear failure,
//! and the next call opens a new one.

use std::{
    borrow::Cow,
    io::{ErrorKind as IoKind, IoSlice, Write},
    net::TcpStream,
    ops::Range,
    time::{Duration, Instant},
};

use assay_engine::ErrorKind;
use bytes::Bytes;

use crate::{
    grpc::{CallError, unframe_slice},
    socket::{self, MAX_ANSWER, io_failure},
    target::Target,
    wire::{Failure, GRPC_INFER_PATH, Prepared, infer_answer},
};

/// What every HTTP/2 connection starts with (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

/// Frame flags.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Settings this client reads or sends.
const ENABLE_PUSH: u16 = 0x2;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;

/// The window this client gives the server, per stream and for the connection: the largest
/// the protocol has, so an answer never waits for a window update. A stream's never runs
/// out (an answer is at most `MAX_ANSWER`); the connection's is handed back at half.
const WINDOW: u32 = (1 << 31) - 1;
/// Every window's size until a setting says otherwise.
const DEFAULT_WINDOW: u32 = 65_535;
/// The largest frame the server may send (a large answer in few frames), and the
/// protocol's default for what it accepts until it says more.
const MAX_FRAME_IN: usize = 1 << 20;
const DEFAULT_FRAME: usize = 16_384;
/// The largest header block (HEADERS and its CONTINUATIONs) this client reads.
const MAX_HEADER_BLOCK: usize = 1 << 20;
/// The read buffer's first size; it grows to the largest frame seen.
const FIRST_BUFFER: usize = 64 * 1024;

/// One HTTP/2 connection that makes the same `ModelInfer` call again and again.
pub(crate) struct BlockingGrpc {
    addr: String,
    timeout: Duration,
    /// The request's header block in HPACK, literals only (no dynamic table), so the same
    /// bytes serve every call on every connection.
    block: Vec<u8>,
    /// The request's message, in gRPC's framing.
    message: Bytes,
    conn: Option<Conn>,
    /// The answer's message as it arrives, reused from call to call.
    body: Vec<u8>,
}

/// A connection and what both sides said on it.
struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet taken as frames: `inbox[at..filled]`.
    inbox: Vec<u8>,
    at: usize,
    filled: usize,
    /// Frames that leave with the next write (acknowledgements, window updates).
    outbox: Vec<u8>,
    hpack: loona_hpack::Decoder<'static>,
    next_id: u32,
    /// What the server lets this client send: on the connection, and on a new stream.
    window: i64,
    stream_window: i64,
    /// The largest frame the server takes.
    frame_out: usize,
    /// Bytes received since the connection's window was last handed back.
    unreturned: u32,
    /// After a GOAWAY, an early answer, or the last stream id: no call after this one.
    closing: bool,
}

/// One call's stream, as far as it has gone.
struct Call {
    id: u32,
    /// What the server lets this client send on this stream.
    window: i64,
    /// The answer's head has been read (and interim heads skipped).
    head: bool,
    http_status: Option<u16>,
    grpc_status: Option<Vec<u8>>,
    grpc_message: Option<Vec<u8>>,
    ended: bool,
    reset: Option<u32>,
}

/// A frame's header; its payload is `inbox[payload]` until the next read.
struct Frame {
    kind: u8,
    flags: u8,
    id: u32,
    payload: Range<usize>,
}

impl BlockingGrpc {
    /// Connects to the target (the HTTP/2 preface and settings); `block` is the calls' header
    /// block (see [`header_block`]), `message` the framed `ModelInferRequest` each sends.
    pub(crate) fn connect(
        target: &Target,
        block: Vec<u8>,
        message: Bytes,
        timeout: Duration,
    ) -> Result<BlockingGrpc, Failure> {
        assert!(!message.is_empty(), "a gRPC message has its 5-byte prefix");
        let mut conn = BlockingGrpc {
            addr: target.authority(),
            timeout,
            block,
            message,
            conn: None,
            body: Vec::new(),
        };
        conn.reconnect()?;
        Ok(conn)
    }

    /// Opens a new connection in place of the old one.
    pub(crate) fn reconnect(&mut self) -> Result<(), Failure> {
        self.conn = None;
        self.conn = Some(Conn::open(&self.addr, self.timeout)?);
        Ok(())
    }

    /// Makes the call and checks its answer. A transport error or a frame that breaks the
    /// protocol leaves the connection closed (`broken`); so does a GOAWAY, after the call it
    /// lets finish, and the next `send` then connects again first.
    pub(crate) fn send(&mut self) -> Result<(), Failure> {
        // What the server sent after the last answer first: a GOAWAY there means a new
        // connection before this call, not a failed call.
        if let Some(conn) = &mut self.conn
            && (conn.settle(self.timeout).is_err() || conn.closing)
        {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.reconnect()?;
        }
        let conn = self.conn.as_mut().expect("connected above");
        let result = conn.call(
            &self.block,
            &self.message,
            &mut self.body,
            Instant::now(),
            self.timeout,
        );
        let result = result.and_then(|call| call.verdict(&self.body));
        if result.as_ref().is_err_and(|f| f.broken) || conn.closing {
            self.conn = None;
        }
        result
    }
}

impl Conn {
    /// The client's preface and settings, then the server's settings, which must come first.
    fn open(addr: &str, timeout: Duration) -> Result<Conn, Failure> {
        let mut conn = Conn {
            stream: socket::open(addr, timeout)?,
            inbox: vec![0; FIRST_BUFFER],
            at: 0,
            filled: 0,
            outbox: Vec::with_capacity(256),
            hpack: {
                // The table size this client allows (the protocol's default); a server that
                // asks for more breaks the protocol.
                let mut d = loona_hpack::Decoder::new();
                d.set_max_allowed_table_size(4096);
                d
            },
            next_id: 1,
            window: DEFAULT_WINDOW.into(),
            stream_window: DEFAULT_WINDOW.into(),
            frame_out: DEFAULT_FRAME,
            unreturned: 0,
            closing: false,
        };
        let mut hello = PREFACE.to_vec();
        frame_head(&mut hello, 18, SETTINGS, 0, 0);
        for (id, value) in [
            (ENABLE_PUSH, 0),
            (INITIAL_WINDOW_SIZE, WINDOW),
            (MAX_FRAME_SIZE, MAX_FRAME_IN as u32),
        ] {
            hello.extend_from_slice(&id.to_be_bytes());
            hello.extend_from_slice(&value.to_be_bytes());
        }
        frame_head(&mut hello, 4, WINDOW_UPDATE, 0, 0);
        hello.extend_from_slice(&(WINDOW - DEFAULT_WINDOW).to_be_bytes());
        conn.stream
            .write_all(&hello)
            .map_err(|e| io_failure(&e, timeout))?;

        let started = Instant::now();
        while conn.filled < 9 {
            conn.read(started, timeout)?;
        }
        if conn.inbox.starts_with(b"HTTP/") {
            return Err(malformed(
                "the server speaks HTTP/1.x, not HTTP/2 (is this its REST port?)".into(),
            ));
        }
        let first = conn.next_frame(started, timeout)?;
        if first.kind != SETTINGS || first.flags & ACK != 0 {
            return Err(malformed(format!(
                "its first frame is of type {:#x}, not the SETTINGS an HTTP/2 server starts with",
                first.kind
            )));
        }
        let mut none = Call::new(0, 0);
        conn.on_frame(first, &mut none, &mut Vec::new(), started, timeout)?;
        // Its acknowledgement goes at once (RFC 9113 §6.5.3), not with the first call.
        conn.flush(timeout)?;
        Ok(conn)
    }

    /// Acts on the frames already read in whole since the last answer (acknowledging
    /// them at once), without waiting for more.
    fn settle(&mut self, timeout: Duration) -> Result<(), Failure> {
        let started = Instant::now();
        let mut none = Call::new(0, 0);
        while let Some((kind, flags)) = self.whole_frame() {
            if kind == HEADERS && flags & END_HEADERS == 0 {
                // Its CONTINUATIONs may not be here yet: the next call reads them.
                break;
            }
            let frame = self.next_frame(started, timeout)?;
            self.on_frame(frame, &mut none, &mut Vec::new(), started, timeout)?;
        }
        self.flush(timeout)
    }

    /// The type and flags of the next frame, when the whole of it has been read.
    fn whole_frame(&self) -> Option<(u8, u8)> {
        self.peek()
            .filter(|f| f.payload.end <= self.filled)
            .map(|f| (f.kind, f.flags))
    }

    /// Writes what waits in the outbox.
    fn flush(&mut self, timeout: Duration) -> Result<(), Failure> {
        if !self.outbox.is_empty() {
            self.stream
                .write_all(&self.outbox)
                .map_err(|e| io_failure(&e, timeout))?;
            self.outbox.clear();
        }
        Ok(())
    }

    /// Sends one call (its headers, and its message as the windows allow) and reads frames
    /// until its stream ends; the answer's message is left in `body`.
    fn call(
        &mut self,
        block: &[u8],
        message: &[u8],
        body: &mut Vec<u8>,
        started: Instant,
        timeout: Duration,
    ) -> Result<Call, Failure> {
        let id = self.next_id;
        self.next_id += 2;
        if self.next_id > WINDOW {
            // Stream ids are spent: this is the connection's last call.
            self.closing = true;
        }
        let mut call = Call::new(id, self.stream_window);
        body.clear();
        self.put_headers(id, block);
        let mut sent = 0;
        // The DATA frames' headers, and the part of the message each carries.
        let mut heads: Vec<u8> = Vec::new();
        let mut parts: Vec<Range<usize>> = Vec::new();
        loop {
            while sent < message.len() && !call.ended {
                let room = self.window.min(call.window).max(0) as usize;
                let n = (message.len() - sent).min(room).min(self.frame_out);
                if n == 0 {
                    break;
                }
                let last = sent + n == message.len();
                frame_head(&mut heads, n, DATA, if last { END_STREAM } else { 0 }, id);
                parts.push(sent..sent + n);
                sent += n;
                self.window -= n as i64;
                call.window -= n as i64;
            }
            if !self.outbox.is_empty() || !parts.is_empty() {
                let mut slices = Vec::with_capacity(1 + 2 * parts.len());
                slices.push(IoSlice::new(&self.outbox));
                for (head, part) in heads.chunks(9).zip(&parts) {
                    slices.push(IoSlice::new(head));
                    slices.push(IoSlice::new(&message[part.clone()]));
                }
                write_all(&mut self.stream, &mut slices).map_err(|e| io_failure(&e, timeout))?;
                self.outbox.clear();
                heads.clear();
                parts.clear();
            }
            if call.ended {
                break;
            }
            let frame = self.next_frame(started, timeout)?;
            self.on_frame(frame, &mut call, body, started, timeout)?;
        }
        if sent < message.len() {
            // The server answered before the whole request; the stream's state on its side
            // is not worth guessing: a new connection for the next call.
            self.closing = true;
        }
        Ok(call)
    }

    /// Queues the call's header block as a HEADERS frame (and CONTINUATIONs if the server's
    /// frames are smaller than the block).
    fn put_headers(&mut self, id: u32, block: &[u8]) {
        let mut chunks = block.chunks(self.frame_out).peekable();
        let mut kind = HEADERS;
        while let Some(chunk) = chunks.next() {
            let flags = if chunks.peek().is_none() {
                END_HEADERS
            } else {
                0
            };
            frame_head(&mut self.outbox, chunk.len(), kind, flags, id);
            self.outbox.extend_from_slice(chunk);
            kind = CONTINUATION;
        }
    }

    /// Acts on one frame from the server: the call's headers, data and end, and what the
    /// connection asks for (settings, pings, windows, its end).
    fn on_frame(
        &mut self,
        frame: Frame,
        call: &mut Call,
        body: &mut Vec<u8>,
        started: Instant,
        timeout: Duration,
    ) -> Result<(), Failure> {
        let Frame {
            kind,
            flags,
            id,
            payload,
        } = frame;
        let ours = id == call.id && id != 0;
        match kind {
            DATA => {
                self.count_received(payload.len() as u32);
                let data = within(&payload, unpad(&self.inbox[payload.clone()], flags, false)?);
                if !ours {
                    return Ok(());
                }
                if !call.head {
                    return Err(malformed("DATA before the answer's headers".into()));
                }
                if body.len() + data.len() > MAX_ANSWER {
                    return Err(socket::too_large("gRPC"));
                }
                body.extend_from_slice(&self.inbox[data]);
                call.ended |= flags & END_STREAM != 0;
            }
            HEADERS => {
                let fragment = within(&payload, unpad(&self.inbox[payload.clone()], flags, true)?);
                if flags & END_HEADERS != 0 {
                    let Conn { hpack, inbox, .. } = self;
                    decode(hpack, &inbox[fragment], ours.then_some(&mut *call))?;
                } else {
                    // The rest of the block follows in CONTINUATION frames, and nothing else.
                    let mut block = self.inbox[fragment].to_vec();
                    loop {
                        let next = self.next_frame(started, timeout)?;
                        if next.kind != CONTINUATION || next.id != id {
                            return Err(malformed(
                                "a header block interrupted by another frame".into(),
                            ));
                        }
                        block.extend_from_slice(&self.inbox[next.payload.clone()]);
                        if block.len() > MAX_HEADER_BLOCK {
                            return Err(malformed(format!(
                                "a header block over {} KiB",
                                MAX_HEADER_BLOCK >> 10
                            )));
                        }
                        if next.flags & END_HEADERS != 0 {
                            break;
                        }
                    }
                    decode(&mut self.hpack, &block, ours.then_some(&mut *call))?;
                }
                if ours {
                    call.ended |= flags & END_STREAM != 0;
                }
            }
            RST_STREAM => {
                let code = word(&self.inbox[payload], "RST_STREAM")?;
                if ours {
                    call.reset = Some(code);
                    call.ended = true;
                }
            }
            SETTINGS if flags & ACK != 0 => {}
            SETTINGS => {
                let settings = &self.inbox[payload];
                if !settings.len().is_multiple_of(6) {
                    return Err(malformed(
                        "a SETTINGS frame of a length not a multiple of 6".into(),
                    ));
                }
                for s in settings.chunks(6) {
                    let value = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
                    match u16::from_be_bytes([s[0], s[1]]) {
                        INITIAL_WINDOW_SIZE if value > WINDOW => {
                            return Err(malformed(format!("an initial window of {value}")));
                        }
                        INITIAL_WINDOW_SIZE => {
                            // A change applies to open streams too (RFC 9113 §6.9.2).
                            let delta = i64::from(value) - self.stream_window;
                            call.window += delta;
                            self.stream_window = value.into();
                        }
                        MAX_FRAME_SIZE if !(DEFAULT_FRAME as u32..1 << 24).contains(&value) => {
                            return Err(malformed(format!("a largest frame size of {value}")));
                        }
                        MAX_FRAME_SIZE => self.frame_out = value as usize,
                        _ => {}
                    }
                }
                frame_head(&mut self.outbox, 0, SETTINGS, ACK, 0);
            }
            PING if flags & ACK != 0 => {}
            PING => {
                let data: [u8; 8] = self.inbox[payload]
                    .try_into()
                    .map_err(|_| malformed("a PING that is not 8 bytes".into()))?;
                frame_head(&mut self.outbox, 8, PING, ACK, 0);
                self.outbox.extend_from_slice(&data);
            }
            GOAWAY => {
                let p = &self.inbox[payload];
                let (Some(last), Some(code)) = (p.get(..4), p.get(4..8)) else {
                    return Err(malformed("a GOAWAY shorter than 8 bytes".into()));
                };
                let last = word(last, "GOAWAY")? & 0x7fff_ffff;
                let code = word(code, "GOAWAY")?;
                self.closing = true;
                if call.id > last {
                    // Not processed: the call may be made again on a new connection.
                    return Err(Failure {
                        kind: ErrorKind::Unavailable,
                        message: format!(
                            "the connection failed: the server is closing it (GOAWAY, {})",
                            error_code(code)
                        ),
                        broken: true,
                    });
                }
            }
            WINDOW_UPDATE => {
                let increment =
                    i64::from(word(&self.inbox[payload], "WINDOW_UPDATE")? & 0x7fff_ffff);
                if id == 0 {
                    self.window += increment;
                } else if ours {
                    call.window += increment;
                }
            }
            PUSH_PROMISE => {
                return Err(malformed(
                    "a PUSH_PROMISE, which this client turned off".into(),
                ));
            }
            CONTINUATION => {
                return Err(malformed("a CONTINUATION without its HEADERS".into()));
            }
            // PRIORITY, and types this client does not know: ignored, as the protocol says.
            _ => {}
        }
        Ok(())
    }

    /// Counts received DATA against the connection's window, and queues a window update
    /// once half of it is used.
    fn count_received(&mut self, n: u32) {
        self.unreturned += n;
        if self.unreturned >= WINDOW / 2 {
            frame_head(&mut self.outbox, 4, WINDOW_UPDATE, 0, 0);
            self.outbox
                .extend_from_slice(&self.unreturned.to_be_bytes());
            self.unreturned = 0;
        }
    }

    /// The next whole frame; its payload stays in `inbox` until the next read.
    fn next_frame(&mut self, started: Instant, timeout: Duration) -> Result<Frame, Failure> {
        loop {
            if let Some(frame) = self.peek() {
                let len = frame.payload.len();
                if len > MAX_FRAME_IN {
                    return Err(malformed(format!(
                        "a frame of {len} bytes, more than the {MAX_FRAME_IN} this client allows"
                    )));
                }
                if frame.payload.end <= self.filled {
                    self.at = frame.payload.end;
                    return Ok(frame);
                }
                if self.inbox.len() < 9 + len {
                    self.inbox.resize(9 + len, 0);
                }
            }
            self.read(started, timeout)?;
        }
    }

    /// The next frame's header, once its 9 bytes are in (its payload may not be yet).
    fn peek(&self) -> Option<Frame> {
        let h = self.inbox.get(self.at..self.filled)?.get(..9)?;
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        Some(Frame {
            kind: h[3],
            flags: h[4],
            id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
            payload: self.at + 9..self.at + 9 + len,
        })
    }

    /// Reads more bytes after those not yet taken (moved to the buffer's start first).
    fn read(&mut self, started: Instant, timeout: Duration) -> Result<(), Failure> {
        if self.at > 0 {
            self.inbox.copy_within(self.at..self.filled, 0);
            self.filled -= self.at;
            self.at = 0;
        }
        if self.filled == self.inbox.len() {
            self.inbox.resize(self.inbox.len() * 2, 0);
        }
        match socket::read_some(
            &mut self.stream,
            &mut self.inbox[self.filled..],
            started,
            timeout,
        )? {
            0 => Err(socket::closed_early()),
            n => {
                self.filled += n;
                Ok(())
            }
        }
    }
}

impl Call {
    fn new(id: u32, window: i64) -> Call {
        Call {
            id,
            window,
            head: false,
            http_status: None,
            grpc_status: None,
            grpc_message: None,
            ended: false,
            reset: None,
        }
    }

    /// The call's outcome, as the async client reports it (see `grpc`), then the message.
    fn verdict(self, body: &[u8]) -> Result<(), Failure> {
        if let Some(code) = self.reset {
            // As gRPC maps a reset to a status (its HTTP/2 transport spec): REFUSED_STREAM
            // was not processed, worth trying again; ENHANCE_YOUR_CALM is an overload.
            let status = match code {
                0x7 => tonic::Code::Unavailable,
                0x8 => tonic::Code::Cancelled,
                0xb => tonic::Code::ResourceExhausted,
                0xc => tonic::Code::PermissionDenied,
                _ => tonic::Code::Internal,
            };
            return Err(Failure {
                kind: crate::wire::kind_of_code(status),
                message: format!("gRPC: the server reset the call ({})", error_code(code)),
                broken: false,
            });
        }
        match self.grpc_status.as_deref() {
            Some(b"0") => {}
            Some(code) => {
                let mut headers = http::HeaderMap::new();
                for (name, value) in [
                    ("grpc-status", Some(code)),
                    ("grpc-message", self.grpc_message.as_deref()),
                ] {
                    if let Some(v) = value.and_then(|v| http::HeaderValue::from_bytes(v).ok()) {
                        headers.insert(name, v);
                    }
                }
                return Err(match tonic::Status::from_header_map(&headers) {
                    Some(s) => CallError::Status(s),
                    None => CallError::Malformed(format!(
                        "a grpc-status of '{}'",
                        String::from_utf8_lossy(code)
                    )),
                }
                .into());
            }
            None => {
                return Err(match self.http_status {
                    Some(s) if !(200..300).contains(&s) => CallError::Http(s),
                    _ => CallError::Malformed("no grpc-status".into()),
                }
                .into());
            }
        }
        infer_answer(unframe_slice(body)?)
    }
}

/// Decodes a header block (always, so that the decoder's table follows the server's), and
/// takes what a call needs from it when it is the call's.
fn decode(
    hpack: &mut loona_hpack::Decoder<'static>,
    block: &[u8],
    call: Option<&mut Call>,
) -> Result<(), Failure> {
    let mut status = None;
    let mut grpc_status = None;
    let mut grpc_message = None;
    hpack
        .decode_with_cb(block, |name: Cow<[u8]>, value: Cow<[u8]>| match &name[..] {
            b":status" => {
                status = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse().ok())
            }
            b"grpc-status" => grpc_status = Some(value.into_owned()),
            b"grpc-message" => grpc_message = Some(value.into_owned()),
            _ => {}
        })
        .map_err(|e| malformed(format!("a header block HPACK cannot read ({e})")))?;
    let Some(call) = call else {
        return Ok(());
    };
    if !call.head {
        match status {
            // An interim head (1xx): the real one follows.
            Some(100..=199) => return Ok(()),
            Some(s) => call.http_status = Some(s),
            None => return Err(malformed("an answer's head without :status".into())),
        }
        call.head = true;
    }
    if grpc_status.is_some() {
        call.grpc_status = grpc_status;
        call.grpc_message = grpc_message;
    }
    Ok(())
}

/// The request's headers as one HPACK block: literals without indexing (a name from the
/// static table where it has one), so the block never depends on the connection; the token
/// marked never to be indexed by anyone on the way. It opens with a table size update to 0:
/// this encoder keeps no table, and a server that lowers the table size expects an update
/// at the start of the next block (RFC 7541 §4.2), which this one always carries.
pub(crate) fn header_block(prepared: &Prepared) -> Vec<u8> {
    use loona_hpack::encoder::encode_integer_into;
    // Size update 0, then :method POST and :scheme http (static 3 and 6).
    let mut block = vec![0x20, 0x83, 0x86];
    let mut literal = |index: usize, never: bool, name: &[u8], value: &[u8]| {
        let flag = if never { 0x10 } else { 0x00 };
        encode_integer_into(index, 4, flag, &mut block).expect("a Vec takes any write");
        if index == 0 {
            encode_integer_into(name.len(), 7, 0, &mut block).expect("a Vec");
            block.extend_from_slice(name);
        }
        encode_integer_into(value.len(), 7, 0, &mut block).expect("a Vec");
        block.extend_from_slice(value);
    };
    literal(4, false, b":path", GRPC_INFER_PATH.as_bytes());
    literal(1, false, b":authority", prepared.host.as_bytes());
    literal(31, false, b"content-type", b"application/grpc");
    literal(0, false, b"te", b"trailers");
    if let Some(a) = &prepared.auth {
        literal(23, true, b"authorization", a.as_bytes());
    }
    block
}

/// Appends a frame's 9-byte header.
fn frame_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, id: u32) {
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&id.to_be_bytes());
}

/// Where a DATA or HEADERS payload's content lies in it: without the padding (and a
/// HEADERS' priority fields).
fn unpad(payload: &[u8], flags: u8, headers: bool) -> Result<Range<usize>, Failure> {
    let mut start = 0;
    let mut pad = 0;
    if flags & PADDED != 0 {
        pad = *payload
            .first()
            .ok_or_else(|| malformed("a padded frame without its pad length".into()))?
            as usize;
        start = 1;
    }
    if headers && flags & PRIORITY != 0 {
        start += 5;
    }
    match payload.len().checked_sub(pad) {
        Some(end) if end >= start => Ok(start..end),
        _ => Err(malformed(
            "a frame too short for its padding and priority".into(),
        )),
    }
}

/// `part` of a payload, as a range of the buffer the payload lies in.
fn within(payload: &Range<usize>, part: Range<usize>) -> Range<usize> {
    payload.start + part.start..payload.start + part.end
}

/// A payload that is one 32-bit word.
fn word(p: &[u8], frame: &str) -> Result<u32, Failure> {
    <[u8; 4]>::try_from(p)
        .map(u32::from_be_bytes)
        .map_err(|_| malformed(format!("a {frame} frame of {} bytes", p.len())))
}

/// An HTTP/2 error code by its name (RFC 9113 §7).
fn error_code(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    match NAMES.get(code as usize) {
        Some(name) => format!("HTTP/2 error {name}"),
        None => format!("HTTP/2 error {code:#x}"),
    }
}

/// Writes every slice, however many writes it takes.
fn write_all(stream: &mut TcpStream, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match stream.write_vectored(slices) {
            Ok(0) => return Err(IoKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn malformed(what: String) -> Failure {
    socket::malformed("HTTP/2", what)
}

#[cfg(test)]
mod tests {
    use std::{
        io::Read,
        net::TcpListener,
        sync::{Arc, Mutex},
        thread,
    };

    use assay_engine::ErrorKind;

    use super::*;

    /// A `ModelInfer` answer in gRPC's framing.
    fn answer() -> Bytes {
        crate::request::grpc_frame(&assay_protocol::pb::ModelInferResponse {
            model_name: "m".into(),
            ..Default::default()
        })
    }

    /// What the `h2` server saw of each call: its headers and its message.
    type Seen = Arc<Mutex<Vec<(http::HeaderMap, http::Uri, Vec<u8>)>>>;

    /// How the `h2` server answers each call.
    #[derive(Clone, Copy)]
    enum Script {
        /// The answer, then `grpc-status: 0` in trailers.
        Ok,
        /// Only trailers (no message): NOT_FOUND with a message to percent-decode.
        NotFound,
        /// RST_STREAM(REFUSED_STREAM) after reading the request.
        Refuse,
    }

    /// A real HTTP/2 server (the `h2` crate) on 127.0.0.1 that takes 1,000-byte windows
    /// and 16 KiB frames, so that a large request must wait for window and be split; it
    /// answers every call with `script` and counts its connections.
    fn h2_server(script: Script) -> (Target, Seen, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let conns = Arc::new(Mutex::new(0));
        let (kept, counted) = (seen.clone(), conns.clone());
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (socket, _) = listener.accept().await.unwrap();
                    *counted.lock().unwrap() += 1;
                    let kept = kept.clone();
                    tokio::spawn(async move {
                        let mut conn = h2::server::Builder::new()
                            .initial_window_size(1000)
                            .initial_connection_window_size(1000)
                            .handshake::<_, Bytes>(socket)
                            .await
                            .unwrap();
                        while let Some(Ok((request, mut respond))) = conn.accept().await {
                            let kept = kept.clone();
                            tokio::spawn(async move {
                                let (head, mut body) = request.into_parts();
                                let mut message = Vec::new();
                                while let Some(chunk) = body.data().await {
                                    let chunk = chunk.unwrap();
                                    let _ = body.flow_control().release_capacity(chunk.len());
                                    message.extend_from_slice(&chunk);
                                }
                                kept.lock().unwrap().push((head.headers, head.uri, message));
                                let ok = http::Response::builder()
                                    .header("content-type", "application/grpc")
                                    .body(())
                                    .unwrap();
                                match script {
                                    Script::Ok => {
                                        let mut send = respond.send_response(ok, false).unwrap();
                                        send.send_data(answer(), false).unwrap();
                                        let mut t = http::HeaderMap::new();
                                        t.insert("grpc-status", "0".parse().unwrap());
                                        send.send_trailers(t).unwrap();
                                    }
                                    Script::NotFound => {
                                        let mut r = ok;
                                        r.headers_mut().insert("grpc-status", "5".parse().unwrap());
                                        r.headers_mut().insert(
                                            "grpc-message",
                                            "no model %27x%27".parse().unwrap(),
                                        );
                                        respond.send_response(r, true).unwrap();
                                    }
                                    Script::Refuse => {
                                        respond.send_reset(h2::Reason::REFUSED_STREAM)
                                    }
                                }
                            });
                        }
                    });
                }
            });
        });
        (grpc_target(port, Some("s3cret")), seen, conns)
    }

    fn grpc_target(port: u16, token: Option<&str>) -> Target {
        Target::parse(
            &format!("grpc://127.0.0.1:{port}"),
            "m",
            None,
            false,
            token.map(str::to_string),
        )
        .unwrap()
    }

    fn connect(
        target: &Target,
        message: Bytes,
        timeout: Duration,
    ) -> Result<BlockingGrpc, Failure> {
        let prepared = Prepared::new(target).unwrap();
        BlockingGrpc::connect(target, header_block(&prepared), message, timeout)
    }

    /// A framed message of `n` bytes in all.
    fn message(n: usize) -> Bytes {
        let mut m = vec![0u8, 0, 0, 0, 0];
        m[1..5].copy_from_slice(&((n - 5) as u32).to_be_bytes());
        m.extend((0..n - 5).map(|i| (i % 251) as u8));
        m.into()
    }

    #[test]
    fn calls_a_real_http2_server_through_its_small_windows_on_one_connection() {
        let (target, seen, conns) = h2_server(Script::Ok);
        // 40 KB: forty windows of the server's 1,000 bytes, in frames of at most 16 KiB.
        let sent = message(40_000);
        let mut conn = connect(&target, sent.clone(), Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            conn.send().unwrap();
        }
        assert_eq!(*conns.lock().unwrap(), 1);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for (headers, uri, message) in seen.iter() {
            assert_eq!(message, &sent[..], "the message arrives whole and in order");
            assert_eq!(uri.path(), GRPC_INFER_PATH);
            assert_eq!(uri.authority().unwrap().as_str(), target.authority());
            assert_eq!(headers["content-type"], "application/grpc");
            assert_eq!(headers["te"], "trailers");
            assert_eq!(headers["authorization"], "Bearer s3cret");
        }
    }

    #[test]
    fn a_status_in_the_trailers_only_is_the_servers_error_and_the_connection_stays() {
        let (target, _, conns) = h2_server(Script::NotFound);
        let mut conn = connect(&target, message(20), Duration::from_secs(5)).unwrap();
        for _ in 0..2 {
            let f = conn.send().unwrap_err();
            assert_eq!(f.message, "gRPC NotFound: no model 'x'");
            assert_eq!(f.kind, ErrorKind::NotFound);
            assert!(!f.broken);
        }
        assert_eq!(*conns.lock().unwrap(), 1);
    }

    #[test]
    fn a_reset_call_is_refused_and_the_next_one_goes_on_the_same_connection() {
        let (target, seen, conns) = h2_server(Script::Refuse);
        let mut conn = connect(&target, message(20), Duration::from_secs(5)).unwrap();
        for _ in 0..2 {
            let f = conn.send().unwrap_err();
            assert_eq!(
                f.message,
                "gRPC: the server reset the call (HTTP/2 error REFUSED_STREAM)"
            );
            assert_eq!((f.kind, f.broken), (ErrorKind::Unavailable, false));
        }
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(*conns.lock().unwrap(), 1);
    }

    /// Reads one frame the client sent: its type, flags, stream and payload.
    fn read_frame(s: &mut TcpStream) -> (u8, u8, u32, Vec<u8>) {
        let mut h = [0; 9];
        s.read_exact(&mut h).unwrap();
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        let mut p = vec![0; len];
        s.read_exact(&mut p).unwrap();
        (h[3], h[4], u32::from_be_bytes([h[5], h[6], h[7], h[8]]), p)
    }

    fn frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        frame_head(&mut f, payload.len(), kind, flags, id);
        f.extend_from_slice(payload);
        f
    }

    /// `:status 200` (static 8), then `grpc-status` as a literal with a new name.
    fn head_block(grpc_status: Option<&str>) -> Vec<u8> {
        let mut b = vec![0x88];
        if let Some(s) = grpc_status {
            b.extend_from_slice(&[0x00, 11]);
            b.extend_from_slice(b"grpc-status");
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        b
    }

    /// A hand-scripted HTTP/2 server: for each connection, after reading the client's
    /// preface, settings and window update, `script` runs on the socket.
    fn raw_server(script: impl Fn(usize, &mut TcpStream) + Send + 'static) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let mut s = conn.unwrap();
                let mut preface = [0; 24];
                s.read_exact(&mut preface).unwrap();
                assert_eq!(&preface[..], PREFACE);
                let (kind, _, _, settings) = read_frame(&mut s);
                assert_eq!((kind, settings.len()), (SETTINGS, 18));
                assert_eq!(read_frame(&mut s).0, WINDOW_UPDATE);
                script(n, &mut s);
            }
        });
        grpc_target(port, None)
    }

    /// The server's settings (none), then the first call.
    fn hello_and_call(s: &mut TcpStream) -> u32 {
        s.write_all(&frame(SETTINGS, 0, 0, &[])).unwrap();
        read_call(s)
    }

    /// Reads frames through a call's last DATA; its stream.
    fn read_call(s: &mut TcpStream) -> u32 {
        loop {
            let (kind, flags, id, _) = read_frame(s);
            if kind == DATA && flags & END_STREAM != 0 {
                return id;
            }
        }
    }

    #[test]
    fn pings_and_settings_mid_call_are_answered_and_padding_and_continuation_are_read() {
        let target = raw_server(|_, s| {
            let id = hello_and_call(s);
            // A ping and new settings before the answer: both acknowledged at once.
            s.write_all(&frame(PING, 0, 0, b"12345678")).unwrap();
            s.write_all(&frame(SETTINGS, 0, 0, &[0, 5, 0, 0, 0x80, 0]))
                .unwrap();
            let mut acks = Vec::new();
            while acks.len() < 2 {
                let (kind, flags, _, p) = read_frame(s);
                acks.push((kind, flags, p));
            }
            assert!(
                acks.contains(&(PING, ACK, b"12345678".to_vec())),
                "{acks:?}"
            );
            assert!(acks.contains(&(SETTINGS, ACK, Vec::new())), "{acks:?}");
            // The head split over HEADERS and CONTINUATION, padded DATA, padded trailers.
            let head = head_block(None);
            let mut answer_frames = frame(HEADERS, 0, id, &head[..0]);
            answer_frames.extend(frame(CONTINUATION, END_HEADERS, id, &head));
            let mut data = vec![3];
            data.extend_from_slice(&answer());
            data.extend_from_slice(&[0, 0, 0]);
            answer_frames.extend(frame(DATA, PADDED, id, &data));
            let mut trailers = vec![1];
            trailers.extend(head_block(Some("0")).split_off(1));
            trailers.push(0);
            answer_frames.extend(frame(
                HEADERS,
                PADDED | END_HEADERS | END_STREAM,
                id,
                &trailers,
            ));
            s.write_all(&answer_frames).unwrap();
        });
        connect(&target, message(20), Duration::from_secs(5))
            .unwrap()
            .send()
            .unwrap();
    }

    #[test]
    fn a_server_that_breaks_the_protocol_is_a_clear_failure_and_the_next_call_reconnects() {
        let target = raw_server(|n, s| {
            let id = hello_and_call(s);
            let bad = match n {
                // A frame larger than the client allows.
                0 => frame(DATA, 0, id, &vec![0; MAX_FRAME_IN + 1]),
                // A push, which the client turned off.
                1 => frame(PUSH_PROMISE, END_HEADERS, id, &[0, 0, 0, 2]),
                // DATA before any head.
                2 => frame(DATA, END_STREAM, id, &answer()),
                // A GOAWAY that does not cover the call.
                3 => frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 1]),
                // Half an answer, then the connection closes.
                4 => frame(HEADERS, END_HEADERS, id, &head_block(None)),
                // A whole answer with a message that is not one gRPC frame, twice.
                _ => Vec::new(),
            };
            if n < 5 {
                let _ = s.write_all(&bad);
                return;
            }
            for round in 0..2 {
                let id = if round == 0 { id } else { read_call(s) };
                let mut f = frame(HEADERS, END_HEADERS, id, &head_block(None));
                f.extend(frame(DATA, 0, id, &[0, 0, 0, 0, 9, 1]));
                f.extend(frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    id,
                    &head_block(Some("0"))[1..],
                ));
                s.write_all(&f).unwrap();
            }
        });
        let mut conn = connect(&target, message(20), Duration::from_secs(5)).unwrap();
        let mut failures = Vec::new();
        for _ in 0..7 {
            failures.push(conn.send().unwrap_err());
        }
        let said: Vec<(&str, ErrorKind, bool)> = failures
            .iter()
            .map(|f| (f.message.as_str(), f.kind, f.broken))
            .collect();
        assert_eq!(
            said[..5],
            [
                (
                    "HTTP/2: a malformed answer: a frame of 1048577 bytes, more than the 1048576 this client allows",
                    ErrorKind::Gateway,
                    true
                ),
                (
                    "HTTP/2: a malformed answer: a PUSH_PROMISE, which this client turned off",
                    ErrorKind::Gateway,
                    true
                ),
                (
                    "HTTP/2: a malformed answer: DATA before the answer's headers",
                    ErrorKind::Gateway,
                    true
                ),
                (
                    "the connection failed: the server is closing it (GOAWAY, HTTP/2 error PROTOCOL_ERROR)",
                    ErrorKind::Unavailable,
                    true
                ),
                (
                    "the connection failed: the server closed it before a whole answer",
                    ErrorKind::Unreachable,
                    true
                ),
            ]
        );
        // A malformed message in a whole answer: the connection itself is fine.
        let m = "gRPC: a malformed answer: 6 bytes, not one uncompressed message";
        assert_eq!(said[5..], [(m, ErrorKind::Gateway, false); 2]);
    }

    #[test]
    fn what_is_not_an_http2_server_is_refused_at_connect() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let mut s = conn.unwrap();
                let _ = s.write_all(match n {
                    0 => &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
                    _ => &[0, 0, 0, PING, 0, 0, 0, 0, 0][..],
                });
                thread::sleep(Duration::from_millis(100));
            }
        });
        let target = grpc_target(port, None);
        let said = |r: Result<BlockingGrpc, Failure>| r.err().unwrap().message;
        assert_eq!(
            said(connect(&target, message(20), Duration::from_secs(5))),
            "HTTP/2: a malformed answer: the server speaks HTTP/1.x, not HTTP/2 (is this its REST port?)"
        );
        assert_eq!(
            said(connect(&target, message(20), Duration::from_secs(5))),
            "HTTP/2: a malformed answer: its first frame is of type 0x6, not the SETTINGS an HTTP/2 server starts with"
        );
    }

    /// A whole good answer on stream `id`.
    fn good_answer(id: u32) -> Vec<u8> {
        let mut f = frame(HEADERS, END_HEADERS, id, &head_block(None));
        f.extend(frame(DATA, 0, id, &answer()));
        f.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            id,
            &head_block(Some("0"))[1..],
        ));
        f
    }

    #[test]
    fn a_goaway_after_an_answer_sends_the_next_call_on_a_new_connection() {
        let target = raw_server(|n, s| {
            let id = hello_and_call(s);
            let mut f = good_answer(id);
            if n == 0 {
                // The server shuts down gracefully: this call was its last.
                f.extend(frame(GOAWAY, 0, 0, &[0, 0, 0, id as u8, 0, 0, 0, 0]));
            }
            s.write_all(&f).unwrap();
            thread::sleep(Duration::from_millis(300));
        });
        let mut conn = connect(&target, message(20), Duration::from_secs(5)).unwrap();
        conn.send().unwrap();
        conn.send().unwrap();
    }

    #[test]
    fn a_silent_server_times_out() {
        let target = raw_server(|_, s| {
            hello_and_call(s);
            thread::sleep(Duration::from_secs(2));
        });
        let mut conn = connect(&target, message(20), Duration::from_millis(200)).unwrap();
        let f = conn.send().unwrap_err();
        assert_eq!(f.message, "no answer within 200ms");
        assert_eq!((f.kind, f.broken), (ErrorKind::Unavailable, true));
    }
}
