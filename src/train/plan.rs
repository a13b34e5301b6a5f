//! `Plan`: the checked description of a training run, and the only input `fit` accepts.
//!
//! A plan is built from a job spec by `jobs::validate` once every field has been checked, so
//! nothing here re-validates user input: shapes agree, rates are in range, names are known.

use super::activation::Activation;
use super::early_stopping::EarlyStoppingConfig;
use super::init::Initializer;
use super::init::dbn::DbnConfig;
use super::loss::Loss;
use super::metric::Metric;
use super::optim::OptimizerConfig;
use super::regularizer::Regularizer;
use super::schedule::{Schedule, ScheduleUnit};
use crate::data::Augmentation;

/// One layer of the architecture, in the order data flows through it.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerPlan {
    Dense {
        units: usize,
        activation: Activation,
        /// `None` means the plan's default kernel initializer.
        kernel_initializer: Option<Initializer>,
        bias_initializer: Initializer,
        kernel_regularizer: Regularizer,
        use_bias: bool,
    },
    /// Inverted dropout, active only while training.
    Dropout {
        rate: f32,
    },
    /// Keras defaults: momentum 0.99, epsilon 1e-3; learns gamma and beta.
    BatchNormalization {
        momentum: f32,
        epsilon: f32,
    },
    /// `output = input + f(input)` where `f` is the inner layers; widths agree (checked).
    Residual {
        layers: Vec<LayerPlan>,
    },
    Activation(Activation),
}

/// How the network's parameters get their first values.
#[derive(Debug, Clone, PartialEq)]
pub enum Initialization {
    /// Every kernel without its own initializer draws from `kernel`.
    Random { kernel: Initializer },
    /// Random init as above, then the hidden dense layers are pre-trained as a stack of RBMs.
    DbnPretraining {
        kernel: Initializer,
        config: DbnConfig,
    },
    /// Start from given parameters (a finished job's or an imported model's), which match the
    /// architecture tensor for tensor (checked).
    WarmStart { parameters: Vec<Tensor> },
}

/// A named, shaped tensor of parameters or state, as stored and exported.
/// Names are paths such as `layers.0.kernel` or `layers.2.layers.1.moving_variance`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Everything `fit` needs besides the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub layers: Vec<LayerPlan>,
    pub initialization: Initialization,
    pub optimizer: OptimizerConfig,
    pub schedule: Schedule,
    pub schedule_unit: ScheduleUnit,
    pub loss: Loss,
    pub metrics: Vec<Metric>,
    /// Samples per optimizer step; `full` batch has been resolved to the training-set size.
    pub batch_size: usize,
    /// 0 means initialize only.
    pub epochs: usize,
    pub seed: u64,
    /// A fresh seeded permutation every epoch.
    pub shuffle: bool,
    pub augmentation: Option<Augmentation>,
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Emit a step record every k optimizer steps.
    pub log_every_steps: Option<usize>,
    /// Threads for the large matrix products (`Network::set_threads`); 1 trains on the
    /// calling thread alone. The result is the same bits for any count.
    pub threads: usize,
}
