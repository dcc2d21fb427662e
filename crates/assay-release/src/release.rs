//! `assay release create`: a release folder holding the model, its external-data files,
//! chosen side files and `assay-release.json` (name, version, model digest and signature,
//! optional benchmark evidence). It is staged and renamed into place, so a failed create
//! leaves nothing.

use std::path::{Path, PathBuf};

use assay_engine::durable;

use crate::{
    error::{ReleaseError, Result},
    metadata::{
        AccuracyEvidence, BenchEvidence, ModelSignature, RELEASE_SCHEMA, ReleaseMetadata,
        ReleasedModel, Serving,
    },
};

/// The metadata file every Assay release carries (and signs).
pub const RELEASE_FILE: &str = "assay-release.json";

/// What goes into a release.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub model: PathBuf,
    pub name: String,
    pub version: String,
    pub notes: Option<String>,
    /// Benchmark evidence: run id, environment fingerprint and summary figures.
    pub evidence: Option<BenchEvidence>,
    /// Accuracy evidence: a recorded output comparison and its verdicts.
    pub accuracy: Option<AccuracyEvidence>,
    /// Values for the model's dynamic dimensions that it is served at (by handle); any the
    /// model has that are missing take Assay's suggestion. Signed into the metadata, so
    /// gateways warm up at shapes the model really runs at.
    pub serving_dims: assay_engine::model::DimBindings,
    /// Constant inputs it is served with (a sample rate): gateways warm up with them.
    pub serving_fills: std::collections::BTreeMap<String, f64>,
    /// Side files (tokenizers, configs), copied under their file names.
    pub include: Vec<PathBuf>,
    pub out: PathBuf,
}

/// A name that is safe as a file name and a URL path segment: 1 to `max` ASCII letters,
/// digits, `-`, `_` and `.`, not starting with a dot. Release, key and gateway names.
pub fn is_plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Release names become model names on a gateway: keep them URL- and path-safe.
pub fn check_release_name(name: &str) -> Result<()> {
    if is_plain_name(name, 128) {
        Ok(())
    } else {
        Err(ReleaseError::Invalid {
            what: "release name",
            message: format!(
                "'{name}': use letters, digits, '-', '_' and '.' (it becomes the model name on a gateway)"
            ),
        })
    }
}

/// Semantic version `MAJOR.MINOR.PATCH[-pre][+build]`.
pub fn check_semver(v: &str) -> Result<()> {
    let bad = || ReleaseError::Invalid {
        what: "version",
        message: format!("'{v}' is not a semantic version like 1.4.0 or 2.0.0-rc.1"),
    };
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(bad());
    }
    let rest = &v[core.len()..];
    if !rest.is_empty()
        && !rest[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        || rest == "-"
        || rest == "+"
    {
        return Err(bad());
    }
    Ok(())
}

/// What `assay release create --json` prints: where the release is, and its metadata.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Created {
    pub dir: PathBuf,
    pub release: ReleaseMetadata,
}

/// Creates the release folder and returns its metadata.
pub fn create(spec: &ReleaseSpec) -> Result<ReleaseMetadata> {
    check_release_name(&spec.name)?;
    check_semver(&spec.version)?;
    if spec.out.exists()
        && std::fs::read_dir(&spec.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ReleaseError::Invalid {
            what: "output folder",
            message: format!("{} exists and is not empty", spec.out.display()),
        });
    }
    let report = assay_engine::model::inspect(&spec.model).map_err(|e| ReleaseError::Invalid {
        what: "model",
        message: e.to_string(),
    })?;
    if let Some(bad) = report
        .graph
        .external_data
        .iter()
        .find(|f| f.problem.is_some())
    {
        return Err(ReleaseError::Invalid {
            what: "model",
            message: format!(
                "external data {}: {}",
                bad.location,
                bad.problem.as_deref().unwrap_or("")
            ),
        });
    }
    let free =
        assay_engine::model::suggest_dims(&spec.model, &spec.serving_dims, &Default::default())
            .map_err(|e| ReleaseError::Invalid {
                what: "model",
                message: e.to_string(),
            })?;
    if let Some(unknown) = spec
        .serving_dims
        .keys()
        .find(|k| !free.iter().any(|d| &d.handle == *k))
    {
        let known: Vec<&str> = free.iter().map(|d| d.handle.as_str()).collect();
        return Err(ReleaseError::Invalid {
            what: "serving dimension",
            message: format!(
                "'{unknown}' is not a dynamic dimension of the model; it has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        });
    }
    let serving = Serving {
        dims: assay_engine::model::bindings(&free),
        sources: free
            .iter()
            .map(|d| (d.handle.clone(), d.source.as_str().to_string()))
            .collect(),
        fills: spec.serving_fills.clone(),
    };
    let model_name = spec
        .model
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(ReleaseError::Invalid {
            what: "model",
            message: "the model file name is not UTF-8".into(),
        })?
        .to_string();
    let parent = spec
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent).map_err(|e| ReleaseError::io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".assay-release-")
        .tempdir_in(&parent)
        .map_err(|e| ReleaseError::io(&parent, e))?;
    let copy = |from: &Path, rel: &str| -> Result<()> {
        let to = staging.path().join(rel);
        if to.exists() || rel == RELEASE_FILE {
            return Err(ReleaseError::Invalid {
                what: "included file",
                message: format!("two files would be named {rel}"),
            });
        }
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(|e| ReleaseError::io(p, e))?;
        }
        std::fs::copy(from, &to).map_err(|e| ReleaseError::io(from, e))?;
        Ok(())
    };
    copy(&spec.model, &model_name)?;
    let model_dir = spec.model.parent().unwrap_or(Path::new("."));
    let mut files = vec![model_name.clone()];
    for ext in &report.graph.external_data {
        copy(&model_dir.join(&ext.location), &ext.location)?;
        files.push(ext.location.clone());
    }
    for inc in &spec.include {
        let rel = inc
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or(ReleaseError::Invalid {
                what: "included file",
                message: format!("{} has no usable file name", inc.display()),
            })?;
        if !inc.is_file() {
            return Err(ReleaseError::Invalid {
                what: "included file",
                message: format!("{} is not a file", inc.display()),
            });
        }
        copy(inc, rel)?;
        files.push(rel.to_string());
    }
    let created_at = assay_engine::fingerprint::unix_now();
    let meta = ReleaseMetadata {
        schema: RELEASE_SCHEMA.into(),
        name: spec.name.clone(),
        version: spec.version.clone(),
        created_at,
        notes: spec.notes.clone(),
        model: ReleasedModel {
            file: model_name,
            sha256: report.file.sha256.clone(),
            size_bytes: report.file.size_bytes,
            producer: format!(
                "{} {}",
                report.model.producer_name, report.model.producer_version
            )
            .trim()
            .to_string(),
            opsets: report.model.opsets.clone(),
        },
        signature: ModelSignature {
            inputs: report.inputs.clone(),
            outputs: report.outputs.clone(),
        },
        serving,
        files,
        evidence: spec.evidence.clone(),
        accuracy: spec.accuracy.clone(),
    };
    let meta_path = staging.path().join(RELEASE_FILE);
    durable::write(
        &meta_path,
        &serde_json::to_vec_pretty(&meta).expect("serializes"),
        durable::Mode::Shared,
    )
    .map_err(|e| ReleaseError::io(&meta_path, e))?;
    if spec.out.exists() {
        std::fs::remove_dir(&spec.out).map_err(|e| ReleaseError::io(&spec.out, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &spec.out).map_err(|e| ReleaseError::io(&spec.out, e))?;
    if let Some(parent) = spec.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        durable::sync_dir(parent).map_err(|e| ReleaseError::io(parent, e))?;
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_names() {
        for ok in ["1.0.0", "0.3.12", "2.0.0-rc.1", "1.2.3+build.7"] {
            check_semver(ok).unwrap();
        }
        for bad in ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.x.0", ""] {
            assert!(check_semver(bad).is_err(), "{bad}");
        }
        check_release_name("sentiment-mlp").unwrap();
        assert!(check_release_name("../x").is_err());
        assert!(check_release_name("a b").is_err());
    }
}
