//! Model export: pure functions from a trained model to the bytes of a file format, and back
//! where a format can be imported. Nothing here does I/O; the service stores and serves bytes.
//!
//! Every exporter takes a [`ModelArtifact`], a borrowed bundle of what a trained model is: the
//! architecture, its parameter tensors under the naming convention below, the input width, the
//! optional input standardization and class names. [`ModelArtifact::check`] verifies that the
//! tensors are exactly the ones the architecture implies before any bytes are written.
//!
//! Tensor names follow the layer's position: top-level layer `i` owns `layers.{i}.kernel`
//! `[in, units]` and `layers.{i}.bias` `[units]` (no bias when `use_bias` is false) for a dense
//! layer, and `layers.{i}.gamma`, `.beta`, `.moving_mean`, `.moving_variance` `[width]` for batch
//! normalization; inner layer `j` of a residual block `i` is `layers.{i}.layers.{j}.…`. Dropout
//! and activation layers own nothing.
//!
//! Formats: [`safetensors`] (every tensor plus the architecture as JSON metadata; importable)
//! and [`onnx`] (an inference graph from raw features to predictions). The architecture's JSON
//! form lives in [`architecture`].

pub mod architecture;
pub mod onnx;
mod onnx_proto;
pub mod safetensors;

use std::collections::HashMap;

use crate::data::standardize::Standardizer;
use crate::train::plan::{LayerPlan, Tensor};

/// A trained model as the exporters see it: borrowed views of what the service stores.
#[derive(Debug, Clone, Copy)]
pub struct ModelArtifact<'a> {
    pub layers: &'a [LayerPlan],
    /// Every parameter and state tensor, named by the convention in the module doc.
    pub parameters: &'a [Tensor],
    /// Features per sample that the first layer receives.
    pub input_width: usize,
    /// Per-feature mean and std, each `[input_width]`: inputs become `(x − mean)/std` before
    /// the first layer. Exported files apply it themselves, so they take raw features.
    pub standardization: Option<&'a Standardizer>,
    /// Class names, index = class id, for classifiers whose labels have names.
    pub class_names: Option<&'a [String]>,
    /// Free-form key/value pairs (job id, dataset, loss…) copied into the file's metadata.
    pub metadata: &'a [(String, String)],
}

/// Name of the standardization mean tensor in exported files.
pub const STANDARDIZATION_MEAN: &str = "standardization.mean";
/// Name of the standardization standard-deviation tensor in exported files.
pub const STANDARDIZATION_STD: &str = "standardization.std";

/// The tensors an architecture implies for a given input width, in forward order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// `(name, shape)` of every parameter tensor.
    pub tensors: Vec<(String, Vec<usize>)>,
    /// Width of the network's output (the last layer's units, or the input width).
    pub output_width: usize,
}

/// Why a set of tensors does not fit its architecture.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    #[error("the input width is 0; a model needs at least one feature")]
    ZeroInputWidth,
    #[error("the input width is {width}; a model takes at most {MAX_INPUT_WIDTH} features")]
    InputWidthTooLarge { width: usize },
    #[error("dense layer `{layer}` has 0 units")]
    ZeroUnits { layer: String },
    #[error("layer `{layer}` is too large: its tensor sizes overflow")]
    TooLarge { layer: String },
    #[error(
        "residual block `{layer}` maps width {input} to {output}; its output is added to its \
         input, so the widths must agree"
    )]
    ResidualWidth {
        layer: String,
        input: usize,
        output: usize,
    },
    #[error("tensor `{name}` is missing; the architecture needs it with shape {shape:?}")]
    MissingTensor { name: String, shape: Vec<usize> },
    #[error("tensor `{name}` has shape {found:?} but the architecture implies {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{name}` holds {found} values but its shape {shape:?} needs {expected}")]
    LengthMismatch {
        name: String,
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },
    #[error("tensor `{name}` is not part of the architecture")]
    UnexpectedTensor { name: String },
    #[error("tensor `{name}` appears more than once")]
    DuplicateTensor { name: String },
    #[error("metadata key `{key}` is reserved for the file format itself")]
    ReservedMetadataKey { key: String },
    #[error("metadata key `{key}` appears more than once")]
    DuplicateMetadataKey { key: String },
}

/// Metadata keys the exporters write themselves; an artifact's free-form metadata may not use
/// them.
pub const RESERVED_METADATA_KEYS: [&str; 5] = [
    "format",
    "format_version",
    "architecture",
    "input_width",
    "class_names",
];

/// The widest input an imported model may take: as wide as the widest layer a job spec may
/// ask for (`jobs::spec::architecture::MAX_UNITS`), and well above any dataset's columns.
pub const MAX_INPUT_WIDTH: usize = 65_536;

/// The tensors `layers` implies when fed `input_width` features, named and shaped as the
/// engine names them (`train::shape::parameter_shapes`), after checking that an architecture
/// from outside (an import) is one the engine can build.
pub fn layout(layers: &[LayerPlan], input_width: usize) -> Result<Layout, ArtifactError> {
    if input_width == 0 {
        return Err(ArtifactError::ZeroInputWidth);
    }
    if input_width > MAX_INPUT_WIDTH {
        return Err(ArtifactError::InputWidthTooLarge { width: input_width });
    }
    let output_width = check_widths(layers, "layers.", input_width)?;
    let tensors = crate::train::shape::parameter_shapes(layers, input_width)
        .into_iter()
        .map(|tensor| (tensor.name, tensor.shape))
        .collect();
    Ok(Layout {
        tensors,
        output_width,
    })
}

/// Checks the widths of `layers` (named `{prefix}{index}` in errors): no empty dense layer, no
/// kernel too large to address, residual blocks that keep their width. Returns the output width.
fn check_widths(
    layers: &[LayerPlan],
    prefix: &str,
    input_width: usize,
) -> Result<usize, ArtifactError> {
    let mut width = input_width;
    for (index, layer) in layers.iter().enumerate() {
        let name = || format!("{prefix}{index}");
        match layer {
            LayerPlan::Dense { units, .. } => {
                if *units == 0 {
                    return Err(ArtifactError::ZeroUnits { layer: name() });
                }
                if width.checked_mul(*units).is_none() {
                    return Err(ArtifactError::TooLarge { layer: name() });
                }
                width = *units;
            }
            LayerPlan::Residual { layers: inner } => {
                let inner_width = check_widths(inner, &format!("{}.layers.", name()), width)?;
                if inner_width != width {
                    return Err(ArtifactError::ResidualWidth {
                        layer: name(),
                        input: width,
                        output: inner_width,
                    });
                }
            }
            LayerPlan::BatchNormalization { .. }
            | LayerPlan::Dropout { .. }
            | LayerPlan::Activation(_) => {}
        }
    }
    Ok(width)
}

impl<'a> ModelArtifact<'a> {
    /// Checks that the parameters are exactly the tensors the architecture implies (names,
    /// shapes, value counts, nothing extra), that a standardization has one mean and one std
    /// per input feature, and that the metadata keys are distinct and not reserved. Returns the layout so that exporters can walk it.
    pub fn check(&self) -> Result<Layout, ArtifactError> {
        let layout = layout(self.layers, self.input_width)?;
        let by_name = self.parameters_by_name()?;
        for name in by_name.keys() {
            if !layout.tensors.iter().any(|(expected, _)| expected == name) {
                return Err(ArtifactError::UnexpectedTensor {
                    name: (*name).to_owned(),
                });
            }
        }
        for (name, shape) in &layout.tensors {
            let Some(tensor) = by_name.get(name.as_str()) else {
                return Err(ArtifactError::MissingTensor {
                    name: name.clone(),
                    shape: shape.clone(),
                });
            };
            if &tensor.shape != shape {
                return Err(ArtifactError::ShapeMismatch {
                    name: name.clone(),
                    expected: shape.clone(),
                    found: tensor.shape.clone(),
                });
            }
            // The layout's shapes passed the overflow check in `walk`.
            let expected: usize = shape.iter().product();
            if tensor.values.len() != expected {
                return Err(ArtifactError::LengthMismatch {
                    name: name.clone(),
                    shape: shape.clone(),
                    expected,
                    found: tensor.values.len(),
                });
            }
        }
        if let Some(standardizer) = self.standardization {
            for (name, values) in [
                (STANDARDIZATION_MEAN, &standardizer.mean),
                (STANDARDIZATION_STD, &standardizer.std),
            ] {
                if values.len() != self.input_width {
                    return Err(ArtifactError::ShapeMismatch {
                        name: name.to_owned(),
                        expected: vec![self.input_width],
                        found: vec![values.len()],
                    });
                }
            }
        }
        for (index, (key, _)) in self.metadata.iter().enumerate() {
            if RESERVED_METADATA_KEYS.contains(&key.as_str()) {
                return Err(ArtifactError::ReservedMetadataKey { key: key.clone() });
            }
            if self.metadata[..index]
                .iter()
                .any(|(earlier, _)| earlier == key)
            {
                return Err(ArtifactError::DuplicateMetadataKey { key: key.clone() });
            }
        }
        Ok(layout)
    }

    /// The parameters keyed by name; a repeated name is an error.
    pub fn parameters_by_name(&self) -> Result<HashMap<&'a str, &'a Tensor>, ArtifactError> {
        let mut by_name = HashMap::with_capacity(self.parameters.len());
        for tensor in self.parameters {
            if by_name.insert(tensor.name.as_str(), tensor).is_some() {
                return Err(ArtifactError::DuplicateTensor {
                    name: tensor.name.clone(),
                });
            }
        }
        Ok(by_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::activation::Activation;
    use crate::train::init::Initializer;
    use crate::train::regularizer::Regularizer;

    fn dense(units: usize, use_bias: bool) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation: Activation::Relu,
            kernel_initializer: None,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer::default(),
            use_bias,
        }
    }

    fn batch_norm() -> LayerPlan {
        LayerPlan::BatchNormalization {
            momentum: 0.99,
            epsilon: 1e-3,
        }
    }

    fn zeros(name: &str, shape: &[usize]) -> Tensor {
        Tensor {
            name: name.to_owned(),
            shape: shape.to_vec(),
            values: vec![0.0; shape.iter().product()],
        }
    }

    fn artifact<'a>(layers: &'a [LayerPlan], parameters: &'a [Tensor]) -> ModelArtifact<'a> {
        ModelArtifact {
            layers,
            parameters,
            input_width: 4,
            standardization: None,
            class_names: None,
            metadata: &[],
        }
    }

    #[test]
    fn layout_names_every_tensor_by_position_and_nests_residual_blocks() {
        let layers = [
            dense(8, true),
            LayerPlan::Dropout { rate: 0.5 },
            LayerPlan::Residual {
                layers: vec![batch_norm(), dense(8, false)],
            },
            LayerPlan::Activation(Activation::Tanh),
            dense(3, true),
        ];
        let layout = layout(&layers, 4).unwrap();
        let expected: Vec<(String, Vec<usize>)> = [
            ("layers.0.kernel", vec![4, 8]),
            ("layers.0.bias", vec![8]),
            ("layers.2.layers.0.gamma", vec![8]),
            ("layers.2.layers.0.beta", vec![8]),
            ("layers.2.layers.0.moving_mean", vec![8]),
            ("layers.2.layers.0.moving_variance", vec![8]),
            ("layers.2.layers.1.kernel", vec![8, 8]),
            ("layers.4.kernel", vec![8, 3]),
            ("layers.4.bias", vec![3]),
        ]
        .into_iter()
        .map(|(name, shape)| (name.to_owned(), shape))
        .collect();
        assert_eq!(layout.tensors, expected);
        assert_eq!(layout.output_width, 3);
    }

    #[test]
    fn layout_output_width_agrees_with_the_engine() {
        let layers = [
            dense(6, true),
            LayerPlan::Residual {
                layers: vec![
                    batch_norm(),
                    LayerPlan::Residual {
                        layers: vec![dense(6, false), LayerPlan::Dropout { rate: 0.1 }],
                    },
                ],
            },
            batch_norm(),
            dense(2, true),
        ];
        let layout = layout(&layers, 3).unwrap();
        assert_eq!(
            layout.output_width,
            crate::train::shape::output_width(&layers, 3)
        );
    }

    #[test]
    fn a_network_without_dense_layers_outputs_its_input_width() {
        let layers = [batch_norm(), LayerPlan::Activation(Activation::Softmax)];
        assert_eq!(layout(&layers, 6).unwrap().output_width, 6);
        assert_eq!(layout(&[], 6).unwrap().output_width, 6);
    }

    #[test]
    fn a_residual_block_that_changes_the_width_is_refused() {
        let layers = [LayerPlan::Residual {
            layers: vec![dense(5, true)],
        }];
        assert_eq!(
            layout(&layers, 4),
            Err(ArtifactError::ResidualWidth {
                layer: "layers.0".into(),
                input: 4,
                output: 5
            })
        );
    }

    #[test]
    fn zero_input_width_and_zero_units_are_refused() {
        assert_eq!(layout(&[], 0), Err(ArtifactError::ZeroInputWidth));
        assert_eq!(
            layout(&[], MAX_INPUT_WIDTH + 1),
            Err(ArtifactError::InputWidthTooLarge {
                width: MAX_INPUT_WIDTH + 1
            })
        );
        assert!(layout(&[], MAX_INPUT_WIDTH).is_ok());
        assert_eq!(
            layout(&[dense(0, true)], 3),
            Err(ArtifactError::ZeroUnits {
                layer: "layers.0".into()
            })
        );
        assert_eq!(
            layout(&[dense(usize::MAX, true)], 3),
            Err(ArtifactError::TooLarge {
                layer: "layers.0".into()
            })
        );
    }

    #[test]
    fn check_accepts_exactly_the_implied_tensors() {
        let layers = [dense(2, true)];
        let parameters = [
            zeros("layers.0.kernel", &[4, 2]),
            zeros("layers.0.bias", &[2]),
        ];
        assert!(artifact(&layers, &parameters).check().is_ok());
    }

    #[test]
    fn check_names_the_tensor_that_is_wrong() {
        let layers = [dense(2, true)];
        let cases: Vec<(Vec<Tensor>, ArtifactError)> = vec![
            (
                vec![zeros("layers.0.kernel", &[4, 2])],
                ArtifactError::MissingTensor {
                    name: "layers.0.bias".into(),
                    shape: vec![2],
                },
            ),
            (
                vec![
                    zeros("layers.0.kernel", &[2, 4]),
                    zeros("layers.0.bias", &[2]),
                ],
                ArtifactError::ShapeMismatch {
                    name: "layers.0.kernel".into(),
                    expected: vec![4, 2],
                    found: vec![2, 4],
                },
            ),
            (
                vec![
                    zeros("layers.0.kernel", &[4, 2]),
                    zeros("layers.0.bias", &[2]),
                    zeros("layers.1.kernel", &[2, 2]),
                ],
                ArtifactError::UnexpectedTensor {
                    name: "layers.1.kernel".into(),
                },
            ),
            (
                vec![
                    zeros("layers.0.kernel", &[4, 2]),
                    zeros("layers.0.bias", &[2]),
                    zeros("layers.0.bias", &[2]),
                ],
                ArtifactError::DuplicateTensor {
                    name: "layers.0.bias".into(),
                },
            ),
            (
                vec![
                    zeros("layers.0.kernel", &[4, 2]),
                    Tensor {
                        name: "layers.0.bias".into(),
                        shape: vec![2],
                        values: vec![0.0; 3],
                    },
                ],
                ArtifactError::LengthMismatch {
                    name: "layers.0.bias".into(),
                    shape: vec![2],
                    expected: 2,
                    found: 3,
                },
            ),
        ];
        for (parameters, expected) in cases {
            assert_eq!(artifact(&layers, &parameters).check(), Err(expected));
        }
    }

    #[test]
    fn check_refuses_reserved_and_repeated_metadata_keys() {
        let reserved = [("architecture".to_owned(), "{}".to_owned())];
        let repeated = [
            ("job_id".to_owned(), "a".to_owned()),
            ("job_id".to_owned(), "b".to_owned()),
        ];
        let with = |metadata| ModelArtifact {
            metadata,
            ..artifact(&[], &[])
        };
        assert_eq!(
            with(&reserved).check(),
            Err(ArtifactError::ReservedMetadataKey {
                key: "architecture".into()
            })
        );
        assert_eq!(
            with(&repeated).check(),
            Err(ArtifactError::DuplicateMetadataKey {
                key: "job_id".into()
            })
        );
    }

    #[test]
    fn check_refuses_a_standardization_of_the_wrong_width() {
        let standardizer = Standardizer {
            mean: vec![0.0; 4],
            std: vec![1.0; 3],
        };
        let model = ModelArtifact {
            standardization: Some(&standardizer),
            ..artifact(&[], &[])
        };
        assert_eq!(
            model.check(),
            Err(ArtifactError::ShapeMismatch {
                name: STANDARDIZATION_STD.into(),
                expected: vec![4],
                found: vec![3],
            })
        );
    }
}
