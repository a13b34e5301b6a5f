//! Spec types (f64, Keras names) to the engine's types (f32, enums). Pure conversions: the
//! values were checked when the spec was read.

use crate::jobs::spec::architecture::{ActivationSpec, KernelInitializer, LayerSpec};
use crate::jobs::spec::optimizer::{OptimizerKindSpec, OptimizerSpec};
use crate::jobs::spec::schedule::ScheduleKind;
use crate::train::activation::Activation;
use crate::train::init::Initializer;
use crate::train::optim::{Clip, OptimizerConfig, OptimizerKind};
use crate::train::plan::LayerPlan;
use crate::train::regularizer::Regularizer;
use crate::train::schedule::Schedule;

pub fn activation(spec: ActivationSpec) -> Activation {
    match spec {
        ActivationSpec::Linear => Activation::Linear,
        ActivationSpec::Relu => Activation::Relu,
        ActivationSpec::LeakyRelu { negative_slope } => Activation::LeakyRelu {
            negative_slope: negative_slope as f32,
        },
        ActivationSpec::Elu { alpha } => Activation::Elu {
            alpha: alpha as f32,
        },
        ActivationSpec::Selu => Activation::Selu,
        ActivationSpec::Gelu { approximate: false } => Activation::Gelu,
        ActivationSpec::Gelu { approximate: true } => Activation::GeluTanh,
        ActivationSpec::Sigmoid => Activation::Sigmoid,
        ActivationSpec::Tanh => Activation::Tanh,
        ActivationSpec::Softmax => Activation::Softmax,
        ActivationSpec::Silu => Activation::Swish,
        ActivationSpec::Softplus => Activation::Softplus,
    }
}

pub fn initializer(spec: KernelInitializer) -> Initializer {
    match spec {
        KernelInitializer::GlorotUniform => Initializer::GlorotUniform,
        KernelInitializer::GlorotNormal => Initializer::GlorotNormal,
        KernelInitializer::HeUniform => Initializer::HeUniform,
        KernelInitializer::HeNormal => Initializer::HeNormal,
        KernelInitializer::LecunUniform => Initializer::LecunUniform,
        KernelInitializer::LecunNormal => Initializer::LecunNormal,
        KernelInitializer::Orthogonal { gain } => Initializer::Orthogonal { gain: gain as f32 },
        KernelInitializer::RandomNormal { mean, stddev } => Initializer::RandomNormal {
            mean: mean as f32,
            stddev: stddev as f32,
        },
        KernelInitializer::RandomUniform { minval, maxval } => Initializer::RandomUniform {
            minval: minval as f32,
            maxval: maxval as f32,
        },
        KernelInitializer::Zeros => Initializer::Zeros,
        KernelInitializer::Ones => Initializer::Ones,
        KernelInitializer::Constant { value } => Initializer::Constant {
            value: value as f32,
        },
    }
}

pub fn layers(specs: &[LayerSpec]) -> Vec<LayerPlan> {
    specs.iter().map(layer).collect()
}

fn layer(spec: &LayerSpec) -> LayerPlan {
    match spec {
        LayerSpec::Dense {
            units,
            activation: act,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            use_bias,
        } => LayerPlan::Dense {
            units: *units,
            activation: activation(*act),
            kernel_initializer: kernel_initializer.map(initializer),
            bias_initializer: initializer(*bias_initializer),
            kernel_regularizer: kernel_regularizer.map_or_else(Regularizer::default, |r| {
                Regularizer {
                    l1: r.l1 as f32,
                    l2: r.l2 as f32,
                }
            }),
            use_bias: *use_bias,
        },
        LayerSpec::Dropout { rate } => LayerPlan::Dropout { rate: *rate as f32 },
        LayerSpec::BatchNormalization { momentum, epsilon } => LayerPlan::BatchNormalization {
            momentum: *momentum as f32,
            epsilon: *epsilon as f32,
        },
        LayerSpec::Residual { layers: inner } => LayerPlan::Residual {
            layers: layers(inner),
        },
        LayerSpec::Activation { activation: act } => LayerPlan::Activation(activation(*act)),
    }
}

pub fn optimizer(spec: &OptimizerSpec) -> OptimizerConfig {
    let adam = |beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool| OptimizerKind::Adam {
        beta_1: beta_1 as f32,
        beta_2: beta_2 as f32,
        epsilon: epsilon as f32,
        amsgrad,
    };
    let kind = match spec.kind {
        OptimizerKindSpec::Sgd { momentum, nesterov } => OptimizerKind::Sgd {
            momentum: momentum as f32,
            nesterov,
        },
        OptimizerKindSpec::Adam {
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
        }
        | OptimizerKindSpec::Adamw {
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
        } => adam(beta_1, beta_2, epsilon, amsgrad),
        OptimizerKindSpec::Rmsprop {
            rho,
            momentum,
            epsilon,
            centered,
        } => OptimizerKind::Rmsprop {
            rho: rho as f32,
            momentum: momentum as f32,
            epsilon: epsilon as f32,
            centered,
        },
        OptimizerKindSpec::Adagrad {
            initial_accumulator_value,
            epsilon,
        } => OptimizerKind::Adagrad {
            initial_accumulator_value: initial_accumulator_value as f32,
            epsilon: epsilon as f32,
        },
        OptimizerKindSpec::Nadam {
            beta_1,
            beta_2,
            epsilon,
        } => OptimizerKind::Nadam {
            beta_1: beta_1 as f32,
            beta_2: beta_2 as f32,
            epsilon: epsilon as f32,
        },
    };
    let clip = match (spec.clipnorm, spec.global_clipnorm, spec.clipvalue) {
        (Some(c), _, _) => Clip::Norm(c as f32),
        (None, Some(c), _) => Clip::GlobalNorm(c as f32),
        (None, None, Some(c)) => Clip::Value(c as f32),
        (None, None, None) => Clip::None,
    };
    OptimizerConfig {
        kind,
        clip,
        weight_decay: spec.weight_decay.map(|wd| wd as f32),
    }
}

/// The schedule; a constant schedule takes `learning_rate`, the one resolved for it.
pub fn schedule(spec: &ScheduleKind, learning_rate: f64) -> Schedule {
    let f = |x: f64| x as f32;
    let steps = |n: u64| n as f32;
    match spec {
        ScheduleKind::Constant { .. } => Schedule::Constant {
            learning_rate: f(learning_rate),
        },
        ScheduleKind::PiecewiseConstantDecay { boundaries, values } => {
            Schedule::PiecewiseConstantDecay {
                boundaries: boundaries.iter().map(|&b| steps(b)).collect(),
                values: values.iter().map(|&v| f(v)).collect(),
            }
        }
        ScheduleKind::ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase,
        } => Schedule::ExponentialDecay {
            initial_learning_rate: f(*initial_learning_rate),
            decay_steps: steps(*decay_steps),
            decay_rate: f(*decay_rate),
            staircase: *staircase,
        },
        ScheduleKind::PolynomialDecay {
            initial_learning_rate,
            decay_steps,
            end_learning_rate,
            power,
            cycle,
        } => Schedule::PolynomialDecay {
            initial_learning_rate: f(*initial_learning_rate),
            decay_steps: steps(*decay_steps),
            end_learning_rate: f(*end_learning_rate),
            power: f(*power),
            cycle: *cycle,
        },
        ScheduleKind::InverseTimeDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase,
        } => Schedule::InverseTimeDecay {
            initial_learning_rate: f(*initial_learning_rate),
            decay_steps: steps(*decay_steps),
            decay_rate: f(*decay_rate),
            staircase: *staircase,
        },
        ScheduleKind::CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha,
            warmup_target,
            warmup_steps,
        } => Schedule::CosineDecay {
            initial_learning_rate: f(*initial_learning_rate),
            decay_steps: steps(*decay_steps),
            alpha: f(*alpha),
            warmup_target: warmup_target.map(f),
            warmup_steps: steps(*warmup_steps),
        },
        ScheduleKind::CosineDecayRestarts {
            initial_learning_rate,
            first_decay_steps,
            t_mul,
            m_mul,
            alpha,
        } => Schedule::CosineDecayRestarts {
            initial_learning_rate: f(*initial_learning_rate),
            first_decay_steps: steps(*first_decay_steps),
            t_mul: f(*t_mul),
            m_mul: f(*m_mul),
            alpha: f(*alpha),
        },
    }
}
