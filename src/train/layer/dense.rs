//! Dense layer `y = act(x·K + b)` (K3 `layers/core/dense.py`), `K: [in, units]`,
//! `b: [units]`, `x: rows × in`, `y: rows × units`.
//!
//! Backward, with `dz = dy ⊙ act'(z)` (or `dz` given directly when the loss was computed from
//! this layer's logits): `dK = xᵀ·dz`, `db = Σ_rows dz`, `dx = dz·Kᵀ`. The kernel's L1/L2
//! penalty is not applied here: the network adds penalties to the loss and their gradients to
//! the kernels once per step (K3 `trainers/trainer.py` `compute_loss`).

use faer::Par;

use super::product::{affine, bias_gradient, input_gradient, kernel_gradient};
use super::{Role, Scratch, Variable};
use crate::train::activation::Activation;
use crate::train::regularizer::Regularizer;

/// A fully connected layer; its variables are `{prefix}.kernel` and, with a bias,
/// `{prefix}.bias`.
#[derive(Debug)]
pub struct Dense {
    pub inputs: usize,
    pub units: usize,
    pub activation: Activation,
    /// Index of the kernel among the network's variables.
    pub kernel: usize,
    pub bias: Option<usize>,
    /// `z = x·K + b` of the last forward pass, `capacity × units`.
    pre_activation: Vec<f32>,
    /// Threads for the products large enough to use them.
    pub par: Par,
}

impl Dense {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        prefix: &str,
        inputs: usize,
        units: usize,
        activation: Activation,
        regularizer: Regularizer,
        use_bias: bool,
        capacity: usize,
        variables: &mut Vec<Variable>,
    ) -> Dense {
        let kernel = variables.len();
        variables.push(Variable::new(
            format!("{prefix}.kernel"),
            vec![inputs, units],
            0.0,
            Role::Kernel(regularizer),
        ));
        let bias = use_bias.then(|| {
            variables.push(Variable::new(
                format!("{prefix}.bias"),
                vec![units],
                0.0,
                Role::Bias,
            ));
            variables.len() - 1
        });
        Dense {
            inputs,
            units,
            activation,
            kernel,
            bias,
            pre_activation: vec![0.0; capacity * units],
            par: Par::Seq,
        }
    }

    /// The lengths of the backward pass's buffers this layer needs ([`Scratch`]): its `dz`
    /// for as many rows as it was built for, and its kernel's transpose.
    pub fn scratch_lengths(&self) -> (usize, usize) {
        (self.pre_activation.len(), self.inputs * self.units)
    }

    /// `z` of the last forward pass over `rows` rows.
    pub fn pre_activation(&self, rows: usize) -> &[f32] {
        &self.pre_activation[..rows * self.units]
    }

    pub fn forward(&mut self, variables: &[Variable], x: &[f32], y: &mut [f32], rows: usize) {
        self.forward_affine(variables, x, rows);
        let z = &self.pre_activation[..rows * self.units];
        self.activation.forward(z, y, self.units);
    }

    /// The pre-activation `z = x·K + b` alone ([`Dense::pre_activation`]).
    pub fn forward_affine(&mut self, variables: &[Variable], x: &[f32], rows: usize) {
        let z = &mut self.pre_activation[..rows * self.units];
        let bias = self.bias.map(|b| variables[b].values.as_slice());
        let kernel = &variables[self.kernel].values;
        affine(x, kernel, bias, z, rows, self.inputs, self.units, self.par);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &mut self,
        variables: &mut [Variable],
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        rows: usize,
        at_logits: bool,
        scratch: &mut Scratch,
    ) {
        let dz: &[f32] = if at_logits {
            dy
        } else {
            let dz = &mut scratch.pre_gradient[..rows * self.units];
            let z = &self.pre_activation[..rows * self.units];
            self.activation.backward(z, y, dy, dz, self.units);
            dz
        };
        let kernel = &mut variables[self.kernel];
        kernel_gradient(
            x,
            dz,
            &mut kernel.gradient,
            rows,
            self.inputs,
            self.units,
            self.par,
        );
        if let Some(dx) = dx {
            input_gradient(
                dz,
                &kernel.values,
                dx,
                rows,
                self.inputs,
                self.units,
                &mut scratch.transposed,
                self.par,
            );
        }
        if let Some(b) = self.bias {
            bias_gradient(dz, &mut variables[b].gradient, self.units);
        }
    }
}
