//! Turning the shared model/run options, already typed by clap, into a [`BenchmarkPlan`].

use assay_engine::{
    EngineError, bench::BenchmarkPlan, model::DimBindings, session::SessionOptions,
};

use crate::cli::ModelRunArgs;

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
    };
    p.batches = a.batch.clone();
    p.batch_dim = a.batch_dim.clone();
    p.concurrency = concurrency.to_vec();
    p.dims = dims(&a.dim);
    p.shapes = a.shape.iter().cloned().collect();
    p.input_files = a.input.iter().cloned().collect();
    p.fills = a.fill.iter().cloned().collect();
    p.warmup_runs = a.warmup;
    p.warmup_time = a.warmup_time;
    p.min_iterations = a.iterations.max(1);
    p.min_duration = a.duration;
    p.seed = a.seed;
    p.int_range = a.int_range;
    p.validate()?;
    Ok(p)
}
