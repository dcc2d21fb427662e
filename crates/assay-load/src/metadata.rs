//! What the server says about itself and the model (Open Inference Protocol metadata, over
//! REST or gRPC): its name and version, and the model's inputs, from which the requests are
//! made.

use assay_engine::{dtype::ElementType, inputs::ServedInput};
use serde::Deserialize;

use crate::{
    error::LoadError,
    grpc::CallError,
    target::Target,
    wire::{Conn, Prepared, kind_of_code},
};

/// The served model as its server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedModel {
    /// The server's name and version (`assay-gateway 0.1.0`).
    pub server: String,
    pub inputs: Vec<ServedInput>,
    pub outputs: Vec<String>,
}

#[derive(Deserialize)]
struct ServerMetadata {
    name: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
struct ModelMetadata {
    inputs: Vec<TensorMetadata>,
    #[serde(default)]
    outputs: Vec<TensorMetadata>,
}

#[derive(Deserialize)]
struct TensorMetadata {
    name: String,
    datatype: String,
    #[serde(default)]
    shape: Vec<i64>,
}

/// Reads the server's and the model's metadata.
pub(crate) async fn fetch(
    target: &Target,
    prepared: &Prepared,
    conn: &mut Conn,
) -> Result<ServedModel, LoadError> {
    let (server, inputs, outputs) = match conn {
        Conn::Http(_) => {
            let s: ServerMetadata = conn.get_json(target, prepared, "/v2").await?;
            let m: ModelMetadata = conn
                .get_json(target, prepared, &target.model_path())
                .await?;
            (
                s,
                m.inputs,
                m.outputs.into_iter().map(|o| o.name).collect::<Vec<_>>(),
            )
        }
        Conn::Grpc(..) => {
            let grpc_err = |e: CallError| match e {
                CallError::Transport(message) => LoadError::Unreachable {
                    url: target.url.clone(),
                    message,
                },
                CallError::Status(s) => LoadError::Server {
                    url: target.model_url(),
                    status: format!("gRPC {:?}", s.code()),
                    message: s.message().to_string(),
                    kind: kind_of_code(s.code()),
                },
                CallError::Http(status) => LoadError::Server {
                    url: target.model_url(),
                    status: format!("HTTP {status}"),
                    message: "no gRPC status in the answer".into(),
                    kind: crate::error::kind_of_status(status),
                },
                CallError::Malformed(message) => LoadError::Protocol {
                    url: target.model_url(),
                    message,
                },
            };
            let s: assay_protocol::pb::ServerMetadataResponse = conn
                .grpc_call(
                    prepared,
                    "ServerMetadata",
                    &assay_protocol::pb::ServerMetadataRequest {},
                )
                .await
                .map_err(grpc_err)?;
            let m: assay_protocol::pb::ModelMetadataResponse = conn
                .grpc_call(
                    prepared,
                    "ModelMetadata",
                    &assay_protocol::pb::ModelMetadataRequest {
                        name: target.model.clone(),
                        version: target.version.clone().unwrap_or_default(),
                    },
                )
                .await
                .map_err(grpc_err)?;
            let t = |v: Vec<assay_protocol::pb::model_metadata_response::TensorMetadata>| {
                v.into_iter()
                    .map(|t| TensorMetadata {
                        name: t.name,
                        datatype: t.datatype,
                        shape: t.shape,
                    })
                    .collect::<Vec<_>>()
            };
            let outputs = t(m.outputs).into_iter().map(|o| o.name).collect();
            (
                ServerMetadata {
                    name: s.name,
                    version: s.version,
                },
                t(m.inputs),
                outputs,
            )
        }
    };
    let inputs = inputs
        .into_iter()
        .map(|i| {
            let ty =
                ElementType::from_oip_name(&i.datatype).ok_or_else(|| LoadError::Protocol {
                    url: target.model_url(),
                    message: format!(
                        "input '{}' has the datatype '{}', which the protocol does not define",
                        i.name, i.datatype
                    ),
                })?;
            Ok(ServedInput {
                name: i.name,
                ty,
                shape: i.shape,
            })
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    if inputs.is_empty() {
        return Err(LoadError::Protocol {
            url: target.model_url(),
            message: "the model's metadata lists no inputs".into(),
        });
    }
    Ok(ServedModel {
        server: format!("{} {}", server.name, server.version)
            .trim()
            .to_string(),
        inputs,
        outputs,
    })
}
