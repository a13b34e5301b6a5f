//! The `optimizer` part, with Keras 3's defaults (NUMERICS §1, K3 `optimizers/*.py`):
//!
//! | type | learning_rate | other defaults |
//! |---|---|---|
//! | `sgd` | 0.01 | momentum 0, nesterov false |
//! | `adam` | 0.001 | beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad false |
//! | `adamw` | 0.001 | as adam, weight_decay 0.004 |
//! | `rmsprop` (the default, as `model.compile`'s) | 0.001 | rho 0.9, momentum 0, epsilon 1e-7, centered false |
//! | `adagrad` | 0.001 | initial_accumulator_value 0.1, epsilon 1e-7 |
//! | `nadam` | 0.001 | beta_1 0.9, beta_2 0.999, epsilon 1e-7 |
//!
//! Every type also takes `clipnorm`, `global_clipnorm`, `clipvalue` (at most one, as Keras
//! allows) and a decoupled `weight_decay`. The learning rate stays `None` here when the spec
//! leaves it out: whether the optimizer's default applies depends on the schedule, which
//! `validate` decides.

use serde_json::{Value, json};

use super::read::{Errors, Interval, Object, name_of};

/// Learning rates from 0 (a frozen run, useful to measure a loss) up to this.
pub const MAX_LEARNING_RATE: f64 = 1e3;

#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSpec {
    pub kind: OptimizerKindSpec,
    /// As given; `validate` fills in the default when the schedule is constant.
    pub learning_rate: Option<f64>,
    pub clipnorm: Option<f64>,
    pub global_clipnorm: Option<f64>,
    pub clipvalue: Option<f64>,
    pub weight_decay: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKindSpec {
    Sgd {
        momentum: f64,
        nesterov: bool,
    },
    Adam {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        amsgrad: bool,
    },
    /// Adam whose `weight_decay` is always set (0.004 by default).
    Adamw {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        amsgrad: bool,
    },
    Rmsprop {
        rho: f64,
        momentum: f64,
        epsilon: f64,
        centered: bool,
    },
    Adagrad {
        initial_accumulator_value: f64,
        epsilon: f64,
    },
    Nadam {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptimizerType {
    Sgd,
    Adam,
    Adamw,
    Rmsprop,
    Adagrad,
    Nadam,
}

const OPTIMIZER_TYPES: &[(&str, OptimizerType)] = &[
    ("sgd", OptimizerType::Sgd),
    ("adam", OptimizerType::Adam),
    ("adamw", OptimizerType::Adamw),
    ("rmsprop", OptimizerType::Rmsprop),
    ("adagrad", OptimizerType::Adagrad),
    ("nadam", OptimizerType::Nadam),
];

/// The names `optimizer.type` takes, for the check against `openapi.yaml`.
#[cfg(test)]
pub(super) fn optimizer_types() -> Vec<&'static str> {
    super::read::names(OPTIMIZER_TYPES)
}

impl OptimizerKindSpec {
    fn kind(self) -> OptimizerType {
        match self {
            OptimizerKindSpec::Sgd { .. } => OptimizerType::Sgd,
            OptimizerKindSpec::Adam { .. } => OptimizerType::Adam,
            OptimizerKindSpec::Adamw { .. } => OptimizerType::Adamw,
            OptimizerKindSpec::Rmsprop { .. } => OptimizerType::Rmsprop,
            OptimizerKindSpec::Adagrad { .. } => OptimizerType::Adagrad,
            OptimizerKindSpec::Nadam { .. } => OptimizerType::Nadam,
        }
    }

    pub fn name(self) -> &'static str {
        name_of(OPTIMIZER_TYPES, &self.kind())
    }

    /// Keras's default learning rate for this optimizer.
    pub fn default_learning_rate(self) -> f64 {
        match self {
            OptimizerKindSpec::Sgd { .. } => 0.01,
            _ => 0.001,
        }
    }
}

impl Default for OptimizerSpec {
    /// `model.compile()`'s default optimizer: `rmsprop`.
    fn default() -> Self {
        OptimizerSpec {
            kind: OptimizerKindSpec::Rmsprop {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
                centered: false,
            },
            learning_rate: None,
            clipnorm: None,
            global_clipnorm: None,
            clipvalue: None,
            weight_decay: None,
        }
    }
}

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<OptimizerSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let kind = object.required_name("type", "optimizer", OPTIMIZER_TYPES, errors)?;
    let unit = Interval::closed(0.0, 1.0);
    let beta = Interval::closed_open(0.0, 1.0);
    let epsilon = Interval::open_closed(0.0, 1.0);
    let adam = |object: &mut Object, errors: &mut Errors| {
        (
            object.number("beta_1", beta, errors).unwrap_or(0.9),
            object.number("beta_2", beta, errors).unwrap_or(0.999),
            object.number("epsilon", epsilon, errors).unwrap_or(1e-7),
            object.boolean("amsgrad", errors).unwrap_or(false),
        )
    };
    let kind = match kind {
        OptimizerType::Sgd => OptimizerKindSpec::Sgd {
            momentum: object.number("momentum", unit, errors).unwrap_or(0.0),
            nesterov: object.boolean("nesterov", errors).unwrap_or(false),
        },
        OptimizerType::Adam => {
            let (beta_1, beta_2, epsilon, amsgrad) = adam(&mut object, errors);
            OptimizerKindSpec::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
            }
        }
        OptimizerType::Adamw => {
            let (beta_1, beta_2, epsilon, amsgrad) = adam(&mut object, errors);
            OptimizerKindSpec::Adamw {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
            }
        }
        OptimizerType::Rmsprop => OptimizerKindSpec::Rmsprop {
            rho: object.number("rho", beta, errors).unwrap_or(0.9),
            momentum: object.number("momentum", unit, errors).unwrap_or(0.0),
            epsilon: object.number("epsilon", epsilon, errors).unwrap_or(1e-7),
            centered: object.boolean("centered", errors).unwrap_or(false),
        },
        OptimizerType::Adagrad => OptimizerKindSpec::Adagrad {
            initial_accumulator_value: object
                .number(
                    "initial_accumulator_value",
                    Interval::closed(0.0, 1e6),
                    errors,
                )
                .unwrap_or(0.1),
            epsilon: object.number("epsilon", epsilon, errors).unwrap_or(1e-7),
        },
        OptimizerType::Nadam => {
            let beta_1 = object.number("beta_1", beta, errors).unwrap_or(0.9);
            let beta_2 = object.number("beta_2", beta, errors).unwrap_or(0.999);
            let epsilon = object.number("epsilon", epsilon, errors).unwrap_or(1e-7);
            OptimizerKindSpec::Nadam {
                beta_1,
                beta_2,
                epsilon,
            }
        }
    };
    let learning_rate = object.number(
        "learning_rate",
        Interval::closed(0.0, MAX_LEARNING_RATE),
        errors,
    );
    let clip = Interval::open_closed(0.0, 1e9);
    let clipnorm = object.number("clipnorm", clip, errors);
    let global_clipnorm = object.number("global_clipnorm", clip, errors);
    let clipvalue = object.number("clipvalue", clip, errors);
    let weight_decay = object.number("weight_decay", Interval::closed(0.0, 1e3), errors);
    // Keras raises when more than one clipping option is set (K3 `optimizers/base_optimizer.py`).
    let clips = [
        ("clipnorm", clipnorm),
        ("global_clipnorm", global_clipnorm),
        ("clipvalue", clipvalue),
    ];
    let set: Vec<&str> = clips
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
    for extra in set.iter().skip(1) {
        errors.add(
            object.at(extra),
            format!(
                "only one of clipnorm, global_clipnorm, clipvalue may be set; {} is set too",
                set[0]
            ),
            None,
        );
    }
    let weight_decay = match kind {
        OptimizerKindSpec::Adamw { .. } => Some(weight_decay.unwrap_or(0.004)),
        _ => weight_decay,
    };
    object.finish(errors);
    (errors.count() == before).then_some(OptimizerSpec {
        kind,
        learning_rate,
        clipnorm,
        global_clipnorm,
        clipvalue,
        weight_decay,
    })
}

impl OptimizerSpec {
    pub fn to_json(&self) -> Value {
        let mut value = json!({"type": self.kind.name()});
        let map = value.as_object_mut().expect("an object literal");
        if let Some(learning_rate) = self.learning_rate {
            map.insert("learning_rate".into(), json!(learning_rate));
        }
        match self.kind {
            OptimizerKindSpec::Sgd { momentum, nesterov } => {
                map.insert("momentum".into(), json!(momentum));
                map.insert("nesterov".into(), json!(nesterov));
            }
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
            } => {
                map.insert("beta_1".into(), json!(beta_1));
                map.insert("beta_2".into(), json!(beta_2));
                map.insert("epsilon".into(), json!(epsilon));
                map.insert("amsgrad".into(), json!(amsgrad));
            }
            OptimizerKindSpec::Rmsprop {
                rho,
                momentum,
                epsilon,
                centered,
            } => {
                map.insert("rho".into(), json!(rho));
                map.insert("momentum".into(), json!(momentum));
                map.insert("epsilon".into(), json!(epsilon));
                map.insert("centered".into(), json!(centered));
            }
            OptimizerKindSpec::Adagrad {
                initial_accumulator_value,
                epsilon,
            } => {
                map.insert(
                    "initial_accumulator_value".into(),
                    json!(initial_accumulator_value),
                );
                map.insert("epsilon".into(), json!(epsilon));
            }
            OptimizerKindSpec::Nadam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                map.insert("beta_1".into(), json!(beta_1));
                map.insert("beta_2".into(), json!(beta_2));
                map.insert("epsilon".into(), json!(epsilon));
            }
        }
        map.insert("clipnorm".into(), json!(self.clipnorm));
        map.insert("global_clipnorm".into(), json!(self.global_clipnorm));
        map.insert("clipvalue".into(), json!(self.clipvalue));
        map.insert("weight_decay".into(), json!(self.weight_decay));
        value
    }
}
