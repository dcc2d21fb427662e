//! The self-contained HTML report of an output comparison (`assay report` on an accuracy
//! run): the verdict of every candidate per output, the first diverging node, and the
//! distribution of absolute errors per output, drawn with plotters as inline SVG.

use std::fmt::Write;

use plotters::{coord::Shift, prelude::*};

use super::{
    charts,
    report::{STYLE, esc},
};
use crate::{
    accuracy::{AccuracyReport, OutputReport, TensorError},
    error::{EngineError, Result},
};

const BAR: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const LIMIT: RGBColor = RGBColor(0xdd, 0x6b, 0x20);

fn err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Unsupported(format!("drawing a chart failed: {e}"))
}

/// The absolute errors of one output, one bar per decade, with the tolerance's atol marked.
pub fn error_distribution<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    candidate: &str,
    output: &OutputReport,
) -> Result<()> {
    let bins = &output.stats.histogram;
    let exact = output.stats.exact;
    let decade = |v: f64| v.log10().round() as i32;
    let (lo, hi) = match (bins.first(), bins.last()) {
        (Some(a), Some(b)) => (decade(a.from), decade(b.to)),
        _ => (-8, -7),
    };
    let atol = output.tolerance.atol;
    let (lo, hi) = if atol > 0.0 {
        (lo.min(decade(atol) - 1), hi.max(decade(atol) + 1))
    } else {
        (lo, hi)
    };
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64 * 1.15;
    let title = format!(
        "|error| of {} · {} · {} elements, {} exact",
        output.name, candidate, output.stats.elements, exact
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(lo as f64..hi as f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("absolute error (log scale)")
        .y_desc("elements")
        .x_labels((hi - lo + 1) as usize)
        .x_label_formatter(&|v| format!("1e{}", v.round() as i32))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bins.iter().map(|b| {
            let x0 = b.from.log10();
            Rectangle::new(
                [(x0 + 0.05, 0.0), (x0 + 0.95, b.count as f64)],
                BAR.filled(),
            )
        }))
        .map_err(err)?;
    if atol > 0.0 {
        let x = atol.log10();
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, top)],
                LIMIT.stroke_width(2),
            )))
            .map_err(err)?
            .label(format!("atol {atol:e}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], LIMIT.stroke_width(2)));
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

fn tensor_rows(h: &mut String, tensors: &[TensorError]) {
    for t in tensors {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{:?}</td><td>{}</td><td>{:.3e}</td><td>{:.3e}</td><td>{}</td></tr>",
            esc(&t.name),
            t.source,
            if t.compared { "yes" } else { "no" },
            t.max_abs,
            t.mean_abs,
            t.outside_tolerance
        );
    }
}

/// Renders the report of a recorded comparison.
pub fn render_accuracy_html(run_id: &str, r: &AccuracyReport) -> Result<String> {
    let mut h = String::with_capacity(128 << 10);
    let model = esc(&r.reference.model.display().to_string());
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Assay accuracy report · {model} · run {run}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{STYLE}</head><body>
<h1>Assay accuracy report: {verdict}</h1><div class="sub">run <b>{run}</b> · reference {label} · sha256 <code>{sha}</code> · ONNX Runtime {ort}</div>
"#,
        run = esc(run_id),
        verdict = if r.passed { "passed" } else { "FAILED" },
        label = esc(&r.reference.label),
        sha = esc(&r.reference.sha256),
        ort = esc(&r.environment.ort_version),
    );
    let _ = write!(
        h,
        "<h2>Inputs and noise floor</h2><p>{} input set(s), {} (seed {}). {}</p>",
        r.inputs.sets,
        esc(&r.inputs.source),
        r.inputs.seed,
        if r.noise.sets == 0 {
            "The reference's own noise was not measured.".to_string()
        } else if r.noise.deterministic {
            format!(
                "The reference ran twice on {} set(s) and was bit-identical.",
                r.noise.sets
            )
        } else {
            format!(
                "The reference ran twice on {} set(s); its outputs moved by up to {:.3e}.",
                r.noise.sets,
                r.noise.max_abs.values().copied().fold(0.0, f64::max)
            )
        }
    );
    for c in &r.candidates {
        let _ = write!(
            h,
            "<h2>{} — {}</h2><p>{:.3} ms per inference (reference {:.3} ms){}</p><table><tr><th>output</th><th>verdict</th><th>max abs</th><th>mean abs</th><th>max rel</th><th>p99 abs</th><th>cosine</th><th>outside tolerance</th><th>top-1</th><th>atol / rtol (check)</th></tr>",
            esc(&c.subject.label),
            c.verdict.word(),
            c.subject.mean_ms,
            r.reference.mean_ms,
            c.subject
                .fallback
                .as_ref()
                .map(|f| format!(" · <span class=flag>fallback: {}</span>", esc(f)))
                .unwrap_or_default()
        );
        for o in &c.outputs {
            let s = &o.stats;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.3e}</td><td>{:.3e}</td><td>{:.3e}</td><td>{:.3e}</td><td>{:.6}</td><td>{} / {}</td><td>{}</td><td>{:e} / {:e} ({})</td></tr>",
                esc(&o.name),
                o.verdict.word(),
                s.max_abs,
                s.mean_abs,
                s.max_rel,
                s.abs_percentiles.p99,
                s.cosine,
                s.outside_tolerance,
                s.elements,
                s.top
                    .map(|t| format!("{:.1}%", t.top1 * 100.0))
                    .unwrap_or_else(|| "—".into()),
                o.tolerance.atol,
                o.tolerance.rtol,
                o.tolerance.check
            );
        }
        h.push_str("</table>");
        if let Some(d) = &c.divergence {
            let _ = write!(
                h,
                "<p><b>First diverging node:</b> <code>{}</code> ({}) {}, node {} of {} in topological order, found in {} rounds exposing at most {} tensors.</p><table><tr><th>tensor</th><th>source</th><th>compared</th><th>max abs</th><th>mean abs</th><th>outside tolerance</th></tr>",
                esc(&d.node),
                esc(&d.op_type),
                if d.scope.is_empty() {
                    String::new()
                } else {
                    format!("in <code>{}</code>", esc(&d.scope))
                },
                d.index + 1,
                d.nodes,
                d.rounds,
                d.max_exposed
            );
            tensor_rows(&mut h, &d.inputs);
            tensor_rows(&mut h, &d.outputs);
            h.push_str("</table>");
        }
        for o in c.outputs.iter().filter(|o| !o.stats.histogram.is_empty()) {
            let svg = charts::svg(|area| error_distribution(area, &c.subject.label, o))?;
            let _ = write!(h, "<div class=chart>{svg}</div>");
        }
    }
    if !r.warnings.is_empty() {
        h.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}
