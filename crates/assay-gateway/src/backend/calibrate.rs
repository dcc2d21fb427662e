//! How many rows a merged batch should hold, measured when a version loads.
//!
//! Batching pays only while one execution of N rows costs less than N executions of one. For
//! the MLP fixture the cost per row falls about twentyfold from 1 row to 64; for a conv net of
//! 2 ms an image it does not fall at all (on two cores here a batch of 64 runs at 0.93× the
//! per-image speed of one image), and there a large batch only makes its requests wait for
//! each other: the last request to join a 32-image batch waits for 31 images it has nothing
//! to do with, and the p99 of a crowd of clients grows with the batch.
//!
//! So after the warm-up one session runs zero inputs at 1, 2, 4, … rows up to the model's
//! `max_batch_size`, within [`BUDGET`], and the batcher merges requests only up to the
//! smallest size whose cost per row is within [`WITHIN`] of the best size measured. When the
//! budget runs out while that size is the largest measured (every smaller one was clearly
//! dearer per row), nothing is capped: larger batches were still paying. Being the fastest by
//! a hair is not enough for that: on a slow machine a conv net measured 4,532 µs an image at
//! 1 row and 4,503 at 32 when the budget ran out, which is noise, not a gain. A request that
//! is itself larger than the cap still runs, alone; `max_batch_size` is what a request may
//! carry.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use serde::Serialize;

use super::{
    WarmFailure,
    onnx::{run_once, warm_inputs},
};
use crate::model::IoSpec;

/// Wall time the measurement may take, per version load. A hot swap pays it before the new
/// version takes traffic, so it stays short; a model too slow to run a few large batches in
/// it keeps its configured maximum.
pub const BUDGET: Duration = Duration::from_millis(800);

/// How close to the best cost per row a smaller batch must come to be preferred (5%).
pub const WITHIN: f64 = 1.05;

/// Timed runs per size, after one untimed run (a new shape allocates its buffers). The
/// fastest of them counts: noise only ever adds time.
const RUNS: usize = 2;

/// What the measurement found.
#[derive(Debug, Clone, Serialize)]
pub struct BatchCalibration {
    /// The most rows the batcher merges into one execution.
    pub cap: usize,
    /// The fastest time per row at each size measured, in microseconds.
    pub per_row_us: BTreeMap<usize, f64>,
    /// Whether the budget ran out before `max_batch_size` was measured.
    pub cut_short: bool,
}

/// Measures `session` at growing batch sizes; `shapes` are the warm-up shapes, whose first
/// dimension (the batch, dynamic on every input) is replaced by each size.
pub fn calibrate(
    session: &mut ort::session::Session,
    inputs: &[IoSpec],
    shapes: &[(String, Vec<i64>)],
    fills: &BTreeMap<String, f64>,
    max_rows: usize,
) -> Result<BatchCalibration, WarmFailure> {
    let started = Instant::now();
    let mut per_row_us = BTreeMap::new();
    let mut cut_short = false;
    for rows in sizes(max_rows) {
        if started.elapsed() >= BUDGET {
            cut_short = true;
            break;
        }
        let resized: Vec<(String, Vec<i64>)> = shapes
            .iter()
            .map(|(n, s)| {
                let mut s = s.clone();
                if let Some(d) = s.first_mut() {
                    *d = rows as i64;
                }
                (n.clone(), s)
            })
            .collect();
        let tensors = warm_inputs(inputs, &resized, fills);
        run_once(session, &tensors)?;
        let mut fastest = Duration::MAX;
        for _ in 0..RUNS {
            let t = Instant::now();
            run_once(session, &tensors)?;
            fastest = fastest.min(t.elapsed());
        }
        per_row_us.insert(rows, fastest.as_secs_f64() * 1e6 / rows as f64);
    }
    let cap = choose(&per_row_us, max_rows, cut_short);
    Ok(BatchCalibration {
        cap,
        per_row_us,
        cut_short,
    })
}

/// 1, 2, 4, … below `max_rows`, then `max_rows` itself.
fn sizes(max_rows: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n < max_rows)
        .collect();
    out.push(max_rows.max(1));
    out
}

/// The smallest size within [`WITHIN`] of the best cost per row; `max_rows` when that size is
/// the largest measured and the measurement stopped before `max_rows`.
fn choose(per_row_us: &BTreeMap<usize, f64>, max_rows: usize, cut_short: bool) -> usize {
    let Some((&best_rows, &best)) = per_row_us.iter().min_by(|a, b| a.1.total_cmp(b.1)) else {
        return max_rows;
    };
    let chosen = per_row_us
        .iter()
        .find(|(_, us)| **us <= best * WITHIN)
        .map_or(best_rows, |(&rows, _)| rows);
    if cut_short && per_row_us.keys().next_back() == Some(&chosen) {
        return max_rows;
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(v: &[(usize, f64)]) -> BTreeMap<usize, f64> {
        v.iter().copied().collect()
    }

    #[test]
    fn sizes_double_up_to_the_maximum() {
        assert_eq!(sizes(64), vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(sizes(48), vec![1, 2, 4, 8, 16, 32, 48]);
        assert_eq!(sizes(1), vec![1]);
    }

    #[test]
    fn a_model_that_gains_from_batches_keeps_them() {
        // The MLP: cost per row keeps falling; 32 is within 5% of 64.
        let mlp = costs(&[(1, 100.0), (2, 55.0), (8, 16.0), (32, 5.1), (64, 5.0)]);
        assert_eq!(choose(&mlp, 64, false), 32);
        let mlp = costs(&[(1, 100.0), (32, 6.0), (64, 5.0)]);
        assert_eq!(choose(&mlp, 64, false), 64);
    }

    #[test]
    fn a_model_that_gains_nothing_runs_requests_alone() {
        // The conv net: batch 64 is slower per image than batch 1.
        let conv = costs(&[(1, 1430.0), (2, 1440.0), (4, 1470.0), (64, 1540.0)]);
        assert_eq!(choose(&conv, 64, false), 1);
        // A small gain up to 4 rows, then none.
        let conv = costs(&[
            (1, 1500.0),
            (2, 1300.0),
            (4, 1200.0),
            (8, 1210.0),
            (64, 1300.0),
        ]);
        assert_eq!(choose(&conv, 64, false), 4);
    }

    #[test]
    fn a_measurement_cut_short_while_batches_still_pay_caps_nothing() {
        let slow = costs(&[(1, 9000.0), (2, 6000.0), (4, 4000.0)]);
        assert_eq!(choose(&slow, 64, true), 64);
        // Cut short, but the gain had already stopped.
        let slow = costs(&[(1, 9000.0), (2, 9100.0), (4, 9500.0)]);
        assert_eq!(choose(&slow, 64, true), 1);
        // Cut short with the largest size fastest by a hair (the conv net on a slow machine):
        // flat within noise, so requests run alone rather than in batches of 64.
        let flat = costs(&[
            (1, 4532.0),
            (2, 4527.9),
            (4, 4624.0),
            (8, 4645.2),
            (16, 4532.1),
            (32, 4502.9),
        ]);
        assert_eq!(choose(&flat, 64, true), 1);
        assert_eq!(choose(&BTreeMap::new(), 16, true), 16);
    }
}
