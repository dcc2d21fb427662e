//! The settings a caller can get wrong, named by what they are rather than by how one front
//! end spells them. The engine reports a bad value as [`crate::EngineError::InvalidOption`]
//! with a [`Setting`]; each front end says it in its own words: the CLI names its flag
//! (the batch flag), the console its field ("Batch sizes"). No library crate knows a flag name.

/// A setting of a benchmark, profile, comparison, chart or runtime install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Provider,
    Batch,
    Concurrency,
    Dim,
    Shape,
    Input,
    Fill,
    IntRange,
    Threads,
    Iterations,
    /// Profiled inferences (as opposed to the timed ones).
    ProfileIterations,
    Duration,
    /// Runs being compared.
    Compare,
    /// A chart's data.
    Chart,
    /// The package index a runtime is installed from.
    IndexUrl,
    /// A local wheel a runtime is installed from.
    Wheel,
    /// The candidates of an output comparison.
    Candidate,
    /// An output comparison's tolerances.
    Tolerance,
    /// The input sets an output comparison runs on.
    InputSets,
    /// The input sets a benchmark's accuracy check runs on.
    CheckSets,
    /// The server a load run is sent to (its URL).
    Target,
    /// The request rates of an open-loop load run.
    Rate,
}

impl Setting {
    /// The setting in plain words, for messages outside any front end (logs, the gateway).
    pub fn words(self) -> &'static str {
        use Setting::*;
        match self {
            Provider => "the execution provider",
            Batch => "the batch sizes",
            Concurrency => "the concurrency",
            Dim => "a dimension value",
            Shape => "an input shape",
            Input => "an input file",
            Fill => "a constant fill",
            IntRange => "the integer range",
            Threads => "the thread counts",
            Iterations => "the iterations",
            ProfileIterations => "the profiled inferences",
            Duration => "the duration",
            Compare => "the runs to compare",
            Chart => "the chart",
            IndexUrl => "the package index",
            Wheel => "the wheel file",
            Candidate => "the candidates",
            Tolerance => "a tolerance",
            InputSets => "the input sets",
            CheckSets => "the accuracy check's input sets",
            Target => "the target server",
            Rate => "the request rate",
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}
