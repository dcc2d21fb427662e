//! The Open Inference Protocol's infer request and response, in JSON and with the binary
//! tensor extension (a JSON header of `Inference-Header-Content-Length` bytes, then raw
//! tensors in order).

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    error::GatewayError,
    model::IoSpec,
    tensor::{Datatype, JsonData, Tensor},
};

/// The header that carries the JSON part's length in a binary request or response.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

#[derive(Debug, Deserialize)]
struct RequestJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    inputs: Vec<InputJson>,
    #[serde(default)]
    outputs: Option<Vec<OutputJson>>,
}

#[derive(Debug, Deserialize)]
struct InputJson {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct OutputJson {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// A parsed, checked infer request: inputs in the model's order.
#[derive(Debug)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    /// The outputs to send, in order, and whether each goes binary.
    pub outputs: Vec<(String, bool)>,
    /// Rows along the batch dimension (1 when the model has none).
    pub rows: usize,
}

fn bad(m: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(m.into())
}

/// Parses a request body. `header_len` is the `Inference-Header-Content-Length` value when
/// the body is binary.
pub fn parse(
    body: &Bytes,
    header_len: Option<usize>,
    inputs: &[IoSpec],
    outputs: &[IoSpec],
    batched: bool,
) -> Result<InferRequest, GatewayError> {
    let (json, mut binary) = match header_len {
        Some(n) if n > body.len() => {
            return Err(bad(format!(
                "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                body.len()
            )));
        }
        Some(n) => (body.slice(..n), body.slice(n..)),
        None => (body.clone(), Bytes::new()),
    };
    let req: RequestJson = serde_json::from_slice(&json)
        .map_err(|e| bad(format!("the request is not a valid infer request: {e}")))?;
    let mut by_name: BTreeMap<&str, Tensor> = BTreeMap::new();
    for input in &req.inputs {
        let spec = inputs
            .iter()
            .find(|s| s.name == input.name)
            .ok_or_else(|| {
                bad(format!(
                    "unknown input '{}'; the model takes {}",
                    input.name,
                    names(inputs)
                ))
            })?;
        let datatype = Datatype::parse(&input.datatype).ok_or_else(|| {
            bad(format!(
                "input '{}': unknown datatype '{}'",
                input.name, input.datatype
            ))
        })?;
        if datatype != spec.datatype {
            return Err(bad(format!(
                "input '{}': datatype {} but the model expects {}",
                input.name,
                datatype.name(),
                spec.datatype.name()
            )));
        }
        check_shape(spec, &input.shape)?;
        let count = Tensor::element_count(&input.shape).ok_or_else(|| {
            bad(format!(
                "input '{}': shape {:?} is too large",
                input.name, input.shape
            ))
        })?;
        let data = match input.parameters.get("binary_data_size") {
            Some(size) => {
                let size = size.as_u64().ok_or_else(|| {
                    bad(format!(
                        "input '{}': binary_data_size is not a number",
                        input.name
                    ))
                })? as usize;
                if size > binary.len() {
                    return Err(bad(format!(
                        "input '{}': binary_data_size {size} runs past the end of the body",
                        input.name
                    )));
                }
                let want = count.saturating_mul(datatype.size().unwrap_or(0));
                if datatype == Datatype::Bytes || size != want {
                    return Err(bad(format!(
                        "input '{}': shape {:?} of {} needs {want} bytes but binary_data_size is {size}",
                        input.name,
                        input.shape,
                        datatype.name()
                    )));
                }
                binary.split_to(size).to_vec()
            }
            None => {
                let data = input.data.as_ref().ok_or_else(|| {
                    bad(format!(
                        "input '{}' has neither data nor binary_data_size",
                        input.name
                    ))
                })?;
                crate::tensor::from_json(datatype, data, count)
                    .map_err(|e| bad(format!("input '{}': {e}", input.name)))?
            }
        };
        let tensor = Tensor {
            name: input.name.clone(),
            datatype,
            shape: input.shape.clone(),
            data,
        };
        if by_name.insert(&input.name, tensor).is_some() {
            return Err(bad(format!("input '{}' is given twice", input.name)));
        }
    }
    if !binary.is_empty() {
        return Err(bad(format!(
            "{} bytes of binary data follow the inputs that no input claims",
            binary.len()
        )));
    }
    let missing: Vec<&str> = inputs
        .iter()
        .filter(|s| !by_name.contains_key(s.name.as_str()))
        .map(|s| s.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!("missing input(s): {}", missing.join(", "))));
    }
    let ordered: Vec<Tensor> = inputs
        .iter()
        .map(|s| by_name.remove(s.name.as_str()).expect("checked above"))
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
    let all_binary = flag(&req.parameters, "binary_data_output");
    let wanted = match &req.outputs {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|o| {
                if outputs.iter().any(|s| s.name == o.name) {
                    Ok((
                        o.name.clone(),
                        o.parameters
                            .get("binary_data")
                            .and_then(Value::as_bool)
                            .unwrap_or(all_binary),
                    ))
                } else {
                    Err(bad(format!(
                        "unknown output '{}'; the model gives {}",
                        o.name,
                        names(outputs)
                    )))
                }
            })
            .collect::<Result<_, _>>()?,
        _ => outputs
            .iter()
            .map(|s| (s.name.clone(), all_binary))
            .collect(),
    };
    Ok(InferRequest {
        id: req.id,
        inputs: ordered,
        outputs: wanted,
        rows,
    })
}

fn flag(params: &Map<String, Value>, key: &str) -> bool {
    params.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn names(specs: &[IoSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("'{}'", s.name))
        .collect::<Vec<_>>()
        .join(", ")
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

#[derive(Serialize)]
struct ResponseJson<'a> {
    model_name: &'a str,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputOut<'a>>,
}

#[derive(Serialize)]
struct OutputOut<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [i64],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

/// A response body and, when any output is binary, the JSON header's length.
pub struct Encoded {
    pub body: Bytes,
    pub header_len: Option<usize>,
}

/// Encodes the outputs the request asked for.
pub fn encode(
    model: &str,
    version: &str,
    req: &InferRequest,
    outputs: &[Tensor],
) -> Result<Encoded, GatewayError> {
    let mut parts = Vec::with_capacity(req.outputs.len());
    let mut tail: Vec<&[u8]> = Vec::new();
    for (name, binary) in &req.outputs {
        let t = outputs
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| GatewayError::Internal(format!("the model gave no output '{name}'")))?;
        let binary = *binary;
        parts.push(OutputOut {
            name: &t.name,
            datatype: t.datatype.name(),
            shape: &t.shape,
            parameters: binary.then(|| serde_json::json!({"binary_data_size": t.data.len()})),
            data: (!binary).then_some(JsonData {
                datatype: t.datatype,
                data: &t.data,
            }),
        });
        if binary {
            tail.push(&t.data);
        }
    }
    let json = serde_json::to_vec(&ResponseJson {
        model_name: model,
        model_version: version,
        id: req.id.as_deref(),
        outputs: parts,
    })
    .map_err(|e| GatewayError::internal("encoding the response", e))?;
    if tail.is_empty() {
        return Ok(Encoded {
            body: json.into(),
            header_len: None,
        });
    }
    let mut body =
        BytesMut::with_capacity(json.len() + tail.iter().map(|t| t.len()).sum::<usize>());
    body.extend_from_slice(&json);
    for t in tail {
        body.extend_from_slice(t);
    }
    Ok(Encoded {
        body: body.freeze(),
        header_len: Some(json.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64]) -> IoSpec {
        IoSpec {
            name: name.into(),
            datatype: Datatype::Fp32,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn binary_and_json_inputs_mix() {
        let inputs = [spec("a", &[-1, 2]), spec("b", &[-1, 1])];
        let outputs = [spec("y", &[-1, 1])];
        let header = serde_json::json!({
            "inputs": [
                {"name": "b", "shape": [2, 1], "datatype": "FP32", "data": [5, 6]},
                {"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
            ],
            "parameters": {"binary_data_output": true}
        })
        .to_string();
        let mut body = header.clone().into_bytes();
        for x in [1f32, 2., 3., 4.] {
            body.extend(x.to_le_bytes());
        }
        let req = parse(&body.into(), Some(header.len()), &inputs, &outputs, true).unwrap();
        assert_eq!(req.rows, 2);
        assert_eq!(req.inputs[0].name, "a");
        assert_eq!(req.inputs[0].data.len(), 16);
        assert_eq!(req.outputs, vec![("y".to_string(), true)]);
    }

    #[test]
    fn malformed_requests_are_named() {
        let inputs = [spec("a", &[-1, 2])];
        let outputs = [spec("y", &[-1, 1])];
        let err = |body: Value, hl: Option<usize>| {
            parse(
                &body.to_string().into_bytes().into(),
                hl,
                &inputs,
                &outputs,
                true,
            )
            .unwrap_err()
            .to_string()
        };
        let e = err(
            serde_json::json!({"inputs":[{"name":"a","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}),
            None,
        );
        assert!(e.contains("does not fit"), "{e}");
        let e = err(
            serde_json::json!({"inputs":[{"name":"a","shape":[1,2],"datatype":"INT64","data":[1,2]}]}),
            None,
        );
        assert!(e.contains("expects FP32"), "{e}");
        let e = err(
            serde_json::json!({"inputs":[{"name":"z","shape":[1,2],"datatype":"FP32","data":[1,2]}]}),
            None,
        );
        assert!(e.contains("unknown input 'z'"), "{e}");
        let e = err(serde_json::json!({"inputs":[]}), None);
        assert!(e.contains("missing input(s): a"), "{e}");
        let e = err(
            serde_json::json!({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}),
            Some(10_000),
        );
        assert!(e.contains("Inference-Header-Content-Length"), "{e}");
        let e = err(
            serde_json::json!({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"q"}]}),
            None,
        );
        assert!(e.contains("unknown output 'q'"), "{e}");
    }
}
