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

use super::reference::OciReference;
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
}

/// A client bound to one registry host, authenticated for what it will do.
pub struct Registry {
    pub(crate) client: Client,
    pub(crate) auth: RegistryAuth,
    pub(crate) host: String,
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
        let mut config = ClientConfig {
            protocol: if opts.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            user_agent: concat!("assay/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        if let Some(ca) = &opts.ca_cert {
            let data = std::fs::read(ca).map_err(|e| ReleaseError::io(ca, e))?;
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let registry = Registry {
            client: Client::new(config),
            auth: credentials(&reference.registry, opts)?,
            host: reference.registry.clone(),
        };
        let op = if push {
            RegistryOperation::Push
        } else {
            RegistryOperation::Pull
        };
        registry
            .client
            .auth(&reference.client_ref(), &registry.auth, op)
            .await
            .map_err(|e| registry.error(&reference.to_string(), e))?;
        Ok(registry)
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
    fn unauthorized(&self, what: &str) -> ReleaseError {
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
fn credentials(host: &str, opts: &RegistryOptions) -> Result<RegistryAuth> {
    use docker_credential::{CredentialRetrievalError as C, DockerCredential};
    if let Some((u, p)) = &opts.credentials {
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
