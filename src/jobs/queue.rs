//! [`JobQueue`]: the job lifecycle as the API sees it — submit, read, list, cancel, delete,
//! metrics, events, models — over the [`Store`]. It wakes the worker pool through the
//! [`Doorbell`] and stops running jobs through their [`RunControl`]; it never trains.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::Limits;
use crate::store::{
    CancelJob, DeleteJob, EventRow, Idempotency, ImportedModelRecord, InsertJob, JobQuery, JobRow,
    JobStatus, ModelRecord, NewJob, Store,
};

use super::datasets::{StoreCatalog, referenced_datasets};
use super::descent::DescentLimiter;
use super::error::{JobsError, LimitExceeded, Rejection};
use super::events::{self, EventHub};
use super::imported::{self, ImportBody};
use super::lease::Node;
use super::metrics::ServiceMetrics;
use super::model::{ExportFormat, Prediction, Predictor, PredictorCache, parse_inputs};
use super::spec::FieldError;
use super::validate::{ValidatedJob, WarmStart, validate};
use super::worker::{Doorbell, RunningJobs, StopReason};

/// How long a cancel of a running job waits for the worker to stop, so that the answer usually
/// shows `cancelled` already. Training checks its cancel flag every step; a job running on
/// another node stops at that node's next heartbeat.
pub(super) const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A job submission as the API received it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The spec, unvalidated.
    pub spec: Value,
    pub idempotency_key: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Validate and size the job without queueing it.
    pub dry_run: bool,
}

/// What a dry run reports.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub validated: ValidatedJob,
    /// Optimizer steps × batch size × parameter count.
    pub work: u64,
}

/// How a submission ended.
#[derive(Debug)]
pub enum Submitted {
    DryRun(Box<DryRun>),
    /// A new job, queued.
    Created(JobRow),
    /// The job an earlier request with the same `Idempotency-Key` and body created.
    Replayed(JobRow),
}

/// A seed for a spec without one: below 2³² so every JSON reader holds it exactly.
pub(super) fn draw_seed() -> u64 {
    u64::from(uuid::Uuid::new_v4().as_u128() as u32)
}

/// Digest of everything that defines a submission, for idempotent retries.
fn request_hash(submission: &Submission) -> String {
    let mut hasher = Sha256::new();
    hasher.update(submission.spec.to_string().as_bytes());
    hasher.update(format!("\npriority={}", submission.priority).as_bytes());
    hex::encode(hasher.finalize())
}

/// The configured limits a validated job must stay within.
pub(super) fn check_limits(validated: &ValidatedJob, limits: &Limits) -> Result<u64, JobsError> {
    let parameters = validated.parameter_count as u64;
    if parameters > limits.max_parameters {
        return Err(JobsError::Limit(LimitExceeded {
            limit: "--max-parameters",
            maximum: limits.max_parameters,
            requested: Some(parameters),
            path: Some("architecture.layers".into()),
            what: "parameter count",
        }));
    }
    let cells = (validated.n_train as u64 + validated.n_validation as u64)
        .saturating_mul(validated.input_width as u64);
    if cells > limits.max_dataset_cells {
        return Err(JobsError::Limit(LimitExceeded {
            limit: "--max-dataset-cells",
            maximum: limits.max_dataset_cells,
            requested: Some(cells),
            path: Some("data".into()),
            what: "dataset cells",
        }));
    }
    let work = validated.work();
    if work > limits.max_work {
        return Err(JobsError::Limit(LimitExceeded {
            limit: "--max-work",
            maximum: limits.max_work,
            requested: Some(work),
            path: Some(
                if validated.pretraining_passes() > validated.training_passes() {
                    "initializer.epochs"
                } else {
                    "training.epochs"
                }
                .into(),
            ),
            what: "work ((steps × batch size + epochs × validation rows + DBN passes) × \
                   parameters)",
        }));
    }
    Ok(work)
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
    node: Node,
    pub(super) predictors: PredictorCache,
    metrics: Arc<ServiceMetrics>,
    /// Bounds `POST /v1/descent` and the dashboard's descents to one per core.
    descents: DescentLimiter,
}

impl JobQueue {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        JobQueue {
            store,
            hub: Arc::new(EventHub::new()),
            doorbell: Arc::new(Doorbell::new()),
            running: Arc::new(RunningJobs::default()),
            limits,
            node: Node::default(),
            predictors: PredictorCache::default(),
            metrics: Arc::new(ServiceMetrics::new()),
            descents: DescentLimiter::per_core(),
        }
    }

    /// The same service as this node of a cluster: its name and lease length.
    pub fn with_node(mut self, node: Node) -> Self {
        self.node = node;
        self
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// Where descents run: on the blocking pool, at most one per core at once.
    pub fn descents(&self) -> &DescentLimiter {
        &self.descents
    }

    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.doorbell
    }

    pub fn running(&self) -> &Arc<RunningJobs> {
        &self.running
    }

    /// The Prometheus registry of the service.
    pub fn service_metrics(&self) -> &Arc<ServiceMetrics> {
        &self.metrics
    }

    /// The `GET /metrics` text, with the job gauges read from the store now.
    pub async fn metrics_text(&self) -> Result<String, JobsError> {
        let by_status = self.store.count_jobs_by_status().await?;
        Ok(self.metrics.render(&by_status, self.running.count()))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), JobsError> {
        Ok(self.store.ping().await?)
    }

    /// Puts jobs that were running when the server last stopped back in the queue. Called once
    /// at startup, before the workers start; returns how many were requeued. On a multi-node
    /// store only jobs whose lease has expired are taken: the others belong to live nodes.
    pub async fn recover(&self) -> Result<usize, JobsError> {
        let events = if self.store.multi_node() {
            self.store.requeue_expired(now_ms()).await?
        } else {
            self.store
                .requeue_running(
                    "interrupted: server restarted; the job continues from its latest checkpoint, if any",
                    now_ms(),
                )
                .await?
        };
        self.hub.publish(&events);
        Ok(events.len())
    }

    /// Why a job's warm start cannot work, if it cannot: its source job has no model, the
    /// imported model does not exist, or their tensors are not the architecture's (checked on
    /// the stored description; the weights are not read).
    pub(super) async fn warm_start_refusal(
        &self,
        validated: &ValidatedJob,
    ) -> Result<Option<FieldError>, JobsError> {
        let refusal = |path: &str, message: String| {
            Some(FieldError {
                path: path.to_owned(),
                message,
                value: None,
            })
        };
        let (path, source, meta) = match &validated.warm_start {
            None => return Ok(None),
            Some(WarmStart::Job(source)) => match self.store.model_meta(source).await? {
                Some(meta) => ("initializer.job_id", source, meta),
                None => {
                    return Ok(refusal(
                        "initializer.job_id",
                        format!("job {source:?} has no trained model"),
                    ));
                }
            },
            Some(WarmStart::Model(id)) => match self.store.imported_model_meta(id).await? {
                Some(meta) => ("initializer.model_id", id, meta),
                None => {
                    return Ok(refusal(
                        "initializer.model_id",
                        format!("no model with id {id:?}"),
                    ));
                }
            },
        };
        let shapes = super::model::tensor_shapes(source, &meta)?;
        let shapes: Vec<(&str, &[usize])> = shapes
            .iter()
            .map(|(name, shape)| (name.as_str(), shape.as_slice()))
            .collect();
        Ok(validated
            .warm_start_fits(&shapes)
            .err()
            .and_then(|message| refusal(path, message)))
    }

    /// Validates a spec and queues it (or only sizes it, for a dry run). Every spec error is
    /// reported at once, by path; then the limits are checked.
    pub async fn submit(&self, submission: Submission) -> Result<Submitted, JobsError> {
        let catalog = StoreCatalog::for_spec(&*self.store, &submission.spec).await?;
        let spec = submission.spec.clone();
        // Inline data can be large; validation is CPU work.
        let validated = tokio::task::spawn_blocking(move || validate(&spec, &catalog, draw_seed()))
            .await
            .map_err(|e| JobsError::Corrupt(format!("validation stopped: {e}")))?
            .map_err(|errors| {
                JobsError::InvalidSpec(
                    errors
                        .into_iter()
                        .map(|e| Rejection::new(e.path, e.message))
                        .collect(),
                )
            })?;
        let work = check_limits(&validated, &self.limits)?;
        if let Some(refusal) = self.warm_start_refusal(&validated).await? {
            return Err(JobsError::InvalidSpec(vec![Rejection::new(
                refusal.path,
                refusal.message,
            )]));
        }
        if submission.dry_run {
            return Ok(Submitted::DryRun(Box::new(DryRun { validated, work })));
        }
        let plan = validated.plan();
        let job = NewJob {
            id: uuid::Uuid::now_v7().to_string(),
            name: Some(validated.name.clone()),
            priority: submission.priority,
            spec: submission.spec.to_string(),
            resolved_spec: validated.resolved.to_string(),
            seed: validated.seed,
            parameter_count: validated.parameter_count as u64,
            total_steps: validated.total_steps,
            epochs: plan.epochs as u64,
            created_at: now_ms(),
            datasets: referenced_datasets(&submission.spec),
            idempotency: submission.idempotency_key.clone().map(|key| Idempotency {
                key,
                request_hash: request_hash(&submission),
            }),
            max_queued: self.limits.max_queued_jobs,
        };
        match self.store.insert_job(job).await? {
            InsertJob::Created { job, event } => {
                self.hub.publish(&[event]);
                self.doorbell.ring();
                Ok(Submitted::Created(job))
            }
            InsertJob::Replayed(job) => Ok(Submitted::Replayed(job)),
            InsertJob::KeyReused { job_id } => Err(JobsError::IdempotencyKeyReused {
                earlier: format!("job {job_id}"),
            }),
            InsertJob::QueueFull { queued } => Err(JobsError::QueueFull {
                queued,
                maximum: self.limits.max_queued_jobs,
            }),
            InsertJob::DatasetMissing { dataset_id } => {
                Err(JobsError::InvalidSpec(vec![Rejection::new(
                    "data.id",
                    format!("no dataset with id {dataset_id:?}"),
                )]))
            }
        }
    }

    /// The built predictor of a succeeded job's model (cached).
    async fn job_predictor(&self, id: &str) -> Result<Arc<Predictor>, JobsError> {
        self.cached_predictor(
            id,
            async { Ok(self.store.has_model(id).await?) },
            self.model(id),
            |(job, record)| Predictor::build(job, record),
        )
        .await
    }

    /// The predictor cached under `key`, or else one built on the blocking pool by `build`
    /// from what `load` reads, and cached. On a multi-node store a cached predictor is only
    /// used while `still_stored` says the model is: another node may have deleted it (one
    /// process forgets its own deletes itself), and asking is cheap beside a prediction.
    async fn cached_predictor<R: Send + 'static>(
        &self,
        key: &str,
        still_stored: impl Future<Output = Result<bool, JobsError>>,
        load: impl Future<Output = Result<R, JobsError>>,
        build: fn(&R) -> Result<Predictor, JobsError>,
    ) -> Result<Arc<Predictor>, JobsError> {
        if let Some(predictor) = self.predictors.get(key) {
            if !self.store.multi_node() || still_stored.await? {
                return Ok(predictor);
            }
            self.predictors.forget(key);
        }
        let generation = self.predictors.generation();
        let record = load.await?;
        let predictor = tokio::task::spawn_blocking(move || build(&record))
            .await
            .map_err(|e| JobsError::Corrupt(format!("loading the model stopped: {e}")))??;
        let predictor = Arc::new(predictor);
        self.predictors
            .insert(generation, key, Arc::clone(&predictor));
        Ok(predictor)
    }

    /// Runs a succeeded job's model on `body`'s inputs, with the job's standardization.
    pub async fn predict(&self, id: &str, body: Value) -> Result<Prediction, JobsError> {
        let predictor = self.job_predictor(id).await?;
        self.predict_with(predictor, body).await
    }

    /// Reads the inputs (up to `--max-predict-rows` rows of JSON numbers) and runs the model,
    /// both on the blocking pool.
    async fn predict_with(
        &self,
        predictor: Arc<Predictor>,
        body: Value,
    ) -> Result<Prediction, JobsError> {
        let max_rows = self.limits.max_predict_rows;
        tokio::task::spawn_blocking(move || {
            let inputs = parse_inputs(&body, predictor.input_width, max_rows)?;
            predictor.predict(inputs)
        })
        .await
        .map_err(|e| JobsError::Corrupt(format!("prediction stopped: {e}")))?
    }

    /// Reads, checks and stores an imported model.
    pub async fn import_model(&self, body: ImportBody) -> Result<ImportedModelRecord, JobsError> {
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = now_ms();
        let record = tokio::task::spawn_blocking(move || {
            imported::read(&body).map(|model| imported::encode(&id, &model, created_at))
        })
        .await
        .map_err(|e| JobsError::Corrupt(format!("import stopped: {e}")))??;
        if record.parameter_count > self.limits.max_parameters {
            return Err(JobsError::Limit(LimitExceeded {
                limit: "--max-parameters",
                maximum: self.limits.max_parameters,
                requested: Some(record.parameter_count),
                path: Some("tensors".into()),
                what: "parameters",
            }));
        }
        self.store.insert_imported_model(record.clone()).await?;
        Ok(record)
    }

    /// An imported model.
    pub async fn imported_model(&self, id: &str) -> Result<ImportedModelRecord, JobsError> {
        self.store
            .imported_model(id)
            .await?
            .ok_or_else(|| JobsError::ModelNotFound(id.to_owned()))
    }

    /// Deletes an imported model; jobs it warm-started keep their own weights.
    pub async fn delete_model(&self, id: &str) -> Result<(), JobsError> {
        let deleted = self.store.delete_imported_model(id).await?;
        // After the delete: a predictor built from a record read before it is not cached.
        self.predictors.forget(&imported_key(id));
        if deleted {
            Ok(())
        } else {
            Err(JobsError::ModelNotFound(id.to_owned()))
        }
    }

    /// The built predictor of an imported model (cached).
    async fn model_predictor(&self, id: &str) -> Result<Arc<Predictor>, JobsError> {
        self.cached_predictor(
            &imported_key(id),
            async { Ok(self.store.has_imported_model(id).await?) },
            self.imported_model(id),
            Predictor::from_imported,
        )
        .await
    }

    /// Runs an imported model on `body`'s inputs, with its standardization.
    pub async fn predict_model(&self, id: &str, body: Value) -> Result<Prediction, JobsError> {
        let predictor = self.model_predictor(id).await?;
        self.predict_with(predictor, body).await
    }

    /// An imported model as a safetensors or ONNX file.
    pub async fn export_imported_model(
        &self,
        id: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>, JobsError> {
        let predictor = self.model_predictor(id).await?;
        export_with(predictor, format).await
    }

    /// A succeeded job's model as a safetensors or ONNX file.
    pub async fn export_job_model(
        &self,
        id: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>, JobsError> {
        let predictor = self.job_predictor(id).await?;
        export_with(predictor, format).await
    }

    /// The job's row alone, without its history or queue position (which [`JobQueue::get`]
    /// adds); a missing job is [`JobsError::JobNotFound`].
    pub async fn row(&self, id: &str) -> Result<JobRow, JobsError> {
        self.store
            .job(id)
            .await?
            .ok_or_else(|| JobsError::JobNotFound(id.to_owned()))
    }

    pub async fn get(&self, id: &str) -> Result<JobDetails, JobsError> {
        let job = self.row(id).await?;
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
                    current = self.row(id).await?;
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
            DeleteJob::Deleted => {
                self.predictors.forget(id);
                Ok(())
            }
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
        self.row(id).await?;
        Ok(self.store.epochs(id, since, limit).await?)
    }

    /// The job's events after `after` (an event id), stored then live, ending after its final
    /// status.
    pub async fn events(
        &self,
        id: &str,
        after: i64,
    ) -> Result<
        tokio_stream::wrappers::ReceiverStream<Result<events::Followed, crate::store::StoreError>>,
        JobsError,
    > {
        self.row(id).await?;
        Ok(events::follow(
            Arc::clone(&self.store),
            Arc::clone(&self.hub),
            id.to_owned(),
            after,
        ))
    }

    /// The stored model of a succeeded job.
    pub async fn model(&self, id: &str) -> Result<(JobRow, ModelRecord), JobsError> {
        let job = self.row(id).await?;
        match self.store.model(id).await? {
            Some(model) => Ok((job, model)),
            None => Err(JobsError::ModelNotReady {
                id: job.id,
                status: job.status,
            }),
        }
    }
}

async fn export_with(
    predictor: Arc<Predictor>,
    format: ExportFormat,
) -> Result<Vec<u8>, JobsError> {
    tokio::task::spawn_blocking(move || predictor.export(format))
        .await
        .map_err(|e| JobsError::Corrupt(format!("export stopped: {e}")))?
}

/// Imported models share the predictor cache with jobs under their own key space.
fn imported_key(id: &str) -> String {
    format!("model:{id}")
}
