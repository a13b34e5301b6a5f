//! Optimizers exactly as Keras 3 computes them (K3 `optimizers/*.py`), with gradient clipping
//! and decoupled weight decay in Keras's order (`../NUMERICS.md` §1.0).

/// Which update rule, with its hyperparameters (Keras defaults are filled in by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    Sgd {
        momentum: f32,
        nesterov: bool,
    },
    Adam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
    },
    Rmsprop {
        rho: f32,
        momentum: f32,
        epsilon: f32,
        centered: bool,
    },
    Adagrad {
        initial_accumulator_value: f32,
        epsilon: f32,
    },
    Nadam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    },
}

/// Gradient clipping; Keras allows at most one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Clip {
    #[default]
    None,
    /// Per variable: `g ← g·c / max(‖g‖, c)`.
    Norm(f32),
    /// Over all variables together.
    GlobalNorm(f32),
    /// Elementwise into `[−c, c]`.
    Value(f32),
}

/// A checked optimizer configuration. `adamw` is `Adam` with `weight_decay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub clip: Clip,
    /// Decoupled weight decay `w ← w − w·wd·lr_t`, applied before the step to every variable.
    pub weight_decay: Option<f32>,
}
