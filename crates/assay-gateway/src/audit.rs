//! The audit log: one JSON line per admin action (who, what, on which model and version,
//! and whether it happened), appended and fsynced before the answer goes out.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde_json::json;

pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl AuditLog {
    pub fn new(path: &Path) -> AuditLog {
        AuditLog {
            path: path.to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    /// Appends one entry. A failure to write is logged, not hidden: the action itself has
    /// already been decided.
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        model: Option<&str>,
        version: Option<&str>,
        outcome: Result<&str, &str>,
    ) {
        let line = json!({
            "at": crate::state::now(),
            "actor": actor,
            "action": action,
            "model": model,
            "version": version,
            "ok": outcome.is_ok(),
            "detail": match outcome { Ok(d) | Err(d) => d },
        });
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| {
                writeln!(f, "{line}")?;
                f.sync_data()
            });
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "could not write the audit log");
        }
    }
}
