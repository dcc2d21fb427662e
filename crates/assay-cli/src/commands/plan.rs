//! Turning the shared model/run options, already typed by clap, into a [`BenchmarkPlan`].

use assay_engine::{
    EngineError,
    bench::BenchmarkPlan,
    inputs::{Fill, InputPlan},
    model::DimBindings,
    session::SessionOptions,
};

use crate::cli::{InputArgs, ModelRunArgs};

/// Repeated `--dim NAME=VALUE` flags as bindings (a later flag wins).
pub fn dims(flags: &[(String, i64)]) -> DimBindings {
    flags.iter().cloned().collect()
}

/// Builds and validates a plan; `concurrency` is bench's sweep (profile uses `[1]`).
pub fn plan_from_args(
    a: &ModelRunArgs,
    concurrency: &[usize],
) -> Result<BenchmarkPlan, EngineError> {
    let mut p = BenchmarkPlan::new(&a.model);
    p.providers = a.provider.clone();
    p.providers.dedup();
    p.session = SessionOptions {
        opt_level: a.opt_level,
        intra_threads: a.intra_threads,
        inter_threads: a.inter_threads,
        strict_provider: a.strict_provider,
        ..SessionOptions::default()
    };
    p.batches = a.batch.clone();
    p.concurrency = concurrency.to_vec();
    p.inputs = input_plan(&a.inputs);
    p.warmup_runs = a.warmup;
    p.warmup_time = a.warmup_time;
    p.min_iterations = a.iterations.max(1);
    p.min_duration = a.duration;
    p.validate()?;
    Ok(p)
}

/// The input options (dimensions, shapes, files, fills and ranges, the generator).
pub fn input_plan(a: &InputArgs) -> InputPlan {
    let mut fills = std::collections::BTreeMap::new();
    let mut ranges = std::collections::BTreeMap::new();
    for (name, fill) in &a.fill {
        // A later flag for the same input wins, whichever kind it is.
        fills.remove(name);
        ranges.remove(name);
        match *fill {
            Fill::Constant(v) => fills.insert(name.clone(), v).map(drop),
            Fill::Range(lo, hi) => ranges.insert(name.clone(), (lo, hi)).map(drop),
        };
    }
    InputPlan {
        batch_dim: a.batch_dim.clone(),
        dims: dims(&a.dim),
        remembered_dims: Default::default(),
        shapes: a.shape.iter().cloned().collect(),
        input_files: a.input.iter().cloned().collect(),
        fills,
        ranges,
        seed: a.seed,
        int_range: a.int_range,
    }
}
