//! Resumable blob uploads: the distribution protocol's chunked upload (`POST`, a `PATCH` per
//! chunk with its `Content-Range`, `PUT ?digest=`), driven here rather than by oci-client,
//! whose upload sessions are private, so that an interrupted upload continues at the byte the
//! registry stopped at instead of sending the blob again.
//!
//! Two interruptions are covered:
//! - a dropped connection or a registry error mid-upload: the upload's status (`GET` on its
//!   location) says how much arrived, and sending goes on from there, a few times;
//! - a killed or interrupted `assay push`: each upload's location and offset are kept in the
//!   user's cache (`<cache>/assay/oci-uploads/`) after every chunk the registry acknowledged,
//!   and the next push of the same blob to the same repository asks the registry where that
//!   upload stands and continues it.
//!
//! A registry that forgot the upload (expired, garbage-collected, or refusing a session that
//! was cut mid-chunk) makes the blob start over, which is always correct: the registry hashes
//! what it assembled and refuses a digest that does not match.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
    time::Duration,
};

use reqwest::{Method, StatusCode, Url, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{reference::OciReference, registry::Registry};
use crate::error::{ReleaseError, Result};

/// Bytes per `PATCH`: each acknowledged chunk is a point an upload can resume from.
pub(crate) const CHUNK: usize = 4 << 20;

/// Attempts per blob after a failed chunk before the error is the user's.
const RETRIES: u32 = 3;

/// One blob to upload: its file, digest and size, and a name for messages.
pub(crate) struct BlobUpload<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub digest: &'a str,
    pub size: u64,
}

/// An upload in progress: where the registry takes the next chunk, and from which byte.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    location: String,
    offset: u64,
    size: u64,
}

/// Where an upload of one blob to one repository is remembered between runs.
fn session_file(reg: &Registry, repository: &OciReference, digest: &str) -> Option<PathBuf> {
    let key = Sha256::digest(format!("{}@{digest}", reg.repo_url(repository)).as_bytes());
    let dir = dirs::cache_dir()?.join("assay").join("oci-uploads");
    Some(dir.join(format!("{}.json", hex::encode(&key[..16]))))
}

fn save(file: Option<&Path>, s: &Session) {
    // Losing this file only costs a resume; a push never fails for it.
    let Some(file) = file else { return };
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = file.with_extension("json.tmp");
    if std::fs::write(&tmp, serde_json::to_vec(s).expect("a session serializes")).is_ok() {
        let _ = std::fs::rename(&tmp, file);
    }
}

/// The upload of a blob of `size` bytes remembered in `file`, if any.
fn load(file: Option<&Path>, size: u64) -> Option<Session> {
    let bytes = std::fs::read(file?).ok()?;
    serde_json::from_slice::<Session>(&bytes)
        .ok()
        .filter(|s| s.size == size && s.offset <= size)
}

fn forget(file: Option<&Path>) {
    if let Some(f) = file {
        let _ = std::fs::remove_file(f);
    }
}

impl Registry {
    /// Where `blob` stands in the registry before sending: the offset a remembered upload
    /// reached (0 for a fresh one). Call [`Registry::upload`] with what this returns.
    pub(crate) async fn upload_resume_point(
        &self,
        repository: &OciReference,
        blob: &BlobUpload<'_>,
    ) -> u64 {
        let file = session_file(self, repository, blob.digest);
        let Some(saved) = load(file.as_deref(), blob.size) else {
            return 0;
        };
        match self.upload_status(&saved.location).await {
            Ok(Some(s)) if s.offset <= blob.size => {
                let s = Session {
                    size: blob.size,
                    ..s
                };
                save(file.as_deref(), &s);
                s.offset
            }
            _ => {
                forget(file.as_deref());
                0
            }
        }
    }

    /// Forgets a remembered upload of a blob the registry now holds whole (the push that
    /// finished it stopped before it could forget it).
    pub(crate) fn upload_done(&self, repository: &OciReference, digest: &str) {
        forget(session_file(self, repository, digest).as_deref());
    }

    /// Uploads `blob`, continuing a remembered upload where the registry has one, and calls
    /// `sent` with each chunk's size as the registry acknowledges it. Between chunks, a true
    /// `stop()` ends the upload with the registry keeping what it has (and the session
    /// remembered): `Ok(false)`. Stopping mid-chunk would make some registries (the CNCF
    /// distribution server) drop the whole upload.
    pub(crate) async fn upload(
        &self,
        repository: &OciReference,
        blob: &BlobUpload<'_>,
        sent: &(dyn Fn(u64) + Send + Sync),
        stop: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<bool> {
        let what = format!("{repository} ({})", blob.name);
        let file_key = session_file(self, repository, blob.digest);
        let mut session = match load(file_key.as_deref(), blob.size) {
            Some(s) => s,
            None => self.upload_start(repository, blob.size, &what).await?,
        };
        save(file_key.as_deref(), &session);

        let mut file = tokio::fs::File::open(blob.path)
            .await
            .map_err(|e| ReleaseError::io(blob.path, e))?;
        let mut buf = vec![0u8; CHUNK.min(blob.size as usize).max(1)];
        let mut failures = 0;
        while session.offset < blob.size {
            if stop() {
                return Ok(false);
            }
            let n = (blob.size - session.offset).min(CHUNK as u64) as usize;
            file.seek(SeekFrom::Start(session.offset))
                .await
                .map_err(|e| ReleaseError::io(blob.path, e))?;
            file.read_exact(&mut buf[..n])
                .await
                .map_err(|e| match e.kind() {
                    // The file shrank since it was signed and measured.
                    std::io::ErrorKind::UnexpectedEof => ReleaseError::DigestMismatch {
                        file: blob.name.to_string(),
                    },
                    _ => ReleaseError::io(blob.path, e),
                })?;
            let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
            match self.upload_chunk(&session, chunk, &what).await {
                Ok(location) => {
                    session.location = location;
                    session.offset += n as u64;
                    save(file_key.as_deref(), &session);
                    sent(n as u64);
                    failures = 0;
                }
                Err(e) if failures < RETRIES && e.transient => {
                    failures += 1;
                    tracing::warn!(blob = blob.name, offset = session.offset, error = %e.error, "upload chunk failed; asking the registry where the upload stands");
                    tokio::time::sleep(Duration::from_millis(250 << failures)).await;
                    session = match self.upload_status(&session.location).await {
                        Ok(Some(s)) if s.offset <= blob.size => Session {
                            size: blob.size,
                            ..s
                        },
                        // The registry dropped the upload: this blob starts over.
                        _ => self.upload_start(repository, blob.size, &what).await?,
                    };
                    save(file_key.as_deref(), &session);
                }
                Err(e) => return Err(e.error),
            }
        }
        self.upload_finish(&session, blob, &what).await?;
        forget(file_key.as_deref());
        Ok(true)
    }

    /// `POST /v2/<repository>/blobs/uploads/`: a new upload session.
    async fn upload_start(
        &self,
        repository: &OciReference,
        size: u64,
        what: &str,
    ) -> Result<Session> {
        let url = format!("{}/blobs/uploads/", self.repo_url(repository));
        let resp = self
            .send(Method::POST, &url, |r| r.header(header::CONTENT_LENGTH, 0))
            .await
            .map_err(|e| e.error)?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.refusal(what, resp).await);
        }
        Ok(Session {
            location: self.location(&url, &resp, what)?,
            offset: 0,
            size,
        })
    }

    /// `GET` on an upload's location: how many bytes the registry holds, and where the next
    /// chunk goes. `None` when the registry no longer knows the upload.
    async fn upload_status(&self, location: &str) -> Result<Option<Session>> {
        let resp = self
            .send(Method::GET, location, |r| r)
            .await
            .map_err(|e| e.error)?;
        if resp.status() != StatusCode::NO_CONTENT {
            return Ok(None);
        }
        // `0-0` is how the distribution server says both "nothing yet" and "one byte"; an
        // upload of ours never stops after one byte (chunks are 4 MiB), so it is nothing.
        let offset = range_end(resp.headers()).map_or(0, |end| if end == 0 { 0 } else { end + 1 });
        let location = self.location(location, &resp, "upload status")?;
        Ok(Some(Session {
            location,
            offset,
            size: 0,
        }))
    }

    /// One `PATCH`: the chunk at `session.offset`. Returns the location for the next.
    async fn upload_chunk(
        &self,
        session: &Session,
        chunk: bytes::Bytes,
        what: &str,
    ) -> std::result::Result<String, Failed> {
        let (start, len) = (session.offset, chunk.len() as u64);
        let resp = self
            .send(Method::PATCH, &session.location, |r| {
                r.header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(header::CONTENT_LENGTH, len)
                    .header(
                        header::CONTENT_RANGE,
                        format!("{start}-{}", start + len - 1),
                    )
                    .body(chunk)
            })
            .await?;
        let status = resp.status();
        if status != StatusCode::ACCEPTED {
            // A range the registry disagrees with, or its own trouble: ask where it stands.
            let transient = status == StatusCode::RANGE_NOT_SATISFIABLE || status.is_server_error();
            return Err(Failed {
                error: self.refusal(what, resp).await,
                transient,
            });
        }
        if let Some(end) = range_end(resp.headers())
            && end + 1 != start + len
        {
            return Err(Failed {
                error: ReleaseError::Registry {
                    reference: what.to_string(),
                    message: format!(
                        "the registry holds {} bytes after a chunk that ends at {}",
                        end + 1,
                        start + len
                    ),
                },
                transient: true,
            });
        }
        self.location(&session.location, &resp, what)
            .map_err(|error| Failed {
                error,
                transient: false,
            })
    }

    /// `PUT <location>?digest=`: the registry hashes what it assembled and keeps the blob
    /// under that digest, or refuses it.
    async fn upload_finish(
        &self,
        session: &Session,
        blob: &BlobUpload<'_>,
        what: &str,
    ) -> Result<()> {
        let mut url = Url::parse(&session.location).map_err(|e| ReleaseError::Registry {
            reference: what.to_string(),
            message: format!("upload location {}: {e}", session.location),
        })?;
        url.query_pairs_mut().append_pair("digest", blob.digest);
        let resp = self
            .send(Method::PUT, url.as_str(), |r| {
                r.header(header::CONTENT_LENGTH, 0)
            })
            .await
            .map_err(|e| e.error)?;
        if resp.status() == StatusCode::CREATED {
            return Ok(());
        }
        let error = self.refusal(what, resp).await;
        // The registry hashes what it received: a file changed after signing.
        Err(match error {
            ReleaseError::Registry { message, .. } if message.contains("DigestInvalid") => {
                ReleaseError::DigestMismatch {
                    file: blob.name.to_string(),
                }
            }
            other => other,
        })
    }

    /// Sends one request, authorized when it goes to this registry (an upload location on
    /// another host, such as a storage service, gets no credentials).
    async fn send(
        &self,
        method: Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::Response, Failed> {
        let parsed = Url::parse(url).map_err(|e| Failed {
            error: ReleaseError::Registry {
                reference: self.host.clone(),
                message: format!("upload location {url}: {e}"),
            },
            transient: false,
        })?;
        let mut req = build(self.http.request(method, parsed.clone()));
        if self.is_this_registry(&parsed) {
            req = self.authorize(req);
        }
        req.send().await.map_err(|e| {
            let transient = !e.is_builder();
            Failed {
                error: self.error(
                    &format!("{} (upload)", self.host),
                    oci_client::errors::OciDistributionError::RequestError(e),
                ),
                transient,
            }
        })
    }

    /// The absolute URL of a `Location` header, relative ones resolved against `base`.
    fn location(&self, base: &str, resp: &reqwest::Response, what: &str) -> Result<String> {
        let bad = |message: String| ReleaseError::Registry {
            reference: what.to_string(),
            message,
        };
        let loc = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad("the registry gave no upload location".into()))?;
        let base = Url::parse(base).map_err(|e| bad(format!("{base}: {e}")))?;
        base.join(loc)
            .map(String::from)
            .map_err(|e| bad(format!("upload location {loc}: {e}")))
    }

    /// The registry's error for a refused request, with its error codes.
    async fn refusal(&self, what: &str, resp: reqwest::Response) -> ReleaseError {
        let status = resp.status();
        if matches!(status.as_u16(), 401 | 403) {
            return self.unauthorized(what);
        }
        let body = resp.text().await.unwrap_or_default();
        let codes = serde_json::from_str::<oci_client::errors::OciEnvelope>(&body)
            .map(|env| {
                env.errors
                    .iter()
                    .map(|e| format!("{} ({:?})", e.message, e.code))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        ReleaseError::Registry {
            reference: what.to_string(),
            message: format!("HTTP {status}: {codes}")
                .trim_end_matches([':', ' '])
                .to_string(),
        }
    }
}

/// A failed request, and whether asking the registry and trying again can help.
struct Failed {
    error: ReleaseError,
    transient: bool,
}

/// The last byte the registry holds, from its `Range: 0-<end>` header.
fn range_end(headers: &header::HeaderMap) -> Option<u64> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let (_, end) = v.trim_start_matches("bytes=").split_once('-')?;
    end.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_range_header_reads_as_its_last_byte() {
        let headers = |v: &'static str| {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("Range", v.parse().unwrap());
            h
        };
        assert_eq!(super::range_end(&headers("0-4194303")), Some(4194303));
        assert_eq!(super::range_end(&headers("bytes=0-9")), Some(9));
        assert_eq!(super::range_end(&headers("0-")), None);
        assert_eq!(super::range_end(&reqwest::header::HeaderMap::new()), None);
    }
}
