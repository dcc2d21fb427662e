//! The signed view of a release folder: every regular file's SHA-256, by its path relative
//! to the folder (`/`-separated), sorted, plus the root digest over them.
//!
//! Files are streamed (1 MiB at a time per thread) and hashed on all cores. Signing may
//! reuse digests from a cache keyed by (path, size, mtime, inode); verification always
//! re-hashes.

use std::{
    collections::BTreeMap,
    path::{Component, Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use sha2::{Digest, Sha256};

use crate::{
    cache::DigestCache,
    error::{ReleaseError, Result},
};

/// Paths model_signing leaves out by default (relative to the folder).
pub const DEFAULT_IGNORES: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// The longest resource name accepted from a bundle.
const MAX_NAME: usize = 4096;

/// File name → SHA-256, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    pub files: BTreeMap<String, [u8; 32]>,
}

impl Manifest {
    /// SHA-256 over the raw 32-byte file digests in name order.
    pub fn root_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for d in self.files.values() {
            h.update(d);
        }
        h.finalize().into()
    }
}

/// How to hash a folder.
pub struct HashOptions<'a> {
    /// Extra relative paths to skip (the signature file when it is inside the folder, the
    /// `ignore_paths` of a bundle being verified).
    pub ignore: Vec<String>,
    pub allow_symlinks: bool,
    pub cache: Option<&'a DigestCache>,
    /// Called with (bytes hashed, bytes in total) as hashing goes.
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

impl Default for HashOptions<'_> {
    fn default() -> Self {
        HashOptions {
            ignore: DEFAULT_IGNORES.iter().map(|s| s.to_string()).collect(),
            allow_symlinks: false,
            cache: None,
            progress: None,
        }
    }
}

/// Checks a resource name taken from a bundle or the disk: relative, `/`-separated, no `..`,
/// no backslash or NUL, UTF-8, not absurdly long.
pub fn check_name(name: &str) -> Result<()> {
    let hostile = |reason| {
        Err(ReleaseError::HostileName {
            name: name.chars().take(200).collect(),
            reason,
        })
    };
    if name == "." {
        return Ok(());
    }
    if name.is_empty() {
        return hostile("empty name");
    }
    if name.len() > MAX_NAME {
        return hostile("longer than 4096 bytes");
    }
    if name.contains('\0') {
        return hostile("contains NUL");
    }
    if name.contains('\\') {
        return hostile("contains a backslash");
    }
    if name.starts_with('/') || Path::new(name).is_absolute() {
        return hostile("absolute path");
    }
    if name
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return hostile("contains '..', '.' or an empty component");
    }
    Ok(())
}

fn ignored(rel: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|i| {
        let i = i.trim_end_matches('/');
        rel == i || rel.starts_with(&format!("{i}/"))
    })
}

/// Lists the regular files under `root` with their sizes, refusing symlinks (unless
/// allowed) and names that cannot be represented safely.
fn list_files(root: &Path, opts: &HashOptions<'_>) -> Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ReleaseError::io(&dir, e))?;
        for e in entries {
            let e = e.map_err(|e| ReleaseError::io(&dir, e))?;
            let path = e.path();
            let rel_path = path.strip_prefix(root).expect("walk stays under root");
            let rel = match rel_path.to_str() {
                Some(s) => s.replace(std::path::MAIN_SEPARATOR, "/"),
                None => {
                    return Err(ReleaseError::HostileName {
                        name: rel_path.to_string_lossy().into_owned(),
                        reason: "not valid UTF-8",
                    });
                }
            };
            if ignored(&rel, &opts.ignore) {
                continue;
            }
            check_name(&rel)?;
            let meta = std::fs::symlink_metadata(&path).map_err(|e| ReleaseError::io(&path, e))?;
            let ft = meta.file_type();
            let meta = if ft.is_symlink() {
                if !opts.allow_symlinks {
                    return Err(ReleaseError::SymlinkRefused { file: rel });
                }
                std::fs::metadata(&path).map_err(|e| ReleaseError::io(&path, e))?
            } else {
                meta
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push((rel, path, meta.len()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Hashes every file under `root` (or `root` itself when it is a file, named `.`).
pub fn hash_path(root: &Path, opts: &HashOptions<'_>) -> Result<Manifest> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| ReleaseError::io(root, e))?;
    let files = if meta.is_file() {
        vec![(".".to_string(), root.to_path_buf(), meta.len())]
    } else {
        list_files(root, opts)?
    };
    let total: u64 = files.iter().map(|f| f.2).sum();
    let done = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<[u8; 32]>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, path, size)) = files.get(i) else {
                        break;
                    };
                    let r = match opts.cache.and_then(|c| c.get(path)) {
                        Some(d) => {
                            done.fetch_add(*size, Ordering::Relaxed);
                            Ok(d)
                        }
                        None => {
                            hash_file(path, &mut buf, &done, total, opts.progress).inspect(|d| {
                                if let Some(c) = opts.cache {
                                    c.put(path, *d);
                                }
                            })
                        }
                    };
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    if let Some(p) = opts.progress {
                        p(done.load(Ordering::Relaxed), total);
                    }
                }
            });
        }
    });
    let mut manifest = Manifest::default();
    for ((name, _, _), r) in files
        .into_iter()
        .zip(results.into_inner().unwrap_or_else(|p| p.into_inner()))
    {
        manifest
            .files
            .insert(name, r.expect("every index was taken by a worker")?);
    }
    Ok(manifest)
}

/// Files at least this big are hashed from a memory map (no copy out of the page cache);
/// smaller ones with plain reads.
const MAP_AT_LEAST: u64 = 64 << 20;
/// A mapped file is hashed in windows of this size, each released from the process's
/// resident set once hashed, so memory stays flat whatever the file size.
const WINDOW: usize = 8 << 20;

fn hash_file(
    path: &Path,
    buf: &mut [u8],
    done: &AtomicU64,
    total: u64,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<[u8; 32]> {
    if std::fs::metadata(path)
        .map(|m| m.len() >= MAP_AT_LEAST)
        .unwrap_or(false)
    {
        return hash_mapped(path, done, total, progress);
    }
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| ReleaseError::io(path, e))?;
    let mut h = Sha256::new();
    let mut since = 0u64;
    loop {
        let n = f.read(buf).map_err(|e| ReleaseError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        done.fetch_add(n as u64, Ordering::Relaxed);
        since += n as u64;
        if since >= 64 << 20 {
            since = 0;
            if let Some(p) = progress {
                p(done.load(Ordering::Relaxed), total);
            }
        }
    }
    Ok(h.finalize().into())
}

fn hash_mapped(
    path: &Path,
    done: &AtomicU64,
    total: u64,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<[u8; 32]> {
    use memmap2::{Advice, UncheckedAdvice};
    let f = std::fs::File::open(path).map_err(|e| ReleaseError::io(path, e))?;
    // SAFETY: read-only map of a file we only read; a concurrent truncation by another
    // process would fault, which is the documented risk of hashing a file being rewritten.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| ReleaseError::io(path, e))?;
    let _ = map.advise(Advice::Sequential);
    let mut h = Sha256::new();
    let mut since = 0usize;
    for (k, chunk) in map.chunks(WINDOW).enumerate() {
        h.update(chunk);
        // SAFETY: the window was read and is never touched again; DONTNEED on a shared,
        // read-only file mapping only drops our page-table entries (the page cache stays).
        let _ = unsafe {
            map.unchecked_advise_range(UncheckedAdvice::DontNeed, k * WINDOW, chunk.len())
        };
        done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        since += chunk.len();
        if since >= 64 << 20 {
            since = 0;
            if let Some(p) = progress {
                p(done.load(Ordering::Relaxed), total);
            }
        }
    }
    Ok(h.finalize().into())
}

/// True when `p` stays inside its base (no root, prefix or `..`).
pub fn is_plain_relative(p: &Path) -> bool {
    p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../b",
            "a\\b",
            "a\0b",
            "",
            "a//b",
            "./a",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(check_name(&"x".repeat(5000)).is_err());
        for ok in ["model.onnx", "sub/dir/w.bin", ".", "weird name (1).onnx"] {
            check_name(ok).unwrap();
        }
    }

    #[test]
    fn hashes_sorted_and_ignores_git() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b.bin"), b"bbb").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.bin"), b"aaa").unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), b"x").unwrap();
        let m = hash_path(d.path(), &HashOptions::default()).unwrap();
        let names: Vec<&str> = m.files.keys().map(|s| s.as_str()).collect();
        assert_eq!(names, ["b.bin", "sub/a.bin"]);
        assert_eq!(
            hex::encode(m.files["b.bin"]),
            hex::encode(Sha256::digest(b"bbb"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_by_default() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        assert!(matches!(
            hash_path(d.path(), &HashOptions::default()),
            Err(ReleaseError::SymlinkRefused { .. })
        ));
    }
}
