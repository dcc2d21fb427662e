//! The signature as an OCI 1.1 referrer of the release's manifest: an artifact manifest
//! whose `subject` is the release and whose one layer is the model_signing bundle. A
//! registry without the referrers API gets the tag schema (`sha256-<hex>` holding an index)
//! that ORAS and cosign read too.

use oci_client::manifest::{
    ImageIndexEntry, OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor,
    OciImageIndex, OciImageManifest,
};

use super::{
    layout::{EMPTY_MEDIA_TYPE, blob_descriptor},
    reference::OciReference,
    registry::Registry,
};
use crate::{
    bundle::BUNDLE_MEDIA_TYPE,
    error::{ReleaseError, Result},
};

/// The largest signature bundle read from a registry (a real one is about 2 KB).
const MAX_BUNDLE_BYTES: i64 = 1 << 20;
/// The largest referrers index or referrer manifest read.
const MAX_REFERRER_BYTES: usize = 1 << 20;
/// Signatures tried per release: more is a registry stuffing the list.
const MAX_REFERRERS: usize = 16;

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
    let mut index = match schema_index(reg, repo, &subject.digest).await? {
        Some(i) => i,
        None => OciImageIndex {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_INDEX_MEDIA_TYPE.into()),
            manifests: Vec::new(),
            artifact_type: None,
            annotations: None,
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
/// checked to point at that subject and to be the bytes its digest names, and read with a size
/// cap; at most [`MAX_REFERRERS`] are read.
pub(crate) async fn bundles(
    reg: &Registry,
    repo: &OciReference,
    subject_digest: &str,
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let entries = listed(reg, repo, subject_digest).await?;
    for entry in entries
        .iter()
        .filter(|e| e.artifact_type.as_deref() == Some(BUNDLE_MEDIA_TYPE))
        .take(MAX_REFERRERS)
    {
        let Some(raw) = reg
            .document(
                repo,
                &format!("manifests/{}", entry.digest),
                &[OCI_IMAGE_MEDIA_TYPE],
                MAX_REFERRER_BYTES,
            )
            .await?
        else {
            continue;
        };
        if blob_descriptor(OCI_IMAGE_MEDIA_TYPE, &raw).digest != entry.digest {
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
            if !(0..=MAX_BUNDLE_BYTES).contains(&layer.size) {
                continue;
            }
            let Some(bytes) = reg
                .document(
                    repo,
                    &format!("blobs/{}", layer.digest),
                    &["*/*"],
                    MAX_BUNDLE_BYTES as usize,
                )
                .await?
            else {
                continue;
            };
            // Read by hand, so checked by hand: the bytes must be the digest's.
            if blob_descriptor(BUNDLE_MEDIA_TYPE, &bytes).digest == layer.digest {
                out.push(bytes);
            }
        }
    }
    Ok(out)
}

/// The referrers of `subject_digest`: the API's answer, else the tag schema's index (a
/// registry without the API answers 404 there), else none.
async fn listed(
    reg: &Registry,
    repo: &OciReference,
    subject_digest: &str,
) -> Result<Vec<ImageIndexEntry>> {
    let api = reg
        .document(
            repo,
            &format!(
                "referrers/{subject_digest}?artifactType={}",
                BUNDLE_MEDIA_TYPE.replace('+', "%2B")
            ),
            &[OCI_IMAGE_INDEX_MEDIA_TYPE],
            MAX_REFERRER_BYTES,
        )
        .await?;
    let index = match api {
        Some(raw) => Some(parse_index(repo, &raw)?),
        None => schema_index(reg, repo, subject_digest).await?,
    };
    Ok(index.map(|i| i.manifests).unwrap_or_default())
}

/// The tag schema's index for `subject_digest`, when the tag exists.
async fn schema_index(
    reg: &Registry,
    repo: &OciReference,
    subject_digest: &str,
) -> Result<Option<OciImageIndex>> {
    let raw = reg
        .document(
            repo,
            &format!("manifests/{}", schema_tag(subject_digest)),
            &[OCI_IMAGE_INDEX_MEDIA_TYPE],
            MAX_REFERRER_BYTES,
        )
        .await?;
    raw.map(|r| parse_index(repo, &r)).transpose()
}

fn parse_index(repo: &OciReference, raw: &[u8]) -> Result<OciImageIndex> {
    serde_json::from_slice(raw).map_err(|e| ReleaseError::Registry {
        reference: repo.to_string(),
        message: format!("its referrers index is unreadable: {e}"),
    })
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
