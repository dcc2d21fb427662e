//! Latency statistics from every sample: no histogram binning touches a reported figure.
//!
//! **Percentile definition.** Hyndman & Fan type 7, the default of NumPy and R: with the
//! `n` samples sorted ascending as `x[0..n]`, the `p`-quantile is at fractional rank
//! `h = (n - 1) * p`, linearly interpolated between `x[floor(h)]` and `x[floor(h) + 1]`.
//!
//! **Support rule.** A percentile `p` is *supported* only when at least
//! [`MIN_TAIL_SAMPLES`] samples lie beyond it, i.e. `n * (1 - p) >= 10`: p99 needs 1,000
//! samples, p99.9 needs 10,000. An unsupported percentile is still computed but listed in
//! [`LatencySummary::unsupported`], and front ends mark it instead of printing it as fact.
//!
//! **Confidence intervals.** Percentile bootstrap: resample the samples with replacement
//! `B` = 2,000 times, take the percentile of each resample, and report the 2.5th and 97.5th
//! percentiles of those `B` values. A resample is never drawn element by element: drawing
//! `n` indices uniformly is drawing `floor(n·U)` for `n` uniforms `U`, so the resample's
//! `k`-th order statistic is the sample at `floor(n·U₍ₖ₎)`, and `U₍ₖ₎ ~ Beta(k, n − k + 1)`
//! (the next one, for interpolation, is `U₍ₖ₎ + (1 − U₍ₖ₎)·Beta(1, n − k)`). That is the
//! same distribution as resampling, at two draws per replicate instead of `n`: the
//! intervals of a 10⁶-sample run cost milliseconds, not seconds of the load generator's
//! CPU. The generator is seeded, so the same samples give the same interval.

use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

/// Samples that must lie beyond a percentile before it is reported as fact.
pub const MIN_TAIL_SAMPLES: f64 = 10.0;

/// Order statistics and moments of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct LatencyStats {
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    /// Coefficient of variation: stddev / mean.
    pub cv: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// 95% bootstrap confidence intervals, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct ConfidenceIntervals {
    pub p50: [f64; 2],
    pub p99: [f64; 2],
    /// Present only when p99.9 is supported by the sample count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p999: Option<[f64; 2]>,
}

/// [`LatencyStats`] plus their intervals and the percentiles the sample count cannot support.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencySummary {
    pub samples: usize,
    pub latency_ms: LatencyStats,
    pub ci95_ms: ConfidenceIntervals,
    /// Names (`p99`, `p999`, ...) of percentiles with fewer than 10 samples beyond them.
    pub unsupported: Vec<&'static str>,
}

/// The reported percentiles, by name.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
];

/// True when `n` samples support the `p`-quantile (see the module docs).
pub fn supports(n: usize, p: f64) -> bool {
    // A small epsilon keeps exact boundaries (n = 1000 for p99) on the supported side.
    n as f64 * (1.0 - p) >= MIN_TAIL_SAMPLES - 1e-9
}

/// Type-7 quantile of already sorted data.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of no samples");
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Summarizes latency samples given in nanoseconds. Returns `None` for no samples.
pub fn summarize_ns(samples_ns: &[u64]) -> Option<LatencySummary> {
    let ms: Vec<f64> = samples_ns.iter().map(|&ns| ns as f64 / 1e6).collect();
    summarize(ms)
}

/// Summarizes samples in milliseconds (consumed, because they are sorted in place).
pub fn summarize(mut ms: Vec<f64>) -> Option<LatencySummary> {
    if ms.is_empty() {
        return None;
    }
    ms.sort_unstable_by(f64::total_cmp);
    let n = ms.len();
    let mean = ms.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        ms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let stddev = var.sqrt();
    let q = |p| quantile_sorted(&ms, p);
    let latency_ms = LatencyStats {
        min: ms[0],
        mean,
        stddev,
        cv: if mean > 0.0 { stddev / mean } else { 0.0 },
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        max: ms[n - 1],
    };
    let want_p999 = supports(n, 0.999);
    let probs: &[f64] = if want_p999 {
        &[0.50, 0.99, 0.999]
    } else {
        &[0.50, 0.99]
    };
    let cis = bootstrap_quantile_cis(&ms, probs, 0.95, 0x5eed_a55a);
    let ci95_ms = ConfidenceIntervals {
        p50: cis[0],
        p99: cis[1],
        p999: want_p999.then(|| cis[2]),
    };
    let unsupported = PERCENTILES
        .iter()
        .filter(|(_, p)| !supports(n, *p))
        .map(|(name, _)| *name)
        .collect();
    Some(LatencySummary {
        samples: n,
        latency_ms,
        ci95_ms,
        unsupported,
    })
}

/// Bootstrap resamples per interval (see the module docs).
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// Percentile-bootstrap intervals at `level` for several quantiles of sorted data at once.
pub fn bootstrap_quantile_cis(
    sorted: &[f64],
    probs: &[f64],
    level: f64,
    seed: u64,
) -> Vec<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(seed);
    let alpha = (1.0 - level) / 2.0;
    probs
        .iter()
        .map(|&p| {
            let mut e = quantile_replicates(sorted, p, BOOTSTRAP_RESAMPLES, &mut rng);
            e.sort_unstable_by(f64::total_cmp);
            [quantile_sorted(&e, alpha), quantile_sorted(&e, 1.0 - alpha)]
        })
        .collect()
}

/// `b` bootstrap replicates of the type-7 `p`-quantile of sorted data, each drawn from the
/// resample's order statistics directly (module docs), so the cost does not grow with the
/// number of samples.
fn quantile_replicates(sorted: &[f64], p: f64, b: usize, rng: &mut StdRng) -> Vec<f64> {
    let n = sorted.len();
    if n == 1 {
        return vec![sorted[0]; b];
    }
    let at = |u: f64| sorted[((u * n as f64) as usize).min(n - 1)];
    // The value at 0-based rank r, plus frac of the step to rank r + 1.
    let h = (n - 1) as f64 * p;
    let (r, frac) = (h.floor() as usize, h - h.floor());
    let kth = Beta::new((r + 1) as f64, (n - r) as f64)
        .expect("a rank inside the sample gives valid Beta parameters");
    let next = (frac > 0.0 && r + 1 < n).then(|| {
        Beta::new(1.0, (n - r - 1) as f64)
            .expect("a rank below the last gives valid Beta parameters")
    });
    (0..b)
        .map(|_| {
            let u = kth.sample(rng);
            let lo = at(u);
            match &next {
                Some(gap) => lo + frac * (at(u + (1.0 - u) * gap.sample(rng)) - lo),
                None => lo,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn uniform(n: usize, seed: u64) -> Vec<f64> {
        let mut r = StdRng::seed_from_u64(seed);
        (0..n).map(|_| r.random::<f64>()).collect()
    }

    fn exponential(n: usize, seed: u64) -> Vec<f64> {
        let mut r = StdRng::seed_from_u64(seed);
        (0..n).map(|_| -(1.0 - r.random::<f64>()).ln()).collect()
    }

    #[test]
    fn type7_matches_numpy_on_small_arrays() {
        // numpy.percentile([1, 2, 3, 4], [50, 90]) == [2.5, 3.7]
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile_sorted(&x, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile_sorted(&x, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn uniform_percentiles_and_moments() {
        let s = summarize(uniform(200_000, 1)).unwrap();
        let l = s.latency_ms;
        assert!((l.p50 - 0.5).abs() < 0.01, "{l:?}");
        assert!((l.p99 - 0.99).abs() < 0.002, "{l:?}");
        assert!((l.mean - 0.5).abs() < 0.01);
        // stddev of U(0,1) is 1/sqrt(12)
        assert!((l.stddev - (1.0f64 / 12.0).sqrt()).abs() < 0.005);
        assert!(s.unsupported.is_empty());
    }

    #[test]
    fn exponential_tail_percentiles() {
        // Exp(1): the p-quantile is -ln(1-p).
        let s = summarize(exponential(400_000, 2)).unwrap();
        for (name, p, got) in [
            ("p50", 0.5, s.latency_ms.p50),
            ("p99", 0.99, s.latency_ms.p99),
            ("p999", 0.999, s.latency_ms.p999),
        ] {
            let want = -(1.0f64 - p).ln();
            assert!(
                (got - want).abs() / want < 0.05,
                "{name}: got {got}, want {want}"
            );
        }
        let ci = s.ci95_ms.p999.expect("400k samples support p99.9");
        assert!(
            ci[0] < -(0.001f64).ln() && -(0.001f64).ln() < ci[1],
            "{ci:?}"
        );
    }

    #[test]
    fn small_samples_flag_the_tail() {
        let s = summarize(uniform(500, 3)).unwrap();
        assert_eq!(s.unsupported, vec!["p99", "p999"]);
        assert!(s.ci95_ms.p999.is_none());
        assert!(supports(1000, 0.99) && !supports(999, 0.99));
        assert!(supports(10_000, 0.999) && !supports(9_999, 0.999));
    }

    #[test]
    fn median_interval_covers_the_truth_at_about_the_stated_rate() {
        // 200 independent experiments of 1,000 U(0,1) samples: a 95% interval for the
        // median (0.5) should miss about 10 times. Allow 2..=22 (binomial 99.9% band).
        let trials = 200;
        let misses = (0..trials)
            .filter(|&t| {
                let mut x = uniform(1000, 100 + t);
                x.sort_unstable_by(f64::total_cmp);
                let ci = bootstrap_quantile_cis(&x, &[0.5], 0.95, t);
                !(ci[0][0] <= 0.5 && 0.5 <= ci[0][1])
            })
            .count();
        assert!(
            (2..=22).contains(&misses),
            "{misses} misses out of {trials}"
        );
    }

    #[test]
    fn intervals_shrink_with_more_samples() {
        let width = |n| {
            let mut x = exponential(n, 9);
            x.sort_unstable_by(f64::total_cmp);
            let ci = bootstrap_quantile_cis(&x, &[0.99], 0.95, 1);
            ci[0][1] - ci[0][0]
        };
        assert!(width(40_000) < width(4_000));
    }

    #[test]
    fn order_statistic_draws_match_resampling_element_by_element() {
        // Nine distinct values, where one rank off moves the mean by a whole step: the
        // replicates' mean and spread must match a brute-force bootstrap's, for a rank on
        // a sample (p = 0.5) and one between two (p = 0.3, type-7 interpolation).
        let x: Vec<f64> = (0..9).map(|i| (i * i) as f64).collect();
        let b = 200_000;
        let moments = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|y| (y - m).powi(2)).sum::<f64>() / v.len() as f64;
            (m, var.sqrt())
        };
        for p in [0.5, 0.3] {
            let mut rng = StdRng::seed_from_u64(7);
            let fast = moments(&quantile_replicates(&x, p, b, &mut rng));
            let brute: Vec<f64> = (0..b)
                .map(|_| {
                    let mut s: Vec<f64> = (0..9).map(|_| x[rng.random_range(0..9)]).collect();
                    s.sort_unstable_by(f64::total_cmp);
                    quantile_sorted(&s, p)
                })
                .collect();
            let slow = moments(&brute);
            assert!(
                (fast.0 - slow.0).abs() < 0.15 && (fast.1 - slow.1).abs() < 0.15,
                "p={p}: order statistics give mean {:.3} sd {:.3}, resampling {:.3} sd {:.3}",
                fast.0,
                fast.1,
                slow.0,
                slow.1
            );
        }
    }

    #[test]
    fn empty_input_has_no_summary() {
        assert!(summarize(vec![]).is_none());
    }
}
