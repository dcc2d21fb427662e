//! NVIDIA GPUs through NVML (`nvml-wrapper` loads `libnvidia-ml` at run time, so this
//! compiles and runs everywhere and simply finds nothing without a driver), and the
//! CUDA/cuDNN libraries that a GPU runtime install unpacks beside the runtime.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use nvml_wrapper::{Nvml, enums::device::UsedGpuMemory};
use serde::{Deserialize, Serialize};

/// An NVIDIA GPU seen through NVML.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct Gpu {
    pub index: u32,
    pub name: String,
    pub driver_version: String,
    pub memory_bytes: u64,
}

/// GPU memory and utilization sampled while a configuration ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct GpuUsage {
    /// Peak GPU memory used by this process (or by the device, when per-process figures
    /// are not available), in bytes.
    pub peak_memory_bytes: u64,
    /// Mean of `utilization.gpu` over the samples, in percent.
    pub mean_utilization_pct: f64,
    pub samples: u32,
}

/// Lists GPUs, adding the CUDA driver version to `versions`.
pub(crate) fn list_gpus(versions: &mut BTreeMap<String, String>) -> Vec<Gpu> {
    let Ok(nvml) = Nvml::init() else {
        return Vec::new();
    };
    let driver = nvml.sys_driver_version().unwrap_or_default();
    if let Ok(v) = nvml.sys_cuda_driver_version() {
        versions.insert(
            "cuda-driver".into(),
            format!("{}.{}", v / 1000, (v % 1000) / 10),
        );
    }
    let n = nvml.device_count().unwrap_or(0);
    (0..n)
        .filter_map(|i| {
            let d = nvml.device_by_index(i).ok()?;
            Some(Gpu {
                index: i,
                name: d.name().unwrap_or_default(),
                driver_version: driver.clone(),
                memory_bytes: d.memory_info().map(|m| m.total).unwrap_or(0),
            })
        })
        .collect()
}

/// Samples GPU 0 every 50 ms on a background thread until [`GpuSampler::finish`].
pub(crate) struct GpuSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Option<GpuUsage>>,
}

impl GpuSampler {
    /// `None` when NVML or a GPU is not available.
    pub fn start() -> Option<GpuSampler> {
        let nvml = Nvml::init().ok()?;
        nvml.device_by_index(0).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("assay-nvml".into())
            .spawn(move || {
                let device = nvml.device_by_index(0).ok()?;
                let pid = std::process::id();
                let (mut peak, mut util_sum, mut n) = (0u64, 0f64, 0u32);
                while !flag.load(Ordering::Relaxed) {
                    let own = device.running_compute_processes().ok().and_then(|ps| {
                        ps.into_iter().find(|p| p.pid == pid).and_then(|p| {
                            match p.used_gpu_memory {
                                UsedGpuMemory::Used(b) => Some(b),
                                UsedGpuMemory::Unavailable => None,
                            }
                        })
                    });
                    let used = own
                        .or_else(|| device.memory_info().ok().map(|m| m.used))
                        .unwrap_or(0);
                    peak = peak.max(used);
                    if let Ok(u) = device.utilization_rates() {
                        util_sum += u.gpu as f64;
                        n += 1;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                (n > 0).then(|| GpuUsage {
                    peak_memory_bytes: peak,
                    mean_utilization_pct: util_sum / n as f64,
                    samples: n,
                })
            })
            .ok()?;
        Some(GpuSampler { stop, handle })
    }

    pub fn finish(self) -> Option<GpuUsage> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}

/// Loads the CUDA/cuDNN libraries unpacked by a GPU runtime install (in `cuda/`
/// next to `capi/`) with global symbol visibility, so the CUDA execution provider finds
/// them without `LD_LIBRARY_PATH`. Libraries depend on each other, so loading repeats in
/// passes until a pass makes no progress.
pub(crate) fn preload_cuda_libraries(ort_library: &Path) {
    #[cfg(unix)]
    {
        use std::sync::OnceLock;
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let Some(cuda) = ort_library
                .parent()
                .and_then(|capi| capi.parent())
                .map(|d| d.join("cuda"))
            else {
                return;
            };
            let mut pending: Vec<std::path::PathBuf> = walk(&cuda)
                .into_iter()
                .filter(|p| p.to_string_lossy().contains(".so"))
                .collect();
            while !pending.is_empty() {
                let before = pending.len();
                pending.retain(|p| {
                    // SAFETY: these are NVIDIA's own libraries from the wheels the user installed.
                    let lib = unsafe {
                        libloading::os::unix::Library::open(
                            Some(p),
                            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                        )
                    };
                    match lib {
                        Ok(l) => {
                            // Keep it loaded for the life of the process.
                            std::mem::forget(l);
                            false
                        }
                        Err(_) => true,
                    }
                });
                if pending.len() == before {
                    tracing::debug!(?pending, "CUDA libraries that did not load");
                    break;
                }
            }
        });
    }
}

#[cfg(unix)]
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}
