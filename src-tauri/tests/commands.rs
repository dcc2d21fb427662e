//! The console's commands on `tauri::test::mock_builder()`: the same handlers the window
//! calls, invoked through Tauri's IPC, on the real engine and the bundled sample model.

use serde_json::{Value, json};
use tauri::{
    WebviewWindowBuilder,
    ipc::{CallbackFn, InvokeBody},
    test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets},
    webview::InvokeRequest,
};

fn window() -> tauri::WebviewWindow<tauri::test::MockRuntime> {
    let app = assay_console::app_builder(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("the app builds");
    WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("a window")
}

fn invoke(
    w: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn the_sample_model_is_found_and_inspected() {
    let w = window();
    let path = invoke(&w, "sample_model", json!({})).expect("the sample model");
    let path = path.as_str().unwrap().to_string();
    assert!(path.ends_with("assets/sample-mlp.onnx"), "{path}");
    let report = invoke(&w, "inspect_model", json!({"path": path})).expect("a report");
    assert_eq!(report["schema"], "assay.inspect/1");
    assert_eq!(report["inputs"][0]["name"], "input");
    assert_eq!(report["inputs"][0]["shape"], json!(["batch", 64]));
    assert_eq!(report["outputs"][0]["shape"], json!(["batch", 10]));
    let ops = report["graph"]["operators"].as_object().unwrap();
    assert!(
        ops.values().map(|n| n.as_u64().unwrap()).sum::<u64>()
            == report["graph"]["node_count"].as_u64().unwrap(),
        "{ops:?}"
    );
    assert!(ops.contains_key("Relu"), "{ops:?}");
    assert_eq!(report["file"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_bad_model_is_a_sentence_with_a_kind() {
    let w = window();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let err = invoke(&w, "inspect_model", json!({"path": missing})).unwrap_err();
    assert_eq!(err["kind"], "model", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("nope.onnx: no such file"),
        "{err}"
    );
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not protobuf at all").unwrap();
    let err = invoke(&w, "inspect_model", json!({"path": junk})).unwrap_err();
    assert_eq!(err["kind"], "model", "{err}");
    assert!(err["detail"].is_string());
}

#[test]
fn runtimes_list_what_is_installed() {
    let w = window();
    let view = invoke(&w, "runtimes", json!({})).expect("runtimes");
    assert!(
        view["root"].as_str().unwrap().ends_with("runtime"),
        "{view}"
    );
    assert!(view["installed"].is_array());
}
