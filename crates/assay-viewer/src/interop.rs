//! Model Explorer's per-node data JSON (its "node data provider" format), both ways: any
//! overlay exports as a file Model Explorer colours a graph with, and such a file (written
//! by Model Explorer's `node_data_builder` or by hand) imports as an overlay here.
//!
//! The format is a `GraphNodeData` (`{"name", "results": {KEY: {"value"}}, "gradient"}`) or
//! a `ModelNodeData` (`{GRAPH_ID: GraphNodeData}`). A key is a node's id, which for ONNX is
//! its name, or the name of one of its output tensors.

use std::{collections::BTreeMap, path::Path};

use assay_engine::model::graph::ModelGraph;
use serde::{Deserialize, Serialize};

use crate::{
    hierarchy::Hierarchy,
    overlay::{Overlay, OverlayKind},
};

/// One graph's node data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNodeData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub results: BTreeMap<String, NodeDataResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gradient: Vec<GradientItem>,
}

/// A node's value. Model Explorer also takes text labels, which have no place on a numeric
/// scale: they are counted and left out on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDataResult {
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// A colour at a point of the value range (0: the smallest value, 1: the largest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientItem {
    pub stop: f64,
    #[serde(rename = "bgColor")]
    pub bg_color: String,
}

/// Why a node data file cannot be imported or written.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not Model Explorer node data: {reason}")]
    Format { path: String, reason: String },
    #[error(
        "{path} has no numeric value for any node of this model ({keys} keys: {text} with text values, the rest naming no node or output of it)"
    )]
    NothingMatched {
        path: String,
        keys: usize,
        text: usize,
    },
}

/// The node data of an overlay: its value per node, keyed by node name, with a gradient
/// like the viewer's colours.
pub fn export(o: &Overlay, names: &[String]) -> GraphNodeData {
    let results = names
        .iter()
        .zip(&o.values)
        .filter_map(|(n, v)| {
            v.map(|v| {
                (
                    n.clone(),
                    NodeDataResult {
                        value: Value::Number(v),
                    },
                )
            })
        })
        .collect();
    let stops: &[(f64, &str)] = match o.kind {
        OverlayKind::Profile => &[(0.0, "#fff3c4"), (1.0, "#c81e1e")],
        // The midpoint is white only when faster and slower reach as far: close enough to
        // read, and Model Explorer's gradient has no fixed zero.
        OverlayKind::Diff => &[(0.0, "#285ad2"), (0.5, "#f0f0f0"), (1.0, "#cd2828")],
        OverlayKind::Accuracy => &[(0.0, "#e2f4ea"), (1.0, "#be145a")],
        OverlayKind::Imported => &[(0.0, "#f2eefa"), (1.0, "#5a2a9c")],
    };
    GraphNodeData {
        name: Some(o.title.clone()),
        results,
        gradient: stops
            .iter()
            .map(|&(stop, c)| GradientItem {
                stop,
                bg_color: c.into(),
            })
            .collect(),
    }
}

/// Writes an overlay's node data to `path`.
pub fn write(o: &Overlay, names: &[String], path: &Path) -> Result<usize, InteropError> {
    let data = export(o, names);
    let n = data.results.len();
    let text = serde_json::to_string_pretty(&data).expect("node data serializes");
    std::fs::write(path, text).map_err(|source| InteropError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(n)
}

/// Reads node data from `path` and lays it over `graph` as an overlay. A `ModelNodeData`
/// file contributes its first graph's data (ONNX models have one graph).
pub fn import(path: &Path, graph: &ModelGraph, h: &Hierarchy) -> Result<Overlay, InteropError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| InteropError::Read {
        path: shown.clone(),
        source,
    })?;
    let format = |reason: String| InteropError::Format {
        path: shown.clone(),
        reason,
    };
    // A GraphNodeData has "results"; a ModelNodeData maps graph ids to GraphNodeData.
    #[derive(Deserialize)]
    struct Probe {
        results: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?;
    let data: GraphNodeData = if probe.results.is_some() {
        serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?
    } else {
        let graphs: BTreeMap<String, GraphNodeData> = serde_json::from_slice(&bytes)
            .map_err(|e| format(format!("neither a graph's nor a model's node data ({e})")))?;
        let Some((_, first)) = graphs.into_iter().next() else {
            return Err(format("it holds no graph".into()));
        };
        first
    };

    // Keys are node names, or output tensor names.
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in graph.nodes.iter().enumerate() {
        by_name.insert(&n.name, i);
        for o in n.outputs.iter().filter(|o| !o.is_empty()) {
            by_name.entry(o).or_insert(i);
        }
    }
    let mut values = vec![None; graph.nodes.len()];
    let (mut unplaced, mut text) = (Vec::new(), 0usize);
    for (key, r) in &data.results {
        match (&r.value, by_name.get(key.as_str())) {
            (Value::Text(_), _) => text += 1,
            (Value::Number(v), Some(&i)) if v.is_finite() => values[i] = Some(*v),
            (Value::Number(_), Some(_)) => text += 1,
            (Value::Number(_), None) => unplaced.push(key.clone()),
        }
    }
    if values.iter().all(Option::is_none) {
        return Err(InteropError::NothingMatched {
            path: shown,
            keys: data.results.len(),
            text,
        });
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = match data.name {
        Some(n) if !n.is_empty() => format!("{n} ({file})"),
        _ => file,
    };
    let mut o = Overlay::imported(title, values, unplaced, h);
    o.skipped = text;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_and_text_values() {
        let graph = r#"{"name":"latency","results":{"a":{"value":1.5},"b":{"value":"slow","bgColor":"red"}},"thresholds":[{"value":1,"bgColor":"red"}]}"#;
        let d: GraphNodeData = serde_json::from_str(graph).unwrap();
        assert_eq!(d.results["a"].value, Value::Number(1.5));
        assert_eq!(d.results["b"].value, Value::Text("slow".into()));
        let model = format!(r#"{{"main": {graph}}}"#);
        let m: BTreeMap<String, GraphNodeData> = serde_json::from_str(&model).unwrap();
        assert_eq!(m["main"], d);
    }

    #[test]
    fn exports_what_model_explorer_writes() {
        let d = GraphNodeData {
            name: Some("p".into()),
            results: [(
                "/l0/MatMul".to_string(),
                NodeDataResult {
                    value: Value::Number(2.0),
                },
            )]
            .into(),
            gradient: vec![GradientItem {
                stop: 0.0,
                bg_color: "#fff".into(),
            }],
        };
        let v: serde_json::Value = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "p", "results": {"/l0/MatMul": {"value": 2.0}},
                                "gradient": [{"stop": 0.0, "bgColor": "#fff"}]})
        );
    }
}
