//! ONNX export: the trained network as an inference graph from raw features to predictions.
//!
//! The file is an ONNX model of IR version 8 importing the default (`ai.onnx`) operator set
//! version 13, which ONNX Runtime, tract and the Python `onnx` checker all accept.
//!
//! - Input `input`: float32 `[batch, input_width]`, the **raw** feature vectors; `batch` is a
//!   symbolic dimension, so any number of rows works.
//! - Output `output`: float32 `[batch, output_width]`, what `predict` returns: the last layer's
//!   activations (class probabilities after a softmax or sigmoid, values for regression).
//!
//! How each part becomes operators (inference mode, as Keras's `predict` runs them):
//!
//! | part | operators |
//! |---|---|
//! | standardization | `Sub(x, standardization.mean)`, `Div(·, standardization.std)` |
//! | dense | `Gemm(x, kernel, bias)`, or `MatMul(x, kernel)` without a bias; kernel `[in, units]` |
//! | batch normalization | `BatchNormalization(x, gamma, beta, moving_mean, moving_variance)` with `epsilon`: `γ·(x − μ)/sqrt(σ² + ε) + β` |
//! | residual block | the inner layers, then `Add(block input, block output)` |
//! | dropout | nothing: inverted dropout is the identity at inference |
//! | relu, sigmoid, tanh, softplus | the operator of that name |
//! | leaky_relu | `LeakyRelu` with `alpha` = the plan's negative slope |
//! | elu | `Elu` with `alpha` |
//! | selu | `Selu` with Keras's constants α = 1.6732632, γ = 1.0507010 (K3 `backend/numpy/nn.py`) |
//! | gelu | exact erf form `0.5·x·(1 + Erf(x/√2))` (`Gelu` is an operator only from opset 20) |
//! | gelu, approximate | the tanh form `0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³)))` |
//! | swish | `Mul(x, Sigmoid(x))` |
//! | softmax | `Softmax` with `axis = -1` (opset-13 semantics: over that one axis) |
//!
//! Initializers carry the parameters under their convention names (`layers.0.kernel`…) as
//! little-endian `raw_data`. The model's `metadata_props` hold `format` (`trainyard`),
//! `input_width`, `architecture` (the JSON of [`architecture`](super::architecture)),
//! `class_names` (a JSON list, when known) and the artifact's free-form entries.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use serde_json::Value;

use super::onnx_proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_type, data_type,
    tensor_shape_proto, type_proto,
};
use super::{
    ArtifactError, ModelArtifact, STANDARDIZATION_MEAN, STANDARDIZATION_STD, architecture,
};
use crate::train::activation::Activation;
use crate::train::plan::{LayerPlan, Tensor};

/// The ONNX IR version written.
pub const IR_VERSION: i64 = 8;
/// The `ai.onnx` operator-set version the graph binds to.
pub const OPSET_VERSION: i64 = 13;
/// Name of the graph input: raw features, float32 `[batch, input_width]`.
pub const INPUT_NAME: &str = "input";
/// Name of the graph output: predictions, float32 `[batch, output_width]`.
pub const OUTPUT_NAME: &str = "output";
/// Name of the symbolic batch dimension of the input and output.
pub const BATCH_DIMENSION: &str = "batch";

/// SELU's α and scale in f32, as Keras defines them (K3 `backend/numpy/nn.py`:
/// 1.6732632423543772848170429916717 and 1.0507009873554804934193349852946).
const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_GAMMA: f32 = 1.050_701;

/// Writes the model as an ONNX file (see the module doc for the graph's contract).
pub fn export(artifact: &ModelArtifact) -> Result<Vec<u8>, ArtifactError> {
    let layout = artifact.check()?;
    let mut graph = GraphBuilder {
        tensors: artifact.parameters_by_name()?,
        nodes: Vec::new(),
        initializers: Vec::new(),
        constants: BTreeSet::new(),
    };

    let mut current = INPUT_NAME.to_owned();
    if let Some(standardizer) = artifact.standardization {
        let (mean, std) = (&standardizer.mean, &standardizer.std);
        graph.initializer(STANDARDIZATION_MEAN, &[mean.len()], mean);
        graph.initializer(STANDARDIZATION_STD, &[std.len()], std);
        let centered = graph.node(
            "Sub",
            "standardization/Sub",
            &[&current, STANDARDIZATION_MEAN],
            vec![],
        );
        current = graph.node(
            "Div",
            "standardization/Div",
            &[&centered, STANDARDIZATION_STD],
            vec![],
        );
    }
    current = graph.layers(artifact.layers, "layers.", current);
    graph.name_output(&current);

    let mut metadata_props = vec![
        entry("format", super::safetensors::FORMAT),
        entry("input_width", &artifact.input_width.to_string()),
        entry(
            "architecture",
            &architecture::to_json(artifact.layers).to_string(),
        ),
    ];
    if let Some(class_names) = artifact.class_names {
        metadata_props.push(entry(
            "class_names",
            &Value::from(class_names.to_vec()).to_string(),
        ));
    }
    for (key, value) in artifact.metadata {
        metadata_props.push(entry(key, value));
    }

    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET_VERSION,
        }],
        producer_name: "trainyard".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        doc_string: format!(
            "Feed-forward network trained by trainyard. Input `{INPUT_NAME}`: raw features, \
             float32 [batch, {}]. Output `{OUTPUT_NAME}`: predictions, float32 [batch, {}].",
            artifact.input_width, layout.output_width
        ),
        graph: Some(GraphProto {
            node: graph.nodes,
            name: "trainyard".to_owned(),
            initializer: graph.initializers,
            input: vec![float_matrix(INPUT_NAME, artifact.input_width)],
            output: vec![float_matrix(OUTPUT_NAME, layout.output_width)],
            ..GraphProto::default()
        }),
        metadata_props,
        ..ModelProto::default()
    };
    Ok(model.encode_to_vec())
}

/// Accumulates nodes and initializers while walking the layers.
struct GraphBuilder<'a> {
    /// The artifact's parameters, already checked against the layout.
    tensors: HashMap<&'a str, &'a Tensor>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    /// Names of the scalar constants already added as initializers.
    constants: BTreeSet<String>,
}

impl GraphBuilder<'_> {
    /// Emits `layers` (named `{prefix}{index}`) reading value `input`; returns the output value.
    fn layers(&mut self, layers: &[LayerPlan], prefix: &str, input: String) -> String {
        let mut current = input;
        for (index, layer) in layers.iter().enumerate() {
            let name = format!("{prefix}{index}");
            current = match layer {
                LayerPlan::Dense {
                    activation,
                    use_bias,
                    ..
                } => {
                    let kernel = self.parameter(&format!("{name}.kernel"));
                    let linear = if *use_bias {
                        let bias = self.parameter(&format!("{name}.bias"));
                        self.node(
                            "Gemm",
                            &format!("{name}/Gemm"),
                            &[&current, &kernel, &bias],
                            vec![],
                        )
                    } else {
                        self.node(
                            "MatMul",
                            &format!("{name}/MatMul"),
                            &[&current, &kernel],
                            vec![],
                        )
                    };
                    self.activation(*activation, &name, linear)
                }
                LayerPlan::BatchNormalization { epsilon, .. } => {
                    let inputs = ["gamma", "beta", "moving_mean", "moving_variance"]
                        .map(|part| self.parameter(&format!("{name}.{part}")));
                    self.node(
                        "BatchNormalization",
                        &format!("{name}/BatchNormalization"),
                        &[&current, &inputs[0], &inputs[1], &inputs[2], &inputs[3]],
                        vec![float_attribute("epsilon", *epsilon)],
                    )
                }
                LayerPlan::Residual { layers: inner } => {
                    let branch = self.layers(inner, &format!("{name}.layers."), current.clone());
                    self.node("Add", &format!("{name}/Add"), &[&current, &branch], vec![])
                }
                LayerPlan::Activation(activation) => self.activation(*activation, &name, current),
                LayerPlan::Dropout { .. } => current,
            };
        }
        current
    }

    /// Emits `activation` applied to value `x` for layer `layer`; returns the output value.
    fn activation(&mut self, activation: Activation, layer: &str, x: String) -> String {
        let unary = |graph: &mut Self, op: &str, attributes| {
            graph.node(op, &format!("{layer}/{op}"), &[&x], attributes)
        };
        match activation {
            Activation::Linear => x,
            Activation::Relu => unary(self, "Relu", vec![]),
            Activation::Sigmoid => unary(self, "Sigmoid", vec![]),
            Activation::Tanh => unary(self, "Tanh", vec![]),
            Activation::Softplus => unary(self, "Softplus", vec![]),
            Activation::LeakyRelu { negative_slope } => unary(
                self,
                "LeakyRelu",
                vec![float_attribute("alpha", negative_slope)],
            ),
            Activation::Elu { alpha } => unary(self, "Elu", vec![float_attribute("alpha", alpha)]),
            Activation::Selu => unary(
                self,
                "Selu",
                vec![
                    float_attribute("alpha", SELU_ALPHA),
                    float_attribute("gamma", SELU_GAMMA),
                ],
            ),
            Activation::Softmax => unary(self, "Softmax", vec![int_attribute("axis", -1)]),
            Activation::Swish => {
                let sigmoid = unary(self, "Sigmoid", vec![]);
                self.node("Mul", &format!("{layer}/Mul"), &[&x, &sigmoid], vec![])
            }
            Activation::Gelu => {
                let sqrt_2 = self.constant("constant.sqrt_2", std::f32::consts::SQRT_2);
                let one = self.constant("constant.one", 1.0);
                let half = self.constant("constant.half", 0.5);
                let scaled = self.node("Div", &format!("{layer}/Div"), &[&x, &sqrt_2], vec![]);
                let erf = self.node("Erf", &format!("{layer}/Erf"), &[&scaled], vec![]);
                let shifted = self.node("Add", &format!("{layer}/Add"), &[&erf, &one], vec![]);
                let gated = self.node("Mul", &format!("{layer}/Mul"), &[&x, &shifted], vec![]);
                self.node(
                    "Mul",
                    &format!("{layer}/Mul_half"),
                    &[&gated, &half],
                    vec![],
                )
            }
            Activation::GeluTanh => {
                let cubic = self.constant("constant.gelu_cubic", 0.044_715);
                let sqrt_2_over_pi = self.constant("constant.sqrt_2_over_pi", 0.797_884_6);
                let one = self.constant("constant.one", 1.0);
                let half = self.constant("constant.half", 0.5);
                let node = |graph: &mut Self, op: &str, suffix: &str, a: &str, b: &str| {
                    graph.node(op, &format!("{layer}/{suffix}"), &[a, b], vec![])
                };
                let square = node(self, "Mul", "Mul_square", &x, &x);
                let cube = node(self, "Mul", "Mul_cube", &square, &x);
                let term = node(self, "Mul", "Mul_cubic", &cube, &cubic);
                let inner = node(self, "Add", "Add_inner", &x, &term);
                let scaled = node(self, "Mul", "Mul_scale", &inner, &sqrt_2_over_pi);
                let tanh = self.node("Tanh", &format!("{layer}/Tanh"), &[&scaled], vec![]);
                let shifted = node(self, "Add", "Add", &tanh, &one);
                let gated = node(self, "Mul", "Mul", &x, &shifted);
                node(self, "Mul", "Mul_half", &gated, &half)
            }
        }
    }

    /// Adds a node whose single output value is named `name` (also the node's name).
    fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|&input| input.to_owned()).collect(),
            output: vec![name.to_owned()],
            name: name.to_owned(),
            op_type: op_type.to_owned(),
            attribute,
            ..NodeProto::default()
        });
        name.to_owned()
    }

    /// Adds the artifact's tensor `name` as an initializer and returns its name. `check` has
    /// verified that every tensor the layout names exists.
    fn parameter(&mut self, name: &str) -> String {
        if let Some(tensor) = self.tensors.get(name) {
            self.initializer(name, &tensor.shape, &tensor.values);
        }
        name.to_owned()
    }

    /// Adds a scalar float initializer once, however many layers use it.
    fn constant(&mut self, name: &str, value: f32) -> String {
        if self.constants.insert(name.to_owned()) {
            self.initializer(name, &[], &[value]);
        }
        name.to_owned()
    }

    fn initializer(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&dim| dim as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.to_owned(),
            raw_data: values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
            ..TensorProto::default()
        });
    }

    /// Makes value `last` the graph output `output`: renames it when the last node produced it
    /// (no node comes after, so nothing else reads the old name), or copies it with `Identity`
    /// when no node did (a network of dropout and linear layers only).
    fn name_output(&mut self, last: &str) {
        if let Some(node) = self.nodes.last_mut()
            && node.output.first().map(String::as_str) == Some(last)
        {
            node.output = vec![OUTPUT_NAME.to_owned()];
            return;
        }
        self.node("Identity", OUTPUT_NAME, &[last], vec![]);
    }
}

fn float_attribute(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(attribute_type::FLOAT),
        f: Some(value),
        ..AttributeProto::default()
    }
}

fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: Some(attribute_type::INT),
        i: Some(value),
        ..AttributeProto::default()
    }
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// A float32 `[batch, width]` value with a symbolic batch dimension.
fn float_matrix(name: &str, width: usize) -> ValueInfoProto {
    let dimensions = vec![
        tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimParam(
                BATCH_DIMENSION.to_owned(),
            )),
            ..Default::default()
        },
        tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(width as i64)),
            ..Default::default()
        },
    ];
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim: dimensions }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::standardize::Standardizer;
    use crate::export::layout;
    use crate::train::init::Initializer;
    use crate::train::regularizer::Regularizer;
    use rand::RngExt;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;
    use tract_onnx::prelude::{
        Framework, InferenceModelExt, IntoRunnable, IntoTValue, tract_ndarray, tvec,
    };

    fn dense(units: usize, activation: Activation, use_bias: bool) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer: None,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer::default(),
            use_bias,
        }
    }

    fn batch_norm(epsilon: f32) -> LayerPlan {
        LayerPlan::BatchNormalization {
            momentum: 0.99,
            epsilon,
        }
    }

    /// Every layer type and every activation, with a residual block holding batch norm,
    /// dropout and dense layers (with and without bias).
    fn every_layer_and_activation() -> Vec<LayerPlan> {
        vec![
            dense(8, Activation::Relu, true),
            batch_norm(1e-3),
            LayerPlan::Residual {
                layers: vec![
                    dense(8, Activation::Elu { alpha: 0.7 }, true),
                    batch_norm(1e-2),
                    LayerPlan::Dropout { rate: 0.2 },
                    dense(8, Activation::Linear, false),
                    LayerPlan::Activation(Activation::LeakyRelu {
                        negative_slope: 0.2,
                    }),
                ],
            },
            LayerPlan::Dropout { rate: 0.5 },
            dense(8, Activation::Selu, true),
            dense(8, Activation::Gelu, true),
            dense(8, Activation::GeluTanh, true),
            dense(8, Activation::Swish, false),
            LayerPlan::Residual {
                layers: vec![
                    dense(8, Activation::Sigmoid, true),
                    dense(8, Activation::Tanh, true),
                ],
            },
            dense(8, Activation::Softplus, true),
            dense(4, Activation::Linear, true),
            LayerPlan::Activation(Activation::Softmax),
        ]
    }

    /// Parameters drawn so that every activation sees values of order one.
    fn random_parameters(layers: &[LayerPlan], input_width: usize, seed: u64) -> Vec<Tensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        layout(layers, input_width)
            .unwrap()
            .tensors
            .into_iter()
            .map(|(name, shape)| {
                let count: usize = shape.iter().product();
                let (low, high) = if name.ends_with(".kernel") {
                    let limit = (3.0 / shape[0] as f32).sqrt() * 1.5;
                    (-limit, limit)
                } else if name.ends_with(".moving_variance") {
                    (0.3, 2.0)
                } else if name.ends_with(".gamma") {
                    (0.5, 1.5)
                } else {
                    (-0.5, 0.5)
                };
                let values = (0..count).map(|_| rng.random_range(low..high)).collect();
                Tensor {
                    name,
                    shape,
                    values,
                }
            })
            .collect()
    }

    fn random_matrix(rows: usize, columns: usize, low: f32, high: f32, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..rows * columns)
            .map(|_| rng.random_range(low..high))
            .collect()
    }

    /// The network in f64, written from the formulas (NUMERICS.md §5): `x·K + b`,
    /// `γ·(x − μ)/sqrt(σ² + ε) + β`, `x + f(x)`, and the Keras activations.
    fn reference(
        layers: &[LayerPlan],
        parameters: &HashMap<&str, &Tensor>,
        prefix: &str,
        rows: Vec<Vec<f64>>,
    ) -> Vec<Vec<f64>> {
        let values = |name: String| -> Vec<f64> {
            parameters[name.as_str()]
                .values
                .iter()
                .map(|&value| f64::from(value))
                .collect()
        };
        let mut rows = rows;
        for (index, layer) in layers.iter().enumerate() {
            let name = format!("{prefix}{index}");
            rows = match layer {
                LayerPlan::Dense {
                    units,
                    activation,
                    use_bias,
                    ..
                } => {
                    let kernel = values(format!("{name}.kernel"));
                    let bias = if *use_bias {
                        values(format!("{name}.bias"))
                    } else {
                        vec![0.0; *units]
                    };
                    rows.iter()
                        .map(|row| {
                            let linear: Vec<f64> = (0..*units)
                                .map(|unit| {
                                    bias[unit]
                                        + row
                                            .iter()
                                            .enumerate()
                                            .map(|(input, x)| x * kernel[input * units + unit])
                                            .sum::<f64>()
                                })
                                .collect();
                            activate(*activation, &linear)
                        })
                        .collect()
                }
                LayerPlan::BatchNormalization { epsilon, .. } => {
                    let [gamma, beta, mean, variance] =
                        ["gamma", "beta", "moving_mean", "moving_variance"]
                            .map(|part| values(format!("{name}.{part}")));
                    rows.iter()
                        .map(|row| {
                            row.iter()
                                .enumerate()
                                .map(|(k, x)| {
                                    gamma[k] * (x - mean[k])
                                        / (variance[k] + f64::from(*epsilon)).sqrt()
                                        + beta[k]
                                })
                                .collect()
                        })
                        .collect()
                }
                LayerPlan::Residual { layers: inner } => {
                    let branch =
                        reference(inner, parameters, &format!("{name}.layers."), rows.clone());
                    rows.iter()
                        .zip(branch)
                        .map(|(row, branch)| row.iter().zip(branch).map(|(a, b)| a + b).collect())
                        .collect()
                }
                LayerPlan::Activation(activation) => {
                    rows.iter().map(|row| activate(*activation, row)).collect()
                }
                LayerPlan::Dropout { .. } => rows,
            };
        }
        rows
    }

    fn activate(activation: Activation, row: &[f64]) -> Vec<f64> {
        const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
        const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let elementwise = |f: &dyn Fn(f64) -> f64| row.iter().map(|&x| f(x)).collect();
        match activation {
            Activation::Linear => row.to_vec(),
            Activation::Relu => elementwise(&|x| x.max(0.0)),
            Activation::LeakyRelu { negative_slope } => elementwise(&|x| {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(negative_slope) * x
                }
            }),
            Activation::Elu { alpha } => elementwise(&|x| {
                if x > 0.0 {
                    x
                } else {
                    f64::from(alpha) * x.exp_m1()
                }
            }),
            Activation::Selu => {
                elementwise(&|x| SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() })
            }
            Activation::Gelu => {
                elementwise(&|x| 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)))
            }
            Activation::GeluTanh => elementwise(&|x| {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
            }),
            Activation::Sigmoid => elementwise(&sigmoid),
            Activation::Tanh => elementwise(&f64::tanh),
            Activation::Swish => elementwise(&|x| x * sigmoid(x)),
            Activation::Softplus => elementwise(&|x| x.max(0.0) + (-x.abs()).exp().ln_1p()),
            Activation::Softmax => {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
                let total: f64 = exps.iter().sum();
                exps.iter().map(|e| e / total).collect()
            }
        }
    }

    /// Runs the exported bytes in tract on `inputs` (`rows × input_width`, row-major).
    fn run_in_tract(bytes: &[u8], inputs: &[f32], rows: usize, input_width: usize) -> Vec<f32> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let input =
            tract_ndarray::Array2::from_shape_vec((rows, input_width), inputs.to_vec()).unwrap();
        let input = tract_onnx::prelude::Tensor::from(input).into_tvalue();
        let outputs = model.run(tvec!(input)).unwrap();
        let output = outputs[0].to_plain_array_view::<f32>().unwrap();
        assert_eq!(output.shape()[0], rows);
        output.iter().copied().collect()
    }

    /// The reference forward pass on raw inputs, standardization applied first.
    fn reference_predict(artifact: &ModelArtifact, inputs: &[f32]) -> Vec<f64> {
        let width = artifact.input_width;
        let rows: Vec<Vec<f64>> = inputs
            .chunks(width)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(feature, &x)| match artifact.standardization {
                        Some(Standardizer { mean, std }) => {
                            (f64::from(x) - f64::from(mean[feature])) / f64::from(std[feature])
                        }
                        None => f64::from(x),
                    })
                    .collect()
            })
            .collect();
        let parameters = artifact.parameters_by_name().unwrap();
        reference(artifact.layers, &parameters, "layers.", rows)
            .into_iter()
            .flatten()
            .collect()
    }

    /// The engine's own `predict` on raw inputs, standardized first as the service does.
    fn engine_predict(artifact: &ModelArtifact, inputs: &[f32]) -> Vec<f64> {
        let rows = inputs.len() / artifact.input_width;
        let mut features =
            tract_ndarray::Array2::from_shape_vec((rows, artifact.input_width), inputs.to_vec())
                .unwrap();
        if let Some(standardizer) = artifact.standardization {
            standardizer.apply(&mut features).unwrap();
        }
        crate::train::predict(artifact.layers, artifact.parameters, features.view())
            .unwrap()
            .iter()
            .map(|&value| f64::from(value))
            .collect()
    }

    /// Checks tract's output against the f64 reference and the engine's `predict`.
    fn assert_matches_reference_and_engine(
        artifact: &ModelArtifact,
        inputs: &[f32],
        got: &[f32],
        case: &str,
    ) {
        let reference = reference_predict(artifact, inputs);
        let engine = engine_predict(artifact, inputs);
        let tract_vs_reference = max_abs_difference(got, &reference);
        let tract_vs_engine = max_abs_difference(got, &engine);
        let engine_f32: Vec<f32> = engine.iter().map(|&value| value as f32).collect();
        let engine_vs_reference = max_abs_difference(&engine_f32, &reference);
        assert!(
            tract_vs_reference <= 1e-5 && tract_vs_engine <= 1e-5 && engine_vs_reference <= 1e-5,
            "{case}: max |tract − reference| = {tract_vs_reference:e}, \
             |tract − predict| = {tract_vs_engine:e}, |predict − reference| = {engine_vs_reference:e}"
        );
    }

    fn max_abs_difference(got: &[f32], want: &[f64]) -> f64 {
        assert_eq!(got.len(), want.len());
        got.iter()
            .zip(want)
            .map(|(&got, want)| (f64::from(got) - want).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn tract_runs_every_layer_and_activation_as_the_reference_and_predict_do() {
        let layers = every_layer_and_activation();
        let input_width = 6;
        let parameters = random_parameters(&layers, input_width, 11);
        let standardizer = Standardizer {
            mean: random_matrix(1, input_width, -2.0, 2.0, 12),
            std: random_matrix(1, input_width, 0.5, 3.0, 13),
        };
        let Standardizer { mean, std } = &standardizer;
        let class_names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let artifact = ModelArtifact {
            layers: &layers,
            parameters: &parameters,
            input_width,
            standardization: Some(&standardizer),
            class_names: Some(&class_names),
            metadata: &[],
        };
        let bytes = export(&artifact).unwrap();
        // Two batch sizes through the same file: the batch dimension is symbolic.
        for (rows, seed) in [(17, 14), (1, 15)] {
            let inputs: Vec<f32> = random_matrix(rows, input_width, -2.0, 2.0, seed)
                .iter()
                .enumerate()
                .map(|(index, &u)| mean[index % input_width] + std[index % input_width] * u)
                .collect();
            let got = run_in_tract(&bytes, &inputs, rows, input_width);
            assert_matches_reference_and_engine(&artifact, &inputs, &got, &format!("{rows} rows"));
            // Softmax rows are distributions, so the comparison above is not vacuous.
            for row in got.chunks(4) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn networks_ending_in_each_kind_of_layer_give_the_reference_output() {
        let cases: Vec<Vec<LayerPlan>> = vec![
            // Regression: the last node is a bare Gemm.
            vec![
                dense(5, Activation::Tanh, true),
                dense(2, Activation::Linear, true),
            ],
            // The last node is a MatMul without bias.
            vec![dense(3, Activation::Linear, false)],
            // The last node is a residual Add.
            vec![LayerPlan::Residual {
                layers: vec![dense(3, Activation::Relu, true)],
            }],
            // The last node is a batch normalization.
            vec![dense(4, Activation::Sigmoid, true), batch_norm(1e-3)],
            // The last layer adds no node: the Gemm before the dropout becomes the output.
            vec![
                dense(2, Activation::Linear, true),
                LayerPlan::Dropout { rate: 0.5 },
            ],
        ];
        for (index, layers) in cases.iter().enumerate() {
            let parameters = random_parameters(layers, 3, 20 + index as u64);
            let artifact = ModelArtifact {
                layers,
                parameters: &parameters,
                input_width: 3,
                standardization: None,
                class_names: None,
                metadata: &[],
            };
            let inputs = random_matrix(9, 3, -2.0, 2.0, 40 + index as u64);
            let got = run_in_tract(&export(&artifact).unwrap(), &inputs, 9, 3);
            assert_matches_reference_and_engine(&artifact, &inputs, &got, &format!("case {index}"));
        }
    }

    #[test]
    fn a_network_without_operators_copies_or_standardizes_its_input() {
        let layers = [LayerPlan::Dropout { rate: 0.1 }];
        let plain = ModelArtifact {
            layers: &layers,
            parameters: &[],
            input_width: 2,
            standardization: None,
            class_names: None,
            metadata: &[],
        };
        let inputs = [1.0, -2.0, 3.5, 0.25];
        assert_eq!(
            run_in_tract(&export(&plain).unwrap(), &inputs, 2, 2),
            inputs
        );

        let standardizer = Standardizer {
            mean: vec![1.0, 2.0],
            std: vec![2.0, 0.5],
        };
        let standardized = ModelArtifact {
            standardization: Some(&standardizer),
            ..plain
        };
        assert_eq!(
            run_in_tract(&export(&standardized).unwrap(), &inputs, 2, 2),
            [0.0, -8.0, 1.25, -3.5]
        );
    }

    #[test]
    fn the_graph_declares_its_contract() {
        let layers = [dense(3, Activation::Softmax, true)];
        let parameters = random_parameters(&layers, 4, 1);
        let standardizer = Standardizer::identity(4);
        let class_names: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let metadata = [("job_id".to_owned(), "j-1".to_owned())];
        let artifact = ModelArtifact {
            layers: &layers,
            parameters: &parameters,
            input_width: 4,
            standardization: Some(&standardizer),
            class_names: Some(&class_names),
            metadata: &metadata,
        };
        let model = ModelProto::decode(export(&artifact).unwrap().as_slice()).unwrap();
        assert_eq!(model.ir_version, 8);
        assert_eq!(
            model.opset_import,
            [OperatorSetIdProto {
                domain: String::new(),
                version: 13
            }]
        );
        let graph = model.graph.unwrap();
        let shape = |value: &ValueInfoProto| -> (String, Vec<String>) {
            let Some(type_proto::Value::TensorType(tensor)) =
                value.r#type.as_ref().and_then(|t| t.value.clone())
            else {
                panic!("{} is not a tensor", value.name);
            };
            assert_eq!(tensor.elem_type, data_type::FLOAT);
            let dims = tensor
                .shape
                .unwrap()
                .dim
                .into_iter()
                .map(|dim| match dim.value {
                    Some(tensor_shape_proto::dimension::Value::DimValue(size)) => size.to_string(),
                    Some(tensor_shape_proto::dimension::Value::DimParam(name)) => name,
                    None => "?".to_owned(),
                })
                .collect();
            (value.name.clone(), dims)
        };
        assert_eq!(
            graph.input.iter().map(shape).collect::<Vec<_>>(),
            [("input".to_owned(), vec!["batch".to_owned(), "4".to_owned()])]
        );
        assert_eq!(
            graph.output.iter().map(shape).collect::<Vec<_>>(),
            [(
                "output".to_owned(),
                vec!["batch".to_owned(), "3".to_owned()]
            )]
        );
        let ops: Vec<&str> = graph
            .node
            .iter()
            .map(|node| node.op_type.as_str())
            .collect();
        assert_eq!(ops, ["Sub", "Div", "Gemm", "Softmax"]);
        assert_eq!(graph.node[3].attribute[0].i, Some(-1));
        let initializers: Vec<(&str, &[i64])> = graph
            .initializer
            .iter()
            .map(|tensor| (tensor.name.as_str(), tensor.dims.as_slice()))
            .collect();
        assert_eq!(
            initializers,
            [
                ("standardization.mean", &[4][..]),
                ("standardization.std", &[4][..]),
                ("layers.0.kernel", &[4, 3][..]),
                ("layers.0.bias", &[3][..]),
            ]
        );
        assert_eq!(
            graph.initializer[2].raw_data,
            parameters[0]
                .values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect::<Vec<u8>>()
        );
        let metadata: HashMap<&str, &str> = model
            .metadata_props
            .iter()
            .map(|entry| (entry.key.as_str(), entry.value.as_str()))
            .collect();
        assert_eq!(metadata["format"], "trainyard");
        assert_eq!(metadata["input_width"], "4");
        assert_eq!(metadata["class_names"], r#"["x","y","z"]"#);
        assert_eq!(metadata["job_id"], "j-1");
        assert!(metadata["architecture"].contains(r#""softmax""#));
    }

    #[test]
    fn export_refuses_parameters_that_do_not_fit_the_architecture() {
        let layers = [dense(3, Activation::Relu, true)];
        let mut parameters = random_parameters(&layers, 4, 1);
        parameters[1].shape = vec![4];
        parameters[1].values = vec![0.0; 4];
        let artifact = ModelArtifact {
            layers: &layers,
            parameters: &parameters,
            input_width: 4,
            standardization: None,
            class_names: None,
            metadata: &[],
        };
        assert_eq!(
            export(&artifact),
            Err(ArtifactError::ShapeMismatch {
                name: "layers.0.bias".into(),
                expected: vec![3],
                found: vec![4],
            })
        );
    }
}
