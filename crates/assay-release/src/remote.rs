//! The gateway's release API as both sides see it: the wire types of a resumable push, and
//! a blocking client used by `assay push`, `assay gateway …` and the console.
//!
//! A push is three steps, and every step can be repeated safely:
//! 1. `POST /admin/v1/uploads` with the signature bundle and the file list. The gateway
//!    checks the signature and the file names before a byte is sent, and names the upload
//!    after the bundle's digest, so pushing the same release again finds the same upload.
//! 2. `PUT /admin/v1/uploads/{id}/files/{path}?offset=N` for each file, from the offset the
//!    gateway last confirmed. A dropped connection costs only the bytes in flight.
//! 3. `POST /admin/v1/uploads/{id}/commit`: the gateway re-hashes everything, verifies it
//!    against its trusted keys, and only then lists the release.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};
use ureq::tls::{RootCerts, TlsConfig};

use crate::{
    error::{ReleaseError, Result},
    signing,
    views::{ModelList, PushOutcome},
};

/// Step 1's request.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadRequest {
    /// The Sigstore bundle, byte for byte.
    pub bundle: Box<RawValue>,
    pub files: Vec<FileDecl>,
}

/// A file the push will send.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileDecl {
    pub path: String,
    pub size: u64,
}

/// Where an upload stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadStatus {
    pub upload: String,
    pub name: String,
    pub version: String,
    /// The gateway already holds this exact release; nothing needs sending.
    #[serde(default)]
    pub exists: bool,
    pub files: Vec<FileProgress>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileProgress {
    pub path: String,
    pub size: u64,
    pub received: u64,
}

/// Progress of a push, for a bar.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PushProgress {
    pub sent: u64,
    pub total: u64,
    /// Bytes the gateway already had when this push started (resumed).
    pub resumed: u64,
}

/// `assay push --events`, one per line (docs/EVENTS.md).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PushEvent {
    /// About every 100 ms, and when the last byte is sent.
    PushProgress(PushProgress),
    /// The gateway verified and stored the release (the last event of a push).
    Pushed { result: Box<PushOutcome> },
}

/// What an HTTP exchange gives back.
type Response = std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// A gateway's admin API.
pub struct GatewayClient {
    base: String,
    token: String,
    agent: ureq::Agent,
    /// Attempts per file before a push gives up.
    pub retries: u32,
}

impl GatewayClient {
    /// `url` is the gateway's base URL (`http://host:8000`); `ca_cert` adds a PEM CA to the
    /// system's roots, for gateways with a private certificate.
    pub fn new(url: &str, token: &str, ca_cert: Option<&Path>) -> Result<GatewayClient> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ReleaseError::Invalid {
                what: "gateway URL",
                message: format!("'{url}' must start with http:// or https://"),
            });
        }
        let mut certs = if base.starts_with("https://") {
            assay_engine::runtime::native_roots().unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(p) = ca_cert {
            let pem = std::fs::read(p).map_err(|e| ReleaseError::io(p, e))?;
            let parsed: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if parsed.is_empty() {
                return Err(ReleaseError::Invalid {
                    what: "CA certificate",
                    message: format!("{} holds no PEM certificate", p.display()),
                });
            }
            certs.extend(parsed);
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::new_with_certs(&certs))
                    .build(),
            )
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .user_agent(concat!("assay/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(GatewayClient {
            base,
            token: token.to_string(),
            agent,
            retries: 8,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ReleaseError {
        ReleaseError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        }
    }

    /// The answer's text, or the gateway's error (its message and kind) for a 4xx or 5xx.
    fn finish_text(&self, resp: Response) -> Result<String> {
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if status >= 400 {
            #[derive(Deserialize)]
            struct ErrorBody {
                error: String,
                kind: Option<assay_engine::ErrorKind>,
            }
            let (message, kind) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(b) => (b.error, b.kind),
                Err(_) => (text, None),
            };
            return Err(ReleaseError::Remote {
                status,
                kind,
                message,
            });
        }
        Ok(text)
    }

    /// The answer as JSON (text that is not JSON, like `/metrics`, as a string).
    fn finish(&self, resp: Response) -> Result<Value> {
        let text = self.finish_text(resp)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The answer as one of the admin API's typed views ([`crate::views`]).
    fn finish_as<T: serde::de::DeserializeOwned>(&self, resp: Response) -> Result<T> {
        let text = self.finish_text(resp)?;
        // Not `Unreachable`: the gateway answered, so a push must not take this for a lost
        // answer and commit again.
        serde_json::from_str(&text).map_err(|e| ReleaseError::UnreadableAnswer {
            url: self.base.clone(),
            message: e.to_string(),
        })
    }

    /// `GET path` with the token, given up after `timeout` when one is given.
    fn send_get(&self, path: &str, timeout: Option<Duration>) -> Response {
        let req = self
            .agent
            .get(self.url(path))
            .header("Authorization", format!("Bearer {}", self.token));
        match timeout {
            Some(t) => req.config().timeout_global(Some(t)).build().call(),
            None => req.call(),
        }
    }

    /// `POST path` with the token and a JSON body.
    fn send_post(&self, path: &str, body: &impl Serialize) -> Response {
        self.agent
            .post(self.url(path))
            .header("Authorization", format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(serde_json::to_vec(body).expect("serializes").as_slice())
    }

    /// `GET path` as a typed view, given up after `timeout`.
    pub fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<T> {
        self.finish_as(self.send_get(path, Some(timeout)))
    }

    /// `POST path` with a JSON body, answered with a typed view.
    pub fn post_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T> {
        self.finish_as(self.send_post(path, body))
    }

    /// `GET path` (admin routes and the public ones alike).
    pub fn get(&self, path: &str) -> Result<Value> {
        self.finish(self.send_get(path, None))
    }

    /// `GET path`, given up after `timeout` (a dashboard poll must not outlive its interval).
    pub fn get_within(&self, path: &str, timeout: Duration) -> Result<Value> {
        self.finish(self.send_get(path, Some(timeout)))
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(self.send_post(path, body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Value> {
        self.finish(
            self.agent
                .delete(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .call(),
        )
    }

    /// Pushes the release in `dir`, signed by the bundle at `signature`, resuming whatever the
    /// gateway already holds. Returns the gateway's answer to the commit.
    pub fn push(
        &self,
        dir: &Path,
        signature: &Path,
        activate: bool,
        progress: &mut dyn FnMut(PushProgress),
    ) -> Result<PushOutcome> {
        let bundle = std::fs::read(signature).map_err(|e| ReleaseError::io(signature, e))?;
        let statement = signing::read_unverified(&bundle)?;
        let mut files = Vec::new();
        for name in statement.manifest.files.keys() {
            let path = file_path(dir, name);
            let meta = std::fs::metadata(&path).map_err(|e| ReleaseError::io(&path, e))?;
            files.push(FileDecl {
                path: name.clone(),
                size: meta.len(),
            });
        }
        let total: u64 = files.iter().map(|f| f.size).sum();
        let raw = String::from_utf8(bundle)
            .map_err(|_| ReleaseError::MalformedBundle("the bundle is not UTF-8 JSON".into()))?;
        let request = UploadRequest {
            bundle: RawValue::from_string(raw)
                .map_err(|e| ReleaseError::MalformedBundle(e.to_string()))?,
            files: files.clone(),
        };
        let status: UploadStatus = self.with_retries(|| {
            let v = self.post(
                "/admin/v1/uploads",
                &serde_json::to_value(&request).expect("serializes"),
            )?;
            serde_json::from_value(v)
                .map_err(|e| self.unreachable(format!("unexpected answer: {e}")))
        })?;
        let resumed: u64 = status.files.iter().map(|f| f.received).sum();
        let mut sent = resumed;
        progress(PushProgress {
            sent,
            total,
            resumed,
        });
        if status.exists {
            return Ok(PushOutcome {
                model: status.name,
                version: status.version,
                already_present: true,
                release: None,
                state: None,
                activated: Some(false),
            });
        }
        for f in &status.files {
            let mut offset = f.received;
            let mut attempts = 0;
            while offset < f.size {
                match self.put_file(&status.upload, dir, f, offset, &mut |n| {
                    progress(PushProgress {
                        sent: sent + n,
                        total,
                        resumed,
                    })
                }) {
                    Ok(received) if received > offset => offset = received,
                    Ok(_) => {
                        // Nothing moved: the local file is shorter than when it was listed.
                        return Err(ReleaseError::Invalid {
                            what: "release",
                            message: format!(
                                "{} changed while it was being pushed (it no longer has {} bytes)",
                                f.path, f.size
                            ),
                        });
                    }
                    Err(e) if attempts < self.retries && retryable(&e) => {
                        attempts += 1;
                        std::thread::sleep(Duration::from_millis(200 * (1 << attempts.min(5))));
                        // Ask the gateway how much it kept, and go on from there.
                        if let Ok(v) = self.get(&format!("/admin/v1/uploads/{}", status.upload))
                            && let Ok(s) = serde_json::from_value::<UploadStatus>(v)
                            && let Some(p) = s.files.iter().find(|p| p.path == f.path)
                        {
                            offset = p.received;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            sent += f.size - f.received;
            progress(PushProgress {
                sent,
                total,
                resumed,
            });
        }
        let commit = format!(
            "/admin/v1/uploads/{}/commit?activate={activate}",
            status.upload
        );
        match self.post_as::<PushOutcome>(&commit, &Value::Null) {
            // The answer was lost, not necessarily the commit: if the release is listed now,
            // it landed; otherwise commit again (the upload is still there).
            Err(ReleaseError::Unreachable { .. }) => {
                std::thread::sleep(Duration::from_millis(500));
                let listed = self
                    .get_as::<ModelList>("/admin/v1/models", Duration::from_secs(60))
                    .ok()
                    .and_then(|list| {
                        list.models
                            .into_iter()
                            .find(|m| m.name == status.name)?
                            .releases
                            .into_iter()
                            .find(|r| r.version == status.version)
                    });
                match listed {
                    Some(release) => Ok(PushOutcome {
                        model: status.name,
                        version: status.version,
                        already_present: false,
                        release: Some(release),
                        state: None,
                        activated: None,
                    }),
                    None => self.post_as(&commit, &Value::Null),
                }
            }
            other => other,
        }
    }

    fn with_retries<T>(&self, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match f() {
                Err(e) if attempt < 3 && matches!(e, ReleaseError::Unreachable { .. }) => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(300 * attempt));
                }
                other => return other,
            }
        }
    }

    /// Sends one file from `offset`; returns how much the gateway now holds.
    fn put_file(
        &self,
        upload: &str,
        dir: &Path,
        f: &FileProgress,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let path = file_path(dir, &f.path);
        let mut file = std::fs::File::open(&path).map_err(|e| ReleaseError::io(&path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| ReleaseError::io(&path, e))?;
        let mut reader = Counting {
            inner: file.take(f.size - offset),
            done: offset.saturating_sub(f.received),
            progress,
        };
        let url = self.url(&format!(
            "/admin/v1/uploads/{upload}/files/{}?offset={offset}",
            encode_path(&f.path)
        ));
        let v = self.finish(
            self.agent
                .put(url)
                .header("Authorization", format!("Bearer {}", self.token))
                .content_type("application/octet-stream")
                .send(ureq::SendBody::from_reader(&mut reader)),
        )?;
        v["received"]
            .as_u64()
            .ok_or_else(|| self.unreachable(format!("unexpected answer: {v}")))
    }
}

fn retryable(e: &ReleaseError) -> bool {
    match e {
        ReleaseError::Unreachable { .. } => true,
        // 409: the offset moved (another attempt landed); 5xx: worth another try.
        ReleaseError::Remote { status, .. } => *status == 409 || *status >= 500,
        _ => false,
    }
}

fn file_path(dir: &Path, name: &str) -> PathBuf {
    if name == "." {
        dir.to_path_buf()
    } else {
        dir.join(name)
    }
}

/// Percent-encodes a release path for a URL, keeping `/` as the separator.
fn encode_path(p: &str) -> String {
    p.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes one URL path segment (a model name or a version): everything but
/// RFC 3986's unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct Counting<'a, R> {
    inner: R,
    done: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.progress)(self.done);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_for_urls() {
        assert_eq!(encode_path("sub dir/model.onnx"), "sub%20dir/model.onnx");
        assert_eq!(encode_path("a%b"), "a%25b");
    }
}
