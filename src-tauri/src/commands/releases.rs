//! The Releases view: release folders made by the console, and verification. Creating and
//! signing run in the worker (`start_job`), since both read the whole model.

use std::path::Path;

use assay_release::{keystore::KeyStore, signing};
use serde::Serialize;

use super::blocking;
use crate::{data::DataDirs, error::UiError, job::signature_of};

/// A release folder under the app data dir.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ReleaseView {
    pub dir: String,
    pub name: String,
    pub version: String,
    /// The signature next to the folder, when it is signed.
    pub signature: Option<String>,
    /// `assay-release.json` as signed (its shape is the release format's, docs/RELEASES.md).
    #[ts(type = "Record<string, unknown>")]
    pub metadata: serde_json::Value,
}

/// `list_releases`: the console's release folders, newest first.
#[tauri::command]
pub fn list_releases<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
) -> Result<Vec<ReleaseView>, UiError> {
    let dirs = DataDirs::of(&app)?;
    let Ok(entries) = std::fs::read_dir(&dirs.releases) else {
        return Ok(Vec::new());
    };
    let mut list: Vec<(std::time::SystemTime, ReleaseView)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let dir = e.path();
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("assay-release.json")).ok()?)
                    .ok()?;
            let d = dir.display().to_string();
            let sig = signature_of(&d);
            let modified = e.metadata().and_then(|m| m.modified()).ok()?;
            Some((
                modified,
                ReleaseView {
                    name: meta["name"].as_str().unwrap_or("").into(),
                    version: meta["version"].as_str().unwrap_or("").into(),
                    signature: sig.is_file().then(|| sig.display().to_string()),
                    dir: d,
                    metadata: meta,
                },
            ))
        })
        .collect();
    list.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(list.into_iter().map(|(_, r)| r).collect())
}

/// What a verification proved.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct VerifiedView {
    pub key_hint: String,
    pub files: usize,
    pub bytes: u64,
    pub root_digest: String,
}

/// `verify_release`: model_signing's order against a key from the key store, then a full
/// re-hash of the folder.
#[tauri::command]
pub async fn verify_release(
    dir: String,
    signature: String,
    key: String,
) -> Result<VerifiedView, UiError> {
    blocking(move || {
        let ks = KeyStore::open(KeyStore::default_dir()?);
        let trust = signing::Trust::Key(ks.public(&key)?);
        let v = signing::verify(Path::new(&dir), Path::new(&signature), &trust, None)?;
        Ok(VerifiedView {
            key_hint: v.key_hint,
            files: v.files,
            bytes: v.bytes,
            root_digest: v.root_digest,
        })
    })
    .await
}
