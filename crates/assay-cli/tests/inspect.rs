//! `assay inspect`, run as a process on real model files.

mod common;

use common::*;

#[test]
fn reports_the_sample_model() {
    let o = run(assay().args(["inspect", "--json"]).arg(sample_model()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    assert_eq!(r["schema"], "assay.inspect/1");
    assert_eq!(r["inputs"][0]["name"], "input");
    assert_eq!(r["inputs"][0]["element_type"], "float");
    assert_eq!(r["inputs"][0]["shape"], serde_json::json!(["batch", 64]));
    assert_eq!(r["outputs"][0]["shape"], serde_json::json!(["batch", 10]));
    assert_eq!(
        r["graph"]["operators"],
        serde_json::json!({"Add": 3, "MatMul": 3, "Relu": 2})
    );
    // 64→128→128→10 with biases.
    assert_eq!(
        r["graph"]["parameter_count"],
        64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    );
    assert_eq!(
        r["model"]["opsets"][0],
        serde_json::json!({"domain": "ai.onnx", "version": 17})
    );
    assert_eq!(r["metadata"]["task"], "classification");
    let expected = std::process::Command::new("sha256sum")
        .arg(sample_model())
        .output()
        .unwrap();
    let expected = String::from_utf8_lossy(&expected.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(r["file"]["sha256"], expected);
}

#[test]
fn human_output_names_every_section() {
    let o = run(assay().arg("inspect").arg(sample_model()));
    assert_eq!(o.code, 0);
    for s in [
        "sha256",
        "producer",
        "opsets",
        "input",
        "logits",
        "metadata",
        "MatMul",
        "parameters",
    ] {
        assert!(o.stdout.contains(s), "missing {s}:\n{}", o.stdout);
    }
}

#[test]
fn third_party_models_with_subgraphs_and_symbolic_dims() {
    let o = run(assay()
        .args(["inspect", "--json"])
        .arg(third_party("silero-vad-6.2.3/silero_vad.onnx")));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    let names: Vec<&str> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["input", "state", "sr"]);
    assert!(
        r["graph"]["subgraph_count"].as_u64().unwrap() > 0,
        "silero's If branches are subgraphs"
    );
    assert!(r["graph"]["operators"]["If"].as_u64().unwrap() >= 1);

    let o = run(assay()
        .args(["inspect", "--json"])
        .arg(third_party("magika-1.0.3/model.onnx")));
    let r = json(&o.stdout);
    assert_eq!(r["inputs"][0]["element_type"], "int32");
    assert_eq!(r["inputs"][0]["shape"][1], 2048);
    assert!(
        r["inputs"][0]["shape"][0].is_string(),
        "the batch dimension is symbolic"
    );
}

#[test]
fn external_data_is_listed_not_loaded() {
    let o = run(assay()
        .args(["inspect", "--json"])
        .arg(fixture("mlp_external.onnx")));
    let r = json(&o.stdout);
    let ext = &r["graph"]["external_data"][0];
    assert_eq!(ext["location"], "mlp_external.onnx.data");
    assert_eq!(
        ext["size_on_disk"],
        std::fs::metadata(fixture("mlp_external.onnx.data"))
            .unwrap()
            .len()
    );
    assert!(ext["problem"].is_null());
    // The .onnx itself is tiny: the weights really are outside it.
    assert!(r["file"]["size_bytes"].as_u64().unwrap() < 4096);
}

#[test]
fn models_over_2_gb_inspect_quickly_in_little_memory() {
    // 600M float32 parameters (2.4 GB) in a sparse external file.
    let started = std::time::Instant::now();
    let o = run(assay()
        .args(["inspect", "--json"])
        .arg(fixture("big_external.onnx")));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = json(&o.stdout);
    assert_eq!(r["graph"]["parameter_count"], 600_000_000u64);
    assert_eq!(r["graph"]["parameter_bytes"], 2_400_000_000u64);
    assert_eq!(
        r["graph"]["external_data"][0]["referenced_bytes"],
        2_400_000_000u64
    );
    // Reading 2.4 GB would take far longer than this on any disk; stat-ing it does not.
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn bad_files_get_one_specific_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let random = dir.path().join("random.onnx");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let truncated = dir.path().join("truncated.onnx");
    let full = std::fs::read(fixture("convnet.onnx")).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();

    expect_error(
        assay().args(["inspect", "/definitely/not/here.onnx"]),
        1,
        "no such file",
    );
    expect_error(assay().arg("inspect").arg(dir.path()), 1, "is a directory");
    expect_error(assay().arg("inspect").arg(&empty), 1, "the file is empty");
    expect_error(assay().arg("inspect").arg(&random), 1, "not an ONNX model");
    expect_error(assay().arg("inspect").arg(&truncated), 1, "truncated");
    expect_error(
        assay().arg("inspect").arg(fixture("tensor.pb")),
        1,
        "serialized TensorProto",
    );
}

#[test]
fn json_errors_are_machine_readable() {
    let o = run(assay().args(["inspect", "--json", "/nope.onnx"]));
    assert_eq!(o.code, 1);
    let e = json(&o.stdout);
    assert_eq!(e["error"]["kind"], "model");
    assert_eq!(e["error"]["exit_code"], 1);
}

#[test]
fn usage_errors_exit_2() {
    let o = run(assay().args(["inspect"]));
    assert_eq!(o.code, 2);
    let o = run(assay().args(["inspect", "--frobnicate", "x.onnx"]));
    assert_eq!(o.code, 2);
}
