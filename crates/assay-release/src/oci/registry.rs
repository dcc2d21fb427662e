//! A connection to one OCI registry: TLS (with a private CA), credentials from Docker's
//! config, and the translation of the distribution protocol's failures into
//! [`ReleaseError`]s that say what to do.

use std::path::PathBuf;

use oci_client::{
    Client, RegistryOperation,
    client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol},
    errors::OciDistributionError,
    secrets::RegistryAuth,
};

use sha2::Digest;

use super::{layout::MAX_DOCUMENT_BYTES, reference::OciReference};
use crate::error::{ReleaseError, Result};

/// How to reach a registry. The default is HTTPS with the system's roots and the
/// credentials `docker login` (or `oras login`) stored.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Extra CA certificate (PEM) for a registry with a private certificate.
    pub ca_cert: Option<PathBuf>,
    /// Plain HTTP instead of TLS (a registry on a private network, ORAS's `--plain-http`).
    pub plain_http: bool,
    /// Explicit credentials, over Docker's config (a gateway's config, the tests).
    pub credentials: Option<(String, String)>,
    /// The one registry host (`host[:port]`) `credentials` and `plain_http` are for; other
    /// hosts get neither, so a reference to another host never receives the password.
    pub host: Option<String>,
}

impl RegistryOptions {
    fn applies_to(&self, host: &str) -> bool {
        self.host.as_deref().is_none_or(|h| h == host)
    }
}

/// A client bound to one registry host, authenticated for what it will do.
pub struct Registry {
    pub(crate) client: Client,
    pub(crate) auth: RegistryAuth,
    pub(crate) host: String,
    /// For the documents read with a size cap (oci-client reads whole bodies) and the
    /// resumable uploads (oci-client keeps its upload sessions private).
    pub(super) http: reqwest::Client,
    scheme: &'static str,
    /// The bearer token of the registry's token flow, when it has one.
    bearer: Option<String>,
}

impl Registry {
    /// Connects to `reference`'s registry and authenticates for `push` or pull, so a wrong
    /// password fails here with one clear error rather than halfway through an upload.
    pub async fn connect(
        reference: &OciReference,
        opts: &RegistryOptions,
        push: bool,
    ) -> Result<Registry> {
        // reqwest inside oci-client is built without a crypto provider of its own; the
        // process uses ring, like the gateway's TLS. A second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ours = opts.applies_to(&reference.registry);
        let plain = opts.plain_http && ours;
        let mut config = ClientConfig {
            protocol: if plain {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            user_agent: concat!("assay/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let mut http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(120))
            .user_agent(config.user_agent);
        if let Some(ca) = &opts.ca_cert {
            let data = std::fs::read(ca).map_err(|e| ReleaseError::io(ca, e))?;
            let cert =
                reqwest::Certificate::from_pem(&data).map_err(|e| ReleaseError::Invalid {
                    what: "registry CA certificate",
                    message: format!("{}: {e}", ca.display()),
                })?;
            http = http.tls_certs_merge([cert]);
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let http = http
            .build()
            .map_err(|e| ReleaseError::RegistryUnreachable {
                registry: reference.registry.clone(),
                message: chain(&e),
            })?;
        let mut registry = Registry {
            client: Client::new(config),
            auth: credentials(&reference.registry, opts, ours)?,
            host: reference.registry.clone(),
            http,
            scheme: if plain { "http" } else { "https" },
            bearer: None,
        };
        let op = if push {
            RegistryOperation::Push
        } else {
            RegistryOperation::Pull
        };
        registry.bearer = registry
            .client
            .auth(&reference.client_ref(), &registry.auth, op)
            .await
            .map_err(|e| registry.error(&reference.to_string(), e))?;
        Ok(registry)
    }

    /// `reference`'s image manifest (capped at [`MAX_DOCUMENT_BYTES`]) and its digest, computed
    /// from the bytes: the registry's digest header is not trusted, and a reference pinned to
    /// a digest must get exactly those bytes.
    pub(crate) async fn manifest(&self, reference: &OciReference) -> Result<(Vec<u8>, String)> {
        let at = match (&reference.digest, &reference.tag) {
            (Some(d), _) => d.as_str(),
            (None, Some(t)) => t.as_str(),
            (None, None) => "latest",
        };
        let raw = self
            .document(
                reference,
                &format!("manifests/{at}"),
                &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
                MAX_DOCUMENT_BYTES,
            )
            .await?
            .ok_or_else(|| ReleaseError::RegistryNotFound {
                what: reference.to_string(),
            })?;
        let digest = super::layout::oci_digest(&sha2::Sha256::digest(&raw));
        if reference
            .digest
            .as_ref()
            .is_some_and(|want| *want != digest)
        {
            return Err(ReleaseError::DigestMismatch {
                file: format!("the manifest of {reference}"),
            });
        }
        Ok((raw, digest))
    }

    /// `GET /v2/<repository>/<tail>`, read while it streams and refused past `limit` bytes: a
    /// hostile registry must not make a gateway buffer gigabytes of "manifest". `None` on 404.
    pub(crate) async fn document(
        &self,
        repo: &OciReference,
        tail: &str,
        accept: &[&str],
        limit: usize,
    ) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/{tail}", self.repo_url(repo));
        let req = self.authorize(self.http.get(&url).header("Accept", accept.join(", ")));
        let what = format!("{repo} ({tail})");
        let resp = req.send().await.map_err(|e| {
            self.error(
                &what,
                oci_client::errors::OciDistributionError::RequestError(e),
            )
        })?;
        match resp.status().as_u16() {
            404 => return Ok(None),
            401 | 403 => return Err(self.unauthorized(&what)),
            s if !(200..300).contains(&s) => {
                return Err(ReleaseError::Registry {
                    reference: what,
                    message: format!("HTTP {s}"),
                });
            }
            _ => {}
        }
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large(&what, limit));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        use futures_util::StreamExt;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ReleaseError::Registry {
                reference: what.clone(),
                message: chain(&e),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(too_large(&what, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// `GET` a blob, answered as a stream for the caller to cap and hash (oci-client's own
    /// blob stream hashes it too, which a pull that hashes every byte anyway need not pay
    /// for twice). A redirect to a storage service is followed without the credentials.
    pub(crate) async fn blob(
        &self,
        repo: &OciReference,
        digest: &str,
        what: &str,
    ) -> Result<reqwest::Response> {
        let url = format!("{}/blobs/{digest}", self.repo_url(repo));
        let resp = self
            .authorize(self.http.get(&url))
            .send()
            .await
            .map_err(|e| self.error(what, OciDistributionError::RequestError(e)))?;
        match resp.status().as_u16() {
            404 => Err(ReleaseError::RegistryNotFound {
                what: what.to_string(),
            }),
            401 | 403 => Err(self.unauthorized(what)),
            s if !(200..300).contains(&s) => Err(ReleaseError::Registry {
                reference: what.to_string(),
                message: format!("HTTP {s}"),
            }),
            _ => Ok(resp),
        }
    }

    /// One error per thing the user can act on: credentials, a missing name, an unreachable
    /// host, or the registry's own refusal.
    pub(crate) fn error(&self, what: &str, e: OciDistributionError) -> ReleaseError {
        use OciDistributionError as E;
        match e {
            E::AuthenticationFailure(m) => ReleaseError::RegistryUnauthorized {
                registry: self.host.clone(),
                message: m,
            },
            E::UnauthorizedError { .. } => self.unauthorized(what),
            E::ImageManifestNotFoundError(_) => ReleaseError::RegistryNotFound {
                what: what.to_string(),
            },
            E::RegistryError { envelope, .. } => {
                use oci_client::errors::OciErrorCode as Code;
                let message = envelope
                    .errors
                    .iter()
                    .map(|x| format!("{} ({:?})", x.message, x.code))
                    .collect::<Vec<_>>()
                    .join("; ");
                let has = |f: fn(&Code) -> bool| envelope.errors.iter().any(|x| f(&x.code));
                if has(|c| matches!(c, Code::Unauthorized | Code::Denied)) {
                    match self.auth {
                        RegistryAuth::Anonymous => self.unauthorized(what),
                        _ => ReleaseError::RegistryUnauthorized {
                            registry: self.host.clone(),
                            message,
                        },
                    }
                } else if has(|c| {
                    matches!(
                        c,
                        Code::BlobUnknown
                            | Code::ManifestUnknown
                            | Code::NameUnknown
                            | Code::NotFound
                    )
                }) {
                    ReleaseError::RegistryNotFound {
                        what: format!("{what}: {message}"),
                    }
                } else {
                    ReleaseError::Registry {
                        reference: what.to_string(),
                        message,
                    }
                }
            }
            E::ServerError { code: 401, .. } => self.unauthorized(what),
            E::ServerError { code: 404, .. } => ReleaseError::RegistryNotFound {
                what: what.to_string(),
            },
            E::RequestError(r) if r.is_connect() || r.is_timeout() => {
                let mut message = chain(&r);
                if message.contains("certificate") {
                    message.push_str(
                        " (a registry with a private CA: give its certificate with --registry-ca FILE)",
                    );
                }
                ReleaseError::RegistryUnreachable {
                    registry: self.host.clone(),
                    message,
                }
            }
            E::RequestError(r) => ReleaseError::Registry {
                reference: what.to_string(),
                message: chain(&r),
            },
            other => ReleaseError::Registry {
                reference: what.to_string(),
                message: other.to_string(),
            },
        }
    }
}

impl Registry {
    /// `scheme://registry/v2/<repository>`, the root of a repository's endpoints.
    pub(super) fn repo_url(&self, repo: &OciReference) -> String {
        let r = repo.client_ref();
        format!(
            "{}://{}/v2/{}",
            self.scheme,
            r.resolve_registry(),
            r.repository()
        )
    }

    /// Whether `url` is on this registry (scheme, host and port), and so may be sent its
    /// credentials.
    pub(super) fn is_this_registry(&self, url: &reqwest::Url) -> bool {
        let r = oci_client::Reference::with_tag(self.host.clone(), "x".into(), "x".into());
        reqwest::Url::parse(&format!("{}://{}/", self.scheme, r.resolve_registry()))
            .is_ok_and(|ours| ours.origin() == url.origin())
    }

    /// The registry's credentials on a request: the token flow's bearer token, else the
    /// configured ones.
    pub(super) fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.bearer, &self.auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            (None, RegistryAuth::Bearer(t)) => req.bearer_auth(t),
            (None, RegistryAuth::Anonymous) => req,
        }
    }

    pub(super) fn unauthorized(&self, what: &str) -> ReleaseError {
        ReleaseError::RegistryUnauthorized {
            registry: self.host.clone(),
            message: match self.auth {
                RegistryAuth::Anonymous => {
                    format!(
                        "it asks for credentials for {what}, and none are configured for {}",
                        self.host
                    )
                }
                _ => format!("not authorized for {what}"),
            },
        }
    }
}

fn too_large(what: &str, limit: usize) -> ReleaseError {
    ReleaseError::Registry {
        reference: what.to_string(),
        message: format!("the registry sent more than {} KiB; refused", limit >> 10),
    }
}

/// An error with its causes: reqwest's own message ("error sending request") hides the
/// useful part (a refused connection, an unknown certificate authority).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Explicit credentials first, then Docker's config (and its credential helpers), else
/// anonymous: a public registry needs none, and a private one says so at `connect`.
fn credentials(host: &str, opts: &RegistryOptions, ours: bool) -> Result<RegistryAuth> {
    use docker_credential::{CredentialRetrievalError as C, DockerCredential};
    if let Some((u, p)) = opts.credentials.as_ref().filter(|_| ours) {
        return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
    }
    // No config file at all is no credentials (docker_credential calls that a read error).
    let config = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".docker")))
        .map(|d| d.join("config.json"));
    if !config.is_some_and(|c| c.is_file()) {
        return Ok(RegistryAuth::Anonymous);
    }
    match docker_credential::get_credential(host) {
        Ok(DockerCredential::UsernamePassword(u, p)) => Ok(RegistryAuth::Basic(u, p)),
        Ok(DockerCredential::IdentityToken(t)) => Ok(RegistryAuth::Bearer(t)),
        Err(C::NoCredentialConfigured | C::ConfigNotFound) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(ReleaseError::RegistryUnauthorized {
            registry: host.to_string(),
            message: format!("reading Docker's credentials failed: {e}"),
        }),
    }
}

/// The tags of `repository` (what a gateway's watch polls), with the referrers tag schema's
/// `sha256-…` tags left out.
pub async fn list_tags(repository: &OciReference, opts: &RegistryOptions) -> Result<Vec<String>> {
    let reg = Registry::connect(repository, opts, false).await?;
    let r = repository.client_ref();
    let list = reg
        .client
        .list_tags(&r, &reg.auth, None, None)
        .await
        .map_err(|e| reg.error(&repository.to_string(), e))?;
    Ok(list
        .tags
        .into_iter()
        .filter(|t| !t.starts_with("sha256-"))
        .collect())
}
