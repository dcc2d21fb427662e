//! Generates the ONNX protobuf types with prost from the schema that ships in the `onnx`
//! wheel. `scripts/setup.sh` (run by every `make` target) copies it to
//! `.cache/onnx-schema/onnx-ml.proto`; `ASSAY_ONNX_PROTO` points elsewhere. The schema is
//! never vendored into the repository, and the build never downloads it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ASSAY_ONNX_PROTO");
    let proto = std::env::var_os("ASSAY_ONNX_PROTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let manifest =
                PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
            manifest.join("../../.cache/onnx-schema/onnx-ml.proto")
        });
    println!("cargo:rerun-if-changed={}", proto.display());
    if !proto.is_file() {
        panic!(
            "the ONNX schema was not found at {}.\n\
             Run `make setup` (or scripts/setup.sh) once: it takes onnx-ml.proto from the `onnx` wheel.\n\
             Or point ASSAY_ONNX_PROTO at an onnx-ml.proto file.",
            proto.display()
        );
    }
    let include = proto.parent().expect("a file has a parent").to_path_buf();
    let descriptors = protox::compile([&proto], [&include])
        .unwrap_or_else(|e| panic!("cannot compile {}: {e}", proto.display()));
    let mut config = prost_build::Config::new();
    // Byte fields become `bytes::Bytes`: decoding from a memory-mapped file then slices the
    // initializers in place instead of copying them onto the heap.
    config.bytes(["."]);
    config
        .compile_fds(descriptors)
        .unwrap_or_else(|e| panic!("prost-build failed on {}: {e}", proto.display()));
}
