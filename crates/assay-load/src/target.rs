//! The server a load run goes to: its URL (the scheme picks the protocol), the model, and
//! the credentials.

use std::path::PathBuf;

use assay_engine::{EngineError, Setting, bench::ServedProtocol};

/// Where the load goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The base URL as given, without a trailing slash (`http://127.0.0.1:8000`).
    pub url: String,
    pub host: String,
    pub port: u16,
    pub protocol: ServedProtocol,
    pub model: String,
    /// The version asked for; `None` lets the server pick (a gateway's canary split).
    pub version: Option<String>,
    /// A bearer token sent with every request (`Authorization`, or gRPC metadata).
    pub token: Option<String>,
    /// TLS (`https://`, `grpcs://`): the server's certificate is checked against the system's
    /// roots and `ca_cert`.
    pub tls: bool,
    /// An extra CA certificate (PEM) for a server with a private certificate.
    pub ca_cert: Option<PathBuf>,
}

impl Target {
    /// Reads `http://HOST:PORT` (REST; `binary` sends tensors as raw bytes) or
    /// `grpc://HOST:PORT` (gRPC), or `https://` and `grpcs://` for the same over TLS.
    pub fn parse(
        url: &str,
        model: &str,
        version: Option<String>,
        binary: bool,
        token: Option<String>,
    ) -> Result<Target, EngineError> {
        let bad = |m: String| EngineError::invalid(Setting::Target, m);
        let parsed = url::Url::parse(url).map_err(|e| {
            bad(format!(
                "'{url}' is not a URL ({e}); give http://HOST:PORT or grpc://HOST:PORT"
            ))
        })?;
        let protocol = match (parsed.scheme(), binary) {
            ("http" | "https", false) => ServedProtocol::RestJson,
            ("http" | "https", true) => ServedProtocol::RestBinary,
            ("grpc" | "grpcs", false) => ServedProtocol::Grpc,
            ("grpc" | "grpcs", true) => {
                return Err(bad(
                    "binary tensors are a REST option: gRPC always sends raw tensor bytes".into(),
                ));
            }
            (other, _) => {
                return Err(bad(format!(
                    "'{url}' has the scheme '{other}'; give http(s)://HOST:PORT (REST) or grpc(s)://HOST:PORT (gRPC)"
                )));
            }
        };
        let tls = matches!(parsed.scheme(), "https" | "grpcs");
        if parsed.path() != "/" && !parsed.path().is_empty() {
            return Err(bad(format!(
                "'{url}' has a path; give the server's base URL only (the model is a separate argument)"
            )));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| bad(format!("'{url}' names no host")))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let port = parsed.port().unwrap_or(match (protocol, tls) {
            (ServedProtocol::Grpc, _) => 8001,
            (_, true) => 443,
            _ => 80,
        });
        if model.is_empty() || model.contains('/') {
            return Err(bad(format!("'{model}' is not a model name")));
        }
        Ok(Target {
            url: url.trim_end_matches('/').to_string(),
            host,
            port,
            protocol,
            model: model.to_string(),
            version,
            token,
            tls,
            ca_cert: None,
        })
    }

    /// The REST path of the model (`/v2/models/NAME[/versions/V]`).
    pub(crate) fn model_path(&self) -> String {
        match &self.version {
            Some(v) => format!("/v2/models/{}/versions/{v}", self.model),
            None => format!("/v2/models/{}", self.model),
        }
    }

    /// What the run history shows as the model's path: the model's URL.
    pub fn model_url(&self) -> String {
        format!("{}{}", self.url, self.model_path())
    }

    /// `host:port`, for connecting and for the `Host` header.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_protocol_and_bad_urls_say_why() {
        let t = Target::parse("http://127.0.0.1:8000/", "mlp", None, false, None).unwrap();
        assert_eq!(t.protocol, ServedProtocol::RestJson);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8000));
        assert_eq!(t.url, "http://127.0.0.1:8000");
        assert_eq!(t.model_url(), "http://127.0.0.1:8000/v2/models/mlp");
        let t = Target::parse("http://[::1]:9", "mlp", Some("2".into()), true, None).unwrap();
        assert_eq!(t.protocol, ServedProtocol::RestBinary);
        assert_eq!(t.authority(), "[::1]:9");
        assert_eq!(t.model_path(), "/v2/models/mlp/versions/2");
        let t = Target::parse("grpc://localhost", "mlp", None, false, None).unwrap();
        assert_eq!(
            (t.protocol, t.port, t.tls),
            (ServedProtocol::Grpc, 8001, false)
        );
        let t = Target::parse("grpcs://localhost", "mlp", None, false, None).unwrap();
        assert_eq!(
            (t.protocol, t.port, t.tls),
            (ServedProtocol::Grpc, 8001, true)
        );
        let t = Target::parse("https://gw.example", "mlp", None, true, None).unwrap();
        assert_eq!(
            (t.protocol, t.port, t.tls),
            (ServedProtocol::RestBinary, 443, true)
        );
        for (url, words) in [
            ("127.0.0.1:8000", "not a URL"),
            ("localhost:8000", "scheme 'localhost'"),
            ("ftp://h:1", "scheme 'ftp'"),
            ("wss://h:1", "scheme 'wss'"),
            ("http://h:1/v2/models/mlp", "has a path"),
            ("not a url", "not a URL"),
        ] {
            let e = Target::parse(url, "mlp", None, false, None).unwrap_err();
            assert!(e.to_string().contains(words), "{url}: {e}");
        }
        let e = Target::parse("grpc://h:1", "mlp", None, true, None).unwrap_err();
        assert!(e.to_string().contains("REST option"), "{e}");
    }
}
