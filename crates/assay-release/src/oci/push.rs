//! `assay push DIR --signature SIG oci://…`: a signed release folder into a registry.
//!
//! Only the files the signature names are pushed, each as its own uncompressed layer whose
//! digest is the signed one, so a registry (and anyone pulling) checks every file against
//! the signature without unpacking anything. A blob the registry already holds is not sent
//! again: a new version that changes one file uploads that file, and an interrupted push
//! resumes inside the blob it was sending ([`super::upload`]).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use serde::Serialize;

use super::{
    layout::{self, MODEL_CONFIG_MEDIA_TYPE},
    reference::OciReference,
    referrers::{self, ReferrersMode},
    registry::{Registry, RegistryOptions},
    upload::BlobUpload,
};
use crate::{
    error::{ReleaseError, Result},
    metadata::ReleaseMetadata,
    release::RELEASE_FILE,
    signing,
};

/// Bytes sent so far and bytes to send in all (blobs the registry lacks).
pub type PushProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What `assay push … oci://` did (and prints with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct OciPushed {
    /// The reference pushed, with its tag.
    pub reference: String,
    /// The release manifest's digest: pin it with `oci://…@DIGEST`.
    pub digest: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub files: usize,
    /// The release's size.
    pub bytes: u64,
    /// Blobs and bytes actually uploaded.
    pub blobs_sent: usize,
    pub bytes_sent: u64,
    /// Blobs the registry already held (an earlier version, an interrupted push).
    pub blobs_present: usize,
    /// Bytes of interrupted uploads the registry already held, and so were not sent again.
    pub bytes_resumed: u64,
    /// The signature referrer's digest, and how the registry lists referrers.
    pub signature_digest: String,
    pub referrers: ReferrersMode,
    pub seconds: f64,
}

/// Pushes the release in `dir`, signed by the bundle at `signature`, to `target`. The tag
/// is `target`'s, else the release's version. Once `stop` is set (Ctrl-C), the push ends
/// after the chunk in flight with [`ReleaseError::Interrupted`], and the same push run again
/// continues from there.
pub async fn push(
    dir: &Path,
    signature: &Path,
    target: &OciReference,
    opts: &RegistryOptions,
    progress: Option<PushProgressFn>,
    stop: Option<&AtomicBool>,
) -> Result<OciPushed> {
    let started = Instant::now();
    let bundle = std::fs::read(signature).map_err(|e| ReleaseError::io(signature, e))?;
    // What to push comes from the signature; the registry, and every puller, verifies it.
    let stmt = signing::read_unverified(&bundle)?;
    let meta = match stmt.assay.clone() {
        Some(m) => Some(m),
        None => read_metadata(dir)?,
    };
    let tag = match (&target.tag, &meta) {
        (Some(t), _) => t.clone(),
        (None, Some(m)) => m.version.clone(),
        (None, None) => {
            return Err(ReleaseError::Invalid {
                what: "registry reference",
                message: format!(
                    "{target} names no tag, and the release has no {RELEASE_FILE} to take its version from"
                ),
            });
        }
    };
    if target.digest.is_some() {
        return Err(ReleaseError::Invalid {
            what: "registry reference",
            message: format!("{target}: push to a tag, not a digest"),
        });
    }
    let target = target.with_tag(&tag);

    let mut layers = Vec::new();
    for (name, digest) in &stmt.manifest.files {
        let path = dir.join(name);
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) | Err(_) => return Err(ReleaseError::MissingFile { file: name.clone() }),
        };
        layers.push((path, name.clone(), layout::file_layer(name, digest, size)));
    }

    let reg = Registry::connect(&target, opts, true).await?;
    let repo = target.client_ref();
    let mut missing = Vec::new();
    for (path, name, layer) in &layers {
        let have = reg
            .client
            .blob_exists(&repo, &layer.digest)
            .await
            .map_err(|e| reg.error(&format!("{target} ({name})"), e))?;
        if have {
            reg.upload_done(&target, &layer.digest);
        } else {
            let blob = BlobUpload {
                path,
                name,
                digest: &layer.digest,
                size: layer.size as u64,
            };
            let at = reg.upload_resume_point(&target, &blob).await;
            missing.push((blob, at));
        }
    }
    let to_send: u64 = missing.iter().map(|(b, at)| b.size - at).sum();
    let resumed: u64 = missing.iter().map(|(_, at)| at).sum();
    let sent = AtomicU64::new(0);
    let on_chunk = |n: u64| {
        let now = sent.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(p) = &progress {
            p(now, to_send);
        }
    };
    let stopped = || stop.is_some_and(|s| s.load(Ordering::Relaxed));
    for (blob, _) in &missing {
        if !reg.upload(&target, blob, &on_chunk, &stopped).await? {
            return Err(ReleaseError::Interrupted {
                what: target.to_string(),
                done: sent.load(Ordering::Relaxed) + resumed,
                total: resumed + to_send,
            });
        }
    }

    let descriptors: Vec<_> = layers.iter().map(|(_, _, l)| l.clone()).collect();
    let config_doc = serde_json::to_vec(&layout::model_config(meta.as_ref(), &descriptors))
        .expect("the config serializes");
    let config = layout::blob_descriptor(MODEL_CONFIG_MEDIA_TYPE, &config_doc);
    if !reg
        .client
        .blob_exists(&repo, &config.digest)
        .await
        .map_err(|e| reg.error(&format!("{target} (config)"), e))?
    {
        reg.client
            .push_blob(&repo, config_doc, &config.digest)
            .await
            .map_err(|e| reg.error(&format!("{target} (config)"), e))?;
    }
    let manifest = layout::release_manifest(config, descriptors, meta.as_ref());
    let manifest_doc = serde_json::to_vec(&manifest).expect("the manifest serializes");
    let subject = layout::blob_descriptor(OCI_IMAGE_MEDIA_TYPE, &manifest_doc);
    reg.client
        .push_manifest_raw(
            &repo,
            manifest_doc,
            OCI_IMAGE_MEDIA_TYPE.parse().expect("a valid header"),
        )
        .await
        .map_err(|e| reg.error(&target.to_string(), e))?;
    let (signature_digest, mode) =
        referrers::attach(&reg, &target, subject.clone(), &bundle).await?;

    Ok(OciPushed {
        reference: target.to_string(),
        digest: subject.digest,
        name: meta.as_ref().map(|m| m.name.clone()),
        version: meta.as_ref().map(|m| m.version.clone()),
        files: layers.len(),
        bytes: layers.iter().map(|(_, _, l)| l.size as u64).sum(),
        blobs_sent: missing.len(),
        bytes_sent: sent.load(Ordering::Relaxed),
        blobs_present: layers.len() - missing.len(),
        bytes_resumed: resumed,
        signature_digest,
        referrers: mode,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn read_metadata(dir: &Path) -> Result<Option<ReleaseMetadata>> {
    let p = dir.join(RELEASE_FILE);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ReleaseError::Invalid {
                what: "release metadata",
                message: format!("{}: {e}", p.display()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReleaseError::io(p, e)),
    }
}
