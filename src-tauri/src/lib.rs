//! # assay-console
//!
//! The Tauri 2 shell of the Assay console. It holds no logic of its own: each command in
//! [`commands`] parses its arguments, calls the crates (`assay-engine`, `assay-store`,
//! `assay-release`) and returns a serializable answer or a [`error::UiError`] (a sentence
//! plus a stable kind). Long jobs — benchmark, profile, create and sign a release, push,
//! install a runtime — run in the `assay` worker process ([`worker`]), described by a
//! closed set of [`job::JobSpec`]s. The web front end lives in `ui/`.

pub mod commands;
pub mod data;
pub mod error;
pub mod gateway_book;
pub mod job;
pub mod job_event;
pub mod scrape;
pub mod worker;

/// Builds and runs the app.
pub fn run() {
    let result = app_builder(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("assay-console: {e}");
        std::process::exit(1);
    }
}

/// Registers state and commands on a builder (the real one, or
/// `tauri::test::mock_builder()`).
pub fn app_builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    use commands::*;
    builder
        .manage(worker::Jobs::default())
        .manage(gateway_book::Clients::default())
        .invoke_handler(tauri::generate_handler![
            models::inspect_model,
            models::model_dims,
            models::sample_model,
            settings::system_info,
            settings::data_locations,
            jobs::start_job,
            jobs::cancel_job,
            runs::list_runs,
            runs::get_run,
            runs::compare_runs,
            runs::delete_run,
            keys::list_keys,
            keys::generate_key,
            keys::import_key,
            keys::export_public_key,
            keys::remove_key,
            releases::list_releases,
            releases::verify_release,
            gateways::list_gateways,
            gateways::add_gateway,
            gateways::remove_gateway,
            gateways::gateway_overview,
            gateways::gateway_control,
            gateways::gateway_metrics,
            gateways::gateway_profile,
            fleet::fleet_status,
            files::export_file,
            viewer::open_viewer,
            profiles::profile_timeline,
            probe::first_paint,
            probe::probe_done,
        ])
}
