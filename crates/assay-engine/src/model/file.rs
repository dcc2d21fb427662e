//! Opening a model file: the checks every verb shares (exists, is a file, has bytes) and
//! the zero-copy protobuf decode.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use prost::Message;

use super::proto;
use crate::error::{EngineError, Result};

/// Checks that `path` names a non-empty regular file and returns its size.
pub fn check_model_path(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::NotFound {
            path: path.to_path_buf(),
        },
        _ => EngineError::io(path, e),
    })?;
    if meta.is_dir() {
        return Err(EngineError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(EngineError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok(meta.len())
}

/// A decoded model whose large byte fields still live in the file's memory map.
pub(crate) struct MappedModel {
    pub path: PathBuf,
    pub size: u64,
    pub proto: proto::ModelProto,
}

/// Maps and decodes `path` as an ONNX `ModelProto`, with a specific error for each way it
/// can fail to be one.
pub(crate) fn decode_model(path: &Path) -> Result<MappedModel> {
    let size = check_model_path(path)?;
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    // SAFETY: the map is read-only; if another process truncates the file while we decode,
    // reads past the end raise SIGBUS, the same risk every mmap-based model loader takes.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| EngineError::io(path, e))?;
    let bytes = Bytes::from_owner(map);
    let not_a_model = |reason: String| EngineError::NotAModel {
        path: path.to_path_buf(),
        reason,
    };

    let proto = match proto::ModelProto::decode(bytes.clone()) {
        Ok(p) => p,
        Err(e) => {
            return Err(not_a_model(match looks_like_tensor(&bytes) {
                Some(hint) => hint,
                None => format!(
                    "the bytes are not a valid ONNX protobuf ({e}); the file may be truncated or corrupt"
                ),
            }));
        }
    };
    let Some(graph) = proto.graph.as_ref() else {
        return Err(not_a_model(
            looks_like_tensor(&bytes).unwrap_or_else(|| "it decodes as protobuf but has no graph; it may be truncated, or another kind of protobuf file".into()),
        ));
    };
    if proto.ir_version() <= 0 {
        return Err(not_a_model(
            "it has no IR version; the file may be truncated".into(),
        ));
    }
    if proto.opset_import.is_empty() {
        return Err(not_a_model(
            "it declares no operator sets; the file may be truncated".into(),
        ));
    }
    if graph.node.is_empty() && graph.output.is_empty() {
        return Err(not_a_model("its graph has no nodes and no outputs".into()));
    }
    Ok(MappedModel {
        path: path.to_path_buf(),
        size,
        proto,
    })
}

/// A serialized `TensorProto` (ONNX test data, `input_0.pb`) is the protobuf people most
/// often pass by mistake: name it when the bytes decode as one with a plausible shape.
fn looks_like_tensor(bytes: &Bytes) -> Option<String> {
    let t = proto::TensorProto::decode(bytes.clone()).ok()?;
    let plausible = t.data_type() > 0
        && t.data_type() <= 23
        && (!t.raw_data().is_empty()
            || !t.float_data.is_empty()
            || !t.int64_data.is_empty()
            || !t.int32_data.is_empty());
    plausible.then(|| {
        format!(
            "it is a serialized TensorProto (tensor data such as an ONNX test input{}, shape {:?}), not a model",
            if t.name().is_empty() { String::new() } else { format!(" named '{}'", t.name()) },
            t.dims
        )
    })
}

/// Checks that `path` is a readable ONNX model (without loading it into a runtime), so
/// callers report Assay's specific error before ONNX Runtime's generic one.
pub fn validate_model_file(path: &Path) -> Result<()> {
    decode_model(path).map(drop)
}
