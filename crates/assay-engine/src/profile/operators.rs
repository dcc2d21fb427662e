//! The `assay.operators/1` document: a profile's per-node and per-op-type aggregates with the
//! figures needed to read them. One typed shape for `operators.json`, the run store, `assay
//! report` and the console, so nothing picks it apart field by field.

use serde::{Deserialize, Serialize};

use super::{NodeStats, OpTypeStats, ProfileReport, ProfilingOverhead};

/// The schema name written into every operators document.
pub const OPERATORS_SCHEMA: &str = "assay.operators/1";

/// Where one inference's time went, operator by operator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct Operators {
    pub schema: String,
    /// `optimized` or `unoptimized` (node names then refer to the original graph).
    pub mode: String,
    /// Profiled inferences the aggregates are over.
    pub inferences: u64,
    /// Sum of all kernel times per inference, in milliseconds.
    pub kernel_ms_per_inference: f64,
    pub overhead: ProfilingOverhead,
    /// Per node, most expensive first.
    pub nodes: Vec<NodeStats>,
    /// Per operator type, most expensive first.
    pub op_types: Vec<OpTypeStats>,
}

impl From<&ProfileReport> for Operators {
    fn from(r: &ProfileReport) -> Operators {
        Operators {
            schema: OPERATORS_SCHEMA.into(),
            mode: r.mode.clone(),
            inferences: r.inferences,
            kernel_ms_per_inference: r.kernel_ms_per_inference,
            overhead: r.overhead,
            nodes: r.nodes.clone(),
            op_types: r.op_types.clone(),
        }
    }
}
