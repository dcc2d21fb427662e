//! The viewer's window: a toolbar (search, overlays, legend), an outline of the groups, the
//! graph canvas (pan, zoom, minimap) and the selected box's details; or, for a trace, the
//! [`TraceView`].
//!
//! [`Viewer::ui`] draws one frame into any `Ui`, so the binary (eframe) and the interaction
//! tests (egui_kittest) run the same code.

use std::{
    collections::HashMap,
    io::Read,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use assay_engine::model::graph::{ModelGraph, WeightStats};
use egui::{
    Align2, Color32, CornerRadius, FontId, Key, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, Vec2,
    pos2, vec2,
};

use crate::{
    hierarchy::{GroupId, Hierarchy, Item, NodeId, ROOT},
    layout::Direction,
    overlay::{Overlay, OverlayKind},
    scene::{HEADER, Scene},
    trace::{TraceView, model::Trace},
};

/// Most boxes one layout takes: a level with more is split into runs of consecutive nodes.
pub const MAX_ITEMS: usize = 400;
/// Below this zoom, boxes are drawn without text.
const TEXT_ZOOM: f32 = 0.35;
/// "1 node", "2 nodes".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The canvases' colours in the dark or the light theme: background, text, lines.
pub fn canvas_colours(dark: bool) -> (Color32, Color32, Color32) {
    if dark {
        (
            Color32::from_gray(27),
            Color32::from_gray(220),
            Color32::from_gray(110),
        )
    } else {
        (
            Color32::from_gray(250),
            Color32::from_gray(25),
            Color32::from_gray(150),
        )
    }
}

/// Search results listed at most.
const MAX_MATCHES: usize = 50;

/// The camera: which world point is at the canvas's centre, and how many pixels a world
/// unit is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub center: Pos2,
    pub zoom: f32,
}

impl Camera {
    pub fn to_screen(&self, canvas: Rect, p: Pos2) -> Pos2 {
        canvas.center() + (p - self.center) * self.zoom
    }

    pub fn to_world(&self, canvas: Rect, p: Pos2) -> Pos2 {
        self.center + (p - canvas.center()) / self.zoom
    }
}

/// An open model.
pub struct GraphView {
    pub graph: ModelGraph,
    pub scene: Scene,
    pub camera: Camera,
    pub selected: Option<Item>,
    pub search: String,
    pub matches: Vec<NodeId>,
    pub overlays: Vec<Overlay>,
    /// The overlay drawn (one at a time: their colours mean different things).
    pub active: Option<usize>,
    pub minimap: bool,
    /// The canvas's last rectangle on screen.
    pub canvas: Rect,
    /// Fit the whole graph on the next frame (the canvas size is known only then).
    fit_pending: bool,
    weight_stats: HashMap<String, Option<WeightStats>>,
    /// Each group's operator counts, counted once when it is first shown.
    group_ops: HashMap<GroupId, Vec<(String, usize)>>,
    /// Where Model Explorer node data is imported from and exported to.
    pub node_data_path: String,
    interop_status: Option<String>,
}

/// The window's content: a graph, a trace, or why there is neither.
pub struct Viewer {
    pub view: Option<GraphView>,
    pub trace: Option<TraceView>,
    /// A trace being read on a thread of its own, so the window is up at once.
    loading: Option<Loading>,
    /// Problems to show in the window (a model that cannot open, a run of another model).
    pub messages: Vec<String>,
    pub title: String,
}

/// A trace being read: its size, the bytes read so far, and the reader's answer.
struct Loading {
    total: u64,
    read: Arc<AtomicU64>,
    done: std::sync::mpsc::Receiver<Result<Trace, String>>,
}

/// True when `path` holds a trace (JSON) rather than a model (protobuf): by its name, or by
/// its first byte, which for JSON is a bracket and for an ONNX model a field tag.
pub fn is_trace(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return true;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[' || *b == b'{')
}

impl Viewer {
    fn empty(path: &Path) -> Viewer {
        Viewer {
            title: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            view: None,
            trace: None,
            loading: None,
            messages: Vec::new(),
        }
    }

    /// Opens `path`, a model or a trace; one that cannot open becomes a message in the window.
    pub fn open(path: &Path) -> Viewer {
        let mut v = Viewer::empty(path);
        if is_trace(path) {
            match Trace::open(path, Arc::default()) {
                Ok(t) => v.trace = Some(TraceView::new(t)),
                Err(e) => v.messages.push(e.to_string()),
            }
            return v;
        }
        match ModelGraph::open(path) {
            Ok(graph) => v.view = Some(GraphView::new(graph)),
            Err(e) => v
                .messages
                .push(format!("Cannot open {}: {e}", path.display())),
        }
        v
    }

    /// A window on a trace already read (the benchmark reads it itself, to time it).
    pub fn from_trace(path: &Path, trace: Trace) -> Viewer {
        let mut v = Viewer::empty(path);
        v.trace = Some(TraceView::new(trace));
        v
    }

    /// Opens `path` like [`Viewer::open`], but reads a trace on a thread of its own while the
    /// window shows how far it has got.
    pub fn open_in_background(path: &Path) -> Viewer {
        if !is_trace(path) {
            return Viewer::open(path);
        }
        let mut v = Viewer::empty(path);
        let read = Arc::new(AtomicU64::new(0));
        let (tx, done) = std::sync::mpsc::channel();
        let (p, r) = (path.to_path_buf(), read.clone());
        std::thread::spawn(move || {
            let _ = tx.send(Trace::open(&p, r).map_err(|e| e.to_string()));
        });
        v.loading = Some(Loading {
            total: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            read,
            done,
        });
        v
    }

    /// Takes the background reader's answer once it is there.
    fn poll_loading(&mut self, ui: &Ui) {
        let Some(l) = &self.loading else {
            return;
        };
        match l.done.try_recv() {
            Ok(Ok(t)) => {
                self.trace = Some(TraceView::new(t));
                self.loading = None;
            }
            Ok(Err(e)) => {
                self.messages.push(e);
                self.loading = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.messages
                    .push("the trace reader stopped without an answer".into());
                self.loading = None;
            }
        }
    }

    /// One frame.
    pub fn ui(&mut self, ui: &mut Ui) {
        self.poll_loading(ui);
        egui::Panel::top("toolbar").show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.strong(&self.title);
                if let Some(v) = &mut self.view {
                    v.toolbar(ui);
                }
                if let Some(t) = &mut self.trace {
                    t.toolbar(ui);
                }
            });
            for m in &self.messages {
                ui.colored_label(Color32::from_rgb(200, 60, 40), m);
            }
        });
        if let Some(l) = &self.loading {
            let read = l.read.load(Ordering::Relaxed);
            egui::CentralPanel::default().show(ui, |ui| {
                ui.centered_and_justified(|ui| {
                    ui.add(
                        egui::ProgressBar::new(read as f32 / l.total.max(1) as f32).text(format!(
                            "Reading the trace: {:.0} of {:.0} MB",
                            read as f64 / 1e6,
                            l.total as f64 / 1e6
                        )),
                    );
                });
            });
            return;
        }
        if let Some(t) = &mut self.trace {
            egui::Panel::right("details")
                .resizable(true)
                .min_size(280.0)
                .show(ui, |ui| t.details(ui));
            egui::CentralPanel::default().show(ui, |ui| t.canvas(ui));
            return;
        }
        let Some(v) = &mut self.view else {
            egui::CentralPanel::default().show(ui, |ui| {
                ui.centered_and_justified(|ui| {
                    ui.label("Nothing to show: the file could not be opened (see above).");
                });
            });
            return;
        };
        egui::Panel::left("outline")
            .resizable(true)
            .min_size(200.0)
            .show(ui, |ui| v.outline(ui));
        egui::Panel::right("details")
            .resizable(true)
            .min_size(280.0)
            .show(ui, |ui| v.details(ui));
        egui::CentralPanel::default().show(ui, |ui| v.canvas(ui));
    }
}

impl GraphView {
    pub fn new(graph: ModelGraph) -> GraphView {
        let hierarchy = Hierarchy::build(&graph.nodes, MAX_ITEMS);
        let widths = graph
            .nodes
            .iter()
            .map(|n| {
                let leaf = n.name.rsplit('/').next().unwrap_or(&n.name);
                let chars = leaf.chars().count().max(n.op_type.chars().count()) as f32;
                (chars * 7.0 + 20.0).clamp(70.0, 260.0)
            })
            .collect();
        let edges = graph.edges();
        let scene = Scene::new(hierarchy, widths, edges);
        let node_data_path = graph
            .path
            .with_extension("node_data.json")
            .display()
            .to_string();
        GraphView {
            graph,
            scene,
            camera: Camera {
                center: Pos2::ZERO,
                zoom: 1.0,
            },
            selected: None,
            search: String::new(),
            matches: Vec::new(),
            overlays: Vec::new(),
            active: None,
            minimap: true,
            canvas: Rect::from_min_size(Pos2::ZERO, vec2(800.0, 600.0)),
            fit_pending: true,
            weight_stats: HashMap::new(),
            group_ops: HashMap::new(),
            node_data_path,
            interop_status: None,
        }
    }

    /// Adds an overlay and shows it.
    pub fn add_overlay(&mut self, o: Overlay) {
        self.overlays.push(o);
        self.active = Some(self.overlays.len() - 1);
    }

    /// The node names, in order (what overlays match runs against).
    pub fn names(&self) -> Vec<String> {
        self.graph.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Selects a node, opens the groups around it and centres the view on it.
    pub fn focus_node(&mut self, n: NodeId) {
        self.scene.reveal(n);
        self.selected = Some(Item::Node(n));
        // A node asked for before the first frame wins over fitting the whole graph.
        self.fit_pending = false;
        if let Some(r) = self.scene.rect_of(n) {
            self.camera.center = r.center();
            self.camera.zoom = self.camera.zoom.max(0.8);
        }
    }

    /// Opens or closes a group, keeping it where it was on screen.
    pub fn toggle(&mut self, g: GroupId) {
        let before = self
            .scene
            .index
            .get(&Item::Group(g))
            .map(|&i| self.scene.placed[i].rect.min);
        self.scene.toggle(g);
        let after = self
            .scene
            .index
            .get(&Item::Group(g))
            .map(|&i| self.scene.placed[i].rect.min);
        if let (Some(b), Some(a)) = (before, after) {
            self.camera.center += a - b;
        }
        self.selected = Some(Item::Group(g));
    }

    /// Matches by name, op type or scope (case-insensitive), in topological order.
    pub fn run_search(&mut self) {
        let q = self.search.trim().to_lowercase();
        self.matches = if q.is_empty() {
            Vec::new()
        } else {
            self.graph
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    n.name.to_lowercase().contains(&q) || n.op_type.to_lowercase() == q
                })
                .map(|(i, _)| i)
                .take(MAX_MATCHES)
                .collect()
        };
    }

    /// Fits the whole graph in the canvas.
    pub fn fit(&mut self) {
        let size = self.scene.size.max(vec2(1.0, 1.0));
        self.camera.center = (size / 2.0).to_pos2();
        let c = self.canvas.size() - vec2(40.0, 40.0);
        self.camera.zoom = (c.x / size.x).min(c.y / size.y).clamp(0.02, 1.5);
    }

    fn toolbar(&mut self, ui: &mut Ui) {
        ui.label(format!(
            "· {} nodes · {} groups",
            self.graph.nodes.len(),
            self.scene.hierarchy.groups.len() - 1
        ));
        ui.separator();
        let label = ui.label("Search");
        let search = ui
            .add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("name, op type or scope")
                    .desired_width(240.0),
            )
            .labelled_by(label.id);
        if search.changed() {
            self.run_search();
        }
        // Enter in the search box jumps to the first match, and is used up there, so the
        // canvas does not also take it as "open the selected group".
        if search.lost_focus()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Enter))
            && let Some(&n) = self.matches.first()
        {
            self.focus_node(n);
        }
        if ui.input(|i| i.key_pressed(Key::Slash)) && !search.has_focus() {
            search.request_focus();
        }
        ui.separator();
        let mut lr = self.scene.direction == Direction::LeftToRight;
        if ui.checkbox(&mut lr, "Left to right").changed() {
            self.scene.set_direction(if lr {
                Direction::LeftToRight
            } else {
                Direction::TopDown
            });
            self.fit_pending = true;
        }
        ui.checkbox(&mut self.minimap, "Minimap");
        if ui.button("Fit").clicked() {
            self.fit();
        }
        for i in 0..self.overlays.len() {
            let mut on = self.active == Some(i);
            if ui
                .checkbox(&mut on, format!("Overlay: {}", self.overlays[i].title))
                .changed()
            {
                self.active = on.then_some(i);
            }
        }
        if let Some(o) = self.active.map(|i| &self.overlays[i]) {
            ui.separator();
            ui.label(o.legend(self.visible_scale()));
            if !o.unplaced.is_empty() && o.kind == OverlayKind::Imported {
                ui.label(format!(
                    "({} of the file name{} no node or output of this graph)",
                    count(o.unplaced.len(), "key"),
                    if o.unplaced.len() == 1 { "s" } else { "" }
                ));
            } else if !o.unplaced.is_empty() {
                ui.label(format!(
                    "({} profiled nodes are not in this graph: an optimized graph renames and fuses nodes; profile with --no-optimize)",
                    o.unplaced.len()
                ));
            }
            if o.skipped > 0 {
                ui.label(format!(
                    "({} left out: text, or not a finite number)",
                    count(o.skipped, "value")
                ));
            }
        }
    }

    /// The largest overlay magnitude among the boxes on screen (what the heat scales to).
    fn visible_scale(&self) -> f64 {
        let Some(o) = self.active.map(|i| &self.overlays[i]) else {
            return 1.0;
        };
        self.scene
            .placed
            .iter()
            .filter(|p| !p.open)
            .filter_map(|p| o.value(p.item))
            .map(f64::abs)
            .fold(0.0, f64::max)
    }

    fn outline(&mut self, ui: &mut Ui) {
        self.interop(ui);
        ui.heading("Groups");
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.outline_level(ui, ROOT, 0, &mut clicked);
        });
        if let Some(g) = clicked {
            self.toggle(g);
            if let Some(&i) = self.scene.index.get(&Item::Group(g)) {
                self.camera.center = self.scene.placed[i].rect.center();
            }
        }
    }

    /// Model Explorer's node data: import a file as an overlay, export the overlay shown.
    fn interop(&mut self, ui: &mut Ui) {
        egui::CollapsingHeader::new("Model Explorer node data").show(ui, |ui| {
            let label = ui.label("Node data file");
            ui.add(
                egui::TextEdit::singleline(&mut self.node_data_path).desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
            let path = std::path::PathBuf::from(&self.node_data_path);
            ui.horizontal(|ui| {
                if ui.button("Import").clicked() {
                    self.interop_status = Some(match self.import_node_data(&path) {
                        Ok(title) => format!("Imported {title}"),
                        Err(e) => e.to_string(),
                    });
                }
                let active = self.active;
                if ui
                    .add_enabled(active.is_some(), egui::Button::new("Export the overlay"))
                    .clicked()
                    && let Some(i) = active
                {
                    self.interop_status = Some(
                        match crate::interop::write(&self.overlays[i], &self.names(), &path) {
                            Ok(n) => format!("Wrote {n} nodes to {}", path.display()),
                            Err(e) => e.to_string(),
                        },
                    );
                }
            });
            if let Some(s) = &self.interop_status {
                ui.label(s);
            }
        });
        ui.separator();
    }

    /// Imports a Model Explorer node data file as an overlay and shows it; its title.
    pub fn import_node_data(
        &mut self,
        path: &Path,
    ) -> Result<String, crate::interop::InteropError> {
        let o = crate::interop::import(path, &self.graph, &self.scene.hierarchy)?;
        let title = o.title.clone();
        self.add_overlay(o);
        Ok(title)
    }

    /// One level of the outline: a button per group (open ones show their children).
    fn outline_level(&self, ui: &mut Ui, g: GroupId, depth: usize, clicked: &mut Option<GroupId>) {
        for &c in &self.scene.hierarchy.groups[g].children {
            let Item::Group(c) = c else { continue };
            let group = &self.scene.hierarchy.groups[c];
            let open = self.scene.open.contains(&c);
            let label = format!(
                "{}{} {} ({})",
                "  ".repeat(depth),
                if open { "−" } else { "+" },
                group.name,
                count(group.nodes, "node")
            );
            if ui
                .selectable_label(self.selected == Some(Item::Group(c)), label)
                .on_hover_text(&group.path)
                .clicked()
            {
                *clicked = Some(c);
            }
            if open {
                self.outline_level(ui, c, depth + 1, clicked);
            }
        }
    }

    fn details(&mut self, ui: &mut Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            if !self.matches.is_empty() {
                ui.heading(match self.matches.len() {
                    1 => "1 match".to_string(),
                    n => format!("{n} matches"),
                });
                let mut go = None;
                for &n in &self.matches {
                    let node = &self.graph.nodes[n];
                    if ui.selectable_label(self.selected == Some(Item::Node(n)), format!("{} · {}", node.op_type, node.name)).clicked() {
                        go = Some(n);
                    }
                }
                if let Some(n) = go {
                    self.focus_node(n);
                }
                ui.separator();
            }
            match self.selected {
                None => {
                    ui.label("Click a box to see its details; double-click a group to open or close it.");
                    ui.label("Keys: arrows pan, + and − zoom, F fits, / searches, Enter opens or closes the selected group, Esc clears.");
                }
                Some(Item::Group(g)) => self.group_details(ui, g),
                Some(Item::Node(n)) => self.node_details(ui, n),
            }
        });
    }

    fn overlay_line(&self, ui: &mut Ui, item: Item) {
        let Some(o) = self.active.map(|i| &self.overlays[i]) else {
            return;
        };
        match o.value(item) {
            Some(v) => ui.label(format!("{}: {}", o.title, o.format(v))),
            None => ui.label(format!("{}: not in the run", o.title)),
        };
        if let Item::Node(n) = item
            && let Some(p) = &o.providers[n]
        {
            ui.label(format!("ran on {p}"));
        }
    }

    fn group_details(&mut self, ui: &mut Ui, g: GroupId) {
        let (graph, hierarchy) = (&self.graph, &self.scene.hierarchy);
        let ops = self.group_ops.entry(g).or_insert_with(|| {
            let mut ops: HashMap<&str, usize> = HashMap::new();
            for n in hierarchy.nodes_below(g) {
                *ops.entry(graph.nodes[n].op_type.as_str()).or_default() += 1;
            }
            let mut ops: Vec<(String, usize)> =
                ops.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ops
        });
        let group = &self.scene.hierarchy.groups[g];
        ui.heading(&group.name);
        ui.monospace(&group.path);
        ui.label(count(group.nodes, "node"));
        let ops = ops.clone();
        self.overlay_line(ui, Item::Group(g));
        ui.label("Operators:");
        for (op, k) in ops.iter().take(12) {
            ui.label(format!("  {op} × {k}"));
        }
    }

    fn node_details(&mut self, ui: &mut Ui, n: NodeId) {
        let node = self.graph.nodes[n].clone();
        ui.heading(&node.op_type);
        ui.monospace(&node.name);
        if !node.domain.is_empty() {
            ui.label(format!("domain {}", node.domain));
        }
        self.overlay_line(ui, Item::Node(n));
        for (title, tensors) in [("Inputs", &node.inputs), ("Outputs", &node.outputs)] {
            ui.separator();
            ui.strong(title);
            for t in tensors.iter().filter(|t| !t.is_empty()) {
                let info = self.graph.tensors.get(t);
                let shape = info
                    .and_then(|i| i.shape.as_ref())
                    .map(|s| format!("[{}]", s.join(", ")))
                    .unwrap_or_else(|| "shape unknown".into());
                let ty = info.map(|i| i.element_type.as_str()).unwrap_or("?");
                ui.monospace(format!("{t}: {ty} {shape}"));
                if info.is_some_and(|i| i.initializer) {
                    let graph = &self.graph;
                    let stats = self
                        .weight_stats
                        .entry(t.clone())
                        .or_insert_with(|| graph.weight_stats(t));
                    match stats {
                        Some(s) => {
                            let f = |v: Option<f64>| {
                                v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "–".into())
                            };
                            ui.label(format!(
                                "  weight: {} values, min {} max {} mean {} std {}, {} zeros",
                                s.elements,
                                f(s.min),
                                f(s.max),
                                f(s.mean),
                                f(s.std),
                                s.zeros
                            ));
                        }
                        None => {
                            ui.label("  weight: its data could not be read");
                        }
                    }
                }
            }
        }
        if !node.attributes.is_empty() {
            ui.separator();
            ui.strong("Attributes");
            for (k, v) in &node.attributes {
                ui.monospace(format!("{k} = {v}"));
            }
        }
    }

    fn canvas(&mut self, ui: &mut Ui) {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let canvas = response.rect;
        self.canvas = canvas;
        if self.fit_pending {
            self.fit_pending = false;
            self.fit();
        }
        // Pan: drag, scroll, arrows. Zoom: ctrl+scroll or pinch around the pointer, + and −.
        if response.dragged() {
            self.camera.center -= response.drag_delta() / self.camera.zoom;
        }
        let (scroll, zoom, keys) = ui.input(|i| {
            (
                i.smooth_scroll_delta(),
                i.zoom_delta(),
                (
                    i.key_pressed(Key::ArrowLeft),
                    i.key_pressed(Key::ArrowRight),
                    i.key_pressed(Key::ArrowUp),
                    i.key_pressed(Key::ArrowDown),
                    i.key_pressed(Key::Plus) || i.key_pressed(Key::Equals),
                    i.key_pressed(Key::Minus),
                    i.key_pressed(Key::F),
                    i.key_pressed(Key::Enter),
                    i.key_pressed(Key::Escape),
                ),
            )
        });
        let typing = ui.ctx().text_edit_focused();
        if response.hovered() {
            self.camera.center -= scroll / self.camera.zoom;
            if zoom != 1.0 {
                let anchor = response.hover_pos().unwrap_or(canvas.center());
                let before = self.camera.to_world(canvas, anchor);
                self.camera.zoom = (self.camera.zoom * zoom).clamp(0.01, 4.0);
                let after = self.camera.to_world(canvas, anchor);
                self.camera.center += before - after;
            }
        }
        if !typing {
            let step = 80.0 / self.camera.zoom;
            let (l, r, u, d, plus, minus, f, enter, esc) = keys;
            if l {
                self.camera.center.x -= step;
            }
            if r {
                self.camera.center.x += step;
            }
            if u {
                self.camera.center.y -= step;
            }
            if d {
                self.camera.center.y += step;
            }
            if plus {
                self.camera.zoom = (self.camera.zoom * 1.25).min(4.0);
            }
            if minus {
                self.camera.zoom = (self.camera.zoom / 1.25).max(0.01);
            }
            if f {
                self.fit();
            }
            if enter && let Some(Item::Group(g)) = self.selected {
                self.toggle(g);
            }
            if esc {
                self.selected = None;
            }
        }

        // A click on the minimap moves the view there.
        if self.minimap
            && response.clicked()
            && let Some(p) = response.interact_pointer_pos()
        {
            let (map, s) = self.minimap_rect(canvas);
            if map.contains(p) {
                self.camera.center = ((p - map.min) / s).to_pos2();
                self.paint(&painter, canvas);
                return;
            }
        }
        // Clicks: the innermost box under the pointer.
        let hit = response
            .interact_pointer_pos()
            .filter(|_| response.clicked())
            .and_then(|p| {
                let w = self.camera.to_world(canvas, p);
                self.scene
                    .placed
                    .iter()
                    .rev()
                    .find(|b| b.rect.contains(w))
                    .map(|b| (b.item, b.open, b.rect, w))
            });
        if let Some((item, _open, _rect, _w)) = hit {
            // A click selects; a double click on a group opens or closes it (on an open one:
            // anywhere in its frame outside the boxes it holds). egui counts a third quick
            // click as a triple: it means the same.
            match item {
                Item::Group(g) if response.double_clicked() || response.triple_clicked() => {
                    self.toggle(g)
                }
                _ => self.selected = Some(item),
            }
        } else if response.clicked() {
            self.selected = None;
        }

        self.paint(&painter, canvas);
    }

    fn paint(&self, painter: &egui::Painter, canvas: Rect) {
        let dark = painter.ctx().global_style().visuals.dark_mode;
        let (bg, fg, line) = canvas_colours(dark);
        painter.rect_filled(canvas, 0.0, bg);
        let cam = self.camera;
        let view = Rect::from_min_max(
            cam.to_world(canvas, canvas.min),
            cam.to_world(canvas, canvas.max),
        );
        let overlay = self.active.map(|i| &self.overlays[i]);
        let scale = self.visible_scale();
        let text = cam.zoom >= TEXT_ZOOM;
        let font = FontId::proportional((12.0 * cam.zoom).clamp(6.0, 18.0));
        let small = FontId::proportional((10.0 * cam.zoom).clamp(5.0, 15.0));

        // Edges first, under the boxes; only those whose bounding box meets the view.
        let stroke = Stroke::new((1.2 * cam.zoom).clamp(0.5, 2.0), line);
        for &(a, b) in &self.scene.visible_edges {
            let (ra, rb) = (self.scene.placed[a].rect, self.scene.placed[b].rect);
            let (from, to) = match self.scene.direction {
                Direction::LeftToRight => (ra.right_center(), rb.left_center()),
                Direction::TopDown => (ra.center_bottom(), rb.center_top()),
            };
            if !view.intersects(Rect::from_two_pos(from, to).expand(1.0)) {
                continue;
            }
            let (p, q) = (cam.to_screen(canvas, from), cam.to_screen(canvas, to));
            if cam.zoom >= 0.5 {
                let bend = match self.scene.direction {
                    Direction::LeftToRight => vec2(((q.x - p.x) / 2.0).abs().max(20.0), 0.0),
                    Direction::TopDown => vec2(0.0, ((q.y - p.y) / 2.0).abs().max(20.0)),
                };
                painter.add(egui::epaint::CubicBezierShape::from_points_stroke(
                    [p, p + bend, q - bend, q],
                    false,
                    Color32::TRANSPARENT,
                    stroke,
                ));
            } else {
                painter.line_segment([p, q], stroke);
            }
        }

        for b in &self.scene.placed {
            if !view.intersects(b.rect) {
                continue;
            }
            let r = Rect::from_min_max(
                cam.to_screen(canvas, b.rect.min),
                cam.to_screen(canvas, b.rect.max),
            );
            let selected = self.selected == Some(b.item);
            let edge = Stroke::new(
                if selected { 2.5 } else { 1.0 },
                if selected {
                    Color32::from_rgb(37, 99, 235)
                } else {
                    line
                },
            );
            let value = overlay.and_then(|o| o.value(b.item));
            let radius = CornerRadius::same(if matches!(b.item, Item::Group(_)) {
                6
            } else {
                3
            });
            if b.open {
                let tint = if dark {
                    Color32::from_white_alpha(8)
                } else {
                    Color32::from_black_alpha(8)
                };
                painter.rect(r, radius, tint, edge, StrokeKind::Inside);
            } else {
                let fill = match (overlay, value) {
                    (Some(o), Some(v)) => o.color(v, scale),
                    (Some(_), None) => {
                        if dark {
                            Color32::from_gray(60)
                        } else {
                            Color32::from_gray(225)
                        }
                    }
                    _ => match b.item {
                        Item::Group(_) => {
                            if dark {
                                Color32::from_rgb(48, 58, 80)
                            } else {
                                Color32::from_rgb(219, 228, 245)
                            }
                        }
                        Item::Node(_) => {
                            if dark {
                                Color32::from_gray(45)
                            } else {
                                Color32::WHITE
                            }
                        }
                    },
                };
                painter.rect(r, radius, fill, edge, StrokeKind::Inside);
            }
            if !text {
                continue;
            }
            let ink = if overlay.is_some() && !b.open {
                Color32::from_gray(20)
            } else {
                fg
            };
            match b.item {
                Item::Node(n) => {
                    let node = &self.graph.nodes[n];
                    painter.text(
                        r.center() - vec2(0.0, 6.0 * cam.zoom),
                        Align2::CENTER_CENTER,
                        &node.op_type,
                        font.clone(),
                        ink,
                    );
                    let leaf = node.name.rsplit('/').next().unwrap_or(&node.name);
                    let second = match (overlay.map(|o| o.kind), value) {
                        (Some(OverlayKind::Profile), Some(v)) => crate::overlay::us(v),
                        (Some(OverlayKind::Diff), Some(v)) => {
                            format!(
                                "{}{}",
                                if v >= 0.0 { "+" } else { "−" },
                                crate::overlay::us(v.abs())
                            )
                        }
                        (Some(OverlayKind::Accuracy), Some(v)) => format!("{v:.2e}"),
                        (Some(OverlayKind::Imported), Some(v)) => format!("{v:.4}"),
                        _ => leaf.to_string(),
                    };
                    painter.text(
                        r.center() + vec2(0.0, 7.0 * cam.zoom),
                        Align2::CENTER_CENTER,
                        second,
                        small.clone(),
                        ink,
                    );
                }
                Item::Group(g) => {
                    let group = &self.scene.hierarchy.groups[g];
                    if b.open {
                        painter.text(
                            r.min + vec2(8.0, HEADER / 2.0) * cam.zoom,
                            Align2::LEFT_CENTER,
                            format!("− {}  ({})", group.name, count(group.nodes, "node")),
                            font.clone(),
                            fg,
                        );
                    } else {
                        painter.text(
                            r.center() - vec2(0.0, 7.0 * cam.zoom),
                            Align2::CENTER_CENTER,
                            format!("+ {}", group.name),
                            font.clone(),
                            ink,
                        );
                        let second = match (overlay, value) {
                            (Some(o), Some(v)) => o.format(v),
                            _ => count(group.nodes, "node"),
                        };
                        painter.text(
                            r.center() + vec2(0.0, 8.0 * cam.zoom),
                            Align2::CENTER_CENTER,
                            second,
                            small.clone(),
                            ink,
                        );
                    }
                }
            }
        }

        // The first diverging node (or the closed group that holds it), outlined.
        if let Some(o) = overlay
            && let Some(n) = o.highlight
            && let Some(r) = self.scene.rect_of(n)
            && view.intersects(r)
        {
            let r = Rect::from_min_max(cam.to_screen(canvas, r.min), cam.to_screen(canvas, r.max));
            let mark = Color32::from_rgb(200, 0, 160);
            painter.rect_stroke(
                r.expand(3.0),
                4.0,
                Stroke::new(3.0, mark),
                StrokeKind::Outside,
            );
            painter.text(
                r.center_top() - vec2(0.0, 6.0),
                Align2::CENTER_BOTTOM,
                "first diverging node",
                FontId::proportional(12.0),
                mark,
            );
        }
        if let Some(o) = overlay {
            self.paint_legend(painter, canvas, o, scale, fg, bg);
        }
        if self.minimap {
            self.paint_minimap(painter, canvas, view, line);
        }
    }

    fn paint_legend(
        &self,
        painter: &egui::Painter,
        canvas: Rect,
        o: &Overlay,
        scale: f64,
        fg: Color32,
        bg: Color32,
    ) {
        let at = canvas.left_bottom() + vec2(12.0, -40.0);
        let bar = Rect::from_min_size(at, vec2(160.0, 10.0));
        painter.rect_filled(
            bar.expand(24.0).translate(vec2(60.0, 8.0)),
            4.0,
            bg.gamma_multiply(0.9),
        );
        for k in 0..32 {
            let t = k as f64 / 31.0;
            let v = match o.kind {
                OverlayKind::Diff => (2.0 * t - 1.0) * scale,
                OverlayKind::Accuracy => scale * 10f64.powf(9.0 * (t - 1.0)),
                OverlayKind::Profile | OverlayKind::Imported => t * scale,
            };
            let x = bar.min.x + bar.width() * k as f32 / 32.0;
            painter.rect_filled(
                Rect::from_min_size(
                    pos2(x, bar.min.y),
                    vec2(bar.width() / 32.0 + 0.5, bar.height()),
                ),
                0.0,
                o.color(v, scale),
            );
        }
        let (lo, hi) = match o.kind {
            OverlayKind::Profile => ("0".to_string(), crate::overlay::us(scale)),
            OverlayKind::Diff => (
                format!("−{}", crate::overlay::us(scale)),
                format!("+{}", crate::overlay::us(scale)),
            ),
            OverlayKind::Accuracy => (format!("≤{:.0e}", scale * 1e-9), format!("{scale:.2e}")),
            OverlayKind::Imported => ("0".to_string(), format!("{scale:.4}")),
        };
        let font = FontId::proportional(11.0);
        painter.text(
            bar.left_bottom() + vec2(0.0, 3.0),
            Align2::LEFT_TOP,
            lo,
            font.clone(),
            fg,
        );
        painter.text(
            bar.right_bottom() + vec2(0.0, 3.0),
            Align2::RIGHT_TOP,
            hi,
            font.clone(),
            fg,
        );
        painter.text(
            bar.left_top() - vec2(0.0, 3.0),
            Align2::LEFT_BOTTOM,
            &o.title,
            font,
            fg,
        );
    }

    /// Where the minimap sits on the canvas, and its scale (pixels per world unit).
    fn minimap_rect(&self, canvas: Rect) -> (Rect, f32) {
        let size = self.scene.size.max(vec2(1.0, 1.0));
        let box_ = Vec2::splat(160.0);
        let s = (box_.x / size.x).min(box_.y / size.y);
        (
            Rect::from_min_size(
                canvas.right_bottom() - size * s - vec2(12.0, 12.0),
                size * s,
            ),
            s,
        )
    }

    fn paint_minimap(&self, painter: &egui::Painter, canvas: Rect, view: Rect, line: Color32) {
        let (map, s) = self.minimap_rect(canvas);
        painter.rect(
            map.expand(4.0),
            4.0,
            Color32::from_black_alpha(40),
            Stroke::new(1.0, line),
            StrokeKind::Outside,
        );
        for b in self.scene.placed.iter().filter(|b| b.depth == 0) {
            let r = Rect::from_min_max(
                map.min + b.rect.min.to_vec2() * s,
                map.min + b.rect.max.to_vec2() * s,
            );
            painter.rect_filled(r, 0.0, line.gamma_multiply(0.6));
        }
        let v = Rect::from_min_max(
            map.min + view.min.to_vec2() * s,
            map.min + view.max.to_vec2() * s,
        )
        .intersect(map.expand(4.0));
        painter.rect_stroke(
            v,
            0.0,
            Stroke::new(1.5, Color32::from_rgb(37, 99, 235)),
            StrokeKind::Inside,
        );
    }
}
