//! What `assay runtime list --json` prints and the console's Settings shows: the installed
//! runtimes, the one that loads (or why none does), and the machine it runs on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{InstalledRuntime, Runtime, RuntimeInfo, activate, installed_runtimes, runtimes_root};
use crate::{error::Result, fingerprint::Environment};

/// The runtimes on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RuntimeListing {
    /// Where `assay runtime install` puts runtimes.
    pub root: PathBuf,
    /// Newest first.
    pub installed: Vec<InstalledRuntime>,
    pub active: ActiveRuntime,
    /// The machine's fingerprint (GPUs, CPU, memory), when a runtime loads.
    pub environment: Option<Environment>,
}

/// The runtime discovery picks, loaded, or why it does not load.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(untagged)]
pub enum ActiveRuntime {
    Loaded(RuntimeInfo),
    Failed { error: String },
}

impl RuntimeListing {
    /// Lists the installed runtimes and loads the one discovery picks (`explicit` first).
    /// The load's own result comes back too, so a caller can exit with its error kind after
    /// showing the listing.
    pub fn gather(explicit: Option<&Path>) -> Result<(RuntimeListing, Result<&'static Runtime>)> {
        let installed = installed_runtimes()?;
        let root = runtimes_root()?;
        let loaded = activate(explicit);
        let listing = RuntimeListing {
            root,
            installed,
            active: match &loaded {
                Ok(rt) => ActiveRuntime::Loaded(rt.info.clone()),
                Err(e) => ActiveRuntime::Failed {
                    error: e.to_string(),
                },
            },
            environment: loaded
                .as_ref()
                .ok()
                .map(|rt| crate::fingerprint::collect(rt)),
        };
        Ok((listing, loaded))
    }
}
