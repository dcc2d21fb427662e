//! The events a job's view receives, one shape from the worker to the front end: the
//! worker's own (docs/EVENTS.md; each verb's type lives beside the code that emits it), the
//! document a verb printed instead of events, and the console's last event. The console
//! reads each line into this type before forwarding it, so a worker line the console cannot
//! read is dropped (with a log line) rather than handed to a view as an unknown shape.

use assay_engine::viz::report::ReportWritten;
use assay_engine::{
    ErrorEvent, accuracy::AccuracyEvent, bench::BenchEvent, profile::ProfileEvent,
    runtime::install::InstallEvent,
};
use assay_release::{fleet::FleetEvent, release::Created, remote::PushEvent, signing::Signed};
use serde::{Deserialize, Serialize};

/// One event of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(untagged)]
pub enum JobEvent {
    Bench(BenchEvent),
    Profile(ProfileEvent),
    Accuracy(AccuracyEvent),
    Install(InstallEvent),
    Push(PushEvent),
    /// `fleet rollout --events`: what happened, and the whole rollout after it.
    Fleet(FleetEvent),
    /// The worker's `error` event, or the console's when the worker died without one.
    Error(ErrorEvent),
    /// A verb that prints one JSON document (`sign --json`, `release create --json`).
    Document(DocumentEvent),
    Console(ConsoleEvent),
}

/// A verb's one JSON document, as the job's result.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DocumentEvent {
    Result { value: Document },
}

/// The documents of the verbs the console runs without events, each the verb's own type.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(untagged)]
pub enum Document {
    /// `release create --json`.
    Created(Box<Created>),
    /// `sign --json`.
    Signed(Signed),
    /// `report --json`.
    Report(ReportWritten),
}

/// How a job ended, when not with an error.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// The worker exited: 0 after its `result`, non-zero after its own `error`.
    Exit { code: Option<i32> },
    /// The user cancelled; the worker was killed.
    Cancelled,
}

impl JobEvent {
    /// Whether this is an `error` event.
    pub fn is_error(&self) -> bool {
        matches!(self, JobEvent::Error(_))
    }
}
