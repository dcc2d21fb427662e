//! The trace's kernels as a flame graph: time summed by node scope (`encoder;layer.3;attn`,
//! the engine's folded stacks), so the costliest blocks of the model are the widest frames.
//! Its size is the model's scope tree, whatever the trace's length.

use std::collections::HashMap;

use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, pos2, vec2};

/// One frame: a scope, or a node at the leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub name: String,
    /// `None` for the root.
    pub parent: Option<u32>,
    /// Microseconds, this frame and everything under it.
    pub total_us: f64,
    /// Kernel calls under this frame.
    pub calls: u64,
    /// Largest first, once the trace is read.
    pub children: Vec<u32>,
    pub depth: u32,
}

/// The flame tree; frame 0 is the root ("all kernels").
#[derive(Debug)]
pub struct Flame {
    pub frames: Vec<Frame>,
    index: HashMap<(u32, String), u32>,
}

impl Default for Flame {
    fn default() -> Self {
        Flame {
            frames: vec![Frame {
                name: "all kernels".into(),
                parent: None,
                total_us: 0.0,
                calls: 0,
                children: Vec::new(),
                depth: 0,
            }],
            index: HashMap::new(),
        }
    }
}

/// Height of one frame row, in points.
pub const ROW: f32 = 20.0;

impl Flame {
    /// The leaf frame of a folded stack (`a;b;c`), made on first use.
    pub fn path(&mut self, stack: &str) -> u32 {
        let mut at = 0u32;
        for part in stack.split(';') {
            at = match self.index.get(&(at, part.to_string())) {
                Some(&f) => f,
                None => {
                    let f = self.frames.len() as u32;
                    let depth = self.frames[at as usize].depth.saturating_add(1);
                    self.frames.push(Frame {
                        name: part.to_string(),
                        parent: Some(at),
                        total_us: 0.0,
                        calls: 0,
                        children: Vec::new(),
                        depth,
                    });
                    self.frames[at as usize].children.push(f);
                    self.index.insert((at, part.to_string()), f);
                    f
                }
            };
        }
        at
    }

    /// Adds one kernel call of `us` to `leaf` and everything above it.
    pub fn add(&mut self, leaf: u32, us: f64) {
        let mut at = Some(leaf);
        while let Some(f) = at {
            let frame = &mut self.frames[f as usize];
            frame.total_us += us;
            frame.calls += 1;
            at = frame.parent;
        }
    }

    /// Orders children largest first and drops the build index.
    pub fn finish(&mut self) {
        let totals: Vec<f64> = self.frames.iter().map(|f| f.total_us).collect();
        for f in &mut self.frames {
            f.children
                .sort_by(|a, b| totals[*b as usize].total_cmp(&totals[*a as usize]));
        }
        self.index = HashMap::new();
    }

    pub fn total_us(&self) -> f64 {
        self.frames[0].total_us
    }

    /// A frame's scopes from the top, joined by " / ".
    pub fn path_of(&self, f: u32) -> String {
        let mut parts = Vec::new();
        let mut at = Some(f);
        while let Some(i) = at {
            let fr = &self.frames[i as usize];
            if fr.parent.is_some() {
                parts.push(fr.name.as_str());
            }
            at = fr.parent;
        }
        parts.reverse();
        parts.join(" / ")
    }

    pub fn heap_bytes(&self) -> usize {
        self.frames
            .iter()
            .map(|f| std::mem::size_of::<Frame>() + f.name.capacity() + f.children.capacity() * 4)
            .sum()
    }

    /// Where each frame under `root` lies on screen (the root spans `area`'s width), for the
    /// frames at least `min_px` wide: (frame, rectangle), parents before children.
    pub fn placed(&self, root: u32, area: Rect, min_px: f32) -> Vec<(u32, Rect)> {
        let mut out = Vec::new();
        let top = self.frames[root as usize].depth;
        let total = self.frames[root as usize].total_us.max(f64::MIN_POSITIVE);
        let scale = area.width() as f64 / total;
        let mut todo = vec![(root, area.left() as f64)];
        while let Some((f, x)) = todo.pop() {
            let fr = &self.frames[f as usize];
            let w = fr.total_us * scale;
            if w < min_px as f64 {
                continue;
            }
            let y = area.top() + (fr.depth - top) as f32 * ROW;
            if y > area.bottom() {
                continue;
            }
            out.push((
                f,
                Rect::from_min_size(pos2(x as f32, y), vec2(w as f32, ROW - 1.0)),
            ));
            let mut cx = x;
            for &c in &fr.children {
                todo.push((c, cx));
                cx += self.frames[c as usize].total_us * scale;
            }
        }
        out
    }

    /// Paints the frames under `root` into `area`; `hot` is drawn outlined.
    pub fn paint(
        &self,
        painter: &egui::Painter,
        area: Rect,
        root: u32,
        hot: Option<u32>,
        fg: Color32,
    ) {
        let font = FontId::proportional(12.0);
        for (f, r) in self.placed(root, area, 1.0) {
            let fr = &self.frames[f as usize];
            painter.rect_filled(r, 1.0, flame_colour(&fr.name));
            if hot == Some(f) {
                painter.rect_stroke(r, 1.0, Stroke::new(2.0, fg), StrokeKind::Inside);
            }
            if r.width() > 40.0 {
                let text = fit_text(&fr.name, r.width() - 6.0, 6.5);
                painter.text(
                    r.left_center() + vec2(3.0, 0.0),
                    Align2::LEFT_CENTER,
                    text,
                    font.clone(),
                    Color32::from_gray(20),
                );
            }
        }
    }

    /// The frame under `p`, if any.
    pub fn hit(&self, root: u32, area: Rect, p: Pos2) -> Option<u32> {
        self.placed(root, area, 1.0)
            .into_iter()
            .find(|(_, r)| r.contains(p))
            .map(|(f, _)| f)
    }
}

/// A warm colour per name, stable from run to run (as flame graphs colour).
pub fn flame_colour(name: &str) -> Color32 {
    let h = name
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    let t = (h % 1000) as f32 / 1000.0;
    Color32::from_rgb(
        (205.0 + 50.0 * t) as u8,
        (90.0 + 130.0 * (1.0 - t)) as u8,
        (40.0 + 40.0 * t) as u8,
    )
}

/// `text` cut with "..." to fit `width` points at about `char_w` points a character.
pub fn fit_text(text: &str, width: f32, char_w: f32) -> String {
    let fits = (width / char_w).max(0.0) as usize;
    if text.chars().count() <= fits {
        text.to_string()
    } else if fits > 3 {
        let mut s: String = text.chars().take(fits - 3).collect();
        s.push_str("...");
        s
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_sum_their_children_and_sort_largest_first() {
        let mut f = Flame::default();
        let a = f.path("enc;l0;MatMul");
        let b = f.path("enc;l1;MatMul");
        let c = f.path("Gemm;gemm_3");
        f.add(a, 5.0);
        f.add(a, 5.0);
        f.add(b, 30.0);
        f.add(c, 1.0);
        f.finish();
        assert_eq!(f.total_us(), 41.0);
        let enc = f.frames[0].children[0];
        assert_eq!(f.frames[enc as usize].name, "enc");
        assert_eq!(f.frames[enc as usize].total_us, 40.0);
        assert_eq!(f.frames[enc as usize].calls, 3);
        let first = f.frames[enc as usize].children[0];
        assert_eq!(
            f.path_of(f.frames[first as usize].children[0]),
            "enc / l1 / MatMul"
        );
        // Placed: widths proportional to time, children inside their parent.
        let area = Rect::from_min_size(Pos2::ZERO, vec2(410.0, 200.0));
        let placed: HashMap<u32, Rect> = f.placed(0, area, 1.0).into_iter().collect();
        assert_eq!(placed[&enc].width(), 400.0);
        assert_eq!(placed[&first].width(), 300.0);
        assert!(placed[&first].left() >= placed[&enc].left());
        assert_eq!(f.hit(0, area, pos2(5.0, ROW + 5.0)), Some(enc));
        // Zoomed on `enc`, it spans the whole width.
        let zoomed: HashMap<u32, Rect> = f.placed(enc, area, 1.0).into_iter().collect();
        assert_eq!(zoomed[&enc].width(), 410.0);
        assert!(!zoomed.contains_key(&0));
    }
}
