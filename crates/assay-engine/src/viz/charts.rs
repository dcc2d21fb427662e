//! Charts drawn with plotters, to SVG (for reports and the console) or PNG.
//!
//! Every chart is one function over a generic drawing area, so the SVG and PNG outputs are
//! the same drawing. Text needs a font: the first of a few common system fonts (DejaVu
//! Sans, from Debian's `fonts-dejavu-core`, on Linux) is registered once.

use std::sync::OnceLock;

use plotters::{coord::Shift, prelude::*};

use crate::{
    bench::BenchResult,
    error::{EngineError, Result},
    profile::OpTypeStats,
    stats,
};

const W: u32 = 900;
const H: u32 = 420;
const BLUE: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const ORANGE: RGBColor = RGBColor(0xdd, 0x6b, 0x20);
const GREY: RGBColor = RGBColor(0x71, 0x80, 0x96);

/// The charts Assay draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Histogram,
    OverTime,
    BatchSweep,
    ConcurrencySweep,
    OperatorShare,
}

fn font() -> Result<()> {
    static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        const CANDIDATES: [&str; 5] = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ];
        let bytes = CANDIDATES
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| "no font found for chart text; install fonts-dejavu-core".to_string())?;
        let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, leaked)
            .map_err(|_| "the system font could not be read".to_string())
    })
    .clone()
    .map_err(EngineError::Unsupported)
}

fn err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Unsupported(format!("drawing a chart failed: {e}"))
}

/// Draws `chart` as an SVG document.
pub fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// Draws `chart` as a PNG file.
pub fn png(
    path: &std::path::Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    font()?;
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    draw(&root)?;
    root.present()
        .map_err(|e| EngineError::Unsupported(format!("writing {}: {e}", path.display())))
}

/// Latency histogram with the CDF on a second axis, p50/p99 markers and the p50 CI band.
pub fn histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    row: &BenchResult,
) -> Result<()> {
    let mut ms: Vec<f64> = row.samples_ns.iter().map(|&n| n as f64 / 1e6).collect();
    if ms.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Chart,
            "the row has no samples",
        ));
    }
    ms.sort_unstable_by(f64::total_cmp);
    // Clip the view at p99.9 so one outlier does not squash the shape; the tail is noted.
    let lo = ms[0];
    let hi = stats::quantile_sorted(&ms, 0.999).max(lo * 1.0001 + 1e-9);
    let bins = 60usize;
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for &v in ms.iter().filter(|&&v| v <= hi) {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64 * 1.1;
    let title = format!(
        "Latency distribution · {} batch {} ×{} · n = {}",
        row.provider,
        row.batch,
        row.concurrency,
        ms.len()
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(48)
        .build_cartesian_2d(lo..hi, 0f64..top)
        .map_err(err)?
        .set_secondary_coord(lo..hi, 0f64..1.0);
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("samples")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("CDF")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let ci = row.ci95_ms.p50;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(ci[0], 0.0), (ci[1].max(ci[0] + width * 0.2), top)],
            BLUE.mix(0.15).filled(),
        )))
        .map_err(err)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.92, c as f64)],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(err)?;
    let step = (ms.len() / 400).max(1);
    chart
        .draw_secondary_series(LineSeries::new(
            ms.iter()
                .enumerate()
                .step_by(step)
                .filter(|(_, v)| **v <= hi)
                .map(|(i, &v)| (v, (i + 1) as f64 / ms.len() as f64)),
            ORANGE.stroke_width(2),
        ))
        .map_err(err)?
        .label("CDF")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ORANGE.stroke_width(2)));
    for (name, v, color) in [
        ("p50", row.latency_ms.p50, BLACK),
        ("p99", row.latency_ms.p99, RED),
    ] {
        chart
            .draw_series(std::iter::once(PathElement::new(
                [(v, 0.0), (v, top)],
                color.stroke_width(2),
            )))
            .map_err(err)?
            .label(format!("{name} {v:.4} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Latency of each inference in order, so warmup effects and drift show.
pub fn over_time<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    row: &BenchResult,
) -> Result<()> {
    let n = row.samples_ns.len();
    if n == 0 {
        return Err(EngineError::invalid(
            crate::setting::Setting::Chart,
            "the row has no samples",
        ));
    }
    // At most ~2,000 points: each bucket shows its median and its max.
    let per = n.div_ceil(2000);
    let buckets: Vec<(f64, f64, f64)> = row
        .samples_ns
        .chunks(per)
        .enumerate()
        .map(|(i, c)| {
            let mut v: Vec<f64> = c.iter().map(|&x| x as f64 / 1e6).collect();
            v.sort_unstable_by(f64::total_cmp);
            (
                (i * per) as f64,
                stats::quantile_sorted(&v, 0.5),
                v[v.len() - 1],
            )
        })
        .collect();
    let top = buckets.iter().map(|b| b.2).fold(0.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Latency over the run · {} batch {} ×{}",
                row.provider, row.batch, row.concurrency
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n as f64, 0f64..top.max(1e-6))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("inference #")
        .y_desc("latency (ms)")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            buckets.iter().map(|b| (b.0, b.2)),
            GREY.mix(0.6),
        ))
        .map_err(err)?
        .label(format!("max per {per} inferences"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREY));
    chart
        .draw_series(LineSeries::new(
            buckets.iter().map(|b| (b.0, b.1)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("median per {per} inferences"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Throughput (samples/s) and p99 against one swept variable.
fn sweep<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f64, f64, f64)],
    x_desc: &str,
    title: &str,
) -> Result<()> {
    if points.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Chart,
            "nothing to plot",
        ));
    }
    let xmax = points.iter().map(|p| p.0).fold(1.0, f64::max) * 1.1;
    let tmax = points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let pmax = points.iter().map(|p| p.2).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .right_y_label_area_size(56)
        .build_cartesian_2d(0f64..xmax, 0f64..tmax.max(1e-6))
        .map_err(err)?
        .set_secondary_coord(0f64..xmax, 0f64..pmax.max(1e-6));
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("throughput (samples/s)")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("p99 (ms)")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            LineSeries::new(points.iter().map(|p| (p.0, p.1)), BLUE.stroke_width(2)).point_size(4),
        )
        .map_err(err)?
        .label("throughput")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart
        .draw_secondary_series(
            LineSeries::new(points.iter().map(|p| (p.0, p.2)), ORANGE.stroke_width(2))
                .point_size(4),
        )
        .map_err(err)?
        .label("p99")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ORANGE.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Throughput and p99 against batch size, for the rows at the lowest concurrency.
pub fn batch_sweep<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[BenchResult],
) -> Result<()> {
    let c = rows.iter().map(|r| r.concurrency).min().unwrap_or(1);
    let mut pts: Vec<(f64, f64, f64)> = rows
        .iter()
        .filter(|r| r.concurrency == c)
        .map(|r| (r.batch as f64, r.throughput.samples_per_s, r.latency_ms.p99))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    sweep(
        area,
        &pts,
        "batch size",
        &format!("Throughput and p99 against batch size (concurrency {c})"),
    )
}

/// Throughput and p99 against concurrency, for the rows at the smallest batch.
pub fn concurrency_sweep<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[BenchResult],
) -> Result<()> {
    let b = rows.iter().map(|r| r.batch).min().unwrap_or(1);
    let mut pts: Vec<(f64, f64, f64)> = rows
        .iter()
        .filter(|r| r.batch == b)
        .map(|r| {
            (
                r.concurrency as f64,
                r.throughput.samples_per_s,
                r.latency_ms.p99,
            )
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    sweep(
        area,
        &pts,
        "concurrent streams",
        &format!("Throughput and p99 against concurrency (batch {b})"),
    )
}

/// Each operator type's share of kernel time, largest first.
pub fn operator_share<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ops: &[OpTypeStats],
) -> Result<()> {
    let ops: Vec<&OpTypeStats> = ops.iter().take(12).collect();
    if ops.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Chart,
            "no operators to plot",
        ));
    }
    let names: Vec<String> = ops.iter().map(|o| o.op_type.clone()).collect();
    let max = ops.iter().map(|o| o.share_pct).fold(0.0, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Share of kernel time by operator type", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(150)
        .build_cartesian_2d(0f64..max, (0..ops.len()).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("% of kernel time")
        .y_labels(ops.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(ops.iter().enumerate().map(|(i, o)| {
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (o.share_pct, SegmentValue::Exact(i + 1)),
                ],
                BLUE.mix(0.75).filled(),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(ops.iter().enumerate().map(|(i, o)| {
            Text::new(
                format!("{:.1}%", o.share_pct),
                (o.share_pct + max * 0.01, SegmentValue::CenterOf(i)),
                ("sans-serif", 12),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// Writes every chart that applies to a run as `NAME.svg` and `NAME.png` into `dir`.
/// Returns the files written.
pub fn write_chart_files(
    dir: &std::path::Path,
    rows: &[BenchResult],
    op_types: Option<&[OpTypeStats]>,
) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let mut files = Vec::new();
    // A macro, not a closure: each expansion is typed for its own backend.
    macro_rules! both {
        ($name:expr, $draw:expr) => {{
            let name: String = $name;
            let svg_path = dir.join(format!("{name}.svg"));
            crate::durable::write(
                &svg_path,
                svg($draw)?.as_bytes(),
                crate::durable::Mode::Shared,
            )
            .map_err(|e| EngineError::io(&svg_path, e))?;
            let png_path = dir.join(format!("{name}.png"));
            png(&png_path, $draw)?;
            files.push(svg_path);
            files.push(png_path);
        }};
    }
    for (i, r) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.samples_ns.is_empty())
    {
        both!(format!("latency-histogram-{i}"), |a| histogram(a, r));
        both!(format!("latency-over-time-{i}"), |a| over_time(a, r));
    }
    let distinct = |f: fn(&BenchResult) -> i64| {
        let mut v: Vec<i64> = rows.iter().map(f).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    if distinct(|r| r.batch) > 1 {
        both!("batch-sweep".to_string(), |a| batch_sweep(a, rows));
    }
    if distinct(|r| r.concurrency as i64) > 1 {
        both!("concurrency-sweep".to_string(), |a| concurrency_sweep(
            a, rows
        ));
    }
    if let Some(ops) = op_types {
        both!("operator-share".to_string(), |a| operator_share(a, ops));
    }
    Ok(files)
}
