//! Streaming reader for ONNX Runtime's profile: a JSON array of Chrome-trace events.
//!
//! The file is read in 1 MiB chunks. Each event is decoded by serde_json straight from the
//! buffer, zero-copy, into a [`TraceEvent`] that borrows its strings from it, and passed to
//! the callback; serde reports where the event ended, and an event cut off by the end of a
//! chunk is decoded again once the next chunk is in. Memory is one chunk plus the largest
//! event, whatever the trace's size, and there is no per-event allocation for the fields
//! Assay does not keep.

use std::{borrow::Cow, io::Read};

use serde::Deserialize;
use serde_json::value::RawValue;

const CHUNK: usize = 1 << 20;

/// One trace event, borrowing from the read buffer: the fields the profile's aggregation
/// reads, and nothing more (every field decoded costs on every event).
#[derive(Debug, Deserialize, Default)]
pub struct TraceEvent<'a> {
    #[serde(default, borrow)]
    pub cat: Cow<'a, str>,
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    /// Microseconds.
    #[serde(default)]
    pub dur: f64,
    /// Microseconds since the profile started.
    #[serde(default)]
    pub ts: f64,
    #[serde(default, borrow)]
    pub args: Option<NodeArgs<'a>>,
}

/// An event with its phase and thread too, for a timeline ([`for_each_threaded`]).
#[derive(Debug, Deserialize, Default)]
pub struct ThreadedEvent<'a> {
    #[serde(default, borrow)]
    pub cat: Cow<'a, str>,
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default)]
    pub dur: f64,
    #[serde(default)]
    pub ts: f64,
    #[serde(default, borrow)]
    pub args: Option<NodeArgs<'a>>,
    /// The Chrome-trace phase: `X` (a complete span, all ONNX Runtime writes), `B`/`E` (a
    /// span's begin and end), `i` (an instant), `M` (metadata).
    #[serde(default, borrow)]
    pub ph: Cow<'a, str>,
    /// Process and thread: a number, or (in some other tools' traces) a string, hashed.
    #[serde(default, deserialize_with = "id")]
    pub pid: u64,
    #[serde(default, deserialize_with = "id")]
    pub tid: u64,
}

impl ThreadedEvent<'_> {
    /// True for the event that wraps one whole inference.
    pub fn is_model_run(&self) -> bool {
        self.cat == "Session" && self.name == "model_run"
    }
}

/// What each event is decoded into.
pub trait EventShape {
    type Event<'a>: Deserialize<'a>;
}

/// [`TraceEvent`]s.
pub struct Lean;
impl EventShape for Lean {
    type Event<'a> = TraceEvent<'a>;
}

/// [`ThreadedEvent`]s.
pub struct Threaded;
impl EventShape for Threaded {
    type Event<'a> = ThreadedEvent<'a>;
}

/// A `pid` or `tid`: a number, or a string hashed to one (the Chrome trace format allows
/// both), so a lane is a lane without allocating per event.
fn id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Visitor;
    impl<'v> serde::de::Visitor<'v> for Visitor {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a process or thread id (a number or a string)")
        }
        fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E>(self, v: i64) -> Result<u64, E> {
            Ok(v as u64)
        }
        fn visit_f64<E>(self, v: f64) -> Result<u64, E> {
            Ok(v as u64)
        }
        fn visit_str<E>(self, v: &str) -> Result<u64, E> {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            Ok(BuildHasherDefault::<DefaultHasher>::default().hash_one(v))
        }
        // Anything else (null, a boolean, an object) names no lane: lane 0, as a missing
        // field does, rather than refusing a trace whose other fields are fine.
        fn visit_unit<E>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_none<E>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_bool<E>(self, v: bool) -> Result<u64, E> {
            Ok(v as u64)
        }
        fn visit_map<A: serde::de::MapAccess<'v>>(self, mut m: A) -> Result<u64, A::Error> {
            while m
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(0)
        }
        fn visit_seq<A: serde::de::SeqAccess<'v>>(self, mut q: A) -> Result<u64, A::Error> {
            while q.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(0)
        }
    }
    d.deserialize_any(Visitor)
}

/// The `args` of a node event.
#[derive(Debug, Deserialize, Default)]
pub struct NodeArgs<'a> {
    #[serde(default, borrow)]
    pub op_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub provider: Option<Cow<'a, str>>,
    /// `[{"float": [1, 512]}, ...]`, left undecoded until needed.
    #[serde(default, borrow)]
    pub input_type_shape: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub output_type_shape: Option<&'a RawValue>,
}

impl TraceEvent<'_> {
    /// The node name when this is a kernel-time event (`<node>_kernel_time`).
    pub fn kernel_node(&self) -> Option<&str> {
        if self.cat == "Node" {
            self.name.strip_suffix("_kernel_time")
        } else {
            None
        }
    }

    /// True for the event that wraps one whole inference.
    pub fn is_model_run(&self) -> bool {
        self.cat == "Session" && self.name == "model_run"
    }
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TraceError(String);

/// Reads every event of a trace from `reader`, calling `on_event` for each. Returns the
/// number of events. A truncated or corrupt trace is an error naming the byte offset.
pub fn for_each_event<R: Read>(
    reader: R,
    on_event: impl FnMut(&TraceEvent<'_>),
) -> Result<u64, TraceError> {
    for_each::<Lean, R>(reader, on_event)
}

/// [`for_each_event`] with each event's phase and thread ([`ThreadedEvent`]).
pub fn for_each_threaded<R: Read>(
    reader: R,
    on_event: impl FnMut(&ThreadedEvent<'_>),
) -> Result<u64, TraceError> {
    for_each::<Threaded, R>(reader, on_event)
}

/// Reads every event of a trace from `reader` as `S` decodes it.
pub fn for_each<S: EventShape, R: Read>(
    mut reader: R,
    mut on_event: impl FnMut(&S::Event<'_>),
) -> Result<u64, TraceError> {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut pos = 0usize; // next unread byte in `buf`
    let mut dropped = 0u64; // bytes discarded from the front of `buf`, for error offsets
    let mut eof = false;
    let mut count = 0u64;
    let corrupt = |at: u64, what: &str| {
        TraceError(format!(
            "the profile trace is corrupt or truncated at byte {at}: {what}"
        ))
    };

    // Makes at least one more byte available after `pos`; false at end of input.
    let mut more = |buf: &mut Vec<u8>,
                    pos: &mut usize,
                    dropped: &mut u64,
                    eof: &mut bool|
     -> Result<bool, TraceError> {
        if *eof {
            return Ok(false);
        }
        if *pos > 0 {
            buf.drain(..*pos);
            *dropped += *pos as u64;
            *pos = 0;
        }
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let n = loop {
            match reader.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TraceError(format!("cannot read the profile trace: {e}"))),
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            *eof = true;
        }
        Ok(n > 0)
    };

    // The opening bracket.
    loop {
        while pos < buf.len() && buf[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos < buf.len() {
            break;
        }
        if !more(&mut buf, &mut pos, &mut dropped, &mut eof)? {
            return Err(TraceError("the profile trace is empty".into()));
        }
    }
    if buf[pos] != b'[' {
        return Err(TraceError(
            "not an ONNX Runtime profile: expected a JSON array of events".into(),
        ));
    }
    pos += 1;

    loop {
        // Separators between events, or the closing bracket.
        while pos < buf.len() && (buf[pos].is_ascii_whitespace() || buf[pos] == b',') {
            pos += 1;
        }
        if pos == buf.len() {
            if !more(&mut buf, &mut pos, &mut dropped, &mut eof)? {
                return Err(corrupt(dropped + pos as u64, "the array is never closed"));
            }
            continue;
        }
        match buf[pos] {
            b']' => {
                pos += 1;
                break;
            }
            b'{' => {}
            _ => return Err(corrupt(dropped + pos as u64, "expected an event object")),
        }
        // Decode one event straight from the buffer; serde reports where it ended. An event
        // cut off by the end of the buffer is decoded again after a refill.
        loop {
            // The decoded event borrows the buffer: it is handed on and gone before a refill.
            let decoded = {
                let mut stream =
                    serde_json::Deserializer::from_slice(&buf[pos..]).into_iter::<S::Event<'_>>();
                match stream.next().expect("the buffer holds a '{' at `pos`") {
                    Ok(event) => {
                        on_event(&event);
                        Ok(stream.byte_offset())
                    }
                    Err(e) => Err(e),
                }
            };
            match decoded {
                Ok(used) => {
                    count += 1;
                    pos += used;
                    break;
                }
                Err(e) if e.is_eof() => {
                    if !more(&mut buf, &mut pos, &mut dropped, &mut eof)? {
                        return Err(corrupt(dropped + pos as u64, "the last event is cut off"));
                    }
                }
                Err(e) => return Err(corrupt(dropped + pos as u64, &e.to_string())),
            }
        }
    }
    // Only whitespace may follow.
    loop {
        while pos < buf.len() && buf[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos < buf.len() {
            return Err(TraceError(format!(
                "the profile trace has trailing data at byte {}",
                dropped + pos as u64
            )));
        }
        if !more(&mut buf, &mut pos, &mut dropped, &mut eof)? {
            break;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"[
        {"cat":"Session","pid":1,"tid":1,"dur":120,"ts":5,"ph":"X","name":"model_run","args":{}},
        {"cat":"Node","pid":1,"tid":1,"dur":40,"ts":10,"ph":"X","name":"/encoder/layer.0/fc/MatMul_kernel_time",
         "args":{"op_name":"MatMul","provider":"CPUExecutionProvider","input_type_shape":[{"float":[1,512]}],"output_type_shape":[{"float":[1,768]}],"thread_scheduling_stats":{"main_thread":{"thread_pool_name":"x"}}}},
        {"cat":"Node","pid":1,"tid":"worker","dur":1,"ts":9,"ph":"X","name":"/enc\"oder}/x_fence_before","args":{"op_name":"MatMul"}}
    ]"#;

    /// (cat, name, dur, provider) of each event.
    type Row = (String, String, f64, Option<String>);

    fn collect(input: &[u8]) -> Result<Vec<Row>, TraceError> {
        let mut out = Vec::new();
        for_each_event(input, |e| {
            out.push((
                e.cat.to_string(),
                e.name.to_string(),
                e.dur,
                e.args
                    .as_ref()
                    .and_then(|a| a.provider.as_ref().map(|p| p.to_string())),
            ))
        })
        .map(|_| out)
    }

    #[test]
    fn streams_events_and_extracts_node_fields() {
        let evs = collect(TRACE.as_bytes()).unwrap();
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].1, "model_run");
        assert_eq!(evs[1].1, "/encoder/layer.0/fc/MatMul_kernel_time");
        assert_eq!(evs[1].3.as_deref(), Some("CPUExecutionProvider"));
        // Braces and quotes inside strings are just text.
        assert_eq!(evs[2].1, "/enc\"oder}/x_fence_before");
    }

    #[test]
    fn threads_are_numbers_or_strings() {
        let mut lanes = Vec::new();
        for_each_threaded(TRACE.as_bytes(), |e| {
            lanes.push((e.ph.to_string(), e.pid, e.tid))
        })
        .unwrap();
        assert_eq!(lanes[0], ("X".to_string(), 1, 1));
        // A string thread id is a lane of its own, the same for every event that names it.
        let mut again = 0;
        for_each_threaded(TRACE.as_bytes(), |e| {
            if e.name.ends_with("fence_before") {
                again = e.tid
            }
        })
        .unwrap();
        assert_eq!(lanes[2].2, again);
        assert_ne!(lanes[2].2, 1);
        // Ids of other kinds are lane 0, not an error.
        let odd = br#"[{"name":"a","tid":null,"pid":{"x":1}},{"name":"b","tid":[1,2],"pid":true}]"#;
        let mut ids = Vec::new();
        for_each_threaded(&odd[..], |e| ids.push((e.pid, e.tid))).unwrap();
        assert_eq!(ids, [(0, 0), (1, 0)]);
    }

    #[test]
    fn events_larger_than_a_chunk_are_read_whole() {
        let big = "x".repeat(3 * CHUNK);
        let trace = format!(
            r#"[{{"cat":"Node","name":"{big}_kernel_time","dur":3}}, {{"cat":"Session","name":"model_run"}}]"#
        );
        let evs = collect(trace.as_bytes()).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].1.len(), 3 * CHUNK + "_kernel_time".len());
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let cut = &TRACE[..TRACE.len() / 2];
        assert!(
            collect(cut.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(
            collect(&TRACE.as_bytes()[..TRACE.len() - 6]).is_err(),
            "a missing ] is an error"
        );
        assert!(collect(b"not json").is_err());
        assert!(collect(b"[1, 2]").is_err());
        assert!(collect(b"").is_err());
        assert!(
            collect(b"[{\"cat\": 5}]").is_err(),
            "a field of the wrong type is an error"
        );
        assert!(collect(format!("{TRACE} junk").as_bytes()).is_err());
        assert_eq!(collect(b" [ ] ").unwrap().len(), 0);
    }
}
