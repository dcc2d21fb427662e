//! The first diverging node: where, in topological order, a candidate's intermediate
//! results first leave tolerance.
//!
//! A bisection over graph prefixes. Each round marks a bounded batch of intermediate
//! tensors as extra graph outputs (evenly spaced over the nodes still in question) in a
//! copy of each model, runs both on the failing input set, and narrows the range to the
//! stretch before the first probe that fails. Only `batch` tensors are ever exposed at
//! once, never every tensor (Polygraphy's `--onnx-outputs mark all`, which runs out of
//! memory on transformer models), so peak memory is the two sessions plus `batch`
//! tensors, whatever the model's size.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use prost::Message;

use super::{
    golden::TensorSet,
    plan::Subject,
    report::{Divergence, ProbedNode, TensorError, TensorSource},
    run::{AccuracyEvent, AccuracyObserver, infer},
    tolerance::Tolerance,
};
use crate::{
    error::{EngineError, Result},
    model::{file::decode_model, proto},
    runtime::Runtime,
    session::open_session,
    tensor::HostTensor,
};

/// A node of the reference graph whose outputs the candidate also computes.
struct Checkpoint {
    /// Its index among all the reference's nodes.
    node: usize,
    outputs: Vec<String>,
}

/// A model decoded once, and what copies of it with extra outputs need.
struct Graph {
    path: PathBuf,
    proto: proto::ModelProto,
}

impl Graph {
    fn open(path: &Path) -> Result<Graph> {
        Ok(Graph {
            path: path.to_path_buf(),
            proto: decode_model(path)?.proto,
        })
    }

    fn graph(&self) -> &proto::GraphProto {
        self.proto
            .graph
            .as_ref()
            .expect("decode_model checks the graph")
    }

    /// Writes a copy that also outputs `names` into `dir`, with the external-data files
    /// linked beside it so their relative locations resolve.
    fn exposed(&self, names: &[String], dir: &Path, tag: &str) -> Result<PathBuf> {
        let mut m = self.proto.clone();
        let g = m.graph.as_mut().expect("decode_model checks the graph");
        let existing: BTreeSet<String> = g.output.iter().map(|o| o.name().to_string()).collect();
        for n in names.iter().filter(|n| !existing.contains(*n)) {
            // No type: ONNX Runtime infers an output's type, as it does for Polygraphy's.
            g.output.push(proto::ValueInfoProto {
                name: Some(n.clone()),
                ..Default::default()
            });
        }
        let out = dir.join(format!("{tag}.onnx"));
        std::fs::write(&out, m.encode_to_vec()).map_err(|e| EngineError::io(&out, e))?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        for location in external_locations(&m) {
            let link = dir.join(&location);
            if link.exists() {
                continue;
            }
            if let Some(p) = link.parent() {
                std::fs::create_dir_all(p).map_err(|e| EngineError::io(p, e))?;
            }
            let target = std::fs::canonicalize(base.join(&location))
                .map_err(|e| EngineError::io(base.join(&location), e))?;
            std::os::unix::fs::symlink(&target, &link).map_err(|e| EngineError::io(&link, e))?;
        }
        Ok(out)
    }

    /// An initializer by name, read as a host tensor (`None` when it is not one, or is
    /// stored in a way this reader does not handle).
    fn initializer(&self, name: &str) -> Option<HostTensor> {
        let t = self.graph().initializer.iter().find(|t| t.name() == name)?;
        HostTensor::from_initializer(t, self.path.parent().unwrap_or(Path::new(".")))
    }
}

/// The external-data files a model refers to, relative to its folder.
fn external_locations(m: &proto::ModelProto) -> BTreeSet<String> {
    let Some(g) = &m.graph else {
        return BTreeSet::new();
    };
    g.initializer
        .iter()
        .flat_map(|t| &t.external_data)
        .filter(|e| e.key() == "location")
        .map(|e| e.value().to_string())
        .collect()
}

/// The error of one tensor pair under `tol` (elementwise).
fn tensor_error(
    name: &str,
    source: TensorSource,
    a: Option<&HostTensor>,
    b: Option<&HostTensor>,
    tol: Tolerance,
) -> TensorError {
    let mut e = TensorError {
        name: name.to_string(),
        source,
        elements: 0,
        max_abs: 0.0,
        mean_abs: 0.0,
        outside_tolerance: 0,
        compared: false,
    };
    let (Some(r), Some(c)) = (a, b) else {
        return e;
    };
    let (Some(x), Some(y)) = (r.to_f64(), c.to_f64()) else {
        e.compared = r.shape == c.shape;
        e.elements = r.elements();
        e.outside_tolerance = (r != c) as u64;
        return e;
    };
    if r.shape != c.shape {
        return e;
    }
    e.compared = true;
    e.elements = x.len() as u64;
    let mut sum = 0.0;
    for (&rv, &cv) in x.iter().zip(&y) {
        let both_nan = rv.is_nan() && cv.is_nan();
        if both_nan || rv == cv {
            continue;
        }
        let d = (cv - rv).abs();
        if !tol.is_close(cv, rv) {
            e.outside_tolerance += 1;
        }
        if d.is_finite() {
            sum += d;
        }
        e.max_abs = e.max_abs.max(d);
    }
    e.mean_abs = sum / e.elements.max(1) as f64;
    e
}

/// Searches for the first node whose outputs leave `tol` on input set `set`. `None` when no
/// intermediate tensor the two models share fails (the difference is in nodes the
/// candidate renamed, or only in the graph outputs' last step).
#[allow(clippy::too_many_arguments)]
pub(crate) fn first_divergence(
    rt: &Runtime,
    reference: &Subject,
    candidate: &Subject,
    set: &TensorSet,
    set_index: usize,
    tol: Tolerance,
    batch: usize,
    observer: &mut dyn AccuracyObserver,
) -> Result<Option<Divergence>> {
    let ref_graph = Graph::open(&reference.model)?;
    let cand_graph = if candidate.model == reference.model {
        None
    } else {
        Some(Graph::open(&candidate.model)?)
    };
    let cand = cand_graph.as_ref().unwrap_or(&ref_graph);
    let cand_produced: BTreeSet<&str> = cand
        .graph()
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    let nodes = &ref_graph.graph().node;
    let checkpoints: Vec<Checkpoint> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let outputs: Vec<String> = n
                .output
                .iter()
                .filter(|o| !o.is_empty() && cand_produced.contains(o.as_str()))
                .cloned()
                .collect();
            (!outputs.is_empty()).then_some(Checkpoint { node: i, outputs })
        })
        .collect();
    if checkpoints.is_empty() {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("assay-locate-")
        .tempdir()
        .map_err(|e| EngineError::io(std::env::temp_dir(), e))?;
    let label = candidate.label();

    // Runs both models with the outputs of `probe` exposed; returns both sides' tensors.
    let mut round = 0;
    let mut max_exposed = 0;
    let mut run_probe = |probe: &[usize],
                         observer: &mut dyn AccuracyObserver,
                         from: usize,
                         to: usize|
     -> Result<(TensorSet, TensorSet)> {
        round += 1;
        observer.event(AccuracyEvent::Locating {
            candidate: label.clone(),
            round,
            from: checkpoints.get(from).map(|c| c.node).unwrap_or(0),
            to: checkpoints
                .get(to.saturating_sub(1))
                .map(|c| c.node + 1)
                .unwrap_or(nodes.len()),
            nodes: nodes.len(),
        });
        let names: Vec<String> = probe
            .iter()
            .flat_map(|&p| checkpoints[p].outputs.iter().cloned())
            .collect();
        max_exposed = max_exposed.max(names.len());
        let side = |graph: &Graph, subject: &Subject, tag: &str| -> Result<TensorSet> {
            let path = graph.exposed(&names, dir.path(), &format!("{tag}-{round}"))?;
            let (mut session, _) = open_session(rt, &path, subject.provider, &subject.session)?;
            let (out, _) = infer(&mut session, set, &subject.label())?;
            let _ = std::fs::remove_file(&path);
            Ok(out.into_iter().filter(|(k, _)| names.contains(k)).collect())
        };
        let r = side(&ref_graph, reference, "reference")?;
        let c = side(cand, candidate, "candidate")?;
        Ok((r, c))
    };
    let fails = |cp: &Checkpoint, r: &TensorSet, c: &TensorSet| {
        cp.outputs.iter().any(|o| {
            let e = tensor_error(o, TensorSource::Activation, r.get(o), c.get(o), tol);
            e.outside_tolerance > 0 || (r.contains_key(o) && !e.compared)
        })
    };

    // The first failing checkpoint lies in [lo, hi); `found` is the earliest known failure.
    let (mut lo, mut hi) = (0usize, checkpoints.len());
    let mut found: Option<usize> = None;
    // Every node the search looked at, with its error: where along the graph results drift.
    let mut probed: Vec<ProbedNode> = Vec::new();
    let mut record = |probe: &[usize], r: &TensorSet, c: &TensorSet| {
        for &p in probe {
            let cp = &checkpoints[p];
            let errors: Vec<TensorError> = cp
                .outputs
                .iter()
                .map(|o| tensor_error(o, TensorSource::Activation, r.get(o), c.get(o), tol))
                .collect();
            let n = &nodes[cp.node];
            probed.push(ProbedNode {
                node: if n.name().is_empty() {
                    format!("#{}", cp.node)
                } else {
                    n.name().to_string()
                },
                index: cp.node,
                max_abs: errors.iter().map(|e| e.max_abs).fold(0.0, f64::max),
                outside_tolerance: errors.iter().map(|e| e.outside_tolerance).sum(),
            });
        }
    };
    while lo < hi {
        if observer.cancelled() {
            return Ok(None);
        }
        let span = hi - lo;
        let probe: Vec<usize> = if span <= batch {
            (lo..hi).collect()
        } else {
            let mut p: Vec<usize> = (1..=batch)
                .map(|j| lo + (j * span).div_ceil(batch) - 1)
                .collect();
            p.dedup();
            p
        };
        let (r, c) = run_probe(&probe, observer, lo, hi)?;
        record(&probe, &r, &c);
        match probe.iter().position(|&p| fails(&checkpoints[p], &r, &c)) {
            Some(k) => {
                found = Some(probe[k]);
                let after = if k == 0 { lo } else { probe[k - 1] + 1 };
                if span <= batch {
                    break;
                }
                (lo, hi) = (after, probe[k]);
            }
            None => {
                if span <= batch {
                    break;
                }
                lo = probe.last().map(|&p| p + 1).unwrap_or(hi);
            }
        }
    }
    let Some(first) = found else {
        return Ok(None);
    };

    // The node's inputs and outputs, one more run with its activation inputs exposed.
    let cp = &checkpoints[first];
    let node = &nodes[cp.node];
    let graph_inputs: BTreeSet<&str> = ref_graph.graph().input.iter().map(|i| i.name()).collect();
    let initializers: BTreeSet<&str> = ref_graph
        .graph()
        .initializer
        .iter()
        .map(|t| t.name())
        .collect();
    let activations: Vec<String> = node
        .input
        .iter()
        .filter(|i| !i.is_empty() && !initializers.contains(i.as_str()))
        .filter(|i| !graph_inputs.contains(i.as_str()))
        .filter(|i| cand_produced.contains(i.as_str()))
        .cloned()
        .collect();
    let mut detail_names: Vec<usize> = Vec::new();
    for a in &activations {
        if let Some(p) = checkpoints.iter().position(|c| c.outputs.contains(a)) {
            detail_names.push(p);
        }
    }
    detail_names.push(first);
    detail_names.sort_unstable();
    detail_names.dedup();
    let (r, c) = run_probe(&detail_names, observer, first, first + 1)?;
    record(&detail_names, &r, &c);
    probed.sort_by_key(|p| p.index);
    probed.dedup_by_key(|p| p.index);
    let mut inputs = Vec::new();
    for i in node.input.iter().filter(|i| !i.is_empty()) {
        let e = if initializers.contains(i.as_str()) {
            let a = ref_graph.initializer(i);
            let b = cand.initializer(i);
            tensor_error(i, TensorSource::Initializer, a.as_ref(), b.as_ref(), tol)
        } else if graph_inputs.contains(i.as_str()) {
            let t = set.get(i);
            tensor_error(i, TensorSource::GraphInput, t, t, tol)
        } else {
            tensor_error(i, TensorSource::Activation, r.get(i), c.get(i), tol)
        };
        inputs.push(e);
    }
    let outputs = node
        .output
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| tensor_error(o, TensorSource::Activation, r.get(o), c.get(o), tol))
        .collect();
    let name = node.name().to_string();
    let scope = match name.rfind('/') {
        Some(i) if i > 0 => name[..i].to_string(),
        _ => String::new(),
    };
    Ok(Some(Divergence {
        node: if name.is_empty() {
            format!("#{}", cp.node)
        } else {
            name
        },
        op_type: node.op_type().to_string(),
        scope,
        index: cp.node,
        nodes: nodes.len(),
        inputs,
        outputs,
        set: set_index,
        rounds: round,
        max_exposed,
        probed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dtype::ElementType, tensor::TensorData};

    #[test]
    fn tensors_read_from_raw_and_typed_fields_alike() {
        let base = Path::new(".");
        let raw = proto::TensorProto {
            dims: vec![2],
            data_type: Some(1),
            raw_data: Some(
                [1.5f32, -2.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            ..Default::default()
        };
        let typed = proto::TensorProto {
            dims: vec![2],
            data_type: Some(1),
            float_data: vec![1.5, -2.0],
            ..Default::default()
        };
        assert_eq!(
            HostTensor::from_initializer(&raw, base),
            HostTensor::from_initializer(&typed, base)
        );
        assert_eq!(
            HostTensor::from_initializer(&raw, base)
                .unwrap()
                .to_f64()
                .unwrap(),
            vec![1.5, -2.0]
        );
        let short = proto::TensorProto {
            dims: vec![3],
            data_type: Some(1),
            float_data: vec![1.0],
            ..Default::default()
        };
        assert!(HostTensor::from_initializer(&short, base).is_none());
    }

    #[test]
    fn tensor_errors_count_like_isclose() {
        let t = |v: &[f32]| HostTensor {
            ty: ElementType::Float,
            shape: vec![v.len() as i64],
            data: TensorData::Bytes(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        let tol = Tolerance::default();
        let e = tensor_error(
            "w",
            TensorSource::Initializer,
            Some(&t(&[1.0, 2.0, 3.0])),
            Some(&t(&[1.0, 2.5, 3.0])),
            tol,
        );
        assert!(e.compared);
        assert_eq!((e.outside_tolerance, e.max_abs), (1, 0.5));
        let missing = tensor_error("w", TensorSource::Activation, Some(&t(&[1.0])), None, tol);
        assert!(!missing.compared);
    }
}
