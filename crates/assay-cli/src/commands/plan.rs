//! Turning the shared model/run options into a [`BenchmarkPlan`].

use std::path::PathBuf;

use assay_engine::{
    EngineError,
    bench::{self, BenchmarkPlan, OptLevel, Provider},
    model::DimBindings,
};

use crate::cli::ModelRunArgs;

/// Parses repeated `--dim NAME=VALUE` (or `INPUT.AXIS=VALUE`) flags.
pub fn parse_dims(flags: &[String]) -> Result<DimBindings, EngineError> {
    let mut dims = DimBindings::new();
    for d in flags {
        let (n, v) = bench::parse_assignment("--dim", d)?;
        let v = v.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
            EngineError::InvalidOption {
                option: "--dim".into(),
                message: format!("'{d}': '{v}' is not a whole number"),
            }
        })?;
        dims.insert(n.to_string(), v);
    }
    Ok(dims)
}

/// Builds and validates a plan; `concurrency` is bench's sweep (profile uses "1").
pub fn plan_from_args(a: &ModelRunArgs, concurrency: &str) -> Result<BenchmarkPlan, EngineError> {
    let mut p = BenchmarkPlan::new(&a.model);
    p.providers = a
        .provider
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Provider::parse)
        .collect::<Result<_, _>>()?;
    p.providers.dedup();
    p.strict_provider = a.strict_provider;
    if let Some(b) = &a.batch {
        p.batches = bench::parse_list("--batch", b)?;
    }
    p.batch_dim = a.batch_dim.clone();
    p.concurrency = bench::parse_list("--concurrency", concurrency)?;
    p.dims = parse_dims(&a.dim)?;
    for s in &a.shape {
        let (n, v) = bench::parse_assignment("--shape", s)?;
        p.shapes
            .insert(n.to_string(), bench::parse_shape("--shape", v)?);
    }
    for i in &a.input {
        match i.split_once('=') {
            Some((n, f)) if !n.is_empty() && !f.is_empty() => {
                p.input_files.insert(n.to_string(), PathBuf::from(f));
            }
            _ if i.ends_with(".npz") => {
                p.input_files.insert("*".into(), PathBuf::from(i));
            }
            _ => {
                return Err(EngineError::InvalidOption {
                    option: "--input".into(),
                    message: format!("'{i}' is neither INPUT=FILE.npy nor FILE.npz"),
                });
            }
        }
    }
    for f in &a.fill {
        let (n, v) = bench::parse_assignment("--fill", f)?;
        let v = v.parse::<f64>().map_err(|_| EngineError::InvalidOption {
            option: "--fill".into(),
            message: format!("'{f}': '{v}' is not a number"),
        })?;
        p.fills.insert(n.to_string(), v);
    }
    p.intra_threads = a.intra_threads;
    p.inter_threads = a.inter_threads;
    p.opt_level = OptLevel::parse(&a.opt_level)?;
    p.warmup_runs = a.warmup;
    p.warmup_time = bench::parse_duration("--warmup-time", &a.warmup_time)?;
    p.min_iterations = a.iterations.max(1);
    p.min_duration = bench::parse_duration("--duration", &a.duration)?;
    p.seed = a.seed;
    p.int_range = match a.int_range.split_once("..") {
        Some((lo, hi)) => match (lo.trim().parse(), hi.trim().parse()) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            _ => {
                return Err(EngineError::InvalidOption {
                    option: "--int-range".into(),
                    message: format!("'{}' is not LO..HI", a.int_range),
                });
            }
        },
        None => {
            return Err(EngineError::InvalidOption {
                option: "--int-range".into(),
                message: format!("'{}' is not LO..HI", a.int_range),
            });
        }
    };
    p.validate()?;
    Ok(p)
}
