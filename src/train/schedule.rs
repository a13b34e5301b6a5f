//! Learning-rate schedules (K3 `optimizers/schedules/learning_rate_schedule.py`).

/// A learning rate as a function of the optimizer step (or of the epoch, see [`ScheduleUnit`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Constant {
        learning_rate: f32,
    },
    PiecewiseConstantDecay {
        boundaries: Vec<f32>,
        values: Vec<f32>,
    },
    ExponentialDecay {
        initial_learning_rate: f32,
        decay_steps: f32,
        decay_rate: f32,
        staircase: bool,
    },
    PolynomialDecay {
        initial_learning_rate: f32,
        decay_steps: f32,
        end_learning_rate: f32,
        power: f32,
        cycle: bool,
    },
    InverseTimeDecay {
        initial_learning_rate: f32,
        decay_steps: f32,
        decay_rate: f32,
        staircase: bool,
    },
    CosineDecay {
        initial_learning_rate: f32,
        decay_steps: f32,
        alpha: f32,
        warmup_target: Option<f32>,
        warmup_steps: f32,
    },
    CosineDecayRestarts {
        initial_learning_rate: f32,
        first_decay_steps: f32,
        t_mul: f32,
        m_mul: f32,
        alpha: f32,
    },
}

/// What the schedule's argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleUnit {
    /// Optimizer steps, as Keras does: the first update sees step 0.
    #[default]
    Step,
    /// Epochs (0-based), as the lecture writes it: constant within an epoch.
    Epoch,
}
