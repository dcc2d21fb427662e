//! `oci://REGISTRY/REPOSITORY[:TAG][@DIGEST]`: the one way a release in a registry is named,
//! on the command line, in the gateway's pull API and in a gateway's watch config.

use crate::error::{ReleaseError, Result};

/// The URL scheme that marks a registry reference (as opposed to a folder or a gateway URL).
pub const SCHEME: &str = "oci://";

/// A parsed registry reference. `tag` and `digest` may both be absent (a repository, for
/// listing and watching) or both present (the digest wins when pulling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// `host[:port]`.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl OciReference {
    /// True when `s` is meant as a registry reference.
    pub fn is_oci(s: &str) -> bool {
        s.starts_with(SCHEME)
    }

    /// Parses `oci://…`, refusing what a registry would refuse later with a vaguer message.
    pub fn parse(s: &str) -> Result<OciReference> {
        let bad = |message: String| ReleaseError::Invalid {
            what: "registry reference",
            message: format!("{s}: {message} (expected oci://HOST[:PORT]/REPOSITORY[:TAG])"),
        };
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it does not start with oci://".into()))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("it names no repository".into()))?;
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(bad(format!("'{registry}' is not a registry host")));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => (p, Some(d.to_string())),
            None => (path, None),
        };
        if let Some(d) = &digest {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("'{d}' is not a sha256:<64 hex digits> digest")));
            }
        }
        // A tag follows the last ':' after the last '/'.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
            _ => (path, None),
        };
        if repository.is_empty()
            || repository.split('/').any(|c| {
                c.is_empty()
                    || !c.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
            })
        {
            return Err(bad(format!(
                "'{repository}' is not a repository name (lowercase letters, digits, '.', '_', '-', '/')"
            )));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(bad(format!("'{t}' is not a tag")));
            }
        }
        Ok(OciReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The same repository at another tag.
    pub fn with_tag(&self, tag: &str) -> OciReference {
        OciReference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository at a digest.
    pub fn with_digest(&self, digest: &str) -> OciReference {
        OciReference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// What oci-client addresses. A reference with neither tag nor digest means `latest`, as
    /// in Docker and ORAS.
    pub(crate) fn client_ref(&self) -> oci_client::Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                d.clone(),
            ),
            (None, t) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}

impl std::fmt::Display for OciReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let r = OciReference::parse("oci://127.0.0.1:5000/team/mlp:1.2.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/mlp", Some("1.2.0"))
        );
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/team/mlp:1.2.0");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = OciReference::parse(&format!("oci://reg.example/mlp@{d}")).unwrap();
        assert_eq!((r.tag, r.digest), (None, Some(d)));
        let r = OciReference::parse("oci://localhost:5000/mlp").unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.client_ref().tag(), Some("latest"));
    }

    #[test]
    fn refuses_what_a_registry_would() {
        for bad in [
            "http://reg/mlp:1",
            "oci://reg",
            "oci:///mlp",
            "oci://reg/MLP:1",
            "oci://reg/a//b:1",
            "oci://reg/mlp:-x",
            "oci://reg/mlp@sha256:abc",
            "oci://re g/mlp",
        ] {
            let e = OciReference::parse(bad).unwrap_err().to_string();
            assert!(e.contains("registry reference"), "{bad}: {e}");
        }
    }
}
