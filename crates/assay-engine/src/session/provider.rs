//! Execution providers: which one a user asks for, and how a request becomes the providers
//! registered on a session. A provider that cannot be used is either an error (strict) or a
//! visible fallback to CPU with the reason, never a silent one.

use std::{fmt, str::FromStr};

use ort::{ep::ExecutionProviderDispatch, session::Session};
use serde::{Deserialize, Serialize};

use super::SessionOptions;
use crate::{
    error::{EngineError, Result},
    runtime::Runtime,
};

/// An execution provider a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Provider {
    Cpu,
    Cuda,
    TensorRt,
}

/// A provider name that is not one of [`Provider`]'s (the caller says where it came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider '{0}' (expected cpu, cuda or tensorrt)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    /// `cpu`, `cuda`, `tensorrt` (also `trt`), in any case.
    fn from_str(s: &str) -> std::result::Result<Provider, UnknownProvider> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda),
            "tensorrt" | "trt" => Ok(Provider::TensorRt),
            _ => Err(UnknownProvider(s.trim().to_string())),
        }
    }
}

impl TryFrom<String> for Provider {
    type Error = UnknownProvider;
    fn try_from(s: String) -> std::result::Result<Provider, UnknownProvider> {
        s.parse()
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Provider {
    /// The short name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::TensorRt => "tensorrt",
        }
    }

    /// ONNX Runtime's name for it.
    pub fn ort_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
            Provider::TensorRt => "TensorrtExecutionProvider",
        }
    }

    pub fn is_gpu(self) -> bool {
        !matches!(self, Provider::Cpu)
    }
}

/// How a requested provider was set up.
#[derive(Clone)]
pub(crate) struct ProviderSetup {
    /// The providers registered on the session, in priority order (CPU is implicit).
    pub dispatch: Vec<ExecutionProviderDispatch>,
    /// Why the request fell back to CPU, when it did.
    pub fallback: Option<String>,
}

/// Decides how to serve `provider`, applying the fallback policy.
pub(crate) fn setup_provider(
    rt: &Runtime,
    provider: Provider,
    options: &SessionOptions,
) -> Result<ProviderSetup> {
    if provider == Provider::Cpu {
        return Ok(ProviderSetup {
            dispatch: Vec::new(),
            fallback: None,
        });
    }
    let problem = match gpu_dispatch(provider) {
        Err(reason) => Some(reason),
        Ok(_) if !rt.info.providers.iter().any(|p| p == provider.ort_name()) => Some(format!(
            "the loaded ONNX Runtime ({}) does not include {} (it offers {}); install the GPU build of ONNX Runtime",
            rt.info.version,
            provider.ort_name(),
            rt.info.providers.join(", ")
        )),
        Ok(dispatch) => {
            crate::gpu::preload_cuda_libraries(&rt.info.library);
            // Registration only reports problems once a session is created: probe it on a
            // tiny model so a missing CUDA/cuDNN shows up here, named, and not as a crash.
            match probe_registration(rt, &dispatch) {
                Ok(()) => {
                    return Ok(ProviderSetup {
                        dispatch,
                        fallback: None,
                    });
                }
                Err(reason) => Some(reason),
            }
        }
    };
    let reason = problem.expect("every other arm returned");
    if options.strict_provider {
        return Err(EngineError::ProviderUnavailable {
            provider: provider.as_str().into(),
            reason,
        });
    }
    Ok(ProviderSetup {
        dispatch: Vec::new(),
        fallback: Some(format!(
            "{} unavailable, fell back to CPU: {reason}",
            provider.as_str()
        )),
    })
}

#[allow(unused_variables)]
fn gpu_dispatch(provider: Provider) -> std::result::Result<Vec<ExecutionProviderDispatch>, String> {
    match provider {
        Provider::Cpu => Ok(Vec::new()),
        #[cfg(feature = "cuda")]
        Provider::Cuda => Ok(vec![ort::ep::CUDA::default().build().error_on_failure()]),
        #[cfg(feature = "tensorrt")]
        Provider::TensorRt => Ok(vec![
            ort::ep::TensorRT::default().build().error_on_failure(),
            ort::ep::CUDA::default().build(),
        ]),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "this build of Assay was compiled without the `{}` feature",
            other.as_str()
        )),
    }
}

/// The smallest valid model (Identity on one float), used to see whether a provider registers.
fn probe_registration(
    rt: &Runtime,
    dispatch: &[ExecutionProviderDispatch],
) -> std::result::Result<(), String> {
    let builder = Session::builder(rt.environment()).map_err(|e| e.to_string())?;
    let mut builder = builder
        .with_execution_providers(dispatch)
        .map_err(|e| e.to_string())?;
    builder
        .commit_from_memory(&identity_model())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `Identity(x: float[1]) -> y`, the smallest valid model, encoded with the ONNX schema.
fn identity_model() -> Vec<u8> {
    use prost::Message;

    use crate::model::proto::{
        GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
        ValueInfoProto, tensor_shape_proto, type_proto,
    };
    let value = |name: &str| ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(TensorShapeProto {
                    dim: vec![tensor_shape_proto::Dimension {
                        value: Some(tensor_shape_proto::dimension::Value::DimValue(1)),
                        ..Default::default()
                    }],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            name: Some("assay_provider_probe".into()),
            node: vec![NodeProto {
                input: vec!["x".into()],
                output: vec!["y".into()],
                op_type: Some("Identity".into()),
                ..Default::default()
            }],
            input: vec![value("x")],
            output: vec![value("y")],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        assert_eq!("TRT".parse::<Provider>().unwrap(), Provider::TensorRt);
        assert_eq!(" cuda ".parse::<Provider>().unwrap(), Provider::Cuda);
        assert_eq!(Provider::TensorRt.to_string(), "tensorrt");
        let e = "tpu".parse::<Provider>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown provider 'tpu' (expected cpu, cuda or tensorrt)"
        );
        // A config file names it the same way, and a wrong name is refused, not defaulted.
        let p: Provider = serde_json::from_str("\"cpu\"").unwrap();
        assert_eq!(p, Provider::Cpu);
        assert!(serde_json::from_str::<Provider>("\"tpu\"").is_err());
    }
}
