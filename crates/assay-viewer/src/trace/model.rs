//! A trace in memory, compactly: every span as 24 bytes (start, duration, interned name and
//! kind), laid in rows by thread and nesting depth, so that the spans a view shows are found
//! by binary search and a million-event trace takes a few tens of MB, not the file's size.
//!
//! The file is streamed through the engine's trace reader (one chunk in memory at a time);
//! nothing of an event is kept but what the views draw.

use std::{
    collections::HashMap,
    io::Read,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use assay_engine::profile::{flame::stack_of, trace::for_each_threaded};

use super::flame::Flame;

/// An index into [`Trace::names`].
pub type NameId = u32;

/// One span, as the views need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Microseconds since the trace's first span.
    pub start: f64,
    /// Microseconds.
    pub dur: f32,
    pub name: NameId,
    /// Index into [`Trace::kinds`]: category, operator and provider.
    pub kind: u32,
}

impl Span {
    pub fn end(&self) -> f64 {
        self.start + self.dur as f64
    }
}

/// What kind of span: its category, and for a node its operator and provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kind {
    pub cat: String,
    pub op: String,
    pub provider: String,
}

/// One thread's spans: `rows[d]` holds the spans nested `d` deep, in start order. Spans of
/// one row never overlap, so their ends are in order too.
#[derive(Debug, Default)]
pub struct Lane {
    pub pid: u64,
    pub tid: u64,
    pub label: String,
    pub rows: Vec<Vec<Span>>,
}

/// How often a name occurs, and its time in all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NameStats {
    pub count: u64,
    pub total_us: f64,
}

/// An opened trace.
#[derive(Debug)]
pub struct Trace {
    pub names: Vec<String>,
    pub name_stats: Vec<NameStats>,
    pub kinds: Vec<Kind>,
    pub lanes: Vec<Lane>,
    /// Microseconds from the first span's start to the last span's end.
    pub span_us: f64,
    /// Events in the file, and spans kept (complete spans and begin/end pairs).
    pub events: u64,
    pub spans: u64,
    /// `model_run` events: inferences.
    pub inferences: u64,
    /// The kernels' time by node scope.
    pub flame: Flame,
}

/// Why a trace cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum TraceOpenError {
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a readable trace: {reason}")]
    NotATrace { path: String, reason: String },
    #[error(
        "{path} holds no spans: a trace needs complete (\"ph\": \"X\") or begin/end events with a name"
    )]
    Empty { path: String },
}

/// Interns strings: each distinct name is stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, NameId>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> NameId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as NameId;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }
}

/// Counts the bytes read, for a progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Trace {
    /// Reads the trace at `path`. `progress` counts the bytes read so far.
    pub fn open(path: &Path, progress: Arc<AtomicU64>) -> Result<Trace, TraceOpenError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| TraceOpenError::Io {
            path: shown.clone(),
            source,
        })?;
        Trace::read(
            Counting {
                inner: file,
                read: progress,
            },
            &shown,
        )
    }

    /// Reads a trace from `reader`; `shown` names it in errors.
    pub fn read(reader: impl Read, shown: &str) -> Result<Trace, TraceOpenError> {
        let mut names = Interner::default();
        let mut kinds: Vec<Kind> = Vec::new();
        // Kinds by the interned ids of their three strings: a lookup allocates nothing.
        let mut kind_ids: HashMap<(NameId, NameId, NameId), u32> = HashMap::new();
        // Spans per (pid, tid) in file order, with their absolute start.
        let mut lanes: HashMap<(u64, u64), Vec<Span>> = HashMap::new();
        // Begin events waiting for their end, per lane: (start, name, kind).
        type Begun = (f64, NameId, u32);
        let mut open: HashMap<(u64, u64), Vec<Begun>> = HashMap::new();
        let mut inferences = 0u64;
        let mut kind_of = |names: &mut Interner, cat: &str, op: &str, provider: &str| -> u32 {
            let key = (names.id(cat), names.id(op), names.id(provider));
            *kind_ids.entry(key).or_insert_with(|| {
                kinds.push(Kind {
                    cat: cat.to_string(),
                    op: op.to_string(),
                    provider: provider.to_string(),
                });
                (kinds.len() - 1) as u32
            })
        };
        let events = for_each_threaded(reader, |e| {
            let lane = (e.pid, e.tid);
            let args = e.args.as_ref();
            let op = args.and_then(|a| a.op_name.as_deref()).unwrap_or("");
            let provider = args.and_then(|a| a.provider.as_deref()).unwrap_or("");
            match e.ph.as_ref() {
                // ONNX Runtime writes only complete spans; other tools' traces may leave the
                // phase out for them.
                "X" | "" if !e.name.is_empty() && e.ts.is_finite() => {
                    inferences += e.is_model_run() as u64;
                    let span = Span {
                        start: e.ts,
                        dur: duration(e.dur),
                        name: names.id(&e.name),
                        kind: kind_of(&mut names, &e.cat, op, provider),
                    };
                    lanes.entry(lane).or_default().push(span);
                }
                "B" if e.ts.is_finite() => {
                    let name = names.id(&e.name);
                    let begin = (e.ts, name, kind_of(&mut names, &e.cat, op, provider));
                    open.entry(lane).or_default().push(begin);
                }
                "E" if e.ts.is_finite() => {
                    if let Some((ts, name, kind)) = open.get_mut(&lane).and_then(|s| s.pop()) {
                        let span = Span {
                            start: ts,
                            dur: duration(e.ts - ts),
                            name,
                            kind,
                        };
                        lanes.entry(lane).or_default().push(span);
                    }
                }
                // Instants, counters and metadata have no extent to draw.
                _ => {}
            }
        })
        .map_err(|e| TraceOpenError::NotATrace {
            path: shown.to_string(),
            reason: e.to_string(),
        })?;

        let spans: u64 = lanes.values().map(|v| v.len() as u64).sum();
        if spans == 0 {
            return Err(TraceOpenError::Empty {
                path: shown.to_string(),
            });
        }
        let t0 = lanes
            .values()
            .flatten()
            .map(|s| s.start)
            .fold(f64::INFINITY, f64::min);
        let t1 = lanes
            .values()
            .flatten()
            .map(|s| s.end())
            .fold(f64::NEG_INFINITY, f64::max);

        // Name statistics and the flame graph of the kernels.
        let mut name_stats = vec![NameStats::default(); names.names.len()];
        let mut flame = Flame::default();
        let mut leaf_of: HashMap<NameId, Option<u32>> = HashMap::new();
        for s in lanes.values().flatten() {
            let st = &mut name_stats[s.name as usize];
            st.count += 1;
            st.total_us += s.dur as f64;
            let leaf = *leaf_of.entry(s.name).or_insert_with(|| {
                let k = &kinds[s.kind as usize];
                let name = &names.names[s.name as usize];
                (k.cat == "Node")
                    .then(|| name.strip_suffix("_kernel_time"))
                    .flatten()
                    .map(|node| flame.path(&stack_of(node, &k.op)))
            });
            if let Some(leaf) = leaf {
                flame.add(leaf, s.dur as f64);
            }
        }
        flame.finish();

        // Lanes in (pid, tid) order; each lane's spans nested into rows.
        let mut keys: Vec<(u64, u64)> = lanes.keys().copied().collect();
        keys.sort_unstable();
        let pids = keys
            .iter()
            .map(|k| k.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let lanes = keys
            .into_iter()
            .map(|(pid, tid)| {
                let mut spans = lanes.remove(&(pid, tid)).unwrap_or_default();
                for s in &mut spans {
                    s.start -= t0;
                }
                Lane {
                    pid,
                    tid,
                    label: if pids > 1 {
                        format!("process {pid}, thread {tid}")
                    } else {
                        format!("thread {tid}")
                    },
                    rows: nest(spans),
                }
            })
            .collect();
        Ok(Trace {
            names: names.names,
            name_stats,
            kinds,
            lanes,
            span_us: (t1 - t0).max(0.0),
            events,
            spans,
            inferences,
            flame,
        })
    }

    pub fn name(&self, s: &Span) -> &str {
        &self.names[s.name as usize]
    }

    pub fn kind(&self, s: &Span) -> &Kind {
        &self.kinds[s.kind as usize]
    }

    /// Rows of all lanes together.
    pub fn rows(&self) -> usize {
        self.lanes.iter().map(|l| l.rows.len()).sum()
    }

    /// The heap this trace holds, in bytes (spans, names and the flame graph): what the
    /// memory target is about, apart from the process's fixed cost.
    pub fn heap_bytes(&self) -> usize {
        let spans: usize = self
            .lanes
            .iter()
            .flat_map(|l| &l.rows)
            .map(|r| r.capacity() * std::mem::size_of::<Span>())
            .sum();
        let names: usize = self.names.iter().map(|n| n.capacity() + 24).sum();
        spans + names + self.name_stats.capacity() * 16 + self.flame.heap_bytes()
    }
}

/// A duration as a span keeps it: negative and non-finite ones (a corrupt or hand-written
/// trace) are zero, and none is longer than f32 holds, so the view's sums stay finite.
fn duration(us: f64) -> f32 {
    if us.is_finite() {
        us.clamp(0.0, 1e30) as f32
    } else {
        0.0
    }
}

/// Lays one thread's spans into rows by nesting: a span inside another goes one row below
/// it. Spans sort by start, the longer first at a tie (the parent), and a stack of the open
/// spans gives each its depth; a row then never holds two overlapping spans.
fn nest(mut spans: Vec<Span>) -> Vec<Vec<Span>> {
    spans.sort_unstable_by(|a, b| a.start.total_cmp(&b.start).then(b.dur.total_cmp(&a.dur)));
    let mut rows: Vec<Vec<Span>> = Vec::new();
    let mut stack: Vec<f64> = Vec::new();
    for s in spans {
        while stack.last().is_some_and(|&end| end <= s.start) {
            stack.pop();
        }
        // A span that outlasts the one it starts in still nests under it (as Perfetto draws
        // it), one row lower; only the top of the stack is compared, so a row never holds
        // two overlapping spans.
        let depth = stack.len();
        if rows.len() <= depth {
            rows.push(Vec::new());
        }
        rows[depth].push(s);
        stack.push(s.end());
    }
    for r in &mut rows {
        r.shrink_to_fit();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Trace, TraceOpenError> {
        Trace::read(json.as_bytes(), "t.json")
    }

    #[test]
    fn spans_nest_into_rows_per_thread() {
        let t = read(
            r#"[
            {"cat":"Node","pid":1,"tid":7,"ts":12,"dur":3,"ph":"X","name":"/enc/a/MatMul_kernel_time","args":{"op_name":"MatMul","provider":"CPUExecutionProvider"}},
            {"cat":"Node","pid":1,"tid":7,"ts":15,"dur":0,"ph":"X","name":"/enc/a/MatMul_fence_after","args":{"op_name":"MatMul"}},
            {"cat":"Node","pid":1,"tid":7,"ts":16,"dur":4,"ph":"X","name":"/enc/b/Relu_kernel_time","args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
            {"cat":"Session","pid":1,"tid":7,"ts":10,"dur":20,"ph":"X","name":"model_run"},
            {"cat":"Session","pid":1,"tid":3,"ts":100,"dur":5,"ph":"X","name":"model_run"},
            {"name":"frame","ph":"B","ts":200,"pid":1,"tid":3},
            {"ph":"E","ts":260,"pid":1,"tid":3},
            {"name":"instant","ph":"i","ts":210,"pid":1,"tid":3}
        ]"#,
        )
        .unwrap();
        assert_eq!(t.events, 8);
        assert_eq!(t.spans, 6);
        assert_eq!(t.inferences, 2);
        assert_eq!(t.span_us, 250.0);
        let labels: Vec<_> = t.lanes.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["thread 3", "thread 7"]);
        let main = &t.lanes[1];
        assert_eq!(main.rows.len(), 2);
        assert_eq!(t.name(&main.rows[0][0]), "model_run");
        assert_eq!(main.rows[0][0].start, 0.0);
        let kernels: Vec<_> = main.rows[1].iter().map(|s| (t.name(s), s.start)).collect();
        assert_eq!(
            kernels,
            [
                ("/enc/a/MatMul_kernel_time", 2.0),
                ("/enc/a/MatMul_fence_after", 5.0),
                ("/enc/b/Relu_kernel_time", 6.0)
            ]
        );
        assert_eq!(t.kind(&main.rows[1][0]).op, "MatMul");
        // The begin/end pair is one span of 60 µs.
        let frame = &t.lanes[0].rows[0][1];
        assert_eq!((t.name(frame), frame.dur), ("frame", 60.0));
        // The flame graph holds the kernels by scope: enc > a > MatMul, enc > b > Relu.
        assert_eq!(t.flame.total_us(), 7.0);
    }

    #[test]
    fn rows_never_hold_overlapping_spans() {
        // Spans that end after their parent (sloppy nesting) still get rows of their own.
        let t = read(
            r#"[{"name":"a","ts":0,"dur":10},{"name":"b","ts":5,"dur":10},{"name":"c","ts":12,"dur":1},{"name":"d","ts":20,"dur":1}]"#,
        )
        .unwrap();
        for row in &t.lanes[0].rows {
            for w in row.windows(2) {
                assert!(w[0].end() <= w[1].start, "{w:?}");
            }
        }
        let depth_of = |n: &str| {
            t.lanes[0]
                .rows
                .iter()
                .position(|r| r.iter().any(|s| t.name(s) == n))
        };
        assert_eq!(
            [depth_of("a"), depth_of("b"), depth_of("c"), depth_of("d")],
            [Some(0), Some(1), Some(2), Some(0)]
        );
    }

    #[test]
    fn what_is_not_a_trace_says_why() {
        let e = read(r#"{"model": "not a trace"}"#).unwrap_err().to_string();
        assert!(e.contains("t.json is not a readable trace"), "{e}");
        let e = read("[1, 2").unwrap_err().to_string();
        assert!(e.contains("not a readable trace"), "{e}");
        let e = read(r#"[{"ph":"M","name":"thread_name"}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no spans"), "{e}");
    }
}
