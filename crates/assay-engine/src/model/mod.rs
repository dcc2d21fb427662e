//! Reading ONNX model files: the protobuf schema, the shared open checks, and `inspect`.

mod dims;
pub(crate) mod file;
pub mod graph;
mod inspect;
pub mod proto;

pub use dims::{
    DimBindings, DimSource, DimUse, FreeDim, axis_handle, bindings, format_bindings, free_dims,
    is_placeholder_symbol, unnamed_handle,
};
pub use file::{check_model_path, validate_model_file};
pub use inspect::{
    Dim, ExternalDataFile, FileInfo, GraphSummary, ModelInfo, ModelReport, Opset, TensorSignature,
    inspect, read_metadata, suggest_dims,
};
