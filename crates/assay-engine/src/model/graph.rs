//! A model's graph as a viewer draws it: every node in the file's (topological) order with
//! its scope path, the tensors between nodes with their types and shapes, and statistics of
//! a weight on demand.
//!
//! The model is memory-mapped and decoded once ([`super::file`]); initializers stay in the
//! map (or in their external-data files) until a weight's statistics are asked for, so
//! opening a model with gigabytes of weights costs its graph, not its weights.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::{
    file::{MappedModel, decode_model},
    proto,
};
use crate::{dtype::ElementType, error::Result, tensor::HostTensor};

/// The scope path of a node name: `/encoder/layer.0/attn/MatMul` is in
/// `["encoder", "layer.0", "attn"]`. Exporters name nodes by their module path, and the
/// flame graph's frames are the same path. A name without a leading `/` has no scope.
pub fn scope_of(name: &str) -> Vec<&str> {
    // ONNX Runtime names fused nodes "fused <original name>": keep the original scope.
    let name = name.strip_prefix("fused ").unwrap_or(name);
    if !name.starts_with('/') {
        return Vec::new();
    }
    let mut parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    parts
}

/// One operator node.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    /// The node's name, made unique (an unnamed node is `OpType_INDEX`).
    pub name: String,
    pub op_type: String,
    /// The operator set's domain (`""` for the default ONNX domain).
    pub domain: String,
    pub scope: Vec<String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<(String, String)>,
}

/// A tensor's declared type and shape (unknown where the model does not say).
#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    pub element_type: String,
    /// Each dimension: a size, a symbol, or `?`; `None` for an unknown rank.
    pub shape: Option<Vec<String>>,
    /// A weight stored in the model.
    pub initializer: bool,
}

/// Statistics of one weight.
#[derive(Debug, Clone, Serialize)]
pub struct WeightStats {
    pub element_type: String,
    pub shape: Vec<i64>,
    pub elements: u64,
    /// Over the finite values, for numeric types.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub zeros: u64,
    pub nonfinite: u64,
}

/// A decoded model graph.
pub struct ModelGraph {
    pub path: PathBuf,
    pub name: String,
    pub nodes: Vec<GraphNode>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub tensors: HashMap<String, TensorInfo>,
    model: MappedModel,
    initializers: HashMap<String, usize>,
}

impl ModelGraph {
    /// Opens a model file (external data included); the same checks as every other command.
    pub fn open(path: &Path) -> Result<ModelGraph> {
        let model = decode_model(path)?;
        let g = model
            .proto
            .graph
            .as_ref()
            .expect("decode_model checks the graph");
        let mut tensors = HashMap::new();
        for v in g.value_info.iter().chain(&g.input).chain(&g.output) {
            tensors.insert(v.name().to_string(), value_info(v));
        }
        let mut initializers = HashMap::new();
        for (i, t) in g.initializer.iter().enumerate() {
            initializers.insert(t.name().to_string(), i);
            tensors.insert(
                t.name().to_string(),
                TensorInfo {
                    element_type: ElementType::from_onnx(t.data_type()).to_string(),
                    shape: Some(t.dims.iter().map(|d| d.to_string()).collect()),
                    initializer: true,
                },
            );
        }
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        let nodes = g
            .node
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let base = if n.name().is_empty() {
                    format!("{}_{i}", n.op_type())
                } else {
                    n.name().to_string()
                };
                // A repeated name gets the first free `#k` suffix (a file may also hold
                // a node literally named `A#2`).
                let mut name = base.clone();
                let mut k = 1;
                while taken.contains(&name) {
                    k += 1;
                    name = format!("{base}#{k}");
                }
                taken.insert(name.clone());
                GraphNode {
                    scope: scope_of(&name).into_iter().map(String::from).collect(),
                    name,
                    op_type: n.op_type().to_string(),
                    domain: n.domain().to_string(),
                    inputs: n.input.clone(),
                    outputs: n.output.clone(),
                    attributes: n.attribute.iter().map(attribute).collect(),
                }
            })
            .collect();
        Ok(ModelGraph {
            path: path.to_path_buf(),
            name: g.name().to_string(),
            inputs: g
                .input
                .iter()
                .map(|v| v.name().to_string())
                .filter(|n| !initializers.contains_key(n))
                .collect(),
            outputs: g.output.iter().map(|v| v.name().to_string()).collect(),
            nodes,
            tensors,
            model,
            initializers,
        })
    }

    /// The statistics of a weight, read from the map or its external-data file; `None` when
    /// `name` is not a weight or its data cannot be read.
    pub fn weight_stats(&self, name: &str) -> Option<WeightStats> {
        let g = self.model.proto.graph.as_ref()?;
        let t = &g.initializer[*self.initializers.get(name)?];
        let base = self.path.parent().unwrap_or(Path::new("."));
        let host = HostTensor::from_initializer(t, base)?;
        let values = host.to_f64();
        let mut s = WeightStats {
            element_type: host.ty.to_string(),
            shape: host.shape.clone(),
            elements: host.shape.iter().map(|&d| d.max(0) as u64).product(),
            min: None,
            max: None,
            mean: None,
            std: None,
            zeros: 0,
            nonfinite: 0,
        };
        if let Some(values) = values {
            let (mut n, mut sum, mut sq) = (0u64, 0.0f64, 0.0f64);
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for v in values {
                if !v.is_finite() {
                    s.nonfinite += 1;
                    continue;
                }
                if v == 0.0 {
                    s.zeros += 1;
                }
                n += 1;
                sum += v;
                sq += v * v;
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if n > 0 {
                let mean = sum / n as f64;
                s.min = Some(lo);
                s.max = Some(hi);
                s.mean = Some(mean);
                s.std = Some((sq / n as f64 - mean * mean).max(0.0).sqrt());
            }
        }
        Some(s)
    }

    /// For each tensor, the node that produces it.
    pub fn producers(&self) -> HashMap<&str, usize> {
        let mut p = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for o in n.outputs.iter().filter(|o| !o.is_empty()) {
                p.insert(o.as_str(), i);
            }
        }
        p
    }

    /// Node-to-node edges (producer, consumer), once per pair, in consumer order.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let producers = self.producers();
        let mut out = Vec::new();
        for (j, n) in self.nodes.iter().enumerate() {
            let mut from: Vec<usize> = n
                .inputs
                .iter()
                .filter_map(|i| producers.get(i.as_str()).copied())
                .filter(|&i| i != j)
                .collect();
            from.sort_unstable();
            from.dedup();
            out.extend(from.into_iter().map(|i| (i, j)));
        }
        out
    }
}

fn value_info(v: &proto::ValueInfoProto) -> TensorInfo {
    use proto::type_proto::Value;
    let tensor = v.r#type.as_ref().and_then(|t| match &t.value {
        Some(Value::TensorType(tt)) => Some(tt),
        _ => None,
    });
    TensorInfo {
        element_type: tensor
            .map(|t| ElementType::from_onnx(t.elem_type()).to_string())
            .unwrap_or_else(|| "?".into()),
        shape: tensor.and_then(|t| t.shape.as_ref()).map(|s| {
            s.dim
                .iter()
                .map(|d| {
                    use proto::tensor_shape_proto::dimension::Value as D;
                    match &d.value {
                        Some(D::DimValue(v)) => v.to_string(),
                        Some(D::DimParam(p)) if !p.is_empty() => p.clone(),
                        _ => "?".into(),
                    }
                })
                .collect()
        }),
        initializer: false,
    }
}

/// An attribute's value in a line: numbers and lists as written, a tensor by its shape, a
/// subgraph by its size.
fn attribute(a: &proto::AttributeProto) -> (String, String) {
    use proto::attribute_proto::AttributeType as T;
    let list = |v: Vec<String>| {
        if v.len() > 16 {
            format!("[{}, … {} values]", v[..16].join(", "), v.len())
        } else {
            format!("[{}]", v.join(", "))
        }
    };
    let value = match a.r#type() {
        T::Float => a.f().to_string(),
        T::Int => a.i().to_string(),
        T::String => format!("{:?}", String::from_utf8_lossy(a.s())),
        T::Floats => list(a.floats.iter().map(|f| f.to_string()).collect()),
        T::Ints => list(a.ints.iter().map(|i| i.to_string()).collect()),
        T::Strings => list(
            a.strings
                .iter()
                .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                .collect(),
        ),
        T::Tensor => {
            a.t.as_ref()
                .map(|t| {
                    format!(
                        "tensor {} {:?}",
                        ElementType::from_onnx(t.data_type()),
                        t.dims
                    )
                })
                .unwrap_or_default()
        }
        T::Graph => {
            a.g.as_ref()
                .map(|g| format!("subgraph of {} nodes", g.node.len()))
                .unwrap_or_default()
        }
        T::Graphs => format!("{} subgraphs", a.graphs.len()),
        other => format!("{other:?}"),
    };
    (a.name().to_string(), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_module_paths() {
        assert_eq!(
            scope_of("/encoder/layer.0/attn/MatMul"),
            ["encoder", "layer.0", "attn"]
        );
        assert_eq!(scope_of("fused /a/b/Conv"), ["a", "b"]);
        assert!(scope_of("/MatMul").is_empty());
        assert!(scope_of("gemm_3").is_empty());
    }
}
