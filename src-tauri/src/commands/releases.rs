//! The Releases view: release folders made by the console, and verification. Creating and
//! signing run in the worker (`start_job`), since both read the whole model.

use std::path::Path;

use assay_release::{
    keystore::KeyStore, metadata::ReleaseMetadata, release::RELEASE_FILE, signing,
};
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
    pub metadata: ReleaseMetadata,
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
            // A folder without readable metadata is not a release (a half-made one, or
            // someone else's folder): it is left out of the list.
            let meta =
                ReleaseMetadata::from_json(&std::fs::read(dir.join(RELEASE_FILE)).ok()?).ok()?;
            let d = dir.display().to_string();
            let sig = signature_of(&d);
            let modified = e.metadata().and_then(|m| m.modified()).ok()?;
            Some((
                modified,
                ReleaseView {
                    name: meta.name.clone(),
                    version: meta.version.clone(),
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

/// `verify_release`: model_signing's order against a key from the key store, then a full
/// re-hash of the folder.
#[tauri::command]
pub async fn verify_release(
    dir: String,
    signature: String,
    key: String,
) -> Result<signing::Verified, UiError> {
    blocking(move || {
        let ks = KeyStore::open(KeyStore::default_dir()?);
        let trust = signing::Trust::Key(ks.public(&key)?);
        Ok(signing::verify(
            Path::new(&dir),
            Path::new(&signature),
            &trust,
            None,
        )?)
    })
    .await
}
