//! The self-contained HTML report of a run: one file with its charts (inline SVG), the
//! flame graph (an embedded SVG document, still interactive), the tables and the
//! environment fingerprint. No network, no external files: it opens offline anywhere.

use std::fmt::Write;

use base64::Engine as _;

use super::charts;
use crate::{
    bench::BenchReport,
    error::Result,
    profile::{NodeStats, OpTypeStats, flame},
};

/// What `assay report --json` prints once the report is written.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReportWritten {
    pub run_id: String,
    /// The HTML file.
    pub report: std::path::PathBuf,
    pub bytes: usize,
    /// The chart files written beside it (`--charts`).
    pub charts: Vec<std::path::PathBuf>,
}

/// The profile part of a report, when the run has one.
pub struct ProfileSection<'a> {
    pub mode: &'a str,
    pub op_types: &'a [OpTypeStats],
    pub nodes: &'a [NodeStats],
    pub folded: &'a str,
}

/// The report's section titles, in order (also the snapshot-tested structure).
pub const SECTIONS: [&str; 6] = [
    "Results",
    "Latency distributions",
    "Sweeps",
    "Operators",
    "Flame graph",
    "Environment",
];

/// The reports' shared look: one inline style sheet, light and dark.
pub(crate) const STYLE: &str = r#"<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1a202c}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.sub{color:#4a5568} table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:right;padding:4px 8px;border-bottom:1px solid #edf2f7} th{background:#f7fafc} td:first-child,th:first-child{text-align:left}
.chart svg{width:100%;height:auto} .flag{color:#975a16} iframe{width:100%;height:520px;border:1px solid #e2e8f0}
@media (prefers-color-scheme: dark){body{background:#1a202c;color:#e2e8f0} th{background:#2d3748} .chart svg{background:#fff}}
</style>"#;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the report. Rows without samples get tables but no distribution charts.
pub fn render_html(
    run_id: &str,
    report: &BenchReport,
    profile: Option<&ProfileSection<'_>>,
) -> Result<String> {
    let mut h = String::with_capacity(256 << 10);
    let model = esc(&report.model.path.display().to_string());
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Assay report · {model} · run {run}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{STYLE}</head><body>
<h1>Assay report</h1><div class="sub">run <b>{run}</b> · {model} · sha256 <code>{sha}</code> · ONNX Runtime {ort}</div>
"#,
        run = esc(run_id),
        sha = esc(&report.model.sha256),
        STYLE = STYLE,
        ort = esc(&report.environment.ort_version),
    );

    let checked = report.results.iter().any(|r| r.accuracy.is_some());
    let _ = write!(
        h,
        "<h2>{}</h2><p>Load {:.3} ms · first (cold) inference {:.3} ms. Intervals are 95% bootstrap intervals; values in parentheses are percentiles with fewer than 10 samples beyond them (estimates, not measurements).</p><table><tr><th>provider</th><th>batch</th><th>conc</th><th>samples</th><th>p50 ms [95% CI]</th><th>p90</th><th>p99 ms [95% CI]</th><th>p99.9</th><th>mean ± sd</th><th>inf/s</th><th>samples/s</th><th>overhead µs</th><th>peak RSS MiB</th>{}</tr>",
        SECTIONS[0],
        report.load_ms,
        report.first_inference_ms,
        if checked {
            "<th>accuracy</th><th>max abs err</th>"
        } else {
            ""
        }
    );
    for r in &report.results {
        let l = &r.latency_ms;
        let flag = |name: &str, v: f64| {
            if r.unsupported_percentiles.iter().any(|u| u == name) {
                format!("<span class=flag>({v:.4})</span>")
            } else {
                format!("{v:.4}")
            }
        };
        let provider = match &r.fallback {
            Some(f) => format!(
                "{} → cpu <span class=flag title=\"{}\">(fallback)</span>",
                esc(&r.provider),
                esc(f)
            ),
            None => esc(&r.provider),
        };
        let _ = write!(
            h,
            "<tr><td>{provider}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4} [{:.4}–{:.4}]</td><td>{}</td><td>{} [{:.4}–{:.4}]</td><td>{}</td><td>{:.4} ± {:.4}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td><td>{}</td>{}</tr>",
            r.batch,
            r.concurrency,
            r.samples,
            l.p50,
            r.ci95_ms.p50[0],
            r.ci95_ms.p50[1],
            flag("p90", l.p90),
            flag("p99", l.p99),
            r.ci95_ms.p99[0],
            r.ci95_ms.p99[1],
            flag("p999", l.p999),
            l.mean,
            l.stddev,
            r.throughput.inferences_per_s,
            r.throughput.samples_per_s,
            r.overhead_us,
            r.peak_rss_bytes
                .map(|b| format!("{:.1}", b as f64 / 1048576.0))
                .unwrap_or_default(),
            match (&r.accuracy, checked) {
                (Some(a), _) => format!(
                    "<td title=\"against {} on {} input sets\">{}</td><td>{:.3e}</td>",
                    esc(&a.reference),
                    a.sets,
                    a.verdict.word(),
                    a.max_abs
                ),
                (None, true) => "<td>-</td><td>-</td>".into(),
                (None, false) => String::new(),
            }
        );
    }
    h.push_str("</table>");

    let _ = write!(h, "<h2>{}</h2>", SECTIONS[1]);
    for r in report
        .results
        .iter()
        .filter(|r| !r.samples_ns.is_empty())
        .take(8)
    {
        let _ = write!(
            h,
            "<div class=chart>{}</div>",
            charts::svg(|a| charts::histogram(a, r))?
        );
        let _ = write!(
            h,
            "<div class=chart>{}</div>",
            charts::svg(|a| charts::over_time(a, r))?
        );
    }

    let _ = write!(h, "<h2>{}</h2>", SECTIONS[2]);
    let distinct = |f: &dyn Fn(&crate::bench::BenchResult) -> i64| {
        let mut v: Vec<i64> = report.results.iter().map(f).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    let mut any = false;
    if distinct(&|r| r.batch) > 1 {
        let _ = write!(
            h,
            "<div class=chart>{}</div>",
            charts::svg(|a| charts::batch_sweep(a, &report.results))?
        );
        any = true;
    }
    if distinct(&|r| r.concurrency as i64) > 1 {
        let _ = write!(
            h,
            "<div class=chart>{}</div>",
            charts::svg(|a| charts::concurrency_sweep(a, &report.results))?
        );
        any = true;
    }
    if !any {
        h.push_str("<p>This run measured one batch size and one concurrency; sweep several batch sizes and concurrency levels to see how throughput scales.</p>");
    }

    let _ = write!(h, "<h2>{}</h2>", SECTIONS[3]);
    match profile {
        Some(p) => {
            let _ = write!(
                h,
                "<p>{} graph.</p><div class=chart>{}</div>",
                esc(p.mode),
                charts::svg(|a| charts::operator_share(a, p.op_types))?
            );
            h.push_str("<table><tr><th>node</th><th>op</th><th>provider</th><th>calls</th><th>µs / inference</th><th>share</th><th>p50 µs</th><th>shapes</th></tr>");
            for n in p.nodes.iter().take(40) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.1}%</td><td>{:.2}</td><td>{} → {}</td></tr>",
                    esc(&n.name),
                    esc(&n.op_type),
                    esc(&n.provider),
                    n.calls,
                    n.per_inference_us,
                    n.share_pct,
                    n.p50_us,
                    esc(&n.input_shapes),
                    esc(&n.output_shapes)
                );
            }
            h.push_str("</table>");
        }
        None => h.push_str(
            "<p>No operator profile for this run; <code>assay profile</code> records one.</p>",
        ),
    }

    let _ = write!(h, "<h2>{}</h2>", SECTIONS[4]);
    match profile {
        Some(p) => {
            let mut svg = Vec::new();
            flame::render_svg(
                p.folded,
                "Where one inference spends its time",
                format!("{} graph", p.mode),
                &mut svg,
            )
            .map_err(|e| crate::EngineError::Unsupported(format!("flame graph: {e}")))?;
            let _ = write!(
                h,
                "<iframe title=\"flame graph\" src=\"data:image/svg+xml;base64,{}\"></iframe>",
                base64::engine::general_purpose::STANDARD.encode(svg)
            );
        }
        None => h.push_str("<p>No profile, so no flame graph.</p>"),
    }

    let _ = write!(h, "<h2>{}</h2><table>", SECTIONS[5]);
    let env = serde_json::to_value(&report.environment).unwrap_or_default();
    if let Some(obj) = env.as_object() {
        for (k, v) in obj {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(k),
                esc(&v)
            );
        }
    }
    let settings = serde_json::to_string(&report.settings).unwrap_or_default();
    let _ = write!(
        h,
        "<tr><td>settings</td><td style=\"text-align:left\"><code>{}</code></td></tr></table>",
        esc(&settings)
    );
    let _ = writeln!(
        h,
        "<p class=sub>Generated by assay {}.</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(h)
}
