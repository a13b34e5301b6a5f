//! `fit`: Keras's `model.fit` loop over a checked [`Plan`] (K3 `backend/tensorflow/trainer.py`
//! `fit`/`train_step`; NUMERICS §6), with the engine's observer, checkpoint and cancel hooks.
//!
//! Per epoch `e` (0-based; records number epochs from 1): the row order from
//! `Purpose::Shuffle(e)` (identity without shuffling), `ceil(N/bs)` batches with the last
//! partial one a full step, dropout masks from `Purpose::Dropout(e)`, augmentation from
//! `Purpose::Augmentation(e)`. Per batch: the cancel flag is checked; a training-mode forward
//! pass; the loss with penalties (History's `loss` is the batch-size-weighted mean of these
//! pre-update losses, §6.4); gradients; `lr_t = schedule(iterations)` before the update
//! (§2.0), or `schedule(e)` with [`ScheduleUnit::Epoch`]; one optimizer apply. A non-finite
//! loss or weight ends the run at once with [`TrainError::Diverged`]. After the last batch:
//! validation in inference mode (penalties included), the epoch record, early stopping, and a
//! checkpoint when the observer asks for one. Early stopping's best weights are put back at
//! the end whenever a snapshot exists (Keras 3, §6.5).
//!
//! Every random draw comes from a stream keyed by the seed and the epoch, so a run resumed
//! from a [`Checkpoint`] continues bit for bit: one taken at an epoch's end needs no generator
//! state; one taken between two steps of an epoch ([`EpochProgress`]: when the observer asks
//! for a time-based one, or when the cancel flag stops a run whose observer wants one) also
//! carries the batch index, the epoch's running sums and the word positions of the dropout
//! and augmentation streams. The step loop allocates nothing: every buffer is sized for a full
//! batch, and a partial batch uses a prefix.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2};

use super::early_stopping::{EarlyStopping, EarlyStoppingState};
use super::init::Initializer;
use super::init::dbn;
use super::layer::{BuildError, Mode, Role, Variable};
use super::loss::{BatchTargets, Loss};
use super::network::{Network, ParameterError};
use super::optim::{Optimizer, OptimizerState};
use super::plan::{Initialization, LayerPlan, Plan, Tensor};
use super::rng::{Purpose, stream};
use super::schedule::ScheduleUnit;
use super::{EpochRecord, LayerStats, StepRecord};
use crate::data::augment::augment_batch;
use crate::data::batches::permutation_into;
use crate::data::{Dataset, Targets};

/// Receives what training produces as it goes. Only `on_epoch` is required.
pub trait Observer {
    /// After every epoch, validation included.
    fn on_epoch(&mut self, record: &EpochRecord);
    /// Every `log_every_steps` optimizer steps.
    fn on_step(&mut self, _record: &StepRecord) {}
    /// Progress notes: DBN pre-training, early stopping.
    fn on_log(&mut self, _message: &str) {}
    /// Asked after every epoch (numbered from 1): should a checkpoint be taken now?
    fn checkpoint_due(&mut self, _completed_epoch: usize) -> bool {
        false
    }
    /// Asked after every optimizer step that does not end its epoch (`step` counts all steps
    /// taken): should a checkpoint of this step boundary be taken now? Lets time-based
    /// checkpoints land inside long epochs.
    fn checkpoint_due_within_epoch(&mut self, _step: u64) -> bool {
        false
    }
    /// Asked when the cancel flag stops the run between two steps: should a checkpoint of that
    /// boundary be handed to [`Observer::on_checkpoint`] before `fit` returns
    /// [`TrainError::Cancelled`]? (A server shutting down wants one; a user's cancel does not.)
    fn checkpoint_on_cancel(&mut self) -> bool {
        false
    }
    fn on_checkpoint(&mut self, _checkpoint: &Checkpoint) {}
}

/// The trained model and how the run went.
#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    /// Every tensor in forward order, batch-norm moving statistics included; the best
    /// weights when early stopping restored them.
    pub parameters: Vec<Tensor>,
    pub epochs_run: usize,
    /// Optimizer steps taken in total.
    pub steps: u64,
    pub stopped_early: bool,
    /// Epoch (numbered from 1) of the best monitored value, with early stopping.
    pub best_epoch: Option<usize>,
}

/// The state of a run at an optimizer-step boundary, as plain data a store can persist: the
/// end of an epoch, or a point inside one ([`Checkpoint::within_epoch`]).
///
/// `tensors` holds the network's tensors under their names, the optimizer's slots as
/// `optimizer.{variable}.{slot}`, and early stopping's best-weights snapshot as
/// `best.{name}`. `scalars` holds `optimizer.iterations`, `optimizer.u_product` and
/// `early_stopping.{wait, best, best_epoch, stopped_epoch, has_snapshot}` (optional values
/// are left out when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Completed epochs.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    pub tensors: Vec<Tensor>,
    pub scalars: Vec<(String, f64)>,
    /// How far into epoch `epoch + 1` the run was; `None` at an epoch boundary.
    pub within_epoch: Option<EpochProgress>,
}

/// Where a run stood inside an epoch. The epoch's row order comes back from its seeded
/// shuffle; the rest of what the remaining steps and the epoch record depend on is here.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochProgress {
    /// Batches (optimizer steps) of the epoch already taken; at least one.
    pub batches: usize,
    /// `Σ loss × batch rows` so far.
    pub loss_sum: f64,
    /// Training metric sums so far, in `plan.metrics` order.
    pub metric_sums: Vec<f64>,
    /// Per-kernel sums of gradient norms and update ratios so far, in forward order.
    pub grad_norm_sums: Vec<f64>,
    pub ratio_sums: Vec<f64>,
    /// Word positions of the epoch's dropout and augmentation streams.
    pub dropout_position: u128,
    pub augmentation_position: u128,
}

/// Why training did not produce a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("training diverged at epoch {epoch}, step {step}: {what}")]
    Diverged {
        epoch: usize,
        step: u64,
        what: String,
    },
    #[error("training was cancelled at epoch {epoch}, step {step}")]
    Cancelled { epoch: usize, step: u64 },
    #[error("the architecture cannot be built: {0}")]
    Architecture(#[from] BuildError),
    #[error("the warm-start parameters do not fit the architecture: {0}")]
    WarmStart(ParameterError),
    #[error("the checkpoint does not fit this run: {0}")]
    Resume(String),
    #[error("the data does not fit the model: {0}")]
    Data(String),
    #[error("initialization failed: {0}")]
    Initialization(String),
}

const BEST_PREFIX: &str = "best.";

/// Trains `plan` on `train`, validating on `validation` after every epoch; see the module
/// docs for the order of operations. With `resume`, continues from that checkpoint. Runs
/// with subnormals flushed to zero, as Keras does ([`super::denormals`]).
pub fn fit(
    plan: &Plan,
    train: &Dataset,
    validation: Option<&Dataset>,
    resume: Option<&Checkpoint>,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<FitResult, TrainError> {
    let _flush = super::denormals::Flush::new();
    let rows = train.features.nrows();
    if rows == 0 {
        return Err(TrainError::Data("the training set has no rows".into()));
    }
    let batch_size = plan.batch_size.clamp(1, rows);
    let mut network = Network::build(&plan.layers, train.features.ncols(), batch_size)?;
    network.set_threads(plan.threads);
    let in_width = network.input_width();
    let out_width = network.output_width();
    check_targets(&train.targets, rows, out_width, plan.loss, "training")?;
    let validation = validation.filter(|v| v.features.nrows() > 0);
    if let Some(val) = validation {
        if val.features.ncols() != in_width {
            return Err(TrainError::Data(format!(
                "validation rows have {} features, training rows {in_width}",
                val.features.ncols()
            )));
        }
        check_targets(
            &val.targets,
            val.features.nrows(),
            out_width,
            plan.loss,
            "validation",
        )?;
    }

    let trainable: Vec<usize> = network
        .variables
        .iter()
        .filter(|v| v.role.trainable())
        .map(|v| v.values.len())
        .collect();
    let mut optimizer = plan.optimizer.build(&trainable);
    let mut early_stopping = plan
        .early_stopping
        .clone()
        .map(EarlyStopping::new)
        .transpose()
        .map_err(|e| TrainError::Initialization(e.to_string()))?;
    let mut snapshot: Option<Vec<Vec<f32>>> = None;
    let start_epoch = match resume {
        Some(checkpoint) => restore(
            checkpoint,
            plan,
            &mut network,
            &mut optimizer,
            &mut early_stopping,
            &mut snapshot,
        )?,
        None => {
            initialize(plan, train, &mut network, observer, cancel)?;
            0
        }
    };

    let features = train.features.as_standard_layout();
    let features = features
        .as_slice()
        .ok_or_else(|| TrainError::Data("training features are not contiguous".into()))?;
    let train_values = match &train.targets {
        Targets::Values(values) => Some(values.as_standard_layout()),
        Targets::Classes { .. } => None,
    };
    let train_values = train_values.as_ref().and_then(|v| v.as_slice());

    let mut run = Run {
        plan,
        observer,
        cancel,
        batch_size,
        in_width,
        out_width,
        order: vec![0; rows],
        input: vec![0.0; batch_size * in_width],
        raw: vec![0.0; batch_size * in_width],
        labels: vec![0; batch_size],
        values: vec![0.0; batch_size * out_width],
        kernels: kernel_indices(&network),
        grad_norm_sums: Vec::new(),
        ratio_sums: Vec::new(),
        block_sums: Vec::new(),
        metric_sums: vec![0.0; plan.metrics.len()],
        val_metric_sums: vec![0.0; plan.metrics.len()],
        resume_within: resume.and_then(|c| c.within_epoch.clone()),
    };
    run.grad_norm_sums = vec![0.0; run.kernels.len()];
    run.ratio_sums = vec![0.0; run.kernels.len()];
    if plan.threads > 1 {
        let most = run
            .kernels
            .iter()
            .map(|&k| network.variables[k].values.len())
            .max();
        let blocks = most
            .filter(|&n| n >= SHARED_UPDATE)
            .map_or(0, |n| n.div_ceil(BLOCK));
        run.block_sums = vec![BlockSums::ZERO; blocks];
    }

    let already_stopped = early_stopping
        .as_ref()
        .is_some_and(|e| e.stopped_epoch().is_some());
    let mut epochs_run = start_epoch;
    let mut stopped_early = already_stopped;
    if !already_stopped {
        for epoch in start_epoch..plan.epochs {
            let record = run.epoch(
                epoch,
                &mut network,
                &mut optimizer,
                Saved {
                    early_stopping: early_stopping.as_ref(),
                    snapshot: snapshot.as_deref(),
                },
                Inputs {
                    train,
                    features,
                    train_values,
                    validation,
                },
            )?;
            epochs_run = epoch + 1;
            run.observer.on_epoch(&record);
            let mut stop = false;
            if let Some(stopping) = early_stopping.as_mut() {
                let value = monitored(&record, &stopping.config().monitor);
                let decision = stopping.on_epoch_end(epoch, value);
                if decision.snapshot {
                    let values = snapshot.get_or_insert_with(|| {
                        network.variables.iter().map(|v| v.values.clone()).collect()
                    });
                    for (saved, variable) in values.iter_mut().zip(&network.variables) {
                        saved.copy_from_slice(&variable.values);
                    }
                }
                if decision.stop {
                    stop = true;
                    run.observer
                        .on_log(&format!("early stopping at epoch {}", epoch + 1));
                }
            }
            if run.observer.checkpoint_due(epoch + 1) {
                let checkpoint = take_checkpoint(
                    epoch + 1,
                    &network,
                    &optimizer,
                    early_stopping.as_ref(),
                    snapshot.as_deref(),
                    None,
                );
                run.observer.on_checkpoint(&checkpoint);
            }
            if stop {
                stopped_early = true;
                break;
            }
        }
    }
    if let (Some(stopping), Some(values)) = (early_stopping.as_ref(), snapshot.as_ref())
        && stopping.restore_at_end()
    {
        for (variable, saved) in network.variables.iter_mut().zip(values) {
            variable.values.copy_from_slice(saved);
        }
    }
    Ok(FitResult {
        parameters: network.tensors(),
        epochs_run,
        steps: optimizer.iterations(),
        stopped_early,
        best_epoch: early_stopping
            .as_ref()
            .and_then(EarlyStopping::best_epoch)
            .map(|e| e + 1),
    })
}

/// The buffers and settings of one run, reused by every epoch.
struct Run<'a> {
    plan: &'a Plan,
    observer: &'a mut dyn Observer,
    cancel: &'a AtomicBool,
    batch_size: usize,
    in_width: usize,
    out_width: usize,
    order: Vec<usize>,
    /// The batch fed to the network (augmented when augmentation is on).
    input: Vec<f32>,
    /// The gathered batch before augmentation.
    raw: Vec<f32>,
    labels: Vec<u32>,
    values: Vec<f32>,
    /// Variable indices of the kernels, in forward order.
    kernels: Vec<usize>,
    grad_norm_sums: Vec<f64>,
    ratio_sums: Vec<f64>,
    /// Per-block statistics of a kernel updated on several threads (empty on one thread).
    block_sums: Vec<BlockSums>,
    /// Training metrics summed over the epoch's batches.
    metric_sums: Vec<f64>,
    /// Validation metrics, kept apart so that evaluating never overwrites the training sums.
    val_metric_sums: Vec<f64>,
    /// Where the first epoch run continues from, when resuming inside an epoch.
    resume_within: Option<EpochProgress>,
}

/// The state besides the network and the optimizer that a checkpoint holds.
#[derive(Clone, Copy)]
struct Saved<'a> {
    early_stopping: Option<&'a EarlyStopping>,
    snapshot: Option<&'a [Vec<f32>]>,
}

/// The training data as the step loop reads it.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    train: &'a Dataset,
    /// `train.features` in row-major order.
    features: &'a [f32],
    /// `train`'s regression targets in row-major order.
    train_values: Option<&'a [f32]>,
    validation: Option<&'a Dataset>,
}

impl Run<'_> {
    /// Epoch `epoch` (0-based), from its first batch or from where [`Run::resume_within`] left
    /// it; checkpoints inside it when the observer asks.
    fn epoch(
        &mut self,
        epoch: usize,
        network: &mut Network,
        optimizer: &mut Optimizer,
        saved: Saved<'_>,
        inputs: Inputs<'_>,
    ) -> Result<EpochRecord, TrainError> {
        let Inputs {
            train,
            features,
            train_values,
            validation,
        } = inputs;
        let plan = self.plan;
        let rows = self.order.len();
        let (in_width, out_width) = (self.in_width, self.out_width);
        permutation_into(&mut self.order, plan.seed, epoch, plan.shuffle);
        let mut dropout = stream(plan.seed, Purpose::Dropout(epoch));
        let mut augmentation_rng = stream(plan.seed, Purpose::Augmentation(epoch));
        let augmentation = plan.augmentation.filter(|a| !a.is_off());
        let epoch_rate = plan.schedule.learning_rate(epoch as u64);
        self.grad_norm_sums.fill(0.0);
        self.ratio_sums.fill(0.0);
        self.metric_sums.fill(0.0);
        let mut loss_sum = 0.0f64;
        let mut steps_this_epoch = 0usize;
        if let Some(progress) = self.resume_within.take() {
            loss_sum = progress.loss_sum;
            steps_this_epoch = progress.batches;
            self.continue_from(&progress, rows)?;
            dropout.set_word_pos(progress.dropout_position);
            augmentation_rng.set_word_pos(progress.augmentation_position);
        }
        // Hands the observer a checkpoint of epoch `epoch` after `batches` of its steps, with
        // where the epoch stands when that is inside it.
        let checkpoint_here =
            |run: &mut Run<'_>,
             network: &Network,
             optimizer: &Optimizer,
             batches: usize,
             loss_sum: f64,
             dropout: &rand_chacha::ChaCha8Rng,
             augmentation_rng: &rand_chacha::ChaCha8Rng| {
                let within = (batches > 0).then(|| EpochProgress {
                    batches,
                    loss_sum,
                    metric_sums: run.metric_sums.clone(),
                    grad_norm_sums: run.grad_norm_sums.clone(),
                    ratio_sums: run.ratio_sums.clone(),
                    dropout_position: dropout.get_word_pos(),
                    augmentation_position: augmentation_rng.get_word_pos(),
                });
                let checkpoint = take_checkpoint(
                    epoch,
                    network,
                    optimizer,
                    saved.early_stopping,
                    saved.snapshot,
                    within,
                );
                run.observer.on_checkpoint(&checkpoint);
            };

        let mut start = steps_this_epoch * self.batch_size;
        while start < rows {
            let n = self.batch_size.min(rows - start);
            let step = optimizer.iterations();
            if self.cancel.load(Ordering::Relaxed) {
                if self.observer.checkpoint_on_cancel() {
                    checkpoint_here(
                        self,
                        network,
                        optimizer,
                        steps_this_epoch,
                        loss_sum,
                        &dropout,
                        &augmentation_rng,
                    );
                }
                return Err(TrainError::Cancelled {
                    epoch: epoch + 1,
                    step,
                });
            }
            let batch = &self.order[start..start + n];
            let gathered = if augmentation.is_some() {
                &mut self.raw
            } else {
                &mut self.input
            };
            for (slot, &row) in gathered.chunks_exact_mut(in_width).zip(batch) {
                slot.copy_from_slice(&features[row * in_width..(row + 1) * in_width]);
            }
            if let Some(augmentation) = augmentation.as_ref() {
                let shape = (n, in_width);
                let src = ArrayView2::from_shape(shape, &self.raw[..n * in_width]);
                let dst = ArrayViewMut2::from_shape(shape, &mut self.input[..n * in_width]);
                if let (Ok(src), Ok(dst)) = (src, dst) {
                    augment_batch(
                        src,
                        dst,
                        augmentation,
                        train.image_shape,
                        &mut augmentation_rng,
                    )
                    .map_err(|e| TrainError::Data(e.to_string()))?;
                }
            }
            let targets = match (&train.targets, train_values) {
                (Targets::Classes { labels, .. }, _) => {
                    for (slot, &row) in self.labels.iter_mut().zip(batch) {
                        *slot = labels[row];
                    }
                    BatchTargets::Classes(&self.labels[..n])
                }
                (Targets::Values(_), Some(values)) => {
                    for (slot, &row) in self.values.chunks_exact_mut(out_width).zip(batch) {
                        slot.copy_from_slice(&values[row * out_width..(row + 1) * out_width]);
                    }
                    BatchTargets::Values(&self.values[..n * out_width])
                }
                (Targets::Values(_), None) => {
                    return Err(TrainError::Data(
                        "training targets are not contiguous".into(),
                    ));
                }
            };

            let input = &self.input[..n * in_width];
            let keep_output = !plan.metrics.is_empty();
            let loss = network.train_batch(input, targets, n, plan.loss, &mut dropout, keep_output);
            if !loss.is_finite() {
                return Err(TrainError::Diverged {
                    epoch: epoch + 1,
                    step: step + 1,
                    what: format!("the loss is {loss}"),
                });
            }
            loss_sum += f64::from(loss) * n as f64;
            let output = network.output(input, n);
            for (sum, metric) in self.metric_sums.iter_mut().zip(&plan.metrics) {
                *sum += metric.batch_sum(plan.loss, output, targets, out_width);
            }

            let learning_rate = match plan.schedule_unit {
                ScheduleUnit::Step => plan.schedule.learning_rate(step),
                ScheduleUnit::Epoch => epoch_rate,
            };
            self.apply(network, optimizer, learning_rate)
                .map_err(|what| TrainError::Diverged {
                    epoch: epoch + 1,
                    step: step + 1,
                    what,
                })?;
            steps_this_epoch += 1;
            if let Some(every) = plan.log_every_steps
                && every > 0
                && optimizer.iterations().is_multiple_of(every as u64)
            {
                self.observer.on_step(&StepRecord {
                    epoch: epoch + 1,
                    step: optimizer.iterations(),
                    loss,
                    learning_rate,
                });
            }
            start += n;
            if start < rows
                && self
                    .observer
                    .checkpoint_due_within_epoch(optimizer.iterations())
            {
                checkpoint_here(
                    self,
                    network,
                    optimizer,
                    steps_this_epoch,
                    loss_sum,
                    &dropout,
                    &augmentation_rng,
                );
            }
        }

        let (val_loss, val_metrics) = match validation {
            Some(val) => {
                let (loss, metrics) = self.evaluate(network, val)?;
                (Some(loss), metrics)
            }
            None => (None, Vec::new()),
        };
        let steps = steps_this_epoch.max(1) as f64;
        let layers = self
            .kernels
            .iter()
            .enumerate()
            .map(|(index, &k)| {
                let variable = &network.variables[k];
                LayerStats {
                    index,
                    name: variable
                        .name
                        .strip_suffix(".kernel")
                        .unwrap_or(&variable.name)
                        .to_string(),
                    grad_norm: (self.grad_norm_sums[index] / steps) as f32,
                    weight_norm: norm(&variable.values) as f32,
                    update_ratio: (self.ratio_sums[index] / steps) as f32,
                }
            })
            .collect();
        let learning_rate = match plan.schedule_unit {
            ScheduleUnit::Step => plan.schedule.learning_rate(optimizer.iterations()),
            ScheduleUnit::Epoch => epoch_rate,
        };
        Ok(EpochRecord {
            epoch: epoch + 1,
            step: optimizer.iterations(),
            loss: (loss_sum / rows as f64) as f32,
            metrics: plan
                .metrics
                .iter()
                .zip(&self.metric_sums)
                .map(|(m, &sum)| (m.keras_name().to_string(), (sum / rows as f64) as f32))
                .collect(),
            val_loss,
            val_metrics,
            learning_rate,
            layers,
        })
    }

    /// Puts back the sums of an epoch resumed after `progress.batches` steps, after checking
    /// that they fit this run.
    fn continue_from(&mut self, progress: &EpochProgress, rows: usize) -> Result<(), TrainError> {
        let fits = progress.batches > 0
            && progress.batches * self.batch_size < rows
            && progress.metric_sums.len() == self.metric_sums.len()
            && progress.grad_norm_sums.len() == self.grad_norm_sums.len()
            && progress.ratio_sums.len() == self.ratio_sums.len();
        if !fits {
            return Err(TrainError::Resume(format!(
                "its position inside the epoch (batch {} of a {rows}-row epoch in batches of {}, \
                 {} metric and {} kernel sums) does not fit this run",
                progress.batches,
                self.batch_size,
                progress.metric_sums.len(),
                progress.grad_norm_sums.len(),
            )));
        }
        self.metric_sums.copy_from_slice(&progress.metric_sums);
        self.grad_norm_sums
            .copy_from_slice(&progress.grad_norm_sums);
        self.ratio_sums.copy_from_slice(&progress.ratio_sums);
        Ok(())
    }

    /// One optimizer apply over every trainable variable, with the layer statistics; an
    /// `Err` names the first non-finite weight. A kernel's statistics are taken block by
    /// block inside its update ([`Optimizer::update_in_blocks`]), so each block of weights,
    /// gradient and slots is read from memory once.
    fn apply(
        &mut self,
        network: &mut Network,
        optimizer: &mut Optimizer,
        learning_rate: f32,
    ) -> Result<(), String> {
        let global = if optimizer.needs_global_norm() {
            network
                .variables
                .iter()
                .filter(|v| v.role.trainable())
                .map(|v| v.gradient.iter().map(|g| g * g).sum::<f32>())
                .sum()
        } else {
            0.0
        };
        // The gradient norm is the raw gradient's: with clipping on it is taken before the
        // update clips it, otherwise inside the update.
        let clips = optimizer.clips();
        optimizer.begin_step(learning_rate, global);
        let mut kernel = 0;
        let mut first_non_finite = None;
        let trainable = network
            .variables
            .iter_mut()
            .enumerate()
            .filter(|(_, v)| v.role.trainable());
        for (index, (position, variable)) in trainable.enumerate() {
            let finite = if self.kernels.get(kernel) == Some(&position) {
                let parts = if variable.values.len() >= SHARED_UPDATE {
                    self.plan.threads
                } else {
                    1
                };
                let stats = kernel_update(
                    optimizer,
                    index,
                    variable,
                    clips,
                    parts,
                    &mut self.block_sums,
                );
                self.grad_norm_sums[kernel] += stats.gradient_norm;
                if stats.finite && stats.weight_norm > 0.0 {
                    self.ratio_sums[kernel] += stats.moved / stats.weight_norm;
                }
                kernel += 1;
                stats.finite
            } else {
                optimizer.update(index, &mut variable.values, &mut variable.gradient)
            };
            if !finite && first_non_finite.is_none() {
                first_non_finite = Some(position);
            }
        }
        optimizer.end_step();
        match first_non_finite {
            Some(position) => Err(format!(
                "`{}` is not finite after the update",
                network.variables[position].name
            )),
            None => Ok(()),
        }
    }

    /// Validation loss (penalties included) and metrics in inference mode, in batches of
    /// `batch_size` rows, each batch's loss weighted by its size as Keras's `evaluate` does.
    fn evaluate(
        &mut self,
        network: &mut Network,
        val: &Dataset,
    ) -> Result<(f32, Vec<(String, f32)>), TrainError> {
        let plan = self.plan;
        let rows = val.features.nrows();
        let (in_width, out_width) = (self.in_width, self.out_width);
        let features = val.features.as_standard_layout();
        let features = features
            .as_slice()
            .ok_or_else(|| TrainError::Data("validation features are not contiguous".into()))?;
        let values = match &val.targets {
            Targets::Values(values) => Some(values.as_standard_layout()),
            Targets::Classes { .. } => None,
        };
        let values = values.as_ref().and_then(|v| v.as_slice());
        let penalty = network.penalty();
        self.val_metric_sums.fill(0.0);
        let mut loss_sum = 0.0f64;
        let mut start = 0;
        while start < rows {
            let n = self.batch_size.min(rows - start);
            let input = &features[start * in_width..(start + n) * in_width];
            let targets = match (&val.targets, values) {
                (Targets::Classes { labels, .. }, _) => {
                    BatchTargets::Classes(&labels[start..start + n])
                }
                (Targets::Values(_), Some(values)) => {
                    BatchTargets::Values(&values[start * out_width..(start + n) * out_width])
                }
                (Targets::Values(_), None) => {
                    return Err(TrainError::Data(
                        "validation targets are not contiguous".into(),
                    ));
                }
            };
            network.forward(input, n, &mut Mode::Inference);
            let loss = network.data_loss(input, targets, n, plan.loss) + penalty;
            loss_sum += f64::from(loss) * n as f64;
            let output = network.output(input, n);
            for (sum, metric) in self.val_metric_sums.iter_mut().zip(&plan.metrics) {
                *sum += metric.batch_sum(plan.loss, output, targets, out_width);
            }
            start += n;
        }
        let metrics = plan
            .metrics
            .iter()
            .zip(&self.val_metric_sums)
            .map(|(m, &sum)| (m.keras_name().to_string(), (sum / rows as f64) as f32))
            .collect();
        Ok(((loss_sum / rows as f64) as f32, metrics))
    }
}

/// Independent partial sums in the statistics below: a single running f64 sum waits on
/// every addition's latency, which made the per-step layer statistics cost more than the
/// step itself on small networks. Eight lanes vectorize; the order is fixed, so the result
/// is the same on every run.
const LANES: usize = 8;

/// `‖v‖₂`, accumulated in f64.
fn norm(values: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(v) * f64::from(v);
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += f64::from(v) * f64::from(v);
    }
    lanes.iter().sum::<f64>().sqrt()
}

use super::optim::BlockSums;
use super::optim::watch::LANES as F32_LANES;

/// Per-step statistics sum in f32 over blocks of `BLOCK` values in [`F32_LANES`]
/// independent lanes (two AVX-512 registers, four AVX2 ones; `optim::watch`), then add each
/// block's lanes in f64 pairwise ([`reduce`]): the f32 loop runs at twice the f64 width, each
/// f32 lane sums only `BLOCK / F32_LANES` terms, and no sum waits on a long chain of dependent
/// additions (the latency of such chains was most of the statistics' cost on small kernels).
/// The order is fixed, so a run replays bit for bit. 2048 values (64 per lane) keep each
/// lane's sum short while a whole small kernel is one block: each block is a vector pass of
/// its own with its sums handed back and reduced, and W5's 32 × 32 kernels, two blocks each
/// at 512, spent 3 % of its step on that.
const BLOCK: usize = 2048;

/// `Σ f(a_i, b_i)²` over equal-length slices, blocked as described at [`BLOCK`]: the order
/// the statistics taken inside the update follow, written out plainly for their tests.
#[cfg(test)]
fn blocked_squares(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    a.chunks(BLOCK)
        .zip(b.chunks(BLOCK))
        .map(|(block_a, block_b)| block_squares(block_a, block_b, &f))
        .sum()
}

/// `Σ f(a_i, b_i)²` over one block: [`F32_LANES`] f32 lanes, each square added by a fused
/// multiply-add (as `optim::watch` adds them), then the lanes added in f64.
#[inline(always)]
fn block_squares(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; F32_LANES];
    let mut a_chunks = a.chunks_exact(F32_LANES);
    let mut b_chunks = b.chunks_exact(F32_LANES);
    for (ca, cb) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..F32_LANES {
            let term = f(ca[lane], cb[lane]);
            lanes[lane] = term.mul_add(term, lanes[lane]);
        }
    }
    for ((lane, &x), &y) in lanes
        .iter_mut()
        .zip(a_chunks.remainder())
        .zip(b_chunks.remainder())
    {
        let term = f(x, y);
        *lane = term.mul_add(term, *lane);
    }
    reduce(lanes)
}

/// The lanes' sum in f64, pairwise: lane `i` and lane `i + 16`, then `i` and `i + 8`, and so on.
#[inline(always)]
fn reduce(lanes: [f32; F32_LANES]) -> f64 {
    let mut wide = lanes.map(f64::from);
    let mut width = F32_LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            wide[i] += wide[i + width];
        }
    }
    wide[0]
}

/// What one kernel's update shows: `‖g‖₂` of its raw gradient, `‖W‖₂` before the update,
/// `‖ΔW‖₂` of the update, and whether every new weight is finite.
pub(crate) struct KernelStats {
    gradient_norm: f64,
    weight_norm: f64,
    moved: f64,
    finite: bool,
}

/// Kernels with at least this many values are updated on all of a job's threads, each thread
/// updating the rows whose gradient it computed (`layer::product` shares the kernel gradient
/// out by rows from 2²³ multiply-adds, which a kernel this size reaches from a batch of 128).
/// Updating all of W4's first kernel on the training thread, half its gradient read from the
/// other core, took 200–290 µs a step on two Zen 4 cores, against 115–124 on one.
const SHARED_UPDATE: usize = 1 << 16;

/// Updates the kernel `variable` (optimizer variable `index`) and takes its statistics in the
/// same pass, block by block; every sum is [`blocked_squares`]'s, bit for bit, and the
/// differences `ΔW` are taken in f32. With `parts > 1` and room in `block_sums` for every
/// block, rules that can ([`Optimizer::update_in_parts`]) update on that many threads and the
/// blocks' sums are added afterwards, in the same order.
pub(crate) fn kernel_update(
    optimizer: &mut Optimizer,
    index: usize,
    variable: &mut Variable,
    clips: bool,
    parts: usize,
    block_sums: &mut [BlockSums],
) -> KernelStats {
    super::simd::dispatch(
        #[inline(always)]
        || {
            let (mut gradient_squares, mut weight_squares, mut moved_squares) =
                (0.0f64, 0.0f64, 0.0f64);
            if clips {
                for g in variable.gradient.chunks(BLOCK) {
                    gradient_squares += block_squares(g, g, |x, _| x);
                }
            }
            let mut finite = true;
            let mut see = |sums: &BlockSums| {
                if !clips {
                    gradient_squares += reduce(sums.gradient);
                }
                weight_squares += reduce(sums.before);
                moved_squares += reduce(sums.moved);
                finite &= sums.all_finite();
            };
            let blocks = variable.values.len().div_ceil(BLOCK);
            let shared = parts > 1
                && block_sums.len() >= blocks
                && optimizer.update_in_parts::<BLOCK>(
                    index,
                    &mut variable.values,
                    &mut variable.gradient,
                    parts,
                    &mut block_sums[..blocks],
                );
            if shared {
                block_sums[..blocks].iter().for_each(&mut see);
            } else {
                optimizer.update_in_blocks::<BLOCK>(
                    index,
                    &mut variable.values,
                    &mut variable.gradient,
                    &mut see,
                );
            }
            KernelStats {
                gradient_norm: gradient_squares.sqrt(),
                weight_norm: weight_squares.sqrt(),
                moved: moved_squares.sqrt(),
                finite,
            }
        },
    )
}

fn kernel_indices(network: &Network) -> Vec<usize> {
    network
        .variables
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v.role, Role::Kernel(_)))
        .map(|(k, _)| k)
        .collect()
}

/// The value early stopping watches: `loss`, `val_loss`, a metric or a `val_` metric.
fn monitored(record: &EpochRecord, monitor: &str) -> Option<f32> {
    if monitor == "loss" {
        return Some(record.loss);
    }
    if monitor == "val_loss" {
        return record.val_loss;
    }
    if let Some(name) = monitor.strip_prefix("val_") {
        return record
            .val_metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v);
    }
    record
        .metrics
        .iter()
        .find(|(n, _)| n == monitor)
        .map(|&(_, v)| v)
}

/// Targets must match the rows and the output width, and class labels the loss.
fn check_targets(
    targets: &Targets,
    rows: usize,
    width: usize,
    loss: Loss,
    which: &str,
) -> Result<(), TrainError> {
    let fail = |message: String| Err(TrainError::Data(format!("{which} targets: {message}")));
    match targets {
        Targets::Classes { labels, .. } => {
            if labels.len() != rows {
                return fail(format!("{} labels for {rows} rows", labels.len()));
            }
            let largest = labels.iter().copied().max().unwrap_or(0) as usize;
            let binary_column =
                width == 1 && matches!(loss, Loss::BinaryCrossentropy) && largest > 1;
            if binary_column {
                return fail(format!(
                    "binary crossentropy on one unit needs labels 0/1, found {largest}"
                ));
            }
            if width > 1 && largest >= width {
                return fail(format!(
                    "label {largest} does not fit an output of {width} units"
                ));
            }
            if width == 1
                && matches!(
                    loss,
                    Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy
                )
                && largest > 0
            {
                return fail(format!(
                    "label {largest} does not fit an output of one unit"
                ));
            }
        }
        Targets::Values(values) => {
            if matches!(loss, Loss::SparseCategoricalCrossentropy) {
                return fail("sparse categorical crossentropy needs class labels".into());
            }
            if values.nrows() != rows || values.ncols() != width {
                return fail(format!(
                    "values are {}×{}, the model produces {rows}×{width}",
                    values.nrows(),
                    values.ncols()
                ));
            }
        }
    }
    Ok(())
}

/// Gives every variable its first value, as `plan.initialization` says.
fn initialize(
    plan: &Plan,
    train: &Dataset,
    network: &mut Network,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<(), TrainError> {
    let default_kernel = match &plan.initialization {
        Initialization::Random { kernel } => *kernel,
        Initialization::DbnPretraining { kernel, .. } => *kernel,
        Initialization::WarmStart { parameters } => {
            return network.load(parameters).map_err(TrainError::WarmStart);
        }
    };
    let mut initializers = Vec::new();
    variable_initializers(&plan.layers, default_kernel, &mut initializers);
    let mut rng = stream(plan.seed, Purpose::Init);
    for (variable, initializer) in network.variables.iter_mut().zip(&initializers) {
        if let Some(initializer) = initializer {
            initializer
                .fill(&mut variable.values, &variable.shape, &mut rng)
                .map_err(|e| TrainError::Initialization(format!("{}: {e}", variable.name)))?;
        }
    }
    if let Initialization::DbnPretraining { config, .. } = &plan.initialization {
        pretrain(plan, train, network, config, observer, cancel)?;
    }
    Ok(())
}

/// The initializer of every variable in forward order (`None`: keep the built value, as for
/// batch-norm's fixed defaults).
fn variable_initializers(
    layers: &[LayerPlan],
    default_kernel: Initializer,
    out: &mut Vec<Option<Initializer>>,
) {
    for layer in layers {
        match layer {
            LayerPlan::Dense {
                kernel_initializer,
                bias_initializer,
                use_bias,
                ..
            } => {
                out.push(Some(kernel_initializer.unwrap_or(default_kernel)));
                if *use_bias {
                    out.push(Some(*bias_initializer));
                }
            }
            LayerPlan::BatchNormalization { .. } => out.extend([None, None, None, None]),
            LayerPlan::Residual { layers } => variable_initializers(layers, default_kernel, out),
            LayerPlan::Dropout { .. } | LayerPlan::Activation(_) => {}
        }
    }
}

/// Greedy RBM pre-training of the hidden dense layers: every top-level dense layer but the
/// last, which must chain (each one's inputs are the previous one's units, the first one's
/// the features). Their kernels and biases are overwritten with the RBMs'.
fn pretrain(
    plan: &Plan,
    train: &Dataset,
    network: &mut Network,
    config: &dbn::DbnConfig,
    observer: &mut dyn Observer,
    cancel: &AtomicBool,
) -> Result<(), TrainError> {
    let dense: Vec<(usize, usize)> = network
        .variables
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            matches!(v.role, Role::Kernel(_)) && v.name.matches(".layers.").count() == 0
        })
        .map(|(k, v)| (k, v.shape[1]))
        .collect();
    let hidden = &dense[..dense.len().saturating_sub(1)];
    if hidden.is_empty() {
        return Ok(());
    }
    let mut width = train.features.ncols();
    for &(k, units) in hidden {
        if network.variables[k].shape[0] != width {
            return Err(TrainError::Initialization(format!(
                "DBN pre-training needs the hidden dense layers to follow one another; `{}` takes {} inputs, not {width}",
                network.variables[k].name, network.variables[k].shape[0]
            )));
        }
        width = units;
    }
    let sizes: Vec<usize> = hidden.iter().map(|&(_, units)| units).collect();
    let mut rng = stream(plan.seed, Purpose::Pretraining);
    let mut progress = |layer: usize, epoch: usize, error: f32| {
        observer.on_log(&format!(
            "dbn pre-training: layer {} epoch {epoch}: reconstruction error {error:.6}",
            layer + 1
        ));
    };
    let layers = dbn::pretrain(
        train.features.view(),
        &sizes,
        config,
        &mut rng,
        &mut progress,
        cancel,
    )
    .map_err(|e| match e {
        dbn::DbnError::Cancelled => TrainError::Cancelled { epoch: 0, step: 0 },
        other => TrainError::Initialization(other.to_string()),
    })?;
    for (&(k, _), layer) in hidden.iter().zip(layers) {
        network.variables[k].values.copy_from_slice(&layer.kernel);
        let bias_name = network.variables[k].name.replace(".kernel", ".bias");
        if let Some(bias) = network.variables.iter_mut().find(|v| v.name == bias_name) {
            bias.values.copy_from_slice(&layer.bias);
        }
    }
    Ok(())
}

fn take_checkpoint(
    epoch: usize,
    network: &Network,
    optimizer: &Optimizer,
    early_stopping: Option<&EarlyStopping>,
    snapshot: Option<&[Vec<f32>]>,
    within_epoch: Option<EpochProgress>,
) -> Checkpoint {
    let mut tensors = network.tensors();
    let state = optimizer.state();
    tensors.extend(state.tensors);
    if let Some(values) = snapshot {
        for (variable, saved) in network.variables.iter().zip(values) {
            tensors.push(Tensor {
                name: format!("{BEST_PREFIX}{}", variable.name),
                shape: variable.shape.clone(),
                values: saved.clone(),
            });
        }
    }
    let mut scalars = vec![
        ("optimizer.iterations".to_string(), state.iterations as f64),
        (
            "optimizer.u_product".to_string(),
            f64::from(state.u_product),
        ),
    ];
    if let Some(stopping) = early_stopping {
        let s = stopping.state();
        scalars.push(("early_stopping.wait".into(), s.wait as f64));
        if let Some(best) = s.best {
            scalars.push(("early_stopping.best".into(), f64::from(best)));
        }
        scalars.push(("early_stopping.best_epoch".into(), s.best_epoch as f64));
        if let Some(stopped) = s.stopped_epoch {
            scalars.push(("early_stopping.stopped_epoch".into(), stopped as f64));
        }
        scalars.push((
            "early_stopping.has_snapshot".into(),
            f64::from(u8::from(s.has_snapshot)),
        ));
    }
    Checkpoint {
        epoch,
        step: optimizer.iterations(),
        tensors,
        scalars,
        within_epoch,
    }
}

/// Loads a checkpoint into a freshly built run; returns the epoch to continue with.
fn restore(
    checkpoint: &Checkpoint,
    plan: &Plan,
    network: &mut Network,
    optimizer: &mut Optimizer,
    early_stopping: &mut Option<EarlyStopping>,
    snapshot: &mut Option<Vec<Vec<f32>>>,
) -> Result<usize, TrainError> {
    let fail = |message: String| TrainError::Resume(message);
    let unfinished = usize::from(checkpoint.within_epoch.is_some());
    if checkpoint.epoch + unfinished > plan.epochs {
        return Err(fail(format!(
            "it was taken after epoch {}, the plan has {} epochs",
            checkpoint.epoch, plan.epochs
        )));
    }
    let scalar = |name: &str| {
        checkpoint
            .scalars
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    };
    let network_tensors: Vec<Tensor> = checkpoint
        .tensors
        .iter()
        .filter(|t| !t.name.starts_with("optimizer.") && !t.name.starts_with(BEST_PREFIX))
        .cloned()
        .collect();
    network
        .load(&network_tensors)
        .map_err(|e| fail(e.to_string()))?;
    let state = OptimizerState {
        iterations: checkpoint.step,
        u_product: scalar("optimizer.u_product").unwrap_or(1.0) as f32,
        tensors: checkpoint
            .tensors
            .iter()
            .filter(|t| t.name.starts_with("optimizer."))
            .cloned()
            .collect(),
    };
    optimizer.restore(&state).map_err(|e| fail(e.to_string()))?;
    if let Some(stopping) = early_stopping.take() {
        let state = EarlyStoppingState {
            wait: scalar("early_stopping.wait").unwrap_or(0.0) as usize,
            best: scalar("early_stopping.best").map(|v| v as f32),
            best_epoch: scalar("early_stopping.best_epoch").unwrap_or(0.0) as usize,
            stopped_epoch: scalar("early_stopping.stopped_epoch").map(|v| v as usize),
            has_snapshot: scalar("early_stopping.has_snapshot").unwrap_or(0.0) != 0.0,
        };
        let config = stopping.config().clone();
        *early_stopping =
            Some(EarlyStopping::restore(config, state).map_err(|e| fail(e.to_string()))?);
        if state.has_snapshot {
            let mut values = Vec::with_capacity(network.variables.len());
            for variable in &network.variables {
                let name = format!("{BEST_PREFIX}{}", variable.name);
                let tensor = checkpoint
                    .tensors
                    .iter()
                    .find(|t| t.name == name && t.values.len() == variable.values.len())
                    .ok_or_else(|| fail(format!("the best-weights tensor `{name}` is missing")))?;
                values.push(tensor.values.clone());
            }
            *snapshot = Some(values);
        }
    }
    Ok(checkpoint.epoch)
}

#[cfg(test)]
mod statistics_tests {
    use super::*;
    use crate::train::optim::{Clip, OptimizerConfig, OptimizerKind};
    use crate::train::regularizer::Regularizer;

    fn kernel(values: Vec<f32>, gradient: Vec<f32>) -> Variable {
        Variable {
            name: "layers.0.kernel".into(),
            shape: vec![values.len()],
            values,
            gradient,
            role: Role::Kernel(Regularizer::default()),
        }
    }

    fn sgd(clip: Clip, size: usize) -> Optimizer {
        let config = OptimizerConfig {
            kind: OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            clip,
            weight_decay: None,
        };
        let mut optimizer = config.build(&[size]);
        optimizer.begin_step(1.0, 0.0);
        optimizer
    }

    /// 3-4-12 triangles spread over the lanes and the remainder: ‖v‖ = 13 exactly, and SGD
    /// at rate 1 with gradient 2v moves the weights to −v, a distance of 26.
    #[test]
    fn the_lane_sums_give_exact_norms_and_distances() {
        let mut v = vec![0.0f32; 19];
        (v[2], v[9], v[18]) = (3.0, 4.0, 12.0);
        assert_eq!(norm(&v), 13.0);
        let gradient: Vec<f32> = v.iter().map(|x| 2.0 * x).collect();
        let mut variable = kernel(v.clone(), gradient);
        let stats = kernel_update(
            &mut sgd(Clip::None, 19),
            0,
            &mut variable,
            false,
            1,
            &mut [],
        );
        assert_eq!(
            (
                stats.gradient_norm,
                stats.weight_norm,
                stats.moved,
                stats.finite
            ),
            (26.0, 13.0, 26.0, true)
        );
        assert_eq!(variable.values, v.iter().map(|x| -x).collect::<Vec<_>>());
        v[17] = f32::NAN;
        // A bias's update (no statistics) reports the non-finite weight as well.
        let mut bias = v.clone();
        assert!(!sgd(Clip::None, 19).update(0, &mut bias, &mut [0.0; 19]));
        let mut finite = vec![1.0; 19];
        assert!(sgd(Clip::None, 19).update(0, &mut finite, &mut [0.5; 19]));
        let mut variable = kernel(v, vec![0.0; 19]);
        assert!(
            !kernel_update(
                &mut sgd(Clip::None, 19),
                0,
                &mut variable,
                false,
                1,
                &mut []
            )
            .finite
        );
    }

    /// The statistics taken inside the update are the blocked sums of the raw gradient, the
    /// weights before and the change, bit for bit, across block boundaries and with a
    /// partial last lane group, clipped or not; the weights are the plain update's.
    #[test]
    fn the_one_pass_statistics_are_the_blocked_sums_bit_for_bit() {
        let len = 2 * BLOCK + 37;
        let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.731).sin() * 1.7).collect();
        let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.293).cos() * 0.9).collect();
        for clip in [Clip::None, Clip::Norm(0.5)] {
            let mut plain = sgd(clip, len);
            let (mut after, mut clipped) = (a.clone(), b.clone());
            plain.update(0, &mut after, &mut clipped);
            let mut fused = sgd(clip, len);
            let mut variable = kernel(a.clone(), b.clone());
            let clips = fused.clips();
            let stats = kernel_update(&mut fused, 0, &mut variable, clips, 1, &mut []);
            assert_eq!(variable.values, after);
            assert_eq!(variable.gradient, clipped);
            let want = |x: &[f32], y: &[f32], f: fn(f32, f32) -> f32| {
                blocked_squares(x, y, f).sqrt().to_bits()
            };
            assert_eq!(stats.gradient_norm.to_bits(), want(&b, &b, |x, _| x));
            assert_eq!(stats.weight_norm.to_bits(), want(&a, &a, |x, _| x));
            let moved = want(&after, &a, |x, y| x - y);
            assert_eq!(stats.moved.to_bits(), moved);
            assert!(stats.finite);
        }
        let mut bad = kernel(a.clone(), b.clone());
        bad.gradient[len - 1] = f32::INFINITY;
        assert!(!kernel_update(&mut sgd(Clip::None, len), 0, &mut bad, false, 1, &mut []).finite);
    }

    /// A kernel updated on two or three threads has the statistics and weights of one
    /// updated on one, bit for bit.
    #[test]
    fn a_kernel_updated_on_several_threads_matches_one_thread_bit_for_bit() {
        let len = 5 * BLOCK + 77;
        let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.431).sin() * 1.1).collect();
        let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.613).cos() * 0.7).collect();
        let adam = OptimizerKind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
        };
        let amsgrad = OptimizerKind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: true,
        };
        let momentum = OptimizerKind::Sgd {
            momentum: 0.9,
            nesterov: true,
        };
        for kind in [adam, amsgrad, momentum] {
            let run = |parts: usize| {
                let config = OptimizerConfig {
                    kind,
                    clip: Clip::None,
                    weight_decay: None,
                };
                let mut optimizer = config.build(&[len]);
                let mut variable = kernel(a.clone(), b.clone());
                let mut sums = vec![BlockSums::ZERO; len.div_ceil(BLOCK)];
                let mut seen = vec![];
                for _ in 0..2 {
                    variable.gradient.copy_from_slice(&b);
                    optimizer.begin_step(0.01, 0.0);
                    let stats =
                        kernel_update(&mut optimizer, 0, &mut variable, false, parts, &mut sums);
                    optimizer.end_step();
                    seen.push(
                        [stats.gradient_norm, stats.weight_norm, stats.moved].map(f64::to_bits),
                    );
                }
                (
                    seen,
                    variable
                        .values
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<_>>(),
                )
            };
            let one = run(1);
            assert!(one == run(2) && one == run(3), "{kind:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::activation::Activation;
    use crate::train::early_stopping::{EarlyStoppingConfig, Mode as StoppingMode};
    use crate::train::metric::Metric;
    use crate::train::optim::{Clip, OptimizerConfig, OptimizerKind};
    use crate::train::regularizer::Regularizer;
    use crate::train::schedule::Schedule;
    use ndarray::Array2;

    fn dense(units: usize, activation: Activation, kernel: Option<Initializer>) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer: kernel,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer::default(),
            use_bias: true,
        }
    }

    fn sgd(learning_rate: f32) -> (OptimizerConfig, Schedule) {
        (
            OptimizerConfig {
                kind: OptimizerKind::Sgd {
                    momentum: 0.0,
                    nesterov: false,
                },
                clip: Clip::None,
                weight_decay: None,
            },
            Schedule::Constant { learning_rate },
        )
    }

    fn plan(
        layers: Vec<LayerPlan>,
        loss: Loss,
        learning_rate: f32,
        batch_size: usize,
        epochs: usize,
    ) -> Plan {
        let (optimizer, schedule) = sgd(learning_rate);
        Plan {
            layers,
            initialization: Initialization::Random {
                kernel: Initializer::GlorotUniform,
            },
            optimizer,
            schedule,
            schedule_unit: ScheduleUnit::Step,
            loss,
            metrics: Vec::new(),
            batch_size,
            epochs,
            seed: 42,
            shuffle: false,
            augmentation: None,
            early_stopping: None,
            log_every_steps: None,
            threads: 1,
        }
    }

    fn dataset(features: Vec<f32>, columns: usize, targets: Targets) -> Dataset {
        let rows = features.len() / columns;
        Dataset {
            features: Array2::from_shape_vec((rows, columns), features).unwrap(),
            targets,
            image_shape: None,
            feature_names: (0..columns).map(|c| format!("x{c}")).collect(),
            class_names: None,
        }
    }

    fn values(values: Vec<f32>, columns: usize) -> Targets {
        let rows = values.len() / columns;
        Targets::Values(Array2::from_shape_vec((rows, columns), values).unwrap())
    }

    /// Remembers everything and optionally checkpoints or cancels after a given epoch.
    #[derive(Default)]
    struct Recorder<'a> {
        epochs: Vec<EpochRecord>,
        steps: Vec<StepRecord>,
        logs: Vec<String>,
        checkpoint_after: Option<usize>,
        checkpoints: Vec<Checkpoint>,
        cancel_after: Option<(usize, &'a AtomicBool)>,
        /// Checkpoint after this optimizer step (inside an epoch).
        checkpoint_at_step: Option<u64>,
        /// Raise the cancel flag after this optimizer step (needs step records every step).
        cancel_at_step: Option<(u64, &'a AtomicBool)>,
        checkpoint_on_cancel: bool,
    }

    impl Observer for Recorder<'_> {
        fn on_epoch(&mut self, record: &EpochRecord) {
            self.epochs.push(record.clone());
            if let Some((epoch, flag)) = self.cancel_after
                && epoch == record.epoch
            {
                flag.store(true, Ordering::Relaxed);
            }
        }
        fn on_step(&mut self, record: &StepRecord) {
            self.steps.push(*record);
            if let Some((step, flag)) = self.cancel_at_step
                && step == record.step
            {
                flag.store(true, Ordering::Relaxed);
            }
        }
        fn on_log(&mut self, message: &str) {
            self.logs.push(message.to_string());
        }
        fn checkpoint_due(&mut self, completed_epoch: usize) -> bool {
            self.checkpoint_after == Some(completed_epoch)
        }
        fn checkpoint_due_within_epoch(&mut self, step: u64) -> bool {
            self.checkpoint_at_step == Some(step)
        }
        fn checkpoint_on_cancel(&mut self) -> bool {
            self.checkpoint_on_cancel
        }
        fn on_checkpoint(&mut self, checkpoint: &Checkpoint) {
            self.checkpoints.push(checkpoint.clone());
        }
    }

    fn run(
        plan: &Plan,
        train: &Dataset,
        validation: Option<&Dataset>,
    ) -> (Result<FitResult, TrainError>, Recorder<'static>) {
        let mut recorder = Recorder::default();
        let result = fit(
            plan,
            train,
            validation,
            None,
            &mut recorder,
            &AtomicBool::new(false),
        );
        (result, recorder)
    }

    /// Training flushes subnormals to zero, as Keras does on CPU: with x = 1e-20 and y = 1e-19
    /// on a zero linear unit, MSE's gradient for the kernel is x · 2(0 − y) = −2e-39, below
    /// the normal range, so the kernel stays exactly zero (IEEE arithmetic would move it to
    /// 2e-39); the bias's gradient, −2e-19, is normal and moves it. The thread's own modes
    /// are back once `fit` returns.
    #[test]
    fn gradients_below_the_normal_range_are_flushed_to_zero_as_in_keras() {
        let train = dataset(vec![1e-20], 1, values(vec![1e-19], 1));
        let plan = plan(
            vec![dense(1, Activation::Linear, Some(Initializer::Zeros))],
            Loss::MeanSquaredError,
            1.0,
            1,
            1,
        );
        let before = crate::train::denormals::flushing();
        let (result, _) = run(&plan, &train, None);
        let parameters = result.unwrap().parameters;
        assert_eq!(
            parameters[0].values[0].to_bits(),
            0,
            "{:e}",
            parameters[0].values[0]
        );
        assert_eq!(parameters[1].values[0], 2e-19);
        assert_eq!(crate::train::denormals::flushing(), before);
        let ieee = 1.0f32 * -(1e-20f32 * (2.0 * -1e-19f32));
        assert!(std::hint::black_box(ieee).is_subnormal());
    }

    /// NUMERICS §9 (Keras 3.15.1, TF and JAX): N = 10, batch 4, x = y = 0..9, a zero model,
    /// MSE, lr 0: History's loss is 28.5, the per-sample mean (the mean of the three batch
    /// means would be 35.83).
    #[test]
    fn history_loss_is_the_sample_weighted_mean_of_the_batch_losses() {
        let x: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let train = dataset(x.clone(), 1, values(x, 1));
        let plan = plan(
            vec![dense(1, Activation::Linear, Some(Initializer::Zeros))],
            Loss::MeanSquaredError,
            0.0,
            4,
            1,
        );
        let (result, recorder) = run(&plan, &train, None);
        assert_eq!(result.unwrap().steps, 3);
        assert_eq!(recorder.epochs[0].loss, 28.5);
    }

    /// NUMERICS §9: L2(0.01) on a kernel w = 3 with zero data loss gives loss 0.09 and
    /// val_loss 0.09 (penalties are in both).
    #[test]
    fn an_l2_penalty_is_in_both_the_loss_and_the_validation_loss() {
        let layer = LayerPlan::Dense {
            units: 1,
            activation: Activation::Linear,
            kernel_initializer: Some(Initializer::Constant { value: 3.0 }),
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer { l1: 0.0, l2: 0.01 },
            use_bias: false,
        };
        let zeros = dataset(vec![0.0; 4], 1, values(vec![0.0; 4], 1));
        let plan = plan(vec![layer], Loss::MeanSquaredError, 0.0, 2, 1);
        let (result, recorder) = run(&plan, &zeros, Some(&zeros));
        result.unwrap();
        let record = &recorder.epochs[0];
        assert!((record.loss - 0.09).abs() < 1e-7, "{}", record.loss);
        assert!((record.val_loss.unwrap() - 0.09).abs() < 1e-7);
    }

    /// NUMERICS §4.3/§9 (TF backend): Dense(softmax) with logits [0, 40] and label 0 reports
    /// loss 40.0, and one SGD(lr = 1) step moves the bias from [0, 40] to [1, 39].
    #[test]
    fn a_saturated_softmax_still_learns_because_the_loss_is_taken_from_logits() {
        let mut plan = plan(
            vec![dense(2, Activation::Softmax, None)],
            Loss::SparseCategoricalCrossentropy,
            1.0,
            1,
            1,
        );
        plan.initialization = Initialization::WarmStart {
            parameters: vec![
                Tensor {
                    name: "layers.0.kernel".into(),
                    shape: vec![1, 2],
                    values: vec![0.0, 0.0],
                },
                Tensor {
                    name: "layers.0.bias".into(),
                    shape: vec![2],
                    values: vec![0.0, 40.0],
                },
            ],
        };
        let train = dataset(
            vec![0.0],
            1,
            Targets::Classes {
                labels: vec![0],
                n_classes: 2,
            },
        );
        let (result, recorder) = run(&plan, &train, None);
        assert_eq!(recorder.epochs[0].loss, 40.0);
        assert_eq!(result.unwrap().parameters[1].values, vec![1.0, 39.0]);
    }

    fn blobs(rows: usize, salt: f32) -> Dataset {
        let features: Vec<f32> = (0..rows * 4)
            .map(|i| ((i as f32 * 0.37 + salt).sin() * 2.0) + (i % 4) as f32 * 0.1)
            .collect();
        let labels = (0..rows)
            .map(|r| u32::from(features[r * 4] > 0.0) + u32::from(features[r * 4 + 1] > 0.5))
            .collect();
        dataset(
            features,
            4,
            Targets::Classes {
                labels,
                n_classes: 3,
            },
        )
    }

    /// A plan that uses every source of randomness: init, shuffling, dropout; and every piece of
    /// state a checkpoint must carry: BN moving statistics, Adam slots, early stopping with a
    /// best-weights snapshot.
    fn busy_plan(epochs: usize) -> Plan {
        let mut plan = plan(
            vec![
                dense(16, Activation::Relu, None),
                LayerPlan::Dropout { rate: 0.2 },
                LayerPlan::BatchNormalization {
                    momentum: 0.99,
                    epsilon: 1e-3,
                },
                LayerPlan::Residual {
                    layers: vec![dense(16, Activation::Tanh, Some(Initializer::HeNormal))],
                },
                dense(3, Activation::Softmax, None),
            ],
            Loss::SparseCategoricalCrossentropy,
            0.01,
            7,
            epochs,
        );
        plan.optimizer.kind = OptimizerKind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
        };
        plan.shuffle = true;
        plan.metrics = vec![Metric::Accuracy];
        plan.early_stopping = Some(EarlyStoppingConfig {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 100,
            mode: StoppingMode::Auto,
            baseline: None,
            restore_best_weights: true,
            start_from_epoch: 0,
        });
        plan
    }

    #[test]
    fn two_fits_of_the_same_plan_and_seed_are_bit_identical() {
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let plan = busy_plan(3);
        let (first, first_records) = run(&plan, &train, Some(&val));
        let (second, second_records) = run(&plan, &train, Some(&val));
        assert_eq!(first.unwrap(), second.unwrap());
        assert_eq!(first_records.epochs, second_records.epochs);
        assert!(first_records.epochs[2].metrics[0].1 > 0.0);
    }

    #[test]
    fn two_threads_train_to_the_same_bits_as_one() {
        // The middle layer's products (128 rows × 256 × 256) reach the parallel threshold.
        let train = blobs(256, 0.0);
        let mut plan = plan(
            vec![
                dense(256, Activation::Relu, None),
                dense(256, Activation::Relu, None),
                dense(3, Activation::Softmax, None),
            ],
            Loss::SparseCategoricalCrossentropy,
            0.05,
            128,
            2,
        );
        const { assert!(128 * 256 * 256 >= crate::train::layer::product::PARALLEL_THRESHOLD) };
        let (one, one_records) = run(&plan, &train, None);
        plan.threads = 2;
        let (two, two_records) = run(&plan, &train, None);
        assert_eq!(one.unwrap(), two.unwrap());
        assert_eq!(one_records.epochs, two_records.epochs);
    }

    #[test]
    fn validation_never_changes_the_training_loss_or_metrics() {
        // The training part's numbers depend on the training data only: evaluating a
        // validation set of a different size after each epoch must not touch them.
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let mut plan = busy_plan(3);
        plan.early_stopping = None;
        let (_, with_validation) = run(&plan, &train, Some(&val));
        let (_, without) = run(&plan, &train, None);
        for (a, b) in with_validation.epochs.iter().zip(&without.epochs) {
            assert_eq!(
                (a.loss, &a.metrics),
                (b.loss, &b.metrics),
                "epoch {}",
                a.epoch
            );
            assert!(a.val_loss.is_some() && b.val_loss.is_none());
        }
    }

    #[test]
    fn a_run_resumed_from_a_checkpoint_matches_an_uninterrupted_one_bit_for_bit() {
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let plan = busy_plan(5);
        let (whole, whole_records) = run(&plan, &train, Some(&val));
        let mut first_half = Recorder {
            checkpoint_after: Some(2),
            ..Recorder::default()
        };
        fit(
            &plan,
            &train,
            Some(&val),
            None,
            &mut first_half,
            &AtomicBool::new(false),
        )
        .unwrap();
        let checkpoint = &first_half.checkpoints[0];
        assert_eq!((checkpoint.epoch, checkpoint.step), (2, 12));
        let mut second_half = Recorder::default();
        let resumed = fit(
            &plan,
            &train,
            Some(&val),
            Some(checkpoint),
            &mut second_half,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(resumed, whole.unwrap());
        assert_eq!(second_half.epochs, whole_records.epochs[2..]);
    }

    /// [`busy_plan`] with augmentation noise too, so that every per-step stream is in play,
    /// and a step record every step.
    fn busiest_plan(epochs: usize) -> Plan {
        let mut plan = busy_plan(epochs);
        plan.augmentation = Some(crate::data::Augmentation {
            gaussian_noise: 0.05,
            shift: 0,
        });
        plan.log_every_steps = Some(1);
        plan
    }

    #[test]
    fn a_run_stopped_mid_epoch_and_resumed_matches_an_uninterrupted_one_bit_for_bit() {
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let plan = busiest_plan(5);
        let (whole, whole_records) = run(&plan, &train, Some(&val));
        let whole = whole.unwrap();
        // 6 steps per epoch: step 15 is the third batch of the third epoch.
        let flag = AtomicBool::new(false);
        let mut first = Recorder {
            cancel_at_step: Some((15, &flag)),
            checkpoint_on_cancel: true,
            ..Recorder::default()
        };
        let stopped = fit(&plan, &train, Some(&val), None, &mut first, &flag);
        assert_eq!(stopped, Err(TrainError::Cancelled { epoch: 3, step: 15 }));
        let checkpoint = first
            .checkpoints
            .last()
            .expect("a checkpoint at the cancel");
        assert_eq!((checkpoint.epoch, checkpoint.step), (2, 15));
        let within = checkpoint.within_epoch.as_ref().expect("inside an epoch");
        assert_eq!(within.batches, 3);
        assert!(within.dropout_position > 0 && within.augmentation_position > 0);

        let mut second = Recorder::default();
        let resumed = fit(
            &plan,
            &train,
            Some(&val),
            Some(checkpoint),
            &mut second,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(resumed, whole);
        assert_eq!(second.epochs, whole_records.epochs[2..]);
        assert_eq!(second.steps, whole_records.steps[15..]);
    }

    #[test]
    fn a_checkpoint_taken_inside_an_epoch_resumes_bit_for_bit_and_training_goes_on() {
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let plan = busiest_plan(4);
        let (whole, whole_records) = run(&plan, &train, Some(&val));
        let mut first = Recorder {
            checkpoint_at_step: Some(10),
            ..Recorder::default()
        };
        let finished = fit(
            &plan,
            &train,
            Some(&val),
            None,
            &mut first,
            &AtomicBool::new(false),
        );
        assert_eq!(finished, whole, "taking a checkpoint changes nothing");
        assert_eq!(first.epochs, whole_records.epochs);
        let checkpoint = &first.checkpoints[0];
        assert_eq!((checkpoint.epoch, checkpoint.step), (1, 10));
        let mut second = Recorder::default();
        let resumed = fit(
            &plan,
            &train,
            Some(&val),
            Some(checkpoint),
            &mut second,
            &AtomicBool::new(false),
        );
        assert_eq!(resumed, whole);
        assert_eq!(second.epochs, whole_records.epochs[1..]);
    }

    #[test]
    fn a_cancel_at_an_epoch_boundary_checkpoints_without_a_position_inside_one() {
        let (train, val) = (blobs(40, 0.0), blobs(13, 5.0));
        let plan = busy_plan(4);
        let flag = AtomicBool::new(false);
        let mut first = Recorder {
            cancel_after: Some((2, &flag)),
            checkpoint_on_cancel: true,
            ..Recorder::default()
        };
        let stopped = fit(&plan, &train, Some(&val), None, &mut first, &flag);
        assert_eq!(stopped, Err(TrainError::Cancelled { epoch: 3, step: 12 }));
        let checkpoint = &first.checkpoints[0];
        assert_eq!(
            (checkpoint.epoch, checkpoint.within_epoch.as_ref()),
            (2, None)
        );
        let mut mangled = checkpoint.clone();
        mangled.within_epoch = Some(EpochProgress {
            batches: 99,
            loss_sum: 0.0,
            metric_sums: vec![0.0],
            grad_norm_sums: vec![0.0; 3],
            ratio_sums: vec![0.0; 3],
            dropout_position: 0,
            augmentation_position: 0,
        });
        let refused = fit(
            &plan,
            &train,
            Some(&val),
            Some(&mangled),
            &mut Recorder::default(),
            &AtomicBool::new(false),
        );
        assert!(matches!(refused, Err(TrainError::Resume(_))), "{refused:?}");
    }

    #[test]
    fn a_huge_learning_rate_reports_divergence_with_its_epoch_and_step() {
        let x: Vec<f32> = (0..8).map(|v| v as f32 * 10.0).collect();
        let y: Vec<f32> = x.iter().map(|v| -v).collect();
        let train = dataset(x, 1, values(y, 1));
        let plan = plan(
            vec![dense(1, Activation::Linear, Some(Initializer::Ones))],
            Loss::MeanSquaredError,
            1e30,
            4,
            10,
        );
        let (result, recorder) = run(&plan, &train, None);
        match result {
            Err(TrainError::Diverged { epoch, step, .. }) => {
                assert_eq!(recorder.epochs.len(), epoch - 1);
                assert!(
                    epoch <= 2 && (1..=4).contains(&step),
                    "epoch {epoch}, step {step}"
                );
            }
            other => panic!("expected divergence, got {other:?}"),
        }
    }

    #[test]
    fn cancelling_stops_before_the_next_step() {
        let flag = AtomicBool::new(false);
        let mut recorder = Recorder {
            cancel_after: Some((2, &flag)),
            ..Recorder::default()
        };
        let result = fit(
            &busy_plan(5),
            &blobs(40, 0.0),
            None,
            None,
            &mut recorder,
            &flag,
        );
        assert_eq!(result, Err(TrainError::Cancelled { epoch: 3, step: 12 }));
        assert_eq!(recorder.epochs.len(), 2);
    }

    #[test]
    fn zero_epochs_return_the_initialized_network() {
        let plan = busy_plan(0);
        let (result, recorder) = run(&plan, &blobs(10, 0.0), None);
        let result = result.unwrap();
        assert_eq!((result.epochs_run, result.steps), (0, 0));
        assert!(recorder.epochs.is_empty());
        let kernel = &result.parameters[0];
        assert_eq!(kernel.name, "layers.0.kernel");
        // Glorot-uniform bound √(6/(4+16)).
        assert!(
            kernel
                .values
                .iter()
                .all(|v| v.abs() <= (6.0f32 / 20.0).sqrt())
        );
        assert!(kernel.values.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn warm_start_parameters_must_match_the_architecture() {
        let mut plan = busy_plan(1);
        plan.initialization = Initialization::WarmStart {
            parameters: vec![Tensor {
                name: "layers.0.kernel".into(),
                shape: vec![3, 16],
                values: vec![0.0; 48],
            }],
        };
        let (result, _) = run(&plan, &blobs(10, 0.0), None);
        assert!(matches!(
            result,
            Err(TrainError::WarmStart(ParameterError::Shape { .. }))
        ));
    }

    /// NUMERICS §9: EarlyStopping(monitor = "loss") on a constant loss stops after 2 epochs
    /// with patience 0 or 1 and after 3 with patience 2.
    #[test]
    fn early_stopping_on_a_constant_loss_stops_as_keras_does() {
        for (patience, expected) in [(0, 2), (1, 2), (2, 3)] {
            let x: Vec<f32> = (0..6).map(|v| v as f32).collect();
            let train = dataset(x.clone(), 1, values(x, 1));
            let mut plan = plan(
                vec![dense(1, Activation::Linear, None)],
                Loss::MeanSquaredError,
                0.0,
                3,
                20,
            );
            plan.early_stopping = Some(EarlyStoppingConfig {
                monitor: "loss".into(),
                min_delta: 0.0,
                patience,
                mode: StoppingMode::Auto,
                baseline: None,
                restore_best_weights: false,
                start_from_epoch: 0,
            });
            let (result, recorder) = run(&plan, &train, None);
            let result = result.unwrap();
            assert_eq!(result.epochs_run, expected, "patience {patience}");
            assert!(result.stopped_early);
            assert_eq!(result.best_epoch, Some(1));
            assert_eq!(
                recorder.logs,
                vec![format!("early stopping at epoch {expected}")]
            );
        }
    }

    #[test]
    fn step_records_arrive_every_k_steps_with_the_learning_rate() {
        let mut plan = busy_plan(2);
        plan.log_every_steps = Some(4);
        let (_, recorder) = run(&plan, &blobs(40, 0.0), None);
        let steps: Vec<u64> = recorder.steps.iter().map(|s| s.step).collect();
        assert_eq!(steps, vec![4, 8, 12]);
        assert!(
            recorder
                .steps
                .iter()
                .all(|s| s.learning_rate == 0.01 && s.loss.is_finite())
        );
        let stats = &recorder.epochs[0].layers;
        let names: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["layers.0", "layers.3.layers.0", "layers.4"]);
        assert!(
            stats
                .iter()
                .all(|s| s.grad_norm > 0.0 && s.weight_norm > 0.0 && s.update_ratio > 0.0)
        );
    }
}
