//! `assay runtime install`: fetch the official ONNX Runtime wheel and unpack its native
//! libraries (`onnxruntime/capi/`, kept together) into `<data dir>/assay/runtime/<version>-<cpu|gpu>/`.
//!
//! Sources, in order: a wheel on disk, an explicit PEP 503 index
//! (whose links carry `#sha256=`), or by default the user's own
//! `python3 -m pip download`, which already knows their index, proxy and certificates.
//! No registry host is written anywhere in Assay.
//!
//! Every unpacked file is checked against the wheel's RECORD; an index download is checked
//! against the index's sha256; a required sha256 pins the wheel itself. The install is staged in a
//! temporary folder and renamed into place, so an interrupted install leaves nothing half
//! there, and re-running it on an installed version is a no-op.

use std::{
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    discover::{Flavor, LIBRARY_FILE, runtimes_root},
    http, simple_index,
    wheel::{self, WheelName},
};
use crate::durable;
use crate::error::{EngineError, Result};

/// What to install and from where.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub version: String,
    pub gpu: bool,
    pub from_wheel: Option<PathBuf>,
    pub index_url: Option<String>,
    /// Expected SHA-256 of the main wheel, whatever its source.
    pub sha256: Option<String>,
    /// Reinstall even when the version is already installed.
    pub force: bool,
    /// Python used for the default pip source (`python3` when `None`).
    pub python: Option<PathBuf>,
}

impl InstallRequest {
    pub fn new(version: impl Into<String>) -> Self {
        InstallRequest {
            version: version.into(),
            gpu: false,
            from_wheel: None,
            index_url: None,
            sha256: None,
            force: false,
            python: None,
        }
    }

    fn flavor(&self) -> Flavor {
        if self.gpu { Flavor::Gpu } else { Flavor::Cpu }
    }

    fn package(&self) -> &'static str {
        if self.gpu {
            "onnxruntime-gpu"
        } else {
            "onnxruntime"
        }
    }
}

/// A step of the install, for progress display.
#[derive(Debug, Clone)]
pub enum InstallProgress {
    /// A human sentence: what is happening now.
    Step(String),
    /// Bytes of `what` transferred or unpacked so far, out of `total` when known.
    Bytes {
        what: String,
        done: u64,
        total: Option<u64>,
    },
}

/// A wheel that went into an install.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct WheelRecord {
    pub filename: String,
    pub sha256: String,
    /// `file`, `index` or `pip`.
    pub source: String,
}

/// The result of an install, also written as `install.json` in the install folder.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct InstallOutcome {
    pub version: String,
    pub flavor: String,
    pub dir: PathBuf,
    pub library: PathBuf,
    pub wheels: Vec<WheelRecord>,
    /// True when the version was already installed and nothing was done.
    #[serde(default)]
    pub already_installed: bool,
}

/// `assay runtime install --events`, one per line (docs/EVENTS.md).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InstallEvent {
    /// What happens now (downloading, unpacking, installed).
    Step { message: String },
    /// Bytes of `what` downloaded; `total` when the server said.
    Progress {
        what: String,
        done: u64,
        total: Option<u64>,
    },
    /// The install record (the last event of a successful install).
    Result { install: InstallOutcome },
}

const MANIFEST: &str = "install.json";

/// Installs a runtime, reporting progress through `progress`.
pub fn install(
    req: &InstallRequest,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<InstallOutcome> {
    if let Some(w) = &req.from_wheel {
        // The version is the wheel's own; a disagreeing requested version is a usage error.
        let name = w
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(WheelName::parse);
        let Some(name) = name else {
            return Err(EngineError::invalid(
                crate::setting::Setting::Wheel,
                format!(
                    "{} is not a wheel file name (NAME-VERSION-...-PLATFORM.whl)",
                    w.display()
                ),
            ));
        };
        if simple_index::normalize(&name.name) != req.package() {
            return Err(EngineError::invalid(
                crate::setting::Setting::Wheel,
                format!(
                    "{} is a '{}' wheel, expected '{}'",
                    w.display(),
                    name.name,
                    req.package()
                ),
            ));
        }
        if name.version != req.version && req.version != super::DEFAULT_VERSION {
            return Err(EngineError::invalid(
                crate::setting::Setting::Wheel,
                format!(
                    "the wheel is version {}, but version {} was asked for",
                    name.version, req.version
                ),
            ));
        }
        let mut req = req.clone();
        req.version = name.version;
        return install_resolved(&req, progress);
    }
    install_resolved(req, progress)
}

fn install_resolved(
    req: &InstallRequest,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<InstallOutcome> {
    let root = runtimes_root()?;
    let dir = root.join(format!("{}-{}", req.version, req.flavor().as_str()));
    if !req.force
        && let Some(mut done) = read_manifest(&dir)
        && done.library.is_file()
    {
        done.already_installed = true;
        progress(InstallProgress::Step(format!(
            "ONNX Runtime {} ({}) is already installed in {}",
            req.version,
            req.flavor().as_str(),
            dir.display()
        )));
        return Ok(done);
    }
    std::fs::create_dir_all(&root).map_err(|e| EngineError::io(&root, e))?;
    let downloads = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(&root)
        .map_err(|e| EngineError::io(&root, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&root)
        .map_err(|e| EngineError::io(&root, e))?;

    let (main_wheel, source) = fetch_main_wheel(req, downloads.path(), progress)?;
    let main_sha = crate::digest::sha256_file(&main_wheel)?;
    if let Some(want) = &req.sha256
        && !want.eq_ignore_ascii_case(&main_sha)
    {
        return Err(EngineError::Install(format!(
            "{}: sha256 is {main_sha}, but {want} was required",
            main_wheel.display()
        )));
    }
    let mut wheels = vec![WheelRecord {
        filename: file_name(&main_wheel),
        sha256: main_sha,
        source,
    }];

    let capi = staging.path().join("capi");
    unpack_reporting(
        &main_wheel,
        "onnxruntime/capi/",
        &capi,
        is_native_library,
        progress,
    )?;

    if req.gpu {
        for w in fetch_gpu_dependencies(req, &main_wheel, downloads.path(), progress)? {
            // NVIDIA's wheels keep their libraries under nvidia/<component>/lib/.
            let cuda = staging.path().join("cuda");
            unpack_reporting(
                &w,
                "nvidia/",
                &cuda,
                |rel| rel.contains("/lib/") && is_native_library(rel),
                progress,
            )?;
            wheels.push(WheelRecord {
                filename: file_name(&w),
                sha256: crate::digest::sha256_file(&w)?,
                source: "pip".into(),
            });
        }
    }

    let library = std::fs::read_dir(&capi)
        .map_err(|e| EngineError::io(&capi, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(LIBRARY_FILE))
        .ok_or_else(|| {
            EngineError::Install(format!(
                "{} has no {LIBRARY_FILE} under onnxruntime/capi/",
                file_name(&main_wheel)
            ))
        })?;
    let outcome = InstallOutcome {
        version: req.version.clone(),
        flavor: req.flavor().as_str().into(),
        dir: dir.clone(),
        library: dir.join("capi").join(&library),
        wheels,
        already_installed: false,
    };
    let manifest = staging.path().join(MANIFEST);
    let json = serde_json::to_vec_pretty(&outcome).expect("manifest serializes");
    durable::write(&manifest, &json, durable::Mode::Shared)
        .map_err(|e| EngineError::io(&manifest, e))?;

    // Swap the staged folder into place; a previous install (when forced) is moved aside
    // first so there is never a moment with a half-written runtime at `dir`.
    let staged = staging.keep();
    if dir.exists() {
        let old = root.join(format!(".old-{}-{}", req.version, std::process::id()));
        std::fs::rename(&dir, &old).map_err(|e| EngineError::io(&dir, e))?;
        std::fs::rename(&staged, &dir).map_err(|e| EngineError::io(&dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staged, &dir).map_err(|e| EngineError::io(&dir, e))?;
    }
    progress(InstallProgress::Step(format!(
        "installed ONNX Runtime {} ({}) in {}",
        req.version,
        req.flavor().as_str(),
        dir.display()
    )));
    Ok(outcome)
}

/// Unpacks part of a wheel, announcing it and reporting bytes as they are written.
fn unpack_reporting(
    wheel_path: &Path,
    prefix: &str,
    dest: &Path,
    keep: impl Fn(&str) -> bool,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<()> {
    let what = file_name(wheel_path);
    progress(InstallProgress::Step(format!(
        "unpacking {what} (checking every file against the wheel's RECORD)"
    )));
    wheel::unpack(wheel_path, prefix, dest, keep, |done, total| {
        progress(InstallProgress::Bytes {
            what: what.clone(),
            done,
            total: Some(total),
        })
    })
}

fn read_manifest(dir: &Path) -> Option<InstallOutcome> {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).ok()?).ok()
}

/// Shared libraries, not the Python glue (`*.py`, the pybind module) next to them.
fn is_native_library(rel: &str) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    let native = base.contains(".so") || base.ends_with(".dll") || base.ends_with(".dylib");
    native && !base.starts_with("onnxruntime_pybind11_state")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn fetch_main_wheel(
    req: &InstallRequest,
    dest: &Path,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<(PathBuf, String)> {
    if let Some(w) = &req.from_wheel {
        if !w.is_file() {
            return Err(EngineError::NotFound { path: w.clone() });
        }
        progress(InstallProgress::Step(format!(
            "using the wheel {}",
            w.display()
        )));
        return Ok((w.clone(), "file".into()));
    }
    if let Some(index) = &req.index_url {
        return Ok((
            fetch_from_index(index, req.package(), &req.version, dest, progress)?,
            "index".into(),
        ));
    }
    let requirement = format!("{}=={}", req.package(), req.version);
    let main = pip_download(
        req,
        std::slice::from_ref(&requirement),
        false,
        dest,
        progress,
    )?;
    let main = main
        .into_iter()
        .next()
        .expect("pip_download returns at least one wheel");
    Ok((main, "pip".into()))
}

/// Picks this platform's wheel of `package==version` from a PEP 503 page and downloads it,
/// checking the page's sha256 while streaming.
fn fetch_from_index(
    index: &str,
    package: &str,
    version: &str,
    dest: &Path,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<PathBuf> {
    let agent = http::agent()?;
    let page = simple_index::project_url(index, package)?;
    progress(InstallProgress::Step(format!(
        "reading the package index page {page}"
    )));
    let html = agent
        .get(page.as_str())
        .call()
        .map_err(|e| EngineError::Install(format!("cannot read {page}: {e}")))?
        .body_mut()
        .read_to_string()
        .map_err(|e| EngineError::Install(format!("cannot read {page}: {e}")))?;
    let links = simple_index::parse_project_page(&html, &page)?;
    let mut candidates: Vec<_> = links
        .into_iter()
        .filter(|l| {
            WheelName::parse(&l.filename)
                .is_some_and(|w| w.version == version && w.fits_this_platform())
        })
        .collect();
    // Any Python tag carries the same native library; prefer the newest (last in sort order).
    candidates.sort_by(|a, b| a.filename.cmp(&b.filename));
    let link = candidates.pop().ok_or_else(|| {
        EngineError::Install(format!(
            "{page} lists no {package} {version} wheel for {}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let want = link.sha256.clone().ok_or_else(|| {
        EngineError::Install(format!(
            "{} has no #sha256= fragment on {page}; refusing an unverifiable download",
            link.filename
        ))
    })?;

    let path = dest.join(&link.filename);
    progress(InstallProgress::Step(format!(
        "downloading {}",
        link.filename
    )));
    let mut resp = agent
        .get(link.url.as_str())
        .call()
        .map_err(|e| EngineError::Install(format!("cannot download {}: {e}", link.url)))?;
    let total = resp.body().content_length();
    let mut reader = resp.body_mut().as_reader();
    let mut out = File::create(&path).map_err(|e| EngineError::io(&path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            EngineError::Install(format!("download of {} failed: {e}", link.filename))
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| EngineError::io(&path, e))?;
        done += n as u64;
        progress(InstallProgress::Bytes {
            what: link.filename.clone(),
            done,
            total,
        });
    }
    let got = hex::encode(hasher.finalize());
    if got != want {
        let _ = std::fs::remove_file(&path);
        return Err(EngineError::Install(format!(
            "{}: sha256 mismatch: the index says {want}, the download is {got}",
            link.filename
        )));
    }
    Ok(path)
}

/// `python3 -m pip download` of binary wheels only, with pip's own progress on stderr.
/// Returns the wheels for `requirements` (and, `with_deps`, their dependencies).
fn pip_download(
    req: &InstallRequest,
    requirements: &[String],
    with_deps: bool,
    dest: &Path,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<Vec<PathBuf>> {
    let python = req
        .python
        .clone()
        .or_else(|| std::env::var_os("ASSAY_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| "python3".into());
    let what = requirements.join(" ");
    progress(InstallProgress::Step(format!(
        "downloading {what} with {} -m pip",
        python.display()
    )));
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
    ])
    .arg(dest)
    .args(requirements)
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    if !with_deps {
        cmd.arg("--no-deps");
    }
    if let Some(index) = &req.index_url {
        cmd.args(["--index-url", index]);
    }
    let status = cmd.status().map_err(|e| {
        EngineError::Install(format!(
            "cannot run {} -m pip ({e}); install Python 3 with pip, or install from a local wheel file or another package index",
            python.display()
        ))
    })?;
    if !status.success() {
        return Err(EngineError::Install(format!(
            "pip could not download {what} (exit {}); see pip's message above",
            status.code().unwrap_or(-1)
        )));
    }
    // `dest` is a fresh folder per install, so everything in it came from these calls.
    let wheels = list_wheels(dest);
    if wheels.is_empty() {
        return Err(EngineError::Install(format!(
            "pip reported success but no wheel for {what} appeared in {}",
            dest.display()
        )));
    }
    Ok(wheels)
}

fn list_wheels(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "whl"))
                .collect()
        })
        .unwrap_or_default()
}

/// The CUDA and cuDNN wheels `onnxruntime-gpu` declares under its `cuda`/`cudnn` extras,
/// with their own dependencies (cuDNN brings cuBLAS). pip resolves the version specifiers,
/// so each one matches what the GPU build was made against.
fn fetch_gpu_dependencies(
    req: &InstallRequest,
    main_wheel: &Path,
    downloads: &Path,
    progress: &mut dyn FnMut(InstallProgress),
) -> Result<Vec<PathBuf>> {
    let reqs = wheel::requirements_for_extras(main_wheel, &["cuda", "cudnn"])?;
    if reqs.is_empty() {
        progress(InstallProgress::Step(
            "the GPU wheel declares no CUDA/cuDNN wheels; the system's CUDA libraries will be used"
                .into(),
        ));
        return Ok(Vec::new());
    }
    let dest = downloads.join("gpu-deps");
    std::fs::create_dir_all(&dest).map_err(|e| EngineError::io(&dest, e))?;
    let wheels = pip_download(req, &reqs, true, &dest, progress)?;
    // Only NVIDIA's wheels carry libraries the CUDA provider loads.
    Ok(wheels
        .into_iter()
        .filter(|w| file_name(w).starts_with("nvidia"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_native_libraries_only() {
        assert!(is_native_library("libonnxruntime.so.1.31.1"));
        assert!(is_native_library("libonnxruntime_providers_shared.so"));
        assert!(is_native_library("cudnn/lib/libcudnn.so.9"));
        assert!(!is_native_library(
            "onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so"
        ));
        assert!(!is_native_library("__init__.py"));
    }
}
