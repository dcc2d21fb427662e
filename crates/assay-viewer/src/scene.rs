//! What the graph view shows: which groups are open, a layout per open group (cached, and
//! redone only along the path of a group that opened or closed), every visible box in world
//! coordinates, and the edges between visible boxes.
//!
//! An open group is drawn as a frame around its own layout; a closed one as one box. Edges
//! between nodes are drawn between the outermost closed groups that hold their ends.

use std::collections::{HashMap, HashSet};

use egui::{Rect, Vec2, pos2, vec2};

use crate::{
    hierarchy::{GroupId, Hierarchy, Item, NodeId, ROOT},
    layout::{Direction, layered},
};

/// A frame's header and padding around an open group's layout.
pub const HEADER: f32 = 22.0;
pub const PAD: f32 = 12.0;
/// Box heights.
pub const NODE_H: f32 = 34.0;
pub const GROUP_H: f32 = 42.0;

/// A box on screen, in world coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub item: Item,
    pub rect: Rect,
    /// Nesting depth (0: the root's children).
    pub depth: usize,
    /// An open group (drawn as a frame).
    pub open: bool,
}

/// One open group's layout, relative to its content origin.
struct GroupLayout {
    items: Vec<Item>,
    rects: Vec<Rect>,
    size: Vec2,
}

pub struct Scene {
    pub hierarchy: Hierarchy,
    /// Node labels' widths (the op type and the name's last part decide a box's width).
    widths: Vec<f32>,
    /// Node-to-node edges, once per pair, and each node's successors.
    edges: Vec<(NodeId, NodeId)>,
    succs: Vec<Vec<NodeId>>,
    pub open: HashSet<GroupId>,
    pub direction: Direction,
    layouts: HashMap<GroupId, GroupLayout>,
    /// Every visible box, outer frames before what they hold.
    pub placed: Vec<Placed>,
    /// Index into `placed` of each visible item.
    pub index: HashMap<Item, usize>,
    /// Visible edges, as indices into `placed`.
    pub visible_edges: Vec<(usize, usize)>,
    /// The root layout's size.
    pub size: Vec2,
}

impl Scene {
    /// A scene with every group closed. `labels` gives each node's box width.
    pub fn new(hierarchy: Hierarchy, widths: Vec<f32>, edges: Vec<(NodeId, NodeId)>) -> Scene {
        let mut succs = vec![Vec::new(); widths.len()];
        for &(a, b) in &edges {
            succs[a].push(b);
        }
        let mut s = Scene {
            hierarchy,
            widths,
            edges,
            succs,
            open: HashSet::new(),
            direction: Direction::LeftToRight,
            layouts: HashMap::new(),
            placed: Vec::new(),
            index: HashMap::new(),
            visible_edges: Vec::new(),
            size: Vec2::ZERO,
        };
        s.refresh();
        s
    }

    /// Opens or closes a group; its layout and its ancestors' are redone.
    pub fn toggle(&mut self, g: GroupId) {
        if g == ROOT {
            return;
        }
        if !self.open.remove(&g) {
            self.open.insert(g);
        }
        self.invalidate(g);
        self.refresh();
    }

    /// Opens every group holding `node`, so that it is visible.
    pub fn reveal(&mut self, node: NodeId) {
        let chain = self.hierarchy.ancestors(node);
        let closed: Vec<GroupId> = chain
            .into_iter()
            .filter(|g| !self.open.contains(g))
            .collect();
        if closed.is_empty() {
            return;
        }
        for &g in &closed {
            self.open.insert(g);
            self.invalidate(g);
        }
        self.refresh();
    }

    pub fn set_direction(&mut self, d: Direction) {
        if self.direction != d {
            self.direction = d;
            self.layouts.clear();
            self.refresh();
        }
    }

    /// Drops the cached layouts of `g` and of every group holding it.
    fn invalidate(&mut self, g: GroupId) {
        let mut up = Some(g);
        while let Some(id) = up {
            self.layouts.remove(&id);
            up = self.hierarchy.groups[id].parent;
        }
    }

    /// The size of a box: a node, a closed group, or an open group around its layout.
    fn item_size(&mut self, item: Item) -> Vec2 {
        match item {
            Item::Node(n) => vec2(self.widths[n], NODE_H),
            Item::Group(g) if self.open.contains(&g) => {
                let inner = self.layout(g).size;
                vec2(inner.x.max(120.0) + 2.0 * PAD, inner.y + HEADER + 2.0 * PAD)
            }
            Item::Group(g) => {
                let h = &self.hierarchy.groups[g];
                let chars = h.name.chars().count().max(8) as f32;
                vec2((chars * 7.5 + 28.0).clamp(110.0, 320.0), GROUP_H)
            }
        }
    }

    /// The layout of an open group's children (computed once until invalidated).
    fn layout(&mut self, g: GroupId) -> &GroupLayout {
        if !self.layouts.contains_key(&g) {
            let items = self.hierarchy.groups[g].children.clone();
            let sizes: Vec<Vec2> = items.iter().map(|&i| self.item_size(i)).collect();
            let order: Vec<usize> = items.iter().map(|&i| self.hierarchy.first(i)).collect();
            // Edges between this group's children: each node below maps to the child holding it.
            let mut child_of: HashMap<NodeId, usize> = HashMap::new();
            for (k, &item) in items.iter().enumerate() {
                match item {
                    Item::Node(n) => {
                        child_of.insert(n, k);
                    }
                    Item::Group(c) => {
                        for n in self.hierarchy.nodes_below(c) {
                            child_of.insert(n, k);
                        }
                    }
                }
            }
            let mut edges = Vec::new();
            for (&n, &k) in &child_of {
                for m in &self.succs[n] {
                    if let Some(&j) = child_of.get(m)
                        && j != k
                    {
                        edges.push((k, j));
                    }
                }
            }
            let l = layered(&sizes, &order, &edges, self.direction);
            self.layouts.insert(
                g,
                GroupLayout {
                    items,
                    rects: l.rects,
                    size: l.size,
                },
            );
        }
        &self.layouts[&g]
    }

    /// Recomputes what is visible after a change.
    fn refresh(&mut self) {
        self.size = self.layout(ROOT).size;
        let mut placed = Vec::new();
        self.place(ROOT, pos2(0.0, 0.0), 0, &mut placed);
        self.index = placed
            .iter()
            .enumerate()
            .map(|(i, p)| (p.item, i))
            .collect();
        self.placed = placed;
        // Each edge's ends: the outermost closed group on the node's chain, else the node.
        let mut seen = HashSet::new();
        let mut visible = Vec::new();
        for &(a, b) in &self.edges {
            let (Some(x), Some(y)) = (self.shown_as(a), self.shown_as(b)) else {
                continue;
            };
            if x != y && seen.insert((x, y)) {
                visible.push((x, y));
            }
        }
        self.visible_edges = visible;
    }

    fn place(&mut self, g: GroupId, origin: egui::Pos2, depth: usize, out: &mut Vec<Placed>) {
        let (items, rects) = {
            let l = self.layout(g);
            (l.items.clone(), l.rects.clone())
        };
        for (item, rect) in items.into_iter().zip(rects) {
            let rect = rect.translate(origin.to_vec2());
            let open = matches!(item, Item::Group(c) if self.open.contains(&c));
            out.push(Placed {
                item,
                rect,
                depth,
                open,
            });
            if let (Item::Group(c), true) = (item, open) {
                self.place(c, rect.min + vec2(PAD, HEADER + PAD), depth + 1, out);
            }
        }
    }

    /// The index in `placed` of the box that shows `node`.
    pub fn shown_as(&self, node: NodeId) -> Option<usize> {
        for g in self.hierarchy.ancestors(node) {
            if !self.open.contains(&g) {
                return self.index.get(&Item::Group(g)).copied();
            }
        }
        self.index.get(&Item::Node(node)).copied()
    }

    /// The world rectangle of the box showing `node`.
    pub fn rect_of(&self, node: NodeId) -> Option<Rect> {
        self.shown_as(node).map(|i| self.placed[i].rect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hierarchy::tests::node;

    fn scene(names: &[&str], edges: &[(usize, usize)]) -> Scene {
        let nodes: Vec<_> = names.iter().map(|n| node(n)).collect();
        let h = Hierarchy::build(&nodes, 100);
        Scene::new(h, vec![100.0; names.len()], edges.to_vec())
    }

    #[test]
    fn opening_a_group_shows_its_nodes_inside_its_frame_without_overlap() {
        let mut s = scene(
            &["/a/x/MatMul", "/a/x/Add", "/a/y/Relu", "/b/Gemm", "out"],
            &[(0, 1), (1, 2), (2, 3), (3, 4)],
        );
        // Closed: a, b and the unscoped node; edges a -> b -> out.
        assert_eq!(s.placed.len(), 3);
        assert_eq!(s.visible_edges.len(), 2);
        let a = s.hierarchy.ancestors(0)[0];
        s.toggle(a);
        let frame = s.placed[s.index[&Item::Group(a)]].rect;
        let x = s.hierarchy.ancestors(0)[1];
        let inner = s.placed[s.index[&Item::Group(x)]].rect;
        assert!(frame.contains_rect(inner), "{frame:?} {inner:?}");
        // x and y now show inside a; the edge from a's y to b is drawn from y.
        let y = s.hierarchy.ancestors(2)[1];
        assert_eq!(s.shown_as(2), Some(s.index[&Item::Group(y)]));
        // Revealing node 1 opens x too; siblings never overlap.
        s.reveal(1);
        assert!(s.index.contains_key(&Item::Node(1)));
        let top: Vec<Rect> = s
            .placed
            .iter()
            .filter(|p| p.depth == 0)
            .map(|p| p.rect)
            .collect();
        for i in 0..top.len() {
            for j in i + 1..top.len() {
                assert!(!top[i].intersects(top[j].shrink(0.01)));
            }
        }
        // Closing a again hides everything inside it.
        s.toggle(a);
        assert!(!s.index.contains_key(&Item::Node(1)));
        assert_eq!(s.placed.len(), 3);
    }
}
