//! [`SqliteStore`]: the default store, one file and zero setup.
//!
//! The pool runs in WAL mode (readers never wait for the writer) with a busy timeout and foreign
//! keys on. Every transaction that writes starts with `BEGIN IMMEDIATE`, which takes the write
//! lock up front: a plain `BEGIN` that reads and then writes can fail with `SQLITE_BUSY` no
//! matter the timeout. SQLite has one writer, so the claim (`UPDATE … WHERE id = (SELECT …)
//! RETURNING …`) is atomic without `SKIP LOCKED`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{
    CancelJob, CheckpointRecord, DatasetMeta, DatasetQuery, DatasetRecord, DeleteDataset,
    DeleteJob, EventKind, EventRow, Finish, HeldLease, ImportedModelRecord, InsertJob, JobQuery,
    JobRow, JobStatus, Lease, ModelRecord, NewEvent, NewJob, Store, StoreError, StoreFuture,
    claim_note, status_body, to_i64, to_u64,
};
use super::{
    CancelSweep, DeleteSweep, InsertSweep, NewSweep, SweepEntry, SweepJob, SweepQuery, SweepRow,
};
use super::{Idempotency, KeySeen};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const JOB_COLUMNS: &str = "id, name, status, priority, spec, resolved_spec, seed, \
    parameter_count, total_steps, epochs, created_at, started_at, finished_at, cancel_requested, \
    attempt, worker, progress, error, weights_sha256";

/// [`JOB_COLUMNS`] without the specs, for lists ([`Store::jobs`]).
const LISTED_JOB_COLUMNS: &str = "id, name, status, priority, '' AS spec, '' AS resolved_spec, \
    seed, parameter_count, total_steps, epochs, created_at, started_at, finished_at, \
    cancel_requested, attempt, worker, progress, error, weights_sha256";

const EVENT_COLUMNS: &str = "seq, job_id, kind, epoch, body, at";

const CHECKPOINT_COLUMNS: &str = "job_id, attempt, epoch, step, last_seq, data, created_at";

const DATASET_COLUMNS: &str = "id, name, rows, features, classes, label_column, meta, created_at";

const SWEEP_COLUMNS: &str = "id, name, base, grid, seed, created_at";

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
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

/// Looks `idempotency`'s key up in `table` (`jobs` or `sweeps`) inside the insert's
/// transaction.
async fn key_seen(
    conn: &mut SqliteConnection,
    table: &'static str,
    idempotency: Option<&Idempotency>,
) -> Result<KeySeen, StoreError> {
    let Some(idempotency) = idempotency else {
        return Ok(KeySeen::New);
    };
    let sql = format!("SELECT id, request_hash FROM {table} WHERE idempotency_key = $1");
    let seen = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&idempotency.key)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(seen) = seen else {
        return Ok(KeySeen::New);
    };
    let id: String = seen.try_get("id")?;
    let hash: Option<String> = seen.try_get("request_hash")?;
    Ok(
        if hash.as_deref() == Some(idempotency.request_hash.as_str()) {
            KeySeen::Same(id)
        } else {
            KeySeen::Different(id)
        },
    )
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
        match key_seen(&mut tx, "jobs", job.idempotency.as_ref()).await? {
            KeySeen::New => {}
            KeySeen::Same(id) => {
                let existing = fetch_job(&mut tx, &id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("job {id} vanished inside a transaction"))
                })?;
                return Ok(InsertJob::Replayed(existing));
            }
            KeySeen::Different(job_id) => {
                return Ok(InsertJob::KeyReused { job_id });
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
            "SELECT {LISTED_JOB_COLUMNS} FROM jobs \
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
        let note = claim_note(job.attempt);
        let event = append_status(
            &mut tx,
            &job.id,
            JobStatus::Running,
            note.as_deref(),
            None,
            now,
        )
        .await?;
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

    /// Whether `sql` (selecting by one id) finds a row.
    async fn exists(&self, sql: &'static str, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.is_some())
    }

    /// The `meta` column of the row `sql` selects by id.
    async fn meta(&self, sql: &'static str, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|row| row.try_get("meta")).transpose()?)
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

    async fn renew_leases_inner(&self, leases: &[Lease]) -> Result<Vec<HeldLease>, StoreError> {
        let mut held = Vec::with_capacity(leases.len());
        let mut conn = self.pool.acquire().await?;
        for lease in leases {
            let cancel: Option<i64> = sqlx::query_scalar(
                "SELECT cancel_requested FROM jobs \
                 WHERE id = $1 AND attempt = $2 AND status = 'running'",
            )
            .bind(&lease.job_id)
            .bind(lease.attempt)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(cancel) = cancel {
                held.push(HeldLease {
                    job_id: lease.job_id.clone(),
                    cancel_requested: cancel != 0,
                });
            }
        }
        Ok(held)
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
        match key_seen(&mut tx, "sweeps", sweep.idempotency.as_ref()).await? {
            KeySeen::New => {}
            KeySeen::Same(id) => {
                let row = fetch_sweep(&mut tx, &id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("sweep {id} vanished inside a transaction"))
                })?;
                let jobs = fetch_sweep_jobs(&mut tx, &id).await?;
                return Ok(InsertSweep::Replayed { sweep: row, jobs });
            }
            KeySeen::Different(sweep_id) => {
                return Ok(InsertSweep::KeyReused { sweep_id });
            }
        }
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
            "INSERT INTO sweeps (id, name, base, grid, seed, created_at, idempotency_key, \
             request_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&sweep.id)
        .bind(&sweep.name)
        .bind(&sweep.base)
        .bind(&sweep.grid)
        .bind(sweep.seed.to_string())
        .bind(sweep.created_at)
        .bind(sweep.idempotency.as_ref().map(|i| i.key.as_str()))
        .bind(sweep.idempotency.as_ref().map(|i| i.request_hash.as_str()))
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

    fn multi_node(&self) -> bool {
        false
    }

    fn renew_leases<'a>(
        &'a self,
        leases: &'a [Lease],
        _now: i64,
    ) -> StoreFuture<'a, Vec<HeldLease>> {
        Box::pin(self.renew_leases_inner(leases))
    }

    fn requeue_expired(&self, _now: i64) -> StoreFuture<'_, Vec<EventRow>> {
        // One process per file: what was running when it stopped is requeued at startup.
        Box::pin(async { Ok(Vec::new()) })
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

    fn has_model<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.exists("SELECT 1 FROM models WHERE job_id = $1", job_id))
    }

    fn model_meta<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(self.meta("SELECT meta FROM models WHERE job_id = $1", job_id))
    }

    fn insert_imported_model(&self, model: ImportedModelRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.insert_imported_model_inner(model))
    }

    fn imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ImportedModelRecord>> {
        Box::pin(self.imported_model_inner(id))
    }

    fn has_imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.exists("SELECT 1 FROM imported_models WHERE id = $1", id))
    }

    fn imported_model_meta<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(self.meta("SELECT meta FROM imported_models WHERE id = $1", id))
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
