//! `Network`: the built layers of a plan, their variables in forward order, and the passes
//! over one batch: forward, loss, backward, kernel penalties. Also [`predict`], the
//! inference entry point for a finished model.
//!
//! The loss of a training step is Keras's `compute_loss` (K3 `trainers/trainer.py`): the
//! `sum_over_batch_size` data loss plus every kernel's penalty `l1·Σ|w| + l2·Σw²`, computed
//! once per step on the current weights and not divided by the batch size (NUMERICS §5.5).
//! The data loss is taken from the last layer's logits when its activation is softmax or
//! sigmoid and the loss is a crossentropy (NUMERICS §4.3); see [`crate::train::loss`].

use ndarray::{Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;

use super::layer::{BuildError, Mode, Role, Sequence, Variable};
use super::loss::{BatchTargets, Loss};
use super::plan::{LayerPlan, Tensor};

/// A network built from its layer plans, able to run batches of up to `capacity` rows.
#[derive(Debug)]
pub struct Network {
    /// Every tensor in forward order (kernels, biases, BN γ, β and moving statistics).
    pub variables: Vec<Variable>,
    root: Sequence,
    capacity: usize,
    /// ∂loss/∂(output or logits), `capacity × output width`.
    loss_gradient: Vec<f32>,
}

/// Parameters that do not fit the architecture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("parameter `{name}` is missing")]
    Missing { name: String },
    #[error("parameter `{name}` has shape {got:?}, the architecture needs {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("parameter `{name}` does not belong to the architecture")]
    Unexpected { name: String },
    #[error("parameter `{name}` holds {got} values for shape {shape:?}")]
    Length {
        name: String,
        shape: Vec<usize>,
        got: usize,
    },
}

impl Network {
    /// Builds `layers` for inputs of `input_width` features and batches of up to `capacity`
    /// rows. Kernels and biases start at zero, batch-norm variables at Keras's defaults.
    pub fn build(
        layers: &[LayerPlan],
        input_width: usize,
        capacity: usize,
    ) -> Result<Network, BuildError> {
        if input_width == 0 {
            return Err(BuildError::NoInputs);
        }
        let capacity = capacity.max(1);
        let mut variables = Vec::new();
        let root = Sequence::build(layers, "", input_width, capacity, &mut variables)?;
        let loss_gradient = vec![0.0; capacity * root.output_width()];
        Ok(Network {
            variables,
            root,
            capacity,
            loss_gradient,
        })
    }

    pub fn input_width(&self) -> usize {
        self.root.input_width
    }

    /// Trains and predicts on `threads` threads: the products of at least
    /// [`super::layer::product::PARALLEL_THRESHOLD`] multiply-adds are split between them
    /// (the same bits as on one thread); everything else stays on the calling thread.
    pub fn set_threads(&mut self, threads: usize) {
        let par = match std::num::NonZeroUsize::new(threads) {
            Some(n) if n.get() > 1 => faer::Par::Rayon(n),
            _ => faer::Par::Seq,
        };
        self.root.set_parallelism(par);
    }

    pub fn output_width(&self) -> usize {
        self.root.output_width()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `loss` is computed from the last layer's logits.
    pub fn loss_from_logits(&self, loss: Loss) -> bool {
        loss.from_logits(self.root.last_activation())
    }

    /// Runs the first `rows` rows of `input` (`rows × input width`) through every layer.
    pub fn forward(&mut self, input: &[f32], rows: usize, mode: &mut Mode) {
        self.root.forward(&mut self.variables, input, rows, mode);
    }

    /// The output of the last forward pass over `input`.
    pub fn output<'a>(&'a self, input: &'a [f32], rows: usize) -> &'a [f32] {
        self.root.output(input, rows)
    }

    /// The data loss of the last forward pass (no penalties), without gradients.
    pub fn data_loss(&self, input: &[f32], targets: BatchTargets, rows: usize, loss: Loss) -> f32 {
        let width = self.output_width();
        match self.logits(input, rows, loss) {
            Some(logits) => loss.evaluate(true, logits, targets, width, None),
            None => loss.evaluate(false, self.output(input, rows), targets, width, None),
        }
    }

    fn logits<'a>(&'a self, input: &'a [f32], rows: usize, loss: Loss) -> Option<&'a [f32]> {
        if self.loss_from_logits(loss) {
            self.root.last_pre_activation(input, rows)
        } else {
            None
        }
    }

    /// One training pass over a batch: forward in training mode (dropout masks from
    /// `dropout`, batch statistics, moving statistics updated), the loss with penalties, and
    /// every trainable variable's gradient of it. Returns the total loss. With `keep_output`
    /// false the network's output is left as it was when the loss is taken from the logits
    /// ([`Sequence::forward_to_logits`]): for a caller that does not read it (no metrics).
    pub fn train_batch(
        &mut self,
        input: &[f32],
        targets: BatchTargets,
        rows: usize,
        loss: Loss,
        dropout: &mut ChaCha8Rng,
        keep_output: bool,
    ) -> f32 {
        let from_logits = loss.from_logits(self.root.last_activation());
        let mode = &mut Mode::Training { dropout };
        if from_logits && !keep_output {
            self.root
                .forward_to_logits(&mut self.variables, input, rows, mode);
        } else {
            self.forward(input, rows, mode);
        }
        let width = self.output_width();
        let gradient = &mut self.loss_gradient[..rows * width];
        let logits = if from_logits {
            self.root.last_pre_activation(input, rows)
        } else {
            None
        };
        let at_logits = logits.is_some();
        let data_loss = match logits {
            Some(z) => loss.evaluate(true, z, targets, width, Some(gradient)),
            None => {
                let output = self.root.output(input, rows);
                loss.evaluate(false, output, targets, width, Some(gradient))
            }
        };
        let gradient = &self.loss_gradient[..rows * width];
        self.root
            .backward(&mut self.variables, input, gradient, None, rows, at_logits);
        self.add_penalty_gradients();
        data_loss + self.penalty()
    }

    /// `Σ_kernels l1·Σ|w| + l2·Σw²` on the current weights.
    pub fn penalty(&self) -> f32 {
        let mut total = 0.0f32;
        for variable in &self.variables {
            if let Role::Kernel(regularizer) = variable.role
                && !regularizer.is_zero()
            {
                total += regularizer.penalty(&variable.values);
            }
        }
        total
    }

    /// Adds `l1·sign(w) + 2·l2·w` to every penalized kernel's gradient (`sign(0) = 0`).
    fn add_penalty_gradients(&mut self) {
        for variable in &mut self.variables {
            if let Role::Kernel(regularizer) = variable.role
                && !regularizer.is_zero()
            {
                regularizer.add_gradient(&variable.values, &mut variable.gradient);
            }
        }
    }

    /// Every variable as a named tensor, in forward order.
    pub fn tensors(&self) -> Vec<Tensor> {
        self.variables
            .iter()
            .map(|v| Tensor {
                name: v.name.clone(),
                shape: v.shape.clone(),
                values: v.values.clone(),
            })
            .collect()
    }

    /// Copies `tensors` into the variables; every variable must be given exactly once under
    /// its name, with its shape, and nothing else may be given.
    pub fn load(&mut self, tensors: &[Tensor]) -> Result<(), ParameterError> {
        for tensor in tensors {
            if !self.variables.iter().any(|v| v.name == tensor.name) {
                return Err(ParameterError::Unexpected {
                    name: tensor.name.clone(),
                });
            }
        }
        for variable in &mut self.variables {
            let Some(tensor) = tensors.iter().find(|t| t.name == variable.name) else {
                return Err(ParameterError::Missing {
                    name: variable.name.clone(),
                });
            };
            if tensor.shape != variable.shape {
                return Err(ParameterError::Shape {
                    name: tensor.name.clone(),
                    expected: variable.shape.clone(),
                    got: tensor.shape.clone(),
                });
            }
            if tensor.values.len() != variable.values.len() {
                return Err(ParameterError::Length {
                    name: tensor.name.clone(),
                    shape: tensor.shape.clone(),
                    got: tensor.values.len(),
                });
            }
            variable.values.copy_from_slice(&tensor.values);
        }
        Ok(())
    }

    /// Inference over any number of rows, in chunks of `capacity` rows, with subnormals
    /// flushed to zero as in training.
    pub fn infer(&mut self, inputs: ArrayView2<f32>) -> Array2<f32> {
        let _flush = super::denormals::Flush::new();
        let rows = inputs.nrows();
        let in_width = self.input_width();
        let out_width = self.output_width();
        let mut result = Array2::zeros((rows, out_width));
        let mut chunk = vec![0.0f32; self.capacity * in_width];
        let mut start = 0;
        while start < rows {
            let n = self.capacity.min(rows - start);
            for (i, row) in inputs.rows().into_iter().skip(start).take(n).enumerate() {
                for (dst, &src) in chunk[i * in_width..(i + 1) * in_width].iter_mut().zip(row) {
                    *dst = src;
                }
            }
            self.forward(&chunk, n, &mut Mode::Inference);
            let output = self.root.output(&chunk, n);
            for (i, out_row) in output.chunks_exact(out_width).enumerate() {
                for (dst, &src) in result.row_mut(start + i).iter_mut().zip(out_row) {
                    *dst = src;
                }
            }
            start += n;
        }
        result
    }
}

/// Why [`predict`] could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Architecture(#[from] BuildError),
    #[error(transparent)]
    Parameters(#[from] ParameterError),
    #[error("inputs have {got} features, the model expects {expected}")]
    InputWidth { expected: usize, got: usize },
}

/// Rows per inference chunk.
const PREDICT_CHUNK: usize = 256;

/// The model's outputs (softmax probabilities, sigmoid probabilities or values) for `inputs`
/// (`rows × features`), in inference mode: dropout off, batch norm on its moving statistics.
/// The input width is read from the first kernel's shape.
pub fn predict(
    layers: &[LayerPlan],
    parameters: &[Tensor],
    inputs: ArrayView2<f32>,
) -> Result<Array2<f32>, PredictError> {
    let got = inputs.ncols();
    let capacity = inputs.nrows().clamp(1, PREDICT_CHUNK);
    let mut network = Network::build(layers, got.max(1), capacity)?;
    // Build at the inputs' width first; a kernel shape mismatch then names the expected width.
    if let Err(error) = network.load(parameters) {
        let expected = parameters
            .iter()
            .find(|t| t.name.ends_with(".kernel"))
            .and_then(|t| t.shape.first().copied());
        return Err(match (error, expected) {
            (ParameterError::Shape { .. }, Some(expected)) if expected != got => {
                PredictError::InputWidth { expected, got }
            }
            (error, _) => error.into(),
        });
    }
    Ok(network.infer(inputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::activation::Activation;
    use crate::train::init::Initializer;
    use crate::train::regularizer::Regularizer;
    use crate::train::rng::{Purpose, stream};

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

    fn penalized(units: usize, activation: Activation, l1: f32, l2: f32) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer: None,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer { l1, l2 },
            use_bias: true,
        }
    }

    fn batch_norm() -> LayerPlan {
        LayerPlan::BatchNormalization {
            momentum: 0.99,
            epsilon: 1e-3,
        }
    }

    /// Deterministic, irregular values in [-0.6, 0.6] (never exactly 0, so L1 is smooth).
    fn pattern(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = ((i * 7 + salt * 13) as f32 * 0.731).sin() * 0.6;
                if v.abs() < 0.05 { 0.05 } else { v }
            })
            .collect()
    }

    enum Targets {
        Classes(Vec<u32>),
        Values(Vec<f32>),
    }

    impl Targets {
        fn batch(&self) -> BatchTargets<'_> {
            match self {
                Targets::Classes(c) => BatchTargets::Classes(c),
                Targets::Values(v) => BatchTargets::Values(v),
            }
        }
    }

    /// A training step that leaves the output alone (no metrics read it) has the loss and
    /// every gradient of one that computes it, bit for bit, and does leave the output as it
    /// was; with the output kept it is the softmax or sigmoid of the logits.
    #[test]
    fn a_step_without_the_output_has_the_loss_and_gradients_of_one_with_it() {
        let cases = [
            (
                vec![dense(5, Activation::Relu), dense(3, Activation::Softmax)],
                Activation::Softmax,
                Loss::SparseCategoricalCrossentropy,
                Targets::Classes(vec![0, 2, 1, 2]),
            ),
            (
                vec![
                    dense(5, Activation::Tanh),
                    dense(3, Activation::Linear),
                    LayerPlan::Activation(Activation::Softmax),
                ],
                Activation::Softmax,
                Loss::SparseCategoricalCrossentropy,
                Targets::Classes(vec![1, 1, 0, 2]),
            ),
            (
                vec![dense(4, Activation::Relu), dense(2, Activation::Sigmoid)],
                Activation::Sigmoid,
                Loss::BinaryCrossentropy,
                Targets::Values(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]),
            ),
        ];
        for (layers, activation, loss, targets) in cases {
            let (rows, inputs) = (4, 3);
            let x = pattern(rows * inputs, 7);
            let run = |keep_output: bool| {
                let mut network = Network::build(&layers, inputs, rows).unwrap();
                for (k, variable) in network.variables.iter_mut().enumerate() {
                    variable.values = pattern(variable.values.len(), k);
                }
                let mut dropout = stream(5, Purpose::Dropout(0));
                let value =
                    network.train_batch(&x, targets.batch(), rows, loss, &mut dropout, keep_output);
                let gradients: Vec<Vec<u32>> = network
                    .variables
                    .iter()
                    .map(|v| v.gradient.iter().map(|g| g.to_bits()).collect())
                    .collect();
                let output = network.output(&x, rows).to_vec();
                let logits = network.logits(&x, rows, loss).unwrap().to_vec();
                (value.to_bits(), gradients, output, logits)
            };
            let (with, without) = (run(true), run(false));
            assert_eq!(with.0, without.0);
            assert_eq!(with.1, without.1);
            let width = with.2.len() / rows;
            let mut want = vec![0.0f32; with.2.len()];
            activation.forward(&with.3, &mut want, width);
            assert_eq!(with.2, want);
            // A freshly built network's output buffer holds zeros; the step left it so.
            assert!(without.2.iter().all(|&v| v == 0.0), "{:?}", without.2);
        }
    }

    /// Every dense layer's products, inside residual blocks too, follow `set_threads`.
    #[test]
    fn set_threads_reaches_every_dense_layer() {
        use crate::train::layer::Layer;
        fn pars(sequence: &crate::train::layer::Sequence, out: &mut Vec<faer::Par>) {
            for layer in &sequence.layers {
                match layer {
                    Layer::Dense(dense) => out.push(dense.par),
                    Layer::Residual(residual) => pars(&residual.inner, out),
                    _ => {}
                }
            }
        }
        let layers = vec![
            dense(4, Activation::Relu),
            LayerPlan::Residual {
                layers: vec![dense(4, Activation::Tanh)],
            },
            dense(2, Activation::Softmax),
        ];
        let mut network = Network::build(&layers, 3, 8).unwrap();
        for (threads, want) in [(2, faer::Par::rayon(2)), (1, faer::Par::Seq)] {
            network.set_threads(threads);
            let mut found = Vec::new();
            pars(&network.root, &mut found);
            assert_eq!(found, vec![want; 3], "{threads} threads");
        }
    }

    /// A network's analytic gradient of the training loss (penalties included) against a
    /// central finite difference, for every trainable value. Dropout masks are fixed by
    /// replaying the same stream for every evaluation.
    fn check(name: &str, layers: Vec<LayerPlan>, loss: Loss, inputs: usize, targets: Targets) {
        let rows = match &targets {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.len() / 2,
        };
        let mut network = Network::build(&layers, inputs, rows).unwrap();
        for (k, variable) in network.variables.iter_mut().enumerate() {
            let base = match variable.role {
                Role::Gamma | Role::MovingVariance => 1.0,
                _ => 0.0,
            };
            let noise = pattern(variable.values.len(), k);
            for (v, n) in variable.values.iter_mut().zip(noise) {
                *v = base + n;
            }
        }
        let x = pattern(rows * inputs, 99)
            .iter()
            .map(|v| v * 3.0)
            .collect::<Vec<_>>();
        let targets = targets.batch();
        let rng = || stream(5, Purpose::Dropout(0));
        network.train_batch(&x, targets, rows, loss, &mut rng(), true);
        let analytic: Vec<Vec<f32>> = network
            .variables
            .iter()
            .map(|v| v.gradient.clone())
            .collect();
        for (k, gradient) in analytic.iter().enumerate() {
            for (i, &a) in gradient.iter().enumerate() {
                let h = 1e-2f32;
                let mut at = |shift: f32| {
                    let saved = network.variables[k].values[i];
                    network.variables[k].values[i] = saved + shift;
                    let value = network.train_batch(&x, targets, rows, loss, &mut rng(), true);
                    network.variables[k].values[i] = saved;
                    f64::from(value)
                };
                let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
                let a = f64::from(a);
                assert!(
                    (numeric - a).abs() < 1e-2 * (0.1 + a.abs()),
                    "{name}: {}[{i}] numeric {numeric}, analytic {a}",
                    network.variables[k].name
                );
            }
        }
    }

    #[test]
    fn softmax_output_with_sparse_crossentropy_is_differentiated_from_its_logits() {
        check(
            "fused softmax + SCCE",
            vec![dense(5, Activation::Tanh), dense(3, Activation::Softmax)],
            Loss::SparseCategoricalCrossentropy,
            4,
            Targets::Classes(vec![0, 2, 1, 2]),
        );
    }

    #[test]
    fn softmax_activation_layer_with_categorical_crossentropy_is_differentiated_from_its_input() {
        check(
            "fused activation layer + CCE",
            vec![
                dense(3, Activation::Gelu),
                LayerPlan::Activation(Activation::Softmax),
            ],
            Loss::CategoricalCrossentropy,
            4,
            Targets::Classes(vec![0, 2, 1]),
        );
    }

    #[test]
    fn sigmoid_output_with_binary_crossentropy_is_differentiated_from_its_logits() {
        check(
            "fused sigmoid + BCE",
            vec![dense(4, Activation::Swish), dense(2, Activation::Sigmoid)],
            Loss::BinaryCrossentropy,
            3,
            Targets::Values(vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
        );
    }

    #[test]
    fn crossentropy_after_a_dropout_takes_the_clipped_probability_path() {
        check(
            "unfused SCCE through dropout",
            vec![
                dense(3, Activation::Softmax),
                LayerPlan::Dropout { rate: 0.3 },
            ],
            Loss::SparseCategoricalCrossentropy,
            4,
            Targets::Classes(vec![0, 2, 1, 1, 0]),
        );
    }

    #[test]
    fn dropout_between_dense_layers_with_a_fixed_mask() {
        check(
            "dropout",
            vec![
                dense(6, Activation::Elu { alpha: 1.0 }),
                LayerPlan::Dropout { rate: 0.5 },
                dense(2, Activation::Linear),
            ],
            Loss::MeanSquaredError,
            3,
            Targets::Values(vec![0.5, -1.0, 1.5, 0.0, -0.5, 2.0]),
        );
    }

    #[test]
    fn l1_and_l2_penalties_enter_the_kernel_gradients() {
        check(
            "penalties",
            vec![
                penalized(4, Activation::Tanh, 0.01, 0.0),
                penalized(2, Activation::Linear, 0.0, 0.05),
            ],
            Loss::MeanSquaredError,
            3,
            Targets::Values(vec![0.5, -1.0, 1.5, 0.0, -0.5, 2.0]),
        );
    }

    #[test]
    fn batch_norm_inside_a_residual_block() {
        check(
            "BN in residual",
            vec![
                dense(4, Activation::Linear),
                batch_norm(),
                LayerPlan::Residual {
                    layers: vec![
                        dense(5, Activation::Tanh),
                        batch_norm(),
                        dense(4, Activation::Selu),
                    ],
                },
                dense(3, Activation::Softmax),
            ],
            Loss::SparseCategoricalCrossentropy,
            3,
            Targets::Classes(vec![0, 1, 2, 1, 0, 2]),
        );
    }

    #[test]
    fn every_activation_inside_a_network() {
        for activation in [
            Activation::LeakyRelu {
                negative_slope: 0.2,
            },
            Activation::Relu,
            Activation::Softplus,
            Activation::Sigmoid,
            Activation::Softmax,
        ] {
            check(
                &format!("{activation:?}"),
                vec![dense(4, activation), dense(2, Activation::Linear)],
                Loss::MeanSquaredError,
                3,
                Targets::Values(vec![0.5, -1.0, 1.5, 0.0, -0.5, 2.0]),
            );
        }
    }

    #[test]
    fn a_residual_block_whose_width_changes_is_an_error() {
        let error = Network::build(
            &[LayerPlan::Residual {
                layers: vec![dense(3, Activation::Relu)],
            }],
            4,
            2,
        )
        .unwrap_err();
        assert_eq!(
            error,
            BuildError::ResidualWidth {
                layer: "layers.0".into(),
                outer: 4,
                inner: 3
            }
        );
    }

    #[test]
    fn tensors_are_named_by_path_in_forward_order() {
        let network = Network::build(
            &[
                dense(3, Activation::Relu),
                LayerPlan::Dropout { rate: 0.1 },
                LayerPlan::Residual {
                    layers: vec![batch_norm(), dense(3, Activation::Relu)],
                },
            ],
            2,
            1,
        )
        .unwrap();
        let names: Vec<(String, Vec<usize>)> = network
            .tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        let expected = [
            ("layers.0.kernel", vec![2, 3]),
            ("layers.0.bias", vec![3]),
            ("layers.2.layers.0.gamma", vec![3]),
            ("layers.2.layers.0.beta", vec![3]),
            ("layers.2.layers.0.moving_mean", vec![3]),
            ("layers.2.layers.0.moving_variance", vec![3]),
            ("layers.2.layers.1.kernel", vec![3, 3]),
            ("layers.2.layers.1.bias", vec![3]),
        ];
        let expected: Vec<(String, Vec<usize>)> = expected
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn predict_returns_probabilities_and_rejects_mismatched_parameters() {
        let layers = vec![dense(2, Activation::Softmax)];
        let parameters = vec![
            Tensor {
                name: "layers.0.kernel".into(),
                shape: vec![1, 2],
                values: vec![0.0, 0.0],
            },
            Tensor {
                name: "layers.0.bias".into(),
                shape: vec![2],
                values: vec![0.0, 40.0],
            },
        ];
        let inputs = Array2::from_shape_vec((3, 1), vec![1.0, 2.0, 3.0]).unwrap();
        let out = predict(&layers, &parameters, inputs.view()).unwrap();
        assert_eq!(out.dim(), (3, 2));
        assert!(out.rows().into_iter().all(|r| r[1] == 1.0));
        let wide = Array2::zeros((1, 2));
        assert_eq!(
            predict(&layers, &parameters, wide.view()),
            Err(PredictError::InputWidth {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(
            predict(&layers, &parameters[..1], inputs.view()),
            Err(PredictError::Parameters(ParameterError::Missing {
                name: "layers.0.bias".into()
            }))
        );
    }
}
