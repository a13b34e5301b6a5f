//! Widths and parameter tensors of an architecture, without building it.
//!
//! The naming convention here is shared with the engine, the store and the exporters: top-level
//! layer `i` owns `layers.{i}.kernel` `[in, units]` and `layers.{i}.bias` `[units]` (a dense
//! layer), or `layers.{i}.gamma`, `.beta` (trainable) and `.moving_mean`, `.moving_variance`
//! (not trainable), all `[width]` (batch normalization). Inner layer `j` of a residual block `i`
//! is `layers.{i}.layers.{j}.…`, and so on for deeper nesting. Dropout and activation layers own
//! nothing. The parameter count is the total number of elements, Keras's "Total params", which
//! counts batch normalization's moving statistics too (K3 `layers/normalization/batch_normalization.py`
//! creates them as non-trainable weights).

use super::plan::LayerPlan;

/// One parameter (or state) tensor of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterShape {
    pub name: String,
    pub shape: Vec<usize>,
    /// False for batch normalization's moving statistics, which the optimizer never touches.
    pub trainable: bool,
}

impl ParameterShape {
    /// Number of elements: the product of the dimensions.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when some dimension is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Width of the output of `layers` applied to rows of `input_width` features. A dense layer
/// sets the width to its units; every other layer keeps it (a residual block adds its inner
/// output to its input, which requires equal widths; that is checked when the plan is built).
pub fn output_width(layers: &[LayerPlan], input_width: usize) -> usize {
    layers.iter().fold(input_width, |width, layer| match layer {
        LayerPlan::Dense { units, .. } => *units,
        LayerPlan::Dropout { .. }
        | LayerPlan::BatchNormalization { .. }
        | LayerPlan::Residual { .. }
        | LayerPlan::Activation(_) => width,
    })
}

/// Every tensor of the network in forward order, named by the convention above.
pub fn parameter_shapes(layers: &[LayerPlan], input_width: usize) -> Vec<ParameterShape> {
    let mut shapes = Vec::new();
    collect(layers, input_width, "layers", &mut shapes);
    shapes
}

/// Total number of elements over [`parameter_shapes`].
pub fn parameter_count(layers: &[LayerPlan], input_width: usize) -> usize {
    parameter_shapes(layers, input_width)
        .iter()
        .map(ParameterShape::len)
        .sum()
}

fn collect(layers: &[LayerPlan], input_width: usize, prefix: &str, out: &mut Vec<ParameterShape>) {
    let mut width = input_width;
    for (index, layer) in layers.iter().enumerate() {
        let name = |tensor: &str| format!("{prefix}.{index}.{tensor}");
        match layer {
            LayerPlan::Dense {
                units, use_bias, ..
            } => {
                out.push(ParameterShape {
                    name: name("kernel"),
                    shape: vec![width, *units],
                    trainable: true,
                });
                if *use_bias {
                    out.push(ParameterShape {
                        name: name("bias"),
                        shape: vec![*units],
                        trainable: true,
                    });
                }
                width = *units;
            }
            LayerPlan::BatchNormalization { .. } => {
                for (tensor, trainable) in [
                    ("gamma", true),
                    ("beta", true),
                    ("moving_mean", false),
                    ("moving_variance", false),
                ] {
                    out.push(ParameterShape {
                        name: name(tensor),
                        shape: vec![width],
                        trainable,
                    });
                }
            }
            LayerPlan::Residual { layers: inner } => {
                collect(inner, width, &format!("{prefix}.{index}.layers"), out);
            }
            LayerPlan::Dropout { .. } | LayerPlan::Activation(_) => {}
        }
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

    fn names_and_shapes(layers: &[LayerPlan], input: usize) -> Vec<(String, Vec<usize>, bool)> {
        parameter_shapes(layers, input)
            .into_iter()
            .map(|p| (p.name, p.shape, p.trainable))
            .collect()
    }

    #[test]
    fn the_lecture_iris_net_4_16_3_has_131_parameters() {
        // 4·16 + 16 + 16·3 + 3 = 131, Keras's model.summary() total for this net.
        let layers = [dense(16, true), dense(3, true)];
        assert_eq!(parameter_count(&layers, 4), 131);
        assert_eq!(output_width(&layers, 4), 3);
    }

    #[test]
    fn dense_layers_name_kernel_and_bias_by_position() {
        let layers = [
            dense(16, true),
            LayerPlan::Dropout { rate: 0.5 },
            dense(3, false),
        ];
        assert_eq!(
            names_and_shapes(&layers, 4),
            vec![
                ("layers.0.kernel".into(), vec![4, 16], true),
                ("layers.0.bias".into(), vec![16], true),
                ("layers.2.kernel".into(), vec![16, 3], true),
            ]
        );
    }

    #[test]
    fn batch_normalization_owns_four_vectors_two_of_them_frozen() {
        let layers = [dense(8, true), batch_norm()];
        assert_eq!(
            names_and_shapes(&layers, 2),
            vec![
                ("layers.0.kernel".into(), vec![2, 8], true),
                ("layers.0.bias".into(), vec![8], true),
                ("layers.1.gamma".into(), vec![8], true),
                ("layers.1.beta".into(), vec![8], true),
                ("layers.1.moving_mean".into(), vec![8], false),
                ("layers.1.moving_variance".into(), vec![8], false),
            ]
        );
        // Keras counts the moving statistics in "Total params": 2·8 + 8 + 4·8.
        assert_eq!(parameter_count(&layers, 2), 56);
    }

    #[test]
    fn residual_blocks_nest_their_names_and_keep_the_width() {
        let layers = [
            dense(8, true),
            LayerPlan::Residual {
                layers: vec![
                    dense(8, true),
                    LayerPlan::Residual {
                        layers: vec![batch_norm()],
                    },
                ],
            },
            dense(1, true),
        ];
        let names: Vec<String> = parameter_shapes(&layers, 3)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "layers.0.kernel",
                "layers.0.bias",
                "layers.1.layers.0.kernel",
                "layers.1.layers.0.bias",
                "layers.1.layers.1.layers.0.gamma",
                "layers.1.layers.1.layers.0.beta",
                "layers.1.layers.1.layers.0.moving_mean",
                "layers.1.layers.1.layers.0.moving_variance",
                "layers.2.kernel",
                "layers.2.bias",
            ]
        );
        assert_eq!(output_width(&layers[..2], 3), 8);
    }

    #[test]
    fn an_empty_network_is_the_identity() {
        assert_eq!(output_width(&[], 5), 5);
        assert!(parameter_shapes(&[], 5).is_empty());
    }
}
