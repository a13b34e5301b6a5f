//! `validate`: a job spec (as JSON) to a [`ValidatedJob`] — the resolved spec, the data plan,
//! the dry-run numbers and the engine's `Plan` — or every problem at once.
//!
//! Field errors come from reading the spec (`jobs::spec`); the rules across fields are checked
//! here on every part that read cleanly, and reported together with them:
//! - the learning rate is given once: in `optimizer.learning_rate` or in the schedule (the same
//!   value in both is tolerated, as API.md's example writes it; different values are refused);
//! - the output layer fits the loss and the data: (sparse) categorical cross-entropy needs a
//!   softmax output as wide as the number of classes; binary cross-entropy a single sigmoid
//!   unit and two classes (softmax with it is refused); mean squared error an output as wide as
//!   the targets (the number of classes for class labels, which are one-hot encoded);
//!   cross-entropy needs class labels; `accuracy` needs class labels;
//! - a residual block's output is as wide as its input;
//! - the batch is no larger than the training part, which is not empty, and neither is the
//!   validation part when one is asked for; a validation source has the training features;
//! - `early_stopping.monitor` names a key the job logs (`val_…` needs validation data);
//! - `augmentation.shift` needs image-shaped data;
//! - `dbn_pretraining` needs a plain stack: every dense layer but the last has a `sigmoid`
//!   activation, because an RBM's hidden units compute `sigmoid(vW + c)` and the pre-trained
//!   weights only mean the same thing under that activation; residual blocks have no RBM
//!   counterpart and are refused; there must be at least one hidden dense layer.
//! - the network has at most [`MAX_PARAMETERS`] parameters.

mod convert;
pub mod source;

use serde_json::Value;

use super::catalog::{DataCatalog, DataShape, TargetShape};
use super::spec::architecture::{ActivationSpec, LayerSpec};
use super::spec::data::{Builtin, DataSource, DataSpec, Generated, SplitRule, ValidationSpec};
use super::spec::initializer::InitializerSpec;
use super::spec::read::{Errors, item, join};
use super::spec::schedule::ScheduleKind;
use super::spec::training::{BatchSize, METRICS, TrainingSpec};
use super::spec::{FieldError, JobSpec, Parts, read_parts};
use crate::data::{Augmentation, Dataset};
use crate::train::early_stopping::EarlyStoppingConfig;
use crate::train::init::dbn::DbnConfig;
use crate::train::loss::Loss;
use crate::train::metric::Metric;
use crate::train::plan::{Initialization, LayerPlan, Plan, Tensor};
use crate::train::shape::{ParameterShape, parameter_shapes};

/// Most parameters (Keras's "Total params") a job's network may have.
pub const MAX_PARAMETERS: usize = 50_000_000;

/// A spec that passed every check, with everything the service and the engine need.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedJob {
    /// The typed resolved spec.
    pub spec: JobSpec,
    /// The resolved spec as JSON: every default filled in, the seed recorded.
    pub resolved: Value,
    pub name: String,
    pub seed: u64,
    pub data: DataPlan,
    /// The stored weights to start from, which the caller loads (see [`ValidatedJob::plan_with_parameters`]).
    pub warm_start: Option<WarmStart>,
    /// Features per row.
    pub input_width: usize,
    pub output_width: usize,
    pub parameters: Vec<ParameterShape>,
    /// Total elements over `parameters`, BN moving statistics included (Keras's "Total params").
    pub parameter_count: usize,
    pub n_train: usize,
    pub n_validation: usize,
    /// Samples per step, `full` resolved to `n_train`.
    pub batch_size: usize,
    /// `⌈n_train / batch_size⌉`: the last partial batch is a step of its own (Keras).
    pub steps_per_epoch: usize,
    /// `steps_per_epoch · epochs`, the most a run can take (early stopping may end it sooner).
    pub total_steps: u64,
    plan: Plan,
}

/// Where a warm start's weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarmStart {
    Job(String),
    Model(String),
}

/// What the data layer must load and how to cut it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    pub source: SourcePlan,
    pub validation: ValidationPlan,
    /// Standardize with statistics from the training part only.
    pub standardize: bool,
    pub shuffle: bool,
    pub augmentation: Option<Augmentation>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourcePlan {
    Builtin(Builtin),
    /// Drawn from the job's seed.
    Generated(Generated),
    Dataset {
        id: String,
    },
    /// Rows given in the spec, already in matrix form.
    Inline(Dataset),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValidationPlan {
    None,
    Split { fraction: f64, rule: SplitRule },
    Source(SourcePlan),
}

impl ValidatedJob {
    /// The most work the job can take, in sample-passes × parameters: every optimizer step's
    /// batch (`total_steps · batch_size`), every epoch's validation pass (`epochs ·
    /// n_validation`) and, with DBN pre-training, every contrastive-divergence pass over the
    /// training rows (`dbn epochs · cd_steps · n_train`), each times the parameter count.
    /// Saturates rather than overflows.
    pub fn work(&self) -> u64 {
        self.training_passes()
            .saturating_add(self.pretraining_passes())
            .saturating_mul(self.parameter_count as u64)
    }

    /// Rows passed through the network by training and validation: `total_steps · batch_size
    /// + epochs · n_validation`.
    pub fn training_passes(&self) -> u64 {
        let validation = (self.plan.epochs as u64).saturating_mul(self.n_validation as u64);
        self.total_steps
            .saturating_mul(self.batch_size as u64)
            .saturating_add(validation)
    }

    /// Rows passed through the RBMs by DBN pre-training (`epochs · cd_steps · n_train`), 0
    /// without it.
    pub fn pretraining_passes(&self) -> u64 {
        match &self.plan.initialization {
            Initialization::DbnPretraining { config, .. } => (config.epochs as u64)
                .saturating_mul(config.cd_steps as u64)
                .saturating_mul(self.n_train as u64),
            _ => 0,
        }
    }

    /// The engine's plan. For a warm start its parameters are empty: use
    /// [`ValidatedJob::plan_with_parameters`] with the loaded weights instead.
    pub fn plan(&self) -> Plan {
        self.plan.clone()
    }

    /// Whether weights of these names and shapes are exactly the network's tensors (in any
    /// order); the error names the first tensor that is missing, misshapen or extra.
    pub fn warm_start_fits(&self, tensors: &[(&str, &[usize])]) -> Result<(), String> {
        for expected in &self.parameters {
            let Some((name, shape)) = tensors.iter().find(|(name, _)| *name == expected.name)
            else {
                return Err(format!("the weights have no tensor {}", expected.name));
            };
            if *shape != expected.shape.as_slice() {
                return Err(format!(
                    "tensor {name} has shape {shape:?}, the architecture needs {:?}",
                    expected.shape
                ));
            }
        }
        match tensors
            .iter()
            .find(|(name, _)| !self.parameters.iter().any(|p| p.name == *name))
        {
            Some((extra, _)) => Err(format!(
                "the weights have a tensor {extra} the architecture does not"
            )),
            None => Ok(()),
        }
    }

    /// The plan starting from `parameters`, which must be exactly the network's tensors (names
    /// and shapes as in [`ValidatedJob::parameters`]); they are put in the network's order.
    pub fn plan_with_parameters(&self, parameters: Vec<Tensor>) -> Result<Plan, String> {
        let shapes: Vec<(&str, &[usize])> = parameters
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice()))
            .collect();
        self.warm_start_fits(&shapes)?;
        let mut ordered = Vec::with_capacity(self.parameters.len());
        let mut remaining = parameters;
        for expected in &self.parameters {
            let position = remaining
                .iter()
                .position(|t| t.name == expected.name)
                .ok_or_else(|| format!("the weights have no tensor {}", expected.name))?;
            let tensor = remaining.swap_remove(position);
            if tensor.values.len() != expected.len() {
                return Err(format!(
                    "tensor {} holds {} values, its shape {:?} needs {}",
                    tensor.name,
                    tensor.values.len(),
                    expected.shape,
                    expected.len()
                ));
            }
            ordered.push(tensor);
        }
        let mut plan = self.plan.clone();
        plan.initialization = Initialization::WarmStart {
            parameters: ordered,
        };
        Ok(plan)
    }
}

/// Checks `body` completely. `seed_if_absent` (drawn by the caller) becomes the job's seed when
/// the spec gives none, and is recorded in the resolved spec.
pub fn validate(
    body: &Value,
    catalog: &dyn DataCatalog,
    seed_if_absent: u64,
) -> Result<ValidatedJob, Vec<FieldError>> {
    let mut errors = Errors::default();
    let parts = read_parts(body, &mut errors);
    let checked = check_across(&parts, catalog, &mut errors);
    match (parts.complete(), checked) {
        (Some(spec), Some(facts)) if errors.count() == 0 => Ok(build(spec, facts, seed_if_absent)),
        _ => Err(errors.into_vec()),
    }
}

/// The most step records (`training.log_every_steps`) one job may store: about 25 MB.
pub const MAX_STEP_RECORDS: u64 = 100_000;

/// The most per-layer statistics (kernels × epochs) one job's epoch records may hold: about
/// 250 MB; a 20-layer network may run the full 100 000 epochs, a 256-layer one 7 800.
pub const MAX_LAYER_ENTRIES: u64 = 2_000_000;

/// Samples per step (`full` resolved to `n_train`) and steps per epoch (the last partial
/// batch is a step of its own).
fn batching(training: &TrainingSpec, n_train: usize) -> (usize, usize) {
    let batch = match training.batch_size {
        BatchSize::Samples(n) => n,
        BatchSize::Full => n_train,
    };
    (batch, n_train.div_ceil(batch.max(1)))
}

/// What the cross-field checks learnt about the data.
struct DataFacts {
    shape: DataShape,
    source: SourcePlan,
    validation: ValidationPlan,
    n_train: usize,
    n_validation: usize,
}

fn classification(loss: Loss) -> bool {
    !matches!(loss, Loss::MeanSquaredError)
}

fn check_across(
    parts: &Parts,
    catalog: &dyn DataCatalog,
    errors: &mut Errors,
) -> Option<DataFacts> {
    let loss = parts.training.as_ref().map(|t| t.loss);
    let facts = parts
        .data
        .as_ref()
        .and_then(|data| check_data(data, loss.map(classification), catalog, errors));

    check_learning_rate(parts, errors);

    if let (Some(architecture), Some(facts)) = (&parts.architecture, &facts) {
        check_widths(
            &architecture.layers,
            "architecture.layers",
            facts.shape.features,
            errors,
        );
        let layers = convert::layers(&architecture.layers);
        let shapes = parameter_shapes(&layers, facts.shape.features);
        let count: usize = shapes.iter().map(ParameterShape::len).sum();
        if count > MAX_PARAMETERS {
            errors.add(
                "architecture.layers",
                format!("the network has {count} parameters; at most {MAX_PARAMETERS} are allowed"),
                None,
            );
        }
        if let Some(training) = &parts.training {
            check_output(&architecture.layers, training, &facts.shape, errors);
            let kernels = shapes
                .iter()
                .filter(|p| p.name.ends_with(".kernel"))
                .count() as u64;
            let entries = kernels.saturating_mul(training.epochs as u64);
            if entries > MAX_LAYER_ENTRIES {
                errors.add(
                    "training.epochs",
                    format!(
                        "every epoch record holds statistics for each of the network's {kernels} \
                         kernels, {entries} in all over {} epochs; at most {MAX_LAYER_ENTRIES} \
                         are stored per job",
                        training.epochs
                    ),
                    None,
                );
            }
        }
    }
    if let (Some(training), Some(facts)) = (&parts.training, &facts) {
        check_training(training, facts, parts.data.as_ref(), errors);
    }
    if let (Some(InitializerSpec::DbnPretraining { batch_size, .. }), Some(architecture)) =
        (&parts.initializer, &parts.architecture)
    {
        check_dbn(&architecture.layers, errors);
        if let Some(facts) = &facts
            && *batch_size > facts.n_train
        {
            errors.add(
                "initializer.batch_size",
                format!(
                    "must be at most the {} training rows, got {batch_size}",
                    facts.n_train
                ),
                None,
            );
        }
    }
    facts
}

fn check_data(
    data: &DataSpec,
    classification: Option<bool>,
    catalog: &dyn DataCatalog,
    errors: &mut Errors,
) -> Option<DataFacts> {
    let source::Described { shape, plan } =
        source::describe(&data.source, "data", classification, catalog, errors)?;
    let mut validation = ValidationPlan::None;
    if data.augmentation.shift > 0 && shape.image_shape.is_none() {
        errors.add(
            "data.augmentation.shift",
            "needs image-shaped data (digits, mnist); these rows are not images",
            None,
        );
    }
    let (n_train, n_validation) = match &data.validation {
        ValidationSpec::None => (shape.rows, 0),
        ValidationSpec::Split { fraction, rule } => {
            validation = ValidationPlan::Split {
                fraction: *fraction,
                rule: *rule,
            };
            let (n_train, n_validation) =
                source::split_sizes(shape.rows, &shape.targets, *fraction, *rule);
            if n_train == 0 || n_validation == 0 {
                errors.add(
                    "data.validation_split",
                    format!(
                        "leaves {n_train} training and {n_validation} validation rows of {}; both parts need rows",
                        shape.rows
                    ),
                    None,
                );
            }
            (n_train, n_validation)
        }
        ValidationSpec::Source(second) => {
            let described =
                source::describe(second, "data.validation", classification, catalog, errors);
            let n_validation = described.as_ref().map_or(0, |v| v.shape.rows);
            if let Some(described) = described {
                check_validation_source(&shape, &described.shape, errors);
                validation = ValidationPlan::Source(described.plan);
            }
            (shape.rows, n_validation)
        }
    };
    Some(DataFacts {
        shape,
        source: plan,
        validation,
        n_train,
        n_validation,
    })
}

fn check_validation_source(train: &DataShape, validation: &DataShape, errors: &mut Errors) {
    if validation.features != train.features {
        errors.add(
            "data.validation",
            format!(
                "must have the training data's {} features, got {}",
                train.features, validation.features
            ),
            None,
        );
    }
    match (&train.targets, &validation.targets) {
        (TargetShape::Classes { n_classes: a, .. }, TargetShape::Classes { n_classes: b, .. })
            if b > a =>
        {
            errors.add(
                "data.validation",
                format!("has {b} classes, more than the training data's {a}"),
                None,
            );
        }
        (TargetShape::Values { outputs: a }, TargetShape::Values { outputs: b }) if a != b => {
            errors.add(
                "data.validation",
                format!("must have the training data's {a} target columns, got {b}"),
                None,
            );
        }
        (TargetShape::Classes { .. }, TargetShape::Values { .. })
        | (TargetShape::Values { .. }, TargetShape::Classes { .. }) => {
            errors.add(
                "data.validation",
                "must have the same kind of targets as the training data",
                None,
            );
        }
        _ => {}
    }
}

/// The learning rate is given once. API.md's own example writes the schedule's first rate in
/// `optimizer.learning_rate` too, as one would translate `SGD(0.1, momentum=0.9)` followed by a
/// schedule starting at 0.1; that repetition is accepted when the two agree, and refused when
/// they differ, since one of them would be silently ignored.
fn check_learning_rate(parts: &Parts, errors: &mut Errors) {
    let (Some(optimizer), Some(schedule)) = (&parts.optimizer, &parts.schedule) else {
        return;
    };
    let Some(given) = optimizer.learning_rate else {
        return;
    };
    let (scheduled, field) = match &schedule.kind {
        ScheduleKind::Constant {
            learning_rate: None,
        } => return,
        ScheduleKind::Constant {
            learning_rate: Some(rate),
        } => (*rate, "learning_rate"),
        ScheduleKind::PiecewiseConstantDecay { values, .. } => match values.first() {
            Some(first) => (*first, "values[0]"),
            None => return,
        },
        ScheduleKind::ExponentialDecay {
            initial_learning_rate,
            ..
        }
        | ScheduleKind::PolynomialDecay {
            initial_learning_rate,
            ..
        }
        | ScheduleKind::InverseTimeDecay {
            initial_learning_rate,
            ..
        }
        | ScheduleKind::CosineDecay {
            initial_learning_rate,
            ..
        }
        | ScheduleKind::CosineDecayRestarts {
            initial_learning_rate,
            ..
        } => (*initial_learning_rate, "initial_learning_rate"),
    };
    if given != scheduled {
        errors.add(
            "optimizer.learning_rate",
            format!(
                "the learning rate is given twice and differs: {given} here, {scheduled} in schedule.{field} ({}); give it once",
                schedule.kind.name()
            ),
            None,
        );
    }
}

/// Checks that every residual block keeps its width; returns the output width of `layers`.
fn check_widths(layers: &[LayerSpec], path: &str, input: usize, errors: &mut Errors) -> usize {
    let mut width = input;
    for (index, layer) in layers.iter().enumerate() {
        match layer {
            LayerSpec::Dense { units, .. } => width = *units,
            LayerSpec::Residual { layers: inner } => {
                let inner_path = join(&item(path, index), "layers");
                let inner_width = check_widths(inner, &inner_path, width, errors);
                if inner_width != width {
                    let at = last_units_path(inner, &inner_path).unwrap_or(inner_path);
                    errors.add(
                        at,
                        format!(
                            "the residual block's output width ({inner_width}) must equal its input width ({width}) so the skip connection can add them"
                        ),
                        Some(&Value::from(inner_width)),
                    );
                }
            }
            LayerSpec::Dropout { .. }
            | LayerSpec::BatchNormalization { .. }
            | LayerSpec::Activation { .. } => {}
        }
    }
    width
}

/// The path of the `units` that last sets the width in `layers` (not looking into residual
/// blocks, which keep it).
fn last_units_path(layers: &[LayerSpec], path: &str) -> Option<String> {
    layers
        .iter()
        .rposition(|layer| matches!(layer, LayerSpec::Dense { .. }))
        .map(|index| join(&item(path, index), "units"))
}

/// The activation applied last, and where it is written.
fn output_activation(layers: &[LayerSpec]) -> (ActivationSpec, String) {
    for (index, layer) in layers.iter().enumerate().rev() {
        let path = item("architecture.layers", index);
        match layer {
            LayerSpec::Dense { activation, .. } | LayerSpec::Activation { activation } => {
                return (*activation, join(&path, "activation"));
            }
            LayerSpec::Dropout { .. } => {}
            LayerSpec::BatchNormalization { .. } | LayerSpec::Residual { .. } => {
                return (ActivationSpec::Linear, path);
            }
        }
    }
    (ActivationSpec::Linear, "architecture.layers".to_string())
}

fn check_output(
    layers: &[LayerSpec],
    training: &TrainingSpec,
    data: &DataShape,
    errors: &mut Errors,
) {
    let width = spec_output_width(layers, data.features);
    let width_path = last_units_path(layers, "architecture.layers")
        .unwrap_or_else(|| "architecture.layers".into());
    let (activation, activation_path) = output_activation(layers);
    let loss_name = super::spec::read::name_of(super::spec::training::LOSSES, &training.loss);
    match (&data.targets, training.loss) {
        (TargetShape::Classes { n_classes, .. }, loss)
            if *n_classes < 2 && loss != Loss::MeanSquaredError =>
        {
            errors.add(
                "data",
                format!(
                    "the data has only {n_classes} class; {loss_name} needs at least 2 \
                     to tell apart"
                ),
                None,
            );
        }
        (
            TargetShape::Values { .. },
            Loss::SparseCategoricalCrossentropy
            | Loss::CategoricalCrossentropy
            | Loss::BinaryCrossentropy,
        ) => {
            errors.add(
                "training.loss",
                format!("{loss_name} needs class labels, but the data has real-valued targets; use mean_squared_error"),
                None,
            );
        }
        (TargetShape::Values { outputs }, Loss::MeanSquaredError) => {
            if width != *outputs {
                errors.add(
                    width_path,
                    format!(
                        "the output width must equal the {outputs} target columns, got {width}"
                    ),
                    Some(&Value::from(width)),
                );
            }
        }
        (
            TargetShape::Classes { n_classes, .. },
            Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy,
        ) => {
            if activation != ActivationSpec::Softmax {
                errors.add(
                    activation_path,
                    format!(
                        "{loss_name} needs a softmax output layer, got {}",
                        activation.name()
                    ),
                    None,
                );
            }
            if width != *n_classes {
                errors.add(
                    width_path,
                    format!("the output width must equal the number of classes ({n_classes}) for {loss_name}, got {width}"),
                    Some(&Value::from(width)),
                );
            }
        }
        (TargetShape::Classes { n_classes, .. }, Loss::BinaryCrossentropy) => {
            if activation == ActivationSpec::Softmax {
                errors.add(
                    activation_path,
                    "softmax with binary_crossentropy: a softmax over one unit is always 1; use one sigmoid unit",
                    None,
                );
            } else if activation != ActivationSpec::Sigmoid {
                errors.add(
                    activation_path,
                    format!(
                        "binary_crossentropy needs a sigmoid output layer, got {}",
                        activation.name()
                    ),
                    None,
                );
            }
            if *n_classes != 2 {
                errors.add(
                    "training.loss",
                    format!("binary_crossentropy needs 2 classes, the data has {n_classes}; use sparse_categorical_crossentropy"),
                    None,
                );
            }
            if width != 1 {
                errors.add(
                    width_path,
                    format!("binary_crossentropy with class labels needs an output width of 1, got {width}"),
                    Some(&Value::from(width)),
                );
            }
        }
        (TargetShape::Classes { n_classes, .. }, Loss::MeanSquaredError) => {
            if width != *n_classes {
                errors.add(
                    width_path,
                    format!(
                        "the output width must equal the number of classes ({n_classes}): mean_squared_error compares it with the one-hot labels; got {width}"
                    ),
                    Some(&Value::from(width)),
                );
            }
        }
    }
}

fn spec_output_width(layers: &[LayerSpec], input: usize) -> usize {
    layers.iter().fold(input, |width, layer| match layer {
        LayerSpec::Dense { units, .. } => *units,
        _ => width,
    })
}

fn check_training(
    training: &TrainingSpec,
    facts: &DataFacts,
    data: Option<&DataSpec>,
    errors: &mut Errors,
) {
    if let Some(every) = training.log_every_steps {
        let (_, steps_per_epoch) = batching(training, facts.n_train);
        let steps = (steps_per_epoch as u64).saturating_mul(training.epochs as u64);
        let records = steps / every as u64;
        if records > MAX_STEP_RECORDS {
            errors.add(
                "training.log_every_steps",
                format!(
                    "would store {records} step records over the job's {steps} steps; at most \
                     {MAX_STEP_RECORDS} are stored per job, so it must be at least {}",
                    steps.div_ceil(MAX_STEP_RECORDS)
                ),
                Some(&Value::from(every)),
            );
        }
    }
    if let BatchSize::Samples(batch) = training.batch_size
        && facts.n_train > 0
        && batch > facts.n_train
    {
        errors.add(
            "training.batch_size",
            format!(
                "must be at most the {} training rows, got {batch}",
                facts.n_train
            ),
            Some(&Value::from(batch)),
        );
    }
    let values = matches!(facts.shape.targets, TargetShape::Values { .. });
    for (index, metric) in training.metrics.iter().enumerate() {
        if values && *metric == Metric::Accuracy {
            errors.add(
                item("training.metrics", index),
                "accuracy needs class labels; the data has real-valued targets",
                None,
            );
        }
    }
    if let Some(stopping) = &training.early_stopping {
        let has_validation = data.is_some_and(|d| !matches!(d.validation, ValidationSpec::None));
        if monitor_key(&stopping.monitor, &training.metrics, has_validation).is_none() {
            let keys = logged_keys(&training.metrics, has_validation);
            let hint = if stopping.monitor.starts_with("val_") && !has_validation {
                "; the job has no validation data (set data.validation_split or data.validation)"
            } else {
                ""
            };
            errors.add(
                "training.early_stopping.monitor",
                format!(
                    "must name a key the job logs, one of: {}{hint}",
                    keys.join(", ")
                ),
                Some(&Value::String(stopping.monitor.clone())),
            );
        }
    }
}

/// The keys of the job's epoch records.
fn logged_keys(metrics: &[Metric], has_validation: bool) -> Vec<String> {
    let mut keys = vec!["loss".to_string()];
    keys.extend(
        metrics
            .iter()
            .map(|m| super::spec::read::name_of(METRICS, m).to_string()),
    );
    if has_validation {
        let validation: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
        keys.extend(validation);
    }
    keys
}

/// `monitor` in canonical form (aliases such as `val_acc` resolved), if the job logs it.
fn monitor_key(monitor: &str, metrics: &[Metric], has_validation: bool) -> Option<String> {
    let (prefix, base) = match monitor.strip_prefix("val_") {
        Some(base) => ("val_", base),
        None => ("", monitor),
    };
    if !prefix.is_empty() && !has_validation {
        return None;
    }
    if base == "loss" {
        return Some(format!("{prefix}loss"));
    }
    let metric = METRICS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, m)| *m)?;
    metrics
        .contains(&metric)
        .then(|| format!("{prefix}{}", super::spec::read::name_of(METRICS, &metric)))
}

fn check_dbn(layers: &[LayerSpec], errors: &mut Errors) {
    let dense: Vec<usize> = layers
        .iter()
        .enumerate()
        .filter(|(_, layer)| matches!(layer, LayerSpec::Dense { .. }))
        .map(|(index, _)| index)
        .collect();
    for (index, layer) in layers.iter().enumerate() {
        if let LayerSpec::Residual { .. } = layer {
            errors.add(
                item("architecture.layers", index),
                "dbn_pretraining pre-trains a plain stack of dense layers; a residual block has no RBM counterpart",
                None,
            );
        }
    }
    if dense.len() < 2 {
        errors.add(
            "initializer.type",
            "dbn_pretraining needs at least one hidden dense layer to pre-train",
            None,
        );
        return;
    }
    for &index in &dense[..dense.len() - 1] {
        if let LayerSpec::Dense { activation, .. } = &layers[index]
            && *activation != ActivationSpec::Sigmoid
        {
            errors.add(
                join(&item("architecture.layers", index), "activation"),
                format!(
                    "dbn_pretraining needs sigmoid hidden layers (an RBM's hidden units are sigmoid), got {}",
                    activation.name()
                ),
                None,
            );
        }
    }
}

fn default_name(spec: &JobSpec) -> String {
    let data = match &spec.data.source {
        DataSource::Builtin(builtin) => builtin.name(),
        DataSource::Generated(generated) => generated.name(),
        DataSource::Dataset { .. } => "dataset",
        DataSource::Inline(_) => "inline",
    };
    format!("{data}-{}", spec.optimizer.kind.name())
}

fn build(mut spec: JobSpec, facts: DataFacts, seed_if_absent: u64) -> ValidatedJob {
    // Resolve the learning rate into exactly one place.
    let learning_rate = match &spec.schedule.kind {
        ScheduleKind::Constant { learning_rate } => {
            let rate = learning_rate
                .or(spec.optimizer.learning_rate)
                .unwrap_or_else(|| spec.optimizer.kind.default_learning_rate());
            spec.optimizer.learning_rate = Some(rate);
            spec.schedule.kind = ScheduleKind::Constant {
                learning_rate: None,
            };
            rate
        }
        _ => {
            // The schedule holds the rate; the optimizer's copy (equal, checked) is dropped.
            spec.optimizer.learning_rate = None;
            0.0
        }
    };
    let seed = spec.training.seed.unwrap_or(seed_if_absent);
    spec.training.seed = Some(seed);
    let name = spec.name.clone().unwrap_or_else(|| default_name(&spec));
    spec.name = Some(name.clone());

    let input_width = facts.shape.features;
    let layers: Vec<LayerPlan> = convert::layers(&spec.architecture.layers);
    let parameters = parameter_shapes(&layers, input_width);
    let parameter_count = parameters.iter().map(ParameterShape::len).sum();
    let output_width = crate::train::shape::output_width(&layers, input_width);
    let (batch_size, steps_per_epoch) = batching(&spec.training, facts.n_train);
    let total_steps = steps_per_epoch as u64 * spec.training.epochs as u64;

    let augmentation = Augmentation {
        gaussian_noise: spec.data.augmentation.gaussian_noise as f32,
        shift: spec.data.augmentation.shift,
    };
    let augmentation = (augmentation != Augmentation::default()).then_some(augmentation);
    let data = DataPlan {
        source: facts.source,
        validation: facts.validation,
        standardize: spec.data.standardize,
        shuffle: spec.data.shuffle,
        augmentation,
    };

    let (initialization, warm_start) = match &spec.initializer {
        InitializerSpec::Random(kernel) => (
            Initialization::Random {
                kernel: convert::initializer(*kernel),
            },
            None,
        ),
        InitializerSpec::DbnPretraining {
            epochs,
            learning_rate,
            batch_size,
            cd_steps,
            kernel_initializer,
        } => (
            Initialization::DbnPretraining {
                kernel: convert::initializer(*kernel_initializer),
                config: DbnConfig {
                    epochs: *epochs,
                    learning_rate: *learning_rate as f32,
                    batch_size: *batch_size,
                    cd_steps: *cd_steps,
                },
            },
            None,
        ),
        InitializerSpec::FromJob { job_id } => (
            Initialization::WarmStart {
                parameters: Vec::new(),
            },
            Some(WarmStart::Job(job_id.clone())),
        ),
        InitializerSpec::FromModel { model_id } => (
            Initialization::WarmStart {
                parameters: Vec::new(),
            },
            Some(WarmStart::Model(model_id.clone())),
        ),
    };
    let has_validation = !matches!(spec.data.validation, ValidationSpec::None);
    let early_stopping = spec.training.early_stopping.as_mut().map(|stopping| {
        // Checked above: the monitor names a logged key; store its canonical spelling.
        if let Some(key) = monitor_key(&stopping.monitor, &spec.training.metrics, has_validation) {
            stopping.monitor = key;
        }
        EarlyStoppingConfig {
            monitor: stopping.monitor.clone(),
            min_delta: stopping.min_delta as f32,
            patience: stopping.patience,
            mode: stopping.mode,
            baseline: stopping.baseline.map(|b| b as f32),
            restore_best_weights: stopping.restore_best_weights,
            start_from_epoch: stopping.start_from_epoch,
        }
    });
    let plan = Plan {
        layers,
        initialization,
        optimizer: convert::optimizer(&spec.optimizer),
        schedule: convert::schedule(&spec.schedule.kind, learning_rate),
        schedule_unit: spec.schedule.unit,
        loss: spec.training.loss,
        metrics: spec.training.metrics.clone(),
        batch_size,
        epochs: spec.training.epochs,
        seed,
        shuffle: spec.data.shuffle,
        augmentation,
        early_stopping,
        log_every_steps: spec.training.log_every_steps,
        threads: spec.training.threads,
    };
    ValidatedJob {
        resolved: spec.to_json(),
        spec,
        name,
        seed,
        data,
        warm_start,
        input_width,
        output_width,
        parameters,
        parameter_count,
        n_train: facts.n_train,
        n_validation: facts.n_validation,
        batch_size,
        steps_per_epoch,
        total_steps,
        plan,
    }
}

#[cfg(test)]
mod tests;
