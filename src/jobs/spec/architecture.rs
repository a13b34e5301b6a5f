//! The `architecture` part: the layers in order, under Keras's names and defaults.
//!
//! Defaults are Keras's (K3 `layers/core/dense.py`, `layers/normalization/batch_normalization.py`):
//! a dense layer has no activation (`linear`), `use_bias` true, bias initializer `zeros`, no
//! regularizer, and its kernel initializer is the job's `initializer` unless given; batch
//! normalization has momentum 0.99 and epsilon 1e-3. `leaky_relu` by name has slope 0.2, the
//! activation *function*'s default (the `LeakyReLU` layer's is 0.3; NUMERICS §5.4), and `elu`
//! alpha 1. Residual blocks nest up to [`MAX_DEPTH`] levels, lists hold at most [`MAX_LAYERS`]
//! layers in all, so no input can recurse without bound.

use serde_json::{Value, json};

use super::read::{Errors, Interval, Object, array, item, name, name_of};

/// Most layers in the whole architecture, counting those inside residual blocks.
pub const MAX_LAYERS: usize = 256;
/// Deepest nesting of residual blocks (a top-level block is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Most units of one dense layer.
pub const MAX_UNITS: u64 = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub struct ArchitectureSpec {
    pub layers: Vec<LayerSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    Dense {
        units: usize,
        activation: ActivationSpec,
        /// `None`: the job's `initializer`.
        kernel_initializer: Option<KernelInitializer>,
        bias_initializer: KernelInitializer,
        kernel_regularizer: Option<RegularizerSpec>,
        use_bias: bool,
    },
    Dropout {
        rate: f64,
    },
    BatchNormalization {
        momentum: f64,
        epsilon: f64,
    },
    Residual {
        layers: Vec<LayerSpec>,
    },
    Activation {
        activation: ActivationSpec,
    },
}

/// An activation by Keras name, with its parameter where it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActivationSpec {
    Linear,
    Relu,
    LeakyRelu {
        negative_slope: f64,
    },
    Elu {
        alpha: f64,
    },
    Selu,
    /// Exact unless `approximate` (Keras's `gelu(x, approximate=True)`, the tanh form).
    Gelu {
        approximate: bool,
    },
    Sigmoid,
    Tanh,
    Softmax,
    Silu,
    Softplus,
}

/// Activation names; `swish` is Keras's alias of `silu`.
pub const ACTIVATIONS: &[(&str, ActivationSpec)] = &[
    ("linear", ActivationSpec::Linear),
    ("relu", ActivationSpec::Relu),
    (
        "leaky_relu",
        ActivationSpec::LeakyRelu {
            negative_slope: 0.2,
        },
    ),
    ("elu", ActivationSpec::Elu { alpha: 1.0 }),
    ("selu", ActivationSpec::Selu),
    ("gelu", ActivationSpec::Gelu { approximate: false }),
    ("sigmoid", ActivationSpec::Sigmoid),
    ("tanh", ActivationSpec::Tanh),
    ("softmax", ActivationSpec::Softmax),
    ("silu", ActivationSpec::Silu),
    ("swish", ActivationSpec::Silu),
    ("softplus", ActivationSpec::Softplus),
];

impl ActivationSpec {
    pub fn name(self) -> &'static str {
        match self {
            ActivationSpec::LeakyRelu { .. } => "leaky_relu",
            ActivationSpec::Elu { .. } => "elu",
            ActivationSpec::Gelu { .. } => "gelu",
            other => name_of(ACTIVATIONS, &other),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            ActivationSpec::LeakyRelu { negative_slope } => {
                json!({"type": "leaky_relu", "negative_slope": negative_slope})
            }
            ActivationSpec::Elu { alpha } => json!({"type": "elu", "alpha": alpha}),
            ActivationSpec::Gelu { approximate: true } => {
                json!({"type": "gelu", "approximate": true})
            }
            other => json!(other.name()),
        }
    }
}

/// A random or constant initializer for one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KernelInitializer {
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal { gain: f64 },
    RandomNormal { mean: f64, stddev: f64 },
    RandomUniform { minval: f64, maxval: f64 },
    Zeros,
    Ones,
    Constant { value: f64 },
}

/// Initializer names with Keras's default parameters (K3 `initializers/*.py`).
pub const KERNEL_INITIALIZERS: &[(&str, KernelInitializer)] = &[
    ("glorot_uniform", KernelInitializer::GlorotUniform),
    ("glorot_normal", KernelInitializer::GlorotNormal),
    ("he_uniform", KernelInitializer::HeUniform),
    ("he_normal", KernelInitializer::HeNormal),
    ("lecun_uniform", KernelInitializer::LecunUniform),
    ("lecun_normal", KernelInitializer::LecunNormal),
    ("orthogonal", KernelInitializer::Orthogonal { gain: 1.0 }),
    (
        "random_normal",
        KernelInitializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
        },
    ),
    (
        "random_uniform",
        KernelInitializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
        },
    ),
    ("zeros", KernelInitializer::Zeros),
    ("ones", KernelInitializer::Ones),
    ("constant", KernelInitializer::Constant { value: 0.0 }),
];

impl KernelInitializer {
    pub fn name(self) -> &'static str {
        let index = match self {
            KernelInitializer::GlorotUniform => 0,
            KernelInitializer::GlorotNormal => 1,
            KernelInitializer::HeUniform => 2,
            KernelInitializer::HeNormal => 3,
            KernelInitializer::LecunUniform => 4,
            KernelInitializer::LecunNormal => 5,
            KernelInitializer::Orthogonal { .. } => 6,
            KernelInitializer::RandomNormal { .. } => 7,
            KernelInitializer::RandomUniform { .. } => 8,
            KernelInitializer::Zeros => 9,
            KernelInitializer::Ones => 10,
            KernelInitializer::Constant { .. } => 11,
        };
        KERNEL_INITIALIZERS[index].0
    }

    /// `{"type": name, …parameters}`.
    pub fn to_json(self) -> Value {
        let mut value = json!({"type": self.name()});
        let map = value.as_object_mut().expect("an object literal");
        match self {
            KernelInitializer::Orthogonal { gain } => {
                map.insert("gain".into(), json!(gain));
            }
            KernelInitializer::RandomNormal { mean, stddev } => {
                map.insert("mean".into(), json!(mean));
                map.insert("stddev".into(), json!(stddev));
            }
            KernelInitializer::RandomUniform { minval, maxval } => {
                map.insert("minval".into(), json!(minval));
                map.insert("maxval".into(), json!(maxval));
            }
            KernelInitializer::Constant { value } => {
                map.insert("value".into(), json!(value));
            }
            _ => {}
        }
        value
    }
}

/// `kernel_regularizer`: `l1·Σ|w| + l2·Σw²`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegularizerSpec {
    pub l1: f64,
    pub l2: f64,
}

/// Reads an initializer's parameters from `object` (whose `type` named `initializer`).
pub(super) fn initializer_parameters(
    initializer: KernelInitializer,
    object: &mut Object,
    errors: &mut Errors,
) -> KernelInitializer {
    let any = Interval::closed(-1e6, 1e6);
    let positive = Interval::open_closed(0.0, 1e6);
    match initializer {
        KernelInitializer::Orthogonal { gain } => KernelInitializer::Orthogonal {
            gain: object.number("gain", any, errors).unwrap_or(gain),
        },
        KernelInitializer::RandomNormal { mean, stddev } => KernelInitializer::RandomNormal {
            mean: object.number("mean", any, errors).unwrap_or(mean),
            stddev: object.number("stddev", positive, errors).unwrap_or(stddev),
        },
        KernelInitializer::RandomUniform { minval, maxval } => {
            let low = object.number("minval", any, errors).unwrap_or(minval);
            let high = object.number("maxval", any, errors).unwrap_or(maxval);
            if low >= high {
                errors.add(
                    object.at("maxval"),
                    format!("must be greater than minval ({low}), got {high}"),
                    None,
                );
            }
            KernelInitializer::RandomUniform {
                minval: low,
                maxval: high,
            }
        }
        KernelInitializer::Constant { value } => KernelInitializer::Constant {
            value: object.number("value", any, errors).unwrap_or(value),
        },
        other => other,
    }
}

/// A per-layer initializer: a name, or `{"type": name, …parameters}`.
fn parse_kernel_initializer(
    value: &Value,
    path: &str,
    errors: &mut Errors,
) -> Option<KernelInitializer> {
    let before = errors.count();
    let initializer = match value {
        Value::String(_) => name(value, path, "initializer", KERNEL_INITIALIZERS, errors)?,
        _ => {
            let mut object = Object::open(value, path, errors)?;
            let initializer =
                object.required_name("type", "initializer", KERNEL_INITIALIZERS, errors)?;
            let initializer = initializer_parameters(initializer, &mut object, errors);
            object.finish(errors);
            initializer
        }
    };
    (errors.count() == before).then_some(initializer)
}

/// An activation: a name, or `{"type": "leaky_relu", "negative_slope": s}`,
/// `{"type": "elu", "alpha": a}` or `{"type": "gelu", "approximate": true}`.
pub(super) fn parse_activation(
    value: &Value,
    path: &str,
    errors: &mut Errors,
) -> Option<ActivationSpec> {
    let before = errors.count();
    let activation = match value {
        Value::String(_) => name(value, path, "activation", ACTIVATIONS, errors)?,
        _ => {
            let mut object = Object::open(value, path, errors)?;
            let activation =
                match object.required_name("type", "activation", ACTIVATIONS, errors)? {
                    ActivationSpec::LeakyRelu { negative_slope } => ActivationSpec::LeakyRelu {
                        negative_slope: object
                            .number("negative_slope", Interval::closed(0.0, 1.0), errors)
                            .unwrap_or(negative_slope),
                    },
                    ActivationSpec::Elu { alpha } => ActivationSpec::Elu {
                        alpha: object
                            .number("alpha", Interval::closed(0.0, 100.0), errors)
                            .unwrap_or(alpha),
                    },
                    ActivationSpec::Gelu { approximate } => ActivationSpec::Gelu {
                        approximate: object.boolean("approximate", errors).unwrap_or(approximate),
                    },
                    other => other,
                };
            object.finish(errors);
            activation
        }
    };
    (errors.count() == before).then_some(activation)
}

fn parse_regularizer(value: &Value, path: &str, errors: &mut Errors) -> Option<RegularizerSpec> {
    // Keras's strings "l1" and "l2" mean factor 0.01 (K3 `regularizers/regularizers.py`).
    const NAMED: &[(&str, RegularizerSpec)] = &[
        ("l1", RegularizerSpec { l1: 0.01, l2: 0.0 }),
        ("l2", RegularizerSpec { l1: 0.0, l2: 0.01 }),
    ];
    if let Value::String(_) = value {
        return name(value, path, "regularizer", NAMED, errors);
    }
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let range = Interval::closed(0.0, 1e3);
    let l1 = object.number("l1", range, errors).unwrap_or(0.0);
    let l2 = object.number("l2", range, errors).unwrap_or(0.0);
    object.finish(errors);
    (errors.count() == before).then_some(RegularizerSpec { l1, l2 })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LayerType {
    Dense,
    Dropout,
    BatchNormalization,
    Residual,
    Activation,
}

const LAYER_TYPES: &[(&str, LayerType)] = &[
    ("dense", LayerType::Dense),
    ("dropout", LayerType::Dropout),
    ("batch_normalization", LayerType::BatchNormalization),
    ("residual", LayerType::Residual),
    ("activation", LayerType::Activation),
];

/// The names a layer's `type` takes, for the check against `openapi.yaml`.
#[cfg(test)]
pub(super) fn layer_types() -> Vec<&'static str> {
    super::read::names(LAYER_TYPES)
}

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<ArchitectureSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let layers_path = object.at("layers");
    let mut budget = MAX_LAYERS;
    let layers = object
        .required("layers", errors)
        .and_then(|value| parse_layers(value, &layers_path, 0, &mut budget, errors));
    object.finish(errors);
    if let Some(layers) = &layers
        && layers.is_empty()
    {
        errors.add(layers_path, "must have at least one layer", None);
    }
    let layers = layers?;
    (errors.count() == before).then_some(ArchitectureSpec { layers })
}

/// Parses a list of layers at nesting `depth`, spending one unit of `budget` per layer.
fn parse_layers(
    value: &Value,
    path: &str,
    depth: usize,
    budget: &mut usize,
    errors: &mut Errors,
) -> Option<Vec<LayerSpec>> {
    let before = errors.count();
    let items = array(value, path, MAX_LAYERS, errors)?;
    let mut layers = Vec::with_capacity(items.len());
    for (index, layer) in items.iter().enumerate() {
        let layer_path = item(path, index);
        if *budget == 0 {
            errors.add(layer_path, format!("too many layers: at most {MAX_LAYERS} in all, counting those inside residual blocks"), None);
            return None;
        }
        *budget -= 1;
        if let Some(layer) = parse_layer(layer, &layer_path, depth, budget, errors) {
            layers.push(layer);
        }
    }
    (errors.count() == before).then_some(layers)
}

fn parse_layer(
    value: &Value,
    path: &str,
    depth: usize,
    budget: &mut usize,
    errors: &mut Errors,
) -> Option<LayerSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let layer = match object.required_name("type", "layer type", LAYER_TYPES, errors)? {
        LayerType::Dense => {
            let units = object
                .required_integer("units", 1, MAX_UNITS, errors)
                .unwrap_or(1) as usize;
            let activation_path = object.at("activation");
            let activation = object
                .field("activation")
                .and_then(|value| parse_activation(value, &activation_path, errors))
                .unwrap_or(ActivationSpec::Linear);
            let kernel_path = object.at("kernel_initializer");
            let kernel_initializer = object
                .field("kernel_initializer")
                .and_then(|value| parse_kernel_initializer(value, &kernel_path, errors));
            let bias_path = object.at("bias_initializer");
            let bias_initializer = object
                .field("bias_initializer")
                .and_then(|value| parse_kernel_initializer(value, &bias_path, errors))
                .unwrap_or(KernelInitializer::Zeros);
            let regularizer_path = object.at("kernel_regularizer");
            let kernel_regularizer = object
                .field("kernel_regularizer")
                .and_then(|value| parse_regularizer(value, &regularizer_path, errors));
            let use_bias = object.boolean("use_bias", errors).unwrap_or(true);
            LayerSpec::Dense {
                units,
                activation,
                kernel_initializer,
                bias_initializer,
                kernel_regularizer,
                use_bias,
            }
        }
        LayerType::Dropout => LayerSpec::Dropout {
            // Rate 1 would scale the kept units by 1/(1 − rate) = ∞; Keras outputs zeros there,
            // which trains nothing, so it is refused.
            rate: object
                .required_number("rate", Interval::closed_open(0.0, 1.0), errors)
                .unwrap_or(0.0),
        },
        LayerType::BatchNormalization => LayerSpec::BatchNormalization {
            momentum: object
                .number("momentum", Interval::closed(0.0, 1.0), errors)
                .unwrap_or(0.99),
            epsilon: object
                .number("epsilon", Interval::open_closed(0.0, 1.0), errors)
                .unwrap_or(1e-3),
        },
        LayerType::Residual => {
            let layers_path = object.at("layers");
            let inner = object.required("layers", errors);
            let layers = if depth >= MAX_DEPTH {
                if inner.is_some() {
                    errors.add(
                        &layers_path,
                        format!("residual blocks nest at most {MAX_DEPTH} deep"),
                        None,
                    );
                }
                None
            } else {
                inner.and_then(|value| parse_layers(value, &layers_path, depth + 1, budget, errors))
            };
            if let Some(layers) = &layers
                && layers.is_empty()
            {
                errors.add(layers_path, "must have at least one layer", None);
            }
            LayerSpec::Residual {
                layers: layers.unwrap_or_default(),
            }
        }
        LayerType::Activation => {
            let activation_path = object.at("activation");
            let activation = object
                .required("activation", errors)
                .and_then(|value| parse_activation(value, &activation_path, errors))
                .unwrap_or(ActivationSpec::Linear);
            LayerSpec::Activation { activation }
        }
    };
    object.finish(errors);
    (errors.count() == before).then_some(layer)
}

impl LayerSpec {
    pub fn to_json(&self) -> Value {
        match self {
            LayerSpec::Dense {
                units,
                activation,
                kernel_initializer,
                bias_initializer,
                kernel_regularizer,
                use_bias,
            } => json!({
                "type": "dense",
                "units": units,
                "activation": activation.to_json(),
                "kernel_initializer": kernel_initializer.map(KernelInitializer::to_json),
                "bias_initializer": bias_initializer.to_json(),
                "kernel_regularizer": kernel_regularizer.map(|r| json!({"l1": r.l1, "l2": r.l2})),
                "use_bias": use_bias,
            }),
            LayerSpec::Dropout { rate } => json!({"type": "dropout", "rate": rate}),
            LayerSpec::BatchNormalization { momentum, epsilon } => {
                json!({"type": "batch_normalization", "momentum": momentum, "epsilon": epsilon})
            }
            LayerSpec::Residual { layers } => {
                json!({"type": "residual", "layers": layers.iter().map(LayerSpec::to_json).collect::<Vec<_>>()})
            }
            LayerSpec::Activation { activation } => {
                json!({"type": "activation", "activation": activation.to_json()})
            }
        }
    }
}

impl ArchitectureSpec {
    pub fn to_json(&self) -> Value {
        json!({"layers": self.layers.iter().map(LayerSpec::to_json).collect::<Vec<_>>()})
    }
}
