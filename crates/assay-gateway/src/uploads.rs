//! Receiving a release: a resumable upload under `uploads/<id>/`, verified in full before
//! it moves to `releases/<model>/<version>/` and is listed. See `assay_release::remote` for
//! the client's side.
//!
//! What is refused before a byte is stored: a bundle that does not verify against the
//! trusted keys, a release without signed Assay metadata, a file list that differs from the
//! signed manifest, hostile names, and sizes over the limit. While uploading: writes at the
//! wrong offset and bytes past a file's declared size. At commit: anything the full re-hash
//! finds (changed, missing or extra files); the upload is then deleted.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex},
};

use assay_engine::durable;
use assay_release::{
    manifest,
    release::{check_release_name, check_semver},
    remote::{FileProgress, UploadRequest, UploadStatus},
    signing::{self, Trust},
};
use axum::body::Body;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{audit::AuditLog, error::GatewayError, registry::Registry, state::ReleaseRecord};

pub(crate) const BUNDLE: &str = "bundle.sigstore.json";
const META: &str = "upload.json";
pub(crate) const FILES: &str = "files";
const UPLOAD_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// What the gateway remembers about an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadMeta {
    name: String,
    version: String,
    files: Vec<assay_release::remote::FileDecl>,
}

fn refused(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Refused(e.to_string())
}

/// Uploads in progress, under the data folder's `uploads/`.
pub struct Uploads {
    registry: Arc<Registry>,
    trust: Arc<Trust>,
    audit: Arc<AuditLog>,
    max_release_bytes: u64,
    /// One writer per file of an upload.
    writing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn read_meta(dir: &std::path::Path) -> Result<UploadMeta, GatewayError> {
    let bytes = std::fs::read(dir.join(META))
        .map_err(|e| GatewayError::internal("reading the upload", e))?;
    serde_json::from_slice(&bytes).map_err(|e| GatewayError::internal("reading the upload", e))
}

fn status_of(id: &str, dir: &std::path::Path, meta: &UploadMeta) -> UploadStatus {
    UploadStatus {
        upload: id.to_string(),
        name: meta.name.clone(),
        version: meta.version.clone(),
        exists: false,
        files: meta
            .files
            .iter()
            .map(|f| FileProgress {
                path: f.path.clone(),
                size: f.size,
                received: std::fs::metadata(dir.join(FILES).join(&f.path)).map_or(0, |m| m.len()),
            })
            .collect(),
    }
}

impl Uploads {
    pub fn new(
        registry: Arc<Registry>,
        trust: Arc<Trust>,
        audit: Arc<AuditLog>,
        max_release_bytes: u64,
    ) -> Uploads {
        Uploads {
            registry,
            trust,
            audit,
            max_release_bytes,
            writing: Mutex::new(HashMap::new()),
        }
    }

    fn upload_dir(&self, id: &str) -> Result<PathBuf, GatewayError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GatewayError::NotFound(format!("no upload '{id}'")));
        }
        let dir = self.registry.layout.uploads().join(id);
        if dir.join(META).is_file() {
            Ok(dir)
        } else {
            Err(GatewayError::NotFound(format!("no upload '{id}'")))
        }
    }

    /// `POST /admin/v1/uploads`: checks the bundle and the file list, and opens (or finds) the
    /// upload.
    pub async fn create(
        &self,
        req: UploadRequest,
        actor: &str,
    ) -> Result<UploadStatus, GatewayError> {
        let bundle = req.bundle.get().as_bytes().to_vec();
        let (statement, key) = signing::verify_signature(&bundle, &self.trust).map_err(|e| {
            self.audit
                .record(actor, "push", None, None, Err(&e.to_string()));
            refused(e)
        })?;
        let meta = statement.assay.as_ref().ok_or_else(|| {
        refused(
            "the bundle carries no assay-release.json; create releases with `assay release create`",
        )
    })?;
        let name = meta.name.clone();
        let version = meta.version.clone();
        check_release_name(&name).map_err(refused)?;
        check_semver(&version).map_err(refused)?;
        let signed: BTreeSet<&str> = statement
            .manifest
            .files
            .keys()
            .map(String::as_str)
            .collect();
        let mut declared = BTreeSet::new();
        for f in &req.files {
            manifest::check_name(&f.path).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
            if f.path == "." {
                return Err(GatewayError::BadRequest(
                    "a release is a folder; single-file signatures cannot be pushed".into(),
                ));
            }
            if !declared.insert(f.path.as_str()) {
                return Err(GatewayError::BadRequest(format!(
                    "{} is listed twice",
                    f.path
                )));
            }
        }
        if let Some(extra) = declared.difference(&signed).next() {
            return Err(refused(format!(
                "extra file: {extra} is not part of the signed release"
            )));
        }
        if let Some(missing) = signed.difference(&declared).next() {
            return Err(refused(format!(
                "missing file: {missing} is part of the signed release but is not in the push"
            )));
        }
        let limit = self.max_release_bytes;
        let total = req
            .files
            .iter()
            .try_fold(0u64, |acc, f| acc.checked_add(f.size));
        match total {
            Some(t) if t <= limit => {}
            Some(t) => {
                return Err(GatewayError::TooLarge(format!(
                    "the release is {t} bytes; this gateway takes at most {limit} (limits.max_release_bytes)"
                )));
            }
            None => {
                return Err(GatewayError::TooLarge(format!(
                    "the declared file sizes overflow; this gateway takes at most {limit} bytes"
                )));
            }
        }
        let total = total.unwrap_or_default();
        let root = hex::encode(statement.manifest.root_digest());
        if let Some(existing) = self
            .registry
            .state()
            .models
            .get(&name)
            .and_then(|m| m.releases.get(&version))
        {
            if existing.root_digest == root {
                return Ok(UploadStatus {
                    upload: String::new(),
                    name,
                    version,
                    exists: true,
                    files: Vec::new(),
                });
            }
            return Err(GatewayError::Conflict(format!(
                "{name} {version} already exists with different contents; versions are immutable, so bump the version"
            )));
        }
        let id = hex::encode(&Sha256::digest(&bundle)[..16]);
        let dir = self.registry.layout.uploads().join(&id);
        let upload = UploadMeta {
            name,
            version,
            files: req.files,
        };
        // The same bundle with another file list (a local file changed size since an interrupted
        // push): the old partial upload is of no use.
        if dir.join(META).is_file()
            && read_meta(&dir)
                .map(|m| m.files != upload.files)
                .unwrap_or(true)
        {
            tracing::info!(upload = %id, "replacing an upload whose file list changed");
            self.release_locks(&id);
            std::fs::remove_dir_all(&dir)
                .map_err(|e| GatewayError::internal("replacing the upload", e))?;
        }
        if !dir.join(META).is_file() {
            let staging = tempfile::Builder::new()
                .prefix(".new-")
                .tempdir_in(self.registry.layout.uploads())
                .map_err(|e| GatewayError::internal("creating the upload", e))?;
            let io = |e| GatewayError::internal("creating the upload", e);
            std::fs::create_dir_all(staging.path().join(FILES)).map_err(io)?;
            durable::write(
                &staging.path().join(BUNDLE),
                &bundle,
                durable::Mode::Private,
            )
            .map_err(io)?;
            durable::write(
                &staging.path().join(META),
                &serde_json::to_vec(&upload).expect("serializes"),
                durable::Mode::Private,
            )
            .map_err(io)?;
            let staged = staging.keep();
            if let Err(e) = std::fs::rename(&staged, &dir) {
                let _ = std::fs::remove_dir_all(&staged);
                if !dir.join(META).is_file() {
                    return Err(io(e));
                }
            }
            durable::sync_dir(&self.registry.layout.uploads()).map_err(io)?;
            tracing::info!(upload = %id, name = %upload.name, version = %upload.version, key = %key.hint(), bytes = total, "upload opened");
        }
        Ok(status_of(&id, &dir, &upload))
    }

    /// `GET /admin/v1/uploads/{id}`.
    pub fn status(&self, id: &str) -> Result<UploadStatus, GatewayError> {
        let dir = self.upload_dir(id)?;
        let meta = read_meta(&dir)?;
        Ok(status_of(id, &dir, &meta))
    }

    /// `PUT /admin/v1/uploads/{id}/files/{path}?offset=N`: appends the body at `offset`, which
    /// must be what the gateway holds. Streams to disk; never more than the declared size.
    pub async fn put_file(
        &self,
        id: &str,
        path: &str,
        offset: u64,
        body: Body,
    ) -> Result<Value, GatewayError> {
        let dir = self.upload_dir(id)?;
        let meta = read_meta(&dir)?;
        let decl = meta.files.iter().find(|f| f.path == path).ok_or_else(|| {
            GatewayError::BadRequest(format!("'{path}' is not a file of this release"))
        })?;
        let lock = {
            let mut map = self.writing.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(format!("{id}/{path}"))
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
                .clone()
        };
        let _busy = lock.try_lock().map_err(|_| {
            GatewayError::Conflict(format!("'{path}' is being uploaded by another request"))
        })?;
        let target = dir.join(FILES).join(path);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| GatewayError::internal("storing the upload", e))?;
        }
        let have = tokio::fs::metadata(&target).await.map_or(0, |m| m.len());
        if offset != have {
            return Err(GatewayError::Conflict(format!(
                "offset {offset} but the gateway holds {have} bytes of '{path}'; resume from {have}"
            )));
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .await
            .map_err(|e| GatewayError::internal("storing the upload", e))?;
        let mut received = have;
        let mut stream = body.into_data_stream();
        let mut too_large = false;
        loop {
            // A connection that went silent (a half-open TCP link) must not hold the file's lock
            // forever: after a minute without data, keep what arrived and let the client resume.
            let next = match tokio::time::timeout(UPLOAD_IDLE, stream.next()).await {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(_) => {
                    tracing::info!(
                        upload = id,
                        path,
                        received,
                        "upload idle for a minute; closing it"
                    );
                    break;
                }
            };
            let chunk = match next {
                Ok(c) => c,
                // The connection dropped: keep what arrived, the client resumes from there.
                Err(e) => {
                    tracing::info!(upload = id, path, received, error = %e, "upload interrupted");
                    break;
                }
            };
            let room = decl.size - received;
            let take = (chunk.len() as u64).min(room) as usize;
            file.write_all(&chunk[..take])
                .await
                .map_err(|e| GatewayError::internal("storing the upload", e))?;
            received += take as u64;
            if take < chunk.len() {
                too_large = true;
                break;
            }
        }
        file.flush()
            .await
            .map_err(|e| GatewayError::internal("storing the upload", e))?;
        file.sync_data()
            .await
            .map_err(|e| GatewayError::internal("storing the upload", e))?;
        if too_large {
            return Err(GatewayError::TooLarge(format!(
                "'{path}' was declared as {} bytes and more were sent; the extra bytes were dropped",
                decl.size
            )));
        }
        Ok(serde_json::json!({"path": path, "received": received, "size": decl.size}))
    }

    /// Forgets the per-file write locks of a finished upload.
    fn release_locks(&self, id: &str) {
        self.writing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !k.starts_with(id));
    }

    /// `POST /admin/v1/uploads/{id}/commit`: verifies everything, moves the release into place
    /// and records it. A release that fails verification is deleted.
    pub async fn commit(
        &self,
        id: &str,
        activate: bool,
        actor: &str,
    ) -> Result<assay_release::views::PushOutcome, GatewayError> {
        let dir = self.upload_dir(id)?;
        let meta = read_meta(&dir)?;
        let st = status_of(id, &dir, &meta);
        let incomplete: Vec<String> = st
            .files
            .iter()
            .filter(|f| f.received != f.size)
            .map(|f| format!("{} ({} of {} bytes)", f.path, f.received, f.size))
            .collect();
        if !incomplete.is_empty() {
            return Err(GatewayError::Conflict(format!(
                "the upload is incomplete: {}",
                incomplete.join(", ")
            )));
        }
        self.release_locks(id);
        let trust = self.trust.clone();
        let (files, bundle) = (dir.join(FILES), dir.join(BUNDLE));
        let verified =
            tokio::task::spawn_blocking(move || signing::verify(&files, &bundle, &trust, None))
                .await
                .map_err(|e| GatewayError::internal("verifying", e))?;
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                let reason = e.to_string();
                self.audit.record(
                    actor,
                    "push",
                    Some(&meta.name),
                    Some(&meta.version),
                    Err(&reason),
                );
                tracing::warn!(upload = id, name = %meta.name, version = %meta.version, "release refused: {reason}");
                return Err(refused(reason));
            }
        };
        self.place(
            &dir,
            &meta.name,
            &meta.version,
            verified,
            activate,
            actor,
            Some(id),
        )
        .await
    }

    /// Moves a verified release folder (`files/` and the bundle) into
    /// `releases/<model>/<version>/` and records it: the one way a release becomes listed,
    /// for pushes and pulls alike. `upload` names the push's upload, which a concurrent
    /// commit may have placed already. The folder is deleted when the release is refused.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn place(
        &self,
        dir: &std::path::Path,
        name: &str,
        version: &str,
        verified: signing::Verified,
        activate: bool,
        actor: &str,
        upload: Option<&str>,
    ) -> Result<assay_release::views::PushOutcome, GatewayError> {
        let Some(release) = verified.release.clone() else {
            let _ = std::fs::remove_dir_all(dir);
            return Err(refused(
                "the release carries no assay-release.json; create releases with `assay release create`",
            ));
        };
        let model_file = release.model.file.clone();
        if model_file.is_empty() || !dir.join(FILES).join(&model_file).is_file() {
            let _ = std::fs::remove_dir_all(dir);
            return Err(refused(format!(
                "the release names model file '{model_file}', which it does not contain"
            )));
        }
        // From here to the record, one placement at a time: two commits (of this upload, or of
        // two uploads of one version) must not move or remove each other's files.
        let _placing = self.registry.placement.lock().await;
        if let Some(id) = upload
            && !dir.join(META).is_file()
        {
            return Err(GatewayError::Conflict(format!(
                "upload {id} was committed by another request"
            )));
        }
        if let Some(existing) = self
            .registry
            .state()
            .models
            .get(name)
            .and_then(|m| m.releases.get(version))
        {
            let _ = std::fs::remove_dir_all(dir);
            // Two pulls (or pushes) of one release at once: the second finds it there.
            if existing.root_digest == verified.root_digest {
                return Ok(assay_release::views::PushOutcome {
                    model: name.to_string(),
                    version: version.to_string(),
                    already_present: true,
                    release: None,
                    state: None,
                    activated: Some(false),
                });
            }
            return Err(GatewayError::Conflict(format!(
                "{name} {version} was pushed meanwhile, with other contents"
            )));
        }
        let target = self.registry.layout.release(name, version);
        let io = |e| GatewayError::internal("moving the release into place", e);
        std::fs::create_dir_all(target.parent().expect("has a parent")).map_err(io)?;
        if target.exists() {
            // Not in the state, and no other placement runs: left by a crash before its record.
            std::fs::remove_dir_all(&target).map_err(io)?;
        }
        std::fs::rename(dir, &target).map_err(io)?;
        durable::sync_dir(target.parent().expect("has a parent")).map_err(io)?;
        durable::sync_dir(&self.registry.layout.uploads()).map_err(io)?;
        crate::failpoint::hit("push-moved");
        let record = ReleaseRecord {
            version: version.to_string(),
            pushed_at: crate::state::now(),
            signer: verified.key_hint,
            root_digest: verified.root_digest,
            files: verified.files,
            bytes: verified.bytes,
            model_file,
            metadata: release,
            load_error: None,
            warm_dims: Default::default(),
        };
        self.registry
            .add_release(name, record, activate, actor)
            .await
    }

    /// `DELETE /admin/v1/uploads/{id}`.
    pub fn discard(&self, id: &str) -> Result<Value, GatewayError> {
        let dir = self.upload_dir(id)?;
        self.release_locks(id);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| GatewayError::internal("discarding the upload", e))?;
        Ok(serde_json::json!({"discarded": id}))
    }
}
