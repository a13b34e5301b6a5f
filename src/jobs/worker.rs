//! The worker pool: N named OS threads that claim queued jobs from the store and train them.
//! Training never runs on a tokio thread; the async side reaches a worker only through the
//! [`Doorbell`] (new work, shutdown) and a job's [`RunControl`] (its cancel flag).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::checkpoint;
use super::datasets::{StoreCatalog, decode_dataset};
use super::lease;
use super::model::{self, NewModel, decode_tensors};
use super::prepare::{Prepared, prepare, uploaded_ids};
use super::queue::{JobQueue, now_ms};
use super::recorder::{CheckpointPolicy, Recorder, SavedCheckpoint, Sink};
use super::validate::{ValidatedJob, WarmStart, validate};
use crate::store::{CheckpointRecord, Finish, JobRow, JobStatus, Lease, Store};
use crate::train::{self, Checkpoint, TrainError};

/// How long an idle worker sleeps before looking at the queue again without being woken (a
/// fallback: submissions ring the doorbell).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Wakes idle workers when a job is queued, and tells them to stop.
#[derive(Debug, Default)]
pub struct Doorbell {
    state: Mutex<DoorbellState>,
    bell: Condvar,
}

#[derive(Debug, Default)]
struct DoorbellState {
    rings: u64,
    closed: bool,
}

/// What an idle worker woke up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// New work may be waiting (or the wait timed out: look anyway).
    Look,
    /// The pool is shutting down.
    Stop,
}

impl Doorbell {
    pub fn new() -> Self {
        Doorbell::default()
    }

    /// A job was queued.
    pub fn ring(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.rings = state.rings.wrapping_add(1);
        self.bell.notify_all();
    }

    /// No more work will be handed out.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        self.bell.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed
    }

    /// The ring count, to pass to [`Doorbell::wait`] after looking for work and finding none.
    pub fn rings(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rings
    }

    /// Blocks until a ring newer than `seen`, the close, or `timeout` (a fallback poll).
    pub fn wait(&self, seen: u64, timeout: Duration) -> Wake {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = self
            .bell
            .wait_timeout_while(state, timeout, |s| !s.closed && s.rings == seen)
            .unwrap_or_else(PoisonError::into_inner);
        if state.closed { Wake::Stop } else { Wake::Look }
    }
}

/// Why a running job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A user cancelled it: it ends as `cancelled`.
    Cancelled,
    /// The server is shutting down: it goes back to the queue.
    Shutdown,
    /// The attempt lost its lease: another node owns the job now; this one writes nothing.
    LeaseLost,
}

/// The cancel flag of one running job, which `train::fit` checks every step, and why it was set.
#[derive(Debug, Default)]
pub struct RunControl {
    cancel: AtomicBool,
    /// 0 = not stopped, 1 = cancelled, 2 = shutdown, 3 = lease lost.
    reason: AtomicU8,
}

impl RunControl {
    /// The flag to hand to `train::fit`.
    pub fn flag(&self) -> &AtomicBool {
        &self.cancel
    }

    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::Shutdown => 2,
            StopReason::LeaseLost => 3,
        };
        // The first reason wins: a job cancelled by its user stays cancelled at shutdown.
        let _ = self
            .reason
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::Shutdown),
            3 => Some(StopReason::LeaseLost),
            _ => None,
        }
    }
}

/// The controls of the jobs running in this process, by job id, with their attempt numbers.
#[derive(Debug, Default)]
pub struct RunningJobs {
    jobs: Mutex<HashMap<String, (i64, Arc<RunControl>)>>,
}

impl RunningJobs {
    /// Registers an attempt a worker has just claimed.
    pub fn start(&self, job_id: &str, attempt: i64) -> Arc<RunControl> {
        let control = Arc::new(RunControl::default());
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job_id.to_owned(), (attempt, Arc::clone(&control)));
        control
    }

    /// The attempts running here, for the heartbeat to renew.
    pub fn leases(&self) -> Vec<Lease> {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(job_id, (attempt, _))| Lease {
                job_id: job_id.clone(),
                attempt: *attempt,
            })
            .collect()
    }

    /// Sets the cancel flag of that attempt of the job if it runs here; returns whether it does.
    pub fn stop_attempt(&self, job_id: &str, attempt: i64, reason: StopReason) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match jobs.get(job_id) {
            Some((running, control)) if *running == attempt => {
                control.stop(reason);
                true
            }
            _ => false,
        }
    }

    pub fn end(&self, job_id: &str) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(job_id);
    }

    /// Sets the job's cancel flag if it runs here; returns whether it does.
    pub fn stop(&self, job_id: &str, reason: StopReason) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match jobs.get(job_id) {
            Some((_, control)) => {
                control.stop(reason);
                true
            }
            None => false,
        }
    }

    pub fn stop_all(&self, reason: StopReason) {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, control) in jobs.values() {
            control.stop(reason);
        }
    }

    pub fn count(&self) -> usize {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The training threads, and the heartbeat task that renews their leases.
pub struct WorkerPool {
    threads: Vec<JoinHandle<()>>,
    doorbell: Arc<Doorbell>,
    running: Arc<RunningJobs>,
    heartbeat: CancellationToken,
}

/// What every worker thread shares.
struct Shared {
    sink: Sink,
    doorbell: Arc<Doorbell>,
    running: Arc<RunningJobs>,
}

impl WorkerPool {
    /// Starts `count` threads named `trainyard-worker-{n}` that claim jobs from `queue`'s store
    /// as `NODE/worker-{n}`, and the node's heartbeat task ([`super::lease`]); they checkpoint
    /// jobs as `checkpoints` says. `runtime` is the tokio runtime the store's futures run on;
    /// workers wait on it with `block_on` from their own threads, never on its workers.
    pub fn start(
        queue: &JobQueue,
        count: usize,
        runtime: tokio::runtime::Handle,
        checkpoints: CheckpointPolicy,
    ) -> std::io::Result<WorkerPool> {
        let shared = Arc::new(Shared {
            sink: Sink {
                store: Arc::clone(queue.store()),
                hub: Arc::clone(queue.hub()),
                metrics: Arc::clone(queue.service_metrics()),
                runtime,
                checkpoints,
            },
            doorbell: Arc::clone(queue.doorbell()),
            running: Arc::clone(queue.running()),
        });
        let heartbeat = CancellationToken::new();
        shared.sink.runtime.spawn(lease::heartbeat(
            lease::Heart {
                store: Arc::clone(queue.store()),
                hub: Arc::clone(queue.hub()),
                doorbell: Arc::clone(queue.doorbell()),
                running: Arc::clone(queue.running()),
                interval: queue.node().heartbeat_interval(),
            },
            heartbeat.clone(),
        ));
        let mut threads = Vec::with_capacity(count);
        for n in 0..count {
            let shared = Arc::clone(&shared);
            let name = format!("{}/worker-{n}", queue.node().id);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("trainyard-worker-{n}"))
                    .spawn(move || work(&shared, &name))?,
            );
        }
        Ok(WorkerPool {
            threads,
            doorbell: Arc::clone(queue.doorbell()),
            running: Arc::clone(queue.running()),
            heartbeat,
        })
    }

    /// Stops taking jobs, interrupts running ones (each is checkpointed at its next step
    /// boundary and goes back to the queue) and waits for the threads. Blocking: call it from
    /// a blocking context.
    pub fn stop(mut self) {
        self.doorbell.close();
        self.running.stop_all(StopReason::Shutdown);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
        self.heartbeat.cancel();
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // Without `stop` (a test that failed), still let the threads end on their own.
        self.doorbell.close();
        self.running.stop_all(StopReason::Shutdown);
        self.heartbeat.cancel();
    }
}

/// The loop of one worker thread.
fn work(shared: &Shared, name: &str) {
    loop {
        if shared.doorbell.is_closed() {
            return;
        }
        let seen = shared.doorbell.rings();
        let claimed = shared
            .sink
            .runtime
            .block_on(shared.sink.store.claim_job(name, now_ms()));
        match claimed {
            Ok(Some((job, event))) => {
                shared.sink.hub.publish(&[event]);
                let claimed_at = job.started_at.unwrap_or_else(now_ms);
                shared
                    .sink
                    .metrics
                    .job_claimed((claimed_at - job.created_at) as f64 / 1000.0);
                let id = job.id.clone();
                tracing::info!(job = %id, worker = name, "training");
                let control = shared.running.start(&id, job.attempt);
                let outcome =
                    std::panic::catch_unwind(AssertUnwindSafe(|| run_job(shared, &job, &control)));
                if outcome.is_err() {
                    tracing::error!(job = %id, "training panicked");
                    let error = json!({"code": "internal", "param": null,
                        "message": "training stopped unexpectedly; the cause is in the server log"});
                    end(
                        shared,
                        &job,
                        JobStatus::Failed,
                        Some(error),
                        None,
                        Vec::new(),
                        None,
                    );
                }
                shared.running.end(&id);
            }
            Ok(None) => {
                if shared.doorbell.wait(seen, IDLE_POLL) == Wake::Stop {
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "claiming a job failed");
                if shared.doorbell.wait(seen, IDLE_POLL) == Wake::Stop {
                    return;
                }
            }
        }
    }
}

/// Writes the end of an attempt and publishes it.
fn end(
    shared: &Shared,
    job: &JobRow,
    status: JobStatus,
    error: Option<Value>,
    progress: Option<Value>,
    events: Vec<crate::store::NewEvent>,
    model: Option<crate::store::ModelRecord>,
) {
    let at = now_ms();
    if let Some(started_at) = job.started_at {
        shared
            .sink
            .metrics
            .job_ended(status, (at - started_at) as f64 / 1000.0);
    }
    let finish = Finish {
        job_id: job.id.clone(),
        attempt: job.attempt,
        status,
        error: error.map(|e| e.to_string()),
        progress: progress.map(|p| p.to_string()),
        events,
        model,
        at,
    };
    match shared
        .sink
        .runtime
        .block_on(shared.sink.store.finish_job(finish))
    {
        Ok(rows) => shared.sink.hub.publish(&rows),
        Err(error) => tracing::error!(job = %job.id, %error, "recording the end of a job failed"),
    }
}

fn failure(code: &str, message: impl Into<String>, param: Option<&str>) -> Value {
    json!({"code": code, "message": message.into(), "param": param})
}

/// Everything a run needs besides the engine, loaded from the store.
struct Setup {
    validated: ValidatedJob,
    plan: crate::train::Plan,
    prepared: Prepared,
    catalog: StoreCatalog,
}

/// Re-validates the job's resolved spec, loads its data and warm-start weights.
fn set_up(shared: &Shared, job: &JobRow) -> Result<Setup, Value> {
    let store: &dyn Store = &*shared.sink.store;
    let runtime = &shared.sink.runtime;
    let resolved: Value = serde_json::from_str(&job.resolved_spec)
        .map_err(|_| failure("internal", "the stored spec does not parse", None))?;
    let catalog = runtime
        .block_on(StoreCatalog::for_spec(store, &resolved))
        .map_err(|e| failure("data_unavailable", e.to_string(), Some("data")))?;
    let validated = validate(&resolved, &catalog, job.seed).map_err(|errors| {
        let message = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        failure("data_unavailable", message, Some("data"))
    })?;
    let mut uploads = HashMap::new();
    for id in uploaded_ids(&validated.data) {
        let record = runtime
            .block_on(store.dataset_matrix(&id))
            .map_err(|e| failure("data_unavailable", e.to_string(), Some("data")))?
            .ok_or_else(|| {
                failure(
                    "data_unavailable",
                    format!("dataset {id} was deleted"),
                    Some("data.id"),
                )
            })?;
        let dataset = decode_dataset(&record)
            .map_err(|e| failure("data_unavailable", e.to_string(), Some("data.id")))?;
        uploads.insert(id, dataset);
    }
    let prepared = prepare(&validated.data, validated.seed, &uploads)
        .map_err(|message| failure("data_unavailable", message, Some("data")))?;
    let plan = match &validated.warm_start {
        None => validated.plan(),
        Some(WarmStart::Job(source)) => {
            let record = runtime
                .block_on(store.model(source))
                .map_err(|e| {
                    failure(
                        "warm_start_unavailable",
                        e.to_string(),
                        Some("initializer.job_id"),
                    )
                })?
                .ok_or_else(|| {
                    failure(
                        "warm_start_unavailable",
                        format!("job {source} has no model"),
                        Some("initializer.job_id"),
                    )
                })?;
            let tensors = decode_tensors(source, &record).map_err(|e| {
                failure(
                    "warm_start_unavailable",
                    e.to_string(),
                    Some("initializer.job_id"),
                )
            })?;
            validated.plan_with_parameters(tensors).map_err(|message| {
                failure(
                    "warm_start_unavailable",
                    message,
                    Some("initializer.job_id"),
                )
            })?
        }
        Some(WarmStart::Model(model_id)) => {
            let unavailable = |message: String| {
                failure(
                    "warm_start_unavailable",
                    message,
                    Some("initializer.model_id"),
                )
            };
            let record = runtime
                .block_on(store.imported_model(model_id))
                .map_err(|e| unavailable(e.to_string()))?
                .ok_or_else(|| unavailable(format!("model {model_id} was deleted")))?;
            let tensors =
                decode_tensors(model_id, &record.model).map_err(|e| unavailable(e.to_string()))?;
            validated
                .plan_with_parameters(tensors)
                .map_err(unavailable)?
        }
    };
    Ok(Setup {
        validated,
        plan,
        prepared,
        catalog,
    })
}

/// The field most to blame when training diverges: where the learning rate is set.
fn learning_rate_param(resolved: &Value) -> &'static str {
    if resolved
        .pointer("/optimizer/learning_rate")
        .is_some_and(|v| !v.is_null())
    {
        "optimizer.learning_rate"
    } else {
        "schedule"
    }
}

/// The epoch-record key that decides the best epoch: early stopping's monitor when set, else
/// `val_loss` with validation data, else `loss`.
fn monitor(resolved: &Value, has_validation: bool) -> String {
    match resolved
        .pointer("/training/early_stopping/monitor")
        .and_then(Value::as_str)
    {
        Some(monitor) => monitor.to_owned(),
        None if has_validation => "val_loss".to_owned(),
        None => "loss".to_owned(),
    }
}

/// Gives a running attempt's job back to the queue and publishes its `queued` event.
fn requeue(shared: &Shared, job: &JobRow, note: &str) {
    let requeued = shared.sink.runtime.block_on(shared.sink.store.requeue_job(
        &job.id,
        job.attempt,
        note,
        now_ms(),
    ));
    match requeued {
        Ok(Some(event)) => shared.sink.hub.publish(&[event]),
        Ok(None) => {}
        Err(error) => tracing::error!(job = %job.id, %error, "requeueing failed"),
    }
}

/// The checkpoint this attempt continues from, read and checked; the recorder learns where
/// the job's stored records end. A checkpoint that cannot be read is logged and the run starts
/// over (without writing again the records the store has).
fn resume_point(
    shared: &Shared,
    job: &JobRow,
    fingerprint: &[u8; 32],
    recorder: &mut Recorder<'_>,
) -> Result<Option<Checkpoint>, crate::store::StoreError> {
    let store = &shared.sink.store;
    let record: CheckpointRecord = match shared.sink.runtime.block_on(store.checkpoint(&job.id))? {
        Some(record) => record,
        None => return Ok(None),
    };
    let saved = SavedCheckpoint {
        epoch: record.epoch,
        step: record.step,
        last_seq: record.last_seq,
        at: record.created_at,
    };
    match checkpoint::decode(&record.data, fingerprint) {
        Ok(checkpoint)
            if checkpoint.epoch as u64 == record.epoch && checkpoint.step == record.step =>
        {
            let history = shared
                .sink
                .runtime
                .block_on(store.epochs(&job.id, 0, u32::MAX))
                .unwrap_or_default();
            recorder.resume_from(saved, &history);
            recorder.log(&format!(
                "resumed from checkpoint at epoch {}, step {}",
                record.epoch, record.step
            ));
            tracing::info!(job = %job.id, epoch = record.epoch, step = record.step, "resuming");
            Ok(Some(checkpoint))
        }
        outcome => {
            let why = match outcome {
                Err(error) => error.to_string(),
                Ok(_) => "its epoch and step disagree with the stored row".to_owned(),
            };
            tracing::warn!(job = %job.id, %why, "the checkpoint cannot be used; starting over");
            recorder.start_over_after(saved);
            recorder.log(&format!(
                "the checkpoint at epoch {}, step {} cannot be used ({why}); training again from \
                 the start",
                record.epoch, record.step
            ));
            Ok(None)
        }
    }
}

/// One attempt at one claimed job, from setup to its final status.
fn run_job(shared: &Shared, job: &JobRow, control: &RunControl) {
    // A cancel that reached the store between the claim and the registration of the flag.
    if let Ok(Some(current)) = shared.sink.runtime.block_on(shared.sink.store.job(&job.id))
        && current.cancel_requested
    {
        control.stop(StopReason::Cancelled);
    }
    let setup = match set_up(shared, job) {
        Ok(setup) => setup,
        Err(error) => {
            tracing::warn!(job = %job.id, %error, "the job could not start");
            end(
                shared,
                job,
                JobStatus::Failed,
                Some(error),
                None,
                Vec::new(),
                None,
            );
            return;
        }
    };
    let resolved: Value = serde_json::from_str(&job.resolved_spec).unwrap_or(Value::Null);
    let Setup {
        validated,
        plan,
        prepared,
        catalog,
    } = setup;
    let fingerprint = checkpoint::fingerprint(&job.resolved_spec, job.seed);
    let mut recorder = Recorder::new(
        &shared.sink,
        control,
        &job.id,
        job.attempt,
        plan.epochs,
        monitor(&resolved, prepared.validation.is_some()),
    )
    .with_checkpoints(fingerprint);
    recorder.count_samples(prepared.train.rows() as u64);
    let resume = match resume_point(shared, job, &fingerprint, &mut recorder) {
        Ok(resume) => resume,
        Err(error) => {
            // Without knowing where the stored records end, training would write them twice:
            // give the job back to the queue and let a later claim try again.
            tracing::error!(job = %job.id, %error, "reading the checkpoint failed; requeueing");
            requeue(
                shared,
                job,
                "the checkpoint could not be read; the job waits for a retry",
            );
            return;
        }
    };
    let mut fitted = train::fit(
        &plan,
        &prepared.train,
        prepared.validation.as_ref(),
        resume.as_ref(),
        &mut recorder,
        control.flag(),
    );
    if let (Err(TrainError::Resume(why)), Some(_), Some(saved)) =
        (&fitted, &resume, recorder.saved_checkpoint())
    {
        tracing::warn!(job = %job.id, %why, "the checkpoint does not fit the run; starting over");
        recorder.start_over_after(saved);
        recorder.log(&format!(
            "the checkpoint at epoch {}, step {} does not fit the run ({why}); training again \
             from the start",
            saved.epoch, saved.step
        ));
        fitted = train::fit(
            &plan,
            &prepared.train,
            prepared.validation.as_ref(),
            None,
            &mut recorder,
            control.flag(),
        );
    }
    match fitted {
        Ok(result) => {
            let class_names = prepared.train.class_names.clone();
            let record = model::encode(&NewModel {
                job_id: &job.id,
                resolved: &resolved,
                tensors: &result.parameters,
                standardizer: prepared.standardizer.as_ref(),
                feature_names: &prepared.train.feature_names,
                class_names: class_names.as_deref(),
                n_classes: prepared.train.n_classes(),
                input_width: validated.input_width,
                output_width: validated.output_width,
                data_shapes: catalog.shapes_json(),
                created_at: now_ms(),
            });
            if result.stopped_early {
                recorder.log(&format!(
                    "early stopping after epoch {}; best epoch {}",
                    result.epochs_run,
                    result.best_epoch.map_or("-".to_owned(), |e| e.to_string())
                ));
            }
            let events = recorder.take_pending();
            let progress = recorder.progress(true);
            end(
                shared,
                job,
                JobStatus::Succeeded,
                None,
                Some(progress),
                events,
                Some(record),
            );
        }
        Err(TrainError::Cancelled { .. }) if control.reason() == Some(StopReason::Shutdown) => {
            let note = match recorder.saved_checkpoint() {
                Some(saved) => format!(
                    "interrupted: the server shut down; the job continues from its checkpoint \
                     at epoch {}, step {}",
                    saved.epoch, saved.step
                ),
                None => "interrupted: the server shut down; the job starts over".to_owned(),
            };
            requeue(shared, job, &note);
        }
        Err(TrainError::Cancelled { .. }) if control.reason() == Some(StopReason::LeaseLost) => {
            // Another node runs the job now; every write of this attempt would be refused.
            tracing::warn!(job = %job.id, attempt = job.attempt, "stopped: the lease was lost");
        }
        Err(TrainError::Cancelled { epoch, step }) => {
            recorder.log(&if step == 0 {
                "cancelled before the first step".to_owned()
            } else {
                format!("cancelled at epoch {epoch}, step {step}")
            });
            let events = recorder.take_pending();
            let progress = recorder.progress(false);
            end(
                shared,
                job,
                JobStatus::Cancelled,
                None,
                Some(progress),
                events,
                None,
            );
        }
        Err(TrainError::Diverged { epoch, step, what }) => {
            let mut error = failure(
                "diverged",
                format!("training diverged at epoch {epoch}, step {step}: {what}"),
                Some(learning_rate_param(&resolved)),
            );
            error["epoch"] = json!(epoch);
            error["step"] = json!(step);
            let events = recorder.take_pending();
            let progress = recorder.progress(false);
            end(
                shared,
                job,
                JobStatus::Failed,
                Some(error),
                Some(progress),
                events,
                None,
            );
        }
        Err(other) => {
            let error = failure("training_failed", other.to_string(), None);
            let events = recorder.take_pending();
            let progress = recorder.progress(false);
            end(
                shared,
                job,
                JobStatus::Failed,
                Some(error),
                Some(progress),
                events,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_ring_wakes_a_waiting_worker_and_a_close_stops_it() {
        let doorbell = Arc::new(Doorbell::new());
        let seen = doorbell.rings();
        let ringer = Arc::clone(&doorbell);
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ringer.ring();
        });
        let started = Instant::now();
        assert_eq!(doorbell.wait(seen, Duration::from_secs(10)), Wake::Look);
        assert!(started.elapsed() < Duration::from_secs(5));
        handle.join().map_err(|_| "ringer panicked").unwrap_or(());
        doorbell.close();
        assert_eq!(
            doorbell.wait(doorbell.rings(), Duration::from_secs(10)),
            Wake::Stop
        );
    }

    #[test]
    fn the_first_stop_reason_wins() {
        let control = RunControl::default();
        assert_eq!(control.reason(), None);
        control.stop(StopReason::Cancelled);
        control.stop(StopReason::Shutdown);
        assert_eq!(control.reason(), Some(StopReason::Cancelled));
        assert!(control.flag().load(Ordering::SeqCst));
    }

    #[test]
    fn stop_reaches_only_jobs_running_here() {
        let running = RunningJobs::default();
        let control = running.start("a", 1);
        assert_eq!(
            running.leases(),
            [Lease {
                job_id: "a".into(),
                attempt: 1
            }]
        );
        assert!(!running.stop_attempt("a", 2, StopReason::LeaseLost));
        assert_eq!(control.reason(), None);
        assert!(running.stop("a", StopReason::Shutdown));
        assert!(!running.stop("b", StopReason::Shutdown));
        assert_eq!(control.reason(), Some(StopReason::Shutdown));
        running.end("a");
        assert_eq!(running.count(), 0);
    }
}
