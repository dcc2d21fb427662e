//! The gRPC Open Inference Protocol: KServe v2's `inference.GRPCInferenceService` with the
//! Triton extras (model configuration, statistics) that `tritonclient.grpc` and
//! `perf_analyzer -i grpc` call. The messages, the server trait and the client are generated
//! by tonic at build time (build.rs) from the descriptors that ship in the tritonclient wheel;
//! no `.proto` text is kept in the repository.
//!
//! One crate so the two sides share one generated copy: assay-gateway serves it,
//! and `assay load` (assay-load) drives any server that speaks it.

/// The protocol's messages, the service trait and the client, as tonic generated them.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("inference");
}
