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
        let store = rt.block_on(Store::open(&path))?;
        Ok(History { rt, store })
    }

    /// Runs a store operation to completion.
    pub fn run<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }
}
