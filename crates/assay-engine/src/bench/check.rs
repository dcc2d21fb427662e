//! Speed and accuracy in one table: `bench --check-against` compares each benchmark row's
//! session (its provider, with the run's session settings) against a reference, on the
//! benchmark's own inputs at the row's batch size.
//!
//! The comparison is [`run_accuracy`] with the divergence search off: a row gets a verdict
//! and its worst error, and `assay accuracy` is the tool for finding where it went wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    plan::BenchmarkPlan,
    progress::{BenchEvent, BenchObserver},
};
use crate::{
    accuracy::{
        AccuracyEvent, AccuracyObserver, AccuracyPlan, AccuracyReport, InputSource, Subject,
        Tolerances, Verdict, run_accuracy,
    },
    error::Result,
    runtime::Runtime,
    session::Provider,
};

/// What `--check-against` asks for.
#[derive(Debug, Clone, Serialize)]
pub struct AccuracyCheck {
    /// The reference (by default the model on CPU with the default session).
    #[serde(skip)]
    pub reference: Subject,
    #[serde(skip)]
    pub tolerances: Tolerances,
    /// Seeded input sets compared per row (set 0 is the benchmark's own inputs).
    pub sets: usize,
}

/// A benchmark row's comparison against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RowAccuracy {
    /// The reference's label (`model.onnx on cpu`).
    pub reference: String,
    /// The worst output's verdict: pass, noise (outside tolerance but within the
    /// reference's own run-to-run difference) or fail.
    pub verdict: Verdict,
    /// The largest absolute and relative error over every output and set.
    pub max_abs: f64,
    pub max_rel: f64,
    /// The output with the largest absolute error.
    pub worst_output: String,
    pub sets: usize,
    /// The history id of the full comparison, when it was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub comparison_id: Option<String>,
    /// Which of the report's comparisons this row's is.
    #[serde(skip)]
    #[ts(skip)]
    pub(crate) comparison: usize,
}

impl RowAccuracy {
    /// The row's summary of a one-candidate comparison, the `comparison`th of the run.
    fn of(report: &AccuracyReport, comparison: usize) -> Option<Self> {
        let c = report.candidates.first()?;
        let worst = c
            .outputs
            .iter()
            .max_by(|a, b| a.stats.max_abs.total_cmp(&b.stats.max_abs))?;
        Some(RowAccuracy {
            reference: report.reference.label.clone(),
            verdict: c.verdict,
            max_abs: worst.stats.max_abs,
            max_rel: c
                .outputs
                .iter()
                .map(|o| o.stats.max_rel)
                .fold(0.0, f64::max),
            worst_output: worst.name.clone(),
            sets: report.inputs.sets,
            comparison_id: report.run_id.clone(),
            comparison,
        })
    }
}

/// The comparisons of a run, one per (provider, batch): rows that differ only in
/// concurrency run the same session on the same inputs, so they share one.
#[derive(Default)]
pub(crate) struct RowChecks {
    index: BTreeMap<(Provider, Option<i64>), usize>,
    done: Vec<AccuracyReport>,
}

impl RowChecks {
    /// The row summary of the comparison for a row's session, computed once. The
    /// comparison's warnings (a provider that fell back) go to `observer`, and it stops
    /// when the benchmark is cancelled.
    pub(crate) fn row(
        &mut self,
        rt: &Runtime,
        plan: &BenchmarkPlan,
        check: &AccuracyCheck,
        provider: Provider,
        batch: Option<i64>,
        observer: &mut dyn BenchObserver,
    ) -> Result<Option<RowAccuracy>> {
        let key = (provider, batch);
        if !self.index.contains_key(&key) {
            let mut a = AccuracyPlan::new(check.reference.clone());
            a.candidates = vec![Subject {
                model: plan.model.clone(),
                provider,
                session: plan.session.clone(),
            }];
            a.source = InputSource::Synthetic { sets: check.sets };
            a.inputs = plan.inputs.clone();
            a.batch = batch;
            a.tolerances = check.tolerances.clone();
            a.locate = false;
            self.done
                .push(run_accuracy(rt, &a, &mut Forward(observer))?);
            self.index.insert(key, self.done.len() - 1);
        }
        let i = self.index[&key];
        Ok(RowAccuracy::of(&self.done[i], i))
    }

    /// Every comparison made, in the order the rows first asked for them.
    pub(crate) fn into_reports(self) -> Vec<AccuracyReport> {
        self.done
    }
}

/// A comparison inside a benchmark reports through the benchmark's observer: its warnings
/// as the benchmark's, and the benchmark's cancel stops it.
struct Forward<'a>(&'a mut dyn BenchObserver);

impl AccuracyObserver for Forward<'_> {
    fn event(&mut self, event: AccuracyEvent) {
        if let AccuracyEvent::Warning { message } = event {
            self.0.event(BenchEvent::Warning {
                message: format!("accuracy check: {message}"),
            });
        }
    }

    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }
}
