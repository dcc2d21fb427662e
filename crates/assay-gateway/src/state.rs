//! The gateway's durable state: which releases it holds, and which serve. It lives in one
//! JSON file written atomically (temp file, fsync, rename, fsync of the folder), so a kill at
//! any moment leaves either the old state or the new one, never a mix. A release is listed
//! only once it is in this file, which happens after it was verified and moved into place.

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use assay_release::{
    metadata::ReleaseMetadata,
    views::{CanarySplit, ModelRouting, ReleaseRole, ReleaseSummary, ShadowSplit},
};
use serde::{Deserialize, Serialize};

/// Why the saved state could not be read or the data folder used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{} is damaged ({source}); restore it from a backup", path.display())]
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} was written by a newer assay-gateway (format {format})", path.display())]
    Newer { path: PathBuf, format: u32 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Events kept per model (older ones stay in the audit log).
const EVENTS_KEPT: usize = 500;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    pub models: BTreeMap<String, ModelState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelState {
    pub releases: BTreeMap<String, ReleaseRecord>,
    pub stable: Option<String>,
    /// Earlier stable versions, most recent last: what `rollback` returns to.
    #[serde(default)]
    pub previous: Vec<String>,
    pub canary: Option<CanarySplit>,
    #[serde(default)]
    pub shadow: Option<ShadowSplit>,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub version: String,
    pub pushed_at: u64,
    /// The public-key hint of the key that signed it.
    pub signer: String,
    pub root_digest: String,
    pub files: usize,
    pub bytes: u64,
    pub model_file: String,
    /// The signed `assay-release.json`.
    pub metadata: ReleaseMetadata,
    /// Why the last attempt to load and warm this version failed; cleared when it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_error: Option<String>,
    /// Warm-up dimension values an operator gave when activating it (they beat the
    /// gateway's config and the release's serving shapes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warm_dims: BTreeMap<String, i64>,
}

impl ReleaseRecord {
    /// The constant inputs the release was signed with (`serving.fills`).
    pub fn serving_fills(&self) -> &BTreeMap<String, f64> {
        &self.metadata.serving.fills
    }

    /// The serving dimension values the release was signed with (`serving.dims`).
    pub fn serving_dims(&self) -> &BTreeMap<String, i64> {
        &self.metadata.serving.dims
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub at: u64,
    pub kind: String,
    pub version: Option<String>,
    pub actor: String,
    pub detail: String,
}

impl ModelState {
    /// Its routing, as the admin API answers a change.
    pub fn routing(&self) -> ModelRouting {
        ModelRouting {
            stable: self.stable.clone(),
            canary: self.canary.clone(),
            shadow: self.shadow.clone(),
            previous: self.previous.clone(),
            versions: self.releases.keys().cloned().collect(),
        }
    }

    /// The side of the split `version` is on.
    pub fn role_of(&self, version: &str) -> ReleaseRole {
        if self.stable.as_deref() == Some(version) {
            ReleaseRole::Stable
        } else if self.canary.as_ref().is_some_and(|c| c.version == version) {
            ReleaseRole::Canary
        } else if self.shadow.as_ref().is_some_and(|s| s.version == version) {
            ReleaseRole::Shadow
        } else {
            ReleaseRole::Idle
        }
    }

    /// Every release it holds, as the admin API lists them.
    pub fn release_summaries(&self) -> Vec<ReleaseSummary> {
        self.releases
            .values()
            .map(|r| ReleaseSummary {
                version: r.version.clone(),
                pushed_at: r.pushed_at,
                signer: r.signer.clone(),
                bytes: r.bytes,
                files: r.files,
                root_digest: r.root_digest.clone(),
                model_file: r.model_file.clone(),
                serving_dims: r.serving_dims().clone(),
                warm_dims: r.warm_dims.clone(),
                load_error: r.load_error.clone(),
                role: self.role_of(&r.version),
                accuracy: r.metadata.accuracy.clone(),
            })
            .collect()
    }

    /// Makes `version` stable, keeping the one it replaces for `rollback`.
    pub fn make_stable(&mut self, version: &str) {
        if let Some(old) = self.stable.replace(version.to_string()) {
            self.previous.push(old);
        }
    }

    /// Records the event of a change and returns what the change reports: the version it
    /// concerned and its sentence.
    pub fn changed(
        &mut self,
        kind: &str,
        version: String,
        actor: &str,
        detail: String,
    ) -> (Option<String>, String) {
        self.record(kind, Some(&version), actor, detail.clone());
        (Some(version), detail)
    }

    pub fn record(&mut self, kind: &str, version: Option<&str>, actor: &str, detail: String) {
        self.events.push(Event {
            at: now(),
            kind: kind.into(),
            version: version.map(String::from),
            actor: actor.into(),
            detail,
        });
        if self.events.len() > EVENTS_KEPT {
            let extra = self.events.len() - EVENTS_KEPT;
            self.events.drain(..extra);
        }
    }
}

pub fn now() -> u64 {
    assay_engine::fingerprint::unix_now()
}

/// Where things live under `--data`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn releases(&self) -> PathBuf {
        self.root.join("releases")
    }
    pub fn release(&self, model: &str, version: &str) -> PathBuf {
        self.releases().join(model).join(version)
    }
    pub fn release_files(&self, model: &str, version: &str) -> PathBuf {
        self.release(model, version).join("files")
    }
    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }
    /// Pulled files by sha256, hard-linked into every release that has them.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    /// Creates the folders.
    pub fn create(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.releases())?;
        std::fs::create_dir_all(self.uploads())
    }

    /// Reads the state (empty when the gateway is new).
    pub fn load(&self) -> Result<State, StateError> {
        let path = self.state();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let s: State =
                    serde_json::from_slice(&bytes).map_err(|source| StateError::Damaged {
                        path: path.clone(),
                        source,
                    })?;
                if s.format > 1 {
                    return Err(StateError::Newer {
                        path,
                        format: s.format,
                    });
                }
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
                format: 1,
                ..Default::default()
            }),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, state: &State) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        use assay_engine::durable;
        durable::write_with(
            &self.state(),
            durable::Mode::Private,
            durable::Replace::Always,
            |f| {
                f.write_all(&bytes)?;
                crate::failpoint::hit("state-temp-written");
                Ok(())
            },
        )?;
        crate::failpoint::hit("state-saved");
        Ok(())
    }

    /// Deletes release folders the state does not list: what a crash between moving a
    /// verified release into place and recording it leaves behind.
    pub fn remove_orphans(&self, state: &State) {
        let Ok(models) = std::fs::read_dir(self.releases()) else {
            return;
        };
        for m in models.flatten() {
            let model = m.file_name().to_string_lossy().into_owned();
            let Ok(versions) = std::fs::read_dir(m.path()) else {
                continue;
            };
            for v in versions.flatten() {
                let version = v.file_name().to_string_lossy().into_owned();
                let listed = state
                    .models
                    .get(&model)
                    .is_some_and(|ms| ms.releases.contains_key(&version));
                if !listed {
                    tracing::warn!(
                        model,
                        version,
                        "removing a release folder the state does not list (left by an interrupted push)"
                    );
                    let _ = std::fs::remove_dir_all(v.path());
                }
            }
        }
    }
}

impl Layout {
    /// Deletes half-created uploads (`.new-*`, left by a crash while opening one) and uploads
    /// untouched for `max_age`: an abandoned push should not hold disk space forever.
    pub fn remove_stale_uploads(&self, max_age: std::time::Duration) {
        let Ok(entries) = std::fs::read_dir(self.uploads()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            if name.starts_with(".new-") || age > max_age {
                tracing::info!(upload = %name, age_h = age.as_secs() / 3600, "removing a stale upload");
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_orphans_go() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: dir.path().to_path_buf(),
        };
        layout.create().unwrap();
        let mut s = layout.load().unwrap();
        assert!(s.models.is_empty());
        let m = s.models.entry("m".into()).or_default();
        m.stable = Some("1.0.0".into());
        m.releases.insert(
            "1.0.0".into(),
            ReleaseRecord {
                version: "1.0.0".into(),
                pushed_at: 1,
                signer: "k".into(),
                root_digest: "d".into(),
                files: 1,
                bytes: 1,
                model_file: "m.onnx".into(),
                metadata: ReleaseMetadata::from_json(
                    br#"{"schema": "assay.release/1", "name": "m", "version": "1.0.0",
                        "model": {"file": "m.onnx", "sha256": "d", "size_bytes": 1}}"#,
                )
                .unwrap(),
                load_error: None,
                warm_dims: Default::default(),
            },
        );
        layout.save(&s).unwrap();
        std::fs::create_dir_all(layout.release_files("m", "1.0.0")).unwrap();
        std::fs::create_dir_all(layout.release_files("m", "2.0.0")).unwrap();
        let back = layout.load().unwrap();
        assert_eq!(back.models["m"].stable.as_deref(), Some("1.0.0"));
        layout.remove_orphans(&back);
        assert!(layout.release("m", "1.0.0").exists());
        assert!(!layout.release("m", "2.0.0").exists());
        std::fs::write(layout.state(), b"{broken").unwrap();
        assert!(layout.load().unwrap_err().to_string().contains("damaged"));
    }
}
