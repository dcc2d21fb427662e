//! The request, encoded once per load level and sent as shared bytes: REST with tensors as
//! JSON arrays, REST with raw tensor bytes after a JSON header (the binary tensor extension),
//! or a gRPC `ModelInferRequest` with `raw_input_contents`.

use assay_engine::{
    EngineError, Setting,
    dtype::ElementType,
    tensor::{HostTensor, TensorData},
};
use assay_protocol::pb;
use bytes::Bytes;
use serde::Serialize;

use crate::target::Target;

/// A request ready to send, as many times as the load asks.
#[derive(Debug, Clone)]
pub(crate) enum Encoded {
    /// A REST body; `header_len` is the JSON header's length when raw tensors follow it.
    Rest {
        body: Bytes,
        header_len: Option<usize>,
    },
    /// A gRPC `ModelInfer` request framed as gRPC sends it (a zero compression flag, the
    /// length, the protobuf), made once, so that no request encodes a tensor again.
    Grpc(Bytes),
}

/// A message in gRPC's length-prefixed framing (uncompressed).
pub(crate) fn grpc_frame(message: &impl prost::Message) -> Bytes {
    let len = message.encoded_len();
    let mut buf = Vec::with_capacity(5 + len);
    buf.push(0);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    message
        .encode(&mut buf)
        .expect("a Vec with room for the message");
    buf.into()
}

/// Encodes one request holding `tensors`, named by `names`, for the target's protocol.
pub(crate) fn encode(
    target: &Target,
    names: &[String],
    tensors: &[HostTensor],
) -> Result<Encoded, EngineError> {
    use assay_engine::bench::ServedProtocol::*;
    let datatype = |name: &str, t: &HostTensor| {
        t.ty.oip_name().ok_or_else(|| {
            EngineError::invalid(
                Setting::Input,
                format!(
                    "input '{name}' has type {}, which the Open Inference Protocol cannot carry",
                    t.ty
                ),
            )
        })
    };
    match target.protocol {
        RestJson => {
            let mut inputs = Vec::with_capacity(tensors.len());
            for (name, t) in names.iter().zip(tensors) {
                inputs.push(JsonInput {
                    name,
                    shape: &t.shape,
                    datatype: datatype(name, t)?,
                    data: Some(json_data(t)),
                    parameters: None,
                });
            }
            let body = serde_json::to_vec(&JsonRequest {
                inputs,
                parameters: None,
            })
            .expect("a request serializes");
            Ok(Encoded::Rest {
                body: body.into(),
                header_len: None,
            })
        }
        RestBinary => {
            let mut inputs = Vec::with_capacity(tensors.len());
            let raw: Vec<Vec<u8>> = tensors.iter().map(raw_bytes).collect();
            for ((name, t), r) in names.iter().zip(tensors).zip(&raw) {
                inputs.push(JsonInput {
                    name,
                    shape: &t.shape,
                    datatype: datatype(name, t)?,
                    data: None,
                    parameters: Some(InputParameters {
                        binary_data_size: r.len(),
                    }),
                });
            }
            let mut body = serde_json::to_vec(&JsonRequest {
                inputs,
                // Outputs come back as raw bytes too: no JSON number printing on either side.
                parameters: Some(RequestParameters {
                    binary_data_output: true,
                }),
            })
            .expect("a request serializes");
            let header_len = body.len();
            for r in raw {
                body.extend_from_slice(&r);
            }
            Ok(Encoded::Rest {
                body: body.into(),
                header_len: Some(header_len),
            })
        }
        Grpc => {
            let mut inputs = Vec::with_capacity(tensors.len());
            for (name, t) in names.iter().zip(tensors) {
                inputs.push(pb::model_infer_request::InferInputTensor {
                    name: name.clone(),
                    datatype: datatype(name, t)?.to_string(),
                    shape: t.shape.clone(),
                    ..Default::default()
                });
            }
            let message = pb::ModelInferRequest {
                model_name: target.model.clone(),
                model_version: target.version.clone().unwrap_or_default(),
                inputs,
                raw_input_contents: tensors.iter().map(|t| raw_bytes(t).into()).collect(),
                ..Default::default()
            };
            Ok(Encoded::Grpc(grpc_frame(&message)))
        }
    }
}

#[derive(Serialize)]
struct JsonRequest<'a> {
    inputs: Vec<JsonInput<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<RequestParameters>,
}

#[derive(Serialize)]
struct RequestParameters {
    binary_data_output: bool,
}

#[derive(Serialize)]
struct JsonInput<'a> {
    name: &'a str,
    shape: &'a [i64],
    datatype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<InputParameters>,
}

#[derive(Serialize)]
struct InputParameters {
    binary_data_size: usize,
}

/// A tensor's elements as the JSON numbers (or booleans, strings) of its type.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonData {
    Float(Vec<f32>),
    Double(Vec<f64>),
    Signed(Vec<i64>),
    Unsigned(Vec<u64>),
    Bool(Vec<bool>),
    Text(Vec<String>),
}

fn json_data(t: &HostTensor) -> JsonData {
    use ElementType::*;
    let bytes = match &t.data {
        TensorData::Strings(s) => return JsonData::Text(s.clone()),
        TensorData::Bytes(b) => b.as_slice(),
    };
    fn each<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunk of N")))
            .collect()
    }
    match t.ty {
        Float => JsonData::Float(each(bytes, f32::from_le_bytes)),
        Float16 => JsonData::Float(each(bytes, |b| half::f16::from_le_bytes(b).to_f32())),
        Bfloat16 => JsonData::Float(each(bytes, |b| half::bf16::from_le_bytes(b).to_f32())),
        Double => JsonData::Double(each(bytes, f64::from_le_bytes)),
        Int8 => JsonData::Signed(each(bytes, |b: [u8; 1]| b[0] as i8 as i64)),
        Int16 => JsonData::Signed(each(bytes, |b| i16::from_le_bytes(b) as i64)),
        Int32 => JsonData::Signed(each(bytes, |b| i32::from_le_bytes(b) as i64)),
        Int64 => JsonData::Signed(each(bytes, i64::from_le_bytes)),
        Uint16 => JsonData::Unsigned(each(bytes, |b| u16::from_le_bytes(b) as u64)),
        Uint32 => JsonData::Unsigned(each(bytes, |b| u32::from_le_bytes(b) as u64)),
        Uint64 => JsonData::Unsigned(each(bytes, u64::from_le_bytes)),
        Bool => JsonData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        // UINT8 and anything else byte-sized.
        _ => JsonData::Unsigned(bytes.iter().map(|&b| b as u64).collect()),
    }
}

/// A tensor's raw protocol bytes: its little-endian elements, or for BYTES each element as
/// a 4-byte little-endian length and its bytes.
fn raw_bytes(t: &HostTensor) -> Vec<u8> {
    match &t.data {
        TensorData::Bytes(b) => b.clone(),
        TensorData::Strings(s) => {
            let mut out = Vec::with_capacity(s.iter().map(|x| x.len() + 4).sum());
            for x in s {
                out.extend_from_slice(&(x.len() as u32).to_le_bytes());
                out.extend_from_slice(x.as_bytes());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(ty: ElementType, shape: Vec<i64>, bytes: Vec<u8>) -> HostTensor {
        HostTensor {
            ty,
            shape,
            data: TensorData::Bytes(bytes),
        }
    }

    #[test]
    fn each_protocol_carries_the_same_elements() {
        let x = tensor(
            ElementType::Float,
            vec![1, 2],
            [1.5f32, -2.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        );
        let n = tensor(ElementType::Int64, vec![1], 7i64.to_le_bytes().to_vec());
        let names = vec!["x".to_string(), "n".to_string()];
        let tensors = vec![x.clone(), n];
        let t = |binary, url: &str| Target::parse(url, "m", None, binary, None).unwrap();

        let Encoded::Rest { body, header_len } =
            encode(&t(false, "http://h:1"), &names, &tensors).unwrap()
        else {
            panic!("REST")
        };
        assert_eq!(header_len, None);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1.5,-2.0]},{"name":"n","shape":[1],"datatype":"INT64","data":[7]}]}"#
        );

        let Encoded::Rest { body, header_len } =
            encode(&t(true, "http://h:1"), &names, &tensors).unwrap()
        else {
            panic!("REST")
        };
        let h = header_len.unwrap();
        let header: serde_json::Value = serde_json::from_slice(&body[..h]).unwrap();
        assert_eq!(header["inputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(header["inputs"][1]["parameters"]["binary_data_size"], 8);
        assert_eq!(header["parameters"]["binary_data_output"], true);
        assert_eq!(&body[h..h + 8], x_bytes(&x));
        assert_eq!(&body[h + 8..], 7i64.to_le_bytes());

        let Encoded::Grpc(frame) = encode(&t(false, "grpc://h:1"), &names, &tensors).unwrap()
        else {
            panic!("gRPC")
        };
        // The frame: no compression, the length, then the message.
        assert_eq!(frame[0], 0);
        let len = u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 5);
        use prost::Message;
        let m = pb::ModelInferRequest::decode(&frame[5..]).unwrap();
        assert_eq!(m.model_name, "m");
        assert_eq!(m.inputs[0].datatype, "FP32");
        assert_eq!(m.inputs[1].shape, vec![1]);
        assert_eq!(&m.raw_input_contents[0][..], x_bytes(&x));
    }

    fn x_bytes(t: &HostTensor) -> &[u8] {
        match &t.data {
            TensorData::Bytes(b) => b,
            TensorData::Strings(_) => unreachable!(),
        }
    }

    #[test]
    fn strings_are_length_prefixed_and_unsendable_types_are_refused() {
        let s = HostTensor {
            ty: ElementType::String,
            shape: vec![2],
            data: TensorData::Strings(vec!["ab".into(), "c".into()]),
        };
        assert_eq!(raw_bytes(&s), b"\x02\0\0\0ab\x01\0\0\0c");
        let c = tensor(ElementType::Complex64, vec![1], vec![0; 8]);
        let t = Target::parse("http://h:1", "m", None, false, None).unwrap();
        let e = encode(&t, &["z".into()], &[c]).unwrap_err();
        assert!(e.to_string().contains("cannot carry"), "{e}");
    }
}
