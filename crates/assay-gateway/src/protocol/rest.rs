//! The REST infer request and response, in JSON and with the binary tensor extension (a
//! JSON header of `Inference-Header-Content-Length` bytes, then raw tensors in order).

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Gathered, InferRequest, bad, check_input, check_raw_size, wanted_outputs};
use crate::{
    error::GatewayError,
    model::IoSpec,
    tensor::{JsonData, Tensor},
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
    let mut gathered = Gathered::default();
    for input in &req.inputs {
        let (datatype, count) = check_input(inputs, &input.name, &input.datatype, &input.shape)?;
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
                check_raw_size(
                    &input.name,
                    datatype,
                    &input.shape,
                    count,
                    size,
                    "binary_data_size",
                )?;
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
        gathered.add(Tensor {
            name: input.name.clone(),
            datatype,
            shape: input.shape.clone(),
            data,
        })?;
    }
    if !binary.is_empty() {
        return Err(bad(format!(
            "{} bytes of binary data follow the inputs that no input claims",
            binary.len()
        )));
    }
    let (ordered, rows) = gathered.finish(inputs, batched)?;
    let all_binary = flag(&req.parameters, "binary_data_output");
    let asked = req
        .outputs
        .unwrap_or_default()
        .into_iter()
        .map(|o| {
            let binary = o
                .parameters
                .get("binary_data")
                .and_then(Value::as_bool)
                .unwrap_or(all_binary);
            (o.name, binary)
        })
        .collect();
    Ok(InferRequest {
        id: req.id,
        inputs: ordered,
        outputs: wanted_outputs(outputs, asked, all_binary)?,
        rows,
    })
}

fn flag(params: &Map<String, Value>, key: &str) -> bool {
    params.get(key).and_then(Value::as_bool).unwrap_or(false)
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
    use crate::tensor::Datatype;

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
        let e = err(
            serde_json::json!({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"y"},{"name":"y"}]}),
            None,
        );
        assert!(e.contains("output 'y' is asked for twice"), "{e}");
    }
}
