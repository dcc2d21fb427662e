//! A digest cache for re-signing: (path, size, mtime, inode) → SHA-256. A file whose
//! identity is unchanged is not read again. Verification never uses it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Identity {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
    inode: u64,
}

fn identity(path: &Path) -> Option<Identity> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime_ns = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos() as i128;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Identity {
        path: std::fs::canonicalize(path).ok()?,
        size: meta.len(),
        mtime_ns,
        inode,
    })
}

/// A thread-safe cache, loaded from and saved to one JSON file.
#[derive(Debug, Default)]
pub struct DigestCache {
    file: Option<PathBuf>,
    entries: Mutex<HashMap<String, String>>,
}

impl DigestCache {
    /// `<cache dir>/assay/digests.json`, or an in-memory cache when there is no cache dir.
    pub fn open_default() -> DigestCache {
        let file = dirs::cache_dir().map(|d| d.join("assay").join("digests.json"));
        Self::open(file)
    }

    /// Loads the cache file (a missing or damaged one starts empty).
    pub fn open(file: Option<PathBuf>) -> DigestCache {
        let entries = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        DigestCache {
            file,
            entries: Mutex::new(entries),
        }
    }

    fn key(path: &Path) -> Option<String> {
        serde_json::to_string(&identity(path)?).ok()
    }

    pub(crate) fn get(&self, path: &Path) -> Option<[u8; 32]> {
        let key = Self::key(path)?;
        let hexd = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)?
            .clone();
        hex::decode(hexd).ok()?.try_into().ok()
    }

    pub(crate) fn put(&self, path: &Path, digest: [u8; 32]) {
        if let Some(key) = Self::key(path) {
            self.entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, hex::encode(digest));
        }
    }

    /// Number of cached digests.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the cache file atomically (best effort: a cache that cannot be saved only
    /// costs a re-hash next time).
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let Some(dir) = file.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let json = serde_json::to_vec(&*self.entries.lock().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_default();
        let _ = assay_engine::durable::write(file, &json, assay_engine::durable::Mode::Private);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_misses_the_cache() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("w.bin");
        std::fs::write(&f, b"one").unwrap();
        let cache = DigestCache::open(Some(d.path().join("cache.json")));
        cache.put(&f, [1; 32]);
        assert_eq!(cache.get(&f), Some([1; 32]));
        cache.save();
        assert_eq!(
            DigestCache::open(Some(d.path().join("cache.json"))).get(&f),
            Some([1; 32]),
            "persisted"
        );
        std::fs::write(&f, b"three").unwrap();
        assert_eq!(cache.get(&f), None, "size or mtime changed");
    }
}
