//! The gRPC infer request and response (`inference.ModelInferRequest` and
//! `ModelInferResponse`), and the metadata and Triton model configuration messages built
//! from a loaded version. The message types are generated at build time from the
//! descriptors in the tritonclient wheel (see build.rs).

use bytes::Bytes;

use super::{Gathered, InferRequest, bad, check_input, check_raw_size, wanted_outputs};
use crate::{
    error::GatewayError,
    model::{IoSpec, LoadedVersion},
    tensor::{Datatype, Tensor},
};

pub use assay_protocol::pb;

/// Decodes a request against the version's signature. Inputs come either all as
/// `raw_input_contents` (what tritonclient and perf_analyzer send) or each with typed
/// `contents`.
pub fn parse(
    req: pb::ModelInferRequest,
    inputs: &[IoSpec],
    outputs: &[IoSpec],
    batched: bool,
) -> Result<InferRequest, GatewayError> {
    let raw = req.raw_input_contents;
    if !raw.is_empty() && raw.len() != req.inputs.len() {
        return Err(bad(format!(
            "raw_input_contents has {} entries but the request has {} inputs; give one per input, in order",
            raw.len(),
            req.inputs.len()
        )));
    }
    let mut gathered = Gathered::default();
    for (i, input) in req.inputs.into_iter().enumerate() {
        let (datatype, count) = check_input(inputs, &input.name, &input.datatype, &input.shape)?;
        let data = match (raw.get(i), input.contents) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "input '{}' has both typed contents and raw_input_contents; give one",
                    input.name
                )));
            }
            (Some(bytes), None) => {
                check_raw_size(
                    &input.name,
                    datatype,
                    &input.shape,
                    count,
                    bytes.len(),
                    "its raw_input_contents length",
                )?;
                bytes.to_vec()
            }
            (None, Some(contents)) => typed(&input.name, datatype, count, contents)?,
            (None, None) => {
                return Err(bad(format!(
                    "input '{}' has neither contents nor raw_input_contents",
                    input.name
                )));
            }
        };
        gathered.add(Tensor {
            name: input.name,
            datatype,
            shape: input.shape,
            data,
        })?;
    }
    let (ordered, rows) = gathered.finish(inputs, batched)?;
    let asked = req.outputs.into_iter().map(|o| (o.name, true)).collect();
    Ok(InferRequest {
        id: (!req.id.is_empty()).then_some(req.id),
        inputs: ordered,
        outputs: wanted_outputs(outputs, asked, true)?,
        rows,
    })
}

/// Typed contents as little-endian bytes, from the field the datatype uses.
fn typed(
    name: &str,
    datatype: Datatype,
    count: usize,
    c: pb::InferTensorContents,
) -> Result<Vec<u8>, GatewayError> {
    fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    let narrow = |v: &[i32], lo: i64, hi: i64| -> Result<(), GatewayError> {
        match v.iter().position(|&x| (x as i64) < lo || (x as i64) > hi) {
            Some(i) => Err(bad(format!(
                "input '{name}': element {i} ({}) is not a valid {}",
                v[i],
                datatype.name()
            ))),
            None => Ok(()),
        }
    };
    use Datatype::*;
    let (len, data) = match datatype {
        Bool => (
            c.bool_contents.len(),
            c.bool_contents.iter().map(|&b| b as u8).collect(),
        ),
        Int8 => {
            narrow(&c.int_contents, i8::MIN.into(), i8::MAX.into())?;
            (
                c.int_contents.len(),
                le(&c.int_contents, |x| (x as i8).to_le_bytes()),
            )
        }
        Int16 => {
            narrow(&c.int_contents, i16::MIN.into(), i16::MAX.into())?;
            (
                c.int_contents.len(),
                le(&c.int_contents, |x| (x as i16).to_le_bytes()),
            )
        }
        Int32 => (c.int_contents.len(), le(&c.int_contents, i32::to_le_bytes)),
        Int64 => (
            c.int64_contents.len(),
            le(&c.int64_contents, i64::to_le_bytes),
        ),
        Uint8 | Uint16 => {
            let max = if datatype == Uint8 {
                u8::MAX as u32
            } else {
                u16::MAX as u32
            };
            if let Some(i) = c.uint_contents.iter().position(|&x| x > max) {
                return Err(bad(format!(
                    "input '{name}': element {i} ({}) is not a valid {}",
                    c.uint_contents[i],
                    datatype.name()
                )));
            }
            let data = if datatype == Uint8 {
                c.uint_contents.iter().map(|&x| x as u8).collect()
            } else {
                le(&c.uint_contents, |x| (x as u16).to_le_bytes())
            };
            (c.uint_contents.len(), data)
        }
        Uint32 => (
            c.uint_contents.len(),
            le(&c.uint_contents, u32::to_le_bytes),
        ),
        Uint64 => (
            c.uint64_contents.len(),
            le(&c.uint64_contents, u64::to_le_bytes),
        ),
        Fp32 => (
            c.fp32_contents.len(),
            le(&c.fp32_contents, f32::to_le_bytes),
        ),
        Fp64 => (
            c.fp64_contents.len(),
            le(&c.fp64_contents, f64::to_le_bytes),
        ),
        Fp16 | Bf16 | Bytes => {
            return Err(bad(format!(
                "input '{name}': {} has no typed contents field; send it in raw_input_contents",
                datatype.name()
            )));
        }
    };
    if len != count {
        return Err(bad(format!(
            "input '{name}': the shape holds {count} elements but its contents have {len}"
        )));
    }
    Ok(data)
}

/// The response: the asked-for outputs' descriptions, and their bytes as raw contents (the
/// output tensors are moved in, not copied).
pub fn encode(
    v: &LoadedVersion,
    req: &InferRequest,
    outputs: Vec<Tensor>,
) -> Result<pb::ModelInferResponse, GatewayError> {
    let mut by_name: std::collections::HashMap<String, Tensor> =
        outputs.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut described = Vec::with_capacity(req.outputs.len());
    let mut raw = Vec::with_capacity(req.outputs.len());
    for (name, _) in &req.outputs {
        let t = by_name
            .remove(name)
            .ok_or_else(|| GatewayError::Internal(format!("the model gave no output '{name}'")))?;
        described.push(pb::model_infer_response::InferOutputTensor {
            name: t.name,
            datatype: t.datatype.name().to_string(),
            shape: t.shape,
            ..Default::default()
        });
        raw.push(Bytes::from(t.data));
    }
    Ok(pb::ModelInferResponse {
        model_name: v.model.clone(),
        model_version: v.version.clone(),
        id: req.id.clone().unwrap_or_default(),
        outputs: described,
        raw_output_contents: raw,
        ..Default::default()
    })
}

/// Model metadata: `versions` lists every release of the model unless one was asked for.
pub fn metadata(v: &LoadedVersion, versions: Vec<String>) -> pb::ModelMetadataResponse {
    let io = |specs: &[IoSpec]| {
        specs
            .iter()
            .map(|s| pb::model_metadata_response::TensorMetadata {
                name: s.name.clone(),
                datatype: s.datatype.name().to_string(),
                shape: s.shape.clone(),
            })
            .collect()
    };
    pb::ModelMetadataResponse {
        name: v.model.clone(),
        versions,
        platform: "onnx_onnxv1".into(),
        inputs: io(&v.inputs),
        outputs: io(&v.outputs),
    }
}

/// Triton's model configuration, as the REST route gives it: with `max_batch_size` > 0 the
/// dims leave out the batch dimension, which is how perf_analyzer shapes its requests.
pub fn model_config(v: &LoadedVersion) -> pb::ModelConfig {
    let max_batch = v.max_batch_size();
    let dims = |s: &IoSpec| v.config_dims(s);
    let data_type = |d: Datatype| {
        pb::DataType::from_str_name(&d.triton_name()).unwrap_or(pb::DataType::TypeInvalid) as i32
    };
    let mut config = pb::ModelConfig {
        name: v.model.clone(),
        platform: "onnxruntime_onnx".into(),
        backend: "onnxruntime".into(),
        version_policy: Some(pb::ModelVersionPolicy {
            policy_choice: Some(pb::model_version_policy::PolicyChoice::Specific(
                pb::model_version_policy::Specific {
                    // Triton's versions are numbers; Assay's are release names, so the
                    // name is in the parameters below.
                    versions: vec![],
                },
            )),
        }),
        max_batch_size: max_batch as i32,
        input: v
            .inputs
            .iter()
            .map(|s| pb::ModelInput {
                name: s.name.clone(),
                data_type: data_type(s.datatype),
                dims: dims(s),
                ..Default::default()
            })
            .collect(),
        output: v
            .outputs
            .iter()
            .map(|s| pb::ModelOutput {
                name: s.name.clone(),
                data_type: data_type(s.datatype),
                dims: dims(s),
                ..Default::default()
            })
            .collect(),
        instance_group: vec![pb::ModelInstanceGroup {
            name: v.model.clone(),
            kind: pb::model_instance_group::Kind::Cpu as i32,
            count: v.settings.instances as i32,
            ..Default::default()
        }],
        parameters: [(
            "assay_version".to_string(),
            pb::ModelParameter {
                string_value: v.version.clone(),
            },
        )]
        .into(),
        ..Default::default()
    };
    if max_batch > 0 && v.settings.dynamic_batching {
        config.scheduling_choice = Some(pb::model_config::SchedulingChoice::DynamicBatching(
            pb::ModelDynamicBatching {
                preferred_batch_size: v
                    .settings
                    .preferred_batch_size
                    .iter()
                    .map(|&n| n as i32)
                    .collect(),
                max_queue_delay_microseconds: v.settings.max_queue_delay.as_micros() as u64,
                default_queue_policy: Some(pb::ModelQueuePolicy {
                    max_queue_size: v.settings.queue_size as u32,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ));
    }
    config
}

/// The statistics extension's answer as protobuf (the same figures as REST's JSON).
pub fn statistics(answer: crate::statistics::StatsAnswer) -> pb::ModelStatisticsResponse {
    use crate::statistics::StatDuration;
    let d = |s: StatDuration| {
        Some(pb::StatisticDuration {
            count: s.count,
            ns: s.ns,
        })
    };
    pb::ModelStatisticsResponse {
        model_stats: answer
            .model_stats
            .into_iter()
            .map(|m| {
                let i = m.inference_stats;
                pb::ModelStatistics {
                    name: m.name,
                    version: m.version,
                    last_inference: m.last_inference,
                    inference_count: m.inference_count,
                    execution_count: m.execution_count,
                    inference_stats: Some(pb::InferStatistics {
                        success: d(i.success),
                        fail: d(i.fail),
                        queue: d(i.queue),
                        compute_input: d(i.compute_input),
                        compute_infer: d(i.compute_infer),
                        compute_output: d(i.compute_output),
                        cache_hit: d(i.cache_hit),
                        cache_miss: d(i.cache_miss),
                    }),
                    ..Default::default()
                }
            })
            .collect(),
    }
}
