//! [`PgStore`]: PostgreSQL, for several nodes sharing one database.
//!
//! The schema is migrations/sqlite's in PostgreSQL's dialect (migrations/postgres). What differs
//! from SQLite is concurrency:
//!
//! - **Claims** pick the next queued job with `FOR UPDATE SKIP LOCKED`, so concurrent claimers on
//!   any number of nodes never wait on each other and never take the same job.
//! - **Leases.** A claim sets `lease_expires_at = now + lease`; the node's heartbeat
//!   ([`Store::renew_leases`]) pushes it forward for all of its running attempts in one
//!   `UPDATE`. [`Store::requeue_expired`] puts jobs whose lease ran out back in the queue with a
//!   new status event, and the next claim runs them as a new attempt.
//! - **Fencing.** Every write of a running attempt (records, finish, checkpoint, requeue) first
//!   locks the job row with `SELECT … FOR UPDATE` and checks that the job is still `running`
//!   under that attempt number; an attempt that lost its lease therefore writes nothing.
//! - **Event order.** `job_events.seq` comes from an identity column. Every transaction that
//!   appends events of a job holds that job's row lock (taken by the fencing check, by the
//!   claim's `UPDATE`, or by inserting the row), so one job's events commit in `seq` order and
//!   a reader that polls for `seq > last` misses none of them.
//! - **Early returns** roll their transaction back before answering: dropping a transaction
//!   only queues its rollback, and until the connection sends it the row locks it took would
//!   make a claim's `SKIP LOCKED` pass over the job.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use super::{
    CancelJob, CancelSweep, CheckpointRecord, DatasetMeta, DatasetQuery, DatasetRecord,
    DeleteDataset, DeleteJob, DeleteSweep, EventKind, EventRow, Finish, HeldLease,
    ImportedModelRecord, InsertJob, InsertSweep, JobQuery, JobRow, JobStatus, Lease, ModelRecord,
    NewEvent, NewJob, NewSweep, Store, StoreError, StoreFuture, SweepEntry, SweepJob, SweepQuery,
    SweepRow, claim_note, status_body, to_i64, to_u64,
};
use super::{Idempotency, KeySeen};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

const JOB_COLUMNS: &str = "id, name, status, priority, spec, resolved_spec, seed, \
    parameter_count, total_steps, epochs, created_at, started_at, finished_at, cancel_requested, \
    attempt, worker, progress, error, weights_sha256";

/// [`JOB_COLUMNS`] without the specs, for lists ([`Store::jobs`]).
const LISTED_JOB_COLUMNS: &str = "id, name, status, priority, '' AS spec, '' AS resolved_spec, \
    seed, parameter_count, total_steps, epochs, created_at, started_at, finished_at, \
    cancel_requested, attempt, worker, progress, error, weights_sha256";

const EVENT_COLUMNS: &str = "seq, job_id, kind, epoch, body, at";

const DATASET_COLUMNS: &str = "id, name, rows, features, classes, label_column, meta, created_at";

const SWEEP_COLUMNS: &str = "id, name, base, grid, seed, created_at";

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    /// How long a claim or a renewal keeps a job, in milliseconds.
    lease_ms: i64,
}

impl PgStore {
    /// Connects to the existing database at `url` (`postgres://…`) and migrates it. Nodes that
    /// start together are safe: the migrator holds an advisory lock while it runs.
    pub async fn connect(url: &str, lease: Duration) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?, lease).await
    }

    /// [`PgStore::connect`] with parsed connection options.
    pub async fn connect_with(
        options: PgConnectOptions,
        lease: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        Ok(PgStore { pool, lease_ms })
    }

    /// Closes the pool's connections (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn lease_until(&self, now: i64) -> i64 {
        now.saturating_add(self.lease_ms)
    }
}

fn job_from_row(row: &PgRow) -> Result<JobRow, StoreError> {
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
        cancel_requested: row.try_get("cancel_requested")?,
        attempt: row.try_get("attempt")?,
        worker: row.try_get("worker")?,
        progress: row.try_get("progress")?,
        error: row.try_get("error")?,
        weights_sha256: row.try_get("weights_sha256")?,
    })
}

fn event_from_row(row: &PgRow) -> Result<EventRow, StoreError> {
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

fn dataset_from_row(row: &PgRow) -> Result<DatasetMeta, StoreError> {
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
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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

async fn fetch_job(conn: &mut PgConnection, id: &str) -> Result<Option<JobRow>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// The job row, locked until the transaction ends.
async fn lock_job(conn: &mut PgConnection, id: &str) -> Result<Option<JobRow>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// Whether `attempt` still owns the running job `job_id`; locks the row when it does, so the
/// answer holds until the transaction ends.
async fn owns(conn: &mut PgConnection, job_id: &str, attempt: i64) -> Result<bool, StoreError> {
    let owned = sqlx::query(
        "SELECT 1 FROM jobs WHERE id = $1 AND attempt = $2 AND status = 'running' FOR UPDATE",
    )
    .bind(job_id)
    .bind(attempt)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(owned.is_some())
}

/// Puts one running job (its row locked) back in the queue inside `conn`'s transaction,
/// dropping the epoch and step records its checkpoint does not cover.
async fn requeue_in(
    conn: &mut PgConnection,
    job_id: &str,
    note: &str,
    now: i64,
) -> Result<EventRow, StoreError> {
    sqlx::query(
        "UPDATE jobs SET status = 'queued', started_at = NULL, worker = NULL, progress = NULL, \
           lease_expires_at = NULL WHERE id = $1",
    )
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM job_events WHERE job_id = $1 AND kind IN ('epoch', 'step') \
         AND seq > COALESCE((SELECT last_seq FROM checkpoints WHERE job_id = $1), 0)",
    )
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    append_status(conn, job_id, JobStatus::Queued, Some(note), None, now).await
}

/// Ends a job as `cancelled` inside `conn`'s transaction (its row locked).
async fn cancel_in(
    conn: &mut PgConnection,
    job_id: &str,
    note: &str,
    now: i64,
) -> Result<EventRow, StoreError> {
    sqlx::query(
        "UPDATE jobs SET status = 'cancelled', finished_at = $1, cancel_requested = TRUE, \
           lease_expires_at = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM checkpoints WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    append_status(conn, job_id, JobStatus::Cancelled, Some(note), None, now).await
}

/// Looks `idempotency`'s key up in `table` (`jobs` or `sweeps`) inside the insert's
/// transaction.
async fn key_seen(
    conn: &mut PgConnection,
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
async fn insert_job_row(conn: &mut PgConnection, job: &NewJob) -> Result<EventRow, StoreError> {
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
        sqlx::query(
            "INSERT INTO job_datasets (job_id, dataset_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&job.id)
        .bind(dataset_id)
        .execute(&mut *conn)
        .await?;
    }
    append_status(conn, &job.id, JobStatus::Queued, None, None, job.created_at).await
}

impl PgStore {
    async fn insert_job_inner(&self, job: NewJob) -> Result<InsertJob, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serializes inserts, so the queue bound and an idempotency key's first use hold
        // across nodes; claims and reads do not take this lock.
        sqlx::query("SELECT pg_advisory_xact_lock(7242001)")
            .execute(&mut *tx)
            .await?;
        match key_seen(&mut tx, "jobs", job.idempotency.as_ref()).await? {
            KeySeen::New => {}
            KeySeen::Same(id) => {
                let existing = fetch_job(&mut tx, &id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("job {id} vanished inside a transaction"))
                })?;
                tx.rollback().await?;
                return Ok(InsertJob::Replayed(existing));
            }
            KeySeen::Different(job_id) => {
                tx.rollback().await?;
                return Ok(InsertJob::KeyReused { job_id });
            }
        }
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&mut *tx)
            .await?;
        let queued = to_u64(queued, "queued count")?;
        if queued >= job.max_queued {
            tx.rollback().await?;
            return Ok(InsertJob::QueueFull { queued });
        }
        for dataset_id in &job.datasets {
            // A share lock: a concurrent delete of the dataset waits for this insert.
            let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1 FOR SHARE")
                .bind(dataset_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                tx.rollback().await?;
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
             WHERE ($1::text IS NULL OR status = $1) \
               AND ($2::bigint IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
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
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE jobs SET status = 'running', started_at = $1, worker = $2, \
               attempt = attempt + 1, progress = NULL, lease_expires_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' \
                         ORDER BY priority DESC, created_at, id LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(worker)
            .bind(self.lease_until(now))
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
        let mut tx = self.pool.begin().await?;
        let Some(job) = lock_job(&mut tx, id).await? else {
            return Ok(CancelJob::NotFound);
        };
        match job.status {
            JobStatus::Queued => {
                let event = cancel_in(&mut tx, id, "cancelled before it started", now).await?;
                let job = fetch_job(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished")))?;
                tx.commit().await?;
                Ok(CancelJob::Cancelled { job, event })
            }
            JobStatus::Running => {
                sqlx::query("UPDATE jobs SET cancel_requested = TRUE WHERE id = $1")
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
                tx.rollback().await?;
                Ok(CancelJob::Finished(job))
            }
        }
    }

    async fn record_inner(
        &self,
        job_id: &str,
        attempt: i64,
        events: Vec<NewEvent>,
        progress: Option<String>,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !owns(&mut tx, job_id, attempt).await? {
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
        let mut tx = self.pool.begin().await?;
        if !owns(&mut tx, &finish.job_id, finish.attempt).await? {
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
               progress = COALESCE($4, progress), weights_sha256 = $5, lease_expires_at = NULL \
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
        sqlx::query("DELETE FROM checkpoints WHERE job_id = $1")
            .bind(&finish.job_id)
            .execute(&mut *tx)
            .await?;
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

    async fn requeue_job_inner(
        &self,
        job_id: &str,
        attempt: i64,
        note: &str,
        now: i64,
    ) -> Result<Option<EventRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !owns(&mut tx, job_id, attempt).await? {
            return Ok(None);
        }
        let event = requeue_in(&mut tx, job_id, note, now).await?;
        tx.commit().await?;
        Ok(Some(event))
    }

    async fn requeue_running_inner(
        &self,
        note: &str,
        now: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE status = 'running' ORDER BY id FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in &ids {
            events.push(requeue_in(&mut tx, id, note, now).await?);
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn renew_leases_inner(
        &self,
        leases: &[Lease],
        now: i64,
    ) -> Result<Vec<HeldLease>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = leases.iter().map(|l| l.job_id.clone()).collect();
        let attempts: Vec<i64> = leases.iter().map(|l| l.attempt).collect();
        let rows = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 \
             FROM UNNEST($2::text[], $3::bigint[]) AS held (id, attempt) \
             WHERE jobs.id = held.id AND jobs.attempt = held.attempt \
               AND jobs.status = 'running' \
             RETURNING jobs.id, jobs.cancel_requested",
        )
        .bind(self.lease_until(now))
        .bind(ids)
        .bind(attempts)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HeldLease {
                    job_id: row.try_get("id")?,
                    cancel_requested: row.try_get("cancel_requested")?,
                })
            })
            .collect()
    }

    async fn requeue_expired_inner(&self, now: i64) -> Result<Vec<EventRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Rows another node is writing right now are skipped: their lease is being renewed or
        // they are being taken over already.
        let expired = sqlx::query(
            "SELECT id, attempt, worker, cancel_requested FROM jobs \
             WHERE status = 'running' AND lease_expires_at < $1 \
             ORDER BY id FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(expired.len());
        for row in &expired {
            let id: String = row.try_get("id")?;
            let attempt: i64 = row.try_get("attempt")?;
            let worker: Option<String> = row.try_get("worker")?;
            let cancel: bool = row.try_get("cancel_requested")?;
            let worker = worker.unwrap_or_else(|| "an unknown worker".to_owned());
            let event = if cancel {
                let note = format!(
                    "cancelled: the lease of attempt {attempt} on {worker} expired before it \
                     could stop"
                );
                cancel_in(&mut tx, &id, &note, now).await?
            } else {
                let note = format!(
                    "requeued: the lease of attempt {attempt} on {worker} expired; the job \
                     resumes on the next node that claims it"
                );
                requeue_in(&mut tx, &id, &note, now).await?
            };
            events.push(event);
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn delete_job_inner(&self, id: &str) -> Result<DeleteJob, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(job) = lock_job(&mut tx, id).await? else {
            return Ok(DeleteJob::NotFound);
        };
        if !job.status.is_terminal() {
            tx.rollback().await?;
            return Ok(DeleteJob::Active(job.status));
        }
        // The cascade removes events, the model, the checkpoint and dataset links.
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteJob::Deleted)
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
            Ok(ImportedModelRecord {
                id: row.try_get("id")?,
                parameter_count: to_u64(row.try_get("parameter_count")?, "parameter_count")?,
                input_width: to_u64(row.try_get("input_width")?, "input_width")?,
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
             WHERE ($1::bigint IS NULL OR created_at < $1 OR (created_at = $1 AND id < $2)) \
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
        let mut tx = self.pool.begin().await?;
        // Waits for inserts of jobs that read the dataset (they hold a share lock on it).
        let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1 FOR UPDATE")
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
            tx.rollback().await?;
            return Ok(DeleteDataset::InUse { job_ids });
        }
        sqlx::query("DELETE FROM datasets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteDataset::Deleted)
    }

    async fn save_checkpoint_inner(
        &self,
        checkpoint: CheckpointRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !owns(&mut tx, &checkpoint.job_id, checkpoint.attempt).await? {
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
        .bind(to_i64(checkpoint.epoch, "epoch")?)
        .bind(to_i64(checkpoint.step, "step")?)
        .bind(checkpoint.last_seq)
        .bind(&checkpoint.data)
        .bind(checkpoint.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn checkpoint_inner(&self, job_id: &str) -> Result<Option<CheckpointRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT job_id, attempt, epoch, step, last_seq, data, created_at \
             FROM checkpoints WHERE job_id = $1",
        )
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(CheckpointRecord {
                job_id: row.try_get("job_id")?,
                attempt: row.try_get("attempt")?,
                epoch: to_u64(row.try_get("epoch")?, "epoch")?,
                step: to_u64(row.try_get("step")?, "step")?,
                last_seq: row.try_get("last_seq")?,
                data: row.try_get("data")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }
}

fn sweep_from_row(row: &PgRow) -> Result<SweepRow, StoreError> {
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

/// The sweep row; `FOR UPDATE` locks it until the transaction ends, so that a cancel and a
/// delete of one sweep take turns.
async fn fetch_sweep(
    conn: &mut PgConnection,
    id: &str,
    lock: bool,
) -> Result<Option<SweepRow>, StoreError> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE id = $1{suffix}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(sweep_from_row).transpose()
}

/// The jobs of a sweep in sweep order, with their overrides.
async fn fetch_sweep_jobs(
    conn: &mut PgConnection,
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

/// The ids and statuses of a sweep's jobs in sweep order, every job row locked until the
/// transaction ends (always in sweep order, so two sweep transactions cannot deadlock).
async fn lock_sweep_jobs(
    conn: &mut PgConnection,
    sweep_id: &str,
) -> Result<Vec<(String, JobStatus)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT jobs.id, jobs.status FROM sweep_jobs JOIN jobs ON jobs.id = sweep_jobs.job_id \
         WHERE sweep_jobs.sweep_id = $1 ORDER BY sweep_jobs.position FOR UPDATE OF jobs",
    )
    .bind(sweep_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, status)| {
            let status = JobStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown job status {status:?}")))?;
            Ok((id, status))
        })
        .collect()
}

impl PgStore {
    async fn insert_sweep_inner(&self, sweep: NewSweep) -> Result<InsertSweep, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The same lock as a job insert: the queue bound holds across nodes.
        sqlx::query("SELECT pg_advisory_xact_lock(7242001)")
            .execute(&mut *tx)
            .await?;
        match key_seen(&mut tx, "sweeps", sweep.idempotency.as_ref()).await? {
            KeySeen::New => {}
            KeySeen::Same(id) => {
                let row = fetch_sweep(&mut tx, &id, false).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("sweep {id} vanished inside a transaction"))
                })?;
                let jobs = fetch_sweep_jobs(&mut tx, &id).await?;
                tx.rollback().await?;
                return Ok(InsertSweep::Replayed { sweep: row, jobs });
            }
            KeySeen::Different(sweep_id) => {
                tx.rollback().await?;
                return Ok(InsertSweep::KeyReused { sweep_id });
            }
        }
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&mut *tx)
            .await?;
        let queued = to_u64(queued, "queued count")?;
        if queued.saturating_add(sweep.jobs.len() as u64) > sweep.max_queued {
            tx.rollback().await?;
            return Ok(InsertSweep::QueueFull { queued });
        }
        let mut datasets: Vec<&String> = sweep.jobs.iter().flat_map(|(j, _)| &j.datasets).collect();
        datasets.sort();
        datasets.dedup();
        for dataset_id in datasets {
            // A share lock: a concurrent delete of the dataset waits for this insert.
            let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1 FOR SHARE")
                .bind(dataset_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                tx.rollback().await?;
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
        let row = fetch_sweep(&mut tx, &sweep.id, false)
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
        // One repeatable-read transaction, so that the sweep and its jobs are one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let Some(sweep) = fetch_sweep(&mut tx, id, false).await? else {
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
             WHERE ($1::bigint IS NULL OR created_at < $1 OR (created_at = $1 AND id < $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3";
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
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
        let mut tx = self.pool.begin().await?;
        if fetch_sweep(&mut tx, id, true).await?.is_none() {
            return Ok(CancelSweep::NotFound);
        }
        let jobs = lock_sweep_jobs(&mut tx, id).await?;
        let mut cancelled = Vec::new();
        let mut running = Vec::new();
        for (job_id, status) in jobs {
            match status {
                JobStatus::Queued => cancelled.push(
                    cancel_in(
                        &mut tx,
                        &job_id,
                        "cancelled with its sweep before it started",
                        now,
                    )
                    .await?,
                ),
                JobStatus::Running => {
                    sqlx::query("UPDATE jobs SET cancel_requested = TRUE WHERE id = $1")
                        .bind(&job_id)
                        .execute(&mut *tx)
                        .await?;
                    running.push(job_id);
                }
                JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => {}
            }
        }
        tx.commit().await?;
        Ok(CancelSweep::Done { cancelled, running })
    }

    async fn delete_sweep_inner(&self, id: &str) -> Result<DeleteSweep, StoreError> {
        let mut tx = self.pool.begin().await?;
        if fetch_sweep(&mut tx, id, true).await?.is_none() {
            return Ok(DeleteSweep::NotFound);
        }
        let jobs = lock_sweep_jobs(&mut tx, id).await?;
        let active: Vec<String> = jobs
            .iter()
            .filter(|(_, status)| !status.is_terminal())
            .map(|(id, _)| id.clone())
            .collect();
        if !active.is_empty() {
            tx.rollback().await?;
            return Ok(DeleteSweep::Active { job_ids: active });
        }
        let job_ids: Vec<String> = jobs.into_iter().map(|(id, _)| id).collect();
        // The cascade removes each job's events, model, checkpoint, dataset links and sweep
        // membership.
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

impl Store for PgStore {
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            conn.ping()
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
        true
    }

    fn renew_leases<'a>(
        &'a self,
        leases: &'a [Lease],
        now: i64,
    ) -> StoreFuture<'a, Vec<HeldLease>> {
        Box::pin(self.renew_leases_inner(leases, now))
    }

    fn requeue_expired(&self, now: i64) -> StoreFuture<'_, Vec<EventRow>> {
        Box::pin(self.requeue_expired_inner(now))
    }

    fn delete_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteJob> {
        Box::pin(self.delete_job_inner(id))
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

    fn save_checkpoint(&self, checkpoint: CheckpointRecord) -> StoreFuture<'_, bool> {
        Box::pin(self.save_checkpoint_inner(checkpoint))
    }

    fn checkpoint<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<CheckpointRecord>> {
        Box::pin(self.checkpoint_inner(job_id))
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
