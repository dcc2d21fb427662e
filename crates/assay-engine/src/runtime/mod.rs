//! ONNX Runtime: discovery ([`discover`]), provisioning ([`install`]) and loading
//! ([`activate`]).
//!
//! The library is loaded at run time (`ort`'s `load-dynamic`), never linked, and a process
//! holds exactly one ONNX Runtime environment: [`activate`] loads it once and hands out the
//! same [`Runtime`] afterwards.

mod discover;
mod http;
pub mod install;
mod listing;
mod probe;
mod simple_index;
mod wheel;

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

pub use discover::{
    Flavor, InstalledRuntime, LIBRARY_FILE, RuntimeLocation, RuntimeSource, discover,
    installed_runtimes, runtimes_root,
};
pub use http::native_roots;
pub use listing::{ActiveRuntime, RuntimeListing};
pub use probe::library_version;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// The ONNX Runtime minor series this build of `ort` speaks (1.31.x).
pub const SUPPORTED_SERIES: (u64, u64) = (1, ort::MINOR_VERSION as u64);

/// The version `assay runtime install` fetches by default.
pub const DEFAULT_VERSION: &str = "1.31.1";

/// The loaded ONNX Runtime: its environment, where it came from and what it offers.
pub struct Runtime {
    env: ort::environment::Environment,
    pub info: RuntimeInfo,
}

/// Facts about the loaded runtime, as reported by `runtime list` and in fingerprints.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RuntimeInfo {
    pub library: PathBuf,
    pub source: RuntimeSource,
    pub version: String,
    /// Execution providers compiled into the library (`CPUExecutionProvider`, ...).
    pub providers: Vec<String>,
}

impl Runtime {
    /// The process-wide ONNX Runtime environment.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.env
    }
}

static ACTIVE: OnceLock<Runtime> = OnceLock::new();

/// Finds (see [`discover`]), checks and loads ONNX Runtime, once per process.
pub fn activate(explicit: Option<&Path>) -> Result<&'static Runtime> {
    if let Some(rt) = ACTIVE.get() {
        return match explicit {
            Some(p) if !same_file(p, &rt.info.library) => Err(EngineError::RuntimeAlreadyLoaded {
                loaded: rt.info.library.clone(),
            }),
            _ => Ok(rt),
        };
    }
    let location = discover(explicit)?;
    let rt = load(location)?;
    // A racing thread may have won; either runtime is the same library.
    Ok(ACTIVE.get_or_init(|| rt))
}

/// The runtime if one was activated in this process.
pub fn active() -> Option<&'static Runtime> {
    ACTIVE.get()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b || b.starts_with(&a),
        _ => false,
    }
}

fn load(location: RuntimeLocation) -> Result<Runtime> {
    let path = location.library.clone();
    // Read the version before `ort` takes the library: `ort` keeps whatever it loads for the
    // life of the process, and treats newer minors as compatible.
    let version = library_version(&path)?;
    let key = discover::version_key(&version);
    if key.len() < 2 || (key[0], key[1]) != SUPPORTED_SERIES {
        return Err(EngineError::RuntimeVersion {
            path,
            found: version,
            expected: format!("{}.{}.x", SUPPORTED_SERIES.0, SUPPORTED_SERIES.1),
        });
    }
    let builder = ort::init_from(&path).map_err(|e| EngineError::RuntimeLoad {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let env = builder
        .with_name("assay")
        .with_telemetry(false)
        .build()
        .map_err(|e| EngineError::RuntimeLoad {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let providers = probe::available_providers()
        .map_err(|e| EngineError::runtime("listing execution providers", e))?;
    Ok(Runtime {
        env,
        info: RuntimeInfo {
            library: path,
            source: location.source,
            version,
            providers,
        },
    })
}
