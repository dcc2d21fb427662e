//! Saving, listing, reading and deleting runs.

use std::collections::BTreeMap;

use assay_engine::{bench::BenchReport, profile::Operators};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, codec, error::StoreError};

/// What kind of run a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum RunKind {
    Bench,
    Profile,
    /// A served load run (`assay load`): a benchmark of a server, seen from a client.
    Load,
}

impl RunKind {
    /// `bench`, `profile` or `load`; `None` for anything else.
    pub fn parse(s: &str) -> Option<RunKind> {
        match s {
            "bench" => Some(RunKind::Bench),
            "profile" => Some(RunKind::Profile),
            "load" => Some(RunKind::Load),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Bench => "bench",
            RunKind::Profile => "profile",
            RunKind::Load => "load",
        }
    }
}

/// The operator profile stored with a `profile` run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct ProfileRecord {
    /// Whether graph optimizations were on (node names then refer to the optimized graph).
    pub optimized: bool,
    /// The `assay.operators/1` document (`operators.json`), overhead included.
    pub operators: Operators,
    /// Folded stacks, weighted by mean kernel time per inference.
    pub folded: String,
    pub trace_path: Option<String>,
}

/// One line of `assay runs list`, read from the run's summary columns (no report decoded).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: String,
    pub kind: RunKind,
    pub created_at: i64,
    pub model_path: String,
    pub model_sha256: String,
    pub rows: i64,
    /// p50 of the first row, in milliseconds.
    pub p50_ms: Option<f64>,
    /// p99 of the first row, in milliseconds.
    pub p99_ms: Option<f64>,
    /// The providers of the rows, each once, in row order.
    #[sqlx(try_from = "String")]
    pub providers: Providers,
}

/// A run's providers, stored as one comma-separated column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(transparent)]
pub struct Providers(pub Vec<String>);

impl From<String> for Providers {
    fn from(s: String) -> Providers {
        Providers(
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
        )
    }
}

impl Providers {
    fn of(report: &BenchReport) -> Providers {
        let mut seen: Vec<String> = Vec::new();
        for r in &report.results {
            if !seen.contains(&r.provider) {
                seen.push(r.provider.clone());
            }
        }
        Providers(seen)
    }

    fn column(&self) -> String {
        self.0.join(",")
    }
}

/// A whole run, samples included.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct StoredRun {
    pub id: String,
    pub kind: RunKind,
    pub created_at: i64,
    /// The report; each row's `samples_ns` is filled from the samples table.
    pub report: BenchReport,
    pub profile: Option<ProfileRecord>,
    /// Every latency sample of each row, in row order: the report's own copy is kept out of
    /// its JSON document, so this is how charts and exports receive them.
    pub samples_ns: Vec<Vec<u64>>,
}

impl Store {
    /// Records a benchmark (with `profile`, a profile run; a report with `served`, a load
    /// run) and returns its new id.
    pub async fn save_bench(
        &self,
        report: &BenchReport,
        profile: Option<&ProfileRecord>,
    ) -> Result<String, StoreError> {
        let kind = match (profile, &report.served) {
            (Some(_), _) => RunKind::Profile,
            (None, Some(_)) => RunKind::Load,
            (None, None) => RunKind::Bench,
        };
        let now = report.started_at as i64;
        let summary = serde_json::to_string(report).expect("report serializes");
        let first = report.results.first();
        let size = std::fs::metadata(&report.model.path)
            .map(|m| m.len() as i64)
            .unwrap_or(0);

        for _attempt in 0..5 {
            let id = new_id();
            let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
            upsert_model(&mut tx, &report.model.sha256, &report.model.path, size, now)
                .await
                .map_err(|e| self.err(e))?;
            let inserted = sqlx::query("INSERT OR IGNORE INTO runs (id, kind, model_sha256, created_at, summary, model_path, rows, p50_ms, p99_ms, providers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .bind(&id)
                .bind(kind)
                .bind(&report.model.sha256)
                .bind(now)
                .bind(&summary)
                .bind(report.model.path.display().to_string())
                .bind(report.results.len() as i64)
                .bind(first.map(|r| r.latency_ms.p50))
                .bind(first.map(|r| r.latency_ms.p99))
                .bind(Providers::of(report).column())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            if inserted.rows_affected() == 0 {
                continue; // id collision: draw another
            }
            for (i, row) in report.results.iter().enumerate() {
                sqlx::query("INSERT INTO samples (run_id, row_index, provider, batch, concurrency, count, encoding, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .bind(&id)
                    .bind(i as i64)
                    .bind(&row.provider)
                    .bind(row.batch)
                    .bind(row.concurrency as i64)
                    .bind(row.samples_ns.len() as i64)
                    .bind(codec::ENCODING)
                    .bind(codec::encode(&row.samples_ns))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            if let Some(p) = profile {
                sqlx::query("INSERT INTO profiles (run_id, optimized, operators, folded, trace_path) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .bind(&id)
                    .bind(p.optimized)
                    .bind(sqlx::types::Json(&p.operators))
                    .bind(&p.folded)
                    .bind(&p.trace_path)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            return Ok(id);
        }
        Err(StoreError::Database {
            path: self.path.clone(),
            message: "could not draw a free run id".into(),
        })
    }

    /// Runs, newest first, optionally only those of one model (sha256 prefix or path
    /// substring) or kind.
    pub async fn list(
        &self,
        model: Option<&str>,
        kind: Option<RunKind>,
        limit: i64,
    ) -> Result<Vec<RunSummary>, StoreError> {
        sqlx::query_as::<_, RunSummary>(
            "SELECT id, kind, created_at, model_sha256, model_path, rows, p50_ms, p99_ms, providers FROM runs
             WHERE (?1 IS NULL OR model_sha256 LIKE ?1 || '%' OR model_path LIKE '%' || ?1 || '%') AND (?2 IS NULL OR kind = ?2)
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
        )
        .bind(model)
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// Resolves a full id or a unique prefix of a benchmark or profile run.
    pub async fn resolve(&self, id: &str) -> Result<String, StoreError> {
        self.resolve_in(Table::Runs, id).await
    }

    /// Resolves a full id or a unique prefix among the rows of `table`.
    pub(crate) async fn resolve_in(&self, table: Table, id: &str) -> Result<String, StoreError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StoreError::UnknownRun(id.to_string()));
        }
        let sql = format!(
            "SELECT id FROM {} WHERE id LIKE ?1 || '%' ORDER BY id LIMIT 6",
            table.name()
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let ids: Vec<String> = rows.into_iter().map(|r| r.get(0)).collect();
        match ids.len() {
            0 => Err(StoreError::UnknownRun(id.to_string())),
            1 => Ok(ids.into_iter().next().expect("one")),
            _ if ids.iter().any(|x| x == id) => Ok(id.to_string()),
            _ => Err(StoreError::AmbiguousRun {
                prefix: id.to_string(),
                matches: ids,
            }),
        }
    }

    /// The dimension values of the newest run of the model with this digest: what
    /// the forms offer next time. Empty when the model was never run.
    pub async fn last_dims(&self, sha256: &str) -> Result<BTreeMap<String, i64>, StoreError> {
        let dims: Option<Option<sqlx::types::Json<BTreeMap<String, i64>>>> = sqlx::query_scalar(
            "SELECT json_extract(summary, '$.settings.dims') FROM runs WHERE model_sha256 = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(dims.flatten().map(|d| d.0).unwrap_or_default())
    }

    /// Reads a whole run, samples and profile included.
    pub async fn run(&self, id: &str) -> Result<StoredRun, StoreError> {
        let id = self.resolve(id).await?;
        let damaged = |m: String| StoreError::Damaged {
            run: id.clone(),
            message: m,
        };
        let (kind, created_at, summary): (RunKind, i64, String) =
            sqlx::query_as("SELECT kind, created_at, summary FROM runs WHERE id = ?1")
                .bind(&id)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        let mut report: BenchReport =
            serde_json::from_str(&summary).map_err(|e| damaged(e.to_string()))?;
        let rows = sqlx::query("SELECT row_index, count, encoding, data FROM samples WHERE run_id = ?1 ORDER BY row_index").bind(&id).fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
        let mut samples = vec![Vec::new(); report.results.len()];
        for s in rows {
            let i: i64 = s.get(0);
            let enc: &str = s.get(2);
            if enc != codec::ENCODING {
                return Err(damaged(format!("unknown sample encoding '{enc}'")));
            }
            let v = codec::decode(s.get::<&[u8], _>(3), s.get::<i64, _>(1) as usize)
                .map_err(damaged)?;
            if let Some(slot) = samples.get_mut(i as usize) {
                *slot = v;
            }
        }
        for (row, s) in report.results.iter_mut().zip(&samples) {
            row.samples_ns = s.clone();
        }
        let profile = sqlx::query_as::<_, ProfileRow>(
            "SELECT optimized, operators, folded, trace_path FROM profiles WHERE run_id = ?1",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::ColumnDecode { source, .. } => damaged(source.to_string()),
            e => self.err(e),
        })?
        .map(ProfileRow::into_record);
        Ok(StoredRun {
            kind,
            created_at,
            id,
            report,
            profile,
            samples_ns: samples,
        })
    }

    /// Deletes a run (its samples and profile go with it).
    pub async fn delete(&self, id: &str) -> Result<String, StoreError> {
        let id = self.resolve(id).await?;
        sqlx::query("DELETE FROM runs WHERE id = ?1")
            .bind(&id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(id)
    }
}

/// A `profiles` row as stored.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    optimized: bool,
    operators: sqlx::types::Json<Operators>,
    folded: String,
    trace_path: Option<String>,
}

impl ProfileRow {
    fn into_record(self) -> ProfileRecord {
        ProfileRecord {
            optimized: self.optimized,
            operators: self.operators.0,
            folded: self.folded,
            trace_path: self.trace_path,
        }
    }
}

/// 8 lowercase hex digits: short enough to type, with a retry on the rare collision.
/// Records (or refreshes) a model seen by a run, in the run's transaction.
pub(crate) async fn upsert_model(
    tx: &mut sqlx::SqliteConnection,
    sha256: &str,
    path: &std::path::Path,
    size: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO models (sha256, path, size_bytes, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, last_seen = excluded.last_seen",
    )
    .bind(sha256)
    .bind(path.display().to_string())
    .bind(size)
    .bind(now)
    .execute(tx)
    .await
    .map(drop)
}

/// The tables that hold runs, each with its own ids.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Runs,
    Accuracy,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Runs => "runs",
            Table::Accuracy => "accuracy_runs",
        }
    }
}

/// A new run id: 8 random hex digits.
pub(crate) fn new_id() -> String {
    format!("{:08x}", rand::rng().random::<u32>())
}
