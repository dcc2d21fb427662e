//! TLS for `https://` and `grpcs://` targets: rustls with the ring provider (as the gateway
//! serves it), the system's roots plus an optional private CA, and ALPN for the protocol
//! (`h2` for gRPC, `http/1.1` for REST). The configuration is built once per run and shared
//! by every connection, so a run's connections pay the handshake and nothing else.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use assay_engine::{EngineError, Setting, bench::ServedProtocol};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio_rustls::TlsConnector;

use crate::{error::LoadError, target::Target};

/// The connector for `target`'s CA and protocol.
pub(crate) fn connector(target: &Target) -> Result<TlsConnector, LoadError> {
    type Key = (Option<PathBuf>, bool);
    static CACHE: Mutex<Option<(Key, Arc<rustls::ClientConfig>)>> = Mutex::new(None);
    let key = (
        target.ca_cert.clone(),
        target.protocol == ServedProtocol::Grpc,
    );
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, config)) = cache.as_ref()
        && *k == key
    {
        return Ok(TlsConnector::from(config.clone()));
    }
    let config = Arc::new(client_config(&key.0, key.1)?);
    *cache = Some((key, config.clone()));
    Ok(TlsConnector::from(config))
}

fn client_config(ca: &Option<PathBuf>, grpc: bool) -> Result<rustls::ClientConfig, LoadError> {
    let bad = |m: String| LoadError::Engine(EngineError::invalid(Setting::Target, m));
    let mut roots = rustls::RootCertStore::empty();
    // A root the store cannot parse is skipped, as every TLS client does.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).map_err(|e| bad(format!("--ca-cert {}: {e}", ca.display())))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("--ca-cert {}: {e}", ca.display())))?;
        if certs.is_empty() {
            return Err(bad(format!(
                "--ca-cert {}: no PEM certificate in it",
                ca.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("--ca-cert {}: {e}", ca.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![if grpc {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Ok(config)
}
