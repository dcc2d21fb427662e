//! The environment fingerprint every result carries, so two numbers are only compared when
//! they came from comparable machines and runtimes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runtime::{Runtime, install::InstallOutcome};

/// Machine, OS, runtime and GPU facts at the time of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct Environment {
    pub assay_version: String,
    pub cpu_model: String,
    pub physical_cores: Option<usize>,
    pub logical_cores: usize,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: Option<String>,
    pub arch: String,
    pub ort_version: String,
    pub ort_library: String,
    /// Execution providers the library offers.
    pub ort_providers: Vec<String>,
    /// Versions of the pieces an execution provider runs on: the ONNX Runtime wheel and,
    /// for GPU installs, the CUDA/cuDNN wheels, plus the CUDA driver version from NVML.
    pub provider_versions: BTreeMap<String, String>,
    pub gpus: Vec<crate::gpu::Gpu>,
}

/// Unix time now, in seconds (0 on a clock set before 1970): when a run, a release or an
/// event happened.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Collects the fingerprint for the loaded runtime.
pub fn collect(rt: &Runtime) -> Environment {
    let mut env = collect_host();
    env.provider_versions
        .insert("onnxruntime".to_string(), rt.info.version.clone());
    if let Some(manifest) = install_manifest_for(&rt.info.library) {
        for w in manifest.wheels.iter().skip(1) {
            let mut parts = w.filename.split('-');
            if let (Some(name), Some(version)) = (parts.next(), parts.next()) {
                env.provider_versions
                    .insert(name.replace('_', "-"), version.to_string());
            }
        }
    }
    env.gpus = crate::gpu::list_gpus(&mut env.provider_versions);
    env.ort_version = rt.info.version.clone();
    env.ort_library = rt.info.library.display().to_string();
    env.ort_providers = rt.info.providers.clone();
    env
}

/// The machine's facts without a runtime: the client side of a served load run
/// (`assay load`), where ONNX Runtime runs in the server, not here. Its runtime fields say so.
pub fn collect_host() -> Environment {
    use sysinfo::System;
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let cpu_model = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Environment {
        assay_version: env!("CARGO_PKG_VERSION").to_string(),
        cpu_model,
        physical_cores: System::physical_core_count(),
        logical_cores: sys.cpus().len().max(1),
        memory_bytes: sys.total_memory(),
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_string()),
        kernel: System::kernel_version(),
        arch: std::env::consts::ARCH.to_string(),
        ort_version: "served".into(),
        ort_library: String::new(),
        ort_providers: Vec::new(),
        provider_versions: BTreeMap::new(),
        gpus: Vec::new(),
    }
}

/// The `install.json` beside an installed library (`<dir>/capi/lib...`), if any.
fn install_manifest_for(library: &std::path::Path) -> Option<InstallOutcome> {
    let dir = library.parent()?.parent()?;
    serde_json::from_slice(&std::fs::read(dir.join("install.json")).ok()?).ok()
}
