//! The server a load run goes to: its URL (the scheme picks the protocol), the model, and
//! the credentials.

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
}

impl Target {
    /// Reads `http://HOST:PORT` (REST; `binary` sends tensors as raw bytes) or
    /// `grpc://HOST:PORT` (gRPC).
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
            ("http", false) => ServedProtocol::RestJson,
            ("http", true) => ServedProtocol::RestBinary,
            ("grpc", false) => ServedProtocol::Grpc,
            ("grpc", true) => {
                return Err(bad(
                    "binary tensors are a REST option: gRPC always sends raw tensor bytes".into(),
                ));
            }
            ("https" | "grpcs", _) => {
                return Err(bad(format!(
                    "'{url}': TLS targets are not supported by assay load; measure the server on its plain port (TLS adds a handshake per connection, not per request)"
                )));
            }
            (other, _) => {
                return Err(bad(format!(
                    "'{url}' has the scheme '{other}'; give http://HOST:PORT (REST) or grpc://HOST:PORT (gRPC)"
                )));
            }
        };
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
        let port = parsed
            .port()
            .unwrap_or(if protocol == ServedProtocol::Grpc {
                8001
            } else {
                80
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
        assert_eq!((t.protocol, t.port), (ServedProtocol::Grpc, 8001));
        for (url, words) in [
            ("127.0.0.1:8000", "not a URL"),
            ("localhost:8000", "scheme 'localhost'"),
            ("ftp://h:1", "scheme 'ftp'"),
            ("https://h:1", "TLS"),
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
