//! Generates the gRPC Open Inference Protocol's server and client (KServe v2's
//! `inference.GRPCInferenceService`, with Triton's model configuration) with tonic, from the
//! descriptors that ship in the `tritonclient` wheel. `scripts/setup.sh` (run by `make test`)
//! writes them to `.cache/grpc/inference.fds` with `scripts/grpc_descriptors.py`;
//! `ASSAY_GRPC_DESCRIPTORS` points elsewhere. No `.proto` text is kept in the repository,
//! and the build never downloads anything.

use std::path::PathBuf;

use prost::Message;

fn main() {
    println!("cargo:rerun-if-env-changed=ASSAY_GRPC_DESCRIPTORS");
    let path = std::env::var_os("ASSAY_GRPC_DESCRIPTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let manifest =
                PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
            manifest.join("../../.cache/grpc/inference.fds")
        });
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the gRPC protocol's descriptors were not found at {} ({e}).\n\
             Run `make setup` (or scripts/setup.sh) once: it takes them from the tritonclient wheel.\n\
             Or point ASSAY_GRPC_DESCRIPTORS at a FileDescriptorSet written by scripts/grpc_descriptors.py.",
            path.display()
        )
    });
    let files = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("{} is not a FileDescriptorSet: {e}", path.display()));
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Only what the gateway serves is written by hand; the rest (repository control,
        // shared memory, streaming, trace and log settings) answers UNIMPLEMENTED.
        .generate_default_stubs(true)
        // Tensor contents are bytes::Bytes, so raw inputs are sliced, not copied.
        .bytes(".")
        .compile_fds(files)
        .unwrap_or_else(|e| panic!("tonic could not generate from {}: {e}", path.display()));
}
