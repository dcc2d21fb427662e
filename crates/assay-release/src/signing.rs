//! Signing a release folder and verifying one, in model_signing's order.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::{
    bundle::{self, BUNDLE_MEDIA_TYPE, Bundle, PAYLOAD_TYPE, SignedStatement},
    cache::DigestCache,
    error::{ReleaseError, Result},
    keys::{PrivateKey, PublicKey},
    manifest::{self, DEFAULT_IGNORES, HashOptions, Manifest},
    metadata::ReleaseMetadata,
};

/// The signature file model_signing's CLI uses when none is named: `model.sig` in the
/// current directory. Assay uses the same default.
pub const DEFAULT_SIGNATURE: &str = "model.sig";

/// The keys a verifier trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Exactly this key.
    Key(PublicKey),
    /// Any key in a folder of `*.pem`/`*.pub` SPKI files (a trust folder), chosen by hint.
    Keys(Vec<PublicKey>),
}

impl Trust {
    /// Loads every public key in `dir` (files that are not P-256 SPKI PEM are an error).
    pub fn from_dir(dir: &Path) -> Result<Trust> {
        let mut keys = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| ReleaseError::io(dir, e))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pem" || x == "pub") && p.is_file() {
                let text = std::fs::read_to_string(&p).map_err(|e| ReleaseError::io(&p, e))?;
                keys.push(PublicKey::from_pem(&p.display().to_string(), &text)?);
            }
        }
        if keys.is_empty() {
            return Err(ReleaseError::Invalid {
                what: "trusted keys",
                message: format!("{} holds no *.pem or *.pub public keys", dir.display()),
            });
        }
        Ok(Trust::Keys(keys))
    }
}

/// What a successful verification proves (and `assay verify --json` prints).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Verified {
    pub key_hint: String,
    pub files: usize,
    pub bytes: u64,
    pub root_digest: String,
    /// Assay's signed release metadata (`assay-release.json`), when present.
    pub release: Option<ReleaseMetadata>,
}

/// `path` relative to `dir` (`/`-separated) when it lies inside it. The file itself need
/// not exist yet (a signature about to be written).
fn relative_inside(dir: &Path, path: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let abs = match path.canonicalize() {
        Ok(p) => p,
        Err(_) => {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            parent.canonicalize().ok()?.join(path.file_name()?)
        }
    };
    let rel = abs.strip_prefix(&dir).ok()?;
    Some(rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/"))
}

/// The paths to leave out of a folder: model_signing's defaults plus the signature file
/// when it sits inside the folder.
fn ignore_list(dir: &Path, signature: &Path) -> Vec<String> {
    let mut v: Vec<String> = DEFAULT_IGNORES.iter().map(|s| s.to_string()).collect();
    v.extend(relative_inside(dir, signature));
    v
}

/// What `assay sign --json` prints.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Signed {
    pub signature: PathBuf,
    /// The key's name in the key store.
    pub key: String,
    /// Its public-key hint.
    pub hint: String,
    pub files: usize,
    pub root_digest: String,
    pub seconds: f64,
}

/// Signs `dir` with `key` and writes the bundle to `signature`. Assay's release metadata
/// (`assay-release.json`, when present) is signed twice over: as a file, and inside the
/// predicate. Returns the manifest signed.
pub fn sign(
    dir: &Path,
    key: &PrivateKey,
    signature: &Path,
    cache: Option<&DigestCache>,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<Manifest> {
    let ignore = ignore_list(dir, signature);
    let m = manifest::hash_path(
        dir,
        &HashOptions {
            ignore: ignore.clone(),
            allow_symlinks: false,
            cache,
            progress,
        },
    )?;
    // Assay's metadata goes into the statement typed: a file that does not match the format
    // is refused here rather than signed and refused by every gateway.
    let meta_path = dir.join(crate::release::RELEASE_FILE);
    let assay =
        match std::fs::read(&meta_path) {
            Ok(bytes) => Some(ReleaseMetadata::from_json(&bytes).map_err(|message| {
                ReleaseError::Invalid {
                    what: "release metadata",
                    message,
                }
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ReleaseError::io(&meta_path, e)),
        };
    let subject = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| ".".into());
    // Serialized once: the signature covers these exact bytes.
    let payload = serde_json::to_vec(&bundle::statement(&subject, &m, &ignore, assay.as_ref()))
        .expect("statement serializes");
    let sig = key.sign(&bundle::pae(PAYLOAD_TYPE, &payload));
    let out = json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key.public().hint()}, "tlogEntries": []},
        "dsseEnvelope": {"payload": bundle::b64(&payload), "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": bundle::b64(&sig), "keyid": ""}]},
    });
    let bytes = serde_json::to_vec(&out).expect("bundle serializes");
    write_atomic(signature, &bytes)?;
    Ok(m)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use assay_engine::durable;
    durable::write(path, bytes, durable::Mode::Shared).map_err(|e| ReleaseError::io(path, e))
}

/// Reads the statement of a bundle **without** checking its signature: what a pusher needs
/// to know which files to send. Never trust what it returns; the receiver verifies.
pub fn read_unverified(signature_bytes: &[u8]) -> Result<SignedStatement> {
    let b: Bundle = serde_json::from_slice(signature_bytes)
        .map_err(|e| ReleaseError::MalformedBundle(e.to_string()))?;
    let payload = bundle::b64_decode("the payload", &b.dsse_envelope.payload)?;
    bundle::parse_statement(&payload)
}

/// Parses and checks a bundle up to the signature (steps 1–4 of model_signing's order) and
/// returns the signed statement and the key that signed it.
pub fn verify_signature(
    signature_bytes: &[u8],
    trust: &Trust,
) -> Result<(SignedStatement, PublicKey)> {
    let b: Bundle = serde_json::from_slice(signature_bytes)
        .map_err(|e| ReleaseError::MalformedBundle(e.to_string()))?;
    if b.media_type != BUNDLE_MEDIA_TYPE {
        return Err(ReleaseError::BadMediaType(b.media_type));
    }
    if b.dsse_envelope.payload_type != PAYLOAD_TYPE {
        return Err(ReleaseError::BadPayloadType(b.dsse_envelope.payload_type));
    }
    if b.dsse_envelope.signatures.len() != 1 {
        return Err(ReleaseError::MalformedBundle(format!(
            "{} signatures, expected exactly one",
            b.dsse_envelope.signatures.len()
        )));
    }
    let payload = bundle::b64_decode("the payload", &b.dsse_envelope.payload)?;
    let sig = bundle::b64_decode("the signature", &b.dsse_envelope.signatures[0].sig)?;
    let hint = b.verification_material.public_key.hint.to_ascii_lowercase();
    let key = match trust {
        Trust::Key(k) => k.clone(),
        Trust::Keys(keys) => keys
            .iter()
            .find(|k| k.hint() == hint)
            .cloned()
            .ok_or(ReleaseError::UnknownKey { hint: hint.clone() })?,
    };
    key.verify(&bundle::pae(PAYLOAD_TYPE, &payload), &sig)?;
    Ok((bundle::parse_statement(&payload)?, key))
}

/// Verifies `dir` against the bundle at `signature`: the whole of model_signing's order, then
/// a full re-hash of the folder (no cache) compared name by name.
pub fn verify(
    dir: &Path,
    signature: &Path,
    trust: &Trust,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<Verified> {
    let bytes = std::fs::read(signature).map_err(|e| ReleaseError::io(signature, e))?;
    let (stmt, key) = verify_signature(&bytes, trust)?;
    let mut ignore = ignore_list(dir, signature);
    for p in &stmt.ignore_paths {
        // A bundle may only ask to skip paths inside the folder.
        let path = Path::new(p);
        if !p.is_empty() && manifest::is_plain_relative(path) {
            ignore.push(p.clone());
        } else if path.is_absolute() {
            ignore.extend(relative_inside(dir, path));
        }
    }
    let actual = manifest::hash_path(
        dir,
        &HashOptions {
            ignore,
            allow_symlinks: stmt.allow_symlinks,
            cache: None,
            progress,
        },
    )?;
    for (name, want) in &stmt.manifest.files {
        match actual.files.get(name) {
            None => return Err(ReleaseError::MissingFile { file: name.clone() }),
            Some(got) if got != want => {
                return Err(ReleaseError::DigestMismatch { file: name.clone() });
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = actual
        .files
        .keys()
        .find(|n| !stmt.manifest.files.contains_key(*n))
    {
        return Err(ReleaseError::ExtraFile {
            file: extra.clone(),
        });
    }
    let bytes: u64 = stmt
        .manifest
        .files
        .keys()
        .filter_map(|n| {
            std::fs::metadata(if n == "." {
                dir.to_path_buf()
            } else {
                dir.join(n)
            })
            .ok()
        })
        .map(|m| m.len())
        .sum();
    Ok(Verified {
        key_hint: key.hint(),
        files: stmt.manifest.files.len(),
        bytes,
        root_digest: hex::encode(stmt.manifest.root_digest()),
        release: stmt.assay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn release() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("model.onnx"), b"model bytes").unwrap();
        std::fs::create_dir(d.path().join("data")).unwrap();
        std::fs::write(d.path().join("data/w.bin"), vec![7u8; 3000]).unwrap();
        d
    }

    #[test]
    fn round_trip_and_every_failure() {
        let d = release();
        let out = tempfile::tempdir().unwrap();
        let sig = out.path().join("r.sig");
        let key = PrivateKey::generate();
        sign(d.path(), &key, &sig, None, None).unwrap();
        let trust = Trust::Key(key.public());
        let v = verify(d.path(), &sig, &trust, None).unwrap();
        assert_eq!(v.files, 2);

        // Wrong key, unknown key.
        assert!(matches!(
            verify(
                d.path(),
                &sig,
                &Trust::Key(PrivateKey::generate().public()),
                None
            ),
            Err(ReleaseError::BadSignature)
        ));
        assert!(matches!(
            verify(
                d.path(),
                &sig,
                &Trust::Keys(vec![PrivateKey::generate().public()]),
                None
            ),
            Err(ReleaseError::UnknownKey { .. })
        ));
        // Changed, extra, missing files.
        std::fs::write(d.path().join("data/w.bin"), vec![8u8; 3000]).unwrap();
        assert!(
            matches!(verify(d.path(), &sig, &trust, None), Err(ReleaseError::DigestMismatch { file }) if file == "data/w.bin")
        );
        std::fs::write(d.path().join("data/w.bin"), vec![7u8; 3000]).unwrap();
        std::fs::write(d.path().join("extra.txt"), b"x").unwrap();
        assert!(
            matches!(verify(d.path(), &sig, &trust, None), Err(ReleaseError::ExtraFile { file }) if file == "extra.txt")
        );
        std::fs::remove_file(d.path().join("extra.txt")).unwrap();
        std::fs::remove_file(d.path().join("model.onnx")).unwrap();
        assert!(
            matches!(verify(d.path(), &sig, &trust, None), Err(ReleaseError::MissingFile { file }) if file == "model.onnx")
        );
    }

    #[test]
    fn tampered_bundles_fail_in_order() {
        let d = release();
        let sig = d.path().join("inside.sig");
        let key = PrivateKey::generate();
        sign(d.path(), &key, &sig, None, None).unwrap();
        let trust = Trust::Key(key.public());
        verify(d.path(), &sig, &trust, None).expect("a signature inside the folder is skipped");
        let good: Value = serde_json::from_slice(&std::fs::read(&sig).unwrap()).unwrap();
        let check = |mutate: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            mutate(&mut v);
            verify_signature(&serde_json::to_vec(&v).unwrap(), &trust).unwrap_err()
        };
        assert!(matches!(
            check(
                &|v| v["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.3")
            ),
            ReleaseError::BadMediaType(_)
        ));
        assert!(matches!(
            check(&|v| v["dsseEnvelope"]["payloadType"] = json!("application/json")),
            ReleaseError::BadPayloadType(_)
        ));
        assert!(matches!(
            check(&|v| v["dsseEnvelope"]["payload"] = json!(bundle::b64(b"{}"))),
            ReleaseError::BadSignature
        ));
        assert!(matches!(
            check(&|v| v["extra"] = json!(true)),
            ReleaseError::MalformedBundle(_)
        ));
        assert!(matches!(
            check(&|v| v["dsseEnvelope"]["signatures"] = json!([])),
            ReleaseError::MalformedBundle(_)
        ));
        assert!(matches!(
            verify_signature(b"not json", &trust).unwrap_err(),
            ReleaseError::MalformedBundle(_)
        ));
    }

    #[test]
    fn hostile_resource_names_in_a_signed_statement_are_refused() {
        let key = PrivateKey::generate();
        for bad in ["../../etc/passwd", "/etc/passwd", "a\\b", "a\u{0}b"] {
            let mut m = Manifest::default();
            m.files.insert(bad.to_string(), [0u8; 32]);
            let payload = serde_json::to_vec(&bundle::statement("x", &m, &[], None)).unwrap();
            let sig = key.sign(&bundle::pae(PAYLOAD_TYPE, &payload));
            let b = json!({"mediaType": BUNDLE_MEDIA_TYPE, "verificationMaterial": {"publicKey": {"hint": key.public().hint()}, "tlogEntries": []},
                "dsseEnvelope": {"payload": bundle::b64(&payload), "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": bundle::b64(&sig), "keyid": ""}]}});
            let e = verify_signature(&serde_json::to_vec(&b).unwrap(), &Trust::Key(key.public()))
                .unwrap_err();
            assert!(
                matches!(e, ReleaseError::HostileName { .. }),
                "{bad:?}: {e}"
            );
        }
    }
}
