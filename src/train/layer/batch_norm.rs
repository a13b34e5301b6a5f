//! Batch normalization over the feature axis (K3 `layers/normalization/batch_normalization.py`,
//! TF `nn_impl.py` `batch_normalization`), `x, y: rows × width`.
//!
//! Training: batch mean `μ` and **biased** variance `σ² = Σ(x − μ)²/rows` (two passes, as
//! `tf.nn.moments`); `inv = γ/√(σ² + ε)`; `y = x·inv + (β − μ·inv)` (TF's evaluation order);
//! then, in the same forward pass, `moving_mean ← moving_mean·m + μ·(1 − m)` and likewise the
//! moving variance with `σ²`. Inference uses the moving statistics in the same formula.
//! Keras defaults: momentum `m = 0.99`, `ε = 1e-3`, γ = 1, β = 0, moving mean 0, variance 1.
//!
//! Backward (training), with `x̂ = (x − μ)/√(σ² + ε)`: `dβ = Σ dy`, `dγ = Σ dy·x̂`,
//! `dx = γ/√(σ² + ε) · (dy − dβ/rows − x̂·dγ/rows)`.

use super::{Mode, Role, Variable};

/// A batch-normalization layer; its variables are `{prefix}.gamma`, `.beta`, `.moving_mean`,
/// `.moving_variance`, each `[width]`.
#[derive(Debug)]
pub struct BatchNorm {
    pub width: usize,
    pub momentum: f32,
    pub epsilon: f32,
    /// Index of gamma; beta, moving mean and moving variance follow it.
    pub gamma: usize,
    /// Batch mean of the last training pass.
    mean: Vec<f32>,
    /// `1/√(σ² + ε)` of the last training pass.
    inverse_std: Vec<f32>,
    /// Scratch for `inv = γ·inverse_std` and the shift `β − μ·inv`.
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl BatchNorm {
    pub fn build(
        prefix: &str,
        width: usize,
        momentum: f32,
        epsilon: f32,
        variables: &mut Vec<Variable>,
    ) -> BatchNorm {
        let gamma = variables.len();
        for (name, fill, role) in [
            ("gamma", 1.0, Role::Gamma),
            ("beta", 0.0, Role::Beta),
            ("moving_mean", 0.0, Role::MovingMean),
            ("moving_variance", 1.0, Role::MovingVariance),
        ] {
            variables.push(Variable::new(
                format!("{prefix}.{name}"),
                vec![width],
                fill,
                role,
            ));
        }
        BatchNorm {
            width,
            momentum,
            epsilon,
            gamma,
            mean: vec![0.0; width],
            inverse_std: vec![0.0; width],
            scale: vec![0.0; width],
            shift: vec![0.0; width],
        }
    }

    pub fn forward(
        &mut self,
        variables: &mut [Variable],
        x: &[f32],
        y: &mut [f32],
        rows: usize,
        mode: &mut Mode,
    ) {
        let width = self.width;
        let [gamma, beta, moving_mean, moving_variance] =
            &mut variables[self.gamma..self.gamma + 4]
        else {
            unreachable!("a batch-norm layer owns four consecutive variables")
        };
        match mode {
            Mode::Training { .. } => {
                let count = rows as f32;
                self.mean.fill(0.0);
                for row in x.chunks_exact(width) {
                    for (m, &v) in self.mean.iter_mut().zip(row) {
                        *m += v;
                    }
                }
                for m in &mut self.mean {
                    *m /= count;
                }
                // The variance accumulates in `shift`, which is overwritten below.
                self.shift.fill(0.0);
                for row in x.chunks_exact(width) {
                    for ((s, &v), &m) in self.shift.iter_mut().zip(row).zip(&self.mean) {
                        let d = v - m;
                        *s += d * d;
                    }
                }
                let momentum = self.momentum;
                for j in 0..width {
                    let var = self.shift[j] / count;
                    self.inverse_std[j] = 1.0 / (var + self.epsilon).sqrt();
                    moving_mean.values[j] =
                        moving_mean.values[j] * momentum + self.mean[j] * (1.0 - momentum);
                    moving_variance.values[j] =
                        moving_variance.values[j] * momentum + var * (1.0 - momentum);
                    self.scale[j] = gamma.values[j] * self.inverse_std[j];
                    self.shift[j] = beta.values[j] - self.mean[j] * self.scale[j];
                }
            }
            Mode::Inference => {
                for j in 0..width {
                    let inverse_std = 1.0 / (moving_variance.values[j] + self.epsilon).sqrt();
                    self.scale[j] = gamma.values[j] * inverse_std;
                    self.shift[j] = beta.values[j] - moving_mean.values[j] * self.scale[j];
                }
            }
        }
        for (x_row, y_row) in x.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
            for (((out, &v), &s), &b) in y_row
                .iter_mut()
                .zip(x_row)
                .zip(&self.scale)
                .zip(&self.shift)
            {
                *out = v * s + b;
            }
        }
    }

    /// Backward of the training-mode transform (batch statistics).
    pub fn backward(
        &mut self,
        variables: &mut [Variable],
        x: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        rows: usize,
    ) {
        let width = self.width;
        let (gamma_beta, _) = variables[self.gamma..].split_at_mut(2);
        let [gamma, beta] = gamma_beta else {
            unreachable!("gamma and beta are consecutive")
        };
        let d_gamma = &mut gamma.gradient;
        let d_beta = &mut beta.gradient;
        d_gamma.fill(0.0);
        d_beta.fill(0.0);
        for (x_row, dy_row) in x.chunks_exact(width).zip(dy.chunks_exact(width)) {
            for j in 0..width {
                let normalized = (x_row[j] - self.mean[j]) * self.inverse_std[j];
                d_beta[j] += dy_row[j];
                d_gamma[j] += dy_row[j] * normalized;
            }
        }
        let Some(dx) = dx else { return };
        let count = rows as f32;
        for ((x_row, dy_row), dx_row) in x
            .chunks_exact(width)
            .zip(dy.chunks_exact(width))
            .zip(dx.chunks_exact_mut(width))
        {
            for j in 0..width {
                let normalized = (x_row[j] - self.mean[j]) * self.inverse_std[j];
                dx_row[j] = gamma.values[j]
                    * self.inverse_std[j]
                    * (dy_row[j] - d_beta[j] / count - normalized * d_gamma[j] / count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::{Purpose, stream};

    /// NUMERICS §9 (run on Keras 3.15.1, TF and JAX backends): one training call of a fresh
    /// `BatchNormalization()` on the column [0, 2] leaves moving_mean 0.01 and moving_variance
    /// 1.0, which only the biased batch variance (1, not 2) gives.
    #[test]
    fn one_training_call_on_zero_and_two_moves_the_statistics_as_keras_does() {
        let mut variables = Vec::new();
        let mut layer = BatchNorm::build("layers.0", 1, 0.99, 1e-3, &mut variables);
        let mut y = [0.0; 2];
        let mut rng = stream(0, Purpose::Dropout(0));
        layer.forward(
            &mut variables,
            &[0.0, 2.0],
            &mut y,
            2,
            &mut Mode::Training { dropout: &mut rng },
        );
        assert_eq!(variables[2].name, "layers.0.moving_mean");
        assert!((variables[2].values[0] - 0.01).abs() < 1e-7);
        assert!((variables[3].values[0] - 1.0).abs() < 1e-7);
        // y = ±1/√(1 + 1e-3).
        assert!((y[1] - 1.0 / 1.001f32.sqrt()).abs() < 1e-6 && (y[0] + y[1]).abs() < 1e-6);
    }

    #[test]
    fn inference_uses_the_moving_statistics() {
        let mut variables = Vec::new();
        let mut layer = BatchNorm::build("layers.0", 1, 0.99, 1e-3, &mut variables);
        variables[1].values[0] = 0.5; // beta
        variables[2].values[0] = 2.0; // moving mean
        variables[3].values[0] = 4.0 - 1e-3; // moving variance
        let mut y = [0.0; 1];
        layer.forward(&mut variables, &[6.0], &mut y, 1, &mut Mode::Inference);
        assert!((y[0] - 2.5).abs() < 1e-6, "{}", y[0]);
    }
}
