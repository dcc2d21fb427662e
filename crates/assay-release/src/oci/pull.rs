//! Verifying a release where it lies in a registry, and pulling one into a folder, in two
//! steps: [`open`] reads the manifest and verifies the signature referrer against the trusted
//! keys, and checks that the layers are exactly the signed files (nothing fetched yet, so a
//! caller can refuse a release cheaply); [`Opened::fetch`] then streams every layer, hashing
//! as it goes, into a folder or nowhere. Nothing is trusted before it is checked, nothing is
//! held in memory whole, and every read is capped.

use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use futures_util::{StreamExt, TryStreamExt};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::Serialize;
use sha2::Digest;

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

/// Layers fetched at once: a sharded model's shards are hashed on every core.
const PARALLEL_LAYERS: usize = 4;

/// Adds checked bytes to the pull's progress.
type Counter = Arc<dyn Fn(u64) + Send + Sync>;

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

    /// Streams and re-hashes every layer, into `into` when given: up to
    /// [`PARALLEL_LAYERS`] at once, each hashed and written on a blocking thread of its own,
    /// so a sharded model is checked on every core.
    pub async fn fetch(
        self,
        into: Option<PullTo<'_>>,
        progress: Option<PullProgressFn>,
    ) -> Result<OciVerified> {
        let total = self.total;
        let done = Arc::new(AtomicU64::new(0));
        let counter: Counter = {
            let done = done.clone();
            Arc::new(move |n: u64| {
                let now = done.fetch_add(n, Ordering::Relaxed) + n;
                if let Some(p) = &progress {
                    p(now, total);
                }
            })
        };
        // By index: a closure over `&OciDescriptor` would not be general enough for the
        // gateway's `Send` futures.
        let this = &self;
        let layers = &self.manifest.layers;
        let reused: Vec<usize> = futures_util::stream::iter(0..layers.len())
            .map(|i| {
                let counter = counter.clone();
                let into = into.as_ref();
                async move {
                    let reused = this.fetch_one(&layers[i], into, counter).await?;
                    Ok::<_, ReleaseError>(reused.then_some(i))
                }
            })
            .buffer_unordered(PARALLEL_LAYERS)
            .try_filter_map(|i| async move { Ok(i) })
            .try_collect()
            .await?;
        let files_reused = reused.len();
        let reused_bytes: u64 = reused.iter().map(|&i| layers[i].size as u64).sum();
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

    /// One layer: linked from the blob store when it holds it (re-hashed), else fetched.
    /// True when it was reused.
    async fn fetch_one(
        &self,
        layer: &OciDescriptor,
        into: Option<&PullTo<'_>>,
        counter: Counter,
    ) -> Result<bool> {
        let name = layout::layer_path(layer).expect("checked by open");
        let out = into.map(|p| p.dest.join(name));
        let blobs = into.and_then(|p| p.blobs).map(Path::to_path_buf);
        if let (Some(out), Some(blobs)) = (&out, &blobs) {
            let (o, b, l) = (out.clone(), blobs.clone(), layer.clone());
            if blocking(move || reuse(&b, &l, &o)).await? {
                counter(layer.size as u64);
                return Ok(true);
            }
        }
        fetch_layer(
            &self.reg,
            &self.pinned,
            layer,
            name,
            out.as_deref(),
            counter,
        )
        .await?;
        if let (Some(out), Some(blobs)) = (&out, &blobs) {
            share(blobs, layer, out)?;
        }
        Ok(false)
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

/// Streams one layer into a blocking thread that hashes it and writes it to `out` (when
/// pulling). The size is capped at the manifest's: a registry that sends more is cut off,
/// not buffered, and at most a few chunks wait between the two sides.
async fn fetch_layer(
    reg: &Registry,
    at: &OciReference,
    layer: &OciDescriptor,
    name: &str,
    out: Option<&Path>,
    counter: Counter,
) -> Result<()> {
    let what = format!("{at} ({name})");
    let size = layer.size as u64;
    let resp = reg.blob(at, &layer.digest, &what).await?;
    let file = match out {
        Some(path) => {
            let partial = partial_path(path);
            if let Some(parent) = partial.parent() {
                std::fs::create_dir_all(parent).map_err(|e| ReleaseError::io(parent, e))?;
            }
            let f = std::fs::File::create(&partial).map_err(|e| ReleaseError::io(&partial, e))?;
            Some((f, partial, path.to_path_buf()))
        }
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let (digest, file_name) = (layer.digest.clone(), name.to_string());
    let sink = blocking(move || {
        let mismatch = || ReleaseError::DigestMismatch {
            file: file_name.clone(),
        };
        let mut file = file;
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            got += chunk.len() as u64;
            hasher.update(&chunk);
            if let Some((f, partial, _)) = &mut file {
                f.write_all(&chunk)
                    .map_err(|e| ReleaseError::io(partial.as_path(), e))?;
            }
            counter(chunk.len() as u64);
        }
        if got != size || layout::oci_digest(&hasher.finalize()) != digest {
            return Err(mismatch());
        }
        if let Some((f, partial, path)) = file {
            f.sync_all().map_err(|e| ReleaseError::io(&partial, e))?;
            drop(f);
            std::fs::rename(&partial, &path).map_err(|e| ReleaseError::io(&path, e))?;
        }
        Ok(())
    });
    let pump = async {
        let mut stream = resp.bytes_stream();
        let mut got = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ReleaseError::Registry {
                reference: what.clone(),
                message: e.to_string(),
            })?;
            got += chunk.len() as u64;
            if got > size {
                return Err(ReleaseError::DigestMismatch { file: name.into() });
            }
            if tx.send(chunk).await.is_err() {
                // The sink stopped (a write failed): its error says why.
                break;
            }
        }
        Ok(())
    };
    let pumped = pump.await;
    drop(tx);
    let sunk = sink.await;
    pumped?;
    sunk
}

/// Runs blocking work (hashing, file IO) off the async threads. Started at once, not when
/// first awaited: a layer's sink must run while its stream is pumped into it.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> impl std::future::Future<Output = Result<T>> {
    let task = tokio::task::spawn_blocking(f);
    async move {
        match task.await {
            Ok(r) => r,
            // A panic is a bug, and stays one; otherwise the runtime is shutting down.
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(ReleaseError::Io {
                    path: PathBuf::from("(pull)"),
                    source: std::io::Error::other(e.to_string()),
                }),
            },
        }
    }
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
