//! Tensor element types, one vocabulary for the ONNX schema, ONNX Runtime and NumPy files.

use ort::value::TensorElementType as Ort;

/// A tensor element type. Names follow ONNX's lower-case spelling (`float`, `int64`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    Float,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Double,
    Uint32,
    Uint64,
    Complex64,
    Complex128,
    Bfloat16,
    Float8E4M3Fn,
    Float8E4M3Fnuz,
    Float8E5M2,
    Float8E5M2Fnuz,
    Uint4,
    Int4,
    Float4E2M1,
    /// A type code this build does not know (newer schema).
    Other(i32),
}

impl ElementType {
    /// `n` elements of this type, all `v`, as little-endian bytes (`None` for strings and
    /// types without a numeric value): constant inputs such as a sample rate.
    pub fn filled(self, n: usize, v: f64) -> Option<Vec<u8>> {
        let each: Vec<u8> = match self {
            ElementType::Float => (v as f32).to_le_bytes().to_vec(),
            ElementType::Double => v.to_le_bytes().to_vec(),
            ElementType::Float16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
            ElementType::Bfloat16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
            ElementType::Int64 => (v as i64).to_le_bytes().to_vec(),
            ElementType::Int32 => (v as i32).to_le_bytes().to_vec(),
            ElementType::Int16 => (v as i16).to_le_bytes().to_vec(),
            ElementType::Int8 => vec![v as i8 as u8],
            ElementType::Uint64 => (v as u64).to_le_bytes().to_vec(),
            ElementType::Uint32 => (v as u32).to_le_bytes().to_vec(),
            ElementType::Uint16 => (v as u16).to_le_bytes().to_vec(),
            ElementType::Uint8 => vec![v as u8],
            ElementType::Bool => vec![(v != 0.0) as u8],
            _ => return None,
        };
        Some(each.repeat(n))
    }

    /// The Open Inference Protocol's name (`FP32`, `INT64`, `BYTES`); `None` for types the
    /// protocol has no name for.
    pub fn oip_name(self) -> Option<&'static str> {
        use ElementType::*;
        Some(match self {
            Bool => "BOOL",
            Uint8 => "UINT8",
            Uint16 => "UINT16",
            Uint32 => "UINT32",
            Uint64 => "UINT64",
            Int8 => "INT8",
            Int16 => "INT16",
            Int32 => "INT32",
            Int64 => "INT64",
            Float16 => "FP16",
            Float => "FP32",
            Double => "FP64",
            Bfloat16 => "BF16",
            String => "BYTES",
            _ => return None,
        })
    }

    /// The type an Open Inference Protocol name (`FP32`) stands for.
    pub fn from_oip_name(name: &str) -> Option<Self> {
        use ElementType::*;
        [
            Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, Float16, Float, Double,
            Bfloat16, String,
        ]
        .into_iter()
        .find(|t| t.oip_name() == Some(name))
    }

    /// Maps the `TensorProto.DataType` code from the ONNX schema.
    pub fn from_onnx(code: i32) -> Self {
        use ElementType::*;
        match code {
            1 => Float,
            2 => Uint8,
            3 => Int8,
            4 => Uint16,
            5 => Int16,
            6 => Int32,
            7 => Int64,
            8 => String,
            9 => Bool,
            10 => Float16,
            11 => Double,
            12 => Uint32,
            13 => Uint64,
            14 => Complex64,
            15 => Complex128,
            16 => Bfloat16,
            17 => Float8E4M3Fn,
            18 => Float8E4M3Fnuz,
            19 => Float8E5M2,
            20 => Float8E5M2Fnuz,
            21 => Uint4,
            22 => Int4,
            23 => Float4E2M1,
            other => Other(other),
        }
    }

    /// The ONNX spelling, as `inspect` prints it.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        use ElementType::*;
        let s = match self {
            Float => "float",
            Uint8 => "uint8",
            Int8 => "int8",
            Uint16 => "uint16",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            String => "string",
            Bool => "bool",
            Float16 => "float16",
            Double => "double",
            Uint32 => "uint32",
            Uint64 => "uint64",
            Complex64 => "complex64",
            Complex128 => "complex128",
            Bfloat16 => "bfloat16",
            Float8E4M3Fn => "float8e4m3fn",
            Float8E4M3Fnuz => "float8e4m3fnuz",
            Float8E5M2 => "float8e5m2",
            Float8E5M2Fnuz => "float8e5m2fnuz",
            Uint4 => "uint4",
            Int4 => "int4",
            Float4E2M1 => "float4e2m1",
            Other(code) => return format!("type#{code}").into(),
        };
        s.into()
    }

    /// Storage size in bits; `None` for strings and unknown codes.
    pub fn bits(self) -> Option<u64> {
        use ElementType::*;
        Some(match self {
            Uint4 | Int4 | Float4E2M1 => 4,
            Uint8 | Int8 | Bool | Float8E4M3Fn | Float8E4M3Fnuz | Float8E5M2 | Float8E5M2Fnuz => 8,
            Uint16 | Int16 | Float16 | Bfloat16 => 16,
            Float | Int32 | Uint32 => 32,
            Double | Int64 | Uint64 | Complex64 => 64,
            Complex128 => 128,
            String | Other(_) => return None,
        })
    }

    /// Bytes taken by `count` elements (sub-byte types are packed), `None` when not fixed-size.
    pub fn byte_size(self, count: u64) -> Option<u64> {
        self.bits().map(|b| (count * b).div_ceil(8))
    }

    /// Maps ONNX Runtime's view of a type.
    pub fn from_ort(t: Ort) -> Self {
        use ElementType::*;
        match t {
            Ort::Float32 => Float,
            Ort::Uint8 => Uint8,
            Ort::Int8 => Int8,
            Ort::Uint16 => Uint16,
            Ort::Int16 => Int16,
            Ort::Int32 => Int32,
            Ort::Int64 => Int64,
            Ort::String => String,
            Ort::Bool => Bool,
            Ort::Float16 => Float16,
            Ort::Float64 => Double,
            Ort::Uint32 => Uint32,
            Ort::Uint64 => Uint64,
            Ort::Bfloat16 => Bfloat16,
            Ort::Complex64 => Complex64,
            Ort::Complex128 => Complex128,
            Ort::Float8E4M3FN => Float8E4M3Fn,
            Ort::Float8E4M3FNUZ => Float8E4M3Fnuz,
            Ort::Float8E5M2 => Float8E5M2,
            Ort::Float8E5M2FNUZ => Float8E5M2Fnuz,
            Ort::Uint4 => Uint4,
            Ort::Int4 => Int4,
            Ort::Float4E2M1 => Float4E2M1,
            _ => Other(-1),
        }
    }

    /// ONNX Runtime's name for this type; `None` for codes this build does not know.
    pub fn to_ort(self) -> Option<Ort> {
        use ElementType::*;
        Some(match self {
            Float => Ort::Float32,
            Uint8 => Ort::Uint8,
            Int8 => Ort::Int8,
            Uint16 => Ort::Uint16,
            Int16 => Ort::Int16,
            Int32 => Ort::Int32,
            Int64 => Ort::Int64,
            String => Ort::String,
            Bool => Ort::Bool,
            Float16 => Ort::Float16,
            Double => Ort::Float64,
            Uint32 => Ort::Uint32,
            Uint64 => Ort::Uint64,
            Bfloat16 => Ort::Bfloat16,
            Complex64 => Ort::Complex64,
            Complex128 => Ort::Complex128,
            Float8E4M3Fn => Ort::Float8E4M3FN,
            Float8E4M3Fnuz => Ort::Float8E4M3FNUZ,
            Float8E5M2 => Ort::Float8E5M2,
            Float8E5M2Fnuz => Ort::Float8E5M2FNUZ,
            Uint4 => Ort::Uint4,
            Int4 => Ort::Int4,
            Float4E2M1 => Ort::Float4E2M1,
            Other(_) => return None,
        })
    }

    /// The type a NumPy dtype string stores (`<f4`, `|b1`, `=i8`, ...); the inverse of
    /// [`ElementType::numpy_descr`].
    pub fn from_numpy_descr(descr: &str) -> Option<Self> {
        let normalized = descr.replace(['=', '|'], "<");
        use ElementType::*;
        [
            Float, Double, Float16, Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64, Bool,
            Complex64, Complex128,
        ]
        .into_iter()
        .find(|t| t.numpy_descr().map(|d| d.replace('|', "<")) == Some(normalized.clone()))
    }

    /// The NumPy dtype string (`<f4`, `|b1`, ...) that stores this type, for .npy inputs.
    pub fn numpy_descr(self) -> Option<&'static str> {
        use ElementType::*;
        Some(match self {
            Float => "<f4",
            Double => "<f8",
            Float16 => "<f2",
            Uint8 => "|u1",
            Int8 => "|i1",
            Uint16 => "<u2",
            Int16 => "<i2",
            Int32 => "<i4",
            Int64 => "<i8",
            Uint32 => "<u4",
            Uint64 => "<u8",
            Bool => "|b1",
            Complex64 => "<c8",
            Complex128 => "<c16",
            _ => return None,
        })
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl serde::Serialize for ElementType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_byte_types_pack() {
        assert_eq!(ElementType::Int4.byte_size(3), Some(2));
        assert_eq!(ElementType::Float.byte_size(10), Some(40));
        assert_eq!(ElementType::String.byte_size(1), None);
    }

    #[test]
    fn onnx_codes_round_trip_to_names() {
        assert_eq!(ElementType::from_onnx(1).name(), "float");
        assert_eq!(ElementType::from_onnx(10).name(), "float16");
        assert_eq!(ElementType::from_onnx(99).name(), "type#99");
    }
}
