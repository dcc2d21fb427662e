//! A layered ("Sugiyama") layout of one group's boxes: layers by longest path in topological
//! order, an order within each layer by barycenter sweeps (few crossings), then coordinates
//! that stack each layer's boxes with gaps, so no two boxes overlap.
//!
//! Edges that point back in topological order (two collapsed groups feeding each other) are
//! laid out as if reversed, so every layout is of a DAG. The graph view lays out one group at
//! a time, which bounds the work of any one layout by the hierarchy's `max_items`.

use egui::{Pos2, Rect, Vec2, pos2, vec2};

/// Which way data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    LeftToRight,
    TopDown,
}

/// Gaps between layers and between boxes in a layer.
pub const LAYER_GAP: f32 = 56.0;
pub const BOX_GAP: f32 = 16.0;

/// Where each box goes (top-left corners, from 0,0) and the size of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub rects: Vec<Rect>,
    pub size: Vec2,
    /// Each box's layer.
    pub layers: Vec<usize>,
}

/// Lays out boxes of `sizes`, whose places in topological order are `order` (smaller first),
/// joined by `edges` (from, to).
pub fn layered(
    sizes: &[Vec2],
    order: &[usize],
    edges: &[(usize, usize)],
    dir: Direction,
) -> Layout {
    let n = sizes.len();
    if n == 0 {
        return Layout {
            rects: Vec::new(),
            size: Vec2::ZERO,
            layers: Vec::new(),
        };
    }
    // Work left to right; a top-down layout is the same with the axes swapped.
    let along = |s: Vec2| {
        if dir == Direction::LeftToRight {
            s
        } else {
            vec2(s.y, s.x)
        }
    };
    let sizes: Vec<Vec2> = sizes.iter().map(|&s| along(s)).collect();

    // Forward edges only (back edges reversed), without self-loops or repeats.
    let mut fwd: Vec<(usize, usize)> = edges
        .iter()
        .filter(|(a, b)| a != b)
        .map(|&(a, b)| {
            if (order[a], a) < (order[b], b) {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect();
    fwd.sort_unstable();
    fwd.dedup();
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for &(a, b) in &fwd {
        preds[b].push(a);
        succs[a].push(b);
    }

    // Layers: the longest path from a source, visiting boxes in topological order.
    let mut by_order: Vec<usize> = (0..n).collect();
    by_order.sort_by_key(|&i| (order[i], i));
    let mut layer = vec![0usize; n];
    for &v in &by_order {
        layer[v] = preds[v].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    let depth = layer.iter().max().map_or(0, |m| m + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for &v in &by_order {
        layers[layer[v]].push(v);
    }

    // Order within layers: barycenters of the neighbours' positions, down then up.
    let mut pos = vec![0.0f32; n];
    let index = |layers: &Vec<Vec<usize>>, pos: &mut Vec<f32>| {
        for l in layers {
            for (k, &v) in l.iter().enumerate() {
                pos[v] = k as f32 / l.len().max(1) as f32;
            }
        }
    };
    index(&layers, &mut pos);
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let range: Vec<usize> = if down {
            (1..depth).collect()
        } else {
            (0..depth.saturating_sub(1)).rev().collect()
        };
        for li in range {
            let neighbours = if down { &preds } else { &succs };
            let mut keyed: Vec<(f32, usize)> = layers[li]
                .iter()
                .map(|&v| {
                    let ns = &neighbours[v];
                    let key = if ns.is_empty() {
                        pos[v]
                    } else {
                        ns.iter().map(|&u| pos[u]).sum::<f32>() / ns.len() as f32
                    };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(order[a.1].cmp(&order[b.1])));
            layers[li] = keyed.into_iter().map(|(_, v)| v).collect();
            for (k, &v) in layers[li].iter().enumerate() {
                pos[v] = k as f32 / layers[li].len().max(1) as f32;
            }
        }
    }

    // Coordinates: layers side by side, each stacked and centred on the tallest.
    let widths: Vec<f32> = layers
        .iter()
        .map(|l| l.iter().map(|&v| sizes[v].x).fold(0.0, f32::max))
        .collect();
    let heights: Vec<f32> = layers
        .iter()
        .map(|l| {
            l.iter().map(|&v| sizes[v].y).sum::<f32>() + BOX_GAP * l.len().saturating_sub(1) as f32
        })
        .collect();
    let tallest = heights.iter().copied().fold(0.0, f32::max);
    let mut rects = vec![Rect::NOTHING; n];
    let mut x = 0.0;
    for (li, l) in layers.iter().enumerate() {
        let mut y = (tallest - heights[li]) / 2.0;
        for &v in l {
            let s = sizes[v];
            // Centred in the layer's column.
            let min = pos2(x + (widths[li] - s.x) / 2.0, y);
            rects[v] = Rect::from_min_size(min, s);
            y += s.y + BOX_GAP;
        }
        x += widths[li] + LAYER_GAP;
    }
    let size = vec2((x - LAYER_GAP).max(0.0), tallest);
    let (rects, size) = if dir == Direction::LeftToRight {
        (rects, size)
    } else {
        let swap = |p: Pos2| pos2(p.y, p.x);
        (
            rects
                .into_iter()
                .map(|r| Rect::from_min_max(swap(r.min), swap(r.max)))
                .collect(),
            vec2(size.y, size.x),
        )
    };
    Layout {
        rects,
        size,
        layers: layer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(rects: &[Rect]) -> Option<(usize, usize)> {
        for i in 0..rects.len() {
            for j in i + 1..rects.len() {
                if rects[i].intersects(rects[j].shrink(0.01)) {
                    return Some((i, j));
                }
            }
        }
        None
    }

    /// A seeded, transformer-like DAG: a chain with skip connections and fan-outs.
    fn dag(n: usize) -> (Vec<Vec2>, Vec<usize>, Vec<(usize, usize)>) {
        let mut state = 7u64;
        let mut rnd = |m: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % m
        };
        let sizes = (0..n)
            .map(|i| vec2(60.0 + (i % 5) as f32 * 20.0, 30.0 + (i % 3) as f32 * 8.0))
            .collect();
        let mut edges = Vec::new();
        for v in 1..n {
            edges.push((v - 1, v));
            if v > 4 && rnd(3) == 0 {
                edges.push((v - 2 - rnd(3), v));
            }
        }
        (sizes, (0..n).collect(), edges)
    }

    #[test]
    fn no_two_boxes_overlap_and_edges_point_forward() {
        for dir in [Direction::LeftToRight, Direction::TopDown] {
            let (sizes, order, edges) = dag(300);
            let l = layered(&sizes, &order, &edges, dir);
            assert_eq!(overlaps(&l.rects), None, "{dir:?}");
            for &(a, b) in &edges {
                assert!(l.layers[a] < l.layers[b], "{a}->{b}");
                match dir {
                    Direction::LeftToRight => {
                        assert!(l.rects[a].max.x < l.rects[b].min.x, "{a}->{b}")
                    }
                    Direction::TopDown => assert!(l.rects[a].max.y < l.rects[b].min.y, "{a}->{b}"),
                }
            }
            for (r, s) in l.rects.iter().zip(&sizes) {
                assert_eq!(r.size(), *s);
                assert!(r.max.x <= l.size.x + 0.01 && r.max.y <= l.size.y + 0.01);
            }
        }
    }

    #[test]
    fn back_edges_and_cycles_still_lay_out() {
        let sizes = vec![vec2(40.0, 20.0); 3];
        // 0 -> 1 -> 2 -> 0: two collapsed groups feeding each other.
        let l = layered(
            &sizes,
            &[0, 1, 2],
            &[(0, 1), (1, 2), (2, 0), (1, 1)],
            Direction::LeftToRight,
        );
        assert_eq!(overlaps(&l.rects), None);
        assert_eq!(l.layers, [0, 1, 2]);
    }

    #[test]
    fn barycenters_undo_a_crossing() {
        // 0 -> 3 and 1 -> 2: in topological order the second layer would be 2 above 3, and
        // the two edges would cross.
        let sizes = vec![vec2(40.0, 20.0); 4];
        let l = layered(
            &sizes,
            &[0, 1, 2, 3],
            &[(0, 3), (1, 2)],
            Direction::LeftToRight,
        );
        assert!(l.rects[0].min.y < l.rects[1].min.y);
        assert!(l.rects[3].min.y < l.rects[2].min.y, "{:?}", l.rects);
    }
}
