//! The store's errors, each written for the user and naming the database file.

use std::path::PathBuf;

/// Errors from the run store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by a newer Assay (it has migrations this build lacks).
    #[error("{}: the database was created by a newer version of Assay (schema version {found}, this build knows up to {known}); upgrade Assay or use another database (ASSAY_DB)", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    /// Another process holds a lock for longer than the busy timeout.
    #[error("{}: the database is locked by another process; try again, or use another database (ASSAY_DB)", path.display())]
    Locked { path: PathBuf },

    /// The file or its folder cannot be written.
    #[error("{}: the database is read-only; check its permissions or use a writable database path (ASSAY_DB)", path.display())]
    ReadOnly { path: PathBuf },

    /// The file is not a SQLite database.
    #[error("{}: not an Assay database (not SQLite, or corrupt)", path.display())]
    NotADatabase { path: PathBuf },

    /// No space left while writing.
    #[error("{}: the disk is full; the run was not saved", path.display())]
    DiskFull { path: PathBuf },

    /// The database file or folder cannot be opened or created.
    #[error("{}: cannot open the database: {message}", path.display())]
    CannotOpen { path: PathBuf, message: String },

    /// No run has this id (or prefix).
    #[error("no run with id '{0}' (see `assay runs list`)")]
    UnknownRun(String),

    /// A prefix matches several runs.
    #[error("run id '{prefix}' is ambiguous: it matches {}", matches.join(", "))]
    AmbiguousRun {
        prefix: String,
        matches: Vec<String>,
    },

    /// Stored data could not be decoded (a damaged database).
    #[error("run {run}: stored data is damaged: {message}")]
    Damaged { run: String, message: String },

    /// Any other database error.
    #[error("{}: database error: {message}", path.display())]
    Database { path: PathBuf, message: String },
}

impl StoreError {
    /// Maps a sqlx error to the most specific variant, by SQLite's primary result code.
    pub(crate) fn from_sqlx(path: &std::path::Path, e: sqlx::Error) -> StoreError {
        let path = path.to_path_buf();
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(-1) & 0xff;
            return match code {
                5 | 6 => StoreError::Locked { path },
                8 => StoreError::ReadOnly { path },
                13 => StoreError::DiskFull { path },
                // SQLite says "unable to open" when WAL cannot create its side files.
                14 if !dir_writable(&path) => StoreError::ReadOnly { path },
                14 => StoreError::CannotOpen {
                    path,
                    message: db.message().to_string(),
                },
                26 | 11 => StoreError::NotADatabase { path },
                _ => StoreError::Database {
                    path,
                    message: db.message().to_string(),
                },
            };
        }
        if let sqlx::Error::Io(io) = &e
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return StoreError::ReadOnly { path };
        }
        StoreError::Database {
            path,
            message: e.to_string(),
        }
    }
}

/// Whether a file can be created next to `path` (the WAL and shared-memory files must be).
pub(crate) fn dir_writable(path: &std::path::Path) -> bool {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = dir.join(format!(".assay-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

impl StoreError {
    /// The shared classification (exit code, console kind, HTTP status): every store failure
    /// is a `store` one, so a script can tell "the history failed" from "the model failed".
    pub fn kind(&self) -> assay_engine::ErrorKind {
        assay_engine::ErrorKind::Store
    }
}
