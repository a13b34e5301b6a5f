//! [`SqliteStore`]: the default store, one file and zero setup.
//!
//! The pool runs in WAL mode (readers never wait for the writer) with a busy timeout and foreign
//! keys on. Every transaction that writes starts with `BEGIN IMMEDIATE`, which takes the write
//! lock up front: a plain `BEGIN` that reads and then writes can fail with `SQLITE_BUSY` no
//! matter the timeout. SQLite has one writer, so the claim (`UPDATE … WHERE id = (SELECT …)
//! RETURNING …`) is atomic without `SKIP LOCKED`.

use std::str::FromStr;
use std::time::Duration;

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{
    CancelJob, CheckpointRecord, DatasetMeta, DatasetQuery, DatasetRecord, DeleteDataset,
    DeleteJob, EventKind, EventRow, Finish, ImportedModelRecord, InsertJob, JobQuery, JobRow,
    JobStatus, ModelRecord, NewEvent, NewJob, Store, StoreError, StoreFuture,
};
use super::{
    CancelSweep, DeleteSweep, InsertSweep, NewSweep, SweepEntry, SweepJob, SweepQuery, SweepRow,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const JOB_COLUMNS: &str = "id, name, status, priority, spec, resolved_spec, seed, \
    parameter_count, total_steps, epochs, created_at, started_at, finished_at, cancel_requested, \
    attempt, worker, progress, error, weights_sha256";

const EVENT_COLUMNS: &str = "seq, job_id, kind, epoch, body, at";

const CHECKPOINT_COLUMNS: &str = "job_id, attempt, epoch, step, last_seq, data, created_at";

const DATASET_COLUMNS: &str = "id, name, rows, features, classes, label_column, meta, created_at";

const SWEEP_COLUMNS: &str = "id, name, base, grid, seed, created_at";

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://PATH`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} exceeds i64")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}

fn job_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<JobRow, StoreError> {
    let status: String = row.try_get("status")?;
    let seed: String = row.try_get("seed")?;
    Ok(JobRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job status {status:?}")))?,
        priority: row.try_get("priority")?,
        spec: row.try_get("spec")?,
        resolved_spec: row.try_get("resolved_spec")?,
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("seed {seed:?} is not a u64")))?,
        parameter_count: to_u64(row.try_get("parameter_count")?, "parameter_count")?,
        total_steps: to_u64(row.try_get("total_steps")?, "total_steps")?,
        epochs: to_u64(row.try_get("epochs")?, "epochs")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        attempt: row.try_get("attempt")?,
        worker: row.try_get("worker")?,
        progress: row.try_get("progress")?,
        error: row.try_get("error")?,
        weights_sha256: row.try_get("weights_sha256")?,
    })
}

fn event_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<EventRow, StoreError> {
    let kind: String = row.try_get("kind")?;
    let epoch: Option<i64> = row.try_get("epoch")?;
    Ok(EventRow {
        seq: row.try_get("seq")?,
        job_id: row.try_get("job_id")?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event kind {kind:?}")))?,
        epoch: epoch.map(|e| to_u64(e, "epoch")).transpose()?,
        body: row.try_get("body")?,
        at: row.try_get("at")?,
    })
}

fn checkpoint_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        job_id: row.try_get("job_id")?,
        attempt: row.try_get("attempt")?,
        epoch: to_u64(row.try_get("epoch")?, "checkpoint epoch")?,
        step: to_u64(row.try_get("step")?, "checkpoint step")?,
        last_seq: row.try_get("last_seq")?,
        data: row.try_get("data")?,
        created_at: row.try_get("created_at")?,
    })
}

fn dataset_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<DatasetMeta, StoreError> {
    let classes: Option<i64> = row.try_get("classes")?;
    Ok(DatasetMeta {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        rows: to_u64(row.try_get("rows")?, "rows")?,
        features: to_u64(row.try_get("features")?, "features")?,
        classes: classes.map(|c| to_u64(c, "classes")).transpose()?,
        label_column: row.try_get("label_column")?,
        meta: row.try_get("meta")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The body of a `status` event: what the job became, and why when it is not obvious.
fn status_body(status: JobStatus, note: Option<&str>, error: Option<&str>) -> String {
    let error: serde_json::Value = error
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null);
    json!({"status": status.as_str(), "note": note, "error": error}).to_string()
}

async fn append_event(
    conn: &mut SqliteConnection,
    job_id: &str,
    event: &NewEvent,
) -> Result<EventRow, StoreError> {
    let epoch = event.epoch.map(|e| to_i64(e, "epoch")).transpose()?;
    let row = sqlx::query(
        "INSERT INTO job_events (job_id, kind, epoch, body, at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING seq, job_id, kind, epoch, body, at",
    )
    .bind(job_id)
    .bind(event.kind.as_str())
    .bind(epoch)
    .bind(&event.body)
    .bind(event.at)
    .fetch_one(&mut *conn)
    .await?;
    event_from_row(&row)
}

async fn append_status(
    conn: &mut SqliteConnection,
    job_id: &str,
    status: JobStatus,
    note: Option<&str>,
    error: Option<&str>,
    at: i64,
) -> Result<EventRow, StoreError> {
    let event = NewEvent {
        kind: EventKind::Status,
        epoch: None,
        body: status_body(status, note, error),
        at,
    };
    append_event(conn, job_id, &event).await
}

/// A job's checkpoint is of no use once it has ended.
async fn delete_checkpoint(conn: &mut SqliteConnection, job_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM checkpoints WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn fetch_job(conn: &mut SqliteConnection, id: &str) -> Result<Option<JobRow>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// Inserts a queued job, its dataset links and its first `status` event inside `conn`'s
/// transaction (the caller has checked the queue and the datasets).
async fn insert_job_row(conn: &mut SqliteConnection, job: &NewJob) -> Result<EventRow, StoreError> {
    sqlx::query(
        "INSERT INTO jobs (id, name, status, priority, spec, resolved_spec, seed, \
             parameter_count, total_steps, epochs, created_at, idempotency_key, request_hash) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&job.id)
    .bind(&job.name)
    .bind(job.priority)
    .bind(&job.spec)
    .bind(&job.resolved_spec)
    .bind(job.seed.to_string())
    .bind(to_i64(job.parameter_count, "parameter_count")?)
    .bind(to_i64(job.total_steps, "total_steps")?)
    .bind(to_i64(job.epochs, "epochs")?)
    .bind(job.created_at)
    .bind(job.idempotency.as_ref().map(|i| i.key.as_str()))
    .bind(job.idempotency.as_ref().map(|i| i.request_hash.as_str()))
    .execute(&mut *conn)
    .await?;
    for dataset_id in &job.datasets {
        sqlx::query("INSERT OR IGNORE INTO job_datasets (job_id, dataset_id) VALUES ($1, $2)")
            .bind(&job.id)
            .bind(dataset_id)
            .execute(&mut *conn)
            .await?;
    }
    append_status(conn, &job.id, JobStatus::Queued, None, None, job.created_at).await
}

impl SqliteStore {
    async fn insert_job_inner(&self, job: NewJob) -> Result<InsertJob, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(idempotency) = &job.idempotency {
            let seen = sqlx::query("SELECT id, request_hash FROM jobs WHERE idempotency_key = $1")
                .bind(&idempotency.key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(seen) = seen {
                let id: String = seen.try_get("id")?;
                let hash: Option<String> = seen.try_get("request_hash")?;
                if hash.as_deref() == Some(idempotency.request_hash.as_str()) {
                    let existing = fetch_job(&mut tx, &id).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("job {id} vanished inside a transaction"))
                    })?;
                    return Ok(InsertJob::Replayed(existing));
                }
                return Ok(InsertJob::KeyReused { job_id: id });
            }
        }
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&mut *tx)
            .await?;
        let queued = to_u64(queued, "queued count")?;
        if queued >= job.max_queued {
            return Ok(InsertJob::QueueFull { queued });
        }
        for dataset_id in &job.datasets {
            let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1")
                .bind(dataset_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(InsertJob::DatasetMissing {
                    dataset_id: dataset_id.clone(),
                });
            }
        }
        let event = insert_job_row(&mut tx, &job).await?;
        let created = fetch_job(&mut tx, &job.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {} was not inserted", job.id)))?;
        tx.commit().await?;
        Ok(InsertJob::Created {
            job: created,
            event,
        })
    }

    async fn jobs_inner(&self, query: JobQuery) -> Result<Vec<JobRow>, StoreError> {
        let (before_at, before_id) = match query.before {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE ($1 IS NULL OR status = $1) \
               AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.status.map(JobStatus::as_str))
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn queue_position_inner(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM jobs AS ahead WHERE ahead.status = 'queued' AND \
               (ahead.priority > job.priority OR (ahead.priority = job.priority AND \
                 (ahead.created_at < job.created_at OR \
                  (ahead.created_at = job.created_at AND ahead.id < job.id))))) + 1 \
             FROM jobs AS job WHERE job.id = $1 AND job.status = 'queued'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        position.map(|p| to_u64(p, "queue position")).transpose()
    }

    async fn claim_inner(
        &self,
        worker: &str,
        now: i64,
    ) -> Result<Option<(JobRow, EventRow)>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "UPDATE jobs SET status = 'running', started_at = $1, worker = $2, \
               attempt = attempt + 1, progress = NULL \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' \
                         ORDER BY priority DESC, created_at, id LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = job_from_row(&row)?;
        let event = append_status(&mut tx, &job.id, JobStatus::Running, None, None, now).await?;
        tx.commit().await?;
        Ok(Some((job, event)))
    }

    async fn request_cancel_inner(&self, id: &str, now: i64) -> Result<CancelJob, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(job) = fetch_job(&mut tx, id).await? else {
            return Ok(CancelJob::NotFound);
        };
        match job.status {
            JobStatus::Queued => {
                sqlx::query(
                    "UPDATE jobs SET status = 'cancelled', finished_at = $1, \
                     cancel_requested = 1 WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                delete_checkpoint(&mut tx, id).await?;
                let event = append_status(
                    &mut tx,
                    id,
                    JobStatus::Cancelled,
                    Some("cancelled before it started"),
                    None,
                    now,
                )
                .await?;
                let job = fetch_job(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished")))?;
                tx.commit().await?;
                Ok(CancelJob::Cancelled { job, event })
            }
            JobStatus::Running => {
                sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let job = fetch_job(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished")))?;
                tx.commit().await?;
                Ok(CancelJob::Requested(job))
            }
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => {
                Ok(CancelJob::Finished(job))
            }
        }
    }

    /// Whether `attempt` still owns the running job `job_id`.
    async fn owns(
        conn: &mut SqliteConnection,
        job_id: &str,
        attempt: i64,
    ) -> Result<bool, StoreError> {
        let owned =
            sqlx::query("SELECT 1 FROM jobs WHERE id = $1 AND attempt = $2 AND status = 'running'")
                .bind(job_id)
                .bind(attempt)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(owned.is_some())
    }

    async fn record_inner(
        &self,
        job_id: &str,
        attempt: i64,
        events: Vec<NewEvent>,
        progress: Option<String>,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !Self::owns(&mut tx, job_id, attempt).await? {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(events.len());
        for event in &events {
            rows.push(append_event(&mut tx, job_id, event).await?);
        }
        if let Some(progress) = progress {
            sqlx::query("UPDATE jobs SET progress = $1 WHERE id = $2")
                .bind(progress)
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows)
    }

    async fn finish_inner(&self, finish: Finish) -> Result<Vec<EventRow>, StoreError> {
        if !finish.status.is_terminal() {
            return Err(StoreError::Corrupt(format!(
                "finish_job called with non-terminal status {}",
                finish.status
            )));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !Self::owns(&mut tx, &finish.job_id, finish.attempt).await? {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(finish.events.len() + 1);
        for event in &finish.events {
            rows.push(append_event(&mut tx, &finish.job_id, event).await?);
        }
        if let Some(model) = &finish.model {
            sqlx::query(
                "INSERT INTO models (job_id, meta, weights, weights_sha256, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (job_id) DO UPDATE SET meta = excluded.meta, \
                   weights = excluded.weights, weights_sha256 = excluded.weights_sha256, \
                   created_at = excluded.created_at",
            )
            .bind(&finish.job_id)
            .bind(&model.meta)
            .bind(&model.weights)
            .bind(&model.weights_sha256)
            .bind(model.created_at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE jobs SET status = $1, finished_at = $2, error = $3, \
               progress = COALESCE($4, progress), weights_sha256 = $5 \
             WHERE id = $6",
        )
        .bind(finish.status.as_str())
        .bind(finish.at)
        .bind(&finish.error)
        .bind(&finish.progress)
        .bind(finish.model.as_ref().map(|m| m.weights_sha256.as_str()))
        .bind(&finish.job_id)
        .execute(&mut *tx)
        .await?;
        delete_checkpoint(&mut tx, &finish.job_id).await?;
        rows.push(
            append_status(
                &mut tx,
                &finish.job_id,
                finish.status,
                None,
                finish.error.as_deref(),
                finish.at,
            )
            .await?,
        );
        tx.commit().await?;
        Ok(rows)
    }

    /// Puts one running job back in the queue inside `conn`'s transaction.
    async fn requeue_in(
        conn: &mut SqliteConnection,
        job_id: &str,
        note: &str,
        now: i64,
    ) -> Result<EventRow, StoreError> {
        sqlx::query(
            "UPDATE jobs SET status = 'queued', started_at = NULL, worker = NULL, \
               progress = NULL WHERE id = $1",
        )
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
        // The next attempt continues from the checkpoint: what it does not cover goes, so that
        // the records are written again rather than twice. Status and log events are history.
        sqlx::query(
            "DELETE FROM job_events WHERE job_id = $1 AND kind IN ('epoch', 'step') \
               AND seq > COALESCE((SELECT last_seq FROM checkpoints WHERE job_id = $1), 0)",
        )
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
        append_status(conn, job_id, JobStatus::Queued, Some(note), None, now).await
    }

    async fn requeue_job_inner(
        &self,
        job_id: &str,
        attempt: i64,
        note: &str,
        now: i64,
    ) -> Result<Option<EventRow>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !Self::owns(&mut tx, job_id, attempt).await? {
            return Ok(None);
        }
        let event = Self::requeue_in(&mut tx, job_id, note, now).await?;
        tx.commit().await?;
        Ok(Some(event))
    }

    async fn requeue_running_inner(
        &self,
        note: &str,
        now: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'running' ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in &ids {
            events.push(Self::requeue_in(&mut tx, id, note, now).await?);
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn delete_job_inner(&self, id: &str) -> Result<DeleteJob, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(status) = status else {
            return Ok(DeleteJob::NotFound);
        };
        let status = JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job status {status:?}")))?;
        if !status.is_terminal() {
            return Ok(DeleteJob::Active(status));
        }
        // The cascade removes events, the model and dataset links.
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteJob::Deleted)
    }

    async fn save_checkpoint_inner(
        &self,
        checkpoint: CheckpointRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !Self::owns(&mut tx, &checkpoint.job_id, checkpoint.attempt).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO checkpoints (job_id, attempt, epoch, step, last_seq, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt, \
               epoch = excluded.epoch, step = excluded.step, last_seq = excluded.last_seq, \
               data = excluded.data, created_at = excluded.created_at",
        )
        .bind(&checkpoint.job_id)
        .bind(checkpoint.attempt)
        .bind(to_i64(checkpoint.epoch, "checkpoint epoch")?)
        .bind(to_i64(checkpoint.step, "checkpoint step")?)
        .bind(checkpoint.last_seq)
        .bind(&checkpoint.data)
        .bind(checkpoint.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn checkpoint_inner(&self, job_id: &str) -> Result<Option<CheckpointRecord>, StoreError> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE job_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn events_inner(
        &self,
        job_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn epochs_inner(
        &self,
        job_id: &str,
        since: u64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM job_events \
             WHERE job_id = $1 AND kind = 'epoch' AND epoch > $2 ORDER BY epoch, seq LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .bind(to_i64(since, "since")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn history_inner(&self, job_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = $1 AND kind = 'status' \
             ORDER BY seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn model_inner(&self, job_id: &str) -> Result<Option<ModelRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT meta, weights, weights_sha256, created_at FROM models WHERE job_id = $1",
        )
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ModelRecord {
                meta: row.try_get("meta")?,
                weights: row.try_get("weights")?,
                weights_sha256: row.try_get("weights_sha256")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn insert_imported_model_inner(
        &self,
        model: ImportedModelRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO imported_models (id, meta, weights, weights_sha256, parameter_count, \
             input_width, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&model.id)
        .bind(&model.model.meta)
        .bind(&model.model.weights)
        .bind(&model.model.weights_sha256)
        .bind(to_i64(model.parameter_count, "parameter_count")?)
        .bind(to_i64(model.input_width, "input_width")?)
        .bind(model.model.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn imported_model_inner(
        &self,
        id: &str,
    ) -> Result<Option<ImportedModelRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, meta, weights, weights_sha256, parameter_count, input_width, created_at \
             FROM imported_models WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let parameter_count: i64 = row.try_get("parameter_count")?;
            let input_width: i64 = row.try_get("input_width")?;
            Ok(ImportedModelRecord {
                id: row.try_get("id")?,
                parameter_count: u64::try_from(parameter_count)
                    .map_err(|_| StoreError::Corrupt("negative parameter_count".into()))?,
                input_width: u64::try_from(input_width)
                    .map_err(|_| StoreError::Corrupt("negative input_width".into()))?,
                model: ModelRecord {
                    meta: row.try_get("meta")?,
                    weights: row.try_get("weights")?,
                    weights_sha256: row.try_get("weights_sha256")?,
                    created_at: row.try_get("created_at")?,
                },
            })
        })
        .transpose()
    }

    async fn delete_imported_model_inner(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM imported_models WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_dataset_inner(&self, dataset: DatasetRecord) -> Result<(), StoreError> {
        let meta = &dataset.meta;
        sqlx::query(
            "INSERT INTO datasets (id, name, rows, features, classes, label_column, meta, \
             matrix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&meta.id)
        .bind(&meta.name)
        .bind(to_i64(meta.rows, "rows")?)
        .bind(to_i64(meta.features, "features")?)
        .bind(meta.classes.map(|c| to_i64(c, "classes")).transpose()?)
        .bind(&meta.label_column)
        .bind(&meta.meta)
        .bind(&dataset.matrix)
        .bind(meta.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn datasets_inner(&self, query: DatasetQuery) -> Result<Vec<DatasetMeta>, StoreError> {
        let (before_at, before_id) = match query.before {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets \
             WHERE ($1 IS NULL OR created_at < $1 OR (created_at = $1 AND id < $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    async fn dataset_inner(&self, id: &str) -> Result<Option<DatasetMeta>, StoreError> {
        let sql = format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dataset_from_row).transpose()
    }

    async fn dataset_matrix_inner(&self, id: &str) -> Result<Option<DatasetRecord>, StoreError> {
        let sql = format!("SELECT {DATASET_COLUMNS}, matrix FROM datasets WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(DatasetRecord {
                meta: dataset_from_row(&row)?,
                matrix: row.try_get("matrix")?,
            })
        })
        .transpose()
    }

    async fn delete_dataset_inner(&self, id: &str) -> Result<DeleteDataset, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(DeleteDataset::NotFound);
        }
        let job_ids: Vec<String> = sqlx::query_scalar(
            "SELECT jobs.id FROM job_datasets JOIN jobs ON jobs.id = job_datasets.job_id \
             WHERE job_datasets.dataset_id = $1 AND jobs.status IN ('queued', 'running') \
             ORDER BY jobs.created_at, jobs.id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !job_ids.is_empty() {
            return Ok(DeleteDataset::InUse { job_ids });
        }
        sqlx::query("DELETE FROM datasets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteDataset::Deleted)
    }
}

fn sweep_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SweepRow, StoreError> {
    let seed: String = row.try_get("seed")?;
    Ok(SweepRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        base: row.try_get("base")?,
        grid: row.try_get("grid")?,
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("seed {seed:?} is not a u64")))?,
        created_at: row.try_get("created_at")?,
    })
}

async fn fetch_sweep(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<SweepRow>, StoreError> {
    let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(sweep_from_row).transpose()
}

/// The jobs of a sweep in sweep order, with their overrides.
async fn fetch_sweep_jobs(
    conn: &mut SqliteConnection,
    sweep_id: &str,
) -> Result<Vec<SweepJob>, StoreError> {
    let columns: String = JOB_COLUMNS
        .split(", ")
        .map(|c| format!("jobs.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT sweep_jobs.position, sweep_jobs.overrides, {columns} \
         FROM sweep_jobs JOIN jobs ON jobs.id = sweep_jobs.job_id \
         WHERE sweep_jobs.sweep_id = $1 ORDER BY sweep_jobs.position"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sweep_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SweepJob {
                position: to_u64(row.try_get("position")?, "position")?,
                overrides: row.try_get("overrides")?,
                job: job_from_row(row)?,
            })
        })
        .collect()
}

/// The ids of a sweep's jobs in `status` (`'queued'`, `'running'`…), in sweep order.
async fn sweep_job_ids(
    conn: &mut SqliteConnection,
    sweep_id: &str,
    statuses: &[JobStatus],
) -> Result<Vec<String>, StoreError> {
    let wanted: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT jobs.id, jobs.status FROM sweep_jobs JOIN jobs ON jobs.id = sweep_jobs.job_id \
         WHERE sweep_jobs.sweep_id = $1 ORDER BY sweep_jobs.position",
    )
    .bind(sweep_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, status)| wanted.contains(&status.as_str()))
        .map(|(id, _)| id)
        .collect())
}

impl SqliteStore {
    async fn insert_sweep_inner(&self, sweep: NewSweep) -> Result<InsertSweep, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&mut *tx)
            .await?;
        let queued = to_u64(queued, "queued count")?;
        if queued.saturating_add(sweep.jobs.len() as u64) > sweep.max_queued {
            return Ok(InsertSweep::QueueFull { queued });
        }
        let mut datasets: Vec<&String> = sweep.jobs.iter().flat_map(|(j, _)| &j.datasets).collect();
        datasets.sort();
        datasets.dedup();
        for dataset_id in datasets {
            let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1")
                .bind(dataset_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(InsertSweep::DatasetMissing {
                    dataset_id: dataset_id.clone(),
                });
            }
        }
        sqlx::query(
            "INSERT INTO sweeps (id, name, base, grid, seed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&sweep.id)
        .bind(&sweep.name)
        .bind(&sweep.base)
        .bind(&sweep.grid)
        .bind(sweep.seed.to_string())
        .bind(sweep.created_at)
        .execute(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(sweep.jobs.len());
        for (position, (job, overrides)) in sweep.jobs.iter().enumerate() {
            let job = NewJob {
                idempotency: None,
                ..job.clone()
            };
            events.push(insert_job_row(&mut tx, &job).await?);
            sqlx::query(
                "INSERT INTO sweep_jobs (sweep_id, position, job_id, overrides) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&sweep.id)
            .bind(to_i64(position as u64, "position")?)
            .bind(&job.id)
            .bind(overrides)
            .execute(&mut *tx)
            .await?;
        }
        let row = fetch_sweep(&mut tx, &sweep.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("sweep {} was not inserted", sweep.id)))?;
        let jobs = fetch_sweep_jobs(&mut tx, &sweep.id).await?;
        tx.commit().await?;
        Ok(InsertSweep::Created {
            sweep: row,
            jobs,
            events,
        })
    }

    async fn sweep_inner(&self, id: &str) -> Result<Option<(SweepRow, Vec<SweepJob>)>, StoreError> {
        // One read transaction, so that the sweep and its jobs are one snapshot.
        let mut tx = self.pool.begin().await?;
        let Some(sweep) = fetch_sweep(&mut tx, id).await? else {
            return Ok(None);
        };
        let jobs = fetch_sweep_jobs(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some((sweep, jobs)))
    }

    async fn sweeps_inner(&self, query: SweepQuery) -> Result<Vec<SweepEntry>, StoreError> {
        let (before_at, before_id) = match query.before {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        let page = "SELECT id FROM sweeps \
             WHERE ($1 IS NULL OR created_at < $1 OR (created_at = $1 AND id < $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3";
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT {SWEEP_COLUMNS} FROM sweeps WHERE id IN ({page}) \
             ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before_at)
            .bind(before_id.clone())
            .bind(i64::from(query.limit))
            .fetch_all(&mut *tx)
            .await?;
        let counts: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT sweep_jobs.sweep_id, jobs.status, COUNT(*) \
             FROM sweep_jobs JOIN jobs ON jobs.id = sweep_jobs.job_id \
             WHERE sweep_jobs.sweep_id IN ({page}) \
             GROUP BY sweep_jobs.sweep_id, jobs.status"
        )))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(query.limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let sweep = sweep_from_row(row)?;
                let mut by_status = Vec::new();
                for status in JobStatus::ALL {
                    let n: i64 = counts
                        .iter()
                        .filter(|(s, st, _)| *s == sweep.id && st == status.as_str())
                        .map(|(_, _, n)| *n)
                        .sum();
                    if n > 0 {
                        by_status.push((status, to_u64(n, "job count")?));
                    }
                }
                Ok(SweepEntry {
                    sweep,
                    counts: by_status,
                })
            })
            .collect()
    }

    async fn cancel_sweep_inner(&self, id: &str, now: i64) -> Result<CancelSweep, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if fetch_sweep(&mut tx, id).await?.is_none() {
            return Ok(CancelSweep::NotFound);
        }
        let queued = sweep_job_ids(&mut tx, id, &[JobStatus::Queued]).await?;
        let mut cancelled = Vec::with_capacity(queued.len());
        for job_id in &queued {
            sqlx::query(
                "UPDATE jobs SET status = 'cancelled', finished_at = $1, cancel_requested = 1 \
                 WHERE id = $2",
            )
            .bind(now)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
            delete_checkpoint(&mut tx, job_id).await?;
            cancelled.push(
                append_status(
                    &mut tx,
                    job_id,
                    JobStatus::Cancelled,
                    Some("cancelled with its sweep before it started"),
                    None,
                    now,
                )
                .await?,
            );
        }
        let running = sweep_job_ids(&mut tx, id, &[JobStatus::Running]).await?;
        for job_id in &running {
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1")
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(CancelSweep::Done { cancelled, running })
    }

    async fn delete_sweep_inner(&self, id: &str) -> Result<DeleteSweep, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if fetch_sweep(&mut tx, id).await?.is_none() {
            return Ok(DeleteSweep::NotFound);
        }
        let active = sweep_job_ids(&mut tx, id, &[JobStatus::Queued, JobStatus::Running]).await?;
        if !active.is_empty() {
            return Ok(DeleteSweep::Active { job_ids: active });
        }
        let job_ids = sweep_job_ids(&mut tx, id, &JobStatus::ALL).await?;
        // The cascade removes each job's events, model, dataset links and sweep membership.
        sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sweeps WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteSweep::Deleted { job_ids })
    }
}

impl Store for SqliteStore {
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            Ok(())
        })
    }

    fn insert_job(&self, job: NewJob) -> StoreFuture<'_, InsertJob> {
        Box::pin(self.insert_job_inner(job))
    }

    fn job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<JobRow>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            fetch_job(&mut conn, id).await
        })
    }

    fn jobs(&self, query: JobQuery) -> StoreFuture<'_, Vec<JobRow>> {
        Box::pin(self.jobs_inner(query))
    }

    fn queue_position<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<u64>> {
        Box::pin(self.queue_position_inner(id))
    }

    fn count_queued(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
                .fetch_one(&self.pool)
                .await?;
            to_u64(n, "queued count")
        })
    }

    fn count_jobs_by_status(&self) -> StoreFuture<'_, Vec<(JobStatus, u64)>> {
        Box::pin(async move {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                    .fetch_all(&self.pool)
                    .await?;
            rows.into_iter()
                .map(|(status, n)| {
                    let status = JobStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?;
                    Ok((status, to_u64(n, "job count")?))
                })
                .collect()
        })
    }

    fn claim_job<'a>(
        &'a self,
        worker: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<(JobRow, EventRow)>> {
        Box::pin(self.claim_inner(worker, now))
    }

    fn request_cancel<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, CancelJob> {
        Box::pin(self.request_cancel_inner(id, now))
    }

    fn record<'a>(
        &'a self,
        job_id: &'a str,
        attempt: i64,
        events: Vec<NewEvent>,
        progress: Option<String>,
    ) -> StoreFuture<'a, Vec<EventRow>> {
        Box::pin(self.record_inner(job_id, attempt, events, progress))
    }

    fn finish_job(&self, finish: Finish) -> StoreFuture<'_, Vec<EventRow>> {
        Box::pin(self.finish_inner(finish))
    }

    fn requeue_job<'a>(
        &'a self,
        job_id: &'a str,
        attempt: i64,
        note: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<EventRow>> {
        Box::pin(self.requeue_job_inner(job_id, attempt, note, now))
    }

    fn requeue_running<'a>(&'a self, note: &'a str, now: i64) -> StoreFuture<'a, Vec<EventRow>> {
        Box::pin(self.requeue_running_inner(note, now))
    }

    fn delete_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteJob> {
        Box::pin(self.delete_job_inner(id))
    }

    fn save_checkpoint(&self, checkpoint: CheckpointRecord) -> StoreFuture<'_, bool> {
        Box::pin(self.save_checkpoint_inner(checkpoint))
    }

    fn checkpoint<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<CheckpointRecord>> {
        Box::pin(self.checkpoint_inner(job_id))
    }

    fn events<'a>(
        &'a self,
        job_id: &'a str,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRow>> {
        Box::pin(self.events_inner(job_id, after, limit))
    }

    fn epochs<'a>(
        &'a self,
        job_id: &'a str,
        since: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRow>> {
        Box::pin(self.epochs_inner(job_id, since, limit))
    }

    fn history<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Vec<EventRow>> {
        Box::pin(self.history_inner(job_id))
    }

    fn model<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<ModelRecord>> {
        Box::pin(self.model_inner(job_id))
    }

    fn insert_imported_model(&self, model: ImportedModelRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.insert_imported_model_inner(model))
    }

    fn imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ImportedModelRecord>> {
        Box::pin(self.imported_model_inner(id))
    }

    fn delete_imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.delete_imported_model_inner(id))
    }

    fn insert_dataset(&self, dataset: DatasetRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.insert_dataset_inner(dataset))
    }

    fn datasets(&self, query: DatasetQuery) -> StoreFuture<'_, Vec<DatasetMeta>> {
        Box::pin(self.datasets_inner(query))
    }

    fn dataset<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<DatasetMeta>> {
        Box::pin(self.dataset_inner(id))
    }

    fn dataset_matrix<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<DatasetRecord>> {
        Box::pin(self.dataset_matrix_inner(id))
    }

    fn delete_dataset<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteDataset> {
        Box::pin(self.delete_dataset_inner(id))
    }

    fn insert_sweep(&self, sweep: NewSweep) -> StoreFuture<'_, InsertSweep> {
        Box::pin(self.insert_sweep_inner(sweep))
    }

    fn sweep<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(SweepRow, Vec<SweepJob>)>> {
        Box::pin(self.sweep_inner(id))
    }

    fn sweeps(&self, query: SweepQuery) -> StoreFuture<'_, Vec<SweepEntry>> {
        Box::pin(self.sweeps_inner(query))
    }

    fn cancel_sweep<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, CancelSweep> {
        Box::pin(self.cancel_sweep_inner(id, now))
    }

    fn delete_sweep<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteSweep> {
        Box::pin(self.delete_sweep_inner(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Idempotency;

    struct TestDb {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    }

    async fn open() -> TestDb {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = SqliteStore::connect(&url).await.expect("the store opens");
        TestDb { store, _dir: dir }
    }

    fn new_job(id: &str, priority: i64, created_at: i64) -> NewJob {
        NewJob {
            id: id.to_owned(),
            name: Some(format!("job {id}")),
            priority,
            spec: "{}".into(),
            resolved_spec: "{}".into(),
            seed: u64::MAX,
            parameter_count: 131,
            total_steps: 70,
            epochs: 10,
            created_at,
            datasets: Vec::new(),
            idempotency: None,
            max_queued: 100,
        }
    }

    fn epoch(n: u64) -> NewEvent {
        NewEvent {
            kind: EventKind::Epoch,
            epoch: Some(n),
            body: format!(r#"{{"epoch":{n}}}"#),
            at: 1,
        }
    }

    async fn insert(store: &SqliteStore, job: NewJob) -> JobRow {
        match store.insert_job(job).await.expect("insert works") {
            InsertJob::Created { job, .. } => job,
            other => panic!("expected a created job, got {other:?}"),
        }
    }

    async fn claim(store: &SqliteStore) -> Option<JobRow> {
        store
            .claim_job("w", 5)
            .await
            .expect("claim works")
            .map(|(job, _)| job)
    }

    #[tokio::test]
    async fn claims_take_the_highest_priority_then_the_oldest() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        insert(&db.store, new_job("b", 5, 2)).await;
        insert(&db.store, new_job("c", 0, 3)).await;
        assert_eq!(db.store.queue_position("a").await.ok().flatten(), Some(2));
        assert_eq!(db.store.queue_position("b").await.ok().flatten(), Some(1));
        let order: Vec<String> = [
            claim(&db.store).await,
            claim(&db.store).await,
            claim(&db.store).await,
            claim(&db.store).await,
        ]
        .into_iter()
        .map(|job| job.map_or("-".to_owned(), |j| j.id))
        .collect();
        assert_eq!(order, ["b", "a", "c", "-"]);
    }

    #[tokio::test]
    async fn seeds_keep_all_64_bits() {
        let db = open().await;
        let job = insert(&db.store, new_job("a", 0, 1)).await;
        assert_eq!(job.seed, u64::MAX);
    }

    #[tokio::test]
    async fn a_finished_job_keeps_its_status() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        let job = claim(&db.store).await.expect("a job to claim");
        let finish = Finish {
            job_id: "a".into(),
            attempt: job.attempt,
            status: JobStatus::Succeeded,
            error: None,
            progress: None,
            events: vec![epoch(1)],
            model: None,
            at: 9,
        };
        let events = db
            .store
            .finish_job(finish.clone())
            .await
            .expect("finish works");
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].kind, EventKind::Status);
        let again = Finish {
            status: JobStatus::Failed,
            ..finish
        };
        assert!(
            db.store
                .finish_job(again)
                .await
                .expect("no error")
                .is_empty()
        );
        let forced = sqlx::query("UPDATE jobs SET status = 'queued' WHERE id = 'a'")
            .execute(&db.store.pool)
            .await;
        assert!(
            forced.is_err(),
            "the trigger refuses to reopen a finished job"
        );
        let job = db.store.job("a").await.ok().flatten().expect("the job");
        assert_eq!(job.status, JobStatus::Succeeded);
        assert!(matches!(
            db.store.request_cancel("a", 10).await,
            Ok(CancelJob::Finished(_))
        ));
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_same_request_and_refuses_another() {
        let db = open().await;
        let keyed = |id: &str, hash: &str| NewJob {
            idempotency: Some(Idempotency {
                key: "k1".into(),
                request_hash: hash.into(),
            }),
            ..new_job(id, 0, 1)
        };
        insert(&db.store, keyed("a", "h1")).await;
        match db.store.insert_job(keyed("b", "h1")).await {
            Ok(InsertJob::Replayed(job)) => assert_eq!(job.id, "a"),
            other => panic!("expected a replay, got {other:?}"),
        }
        match db.store.insert_job(keyed("c", "h2")).await {
            Ok(InsertJob::KeyReused { job_id }) => assert_eq!(job_id, "a"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_new_jobs() {
        let db = open().await;
        insert(
            &db.store,
            NewJob {
                max_queued: 1,
                ..new_job("a", 0, 1)
            },
        )
        .await;
        let refused = db
            .store
            .insert_job(NewJob {
                max_queued: 1,
                ..new_job("b", 0, 2)
            })
            .await;
        assert!(matches!(refused, Ok(InsertJob::QueueFull { queued: 1 })));
    }

    #[tokio::test]
    async fn records_of_an_attempt_that_lost_the_job_are_dropped() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        let first = claim(&db.store).await.expect("claimed");
        let kept = db
            .store
            .record("a", first.attempt, vec![epoch(1)], Some("{}".into()))
            .await
            .expect("record works");
        assert_eq!(kept.len(), 1);
        let requeued = db
            .store
            .requeue_running("restart", 6)
            .await
            .expect("requeue");
        assert_eq!(requeued.len(), 1);
        assert!(
            db.store
                .epochs("a", 0, 10)
                .await
                .expect("epochs")
                .is_empty()
        );
        let second = claim(&db.store).await.expect("claimed again");
        assert_eq!(second.attempt, first.attempt + 1);
        let stale = db
            .store
            .record("a", first.attempt, vec![epoch(1)], None)
            .await
            .expect("no error");
        assert!(stale.is_empty());
        let statuses: Vec<String> = db
            .store
            .history("a")
            .await
            .expect("history")
            .iter()
            .map(|e| e.body.clone())
            .collect();
        assert_eq!(
            statuses.len(),
            4,
            "queued, running, queued, running: {statuses:?}"
        );
        assert!(statuses[2].contains("restart"));
    }

    #[tokio::test]
    async fn deleting_a_job_takes_its_events_and_model_with_it() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        assert_eq!(
            db.store.delete_job("a").await.ok(),
            Some(DeleteJob::Active(JobStatus::Queued))
        );
        let job = claim(&db.store).await.expect("claimed");
        let model = ModelRecord {
            meta: "{}".into(),
            weights: vec![0, 0, 128, 63],
            weights_sha256: "abc".into(),
            created_at: 3,
        };
        db.store
            .finish_job(Finish {
                job_id: "a".into(),
                attempt: job.attempt,
                status: JobStatus::Succeeded,
                error: None,
                progress: None,
                events: vec![epoch(1), epoch(2)],
                model: Some(model.clone()),
                at: 4,
            })
            .await
            .expect("finish");
        assert_eq!(db.store.model("a").await.ok().flatten(), Some(model));
        assert_eq!(
            db.store
                .job("a")
                .await
                .ok()
                .flatten()
                .and_then(|j| j.weights_sha256),
            Some("abc".into())
        );
        assert_eq!(db.store.epochs("a", 1, 10).await.expect("epochs").len(), 1);
        assert_eq!(
            db.store.delete_job("a").await.ok(),
            Some(DeleteJob::Deleted)
        );
        assert_eq!(
            db.store.delete_job("a").await.ok(),
            Some(DeleteJob::NotFound)
        );
        assert!(
            db.store
                .events("a", 0, 10)
                .await
                .expect("events")
                .is_empty()
        );
        assert_eq!(db.store.model("a").await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn a_dataset_read_by_a_waiting_job_cannot_be_deleted() {
        let db = open().await;
        let dataset = DatasetRecord {
            meta: DatasetMeta {
                id: "d".into(),
                name: "points".into(),
                rows: 2,
                features: 1,
                classes: Some(2),
                label_column: "label".into(),
                meta: "{}".into(),
                created_at: 1,
            },
            matrix: vec![1, 2, 3],
        };
        db.store
            .insert_dataset(dataset.clone())
            .await
            .expect("insert");
        assert_eq!(
            db.store.dataset_matrix("d").await.ok().flatten(),
            Some(dataset)
        );
        insert(
            &db.store,
            NewJob {
                datasets: vec!["d".into()],
                ..new_job("a", 0, 2)
            },
        )
        .await;
        assert_eq!(
            db.store.delete_dataset("d").await.ok(),
            Some(DeleteDataset::InUse {
                job_ids: vec!["a".into()]
            })
        );
        assert!(matches!(
            db.store.request_cancel("a", 3).await,
            Ok(CancelJob::Cancelled { .. })
        ));
        assert_eq!(
            db.store.delete_dataset("d").await.ok(),
            Some(DeleteDataset::Deleted)
        );
        let missing = db
            .store
            .insert_job(NewJob {
                datasets: vec!["d".into()],
                ..new_job("b", 0, 4)
            })
            .await;
        assert!(matches!(missing, Ok(InsertJob::DatasetMissing { .. })));
    }

    fn new_sweep(id: &str, job_ids: &[&str], max_queued: u64) -> NewSweep {
        NewSweep {
            id: id.to_owned(),
            name: Some("grid".into()),
            base: "{}".into(),
            grid: r#"{"training.seed":[1,2,3]}"#.into(),
            seed: 7,
            created_at: 10,
            jobs: job_ids
                .iter()
                .enumerate()
                .map(|(i, job_id)| {
                    (
                        new_job(job_id, 0, 10),
                        format!(r#"{{"training.seed":{}}}"#, i + 1),
                    )
                })
                .collect(),
            max_queued,
        }
    }

    #[tokio::test]
    async fn a_sweep_is_inserted_whole_or_not_at_all_and_cancelled_and_deleted_as_one() {
        let db = open().await;
        insert(&db.store, new_job("other", 0, 1)).await;
        // One place left in a queue of 3: a sweep of 3 does not fit, and leaves no trace.
        let full = db
            .store
            .insert_sweep(new_sweep("s0", &["x", "y", "z"], 3))
            .await;
        assert!(matches!(full, Ok(InsertSweep::QueueFull { queued: 1 })));
        let mut missing = new_sweep("s0", &["x", "y"], 100);
        missing.jobs[1].0.datasets = vec!["gone".into()];
        assert!(matches!(
            db.store.insert_sweep(missing).await,
            Ok(InsertSweep::DatasetMissing { .. })
        ));
        assert!(db.store.job("x").await.expect("read").is_none());
        assert!(db.store.sweep("s0").await.expect("read").is_none());

        let created = db
            .store
            .insert_sweep(new_sweep("s1", &["a", "b", "c"], 100))
            .await;
        let Ok(InsertSweep::Created { jobs, events, .. }) = created else {
            panic!("expected a created sweep, got {created:?}");
        };
        assert_eq!(events.len(), 3);
        let order: Vec<(u64, &str)> = jobs
            .iter()
            .map(|j| (j.position, j.job.id.as_str()))
            .collect();
        assert_eq!(order, [(0, "a"), (1, "b"), (2, "c")]);
        assert_eq!(jobs[2].overrides, r#"{"training.seed":3}"#);
        let listed = db
            .store
            .sweeps(SweepQuery {
                limit: 10,
                before: None,
            })
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].counts, [(JobStatus::Queued, 3)]);

        // "other" is claimed first, then "a"; cancelling the sweep stops "a" and cancels b, c.
        claim(&db.store).await.expect("other");
        claim(&db.store).await.expect("a");
        assert_eq!(
            db.store.delete_sweep("s1").await.ok(),
            Some(DeleteSweep::Active {
                job_ids: vec!["a".into(), "b".into(), "c".into()]
            })
        );
        let Ok(CancelSweep::Done { cancelled, running }) = db.store.cancel_sweep("s1", 20).await
        else {
            panic!("expected a cancel");
        };
        assert_eq!(cancelled.len(), 2);
        assert_eq!(running, ["a"]);
        let a = db.store.job("a").await.ok().flatten().expect("a");
        assert!(a.cancel_requested && a.status == JobStatus::Running);
        db.store
            .finish_job(Finish {
                job_id: "a".into(),
                attempt: a.attempt,
                status: JobStatus::Cancelled,
                error: None,
                progress: None,
                events: vec![epoch(1)],
                model: None,
                at: 21,
            })
            .await
            .expect("finish");
        assert_eq!(
            db.store.delete_sweep("s1").await.ok(),
            Some(DeleteSweep::Deleted {
                job_ids: vec!["a".into(), "b".into(), "c".into()]
            })
        );
        assert!(db.store.job("a").await.expect("read").is_none());
        assert!(
            db.store
                .events("a", 0, 10)
                .await
                .expect("events")
                .is_empty()
        );
        assert!(db.store.job("other").await.expect("read").is_some());
        assert!(matches!(
            db.store.cancel_sweep("s1", 22).await,
            Ok(CancelSweep::NotFound)
        ));
        assert_eq!(
            db.store.delete_sweep("s1").await.ok(),
            Some(DeleteSweep::NotFound)
        );
    }

    fn step(epoch: u64, n: u64) -> NewEvent {
        NewEvent {
            kind: EventKind::Step,
            epoch: Some(epoch),
            body: format!(r#"{{"step":{n}}}"#),
            at: 1,
        }
    }

    fn log(message: &str) -> NewEvent {
        NewEvent {
            kind: EventKind::Log,
            epoch: None,
            body: format!(r#"{{"message":"{message}"}}"#),
            at: 1,
        }
    }

    fn checkpoint(attempt: i64, epoch: u64, last_seq: i64, data: &[u8]) -> CheckpointRecord {
        CheckpointRecord {
            job_id: "a".into(),
            attempt,
            epoch,
            step: epoch * 7,
            last_seq,
            data: data.to_vec(),
            created_at: 20 + epoch as i64,
        }
    }

    /// The bodies of the job's events of `kind`, oldest first.
    async fn bodies(store: &SqliteStore, kind: EventKind) -> Vec<String> {
        store
            .events("a", 0, 100)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.body)
            .collect()
    }

    #[tokio::test]
    async fn a_checkpoint_is_saved_only_by_the_attempt_that_owns_the_job() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        assert!(
            !db.store
                .save_checkpoint(checkpoint(1, 1, 0, b"queued"))
                .await
                .expect("no error"),
            "a queued job takes no checkpoint"
        );
        let first = claim(&db.store).await.expect("claimed");
        assert!(
            db.store
                .save_checkpoint(checkpoint(first.attempt, 1, 0, b"one"))
                .await
                .expect("saved")
        );
        db.store
            .requeue_running("restart", 6)
            .await
            .expect("requeue");
        let second = claim(&db.store).await.expect("claimed again");
        assert!(
            !db.store
                .save_checkpoint(checkpoint(first.attempt, 2, 0, b"stale"))
                .await
                .expect("no error"),
            "the first attempt lost the job"
        );
        let kept = db.store.checkpoint("a").await.expect("read").expect("one");
        assert_eq!(kept, checkpoint(first.attempt, 1, 0, b"one"));
        assert!(
            db.store
                .save_checkpoint(checkpoint(second.attempt, 3, 0, b"three"))
                .await
                .expect("saved")
        );
        assert_eq!(
            db.store.checkpoint("a").await.expect("read"),
            Some(checkpoint(second.attempt, 3, 0, b"three")),
            "the row is replaced, with the new attempt"
        );
    }

    #[tokio::test]
    async fn requeueing_drops_the_records_after_the_checkpoint_and_keeps_history_and_logs() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        let job = claim(&db.store).await.expect("claimed");
        let covered = db
            .store
            .record(
                "a",
                job.attempt,
                vec![epoch(1), step(2, 9), log("kept")],
                None,
            )
            .await
            .expect("recorded");
        let last_seq = covered[1].seq;
        assert!(
            db.store
                .save_checkpoint(checkpoint(job.attempt, 1, last_seq, b"cp"))
                .await
                .expect("saved")
        );
        db.store
            .record(
                "a",
                job.attempt,
                vec![step(2, 10), epoch(2), log("also kept")],
                None,
            )
            .await
            .expect("recorded");
        let requeued = db
            .store
            .requeue_job("a", job.attempt, "interrupted", 7)
            .await
            .expect("requeue");
        assert!(requeued.is_some());
        assert_eq!(
            bodies(&db.store, EventKind::Epoch).await,
            [r#"{"epoch":1}"#]
        );
        assert_eq!(bodies(&db.store, EventKind::Step).await, [r#"{"step":9}"#]);
        assert_eq!(bodies(&db.store, EventKind::Log).await.len(), 2);
        assert_eq!(bodies(&db.store, EventKind::Status).await.len(), 3);
        assert_eq!(
            db.store
                .checkpoint("a")
                .await
                .expect("read")
                .map(|c| c.last_seq),
            Some(last_seq),
            "the checkpoint survives the requeue"
        );

        // Without a checkpoint every epoch and step record goes.
        insert(&db.store, new_job("b", -1, 2)).await;
        let again = claim(&db.store).await.expect("a again");
        assert_eq!(again.id, "a");
        let other = claim(&db.store).await.expect("b");
        db.store
            .record("b", other.attempt, vec![epoch(1), step(1, 1)], None)
            .await
            .expect("recorded");
        let requeued = db
            .store
            .requeue_running("restart", 8)
            .await
            .expect("requeue");
        assert_eq!(requeued.len(), 2);
        assert!(
            db.store
                .epochs("b", 0, 10)
                .await
                .expect("epochs")
                .is_empty()
        );
        assert_eq!(db.store.epochs("a", 0, 10).await.expect("epochs").len(), 1);
    }

    #[tokio::test]
    async fn the_checkpoint_goes_when_the_job_ends_or_is_deleted() {
        let db = open().await;
        insert(&db.store, new_job("a", 0, 1)).await;
        let job = claim(&db.store).await.expect("claimed");
        db.store
            .save_checkpoint(checkpoint(job.attempt, 1, 0, b"cp"))
            .await
            .expect("saved");
        db.store
            .finish_job(Finish {
                job_id: "a".into(),
                attempt: job.attempt,
                status: JobStatus::Succeeded,
                error: None,
                progress: None,
                events: Vec::new(),
                model: None,
                at: 9,
            })
            .await
            .expect("finish");
        assert_eq!(db.store.checkpoint("a").await.expect("read"), None);

        // A queued job with a checkpoint (interrupted earlier) that is cancelled.
        insert(&db.store, new_job("b", 0, 2)).await;
        let job = claim(&db.store).await.expect("claimed");
        let saved = CheckpointRecord {
            job_id: "b".into(),
            ..checkpoint(job.attempt, 1, 0, b"cp")
        };
        db.store.save_checkpoint(saved).await.expect("saved");
        db.store
            .requeue_job("b", job.attempt, "interrupted", 3)
            .await
            .expect("requeue");
        assert!(db.store.checkpoint("b").await.expect("read").is_some());
        assert!(matches!(
            db.store.request_cancel("b", 4).await,
            Ok(CancelJob::Cancelled { .. })
        ));
        assert_eq!(db.store.checkpoint("b").await.expect("read"), None);

        // And with the job: the cascade.
        insert(&db.store, new_job("c", 0, 3)).await;
        let job = claim(&db.store).await.expect("claimed");
        let saved = CheckpointRecord {
            job_id: "c".into(),
            ..checkpoint(job.attempt, 1, 0, b"cp")
        };
        db.store.save_checkpoint(saved).await.expect("saved");
        sqlx::query("UPDATE jobs SET status = 'failed' WHERE id = 'c'")
            .execute(&db.store.pool)
            .await
            .expect("forced to an end");
        assert_eq!(
            db.store.delete_job("c").await.ok(),
            Some(DeleteJob::Deleted)
        );
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM checkpoints")
            .fetch_one(&db.store.pool)
            .await
            .expect("count");
        assert_eq!(left, 0);
    }
}
