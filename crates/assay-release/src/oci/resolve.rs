//! A reference pinned to its manifest digest, with the release version its config names:
//! what a fleet rollout needs before it touches a gateway, so that every gateway pulls the
//! same bytes even if the tag moves meanwhile. Nothing here is verified: the gateways verify
//! what they pull against their own trusted keys.

use oci_client::manifest::OciImageManifest;
use sha2::Digest;

use super::{
    layout::{self, MAX_DOCUMENT_BYTES, MODEL_CONFIG_MEDIA_TYPE, ModelConfig},
    reference::OciReference,
    registry::{Registry, RegistryOptions},
};
use crate::error::{ReleaseError, Result};

/// A reference resolved for sequencing.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `oci://…@sha256:…`.
    pub pinned: OciReference,
    /// The release's name and version, from its ModelPack config's Assay metadata.
    pub name: String,
    pub version: String,
}

/// Reads `reference`'s manifest and config (both capped) and pins it.
pub async fn resolve(reference: &OciReference, opts: &RegistryOptions) -> Result<Resolved> {
    let reg = Registry::connect(reference, opts, false).await?;
    let not = |why: String| ReleaseError::NotARelease {
        reference: reference.to_string(),
        why,
    };
    let (raw, digest) = reg.manifest(reference).await?;
    let manifest: OciImageManifest = serde_json::from_slice(&raw)
        .map_err(|e| not(format!("its manifest is unreadable: {e}")))?;
    if manifest.config.media_type != MODEL_CONFIG_MEDIA_TYPE {
        return Err(not(format!("its config is {}", manifest.config.media_type)));
    }
    let config = reg
        .document(
            reference,
            &format!("blobs/{}", manifest.config.digest),
            &["*/*"],
            MAX_DOCUMENT_BYTES,
        )
        .await?
        .ok_or_else(|| not("its config blob is missing".into()))?;
    if layout::oci_digest(&sha2::Sha256::digest(&config)) != manifest.config.digest {
        return Err(ReleaseError::DigestMismatch {
            file: format!("the config of {reference}"),
        });
    }
    let config: ModelConfig = serde_json::from_slice(&config)
        .map_err(|e| not(format!("its config is unreadable: {e}")))?;
    let meta = config
        .assay
        .ok_or_else(|| not("its config carries no Assay release metadata".into()))?;
    Ok(Resolved {
        pinned: reference.with_digest(&digest),
        name: meta.name,
        version: meta.version,
    })
}
