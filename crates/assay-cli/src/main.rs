//! `assay`: the headless front end of the Assay engine, for scripts, CI and the console's
//! worker process. Parsing and formatting live here; everything else is `assay-engine`.

mod args;
mod cli;
mod commands;
mod exit;
mod format;

use std::io::IsTerminal;

use clap::Parser;

fn main() {
    // Behave like other Unix tools when piped into `head`: end quietly on a closed pipe
    // instead of failing on every write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    exit::install_panic_hook();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(exit::bad_arguments(e)),
    };
    init_tracing(cli.verbose);
    let machine = commands::machine_output(&cli.command);
    let code = match commands::run(&cli) {
        Ok(()) => 0,
        Err(err) => exit::report(&err, machine),
    };
    std::process::exit(code);
}

fn init_tracing(verbose: u8) {
    // ONNX Runtime logs through `ort`'s tracing target; keep it to errors unless asked.
    let default = match verbose {
        0 => "warn,ort=error",
        1 => "info,ort=warn",
        _ => "debug,ort=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASSAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
