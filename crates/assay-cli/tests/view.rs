//! `assay view`: the native viewer as a process of its own. Without a display it says so in
//! one line and exits 7; on a real X server (Xvfb) its window comes up and stays up.

mod common;

use std::{
    os::unix::process::CommandExt,
    process::{Command as Std, Stdio},
    time::{Duration, Instant},
};

use common::*;

fn viewer_bin() -> std::path::PathBuf {
    let p = root().join("target/debug/assay-viewer");
    assert!(
        p.exists(),
        "{} is missing: cargo build -p assay-viewer",
        p.display()
    );
    p
}

#[test]
fn without_a_display_it_says_so_and_exits_7() {
    let o = run(assay()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("ASSAY_VIEWER", viewer_bin())
        .args(["view"])
        .arg(fixture("mlp.onnx")));
    assert_eq!(o.code, 7, "{}", o.stderr);
    assert!(o.stderr.contains("no display"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    // The viewer itself says the same, with the same code.
    let o = Std::new(viewer_bin())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .arg(fixture("mlp.onnx"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7));
    // A trace with a run to lay over it is a usage error, before any window.
    let trace = tempfile::tempdir().unwrap();
    let t = trace.path().join("trace.json");
    std::fs::write(&t, br#"[{"name":"model_run","ph":"X","ts":0,"dur":5}]"#).unwrap();
    let o = run(assay()
        .env("ASSAY_VIEWER", viewer_bin())
        .args(["view", "--profile", "3f2a"])
        .arg(&t));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("is a trace"), "{}", o.stderr);
    // A model that is not there is the usual error, before any window.
    let o = run(assay().args(["view", "no-such-model.onnx"]));
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("no-such-model.onnx: no such file"),
        "{}",
        o.stderr
    );
}

#[test]
fn on_xvfb_the_window_comes_up_and_shows_the_graph() {
    // A private X server; its display number from this process's id.
    let display = format!(":{}", 80 + std::process::id() % 100);
    let mut xvfb = Std::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (scripts/setup.sh installs it)");
    let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
    let start = Instant::now();
    while !std::path::Path::new(&socket).exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut view = Std::new(assert_cmd::cargo::cargo_bin("assay"))
        .env("ASSAY_DB", test_db())
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("ASSAY_VIEWER", viewer_bin())
        .args(["view"])
        .arg(fixture("transformer_20k.onnx"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so the viewer it starts is stopped with it.
        .process_group(0)
        .spawn()
        .unwrap();
    // Up and drawing: still running after a few seconds, and the screen is not blank.
    std::thread::sleep(Duration::from_secs(6));
    let running = view.try_wait().unwrap().is_none();
    let shot = root().join("target/viewer-screenshots/xvfb-window.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let grabbed = Std::new("import")
        .args(["-display", &display, "-window", "root"])
        .arg(&shot)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    // Distinct colours on screen: a drawn graph has many, an empty root window one.
    let colours = Std::new("identify")
        .args(["-format", "%k"])
        .arg(&shot)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: a plain signal to the process group this test created.
    unsafe { libc::kill(-(view.id() as i32), libc::SIGKILL) };
    let _ = view.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(running, "the viewer exited early");
    assert!(grabbed, "no screenshot of {display}");
    assert!(
        colours > 10,
        "{colours} colours on screen: nothing was drawn"
    );
}
