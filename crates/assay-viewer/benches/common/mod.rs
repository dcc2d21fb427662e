//! What the viewer's benchmarks share: the machine's description, peak memory, a headless
//! frame's input and percentiles.

use std::time::Instant;

use assay_viewer::Viewer;
use egui::{Pos2, RawInput, Rect, vec2};

/// The CPU and its cores.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!(
        "{cpu}, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

/// The process's peak resident memory so far.
pub fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// A 1280x800 frame at time `t`.
pub fn input(t: f64) -> RawInput {
    RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 800.0))),
        time: Some(t),
        ..Default::default()
    }
}

/// The `p` percentile (0 to 1) of `v`.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// wgpu's render of a 1280x800 frame (tessellate, draw, read back), p50 of 10; `nudge` moves
/// the view before each, so each render draws afresh.
pub fn render_ms(viewer: Viewer, mut nudge: impl FnMut(&mut Viewer, usize)) -> Option<f64> {
    let mut h = egui_kittest::Harness::builder()
        .with_size(vec2(1280.0, 800.0))
        .wgpu()
        .build_ui_state(|ui, v: &mut Viewer| v.ui(ui), viewer);
    h.run_steps(2);
    let mut times = Vec::new();
    for f in 0..10 {
        nudge(h.state_mut(), f);
        h.step();
        let t = Instant::now();
        let image = h.render().ok()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(image.width(), 1280);
    }
    Some(pct(&mut times, 0.5))
}
