//! The trace view driven like a user: a real ONNX Runtime trace from `assay profile` opens as
//! a timeline and a flame graph whose numbers are the file's, a generated three-thread trace
//! looks as its snapshot does, and what is not a trace is a sentence in the window.

use assay_viewer::{
    Viewer,
    trace::{Tab, timeline},
};
use egui::{Event, Key, Pos2};
use egui_kittest::kittest::Queryable;

use super::{click_at, fixture, harness, profile_run, screenshot};

#[test]
fn a_real_trace_opens_as_a_timeline_and_a_flame_graph_with_the_files_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("mlp.onnx");
    profile_run(&model, &dir.path().join("h.db"), &dir.path().join("p"));
    let path = dir.path().join("p/trace.json");

    // What the file says, read independently: its events, its longest kernel, and the
    // kernel time under /encoder.
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let kernels: Vec<(&str, f64)> = events
        .iter()
        .filter(|e| e["cat"] == "Node")
        .filter_map(|e| {
            let name = e["name"].as_str()?;
            name.ends_with("_kernel_time")
                .then(|| (name, e["dur"].as_f64().unwrap()))
        })
        .collect();
    assert!(kernels.len() > 100, "{} kernel events", kernels.len());
    let &(longest, longest_us) = kernels.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    let encoder_us: f64 = kernels
        .iter()
        .filter(|k| k.0.starts_with("/encoder/"))
        .map(|k| k.1)
        .sum();
    let runs = events.iter().filter(|e| e["name"] == "model_run").count();

    let mut h = harness(Viewer::open(&path));
    h.get_by_label_contains(&format!(
        "{} events, {} spans, 1 thread, {runs} inferences",
        events.len(),
        events.len()
    ));

    // Zoom onto the longest kernel, then click it where it is drawn.
    let t = h.state_mut().trace.as_mut().expect("the trace opened");
    let at = t
        .longest(longest)
        .expect("the longest kernel is in the view");
    t.focus(at);
    t.selected = None;
    h.run();
    let t = h.state().trace.as_ref().unwrap();
    let span = *timeline::span(&t.trace, at).unwrap();
    let y = t
        .bands
        .rows
        .iter()
        .find(|r| (r.0, r.1) == (at.lane, at.depth))
        .unwrap()
        .2;
    let p = Pos2::new(
        t.cam.x_of(t.canvas, span.start + span.dur as f64 / 2.0),
        timeline::Bands::screen_y(t.canvas, &t.cam, y) + timeline::ROW / 2.0,
    );
    assert!(
        t.canvas.contains(p),
        "{p:?} is off the canvas {:?}",
        t.canvas
    );
    assert!(t.drawn.labels > 0, "zoomed in, spans carry their names");
    click_at(&mut h, p, 1);
    assert_eq!(h.state().trace.as_ref().unwrap().selected, Some(at));
    h.get_by_label(longest);
    h.get_by_label(&format!("lasts {}", timeline::format_us(longest_us)));
    h.get_by_label("ran on CPUExecutionProvider");
    screenshot(&mut h, "trace_timeline_real");

    // The flame graph: /encoder's frame holds the file's kernel time under /encoder.
    h.key_press(Key::Num2);
    h.run();
    let t = h.state().trace.as_ref().unwrap();
    assert_eq!(t.tab, Tab::Flame);
    let flame = &t.trace.flame;
    let encoder = flame.frames[0]
        .children
        .iter()
        .copied()
        .find(|&f| flame.frames[f as usize].name == "encoder")
        .expect("an encoder frame");
    let total = flame.frames[encoder as usize].total_us;
    assert!(
        (total - encoder_us).abs() < 1e-6 * encoder_us.max(1.0),
        "{total} vs {encoder_us}"
    );
    let rect = flame
        .placed(0, t.canvas.shrink(4.0), 1.0)
        .into_iter()
        .find(|(f, _)| *f == encoder)
        .unwrap()
        .1;
    click_at(&mut h, rect.center(), 1);
    h.get_by_label_contains(&format!(
        "{} in all kernels under it",
        timeline::format_us(encoder_us)
    ));
    // A double click zooms on it; Backspace zooms back out.
    click_at(&mut h, rect.center(), 2);
    h.get_by_label("Zoomed on encoder");
    screenshot(&mut h, "trace_flame_real");
    h.key_press(Key::Backspace);
    h.run();
    assert_eq!(h.state().trace.as_ref().unwrap().flame_root, 0);
}

#[test]
fn a_generated_three_thread_trace_looks_as_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.json");
    assay_engine::profile::synthetic::write_trace(&path, 3000, 3).unwrap();
    let mut h = harness(Viewer::open(&path));
    let t = h.state().trace.as_ref().unwrap();
    let labels: Vec<&str> = t.trace.lanes.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["thread 1000", "thread 1001", "thread 1002"]);
    // model_run above its kernels and fences, in each thread.
    assert!(t.trace.lanes.iter().all(|l| l.rows.len() == 2));
    // Zoom in around the pointer with the keyboard: the span under it stays under it.
    let p = Pos2::new(t.canvas.center().x, t.canvas.top() + 100.0);
    let before = t.cam.t_of(t.canvas, p.x);
    h.event(Event::PointerMoved(p));
    h.run();
    for _ in 0..6 {
        h.key_press(Key::W);
    }
    h.run();
    let t = h.state().trace.as_ref().unwrap();
    let after = t.cam.t_of(t.canvas, p.x);
    assert!(
        (after - before).abs() < 1e-3 * t.trace.span_us,
        "{before} vs {after}"
    );
    assert!(t.cam.us_per_px < t.trace.span_us / t.canvas.width() as f64 / 10.0);
    h.key_press(Key::F);
    h.event(Event::PointerMoved(Pos2::new(5.0, 5.0)));
    h.run();
    h.snapshot("trace_three_threads");
}

#[test]
fn what_is_not_a_trace_is_a_message_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body, says) in [
        (
            "object.json",
            &br#"{"model": "not a trace"}"#[..],
            "is not a readable trace: not an ONNX Runtime profile",
        ),
        (
            "cut.json",
            b"[{\"name\":\"a\",\"ts\":1",
            "is not a readable trace",
        ),
        ("empty.json", b"[]", "holds no spans"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let h = harness(Viewer::open(&path));
        assert!(h.state().trace.is_none());
        h.get_by_label_contains(says);
        h.get_by_label_contains("Nothing to show");
    }
}
