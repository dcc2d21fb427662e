//! The model as nested groups: a group per node-name scope (`/encoder/layer.3/attention`),
//! the same scopes the flame graph's frames are. A group with more direct children than a
//! layout should take at once (a flat exporter's 20,000 unscoped nodes) is split into runs of
//! consecutive nodes ("nodes 1–400"), so no level ever lays out more than `max_items` boxes.

use std::collections::HashMap;

use assay_engine::model::graph::GraphNode;

pub type NodeId = usize;
pub type GroupId = usize;

/// A box the graph view draws: a node, or a group (collapsed, or expanded around its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    Node(NodeId),
    Group(GroupId),
}

#[derive(Debug, Clone)]
pub struct Group {
    /// The last scope component (`layer.3`), or `nodes 1–400` for a run.
    pub name: String,
    /// The scope path (`/encoder/layer.3`); `/` for the root.
    pub path: String,
    pub parent: Option<GroupId>,
    /// Direct children, in the order of their first node.
    pub children: Vec<Item>,
    /// Nodes anywhere below.
    pub nodes: usize,
    /// The smallest node index below: the group's place in topological order.
    pub first: NodeId,
    /// A run of consecutive nodes rather than a scope of the model.
    pub run: bool,
}

/// The groups of a model. Group 0 is the root.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub groups: Vec<Group>,
    /// Each node's direct group.
    pub parent_of: Vec<GroupId>,
}

pub const ROOT: GroupId = 0;

impl Hierarchy {
    pub fn build(nodes: &[GraphNode], max_items: usize) -> Hierarchy {
        let max_items = max_items.max(2);
        let mut h = Hierarchy {
            groups: vec![Group {
                name: String::new(),
                path: "/".into(),
                parent: None,
                children: Vec::new(),
                nodes: 0,
                first: 0,
                run: false,
            }],
            parent_of: Vec::with_capacity(nodes.len()),
        };
        let mut by_path: HashMap<String, GroupId> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let mut g = ROOT;
            let mut path = String::new();
            for part in &n.scope {
                path.push('/');
                path.push_str(part);
                g = match by_path.get(&path) {
                    Some(&id) => id,
                    None => {
                        let id = h.groups.len();
                        h.groups.push(Group {
                            name: part.clone(),
                            path: path.clone(),
                            parent: Some(g),
                            children: Vec::new(),
                            nodes: 0,
                            first: i,
                            run: false,
                        });
                        h.groups[g].children.push(Item::Group(id));
                        by_path.insert(path.clone(), id);
                        id
                    }
                };
            }
            h.groups[g].children.push(Item::Node(i));
            h.parent_of.push(g);
            // Counts along the whole chain.
            let mut up = Some(g);
            while let Some(a) = up {
                h.groups[a].nodes += 1;
                up = h.groups[a].parent;
            }
        }
        // Split crowded levels into runs, deepest first so a run never holds a crowded group.
        for g in (0..h.groups.len()).rev() {
            h.split(g, max_items);
        }
        h
    }

    /// Where an item sits in topological order.
    pub fn first(&self, item: Item) -> NodeId {
        match item {
            Item::Node(n) => n,
            Item::Group(g) => self.groups[g].first,
        }
    }

    /// Replaces `g`'s children with runs of at most `max` consecutive children, repeatedly,
    /// until `g` itself has at most `max`.
    fn split(&mut self, g: GroupId, max: usize) {
        while self.groups[g].children.len() > max {
            let children = std::mem::take(&mut self.groups[g].children);
            let mut runs = Vec::new();
            for chunk in children.chunks(max) {
                let id = self.groups.len();
                let nodes: usize = chunk.iter().map(|&c| self.size(c)).sum();
                let first = chunk.iter().map(|&c| self.first(c)).min().unwrap_or(0);
                let last_node = chunk.iter().map(|&c| self.last(c)).max().unwrap_or(first);
                let path = format!(
                    "{}#{}-{}",
                    self.groups[g].path.trim_end_matches('/'),
                    first + 1,
                    last_node + 1
                );
                self.groups.push(Group {
                    name: format!("nodes {}–{}", first + 1, last_node + 1),
                    path,
                    parent: Some(g),
                    children: chunk.to_vec(),
                    nodes,
                    first,
                    run: true,
                });
                for &c in chunk {
                    match c {
                        Item::Node(n) => self.parent_of[n] = id,
                        Item::Group(child) => self.groups[child].parent = Some(id),
                    }
                }
                runs.push(Item::Group(id));
            }
            self.groups[g].children = runs;
        }
    }

    fn size(&self, item: Item) -> usize {
        match item {
            Item::Node(_) => 1,
            Item::Group(g) => self.groups[g].nodes,
        }
    }

    /// The largest node index below an item.
    fn last(&self, item: Item) -> NodeId {
        match item {
            Item::Node(n) => n,
            Item::Group(g) => self.groups[g]
                .children
                .iter()
                .map(|&c| self.last(c))
                .max()
                .unwrap_or(self.groups[g].first),
        }
    }

    /// The group of a scope path (`/encoder/layer.1`).
    pub fn group(&self, path: &str) -> Option<GroupId> {
        self.groups.iter().position(|g| g.path == path)
    }

    /// The groups containing a node, outermost first (the root excluded).
    pub fn ancestors(&self, node: NodeId) -> Vec<GroupId> {
        let mut chain = Vec::new();
        let mut g = Some(self.parent_of[node]);
        while let Some(id) = g.filter(|&id| id != ROOT) {
            chain.push(id);
            g = self.groups[id].parent;
        }
        chain.reverse();
        chain
    }

    /// Every node below a group.
    pub fn nodes_below(&self, g: GroupId) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(self.groups[g].nodes);
        let mut stack = vec![g];
        while let Some(id) = stack.pop() {
            for &c in &self.groups[id].children {
                match c {
                    Item::Node(n) => out.push(n),
                    Item::Group(child) => stack.push(child),
                }
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node(name: &str) -> GraphNode {
        GraphNode {
            name: name.into(),
            op_type: name.rsplit('/').next().unwrap_or(name).into(),
            domain: String::new(),
            scope: assay_engine::model::graph::scope_of(name)
                .into_iter()
                .map(String::from)
                .collect(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn scopes_become_nested_groups_with_counts() {
        let nodes: Vec<GraphNode> = [
            "/embed/Gather",
            "/encoder/layer.0/attn/MatMul",
            "/encoder/layer.0/attn/Softmax",
            "/encoder/layer.0/mlp/Gemm",
            "/encoder/layer.1/attn/MatMul",
            "logits",
        ]
        .iter()
        .map(|n| node(n))
        .collect();
        let h = Hierarchy::build(&nodes, 100);
        let root = &h.groups[ROOT];
        assert_eq!(root.nodes, 6);
        // embed, encoder, and the unscoped node, in order of their first node.
        assert_eq!(root.children.len(), 3);
        assert_eq!(root.children[2], Item::Node(5));
        let encoder = match root.children[1] {
            Item::Group(g) => &h.groups[g],
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (encoder.path.as_str(), encoder.nodes, encoder.first),
            ("/encoder", 4, 1)
        );
        let chain: Vec<&str> = h
            .ancestors(2)
            .iter()
            .map(|&g| h.groups[g].path.as_str())
            .collect();
        assert_eq!(
            chain,
            ["/encoder", "/encoder/layer.0", "/encoder/layer.0/attn"]
        );
        assert_eq!(h.nodes_below(h.parent_of[1]).len(), 2);
    }

    #[test]
    fn crowded_levels_are_split_into_runs_of_consecutive_nodes() {
        let nodes: Vec<GraphNode> = (0..2500).map(|i| node(&format!("n{i}"))).collect();
        let h = Hierarchy::build(&nodes, 100);
        // 2,500 nodes in runs of 100 are 25 runs: within the limit.
        assert_eq!(h.groups[ROOT].children.len(), 25);
        for g in &h.groups {
            assert!(
                g.children.len() <= 100,
                "{} has {}",
                g.path,
                g.children.len()
            );
        }
        let first_run = match h.groups[ROOT].children[0] {
            Item::Group(g) => &h.groups[g],
            other => panic!("{other:?}"),
        };
        assert_eq!(first_run.name, "nodes 1–100");
        assert!(first_run.run);
        assert_eq!(h.ancestors(150).len(), 1);
        // 250,000 would be 2,500 runs: runs of runs.
        let nodes: Vec<GraphNode> = (0..25_000).map(|i| node(&format!("n{i}"))).collect();
        let h = Hierarchy::build(&nodes, 100);
        assert!(h.groups.iter().all(|g| g.children.len() <= 100));
        assert_eq!(h.groups[ROOT].nodes, 25_000);
    }
}
