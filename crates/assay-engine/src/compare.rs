//! A/B comparison of two benchmark runs, row by row, with confidence intervals.
//!
//! Rows are matched by (provider, batch, concurrency). For p50 and p99 the change B − A is
//! estimated with a two-sample bootstrap: each run's percentile is resampled independently
//! and the 2.5th–97.5th percentiles of the differences form the 95% interval. Resampling
//! an order statistic does not need the samples to be redrawn: the `k`-th smallest of `n`
//! values drawn with replacement from the sorted data is `x[floor(n·U)]` with
//! `U ~ Beta(k, n − k + 1)` (the `k`-th order statistic of `n` uniforms), so each bootstrap
//! replicate costs O(1) whatever the sample count. The percentile is the nearest-rank order
//! statistic `k = ceil(p·n)`, which is the type-7 value up to one rank.
//!
//! **Verdict** (on p50): *slower* when the whole interval is above zero, *faster* when it
//! is below, otherwise *no significant difference*. `fail_if_slower(pct)` breaches only when
//! the interval's lower bound exceeds `pct` percent: significant and larger than allowed.

use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Beta, Distribution};
use serde::Serialize;

use crate::{
    bench::{BenchReport, BenchResult},
    error::{EngineError, Result},
};

/// Bootstrap replicates per interval.
pub const REPLICATES: usize = 4000;

/// The outcome of a comparison.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Comparison {
    pub schema: &'static str,
    pub a: RunRef,
    pub b: RunRef,
    pub rows: Vec<RowComparison>,
    /// Rows of A or B with no partner, as `provider/batch/concurrency`.
    pub unmatched: Vec<String>,
    pub warnings: Vec<String>,
}

/// Which run a side is.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RunRef {
    pub id: String,
    pub model_sha256: String,
    pub model_path: String,
}

/// One matched row.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RowComparison {
    pub provider: String,
    pub batch: i64,
    pub concurrency: usize,
    pub samples: [usize; 2],
    pub p50: Change,
    pub p99: Change,
    pub verdict: Verdict,
}

/// A percentile in A and B, and the change with its 95% interval.
#[derive(Debug, Clone, Copy, Serialize, ts_rs::TS)]
#[ts(export, rename = "PercentileChange")]
pub struct Change {
    pub a_ms: f64,
    pub b_ms: f64,
    pub delta_ms: f64,
    /// (B − A) / A, in percent.
    pub delta_pct: f64,
    /// 95% interval of the change, in percent of A.
    pub ci95_pct: [f64; 2],
}

/// Faster, slower, or not distinguishable at 95%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export, rename = "ChangeVerdict")]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    NoSignificantDifference,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoSignificantDifference => "no significant difference",
        })
    }
}

impl Comparison {
    /// Rows whose p50 is significantly slower by more than `pct` percent.
    pub fn breaches(&self, pct: f64) -> Vec<&RowComparison> {
        self.rows
            .iter()
            .filter(|r| r.p50.ci95_pct[0] > pct)
            .collect()
    }
}

/// Compares run B against run A. Samples must be present in every row.
pub fn compare(a_id: &str, a: &BenchReport, b_id: &str, b: &BenchReport) -> Result<Comparison> {
    // An in-process benchmark against a served load run: rows pair by batch and
    // concurrency, whatever ran them (`cpu` against `grpc`). Open-loop rows pair by rate.
    let across = a.served.is_some() != b.served.is_some();
    let key = |r: &BenchResult| {
        (
            if across {
                String::new()
            } else {
                r.provider.clone()
            },
            r.batch,
            r.concurrency,
            r.load
                .as_ref()
                .and_then(|l| l.offered_per_s)
                .map_or(0, f64::to_bits),
        )
    };
    let mut warnings = Vec::new();
    if across {
        let (local, served) = if a.served.is_some() {
            (b_id, a_id)
        } else {
            (a_id, b_id)
        };
        warnings.push(format!(
            "{local} ran the model in process and {served} through a server: the difference is what serving costs (the protocol, the network stack, the server's queueing and batching)"
        ));
    }
    if a.model.sha256 != b.model.sha256 {
        warnings.push(format!(
            "the runs measured different models ({} in {a_id}, {} in {b_id}); the comparison shows the difference between the models",
            a.model.path.display(),
            b.model.path.display()
        ));
    }
    if a.environment.cpu_model != b.environment.cpu_model
        || (!across && a.environment.ort_version != b.environment.ort_version)
    {
        warnings.push(format!(
            "the environments differ ({} / ONNX Runtime {} vs {} / ONNX Runtime {})",
            a.environment.cpu_model,
            a.environment.ort_version,
            b.environment.cpu_model,
            b.environment.ort_version
        ));
    }
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for (i, ra) in a.results.iter().enumerate() {
        match b.results.iter().find(|rb| key(rb) == key(ra)) {
            Some(rb) => rows.push(compare_rows(ra, rb, i as u64)?),
            None => unmatched.push(format!(
                "{}/{}/{} (only in {a_id})",
                ra.provider, ra.batch, ra.concurrency
            )),
        }
    }
    for rb in &b.results {
        if !a.results.iter().any(|ra| key(ra) == key(rb)) {
            unmatched.push(format!(
                "{}/{}/{} (only in {b_id})",
                rb.provider, rb.batch, rb.concurrency
            ));
        }
    }
    if rows.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Compare,
            format!(
                "runs {a_id} and {b_id} have no (provider, batch, concurrency) row in common: {}",
                unmatched.join(", ")
            ),
        ));
    }
    let side = |id: &str, r: &BenchReport| RunRef {
        id: id.to_string(),
        model_sha256: r.model.sha256.clone(),
        model_path: r.model.path.display().to_string(),
    };
    Ok(Comparison {
        schema: "assay.compare/1",
        a: side(a_id, a),
        b: side(b_id, b),
        rows,
        unmatched,
        warnings,
    })
}

fn compare_rows(a: &BenchResult, b: &BenchResult, seed: u64) -> Result<RowComparison> {
    if a.samples_ns.is_empty() || b.samples_ns.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Compare,
            format!(
                "row {}/{}/{} has no stored samples",
                a.provider, a.batch, a.concurrency
            ),
        ));
    }
    let sorted = |s: &[u64]| {
        let mut v: Vec<f64> = s.iter().map(|&x| x as f64 / 1e6).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let (sa, sb) = (sorted(&a.samples_ns), sorted(&b.samples_ns));
    let p50 = change(&sa, &sb, 0.5, seed);
    let p99 = change(&sa, &sb, 0.99, seed ^ 0x99);
    let verdict = if p50.ci95_pct[0] > 0.0 {
        Verdict::Slower
    } else if p50.ci95_pct[1] < 0.0 {
        Verdict::Faster
    } else {
        Verdict::NoSignificantDifference
    };
    Ok(RowComparison {
        provider: if a.provider == b.provider {
            a.provider.clone()
        } else {
            format!("{} vs {}", a.provider, b.provider)
        },
        batch: a.batch,
        concurrency: a.concurrency,
        samples: [sa.len(), sb.len()],
        p50,
        p99,
        verdict,
    })
}

/// The nearest-rank `p`-quantile of sorted data.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

/// Draws bootstrap replicates of the nearest-rank `p`-quantile of sorted data.
fn replicates(sorted: &[f64], p: f64, rng: &mut StdRng) -> Vec<f64> {
    let n = sorted.len();
    let k = ((p * n as f64).ceil() as usize).clamp(1, n);
    if n == 1 {
        return vec![sorted[0]; REPLICATES];
    }
    let beta =
        Beta::new(k as f64, (n - k + 1) as f64).expect("k in 1..=n gives valid Beta parameters");
    (0..REPLICATES)
        .map(|_| sorted[((beta.sample(rng) * n as f64) as usize).min(n - 1)])
        .collect()
}

/// Bootstrap interval of (B − A) / A for the `p`-quantile.
pub fn change(a_sorted: &[f64], b_sorted: &[f64], p: f64, seed: u64) -> Change {
    let mut rng = StdRng::seed_from_u64(seed);
    let (qa, qb) = (nearest_rank(a_sorted, p), nearest_rank(b_sorted, p));
    let ra = replicates(a_sorted, p, &mut rng);
    let rb = replicates(b_sorted, p, &mut rng);
    let mut rel: Vec<f64> = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| if *x > 0.0 { (y - x) / x * 100.0 } else { 0.0 })
        .collect();
    rel.sort_unstable_by(f64::total_cmp);
    let ci = [
        crate::stats::quantile_sorted(&rel, 0.025),
        crate::stats::quantile_sorted(&rel, 0.975),
    ];
    Change {
        a_ms: qa,
        b_ms: qb,
        delta_ms: qb - qa,
        delta_pct: if qa > 0.0 {
            (qb - qa) / qa * 100.0
        } else {
            0.0
        },
        ci95_pct: ci,
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    /// Lognormal-ish latencies around `median` ms, like real inference times.
    fn latencies(n: usize, median: f64, seed: u64) -> Vec<f64> {
        let mut r = StdRng::seed_from_u64(seed);
        let mut v: Vec<f64> = (0..n)
            .map(|_| {
                // Sum of uniforms ≈ normal; exponentiate for a right tail.
                let z: f64 = (0..12).map(|_| r.random::<f64>()).sum::<f64>() - 6.0;
                median * (0.05 * z).exp()
            })
            .collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    }

    #[test]
    fn a_five_percent_shift_is_detected() {
        let mut detected = 0;
        for t in 0..20 {
            let a = latencies(2000, 1.0, 1000 + t);
            let b = latencies(2000, 1.05, 2000 + t);
            let c = change(&a, &b, 0.5, t);
            if c.ci95_pct[0] > 0.0 {
                detected += 1;
            }
            assert!((c.delta_pct - 5.0).abs() < 2.0, "{c:?}");
        }
        assert!(
            detected >= 19,
            "a 5% slowdown was detected in only {detected}/20 trials"
        );
    }

    #[test]
    fn no_shift_is_flagged_about_as_often_as_the_level_allows() {
        // 400 A/A comparisons: at 95% about 20 false alarms are expected. The binomial
        // 99.9% band for 400 trials at p = 0.05 is about 7..=36.
        let trials = 400;
        let false_alarms = (0..trials)
            .filter(|&t| {
                let a = latencies(1000, 1.0, 10_000 + t);
                let b = latencies(1000, 1.0, 20_000 + t);
                let c = change(&a, &b, 0.5, t);
                c.ci95_pct[0] > 0.0 || c.ci95_pct[1] < 0.0
            })
            .count();
        assert!(
            false_alarms <= 36,
            "{false_alarms} false alarms in {trials} trials"
        );
        assert!(
            false_alarms >= 4,
            "{false_alarms} false alarms in {trials}: the interval is too wide to be a 95% interval"
        );
    }

    #[test]
    fn nearest_rank_definition() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&x, 0.5), 2.0);
        assert_eq!(nearest_rank(&x, 0.99), 4.0);
        assert_eq!(nearest_rank(&x, 0.0), 1.0);
    }
}
