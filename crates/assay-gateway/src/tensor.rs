//! Tensors as the gateway moves them: an Open Inference Protocol datatype, a shape and the
//! elements as little-endian bytes. One representation serves JSON and binary requests,
//! batching (rows are byte ranges) and ONNX Runtime values (one memcpy each way).

use ort::value::{DynTensor, DynTensorValueType, DynValue, TensorElementType as Ort};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::Value;

/// Why a tensor could not be read or converted.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    #[error("'{name}': {source}")]
    Runtime { name: String, source: ort::Error },
    #[error("output '{0}' is not a tensor")]
    NotATensor(String),
    #[error("output '{name}' has element type {element}, which this gateway cannot send")]
    Unsendable { name: String, element: String },
    #[error("output '{name}' has an impossible shape {shape:?}")]
    ImpossibleShape { name: String, shape: Vec<i64> },
    #[error("BYTES tensors are not supported by this gateway")]
    Bytes,
    #[error("the shape holds {expected} elements but data has {found}")]
    Count { expected: usize, found: usize },
    #[error("element {index} ({value}) is not a valid {datatype}")]
    Element {
        index: usize,
        value: String,
        datatype: &'static str,
    },
}

/// The protocol's datatypes (`BYTES` is recognised so it can be refused by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Fp32,
    Fp64,
    Bf16,
    Bytes,
}

const ALL: [Datatype; 14] = [
    Datatype::Bool,
    Datatype::Uint8,
    Datatype::Uint16,
    Datatype::Uint32,
    Datatype::Uint64,
    Datatype::Int8,
    Datatype::Int16,
    Datatype::Int32,
    Datatype::Int64,
    Datatype::Fp16,
    Datatype::Fp32,
    Datatype::Fp64,
    Datatype::Bf16,
    Datatype::Bytes,
];

impl Datatype {
    /// The protocol name (`FP32`).
    pub fn name(self) -> &'static str {
        use Datatype::*;
        match self {
            Bool => "BOOL",
            Uint8 => "UINT8",
            Uint16 => "UINT16",
            Uint32 => "UINT32",
            Uint64 => "UINT64",
            Int8 => "INT8",
            Int16 => "INT16",
            Int32 => "INT32",
            Int64 => "INT64",
            Fp16 => "FP16",
            Fp32 => "FP32",
            Fp64 => "FP64",
            Bf16 => "BF16",
            Bytes => "BYTES",
        }
    }

    /// Triton's model-configuration name (`TYPE_FP32`; BYTES is `TYPE_STRING`).
    pub fn triton_name(self) -> String {
        match self {
            Datatype::Bytes => "TYPE_STRING".into(),
            other => format!("TYPE_{}", other.name()),
        }
    }

    pub fn parse(s: &str) -> Option<Datatype> {
        ALL.into_iter().find(|d| d.name() == s)
    }

    /// Bytes per element (`None` for BYTES).
    pub fn size(self) -> Option<usize> {
        use Datatype::*;
        Some(match self {
            Bool | Uint8 | Int8 => 1,
            Uint16 | Int16 | Fp16 | Bf16 => 2,
            Uint32 | Int32 | Fp32 => 4,
            Uint64 | Int64 | Fp64 => 8,
            Bytes => return None,
        })
    }

    pub fn from_ort(t: Ort) -> Option<Datatype> {
        use Datatype::*;
        Some(match t {
            Ort::Bool => Bool,
            Ort::Uint8 => Uint8,
            Ort::Uint16 => Uint16,
            Ort::Uint32 => Uint32,
            Ort::Uint64 => Uint64,
            Ort::Int8 => Int8,
            Ort::Int16 => Int16,
            Ort::Int32 => Int32,
            Ort::Int64 => Int64,
            Ort::Float16 => Fp16,
            Ort::Float32 => Fp32,
            Ort::Float64 => Fp64,
            Ort::Bfloat16 => Bf16,
            Ort::String => Bytes,
            _ => return None,
        })
    }

    /// The engine's element type (its byte encodings, e.g. constant fills).
    pub fn element_type(self) -> assay_engine::dtype::ElementType {
        assay_engine::dtype::ElementType::from_ort(self.to_ort())
    }

    fn to_ort(self) -> Ort {
        use Datatype::*;
        match self {
            Bool => Ort::Bool,
            Uint8 => Ort::Uint8,
            Uint16 => Ort::Uint16,
            Uint32 => Ort::Uint32,
            Uint64 => Ort::Uint64,
            Int8 => Ort::Int8,
            Int16 => Ort::Int16,
            Int32 => Ort::Int32,
            Int64 => Ort::Int64,
            Fp16 => Ort::Float16,
            Fp32 => Ort::Float32,
            Fp64 => Ort::Float64,
            Bf16 => Ort::Bfloat16,
            Bytes => Ort::String,
        }
    }
}

/// A tensor in transit.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub datatype: Datatype,
    pub shape: Vec<i64>,
    /// Little-endian elements, row-major.
    pub data: Vec<u8>,
}

impl Tensor {
    /// Elements the shape holds (`None` on a negative dimension or overflow).
    pub fn element_count(shape: &[i64]) -> Option<usize> {
        shape.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    /// Builds the ONNX Runtime value (one copy into memory ORT owns).
    pub fn to_value(&self) -> Result<DynValue, TensorError> {
        let allocator = ort::memory::Allocator::default();
        let mut t = DynTensor::new(&allocator, self.datatype.to_ort(), self.shape.clone())
            .map_err(|source| TensorError::Runtime {
                name: self.name.clone(),
                source,
            })?;
        if !self.data.is_empty() {
            // SAFETY: ORT allocated element_count × size bytes for this type and shape, and
            // the request was checked to hold exactly that many bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.data.as_ptr(),
                    t.data_ptr_mut().cast::<u8>(),
                    self.data.len(),
                )
            };
        }
        Ok(t.into_dyn())
    }

    /// Copies an ONNX Runtime output out.
    pub fn from_value(name: &str, value: DynValue) -> Result<Tensor, TensorError> {
        let t = value
            .downcast::<DynTensorValueType>()
            .map_err(|_| TensorError::NotATensor(name.into()))?;
        let datatype = Datatype::from_ort(*t.data_type())
            .filter(|d| *d != Datatype::Bytes)
            .ok_or_else(|| TensorError::Unsendable {
                name: name.into(),
                element: format!("{:?}", t.data_type()),
            })?;
        let shape: Vec<i64> = t.shape().iter().copied().collect();
        let bytes = Tensor::element_count(&shape)
            .and_then(|n| n.checked_mul(datatype.size().unwrap_or(1)))
            .ok_or_else(|| TensorError::ImpossibleShape {
                name: name.into(),
                shape: shape.clone(),
            })?;
        let mut data = vec![0u8; bytes];
        if bytes > 0 {
            // SAFETY: a CPU tensor of this type and shape holds exactly `bytes` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(t.data_ptr().cast::<u8>(), data.as_mut_ptr(), bytes)
            };
        }
        Ok(Tensor {
            name: name.to_string(),
            datatype,
            shape,
            data,
        })
    }
}

/// Reads JSON `data` (flat or nested, row-major) into little-endian bytes.
pub fn from_json(
    datatype: Datatype,
    data: &Value,
    expected: usize,
) -> Result<Vec<u8>, TensorError> {
    let size = datatype.size().ok_or(TensorError::Bytes)?;
    // A tiny request may declare a huge shape: reserve no more than the JSON can fill.
    let mut out = Vec::with_capacity(expected.saturating_mul(size).min(1 << 20));
    let mut count = 0usize;
    push_json(datatype, data, &mut out, &mut count)?;
    if count != expected {
        return Err(TensorError::Count {
            expected,
            found: count,
        });
    }
    Ok(out)
}

fn push_json(
    dt: Datatype,
    v: &Value,
    out: &mut Vec<u8>,
    count: &mut usize,
) -> Result<(), TensorError> {
    if let Value::Array(items) = v {
        for item in items {
            push_json(dt, item, out, count)?;
        }
        return Ok(());
    }
    let wrong = || TensorError::Element {
        index: *count,
        value: v.to_string(),
        datatype: dt.name(),
    };
    let int = || v.as_i64().ok_or_else(wrong);
    let uint = || v.as_u64().ok_or_else(wrong);
    let float = || v.as_f64().ok_or_else(wrong);
    let ranged = |x: i64, lo: i64, hi: i64| {
        if (lo..=hi).contains(&x) {
            Ok(x)
        } else {
            Err(wrong())
        }
    };
    use Datatype::*;
    match dt {
        Bool => out.push(v.as_bool().ok_or_else(wrong)? as u8),
        Uint8 => out.push(ranged(int()?, 0, u8::MAX as i64)? as u8),
        Int8 => out.push(ranged(int()?, i8::MIN as i64, i8::MAX as i64)? as i8 as u8),
        Uint16 => out.extend((ranged(int()?, 0, u16::MAX as i64)? as u16).to_le_bytes()),
        Int16 => {
            out.extend((ranged(int()?, i16::MIN as i64, i16::MAX as i64)? as i16).to_le_bytes())
        }
        Uint32 => out.extend((ranged(int()?, 0, u32::MAX as i64)? as u32).to_le_bytes()),
        Int32 => {
            out.extend((ranged(int()?, i32::MIN as i64, i32::MAX as i64)? as i32).to_le_bytes())
        }
        Uint64 => out.extend(uint()?.to_le_bytes()),
        Int64 => out.extend(int()?.to_le_bytes()),
        Fp16 => out.extend(half::f16::from_f64(float()?).to_le_bytes()),
        Bf16 => out.extend(half::bf16::from_f64(float()?).to_le_bytes()),
        Fp32 => out.extend((float()? as f32).to_le_bytes()),
        Fp64 => out.extend(float()?.to_le_bytes()),
        Bytes => return Err(TensorError::Bytes),
    }
    *count += 1;
    Ok(())
}

/// Serializes a tensor's elements as a flat JSON array without building a `Value` tree.
pub struct JsonData<'a> {
    pub datatype: Datatype,
    pub data: &'a [u8],
}

impl Serialize for JsonData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use Datatype::*;
        let size = self.datatype.size().unwrap_or(1);
        let mut seq = s.serialize_seq(Some(self.data.len() / size))?;
        for c in self.data.chunks_exact(size) {
            match self.datatype {
                Bool => seq.serialize_element(&(c[0] != 0))?,
                Uint8 => seq.serialize_element(&c[0])?,
                Int8 => seq.serialize_element(&(c[0] as i8))?,
                Uint16 => seq.serialize_element(&u16::from_le_bytes([c[0], c[1]]))?,
                Int16 => seq.serialize_element(&i16::from_le_bytes([c[0], c[1]]))?,
                Uint32 => seq.serialize_element(&u32::from_le_bytes(c.try_into().unwrap()))?,
                Int32 => seq.serialize_element(&i32::from_le_bytes(c.try_into().unwrap()))?,
                Uint64 => seq.serialize_element(&u64::from_le_bytes(c.try_into().unwrap()))?,
                Int64 => seq.serialize_element(&i64::from_le_bytes(c.try_into().unwrap()))?,
                Fp16 => seq.serialize_element(&half::f16::from_le_bytes([c[0], c[1]]).to_f32())?,
                Bf16 => seq.serialize_element(&half::bf16::from_le_bytes([c[0], c[1]]).to_f32())?,
                Fp32 => seq.serialize_element(&f32::from_le_bytes(c.try_into().unwrap()))?,
                Fp64 => seq.serialize_element(&f64::from_le_bytes(c.try_into().unwrap()))?,
                Bytes => seq.serialize_element(&c[0])?,
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_every_numeric_type() {
        for dt in ALL.into_iter().filter(|d| *d != Datatype::Bytes) {
            let data = if dt == Datatype::Bool {
                serde_json::json!([[true, false], [false, true]])
            } else {
                serde_json::json!([[1, 2], [3, 4]])
            };
            let bytes = from_json(dt, &data, 4).unwrap();
            assert_eq!(bytes.len(), 4 * dt.size().unwrap(), "{dt:?}");
            let back = serde_json::to_value(JsonData {
                datatype: dt,
                data: &bytes,
            })
            .unwrap();
            let flat: Vec<Value> = data
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().clone())
                .collect();
            if matches!(
                dt,
                Datatype::Fp16 | Datatype::Bf16 | Datatype::Fp32 | Datatype::Fp64
            ) {
                let got: Vec<f64> = back
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert_eq!(got, vec![1.0, 2.0, 3.0, 4.0], "{dt:?}");
            } else {
                assert_eq!(back, Value::Array(flat), "{dt:?}");
            }
        }
    }

    #[test]
    fn json_errors_name_the_problem() {
        let e = from_json(Datatype::Fp32, &serde_json::json!([1, 2, 3]), 4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 4 elements but data has 3"), "{e}");
        let e = from_json(Datatype::Uint8, &serde_json::json!([300]), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid UINT8"), "{e}");
        let e = from_json(Datatype::Int64, &serde_json::json!(["x"]), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid INT64"), "{e}");
        assert!(from_json(Datatype::Bytes, &serde_json::json!([1]), 1).is_err());
        assert_eq!(Tensor::element_count(&[2, -1]), None);
        assert_eq!(Tensor::element_count(&[i64::MAX, i64::MAX]), None);
    }
}
