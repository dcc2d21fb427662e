//! Running a comparison: the reference and every candidate on the same input sets, one set
//! at a time (memory holds one set's outputs, however many sets), then the noise floor,
//! the verdicts and, for a failing candidate, the search for the first diverging node.

use std::{collections::BTreeMap, path::Path, time::Instant};

use ort::session::{Session, SessionInputValue};
use serde::{Deserialize, Serialize};

use super::{
    errors::ErrorAccumulator,
    golden::{self, NpzWriter, TensorSet},
    locate,
    plan::{AccuracyPlan, InputSource, Subject},
    report::{
        ACCURACY_SCHEMA, AccuracyReport, CandidateReport, InputsReport, NoiseFloor, OutputReport,
        SubjectReport, Verdict,
    },
    tolerance::Tolerances,
};
use crate::{
    digest::sha256_file,
    error::{EngineError, Result},
    fingerprint,
    inputs::{self, InputPlan, InputSpec},
    runtime::Runtime,
    session::open_session,
    tensor::HostTensor,
};

/// Progress of a comparison. Serialized with an `event` tag (docs/EVENTS.md).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AccuracyEvent {
    /// The comparison begins.
    Started {
        reference: String,
        candidates: Vec<String>,
        sets: usize,
    },
    /// Input sets up to `index` were run on every side (at most every 100 ms, and after
    /// the last).
    SetDone { index: usize, sets: usize },
    /// A round of the first-diverging-node search: nodes `from..to` of `nodes` remain.
    Locating {
        candidate: String,
        round: usize,
        from: usize,
        to: usize,
        nodes: usize,
    },
    /// Something the user should know (a provider fallback, a tensor not saved).
    Warning { message: String },
    /// The whole report (the last event of a successful run).
    Result { report: Box<AccuracyReport> },
}

/// Receives events as a comparison goes.
pub trait AccuracyObserver {
    fn event(&mut self, event: AccuracyEvent);

    /// Polled between input sets and search rounds; true stops the run.
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct NoAccuracyProgress;

impl AccuracyObserver for NoAccuracyProgress {
    fn event(&mut self, _: AccuracyEvent) {}
}

/// One open side of the comparison.
struct Side {
    subject: Subject,
    session: Session,
    fallback: Option<String>,
    sha256: String,
    total_ms: f64,
    runs: usize,
}

impl Side {
    fn open(rt: &Runtime, subject: &Subject) -> Result<Side> {
        crate::model::validate_model_file(&subject.model)?;
        let sha256 = sha256_file(&subject.model)?;
        let (session, fallback) =
            open_session(rt, &subject.model, subject.provider, &subject.session)?;
        Ok(Side {
            subject: subject.clone(),
            session,
            fallback,
            sha256,
            total_ms: 0.0,
            runs: 0,
        })
    }

    fn names(&self) -> (Vec<String>, Vec<String>) {
        (
            self.session
                .inputs()
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
            self.session
                .outputs()
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
        )
    }

    fn run(&mut self, inputs: &TensorSet) -> Result<TensorSet> {
        if self.runs == 0 {
            // A session's first run is its cold start: kept out of the per-inference time.
            infer(&mut self.session, inputs, &self.subject.label())?;
        }
        let (out, ms) = infer(&mut self.session, inputs, &self.subject.label())?;
        self.total_ms += ms;
        self.runs += 1;
        Ok(out)
    }

    fn report(&self) -> SubjectReport {
        SubjectReport {
            label: self.subject.label(),
            model: self.subject.model.clone(),
            sha256: self.sha256.clone(),
            provider: self.subject.provider.to_string(),
            fallback: self.fallback.clone(),
            opt_level: self.subject.session.opt_level.to_string(),
            intra_threads: self.subject.session.intra_threads,
            mean_ms: if self.runs == 0 {
                0.0
            } else {
                self.total_ms / self.runs as f64
            },
        }
    }
}

/// Runs `session` on `inputs` (by name) and copies every output out; returns the outputs and
/// the time of `Session::run` alone, in milliseconds.
pub(crate) fn infer(
    session: &mut Session,
    inputs: &TensorSet,
    what: &str,
) -> Result<(TensorSet, f64)> {
    let values: Vec<(String, ort::value::DynValue)> = inputs
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_value(&format!("input '{n}'"))?)))
        .collect::<Result<_>>()?;
    let views: Vec<(&str, SessionInputValue<'_>)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), SessionInputValue::from(v)))
        .collect();
    let t = Instant::now();
    let out = session
        .run(views)
        .map_err(|e| EngineError::runtime(what, e))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let mut set = TensorSet::new();
    for (name, v) in &out {
        set.insert(
            name.to_string(),
            HostTensor::from_value(&v, &format!("output '{name}' of {what}"))?,
        );
    }
    Ok((set, ms))
}

/// The names two models differ in, as one sentence per kind, or `None` when they match.
fn differences(what: &str, reference: &[String], candidate: &[String]) -> Option<String> {
    let missing: Vec<&str> = reference
        .iter()
        .filter(|n| !candidate.contains(n))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = candidate
        .iter()
        .filter(|n| !reference.contains(n))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{what} only the reference has: {}",
            missing.join(", ")
        ));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "{what} only the candidate has: {}",
            extra.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Where the input sets come from, one at a time.
enum Sets {
    Synthetic {
        specs: Vec<InputSpec>,
        batch_dim: inputs::BatchDim,
        batch: Option<i64>,
        sets: usize,
    },
    Saved(Vec<TensorSet>),
}

impl Sets {
    fn len(&self) -> usize {
        match self {
            Sets::Synthetic { sets, .. } => *sets,
            Sets::Saved(s) => s.len(),
        }
    }

    fn get(&self, i: usize, model: &Path, plan: &InputPlan) -> Result<TensorSet> {
        match self {
            Sets::Saved(s) => Ok(s[i].clone()),
            Sets::Synthetic {
                specs,
                batch_dim,
                batch,
                ..
            } => {
                // Set i is the seed plus i: set 0 is the benchmark's inputs.
                let seeded = InputPlan {
                    seed: plan.seed.wrapping_add(i as u64),
                    ..plan.clone()
                };
                let (prepared, _) = inputs::prepare(specs, model, &seeded, *batch, batch_dim)?;
                Ok(prepared
                    .into_iter()
                    .map(|p| (p.spec.name, p.tensor))
                    .collect())
            }
        }
    }
}

/// Checks saved sets against the model's inputs: every input present, types and ranks right.
fn check_saved(path: &Path, sets: &[TensorSet], specs: &[InputSpec]) -> Result<()> {
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    for (i, set) in sets.iter().enumerate() {
        let have: Vec<String> = set.keys().cloned().collect();
        if let Some(d) = differences("inputs", &names, &have) {
            return Err(EngineError::TensorFile {
                path: path.to_path_buf(),
                message: format!("set {i} does not match the model: {d}"),
            });
        }
        for spec in specs {
            let t = &set[&spec.name];
            if t.ty != spec.ty || t.shape.len() != spec.dims.len() {
                return Err(EngineError::TensorFile {
                    path: path.to_path_buf(),
                    message: format!(
                        "set {i}: input '{}' is {} of shape {:?}; the model expects {} of rank {} ({})",
                        spec.name,
                        t.ty,
                        t.shape,
                        spec.ty,
                        spec.dims.len(),
                        spec.shape_text()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Compares the plan's candidates against its reference.
pub fn run_accuracy(
    rt: &Runtime,
    plan: &AccuracyPlan,
    observer: &mut dyn AccuracyObserver,
) -> Result<AccuracyReport> {
    plan.validate()?;
    let started = Instant::now();
    let started_at = fingerprint::unix_now();
    let mut warnings = Vec::new();
    let mut warn = |observer: &mut dyn AccuracyObserver, m: String| {
        observer.event(AccuracyEvent::Warning { message: m.clone() });
        warnings.push(m);
    };

    let mut reference = Side::open(rt, &plan.reference)?;
    let (ref_inputs, ref_outputs) = reference.names();
    let specs = InputSpec::from_outlets(reference.session.inputs())?;
    let mut candidates = Vec::with_capacity(plan.candidates.len());
    for c in &plan.candidates {
        let side = Side::open(rt, c)?;
        let (ins, outs) = side.names();
        if let Some(d) = differences("inputs", &ref_inputs, &ins)
            .into_iter()
            .chain(differences("outputs", &ref_outputs, &outs))
            .reduce(|a, b| format!("{a}; {b}"))
        {
            return Err(EngineError::Incomparable {
                reference: plan.reference.model.clone(),
                candidate: c.model.clone(),
                message: d,
            });
        }
        // Same names; the inputs must also take the same data (type and fixed sizes).
        let theirs = InputSpec::from_outlets(side.session.inputs())?;
        for (mine, other) in specs
            .iter()
            .filter_map(|m| theirs.iter().find(|t| t.name == m.name).map(|t| (m, t)))
        {
            let clash = mine.ty != other.ty
                || mine.dims.len() != other.dims.len()
                || mine
                    .dims
                    .iter()
                    .zip(&other.dims)
                    .any(|(a, b)| matches!((a.0, b.0), (Some(x), Some(y)) if x != y));
            if clash {
                return Err(EngineError::Incomparable {
                    reference: plan.reference.model.clone(),
                    candidate: c.model.clone(),
                    message: format!(
                        "input '{}' is {} {} on the reference and {} {} on the candidate",
                        mine.name,
                        mine.ty,
                        mine.shape_text(),
                        other.ty,
                        other.shape_text()
                    ),
                });
            }
        }
        candidates.push(side);
    }
    for side in std::iter::once(&reference).chain(&candidates) {
        if let Some(f) = &side.fallback {
            warn(observer, format!("{}: {f}", side.subject.label()));
        }
    }
    let unknown = plan.tolerances.unknown_outputs(&ref_outputs);
    if !unknown.is_empty() {
        return Err(EngineError::invalid(
            crate::setting::Setting::Tolerance,
            format!(
                "the model has no output named {}; its outputs are {}",
                unknown.join(", "),
                ref_outputs.join(", ")
            ),
        ));
    }

    // The input sets.
    inputs::check_names(&specs, &plan.inputs)?;
    let sets = match &plan.source {
        InputSource::Synthetic { sets } => Sets::Synthetic {
            batch_dim: inputs::batch_dim(&specs, &plan.inputs)?,
            batch: plan.batch,
            specs: specs.clone(),
            sets: *sets,
        },
        InputSource::Saved(path) => {
            let saved = golden::load_inputs(path)?;
            check_saved(path, &saved, &specs)?;
            Sets::Saved(saved)
        }
    };
    let n = sets.len();
    let loaded = plan
        .load_outputs
        .as_deref()
        .map(golden::load_outputs)
        .transpose()?;
    if let (Some(l), Some(path)) = (&loaded, &plan.load_outputs) {
        if l.len() != n {
            return Err(EngineError::TensorFile {
                path: path.clone(),
                message: format!(
                    "it holds {} sets of outputs but there are {n} input sets; compare with the input sets they were saved with",
                    l.len()
                ),
            });
        }
        let have: Vec<String> = l[0].keys().cloned().collect();
        if let Some(d) = differences("outputs", &ref_outputs, &have) {
            return Err(EngineError::TensorFile {
                path: path.clone(),
                message: format!("the saved outputs do not match the model: {d}"),
            });
        }
    }
    observer.event(AccuracyEvent::Started {
        reference: reference.subject.label(),
        candidates: candidates.iter().map(|c| c.subject.label()).collect(),
        sets: n,
    });

    let mut save_inputs = plan
        .save_inputs
        .as_deref()
        .map(|p| NpzWriter::create(p, n))
        .transpose()?;
    let mut save_outputs = plan
        .save_outputs
        .as_deref()
        .map(|p| NpzWriter::create(p, n))
        .transpose()?;

    // The noise floor: a second session of the reference on the first sets.
    let noise_sets = if loaded.is_some() {
        0
    } else {
        plan.noise_sets.min(n)
    };
    let mut twin = if noise_sets > 0 {
        Some(Side::open(rt, &plan.reference)?)
    } else {
        None
    };
    let mut noise: BTreeMap<String, f64> = ref_outputs.iter().map(|o| (o.clone(), 0.0)).collect();
    let mut deterministic = true;

    let tolerances: &Tolerances = &plan.tolerances;
    let mut accs: Vec<BTreeMap<String, ErrorAccumulator>> = candidates
        .iter()
        .map(|_| {
            ref_outputs
                .iter()
                .map(|o| (o.clone(), ErrorAccumulator::new(tolerances.of(o))))
                .collect()
        })
        .collect();
    let mut shapes: BTreeMap<String, (String, Vec<i64>)> = BTreeMap::new();
    // Each candidate's worst set (most elements outside tolerance) and its inputs, for the
    // divergence search.
    let mut worst: Vec<Option<(usize, u64, TensorSet)>> = vec![None; candidates.len()];
    let mut input_shapes = BTreeMap::new();

    let mut done = 0;
    // Progress at most every 100 ms (and on the last set): a small model runs thousands of
    // sets a second, and each event is a line the console's worker pipe carries.
    let mut reported = Instant::now();
    for i in 0..n {
        if observer.cancelled() {
            warn(
                observer,
                format!(
                    "the comparison was cancelled; the results cover the first {i} of {n} input sets"
                ),
            );
            break;
        }
        let set = sets.get(i, &plan.reference.model, &plan.inputs)?;
        if i == 0 {
            input_shapes = set
                .iter()
                .map(|(k, t)| (k.clone(), t.shape.clone()))
                .collect();
        }
        if let Some(w) = save_inputs.as_mut() {
            for name in w.add(&set)? {
                if i == 0 {
                    warn(
                        observer,
                        format!("input '{name}' is not saved: .npz cannot hold its type"),
                    );
                }
            }
        }
        let ref_out = match &loaded {
            Some(l) => l[i].clone(),
            None => reference.run(&set)?,
        };
        if let Some(w) = save_outputs.as_mut() {
            for name in w.add(&ref_out)? {
                if i == 0 {
                    warn(
                        observer,
                        format!("output '{name}' is not saved: .npz cannot hold its type"),
                    );
                }
            }
        }
        for (name, t) in &ref_out {
            shapes
                .entry(name.clone())
                .or_insert_with(|| (t.ty.to_string(), t.shape.clone()));
        }
        if let Some(tw) = twin.as_mut().filter(|_| i < noise_sets) {
            let again = tw.run(&set)?;
            for (name, r) in &ref_out {
                if let Some(a) = again.get(name) {
                    deterministic &= a == r;
                    let d = max_abs_diff(r, a);
                    let e = noise.entry(name.clone()).or_insert(0.0);
                    *e = e.max(d);
                }
            }
        }
        for (c, side) in candidates.iter_mut().enumerate() {
            let out = side.run(&set)?;
            let mut outside = 0;
            for name in &ref_outputs {
                let (Some(r), Some(x)) = (ref_out.get(name), out.get(name)) else {
                    continue;
                };
                if r.shape != x.shape {
                    return Err(EngineError::Incomparable {
                        reference: plan.reference.model.clone(),
                        candidate: side.subject.model.clone(),
                        message: format!(
                            "output '{name}' has shape {:?} on the reference and {:?} on the candidate (input set {i})",
                            r.shape, x.shape
                        ),
                    });
                }
                let acc = accs[c].get_mut(name).expect("one per output");
                let before = acc.outside();
                acc.add(i, r, x);
                outside += acc.outside() - before;
            }
            if outside > 0 && worst[c].as_ref().is_none_or(|w| outside > w.1) {
                worst[c] = Some((i, outside, set.clone()));
            }
        }
        if i + 1 == n || reported.elapsed() >= std::time::Duration::from_millis(100) {
            observer.event(AccuracyEvent::SetDone { index: i, sets: n });
            reported = Instant::now();
        }
        done = i + 1;
    }
    let saved_inputs = save_inputs.map(NpzWriter::finish).transpose()?;
    let saved_outputs = save_outputs.map(NpzWriter::finish).transpose()?;
    drop(twin);

    let reference_report = reference.report();
    let mut reports = Vec::with_capacity(candidates.len());
    let mut failing = Vec::new();
    for (c, (side, mut acc)) in candidates.iter().zip(accs).enumerate() {
        let mut outputs = Vec::new();
        for name in &ref_outputs {
            let stats = acc.remove(name).expect("one per output").finish();
            let noise_max_abs = noise.get(name).copied().unwrap_or(0.0);
            let verdict = if stats.within_tolerance {
                Verdict::Pass
            } else if noise_max_abs > 0.0
                && stats.max_abs <= noise_max_abs
                && stats.nonfinite.one_sided == 0
            {
                Verdict::Noise
            } else {
                Verdict::Fail
            };
            let (element_type, shape) = shapes.get(name).cloned().unwrap_or_default();
            outputs.push(OutputReport {
                name: name.clone(),
                element_type,
                shape,
                tolerance: tolerances.of(name),
                stats,
                noise_max_abs,
                verdict,
            });
        }
        let verdict = if outputs.iter().any(|o| o.verdict == Verdict::Fail) {
            Verdict::Fail
        } else if outputs.iter().any(|o| o.verdict == Verdict::Noise) {
            Verdict::Noise
        } else {
            Verdict::Pass
        };
        if verdict == Verdict::Fail {
            failing.push(c);
        }
        reports.push(CandidateReport {
            subject: side.report(),
            outputs,
            verdict,
            divergence: None,
        });
    }

    // The search runs with the sessions above closed: its own hold the exposed tensors.
    let subjects: Vec<Subject> = candidates.iter().map(|s| s.subject.clone()).collect();
    drop(candidates);
    drop(reference);
    if plan.locate && loaded.is_none() && done == n {
        for c in failing {
            let Some((set_index, _, set)) = worst[c].take() else {
                continue;
            };
            reports[c].divergence = locate::first_divergence(
                rt,
                &plan.reference,
                &subjects[c],
                &set,
                set_index,
                tolerances.default,
                plan.locate_batch,
                observer,
            )?;
        }
    } else if plan.locate && !failing.is_empty() {
        warn(
            observer,
            "the first diverging node is not searched for against saved outputs: it needs the reference model run".into(),
        );
    }

    let (ranges, fills) = match plan.source {
        InputSource::Synthetic { .. } => (plan.inputs.ranges.clone(), plan.inputs.fills.clone()),
        InputSource::Saved(_) => Default::default(),
    };
    let passed = reports.iter().all(|r| r.verdict != Verdict::Fail);
    Ok(AccuracyReport {
        schema: ACCURACY_SCHEMA.into(),
        run_id: None,
        reference: reference_report,
        environment: fingerprint::collect(rt),
        inputs: InputsReport {
            source: match &plan.source {
                InputSource::Synthetic { .. } => "synthetic".into(),
                InputSource::Saved(p) => p.display().to_string(),
            },
            sets: done,
            seed: plan.inputs.seed,
            shapes: input_shapes,
            ranges,
            fills,
            saved_inputs,
            saved_outputs,
            loaded_outputs: plan.load_outputs.clone(),
        },
        tolerances: plan.tolerances.clone(),
        noise: NoiseFloor {
            sets: noise_sets,
            deterministic: noise_sets > 0 && deterministic,
            max_abs: if noise_sets > 0 {
                noise
            } else {
                BTreeMap::new()
            },
        },
        candidates: reports,
        passed,
        warnings,
        started_at,
        total_s: started.elapsed().as_secs_f64(),
    })
}

/// The largest absolute difference of two same-shaped tensors (strings: 1 when any differ).
pub(crate) fn max_abs_diff(a: &HostTensor, b: &HostTensor) -> f64 {
    match (a.to_f64(), b.to_f64()) {
        (Some(x), Some(y)) => x
            .iter()
            .zip(&y)
            .map(|(p, q)| {
                if (p.is_nan() && q.is_nan()) || p == q {
                    0.0
                } else {
                    (p - q).abs()
                }
            })
            .fold(0.0, f64::max),
        _ => (a != b) as u8 as f64,
    }
}
