//! The console benchmark's probe (`make bench-console`): with `ASSAY_CONSOLE_STARTUP_PROBE`
//! set, the front end reports its first meaningful paint, then its chart timings, here; the
//! console prints them as lines for the benchmark to read, and exits.

fn probing() -> bool {
    std::env::var_os("ASSAY_CONSOLE_STARTUP_PROBE").is_some()
}

/// `first_paint`: prints the first-paint line when probing; returns whether it is.
#[tauri::command]
pub fn first_paint(since_navigation_ms: f64) -> bool {
    if probing() {
        println!("assay-console: first paint ({since_navigation_ms:.0} ms after navigation)");
    }
    probing()
}

/// `probe_done`: prints the front end's measurements as one JSON line and exits.
#[tauri::command]
pub fn probe_done<R: tauri::Runtime>(app: tauri::AppHandle<R>, figures: serde_json::Value) {
    if probing() {
        println!("assay-console: probe {figures}");
        app.exit(0);
    }
}
