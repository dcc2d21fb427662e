//! Real models from the wheels the setup fetches, each named in its own way: YOLOv8's module
//! paths (NudeNet), a JAX export's `jax2tf_…_/pjit_…_/` scopes (Magika), a PaddleOCR model
//! whose 566 nodes have no names at all (RapidOCR), and a model whose work sits in an `If`
//! (Silero VAD). Each opens with every node, unique names, and a layout without overlaps.

use std::collections::HashSet;

use assay_viewer::{Viewer, hierarchy::Item};

use super::{harness, root, screenshot};

/// (file under .cache/models, nodes in its main graph, a group path to open, an op type).
const MODELS: [(&str, usize, Option<&str>, &str); 4] = [
    ("nudenet-3.4.2/320n.onnx", 323, Some("/model.22"), "Conv"),
    ("magika-1.0.3/model.onnx", 95, None, "Conv"),
    (
        "rapidocr-onnxruntime-1.4.4/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        566,
        None,
        "BatchNormalization",
    ),
    ("silero-vad-6.2.3/silero_vad.onnx", 5, None, "If"),
];

#[test]
fn third_party_models_open_whole_and_lay_out_without_overlaps() {
    for (file, nodes, group, op) in MODELS {
        let path = root().join(".cache/models").join(file);
        assert!(
            path.exists(),
            "{} is missing: run scripts/setup.sh",
            path.display()
        );
        let mut h = harness(Viewer::open(&path));
        let v = h
            .state_mut()
            .view
            .as_mut()
            .unwrap_or_else(|| panic!("{file} opens"));
        assert_eq!(v.graph.nodes.len(), nodes, "{file}");
        let names: HashSet<&str> = v.graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), nodes, "{file}: node names are unique");
        // Search by op type finds every node of that type (names that contain the word
        // match too).
        v.search = op.to_string();
        v.run_search();
        let of_type: Vec<usize> = (0..nodes)
            .filter(|&i| v.graph.nodes[i].op_type == op)
            .collect();
        assert!(!of_type.is_empty(), "{file} has no {op}");
        if v.matches.len() < 50 {
            assert!(
                of_type.iter().all(|i| v.matches.contains(i)),
                "{file}: {op}: {:?} found, {of_type:?} of that type",
                v.matches
            );
        }
        if let Some(g) = group {
            let id = v
                .scene
                .hierarchy
                .group(g)
                .unwrap_or_else(|| panic!("{file} has a group {g}"));
            v.toggle(id);
            assert!(v.scene.index.contains_key(&Item::Group(id)));
        }
        v.fit();
        h.run();
        let v = h.state().view.as_ref().unwrap();
        // Boxes of one depth never overlap, and the fitted view holds them all.
        let placed = &v.scene.placed;
        for (i, a) in placed.iter().enumerate() {
            for b in &placed[i + 1..] {
                if a.depth == b.depth {
                    assert!(
                        !a.rect.shrink(0.5).intersects(b.rect.shrink(0.5)),
                        "{file}: {:?} overlaps {:?}",
                        a.item,
                        b.item
                    );
                }
            }
            let on_screen = v.camera.to_screen(v.canvas, a.rect.center());
            assert!(
                v.canvas.contains(on_screen),
                "{file}: {:?} is off screen",
                a.item
            );
        }
        let stem = file.split('/').next().unwrap();
        screenshot(&mut h, &format!("third_party_{stem}"));
    }
}
