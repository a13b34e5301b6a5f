//! The `schedule` part: the learning rate as a function of the step (or epoch), with Keras's
//! names and defaults (K3 `optimizers/schedules/learning_rate_schedule.py`, NUMERICS §2):
//! `polynomial_decay` ends at 1e-4 with power 1 and no cycling; `cosine_decay` has alpha 0,
//! no warmup; `cosine_decay_restarts` has t_mul 2, m_mul 1, alpha 0; the `staircase` flags
//! are false. `unit` is `step` (Keras counts optimizer updates, the first update sees 0) or
//! `epoch` (the lecture writes `t` as the epoch). The default schedule is `constant`, whose
//! rate is the optimizer's `learning_rate`.

use serde_json::{Value, json};

use super::optimizer::MAX_LEARNING_RATE;
use super::read::{Errors, Interval, Object, array, integer, item, name_of, number};
use crate::train::schedule::ScheduleUnit;

/// Most boundaries of a piecewise constant schedule.
pub const MAX_BOUNDARIES: usize = 256;
/// Largest step count a schedule parameter may name.
pub const MAX_STEPS: u64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub kind: ScheduleKind,
    pub unit: ScheduleUnit,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec {
            kind: ScheduleKind::Constant {
                learning_rate: None,
            },
            unit: ScheduleUnit::Step,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleKind {
    /// The rate comes from here or from `optimizer.learning_rate`, not both.
    Constant { learning_rate: Option<f64> },
    PiecewiseConstantDecay {
        boundaries: Vec<u64>,
        values: Vec<f64>,
    },
    ExponentialDecay {
        initial_learning_rate: f64,
        decay_steps: u64,
        decay_rate: f64,
        staircase: bool,
    },
    PolynomialDecay {
        initial_learning_rate: f64,
        decay_steps: u64,
        end_learning_rate: f64,
        power: f64,
        cycle: bool,
    },
    InverseTimeDecay {
        initial_learning_rate: f64,
        decay_steps: u64,
        decay_rate: f64,
        staircase: bool,
    },
    CosineDecay {
        initial_learning_rate: f64,
        decay_steps: u64,
        alpha: f64,
        warmup_target: Option<f64>,
        warmup_steps: u64,
    },
    CosineDecayRestarts {
        initial_learning_rate: f64,
        first_decay_steps: u64,
        t_mul: f64,
        m_mul: f64,
        alpha: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScheduleType {
    Constant,
    Piecewise,
    Exponential,
    Polynomial,
    InverseTime,
    Cosine,
    CosineRestarts,
}

const SCHEDULE_TYPES: &[(&str, ScheduleType)] = &[
    ("constant", ScheduleType::Constant),
    ("piecewise_constant_decay", ScheduleType::Piecewise),
    ("exponential_decay", ScheduleType::Exponential),
    ("polynomial_decay", ScheduleType::Polynomial),
    ("inverse_time_decay", ScheduleType::InverseTime),
    ("cosine_decay", ScheduleType::Cosine),
    ("cosine_decay_restarts", ScheduleType::CosineRestarts),
];

/// The names `schedule.type` takes, for the check against `openapi.yaml`.
#[cfg(test)]
pub(super) fn schedule_types() -> Vec<&'static str> {
    super::read::names(SCHEDULE_TYPES)
}

pub const SCHEDULE_UNITS: &[(&str, ScheduleUnit)] =
    &[("step", ScheduleUnit::Step), ("epoch", ScheduleUnit::Epoch)];

impl ScheduleKind {
    fn kind(&self) -> ScheduleType {
        match self {
            ScheduleKind::Constant { .. } => ScheduleType::Constant,
            ScheduleKind::PiecewiseConstantDecay { .. } => ScheduleType::Piecewise,
            ScheduleKind::ExponentialDecay { .. } => ScheduleType::Exponential,
            ScheduleKind::PolynomialDecay { .. } => ScheduleType::Polynomial,
            ScheduleKind::InverseTimeDecay { .. } => ScheduleType::InverseTime,
            ScheduleKind::CosineDecay { .. } => ScheduleType::Cosine,
            ScheduleKind::CosineDecayRestarts { .. } => ScheduleType::CosineRestarts,
        }
    }

    pub fn name(&self) -> &'static str {
        name_of(SCHEDULE_TYPES, &self.kind())
    }
}

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<ScheduleSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let kind = object.required_name("type", "schedule", SCHEDULE_TYPES, errors)?;
    let rate = Interval::closed(0.0, MAX_LEARNING_RATE);
    let initial = |object: &mut Object, errors: &mut Errors| {
        object
            .required_number("initial_learning_rate", rate, errors)
            .unwrap_or(0.0)
    };
    let steps = |object: &mut Object, key: &'static str, errors: &mut Errors| {
        object
            .required_integer(key, 1, MAX_STEPS, errors)
            .unwrap_or(1)
    };
    let kind = match kind {
        ScheduleType::Constant => ScheduleKind::Constant {
            learning_rate: object.number("learning_rate", rate, errors),
        },
        ScheduleType::Piecewise => {
            let boundaries_path = object.at("boundaries");
            let boundaries = object
                .required("boundaries", errors)
                .and_then(|value| parse_boundaries(value, &boundaries_path, errors));
            let values_path = object.at("values");
            let values = object.required("values", errors).and_then(|value| {
                let items = array(value, &values_path, MAX_BOUNDARIES + 1, errors)?;
                let parsed: Vec<Option<f64>> = items
                    .iter()
                    .enumerate()
                    .map(|(index, item_value)| {
                        number(item_value, &item(&values_path, index), rate, errors)
                    })
                    .collect();
                parsed.into_iter().collect::<Option<Vec<f64>>>()
            });
            if let (Some(boundaries), Some(values)) = (&boundaries, &values)
                && values.len() != boundaries.len() + 1
            {
                errors.add(
                    values_path,
                    format!(
                        "must have one more item than boundaries ({} boundaries, so {} values), got {}",
                        boundaries.len(),
                        boundaries.len() + 1,
                        values.len()
                    ),
                    None,
                );
            }
            ScheduleKind::PiecewiseConstantDecay {
                boundaries: boundaries.unwrap_or_default(),
                values: values.unwrap_or_default(),
            }
        }
        ScheduleType::Exponential => ScheduleKind::ExponentialDecay {
            initial_learning_rate: initial(&mut object, errors),
            decay_steps: steps(&mut object, "decay_steps", errors),
            decay_rate: object
                .required_number("decay_rate", Interval::open_closed(0.0, 1e3), errors)
                .unwrap_or(1.0),
            staircase: object.boolean("staircase", errors).unwrap_or(false),
        },
        ScheduleType::Polynomial => ScheduleKind::PolynomialDecay {
            initial_learning_rate: initial(&mut object, errors),
            decay_steps: steps(&mut object, "decay_steps", errors),
            end_learning_rate: object
                .number("end_learning_rate", rate, errors)
                .unwrap_or(1e-4),
            power: object
                .number("power", Interval::open_closed(0.0, 100.0), errors)
                .unwrap_or(1.0),
            cycle: object.boolean("cycle", errors).unwrap_or(false),
        },
        ScheduleType::InverseTime => ScheduleKind::InverseTimeDecay {
            initial_learning_rate: initial(&mut object, errors),
            decay_steps: steps(&mut object, "decay_steps", errors),
            decay_rate: object
                .required_number("decay_rate", Interval::closed(0.0, 1e6), errors)
                .unwrap_or(0.0),
            staircase: object.boolean("staircase", errors).unwrap_or(false),
        },
        ScheduleType::Cosine => {
            let initial_learning_rate = initial(&mut object, errors);
            let decay_steps = steps(&mut object, "decay_steps", errors);
            let alpha = object
                .number("alpha", Interval::closed(0.0, 1.0), errors)
                .unwrap_or(0.0);
            let warmup_target = object.number("warmup_target", rate, errors);
            let warmup_steps = object
                .integer("warmup_steps", 0, MAX_STEPS, errors)
                .unwrap_or(0);
            // Keras ignores warmup_steps without a warmup_target: refuse the silent no-op.
            if warmup_steps > 0 && warmup_target.is_none() && !object.has("warmup_target") {
                errors.add(
                    object.at("warmup_steps"),
                    "needs warmup_target, the rate reached at the end of the warmup",
                    None,
                );
            }
            ScheduleKind::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            }
        }
        ScheduleType::CosineRestarts => ScheduleKind::CosineDecayRestarts {
            initial_learning_rate: initial(&mut object, errors),
            first_decay_steps: steps(&mut object, "first_decay_steps", errors),
            t_mul: object
                .number("t_mul", Interval::open_closed(0.0, 100.0), errors)
                .unwrap_or(2.0),
            m_mul: object
                .number("m_mul", Interval::closed(0.0, 100.0), errors)
                .unwrap_or(1.0),
            alpha: object
                .number("alpha", Interval::closed(0.0, 1.0), errors)
                .unwrap_or(0.0),
        },
    };
    let unit = object
        .name("unit", "schedule unit", SCHEDULE_UNITS, errors)
        .unwrap_or_default();
    object.finish(errors);
    (errors.count() == before).then_some(ScheduleSpec { kind, unit })
}

/// Non-negative integers, strictly increasing, at least one.
fn parse_boundaries(value: &Value, path: &str, errors: &mut Errors) -> Option<Vec<u64>> {
    let before = errors.count();
    let items = array(value, path, MAX_BOUNDARIES, errors)?;
    if items.is_empty() {
        errors.add(path, "must have at least one boundary", None);
        return None;
    }
    let mut boundaries = Vec::with_capacity(items.len());
    for (index, item_value) in items.iter().enumerate() {
        let Some(boundary) = integer(item_value, &item(path, index), 0, MAX_STEPS, errors) else {
            continue;
        };
        if let Some(&previous) = boundaries.last()
            && boundary <= previous
        {
            errors.add(
                item(path, index),
                format!("boundaries must increase strictly: {boundary} follows {previous}"),
                Some(item_value),
            );
        }
        boundaries.push(boundary);
    }
    (errors.count() == before).then_some(boundaries)
}

impl ScheduleSpec {
    pub fn to_json(&self) -> Value {
        let mut value = match &self.kind {
            ScheduleKind::Constant { learning_rate } => {
                let mut value = json!({"type": "constant"});
                if let Some(rate) = learning_rate {
                    value["learning_rate"] = json!(rate);
                }
                value
            }
            ScheduleKind::PiecewiseConstantDecay { boundaries, values } => {
                json!({"type": "piecewise_constant_decay", "boundaries": boundaries, "values": values})
            }
            ScheduleKind::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => json!({
                "type": "exponential_decay", "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps, "decay_rate": decay_rate, "staircase": staircase,
            }),
            ScheduleKind::PolynomialDecay {
                initial_learning_rate,
                decay_steps,
                end_learning_rate,
                power,
                cycle,
            } => json!({
                "type": "polynomial_decay", "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps, "end_learning_rate": end_learning_rate, "power": power, "cycle": cycle,
            }),
            ScheduleKind::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => json!({
                "type": "inverse_time_decay", "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps, "decay_rate": decay_rate, "staircase": staircase,
            }),
            ScheduleKind::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => json!({
                "type": "cosine_decay", "initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                "alpha": alpha, "warmup_target": warmup_target, "warmup_steps": warmup_steps,
            }),
            ScheduleKind::CosineDecayRestarts {
                initial_learning_rate,
                first_decay_steps,
                t_mul,
                m_mul,
                alpha,
            } => json!({
                "type": "cosine_decay_restarts", "initial_learning_rate": initial_learning_rate,
                "first_decay_steps": first_decay_steps, "t_mul": t_mul, "m_mul": m_mul, "alpha": alpha,
            }),
        };
        value["unit"] = json!(name_of(SCHEDULE_UNITS, &self.unit));
        value
    }
}
