//! The graph view's own cost, headless, on the 20,640-node fixture and a generated
//! 101,000-node model: open to first frame, opening the largest group, and frame times while
//! panning and zooming with a profile overlay on, split into building the frame (egui's
//! pass) and tessellation, with the vertex count per frame; then wgpu's render of the same
//! frame on this machine's adapter (Mesa's lavapipe here), and peak memory.
//!
//! `cargo bench -p assay-viewer --bench graph` (release). Each model runs in a child process
//! of its own, so its peak memory is its own. Then, where scripts/setup-bench-viewer.sh has
//! run, Google's Model Explorer on the 20k model (scripts/bench_model_explorer.py: its server
//! and headless Chromium), its time to a rendered graph printed next to this viewer's.

use std::{path::Path, process::Command, time::Instant};

use assay_engine::profile::NodeStats;
use assay_viewer::{Viewer, overlay::Overlay};
use egui::vec2;

mod common;

use common::{input, machine, pct, peak_mib, render_ms};

const FRAMES: usize = 300;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join(".cache/fixtures");
    if let Ok(model) = std::env::var("ASSAY_VIEWER_BENCH_MODEL") {
        measure(Path::new(&model));
        return;
    }
    let big = fixtures.join("transformer_100k.onnx");
    if !big.exists() {
        let ok = Command::new(root.join(".cache/venv/bin/python"))
            .arg(root.join("scripts/make_fixtures.py"))
            .arg("--big")
            .arg(&fixtures)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "could not generate {}", big.display());
    }
    println!("machine: {}", machine());
    println!(
        "{:<24} {:>7} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "model",
        "nodes",
        "open ms",
        "first ms",
        "expand ms",
        "pass p50",
        "pass p99",
        "tess p99",
        "vertices",
        "render p50",
        "peak MiB"
    );
    let small = fixtures.join("transformer_20k.onnx");
    let mut ours = None;
    for m in [small.clone(), big] {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("ASSAY_VIEWER_BENCH_MODEL", &m)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            // "# first_ms render_ms": what the side-by-side below quotes.
            match line.strip_prefix("# ") {
                Some(figures) if m == small => ours = Some(figures.to_string()),
                Some(_) => {}
                None => println!("{line}"),
            }
        }
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    side_by_side(&root, &small, ours);
}

/// Model Explorer on the 20k model (scripts/bench_model_explorer.py, headless Chromium),
/// next to this viewer's first frame plus its render.
fn side_by_side(root: &Path, model: &Path, ours: Option<String>) {
    let python = root.join(".cache/venv-explorer-bench/bin/python");
    if !python.exists() {
        println!(
            "Model Explorer side by side: skipped ({} is missing: scripts/setup-bench-viewer.sh)",
            python.display()
        );
        return;
    }
    let out = Command::new(python)
        .arg(root.join("scripts/bench_model_explorer.py"))
        .arg(model)
        .output()
        .unwrap();
    let me = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!(
            "Model Explorer side by side: failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let figures: Vec<f64> = ours
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (first, render) = (figures.first().copied(), figures.get(1).copied());
    println!();
    println!(
        "time to a rendered graph, {}:",
        model.file_name().unwrap().to_string_lossy()
    );
    match (first, render) {
        (Some(f), Some(r)) => println!(
            "  assay-viewer           {:>9.3} s  (open and first frame {f:.1} ms + wgpu render on lavapipe {r:.1} ms)",
            (f + r) / 1e3
        ),
        _ => println!("  assay-viewer           (no figures: see above)"),
    }
    let me: serde_json::Value = serde_json::from_str(me.trim()).unwrap_or_default();
    let runs: Vec<String> = me["runs_s"]
        .as_array()
        .map(|a| a.iter().map(|v| v.to_string()).collect())
        .unwrap_or_default();
    println!(
        "  Model Explorer 0.1.34  {:>9.3} s  (median of {}: {} s; {} nodes shown; its server with model_explorer_onnx, headless Chromium: load, convert, lay out, draw)",
        me["median_s"].as_f64().unwrap_or(f64::NAN),
        runs.len(),
        runs.join(", "),
        me["nodes_shown"].as_str().unwrap_or("?")
    );
}

fn measure(model: &Path) {
    let ctx = egui::Context::default();
    let t0 = Instant::now();
    let mut viewer = Viewer::open(model);
    let open_ms = t0.elapsed().as_secs_f64() * 1e3;
    let out = ctx.run_ui(input(0.0), |ui| viewer.ui(ui));
    let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    let first_ms = t0.elapsed().as_secs_f64() * 1e3;
    let v = viewer.view.as_mut().expect("the model opens");
    let nodes = v.graph.nodes.len();

    // Open the largest group (the encoder), and draw it.
    let largest = (1..v.scene.hierarchy.groups.len())
        .max_by_key(|&g| v.scene.hierarchy.groups[g].nodes)
        .unwrap();
    let t = Instant::now();
    v.toggle(largest);
    let out = ctx.run_ui(input(0.1), |ui| viewer.ui(ui));
    let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    let expand_ms = t.elapsed().as_secs_f64() * 1e3;

    // A profile overlay with a time on every node (what a real run gives); open the groups
    // down to a node in the middle, as a search would, and fit.
    let v = viewer.view.as_mut().unwrap();
    let stats: Vec<NodeStats> = v
        .graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeStats {
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            provider: "CPUExecutionProvider".into(),
            calls: 100,
            total_ms: 1.0,
            mean_us: (i % 97) as f64,
            p50_us: (i % 97) as f64,
            share_pct: 0.0,
            per_inference_us: (i % 97) as f64 + 1.0,
            input_shapes: String::new(),
            output_shapes: String::new(),
            stack: String::new(),
        })
        .collect();
    let o = Overlay::profile("bench".into(), &v.names(), &v.scene.hierarchy, &stats);
    v.add_overlay(o);
    v.focus_node(v.graph.nodes.len() / 2);
    v.fit();
    let center = v.camera.center;
    let mut pass = Vec::with_capacity(FRAMES);
    let mut tess = Vec::with_capacity(FRAMES);
    let mut vertices = 0usize;
    for f in 0..FRAMES {
        let v = viewer.view.as_mut().unwrap();
        let k = f as f32 / FRAMES as f32;
        // Pan around and zoom from far out to 2x and back.
        v.camera.center = center
            + vec2(
                (k * std::f32::consts::TAU).sin() * 2000.0,
                (k * std::f32::consts::TAU).cos() * 600.0,
            );
        v.camera.zoom = 0.05 + 1.95 * (0.5 - 0.5 * (k * 2.0 * std::f32::consts::TAU).cos());
        let t = Instant::now();
        let out = ctx.run_ui(input(1.0 + f as f64 / 60.0), |ui| viewer.ui(ui));
        let t1 = Instant::now();
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        let t2 = Instant::now();
        pass.push((t1 - t).as_secs_f64() * 1e3);
        tess.push((t2 - t1).as_secs_f64() * 1e3);
        let n: usize = prims
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
                _ => 0,
            })
            .sum();
        vertices = vertices.max(n);
    }
    let render = render_ms(viewer, |v, f| {
        if let Some(g) = v.view.as_mut() {
            g.camera.center += vec2(40.0, 10.0 * (f % 3) as f32);
        }
    });
    println!(
        "{:<24} {:>7} {:>9.1} {:>9.1} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9} {:>10} {:>9.1}",
        model.file_name().unwrap().to_string_lossy(),
        nodes,
        open_ms,
        first_ms,
        expand_ms,
        pct(&mut pass, 0.5),
        pct(&mut pass, 0.99),
        pct(&mut tess, 0.99),
        vertices,
        render
            .map(|r| format!("{r:.1} ms"))
            .unwrap_or_else(|| "n/a".into()),
        peak_mib()
    );
    println!("# {first_ms} {}", render.unwrap_or(f64::NAN));
}
