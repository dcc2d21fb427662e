//! The Open Inference Protocol's infer request as the core takes it, whichever wire brought
//! it: [`rest`] (JSON, and the binary tensor extension) and [`grpc`] (protobuf, raw
//! contents or typed ones). Both decode through the checks here, so a request is refused
//! with the same sentence on either.

pub mod grpc;
pub mod rest;

use std::collections::BTreeMap;

use crate::{
    error::GatewayError,
    model::IoSpec,
    tensor::{Datatype, Tensor},
};

/// A parsed, checked infer request: inputs in the model's order.
#[derive(Debug)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    /// The outputs to send, in order, and whether each goes binary (REST's flag; gRPC
    /// always sends raw contents).
    pub outputs: Vec<(String, bool)>,
    /// Rows along the batch dimension (1 when the model has none).
    pub rows: usize,
}

pub(crate) fn bad(m: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(m.into())
}

pub(crate) fn names(specs: &[IoSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("'{}'", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An input as declared by the request, checked against the model: its spec exists, the
/// datatype matches and the shape fits. Returns the datatype and the element count.
pub(crate) fn check_input(
    inputs: &[IoSpec],
    name: &str,
    datatype: &str,
    shape: &[i64],
) -> Result<(Datatype, usize), GatewayError> {
    let spec = inputs.iter().find(|s| s.name == name).ok_or_else(|| {
        bad(format!(
            "unknown input '{name}'; the model takes {}",
            names(inputs)
        ))
    })?;
    let dt = Datatype::parse(datatype)
        .ok_or_else(|| bad(format!("input '{name}': unknown datatype '{datatype}'")))?;
    if dt != spec.datatype {
        return Err(bad(format!(
            "input '{name}': datatype {} but the model expects {}",
            dt.name(),
            spec.datatype.name()
        )));
    }
    check_shape(spec, shape)?;
    let count = Tensor::element_count(shape)
        .ok_or_else(|| bad(format!("input '{name}': shape {shape:?} is too large")))?;
    Ok((dt, count))
}

/// Checks that `size` raw bytes are exactly what `shape` of `datatype` needs.
pub(crate) fn check_raw_size(
    name: &str,
    datatype: Datatype,
    shape: &[i64],
    count: usize,
    size: usize,
    what: &str,
) -> Result<(), GatewayError> {
    let want = count.saturating_mul(datatype.size().unwrap_or(0));
    if datatype == Datatype::Bytes || size != want {
        return Err(bad(format!(
            "input '{name}': shape {shape:?} of {} needs {want} bytes but {what} is {size}",
            datatype.name()
        )));
    }
    Ok(())
}

fn check_shape(spec: &IoSpec, shape: &[i64]) -> Result<(), GatewayError> {
    let fits = shape.len() == spec.shape.len()
        && shape
            .iter()
            .zip(&spec.shape)
            .all(|(&got, &want)| got >= 0 && (want < 0 || got == want));
    if fits {
        Ok(())
    } else {
        Err(bad(format!(
            "input '{}': shape {shape:?} does not fit the model's {:?} (-1 is any size)",
            spec.name, spec.shape
        )))
    }
}

/// The decoded inputs, gathered by name as each wire gives them.
#[derive(Default)]
pub(crate) struct Gathered {
    by_name: BTreeMap<String, Tensor>,
}

impl Gathered {
    pub fn add(&mut self, tensor: Tensor) -> Result<(), GatewayError> {
        let name = tensor.name.clone();
        if self.by_name.insert(name.clone(), tensor).is_some() {
            return Err(bad(format!("input '{name}' is given twice")));
        }
        Ok(())
    }

    /// Every input present, in the model's order, with the batch rows they agree on.
    pub fn finish(
        mut self,
        inputs: &[IoSpec],
        batched: bool,
    ) -> Result<(Vec<Tensor>, usize), GatewayError> {
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|s| !self.by_name.contains_key(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!("missing input(s): {}", missing.join(", "))));
        }
        let ordered: Vec<Tensor> = inputs
            .iter()
            .map(|s| self.by_name.remove(&s.name).expect("checked above"))
            .collect();
        let rows = if batched && !ordered.is_empty() {
            let rows = ordered[0].shape[0];
            if let Some(t) = ordered.iter().find(|t| t.shape[0] != rows) {
                return Err(bad(format!(
                    "input '{}' has {} rows but '{}' has {rows}; the batch dimension must agree",
                    t.name, t.shape[0], ordered[0].name
                )));
            }
            if rows < 1 {
                return Err(bad("a request must hold at least one row"));
            }
            rows as usize
        } else {
            1
        };
        Ok((ordered, rows))
    }
}

/// The outputs a request asks for, checked against the model's: `asked` empty means all.
pub(crate) fn wanted_outputs(
    outputs: &[IoSpec],
    asked: Vec<(String, bool)>,
    all_binary: bool,
) -> Result<Vec<(String, bool)>, GatewayError> {
    if asked.is_empty() {
        return Ok(outputs
            .iter()
            .map(|s| (s.name.clone(), all_binary))
            .collect());
    }
    for (i, (name, _)) in asked.iter().enumerate() {
        if asked[..i].iter().any(|(n, _)| n == name) {
            return Err(bad(format!("output '{name}' is asked for twice")));
        }
        if !outputs.iter().any(|s| &s.name == name) {
            return Err(bad(format!(
                "unknown output '{name}'; the model gives {}",
                names(outputs)
            )));
        }
    }
    Ok(asked)
}
