//! Reading ONNX model files: the protobuf schema, the shared open checks, and `inspect`.

mod file;
mod inspect;
pub mod proto;

pub use file::{check_model_path, validate_model_file};
pub use inspect::{
    Dim, ExternalDataFile, FileInfo, GraphSummary, ModelInfo, ModelReport, Opset, TensorSignature,
    inspect,
};
