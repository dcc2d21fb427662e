//! Numbers laid over the graph, per node and summed per group: a stored profile run's time
//! per inference (heat), or the change between two profile runs (the differential flame
//! graph's data: red slower, blue faster). Each comes with the legend that explains its
//! colours, and says which profiled nodes it could not place in this graph.

use std::collections::HashMap;

use assay_engine::profile::NodeStats;
use egui::Color32;

use crate::hierarchy::{Hierarchy, Item, NodeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayKind {
    /// Time per inference, µs: zero and up.
    Profile,
    /// Change in time per inference, µs (B − A): either sign.
    Diff,
    /// Largest absolute output error against the reference, at the nodes an accuracy
    /// search compared; a group shows its worst node.
    Accuracy,
    /// Values from a Model Explorer node data file: their meaning is the file's, so a group
    /// shows its node of the largest magnitude rather than a sum that may mean nothing.
    Imported,
}

#[derive(Debug, Clone)]
pub struct Overlay {
    pub kind: OverlayKind,
    /// What the checkbox and legend say (`profile 3f2a`, `3f2a to 9c1e`).
    pub title: String,
    /// Per node, where the run has it.
    pub values: Vec<Option<f64>>,
    /// Per group: the sum over its nodes (`None` when none has a value).
    pub group_values: Vec<Option<f64>>,
    /// The provider that ran each node (profile overlays).
    pub providers: Vec<Option<String>>,
    /// The sum over every node: what shares are of.
    pub total: f64,
    /// Profiled nodes with no node of that name in this graph.
    pub unplaced: Vec<String>,
    /// A node to outline: the first diverging node of an accuracy overlay.
    pub highlight: Option<NodeId>,
    /// Imported values left out: text labels, and numbers that are not finite.
    pub skipped: usize,
}

impl Overlay {
    /// A profile run's time per inference, matched to the graph's nodes by name.
    pub fn profile(title: String, names: &[String], h: &Hierarchy, stats: &[NodeStats]) -> Overlay {
        let index = by_name(names);
        let mut values = vec![None; names.len()];
        let mut providers = vec![None; names.len()];
        let mut unplaced = Vec::new();
        for s in stats {
            match lookup(&index, &s.name) {
                Some(i) => {
                    *values[i].get_or_insert(0.0) += s.per_inference_us;
                    providers[i] = Some(s.provider.replace("ExecutionProvider", ""));
                }
                None => unplaced.push(s.name.clone()),
            }
        }
        Overlay::finish(OverlayKind::Profile, title, values, providers, unplaced, h)
    }

    /// The change from run A to run B per node (µs per inference, B − A); a node profiled
    /// in only one of them counts as 0 in the other.
    pub fn diff(
        title: String,
        names: &[String],
        h: &Hierarchy,
        a: &[NodeStats],
        b: &[NodeStats],
    ) -> Overlay {
        let base = Overlay::profile(String::new(), names, h, a);
        let head = Overlay::profile(String::new(), names, h, b);
        let values = base
            .values
            .iter()
            .zip(&head.values)
            .map(|(x, y)| match (x, y) {
                (None, None) => None,
                _ => Some(y.unwrap_or(0.0) - x.unwrap_or(0.0)),
            })
            .collect();
        let mut unplaced = base.unplaced;
        unplaced.extend(head.unplaced);
        unplaced.sort();
        unplaced.dedup();
        Overlay::finish(
            OverlayKind::Diff,
            title,
            values,
            head.providers,
            unplaced,
            h,
        )
    }

    /// An accuracy search's measured errors, and its first diverging node outlined.
    pub fn accuracy(
        title: String,
        names: &[String],
        h: &Hierarchy,
        d: &assay_engine::accuracy::Divergence,
    ) -> Overlay {
        let index = by_name(names);
        let mut values = vec![None; names.len()];
        let mut unplaced = Vec::new();
        for p in &d.probed {
            match lookup(&index, &p.node) {
                Some(i) => values[i] = Some(p.max_abs),
                None => unplaced.push(p.node.clone()),
            }
        }
        let highlight = lookup(&index, &d.node);
        if highlight.is_none() {
            unplaced.push(d.node.clone());
        }
        let mut o = Overlay::finish(
            OverlayKind::Accuracy,
            title,
            values,
            vec![None; names.len()],
            unplaced,
            h,
        );
        o.highlight = highlight;
        o
    }

    /// Values from elsewhere (a Model Explorer node data file), already matched to nodes.
    pub fn imported(
        title: String,
        values: Vec<Option<f64>>,
        unplaced: Vec<String>,
        h: &Hierarchy,
    ) -> Overlay {
        let n = values.len();
        Overlay::finish(
            OverlayKind::Imported,
            title,
            values,
            vec![None; n],
            unplaced,
            h,
        )
    }

    fn finish(
        kind: OverlayKind,
        title: String,
        values: Vec<Option<f64>>,
        providers: Vec<Option<String>>,
        unplaced: Vec<String>,
        h: &Hierarchy,
    ) -> Overlay {
        // Times add up over a group; errors and imported values do not: a group shows its
        // node of the largest magnitude (the colours' scale), sign kept.
        let add = |acc: Option<f64>, v: f64| {
            Some(match acc {
                None => v,
                Some(a) if matches!(kind, OverlayKind::Accuracy | OverlayKind::Imported) => {
                    if v.abs() > a.abs() { v } else { a }
                }
                Some(a) => a + v,
            })
        };
        let mut group_values: Vec<Option<f64>> = vec![None; h.groups.len()];
        for (n, v) in values.iter().enumerate() {
            let Some(v) = *v else { continue };
            let mut g = Some(h.parent_of[n]);
            while let Some(id) = g {
                group_values[id] = add(group_values[id], v);
                g = h.groups[id].parent;
            }
        }
        let total = values
            .iter()
            .flatten()
            .fold(None, |a, &v| add(a, v))
            .unwrap_or(0.0);
        Overlay {
            kind,
            title,
            values,
            group_values,
            providers,
            total,
            unplaced,
            highlight: None,
            skipped: 0,
        }
    }

    pub fn value(&self, item: Item) -> Option<f64> {
        match item {
            Item::Node(n) => self.values[n],
            Item::Group(g) => self.group_values[g],
        }
    }

    /// A box's fill for `value`, where `scale` is the largest magnitude on screen.
    pub fn color(&self, value: f64, scale: f64) -> Color32 {
        let t = (value.abs() / scale.max(1e-12)).clamp(0.0, 1.0) as f32;
        match self.kind {
            // Pale yellow to deep red.
            OverlayKind::Profile => lerp(
                Color32::from_rgb(255, 243, 196),
                Color32::from_rgb(200, 30, 30),
                t.sqrt(),
            ),
            OverlayKind::Diff if value >= 0.0 => lerp(
                Color32::from_rgb(240, 240, 240),
                Color32::from_rgb(205, 40, 40),
                t.sqrt(),
            ),
            OverlayKind::Diff => lerp(
                Color32::from_rgb(240, 240, 240),
                Color32::from_rgb(40, 90, 210),
                t.sqrt(),
            ),
            // Errors span decades: a log scale from 1e-9 of the largest up to it.
            OverlayKind::Accuracy => {
                let t = if value <= 0.0 {
                    0.0
                } else {
                    (1.0 + (value / scale.max(1e-30)).log10() / 9.0).clamp(0.0, 1.0) as f32
                };
                lerp(
                    Color32::from_rgb(226, 244, 234),
                    Color32::from_rgb(190, 20, 90),
                    t,
                )
            }
            OverlayKind::Imported => lerp(
                Color32::from_rgb(242, 238, 250),
                Color32::from_rgb(90, 42, 156),
                t,
            ),
        }
    }

    /// A value as the legend and details print it.
    pub fn format(&self, value: f64) -> String {
        match self.kind {
            OverlayKind::Profile => format!(
                "{} per inference ({:.1}%)",
                us(value),
                100.0 * value / self.total.max(1e-12)
            ),
            OverlayKind::Diff => format!(
                "{}{} per inference",
                if value >= 0.0 { "+" } else { "−" },
                us(value.abs())
            ),
            OverlayKind::Accuracy => format!("max abs error {value:.3e}"),
            OverlayKind::Imported => format!("value {value:.4}"),
        }
    }

    /// The legend's line for a scale.
    pub fn legend(&self, scale: f64) -> String {
        match self.kind {
            OverlayKind::Profile => format!(
                "{}: time per inference, 0 to {} (of {} in all)",
                self.title,
                us(scale),
                us(self.total)
            ),
            OverlayKind::Diff => format!(
                "{}: change per inference, blue faster by up to {}, red slower by up to {}",
                self.title,
                us(scale),
                us(scale)
            ),
            OverlayKind::Accuracy => format!(
                "{}: max abs error at the nodes the search compared, log scale up to {scale:.3e}; the first diverging node is outlined",
                self.title
            ),
            OverlayKind::Imported => format!(
                "{}: imported values, 0 to {scale:.4} in magnitude; a group shows its largest node by magnitude",
                self.title
            ),
        }
    }
}

/// Each node name's index.
fn by_name(names: &[String]) -> HashMap<&str, NodeId> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect()
}

/// A profiled node's name in the graph: as it is, or as ONNX Runtime's "fused" copy of it.
fn lookup(index: &HashMap<&str, NodeId>, name: &str) -> Option<NodeId> {
    index
        .get(name)
        .or_else(|| name.strip_prefix("fused ").and_then(|n| index.get(n)))
        .copied()
}

pub fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.1} µs")
    }
}

fn lerp(a: Color32, b: Color32, t: f32) -> Color32 {
    let m = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
    Color32::from_rgb(m(a.r(), b.r()), m(a.g(), b.g()), m(a.b(), b.b()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hierarchy::tests::node;

    fn stat(name: &str, us: f64) -> NodeStats {
        serde_json::from_value(serde_json::json!({
            "name": name, "op_type": "MatMul", "provider": "CPUExecutionProvider", "calls": 10,
            "total_ms": 1.0, "mean_us": us, "p50_us": us, "share_pct": 0.0,
            "per_inference_us": us, "input_shapes": "", "output_shapes": "", "stack": ""
        }))
        .expect("NodeStats fields")
    }

    #[test]
    fn groups_sum_their_nodes_and_strangers_are_listed() {
        let names = ["/a/x/MatMul", "/a/y/Add", "/b/Relu"].map(String::from);
        let nodes: Vec<_> = names.iter().map(|n| node(n)).collect();
        let h = Hierarchy::build(&nodes, 100);
        let o = Overlay::profile(
            "p".into(),
            &names,
            &h,
            &[
                stat("/a/x/MatMul", 30.0),
                stat("fused /a/y/Add", 10.0),
                stat("/gone/Conv", 5.0),
            ],
        );
        assert_eq!(o.values, [Some(30.0), Some(10.0), None]);
        let a = h.ancestors(0)[0];
        assert_eq!(o.group_values[a], Some(40.0));
        assert_eq!(o.total, 40.0);
        assert_eq!(o.unplaced, ["/gone/Conv"]);
        assert_eq!(o.providers[0].as_deref(), Some("CPU"));
        let d = Overlay::diff(
            "d".into(),
            &names,
            &h,
            &[stat("/a/x/MatMul", 30.0)],
            &[stat("/a/x/MatMul", 20.0), stat("/b/Relu", 4.0)],
        );
        assert_eq!(d.values, [Some(-10.0), None, Some(4.0)]);
        assert_eq!(d.format(-10.0), "−10.0 µs per inference");
    }
}
