//! The blocking socket under a lone worker's connection (`http1` for REST, `h2c` for gRPC):
//! connecting with time limits, reading within the request's time, and the failures both
//! report in the same words as the async paths.

use std::{
    io::{ErrorKind as IoKind, Read},
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use assay_engine::ErrorKind;

use crate::wire::Failure;

/// The largest answer a blocking client reads: a server that claims or sends more is
/// refused rather than allowed to fill the client's memory.
pub(crate) const MAX_ANSWER: usize = 1 << 30;

/// A blocking connection to `addr` (`host:port`), with no delay on small writes; a read or a
/// write that waits longer than `timeout` fails (the callers also check a whole answer's time
/// against it).
pub(crate) fn open(addr: &str, timeout: Duration) -> Result<TcpStream, Failure> {
    let mut last = None;
    for a in addr.to_socket_addrs().map_err(|e| broken(&e))? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(s) => {
                s.set_nodelay(true).ok();
                s.set_read_timeout(Some(timeout)).map_err(|e| broken(&e))?;
                s.set_write_timeout(Some(timeout)).map_err(|e| broken(&e))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(broken(&last.unwrap_or_else(|| {
        std::io::Error::new(IoKind::NotFound, format!("{addr} has no address"))
    })))
}

/// One `read` into `buf`, for an answer to a request sent at `started`; 0 at the end of the
/// stream.
pub(crate) fn read_some(
    stream: &mut TcpStream,
    buf: &mut [u8],
    started: Instant,
    timeout: Duration,
) -> Result<usize, Failure> {
    if started.elapsed() > timeout {
        return Err(timed_out(timeout));
    }
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => return Err(io_failure(&e, timeout)),
        }
    }
}

/// The server closed the connection before the whole answer.
pub(crate) fn closed_early() -> Failure {
    Failure {
        kind: ErrorKind::Unreachable,
        message: "the connection failed: the server closed it before a whole answer".into(),
        broken: true,
    }
}

/// An answer over [`MAX_ANSWER`], in `protocol`'s name.
pub(crate) fn too_large(protocol: &str) -> Failure {
    Failure {
        kind: ErrorKind::TooLarge,
        message: format!(
            "{protocol}: an answer larger than {} MiB; refused",
            MAX_ANSWER >> 20
        ),
        broken: true,
    }
}

/// An answer that breaks `protocol`: the connection cannot be trusted after it.
pub(crate) fn malformed(protocol: &str, what: String) -> Failure {
    Failure {
        kind: ErrorKind::Gateway,
        message: format!("{protocol}: a malformed answer: {what}"),
        broken: true,
    }
}

pub(crate) fn timed_out(timeout: Duration) -> Failure {
    Failure {
        kind: ErrorKind::Unavailable,
        message: format!("no answer within {timeout:?}"),
        broken: true,
    }
}

pub(crate) fn broken(e: &std::io::Error) -> Failure {
    Failure {
        kind: ErrorKind::Unreachable,
        message: format!("the connection failed: {e}"),
        broken: true,
    }
}

/// A socket error: a read or write timeout, or the connection gone.
pub(crate) fn io_failure(e: &std::io::Error, timeout: Duration) -> Failure {
    match e.kind() {
        IoKind::WouldBlock | IoKind::TimedOut => timed_out(timeout),
        _ => broken(e),
    }
}
