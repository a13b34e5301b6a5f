//! The `initializer` part: how every kernel without its own initializer starts.
//!
//! `glorot_uniform` by default, as Keras's Dense (K3 `layers/core/dense.py`). Besides the random
//! initializers there are three ways to start that are not a distribution:
//! - `dbn_pretraining`: greedy layer-wise RBM pre-training of the hidden dense layers
//!   (Hinton 2006, the lecture's §3). Its defaults are scikit-learn `BernoulliRBM`'s
//!   (NUMERICS §7): `learning_rate` 0.1, `batch_size` 10, `epochs` (`n_iter`) 10, and
//!   `cd_steps` 1. Layers that are not pre-trained (the output layer) draw from
//!   `kernel_initializer`, `glorot_uniform` by default.
//! - `from_job` `{job_id}` / `from_model` `{model_id}`: a warm start from stored weights,
//!   which the caller loads and checks against the architecture.

use serde_json::{Value, json};

use super::architecture::{KERNEL_INITIALIZERS, KernelInitializer, initializer_parameters};
use super::data::MAX_ID_CHARS;
use super::read::{Errors, Interval, Object, name, string};

#[derive(Debug, Clone, PartialEq)]
pub enum InitializerSpec {
    Random(KernelInitializer),
    DbnPretraining {
        epochs: usize,
        learning_rate: f64,
        batch_size: usize,
        cd_steps: usize,
        kernel_initializer: KernelInitializer,
    },
    FromJob {
        job_id: String,
    },
    FromModel {
        model_id: String,
    },
}

impl Default for InitializerSpec {
    fn default() -> Self {
        InitializerSpec::Random(KernelInitializer::GlorotUniform)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    Random(KernelInitializer),
    Dbn,
    FromJob,
    FromModel,
}

fn starts() -> Vec<(&'static str, Start)> {
    KERNEL_INITIALIZERS
        .iter()
        .map(|(name, initializer)| (*name, Start::Random(*initializer)))
        .chain([
            ("dbn_pretraining", Start::Dbn),
            ("from_job", Start::FromJob),
            ("from_model", Start::FromModel),
        ])
        .collect()
}

/// The names `initializer` (or its `type`) takes, for the check against `openapi.yaml`.
#[cfg(test)]
pub(super) fn names() -> Vec<&'static str> {
    super::read::names(&starts())
}

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<InitializerSpec> {
    let before = errors.count();
    let table = starts();
    if let Value::String(_) = value {
        return match name(value, path, "initializer", &table, errors)? {
            Start::Random(initializer) => Some(InitializerSpec::Random(initializer)),
            Start::Dbn => Some(InitializerSpec::DbnPretraining {
                epochs: 10,
                learning_rate: 0.1,
                batch_size: 10,
                cd_steps: 1,
                kernel_initializer: KernelInitializer::GlorotUniform,
            }),
            Start::FromJob | Start::FromModel => {
                let key = if matches!(value.as_str(), Some("from_job")) {
                    "job_id"
                } else {
                    "model_id"
                };
                errors.add(
                    path,
                    format!("needs its {key}: write {{\"type\": {value}, \"{key}\": \"…\"}}"),
                    Some(value),
                );
                None
            }
        };
    }
    let mut object = Object::open(value, path, errors)?;
    let spec = match object.required_name("type", "initializer", &table, errors)? {
        Start::Random(initializer) => {
            InitializerSpec::Random(initializer_parameters(initializer, &mut object, errors))
        }
        Start::Dbn => {
            let epochs = object.integer("epochs", 1, 10_000, errors).unwrap_or(10) as usize;
            let learning_rate = object
                .number("learning_rate", Interval::open_closed(0.0, 100.0), errors)
                .unwrap_or(0.1);
            let batch_size = object
                .integer("batch_size", 1, 1_000_000, errors)
                .unwrap_or(10) as usize;
            let cd_steps = object.integer("cd_steps", 1, 100, errors).unwrap_or(1) as usize;
            let kernel_path = object.at("kernel_initializer");
            let kernel_initializer = object
                .field("kernel_initializer")
                .and_then(|value| {
                    let mut inner = Object::open(value, &kernel_path, errors)?;
                    let initializer =
                        inner.required_name("type", "initializer", KERNEL_INITIALIZERS, errors)?;
                    let initializer = initializer_parameters(initializer, &mut inner, errors);
                    inner.finish(errors);
                    Some(initializer)
                })
                .unwrap_or(KernelInitializer::GlorotUniform);
            InitializerSpec::DbnPretraining {
                epochs,
                learning_rate,
                batch_size,
                cd_steps,
                kernel_initializer,
            }
        }
        Start::FromJob => {
            let id_path = object.at("job_id");
            let job_id = object
                .required("job_id", errors)
                .and_then(|value| string(value, &id_path, MAX_ID_CHARS, errors))
                .unwrap_or_default();
            InitializerSpec::FromJob {
                job_id: job_id.to_string(),
            }
        }
        Start::FromModel => {
            let id_path = object.at("model_id");
            let model_id = object
                .required("model_id", errors)
                .and_then(|value| string(value, &id_path, MAX_ID_CHARS, errors))
                .unwrap_or_default();
            InitializerSpec::FromModel {
                model_id: model_id.to_string(),
            }
        }
    };
    object.finish(errors);
    (errors.count() == before).then_some(spec)
}

impl InitializerSpec {
    pub fn to_json(&self) -> Value {
        match self {
            InitializerSpec::Random(initializer) => initializer.to_json(),
            InitializerSpec::DbnPretraining {
                epochs,
                learning_rate,
                batch_size,
                cd_steps,
                kernel_initializer,
            } => json!({
                "type": "dbn_pretraining",
                "epochs": epochs,
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "cd_steps": cd_steps,
                "kernel_initializer": kernel_initializer.to_json(),
            }),
            InitializerSpec::FromJob { job_id } => json!({"type": "from_job", "job_id": job_id}),
            InitializerSpec::FromModel { model_id } => {
                json!({"type": "from_model", "model_id": model_id})
            }
        }
    }
}
