//! Opening the run history for a command: `--db`, or the default in the data directory.

use assay_store::Store;

use crate::cli::Cli;

/// A store with the small async runtime its driver needs.
pub struct History {
    rt: tokio::runtime::Runtime,
    pub store: Store,
}

impl History {
    pub fn open(cli: &Cli) -> anyhow::Result<History> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let path = match &cli.db {
            Some(p) => p.clone(),
            None => Store::default_path()?,
        };
        // ASSAY_DB_BUSY_TIMEOUT_MS: how long to queue behind another writer (default 30 s).
        let timeout = std::env::var("ASSAY_DB_BUSY_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
            .unwrap_or(Store::DEFAULT_BUSY_TIMEOUT);
        let store = rt.block_on(Store::open_with(&path, timeout))?;
        Ok(History { rt, store })
    }

    /// The dimension values of this model's last run, from the history if it exists (never
    /// created for a look-up); `None` when there is no history or it cannot be read.
    pub fn remembered_dims(cli: &Cli, sha256: &str) -> Option<assay_engine::model::DimBindings> {
        let path = match &cli.db {
            Some(p) => p.clone(),
            None => Store::default_path().ok()?,
        };
        if !path.is_file() {
            return None;
        }
        let h = History::open(cli).ok()?;
        h.run(h.store.last_dims(sha256)).ok()
    }

    /// Runs a store operation to completion.
    pub fn run<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }
}
