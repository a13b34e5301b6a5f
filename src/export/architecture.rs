//! The architecture as JSON, written into exported files and read back on import.
//!
//! The form mirrors the job spec's `architecture` object (API.md), with every field written out
//! so that a round trip gives the same [`LayerPlan`]s:
//!
//! ```json
//! {"layers": [
//!   {"type": "dense", "units": 16, "activation": "relu", "use_bias": true,
//!    "kernel_initializer": {"type": "he_normal"}, "bias_initializer": {"type": "zeros"},
//!    "kernel_regularizer": {"l1": 0.0, "l2": 0.01}},
//!   {"type": "dropout", "rate": 0.5},
//!   {"type": "batch_normalization", "momentum": 0.99, "epsilon": 0.001},
//!   {"type": "residual", "layers": [ … ]},
//!   {"type": "activation", "activation": {"type": "leaky_relu", "negative_slope": 0.2}}
//! ]}
//! ```
//!
//! Activations with a parameter are objects (`leaky_relu` with `negative_slope`, `elu` with
//! `alpha`), the rest are strings; on reading, a bare `"leaky_relu"` or `"elu"` takes Keras's
//! function defaults (slope 0.2, alpha 1.0; K3 `activations/activations.py`). A dense layer's
//! `kernel_initializer` is `null` when the plan's default initializer applied. On reading, the
//! dense fields other than `units` may be left out and take Keras's `Dense` defaults
//! (`activation` linear, `use_bias` true, bias initializer zeros, no regularizer), and batch
//! normalization's momentum and epsilon default to Keras's 0.99 and 1e-3. Unknown fields are
//! refused, so a typo does not silently fall back to a default.
//!
//! `train` types are not `Serialize` (ARCHITECTURE.md): this file converts explicitly.

use serde_json::{Map, Value, json};

use crate::train::activation::Activation;
use crate::train::init::Initializer;
use crate::train::plan::LayerPlan;
use crate::train::regularizer::Regularizer;

/// Why an architecture document could not be read; `path` points at the offending value, e.g.
/// `layers[2].layers[0].units`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ArchitectureError {
    pub path: String,
    pub message: String,
}

fn error(path: &str, message: impl Into<String>) -> ArchitectureError {
    ArchitectureError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// `{"layers": [...]}` for the given layers.
pub fn to_json(layers: &[LayerPlan]) -> Value {
    json!({ "layers": layers_to_json(layers) })
}

/// Reads `{"layers": [...]}` back into layer plans, checking every value's range.
pub fn from_json(document: &Value) -> Result<Vec<LayerPlan>, ArchitectureError> {
    let object = object(document, "architecture")?;
    allow_only(object, &["layers"], "architecture")?;
    let layers = object
        .get("layers")
        .ok_or_else(|| error("layers", "is required"))?;
    layers_from_json(layers, "layers")
}

fn layers_to_json(layers: &[LayerPlan]) -> Vec<Value> {
    layers.iter().map(layer_to_json).collect()
}

fn layer_to_json(layer: &LayerPlan) -> Value {
    match layer {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            use_bias,
        } => json!({
            "type": "dense",
            "units": units,
            "activation": activation_to_json(*activation),
            "use_bias": use_bias,
            "kernel_initializer": kernel_initializer.map_or(Value::Null, initializer_to_json),
            "bias_initializer": initializer_to_json(*bias_initializer),
            "kernel_regularizer": {
                "l1": number(kernel_regularizer.l1),
                "l2": number(kernel_regularizer.l2),
            },
        }),
        LayerPlan::Dropout { rate } => json!({"type": "dropout", "rate": number(*rate)}),
        LayerPlan::BatchNormalization { momentum, epsilon } => json!({
            "type": "batch_normalization",
            "momentum": number(*momentum),
            "epsilon": number(*epsilon),
        }),
        LayerPlan::Residual { layers } => {
            json!({"type": "residual", "layers": layers_to_json(layers)})
        }
        LayerPlan::Activation(activation) => {
            json!({"type": "activation", "activation": activation_to_json(*activation)})
        }
    }
}

/// Parameterless activations by their Keras name; `leaky_relu` and `elu` as objects that carry
/// their parameter, and GELU's tanh approximation as `{"type": "gelu", "approximate": true}`.
fn activation_to_json(activation: Activation) -> Value {
    let name = match activation {
        Activation::LeakyRelu { negative_slope } => {
            return json!({"type": "leaky_relu", "negative_slope": number(negative_slope)});
        }
        Activation::Elu { alpha } => return json!({"type": "elu", "alpha": number(alpha)}),
        Activation::GeluTanh => return json!({"type": "gelu", "approximate": true}),
        Activation::Linear => "linear",
        Activation::Relu => "relu",
        Activation::Selu => "selu",
        Activation::Gelu => "gelu",
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Softmax => "softmax",
        Activation::Swish => "swish",
        Activation::Softplus => "softplus",
    };
    Value::from(name)
}

fn initializer_to_json(initializer: Initializer) -> Value {
    match initializer {
        Initializer::GlorotUniform => json!({"type": "glorot_uniform"}),
        Initializer::GlorotNormal => json!({"type": "glorot_normal"}),
        Initializer::HeUniform => json!({"type": "he_uniform"}),
        Initializer::HeNormal => json!({"type": "he_normal"}),
        Initializer::LecunUniform => json!({"type": "lecun_uniform"}),
        Initializer::LecunNormal => json!({"type": "lecun_normal"}),
        Initializer::Orthogonal { gain } => json!({"type": "orthogonal", "gain": number(gain)}),
        Initializer::RandomNormal { mean, stddev } => json!({
            "type": "random_normal", "mean": number(mean), "stddev": number(stddev),
        }),
        Initializer::RandomUniform { minval, maxval } => json!({
            "type": "random_uniform", "minval": number(minval), "maxval": number(maxval),
        }),
        Initializer::Zeros => json!({"type": "zeros"}),
        Initializer::Ones => json!({"type": "ones"}),
        Initializer::Constant { value } => json!({"type": "constant", "value": number(value)}),
    }
}

/// An `f32` as the JSON number with the same shortest decimal form (`0.2`, not
/// `0.20000000298023224`); reading it back as `f64` and rounding to `f32` gives the same bits.
/// Non-finite values have no JSON form and become `null`, which [`from_json`] refuses.
fn number(value: f32) -> Value {
    value
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn layers_from_json(value: &Value, path: &str) -> Result<Vec<LayerPlan>, ArchitectureError> {
    let items = value
        .as_array()
        .ok_or_else(|| error(path, "must be a list of layers"))?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| layer_from_json(item, &format!("{path}[{index}]")))
        .collect()
}

fn layer_from_json(value: &Value, path: &str) -> Result<LayerPlan, ArchitectureError> {
    let object = object(value, path)?;
    let kind = string_field(object, "type", path)?;
    let at = |field: &str| format!("{path}.{field}");
    match kind {
        "dense" => {
            allow_only(
                object,
                &[
                    "type",
                    "units",
                    "activation",
                    "use_bias",
                    "kernel_initializer",
                    "bias_initializer",
                    "kernel_regularizer",
                ],
                path,
            )?;
            let units = positive_integer(required(object, "units", path)?, &at("units"))?;
            let activation = match object.get("activation") {
                None => Activation::Linear,
                Some(value) => activation_from_json(value, &at("activation"))?,
            };
            let use_bias = match object.get("use_bias") {
                None => true,
                Some(value) => value
                    .as_bool()
                    .ok_or_else(|| error(&at("use_bias"), "must be true or false"))?,
            };
            let kernel_initializer = match object.get("kernel_initializer") {
                None | Some(Value::Null) => None,
                Some(value) => Some(initializer_from_json(value, &at("kernel_initializer"))?),
            };
            let bias_initializer = match object.get("bias_initializer") {
                None => Initializer::Zeros,
                Some(value) => initializer_from_json(value, &at("bias_initializer"))?,
            };
            let kernel_regularizer = match object.get("kernel_regularizer") {
                None | Some(Value::Null) => Regularizer::default(),
                Some(value) => regularizer_from_json(value, &at("kernel_regularizer"))?,
            };
            Ok(LayerPlan::Dense {
                units,
                activation,
                kernel_initializer,
                bias_initializer,
                kernel_regularizer,
                use_bias,
            })
        }
        "dropout" => {
            allow_only(object, &["type", "rate"], path)?;
            let rate = float(required(object, "rate", path)?, &at("rate"))?;
            if !(0.0..1.0).contains(&rate) {
                return Err(error(&at("rate"), format!("must be in [0, 1), got {rate}")));
            }
            Ok(LayerPlan::Dropout { rate })
        }
        "batch_normalization" => {
            allow_only(object, &["type", "momentum", "epsilon"], path)?;
            let momentum = match object.get("momentum") {
                None => 0.99,
                Some(value) => float(value, &at("momentum"))?,
            };
            if !(0.0..=1.0).contains(&momentum) {
                return Err(error(
                    &at("momentum"),
                    format!("must be in [0, 1], got {momentum}"),
                ));
            }
            let epsilon = match object.get("epsilon") {
                None => 1e-3,
                Some(value) => float(value, &at("epsilon"))?,
            };
            if epsilon <= 0.0 {
                return Err(error(
                    &at("epsilon"),
                    format!("must be positive, got {epsilon}"),
                ));
            }
            Ok(LayerPlan::BatchNormalization { momentum, epsilon })
        }
        "residual" => {
            allow_only(object, &["type", "layers"], path)?;
            let layers = layers_from_json(required(object, "layers", path)?, &at("layers"))?;
            Ok(LayerPlan::Residual { layers })
        }
        "activation" => {
            allow_only(object, &["type", "activation"], path)?;
            let activation =
                activation_from_json(required(object, "activation", path)?, &at("activation"))?;
            Ok(LayerPlan::Activation(activation))
        }
        other => Err(error(
            &at("type"),
            format!(
                "unknown layer type `{other}`; expected dense, dropout, batch_normalization, \
                 residual or activation"
            ),
        )),
    }
}

fn activation_from_json(value: &Value, path: &str) -> Result<Activation, ArchitectureError> {
    let (name, object) = match value {
        Value::String(name) => (name.as_str(), None),
        Value::Object(object) => (string_field(object, "type", path)?, Some(object)),
        _ => return Err(error(path, "must be a name or an object with a `type`")),
    };
    let parameter = |field: &str, default: f32| -> Result<f32, ArchitectureError> {
        match object {
            None => Ok(default),
            Some(object) => {
                allow_only(object, &["type", field], path)?;
                match object.get(field) {
                    None => Ok(default),
                    Some(value) => float(value, &format!("{path}.{field}")),
                }
            }
        }
    };
    let activation = match name {
        "leaky_relu" => Activation::LeakyRelu {
            negative_slope: parameter("negative_slope", 0.2)?,
        },
        "elu" => Activation::Elu {
            alpha: parameter("alpha", 1.0)?,
        },
        "gelu" => {
            let approximate = match object {
                None => None,
                Some(object) => {
                    allow_only(object, &["type", "approximate"], path)?;
                    object.get("approximate")
                }
            };
            match approximate {
                None | Some(Value::Bool(false)) => Activation::Gelu,
                Some(Value::Bool(true)) => Activation::GeluTanh,
                Some(_) => {
                    return Err(error(
                        &format!("{path}.approximate"),
                        "must be true or false",
                    ));
                }
            }
        }
        name => {
            if let Some(object) = object {
                allow_only(object, &["type"], path)?;
            }
            match name {
                "linear" => Activation::Linear,
                "relu" => Activation::Relu,
                "selu" => Activation::Selu,
                "sigmoid" => Activation::Sigmoid,
                "tanh" => Activation::Tanh,
                "softmax" => Activation::Softmax,
                "swish" | "silu" => Activation::Swish,
                "softplus" => Activation::Softplus,
                other => return Err(error(path, format!("unknown activation `{other}`"))),
            }
        }
    };
    Ok(activation)
}

fn initializer_from_json(value: &Value, path: &str) -> Result<Initializer, ArchitectureError> {
    let object = object(value, path)?;
    let kind = string_field(object, "type", path)?;
    let parameters: &[&str] = match kind {
        "orthogonal" => &["gain"],
        "random_normal" => &["mean", "stddev"],
        "random_uniform" => &["minval", "maxval"],
        "constant" => &["value"],
        _ => &[],
    };
    let mut allowed = vec!["type"];
    allowed.extend_from_slice(parameters);
    allow_only(object, &allowed, path)?;
    let parameter = |field: &str| -> Result<f32, ArchitectureError> {
        float(required(object, field, path)?, &format!("{path}.{field}"))
    };
    let initializer = match kind {
        "glorot_uniform" => Initializer::GlorotUniform,
        "glorot_normal" => Initializer::GlorotNormal,
        "he_uniform" => Initializer::HeUniform,
        "he_normal" => Initializer::HeNormal,
        "lecun_uniform" => Initializer::LecunUniform,
        "lecun_normal" => Initializer::LecunNormal,
        "orthogonal" => Initializer::Orthogonal {
            gain: parameter("gain")?,
        },
        "random_normal" => Initializer::RandomNormal {
            mean: parameter("mean")?,
            stddev: parameter("stddev")?,
        },
        "random_uniform" => Initializer::RandomUniform {
            minval: parameter("minval")?,
            maxval: parameter("maxval")?,
        },
        "zeros" => Initializer::Zeros,
        "ones" => Initializer::Ones,
        "constant" => Initializer::Constant {
            value: parameter("value")?,
        },
        other => {
            return Err(error(
                &format!("{path}.type"),
                format!("unknown initializer `{other}`"),
            ));
        }
    };
    Ok(initializer)
}

fn regularizer_from_json(value: &Value, path: &str) -> Result<Regularizer, ArchitectureError> {
    let object = object(value, path)?;
    allow_only(object, &["l1", "l2"], path)?;
    let mut regularizer = Regularizer::default();
    for (field, slot) in [("l1", &mut regularizer.l1), ("l2", &mut regularizer.l2)] {
        if let Some(value) = object.get(field) {
            let factor = float(value, &format!("{path}.{field}"))?;
            if factor < 0.0 {
                return Err(error(
                    &format!("{path}.{field}"),
                    format!("must not be negative, got {factor}"),
                ));
            }
            *slot = factor;
        }
    }
    Ok(regularizer)
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, ArchitectureError> {
    value
        .as_object()
        .ok_or_else(|| error(path, "must be an object"))
}

fn required<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<&'v Value, ArchitectureError> {
    object
        .get(field)
        .ok_or_else(|| error(&format!("{path}.{field}"), "is required"))
}

fn string_field<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<&'v str, ArchitectureError> {
    required(object, field, path)?
        .as_str()
        .ok_or_else(|| error(&format!("{path}.{field}"), "must be a string"))
}

fn allow_only(
    object: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
) -> Result<(), ArchitectureError> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(error(
            &format!("{path}.{key}"),
            format!("unknown field; expected one of {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A finite number that is also finite as `f32`.
fn float(value: &Value, path: &str) -> Result<f32, ArchitectureError> {
    let number = value
        .as_f64()
        .ok_or_else(|| error(path, "must be a number"))?;
    let single = number as f32;
    if single.is_finite() {
        Ok(single)
    } else {
        Err(error(
            path,
            format!("must be a finite 32-bit number, got {number}"),
        ))
    }
}

fn positive_integer(value: &Value, path: &str) -> Result<usize, ArchitectureError> {
    value
        .as_u64()
        .and_then(|number| usize::try_from(number).ok())
        .filter(|&number| number > 0)
        .ok_or_else(|| error(path, "must be a positive integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(units: usize, activation: Activation) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer: None,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer::default(),
            use_bias: true,
        }
    }

    #[test]
    fn every_layer_activation_and_initializer_survives_a_round_trip() {
        let activations = [
            Activation::Linear,
            Activation::Relu,
            Activation::LeakyRelu {
                negative_slope: 0.1,
            },
            Activation::Elu { alpha: 0.7 },
            Activation::Selu,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softmax,
            Activation::Swish,
            Activation::Softplus,
        ];
        let initializers = [
            Initializer::GlorotUniform,
            Initializer::GlorotNormal,
            Initializer::HeUniform,
            Initializer::HeNormal,
            Initializer::LecunUniform,
            Initializer::LecunNormal,
            Initializer::Orthogonal { gain: 1.3 },
            Initializer::RandomNormal {
                mean: 0.1,
                stddev: 0.05,
            },
            Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            },
            Initializer::Zeros,
            Initializer::Ones,
            Initializer::Constant { value: 0.3 },
        ];
        let mut layers: Vec<LayerPlan> = activations
            .iter()
            .map(|&activation| LayerPlan::Activation(activation))
            .collect();
        for (index, &initializer) in initializers.iter().enumerate() {
            layers.push(LayerPlan::Dense {
                units: index + 1,
                activation: activations[index % activations.len()],
                kernel_initializer: Some(initializer),
                bias_initializer: initializer,
                kernel_regularizer: Regularizer {
                    l1: 0.001,
                    l2: 0.01,
                },
                use_bias: index % 2 == 0,
            });
        }
        layers.push(LayerPlan::Residual {
            layers: vec![
                LayerPlan::BatchNormalization {
                    momentum: 0.9,
                    epsilon: 1e-5,
                },
                LayerPlan::Dropout { rate: 0.25 },
                dense(12, Activation::Relu),
            ],
        });
        let text = to_json(&layers).to_string();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(from_json(&parsed).unwrap(), layers);
    }

    #[test]
    fn numbers_are_written_in_their_shortest_decimal_form() {
        let json = to_json(&[LayerPlan::Dropout { rate: 0.2 }]);
        assert_eq!(json["layers"][0]["rate"].to_string(), "0.2");
    }

    #[test]
    fn left_out_fields_take_the_keras_defaults() {
        let document = json!({"layers": [
            {"type": "dense", "units": 3},
            {"type": "batch_normalization"},
            {"type": "activation", "activation": "leaky_relu"},
            {"type": "activation", "activation": {"type": "elu"}},
            {"type": "activation", "activation": "silu"},
        ]});
        assert_eq!(
            from_json(&document).unwrap(),
            vec![
                dense(3, Activation::Linear),
                LayerPlan::BatchNormalization {
                    momentum: 0.99,
                    epsilon: 1e-3
                },
                LayerPlan::Activation(Activation::LeakyRelu {
                    negative_slope: 0.2
                }),
                LayerPlan::Activation(Activation::Elu { alpha: 1.0 }),
                LayerPlan::Activation(Activation::Swish),
            ]
        );
    }

    #[test]
    fn bad_documents_are_refused_with_the_path_of_the_bad_value() {
        let cases = [
            (json!([]), "architecture"),
            (json!({}), "layers"),
            (json!({"layers": [{"type": "dense"}]}), "layers[0].units"),
            (
                json!({"layers": [{"type": "dense", "units": 0}]}),
                "layers[0].units",
            ),
            (
                json!({"layers": [{"type": "dense", "units": 2.5}]}),
                "layers[0].units",
            ),
            (
                json!({"layers": [{"type": "dense", "units": 2, "unit": 3}]}),
                "layers[0].unit",
            ),
            (json!({"layers": [{"type": "conv2d"}]}), "layers[0].type"),
            (
                json!({"layers": [{"type": "dropout", "rate": 1.0}]}),
                "layers[0].rate",
            ),
            (
                json!({"layers": [{"type": "batch_normalization", "epsilon": 0}]}),
                "layers[0].epsilon",
            ),
            (
                json!({"layers": [{"type": "residual", "layers": [{"type": "activation", "activation": "swoosh"}]}]}),
                "layers[0].layers[0].activation",
            ),
            (
                json!({"layers": [{"type": "activation", "activation": {"type": "elu", "alpha": null}}]}),
                "layers[0].activation.alpha",
            ),
            (
                json!({"layers": [{"type": "activation", "activation": {"type": "elu", "alpha": 1e300}}]}),
                "layers[0].activation.alpha",
            ),
            (
                json!({"layers": [{"type": "dense", "units": 2, "kernel_initializer": {"type": "orthogonal"}}]}),
                "layers[0].kernel_initializer.gain",
            ),
            (
                json!({"layers": [{"type": "dense", "units": 2, "kernel_regularizer": {"l2": -1}}]}),
                "layers[0].kernel_regularizer.l2",
            ),
        ];
        for (document, path) in cases {
            let error = from_json(&document).unwrap_err();
            assert_eq!(error.path, path, "{document} gave {error}");
        }
    }
}
