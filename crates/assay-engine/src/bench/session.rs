//! Building ONNX Runtime sessions for a plan, with honest execution-provider handling: a
//! provider that cannot be used is either an error (`--strict-provider`) or a visible
//! fallback to CPU, and a profiled run tells which provider really ran each node.

use std::{collections::BTreeMap, path::Path};

use ort::{
    ep::ExecutionProviderDispatch,
    session::{Session, builder::GraphOptimizationLevel},
};

use super::plan::{BenchmarkPlan, OptLevel, Provider};
use crate::{
    error::{EngineError, Result},
    runtime::Runtime,
};

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
    plan: &BenchmarkPlan,
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
            "the loaded ONNX Runtime ({}) does not include {} (it offers {}); install the GPU build with `assay runtime install --gpu`",
            rt.info.version,
            provider.ort_name(),
            rt.info.providers.join(", ")
        )),
        Ok(dispatch) => {
            super::gpu::preload_cuda_libraries(&rt.info.library);
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
    if plan.strict_provider {
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

/// Creates one session for the plan's settings and the chosen providers.
pub(crate) fn build_session(
    rt: &Runtime,
    model: &Path,
    plan: &BenchmarkPlan,
    setup: &ProviderSetup,
    profile_to: Option<&Path>,
) -> Result<Session> {
    let ctx = |what: &str| format!("configuring the session ({what})");
    let mut b =
        Session::builder(rt.environment()).map_err(|e| EngineError::runtime(ctx("builder"), e))?;
    b = b
        .with_optimization_level(match plan.opt_level {
            OptLevel::Disable => GraphOptimizationLevel::Disable,
            OptLevel::Basic => GraphOptimizationLevel::Level1,
            OptLevel::Extended => GraphOptimizationLevel::Level2,
            OptLevel::All => GraphOptimizationLevel::All,
        })
        .map_err(|e| EngineError::runtime(ctx("optimization level"), e))?;
    if let Some(n) = plan.intra_threads {
        b = b
            .with_intra_threads(n)
            .map_err(|e| EngineError::runtime(ctx("intra-op threads"), e))?;
    }
    if let Some(n) = plan.inter_threads {
        b = b
            .with_parallel_execution(n > 1)
            .map_err(|e| EngineError::runtime(ctx("parallel execution"), e))?
            .with_inter_threads(n)
            .map_err(|e| EngineError::runtime(ctx("inter-op threads"), e))?;
    }
    if !setup.dispatch.is_empty() {
        b = b
            .with_execution_providers(&setup.dispatch)
            .map_err(|e| EngineError::runtime(ctx("execution providers"), e))?;
    }
    if let Some(p) = profile_to {
        b = b
            .with_profiling(p)
            .map_err(|e| EngineError::runtime(ctx("profiling"), e))?;
    }
    b.commit_from_file(model)
        .map_err(|e| EngineError::ModelLoad {
            path: model.to_path_buf(),
            message: clean_ort_message(&e.to_string()),
        })
}

/// Opens one session of `model` for serving (the gateway's session pool): the same provider
/// policy as a benchmark without `--strict-provider`, so a missing GPU falls back to CPU and
/// the returned notice says why.
pub fn open_session(
    rt: &Runtime,
    model: &Path,
    provider: Provider,
    intra_threads: Option<usize>,
) -> Result<(Session, Option<String>)> {
    let mut plan = BenchmarkPlan::new(model);
    plan.intra_threads = intra_threads;
    let setup = setup_provider(rt, provider, &plan)?;
    let session = build_session(rt, model, &plan, &setup, None)?;
    Ok((session, setup.fallback))
}

/// ORT prefixes load errors with the path again; keep the part a user can act on.
fn clean_ort_message(msg: &str) -> String {
    let m = msg.trim();
    match m.find(" failed:") {
        Some(i) if m.starts_with("Load model from") => m[i + " failed:".len()..].trim().to_string(),
        _ => m.to_string(),
    }
}

/// Counts nodes per execution provider from an ONNX Runtime profile (a JSON array of
/// Chrome-trace events; node events carry `args.provider`).
pub(crate) fn nodes_by_provider(trace: &Path) -> Result<BTreeMap<String, u64>> {
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(default)]
        cat: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        args: Option<Args>,
    }
    #[derive(serde::Deserialize)]
    struct Args {
        #[serde(default)]
        provider: Option<String>,
    }
    let file = std::fs::File::open(trace).map_err(|e| EngineError::io(trace, e))?;
    let events: Vec<Event> = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| EngineError::runtime("reading the placement profile", e))?;
    let mut seen = std::collections::HashSet::new();
    let mut counts = BTreeMap::new();
    for e in events {
        if e.cat != "Node" || !e.name.ends_with("_kernel_time") {
            continue;
        }
        if let Some(p) = e.args.and_then(|a| a.provider)
            && seen.insert(e.name)
        {
            *counts.entry(p).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_errors_lose_the_repeated_path() {
        assert_eq!(
            clean_ort_message("Load model from /x.onnx failed:Fatal error: op is not registered"),
            "Fatal error: op is not registered"
        );
        assert_eq!(clean_ort_message("other"), "other");
    }
}
