//! The HTTP client for explicit package indexes: the system certificate store (honouring
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`, because machines behind a TLS-inspecting proxy trust
//! its CA only there) and the usual proxy environment variables.

use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::error::{EngineError, Result};

pub(crate) fn agent() -> Result<ureq::Agent> {
    let certs = native_roots().map_err(EngineError::Install)?;
    let config = ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&certs))
                .build(),
        )
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .user_agent(concat!("assay/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(config.into())
}

/// The system's trusted CA certificates (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`), for every
/// Assay HTTPS client.
pub fn native_roots() -> std::result::Result<Vec<Certificate<'static>>, String> {
    let loaded = rustls_native_certs::load_native_certs();
    if loaded.certs.is_empty() {
        let detail = loaded
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none found".into());
        return Err(format!(
            "no trusted CA certificates in the system store ({detail}); set SSL_CERT_FILE"
        ));
    }
    Ok(loaded
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect())
}
