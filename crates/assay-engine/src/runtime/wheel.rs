//! Wheels: names, platform tags, the RECORD of file hashes, and unpacking the native
//! libraries of a package into an install folder.

use std::{
    fs::File,
    io::{Read, Write},
    path::Path,
};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};

/// The parts of a wheel file name (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelName {
    pub name: String,
    pub version: String,
    pub platform: String,
}

impl WheelName {
    pub fn parse(filename: &str) -> Option<WheelName> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() < 5 {
            return None;
        }
        Some(WheelName {
            name: parts[0].to_string(),
            version: parts[1].to_string(),
            platform: parts[parts.len() - 1].to_string(),
        })
    }

    /// True when the wheel's native code runs on this machine.
    pub fn fits_this_platform(&self) -> bool {
        self.platform.split('.').any(platform_tag_fits)
    }
}

fn platform_tag_fits(tag: &str) -> bool {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => {
            (tag.starts_with("manylinux") || tag.starts_with("linux")) && tag.ends_with(arch)
        }
        "macos" => {
            tag.starts_with("macosx")
                && (tag.ends_with(if arch == "aarch64" { "arm64" } else { arch })
                    || tag.ends_with("universal2"))
        }
        "windows" => {
            tag == if arch == "aarch64" {
                "win_arm64"
            } else {
                "win_amd64"
            }
        }
        _ => false,
    }
}

/// Unpacks the entries of `wheel` under `prefix` (e.g. `onnxruntime/capi/`) that `keep`
/// accepts into `dest`, flattening the prefix away. Every unpacked file is checked against
/// the SHA-256 in the wheel's RECORD, so a wheel whose contents were altered after it was
/// built is refused even when it came from disk.
pub(crate) fn unpack(
    wheel: &Path,
    prefix: &str,
    dest: &Path,
    keep: impl Fn(&str) -> bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<()> {
    let file = File::open(wheel).map_err(|e| EngineError::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        EngineError::Install(format!("{}: not a wheel (zip): {e}", wheel.display()))
    })?;
    let record = read_record(&mut zip, wheel)?;
    let names: Vec<String> = (0..zip.len())
        .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
        .collect();
    let wanted: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(prefix) && !n.ends_with('/') && keep(&n[prefix.len()..]))
        .collect();
    if wanted.is_empty() {
        return Err(EngineError::Install(format!(
            "{}: has no files under {prefix}",
            wheel.display()
        )));
    }
    let total: u64 = wanted
        .iter()
        .filter_map(|n| zip.by_name(n).ok().map(|f| f.size()))
        .sum();
    let mut done = 0u64;
    for name in wanted {
        let rel = &name[prefix.len()..];
        if rel.split('/').any(|c| c == ".." || c.is_empty())
            || rel.starts_with('/')
            || rel.contains('\\')
        {
            return Err(EngineError::Install(format!(
                "{}: refusing unsafe path {name}",
                wheel.display()
            )));
        }
        let expected = record
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| {
                EngineError::Install(format!(
                    "{}: {name} is not listed in the wheel's RECORD",
                    wheel.display()
                ))
            })?;
        let out_path = dest.join(rel);
        if let Some(parent) = out_path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
        }
        let mut entry = zip
            .by_name(name)
            .map_err(|e| EngineError::Install(format!("{}: {name}: {e}", wheel.display())))?;
        let mode = entry.unix_mode();
        let mut out = File::create(&out_path).map_err(|e| EngineError::io(&out_path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| EngineError::Install(format!("{}: {name}: {e}", wheel.display())))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| EngineError::io(&out_path, e))?;
            done += n as u64;
            progress(done, total);
        }
        out.sync_all().map_err(|e| EngineError::io(&out_path, e))?;
        let got = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize());
        if got != expected {
            return Err(EngineError::Install(format!(
                "{}: {name} does not match the hash in the wheel's RECORD; the wheel is corrupt or altered",
                wheel.display()
            )));
        }
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(&out_path, std::fs::Permissions::from_mode(mode & 0o755));
        }
    }
    Ok(())
}

/// `(path, urlsafe-b64 sha256)` pairs from `*.dist-info/RECORD`.
fn read_record(zip: &mut zip::ZipArchive<File>, wheel: &Path) -> Result<Vec<(String, String)>> {
    let text = read_dist_info(zip, "RECORD").ok_or_else(|| {
        EngineError::Install(format!("{}: the wheel has no RECORD", wheel.display()))
    })?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.rsplitn(3, ',');
            let _size = f.next()?;
            let hash = f.next()?.strip_prefix("sha256=")?.to_string();
            Some((f.next()?.to_string(), hash))
        })
        .collect())
}

fn read_dist_info(zip: &mut zip::ZipArchive<File>, file: &str) -> Option<String> {
    let name = (0..zip.len()).filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string())).find(|n| {
        let mut parts = n.split('/');
        matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some(f), None) if d.ends_with(".dist-info") && f == file)
    })?;
    let mut s = String::new();
    zip.by_name(&name).ok()?.read_to_string(&mut s).ok()?;
    Some(s)
}

/// Requirements a wheel declares for one of its extras (`Requires-Dist: x; extra == "cuda"`).
pub(crate) fn requirements_for_extras(wheel: &Path, extras: &[&str]) -> Result<Vec<String>> {
    let file = File::open(wheel).map_err(|e| EngineError::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        EngineError::Install(format!("{}: not a wheel (zip): {e}", wheel.display()))
    })?;
    let meta = read_dist_info(&mut zip, "METADATA").ok_or_else(|| {
        EngineError::Install(format!("{}: the wheel has no METADATA", wheel.display()))
    })?;
    Ok(meta
        .lines()
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        .filter_map(|r| {
            let (req, marker) = r.split_once(';')?;
            let marker = marker.replace(' ', "").replace('\'', "\"");
            extras
                .iter()
                .any(|e| marker.contains(&format!("extra==\"{e}\"")))
                .then(|| req.trim().replace(' ', ""))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wheel_names() {
        let w = WheelName::parse(
            "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        )
        .unwrap();
        assert_eq!(w.name, "onnxruntime_gpu");
        assert_eq!(w.version, "1.31.1");
        assert!(WheelName::parse("onnxruntime-1.31.1.tar.gz").is_none());
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn platform_tags() {
        assert!(platform_tag_fits("manylinux_2_28_x86_64"));
        assert!(!platform_tag_fits("manylinux_2_28_aarch64"));
        assert!(!platform_tag_fits("win_amd64"));
        assert!(!platform_tag_fits("any"));
    }
}
