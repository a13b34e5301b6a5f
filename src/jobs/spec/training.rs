//! The `training` part: what `model.compile(loss, metrics)` and `model.fit(batch_size, epochs,
//! callbacks=[EarlyStopping(…)])` say in Keras. Defaults are `fit`'s: `batch_size` 32,
//! `epochs` 1; no metrics; no early stopping. `EarlyStopping`'s defaults are Keras 3's
//! (K3 `callbacks/early_stopping.py`, NUMERICS §6.5): monitor `val_loss`, min_delta 0,
//! patience 0, mode `auto`, no baseline, restore_best_weights false, start_from_epoch 0.

use serde_json::{Value, json};

use super::read::{Errors, Interval, Object, array, item, name, name_of, string};
use crate::train::early_stopping::Mode;
use crate::train::loss::Loss;
use crate::train::metric::Metric;

/// Most epochs a job may run.
pub const MAX_EPOCHS: u64 = 100_000;
/// Largest numeric batch size.
pub const MAX_BATCH_SIZE: u64 = 10_000_000;
/// Most entries in `metrics`.
pub const MAX_METRICS: usize = 8;
/// Most threads one job may train on.
pub const MAX_THREADS: u64 = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSpec {
    pub loss: Loss,
    pub metrics: Vec<Metric>,
    pub epochs: usize,
    pub batch_size: BatchSize,
    /// `None` until `validate` records the drawn seed.
    pub seed: Option<u64>,
    pub early_stopping: Option<EarlyStoppingSpec>,
    pub log_every_steps: Option<usize>,
    /// Threads the job's large matrix products may use (1, the default: one core per job).
    pub threads: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Samples(usize),
    /// The whole training part: batch gradient descent.
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStoppingSpec {
    /// As written; `validate` checks it against the keys the job will log.
    pub monitor: String,
    pub min_delta: f64,
    pub patience: usize,
    pub mode: Mode,
    pub baseline: Option<f64>,
    pub restore_best_weights: bool,
    pub start_from_epoch: usize,
}

/// Loss names; `mse` is Keras's alias.
pub const LOSSES: &[(&str, Loss)] = &[
    (
        "sparse_categorical_crossentropy",
        Loss::SparseCategoricalCrossentropy,
    ),
    ("categorical_crossentropy", Loss::CategoricalCrossentropy),
    ("binary_crossentropy", Loss::BinaryCrossentropy),
    ("mean_squared_error", Loss::MeanSquaredError),
    ("mse", Loss::MeanSquaredError),
];

/// Metric names with Keras's aliases; the first name of each is the key in epoch records.
pub const METRICS: &[(&str, Metric)] = &[
    ("accuracy", Metric::Accuracy),
    ("acc", Metric::Accuracy),
    ("mean_squared_error", Metric::MeanSquaredError),
    ("mse", Metric::MeanSquaredError),
    ("mean_absolute_error", Metric::MeanAbsoluteError),
    ("mae", Metric::MeanAbsoluteError),
];

pub const MODES: &[(&str, Mode)] = &[("auto", Mode::Auto), ("min", Mode::Min), ("max", Mode::Max)];

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<TrainingSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let loss = object.required_name("loss", "loss", LOSSES, errors);
    let metrics_path = object.at("metrics");
    let metrics = object
        .field("metrics")
        .and_then(|value| parse_metrics(value, &metrics_path, errors))
        .unwrap_or_default();
    let epochs = object.integer("epochs", 0, MAX_EPOCHS, errors).unwrap_or(1) as usize;
    let batch_path = object.at("batch_size");
    let batch_size = match object.field("batch_size") {
        None => BatchSize::Samples(32),
        Some(Value::String(text)) if text == "full" => BatchSize::Full,
        Some(value @ Value::Number(_)) => {
            super::read::integer(value, &batch_path, 1, MAX_BATCH_SIZE, errors)
                .map_or(BatchSize::Samples(32), |n| BatchSize::Samples(n as usize))
        }
        Some(other) => {
            errors.add(
                batch_path,
                format!(
                    "must be a whole number of samples (1 is plain SGD) or \"full\", got {}",
                    super::read::describe(other)
                ),
                Some(other),
            );
            BatchSize::Samples(32)
        }
    };
    let seed = object.integer("seed", 0, u64::MAX, errors);
    let stopping_path = object.at("early_stopping");
    let early_stopping = object
        .field("early_stopping")
        .and_then(|value| parse_early_stopping(value, &stopping_path, errors));
    let log_every_steps = object
        .integer("log_every_steps", 1, 1_000_000_000, errors)
        .map(|n| n as usize);
    let threads = object
        .integer("threads", 1, MAX_THREADS, errors)
        .map_or(1, |n| n as usize);
    object.finish(errors);
    let loss = loss?;
    (errors.count() == before).then_some(TrainingSpec {
        loss,
        metrics,
        epochs,
        batch_size,
        seed,
        early_stopping,
        log_every_steps,
        threads,
    })
}

fn parse_metrics(value: &Value, path: &str, errors: &mut Errors) -> Option<Vec<Metric>> {
    let before = errors.count();
    let items = array(value, path, MAX_METRICS, errors)?;
    let mut metrics = Vec::new();
    for (index, item_value) in items.iter().enumerate() {
        let item_path = item(path, index);
        let Some(metric) = name(item_value, &item_path, "metric", METRICS, errors) else {
            continue;
        };
        if metrics.contains(&metric) {
            errors.add(
                item_path,
                format!("{} is listed twice", name_of(METRICS, &metric)),
                Some(item_value),
            );
            continue;
        }
        metrics.push(metric);
    }
    (errors.count() == before).then_some(metrics)
}

fn parse_early_stopping(
    value: &Value,
    path: &str,
    errors: &mut Errors,
) -> Option<EarlyStoppingSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let monitor_path = object.at("monitor");
    let monitor = object
        .field("monitor")
        .and_then(|value| string(value, &monitor_path, 64, errors))
        .unwrap_or("val_loss")
        .to_string();
    let spec = EarlyStoppingSpec {
        monitor,
        min_delta: object
            .number("min_delta", Interval::closed(0.0, 1e9), errors)
            .unwrap_or(0.0),
        patience: object
            .integer("patience", 0, MAX_EPOCHS, errors)
            .unwrap_or(0) as usize,
        mode: object
            .name("mode", "mode", MODES, errors)
            .unwrap_or_default(),
        baseline: object.number("baseline", Interval::closed(-1e30, 1e30), errors),
        restore_best_weights: object
            .boolean("restore_best_weights", errors)
            .unwrap_or(false),
        start_from_epoch: object
            .integer("start_from_epoch", 0, MAX_EPOCHS, errors)
            .unwrap_or(0) as usize,
    };
    object.finish(errors);
    (errors.count() == before).then_some(spec)
}

impl TrainingSpec {
    pub fn to_json(&self) -> Value {
        json!({
            "loss": name_of(LOSSES, &self.loss),
            "metrics": self.metrics.iter().map(|m| name_of(METRICS, m)).collect::<Vec<_>>(),
            "epochs": self.epochs,
            "batch_size": match self.batch_size {
                BatchSize::Samples(n) => json!(n),
                BatchSize::Full => json!("full"),
            },
            "seed": self.seed,
            "early_stopping": self.early_stopping.as_ref().map(|es| json!({
                "monitor": es.monitor,
                "min_delta": es.min_delta,
                "patience": es.patience,
                "mode": name_of(MODES, &es.mode),
                "baseline": es.baseline,
                "restore_best_weights": es.restore_best_weights,
                "start_from_epoch": es.start_from_epoch,
            })),
            "log_every_steps": self.log_every_steps,
            "threads": self.threads,
        })
    }
}
