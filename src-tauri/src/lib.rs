//! # assay-console
//!
//! The Tauri 2 shell of the Assay console. It holds no logic: each command in [`commands`]
//! parses its arguments, calls `assay-engine` (or, for long jobs, the `assay` worker
//! process) and returns a serializable answer or a [`error::UiError`] (a sentence plus a
//! stable kind). The web front end lives in `ui/`.

pub mod commands;
pub mod error;

/// Builds and runs the app.
pub fn run() {
    let result = app_builder(tauri::Builder::default()).run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("assay-console: {e}");
        std::process::exit(1);
    }
}

/// Registers the commands on a builder (the real one, or `tauri::test::mock_builder()`).
pub fn app_builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::models::inspect_model,
        commands::models::sample_model,
        commands::settings::runtimes,
    ])
}
