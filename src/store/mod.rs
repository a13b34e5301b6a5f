//! Persistence behind one narrow trait, [`Store`]: jobs and their queue, the event log of each
//! job (status transitions, epoch records, step records, log lines), trained models, uploaded
//! datasets and idempotency keys. This is the only module that contains SQL.
//!
//! The store speaks in plain records — ids, numbers, JSON text and byte blobs — that the `jobs`
//! layer encodes and decodes; it knows nothing of tensors, specs or HTTP. Times are milliseconds
//! since the Unix epoch (UTC). The trait returns boxed futures so that callers hold an
//! `Arc<dyn Store>` whichever backend [`connect`] opened: [`SqliteStore`] (one process per file)
//! or [`PgStore`] (several nodes sharing one database, each running jobs under a renewed lease).
//! A running job's latest checkpoint is one row, replaced atomically; putting the job back in
//! the queue drops the records the checkpoint does not cover, so the next attempt continues
//! from it without duplicates.

pub mod postgres;
pub mod sqlite;
#[cfg(test)]
mod test_database;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What every store method returns.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Why the store could not answer. None of these is the caller's fault; the API answers 500
/// (logged, never sent) except for [`StoreError::Unavailable`], which `/readyz` reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// Where a job is in its life. `queued → running → succeeded | failed | cancelled`; a running
/// job may also go back to `queued` when the server stops under it. Terminal states are final
/// (the schema enforces it with a trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to insert, already validated.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub name: Option<String>,
    /// Higher runs first; equal priorities run in submission order.
    pub priority: i64,
    /// The spec as submitted, JSON text.
    pub spec: String,
    /// The spec with every default filled in, JSON text.
    pub resolved_spec: String,
    pub seed: u64,
    pub parameter_count: u64,
    pub total_steps: u64,
    pub epochs: u64,
    pub created_at: i64,
    /// Uploaded datasets the job reads; each must still exist when the job is inserted.
    pub datasets: Vec<String>,
    pub idempotency: Option<Idempotency>,
    /// Refuse the insert when this many jobs are already queued.
    pub max_queued: u64,
}

/// An `Idempotency-Key` and a digest of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// What an insert's `Idempotency-Key` found among the earlier rows of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySeen {
    /// No key, or a key not used before.
    New,
    /// The key came with the same request (digest) before: the id of what it created.
    Same(String),
    /// The key came with another request: the id of what that created.
    Different(String),
}

/// How an insert ended.
#[derive(Debug)]
pub enum InsertJob {
    /// Inserted, with its first history entry.
    Created { job: JobRow, event: EventRow },
    /// The idempotency key was seen before with the same request: the earlier job.
    Replayed(JobRow),
    /// The idempotency key was seen before with a different request.
    KeyReused { job_id: String },
    /// `max_queued` jobs are waiting already.
    QueueFull { queued: u64 },
    /// A dataset the job reads has been deleted meanwhile.
    DatasetMissing { dataset_id: String },
}

/// One stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: String,
    pub name: Option<String>,
    pub status: JobStatus,
    pub priority: i64,
    pub spec: String,
    pub resolved_spec: String,
    pub seed: u64,
    pub parameter_count: u64,
    pub total_steps: u64,
    pub epochs: u64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub cancel_requested: bool,
    /// How many times a worker has claimed the job; fences writes from an older attempt.
    pub attempt: i64,
    pub worker: Option<String>,
    /// JSON text written by the worker: progress, latest record, best epoch.
    pub progress: Option<String>,
    /// JSON text `{code, message, param}` of a failed job.
    pub error: Option<String>,
    pub weights_sha256: Option<String>,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub status: Option<JobStatus>,
    pub limit: u32,
    /// Only jobs strictly older than this `(created_at, id)`: the page cursor.
    pub before: Option<(i64, String)>,
}

/// The kinds of entries in a job's event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Status,
    Epoch,
    Step,
    Log,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Status => "status",
            EventKind::Epoch => "epoch",
            EventKind::Step => "step",
            EventKind::Log => "log",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        [
            EventKind::Status,
            EventKind::Epoch,
            EventKind::Step,
            EventKind::Log,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// An entry to append to a job's event log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    /// The epoch an `epoch` or `step` record belongs to.
    pub epoch: Option<u64>,
    /// JSON text.
    pub body: String,
    pub at: i64,
}

/// A stored event. `seq` increases with every event the store writes, across all jobs, so it
/// orders one job's events and serves as the SSE event id.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub job_id: String,
    pub kind: EventKind,
    pub epoch: Option<u64>,
    pub body: String,
    pub at: i64,
}

/// What the API's cancel found.
#[derive(Debug)]
pub enum CancelJob {
    /// A queued job was cancelled at once.
    Cancelled {
        job: JobRow,
        event: EventRow,
    },
    /// A running job was asked to stop; its worker writes the final status.
    Requested(JobRow),
    /// The job had finished already.
    Finished(JobRow),
    NotFound,
}

/// The end of one attempt at a running job.
#[derive(Debug, Clone)]
pub struct Finish {
    pub job_id: String,
    pub attempt: i64,
    /// `Succeeded`, `Failed` or `Cancelled`.
    pub status: JobStatus,
    /// JSON text `{code, message, param}`.
    pub error: Option<String>,
    /// JSON text of the final progress.
    pub progress: Option<String>,
    /// Records still to append before the final status.
    pub events: Vec<NewEvent>,
    pub model: Option<ModelRecord>,
    pub at: i64,
}

/// A trained model as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    /// JSON text describing the model (architecture, tensors, standardization, classes).
    pub meta: String,
    /// The parameter tensors' values as little-endian f32, in the order `meta` lists them.
    pub weights: Vec<u8>,
    pub weights_sha256: String,
    pub created_at: i64,
}

/// A model imported with `POST /v1/models`, stored as a job's model is.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModelRecord {
    pub id: String,
    pub parameter_count: u64,
    pub input_width: u64,
    /// Description and weights in the same form as a job's model; `created_at` is the import.
    pub model: ModelRecord,
}

/// What a job delete found.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteJob {
    Deleted,
    Active(JobStatus),
    NotFound,
}

/// The latest checkpoint of a running job: the engine's state at an optimizer-step boundary,
/// opaque bytes to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointRecord {
    pub job_id: String,
    /// The attempt that wrote it; a save from an attempt that no longer owns the job is refused.
    pub attempt: i64,
    /// Completed epochs.
    pub epoch: u64,
    /// Optimizer steps taken.
    pub step: u64,
    /// The `seq` of the job's last epoch/step event that the checkpoint covers (0 when none).
    pub last_seq: i64,
    pub data: Vec<u8>,
    pub created_at: i64,
}

/// An uploaded dataset's description (without its matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetMeta {
    pub id: String,
    pub name: String,
    pub rows: u64,
    pub features: u64,
    /// `None` for a regression target.
    pub classes: Option<u64>,
    pub label_column: String,
    /// JSON text: feature names, class names, target kind.
    pub meta: String,
    pub created_at: i64,
}

/// An uploaded dataset with its matrix bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRecord {
    pub meta: DatasetMeta,
    pub matrix: Vec<u8>,
}

/// Which datasets to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DatasetQuery {
    pub limit: u32,
    pub before: Option<(i64, String)>,
}

/// What a dataset delete found.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteDataset {
    Deleted,
    /// Queued or running jobs read it.
    InUse {
        job_ids: Vec<String>,
    },
    NotFound,
}

/// A sweep to insert with its jobs, every job already validated. The sweep and all its jobs
/// are inserted in one transaction, or nothing is.
#[derive(Debug, Clone)]
pub struct NewSweep {
    pub id: String,
    pub name: Option<String>,
    /// The base spec as submitted, JSON text.
    pub base: String,
    /// The grid as submitted, JSON text.
    pub grid: String,
    pub seed: u64,
    pub created_at: i64,
    /// The request's `Idempotency-Key` and digest: a second insert with the same key replays
    /// the first sweep (same digest) or is refused (another digest).
    pub idempotency: Option<Idempotency>,
    /// The jobs in sweep order, each with the JSON text of its overrides (`{grid key: value}`).
    /// Their `idempotency` is ignored.
    pub jobs: Vec<(NewJob, String)>,
    /// Refuse the insert when fewer than `jobs.len()` places are left below this many queued
    /// jobs.
    pub max_queued: u64,
}

/// A stored sweep (without its jobs).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub id: String,
    pub name: Option<String>,
    pub base: String,
    pub grid: String,
    pub seed: u64,
    pub created_at: i64,
}

/// One job of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepJob {
    /// 0-based place in the sweep's order.
    pub position: u64,
    /// JSON text `{grid key: value}`.
    pub overrides: String,
    pub job: JobRow,
}

/// How a sweep insert ended.
#[derive(Debug)]
pub enum InsertSweep {
    /// Inserted; `events` are the jobs' first history entries.
    Created {
        sweep: SweepRow,
        jobs: Vec<SweepJob>,
        events: Vec<EventRow>,
    },
    /// The key came with the same request before: that sweep, as it is now.
    Replayed {
        sweep: SweepRow,
        jobs: Vec<SweepJob>,
    },
    /// The key came with a different request before.
    KeyReused { sweep_id: String },
    /// Not enough room in the queue for every job.
    QueueFull { queued: u64 },
    /// A dataset a job reads has been deleted meanwhile.
    DatasetMissing { dataset_id: String },
}

/// Which sweeps to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct SweepQuery {
    pub limit: u32,
    pub before: Option<(i64, String)>,
}

/// A sweep as lists show it: the row and how many of its jobs are in each status (statuses
/// without jobs are left out).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepEntry {
    pub sweep: SweepRow,
    pub counts: Vec<(JobStatus, u64)>,
}

/// What a sweep cancel did.
#[derive(Debug)]
pub enum CancelSweep {
    /// `cancelled`: the status events of the queued jobs cancelled at once; `running`: the ids
    /// of running jobs asked to stop (their workers write the final status). Both empty when
    /// every job had finished already.
    Done {
        cancelled: Vec<EventRow>,
        running: Vec<String>,
    },
    NotFound,
}

/// What a sweep delete found.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteSweep {
    /// Deleted with these jobs.
    Deleted {
        job_ids: Vec<String>,
    },
    /// These jobs are queued or running; nothing was deleted.
    Active {
        job_ids: Vec<String>,
    },
    NotFound,
}

/// One attempt a node is running, as its heartbeat names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: String,
    pub attempt: i64,
}

/// A lease the heartbeat renewed: the attempt still owns its running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    pub job_id: String,
    /// A user asked to cancel the job (on any node): its worker should stop it.
    pub cancel_requested: bool,
}

/// How a store is opened: settings that are not part of the database URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a claim or a heartbeat keeps a running job for its node (PostgreSQL). A job
    /// whose lease ran out is taken over by the next node that looks.
    pub lease: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            lease: Duration::from_secs(15),
        }
    }
}

/// The persistence the rest of trainyard uses. Every write that changes a job's status appends
/// the matching `status` event in the same transaction, so the event log is the job's history.
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers.
    fn ping(&self) -> StoreFuture<'_, ()>;

    fn insert_job(&self, job: NewJob) -> StoreFuture<'_, InsertJob>;
    fn job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<JobRow>>;
    /// A page of jobs, newest first. The rows come without their specs (`spec` and
    /// `resolved_spec` are empty): lists never show them, and each may be a megabyte.
    fn jobs(&self, query: JobQuery) -> StoreFuture<'_, Vec<JobRow>>;
    /// 1 for the next job to run; `None` unless the job is queued.
    fn queue_position<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<u64>>;
    fn count_queued(&self) -> StoreFuture<'_, u64>;
    /// How many jobs are in each status (statuses without jobs are left out).
    fn count_jobs_by_status(&self) -> StoreFuture<'_, Vec<(JobStatus, u64)>>;

    /// Atomically moves the first queued job (highest priority, then oldest) to `running`,
    /// with a fresh attempt number (and, on a multi-node store, a lease).
    fn claim_job<'a>(
        &'a self,
        worker: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<(JobRow, EventRow)>>;
    fn request_cancel<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, CancelJob>;
    /// Appends records of a running attempt and updates its progress; nothing is written (and
    /// nothing returned) when the attempt no longer owns the job.
    fn record<'a>(
        &'a self,
        job_id: &'a str,
        attempt: i64,
        events: Vec<NewEvent>,
        progress: Option<String>,
    ) -> StoreFuture<'a, Vec<EventRow>>;
    /// Ends a running attempt and deletes its checkpoint; returns the appended events, the
    /// final status last. Empty when the attempt no longer owns the job.
    fn finish_job(&self, finish: Finish) -> StoreFuture<'_, Vec<EventRow>>;
    /// Puts a running attempt back in the queue (server shutdown). Its `epoch` and `step`
    /// events after its checkpoint's `last_seq` are deleted (all of them without a
    /// checkpoint), since the next attempt continues from the checkpoint; status and log
    /// events stay.
    fn requeue_job<'a>(
        &'a self,
        job_id: &'a str,
        attempt: i64,
        note: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<EventRow>>;
    /// Puts every running job back in the queue (startup after a crash), dropping records after
    /// each one's checkpoint as [`Store::requeue_job`] does.
    fn requeue_running<'a>(&'a self, note: &'a str, now: i64) -> StoreFuture<'a, Vec<EventRow>>;
    /// Whether several processes may run jobs from this database at once. When they may, a
    /// running job belongs to its attempt only while its lease lasts: startup must not requeue
    /// running jobs (they may be another node's), [`Store::requeue_expired`] takes over the
    /// jobs of nodes that stopped renewing.
    fn multi_node(&self) -> bool;
    /// Renews the leases of the running attempts `leases` names and returns those that still
    /// own their job; an attempt left out has lost it (requeued, taken over, or finished).
    fn renew_leases<'a>(&'a self, leases: &'a [Lease], now: i64)
    -> StoreFuture<'a, Vec<HeldLease>>;
    /// Puts running jobs whose lease ran out before `now` back in the queue (or ends them as
    /// `cancelled` when a cancel was asked for), with a status event naming the expired
    /// attempt. Always empty for a single-process store.
    fn requeue_expired(&self, now: i64) -> StoreFuture<'_, Vec<EventRow>>;
    fn delete_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteJob>;

    /// Replaces the job's checkpoint in one transaction; `false` (nothing written) when the
    /// attempt no longer owns the job (it is not running, or its attempt number moved on).
    fn save_checkpoint(&self, checkpoint: CheckpointRecord) -> StoreFuture<'_, bool>;
    /// The job's latest checkpoint.
    fn checkpoint<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<CheckpointRecord>>;

    /// Events of a job with `seq > after`, oldest first.
    fn events<'a>(
        &'a self,
        job_id: &'a str,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRow>>;
    /// Epoch records with `epoch > since`, oldest first.
    fn epochs<'a>(
        &'a self,
        job_id: &'a str,
        since: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRow>>;
    /// The job's status events, oldest first.
    fn history<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Vec<EventRow>>;

    fn model<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<ModelRecord>>;
    /// Whether the job's model is stored, without reading it.
    fn has_model<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, bool>;
    /// The description (`meta`) of the job's model, without its weights.
    fn model_meta<'a>(&'a self, job_id: &'a str) -> StoreFuture<'a, Option<String>>;

    fn insert_imported_model(&self, model: ImportedModelRecord) -> StoreFuture<'_, ()>;
    fn imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ImportedModelRecord>>;
    /// Whether the imported model is stored, without reading it.
    fn has_imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
    /// The description of an imported model, without its weights.
    fn imported_model_meta<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>>;
    /// `true` when the model existed.
    fn delete_imported_model<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    fn insert_dataset(&self, dataset: DatasetRecord) -> StoreFuture<'_, ()>;
    fn datasets(&self, query: DatasetQuery) -> StoreFuture<'_, Vec<DatasetMeta>>;
    fn dataset<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<DatasetMeta>>;
    fn dataset_matrix<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<DatasetRecord>>;
    fn delete_dataset<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteDataset>;

    /// Inserts a sweep and all its jobs (with their `queued` events) atomically.
    fn insert_sweep(&self, sweep: NewSweep) -> StoreFuture<'_, InsertSweep>;
    /// A sweep with its remaining jobs in sweep order.
    fn sweep<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(SweepRow, Vec<SweepJob>)>>;
    /// Sweeps newest first, with their jobs counted by status.
    fn sweeps(&self, query: SweepQuery) -> StoreFuture<'_, Vec<SweepEntry>>;
    /// In one transaction: cancels the sweep's queued jobs (each with its `status` event) and
    /// flags its running ones for cancellation.
    fn cancel_sweep<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, CancelSweep>;
    /// Deletes a sweep and its jobs (events, models) when none is queued or running.
    fn delete_sweep<'a>(&'a self, id: &'a str) -> StoreFuture<'a, DeleteSweep>;
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(database_url, &StoreOptions::default()).await
}

/// [`connect`] with options: `sqlite://PATH` (created if missing) or `postgres://…` (the
/// database must exist; its tables are created by the migrations).
pub async fn connect_with(
    database_url: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Ok(Arc::new(
            PgStore::connect(database_url, options.lease).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(database_url.to_owned()))
    }
}

/// The body of a `status` event: what the job became, and why when it is not obvious.
fn status_body(status: JobStatus, note: Option<&str>, error: Option<&str>) -> String {
    let error: serde_json::Value = error
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null);
    serde_json::json!({"status": status.as_str(), "note": note, "error": error}).to_string()
}

/// The note of the `running` event of a claim: set when an earlier attempt did not finish.
fn claim_note(attempt: i64) -> Option<String> {
    (attempt > 1).then(|| format!("attempt {attempt}: resumed after an earlier attempt stopped"))
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} exceeds i64")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}
