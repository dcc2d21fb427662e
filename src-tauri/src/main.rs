//! The `assay-console` binary: a shim over [`assay_console::run`].

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    assay_console::run();
}
