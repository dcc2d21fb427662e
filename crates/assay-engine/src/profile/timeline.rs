//! One inference laid out in time: the kernels of the last profiled `model_run`, with their
//! start offsets, so the console can draw where the time of a single inference goes
//! (parallel branches and gaps included), which per-operator totals cannot show.

use std::io::Read;

use serde::Serialize;

use super::trace::{TraceError, for_each_event};

/// A kernel's span within its inference.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export, rename = "TimelineSpan")]
pub struct Span {
    pub node: String,
    pub op_type: String,
    pub provider: String,
    /// Microseconds since the inference began.
    pub start_us: f64,
    pub dur_us: f64,
}

/// The inference a timeline shows, and its kernels in start order.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct Timeline {
    pub inference_us: f64,
    pub spans: Vec<Span>,
}

/// Reads a trace and returns the last inference's kernels. Memory is one inference's worth
/// of spans: ONNX Runtime writes an inference's `model_run` event after its kernel events.
pub fn last_inference(reader: impl Read) -> Result<Option<Timeline>, TraceError> {
    let mut pending: Vec<(f64, Span)> = Vec::new();
    let mut last = None;
    for_each_event(reader, |e| {
        if let Some(node) = e.kernel_node() {
            let args = e.args.as_ref();
            pending.push((
                e.ts,
                Span {
                    node: node.to_string(),
                    op_type: args
                        .and_then(|a| a.op_name.as_deref())
                        .unwrap_or("")
                        .to_string(),
                    provider: args
                        .and_then(|a| a.provider.as_deref())
                        .unwrap_or("")
                        .to_string(),
                    start_us: 0.0,
                    dur_us: e.dur,
                },
            ));
        } else if e.is_model_run() {
            let (start, end) = (e.ts, e.ts + e.dur);
            let mut spans: Vec<Span> = pending
                .drain(..)
                .filter(|(ts, _)| *ts >= start && *ts <= end)
                .map(|(ts, s)| Span {
                    start_us: ts - start,
                    ..s
                })
                .collect();
            spans.sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
            last = Some(Timeline {
                inference_us: e.dur,
                spans,
            });
        }
    })?;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_inference_relative_to_its_start() {
        let trace = r#"[
          {"cat":"Node","name":"a_kernel_time","ts":10,"dur":5,"args":{"op_name":"Gemm","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","ts":9,"dur":8},
          {"cat":"Node","name":"b_kernel_time","ts":105,"dur":2,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"a_kernel_time","ts":101,"dur":3,"args":{"op_name":"Gemm","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","ts":100,"dur":9}
        ]"#;
        let t = last_inference(trace.as_bytes()).unwrap().unwrap();
        assert_eq!(t.inference_us, 9.0);
        let got: Vec<_> = t
            .spans
            .iter()
            .map(|s| (s.node.as_str(), s.op_type.as_str(), s.start_us, s.dur_us))
            .collect();
        assert_eq!(got, [("a", "Gemm", 1.0, 3.0), ("b", "Relu", 5.0, 2.0)]);
    }

    #[test]
    fn a_trace_without_inferences_has_no_timeline() {
        assert_eq!(last_inference(&b"[]"[..]).unwrap(), None);
    }
}
