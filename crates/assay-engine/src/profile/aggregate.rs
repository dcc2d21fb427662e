//! Per-node and per-op-type aggregates of a trace, in memory that depends on the number of
//! nodes, not the number of events: each node keeps counters and a log-spaced histogram of
//! its kernel times (2% wide buckets) from which its p50 is read.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::trace::TraceEvent;

/// Bucket growth factor of the per-node histograms: a p50 is within 1% of the true value.
const GROWTH: f64 = 1.02;

/// One graph node's kernel time across the profiled inferences.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct NodeStats {
    pub name: String,
    pub op_type: String,
    pub provider: String,
    pub calls: u64,
    pub total_ms: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    /// Share of all kernel time, in percent.
    pub share_pct: f64,
    /// Mean kernel time per inference, in microseconds (the flame graph's weight).
    pub per_inference_us: f64,
    pub input_shapes: String,
    pub output_shapes: String,
    /// The node's flame-graph stack (frames joined by `;`, see [`super::flame::stack_of`]),
    /// so a viewer can build the flame graph and find a frame's node. Empty in profiles
    /// recorded before it existed.
    #[serde(default)]
    pub stack: String,
}

/// All nodes of one op type together.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct OpTypeStats {
    pub op_type: String,
    pub nodes: u64,
    pub calls: u64,
    pub total_ms: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub share_pct: f64,
    pub per_inference_us: f64,
    /// Providers that ran nodes of this type.
    pub providers: Vec<String>,
}

/// Running totals of one op type: nodes, calls, total µs, histogram, providers.
#[derive(Default)]
struct TypeAcc {
    nodes: u64,
    calls: u64,
    total_us: f64,
    hist: BTreeMap<i32, u64>,
    providers: Vec<String>,
}

#[derive(Default)]
struct Acc {
    op_type: String,
    provider: String,
    calls: u64,
    total_us: f64,
    hist: BTreeMap<i32, u64>,
    inputs: String,
    outputs: String,
}

/// Folds trace events into aggregates.
#[derive(Default)]
pub struct Aggregator {
    nodes: HashMap<String, Acc>,
    /// Inferences seen (`model_run` events).
    pub inferences: u64,
    /// Sum of `model_run` durations, microseconds.
    pub run_total_us: f64,
    pub events: u64,
}

fn bucket(us: f64) -> i32 {
    (us.max(1e-3).ln() / GROWTH.ln()).floor() as i32
}

fn bucket_mid(b: i32) -> f64 {
    GROWTH.powf(b as f64 + 0.5)
}

/// `float[1,512] float[512,768]` from ORT's `[{"float":[1,512]}, ...]` (decoded once per node).
fn shapes(raw: Option<&serde_json::value::RawValue>) -> String {
    let Some(serde_json::Value::Array(items)) =
        raw.and_then(|r| serde_json::from_str(r.get()).ok())
    else {
        return String::new();
    };
    items
        .iter()
        .filter_map(|i| i.as_object())
        .flat_map(|o| o.iter().map(|(ty, dims)| format!("{ty}{dims}")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Aggregator {
    /// Adds one event.
    pub fn add(&mut self, e: &TraceEvent<'_>) {
        self.events += 1;
        if e.is_model_run() {
            self.inferences += 1;
            self.run_total_us += e.dur;
            return;
        }
        let Some(node) = e.kernel_node() else { return };
        let acc = match self.nodes.get_mut(node) {
            Some(a) => a,
            None => {
                let args = e.args.as_ref();
                self.nodes.entry(node.to_string()).or_insert(Acc {
                    op_type: args
                        .and_then(|a| a.op_name.as_deref())
                        .unwrap_or("?")
                        .to_string(),
                    provider: args
                        .and_then(|a| a.provider.as_deref())
                        .unwrap_or_default()
                        .to_string(),
                    inputs: shapes(args.and_then(|a| a.input_type_shape)),
                    outputs: shapes(args.and_then(|a| a.output_type_shape)),
                    ..Default::default()
                })
            }
        };
        acc.calls += 1;
        acc.total_us += e.dur;
        *acc.hist.entry(bucket(e.dur)).or_default() += 1;
    }

    /// Node and op-type tables, costliest first.
    pub fn finish(&self) -> (Vec<NodeStats>, Vec<OpTypeStats>) {
        let grand: f64 = self
            .nodes
            .values()
            .map(|a| a.total_us)
            .sum::<f64>()
            .max(1e-9);
        let runs = self.inferences.max(1) as f64;
        let p50 = |h: &BTreeMap<i32, u64>, n: u64| {
            let half = n.div_ceil(2);
            let mut seen = 0;
            for (b, c) in h {
                seen += c;
                if seen >= half {
                    return bucket_mid(*b);
                }
            }
            0.0
        };
        let mut nodes: Vec<NodeStats> = self
            .nodes
            .iter()
            .map(|(name, a)| NodeStats {
                name: name.clone(),
                op_type: a.op_type.clone(),
                provider: a.provider.clone(),
                calls: a.calls,
                total_ms: a.total_us / 1e3,
                mean_us: a.total_us / a.calls.max(1) as f64,
                p50_us: p50(&a.hist, a.calls),
                share_pct: a.total_us / grand * 100.0,
                per_inference_us: a.total_us / runs,
                input_shapes: a.inputs.clone(),
                output_shapes: a.outputs.clone(),
                stack: super::flame::stack_of(name, &a.op_type),
            })
            .collect();
        nodes.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms).then(a.name.cmp(&b.name)));

        let mut by_type: BTreeMap<&str, TypeAcc> = BTreeMap::new();
        for a in self.nodes.values() {
            let t = by_type.entry(&a.op_type).or_default();
            t.nodes += 1;
            t.calls += a.calls;
            t.total_us += a.total_us;
            for (b, c) in &a.hist {
                *t.hist.entry(*b).or_default() += c;
            }
            if !t.providers.contains(&a.provider) {
                t.providers.push(a.provider.clone());
            }
        }
        let mut types: Vec<OpTypeStats> = by_type
            .into_iter()
            .map(|(op, mut t)| {
                t.providers.sort();
                OpTypeStats {
                    op_type: op.to_string(),
                    nodes: t.nodes,
                    calls: t.calls,
                    total_ms: t.total_us / 1e3,
                    mean_us: t.total_us / t.calls.max(1) as f64,
                    p50_us: p50(&t.hist, t.calls),
                    share_pct: t.total_us / grand * 100.0,
                    per_inference_us: t.total_us / runs,
                    providers: t.providers,
                }
            })
            .collect();
        types.sort_by(|a, b| {
            b.total_ms
                .total_cmp(&a.total_ms)
                .then(a.op_type.cmp(&b.op_type))
        });
        (nodes, types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::trace::NodeArgs;

    fn node(name: &str, op: &'static str, dur: f64) -> TraceEvent<'static> {
        TraceEvent {
            cat: "Node".into(),
            name: format!("{name}_kernel_time").into(),
            dur,
            ts: 0.0,
            args: Some(NodeArgs {
                op_name: Some(op.into()),
                provider: Some("CPUExecutionProvider".into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn aggregates_per_node_and_type() {
        let mut a = Aggregator::default();
        for i in 0..100 {
            a.add(&TraceEvent {
                cat: "Session".into(),
                name: "model_run".into(),
                dur: 100.0,
                ..Default::default()
            });
            a.add(&node("/l0/MatMul", "MatMul", 60.0 + (i % 3) as f64));
            a.add(&node("/l1/MatMul", "MatMul", 20.0));
            a.add(&node("/l0/Relu", "Relu", 5.0));
        }
        let (nodes, types) = a.finish();
        assert_eq!(a.inferences, 100);
        assert_eq!(nodes[0].name, "/l0/MatMul");
        assert!(
            (nodes[0].p50_us - 61.0).abs() / 61.0 < 0.02,
            "{}",
            nodes[0].p50_us
        );
        assert!((nodes[0].per_inference_us - 61.0).abs() < 0.5);
        assert_eq!(types[0].op_type, "MatMul");
        assert_eq!(types[0].nodes, 2);
        let share: f64 = types.iter().map(|t| t.share_pct).sum();
        assert!((share - 100.0).abs() < 1e-6);
    }
}
