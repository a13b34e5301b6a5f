//! [`JobQueue`]: the job lifecycle as the API sees it — submit, read, list, cancel, delete,
//! metrics, events, models — over the [`Store`]. It wakes the worker pool through the
//! [`Doorbell`] and stops running jobs through their [`RunControl`]; it never trains.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Limits;
use crate::store::{
    CancelJob, DeleteJob, EventRow, JobQuery, JobRow, JobStatus, ModelRecord, Store,
};

use super::JobsError;
use super::events::{self, EventHub};
use super::worker::{Doorbell, RunningJobs, StopReason};

/// How long a cancel of a running job waits for the worker to stop, so that the answer usually
/// shows `cancelled` already. Training checks its cancel flag every step.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One job with what its page shows besides the row.
#[derive(Debug, Clone)]
pub struct JobDetails {
    pub job: JobRow,
    /// Status events, oldest first.
    pub history: Vec<EventRow>,
    /// 1 = next to run; `None` unless queued.
    pub queue_position: Option<u64>,
}

/// The job service shared by every handler and the worker pool.
pub struct JobQueue {
    pub(super) store: Arc<dyn Store>,
    pub(super) hub: Arc<EventHub>,
    pub(super) doorbell: Arc<Doorbell>,
    pub(super) running: Arc<RunningJobs>,
    pub(super) limits: Limits,
}

impl JobQueue {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        JobQueue {
            store,
            hub: Arc::new(EventHub::new()),
            doorbell: Arc::new(Doorbell::new()),
            running: Arc::new(RunningJobs::default()),
            limits,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.doorbell
    }

    pub fn running(&self) -> &Arc<RunningJobs> {
        &self.running
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), JobsError> {
        Ok(self.store.ping().await?)
    }

    /// Puts jobs that were running when the server last stopped back in the queue. Called once
    /// at startup, before the workers start; returns how many were requeued.
    pub async fn recover(&self) -> Result<usize, JobsError> {
        let events = self
            .store
            .requeue_running(
                "requeued: the server stopped while the job was running",
                now_ms(),
            )
            .await?;
        self.hub.publish(&events);
        Ok(events.len())
    }

    async fn existing(&self, id: &str) -> Result<JobRow, JobsError> {
        self.store
            .job(id)
            .await?
            .ok_or_else(|| JobsError::JobNotFound(id.to_owned()))
    }

    pub async fn get(&self, id: &str) -> Result<JobDetails, JobsError> {
        let job = self.existing(id).await?;
        let history = self.store.history(id).await?;
        let queue_position = match job.status {
            JobStatus::Queued => self.store.queue_position(id).await?,
            _ => None,
        };
        Ok(JobDetails {
            job,
            history,
            queue_position,
        })
    }

    /// Jobs newest first; `before` is the `(created_at, id)` of the last job of the previous
    /// page. Returns the page and the key of its last job when more may follow.
    pub async fn list(
        &self,
        status: Option<JobStatus>,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<(Vec<JobRow>, Option<(i64, String)>), JobsError> {
        let mut jobs = self
            .store
            .jobs(JobQuery {
                status,
                limit: limit.saturating_add(1),
                before,
            })
            .await?;
        let more = jobs.len() > limit as usize;
        jobs.truncate(limit as usize);
        let next = if more {
            jobs.last().map(|j| (j.created_at, j.id.clone()))
        } else {
            None
        };
        Ok((jobs, next))
    }

    /// Cancels a queued job at once, or stops a running one (within one training step) and
    /// waits briefly for it to end. A finished job cannot be cancelled.
    pub async fn cancel(&self, id: &str) -> Result<JobRow, JobsError> {
        match self.store.request_cancel(id, now_ms()).await? {
            CancelJob::Cancelled { job, event } => {
                self.hub.publish(&[event]);
                Ok(job)
            }
            CancelJob::Requested(job) => {
                self.running.stop(id, StopReason::Cancelled);
                let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
                let mut current = job;
                while !current.status.is_terminal() && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    current = self.existing(id).await?;
                }
                Ok(current)
            }
            CancelJob::Finished(job) => Err(JobsError::JobFinished {
                id: job.id,
                status: job.status,
            }),
            CancelJob::NotFound => Err(JobsError::JobNotFound(id.to_owned())),
        }
    }

    /// Deletes a finished job with its events and model.
    pub async fn delete(&self, id: &str) -> Result<(), JobsError> {
        match self.store.delete_job(id).await? {
            DeleteJob::Deleted => Ok(()),
            DeleteJob::Active(status) => Err(JobsError::JobActive {
                id: id.to_owned(),
                status,
            }),
            DeleteJob::NotFound => Err(JobsError::JobNotFound(id.to_owned())),
        }
    }

    /// Epoch records with `epoch > since`, oldest first, at most `limit`.
    pub async fn metrics(
        &self,
        id: &str,
        since: u64,
        limit: u32,
    ) -> Result<Vec<EventRow>, JobsError> {
        self.existing(id).await?;
        Ok(self.store.epochs(id, since, limit).await?)
    }

    /// The job's events after `after` (an event id), stored then live, ending after its final
    /// status.
    pub async fn events(
        &self,
        id: &str,
        after: i64,
    ) -> Result<
        tokio_stream::wrappers::ReceiverStream<Result<Arc<EventRow>, crate::store::StoreError>>,
        JobsError,
    > {
        self.existing(id).await?;
        Ok(events::follow(
            Arc::clone(&self.store),
            Arc::clone(&self.hub),
            id.to_owned(),
            after,
        ))
    }

    /// The stored model of a succeeded job.
    pub async fn model(&self, id: &str) -> Result<(JobRow, ModelRecord), JobsError> {
        let job = self.existing(id).await?;
        match self.store.model(id).await? {
            Some(model) => Ok((job, model)),
            None => Err(JobsError::ModelNotReady {
                id: job.id,
                status: job.status,
            }),
        }
    }
}
