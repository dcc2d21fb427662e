//! The signature as an OCI 1.1 referrer of the release's manifest: an artifact manifest
//! whose `subject` is the release and whose one layer is the model_signing bundle. A
//! registry without the referrers API gets the tag schema (`sha256-<hex>` holding an index)
//! that ORAS and cosign read too.

use oci_client::manifest::{
    ImageIndexEntry, OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor,
    OciImageIndex, OciImageManifest,
};

use super::{
    layout::{EMPTY_MEDIA_TYPE, MAX_DOCUMENT_BYTES, blob_descriptor},
    reference::OciReference,
    registry::Registry,
};
use crate::{
    bundle::BUNDLE_MEDIA_TYPE,
    error::{ReleaseError, Result},
};

/// The largest signature bundle read from a registry (a real one is about 2 KB).
const MAX_BUNDLE_BYTES: i64 = 1 << 20;

/// How a registry lets clients find a release's signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrersMode {
    /// The OCI 1.1 referrers API.
    Api,
    /// The tag schema fallback (`sha256-<hex>`).
    TagSchema,
}

/// Attaches `bundle` to the manifest `subject` in `repo`. Pushing the same bundle again
/// makes the same referrer (no timestamp in it), so a re-push adds nothing.
pub(crate) async fn attach(
    reg: &Registry,
    repo: &OciReference,
    subject: OciDescriptor,
    bundle: &[u8],
) -> Result<(String, ReferrersMode)> {
    let empty = blob_descriptor(EMPTY_MEDIA_TYPE, b"{}");
    let layer = blob_descriptor(BUNDLE_MEDIA_TYPE, bundle);
    push_small_blob(reg, repo, &empty, b"{}").await?;
    push_small_blob(reg, repo, &layer, bundle).await?;
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.into()),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
        config: empty,
        layers: vec![layer],
        subject: Some(subject.clone()),
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let desc = blob_descriptor(OCI_IMAGE_MEDIA_TYPE, &bytes);
    let at = repo.with_digest(&desc.digest);
    reg.client
        .push_manifest_raw(
            &at.client_ref(),
            bytes,
            OCI_IMAGE_MEDIA_TYPE.parse().expect("a valid header"),
        )
        .await
        .map_err(|e| reg.error(&at.to_string(), e))?;

    // Where the registry lists referrers: the tag schema when it already holds this one
    // (a re-push), else the API when that lists it, else the tag schema from now on.
    let tag = repo.with_tag(&schema_tag(&subject.digest));
    let mut index = match reg
        .client
        .pull_manifest_raw(&tag.client_ref(), &reg.auth, &[OCI_IMAGE_INDEX_MEDIA_TYPE])
        .await
    {
        Ok((raw, _)) => {
            serde_json::from_slice::<OciImageIndex>(&raw).map_err(|e| ReleaseError::Registry {
                reference: tag.to_string(),
                message: format!("the referrers tag holds no readable index: {e}"),
            })?
        }
        Err(e) => match reg.error(&tag.to_string(), e) {
            ReleaseError::RegistryNotFound { .. } => OciImageIndex {
                schema_version: 2,
                media_type: Some(OCI_IMAGE_INDEX_MEDIA_TYPE.into()),
                manifests: Vec::new(),
                artifact_type: None,
                annotations: None,
            },
            other => return Err(other),
        },
    };
    if index.manifests.iter().any(|m| m.digest == desc.digest) {
        return Ok((desc.digest, ReferrersMode::TagSchema));
    }
    if listed(reg, repo, &subject.digest)
        .await?
        .iter()
        .any(|e| e.digest == desc.digest)
    {
        return Ok((desc.digest, ReferrersMode::Api));
    }
    index.manifests.push(ImageIndexEntry {
        media_type: OCI_IMAGE_MEDIA_TYPE.into(),
        digest: desc.digest.clone(),
        size: desc.size,
        platform: None,
        annotations: None,
        artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
    });
    let bytes = serde_json::to_vec(&index).expect("an index serializes");
    reg.client
        .push_manifest_raw(
            &tag.client_ref(),
            bytes,
            OCI_IMAGE_INDEX_MEDIA_TYPE.parse().expect("a valid header"),
        )
        .await
        .map_err(|e| reg.error(&tag.to_string(), e))?;
    Ok((desc.digest, ReferrersMode::TagSchema))
}

/// The signature bundles attached to `subject_digest` in `repo`, newest push last. Each is
/// checked to point at that subject, and read with a size cap.
pub(crate) async fn bundles(
    reg: &Registry,
    repo: &OciReference,
    subject_digest: &str,
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for entry in listed(reg, repo, subject_digest).await? {
        if entry.artifact_type.as_deref() != Some(BUNDLE_MEDIA_TYPE) {
            continue;
        }
        let at = repo.with_digest(&entry.digest);
        let (raw, _) = reg
            .client
            .pull_manifest_raw(&at.client_ref(), &reg.auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|e| reg.error(&at.to_string(), e))?;
        if raw.len() > MAX_DOCUMENT_BYTES {
            continue;
        }
        let Ok(m) = serde_json::from_slice::<OciImageManifest>(&raw) else {
            continue;
        };
        // A referrer that points elsewhere (a confused tag index) proves nothing here.
        if m.subject.as_ref().map(|s| s.digest.as_str()) != Some(subject_digest) {
            continue;
        }
        for layer in m
            .layers
            .iter()
            .filter(|l| l.media_type == BUNDLE_MEDIA_TYPE)
        {
            if layer.size > MAX_BUNDLE_BYTES {
                continue;
            }
            let mut bytes = Vec::with_capacity(layer.size.max(0) as usize);
            reg.client
                .pull_blob(&at.client_ref(), layer, &mut bytes)
                .await
                .map_err(|e| reg.error(&format!("{at} ({})", layer.digest), e))?;
            out.push(bytes);
        }
    }
    Ok(out)
}

/// The referrers of `subject_digest`: the API's answer, or the tag schema's index.
async fn listed(
    reg: &Registry,
    repo: &OciReference,
    subject_digest: &str,
) -> Result<Vec<ImageIndexEntry>> {
    let at = repo.with_digest(subject_digest);
    let index = reg
        .client
        .pull_referrers(&at.client_ref(), Some(BUNDLE_MEDIA_TYPE))
        .await
        .map_err(|e| reg.error(&format!("the referrers of {at}"), e))?;
    Ok(index.manifests)
}

async fn push_small_blob(
    reg: &Registry,
    repo: &OciReference,
    desc: &OciDescriptor,
    bytes: &[u8],
) -> Result<()> {
    let r = repo.client_ref();
    let exists = reg
        .client
        .blob_exists(&r, &desc.digest)
        .await
        .map_err(|e| reg.error(&format!("{repo} ({})", desc.digest), e))?;
    if !exists {
        reg.client
            .push_blob(&r, bytes.to_vec(), &desc.digest)
            .await
            .map_err(|e| reg.error(&format!("{repo} ({})", desc.digest), e))?;
    }
    Ok(())
}

/// The referrers tag schema's tag for a digest: `sha256:ab…` becomes `sha256-ab…`.
pub(crate) fn schema_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}
