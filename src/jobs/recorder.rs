//! [`Recorder`]: the `train::Observer` a worker hands to `fit`. It times each epoch (the engine
//! reads no clock), turns records into JSON, tracks progress and the best epoch, and writes to
//! the store in batches — at most every [`FLUSH_INTERVAL`] or [`FLUSH_RECORDS`] records — so
//! that a fast job is not slowed down by one transaction per epoch. Each committed batch is
//! then published to the job's live followers.
//!
//! It also decides when to checkpoint (every N epochs or T seconds, whichever comes first, and
//! at a shutdown) and saves each checkpoint after flushing, so that the checkpoint's `last_seq`
//! covers every record it has written. On a resume that had to start over (the checkpoint
//! could not be read), it leaves out the records the store already holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::checkpoint;
use super::events::EventHub;
use super::metrics::ServiceMetrics;
use super::queue::now_ms;
use super::worker::{RunControl, StopReason};
use crate::store::{CheckpointRecord, EventKind, EventRow, NewEvent, Store};
use crate::train::{Checkpoint, EpochRecord, Observer, StepRecord};

/// The longest a record waits in memory before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// The most records written in one transaction.
pub const FLUSH_RECORDS: usize = 256;

/// A number as JSON: the shortest decimal that reads back as the same `f32`; null when not
/// finite.
pub fn number(value: f32) -> Value {
    if !value.is_finite() {
        return Value::Null;
    }
    format!("{value}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// An epoch record as the API shows it.
pub fn epoch_json(record: &EpochRecord, duration_ms: f64) -> Value {
    let mut fields = Map::new();
    fields.insert("epoch".into(), json!(record.epoch));
    fields.insert("step".into(), json!(record.step));
    fields.insert("loss".into(), number(record.loss));
    for (name, value) in &record.metrics {
        fields.insert(name.clone(), number(*value));
    }
    if let Some(val_loss) = record.val_loss {
        fields.insert("val_loss".into(), number(val_loss));
    }
    for (name, value) in &record.val_metrics {
        fields.insert(format!("val_{name}"), number(*value));
    }
    fields.insert("learning_rate".into(), number(record.learning_rate));
    fields.insert(
        "duration_ms".into(),
        serde_json::Number::from_f64((duration_ms * 1000.0).round() / 1000.0)
            .map_or(Value::Null, Value::Number),
    );
    fields.insert(
        "layers".into(),
        record
            .layers
            .iter()
            .map(|layer| {
                json!({
                    "index": layer.index,
                    "name": layer.name,
                    "grad_norm": number(layer.grad_norm),
                    "weight_norm": number(layer.weight_norm),
                    "update_ratio": number(layer.update_ratio),
                })
            })
            .collect(),
    );
    Value::Object(fields)
}

/// Whether a larger value of `monitor` is better (Keras's `mode="auto"`: names ending in
/// `acc`/`accuracy` are maximized, everything else minimized).
pub fn higher_is_better(monitor: &str) -> bool {
    monitor.ends_with("acc") || monitor.ends_with("accuracy")
}

/// Optimizer steps between two looks at the clock for a time-based checkpoint inside an
/// epoch: reading the clock every step would cost more than a small network's step.
const STEPS_PER_CLOCK_CHECK: u32 = 32;

/// When running jobs are checkpointed: every `every_epochs` epochs (0: never for that reason)
/// or when `every` has passed since the last one (`None`: never for that reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    pub every_epochs: u64,
    pub every: Option<Duration>,
}

impl CheckpointPolicy {
    /// The policy of the `--checkpoint-every-*` flags.
    pub fn new(every_epochs: u64, every_secs: u64) -> Self {
        CheckpointPolicy {
            every_epochs,
            every: (every_secs > 0).then(|| Duration::from_secs(every_secs)),
        }
    }

    /// Whether a checkpoint is due after `completed_epoch` of `epochs`, `since_last` after the
    /// previous one. Never after the last epoch: the model itself follows.
    pub fn due_after_epoch(&self, completed_epoch: u64, epochs: u64, since_last: Duration) -> bool {
        completed_epoch < epochs
            && ((self.every_epochs > 0 && completed_epoch.is_multiple_of(self.every_epochs))
                || self.time_is_up(since_last))
    }

    /// Whether `every` has passed, `since_last` after the previous checkpoint.
    pub fn time_is_up(&self, since_last: Duration) -> bool {
        self.every.is_some_and(|every| since_last >= every)
    }
}

/// Where the recorder writes, and how it reaches the async side.
pub struct Sink {
    pub store: Arc<dyn Store>,
    pub hub: Arc<EventHub>,
    pub metrics: Arc<ServiceMetrics>,
    pub runtime: tokio::runtime::Handle,
    pub checkpoints: CheckpointPolicy,
}

/// The latest checkpoint this job has: where it is and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedCheckpoint {
    pub epoch: u64,
    pub step: u64,
    pub last_seq: i64,
    pub at: i64,
}

/// The observer of one attempt at one job.
pub struct Recorder<'a> {
    sink: &'a Sink,
    control: &'a RunControl,
    job_id: &'a str,
    attempt: i64,
    epochs: usize,
    /// The key of the epoch record that decides the best epoch.
    monitor: String,
    started: Instant,
    epoch_started: Instant,
    last_flush: Instant,
    pending: Vec<NewEvent>,
    epoch: usize,
    step: u64,
    latest: Value,
    best: Option<(usize, f64)>,
    /// Training rows per epoch, counted into the service metrics.
    samples_per_epoch: u64,
    /// The run's identity stamped on checkpoints; `None`: no checkpoints.
    fingerprint: Option<[u8; 32]>,
    /// The job's latest checkpoint, from this attempt or an earlier one.
    saved: Option<SavedCheckpoint>,
    last_checkpoint: Instant,
    steps_since_clock_check: u32,
    /// The highest `seq` written so far (the resumed checkpoint's `last_seq` at first).
    last_seq: i64,
    /// Epoch and step records up to this `(epoch, step)` are already stored: a run that
    /// started over after an unreadable checkpoint does not write them again.
    stored_until: Option<(u64, u64)>,
    /// The epoch this attempt started from, for the ETA.
    first_epoch: usize,
}

impl<'a> Recorder<'a> {
    pub fn new(
        sink: &'a Sink,
        control: &'a RunControl,
        job_id: &'a str,
        attempt: i64,
        epochs: usize,
        monitor: String,
    ) -> Self {
        let now = Instant::now();
        Recorder {
            sink,
            control,
            job_id,
            attempt,
            epochs,
            monitor,
            started: now,
            epoch_started: now,
            last_flush: now,
            pending: Vec::new(),
            epoch: 0,
            step: 0,
            latest: Value::Null,
            best: None,
            samples_per_epoch: 0,
            fingerprint: None,
            saved: None,
            last_checkpoint: now,
            steps_since_clock_check: 0,
            last_seq: 0,
            stored_until: None,
            first_epoch: 0,
        }
    }

    /// Turns checkpoints on, stamped with the run's fingerprint
    /// (`jobs::checkpoint::fingerprint`).
    pub fn with_checkpoints(mut self, fingerprint: [u8; 32]) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// The attempt continues from `saved`; `history` are the epoch records the job already
    /// has (they seed the best epoch and the latest record).
    pub fn resume_from(&mut self, saved: SavedCheckpoint, history: &[EventRow]) {
        self.saved = Some(saved);
        self.last_seq = saved.last_seq;
        self.epoch = saved.epoch as usize;
        self.first_epoch = self.epoch;
        self.step = saved.step;
        for row in history {
            if let Ok(body) = serde_json::from_str::<Value>(&row.body) {
                self.track_best(&body);
                self.latest = body;
            }
        }
    }

    /// The attempt starts over although the store holds records up to `saved` (its
    /// checkpoint could not be used): records up to there are not written again.
    pub fn start_over_after(&mut self, saved: SavedCheckpoint) {
        self.saved = Some(saved);
        self.last_seq = saved.last_seq;
        self.stored_until = Some((saved.epoch, saved.step));
        self.epoch = 0;
        self.first_epoch = 0;
        self.step = 0;
    }

    /// The job's latest checkpoint, if any.
    pub fn saved_checkpoint(&self) -> Option<SavedCheckpoint> {
        self.saved
    }

    fn track_best(&mut self, body: &Value) {
        let (Some(value), Some(epoch)) = (
            body.get(&self.monitor).and_then(Value::as_f64),
            body.get("epoch").and_then(Value::as_u64),
        ) else {
            return;
        };
        let better = match self.best {
            None => true,
            Some((_, best)) if higher_is_better(&self.monitor) => value > best,
            Some((_, best)) => value < best,
        };
        if better {
            self.best = Some((epoch as usize, value));
        }
    }

    /// Whether `every` has passed since the last checkpoint.
    fn time_is_up(&self) -> bool {
        self.sink
            .checkpoints
            .time_is_up(self.last_checkpoint.elapsed())
    }

    /// Flushes, then replaces the job's checkpoint with `checkpoint`. Nothing is saved when
    /// the flush failed (the checkpoint would claim records that are not stored).
    fn save(&mut self, checkpoint: &Checkpoint) {
        let Some(fingerprint) = self.fingerprint else {
            return;
        };
        self.flush();
        if !self.pending.is_empty() {
            tracing::warn!(
                job = self.job_id,
                "records could not be written; the checkpoint is skipped"
            );
            return;
        }
        let at = now_ms();
        let record = CheckpointRecord {
            job_id: self.job_id.to_owned(),
            attempt: self.attempt,
            epoch: checkpoint.epoch as u64,
            step: checkpoint.step,
            last_seq: self.last_seq,
            data: checkpoint::encode(checkpoint, &fingerprint),
            created_at: at,
        };
        let store = Arc::clone(&self.sink.store);
        match self.sink.runtime.block_on(store.save_checkpoint(record)) {
            Ok(true) => {
                self.last_checkpoint = Instant::now();
                self.saved = Some(SavedCheckpoint {
                    epoch: checkpoint.epoch as u64,
                    step: checkpoint.step,
                    last_seq: self.last_seq,
                    at,
                });
                tracing::debug!(
                    job = self.job_id,
                    epoch = checkpoint.epoch,
                    step = checkpoint.step,
                    "checkpoint saved"
                );
            }
            Ok(false) => {
                tracing::warn!(
                    job = self.job_id,
                    "the job was taken from this worker; stopping"
                );
                self.control.stop(StopReason::Shutdown);
            }
            Err(error) => {
                tracing::error!(job = self.job_id, %error, "saving a checkpoint failed");
            }
        }
    }

    /// The progress document the job page shows; `done` for a finished run.
    pub fn progress(&self, done: bool) -> Value {
        let fraction = if done || self.epochs == 0 {
            1.0
        } else {
            self.epoch as f64 / self.epochs as f64
        };
        let eta = if done {
            Some(0.0)
        } else if self.epoch > self.first_epoch {
            let per_epoch =
                self.started.elapsed().as_secs_f64() / (self.epoch - self.first_epoch) as f64;
            Some(
                ((self.epochs - self.epoch.min(self.epochs)) as f64 * per_epoch * 1000.0).round()
                    / 1000.0,
            )
        } else {
            None
        };
        let best = self.best.map(|(epoch, value)| {
            let mut best = Map::new();
            best.insert("epoch".into(), json!(epoch));
            best.insert(self.monitor.clone(), json!(value));
            Value::Object(best)
        });
        let checkpoint = self
            .saved
            .map(|saved| json!({"epoch": saved.epoch, "step": saved.step, "at_ms": saved.at}));
        json!({
            "epoch": self.epoch,
            "step": self.step,
            "fraction": fraction,
            "eta_seconds": eta,
            "latest": self.latest,
            "best": best,
            "checkpoint": checkpoint,
        })
    }

    fn push(&mut self, kind: EventKind, epoch: Option<u64>, body: Value) {
        self.pending.push(NewEvent {
            kind,
            epoch,
            body: body.to_string(),
            at: now_ms(),
        });
        if self.last_flush.elapsed() >= FLUSH_INTERVAL || self.pending.len() >= FLUSH_RECORDS {
            self.flush();
        }
    }

    /// Writes what is pending. A failed write keeps the records for the next try; an attempt
    /// that no longer owns its job stops training.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        let progress = self.progress(false).to_string();
        let store = Arc::clone(&self.sink.store);
        let written = self.sink.runtime.block_on(store.record(
            self.job_id,
            self.attempt,
            events.clone(),
            Some(progress),
        ));
        match written {
            Ok(rows) if rows.is_empty() => {
                tracing::warn!(
                    job = self.job_id,
                    "the job was taken from this worker; stopping"
                );
                self.control.stop(StopReason::Shutdown);
            }
            Ok(rows) => {
                if let Some(last) = rows.last() {
                    self.last_seq = self.last_seq.max(last.seq);
                }
                self.sink.hub.publish(&rows);
            }
            Err(error) => {
                tracing::error!(job = self.job_id, %error, "writing records failed; will retry");
                let mut retry = events;
                retry.append(&mut self.pending);
                self.pending = retry;
            }
        }
    }

    /// Hands over the records not yet written, for the final transaction.
    pub fn take_pending(&mut self) -> Vec<NewEvent> {
        std::mem::take(&mut self.pending)
    }

    /// Sets how many training rows each epoch processes (for `trainyard_samples_trained_total`).
    pub fn count_samples(&mut self, rows: u64) {
        self.samples_per_epoch = rows;
    }

    /// Records a log line.
    pub fn log(&mut self, message: &str) {
        self.push(EventKind::Log, None, json!({"message": message}));
    }
}

impl Observer for Recorder<'_> {
    fn on_epoch(&mut self, record: &EpochRecord) {
        let now = Instant::now();
        let duration_ms = now.duration_since(self.epoch_started).as_secs_f64() * 1000.0;
        self.epoch_started = now;
        let body = epoch_json(record, duration_ms);
        self.epoch = record.epoch;
        self.step = record.step;
        self.track_best(&body);
        self.latest = body.clone();
        self.sink.metrics.epoch_trained(self.samples_per_epoch);
        let stored = self
            .stored_until
            .is_some_and(|(epoch, _)| record.epoch as u64 <= epoch);
        if !stored {
            self.push(EventKind::Epoch, Some(record.epoch as u64), body);
        }
    }

    fn on_step(&mut self, record: &StepRecord) {
        if self
            .stored_until
            .is_some_and(|(_, step)| record.step <= step)
        {
            return;
        }
        let body = json!({
            "epoch": record.epoch,
            "step": record.step,
            "loss": number(record.loss),
            "learning_rate": number(record.learning_rate),
        });
        self.push(EventKind::Step, Some(record.epoch as u64), body);
    }

    fn on_log(&mut self, message: &str) {
        self.log(message);
    }

    fn checkpoint_due(&mut self, completed_epoch: usize) -> bool {
        self.fingerprint.is_some()
            && self.sink.checkpoints.due_after_epoch(
                completed_epoch as u64,
                self.epochs as u64,
                self.last_checkpoint.elapsed(),
            )
    }

    fn checkpoint_due_within_epoch(&mut self, _step: u64) -> bool {
        if self.fingerprint.is_none() || self.sink.checkpoints.every.is_none() {
            return false;
        }
        self.steps_since_clock_check += 1;
        if self.steps_since_clock_check < STEPS_PER_CLOCK_CHECK {
            return false;
        }
        self.steps_since_clock_check = 0;
        self.time_is_up()
    }

    fn checkpoint_on_cancel(&mut self) -> bool {
        self.fingerprint.is_some() && self.control.reason() == Some(StopReason::Shutdown)
    }

    fn on_checkpoint(&mut self, checkpoint: &Checkpoint) {
        self.save(checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::LayerStats;

    #[test]
    fn numbers_keep_the_shortest_f32_text_and_drop_non_finite_values() {
        assert_eq!(number(0.1), json!(0.1));
        assert_eq!(number(1.0e-7), json!(1.0e-7));
        assert_eq!(number(f32::NAN), Value::Null);
        assert_eq!(number(f32::INFINITY), Value::Null);
    }

    #[test]
    fn epoch_records_name_metrics_and_validation_as_keras_logs_do() {
        let record = EpochRecord {
            epoch: 12,
            step: 84,
            loss: 0.41,
            metrics: vec![("accuracy".into(), 0.88)],
            val_loss: Some(0.44),
            val_metrics: vec![("accuracy".into(), 0.87)],
            learning_rate: 0.1,
            layers: vec![LayerStats {
                index: 0,
                name: "layers.0".into(),
                grad_norm: 0.31,
                weight_norm: 2.2,
                update_ratio: 0.004,
            }],
        };
        assert_eq!(
            epoch_json(&record, 1.7),
            json!({"epoch": 12, "step": 84, "loss": 0.41, "accuracy": 0.88, "val_loss": 0.44,
                   "val_accuracy": 0.87, "learning_rate": 0.1, "duration_ms": 1.7,
                   "layers": [{"index": 0, "name": "layers.0", "grad_norm": 0.31,
                               "weight_norm": 2.2, "update_ratio": 0.004}]})
        );
    }

    #[test]
    fn checkpoints_come_every_n_epochs_or_t_seconds_whichever_is_first_but_not_at_the_end() {
        let policy = CheckpointPolicy::new(10, 30);
        let (soon, late) = (Duration::from_secs(1), Duration::from_secs(31));
        assert!(!policy.due_after_epoch(9, 100, soon));
        assert!(policy.due_after_epoch(10, 100, soon));
        assert!(policy.due_after_epoch(11, 100, late));
        assert!(!policy.due_after_epoch(100, 100, late), "the model follows");
        let epochs_only = CheckpointPolicy::new(5, 0);
        assert_eq!(epochs_only.every, None);
        assert!(!epochs_only.due_after_epoch(4, 100, Duration::from_secs(3600)));
        let never = CheckpointPolicy::new(0, 0);
        assert!(!never.due_after_epoch(10, 100, Duration::from_secs(3600)));
        assert!(!never.time_is_up(Duration::MAX));
    }

    #[test]
    fn accuracy_is_maximized_and_losses_minimized() {
        assert!(higher_is_better("val_accuracy"));
        assert!(higher_is_better("acc"));
        assert!(!higher_is_better("val_loss"));
        assert!(!higher_is_better("mean_squared_error"));
    }
}
