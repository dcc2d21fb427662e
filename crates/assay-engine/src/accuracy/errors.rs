//! How one output of a candidate differs from the reference's, over every input set: the
//! error statistics, the tolerance check, classifier agreement and values that are NaN or
//! infinite on one side only.
//!
//! Sums, maxima and counts are exact. Percentiles (and the median a `median` check uses)
//! come from a log-spaced histogram with 64 bins per decade, so they are within 4% of the
//! exact value whatever the output's size: memory stays flat over hundreds of input sets.

use serde::{Deserialize, Serialize};

use super::tolerance::{CheckStat, Tolerance};
use crate::tensor::{HostTensor, TensorData};

/// Bins per decade of the error histogram.
const BINS_PER_DECADE: f64 = 64.0;
/// The smallest error the histogram tells apart from zero, and the largest it bins.
const LOG_MIN: f64 = -15.0;
const LOG_MAX: f64 = 15.0;

/// A log-spaced histogram of non-negative values, with an exact count of zeros.
#[derive(Debug, Clone)]
pub(crate) struct LogHistogram {
    zeros: u64,
    bins: Vec<u64>,
    count: u64,
}

impl LogHistogram {
    pub fn new() -> Self {
        LogHistogram {
            zeros: 0,
            bins: vec![0; ((LOG_MAX - LOG_MIN) * BINS_PER_DECADE) as usize + 1],
            count: 0,
        }
    }

    pub fn add(&mut self, v: f64) {
        self.count += 1;
        if v <= 10f64.powf(LOG_MIN) {
            self.zeros += 1;
            return;
        }
        let last = self.bins.len() - 1;
        let i = ((v.log10().min(LOG_MAX) - LOG_MIN) * BINS_PER_DECADE) as usize;
        self.bins[i.min(last)] += 1;
    }

    /// The `q` quantile (0..=1): the geometric middle of the bin it falls in.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return 10f64.powf(LOG_MIN + (i as f64 + 0.5) / BINS_PER_DECADE);
            }
        }
        10f64.powf(LOG_MAX)
    }

    /// Counts per decade (`[10^k, 10^(k+1))`), for the error-distribution chart; exact zeros
    /// are reported apart.
    pub fn decades(&self) -> Vec<ErrorBin> {
        let per = BINS_PER_DECADE as usize;
        self.bins
            .chunks(per)
            .enumerate()
            .filter_map(|(k, c)| {
                let n: u64 = c.iter().sum();
                (n > 0).then(|| ErrorBin {
                    from: 10f64.powi(LOG_MIN as i32 + k as i32),
                    to: 10f64.powi(LOG_MIN as i32 + k as i32 + 1),
                    count: n,
                })
            })
            .collect()
    }
}

/// One bar of the error distribution: errors in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorBin {
    pub from: f64,
    pub to: f64,
    pub count: u64,
}

/// Absolute-error percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorPercentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
}

/// Values that are NaN or infinite, by side; `one_sided` counts positions where exactly one
/// side is NaN, or exactly one is infinite (or both are, with opposite signs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NonFinite {
    pub nan_reference: u64,
    pub nan_candidate: u64,
    pub inf_reference: u64,
    pub inf_candidate: u64,
    pub one_sided: u64,
}

/// Agreement of a classifier-like output (last axis = classes): the share of rows whose
/// top-1 class is the same, and whose candidate top-1 is among the reference's top k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TopK {
    pub k: usize,
    pub rows: u64,
    pub top1: f64,
    pub topk: f64,
}

/// The element with the largest absolute error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct WorstElement {
    /// The input set it came from.
    pub set: usize,
    /// Its flat (C-order) index in the output.
    pub index: u64,
    pub reference: f64,
    pub candidate: f64,
}

/// How one output compares, over every input set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorStats {
    /// Elements compared, over every set.
    pub elements: u64,
    pub max_abs: f64,
    pub mean_abs: f64,
    /// Over the elements whose reference value is not zero.
    pub max_rel: f64,
    pub mean_rel: f64,
    pub abs_percentiles: ErrorPercentiles,
    /// Of the two outputs as flat vectors (1 when both are all zeros).
    pub cosine: f64,
    /// Elements outside tolerance by NumPy's `isclose` rule (NaN on both sides agree).
    pub outside_tolerance: u64,
    pub nonfinite: NonFinite,
    pub top: Option<TopK>,
    pub worst: Option<WorstElement>,
    /// The error distribution, one bar per decade.
    pub histogram: Vec<ErrorBin>,
    /// Exact zeros (bit-identical or equal elements).
    pub exact: u64,
    /// Whether the tolerance's check statistic passes.
    pub within_tolerance: bool,
    /// The value the check compared: the statistic of the absolute errors, and the bound it
    /// had to stay under (`atol + rtol·stat(|reference|)`; elementwise: the count outside).
    pub checked_value: f64,
    pub checked_bound: f64,
}

/// Compares one candidate tensor with its reference, as `assay accuracy` compares an output
/// over one input set: the same statistics and the same tolerance check. The shapes must
/// already match. For callers that compare one pair at a time (the gateway's shadow).
pub fn compare(reference: &HostTensor, candidate: &HostTensor, tolerance: Tolerance) -> ErrorStats {
    let mut acc = ErrorAccumulator::new(tolerance);
    acc.add(0, reference, candidate);
    acc.finish()
}

/// Running statistics of one output's errors.
pub(crate) struct ErrorAccumulator {
    tolerance: Tolerance,
    n: u64,
    finite_n: u64,
    sum_abs: f64,
    max_abs: f64,
    rel_n: u64,
    sum_rel: f64,
    max_rel: f64,
    dot: f64,
    norm_a: f64,
    norm_b: f64,
    sum_ref_abs: f64,
    max_ref_abs: f64,
    outside: u64,
    exact: u64,
    nonfinite: NonFinite,
    abs: LogHistogram,
    ref_abs: LogHistogram,
    worst: Option<WorstElement>,
    top_rows: u64,
    top1: u64,
    topk: u64,
    k: usize,
    strings: bool,
}

impl ErrorAccumulator {
    pub fn new(tolerance: Tolerance) -> Self {
        ErrorAccumulator {
            tolerance,
            n: 0,
            finite_n: 0,
            sum_abs: 0.0,
            max_abs: 0.0,
            rel_n: 0,
            sum_rel: 0.0,
            max_rel: 0.0,
            dot: 0.0,
            norm_a: 0.0,
            norm_b: 0.0,
            sum_ref_abs: 0.0,
            max_ref_abs: 0.0,
            outside: 0,
            exact: 0,
            nonfinite: NonFinite::default(),
            abs: LogHistogram::new(),
            ref_abs: LogHistogram::new(),
            worst: None,
            top_rows: 0,
            top1: 0,
            topk: 0,
            k: 0,
            strings: false,
        }
    }

    /// Adds one input set's pair. Shapes must already match (the caller reports those that
    /// do not); strings compare for equality only.
    pub fn add(&mut self, set: usize, reference: &HostTensor, candidate: &HostTensor) {
        if let (TensorData::Strings(a), TensorData::Strings(b)) = (&reference.data, &candidate.data)
        {
            self.strings = true;
            for (x, y) in a.iter().zip(b) {
                self.n += 1;
                if x == y {
                    self.exact += 1;
                } else {
                    self.outside += 1;
                }
            }
            return;
        }
        let (Some(b), Some(a)) = (reference.to_f64(), candidate.to_f64()) else {
            return;
        };
        for (i, (&x, &r)) in a.iter().zip(&b).enumerate() {
            self.add_pair(set, i as u64, x, r);
        }
        self.add_top(&reference.shape, &a, &b);
    }

    fn add_pair(&mut self, set: usize, index: u64, x: f64, r: f64) {
        self.n += 1;
        let nf = &mut self.nonfinite;
        nf.nan_reference += r.is_nan() as u64;
        nf.nan_candidate += x.is_nan() as u64;
        nf.inf_reference += r.is_infinite() as u64;
        nf.inf_candidate += x.is_infinite() as u64;
        if !(x.is_finite() && r.is_finite()) {
            let agree = (x.is_nan() && r.is_nan()) || x == r;
            if !agree {
                nf.one_sided += 1;
                self.outside += 1;
            } else {
                self.exact += 1;
            }
            return;
        }
        self.finite_n += 1;
        let err = (x - r).abs();
        if err == 0.0 {
            self.exact += 1;
        }
        if !self.tolerance.is_close(x, r) {
            self.outside += 1;
        }
        self.sum_abs += err;
        if self.worst.is_none() || err > self.max_abs {
            self.worst = Some(WorstElement {
                set,
                index,
                reference: r,
                candidate: x,
            });
        }
        self.max_abs = self.max_abs.max(err);
        if r != 0.0 {
            let rel = err / r.abs();
            self.rel_n += 1;
            self.sum_rel += rel;
            self.max_rel = self.max_rel.max(rel);
        }
        self.dot += x * r;
        self.norm_a += x * x;
        self.norm_b += r * r;
        self.sum_ref_abs += r.abs();
        self.max_ref_abs = self.max_ref_abs.max(r.abs());
        self.abs.add(err);
        self.ref_abs.add(r.abs());
    }

    /// Classifier agreement, for float outputs of rank ≥ 2 whose last axis has 2 to 100,000
    /// entries (classes).
    fn add_top(&mut self, shape: &[i64], a: &[f64], b: &[f64]) {
        let classes = shape.last().copied().unwrap_or(0);
        if shape.len() < 2 || !(2..=100_000).contains(&classes) {
            return;
        }
        let classes = classes as usize;
        self.k = 5.min(classes - 1).max(1);
        let argmax = |row: &[f64]| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        };
        for (ra, rb) in a.chunks_exact(classes).zip(b.chunks_exact(classes)) {
            let (ta, tb) = (argmax(ra), argmax(rb));
            self.top_rows += 1;
            self.top1 += (ta == tb) as u64;
            // The candidate's top-1 is among the reference's top k when fewer than k
            // reference scores beat the reference's score of that class.
            let score = rb[ta];
            let better = rb.iter().filter(|&&v| v > score).count();
            self.topk += (better < self.k) as u64;
        }
    }

    /// Elements outside tolerance so far.
    pub fn outside(&self) -> u64 {
        self.outside
    }

    pub fn finish(self) -> ErrorStats {
        let t = self.tolerance;
        let fin = self.finite_n.max(1) as f64;
        let (checked_value, checked_bound, within) = if self.strings {
            (self.outside as f64, 0.0, self.outside == 0)
        } else {
            match t.check {
                CheckStat::Elementwise => (self.outside as f64, 0.0, self.outside == 0),
                stat => {
                    let (e, r) = match stat {
                        CheckStat::Mean => (self.sum_abs / fin, self.sum_ref_abs / fin),
                        CheckStat::Median => (self.abs.quantile(0.5), self.ref_abs.quantile(0.5)),
                        _ => (self.max_abs, self.max_ref_abs),
                    };
                    let bound = t.atol + t.rtol * r;
                    // One-sided NaN or Inf fails any statistic.
                    (e, bound, e <= bound && self.nonfinite.one_sided == 0)
                }
            }
        };
        let cosine = if self.norm_a == 0.0 && self.norm_b == 0.0 {
            1.0
        } else if self.norm_a == 0.0 || self.norm_b == 0.0 {
            0.0
        } else {
            self.dot / (self.norm_a.sqrt() * self.norm_b.sqrt())
        };
        ErrorStats {
            elements: self.n,
            max_abs: self.max_abs,
            mean_abs: self.sum_abs / fin,
            max_rel: self.max_rel,
            mean_rel: self.sum_rel / self.rel_n.max(1) as f64,
            abs_percentiles: ErrorPercentiles {
                p50: self.abs.quantile(0.5),
                p90: self.abs.quantile(0.9),
                p99: self.abs.quantile(0.99),
                p999: self.abs.quantile(0.999),
            },
            cosine,
            outside_tolerance: self.outside,
            nonfinite: self.nonfinite,
            top: (self.top_rows > 0).then(|| TopK {
                k: self.k,
                rows: self.top_rows,
                top1: self.top1 as f64 / self.top_rows as f64,
                topk: self.topk as f64 / self.top_rows as f64,
            }),
            worst: self.worst.filter(|w| w.reference != w.candidate),
            histogram: self.abs.decades(),
            exact: self.exact,
            within_tolerance: within,
            checked_value,
            checked_bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::ElementType;

    fn t(shape: &[i64], v: &[f32]) -> HostTensor {
        HostTensor {
            ty: ElementType::Float,
            shape: shape.to_vec(),
            data: TensorData::Bytes(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }

    #[test]
    fn statistics_match_a_hand_computation() {
        let tol = Tolerance {
            atol: 1e-3,
            rtol: 0.0,
            check: CheckStat::Elementwise,
        };
        let mut acc = ErrorAccumulator::new(tol);
        let r = t(&[1, 4], &[1.0, 2.0, 0.0, -4.0]);
        let c = t(&[1, 4], &[1.0, 2.5, 0.0005, -4.0]);
        acc.add(0, &r, &c);
        let s = acc.finish();
        assert_eq!(s.elements, 4);
        assert_eq!(s.max_abs, 0.5);
        assert!((s.mean_abs - (0.5 + 0.0005f32 as f64) / 4.0).abs() < 1e-12);
        assert_eq!(s.max_rel, 0.25);
        assert_eq!(s.outside_tolerance, 1);
        assert_eq!(s.exact, 2);
        assert!(!s.within_tolerance);
        let w = s.worst.unwrap();
        assert_eq!((w.index, w.reference, w.candidate), (1, 2.0, 2.5));
        // Same top-1 class (index 1 in both).
        let top = s.top.unwrap();
        assert_eq!((top.rows, top.top1), (1, 1.0));
        assert!(s.cosine > 0.99 && s.cosine < 1.0);
    }

    #[test]
    fn nan_and_inf_on_one_side_fail_every_statistic() {
        let tol = Tolerance {
            atol: 1.0,
            rtol: 0.0,
            check: CheckStat::Max,
        };
        let mut acc = ErrorAccumulator::new(tol);
        acc.add(
            0,
            &t(&[3], &[1.0, f32::NAN, 2.0]),
            &t(&[3], &[1.0, f32::NAN, f32::INFINITY]),
        );
        let s = acc.finish();
        assert_eq!(s.nonfinite.nan_reference, 1);
        assert_eq!(s.nonfinite.inf_candidate, 1);
        assert_eq!(s.nonfinite.one_sided, 1);
        assert!(!s.within_tolerance);
        assert_eq!(s.max_abs, 0.0);
    }

    #[test]
    fn histogram_quantiles_are_within_four_percent() {
        let mut h = LogHistogram::new();
        for i in 1..=1000 {
            h.add(i as f64 * 1e-6);
        }
        for (q, exact) in [(0.5, 500e-6), (0.9, 900e-6), (0.99, 990e-6)] {
            let got = h.quantile(q);
            assert!((got / exact - 1.0).abs() < 0.04, "q{q}: {got} vs {exact}");
        }
        h.add(0.0);
        assert_eq!(h.decades().iter().map(|b| b.count).sum::<u64>(), 1000);
    }
}
