//! A Bernoulli–Bernoulli restricted Boltzmann machine trained by contrastive divergence
//! (CD-k; Hinton 2002, and Hinton's "A Practical Guide to Training RBMs", 2010), the building
//! block of [`super::dbn`].
//!
//! Energy `E(v, h) = −v·b − h·c − vᵀWh` with `W` of shape `(n_visible, n_hidden)`, stored
//! row-major: exactly the layout of the Dense kernel `(in, units)` it becomes, so
//! `p(h = 1 | v) = σ(vW + c)` is the Dense layer's sigmoid output and `p(v = 1 | h) = σ(hWᵀ + b)`.
//!
//! One CD-k update on a batch `V₀` of `n_b` rows:
//! 1. `P₀ = σ(V₀W + c)`; sample `H ~ Bernoulli(P₀)`.
//! 2. Repeat k times: `Vₜ = σ(HWᵀ + b)` (probabilities, not samples: Hinton's guide §3.2, less
//!    sampling noise at no cost to the fixed point), `Pₜ = σ(VₜW + c)`, and unless this is the
//!    last step re-sample `H ~ Bernoulli(Pₜ)`. Hidden states are sampled inside the chain so
//!    they act as an information bottleneck (guide §3.1).
//! 3. With `η = learning_rate / n_b` (the batch's own size, also for a short last batch):
//!    `W += η·(V₀ᵀP₀ − VₖᵀPₖ)`, `b += η·Σ_rows(V₀ − Vₖ)`, `c += η·Σ_rows(P₀ − Pₖ)`.
//!    The statistics use hidden probabilities, never samples (guide §3.3).
//!
//! No momentum, weight decay or sparsity target, as in scikit-learn's `BernoulliRBM`
//! (SK `sklearn/neural_network/_rbm.py`), which is PCD-1 instead; see NUMERICS.md §7.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Standard deviation of the initial weights, scikit-learn's `rng.normal(0, 0.01)`
/// (SK `sklearn/neural_network/_rbm.py` `BernoulliRBM.fit`); Hinton's guide §8 suggests the same.
pub const INITIAL_WEIGHT_STD: f32 = 0.01;

/// A Bernoulli–Bernoulli RBM's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BernoulliRbm {
    pub n_visible: usize,
    pub n_hidden: usize,
    /// `W`, `n_visible × n_hidden`, row-major.
    pub weights: Vec<f32>,
    /// `b`, length `n_visible`.
    pub visible_bias: Vec<f32>,
    /// `c`, length `n_hidden`.
    pub hidden_bias: Vec<f32>,
}

/// Matrices one CD-k update needs, allocated once for batches of up to `capacity` rows so the
/// per-batch loop allocates nothing.
#[derive(Debug, Clone)]
pub struct CdWorkspace {
    capacity: usize,
    /// `P₀`, `capacity × n_hidden`.
    positive_hidden: Vec<f32>,
    /// `H`, `capacity × n_hidden`.
    hidden_sample: Vec<f32>,
    /// `Vₜ`, `capacity × n_visible`.
    negative_visible: Vec<f32>,
    /// `Pₜ`, `capacity × n_hidden`.
    negative_hidden: Vec<f32>,
}

impl CdWorkspace {
    pub fn new(rbm: &BernoulliRbm, capacity: usize) -> Self {
        Self {
            capacity,
            positive_hidden: vec![0.0; capacity * rbm.n_hidden],
            hidden_sample: vec![0.0; capacity * rbm.n_hidden],
            negative_visible: vec![0.0; capacity * rbm.n_visible],
            negative_hidden: vec![0.0; capacity * rbm.n_hidden],
        }
    }
}

/// `1/(1 + e^{−x})` without overflow for large |x|. `libm` keeps the bits identical across
/// platforms, which the seed-replay promise needs.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::expf(-x))
    } else {
        let e = libm::expf(x);
        e / (1.0 + e)
    }
}

impl BernoulliRbm {
    /// `W ~ N(0, 0.01²)` drawn row-major from `rng`; both biases zero.
    pub fn new(n_visible: usize, n_hidden: usize, rng: &mut ChaCha8Rng) -> Self {
        let normal = Normal::new(0.0f32, INITIAL_WEIGHT_STD)
            .expect("0.01 is a finite positive standard deviation");
        let weights = (0..n_visible * n_hidden)
            .map(|_| normal.sample(rng))
            .collect();
        Self {
            n_visible,
            n_hidden,
            weights,
            visible_bias: vec![0.0; n_visible],
            hidden_bias: vec![0.0; n_hidden],
        }
    }

    /// `out = σ(visible·W + c)` for `rows` row-major rows of `visible` (`rows × n_visible`);
    /// `out` is `rows × n_hidden`.
    pub fn hidden_probabilities(&self, visible: &[f32], rows: usize, out: &mut [f32]) {
        let visible =
            MatRef::from_row_major_slice(&visible[..rows * self.n_visible], rows, self.n_visible);
        let weights = MatRef::from_row_major_slice(&self.weights, self.n_visible, self.n_hidden);
        let out = &mut out[..rows * self.n_hidden];
        matmul(
            MatMut::from_row_major_slice_mut(out, rows, self.n_hidden),
            Accum::Replace,
            visible,
            weights,
            1.0,
            Par::Seq,
        );
        add_bias_and_squash(out, &self.hidden_bias);
    }

    /// `out = σ(hidden·Wᵀ + b)` for `rows` rows of `hidden` (`rows × n_hidden`); `out` is
    /// `rows × n_visible`.
    pub fn visible_probabilities(&self, hidden: &[f32], rows: usize, out: &mut [f32]) {
        let hidden =
            MatRef::from_row_major_slice(&hidden[..rows * self.n_hidden], rows, self.n_hidden);
        let weights = MatRef::from_row_major_slice(&self.weights, self.n_visible, self.n_hidden);
        let out = &mut out[..rows * self.n_visible];
        matmul(
            MatMut::from_row_major_slice_mut(out, rows, self.n_visible),
            Accum::Replace,
            hidden,
            weights.transpose(),
            1.0,
            Par::Seq,
        );
        add_bias_and_squash(out, &self.visible_bias);
    }

    /// One CD-`cd_steps` update on the first `rows` rows of `batch` (`rows × n_visible`, values
    /// in [0, 1]); see the module doc. Returns `Σ (V₀ − V₁)²` over the batch, the squared error
    /// of the first reconstruction, computed with the weights before the update.
    ///
    /// `rows` must be at most the workspace capacity and `cd_steps` at least 1; the caller
    /// ([`super::dbn::pretrain`]) checks both.
    pub fn contrastive_divergence(
        &mut self,
        batch: &[f32],
        rows: usize,
        cd_steps: usize,
        learning_rate: f32,
        workspace: &mut CdWorkspace,
        rng: &mut ChaCha8Rng,
    ) -> f64 {
        debug_assert!(rows <= workspace.capacity && cd_steps >= 1);
        let n_visible = self.n_visible;
        let n_hidden = self.n_hidden;
        let positive_visible = &batch[..rows * n_visible];
        let positive_hidden = &mut workspace.positive_hidden[..rows * n_hidden];
        let hidden_sample = &mut workspace.hidden_sample[..rows * n_hidden];
        let negative_visible = &mut workspace.negative_visible[..rows * n_visible];
        let negative_hidden = &mut workspace.negative_hidden[..rows * n_hidden];

        self.hidden_probabilities(positive_visible, rows, positive_hidden);
        sample_bernoulli(positive_hidden, hidden_sample, rng);
        let mut squared_error = 0.0f64;
        for step in 1..=cd_steps {
            self.visible_probabilities(hidden_sample, rows, negative_visible);
            self.hidden_probabilities(negative_visible, rows, negative_hidden);
            if step == 1 {
                squared_error = positive_visible
                    .iter()
                    .zip(negative_visible.iter())
                    .map(|(&v0, &v1)| f64::from(v0 - v1).powi(2))
                    .sum();
            }
            if step < cd_steps {
                sample_bernoulli(negative_hidden, hidden_sample, rng);
            }
        }

        let step_size = learning_rate / rows as f32;
        let mut weights = MatMut::from_row_major_slice_mut(&mut self.weights, n_visible, n_hidden);
        matmul(
            weights.as_mut(),
            Accum::Add,
            MatRef::from_row_major_slice(positive_visible, rows, n_visible).transpose(),
            MatRef::from_row_major_slice(positive_hidden, rows, n_hidden),
            step_size,
            Par::Seq,
        );
        matmul(
            weights.as_mut(),
            Accum::Add,
            MatRef::from_row_major_slice(negative_visible, rows, n_visible).transpose(),
            MatRef::from_row_major_slice(negative_hidden, rows, n_hidden),
            -step_size,
            Par::Seq,
        );
        add_column_difference(
            &mut self.visible_bias,
            positive_visible,
            negative_visible,
            step_size,
        );
        add_column_difference(
            &mut self.hidden_bias,
            positive_hidden,
            negative_hidden,
            step_size,
        );
        squared_error
    }
}

/// `x ← σ(x + bias)` row by row, for a row-major matrix with `bias.len()` columns.
fn add_bias_and_squash(matrix: &mut [f32], bias: &[f32]) {
    if bias.is_empty() {
        return;
    }
    for row in matrix.chunks_exact_mut(bias.len()) {
        for (value, &b) in row.iter_mut().zip(bias) {
            *value = sigmoid(*value + b);
        }
    }
}

/// `sample[i] = 1` with probability `probabilities[i]`, else 0, one uniform draw per entry.
fn sample_bernoulli(probabilities: &[f32], sample: &mut [f32], rng: &mut ChaCha8Rng) {
    for (s, &p) in sample.iter_mut().zip(probabilities) {
        let u: f32 = rng.random();
        *s = if u < p { 1.0 } else { 0.0 };
    }
}

/// `bias += step·Σ_rows(positive − negative)` for row-major matrices with `bias.len()` columns.
fn add_column_difference(bias: &mut [f32], positive: &[f32], negative: &[f32], step: f32) {
    if bias.is_empty() {
        return;
    }
    let width = bias.len();
    for (positive_row, negative_row) in positive
        .chunks_exact(width)
        .zip(negative.chunks_exact(width))
    {
        for ((b, &p), &n) in bias.iter_mut().zip(positive_row).zip(negative_row) {
            *b += step * (p - n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::{Purpose, stream};

    fn two_by_two(
        weights: [f32; 4],
        visible_bias: [f32; 2],
        hidden_bias: [f32; 2],
    ) -> BernoulliRbm {
        BernoulliRbm {
            n_visible: 2,
            n_hidden: 2,
            weights: weights.to_vec(),
            visible_bias: visible_bias.to_vec(),
            hidden_bias: hidden_bias.to_vec(),
        }
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{what}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn cd1_from_zero_weights_pulls_toward_the_data_by_hand() {
        // W = 0, b = c = 0, v₀ = [1, 0], η = 0.1. Every probability is σ(0) = ½ whatever the
        // hidden sample, so P₀ = [½, ½], V₁ = [½, ½], P₁ = [½, ½], and
        //   ΔW = η(v₀ᵀP₀ − V₁ᵀP₁) = 0.1·([[½, ½], [0, 0]] − [[¼, ¼], [¼, ¼]])
        //      = [[0.025, 0.025], [−0.025, −0.025]],
        //   Δb = η(v₀ − V₁) = [0.05, −0.05],  Δc = η(P₀ − P₁) = [0, 0].
        // Signs: weights from the active visible unit grow, from the silent one shrink.
        let mut rbm = two_by_two([0.0; 4], [0.0; 2], [0.0; 2]);
        let mut workspace = CdWorkspace::new(&rbm, 1);
        let mut rng = stream(1, Purpose::Pretraining);
        let squared_error =
            rbm.contrastive_divergence(&[1.0, 0.0], 1, 1, 0.1, &mut workspace, &mut rng);
        assert_close(&rbm.weights, &[0.025, 0.025, -0.025, -0.025], "W");
        assert_close(&rbm.visible_bias, &[0.05, -0.05], "b");
        assert_close(&rbm.hidden_bias, &[0.0, 0.0], "c");
        // (1 − ½)² + (0 − ½)² = ½.
        assert!((squared_error - 0.5).abs() < 1e-12);
    }

    #[test]
    fn cd1_with_saturated_hidden_units_matches_a_hand_computation() {
        // W = [[1, 0], [0, −1]] (row = visible), b = 0, c = [40, −40], v₀ = [1, 0], η = 0.1.
        // P₀ = σ([41, −40]) = [1, 4e-18], so H = [1, 0] (u < 4e-18 never happens).
        // V₁ = σ(H·Wᵀ) = σ([1, 0]) = [0.7310586, 0.5]; P₁ = σ(V₁W + c) ≈ [1, 0].
        //   ΔW ≈ 0.1·([[1, 0], [0, 0]] − [[0.7310586, 0], [0.5, 0]])
        //      = [[0.02689414, 0], [−0.05, 0]]
        //   Δb = 0.1·([1, 0] − [0.7310586, 0.5]) = [0.02689414, −0.05], Δc ≈ [0, 0].
        let mut rbm = two_by_two([1.0, 0.0, 0.0, -1.0], [0.0; 2], [40.0, -40.0]);
        let mut workspace = CdWorkspace::new(&rbm, 1);
        let mut rng = stream(2, Purpose::Pretraining);
        rbm.contrastive_divergence(&[1.0, 0.0], 1, 1, 0.1, &mut workspace, &mut rng);
        assert_close(&rbm.weights, &[1.0 + 0.026_894_14, 0.0, -0.05, -1.0], "W");
        assert_close(&rbm.visible_bias, &[0.026_894_14, -0.05], "b");
        assert_close(&rbm.hidden_bias, &[40.0, -40.0], "c");
    }

    #[test]
    fn a_short_batch_is_averaged_over_its_own_rows() {
        // Two identical rows must give the same update as one row: η = lr / n_b.
        let mut single = two_by_two([0.0; 4], [0.0; 2], [0.0; 2]);
        let mut double = single.clone();
        let mut workspace = CdWorkspace::new(&single, 4);
        let mut rng = stream(1, Purpose::Pretraining);
        single.contrastive_divergence(&[1.0, 0.0], 1, 1, 0.1, &mut workspace, &mut rng);
        double.contrastive_divergence(&[1.0, 0.0, 1.0, 0.0], 2, 1, 0.1, &mut workspace, &mut rng);
        assert_close(&double.weights, &single.weights, "W");
        assert_close(&double.visible_bias, &single.visible_bias, "b");
    }

    #[test]
    fn the_hidden_probabilities_are_the_dense_layers_sigmoid_output() {
        // x = [1, 2], kernel (in × units) = [[0.5, −1], [0.25, 2]], bias [0.1, −0.2]:
        // pre-activations [1.1, 2.8].
        let rbm = two_by_two([0.5, -1.0, 0.25, 2.0], [0.0; 2], [0.1, -0.2]);
        let mut out = [0.0; 2];
        rbm.hidden_probabilities(&[1.0, 2.0], 1, &mut out);
        assert_close(&out, &[sigmoid(1.1), sigmoid(2.8)], "p(h|v)");
        // And the visible side uses Wᵀ: h = [1, 0] → σ([0.5, 0.25] + b).
        let mut visible = [0.0; 2];
        rbm.visible_probabilities(&[1.0, 0.0], 1, &mut visible);
        assert_close(&visible, &[sigmoid(0.5), sigmoid(0.25)], "p(v|h)");
    }

    #[test]
    fn sigmoid_is_finite_and_symmetric_at_the_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(200.0), 1.0);
        assert_eq!(sigmoid(-200.0), 0.0);
        for x in [-3.0f32, -0.5, 0.7, 5.0] {
            assert!((sigmoid(x) + sigmoid(-x) - 1.0).abs() < 1e-7);
        }
    }
}
