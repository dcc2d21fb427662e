//! Releases pulled from OCI registries: on request (`POST /admin/v1/models/{m}/pull`) and by
//! watching a repository. A pull lands in a staging folder under `uploads/` (`.new-pull-*`,
//! which start-up deletes, so a gateway killed mid-pull restarts the pull cleanly), is
//! verified against the trusted keys while it streams, and only then is placed and listed
//! like a push. Files already held by another version come from the blob store
//! (`blobs/<sha256>`, hard links) instead of the network.

use std::sync::Arc;

use assay_release::{
    ReleaseError,
    oci::{self, OciReference, PullTo},
    release::{check_release_name, check_semver},
    signing::Trust,
    views::{PullOutcome, PulledFrom, PushOutcome},
};
use sha2::{Digest, Sha256};

use crate::{
    audit::AuditLog, config::Watch, error::GatewayError, registry::Registry, uploads::Uploads,
};

/// Pulls into the gateway, with its registry settings and trusted keys.
pub struct Pulls {
    registry: Arc<Registry>,
    uploads: Arc<Uploads>,
    trust: Arc<Trust>,
    audit: Arc<AuditLog>,
    options: oci::RegistryOptions,
    max_release_bytes: u64,
}

/// A registry failure, as the gateway answers it: a release that does not verify is
/// refused (422), a name the registry lacks is not found, and the registry's own trouble
/// (credentials, TLS, errors) is an upstream failure (502), never the admin's 401.
fn pull_error(e: ReleaseError) -> GatewayError {
    match e {
        e if e.is_verification_failure() => GatewayError::Refused(e.to_string()),
        e @ ReleaseError::RegistryNotFound { .. } => GatewayError::NotFound(e.to_string()),
        e @ ReleaseError::Invalid { .. } => GatewayError::BadRequest(e.to_string()),
        e @ ReleaseError::Io { .. } => GatewayError::internal("pulling", e),
        e => GatewayError::Upstream(e.to_string()),
    }
}

impl Pulls {
    pub fn new(
        registry: Arc<Registry>,
        uploads: Arc<Uploads>,
        trust: Arc<Trust>,
        audit: Arc<AuditLog>,
        options: oci::RegistryOptions,
        max_release_bytes: u64,
    ) -> Pulls {
        Pulls {
            registry,
            uploads,
            trust,
            audit,
            options,
            max_release_bytes,
        }
    }

    /// Pulls `reference` as a release of `model`. The first release of a model becomes its
    /// stable release when `activate`, as with a push.
    pub async fn pull(
        &self,
        model: &str,
        reference: &str,
        activate: bool,
        actor: &str,
    ) -> Result<PullOutcome, GatewayError> {
        let r = OciReference::parse(reference).map_err(pull_error)?;
        let result = self.pull_parsed(model, &r, activate, actor).await;
        if let Err(e) = &result {
            self.audit
                .record(actor, "pull", Some(model), None, Err(&format!("{r}: {e}")));
            tracing::warn!(model, reference = %r, "pull refused: {e}");
        }
        result
    }

    async fn pull_parsed(
        &self,
        model: &str,
        r: &OciReference,
        activate: bool,
        actor: &str,
    ) -> Result<PullOutcome, GatewayError> {
        // The signature and the layer list first: a release that is refused costs no download.
        let opened = oci::open(r, &self.options, &self.trust)
            .await
            .map_err(pull_error)?;
        let refuse = |msg: String| GatewayError::Refused(msg);
        let Some(meta) = opened.statement().assay.clone() else {
            return Err(refuse(format!(
                "{r} carries no signed assay-release.json; create releases with `assay release create`"
            )));
        };
        if meta.name != model {
            return Err(refuse(format!(
                "{r} is a release of model '{}', not '{model}'",
                meta.name
            )));
        }
        check_release_name(&meta.name)
            .and_then(|_| check_semver(&meta.version))
            .map_err(|e| refuse(e.to_string()))?;
        if opened.total_bytes() > self.max_release_bytes {
            return Err(GatewayError::TooLarge(format!(
                "{r} is {} bytes, over the gateway's max_release_bytes ({})",
                opened.total_bytes(),
                self.max_release_bytes
            )));
        }
        let root = hex::encode(opened.statement().manifest.root_digest());
        let unchanged = |source: PulledFrom| PullOutcome {
            outcome: PushOutcome {
                model: model.into(),
                version: meta.version.clone(),
                already_present: true,
                release: None,
                state: None,
                activated: Some(false),
            },
            source,
        };
        if let Some(existing) = self
            .registry
            .state()
            .models
            .get(model)
            .and_then(|m| m.releases.get(&meta.version))
        {
            if existing.root_digest == root {
                return Ok(unchanged(PulledFrom {
                    reference: r.to_string(),
                    pinned: r.to_string(),
                    bytes_fetched: 0,
                    files_reused: 0,
                    seconds: 0.0,
                }));
            }
            return Err(GatewayError::Conflict(format!(
                "{model} {} already exists with different contents; versions are immutable",
                meta.version
            )));
        }

        let layout = &self.registry.layout;
        // Removed on every way out but a placement, a dropped request included.
        let staging = Staging(layout.uploads().join(staging_name(r)));
        let files = staging.0.join(crate::uploads::FILES);
        let io = |e| GatewayError::internal("staging a pull", e);
        std::fs::create_dir_all(&files).map_err(io)?;
        let blobs = layout.blobs();
        let v = opened
            .fetch(
                Some(PullTo {
                    dest: &files,
                    blobs: Some(&blobs),
                }),
                // The crash tests stop here, with a layer half written (progress also counts
                // files linked from the blob store, so the point waits for a `.partial`).
                Some(Arc::new({
                    let files = files.clone();
                    move |done: u64, total: u64| {
                        if done < total
                            && crate::failpoint::armed("pull-fetching")
                            && has_partial(&files)
                        {
                            crate::failpoint::hit("pull-fetching");
                        }
                    }
                })),
            )
            .await
            .map_err(pull_error)?;
        let source = PulledFrom {
            reference: r.to_string(),
            pinned: v.pinned.clone(),
            bytes_fetched: v.bytes_fetched,
            files_reused: v.files_reused,
            seconds: v.seconds,
        };
        std::fs::write(staging.0.join(crate::uploads::BUNDLE), &v.bundle).map_err(io)?;
        crate::failpoint::hit("pull-staged");
        tracing::info!(model, version = %meta.version, reference = %v.pinned, fetched = v.bytes_fetched, reused = v.files_reused, "pulled and verified");
        let outcome = self
            .uploads
            .place(
                &staging.0,
                model,
                &meta.version,
                v.verified,
                activate,
                actor,
                None,
            )
            .await?;
        Ok(PullOutcome { outcome, source })
    }

    /// One round of a watch: the newest matching tag, pulled if the gateway lacks it, and made
    /// stable if it is not already. Pre-releases are followed only when the pattern names one
    /// (`tags = "2.0.0-*"`). A tag whose signed version is another is refused once and then
    /// skipped. Errors are logged and retried next round.
    pub async fn follow(
        &self,
        w: &Watch,
        skip: &mut std::collections::BTreeSet<String>,
    ) -> Result<Option<String>, GatewayError> {
        let tags = oci::list_tags(&w.repository, &self.options)
            .await
            .map_err(pull_error)?;
        let pre = w.tags.as_str().contains('-');
        let Some((newest, tag)) = tags
            .iter()
            .filter(|t| w.tags.matches(t) && !skip.contains(*t))
            .filter_map(|t| semver::Version::parse(t).ok().map(|v| (v, t.clone())))
            .filter(|(v, _)| pre || v.pre.is_empty())
            .max()
        else {
            return Ok(None);
        };
        let mut version = newest.to_string();
        let held = |v: &str| {
            self.registry
                .state()
                .models
                .get(&w.model)
                .is_some_and(|m| m.releases.contains_key(v))
        };
        if !held(&version) {
            let pulled = self
                .pull(
                    &w.model,
                    &w.repository.with_tag(&tag).to_string(),
                    true,
                    "watch",
                )
                .await?;
            if pulled.outcome.version != version {
                skip.insert(tag.clone());
                return Err(GatewayError::Refused(format!(
                    "tag {tag} of {} holds version {}; a watch follows tags that name their version, so it is skipped",
                    w.repository, pulled.outcome.version
                )));
            }
            version = pulled.outcome.version;
        }
        let stable = self
            .registry
            .state()
            .models
            .get(&w.model)
            .and_then(|m| m.stable.clone());
        if stable.as_deref() != Some(version.as_str()) {
            self.registry
                .activate(&w.model, &version, None, false, "watch")
                .await?;
            tracing::info!(model = %w.model, version, "watch: now stable");
        }
        Ok(Some(version))
    }
}

/// A pull's staging folder, deleted when dropped: after an error, and when the request is
/// abandoned mid-pull. A placed release has been moved away, so there is nothing to delete.
struct Staging(std::path::PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A staging folder per pull, named so that start-up's sweep of `.new-*` removes it.
fn staging_name(r: &OciReference) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let h = Sha256::digest(format!("{r} {nanos} {}", std::process::id()));
    format!(".new-pull-{}", hex::encode(&h[..8]))
}

/// Runs every watch of the config forever, each on its own interval.
pub fn spawn_watches(pulls: Arc<Pulls>, watches: Vec<Watch>) {
    for w in watches {
        let pulls = pulls.clone();
        tokio::spawn(async move {
            let mut last_error: Option<String> = None;
            let mut skip = std::collections::BTreeSet::new();
            loop {
                match pulls.follow(&w, &mut skip).await {
                    Ok(_) => last_error = None,
                    Err(e) => {
                        let msg = e.to_string();
                        // Once per distinct failure, not every interval.
                        if last_error.as_deref() != Some(msg.as_str()) {
                            tracing::warn!(model = %w.model, repository = %w.repository, "watch: {msg}");
                        }
                        last_error = Some(msg);
                    }
                }
                tokio::time::sleep(w.interval).await;
            }
        });
    }
}

/// Removes blobs no release links any more (a hard-link count of one: the store's own).
#[cfg(unix)]
pub fn sweep_blobs(blobs: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(blobs) else {
        return;
    };
    for e in entries.flatten() {
        if e.metadata().is_ok_and(|m| m.is_file() && m.nlink() == 1) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Without hard-link counts, the store is kept (it only saves downloads).
#[cfg(not(unix))]
pub fn sweep_blobs(_blobs: &std::path::Path) {}

/// Whether a file is being written under `dir` (the crash test's failpoint).
fn has_partial(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            p.extension().is_some_and(|x| x == "partial") || (p.is_dir() && has_partial(&p))
        })
}
