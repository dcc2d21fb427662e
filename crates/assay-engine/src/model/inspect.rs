//! `inspect`: what is in a model file, read from its protobuf without running it.
//!
//! Initializer bytes are never copied: the decode slices them out of the memory map, and
//! external data is only `stat`ed, so a model with gigabytes of weights inspects in the
//! time it takes to hash the `.onnx` file itself.

use std::{
    collections::BTreeMap,
    path::{Component, Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{file::decode_model, proto};
use crate::{digest::sha256_file, dtype::ElementType, error::Result};

/// Everything `assay inspect` reports. Serialized as the `assay.inspect/1` JSON document.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelReport {
    pub schema: &'static str,
    pub file: FileInfo,
    pub model: ModelInfo,
    pub inputs: Vec<TensorSignature>,
    pub outputs: Vec<TensorSignature>,
    pub metadata: BTreeMap<String, String>,
    /// Every symbolic or unnamed input dimension, with a suggested value (model metadata or
    /// a default; front ends add the user's and the remembered values).
    pub free_dims: Vec<super::FreeDim>,
    pub graph: GraphSummary,
}

/// The file on disk.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct FileInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
}

/// Header fields of the `ModelProto`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelInfo {
    pub producer_name: String,
    pub producer_version: String,
    pub ir_version: i64,
    pub domain: String,
    pub model_version: i64,
    pub doc_string: String,
    pub opsets: Vec<Opset>,
}

/// One operator-set import; the default ONNX domain is spelled `ai.onnx`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Opset {
    pub domain: String,
    pub version: i64,
}

/// A graph input or output: its name, element type and shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TensorSignature {
    pub name: String,
    /// `float`, `int64`, ... or `sequence<float>`, `map<int64,float>` for non-tensor values.
    pub element_type: String,
    /// `None` when the model gives no shape at all (rank unknown).
    #[ts(type = "Array<number | string | null> | null")]
    pub shape: Option<Vec<Dim>>,
}

/// A dimension: fixed, symbolic (by name) or unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Symbolic(String),
    Unknown,
}

impl Serialize for Dim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Dim::Fixed(v) => s.serialize_i64(*v),
            Dim::Symbolic(n) => s.serialize_str(n),
            Dim::Unknown => s.serialize_none(),
        }
    }
}

/// The inverse of [`Dim`]'s `Serialize`: a number, a name or `null`.
impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Fixed(i64),
            Symbolic(String),
        }
        Ok(match Option::<Wire>::deserialize(d)? {
            Some(Wire::Fixed(v)) => Dim::Fixed(v),
            Some(Wire::Symbolic(n)) => Dim::Symbolic(n),
            None => Dim::Unknown,
        })
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(v) => write!(f, "{v}"),
            Dim::Symbolic(n) => f.write_str(n),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// Counts over the graph, its subgraphs (If/Loop/Scan bodies) and local functions.
#[derive(Debug, Clone, Serialize, Default, ts_rs::TS)]
#[ts(export)]
pub struct GraphSummary {
    pub name: String,
    pub node_count: u64,
    /// op_type → count; operators outside the default domain are written `domain:op_type`.
    pub operators: BTreeMap<String, u64>,
    /// Stored tensors: initializers, sparse initializers and `Constant` node values.
    pub parameter_count: u64,
    pub parameter_bytes: u64,
    pub initializer_count: u64,
    pub subgraph_count: u64,
    pub external_data: Vec<ExternalDataFile>,
}

/// A file that initializers point to with `data_location = EXTERNAL`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ExternalDataFile {
    /// As written in the model, relative to the model's directory.
    pub location: String,
    /// Bytes the model reads from it (sum of `length`, or the tensor sizes).
    pub referenced_bytes: u64,
    pub tensors: u64,
    /// `None` when the file is missing, or the location escapes the model's directory.
    pub size_on_disk: Option<u64>,
    pub problem: Option<String>,
}

/// Reads `path` and reports its contents.
pub fn inspect(path: &Path) -> Result<ModelReport> {
    let mapped = decode_model(path)?;
    let sha256 = sha256_file(path)?;
    let p = &mapped.proto;
    let graph = p.graph.as_ref().expect("decode_model checks the graph");

    let mut summary = GraphSummary {
        name: graph.name().to_string(),
        ..Default::default()
    };
    let mut external = ExternalIndex::default();
    walk_graph(graph, &mut summary, &mut external, false);
    for f in &p.functions {
        for n in &f.node {
            count_node(n, &mut summary, &mut external);
        }
    }
    let model_dir = path.parent().unwrap_or(Path::new("."));
    summary.external_data = external.finish(model_dir);

    let inputs = graph_inputs(graph);
    let metadata = metadata_of(p);
    let free_dims = super::free_dims(&inputs, &metadata, &Default::default(), &Default::default());
    Ok(ModelReport {
        schema: "assay.inspect/1",
        file: FileInfo {
            path: mapped.path.clone(),
            size_bytes: mapped.size,
            sha256,
        },
        model: ModelInfo {
            producer_name: p.producer_name().to_string(),
            producer_version: p.producer_version().to_string(),
            ir_version: p.ir_version(),
            domain: p.domain().to_string(),
            model_version: p.model_version(),
            doc_string: p.doc_string().to_string(),
            opsets: p
                .opset_import
                .iter()
                .map(|o| Opset {
                    domain: if o.domain().is_empty() {
                        "ai.onnx".into()
                    } else {
                        o.domain().to_string()
                    },
                    version: o.version(),
                })
                .collect(),
        },
        inputs,
        outputs: graph.output.iter().map(signature).collect(),
        metadata,
        free_dims,
        graph: summary,
    })
}

/// The inputs a caller feeds. Old exporters list initializers among the inputs too.
fn graph_inputs(graph: &proto::GraphProto) -> Vec<TensorSignature> {
    let initializer_names: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name()).collect();
    graph
        .input
        .iter()
        .filter(|v| !initializer_names.contains(v.name()))
        .map(signature)
        .collect()
}

fn metadata_of(p: &proto::ModelProto) -> BTreeMap<String, String> {
    p.metadata_props
        .iter()
        .map(|e| (e.key().to_string(), e.value().to_string()))
        .collect()
}

/// The model's metadata entries, read without hashing the file.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    Ok(metadata_of(&decode_model(path)?.proto))
}

/// The model's free dimensions with the user's values and the remembered ones applied, read
/// without hashing the file (what a form needs to pre-fill its fields).
pub fn suggest_dims(
    path: &Path,
    user: &super::DimBindings,
    remembered: &super::DimBindings,
) -> Result<Vec<super::FreeDim>> {
    let mapped = decode_model(path)?;
    let graph = mapped
        .proto
        .graph
        .as_ref()
        .expect("decode_model checks the graph");
    Ok(super::free_dims(
        &graph_inputs(graph),
        &metadata_of(&mapped.proto),
        user,
        remembered,
    ))
}

fn walk_graph(
    g: &proto::GraphProto,
    s: &mut GraphSummary,
    ext: &mut ExternalIndex,
    is_subgraph: bool,
) {
    if is_subgraph {
        s.subgraph_count += 1;
    }
    for t in &g.initializer {
        s.initializer_count += 1;
        count_tensor(t, s, ext);
    }
    for sp in &g.sparse_initializer {
        s.initializer_count += 1;
        if let Some(v) = &sp.values {
            count_tensor(v, s, ext);
        }
    }
    for n in &g.node {
        count_node(n, s, ext);
    }
}

fn count_node(n: &proto::NodeProto, s: &mut GraphSummary, ext: &mut ExternalIndex) {
    s.node_count += 1;
    let key = if n.domain().is_empty() || n.domain() == "ai.onnx" {
        n.op_type().to_string()
    } else {
        format!("{}:{}", n.domain(), n.op_type())
    };
    *s.operators.entry(key).or_default() += 1;
    for a in &n.attribute {
        if n.op_type() == "Constant"
            && let Some(t) = &a.t
        {
            count_tensor(t, s, ext);
        }
        if let Some(g) = &a.g {
            walk_graph(g, s, ext, true);
        }
        for g in &a.graphs {
            walk_graph(g, s, ext, true);
        }
    }
}

fn count_tensor(t: &proto::TensorProto, s: &mut GraphSummary, ext: &mut ExternalIndex) {
    let elements: u64 = t.dims.iter().map(|&d| d.max(0) as u64).product();
    s.parameter_count += elements;
    let ty = ElementType::from_onnx(t.data_type());
    let bytes = match ty.byte_size(elements) {
        Some(b) => b,
        // Strings: count what is stored.
        None => t.string_data.iter().map(|b| b.len() as u64).sum(),
    };
    s.parameter_bytes += bytes;
    if t.data_location() == proto::tensor_proto::DataLocation::External {
        ext.add(t, bytes);
    }
}

/// Groups external-data references by file.
#[derive(Default)]
struct ExternalIndex {
    files: BTreeMap<String, (u64, u64)>,
}

impl ExternalIndex {
    fn add(&mut self, t: &proto::TensorProto, tensor_bytes: u64) {
        let get = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key() == k)
                .map(|e| e.value())
        };
        let location = get("location").unwrap_or("").to_string();
        let length = get("length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(tensor_bytes);
        let entry = self.files.entry(location).or_default();
        entry.0 += length;
        entry.1 += 1;
    }

    fn finish(self, model_dir: &Path) -> Vec<ExternalDataFile> {
        self.files
            .into_iter()
            .map(|(location, (referenced_bytes, tensors))| {
                let (size_on_disk, problem) = match safe_relative(&location) {
                    None => (None, Some("the location escapes the model's directory; ONNX Runtime will refuse it".to_string())),
                    Some(rel) => match std::fs::metadata(model_dir.join(rel)) {
                        Ok(m) if m.len() < referenced_bytes => {
                            (Some(m.len()), Some(format!("the file has {} bytes but the model reads {referenced_bytes}", m.len())))
                        }
                        Ok(m) => (Some(m.len()), None),
                        Err(_) => (None, Some("the file is missing".to_string())),
                    },
                };
                ExternalDataFile { location, referenced_bytes, tensors, size_on_disk, problem }
            })
            .collect()
    }
}

/// A location is usable only as a plain relative path inside the model's directory.
fn safe_relative(location: &str) -> Option<&Path> {
    let p = Path::new(location);
    (!location.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)))
    .then_some(p)
}

fn signature(v: &proto::ValueInfoProto) -> TensorSignature {
    let (element_type, shape) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(value) => describe_type(value),
        None => ("unknown".to_string(), None),
    };
    TensorSignature {
        name: v.name().to_string(),
        element_type,
        shape,
    }
}

fn describe_type(value: &proto::type_proto::Value) -> (String, Option<Vec<Dim>>) {
    use proto::type_proto::Value;
    let elem_name = |code: i32| ElementType::from_onnx(code).name().into_owned();
    match value {
        Value::TensorType(t) => (elem_name(t.elem_type()), t.shape.as_ref().map(dims)),
        Value::SparseTensorType(t) => (
            format!("sparse<{}>", elem_name(t.elem_type())),
            t.shape.as_ref().map(dims),
        ),
        Value::SequenceType(s) => {
            let inner = s
                .elem_type
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .map(|v| describe_type(v).0)
                .unwrap_or_else(|| "?".into());
            (format!("sequence<{inner}>"), None)
        }
        Value::MapType(m) => {
            let inner = m
                .value_type
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .map(|v| describe_type(v).0)
                .unwrap_or_else(|| "?".into());
            (format!("map<{},{inner}>", elem_name(m.key_type())), None)
        }
        Value::OpaqueType(o) => (format!("opaque<{}:{}>", o.domain(), o.name()), None),
        Value::OptionalType(o) => {
            let inner = o
                .elem_type
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .map(describe_type)
                .unwrap_or_else(|| ("?".into(), None));
            (format!("optional<{}>", inner.0), inner.1)
        }
    }
}

fn dims(shape: &proto::TensorShapeProto) -> Vec<Dim> {
    use proto::tensor_shape_proto::dimension::Value;
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(Value::DimValue(v)) => Dim::Fixed(*v),
            Some(Value::DimParam(p)) if !super::is_placeholder_symbol(p) => {
                Dim::Symbolic(p.clone())
            }
            _ => Dim::Unknown,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_that_escape_are_refused() {
        assert!(safe_relative("weights.bin").is_some());
        assert!(safe_relative("sub/weights.bin").is_some());
        assert!(safe_relative("../weights.bin").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("").is_none());
    }
}
