//! How a release is laid out as an OCI artifact, in ModelPack's terms: one uncompressed
//! layer per signed file (so a layer's digest *is* the file's signed sha256), the release
//! metadata in a ModelPack config, and the signature as a referrer.

use std::collections::BTreeMap;

use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use serde::{Deserialize, Serialize};

use crate::metadata::ReleaseMetadata;

/// ModelPack's artifact type for a model manifest.
pub const MODEL_ARTIFACT_TYPE: &str = "application/vnd.cncf.model.manifest.v1+json";
/// ModelPack's config media type.
pub const MODEL_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.model.config.v1+json";
/// Model weights, one uncompressed file per layer.
pub const WEIGHT_RAW: &str = "application/vnd.cncf.model.weight.v1.raw";
/// Files that configure the weights (JSON, YAML, text), uncompressed.
pub const WEIGHT_CONFIG_RAW: &str = "application/vnd.cncf.model.weight.config.v1.raw";
/// Documentation (README, LICENSE, Markdown), uncompressed.
pub const DOC_RAW: &str = "application/vnd.cncf.model.doc.v1.raw";
/// ModelPack's layer annotation for the file's path in the model folder.
pub const FILEPATH_ANNOTATION: &str = "org.cncf.model.filepath";
/// The OCI title annotation: ORAS names pulled files by it.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// The media type of an empty config (`{}`), for artifacts whose config carries nothing.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The largest manifest or config Assay reads from a registry: a release's manifest is a
/// few kilobytes, and a hostile registry must not make a gateway buffer gigabytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;

/// The layer media type for a file of the release.
pub fn layer_media_type(name: &str) -> &'static str {
    let base = name.rsplit('/').next().unwrap_or(name);
    let upper = base.to_ascii_uppercase();
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if upper.starts_with("README") || upper.starts_with("LICENSE") || ext.as_deref() == Some("md") {
        DOC_RAW
    } else if matches!(
        ext.as_deref(),
        Some("json" | "yaml" | "yml" | "toml" | "txt" | "csv")
    ) {
        WEIGHT_CONFIG_RAW
    } else {
        WEIGHT_RAW
    }
}

/// The file path a layer stands for: ModelPack's annotation, else ORAS's title.
pub fn layer_path(layer: &OciDescriptor) -> Option<&str> {
    let a = layer.annotations.as_ref()?;
    a.get(FILEPATH_ANNOTATION)
        .or_else(|| a.get(TITLE_ANNOTATION))
        .map(String::as_str)
}

/// A sha256 digest in OCI's `sha256:<hex>` form.
pub fn oci_digest(sha256: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha256))
}

/// ModelPack's model config, with Assay's release metadata beside its three sections.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelConfig {
    pub descriptor: ConfigDescriptor,
    pub config: ConfigFormat,
    pub modelfs: ModelFs,
    /// Assay's own `assay-release.json`: the same document is also a signed layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assay: Option<ReleaseMetadata>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ConfigFormat {
    pub format: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// The config document for a release whose layers are `layers`.
pub fn model_config(meta: Option<&ReleaseMetadata>, layers: &[OciDescriptor]) -> ModelConfig {
    ModelConfig {
        descriptor: ConfigDescriptor {
            name: meta.map(|m| m.name.clone()),
            version: meta.map(|m| m.version.clone()),
            created_at: meta
                .filter(|m| m.created_at > 0)
                .map(|m| rfc3339(m.created_at)),
            description: meta.and_then(|m| m.notes.clone()),
        },
        config: ConfigFormat {
            format: "onnx".into(),
        },
        modelfs: ModelFs {
            kind: "layers".into(),
            diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
        },
        assay: meta.cloned(),
    }
}

/// The layer for one signed file.
pub fn file_layer(name: &str, sha256: &[u8], size: u64) -> OciDescriptor {
    OciDescriptor {
        media_type: layer_media_type(name).into(),
        digest: oci_digest(sha256),
        size: size as i64,
        annotations: Some(BTreeMap::from([
            (FILEPATH_ANNOTATION.to_string(), name.to_string()),
            (TITLE_ANNOTATION.to_string(), name.to_string()),
        ])),
        ..Default::default()
    }
}

/// A descriptor for a document held in memory.
pub fn blob_descriptor(media_type: &str, bytes: &[u8]) -> OciDescriptor {
    use sha2::Digest;
    OciDescriptor {
        media_type: media_type.into(),
        digest: oci_digest(&sha2::Sha256::digest(bytes)),
        size: bytes.len() as i64,
        ..Default::default()
    }
}

/// The release's image manifest. Layers come in name order, so the same release always
/// makes the same manifest (and the same digest).
pub fn release_manifest(
    config: OciDescriptor,
    layers: Vec<OciDescriptor>,
    meta: Option<&ReleaseMetadata>,
) -> OciImageManifest {
    let mut annotations = BTreeMap::new();
    if let Some(m) = meta {
        annotations.insert("org.opencontainers.image.version".into(), m.version.clone());
        annotations.insert("org.opencontainers.image.title".into(), m.name.clone());
        if m.created_at > 0 {
            annotations.insert(
                "org.opencontainers.image.created".into(),
                rfc3339(m.created_at),
            );
        }
    }
    OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.into()),
        artifact_type: Some(MODEL_ARTIFACT_TYPE.into()),
        config,
        layers,
        subject: None,
        annotations: (!annotations.is_empty()).then_some(annotations),
    }
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_follow_modelpack() {
        assert_eq!(layer_media_type("model.onnx"), WEIGHT_RAW);
        assert_eq!(layer_media_type("weights/model.onnx.data"), WEIGHT_RAW);
        assert_eq!(layer_media_type("assay-release.json"), WEIGHT_CONFIG_RAW);
        assert_eq!(layer_media_type("labels.txt"), WEIGHT_CONFIG_RAW);
        assert_eq!(layer_media_type("README.md"), DOC_RAW);
        assert_eq!(layer_media_type("LICENSE"), DOC_RAW);
    }

    #[test]
    fn a_layer_names_its_file_for_modelpack_and_oras() {
        let l = file_layer("sub/m.onnx", &[7; 32], 12);
        assert_eq!(layer_path(&l), Some("sub/m.onnx"));
        assert_eq!(l.digest, format!("sha256:{}", "07".repeat(32)));
        let m = release_manifest(
            blob_descriptor(MODEL_CONFIG_MEDIA_TYPE, b"{}"),
            vec![l],
            None,
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["artifactType"], MODEL_ARTIFACT_TYPE);
        assert_eq!(
            v["layers"][0]["annotations"][TITLE_ANNOTATION],
            "sub/m.onnx"
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
