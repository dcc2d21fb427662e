//! The timeline: one band per thread, one row per nesting depth, time left to right.
//!
//! Drawing costs the same for a thousand spans as for a million: each row finds its first
//! visible span by binary search, draws spans at least a pixel wide one by one, and where
//! spans are narrower than a pixel, draws one block for that pixel and jumps past
//! everything in it by another binary search. A row thus draws at most a few rectangles
//! per pixel of width, whatever the zoom.

use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, pos2, vec2};

use super::{
    flame::fit_text,
    model::{Span, Trace},
};

/// Height of one row of spans, and of a thread's title band.
pub const ROW: f32 = 18.0;
/// Height of the time axis at the top.
pub const AXIS: f32 = 22.0;

/// What the timeline shows: the time at its left edge, its scale, and how far it is
/// scrolled down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeCam {
    pub start_us: f64,
    pub us_per_px: f64,
    pub scroll_y: f32,
}

impl TimeCam {
    pub fn x_of(&self, area: Rect, t: f64) -> f32 {
        area.left() + ((t - self.start_us) / self.us_per_px) as f32
    }

    pub fn t_of(&self, area: Rect, x: f32) -> f64 {
        self.start_us + (x - area.left()) as f64 * self.us_per_px
    }

    /// Zooms by `factor` (> 1 zooms in) keeping the time under `x` in place.
    pub fn zoom_at(&mut self, area: Rect, x: f32, factor: f64, span_us: f64) {
        let t = self.t_of(area, x);
        // From 1 ns a pixel up to the whole trace on a tenth of the width.
        let widest = (span_us.max(1.0) * 10.0 / area.width().max(1.0) as f64).max(1e-3);
        self.us_per_px = (self.us_per_px / factor).clamp(1e-3, widest);
        self.start_us = t - (x - area.left()) as f64 * self.us_per_px;
    }
}

/// A span's place: thread, depth, index in its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRef {
    pub lane: usize,
    pub depth: usize,
    pub index: usize,
}

/// Where each thread's band and rows lie, from the top of the content.
#[derive(Debug, Clone, Default)]
pub struct Bands {
    /// (lane, y of its title band).
    pub titles: Vec<(usize, f32)>,
    /// (lane, depth, y of the row).
    pub rows: Vec<(usize, usize, f32)>,
    pub height: f32,
}

impl Bands {
    pub fn of(trace: &Trace) -> Bands {
        let mut b = Bands::default();
        let mut y = 0.0;
        for (l, lane) in trace.lanes.iter().enumerate() {
            b.titles.push((l, y));
            y += ROW;
            for d in 0..lane.rows.len() {
                b.rows.push((l, d, y));
                y += ROW;
            }
            y += 6.0;
        }
        b.height = y;
        b
    }

    /// The y on screen of a row of the content.
    pub fn screen_y(area: Rect, cam: &TimeCam, y: f32) -> f32 {
        area.top() + AXIS + y - cam.scroll_y
    }
}

/// A colour per operator (kernels), or per category (session events), stable across runs.
pub fn span_colour(trace: &Trace, s: &Span) -> Color32 {
    let k = trace.kind(s);
    let name = trace.name(s);
    if name.ends_with("_fence_before") || name.ends_with("_fence_after") {
        return Color32::from_gray(150);
    }
    let key = if k.op.is_empty() { &k.cat } else { &k.op };
    let h = key
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    if k.op.is_empty() {
        // Session-level spans: blues, so kernels stand out against them.
        let t = (h % 100) as f32 / 100.0;
        return Color32::from_rgb(
            (70.0 + 40.0 * t) as u8,
            (120.0 + 40.0 * t) as u8,
            (190.0 + 40.0 * t) as u8,
        );
    }
    egui::ecolor::Hsva::new((h % 360) as f32 / 360.0, 0.55, 0.85, 1.0).into()
}

/// What one frame of the timeline drew: rectangles, of which merged, and labels.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Drawn {
    pub rects: usize,
    pub merged: usize,
    pub labels: usize,
}

/// Paints the timeline into `area`.
#[allow(clippy::too_many_arguments)]
pub fn paint(
    painter: &egui::Painter,
    area: Rect,
    trace: &Trace,
    bands: &Bands,
    cam: &TimeCam,
    selected: Option<SpanRef>,
    fg: Color32,
    line: Color32,
) -> Drawn {
    let mut drawn = Drawn::default();
    let font = FontId::proportional(11.0);
    let t0 = cam.start_us;
    let t1 = cam.t_of(area, area.right());
    let content = Rect::from_min_max(pos2(area.left(), area.top() + AXIS), area.max);
    let clip = painter.with_clip_rect(content);
    for &(l, y) in &bands.titles {
        let sy = Bands::screen_y(area, cam, y);
        if sy + ROW < content.top() || sy > content.bottom() {
            continue;
        }
        let band = Rect::from_min_size(pos2(area.left(), sy), vec2(area.width(), ROW));
        clip.rect_filled(band, 0.0, line.gamma_multiply(0.35));
        clip.text(
            band.left_center() + vec2(4.0, 0.0),
            Align2::LEFT_CENTER,
            &trace.lanes[l].label,
            font.clone(),
            fg,
        );
    }
    for &(l, d, y) in &bands.rows {
        let sy = Bands::screen_y(area, cam, y);
        if sy + ROW < content.top() || sy > content.bottom() {
            continue;
        }
        let row = &trace.lanes[l].rows[d];
        // The first span that ends at or after the left edge.
        let mut i = row.partition_point(|s| s.end() < t0);
        while i < row.len() && row[i].start <= t1 {
            let s = &row[i];
            let x0 = cam.x_of(area, s.start).max(area.left() - 1.0);
            let x1 = cam.x_of(area, s.end()).min(area.right() + 1.0);
            if x1 - x0 >= 1.0 {
                let r = Rect::from_min_max(pos2(x0, sy + 1.0), pos2(x1, sy + ROW - 1.0));
                clip.rect_filled(r, 0.0, span_colour(trace, s));
                drawn.rects += 1;
                if r.width() > 30.0 {
                    let text = fit_text(trace.name(s), r.width() - 4.0, 6.0);
                    if !text.is_empty() {
                        clip.text(
                            r.left_center() + vec2(2.0, 0.0),
                            Align2::LEFT_CENTER,
                            text,
                            font.clone(),
                            Color32::from_gray(15),
                        );
                        drawn.labels += 1;
                    }
                }
                i += 1;
            } else {
                // Spans under a pixel: one block for this pixel. The spans that start in it
                // are skipped by a binary search, except the last one when it is a pixel
                // wide or more: that one is drawn on its own next (ends are sorted, so no
                // other span of the pixel reaches further).
                let px0 = x0.floor();
                let px_end = px0 + 1.0;
                let t_end = cam.t_of(area, px_end);
                let j = (i + row[i..].partition_point(|s| s.start < t_end)).max(i + 1);
                let last = j - 1;
                let wide = last > i
                    && cam.x_of(area, row[last].end()) - cam.x_of(area, row[last].start) >= 1.0;
                // The block's colour: the longest of the first, middle and last span, so a
                // pixel of zero-length fences and a kernel reads as the kernel.
                let mid = i + (last - i) / 2;
                let main = [i, mid, last]
                    .into_iter()
                    .max_by(|&a, &b| row[a].dur.total_cmp(&row[b].dur))
                    .unwrap_or(i);
                let r = Rect::from_min_max(pos2(px0, sy + 1.0), pos2(px_end, sy + ROW - 1.0));
                clip.rect_filled(r, 0.0, span_colour(trace, &row[main]));
                drawn.rects += 1;
                drawn.merged += 1;
                i = if wide { last } else { j };
            }
        }
    }
    if let Some(sel) = selected
        && let Some(s) = span(trace, sel)
    {
        let y = bands
            .rows
            .iter()
            .find(|&&(l, d, _)| l == sel.lane && d == sel.depth)
            .map(|r| r.2)
            .unwrap_or(0.0);
        let sy = Bands::screen_y(area, cam, y);
        let x0 = cam.x_of(area, s.start);
        let x1 = cam.x_of(area, s.end()).max(x0 + 2.0);
        clip.rect_stroke(
            Rect::from_min_max(pos2(x0, sy), pos2(x1, sy + ROW)),
            0.0,
            Stroke::new(2.0, fg),
            StrokeKind::Outside,
        );
    }
    paint_axis(painter, area, cam, fg, line);
    drawn
}

/// Ticks at 1, 2 or 5 times a power of ten, about every 100 pixels.
fn paint_axis(painter: &egui::Painter, area: Rect, cam: &TimeCam, fg: Color32, line: Color32) {
    let axis = Rect::from_min_size(area.min, vec2(area.width(), AXIS));
    painter.rect_filled(axis, 0.0, line.gamma_multiply(0.2));
    let step = nice_step(cam.us_per_px * 100.0);
    let t1 = cam.t_of(area, area.right());
    let first = (cam.start_us / step).ceil();
    let font = FontId::proportional(11.0);
    // Ticks counted by index: far from zero, adding a small step to a large time can leave
    // it unchanged, and a loop on the time itself would never end.
    let ticks = (((t1 - first * step) / step).floor() as i64).clamp(-1, 1000);
    for k in 0..=ticks {
        let t = (first + k as f64) * step;
        let x = cam.x_of(area, t);
        painter.line_segment(
            [pos2(x, axis.bottom() - 6.0), pos2(x, area.bottom())],
            Stroke::new(1.0, line.gamma_multiply(0.3)),
        );
        painter.text(
            pos2(x + 3.0, axis.center().y),
            Align2::LEFT_CENTER,
            format_us(t),
            font.clone(),
            fg,
        );
    }
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `at_least`.
pub fn nice_step(at_least: f64) -> f64 {
    let p = 10f64.powf(at_least.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= at_least)
        .unwrap_or(10.0 * p)
}

/// Microseconds in the unit that reads best.
pub fn format_us(us: f64) -> String {
    // A tick a rounding error left of zero reads as zero, not "-0.0".
    let us = if us.abs() < 1e-6 { 0.0 } else { us };
    let a = us.abs();
    if a >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else if a >= 1e3 {
        format!("{:.3} ms", us / 1e3)
    } else if a >= 1.0 || a == 0.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.0} ns", us * 1e3)
    }
}

pub fn span(trace: &Trace, r: SpanRef) -> Option<&Span> {
    trace.lanes.get(r.lane)?.rows.get(r.depth)?.get(r.index)
}

/// The span under `p`: in its row, the one covering the time under the pointer, or else the
/// nearer neighbour within 3 pixels (so spans thinner than a pixel can still be picked).
pub fn hit(area: Rect, trace: &Trace, bands: &Bands, cam: &TimeCam, p: Pos2) -> Option<SpanRef> {
    if p.y < area.top() + AXIS {
        return None;
    }
    let &(lane, depth, _) = bands.rows.iter().find(|&&(_, _, y)| {
        let sy = Bands::screen_y(area, cam, y);
        p.y >= sy && p.y < sy + ROW
    })?;
    let row = &trace.lanes[lane].rows[depth];
    let t = cam.t_of(area, p.x);
    let slack = 3.0 * cam.us_per_px;
    // Spans of a row neither overlap nor go out of order: the one before `k` is the last to
    // start at or before `t`, and only it can cover `t`.
    let k = row.partition_point(|s| s.start <= t);
    let distance = |i: usize| {
        let s = &row[i];
        if t < s.start {
            s.start - t
        } else {
            (t - s.end()).max(0.0)
        }
    };
    let best = [k.checked_sub(1), (k < row.len()).then_some(k)]
        .into_iter()
        .flatten()
        .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
        .filter(|&i| distance(i) <= slack)?;
    Some(SpanRef {
        lane,
        depth,
        index: best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(n: usize) -> Trace {
        // `n` back-to-back 1 µs kernels under one model_run.
        let mut json = String::from("[");
        for k in 0..n {
            json.push_str(&format!(
                r#"{{"cat":"Node","tid":1,"ts":{k},"dur":1,"ph":"X","name":"n{k}_kernel_time","args":{{"op_name":"Add"}}}},"#
            ));
        }
        json.push_str(&format!(
            r#"{{"cat":"Session","tid":1,"ts":0,"dur":{n},"ph":"X","name":"model_run"}}]"#
        ));
        Trace::read(json.as_bytes(), "t").unwrap()
    }

    fn draw(t: &Trace, cam: &TimeCam) -> Drawn {
        let ctx = egui::Context::default();
        let mut drawn = Drawn::default();
        let mut out = ctx.run_ui(Default::default(), |ui| {
            let area = Rect::from_min_size(Pos2::ZERO, vec2(1000.0, 600.0));
            drawn = paint(
                ui.painter(),
                area,
                t,
                &Bands::of(t),
                cam,
                None,
                Color32::WHITE,
                Color32::GRAY,
            );
        });
        out.textures_delta.clear();
        drawn
    }

    #[test]
    fn drawing_is_bounded_by_the_width_not_the_span_count() {
        let small = trace(1_000);
        let big = trace(100_000);
        // The whole trace on 1000 px.
        let whole = |t: &Trace| TimeCam {
            start_us: 0.0,
            us_per_px: t.span_us / 1000.0,
            scroll_y: 0.0,
        };
        let a = draw(&small, &whole(&small));
        let b = draw(&big, &whole(&big));
        assert!(b.rects <= 2 * 1002, "{b:?}");
        assert!(b.merged > 900, "sub-pixel kernels are merged: {b:?}");
        assert!(a.rects <= 2 * 1002, "{a:?}");
        // Zoomed in to 10 px a microsecond, every kernel in view is drawn alone and labelled.
        let near = TimeCam {
            start_us: 5000.0,
            us_per_px: 0.1,
            scroll_y: 0.0,
        };
        let c = draw(&big, &near);
        assert_eq!(c.merged, 0, "{c:?}");
        // 100 µs in view: 100 or 101 kernels, plus the model_run above them.
        assert!((101..=103).contains(&c.rects), "{c:?}");
    }

    #[test]
    fn a_click_picks_the_span_under_the_pointer() {
        let t = trace(100);
        let bands = Bands::of(&t);
        let area = Rect::from_min_size(Pos2::ZERO, vec2(1000.0, 600.0));
        let cam = TimeCam {
            start_us: 0.0,
            us_per_px: 0.1,
            scroll_y: 0.0,
        };
        // Row 1 (kernels) is below the axis, the thread title and row 0.
        let y = AXIS + 2.0 * ROW + ROW / 2.0;
        let r = hit(area, &t, &bands, &cam, pos2(cam.x_of(area, 42.5), y)).unwrap();
        assert_eq!(t.name(span(&t, r).unwrap()), "n42_kernel_time");
        let r = hit(area, &t, &bands, &cam, pos2(10.0, AXIS + ROW + 5.0)).unwrap();
        assert_eq!(t.name(span(&t, r).unwrap()), "model_run");
        assert_eq!(hit(area, &t, &bands, &cam, pos2(10.0, 5.0)), None);
    }

    #[test]
    fn a_pixel_of_fences_and_a_kernel_reads_as_the_kernel_and_a_wide_span_is_not_swallowed() {
        // Per µs: a zero-length fence, then a kernel of 0.9 µs; then a 50 µs kernel that
        // starts in the same pixel as the last of them.
        let mut json = String::from("[");
        for k in 0..400 {
            json.push_str(&format!(
                r#"{{"cat":"Node","tid":1,"ts":{k},"dur":0,"name":"n{k}_fence_before","args":{{"op_name":"Add"}}}},{{"cat":"Node","tid":1,"ts":{k}.05,"dur":0.9,"name":"n{k}_kernel_time","args":{{"op_name":"Add"}}}},"#
            ));
        }
        json.push_str(r#"{"cat":"Node","tid":1,"ts":399.97,"dur":50,"name":"big_kernel_time","args":{"op_name":"MatMul"}}]"#);
        let t = Trace::read(json.as_bytes(), "t").unwrap();
        let row = &t.lanes[0].rows[0];
        let kernel = span_colour(&t, &row[1]);
        let fence = span_colour(&t, &row[0]);
        assert_ne!(kernel, fence);
        // 2 µs a pixel: every pixel holds fences and kernels.
        let cam = TimeCam {
            start_us: 0.0,
            us_per_px: 2.0,
            scroll_y: 0.0,
        };
        let ctx = egui::Context::default();
        let mut fills = Vec::new();
        let mut out = ctx.run_ui(Default::default(), |ui| {
            let area = Rect::from_min_size(Pos2::ZERO, vec2(1000.0, 600.0));
            paint(
                ui.painter(),
                area,
                &t,
                &Bands::of(&t),
                &cam,
                None,
                Color32::WHITE,
                Color32::GRAY,
            );
        });
        out.textures_delta.clear();
        for c in &out.shapes {
            if let egui::Shape::Rect(r) = &c.shape
                && r.rect.top() > AXIS
            {
                fills.push((r.rect, r.fill));
            }
        }
        let kernels = fills.iter().filter(|f| f.1 == kernel).count();
        assert!(
            kernels >= 150,
            "{kernels} kernel-coloured blocks of {}",
            fills.len()
        );
        assert_eq!(fills.iter().filter(|f| f.1 == fence).count(), 0);
        // The 50 µs kernel is drawn whole (25 px), not folded into a one-pixel block.
        let big = span_colour(&t, row.last().unwrap());
        assert!(
            fills.iter().any(|f| f.1 == big && f.0.width() >= 24.0),
            "{:?}",
            fills.iter().filter(|f| f.1 == big).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_click_among_many_thin_spans_picks_the_one_under_the_pointer() {
        // 1,000 spans of 1 ns, then a 10 µs span: at 1 µs a pixel, all of them end within
        // 3 px left of a click on the long one.
        let mut json = String::from("[");
        for k in 0..1000 {
            json.push_str(&format!(
                r#"{{"name":"thin{k}","ts":{},"dur":0.001}},"#,
                10.0 + k as f64 * 0.002
            ));
        }
        json.push_str(r#"{"name":"long","ts":12.5,"dur":10}]"#);
        let t = Trace::read(json.as_bytes(), "t").unwrap();
        let area = Rect::from_min_size(Pos2::ZERO, vec2(1000.0, 600.0));
        let cam = TimeCam {
            start_us: 0.0,
            us_per_px: 1.0,
            scroll_y: 0.0,
        };
        let r = hit(area, &t, &Bands::of(&t), &cam, pos2(14.0, AXIS + ROW + 5.0)).unwrap();
        assert_eq!(t.name(span(&t, r).unwrap()), "long");
    }

    #[test]
    fn the_axis_ends_far_from_zero() {
        // Times near 2^50 µs, zoomed to 1 ns a pixel: a tick loop on the time itself would
        // never advance.
        let t = Trace::read(
            r#"[{"name":"a","ts":0,"dur":1},{"name":"b","ts":1125899906842624,"dur":1}]"#
                .as_bytes(),
            "t",
        )
        .unwrap();
        let cam = TimeCam {
            start_us: 1125899906842624.0,
            us_per_px: 1e-3,
            scroll_y: 0.0,
        };
        draw(&t, &cam);
    }

    #[test]
    fn steps_and_units_read_well() {
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(format_us(1500.0), "1.500 ms");
        assert_eq!(format_us(0.25), "250 ns");
        assert_eq!(format_us(2.5e6), "2.500 s");
        assert_eq!(format_us(-1e-9), "0.0 µs");
    }
}
