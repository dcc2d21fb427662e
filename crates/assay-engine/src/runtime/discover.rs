//! Where the ONNX Runtime library comes from.
//!
//! Order: an explicit path (the CLI's runtime flag), then `ASSAY_ORT_DYLIB`, then `ORT_DYLIB_PATH`, then the newest
//! runtime installed by `assay runtime install` (a GPU build wins a tie with a CPU build of
//! the same version, since it runs CPU models too).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// The file name of the ONNX Runtime library on this platform.
pub const LIBRARY_FILE: &str = if cfg!(target_os = "windows") {
    "onnxruntime.dll"
} else if cfg!(target_os = "macos") {
    "libonnxruntime.dylib"
} else {
    "libonnxruntime.so"
};

/// Which discovery rule found the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeSource {
    /// An explicit path given by the caller
    Flag,
    /// `ASSAY_ORT_DYLIB`
    AssayEnv,
    /// `ORT_DYLIB_PATH` (the variable `ort` itself reads)
    OrtEnv,
    /// Installed under the data directory.
    Installed,
}

/// A library file and the rule that chose it.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeLocation {
    pub library: PathBuf,
    pub source: RuntimeSource,
}

/// CPU-only or GPU build of ONNX Runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    Cpu,
    Gpu,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Cpu => "cpu",
            Flavor::Gpu => "gpu",
        }
    }
}

/// A runtime under `<data dir>/assay/runtime/<version>-<flavor>/`.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct InstalledRuntime {
    pub version: String,
    pub flavor: Flavor,
    pub dir: PathBuf,
    pub library: PathBuf,
}

/// `$XDG_DATA_HOME/assay/runtime` (or the platform's data directory).
pub fn runtimes_root() -> Result<PathBuf> {
    let base = crate::paths::data_dir()
        .ok_or_else(|| EngineError::Install(crate::paths::NO_DATA_DIR.into()))?;
    Ok(base.join("runtime"))
}

/// Runtimes installed by `assay runtime install`, newest first.
pub fn installed_runtimes() -> Result<Vec<InstalledRuntime>> {
    let root = runtimes_root()?;
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<InstalledRuntime> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (version, flavor) = name.rsplit_once('-')?;
            let flavor = match flavor {
                "cpu" => Flavor::Cpu,
                "gpu" => Flavor::Gpu,
                _ => return None,
            };
            let library = find_library_in(&e.path().join("capi"))?;
            Some(InstalledRuntime {
                version: version.to_string(),
                flavor,
                dir: e.path(),
                library,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        version_key(&b.version)
            .cmp(&version_key(&a.version))
            .then(b.flavor.cmp(&a.flavor))
    });
    Ok(found)
}

/// Sort key for dotted versions; non-numeric parts sort as zero.
pub(crate) fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Applies the discovery order. `explicit` is the caller's own choice, a library file or a folder.
pub fn discover(explicit: Option<&Path>) -> Result<RuntimeLocation> {
    if let Some(p) = explicit {
        return Ok(RuntimeLocation {
            library: resolve_library(p)?,
            source: RuntimeSource::Flag,
        });
    }
    for (var, source) in [
        ("ASSAY_ORT_DYLIB", RuntimeSource::AssayEnv),
        ("ORT_DYLIB_PATH", RuntimeSource::OrtEnv),
    ] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return Ok(RuntimeLocation {
                library: resolve_library(Path::new(&v))?,
                source,
            });
        }
    }
    installed_runtimes()?
        .into_iter()
        .next()
        .map(|r| RuntimeLocation {
            library: r.library,
            source: RuntimeSource::Installed,
        })
        .ok_or(EngineError::NoRuntime)
}

/// Accepts the library itself, a `capi/` folder, or an install folder holding `capi/`.
fn resolve_library(p: &Path) -> Result<PathBuf> {
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    if p.is_dir() {
        if let Some(lib) = find_library_in(p).or_else(|| find_library_in(&p.join("capi"))) {
            return Ok(lib);
        }
        return Err(EngineError::RuntimeLoad {
            path: p.to_path_buf(),
            message: format!("no {LIBRARY_FILE}* in this folder"),
        });
    }
    Err(EngineError::NotFound {
        path: p.to_path_buf(),
    })
}

/// The versioned library in a folder (`libonnxruntime.so.1.31.1` beats the bare name,
/// because the wheel ships only the versioned file).
fn find_library_in(dir: &Path) -> Option<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n == LIBRARY_FILE
                    || (n.starts_with(LIBRARY_FILE) && n[LIBRARY_FILE.len()..].starts_with('.'))
            })
        })
        .collect();
    libs.sort();
    libs.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("1.31.1") > version_key("1.9.0"));
        assert!(version_key("1.31.10") > version_key("1.31.9"));
    }

    #[test]
    fn finds_versioned_library_in_capi_folder() {
        let d = tempfile::tempdir().unwrap();
        let capi = d.path().join("capi");
        std::fs::create_dir(&capi).unwrap();
        std::fs::write(capi.join(format!("{LIBRARY_FILE}.1.31.1")), b"").unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        let lib = resolve_library(d.path()).unwrap();
        assert!(
            lib.ends_with(format!("capi/{LIBRARY_FILE}.1.31.1")),
            "{lib:?}"
        );
    }

    #[test]
    fn missing_explicit_path_is_not_found() {
        assert!(matches!(
            discover(Some(Path::new("/nonexistent/ort.so"))),
            Err(EngineError::NotFound { .. })
        ));
    }
}
