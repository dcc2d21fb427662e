//! A tensor held in host memory: its element type, shape and little-endian C-order bytes
//! (or strings). What goes into a session and what comes out of one, what `.npy`/`.npz` files
//! hold, and what an output comparison reads as numbers.

use std::{io::Cursor, path::Path};

use ort::value::{DynTensorValueType, DynValue};

use crate::{
    dtype::ElementType,
    error::{EngineError, Result},
    model::proto,
};

/// Raw tensor data: little-endian element bytes, or strings.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bytes(Vec<u8>),
    Strings(Vec<String>),
}

/// A tensor in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub ty: ElementType,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

impl HostTensor {
    /// The number of elements its shape holds.
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d.max(0) as u64).product()
    }

    /// Builds the ONNX Runtime value (`what` names it in errors: an input, an output).
    pub fn to_value(&self, what: &str) -> Result<DynValue> {
        let err = |e: ort::Error| EngineError::runtime(format!("creating {what}"), e);
        match &self.data {
            TensorData::Strings(s) => {
                ort::value::Tensor::from_string_array((self.shape.clone(), s.as_slice()))
                    .map(|t| t.into_dyn())
                    .map_err(err)
            }
            TensorData::Bytes(bytes) => {
                let ort_ty = self.ty.to_ort().ok_or_else(|| {
                    EngineError::Unsupported(format!(
                        "{what} has type {}, which ONNX Runtime values cannot hold",
                        self.ty
                    ))
                })?;
                let allocator = ort::memory::Allocator::default();
                let mut t = ort::value::DynTensor::new(&allocator, ort_ty, self.shape.clone())
                    .map_err(err)?;
                let want = self.ty.byte_size(self.elements()).unwrap_or(0) as usize;
                if want != bytes.len() {
                    return Err(EngineError::Unsupported(format!(
                        "{what}: {} data bytes for shape {:?} of {} (expected {want})",
                        bytes.len(),
                        self.shape,
                        self.ty
                    )));
                }
                if !bytes.is_empty() {
                    // SAFETY: ONNX Runtime allocated `byte_size(elements)` bytes for this type
                    // and shape, and `bytes` has exactly that length (checked above).
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            t.data_ptr_mut().cast::<u8>(),
                            bytes.len(),
                        )
                    };
                }
                Ok(t.into_dyn())
            }
        }
    }

    /// Copies a session's output into host memory (`what` names it in errors).
    pub fn from_value(value: &DynValue, what: &str) -> Result<HostTensor> {
        let t = value.view().downcast::<DynTensorValueType>().map_err(|_| {
            EngineError::Unsupported(format!(
                "{what} is not a tensor (a sequence or a map), which cannot be compared"
            ))
        })?;
        let ty = ElementType::from_ort(*t.data_type());
        let shape: Vec<i64> = t.shape().iter().copied().collect();
        if ty == ElementType::String {
            let (_, strings) = value
                .try_extract_strings()
                .map_err(|e| EngineError::runtime(format!("reading {what}"), e))?;
            return Ok(HostTensor {
                ty,
                shape,
                data: TensorData::Strings(strings),
            });
        }
        let n: u64 = shape.iter().map(|&d| d.max(0) as u64).product();
        let bytes = ty.byte_size(n).ok_or_else(|| {
            EngineError::Unsupported(format!("{what} has type {ty}, which cannot be read"))
        })? as usize;
        let mut data = vec![0u8; bytes];
        if bytes > 0 {
            // SAFETY: a CPU tensor of this type and shape holds exactly `bytes` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(t.data_ptr().cast::<u8>(), data.as_mut_ptr(), bytes)
            };
        }
        Ok(HostTensor {
            ty,
            shape,
            data: TensorData::Bytes(data),
        })
    }

    /// A `TensorProto`'s contents (a weight): raw bytes, the typed repeated fields, or
    /// external data relative to `base`; `None` when they cannot be read or do not fit.
    pub fn from_initializer(t: &proto::TensorProto, base: &Path) -> Option<HostTensor> {
        let ty = ElementType::from_onnx(t.data_type());
        let n: u64 = t.dims.iter().map(|&d| d.max(0) as u64).product();
        let bytes: Vec<u8> = if t.data_location() == proto::tensor_proto::DataLocation::External {
            let field = |k: &str| {
                t.external_data
                    .iter()
                    .find(|e| e.key() == k)
                    .map(|e| e.value().to_string())
            };
            // Only this weight's bytes: an external-data file may hold gigabytes.
            use std::io::{Read, Seek, SeekFrom};
            let mut file = std::fs::File::open(base.join(field("location")?)).ok()?;
            let offset: u64 = field("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let size = file.metadata().ok()?.len();
            let len = match field("length").and_then(|l| l.parse::<u64>().ok()) {
                Some(l) => l,
                None => size.checked_sub(offset)?,
            };
            // A length or offset past the file's end is a broken model, not an allocation.
            if offset.checked_add(len)? > size {
                return None;
            }
            file.seek(SeekFrom::Start(offset)).ok()?;
            let mut data = vec![0u8; usize::try_from(len).ok()?];
            file.read_exact(&mut data).ok()?;
            data
        } else if let Some(raw) = t.raw_data.as_ref().filter(|r| !r.is_empty()) {
            raw.to_vec()
        } else {
            match ty {
                ElementType::Float => t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ElementType::Double => t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ElementType::Int64 => t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ElementType::Int32 => t.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                // Narrower types are stored widened in int32_data.
                ElementType::Int16
                | ElementType::Uint16
                | ElementType::Float16
                | ElementType::Bfloat16 => t
                    .int32_data
                    .iter()
                    .flat_map(|v| (*v as u16).to_le_bytes())
                    .collect(),
                ElementType::Int8 | ElementType::Uint8 | ElementType::Bool => {
                    t.int32_data.iter().map(|v| *v as u8).collect()
                }
                _ => return None,
            }
        };
        (ty.byte_size(n)? as usize == bytes.len()).then_some(HostTensor {
            ty,
            shape: t.dims.clone(),
            data: TensorData::Bytes(bytes),
        })
    }

    /// The elements as numbers, for the types that have one value per element (floats of
    /// every width, integers, booleans); `None` for strings, complex and packed types.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        let TensorData::Bytes(b) = &self.data else {
            return None;
        };
        macro_rules! le {
            ($t:ty, $n:expr) => {
                b.chunks_exact($n)
                    .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")) as f64)
                    .collect()
            };
        }
        Some(match self.ty {
            ElementType::Float => le!(f32, 4),
            ElementType::Double => le!(f64, 8),
            ElementType::Float16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            ElementType::Bfloat16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            ElementType::Int64 => le!(i64, 8),
            ElementType::Int32 => le!(i32, 4),
            ElementType::Int16 => le!(i16, 2),
            ElementType::Uint64 => le!(u64, 8),
            ElementType::Uint32 => le!(u32, 4),
            ElementType::Uint16 => le!(u16, 2),
            ElementType::Int8 => b.iter().map(|&v| v as i8 as f64).collect(),
            ElementType::Uint8 | ElementType::Bool => b.iter().map(|&v| v as f64).collect(),
            _ => return None,
        })
    }

    /// The `.npy` file of this tensor (version 1.0 header, C order); `None` for types NumPy
    /// has no dtype for (strings, bfloat16, packed types).
    pub fn to_npy(&self) -> Option<Vec<u8>> {
        let descr = self.ty.numpy_descr()?;
        let TensorData::Bytes(b) = &self.data else {
            return None;
        };
        let shape = match self.shape.len() {
            0 => "()".to_string(),
            1 => format!("({},)", self.shape[0]),
            _ => format!(
                "({})",
                self.shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + b.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b);
        Some(out)
    }

    /// Reads a `.npy` file's bytes (little-endian, C order).
    pub fn from_npy(bytes: &[u8]) -> std::result::Result<HostTensor, String> {
        let mut cursor = Cursor::new(bytes);
        let header = npyz::NpyHeader::from_reader(&mut cursor)
            .map_err(|e| format!("not a .npy file: {e}"))?;
        let offset = cursor.position() as usize;
        let meta = npyz::NpyFile::with_header(header, &[][..]);
        let descr = meta
            .dtype()
            .descr()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string();
        if descr.starts_with('>') && !descr.ends_with('1') {
            return Err(format!(
                "big-endian arrays ('{descr}') are not supported; save with a little-endian dtype"
            ));
        }
        if meta.order() == npyz::Order::Fortran {
            return Err(
                "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
            );
        }
        let ty = ElementType::from_numpy_descr(&descr)
            .ok_or_else(|| format!("unsupported dtype '{descr}'"))?;
        let shape: Vec<i64> = meta.shape().iter().map(|&d| d as i64).collect();
        let n: u64 = meta.shape().iter().product();
        let want = ty.byte_size(n).unwrap_or(0) as usize;
        let data = &bytes[offset..];
        if data.len() < want {
            return Err(format!(
                "the file is truncated: the header promises {want} data bytes, {} are present",
                data.len()
            ));
        }
        Ok(HostTensor {
            ty,
            shape,
            data: TensorData::Bytes(data[..want].to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_and_numbers() {
        let values = [1.5f32, -2.0, 0.25, 8.0, 0.0, -0.5];
        let t = HostTensor {
            ty: ElementType::Float,
            shape: vec![2, 3],
            data: TensorData::Bytes(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        };
        let npy = t.to_npy().unwrap();
        assert_eq!(&npy[..6], b"\x93NUMPY");
        assert_eq!((10 + u16::from_le_bytes([npy[8], npy[9]]) as usize) % 64, 0);
        let back = HostTensor::from_npy(&npy).unwrap();
        assert_eq!(back, t);
        assert_eq!(
            back.to_f64().unwrap(),
            values.iter().map(|&v| v as f64).collect::<Vec<_>>()
        );
        let h = HostTensor {
            ty: ElementType::Float16,
            shape: vec![1],
            data: TensorData::Bytes(half::f16::from_f32(0.5).to_le_bytes().to_vec()),
        };
        assert_eq!(h.to_f64().unwrap(), vec![0.5]);
        let truncated = &npy[..npy.len() - 4];
        assert!(
            HostTensor::from_npy(truncated)
                .unwrap_err()
                .contains("truncated")
        );
    }
}
