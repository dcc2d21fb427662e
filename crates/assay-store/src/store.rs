//! Opening the database: where it lives, the connection settings that make concurrent
//! writers safe, and the migrations.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use sqlx::{
    SqlitePool,
    migrate::{MigrateError, Migrator},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::error::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// An open run store.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    pub(crate) path: PathBuf,
}

impl Store {
    /// `<user data dir>/assay/assay.db` (`$XDG_DATA_HOME` on Linux).
    pub fn default_path() -> Result<PathBuf, StoreError> {
        let base = assay_engine::paths::data_dir().ok_or_else(|| StoreError::CannotOpen {
            path: PathBuf::from("~"),
            message: assay_engine::paths::NO_DATA_DIR.into(),
        })?;
        Ok(base.join("assay.db"))
    }

    /// How long a writer waits for another process's write lock before giving up.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, Self::DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`Store::open`] with a chosen busy timeout.
    pub async fn open_with(path: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    StoreError::ReadOnly {
                        path: path.to_path_buf(),
                    }
                }
                _ => StoreError::CannotOpen {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                },
            })?;
        }
        let err = |e| StoreError::from_sqlx(path, e);
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Concurrent `assay bench` processes queue for the write lock instead of failing.
            .busy_timeout(busy_timeout);
        // Two processes creating the same database at once would race: both switching a new
        // file to WAL, both applying migration 1 (sqlx's migrator takes no lock on SQLite).
        // A lock file beside the database serializes connect-and-migrate across processes;
        // afterwards SQLite's own locking (WAL, busy timeout) takes over.
        let lock_path = path.with_extension("db-migrate-lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                if crate::error::dir_writable(path) {
                    StoreError::CannotOpen {
                        path: lock_path.clone(),
                        message: e.to_string(),
                    }
                } else {
                    StoreError::ReadOnly {
                        path: path.to_path_buf(),
                    }
                }
            })?;
        // Wait for the lock without blocking a runtime thread: in a process that opens the
        // store from several tasks at once (the console), a blocking wait on every worker
        // thread would starve the task that holds the lock.
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::CannotOpen {
                        path: lock_path.clone(),
                        message: e.to_string(),
                    });
                }
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(err)?;
        let migrated = MIGRATOR.run(&pool).await;
        drop(lock);
        match migrated {
            Ok(()) => {}
            Err(MigrateError::VersionMissing(found)) => {
                let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                return Err(StoreError::NewerSchema {
                    path: path.to_path_buf(),
                    found,
                    known,
                });
            }
            Err(MigrateError::Execute(e)) => return Err(err(e)),
            Err(e) => {
                return Err(StoreError::Database {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                });
            }
        }
        Ok(Store {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// Where this store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connections (waits for in-flight writes).
    pub async fn close(self) {
        self.pool.close().await;
    }

    pub(crate) fn err(&self, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(&self.path, e)
    }
}
