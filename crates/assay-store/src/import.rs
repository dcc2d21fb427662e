//! Merging another history into this one: how the console's old database joined the CLI's
//! when both moved to one store. Nothing is lost and nothing is doubled: rows are copied
//! with their ids, and a run already present (same id) is kept as it is.

use std::path::Path;

use sqlx::Row;

use crate::{Store, error::StoreError};

impl Store {
    /// Copies every model, run, sample list, profile and comparison of the database at `other` into
    /// this one, in one transaction, and returns how many runs were new. `other` is first
    /// brought up to this schema (opening it runs the migrations) and is left in place.
    pub async fn import_from(&self, other: &Path) -> Result<u64, StoreError> {
        Store::open(other).await?.close().await;
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        let path = other.display().to_string();
        sqlx::query("ATTACH DATABASE ?1 AS other")
            .bind(&path)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx(other, e))?;
        let copied = async {
            let before: i64 = sqlx::query(
                "SELECT (SELECT count(*) FROM main.runs) + (SELECT count(*) FROM main.accuracy_runs)",
            )
                .fetch_one(&mut *conn)
                .await?
                .get(0);
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            for sql in [
                "INSERT INTO main.models SELECT * FROM other.models WHERE true
                 ON CONFLICT (sha256) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)",
                "INSERT OR IGNORE INTO main.runs SELECT * FROM other.runs",
                "INSERT OR IGNORE INTO main.samples SELECT * FROM other.samples",
                "INSERT OR IGNORE INTO main.profiles SELECT * FROM other.profiles",
                "INSERT OR IGNORE INTO main.accuracy_runs SELECT * FROM other.accuracy_runs",
            ] {
                if let Err(e) = sqlx::query(sql).execute(&mut *conn).await {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    return Err(e);
                }
            }
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            let after: i64 = sqlx::query(
                "SELECT (SELECT count(*) FROM main.runs) + (SELECT count(*) FROM main.accuracy_runs)",
            )
                .fetch_one(&mut *conn)
                .await?
                .get(0);
            Ok::<u64, sqlx::Error>((after - before).max(0) as u64)
        }
        .await;
        let _ = sqlx::query("DETACH DATABASE other")
            .execute(&mut *conn)
            .await;
        copied.map_err(|e| self.err(e))
    }
}
