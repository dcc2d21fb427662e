//! The viewer driven like a user (egui_kittest through AccessKit, rendered with wgpu on
//! Mesa's software Vulkan): open models, open groups from the outline and on the canvas,
//! search, and lay a real profile run from the history over the graph; open traces
//! ([`trace`]); Model Explorer's node data both ways ([`interop`]); real third-party models
//! ([`third_party`]).

#[path = "viewer/interop.rs"]
mod interop;
#[path = "viewer/third_party.rs"]
mod third_party;
#[path = "viewer/trace.rs"]
mod trace;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use assay_viewer::{
    Viewer,
    hierarchy::{Item, ROOT},
    overlay::Overlay,
    runs,
};
use egui::{Event, PointerButton, Pos2, vec2};
use egui_kittest::{Harness, kittest::Queryable};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    let p = root().join(".cache/fixtures").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

fn harness(viewer: Viewer) -> Harness<'static, Viewer> {
    let mut h = Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        // A user's frame rate: events go one per frame, and two clicks must fall within
        // egui's double-click window.
        .with_step_dt(1.0 / 60.0)
        .wgpu()
        .build_ui_state(|ui, v: &mut Viewer| v.ui(ui), viewer);
    h.set_render_cursor(false);
    h.run();
    h
}

/// Saves what the window shows to target/viewer-screenshots/NAME.png: for frames whose
/// numbers change from run to run (measured times), which a snapshot cannot pin.
fn screenshot(h: &mut Harness<'static, Viewer>, name: &str) {
    let dir = root().join("target/viewer-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let image = h.render().expect("the frame renders");
    image.save(dir.join(format!("{name}.png"))).unwrap();
}

/// Double-clicks a world point of the canvas.
fn double_click(h: &mut Harness<'static, Viewer>, world: Pos2) {
    let v = h.state().view.as_ref().unwrap();
    let at = v.camera.to_screen(v.canvas, world);
    click_at(h, at, 2);
}

/// Clicks a screen point `times` times in quick succession (2: a double click).
fn click_at(h: &mut Harness<'static, Viewer>, at: Pos2, times: usize) {
    h.event(Event::PointerMoved(at));
    // Half a second after the last click, so these are clicks of their own, not part of it.
    h.run_steps(30);
    for _ in 0..times {
        for pressed in [true, false] {
            h.event(Event::PointerButton {
                pos: at,
                button: PointerButton::Primary,
                pressed,
                modifiers: Default::default(),
            });
            h.step();
        }
    }
    h.run();
}

#[test]
fn a_model_opens_and_groups_open_from_the_outline_and_the_canvas() {
    let mut h = harness(Viewer::open(&fixture("mlp.onnx")));
    let v = h.state().view.as_ref().expect("the model opened");
    assert_eq!(v.graph.nodes.len(), 11);
    // Closed: the encoder, the head.
    assert_eq!(v.scene.placed.len(), 2, "{:?}", v.scene.placed);
    h.get_by_label_contains("+ encoder (9 nodes)").click();
    h.run();
    let v = h.state().view.as_ref().unwrap();
    let encoder = v.scene.hierarchy.group("/encoder").unwrap();
    assert!(v.scene.open.contains(&encoder));
    // Its three layers are boxes now, inside its frame; the outline shows them too.
    let frame = v.scene.placed[v.scene.index[&Item::Group(encoder)]].rect;
    let layer1 = v.scene.hierarchy.group("/encoder/layer.1").unwrap();
    let l1 = v.scene.placed[v.scene.index[&Item::Group(layer1)]].rect;
    assert!(frame.contains_rect(l1));
    h.get_by_label_contains("+ layer.1 (3 nodes)");
    // A double click on layer.1's box opens it on the canvas.
    double_click(&mut h, l1.center());
    let v = h.state().view.as_ref().unwrap();
    assert!(
        v.scene.open.contains(&layer1),
        "double click did not open layer.1"
    );
    let fc = v.scene.hierarchy.group("/encoder/layer.1/fc").unwrap();
    assert!(
        v.scene.index.contains_key(&Item::Group(fc)),
        "what layer.1 holds is not shown"
    );
    h.snapshot("mlp_open");
}

#[test]
fn search_jumps_to_a_node_and_centres_on_it() {
    let mut h = harness(Viewer::open(&fixture("transformer_20k.onnx")));
    let v = h.state().view.as_ref().unwrap();
    assert!(v.graph.nodes.len() >= 20_000);
    assert!(
        v.scene
            .hierarchy
            .groups
            .iter()
            .all(|g| g.children.len() <= assay_viewer::app::MAX_ITEMS)
    );
    h.get_by_label("Search").click();
    h.get_by_label("Search")
        .type_text("block.17/layer.3/attn/head.2/Softmax");
    h.run();
    let target = "/encoder/block.17/layer.3/attn/head.2/Softmax";
    h.get_by_label_contains(&format!("Softmax · {target}"))
        .click();
    h.run();
    let v = h.state().view.as_ref().unwrap();
    let n = v.graph.nodes.iter().position(|n| n.name == target).unwrap();
    assert_eq!(v.selected, Some(Item::Node(n)));
    let r = v.scene.rect_of(n).expect("the node is visible");
    assert!(
        v.scene.index.contains_key(&Item::Node(n)),
        "the groups around it opened"
    );
    assert!(
        (v.camera.center - r.center()).length() < 0.5,
        "centre {:?}, node {:?}",
        v.camera.center,
        r
    );
    // Only the groups on its path opened: the rest of 20,000 nodes stay folded.
    assert!(v.scene.placed.len() < 200, "{} boxes", v.scene.placed.len());
    h.snapshot("transformer_search");
}

/// A real profile run of `model`, recorded in `db` by the `assay` binary; its id.
fn profile_run(model: &Path, db: &Path, out: &Path) -> String {
    let assay = root().join("target/debug/assay");
    assert!(
        assay.exists(),
        "{} is missing: cargo build -p assay-cli",
        assay.display()
    );
    let o = Command::new(assay)
        .args([
            "profile",
            "--no-optimize",
            "--json",
            "--iterations",
            "20",
            "--duration",
            "0.2s",
            "--warmup-time",
            "0.05s",
            "--profile-iterations",
            "30",
        ])
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .arg(model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["run_id"].as_str().expect("the run was saved").to_string()
}

#[test]
fn a_profile_overlay_shows_the_stored_runs_times_and_bad_runs_are_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let model = fixture("mlp.onnx");
    let id = profile_run(&model, &db, &dir.path().join("p"));
    let sha = assay_engine::digest::sha256_file(&model).unwrap();
    let (run, nodes) = runs::profile_nodes(&db, &id, &sha).unwrap();
    assert_eq!(run, id);
    let mut viewer = Viewer::open(&model);
    let v = viewer.view.as_mut().unwrap();
    let overlay = Overlay::profile(
        format!("profile {id}"),
        &v.names(),
        &v.scene.hierarchy,
        &nodes,
    );
    assert!(overlay.unplaced.is_empty(), "{:?}", overlay.unplaced);
    v.add_overlay(overlay);
    let mut h = harness(viewer);
    // The legend names the run; the encoder's sum is the stored times of its nodes.
    h.get_by_label_contains(&format!("profile {id}: time per inference"));
    let v = h.state().view.as_ref().unwrap();
    let encoder = v.scene.hierarchy.group("/encoder").unwrap();
    let stored: f64 = nodes
        .iter()
        .filter(|s| s.name.starts_with("/encoder/"))
        .map(|s| s.per_inference_us)
        .sum();
    let shown = v.overlays[0].group_values[encoder].unwrap();
    assert!(
        stored > 0.0 && (shown - stored).abs() < 1e-9,
        "{shown} vs {stored}"
    );
    // Selecting a node shows its own stored time in the details.
    h.get_by_label("Search").click();
    h.get_by_label("Search").type_text("layer.1/fc/MatMul");
    h.run();
    h.get_by_label_contains("MatMul · /encoder/layer.1/fc/MatMul")
        .click();
    h.run();
    let s = nodes
        .iter()
        .find(|s| s.name == "/encoder/layer.1/fc/MatMul")
        .unwrap();
    let line = h.state().view.as_ref().unwrap().overlays[0].format(s.per_inference_us);
    h.get_by_label(&format!("profile {id}: {line}"));
    h.get_by_label("ran on CPU");
    screenshot(&mut h, "mlp_profile_overlay");
    // Switching the overlay off takes the legend away.
    h.get_by_label_contains(&format!("Overlay: profile {id}"))
        .click();
    h.run();
    assert!(
        h.query_by_label_contains("time per inference, 0 to")
            .is_none()
    );

    // A run of another model, and a run that does not exist: sentences, not panics.
    let other = fixture("convnet.onnx");
    let e = runs::profile_nodes(
        &db,
        &id,
        &assay_engine::digest::sha256_file(&other).unwrap(),
    )
    .unwrap_err();
    assert!(
        e.contains("profiled another model") && e.contains("mlp.onnx"),
        "{e}"
    );
    let e = runs::profile_nodes(&db, "feedbeef", &sha).unwrap_err();
    assert!(e.contains("no run with id 'feedbeef'"), "{e}");

    // A second run of the same model: the A/B diff shows B − A per node and per group.
    let id_b = profile_run(&model, &db, &dir.path().join("p2"));
    let (_, nodes_b) = runs::profile_nodes(&db, &id_b, &sha).unwrap();
    let mut viewer = Viewer::open(&model);
    let v = viewer.view.as_mut().unwrap();
    let diff = Overlay::diff(
        format!("{id} to {id_b}"),
        &v.names(),
        &v.scene.hierarchy,
        &nodes,
        &nodes_b,
    );
    v.add_overlay(diff);
    let mut h = harness(viewer);
    h.get_by_label_contains(&format!("{id} to {id_b}: change per inference"));
    let v = h.state().view.as_ref().unwrap();
    let per = |ns: &[assay_engine::profile::NodeStats], name: &str| {
        ns.iter()
            .filter(|s| s.name == name)
            .map(|s| s.per_inference_us)
            .sum::<f64>()
    };
    let encoder = v.scene.hierarchy.group("/encoder").unwrap();
    let expected: f64 = v
        .names()
        .iter()
        .filter(|n| n.starts_with("/encoder/"))
        .map(|n| per(&nodes_b, n) - per(&nodes, n))
        .sum();
    let shown = v.overlays[0].group_values[encoder].unwrap();
    assert!((shown - expected).abs() < 1e-9, "{shown} vs {expected}");
    let relu = "/encoder/layer.2/act/Relu";
    let at = v.names().iter().position(|n| n == relu).unwrap();
    assert_eq!(
        v.overlays[0].values[at],
        Some(per(&nodes_b, relu) - per(&nodes, relu))
    );
    h.get_by_label_contains("+ encoder (9 nodes)").click();
    h.run();
    screenshot(&mut h, "mlp_diff_overlay");
}

#[test]
fn a_corrupt_model_is_a_message_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.onnx");
    std::fs::write(&bad, b"\x08\x07 this is not a model").unwrap();
    let h = harness(Viewer::open(&bad));
    let v = h.state();
    assert!(v.view.is_none());
    h.get_by_label_contains("Cannot open");
    h.get_by_label_contains("not a valid ONNX protobuf");
}

#[test]
fn the_largest_group_of_a_20000_node_model_opens() {
    let mut h = harness(Viewer::open(&fixture("transformer_20k.onnx")));
    let v = h.state_mut().view.as_mut().unwrap();
    // The root holds the encoder and the head; the encoder its 24 blocks.
    assert_eq!(v.scene.hierarchy.groups[ROOT].children.len(), 2);
    let largest = (1..v.scene.hierarchy.groups.len())
        .max_by_key(|&g| v.scene.hierarchy.groups[g].nodes)
        .unwrap();
    v.toggle(largest);
    h.run();
    let v = h.state().view.as_ref().unwrap();
    assert_eq!(v.scene.hierarchy.groups[largest].path, "/encoder");
    let blocks = v.scene.placed.iter().filter(|p| p.depth == 1).count();
    assert_eq!(blocks, 24);
}

#[test]
fn an_accuracy_overlay_outlines_the_first_diverging_node() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let model = root().join("assets/sample-mlp.onnx");
    let o = Command::new(root().join("target/debug/assay"))
        .args(["accuracy", "--json", "--candidate"])
        .arg(fixture("sample-mlp_perturbed.onnx"))
        .arg("--db")
        .arg(&db)
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sha = assay_engine::digest::sha256_file(&model).unwrap();
    let (run, label, d) = runs::divergence(&db, &id, &sha).unwrap();
    assert_eq!(run, id);
    assert!(label.starts_with("sample-mlp_perturbed.onnx"), "{label}");
    assert!(!d.probed.is_empty());
    let mut viewer = Viewer::open(&model);
    let v = viewer.view.as_mut().unwrap();
    // A fixed title: the snapshot must not depend on the run's random id.
    let overlay = Overlay::accuracy("accuracy".into(), &v.names(), &v.scene.hierarchy, &d);
    let at = overlay
        .highlight
        .expect("the diverging node is in the graph");
    v.add_overlay(overlay);
    v.focus_node(at);
    let mut h = harness(viewer);
    let v = h.state().view.as_ref().unwrap();
    assert_eq!(v.graph.nodes[at].name, "/encoder/layer.1/fc/Add");
    assert!(v.scene.index.contains_key(&Item::Node(at)));
    // The view opens on it, not on the whole graph.
    let r = v.scene.rect_of(at).unwrap();
    assert!(
        (v.camera.center - r.center()).length() < 0.5,
        "{:?} vs {:?}",
        v.camera.center,
        r
    );
    // The node's error is the search's, and the nodes before it matched exactly.
    let add = d
        .probed
        .iter()
        .find(|p| p.node == "/encoder/layer.1/fc/Add")
        .unwrap();
    assert!((add.max_abs - 1.0).abs() < 1e-6, "{}", add.max_abs);
    assert!(
        d.probed
            .iter()
            .filter(|p| p.index < add.index)
            .all(|p| p.max_abs == 0.0)
    );
    h.get_by_label_contains("accuracy: max abs error at the nodes the search compared");
    h.get_by_label(&format!("accuracy: max abs error {:.3e}", add.max_abs));
    h.snapshot("sample_accuracy_overlay");
    // A comparison of other models is refused in words.
    let other = assay_engine::digest::sha256_file(&fixture("convnet.onnx")).unwrap();
    let e = runs::divergence(&db, &id, &other).unwrap_err();
    assert!(e.contains("compared other models"), "{e}");
}
