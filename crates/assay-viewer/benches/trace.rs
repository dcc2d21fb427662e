//! The trace view's own cost, headless, on generated ONNX Runtime–shaped traces of 100,000
//! and 1,000,000 events (two threads): the time to open (read, lay out, first frame), frame
//! times while panning and zooming the timeline from the whole trace down to single kernels
//! and while zooming the flame graph, split into building the frame and tessellation, with
//! the most rectangles and vertices a frame drew; wgpu's render on this machine's adapter
//! (Mesa's lavapipe here); and memory next to the file's size.
//!
//! `cargo bench -p assay-viewer --bench trace` (release). Each trace runs in a child process
//! of its own, so its peak memory is its own.

mod common;

use std::{path::Path, process::Command, sync::Arc, time::Instant};

use assay_viewer::{
    Viewer,
    trace::{Tab, model::Trace},
};
use common::{input, machine, pct, peak_mib, render_ms};

const FRAMES: usize = 300;

fn main() {
    if let Ok(trace) = std::env::var("ASSAY_VIEWER_BENCH_TRACE") {
        measure(Path::new(&trace));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    println!("machine: {}", machine());
    println!(
        "{:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>10} {:>9} {:>9} {:>7}",
        "events",
        "file MB",
        "open s",
        "pass p50",
        "pass p99",
        "tess p99",
        "flame p99",
        "rects",
        "vertices",
        "render p50",
        "heap MiB",
        "peak MiB",
        "peak/file"
    );
    for events in [100_000usize, 1_000_000] {
        let path = dir.path().join(format!("trace-{events}.json"));
        assay_engine::profile::synthetic::write_trace(&path, events, 2).unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .env("ASSAY_VIEWER_BENCH_TRACE", &path)
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// Milliseconds of building and of tessellating one frame, and its vertices.
fn frame(ctx: &egui::Context, viewer: &mut Viewer, t: f64) -> (f64, f64, usize) {
    let start = Instant::now();
    let out = ctx.run_ui(input(t), |ui| viewer.ui(ui));
    let built = Instant::now();
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    let done = Instant::now();
    let vertices = prims
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
            _ => 0,
        })
        .sum();
    (
        (built - start).as_secs_f64() * 1e3,
        (done - built).as_secs_f64() * 1e3,
        vertices,
    )
}

fn measure(path: &Path) {
    let bytes = std::fs::metadata(path).unwrap().len();
    let ctx = egui::Context::default();
    let t0 = Instant::now();
    let trace = Trace::open(path, Arc::default()).expect("the trace opens");
    let mut viewer = Viewer::from_trace(path, trace);
    // The first frame fits the whole trace (the canvas size is known only then), the second
    // draws it.
    frame(&ctx, &mut viewer, 0.0);
    frame(&ctx, &mut viewer, 0.01);
    let open_s = t0.elapsed().as_secs_f64();
    let tv = viewer.trace.as_ref().unwrap();
    let events = tv.trace.events;
    let heap = tv.trace.heap_bytes() as f64 / (1 << 20) as f64;
    let whole = tv.cam;
    let area = tv.canvas;

    // The timeline: from the whole trace down to 10 ns a pixel and back, panning across.
    let (mut pass, mut tess) = (Vec::new(), Vec::new());
    let (mut rects, mut vertices) = (0usize, 0usize);
    let span = tv.trace.span_us;
    for f in 0..FRAMES {
        let k = f as f64 / FRAMES as f64;
        let tv = viewer.trace.as_mut().unwrap();
        // Zoom depth follows a cosine: whole trace at the ends, 1e5 times in at the middle.
        let depth = 0.5 - 0.5 * (k * std::f64::consts::TAU).cos();
        tv.cam.us_per_px = whole.us_per_px / 10f64.powf(5.0 * depth);
        let centre = span * (0.1 + 0.8 * k);
        tv.cam.start_us = centre - tv.cam.us_per_px * area.width() as f64 / 2.0;
        let (p, t, v) = frame(&ctx, &mut viewer, 1.0 + f as f64 / 60.0);
        pass.push(p);
        tess.push(t);
        vertices = vertices.max(v);
        rects = rects.max(viewer.trace.as_ref().unwrap().drawn.rects);
    }
    // The flame graph: zoom into each of the root's children and out again.
    let mut flame = Vec::new();
    let tv = viewer.trace.as_mut().unwrap();
    tv.tab = Tab::Flame;
    let mut roots = vec![0u32];
    roots.extend(tv.trace.flame.frames[0].children.iter().copied());
    for f in 0..FRAMES / 3 {
        let tv = viewer.trace.as_mut().unwrap();
        tv.flame_root = roots[f % roots.len()];
        let (p, t, v) = frame(&ctx, &mut viewer, 10.0 + f as f64 / 60.0);
        flame.push(p + t);
        vertices = vertices.max(v);
    }
    let peak = peak_mib();
    viewer.trace.as_mut().unwrap().tab = Tab::Timeline;
    let render = render_ms(viewer, |v, f| {
        if let Some(t) = v.trace.as_mut() {
            t.cam.start_us += t.cam.us_per_px * 7.0 * (f + 1) as f64;
        }
    });
    println!(
        "{:>9} {:>8.0} {:>8.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>9} {:>10} {:>9.1} {:>9.1} {:>7.2}",
        events,
        bytes as f64 / 1e6,
        open_s,
        pct(&mut pass, 0.5),
        pct(&mut pass, 0.99),
        pct(&mut tess, 0.99),
        pct(&mut flame, 0.99),
        rects,
        vertices,
        render
            .map(|r| format!("{r:.1} ms"))
            .unwrap_or_else(|| "n/a".into()),
        heap,
        peak,
        peak * (1 << 20) as f64 / bytes as f64
    );
}
