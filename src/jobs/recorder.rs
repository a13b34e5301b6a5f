//! [`Recorder`]: the `train::Observer` a worker hands to `fit`. It times each epoch (the engine
//! reads no clock), turns records into JSON, tracks progress and the best epoch, and writes to
//! the store in batches — at most every [`FLUSH_INTERVAL`] or [`FLUSH_RECORDS`] records — so
//! that a fast job is not slowed down by one transaction per epoch. Each committed batch is
//! then published to the job's live followers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::events::EventHub;
use super::metrics::ServiceMetrics;
use super::queue::now_ms;
use super::worker::{RunControl, StopReason};
use crate::store::{EventKind, NewEvent, Store};
use crate::train::{EpochRecord, Observer, StepRecord};

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

/// Where the recorder writes, and how it reaches the async side.
pub struct Sink {
    pub store: Arc<dyn Store>,
    pub hub: Arc<EventHub>,
    pub metrics: Arc<ServiceMetrics>,
    pub runtime: tokio::runtime::Handle,
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
        } else if self.epoch > 0 {
            let per_epoch = self.started.elapsed().as_secs_f64() / self.epoch as f64;
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
        json!({
            "epoch": self.epoch,
            "step": self.step,
            "fraction": fraction,
            "eta_seconds": eta,
            "latest": self.latest,
            "best": best,
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
            Ok(rows) => self.sink.hub.publish(&rows),
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
        if let Some(value) = body.get(&self.monitor).and_then(Value::as_f64) {
            let better = match self.best {
                None => true,
                Some((_, best)) if higher_is_better(&self.monitor) => value > best,
                Some((_, best)) => value < best,
            };
            if better {
                self.best = Some((record.epoch, value));
            }
        }
        self.latest = body.clone();
        self.sink.metrics.epoch_trained(self.samples_per_epoch);
        self.push(EventKind::Epoch, Some(record.epoch as u64), body);
    }

    fn on_step(&mut self, record: &StepRecord) {
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
    fn accuracy_is_maximized_and_losses_minimized() {
        assert!(higher_is_better("val_accuracy"));
        assert!(higher_is_better("acc"));
        assert!(!higher_is_better("val_loss"));
        assert!(!higher_is_better("mean_squared_error"));
    }
}
