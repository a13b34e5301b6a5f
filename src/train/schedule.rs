//! Learning-rate schedules (K3 `optimizers/schedules/learning_rate_schedule.py`;
//! `../NUMERICS.md` §2).
//!
//! [`Schedule::learning_rate`] is a pure function of the step, computed as Keras computes it:
//! the step is cast to float32 and every operation runs in float32, in the file's order
//! (`s` = step, `D` = decay steps, `lr0` = initial learning rate):
//!
//! | schedule | learning rate |
//! |---|---|
//! | Constant | `lr0` |
//! | PiecewiseConstantDecay | `values[i]` for the first `i` with `s ≤ boundaries[i]`, else the last value |
//! | ExponentialDecay | `lr0 · rate^p`, `p = s/D` (floored if staircase) |
//! | PolynomialDecay | `(lr0 − end)·(1 − s'/D')^power + end`; no cycle: `s' = min(s, D)`, `D' = D`; cycle: `s' = s`, `D' = D·ceil(s/D)` (`D` at s = 0) |
//! | InverseTimeDecay | `lr0 / (1 + rate·p)`, `p = s/D` (floored if staircase) |
//! | CosineDecay | `lr0·((1 − α)·½(1 + cos(π·min(s, D)/D)) + α)`; with a warmup target `T` over `W` steps: `lr0 + (T − lr0)·s/W` while `s < W`, then the cosine from `T` over `s − W` |
//! | CosineDecayRestarts | period `i` lasts `D1·t_mul^i` steps; `lr0·((1 − α)·½·m_mul^i·(1 + cos(π f)) + α)` with `f` the fraction of the current period |

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

impl Schedule {
    /// The learning rate at optimizer step `step` (0 for the first update; or the 0-based
    /// epoch under [`ScheduleUnit::Epoch`]). Never panics: malformed parameters, which the
    /// plan's validation rules out, give NaN or a neighbouring value rather than an abort.
    pub fn learning_rate(&self, step: u64) -> f32 {
        // `ops.cast(step, dtype)`: the integer step rounded to the nearest float32.
        let s = step as f32;
        match self {
            Schedule::Constant { learning_rate } => *learning_rate,
            Schedule::PiecewiseConstantDecay { boundaries, values } => {
                piecewise_constant(boundaries, values, step)
            }
            Schedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / decay_steps;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate * libm::powf(*decay_rate, p)
            }
            Schedule::PolynomialDecay {
                initial_learning_rate,
                decay_steps,
                end_learning_rate,
                power,
                cycle,
            } => {
                let (step, decay_steps) = if *cycle {
                    // The first multiple of D at or above s; D itself at s = 0.
                    let multiplier = if s == 0.0 {
                        1.0
                    } else {
                        (s / decay_steps).ceil()
                    };
                    (s, decay_steps * multiplier)
                } else {
                    (s.min(*decay_steps), *decay_steps)
                };
                let p = step / decay_steps;
                (initial_learning_rate - end_learning_rate) * libm::powf(1.0 - p, *power)
                    + end_learning_rate
            }
            Schedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / decay_steps;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate / (1.0 + decay_rate * p)
            }
            Schedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => match warmup_target {
                None => cosine_decay(
                    s.min(*decay_steps),
                    *decay_steps,
                    *initial_learning_rate,
                    *alpha,
                ),
                Some(target) => {
                    let s = s.min(decay_steps + warmup_steps);
                    if s < *warmup_steps {
                        // Linear from lr0 (the Keras docstring leaves out the `+ lr0`).
                        (target - initial_learning_rate) * (s / warmup_steps)
                            + initial_learning_rate
                    } else {
                        cosine_decay(s - warmup_steps, *decay_steps, *target, *alpha)
                    }
                }
            },
            Schedule::CosineDecayRestarts {
                initial_learning_rate,
                first_decay_steps,
                t_mul,
                m_mul,
                alpha,
            } => {
                let fraction = s / first_decay_steps;
                let (restart, fraction) = if *t_mul == 1.0 {
                    let restart = fraction.floor();
                    (restart, fraction - restart)
                } else {
                    // Periods D1, D1·t, D1·t², … end at D1·(1 − t^k)/(1 − t): invert for k.
                    let restart =
                        (libm::logf(1.0 - fraction * (1.0 - t_mul)) / libm::logf(*t_mul)).floor();
                    let t_mul_power = libm::powf(*t_mul, restart);
                    let completed = (1.0 - t_mul_power) / (1.0 - t_mul);
                    (restart, (fraction - completed) / t_mul_power)
                };
                let m_factor = libm::powf(*m_mul, restart);
                let cosine_decayed =
                    0.5 * m_factor * (1.0 + libm::cosf(std::f32::consts::PI * fraction));
                // Here α is a float32 tensor, so `1 − α` is float32 too (unlike CosineDecay).
                initial_learning_rate * ((1.0 - alpha) * cosine_decayed + alpha)
            }
        }
    }
}

/// `values[0]` while `step ≤ b0`, `values[i]` while `b_{i−1} < step ≤ b_i`, the last value
/// after the last boundary: a step *equal* to a boundary still gets the earlier value. Keras
/// casts the boundaries to the step's dtype, which is the int64 `iterations`, so a fractional
/// boundary is truncated toward zero.
fn piecewise_constant(boundaries: &[f32], values: &[f32], step: u64) -> f32 {
    let step = step as f64;
    let interval = boundaries
        .iter()
        .position(|&b| step <= f64::from(b).trunc())
        .unwrap_or(boundaries.len());
    values
        .get(interval)
        .or(values.last())
        .copied()
        .unwrap_or(f32::NAN)
}

/// K3 `CosineDecay._decay_function`: `lr·((1 − α)·½(1 + cos(π·s/D)) + α)`. `1 − α` is a
/// Python-float subtraction there (float64, then rounded), see
/// [`super::optim::python_float`].
fn cosine_decay(step: f32, decay_steps: f32, decay_from: f32, alpha: f32) -> f32 {
    let completed_fraction = step / decay_steps;
    let cosine_decayed = 0.5 * (1.0 + libm::cosf(std::f32::consts::PI * completed_fraction));
    let one_minus_alpha = (1.0 - super::optim::python_float(alpha)) as f32;
    let decayed = one_minus_alpha * cosine_decayed + alpha;
    decay_from * decayed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts the learning rate at each `(step, expected)` to within `tolerance`.
    fn check(schedule: &Schedule, rows: &[(u64, f32)], tolerance: f32) {
        for &(step, expected) in rows {
            let got = schedule.learning_rate(step);
            assert!(
                (got - expected).abs() <= tolerance,
                "{schedule:?} at step {step}: got {got}, want {expected}"
            );
        }
    }

    // Golden rows from NUMERICS.md §9, checked by running Keras 3.15.1 (TF-CPU 2.21 and JAX
    // 0.10.2 backends). They are printed to about six digits, hence the tolerances.

    #[test]
    fn piecewise_constant_keeps_the_earlier_value_at_a_boundary() {
        let schedule = Schedule::PiecewiseConstantDecay {
            boundaries: vec![2.0, 4.0],
            values: vec![1.0, 0.5, 0.1],
        };
        let rows = [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.5), (4, 0.5), (5, 0.1)];
        check(&schedule, &rows, 0.0);
    }

    #[test]
    fn a_single_boundary_at_zero_gives_the_second_value_from_the_second_update() {
        // §9: SGD with schedule `[0] → [1.0, 0.5]`: update 1 (step 0) uses 1.0, update 2 0.5.
        let schedule = Schedule::PiecewiseConstantDecay {
            boundaries: vec![0.0],
            values: vec![1.0, 0.5],
        };
        check(&schedule, &[(0, 1.0), (1, 0.5)], 0.0);
    }

    #[test]
    fn cosine_decay_warms_up_linearly_then_decays_to_alpha_of_the_target() {
        let schedule = Schedule::CosineDecay {
            initial_learning_rate: 0.0,
            decay_steps: 10.0,
            alpha: 0.1,
            warmup_target: Some(1.0),
            warmup_steps: 5.0,
        };
        let rows = [
            (0, 0.0),
            (1, 0.2),
            (4, 0.8),
            (5, 1.0),
            (10, 0.55),
            (15, 0.1),
            (20, 0.1),
        ];
        check(&schedule, &rows, 1e-6);
    }

    #[test]
    fn cycling_polynomial_decay_restarts_at_each_multiple_of_the_decay_steps() {
        let schedule = Schedule::PolynomialDecay {
            initial_learning_rate: 1.0,
            decay_steps: 10.0,
            end_learning_rate: 0.0,
            power: 2.0,
            cycle: true,
        };
        let rows = [
            (0, 1.0),
            (5, 0.25),
            (10, 0.0),
            (11, 0.2025),
            (20, 0.0),
            (21, 0.09),
        ];
        check(&schedule, &rows, 1e-6);
    }

    #[test]
    fn cosine_decay_restarts_doubles_its_period_and_halves_its_height() {
        let schedule = Schedule::CosineDecayRestarts {
            initial_learning_rate: 1.0,
            first_decay_steps: 10.0,
            t_mul: 2.0,
            m_mul: 0.5,
            alpha: 0.1,
        };
        let rows = [
            (0, 1.0),
            (9, 0.122025),
            (10, 0.55),
            (29, 0.10277),
            (30, 0.325),
        ];
        check(&schedule, &rows, 1e-5);
    }

    // The lecture's three schedules (seed NOTES.md §1), against their closed forms.

    #[test]
    fn lecture_piecewise_schedule_switches_after_steps_700_and_900() {
        let schedule = Schedule::PiecewiseConstantDecay {
            boundaries: vec![700.0, 900.0],
            values: vec![0.1, 0.05, 0.01],
        };
        let rows = [
            (0, 0.1),
            (699, 0.1),
            (700, 0.1),
            (701, 0.05),
            (900, 0.05),
            (901, 0.01),
            (5000, 0.01),
        ];
        check(&schedule, &rows, 0.0);
    }

    #[test]
    fn lecture_exponential_schedule_halves_every_500_steps() {
        // η = 0.1 · 0.5^(t/500).
        let schedule = Schedule::ExponentialDecay {
            initial_learning_rate: 0.1,
            decay_steps: 500.0,
            decay_rate: 0.5,
            staircase: false,
        };
        let rows = [
            (0, 0.1),
            (250, 0.07071068),
            (500, 0.05),
            (750, 0.03535534),
            (1000, 0.025),
            (1500, 0.0125),
        ];
        check(&schedule, &rows, 1e-8);
        let staircase = Schedule::ExponentialDecay {
            initial_learning_rate: 0.1,
            decay_steps: 500.0,
            decay_rate: 0.5,
            staircase: true,
        };
        check(
            &staircase,
            &[(499, 0.1), (500, 0.05), (999, 0.05), (1000, 0.025)],
            0.0,
        );
    }

    #[test]
    fn lecture_polynomial_schedule_falls_as_a_square_root_to_its_floor_at_900() {
        // η = (0.1 − 0.01)(1 − min(t, 900)/900)^0.5 + 0.01.
        let schedule = Schedule::PolynomialDecay {
            initial_learning_rate: 0.1,
            decay_steps: 900.0,
            end_learning_rate: 0.01,
            power: 0.5,
            cycle: false,
        };
        let rows = [
            (0, 0.1),
            (225, 0.08794229),
            (450, 0.07363961),
            (675, 0.055),
            (899, 0.013),
            (900, 0.01),
            (2000, 0.01),
        ];
        check(&schedule, &rows, 1e-7);
    }

    #[test]
    fn inverse_time_decay_divides_by_one_plus_rate_times_progress() {
        let schedule = Schedule::InverseTimeDecay {
            initial_learning_rate: 0.1,
            decay_steps: 10.0,
            decay_rate: 0.5,
            staircase: false,
        };
        check(
            &schedule,
            &[(0, 0.1), (10, 0.1 / 1.5), (20, 0.05), (5, 0.08)],
            1e-8,
        );
        let staircase = Schedule::InverseTimeDecay {
            initial_learning_rate: 0.1,
            decay_steps: 10.0,
            decay_rate: 0.5,
            staircase: true,
        };
        check(
            &staircase,
            &[(9, 0.1), (10, 0.1 / 1.5), (19, 0.1 / 1.5)],
            1e-8,
        );
    }

    #[test]
    fn cosine_decay_without_warmup_halves_at_mid_point_and_holds_alpha_after() {
        let schedule = Schedule::CosineDecay {
            initial_learning_rate: 0.1,
            decay_steps: 100.0,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0.0,
        };
        check(
            &schedule,
            &[(0, 0.1), (50, 0.05), (100, 0.0), (1000, 0.0)],
            1e-8,
        );
    }

    #[test]
    fn cosine_decay_restarts_with_equal_periods_repeats_itself() {
        let schedule = Schedule::CosineDecayRestarts {
            initial_learning_rate: 1.0,
            first_decay_steps: 10.0,
            t_mul: 1.0,
            m_mul: 1.0,
            alpha: 0.0,
        };
        check(
            &schedule,
            &[(0, 1.0), (5, 0.5), (10, 1.0), (15, 0.5), (25, 0.5)],
            1e-6,
        );
    }

    #[test]
    fn constant_schedule_ignores_the_step() {
        let schedule = Schedule::Constant {
            learning_rate: 0.01,
        };
        check(&schedule, &[(0, 0.01), (u64::MAX, 0.01)], 0.0);
    }

    #[test]
    fn malformed_piecewise_values_give_a_value_rather_than_a_panic() {
        let short = Schedule::PiecewiseConstantDecay {
            boundaries: vec![1.0, 2.0],
            values: vec![0.3],
        };
        assert_eq!(short.learning_rate(5), 0.3);
        let empty = Schedule::PiecewiseConstantDecay {
            boundaries: vec![],
            values: vec![],
        };
        assert!(empty.learning_rate(0).is_nan());
    }

    #[test]
    fn fractional_piecewise_boundaries_are_truncated_like_keras_int_steps() {
        let schedule = Schedule::PiecewiseConstantDecay {
            boundaries: vec![2.7],
            values: vec![1.0, 0.5],
        };
        check(&schedule, &[(2, 1.0), (3, 0.5)], 0.0);
    }
}
