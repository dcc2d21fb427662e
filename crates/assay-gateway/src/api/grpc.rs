//! The gRPC surface: KServe v2's `inference.GRPCInferenceService` (live, ready, model ready,
//! server and model metadata, `ModelInfer`) and Triton's model configuration and statistics,
//! so `tritonclient.grpc` and `perf_analyzer -i grpc` work unchanged. Requests go through the
//! same core path as REST ([`crate::serving`]): the same tokens, rate limits, routing,
//! canaries, batching and metrics. What the gateway does not offer (repository control,
//! shared memory, streaming, trace and log settings) answers UNIMPLEMENTED.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::StatusCode};
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    api::{
        App,
        infer::{EXTENSIONS, SERVED_BY, listed_versions, readiness, stats},
    },
    protocol::grpc::{
        self as wire,
        pb::{self, grpc_inference_service_server::GrpcInferenceService},
    },
    serving::{self, Call, Protocol},
    trace_context::TRACEPARENT,
};

/// The service over the gateway's parts.
pub struct Grpc {
    app: App,
}

/// The tonic service, with the request size limit of REST.
pub fn service(app: App) -> pb::grpc_inference_service_server::GrpcInferenceServiceServer<Grpc> {
    let limit = app.config.max_request_bytes;
    pb::grpc_inference_service_server::GrpcInferenceServiceServer::new(Grpc { app })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX)
}

/// The client's address: axum's connection info, as the gRPC routes are served by the same
/// server code as REST.
fn peer<T>(req: &Request<T>) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| req.remote_addr().map(|a| a.ip()))
}

/// An empty version field means "the model's routing", as in the protocol.
fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

#[tonic::async_trait]
impl GrpcInferenceService for Grpc {
    async fn server_live(
        &self,
        _: Request<pb::ServerLiveRequest>,
    ) -> Result<Response<pb::ServerLiveResponse>, Status> {
        Ok(Response::new(pb::ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<pb::ServerReadyRequest>,
    ) -> Result<Response<pb::ServerReadyResponse>, Status> {
        Ok(Response::new(pb::ServerReadyResponse {
            ready: self.app.ready(),
        }))
    }

    async fn model_ready(
        &self,
        req: Request<pb::ModelReadyRequest>,
    ) -> Result<Response<pb::ModelReadyResponse>, Status> {
        self.app
            .auth
            .serving(&req.metadata().clone().into_headers())?;
        let r = req.get_ref();
        let ready = match readiness(&self.app.registry, &r.name, version(&r.version)) {
            StatusCode::OK => true,
            StatusCode::NOT_FOUND => {
                return Err(Status::not_found(match version(&r.version) {
                    Some(v) => format!("model '{}' has no version '{v}'", r.name),
                    None => format!("unknown model '{}'", r.name),
                }));
            }
            _ => false,
        };
        Ok(Response::new(pb::ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<pb::ServerMetadataRequest>,
    ) -> Result<Response<pb::ServerMetadataResponse>, Status> {
        Ok(Response::new(pb::ServerMetadataResponse {
            name: "assay-gateway".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        req: Request<pb::ModelMetadataRequest>,
    ) -> Result<Response<pb::ModelMetadataResponse>, Status> {
        self.app
            .auth
            .serving(&req.metadata().clone().into_headers())?;
        let r = req.get_ref();
        let pinned = version(&r.version);
        let v = self.app.registry.describe(&r.name, pinned).await?;
        let versions = listed_versions(&self.app.registry, &v, pinned.is_some());
        Ok(Response::new(wire::metadata(&v, versions)))
    }

    async fn model_config(
        &self,
        req: Request<pb::ModelConfigRequest>,
    ) -> Result<Response<pb::ModelConfigResponse>, Status> {
        self.app
            .auth
            .serving(&req.metadata().clone().into_headers())?;
        let r = req.get_ref();
        let v = self
            .app
            .registry
            .describe(&r.name, version(&r.version))
            .await?;
        Ok(Response::new(pb::ModelConfigResponse {
            config: Some(wire::model_config(&v)),
        }))
    }

    async fn model_statistics(
        &self,
        req: Request<pb::ModelStatisticsRequest>,
    ) -> Result<Response<pb::ModelStatisticsResponse>, Status> {
        self.app
            .auth
            .serving(&req.metadata().clone().into_headers())?;
        let r = req.get_ref();
        let answer = stats(&self.app, &r.name, version(&r.version))?;
        Ok(Response::new(wire::statistics(answer)))
    }

    async fn model_infer(
        &self,
        req: Request<pb::ModelInferRequest>,
    ) -> Result<Response<pb::ModelInferResponse>, Status> {
        let headers = req.metadata().clone().into_headers();
        let peer = peer(&req);
        let message = req.into_inner();
        let model = message.model_name.clone();
        let pinned = message.model_version.clone();
        let call = Call {
            model: &model,
            version: version(&pinned),
            headers: &headers,
            peer,
            protocol: Protocol::Grpc,
        };
        let app = &self.app;
        let served = serving::serve(
            app,
            call,
            |v| async move { wire::parse(message, &v.inputs, &v.outputs, v.has_batch_dim) },
            |v, parsed, done| wire::encode(v, parsed, done.outputs),
        )
        .await;
        let routed = served.routed;
        let traceparent = served
            .traceparent
            .and_then(|tp| MetadataValue::try_from(tp.as_bytes()).ok());
        let mut resp = match served.result {
            Ok(r) => Response::new(r),
            Err(e) => {
                let mut status = Status::from(e);
                if let Some((v, _)) = &routed
                    && let Ok(val) = MetadataValue::try_from(v.version.as_str())
                {
                    status.metadata_mut().insert(SERVED_BY, val);
                }
                if let Some(tp) = traceparent {
                    status.metadata_mut().insert(TRACEPARENT, tp);
                }
                return Err(status);
            }
        };
        if let Some(tp) = traceparent {
            resp.metadata_mut().insert(TRACEPARENT, tp);
        }
        if let Some((v, role)) = routed {
            let m = resp.metadata_mut();
            if let Ok(val) = MetadataValue::try_from(v.version.as_str()) {
                m.insert(SERVED_BY, val);
            }
            m.insert("x-assay-route", MetadataValue::from_static(role.as_str()));
        }
        Ok(resp)
    }
}
