//! `assay-viewer MODEL [--profile RUN] [--diff RUN_A RUN_B] [--accuracy RUN]` and
//! `assay-viewer TRACE.json`: the native viewer, a process of its own (started by
//! `assay view` and by the console).

use std::path::PathBuf;

use assay_viewer::{Viewer, overlay::Overlay, runs};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "assay-viewer",
    version,
    about = "Assay's native viewer: a model's graph, with profile runs laid over it, or a profile trace"
)]
struct Args {
    /// The .onnx model, or a profile trace (Chrome trace JSON, as `assay profile` writes).
    model: PathBuf,
    /// A stored profile run of this model, shown as heat (time per inference per node).
    #[arg(long, value_name = "RUN")]
    profile: Option<String>,
    /// Two stored profile runs: the change per node from the first to the second.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    diff: Option<Vec<String>>,
    /// A stored accuracy comparison of this model: the errors its divergence search measured,
    /// and its first diverging node.
    #[arg(long, value_name = "RUN")]
    accuracy: Option<String>,
    /// A Model Explorer node data file (JSON) to lay over the graph: values keyed by node
    /// name or output tensor name.
    #[arg(long, value_name = "FILE")]
    node_data: Option<PathBuf>,
    /// Write the overlay of --profile, --diff or --accuracy as Model Explorer node data to
    /// FILE and exit, without a window (no display needed).
    #[arg(long, value_name = "FILE")]
    export_node_data: Option<PathBuf>,
    /// Run history database (default: <data dir>/assay/assay.db).
    #[arg(long, value_name = "PATH", env = "ASSAY_DB")]
    db: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Some(out) = &args.export_node_data {
        std::process::exit(export(&args, out));
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "assay-viewer: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop session, or under xvfb-run"
        );
        std::process::exit(assay_engine::ErrorKind::NoDisplay.exit_code());
    }
    let mut viewer = Viewer::open_in_background(&args.model);
    if assay_viewer::app::is_trace(&args.model) {
        if args.profile.is_some()
            || args.diff.is_some()
            || args.accuracy.is_some()
            || args.node_data.is_some()
        {
            viewer.messages.push(
                "--profile, --diff, --accuracy and --node-data lay data over a model's graph, not over a trace: they are left out".into(),
            );
        }
    } else {
        load_overlays(&mut viewer, &args);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(format!("{} — Assay viewer", viewer.title))
            .with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "assay-viewer",
        options,
        Box::new(|_| Ok(Box::new(App(viewer)))),
    );
    if let Err(e) = result {
        // The display was there: a window or graphics adapter that fails is its own error.
        eprintln!("assay-viewer: cannot open a window: {e}");
        std::process::exit(assay_engine::ErrorKind::Io.exit_code());
    }
}

/// `--export-node-data`: the one overlay asked for, written for Model Explorer; the exit code.
fn export(args: &Args, out: &std::path::Path) -> i32 {
    use assay_engine::ErrorKind;
    let asked = [
        args.profile.is_some(),
        args.diff.is_some(),
        args.accuracy.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if asked != 1 {
        eprintln!(
            "assay-viewer: --export-node-data writes one overlay: give exactly one of --profile, --diff or --accuracy"
        );
        return ErrorKind::Usage.exit_code();
    }
    let mut viewer = Viewer::open(&args.model);
    load_overlays(&mut viewer, args);
    if let Some(m) = viewer.messages.first() {
        eprintln!("assay-viewer: {m}");
        return ErrorKind::Usage.exit_code();
    }
    let Some(view) = viewer.view.as_ref() else {
        eprintln!("assay-viewer: {} is not a model", args.model.display());
        return ErrorKind::Usage.exit_code();
    };
    // The run asked for, not a --node-data file imported beside it.
    let Some(overlay) = view
        .overlays
        .iter()
        .rev()
        .find(|o| o.kind != assay_viewer::overlay::OverlayKind::Imported)
    else {
        eprintln!("assay-viewer: no overlay to export");
        return ErrorKind::Usage.exit_code();
    };
    match assay_viewer::interop::write(overlay, &view.names(), out) {
        Ok(n) => {
            println!("wrote {n} nodes to {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("assay-viewer: {e}");
            ErrorKind::Io.exit_code()
        }
    }
}

/// Reads the runs asked for; a run that cannot be shown becomes a message in the window.
fn load_overlays(viewer: &mut Viewer, args: &Args) {
    let Some(view) = viewer.view.as_mut() else {
        return;
    };
    if let Some(file) = &args.node_data
        && let Err(e) = view.import_node_data(file)
    {
        viewer.messages.push(e.to_string());
    }
    if args.profile.is_none() && args.diff.is_none() && args.accuracy.is_none() {
        return;
    }
    let db = match args
        .db
        .clone()
        .map(Ok)
        .unwrap_or_else(assay_store::Store::default_path)
    {
        Ok(db) => db,
        Err(e) => {
            viewer.messages.push(e.to_string());
            return;
        }
    };
    let sha = match assay_engine::digest::sha256_file(&args.model) {
        Ok(s) => s,
        Err(e) => {
            viewer.messages.push(e.to_string());
            return;
        }
    };
    let names = view.names();
    if let Some(run) = &args.profile {
        match runs::profile_nodes(&db, run, &sha) {
            Ok((id, nodes)) => view.add_overlay(Overlay::profile(
                format!("profile {id}"),
                &names,
                &view.scene.hierarchy,
                &nodes,
            )),
            Err(e) => viewer.messages.push(e),
        }
    }
    if let Some([a, b]) = args.diff.as_deref() {
        match (
            runs::profile_nodes(&db, a, &sha),
            runs::profile_nodes(&db, b, &sha),
        ) {
            (Ok((ia, na)), Ok((ib, nb))) => view.add_overlay(Overlay::diff(
                format!("{ia} to {ib}"),
                &names,
                &view.scene.hierarchy,
                &na,
                &nb,
            )),
            (Err(e), _) | (_, Err(e)) => viewer.messages.push(e),
        }
    }
    if let Some(run) = &args.accuracy {
        match runs::divergence(&db, run, &sha) {
            Ok((id, label, d)) => {
                let o = Overlay::accuracy(
                    format!("accuracy {id} ({label})"),
                    &names,
                    &view.scene.hierarchy,
                    &d,
                );
                let at = o.highlight;
                view.add_overlay(o);
                // Open the view on the node where the results part.
                if let Some(n) = at {
                    view.focus_node(n);
                }
            }
            Err(e) => viewer.messages.push(e),
        }
    }
}

struct App(Viewer);

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.ui(ui);
    }
}
