//! Verifying a release where it lies in a registry, and pulling one into a folder, in two
//! steps: [`open`] reads the manifest and verifies the signature referrer against the trusted
//! keys, and checks that the layers are exactly the signed files (nothing fetched yet, so a
//! caller can refuse a release cheaply); [`Opened::fetch`] then streams every layer, hashing
//! as it goes, into a folder or nowhere. Nothing is trusted before it is checked, nothing is
//! held in memory whole, and every read is capped.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use futures_util::StreamExt;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::Serialize;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::{
    layout::{self, MODEL_ARTIFACT_TYPE, MODEL_CONFIG_MEDIA_TYPE},
    reference::OciReference,
    referrers,
    registry::{Registry, RegistryOptions},
};
use crate::{
    SignedStatement,
    error::{ReleaseError, Result},
    keys::PublicKey,
    manifest,
    signing::{self, Trust, Verified},
};

/// Bytes checked so far and the release's size.
pub type PullProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What `assay verify oci://…` proves (and a gateway's pull reports).
#[derive(Debug, Clone, Serialize)]
pub struct OciVerified {
    /// The reference as given, and pinned to the manifest digest that was verified.
    pub reference: String,
    pub pinned: String,
    pub digest: String,
    /// The signature check: key, files, bytes, root digest, release metadata.
    #[serde(flatten)]
    pub verified: Verified,
    /// Signature referrers found (one of them verified).
    pub signatures: usize,
    /// Bytes fetched from the registry, and files taken from the local blob store instead.
    pub bytes_fetched: u64,
    pub files_reused: usize,
    pub seconds: f64,
    /// The bundle that verified, byte for byte (a gateway keeps it with the release).
    #[serde(skip)]
    pub bundle: Vec<u8>,
}

/// Where pulled files go: the layer's file path under `dest`, written to `*.partial` and
/// renamed once its bytes are checked.
pub struct PullTo<'a> {
    pub dest: &'a Path,
    /// A content-addressed store (`<hex sha256>` files) shared between versions: a file found
    /// there (and re-hashed) is hard-linked instead of fetched, and a fetched one is linked in.
    pub blobs: Option<&'a Path>,
}

/// A release whose signature verified and whose layers are the signed files; not fetched.
pub struct Opened {
    reg: Registry,
    reference: OciReference,
    pinned: OciReference,
    digest: String,
    manifest: OciImageManifest,
    statement: SignedStatement,
    key: PublicKey,
    bundle: Vec<u8>,
    signatures: usize,
    total: u64,
    started: Instant,
}

fn not_a_release(reference: &OciReference, why: impl Into<String>) -> ReleaseError {
    ReleaseError::NotARelease {
        reference: reference.to_string(),
        why: why.into(),
    }
}

/// Reads `reference`'s manifest (capped), verifies a signature referrer against `trust`,
/// and checks the layers against the signed file list.
pub async fn open(
    reference: &OciReference,
    opts: &RegistryOptions,
    trust: &Trust,
) -> Result<Opened> {
    let started = Instant::now();
    let reg = Registry::connect(reference, opts, false).await?;
    let (raw, digest) = reg.manifest(reference).await?;
    let manifest: OciImageManifest = serde_json::from_slice(&raw)
        .map_err(|e| not_a_release(reference, format!("its manifest is unreadable: {e}")))?;
    if manifest.artifact_type.as_deref() != Some(MODEL_ARTIFACT_TYPE)
        && manifest.config.media_type != MODEL_CONFIG_MEDIA_TYPE
    {
        return Err(not_a_release(
            reference,
            format!(
                "its artifact type is {}, not a ModelPack model ({MODEL_ARTIFACT_TYPE})",
                manifest
                    .artifact_type
                    .as_deref()
                    .unwrap_or(&manifest.config.media_type)
            ),
        ));
    }
    let pinned = reference.with_digest(&digest);

    let bundles = referrers::bundles(&reg, reference, &digest).await?;
    if bundles.is_empty() {
        return Err(ReleaseError::NoSignature {
            reference: reference.to_string(),
        });
    }
    let mut first_err = None;
    let mut accepted = None;
    for b in &bundles {
        match signing::verify_signature(b, trust) {
            Ok((stmt, key)) => {
                accepted = Some((stmt, key, b.clone()));
                break;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let Some((statement, key, bundle)) = accepted else {
        return Err(first_err.expect("at least one bundle was tried"));
    };

    // The manifest must list exactly the signed files, each with its signed digest, and
    // sizes that add up (the signature covers digests, not sizes: the caller caps the sum).
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    for layer in &manifest.layers {
        let name = layout::layer_path(layer).ok_or_else(|| ReleaseError::ExtraFile {
            file: format!("a layer with no file path ({})", layer.digest),
        })?;
        manifest::check_name(name)?;
        let Some(want) = statement.manifest.files.get(name) else {
            return Err(ReleaseError::ExtraFile { file: name.into() });
        };
        if layer.digest != layout::oci_digest(want) {
            return Err(ReleaseError::DigestMismatch { file: name.into() });
        }
        if !seen.insert(name.to_string()) {
            return Err(ReleaseError::ExtraFile {
                file: format!("{name} (listed twice)"),
            });
        }
        total = u64::try_from(layer.size)
            .ok()
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| {
                not_a_release(reference, format!("layer {name} has size {}", layer.size))
            })?;
    }
    if let Some(missing) = statement.manifest.files.keys().find(|n| !seen.contains(*n)) {
        return Err(ReleaseError::MissingFile {
            file: missing.clone(),
        });
    }
    Ok(Opened {
        reg,
        reference: reference.clone(),
        pinned,
        digest,
        manifest,
        statement,
        key,
        bundle,
        signatures: bundles.len(),
        total,
        started,
    })
}

impl Opened {
    /// The verified statement: the signed files and Assay's release metadata.
    pub fn statement(&self) -> &SignedStatement {
        &self.statement
    }

    /// The release's size as its manifest declares it (what [`Opened::fetch`] will accept).
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Streams and re-hashes every layer, into `into` when given.
    pub async fn fetch(
        self,
        into: Option<PullTo<'_>>,
        progress: Option<PullProgressFn>,
    ) -> Result<OciVerified> {
        let total = self.total;
        let mut done = 0u64;
        let (mut files_reused, mut reused_bytes) = (0, 0u64);
        for layer in &self.manifest.layers {
            let name = layout::layer_path(layer).expect("checked by open");
            let out = into.as_ref().map(|p| p.dest.join(name));
            let blobs = into.as_ref().and_then(|p| p.blobs);
            if let (Some(out), Some(blobs)) = (&out, blobs)
                && reuse(blobs, layer, out)?
            {
                files_reused += 1;
                reused_bytes += layer.size as u64;
                done += layer.size as u64;
                if let Some(p) = &progress {
                    p(done, total);
                }
                continue;
            }
            fetch_layer(
                &self.reg,
                &self.pinned,
                layer,
                name,
                out.as_deref(),
                &mut done,
                total,
                &progress,
            )
            .await?;
            if let (Some(out), Some(blobs)) = (&out, blobs) {
                share(blobs, layer, out)?;
            }
        }
        Ok(OciVerified {
            reference: self.reference.to_string(),
            pinned: self.pinned.to_string(),
            digest: self.digest,
            verified: Verified {
                key_hint: self.key.hint(),
                files: self.manifest.layers.len(),
                bytes: total,
                root_digest: hex::encode(self.statement.manifest.root_digest()),
                release: self.statement.assay,
            },
            signatures: self.signatures,
            bytes_fetched: total - reused_bytes,
            files_reused,
            seconds: self.started.elapsed().as_secs_f64(),
            bundle: self.bundle,
        })
    }
}

/// Verifies `reference` against `trust` in the registry, and with `into` writes the checked
/// files there: [`open`], then [`Opened::fetch`].
pub async fn verify(
    reference: &OciReference,
    opts: &RegistryOptions,
    trust: &Trust,
    into: Option<PullTo<'_>>,
    progress: Option<PullProgressFn>,
) -> Result<OciVerified> {
    open(reference, opts, trust)
        .await?
        .fetch(into, progress)
        .await
}

/// Streams one layer, hashing as it goes, into `out` (when pulling). The size is capped at
/// the manifest's: a registry that sends more is cut off, not buffered.
#[allow(clippy::too_many_arguments)]
async fn fetch_layer(
    reg: &Registry,
    at: &OciReference,
    layer: &OciDescriptor,
    name: &str,
    out: Option<&Path>,
    done: &mut u64,
    total: u64,
    progress: &Option<PullProgressFn>,
) -> Result<()> {
    let mismatch = || ReleaseError::DigestMismatch { file: name.into() };
    let mut stream = reg
        .client
        .pull_blob_stream(&at.client_ref(), layer)
        .await
        .map_err(|e| reg.error(&format!("{at} ({name})"), e))?;
    let mut file = match out {
        Some(path) => {
            let partial = partial_path(path);
            if let Some(parent) = partial.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| ReleaseError::io(parent, e))?;
            }
            let f = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| ReleaseError::io(&partial, e))?;
            Some((f, partial, path))
        }
        None => None,
    };
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            // oci-client's own check at the end of the stream: the bytes are not the digest.
            if e.get_ref()
                .is_some_and(|i| i.is::<oci_client::errors::DigestError>())
            {
                mismatch()
            } else {
                ReleaseError::Registry {
                    reference: format!("{at} ({name})"),
                    message: e.to_string(),
                }
            }
        })?;
        got += chunk.len() as u64;
        if got > layer.size as u64 {
            return Err(mismatch());
        }
        hasher.update(&chunk);
        if let Some((f, partial, _)) = &mut file {
            f.write_all(&chunk)
                .await
                .map_err(|e| ReleaseError::io(partial.as_path(), e))?;
        }
        *done += chunk.len() as u64;
        if let Some(p) = progress {
            p(*done, total);
        }
    }
    if got != layer.size as u64 || layout::oci_digest(&hasher.finalize()) != layer.digest {
        return Err(mismatch());
    }
    if let Some((mut f, partial, path)) = file {
        f.flush().await.map_err(|e| ReleaseError::io(&partial, e))?;
        f.sync_all()
            .await
            .map_err(|e| ReleaseError::io(&partial, e))?;
        drop(f);
        tokio::fs::rename(&partial, path)
            .await
            .map_err(|e| ReleaseError::io(path, e))?;
    }
    Ok(())
}

fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn blob_path(blobs: &Path, layer: &OciDescriptor) -> PathBuf {
    blobs.join(layer.digest.trim_start_matches("sha256:"))
}

/// The sha256 of a file on disk, in OCI's form.
fn file_digest(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(layout::oci_digest(&h.finalize()))
}

/// Links a file the store already holds into place, once it re-hashes to the layer's digest;
/// false when the store has no such file (a damaged one is removed, and the layer fetched).
fn reuse(blobs: &Path, layer: &OciDescriptor, out: &Path) -> Result<bool> {
    let src = blob_path(blobs, layer);
    match std::fs::metadata(&src) {
        Ok(m) if m.len() == layer.size as u64 => {}
        Ok(_) => {
            let _ = std::fs::remove_file(&src);
            return Ok(false);
        }
        Err(_) => return Ok(false),
    }
    if file_digest(&src).as_deref() != Some(layer.digest.as_str()) {
        let _ = std::fs::remove_file(&src);
        return Ok(false);
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ReleaseError::io(parent, e))?;
    }
    let _ = std::fs::remove_file(out);
    if std::fs::hard_link(&src, out).is_err() {
        std::fs::copy(&src, out).map_err(|e| ReleaseError::io(out, e))?;
    }
    Ok(true)
}

/// Adds a checked file to the store, so the next version that has it links it.
fn share(blobs: &Path, layer: &OciDescriptor, out: &Path) -> Result<()> {
    std::fs::create_dir_all(blobs).map_err(|e| ReleaseError::io(blobs, e))?;
    let dst = blob_path(blobs, layer);
    // Sharing is an optimisation: another file system, or a blob another pull just linked,
    // only means no new link.
    let _ = std::fs::hard_link(out, &dst);
    Ok(())
}
