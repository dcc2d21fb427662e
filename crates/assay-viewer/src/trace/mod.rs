//! The trace view: an ONNX Runtime profile trace (Chrome trace JSON) of any size, as a
//! timeline by thread and as a flame graph of its kernels by node scope.
//!
//! - [`model`]: the trace read into a compact form (24 bytes a span, rows by nesting);
//! - [`timeline`]: the timeline's drawing, at a cost bounded by the width on screen;
//! - [`flame`]: the flame graph's tree and drawing;
//! - this file: the view around them (toolbar, canvas input, details).

pub mod flame;
pub mod model;
pub mod timeline;

use egui::{Align2, Color32, FontId, Key, Pos2, Rect, Sense, Stroke, Ui, vec2};

use self::{
    model::Trace,
    timeline::{Bands, Drawn, SpanRef, TimeCam, format_us},
};

/// Which picture of the trace is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Timeline,
    Flame,
}

/// An open trace and how it is being looked at.
pub struct TraceView {
    pub trace: Trace,
    pub bands: Bands,
    pub cam: TimeCam,
    pub tab: Tab,
    pub selected: Option<SpanRef>,
    /// The flame graph's frame shown across the whole width (0: all kernels).
    pub flame_root: u32,
    pub flame_selected: Option<u32>,
    /// The canvas's last rectangle on screen.
    pub canvas: Rect,
    /// What the last timeline frame drew (for the benchmark and the tests).
    pub drawn: Drawn,
    fit_pending: bool,
}

impl TraceView {
    pub fn new(trace: Trace) -> TraceView {
        TraceView {
            bands: Bands::of(&trace),
            trace,
            cam: TimeCam {
                start_us: 0.0,
                us_per_px: 1.0,
                scroll_y: 0.0,
            },
            tab: Tab::Timeline,
            selected: None,
            flame_root: 0,
            flame_selected: None,
            canvas: Rect::NOTHING,
            drawn: Drawn::default(),
            fit_pending: true,
        }
    }

    /// The whole trace across the canvas.
    pub fn fit(&mut self) {
        let w = self.canvas.width().max(100.0) as f64;
        let span = self.trace.span_us.max(1.0);
        self.cam.us_per_px = span * 1.02 / w;
        self.cam.start_us = -span * 0.01;
    }

    /// Centres the timeline on a span and selects it.
    pub fn focus(&mut self, r: SpanRef) {
        if let Some(s) = timeline::span(&self.trace, r) {
            let w = self.canvas.width().max(100.0) as f64;
            // The span takes a third of the width, unless that zooms in past 1 ns a pixel.
            self.cam.us_per_px = (s.dur as f64 * 3.0 / w).max(1e-3);
            self.cam.start_us = s.start + s.dur as f64 / 2.0 - w / 2.0 * self.cam.us_per_px;
            self.selected = Some(r);
            self.tab = Tab::Timeline;
        }
    }

    /// The longest span whose name is `name` (a kernel's full trace name), if any.
    pub fn longest(&self, name: &str) -> Option<SpanRef> {
        let id = self.trace.names.iter().position(|n| n == name)? as u32;
        let mut best: Option<(f32, SpanRef)> = None;
        for (lane, l) in self.trace.lanes.iter().enumerate() {
            for (depth, row) in l.rows.iter().enumerate() {
                for (index, s) in row.iter().enumerate() {
                    if s.name == id && best.is_none_or(|(d, _)| s.dur > d) {
                        best = Some((s.dur, SpanRef { lane, depth, index }));
                    }
                }
            }
        }
        best.map(|b| b.1)
    }

    pub fn toolbar(&mut self, ui: &mut Ui) {
        let t = &self.trace;
        ui.label(format!(
            "{} events, {} spans, {} thread{}, {} inference{}, over {}",
            t.events,
            t.spans,
            t.lanes.len(),
            if t.lanes.len() == 1 { "" } else { "s" },
            t.inferences,
            if t.inferences == 1 { "" } else { "s" },
            format_us(t.span_us)
        ));
        ui.separator();
        if ui
            .selectable_label(self.tab == Tab::Timeline, "Timeline (1)")
            .clicked()
        {
            self.tab = Tab::Timeline;
        }
        if ui
            .selectable_label(self.tab == Tab::Flame, "Flame graph (2)")
            .clicked()
        {
            self.tab = Tab::Flame;
        }
        ui.separator();
        match self.tab {
            Tab::Timeline => {
                if ui.button("Fit (F)").clicked() {
                    self.fit();
                }
            }
            Tab::Flame => {
                if self.flame_root != 0 {
                    ui.label(format!(
                        "Zoomed on {}",
                        self.trace.flame.path_of(self.flame_root)
                    ));
                    if ui.button("Zoom out (Backspace)").clicked() {
                        self.zoom_out();
                    }
                }
            }
        }
    }

    fn zoom_out(&mut self) {
        self.flame_root = self.trace.flame.frames[self.flame_root as usize]
            .parent
            .unwrap_or(0);
    }

    pub fn details(&mut self, ui: &mut Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
            Tab::Timeline => match self.selected.and_then(|r| timeline::span(&self.trace, r).map(|s| (r, *s))) {
                None => {
                    ui.label("Click a span to see its details.");
                    ui.label("Keys: A and D or the arrows pan, W and S or + and − zoom, F fits, 1 and 2 switch between the timeline and the flame graph, Esc clears. Drag to pan, ctrl+scroll to zoom.");
                }
                Some((r, s)) => {
                    let t = &self.trace;
                    let k = t.kind(&s);
                    ui.heading(t.name(&s));
                    if !k.cat.is_empty() {
                        ui.label(format!("category {}", k.cat));
                    }
                    if !k.op.is_empty() {
                        ui.label(format!("operator {}", k.op));
                    }
                    if !k.provider.is_empty() {
                        ui.label(format!("ran on {}", k.provider));
                    }
                    ui.label(format!("on {}", t.lanes[r.lane].label));
                    ui.label(format!("starts at {}", format_us(s.start)));
                    ui.label(format!("lasts {}", format_us(s.dur as f64)));
                    let st = t.name_stats[s.name as usize];
                    ui.separator();
                    ui.label(format!(
                        "{} spans of this name: {} in all, {} on average",
                        st.count,
                        format_us(st.total_us),
                        format_us(st.total_us / st.count.max(1) as f64)
                    ));
                }
            },
            Tab::Flame => {
                let f = &self.trace.flame;
                let Some(sel) = self.flame_selected else {
                    ui.label(format!(
                        "All kernels: {} in {} calls.",
                        format_us(f.total_us()),
                        f.frames[0].calls
                    ));
                    ui.label("Click a frame to see its details, double-click to zoom on it; Backspace zooms out.");
                    return;
                };
                let fr = &f.frames[sel as usize];
                ui.heading(&fr.name);
                ui.monospace(f.path_of(sel));
                ui.label(format!(
                    "{} in all kernels under it, {:.1}% of all kernel time",
                    format_us(fr.total_us),
                    100.0 * fr.total_us / f.total_us().max(f64::MIN_POSITIVE)
                ));
                ui.label(format!("{} kernel calls", fr.calls));
                if self.trace.inferences > 0 {
                    ui.label(format!(
                        "{} per inference",
                        format_us(fr.total_us / self.trace.inferences as f64)
                    ));
                }
            }
        });
    }

    pub fn canvas(&mut self, ui: &mut Ui) {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let area = response.rect;
        self.canvas = area;
        if self.fit_pending {
            self.fit_pending = false;
            self.fit();
        }
        let (bg, fg, line) = crate::app::canvas_colours(ui.visuals().dark_mode);
        painter.rect_filled(area, 0.0, bg);
        let typing = ui.ctx().text_edit_focused();
        let keys = ui.input(|i| {
            [
                Key::Num1,
                Key::Num2,
                Key::F,
                Key::Escape,
                Key::Backspace,
                Key::A,
                Key::D,
                Key::ArrowLeft,
                Key::ArrowRight,
                Key::W,
                Key::S,
                Key::Plus,
                Key::Equals,
                Key::Minus,
                Key::ArrowUp,
                Key::ArrowDown,
            ]
            .map(|k| i.key_pressed(k))
        });
        let [
            one,
            two,
            f,
            esc,
            back,
            a,
            d,
            left,
            right,
            w,
            s,
            plus,
            eq,
            minus,
            up,
            down,
        ] = if typing { [false; 16] } else { keys };
        if one {
            self.tab = Tab::Timeline;
        }
        if two {
            self.tab = Tab::Flame;
        }
        let hover = response.hover_pos();
        match self.tab {
            Tab::Timeline => {
                let span_us = self.trace.span_us;
                if response.dragged() {
                    let dv = response.drag_delta();
                    self.cam.start_us -= dv.x as f64 * self.cam.us_per_px;
                    self.cam.scroll_y -= dv.y;
                }
                let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta(), i.zoom_delta()));
                if response.hovered() {
                    self.cam.start_us -= scroll.x as f64 * self.cam.us_per_px;
                    self.cam.scroll_y -= scroll.y;
                    if zoom != 1.0 {
                        let x = hover.map(|p| p.x).unwrap_or(area.center().x);
                        self.cam.zoom_at(area, x, zoom as f64, span_us);
                    }
                }
                let step = area.width() as f64 * 0.1 * self.cam.us_per_px;
                if a || left {
                    self.cam.start_us -= step;
                }
                if d || right {
                    self.cam.start_us += step;
                }
                // Keys zoom around the pointer when it is over the timeline, as Perfetto does.
                let anchor = hover.map(|p| p.x).unwrap_or(area.center().x);
                if w || plus || eq {
                    self.cam.zoom_at(area, anchor, 1.5, span_us);
                }
                if s || minus {
                    self.cam.zoom_at(area, anchor, 1.0 / 1.5, span_us);
                }
                if up {
                    self.cam.scroll_y -= timeline::ROW * 3.0;
                }
                if down {
                    self.cam.scroll_y += timeline::ROW * 3.0;
                }
                if f {
                    self.fit();
                }
                if esc {
                    self.selected = None;
                }
                let max_scroll = (self.bands.height - (area.height() - timeline::AXIS)).max(0.0);
                self.cam.scroll_y = self.cam.scroll_y.clamp(0.0, max_scroll);
                if response.clicked() {
                    self.selected = response
                        .interact_pointer_pos()
                        .and_then(|p| timeline::hit(area, &self.trace, &self.bands, &self.cam, p));
                }
                self.drawn = timeline::paint(
                    &painter,
                    area,
                    &self.trace,
                    &self.bands,
                    &self.cam,
                    self.selected,
                    fg,
                    line,
                );
                if let Some(p) = hover
                    && let Some(r) = timeline::hit(area, &self.trace, &self.bands, &self.cam, p)
                    && let Some(s) = timeline::span(&self.trace, r)
                {
                    tip(
                        &painter,
                        area,
                        p,
                        &format!("{}\n{}", self.trace.name(s), format_us(s.dur as f64)),
                        fg,
                        bg,
                    );
                }
            }
            Tab::Flame => {
                if esc {
                    self.flame_selected = None;
                }
                if back {
                    self.zoom_out();
                }
                let flame = &self.trace.flame;
                let inner = area.shrink(4.0);
                if let Some(p) = response
                    .interact_pointer_pos()
                    .filter(|_| response.clicked())
                {
                    let hit = flame.hit(self.flame_root, inner, p);
                    if response.double_clicked() {
                        if let Some(h) = hit {
                            // Double-clicking the frame already zoomed on goes back out.
                            if h == self.flame_root {
                                self.zoom_out();
                            } else {
                                self.flame_root = h;
                            }
                        }
                    } else {
                        self.flame_selected = hit;
                    }
                }
                let flame = &self.trace.flame;
                if flame.total_us() <= 0.0 {
                    painter.text(
                        area.center(),
                        Align2::CENTER_CENTER,
                        "This trace has no kernel events (cat \"Node\", name \"…_kernel_time\") to make a flame graph of.",
                        FontId::proportional(14.0),
                        fg,
                    );
                    return;
                }
                flame.paint(&painter, inner, self.flame_root, self.flame_selected, fg);
                if let Some(p) = hover
                    && let Some(h) = flame.hit(self.flame_root, inner, p)
                {
                    let fr = &flame.frames[h as usize];
                    tip(
                        &painter,
                        area,
                        p,
                        &format!(
                            "{}\n{} ({:.1}%), {} calls",
                            fr.name,
                            format_us(fr.total_us),
                            100.0 * fr.total_us / flame.total_us(),
                            fr.calls
                        ),
                        fg,
                        bg,
                    );
                }
            }
        }
    }
}

/// A hover box next to the pointer, kept inside the canvas.
fn tip(painter: &egui::Painter, area: Rect, p: Pos2, text: &str, fg: Color32, bg: Color32) {
    let galley = painter.layout_no_wrap(text.to_string(), FontId::proportional(12.0), fg);
    let size = galley.size() + vec2(10.0, 8.0);
    let mut at = p + vec2(14.0, 14.0);
    if at.x + size.x > area.right() {
        at.x = p.x - size.x - 6.0;
    }
    if at.y + size.y > area.bottom() {
        at.y = p.y - size.y - 6.0;
    }
    let r = Rect::from_min_size(at, size);
    painter.rect_filled(r, 3.0, bg.gamma_multiply(0.95));
    painter.rect_stroke(r, 3.0, Stroke::new(1.0, fg), egui::StrokeKind::Inside);
    painter.galley(at + vec2(5.0, 4.0), galley, fg);
}
