//! The training engine: synchronous and deterministic. It imports nothing from tokio, sqlx,
//! axum or serde_json, does no I/O, and reads no clock or thread-local RNG; every random draw
//! comes from [`rng`] streams derived from the plan's seed.
//!
//! Input is a checked [`Plan`] plus data; output is the trained parameters, and a stream of
//! [`EpochRecord`]s (and optional [`StepRecord`]s) handed to an [`Observer`] as training goes.

pub mod activation;
pub mod denormals;
pub mod early_stopping;
pub mod fit;
pub mod init;
pub mod layer;
pub mod loss;
pub mod math;
pub mod metric;
pub mod network;
pub mod optim;
pub mod plan;
pub mod regularizer;
pub mod rng;
pub mod schedule;
pub mod shape;
pub mod simd;

pub use fit::{Checkpoint, EpochProgress, FitResult, Observer, TrainError, fit};
pub use network::{PredictError, predict};
pub use plan::{Initialization, LayerPlan, Plan, Tensor};

/// Per-layer numbers that make vanishing and exploding gradients visible. One entry per layer
/// with a kernel (dense layers, including those inside residual blocks), in forward order.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// Position among the kernel-carrying layers, 0 = nearest the input.
    pub index: usize,
    /// Tensor-name prefix of the layer, e.g. `layers.0` or `layers.2.layers.1`.
    pub name: String,
    /// Mean over the epoch's steps of the L2 norm of the kernel gradient (penalties included).
    pub grad_norm: f32,
    /// L2 norm of the kernel at the end of the epoch.
    pub weight_norm: f32,
    /// Mean over the epoch's steps of ‖ΔW‖₂ / ‖W‖₂.
    pub update_ratio: f32,
}

/// One epoch's results. Epochs are numbered from 1; `step` counts optimizer updates so far.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub step: u64,
    /// Keras's History meaning: the sample-weighted mean of the pre-update batch losses of this
    /// epoch, penalties included.
    pub loss: f32,
    /// Training metrics by Keras name (`accuracy`, `mean_squared_error`…), in request order.
    pub metrics: Vec<(String, f32)>,
    pub val_loss: Option<f32>,
    /// Validation metrics, named without the `val_` prefix.
    pub val_metrics: Vec<(String, f32)>,
    /// The learning rate the optimizer holds at the end of the epoch, as Keras logs it.
    pub learning_rate: f32,
    pub layers: Vec<LayerStats>,
}

/// A per-step loss sample, emitted every `log_every_steps` optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRecord {
    pub epoch: usize,
    pub step: u64,
    /// The batch loss before this step's update, penalties included.
    pub loss: f32,
    pub learning_rate: f32,
}
