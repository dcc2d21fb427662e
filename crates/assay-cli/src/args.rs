//! Value parsers for the CLI's flags: text becomes typed values here, at the edge, so the
//! libraries only ever see numbers, shapes, durations and enums. clap names the flag in its
//! error ("invalid value 'x' for '--batch <LIST>': ..."), so nothing below repeats it.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use assay_engine::{
    accuracy::{Subject, ToleranceField, Tolerances},
    inputs::Fill,
    session::{OptLevel, Provider, SessionOptions},
};

/// One side of an output comparison as given on the command line (`--reference`,
/// `--candidate`): a provider, another model file, or a file on a provider, with optional
/// session settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectSpec {
    /// Another model file (`None`: the model being compared).
    pub model: Option<PathBuf>,
    pub provider: Provider,
    pub opt_level: Option<OptLevel>,
    pub threads: Option<usize>,
}

impl SubjectSpec {
    /// The side it names: `model` unless it names another file, with the command's thread
    /// count and strictness unless it sets its own.
    pub fn resolve(&self, model: &Path, threads: Option<usize>, strict: bool) -> Subject {
        let d = SessionOptions::default();
        Subject {
            model: self.model.clone().unwrap_or_else(|| model.to_path_buf()),
            provider: self.provider,
            session: SessionOptions {
                opt_level: self.opt_level.unwrap_or(d.opt_level),
                intra_threads: self.threads.or(threads),
                inter_threads: None,
                strict_provider: strict,
                ..d
            },
        }
    }
}

/// `PROVIDER`, `FILE.onnx`, `FILE.onnx@PROVIDER`, each optionally followed by `:opt=LEVEL`
/// and `:threads=N` (`cpu:opt=disable`, `model-fp16.onnx@cuda:threads=4`).
pub fn subject(s: &str) -> Result<SubjectSpec, String> {
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or("").trim();
    let (file, provider) = match head.rsplit_once('@') {
        Some((f, p)) => (Some(f), p),
        None if head.ends_with(".onnx") || head.contains('/') => (Some(head), "cpu"),
        None if head.is_empty() => (None, "cpu"),
        None => (None, head),
    };
    let mut spec = SubjectSpec {
        model: file.filter(|f| !f.is_empty()).map(PathBuf::from),
        provider: provider.parse().map_err(|e| format!("{e}"))?,
        opt_level: None,
        threads: None,
    };
    for part in parts {
        let (k, v) = split_assignment(part)
            .map_err(|_| format!("'{part}' is not opt=LEVEL or threads=N"))?;
        match k {
            "opt" => spec.opt_level = Some(v.parse().map_err(|e| format!("{e}"))?),
            "threads" => match v.parse::<usize>() {
                Ok(n) if n > 0 => spec.threads = Some(n),
                _ => return Err(format!("'{v}' is not a thread count (1 or more)")),
            },
            other => return Err(format!("'{other}' is not a setting (opt or threads)")),
        }
    }
    Ok(spec)
}

/// `--atol`/`--rtol` (`VALUE` or `OUTPUT=VALUE`) and `--check` (`STAT` or `OUTPUT=STAT`):
/// checked here, applied in order by the command.
fn tolerance(field: ToleranceField, s: &str) -> Result<String, String> {
    Tolerances::default().set(field, s).map(|()| s.to_string())
}

pub fn atol(s: &str) -> Result<String, String> {
    tolerance(ToleranceField::Atol, s)
}

pub fn rtol(s: &str) -> Result<String, String> {
    tolerance(ToleranceField::Rtol, s)
}

pub fn check(s: &str) -> Result<String, String> {
    tolerance(ToleranceField::Check, s)
}

/// `NAME=VALUE`, with both sides non-empty and trimmed.
fn split_assignment(s: &str) -> Result<(&str, &str), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => Ok((n.trim(), v.trim())),
        _ => Err(format!("'{s}' is not NAME=VALUE")),
    }
}

/// `--dim NAME=VALUE` (or `INPUT.AXIS=VALUE`): a dimension binding, a whole number ≥ 0.
pub fn dim(s: &str) -> Result<(String, i64), String> {
    let (n, v) = split_assignment(s)?;
    match v.parse::<i64>() {
        Ok(v) if v >= 0 => Ok((n.to_string(), v)),
        _ => Err(format!("'{s}': '{v}' is not a whole number")),
    }
}

/// `--fill NAME=VALUE`: one number for every element of an input.
pub fn fill(s: &str) -> Result<(String, Fill), String> {
    let (n, v) = split_assignment(s)?;
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{s}': '{t}' is not a number"))
    };
    let fill = match v.split_once("..") {
        Some((lo, hi)) => Fill::Range(number(lo)?, number(hi)?),
        None => Fill::Constant(number(v)?),
    };
    Ok((n.to_string(), fill))
}

/// `--shape INPUT=1x3x224x224` (also `1,3,224,224`).
pub fn shape(s: &str) -> Result<(String, Vec<i64>), String> {
    let (n, v) = split_assignment(s)?;
    let dims = v
        .split(['x', 'X', ','])
        .map(|d| d.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("'{v}' is not a shape like 1x3x224x224"))?;
    if dims.iter().any(|&d| d < 0) {
        return Err(format!("'{v}' has a negative dimension"));
    }
    Ok((n.to_string(), dims))
}

/// `--input INPUT=FILE.npy`, or `FILE.npz` holding arrays named after the inputs (`*`).
pub fn input(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((n, f)) if !n.is_empty() && !f.is_empty() => Ok((n.to_string(), PathBuf::from(f))),
        _ if s.ends_with(".npz") => Ok(("*".into(), PathBuf::from(s))),
        _ => Err(format!("'{s}' is neither INPUT=FILE.npy nor FILE.npz")),
    }
}

/// How an open loop spaces its requests: `poisson` or `constant`.
pub fn arrivals(s: &str) -> Result<assay_engine::bench::Arrivals, String> {
    use assay_engine::bench::Arrivals;
    match s {
        "poisson" => Ok(Arrivals::Poisson),
        "constant" => Ok(Arrivals::Constant),
        _ => Err(format!("'{s}' is not poisson or constant")),
    }
}

/// A duration in humantime's words (`500ms`, `2s`, `1m 30s`), or plain seconds (`2`, `1.5`).
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("'{s}' is not a duration like 500ms, 2s or 1m")),
        Err(_) => humantime::parse_duration(t)
            .map_err(|e| format!("'{s}' is not a duration like 500ms, 2s or 1m ({e})"))?,
    };
    if d >= Duration::from_secs(86_400) {
        return Err(format!("'{s}' is a day or more; give at most 23h"));
    }
    Ok(d)
}

/// `LO..HI`, a half-open range of integers.
pub fn int_range(s: &str) -> Result<(i64, i64), String> {
    let bad = || format!("'{s}' is not LO..HI");
    let (lo, hi) = s.split_once("..").ok_or_else(bad)?;
    match (lo.trim().parse(), hi.trim().parse()) {
        (Ok(lo), Ok(hi)) => Ok((lo, hi)),
        _ => Err(bad()),
    }
}

/// A value through its own `FromStr` (providers, optimization levels), with its message.
pub fn parsed<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_and_shapes() {
        assert_eq!(dim("batch=4").unwrap(), ("batch".into(), 4));
        assert_eq!(dim(" x.2 = 48").unwrap(), ("x.2".into(), 48));
        assert!(dim("batch").unwrap_err().contains("NAME=VALUE"));
        assert!(dim("batch=-1").unwrap_err().contains("whole number"));
        assert_eq!(
            fill("sr=16000").unwrap(),
            ("sr".into(), Fill::Constant(16000.0))
        );
        assert_eq!(
            fill("pixels=-1..1").unwrap(),
            ("pixels".into(), Fill::Range(-1.0, 1.0))
        );
        assert!(fill("sr=fast").is_err());
        assert!(fill("x=0..").is_err());
        let s = subject("model-fp16.onnx@cuda:opt=disable:threads=2").unwrap();
        assert_eq!(
            s.model.as_deref(),
            Some(std::path::Path::new("model-fp16.onnx"))
        );
        assert_eq!(s.provider, Provider::Cuda);
        assert_eq!(s.opt_level, Some(OptLevel::Disable));
        assert_eq!(s.threads, Some(2));
        assert_eq!(subject("tensorrt").unwrap().provider, Provider::TensorRt);
        assert_eq!(subject("v2.onnx").unwrap().provider, Provider::Cpu);
        assert!(subject("gpu").is_err());
        assert!(subject("cpu:threads=0").is_err());
        assert!(subject("cpu:fast=1").is_err());
        assert!(atol("logits=1e-3").is_ok());
        assert!(atol("x=abc").is_err());
        assert!(check("max").is_ok() && check("mode").is_err());
        assert_eq!(
            shape("images=1x3x224x224").unwrap(),
            ("images".into(), vec![1, 3, 224, 224])
        );
        assert!(shape("images=1x-3").unwrap_err().contains("negative"));
        assert!(shape("images=1xa").is_err());
        assert_eq!(
            input("a.npz").unwrap(),
            ("*".into(), PathBuf::from("a.npz"))
        );
        assert_eq!(
            input("x=a.npy").unwrap(),
            ("x".into(), PathBuf::from("a.npy"))
        );
        assert!(input("a.npy").is_err());
        assert_eq!(int_range("0..10").unwrap(), (0, 10));
        assert!(int_range("0-10").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(duration("soon").is_err());
        assert!(duration("-1").is_err());
        assert!(duration("2d").is_err());
    }

    #[test]
    fn enums_use_their_own_words() {
        use assay_engine::session::{OptLevel, Provider};
        assert_eq!(parsed::<Provider>("TRT").unwrap(), Provider::TensorRt);
        assert!(
            parsed::<Provider>("tpu")
                .unwrap_err()
                .contains("unknown provider")
        );
        assert_eq!(parsed::<OptLevel>("0").unwrap(), OptLevel::Disable);
    }
}
