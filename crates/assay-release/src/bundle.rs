//! The signature file: an in-toto Statement v1 (model_signing's v1.0 predicate) in a DSSE
//! envelope inside a Sigstore bundle v0.3 that names its key by hint.
//!
//! Parsing is strict, as model_signing's is: unknown top-level fields, unpadded base64 and a
//! missing `publicKey` are all malformed bundles.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{ReleaseError, Result},
    manifest::{Manifest, check_name},
    metadata::ReleaseMetadata,
};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub dsse_envelope: Envelope,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerificationMaterial {
    pub public_key: KeyHint,
    #[serde(default)]
    pub tlog_entries: Vec<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyHint {
    pub hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EnvelopeSignature {
    pub sig: String,
    #[serde(default)]
    pub keyid: String,
}

/// DSSE pre-authentication encoding: what the signature covers.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

/// The in-toto statement for a manifest, with Assay's metadata as an extra predicate field.
pub(crate) fn statement(
    subject_name: &str,
    m: &Manifest,
    ignore_paths: &[String],
    assay: Option<&ReleaseMetadata>,
) -> Value {
    let resources: Vec<Value> = m
        .files
        .iter()
        .map(|(name, d)| json!({"name": name, "algorithm": "sha256", "digest": hex::encode(d)}))
        .collect();
    let mut predicate = json!({
        "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": ignore_paths},
        "resources": resources,
    });
    if let Some(a) = assay {
        predicate["assay"] = serde_json::to_value(a).expect("release metadata serializes");
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": hex::encode(m.root_digest())}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}

pub(crate) fn b64_decode(what: &str, s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| {
            ReleaseError::MalformedBundle(format!("{what} is not padded standard base64: {e}"))
        })
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The signed claims, read from a verified payload.
#[derive(Debug, Clone)]
pub struct SignedStatement {
    pub manifest: Manifest,
    pub ignore_paths: Vec<String>,
    pub allow_symlinks: bool,
    /// Assay's release metadata, when the signer was Assay.
    pub assay: Option<ReleaseMetadata>,
}

/// Checks `_type`, `predicateType`, the resource list and the root digest (steps 4 and 5).
pub(crate) fn parse_statement(payload: &[u8]) -> Result<SignedStatement> {
    let bad = |m: String| ReleaseError::BadStatement(m);
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the payload is not JSON: {e}")))?;
    if v["_type"] != STATEMENT_TYPE {
        return Err(bad(format!(
            "_type is {}, expected {STATEMENT_TYPE}",
            v["_type"]
        )));
    }
    if v["predicateType"] != PREDICATE_TYPE {
        return Err(bad(format!(
            "predicateType is {}, expected {PREDICATE_TYPE}",
            v["predicateType"]
        )));
    }
    let subjects = v["subject"]
        .as_array()
        .ok_or_else(|| bad("no subject".into()))?;
    if subjects.len() != 1 {
        return Err(bad(format!(
            "{} subjects, expected exactly one",
            subjects.len()
        )));
    }
    let root = subjects[0]["digest"]["sha256"]
        .as_str()
        .ok_or_else(|| bad("the subject has no sha256 digest".into()))?;
    let pred = &v["predicate"];
    let ser = &pred["serialization"];
    if ser["method"] != "files" || ser["hash_type"] != "sha256" {
        return Err(bad(format!("unsupported serialization {ser}")));
    }
    let mut manifest = Manifest::default();
    for r in pred["resources"]
        .as_array()
        .ok_or_else(|| bad("no resources".into()))?
    {
        let name = r["name"]
            .as_str()
            .ok_or_else(|| bad("a resource has no name".into()))?;
        check_name(name)?;
        if r["algorithm"] != "sha256" {
            return Err(bad(format!(
                "{name}: algorithm {} is not sha256",
                r["algorithm"]
            )));
        }
        let digest: [u8; 32] = r["digest"]
            .as_str()
            .and_then(|d| hex::decode(d).ok())
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| bad(format!("{name}: the digest is not 64 hex digits")))?;
        if manifest.files.insert(name.to_string(), digest).is_some() {
            return Err(bad(format!("{name} is listed twice")));
        }
    }
    if hex::encode(manifest.root_digest()) != root.to_ascii_lowercase() {
        return Err(bad("the subject digest does not match the resources".into()));
    }
    let ignore_paths = ser["ignore_paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(SignedStatement {
        manifest,
        ignore_paths,
        allow_symlinks: ser["allow_symlinks"].as_bool().unwrap_or(false),
        assay: pred
            .get("assay")
            .map(|a| {
                ReleaseMetadata::deserialize(a)
                    .map_err(|e| bad(format!("the predicate's assay metadata: {e}")))
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("application/vnd.in-toto+json", b"hello"),
            b"DSSEv1 28 application/vnd.in-toto+json 5 hello"
        );
    }

    #[test]
    fn strict_bundle_parsing() {
        let ok = json!({"mediaType": BUNDLE_MEDIA_TYPE, "verificationMaterial": {"publicKey": {"hint": "ab"}, "tlogEntries": []},
            "dsseEnvelope": {"payload": "e30=", "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": "AA==", "keyid": ""}]}});
        serde_json::from_value::<Bundle>(ok.clone()).unwrap();
        let mut extra = ok.clone();
        extra["surprise"] = json!(1);
        assert!(serde_json::from_value::<Bundle>(extra).is_err());
        let mut nokey = ok;
        nokey["verificationMaterial"] = json!({"tlogEntries": []});
        assert!(serde_json::from_value::<Bundle>(nokey).is_err());
        assert!(
            b64_decode("x", "e30").is_err(),
            "unpadded base64 is refused"
        );
    }
}
