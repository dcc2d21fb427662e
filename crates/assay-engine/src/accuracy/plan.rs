//! What an output comparison compares: a reference and candidates (a model file on a
//! provider with session settings), the inputs, the tolerances and the searches to run.

use std::path::PathBuf;

use crate::{
    error::{EngineError, Result},
    inputs::InputPlan,
    session::{Provider, SessionOptions},
    setting::Setting,
};

use super::tolerance::Tolerances;

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub model: PathBuf,
    pub provider: Provider,
    pub session: SessionOptions,
}

impl Subject {
    /// A model on CPU with the default session: the default reference.
    pub fn cpu(model: impl Into<PathBuf>) -> Self {
        Subject {
            model: model.into(),
            provider: Provider::Cpu,
            session: SessionOptions::default(),
        }
    }

    /// `model.onnx on cpu`, plus the settings that differ from the default.
    pub fn label(&self) -> String {
        let file = self
            .model
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.model.display().to_string());
        let mut label = format!("{file} on {}", self.provider);
        let d = SessionOptions::default();
        if self.session.opt_level != d.opt_level {
            label.push_str(&format!(", opt {}", self.session.opt_level));
        }
        if let Some(n) = self.session.intra_threads {
            label.push_str(&format!(", {n} thread{}", if n == 1 { "" } else { "s" }));
        }
        label
    }
}

/// Where the input sets come from.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// `sets` seeded synthetic sets (set `i` uses the seed plus `i`), shaped and filled by
    /// the [`InputPlan`].
    Synthetic { sets: usize },
    /// Sets saved earlier: an `.npz` written by `--save-inputs`, or Polygraphy's JSON
    /// (`polygraphy run --save-inputs`).
    Saved(PathBuf),
}

/// A comparison.
#[derive(Debug, Clone)]
pub struct AccuracyPlan {
    pub reference: Subject,
    pub candidates: Vec<Subject>,
    pub source: InputSource,
    /// Shapes, dimension values, fills, ranges and the seed of synthetic sets.
    pub inputs: InputPlan,
    /// The batch size of synthetic sets (default: 1, or what the inputs' files give).
    pub batch: Option<i64>,
    pub tolerances: Tolerances,
    /// Reference outputs saved earlier (`.npz` or Polygraphy JSON): compared against
    /// instead of running the reference.
    pub load_outputs: Option<PathBuf>,
    pub save_inputs: Option<PathBuf>,
    pub save_outputs: Option<PathBuf>,
    /// Sets the reference runs twice, in a second session, to measure its noise floor.
    pub noise_sets: usize,
    /// Search for the first diverging node of a failing candidate.
    pub locate: bool,
    /// Intermediate tensors one round of that search exposes at most: what bounds its memory.
    pub locate_batch: usize,
}

impl AccuracyPlan {
    /// A plan with the defaults: CPU FP32 as the reference, 8 synthetic sets, Polygraphy's
    /// tolerances, a noise floor over 4 sets and the divergence search on.
    pub fn new(reference: Subject) -> Self {
        AccuracyPlan {
            reference,
            candidates: Vec::new(),
            source: InputSource::Synthetic { sets: 8 },
            inputs: InputPlan::default(),
            batch: None,
            tolerances: Tolerances::default(),
            load_outputs: None,
            save_inputs: None,
            save_outputs: None,
            noise_sets: 4,
            locate: true,
            locate_batch: 16,
        }
    }

    /// Checks the values that do not need the models.
    pub fn validate(&self) -> Result<()> {
        let saving = self.save_inputs.is_some() || self.save_outputs.is_some();
        if self.candidates.is_empty() && !saving {
            return Err(EngineError::invalid(
                Setting::Candidate,
                "give at least one candidate (a provider, or another model file), or save golden inputs and outputs",
            ));
        }
        if let InputSource::Synthetic { sets: 0 } = self.source {
            return Err(EngineError::invalid(
                Setting::InputSets,
                "compare on at least one input set",
            ));
        }
        if self.locate_batch == 0 {
            return Err(EngineError::invalid(
                Setting::Candidate,
                "the divergence search must expose at least one tensor per round",
            ));
        }
        self.inputs.validate()
    }
}
