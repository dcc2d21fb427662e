//! Model Explorer's node data, both ways, against Model Explorer's own Python types: a real
//! profile run exported by `assay-viewer --export-node-data` is read by Model Explorer's
//! `GraphNodeData` (strictly, through dacite), and a file written by Model Explorer's
//! builder imports here as an overlay, its values on the nodes its keys name.

use std::process::Command;

use assay_viewer::{Viewer, overlay::OverlayKind, runs};
use egui_kittest::kittest::Queryable;

use super::{fixture, harness, profile_run, root, screenshot};

fn explorer_python() -> std::path::PathBuf {
    let p = root().join(".cache/venv-explorer/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

#[test]
fn an_exported_profile_reads_in_model_explorer_and_its_files_import_here() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let model = fixture("mlp.onnx");
    let id = profile_run(&model, &db, &dir.path().join("p"));
    let sha = assay_engine::digest::sha256_file(&model).unwrap();
    let (_, nodes) = runs::profile_nodes(&db, &id, &sha).unwrap();

    // Export, headless: no display is needed.
    let out = dir.path().join("profile.node_data.json");
    let o = Command::new(env!("CARGO_BIN_EXE_assay-viewer"))
        .env_remove("DISPLAY")
        .arg("--db")
        .arg(&db)
        .arg("--profile")
        .arg(&id)
        .arg("--export-node-data")
        .arg(&out)
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote 11 nodes"));

    // Model Explorer's own type takes it, strictly; its values are the stored run's.
    let check = r#"
import dacite, json, sys
from model_explorer import node_data_builder as ndb
data = dacite.from_dict(ndb.GraphNodeData, json.load(open(sys.argv[1])), config=dacite.Config(strict=True))
print(json.dumps({k: r.value for k, r in data.results.items()}))
print(data.name)
print(len(data.gradient))
"#;
    let o = Command::new(explorer_python())
        .arg("-c")
        .arg(check)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut lines = stdout.lines();
    let values: std::collections::BTreeMap<String, f64> =
        serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(values.len(), 11);
    for s in &nodes {
        assert_eq!(values[&s.name], s.per_inference_us, "{}", s.name);
    }
    assert_eq!(lines.next(), Some(format!("profile {id}").as_str()));
    assert_eq!(lines.next(), Some("2"));

    // A file Model Explorer's builder writes: a model's data, keyed by a node name and by an
    // output tensor name, with a text label and a key of no node.
    let written = dir.path().join("from_explorer.json");
    let build = r#"
import sys
from model_explorer import node_data_builder as ndb
g = ndb.GraphNodeData(name="latency budget", results={
    "/encoder/layer.1/fc/MatMul": ndb.NodeDataResult(value=42),
    "logits": ndb.NodeDataResult(value=7.5),
    "/encoder/layer.0/act/Relu": ndb.NodeDataResult(value="slow"),
    "no_such_node": ndb.NodeDataResult(value=1),
}, thresholds=[ndb.ThresholdItem(value=10, bgColor="red")])
ndb.ModelNodeData(graphsData={"main_graph": g}).save_to_file(sys.argv[1])
"#;
    let o = Command::new(explorer_python())
        .arg("-c")
        .arg(build)
        .arg(&written)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut viewer = Viewer::open(&model);
    let v = viewer.view.as_mut().unwrap();
    let head_add = v
        .graph
        .nodes
        .iter()
        .position(|n| n.outputs.iter().any(|o| o == "logits"))
        .expect("the head's Add writes the logits");
    v.node_data_path = written.display().to_string();
    let mut h = harness(viewer);
    h.get_by_label("Model Explorer node data").click();
    h.run();
    h.get_by_label("Import").click();
    h.run();
    h.get_by_label_contains("Imported latency budget (from_explorer.json)");
    let v = h.state().view.as_ref().unwrap();
    let o = &v.overlays[0];
    assert_eq!(o.kind, OverlayKind::Imported);
    let matmul = v
        .names()
        .iter()
        .position(|n| n == "/encoder/layer.1/fc/MatMul")
        .unwrap();
    assert_eq!(o.values[matmul], Some(42.0));
    assert_eq!(o.values[head_add], Some(7.5));
    assert_eq!(o.values.iter().flatten().count(), 2);
    assert_eq!(o.unplaced, ["no_such_node"]);
    assert_eq!(o.skipped, 1);
    // The encoder shows its largest node's value.
    let encoder = v.scene.hierarchy.group("/encoder").unwrap();
    assert_eq!(o.group_values[encoder], Some(42.0));
    h.get_by_label_contains("imported values, 0 to");
    h.get_by_label_contains("1 key of the file names no node");
    h.get_by_label_contains("1 value left out: text, or not a finite number");
    screenshot(&mut h, "mlp_imported_overlay");

    // Exporting the imported overlay from the window writes Model Explorer's form again.
    let again = dir.path().join("again.json");
    h.state_mut().view.as_mut().unwrap().node_data_path = again.display().to_string();
    h.run();
    h.get_by_label("Export the overlay").click();
    h.run();
    h.get_by_label_contains("Wrote 2 nodes to");
    let back: serde_json::Value = serde_json::from_slice(&std::fs::read(&again).unwrap()).unwrap();
    assert_eq!(back["results"]["/encoder/layer.1/fc/MatMul"]["value"], 42.0);

    // What is not node data is a sentence.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"[1, 2, 3]").unwrap();
    let v = h.state_mut().view.as_mut().unwrap();
    let e = v.import_node_data(&bad).unwrap_err().to_string();
    assert!(e.contains("is not Model Explorer node data"), "{e}");
    std::fs::write(&bad, br#"{"results": {"x": {"value": 1}}}"#).unwrap();
    let e = v.import_node_data(&bad).unwrap_err().to_string();
    assert!(e.contains("no numeric value for any node"), "{e}");
}
