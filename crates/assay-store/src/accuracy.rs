//! Output comparisons in the history: each `assay accuracy` run as its typed
//! `assay.accuracy/1` document, with the columns a listing shows beside it.

use assay_engine::accuracy::AccuracyReport;
use serde::Serialize;

use crate::{
    Store,
    error::StoreError,
    runs::{Table, new_id, upsert_model},
};

/// One comparison as `assay runs list` and the console list it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct AccuracySummary {
    pub id: String,
    pub created_at: i64,
    /// The reference's model.
    pub model_path: String,
    pub model_sha256: String,
    pub candidates: i64,
    /// Every candidate passed (within tolerance, or within the reference's noise).
    pub passed: bool,
    /// The largest max abs error of any candidate's output.
    pub worst_max_abs: Option<f64>,
    /// The candidates' labels (`model-fp16.onnx on cpu`), ` | `-separated.
    pub labels: String,
}

impl Store {
    /// Records a comparison and returns its new id.
    pub async fn save_accuracy(&self, report: &AccuracyReport) -> Result<String, StoreError> {
        let now = report.started_at as i64;
        let document = serde_json::to_string(report).expect("report serializes");
        let worst = report
            .candidates
            .iter()
            .flat_map(|c| c.outputs.iter().map(|o| o.stats.max_abs))
            .filter(|v| v.is_finite())
            .reduce(f64::max);
        let labels: Vec<&str> = report
            .candidates
            .iter()
            .map(|c| c.subject.label.as_str())
            .collect();
        let size = std::fs::metadata(&report.reference.model)
            .map(|m| m.len() as i64)
            .unwrap_or(0);
        for _attempt in 0..5 {
            let id = new_id();
            let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
            upsert_model(
                &mut tx,
                &report.reference.sha256,
                &report.reference.model,
                size,
                now,
            )
            .await
            .map_err(|e| self.err(e))?;
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO accuracy_runs (id, model_sha256, model_path, created_at, candidates, passed, worst_max_abs, labels, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .bind(&id)
            .bind(&report.reference.sha256)
            .bind(report.reference.model.display().to_string())
            .bind(now)
            .bind(report.candidates.len() as i64)
            .bind(report.passed)
            .bind(worst)
            .bind(labels.join(" | "))
            .bind(&document)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            if inserted.rows_affected() == 0 {
                continue; // id collision: draw another
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            return Ok(id);
        }
        Err(StoreError::Database {
            path: self.path.clone(),
            message: "could not draw a free run id".into(),
        })
    }

    /// Comparisons, newest first, optionally only those of one model (sha256 prefix or path
    /// substring).
    pub async fn accuracy_list(
        &self,
        model: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccuracySummary>, StoreError> {
        sqlx::query_as::<_, AccuracySummary>(
            "SELECT id, created_at, model_path, model_sha256, candidates, passed, worst_max_abs, labels FROM accuracy_runs
             WHERE (?1 IS NULL OR model_sha256 LIKE ?1 || '%' OR model_path LIKE '%' || ?1 || '%')
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// A recorded comparison (id or unique prefix), with its id filled in.
    pub async fn accuracy_run(&self, id: &str) -> Result<AccuracyReport, StoreError> {
        let id = self.resolve_in(Table::Accuracy, id).await?;
        let document: String = sqlx::query_scalar("SELECT report FROM accuracy_runs WHERE id = ?1")
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let mut report: AccuracyReport =
            serde_json::from_str(&document).map_err(|e| StoreError::Damaged {
                run: id.clone(),
                message: e.to_string(),
            })?;
        report.run_id = Some(id);
        Ok(report)
    }

    /// Whether `id` (or a unique prefix) names a comparison rather than a timing run.
    pub async fn is_accuracy_run(&self, id: &str) -> Result<bool, StoreError> {
        match self.resolve_in(Table::Accuracy, id).await {
            Ok(_) => Ok(true),
            Err(StoreError::UnknownRun(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a comparison.
    pub async fn delete_accuracy(&self, id: &str) -> Result<String, StoreError> {
        let id = self.resolve_in(Table::Accuracy, id).await?;
        sqlx::query("DELETE FROM accuracy_runs WHERE id = ?1")
            .bind(&id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(id)
    }
}
