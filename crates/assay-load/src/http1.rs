//! HTTP/1.1 on a blocking socket: the closed loop at concurrency 1 over plain REST.
//!
//! With one request in flight there is nothing to multiplex, and an event loop only adds
//! work: the async path writes, waits in `epoll_wait`, then reads (three system calls a
//! request), and hands the answer between hyper's connection task and the worker. A thread
//! that writes the whole request (made once, headers and body in one buffer) and blocks in
//! `read` makes two system calls and nothing else, which is what a client written in C does.
//! The answer is parsed with `httparse` (hyper's own parser): Content-Length, chunked or
//! close-delimited bodies, `Connection: close`, interim 1xx answers.

use std::{
    io::Write,
    net::TcpStream,
    time::{Duration, Instant},
};

use bytes::Bytes;

use crate::{
    error::kind_of_status,
    socket::{self, MAX_ANSWER, io_failure, open},
    target::Target,
    wire::Failure,
};

/// Headers an answer may carry before it is refused as malformed.
const MAX_HEADERS: usize = 64;
/// The read buffer's first size; it doubles for larger answers and keeps its size.
const FIRST_BUFFER: usize = 64 * 1024;

/// One keep-alive connection that sends the same request again and again.
pub(crate) struct Blocking {
    addr: String,
    stream: Option<TcpStream>,
    request: Bytes,
    timeout: Duration,
    buf: Vec<u8>,
}

/// What an answer's head says: its status, its length in bytes, how its body ends, and
/// whether the server closes the connection after it.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    close: bool,
}

/// How an answer's body ends.
enum Framing {
    Length(usize),
    Chunked,
    /// Until the server closes the connection (no length, not chunked).
    Close,
}

impl Blocking {
    /// Connects to the target; `request` is the whole request as it goes on the wire.
    pub(crate) fn connect(
        target: &Target,
        request: Bytes,
        timeout: Duration,
    ) -> Result<Blocking, Failure> {
        let mut conn = Blocking {
            addr: target.authority(),
            stream: None,
            request,
            timeout,
            buf: vec![0; FIRST_BUFFER],
        };
        conn.reconnect()?;
        Ok(conn)
    }

    /// Opens a new connection in place of the old one (after a transport error or an
    /// answer that closed it).
    pub(crate) fn reconnect(&mut self) -> Result<(), Failure> {
        self.stream = None;
        self.stream = Some(open(&self.addr, self.timeout)?);
        Ok(())
    }

    /// Sends the request and reads the whole answer. A transport error, a malformed answer
    /// or a timeout leaves the connection closed (`broken`); so does an answer that says
    /// `Connection: close`, and the next `send` then connects again first.
    pub(crate) fn send(&mut self) -> Result<(), Failure> {
        if self.stream.is_none() {
            self.reconnect()?;
        }
        match self.exchange(Instant::now()) {
            Ok(close) => {
                if close {
                    self.stream = None;
                }
                Ok(())
            }
            Err(f) => {
                if f.broken {
                    self.stream = None;
                }
                Err(f)
            }
        }
    }

    /// One request and its answer; `Ok(true)` when the server closes the connection after it.
    fn exchange(&mut self, started: Instant) -> Result<bool, Failure> {
        let stream = self.stream.as_mut().expect("connected above");
        stream
            .write_all(&self.request)
            .map_err(|e| io_failure(&e, self.timeout))?;
        let (head, mut filled) = self.read_head(started)?;
        // The body is kept only when it is an error, for its message.
        let keep = !(200..300).contains(&head.status);
        let mut body = Vec::new();
        let close = match head.framing {
            Framing::Length(n) => {
                let end = head
                    .len
                    .checked_add(n)
                    .filter(|&e| e <= MAX_ANSWER)
                    .ok_or_else(too_large)?;
                while filled < end {
                    filled = self.fill(filled, started)?;
                }
                if filled > end {
                    return Err(malformed("more bytes than its Content-Length".into()));
                }
                if keep {
                    body.extend_from_slice(&self.buf[head.len..end]);
                }
                head.close
            }
            Framing::Chunked => {
                self.read_chunks(head.len, filled, started, keep.then_some(&mut body))?;
                head.close
            }
            Framing::Close => {
                loop {
                    match self.read_more(filled, started)? {
                        0 => break,
                        n => filled += n,
                    }
                }
                if keep {
                    body.extend_from_slice(&self.buf[head.len..filled]);
                }
                true
            }
        };
        if keep {
            return Err(Failure {
                kind: kind_of_status(head.status),
                message: format!("HTTP {}: {}", head.status, crate::wire::error_text(&body)),
                broken: close,
            });
        }
        Ok(close)
    }

    /// Reads up to the end of the final answer's head, past any interim (1xx) answers; the
    /// head, and how many bytes of the buffer are filled.
    fn read_head(&mut self, started: Instant) -> Result<(Head, usize), Failure> {
        let mut filled = 0;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[..filled]) {
                Ok(httparse::Status::Complete(n)) => {
                    let head = head_of(&response, n)?;
                    if !(100..200).contains(&head.status) {
                        return Ok((head, filled));
                    }
                    // An interim answer (100 Continue and the like): the real one follows.
                    self.buf.copy_within(n..filled, 0);
                    filled -= n;
                    continue;
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(malformed(format!("its head: {e}"))),
            }
            filled = self.fill(filled, started)?;
        }
    }

    /// Reads a chunked body that starts at `pos`, through the last chunk and its trailer
    /// section; the chunks' data goes to `keep` when given.
    fn read_chunks(
        &mut self,
        mut pos: usize,
        mut filled: usize,
        started: Instant,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), Failure> {
        loop {
            let (used, size) = match httparse::parse_chunk_size(&self.buf[pos..filled]) {
                Ok(httparse::Status::Complete(c)) => c,
                Ok(httparse::Status::Partial) => {
                    filled = self.fill(filled, started)?;
                    continue;
                }
                Err(_) => return Err(malformed("a bad chunk size".into())),
            };
            let data = pos + used;
            if size == 0 {
                // The last chunk, then trailer lines (none expected) and a blank line.
                loop {
                    let rest = &self.buf[data..filled];
                    if rest.starts_with(b"\r\n") || rest.windows(4).any(|w| w == b"\r\n\r\n") {
                        return Ok(());
                    }
                    filled = self.fill(filled, started)?;
                }
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|&n| n <= MAX_ANSWER)
                .ok_or_else(too_large)?;
            while filled < data + size + 2 {
                filled = self.fill(filled, started)?;
            }
            if &self.buf[data + size..data + size + 2] != b"\r\n" {
                return Err(malformed("a chunk without its line end".into()));
            }
            if let Some(k) = keep.as_deref_mut() {
                k.extend_from_slice(&self.buf[data..data + size]);
            }
            pos = data + size + 2;
        }
    }

    /// Reads more of the answer after `filled` bytes; an end of stream here is an error.
    fn fill(&mut self, filled: usize, started: Instant) -> Result<usize, Failure> {
        match self.read_more(filled, started)? {
            0 => Err(socket::closed_early()),
            n => Ok(filled + n),
        }
    }

    /// One `read` into the buffer (grown when full); 0 at the end of the stream.
    fn read_more(&mut self, filled: usize, started: Instant) -> Result<usize, Failure> {
        if filled == self.buf.len() {
            if filled >= MAX_ANSWER {
                return Err(too_large());
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let stream = self.stream.as_mut().expect("connected");
        socket::read_some(stream, &mut self.buf[filled..], started, self.timeout)
    }
}

/// What a complete head of `len` bytes says.
fn head_of(response: &httparse::Response, len: usize) -> Result<Head, Failure> {
    let status = response.code.expect("a complete head has a status");
    let mut length = None;
    let mut chunked = false;
    let mut close = response.version == Some(0);
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| malformed("a Content-Length that is not a number".into()))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("two different Content-Lengths".into()));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Head {
        status,
        len,
        framing,
        close,
    })
}

fn too_large() -> Failure {
    socket::too_large("HTTP/1.1")
}

fn malformed(what: String) -> Failure {
    socket::malformed("HTTP/1.1", what)
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Read, Write},
        net::TcpListener,
        sync::{Arc, Mutex},
        thread,
    };

    use assay_engine::ErrorKind;

    use super::*;

    /// A server on 127.0.0.1 that answers each request it reads with the next scripted
    /// answer (`true`: close the connection after it); it also keeps each request it read.
    fn server(script: Vec<(&'static [u8], bool)>) -> (Target, Arc<Mutex<Vec<Vec<u8>>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        thread::spawn(move || {
            let mut script = script.into_iter();
            'accept: for conn in listener.incoming() {
                let conn = conn.unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut writer = conn;
                loop {
                    // The head, then as many body bytes as its content-length says.
                    let mut head = Vec::new();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap() == 0 {
                            continue 'accept;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        head.extend_from_slice(line.as_bytes());
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    head.extend_from_slice(&body);
                    kept.lock().unwrap().push(head);
                    let Some((answer, close)) = script.next() else {
                        return;
                    };
                    writer.write_all(answer).unwrap();
                    if close {
                        continue 'accept;
                    }
                }
            }
        });
        let target =
            Target::parse(&format!("http://127.0.0.1:{port}"), "m", None, true, None).unwrap();
        (target, seen)
    }

    const REQUEST: &[u8] =
        b"POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nbody";

    fn connect(target: &Target) -> Blocking {
        Blocking::connect(target, Bytes::from_static(REQUEST), Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn reads_length_chunked_and_interim_answers_on_one_connection() {
        let (target, seen) = server(vec![
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                false,
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                false,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", false),
        ]);
        let mut conn = connect(&target);
        for _ in 0..4 {
            conn.send().unwrap();
        }
        let seen = seen.lock().unwrap();
        // Four requests, each sent whole and as given, on the one connection.
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|r| r == REQUEST));
    }

    #[test]
    fn an_error_answer_carries_the_servers_message_and_its_kind() {
        let (target, _) = server(vec![(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 31\r\n\r\n{\"error\":\"wrong shape [1, 3]\"}\n",
            false,
        )]);
        let f = connect(&target).send().unwrap_err();
        assert_eq!(f.message, "HTTP 400: wrong shape [1, 3]");
        assert_eq!(f.kind, ErrorKind::Usage);
        assert!(!f.broken);
    }

    #[test]
    fn a_closed_connection_is_opened_again_for_the_next_request() {
        let (target, seen) = server(vec![
            (
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\na",
                true,
            ),
            // No length and not chunked: the body ends when the server closes.
            (b"HTTP/1.1 200 OK\r\n\r\nto the end", true),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb", false),
        ]);
        let mut conn = connect(&target);
        for _ in 0..3 {
            conn.send().unwrap();
        }
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_broken_answer_is_a_clear_failure_and_the_next_request_reconnects() {
        let (target, _) = server(vec![
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf", true),
            (b"NOT HTTP AT ALL\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhello", true),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\n",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffff\r\n",
                true,
            ),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false),
        ]);
        let mut conn = connect(&target);
        let cut = conn.send().unwrap_err();
        assert!(
            cut.message.contains("closed it before a whole answer"),
            "{}",
            cut.message
        );
        assert_eq!((cut.kind, cut.broken), (ErrorKind::Unreachable, true));
        let bad = conn.send().unwrap_err();
        assert!(
            bad.message.starts_with("HTTP/1.1: a malformed answer"),
            "{}",
            bad.message
        );
        assert!(bad.broken);
        let long = conn.send().unwrap_err();
        assert!(
            long.message.contains("more bytes than its Content-Length"),
            "{}",
            long.message
        );
        // A hostile length, declared or chunked, is refused before anything is allocated.
        for _ in 0..2 {
            let huge = conn.send().unwrap_err();
            assert_eq!(
                huge.message,
                "HTTP/1.1: an answer larger than 1024 MiB; refused"
            );
            assert_eq!((huge.kind, huge.broken), (ErrorKind::TooLarge, true));
        }
        conn.send().unwrap();
    }

    #[test]
    fn a_silent_server_times_out_and_an_absent_one_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target =
            Target::parse(&format!("http://127.0.0.1:{port}"), "m", None, true, None).unwrap();
        let mut conn = Blocking::connect(
            &target,
            Bytes::from_static(REQUEST),
            Duration::from_millis(200),
        )
        .unwrap();
        let started = Instant::now();
        let f = conn.send().unwrap_err();
        assert_eq!(f.message, "no answer within 200ms");
        assert_eq!(f.kind, ErrorKind::Unavailable);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
        let gone = Blocking::connect(&target, Bytes::from_static(REQUEST), Duration::from_secs(1))
            .err()
            .expect("nothing listens");
        assert!(
            gone.message.starts_with("the connection failed: "),
            "{}",
            gone.message
        );
        assert_eq!(gone.kind, ErrorKind::Unreachable);
    }
}
