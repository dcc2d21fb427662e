//! Streaming reader for ONNX Runtime's profile: a JSON array of Chrome-trace events.
//!
//! Events are handed to a callback one at a time as they are parsed from the reader, so a
//! trace of hundreds of MB is read in memory that does not grow with the number of events.
//! Only the fields Assay uses are materialized; everything else is skipped by serde.

use std::{fmt, io::Read};

use serde::{
    Deserialize, Deserializer,
    de::{DeserializeSeed, SeqAccess, Visitor},
};

/// One trace event (`cat`, `name`, `dur`, `ts` and the node arguments).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct TraceEvent {
    #[serde(default)]
    pub cat: String,
    #[serde(default)]
    pub name: String,
    /// Microseconds.
    #[serde(default)]
    pub dur: f64,
    /// Microseconds since the profile started.
    #[serde(default)]
    pub ts: f64,
    #[serde(default)]
    pub args: Option<NodeArgs>,
}

/// The `args` of a node event.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct NodeArgs {
    #[serde(default)]
    pub op_name: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    /// `[{"float": [1, 512]}, ...]`
    #[serde(default)]
    pub input_type_shape: Option<serde_json::Value>,
    #[serde(default)]
    pub output_type_shape: Option<serde_json::Value>,
}

impl TraceEvent {
    /// The node name when this is a kernel-time event (`<node>_kernel_time`).
    pub fn kernel_node(&self) -> Option<&str> {
        (self.cat == "Node")
            .then(|| self.name.strip_suffix("_kernel_time"))
            .flatten()
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
/// number of events. A truncated or corrupt trace is an error naming the line and column.
pub fn for_each_event<R: Read>(
    reader: R,
    on_event: impl FnMut(TraceEvent),
) -> Result<u64, TraceError> {
    struct Seed<F>(F);
    struct Counted<F>(F, u64);

    impl<'de, F: FnMut(TraceEvent)> Visitor<'de> for Counted<F> {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of trace events")
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<u64, A::Error> {
            while let Some(ev) = seq.next_element::<TraceEvent>()? {
                (self.0)(ev);
                self.1 += 1;
            }
            Ok(self.1)
        }

        // The object form `{"traceEvents": [...]}` is accepted too.
        fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while let Some(key) = map.next_key::<String>()? {
                if key == "traceEvents" {
                    n = map.next_value_seed(Seed(&mut self.0))?;
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(n)
        }
    }

    impl<'de, F: FnMut(TraceEvent)> DeserializeSeed<'de> for Seed<F> {
        type Value = u64;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
            d.deserialize_seq(Counted(self.0, 0))
        }
    }

    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    let n = de
        .deserialize_any(Counted(on_event, 0))
        .map_err(|e| TraceError(format!("the profile trace is corrupt or truncated: {e}")))?;
    de.end()
        .map_err(|e| TraceError(format!("the profile trace has trailing data: {e}")))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"[
        {"cat":"Session","pid":1,"tid":1,"dur":120,"ts":5,"ph":"X","name":"model_run","args":{}},
        {"cat":"Node","pid":1,"tid":1,"dur":40,"ts":10,"ph":"X","name":"/encoder/layer.0/fc/MatMul_kernel_time",
         "args":{"op_name":"MatMul","provider":"CPUExecutionProvider","input_type_shape":[{"float":[1,512]}],"output_type_shape":[{"float":[1,768]}],"thread_scheduling_stats":{"main_thread":{"thread_pool_name":"x"}}}},
        {"cat":"Node","pid":1,"tid":1,"dur":1,"ts":9,"ph":"X","name":"/encoder/layer.0/fc/MatMul_fence_before","args":{"op_name":"MatMul"}}
    ]"#;

    #[test]
    fn streams_events_and_extracts_node_fields() {
        let mut evs = Vec::new();
        let n = for_each_event(TRACE.as_bytes(), |e| evs.push(e)).unwrap();
        assert_eq!(n, 3);
        assert!(evs[0].is_model_run());
        assert_eq!(evs[1].kernel_node(), Some("/encoder/layer.0/fc/MatMul"));
        assert_eq!(
            evs[1].args.as_ref().unwrap().provider.as_deref(),
            Some("CPUExecutionProvider")
        );
        assert_eq!(evs[2].kernel_node(), None);
    }

    #[test]
    fn object_form_is_accepted() {
        let wrapped = format!("{{\"displayTimeUnit\":\"ms\",\"traceEvents\":{TRACE}}}");
        assert_eq!(for_each_event(wrapped.as_bytes(), |_| {}).unwrap(), 3);
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let cut = &TRACE[..TRACE.len() / 2];
        assert!(
            for_each_event(cut.as_bytes(), |_| {})
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(for_each_event(&b"not json"[..], |_| {}).is_err());
        assert!(for_each_event(&b"[1, 2]"[..], |_| {}).is_err());
    }
}
