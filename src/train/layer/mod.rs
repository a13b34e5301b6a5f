//! Layers: one per file, each with its forward pass, backward pass and parameters, and the
//! [`Sequence`] that runs a list of them in order (the network's top level, and the inside
//! of a residual block).
//!
//! Parameters live outside the layers, in one flat list of [`Variable`]s owned by the network
//! in forward order; a layer holds the indices of its variables. That keeps the optimizer,
//! checkpoints and exports a simple walk over one list. Activation buffers are allocated once
//! for the largest batch (`capacity` rows); a smaller batch uses a prefix of each buffer, so
//! nothing is allocated per step.

pub mod activation;
pub mod batch_norm;
pub mod dense;
pub mod dropout;
pub mod product;
pub mod residual;
pub mod tiles;

use rand_chacha::ChaCha8Rng;

use super::plan::LayerPlan;
use super::regularizer::Regularizer;
use activation::ActivationLayer;
use batch_norm::BatchNorm;
use dense::Dense;
use dropout::Dropout;
use residual::Residual;

/// What a variable is, which decides whether the optimizer sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// A dense kernel `[in, units]`, with its (possibly zero) penalty.
    Kernel(Regularizer),
    Bias,
    Gamma,
    Beta,
    /// Batch-norm moving statistics: state updated in the forward pass, never by gradients.
    MovingMean,
    MovingVariance,
}

impl Role {
    /// Trainable variables are the optimizer's, in forward order.
    pub fn trainable(self) -> bool {
        !matches!(self, Role::MovingMean | Role::MovingVariance)
    }
}

/// One named tensor of the network with its gradient buffer (empty when not trainable).
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// `layers.{i}.kernel`, `layers.{i}.layers.{j}.gamma`, …
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    pub gradient: Vec<f32>,
    pub role: Role,
}

impl Variable {
    fn new(name: String, shape: Vec<usize>, fill: f32, role: Role) -> Variable {
        let len = shape.iter().product();
        let gradient = if role.trainable() {
            vec![0.0; len]
        } else {
            Vec::new()
        };
        Variable {
            name,
            shape,
            values: vec![fill; len],
            gradient,
            role,
        }
    }
}

/// Whether a forward pass trains (dropout on, batch statistics) or infers.
pub enum Mode<'a> {
    /// Dropout masks are drawn from `dropout` in forward layer order.
    Training {
        dropout: &'a mut ChaCha8Rng,
    },
    Inference,
}

/// An architecture the engine cannot build.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error(
        "{layer}: a residual block's output width {inner} differs from its input width {outer}"
    )]
    ResidualWidth {
        layer: String,
        outer: usize,
        inner: usize,
    },
    #[error("{layer}: a dense layer needs at least one unit")]
    NoUnits { layer: String },
    #[error("{layer}: dropout rate {rate} is outside [0, 1]")]
    DropoutRate { layer: String, rate: f32 },
    #[error("the network has no inputs")]
    NoInputs,
}

/// One layer of a built network.
#[derive(Debug)]
pub enum Layer {
    Dense(Dense),
    Dropout(Dropout),
    BatchNorm(BatchNorm),
    Residual(Residual),
    Activation(ActivationLayer),
}

impl Layer {
    /// Lets the dense layers' large products use `par` (every layer starts on one thread).
    pub fn set_parallelism(&mut self, par: faer::Par) {
        match self {
            Layer::Dense(dense) => dense.par = par,
            Layer::Residual(residual) => residual.inner.set_parallelism(par),
            Layer::Dropout(_) | Layer::BatchNorm(_) | Layer::Activation(_) => {}
        }
    }

    /// Builds the layer named `prefix` (e.g. `layers.3`) for inputs of `width`, appending its
    /// variables to `variables`; returns the layer and its output width.
    pub fn build(
        plan: &LayerPlan,
        prefix: String,
        width: usize,
        capacity: usize,
        variables: &mut Vec<Variable>,
    ) -> Result<(Layer, usize), BuildError> {
        Ok(match plan {
            LayerPlan::Dense {
                units,
                activation,
                kernel_regularizer,
                use_bias,
                ..
            } => {
                if *units == 0 {
                    return Err(BuildError::NoUnits { layer: prefix });
                }
                let dense = Dense::build(
                    &prefix,
                    width,
                    *units,
                    *activation,
                    *kernel_regularizer,
                    *use_bias,
                    capacity,
                    variables,
                );
                (Layer::Dense(dense), *units)
            }
            LayerPlan::Dropout { rate } => {
                if !(0.0..=1.0).contains(rate) {
                    return Err(BuildError::DropoutRate {
                        layer: prefix,
                        rate: *rate,
                    });
                }
                (Layer::Dropout(Dropout::new(*rate, width, capacity)), width)
            }
            LayerPlan::BatchNormalization { momentum, epsilon } => {
                let bn = BatchNorm::build(&prefix, width, *momentum, *epsilon, variables);
                (Layer::BatchNorm(bn), width)
            }
            LayerPlan::Residual { layers } => {
                let residual = Residual::build(layers, &prefix, width, capacity, variables)?;
                (Layer::Residual(residual), width)
            }
            LayerPlan::Activation(activation) => (
                Layer::Activation(ActivationLayer::new(*activation, width)),
                width,
            ),
        })
    }

    fn forward(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        output: &mut [f32],
        rows: usize,
        mode: &mut Mode,
    ) {
        match self {
            Layer::Dense(layer) => layer.forward(variables, input, output, rows),
            Layer::Dropout(layer) => layer.forward(input, output, rows, mode),
            Layer::BatchNorm(layer) => layer.forward(variables, input, output, rows, mode),
            Layer::Residual(layer) => layer.forward(variables, input, output, rows, mode),
            Layer::Activation(layer) => layer.forward(input, output),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        output: &[f32],
        d_output: &[f32],
        d_input: Option<&mut [f32]>,
        rows: usize,
        at_logits: bool,
        scratch: &mut Scratch,
    ) {
        match self {
            Layer::Dense(layer) => layer.backward(
                variables, input, output, d_output, d_input, rows, at_logits, scratch,
            ),
            Layer::Dropout(layer) => layer.backward(d_output, d_input, rows),
            Layer::BatchNorm(layer) => layer.backward(variables, input, d_output, d_input, rows),
            Layer::Residual(layer) => layer.backward(variables, input, d_output, d_input, rows),
            Layer::Activation(layer) => layer.backward(input, output, d_output, d_input, at_logits),
        }
    }
}

/// Buffers the layers of a sequence use within one backward pass and never after it: a dense
/// layer's `dz` and its kernel's transpose. One set per sequence, sized for its largest dense
/// layer, so that from layer to layer they are written where the last layer's were, in the
/// first-level cache, rather than in a cold buffer of each layer's own.
#[derive(Debug)]
pub struct Scratch {
    pre_gradient: Vec<f32>,
    transposed: Vec<f32>,
}

impl Scratch {
    fn for_layers(layers: &[Layer]) -> Scratch {
        let (mut pre_gradient, mut transposed) = (0, 0);
        for layer in layers {
            if let Layer::Dense(dense) = layer {
                let (dz, kt) = dense.scratch_lengths();
                pre_gradient = pre_gradient.max(dz);
                transposed = transposed.max(kt);
            }
        }
        Scratch {
            pre_gradient: vec![0.0; pre_gradient],
            transposed: vec![0.0; transposed],
        }
    }
}

/// Layers run one after another, each with its output buffer.
#[derive(Debug)]
pub struct Sequence {
    pub layers: Vec<Layer>,
    /// `widths[i]` is the output width of layer i; `input_width` feeds layer 0.
    pub input_width: usize,
    pub widths: Vec<usize>,
    outputs: Vec<Vec<f32>>,
    /// ∂loss/∂(output of layer i) for every layer but the last, in `gradients[i % 2]`: each is
    /// written by the layer above and read by layer i, so two buffers take turns (and stay
    /// in the first-level cache for a narrow network) rather than one per layer.
    gradients: [Vec<f32>; 2],
    scratch: Scratch,
}

impl Sequence {
    /// Builds `plans` in order; the names are `{prefix}layers.{i}`.
    pub fn build(
        plans: &[LayerPlan],
        prefix: &str,
        input_width: usize,
        capacity: usize,
        variables: &mut Vec<Variable>,
    ) -> Result<Sequence, BuildError> {
        let mut layers = Vec::with_capacity(plans.len());
        let mut widths = Vec::with_capacity(plans.len());
        let mut width = input_width;
        for (i, plan) in plans.iter().enumerate() {
            let name = format!("{prefix}layers.{i}");
            let (layer, out) = Layer::build(plan, name, width, capacity, variables)?;
            layers.push(layer);
            widths.push(out);
            width = out;
        }
        let outputs = widths.iter().map(|w| vec![0.0; w * capacity]).collect();
        // The last layer's output gradient is the caller's: layers 0 to n − 2 take turns.
        let below_last = &widths[..widths.len().saturating_sub(1)];
        let widest = |parity| {
            let turn = below_last.iter().skip(parity).step_by(2);
            turn.copied().max().unwrap_or(0)
        };
        let gradients = [0, 1].map(|parity| vec![0.0; widest(parity) * capacity]);
        let scratch = Scratch::for_layers(&layers);
        Ok(Sequence {
            layers,
            input_width,
            widths,
            outputs,
            gradients,
            scratch,
        })
    }

    /// [`Layer::set_parallelism`] on every layer.
    pub fn set_parallelism(&mut self, par: faer::Par) {
        for layer in &mut self.layers {
            layer.set_parallelism(par);
        }
    }

    /// Width of the last layer's output (the input width when there are no layers).
    pub fn output_width(&self) -> usize {
        self.widths.last().copied().unwrap_or(self.input_width)
    }

    /// Runs every layer on the first `rows` rows of `input`.
    pub fn forward(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        rows: usize,
        mode: &mut Mode,
    ) {
        self.forward_layers(variables, input, rows, mode, true);
    }

    /// [`Sequence::forward`] up to the last layer's logits ([`Sequence::last_pre_activation`]):
    /// a last dense layer computes its pre-activation only, a last activation layer does not
    /// run, and the output keeps whatever it held. For a training step whose loss is taken
    /// from the logits and whose output nothing reads (no metrics): the output softmax of a
    /// small classifier was a tenth of its step.
    pub fn forward_to_logits(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        rows: usize,
        mode: &mut Mode,
    ) {
        self.forward_layers(variables, input, rows, mode, false);
    }

    fn forward_layers(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        rows: usize,
        mode: &mut Mode,
        last_activation: bool,
    ) {
        let mut in_width = self.input_width;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let out_width = self.widths[i];
            let (before, after) = self.outputs.split_at_mut(i);
            let x = match before.last() {
                Some(previous) => &previous[..rows * in_width],
                None => &input[..rows * in_width],
            };
            let y = &mut after[0][..rows * out_width];
            match layer {
                Layer::Dense(dense) if i == last && !last_activation => {
                    dense.forward_affine(variables, x, rows);
                }
                Layer::Activation(_) if i == last && !last_activation => {}
                _ => layer.forward(variables, x, y, rows, mode),
            }
            in_width = out_width;
        }
    }

    /// The last layer's output for `rows` rows; `input` itself when there are no layers.
    pub fn output<'a>(&'a self, input: &'a [f32], rows: usize) -> &'a [f32] {
        let width = self.output_width();
        match self.outputs.last() {
            Some(out) => &out[..rows * width],
            None => &input[..rows * width],
        }
    }

    /// The last layer's pre-activation (its logits) when it is a dense or activation layer.
    pub fn last_pre_activation<'a>(&'a self, input: &'a [f32], rows: usize) -> Option<&'a [f32]> {
        let n = self.layers.len();
        match self.layers.last()? {
            Layer::Dense(dense) => Some(dense.pre_activation(rows)),
            Layer::Activation(_) => {
                let width = if n >= 2 {
                    self.widths[n - 2]
                } else {
                    self.input_width
                };
                Some(match n {
                    1 => &input[..rows * width],
                    _ => &self.outputs[n - 2][..rows * width],
                })
            }
            _ => None,
        }
    }

    /// The activation of the last layer (dense or activation layer), if any.
    pub fn last_activation(&self) -> Option<super::activation::Activation> {
        match self.layers.last()? {
            Layer::Dense(dense) => Some(dense.activation),
            Layer::Activation(layer) => Some(layer.activation),
            _ => None,
        }
    }

    /// Back-propagates `d_output` (∂loss/∂output, or ∂loss/∂logits of the last layer when
    /// `at_logits`) through every layer, writing parameter gradients and, when asked,
    /// ∂loss/∂input into `d_input`. Needs the buffers of the matching forward pass.
    pub fn backward(
        &mut self,
        variables: &mut [Variable],
        input: &[f32],
        d_output: &[f32],
        mut d_input: Option<&mut [f32]>,
        rows: usize,
        at_logits: bool,
    ) {
        let n = self.layers.len();
        for i in (0..n).rev() {
            let out_width = self.widths[i];
            let in_width = if i == 0 {
                self.input_width
            } else {
                self.widths[i - 1]
            };
            let x = if i == 0 {
                &input[..rows * in_width]
            } else {
                &self.outputs[i - 1][..rows * in_width]
            };
            let y = &self.outputs[i][..rows * out_width];
            // Layer i reads `gradients[i % 2]` and writes `gradients[(i − 1) % 2]`.
            let [even, odd] = &mut self.gradients;
            let (here, below) = if i % 2 == 0 { (even, odd) } else { (odd, even) };
            let dy = if i == n - 1 {
                &d_output[..rows * out_width]
            } else {
                &here[..rows * out_width]
            };
            let dx = if i == 0 {
                d_input.as_deref_mut().map(|d| &mut d[..rows * in_width])
            } else {
                Some(&mut below[..rows * in_width])
            };
            let at_logits = at_logits && i == n - 1;
            let scratch = &mut self.scratch;
            self.layers[i].backward(variables, x, y, dy, dx, rows, at_logits, scratch);
        }
        if n == 0
            && let Some(d) = d_input
        {
            let len = rows * self.input_width;
            d[..len].copy_from_slice(&d_output[..len]);
        }
    }
}
