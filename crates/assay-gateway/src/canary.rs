//! Canary analysis: the candidate against the stable version over a sliding window of each
//! one's latest outcomes.
//!
//! - **Abort** when the candidate's error rate is significantly higher: a one-sided
//!   **Fisher exact test** on the 2×2 table of errors and successes (exact, so it stays
//!   honest at the small counts a fresh canary has), at level `alpha`.
//! - **Promote** (only when asked to, after N candidate requests) when the candidate is shown
//!   **non-inferior** on errors: the upper bound of the one-sided 1−`alpha` **Newcombe hybrid
//!   score interval** for (candidate − stable) error rate is below the margin, and a one-sided
//!   **Mann–Whitney U test** finds its latency not significantly worse.
//!
//! Latency is compared with the same Mann–Whitney test and reported with both medians.
//! The distributions come from `statrs` and the quantiles from the engine's statistics, so
//! the gateway and the benchmarks read a median the same way.

use std::{collections::VecDeque, sync::Mutex};

use assay_engine::stats::quantile_sorted;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, DiscreteCDF, Hypergeometric, Normal};

/// Which side of the split served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Stable,
    Candidate,
}

#[derive(Default)]
struct Window {
    outcomes: VecDeque<(bool, f32)>,
}

/// Both arms: which version each one is, and its latest outcomes.
#[derive(Default)]
struct Arms {
    stable_version: Option<String>,
    candidate_version: Option<String>,
    stable: Window,
    candidate: Window,
    /// Candidate requests since this canary started (the window forgets; this does not).
    candidate_total: u64,
}

/// Outcomes of both arms for one model.
pub struct Monitor {
    capacity: usize,
    arms: Mutex<Arms>,
}

/// One arm's window in numbers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArmStats {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// What the analysis concluded.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Verdict {
    /// Not enough evidence either way.
    Continue {
        reason: String,
    },
    Rollback {
        reason: String,
    },
    Promote {
        reason: String,
    },
}

/// The comparison, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub stable: ArmStats,
    pub candidate: ArmStats,
    /// One-sided Fisher exact p-value for "the candidate errs more".
    pub error_p_value: f64,
    /// Candidate requests since the canary started (what `auto_promote_after` counts).
    pub candidate_total: u64,
    /// Upper bound of the Newcombe interval for the error-rate difference.
    pub error_diff_upper: f64,
    /// One-sided Mann–Whitney p-value for "the candidate is slower".
    pub latency_p_value: f64,
    pub tests: &'static str,
    pub verdict: Verdict,
}

/// Analysis thresholds.
#[derive(Debug, Clone)]
pub struct Rules {
    pub min_requests: u64,
    pub alpha: f64,
    pub margin: f64,
    /// Promote after this many candidate requests when non-inferior (`None`: never auto-promote).
    pub promote_after: Option<u64>,
}

impl Monitor {
    pub fn new(capacity: usize) -> Monitor {
        Monitor {
            capacity,
            arms: Mutex::new(Default::default()),
        }
    }

    /// Follows the routing: an arm whose version changes starts again from nothing.
    pub fn route_to(&self, stable: Option<&str>, candidate: Option<&str>) {
        let mut g = self.arms.lock().unwrap_or_else(|p| p.into_inner());
        if g.stable_version.as_deref() != stable {
            g.stable_version = stable.map(String::from);
            g.stable = Window::default();
        }
        if g.candidate_version.as_deref() != candidate {
            g.candidate_version = candidate.map(String::from);
            g.candidate = Window::default();
            g.candidate_total = 0;
        }
    }

    /// Records one outcome of `version`; outcomes of a version the arm no longer routes to
    /// (requests that were queued across a swap) are dropped.
    pub fn record(&self, arm: Arm, version: &str, ok: bool, latency_ms: f64) {
        let mut g = self.arms.lock().unwrap_or_else(|p| p.into_inner());
        let current = match arm {
            Arm::Stable => g.stable_version.as_deref(),
            Arm::Candidate => g.candidate_version.as_deref(),
        };
        if current != Some(version) {
            return;
        }
        if arm == Arm::Candidate {
            g.candidate_total += 1;
        }
        let w = match arm {
            Arm::Stable => &mut g.stable,
            Arm::Candidate => &mut g.candidate,
        };
        if w.outcomes.len() == self.capacity {
            w.outcomes.pop_front();
        }
        w.outcomes.push_back((ok, latency_ms as f32));
    }

    pub fn analyze(&self, rules: &Rules) -> Analysis {
        let (s, c, total) = {
            let g = self.arms.lock().unwrap_or_else(|p| p.into_inner());
            (
                g.stable.outcomes.iter().copied().collect::<Vec<_>>(),
                g.candidate.outcomes.iter().copied().collect::<Vec<_>>(),
                g.candidate_total,
            )
        };
        analyze(&s, &c, total, rules)
    }
}

fn stats(o: &[(bool, f32)]) -> (ArmStats, Vec<f64>) {
    let errors = o.iter().filter(|(ok, _)| !ok).count() as u64;
    let mut lat: Vec<f64> = o
        .iter()
        .filter(|(ok, _)| *ok)
        .map(|(_, l)| *l as f64)
        .collect();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| (!lat.is_empty()).then(|| quantile_sorted(&lat, p));
    (
        ArmStats {
            requests: o.len() as u64,
            errors,
            error_rate: if o.is_empty() {
                0.0
            } else {
                errors as f64 / o.len() as f64
            },
            p50_ms: q(0.5),
            p99_ms: q(0.99),
        },
        lat,
    )
}

fn analyze(
    stable: &[(bool, f32)],
    candidate: &[(bool, f32)],
    candidate_total: u64,
    rules: &Rules,
) -> Analysis {
    let (s, s_lat) = stats(stable);
    let (c, c_lat) = stats(candidate);
    let error_p_value = fisher_greater(
        c.errors,
        c.requests - c.errors,
        s.errors,
        s.requests - s.errors,
    );
    let error_diff_upper = newcombe_upper(c.errors, c.requests, s.errors, s.requests, rules.alpha);
    let latency_p_value = mann_whitney_greater(&c_lat, &s_lat);
    let verdict = if c.requests < rules.min_requests || s.requests < rules.min_requests {
        Verdict::Continue {
            reason: format!(
                "waiting for {} requests on each side (stable {}, candidate {})",
                rules.min_requests, s.requests, c.requests
            ),
        }
    } else if error_p_value < rules.alpha && c.error_rate > s.error_rate {
        Verdict::Rollback {
            reason: format!(
                "candidate error rate {:.2}% vs stable {:.2}% over the last {} / {} requests (one-sided Fisher exact test p = {:.2e} < {})",
                c.error_rate * 100.0,
                s.error_rate * 100.0,
                c.requests,
                s.requests,
                error_p_value,
                rules.alpha
            ),
        }
    } else if let Some(n) = rules.promote_after.filter(|&n| candidate_total >= n) {
        if error_diff_upper < rules.margin && latency_p_value >= rules.alpha {
            Verdict::Promote {
                reason: format!(
                    "after {} candidate requests (≥ {n}): error-rate difference upper bound {:+.3}% < margin {:.3}% (Newcombe interval), latency not worse (Mann–Whitney p = {:.3})",
                    candidate_total,
                    error_diff_upper * 100.0,
                    rules.margin * 100.0,
                    latency_p_value
                ),
            }
        } else {
            Verdict::Continue {
                reason: format!(
                    "non-inferiority not shown yet: error-rate difference upper bound {:+.3}% (margin {:.3}%), latency p = {:.3}",
                    error_diff_upper * 100.0,
                    rules.margin * 100.0,
                    latency_p_value
                ),
            }
        }
    } else {
        Verdict::Continue {
            reason: "no significant difference in error rate".into(),
        }
    };
    Analysis {
        stable: s,
        candidate: c,
        error_p_value,
        candidate_total,
        error_diff_upper,
        latency_p_value,
        tests: "errors: one-sided Fisher exact test; promotion: Newcombe hybrid score interval (non-inferiority); latency: one-sided Mann-Whitney U",
        verdict,
    }
}

/// P(X ≥ a) for the 2×2 table [[a, b], [c, d]] with fixed margins: the one-sided Fisher exact
/// test that row 1 (candidate) has the higher error share. X is hypergeometric: `a + c`
/// errors among `n` requests, `a + b` of them drawn by the candidate.
pub fn fisher_greater(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let n = a + b + c + d;
    if n == 0 || a == 0 {
        return 1.0;
    }
    match Hypergeometric::new(n, a + c, a + b) {
        Ok(h) => h.sf(a - 1).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// The standard normal quantile.
fn z_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

fn wilson(x: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Upper bound of the one-sided (1 − alpha) Newcombe hybrid score interval for p1 − p2.
pub fn newcombe_upper(x1: u64, n1: u64, x2: u64, n2: u64, alpha: f64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let z = z_quantile(1.0 - alpha);
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let (_, u1) = wilson(x1, n1, z);
    let (l2, _) = wilson(x2, n2, z);
    (p1 - p2) + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt()
}

/// One-sided Mann–Whitney U p-value for "x tends to be larger than y" (normal approximation
/// with tie correction; the windows are hundreds of samples).
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.len() < 2 || y.len() < 2 {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        rank_sum_x += all[i..=j].iter().filter(|e| e.1).count() as f64 * rank;
        i = j + 1;
    }
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let sigma = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if sigma == 0.0 {
        return 1.0;
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / sigma;
    Normal::standard().sf(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_reference_values() {
        // R: fisher.test(matrix(c(3,1,1,3),2), alternative="greater")$p.value = 0.2428571
        assert!((fisher_greater(3, 1, 1, 3) - 0.242_857_1).abs() < 1e-6);
        // Exact hypergeometric tail in integer arithmetic (Python's math.comb): 0.0048290580.
        let p = fisher_greater(10, 90, 1, 99);
        assert!((p - 0.004_829_058).abs() < 1e-8, "{p}");
        assert!((fisher_greater(0, 100, 0, 100) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn newcombe_and_quantiles() {
        assert!((z_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((z_quantile(0.01) + 2.326_348).abs() < 1e-5);
        // Equal zero error rates over 1000 each: the difference is bounded well below 1%.
        let u = newcombe_upper(0, 1000, 0, 1000, 0.05);
        assert!(u > 0.0 && u < 0.005, "{u}");
        assert!(newcombe_upper(50, 1000, 0, 1000, 0.05) > 0.04);
    }

    #[test]
    fn mann_whitney_sees_a_shift_and_not_noise() {
        let base: Vec<f64> = (0..300).map(|i| 1.0 + (i % 17) as f64 * 0.01).collect();
        let slower: Vec<f64> = base.iter().map(|v| v * 1.2).collect();
        assert!(mann_whitney_greater(&slower, &base) < 1e-6);
        assert!(mann_whitney_greater(&base, &slower) > 0.99);
        assert!(mann_whitney_greater(&base, &base) > 0.3);
    }

    #[test]
    fn outcomes_follow_versions_and_the_total_outlives_the_window() {
        let m = Monitor::new(10);
        m.route_to(Some("1"), Some("2"));
        for _ in 0..25 {
            m.record(Arm::Candidate, "2", true, 1.0);
            m.record(Arm::Candidate, "9", false, 1.0); // an old canary's straggler
            m.record(Arm::Stable, "1", true, 1.0);
        }
        let rules = Rules {
            min_requests: 1,
            alpha: 0.01,
            margin: 0.5,
            promote_after: Some(20),
        };
        let a = m.analyze(&rules);
        assert_eq!(
            (a.candidate.requests, a.candidate.errors, a.candidate_total),
            (10, 0, 25)
        );
        assert!(
            matches!(a.verdict, Verdict::Promote { .. }),
            "{:?}",
            a.verdict
        );
        m.route_to(Some("1"), Some("3"));
        let a = m.analyze(&rules);
        assert_eq!(
            (a.candidate.requests, a.candidate_total, a.stable.requests),
            (0, 0, 10)
        );
    }

    #[test]
    fn verdicts() {
        let rules = Rules {
            min_requests: 50,
            alpha: 0.01,
            margin: 0.01,
            promote_after: Some(200),
        };
        let ok = |n| vec![(true, 1.0f32); n];
        let mut bad = ok(180);
        bad.extend(vec![(false, 1.0f32); 20]);
        assert!(matches!(
            analyze(&ok(200), &bad, 200, &rules).verdict,
            Verdict::Rollback { .. }
        ));
        assert!(matches!(
            analyze(&ok(2000), &ok(1000), 1000, &rules).verdict,
            Verdict::Promote { .. }
        ));
        assert!(matches!(
            analyze(&ok(10), &ok(10), 10, &rules).verdict,
            Verdict::Continue { .. }
        ));
        let no_promote = Rules {
            promote_after: None,
            ..rules
        };
        assert!(matches!(
            analyze(&ok(2000), &ok(1000), 1000, &no_promote).verdict,
            Verdict::Continue { .. }
        ));
    }
}
