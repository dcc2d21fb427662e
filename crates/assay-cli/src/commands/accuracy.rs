//! `assay accuracy MODEL`: the output comparison, printed as one table per candidate, as the
//! `assay.accuracy/1` document, or as NDJSON events for the console.

use std::io::IsTerminal;

use assay_engine::{
    accuracy::{
        self, AccuracyEvent, AccuracyObserver, AccuracyPlan, AccuracyReport, InputSource,
        TensorError, Verdict,
    },
    runtime,
};
use comfy_table::{CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use indicatif::{ProgressBar, ProgressStyle};

use super::{emit_line, plan::input_plan, store::History};
use crate::{
    cli::{AccuracyArgs, Cli},
    exit::MismatchGate,
    format,
};

fn plan(a: &AccuracyArgs) -> anyhow::Result<AccuracyPlan> {
    let mut p = AccuracyPlan::new(a.reference.resolve(
        &a.model,
        a.intra_threads,
        a.strict_provider,
    ));
    p.candidates = a
        .candidates
        .iter()
        .map(|c| c.resolve(&a.model, a.intra_threads, a.strict_provider))
        .collect();
    if p.candidates.is_empty() && a.load_outputs.is_some() {
        // Against saved outputs, the model itself is what is checked.
        p.candidates.push(p.reference.clone());
    }
    p.source = match &a.load_inputs {
        Some(f) => InputSource::Saved(f.clone()),
        None => InputSource::Synthetic { sets: a.sets },
    };
    p.inputs = input_plan(&a.inputs);
    p.tolerances = a.tolerance.tolerances()?;
    p.load_outputs = a.load_outputs.clone();
    p.save_inputs = a.save_inputs.clone();
    p.save_outputs = a.save_outputs.clone();
    p.noise_sets = a.noise_sets;
    p.locate = !a.no_locate;
    p.locate_batch = a.locate_batch;
    p.validate()?;
    Ok(p)
}

pub fn run(cli: &Cli, a: &AccuracyArgs) -> anyhow::Result<()> {
    let plan = plan(a)?;
    // Check the files before loading the runtime: a typo in a path is not a runtime problem.
    for s in std::iter::once(&plan.reference).chain(&plan.candidates) {
        assay_engine::model::check_model_path(&s.model)?;
    }
    let rt = runtime::activate(cli.runtime.as_deref())?;
    // Open the history first: a read-only or locked database is reported before the run.
    let history = if a.no_save {
        None
    } else {
        Some(History::open(cli)?)
    };
    let mut report = if a.output.events {
        accuracy::run_accuracy(rt, &plan, &mut EventsObserver)?
    } else {
        let mut bar = BarObserver::new(!a.output.json && std::io::stderr().is_terminal());
        let r = accuracy::run_accuracy(rt, &plan, &mut bar);
        bar.finish();
        r?
    };
    // Nothing compared (golden data saved only): nothing to record.
    let saved = history
        .as_ref()
        .filter(|_| !report.candidates.is_empty())
        .map(|h| h.run(h.store.save_accuracy(&report)));
    if let Some(Ok(id)) = &saved {
        report.run_id = Some(id.clone());
    }
    if let Some(out) = &a.output.out {
        format::write_atomic(out, &serde_json::to_vec_pretty(&report)?)?;
    }
    let passed = report.passed;
    let run_id = report.run_id.clone();
    let failing: Vec<String> = report
        .candidates
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.subject.label.clone())
        .collect();
    if a.output.events {
        emit_line(&AccuracyEvent::Result {
            report: Box::new(report),
        });
    } else if a.output.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
        if let Some(out) = &a.output.out {
            println!("result written to {}", out.display());
        }
        if let Some(id) = &run_id {
            println!("saved as run {id} (assay runs show {id}, assay report {id})");
        }
    }
    // A failed save must not lose the comparison: it was printed, then the error is reported.
    if let Some(Err(e)) = saved {
        return Err(e.into());
    }
    if a.fail_on_mismatch && !passed {
        return Err(MismatchGate(format!(
            "outside tolerance and above the reference's noise floor: {}",
            failing.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// NDJSON on stdout: the console's worker protocol.
struct EventsObserver;

impl AccuracyObserver for EventsObserver {
    fn event(&mut self, event: AccuracyEvent) {
        emit_line(&event);
    }
}

/// A progress bar over the input sets on a terminal.
struct BarObserver {
    bar: Option<ProgressBar>,
}

impl BarObserver {
    fn new(enabled: bool) -> Self {
        BarObserver {
            bar: enabled.then(|| {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b
            }),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl AccuracyObserver for BarObserver {
    fn event(&mut self, event: AccuracyEvent) {
        match event {
            AccuracyEvent::Started { sets, .. } => {
                if let Some(b) = &self.bar {
                    b.set_length(sets as u64);
                    b.set_message("comparing");
                }
            }
            AccuracyEvent::SetDone { index, .. } => {
                if let Some(b) = &self.bar {
                    b.set_position(index as u64 + 1);
                }
            }
            AccuracyEvent::Locating {
                round, from, to, ..
            } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("locating: round {round}, nodes {from}..{to}"));
                }
            }
            // Warnings are part of the report, printed once after the tables.
            AccuracyEvent::Warning { .. } | AccuracyEvent::Result { .. } => {}
        }
    }
}

fn number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

fn tensor_line(t: &TensorError) -> String {
    let source = match t.source {
        accuracy::TensorSource::GraphInput => "model input",
        accuracy::TensorSource::Initializer => "weight",
        accuracy::TensorSource::Activation => "activation",
    };
    if !t.compared {
        return format!(
            "    {} ({source}): not compared (missing or reshaped on one side)",
            t.name
        );
    }
    format!(
        "    {} ({source}): max abs {}, mean abs {}, {} of {} outside tolerance",
        t.name,
        number(t.max_abs),
        number(t.mean_abs),
        t.outside_tolerance,
        t.elements
    )
}

pub(crate) fn print_human(r: &AccuracyReport) {
    println!(
        "reference: {} ({:.3} ms/inference){}",
        r.reference.label,
        r.reference.mean_ms,
        r.reference
            .fallback
            .as_ref()
            .map(|f| format!(" [fallback: {f}]"))
            .unwrap_or_default()
    );
    println!(
        "inputs: {} set{} ({}, seed {}){}",
        r.inputs.sets,
        if r.inputs.sets == 1 { "" } else { "s" },
        r.inputs.source,
        r.inputs.seed,
        r.inputs
            .loaded_outputs
            .as_ref()
            .map(|p| format!(", reference outputs from {}", p.display()))
            .unwrap_or_default()
    );
    if r.noise.sets > 0 {
        let worst = r.noise.max_abs.values().copied().fold(0.0, f64::max);
        println!(
            "noise floor: the reference run twice on {} set{}: {}",
            r.noise.sets,
            if r.noise.sets == 1 { "" } else { "s" },
            if r.noise.deterministic {
                "deterministic (bit-identical)".to_string()
            } else {
                format!("not deterministic, max abs difference {}", number(worst))
            }
        );
    }
    for c in &r.candidates {
        println!();
        println!(
            "candidate: {} ({:.3} ms/inference) — {}",
            c.subject.label,
            c.subject.mean_ms,
            match c.verdict {
                Verdict::Pass => "PASS",
                Verdict::Noise => "PASS (differences within the reference's own noise)",
                Verdict::Fail => "FAIL",
            }
        );
        if let Some(f) = &c.subject.fallback {
            println!("  fallback: {f}");
        }
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
            "output",
            "verdict",
            "max abs",
            "mean abs",
            "max rel",
            "p99 abs",
            "cosine",
            "outside tol",
            "top-1",
            "atol / rtol (check)",
        ]);
        for o in &c.outputs {
            let s = &o.stats;
            t.add_row(vec![
                o.name.clone(),
                o.verdict.word().to_string(),
                number(s.max_abs),
                number(s.mean_abs),
                number(s.max_rel),
                number(s.abs_percentiles.p99),
                format!("{:.6}", s.cosine),
                format!("{} / {}", s.outside_tolerance, s.elements),
                s.top
                    .map(|k| format!("{:.1}%", k.top1 * 100.0))
                    .unwrap_or_else(|| "—".into()),
                format!(
                    "{} / {} ({})",
                    number(o.tolerance.atol),
                    number(o.tolerance.rtol),
                    o.tolerance.check
                ),
            ]);
        }
        for col in 2..9 {
            if let Some(c) = t.column_mut(col) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        println!("{t}");
        for o in &c.outputs {
            let nf = &o.stats.nonfinite;
            if nf.one_sided > 0 {
                println!(
                    "  {}: {} NaN/Inf on one side only (reference NaN {}, Inf {}; candidate NaN {}, Inf {})",
                    o.name,
                    nf.one_sided,
                    nf.nan_reference,
                    nf.inf_reference,
                    nf.nan_candidate,
                    nf.inf_candidate
                );
            }
        }
        if let Some(d) = &c.divergence {
            println!(
                "  first diverging node: {} ({}){}, node {} of {} in topological order (input set {}, {} rounds, at most {} tensors exposed)",
                d.node,
                d.op_type,
                if d.scope.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", d.scope)
                },
                d.index + 1,
                d.nodes,
                d.set,
                d.rounds,
                d.max_exposed
            );
            println!("  its inputs:");
            for t in &d.inputs {
                println!("{}", tensor_line(t));
            }
            println!("  its outputs:");
            for t in &d.outputs {
                println!("{}", tensor_line(t));
            }
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    println!();
    println!(
        "{}",
        if r.candidates.is_empty() {
            "saved; nothing was compared".to_string()
        } else if r.passed {
            "PASSED: every candidate is within tolerance (or the reference's own noise)".to_string()
        } else {
            "FAILED: a candidate is outside tolerance and above the reference's noise floor"
                .to_string()
        }
    );
    if let Some(p) = &r.inputs.saved_inputs {
        println!("inputs saved to {}", p.display());
    }
    if let Some(p) = &r.inputs.saved_outputs {
        println!("reference outputs saved to {}", p.display());
    }
}
