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

/// The console's data folder for this test binary (the env var is process-wide, so every
/// test here shares one), and private keys in files rather than a desktop keychain.
fn data_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        // SAFETY: set once, before any test reads them, and never changed.
        unsafe {
            std::env::set_var("ASSAY_CONSOLE_DATA", d.path());
            std::env::set_var("ASSAY_KEYCHAIN", "off");
            std::env::set_var(
                "ASSAY_WORKER",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug/assay"),
            );
        }
        d
    })
    .path()
}

#[test]
fn settings_show_the_runtime_the_worker_loads_and_the_data_locations() {
    let data = data_dir();
    let w = window();
    let info = invoke(&w, "system_info", json!({})).expect("system info");
    assert!(
        info["root"].as_str().unwrap().ends_with("runtime"),
        "{info}"
    );
    assert_eq!(
        info["active"]["version"].as_str().unwrap().get(..4),
        Some("1.31"),
        "{info}"
    );
    assert!(info["environment"]["logical_cores"].as_u64().unwrap() >= 1);
    let dirs = invoke(&w, "data_locations", json!({})).expect("data locations");
    assert_eq!(dirs["db"], json!(data.join("assay.db")));
}

#[test]
fn a_gateway_is_saved_without_showing_its_token_and_forgotten() {
    data_dir();
    let w = window();
    let name = "gw-save";
    let saved = invoke(
        &w,
        "add_gateway",
        json!({"name": name, "url": "http://127.0.0.1:9/", "token": "s3cret-token"}),
    )
    .expect("saved");
    assert_eq!(saved["url"], "http://127.0.0.1:9");
    assert!(!saved.to_string().contains("s3cret-token"));
    let listed = invoke(&w, "list_gateways", json!({})).unwrap();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .expect("listed")
        .clone();
    assert!(!listed.to_string().contains("s3cret-token"));
    if entry["token_storage"] == "file" {
        use std::os::unix::fs::PermissionsExt;
        let token = data_dir().join("gateways").join(format!("{name}.token"));
        let mode = std::fs::metadata(&token).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the token file is private: {mode:o}");
    }
    // Nothing listens on port 9: the overview says so as a sentence.
    let err = invoke(&w, "gateway_overview", json!({"name": name})).unwrap_err();
    assert_eq!(err["kind"], "unreachable", "{err}");
    invoke(&w, "remove_gateway", json!({"name": name})).unwrap();
    let err = invoke(&w, "gateway_overview", json!({"name": name})).unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no saved gateway"),
        "{err}"
    );
}

#[test]
fn bad_gateway_entries_are_refused_with_reasons() {
    data_dir();
    let w = window();
    for (body, says) in [
        (
            json!({"name": "../x", "url": "http://h", "token": "t"}),
            "not a usable gateway name",
        ),
        (
            json!({"name": "ok", "url": "ftp://h", "token": "t"}),
            "must start with http",
        ),
        (
            json!({"name": "ok", "url": "http://h", "token": "  "}),
            "token is empty",
        ),
    ] {
        let err = invoke(&w, "add_gateway", body.clone()).unwrap_err();
        assert_eq!(err["kind"], "usage", "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
}

#[test]
fn the_run_history_starts_empty_and_unknown_runs_are_named() {
    data_dir();
    let w = window();
    assert!(
        invoke(&w, "list_runs", json!({"kind": "profile"}))
            .unwrap()
            .is_array()
    );
    let err = invoke(&w, "get_run", json!({"id": "deadbeef"})).unwrap_err();
    assert_eq!(err["kind"], "store");
    assert!(
        err["message"].as_str().unwrap().contains("deadbeef"),
        "{err}"
    );
    let err = invoke(&w, "list_runs", json!({"kind": "nonsense"})).unwrap_err();
    assert_eq!(err["kind"], "usage");
}

#[test]
fn an_export_copies_the_file_and_a_missing_source_is_refused() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let w = window();
    std::fs::create_dir_all(data.join("profiles/1")).unwrap();
    let from = data.join("profiles/1/flamegraph.svg");
    std::fs::write(&from, "<svg/>").unwrap();
    let to = dir.path().join("out.svg");
    assert_eq!(
        invoke(&w, "export_file", json!({"from": from, "to": to})).unwrap(),
        6
    );
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "<svg/>");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&to).unwrap().permissions().mode() & 0o777,
        0o644
    );
    for from in [
        data.join("profiles/none"),
        "/etc/passwd".into(),
        data.join("../../etc/passwd"),
    ] {
        let err = invoke(&w, "export_file", json!({"from": from, "to": to})).unwrap_err();
        assert_eq!(err["kind"], "usage", "{from:?}: {err}");
    }
}

#[test]
fn the_forms_get_the_model_dimensions_with_their_suggestions() {
    data_dir();
    let w = window();
    let path = invoke(&w, "sample_model", json!({})).unwrap();
    let report = invoke(&w, "inspect_model", json!({"path": path})).unwrap();
    assert_eq!(report["free_dims"][0]["handle"], "batch");
    let dims = invoke(
        &w,
        "model_dims",
        json!({"path": path, "sha256": report["file"]["sha256"]}),
    )
    .expect("the model's dimensions");
    assert_eq!(
        dims,
        json!([{"handle": "batch", "named": true, "uses": [{"input": "input", "axis": 0}], "batch": true, "value": 1, "source": "default", "reason": "batch"}])
    );
    let err = invoke(
        &w,
        "model_dims",
        json!({"path": "/nope.onnx", "sha256": "00"}),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "model", "{err}");
}
