//! Loss functions under their Keras names (K3 `losses/losses.py`, TF kernels in
//! K3 `backend/tensorflow/nn.py`), reduced with Keras's default `sum_over_batch_size`: the
//! mean of the per-sample losses over the batch's rows (NUMERICS §4.1).
//!
//! Two paths, as Keras's TF backend takes them (NUMERICS §4.3, §8 trap 1):
//! - **From logits**, when the network's last activation is softmax or sigmoid and the loss is
//!   a crossentropy: K3 `_get_logits` finds the `_keras_logits` the activation attached and
//!   calls the logits kernel. No clipping, an unbounded loss, and the gradient at the logits
//!   is exactly `p − y` (`σ(z) − y` for binary crossentropy). Like Keras, this applies to any
//!   crossentropy after either activation (binary crossentropy after softmax uses the
//!   softmax's logits as sigmoid logits).
//! - **From probabilities** otherwise, with Keras's `ε = 1e-7` clip (`backend/config.py`);
//!   the clip passes gradient only inside `[ε, 1 − ε]` (TF `ClipByValue` gradient).
//!
//! Targets: class labels or a `rows × width` value matrix ([`BatchTargets`]). Categorical
//! and binary crossentropy and mean squared error read class labels as one-hot rows when the
//! output is wider than one unit, and as the number itself (0/1 for binary crossentropy) when
//! the output has one unit. (Keras would broadcast a label column against every output for
//! mean squared error; one-hot is what a user means by regressing onto classes.)

use super::activation::{Activation, log_sum_exp, sigmoid, softmax_row, softmax_rows};
use super::math::{exp, ln_1p};

/// Keras's fuzz factor `keras.backend.epsilon()`.
pub const EPSILON: f32 = 1e-7;

/// A training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Integer class labels against a probability row (or logits when fused with softmax).
    SparseCategoricalCrossentropy,
    /// One-hot targets against a probability row.
    CategoricalCrossentropy,
    /// 0/1 targets against one probability per output unit, averaged over the last axis.
    BinaryCrossentropy,
    /// Mean over the last axis of `(y − ŷ)²`.
    MeanSquaredError,
}

/// The targets of one batch, row-aligned with the network's output.
#[derive(Debug, Clone, Copy)]
pub enum BatchTargets<'a> {
    /// One class id per row.
    Classes(&'a [u32]),
    /// `rows × width` values, width equal to the network's output width.
    Values(&'a [f32]),
}

impl BatchTargets<'_> {
    /// The target for output `column` of `row` in an output of `width` units.
    #[inline]
    pub fn at(&self, row: usize, column: usize, width: usize) -> f32 {
        match *self {
            BatchTargets::Classes(labels) if width == 1 => labels[row] as f32,
            BatchTargets::Classes(labels) => f32::from(labels[row] as usize == column),
            BatchTargets::Values(values) => values[row * width + column],
        }
    }

    /// The class of `row`: its label, or the argmax of its value row.
    pub fn class(&self, row: usize, width: usize) -> usize {
        match *self {
            BatchTargets::Classes(labels) => labels[row] as usize,
            BatchTargets::Values(values) => argmax(&values[row * width..(row + 1) * width]),
        }
    }
}

/// Index of the first largest entry (`tf.argmax`'s tie rule).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

impl Loss {
    /// Keras's name for the loss.
    pub fn keras_name(self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
        }
    }

    /// Whether the loss is computed from the logits of an output activation `activation`.
    pub fn from_logits(self, activation: Option<Activation>) -> bool {
        let crossentropy = !matches!(self, Loss::MeanSquaredError);
        crossentropy && activation.is_some_and(Activation::carries_logits)
    }

    /// The batch loss `Σ_rows L_i / rows`, where `input` is the logits (`from_logits`) or the
    /// network output, `rows × width`. When `gradient` is given it receives ∂loss/∂input.
    pub fn evaluate(
        self,
        from_logits: bool,
        input: &[f32],
        targets: BatchTargets,
        width: usize,
        gradient: Option<&mut [f32]>,
    ) -> f32 {
        // Under the CPU's best instruction set (`super::simd`): the exponentials' fused
        // multiply-adds are instructions there, not calls.
        super::simd::dispatch(
            #[inline(always)]
            || self.evaluate_rows(from_logits, input, targets, width, gradient),
        )
    }

    #[inline(always)]
    fn evaluate_rows(
        self,
        from_logits: bool,
        input: &[f32],
        targets: BatchTargets,
        width: usize,
        mut gradient: Option<&mut [f32]>,
    ) -> f32 {
        let rows = input.len() / width;
        let mut total = 0.0f32;
        match (self, from_logits, gradient.as_deref_mut()) {
            (Loss::SparseCategoricalCrossentropy, true, Some(g)) => {
                // The training path, as `sample` computes it row by row, with every row's
                // softmax taken at once (`softmax_rows`).
                softmax_rows(input, g, width, |row, lse| {
                    total += lse - input[row * width + targets.class(row, width)];
                });
                for (row, g_row) in g.chunks_exact_mut(width).enumerate() {
                    g_row[targets.class(row, width)] -= 1.0;
                }
            }
            (_, _, mut gradient) => {
                for (row, z) in input.chunks_exact(width).enumerate() {
                    let g = gradient
                        .as_deref_mut()
                        .map(|g| &mut g[row * width..(row + 1) * width]);
                    total += self.sample(from_logits, z, row, targets, g);
                }
            }
        }
        if let Some(g) = gradient {
            let scale = 1.0 / rows as f32;
            for v in g.iter_mut() {
                *v *= scale;
            }
        }
        total / rows as f32
    }

    /// The loss of one row and, when asked, its gradient (not yet divided by rows).
    #[inline(always)]
    fn sample(
        self,
        from_logits: bool,
        z: &[f32],
        row: usize,
        targets: BatchTargets,
        gradient: Option<&mut [f32]>,
    ) -> f32 {
        let width = z.len();
        let y = |j: usize| targets.at(row, j, width);
        match (self, from_logits) {
            (Loss::SparseCategoricalCrossentropy, true) => {
                let label = targets.class(row, width);
                match gradient {
                    Some(g) => {
                        let mut lse = 0.0;
                        softmax_rows(z, g, width, |_, row_lse| lse = row_lse);
                        g[label] -= 1.0;
                        lse - z[label]
                    }
                    None => log_sum_exp(z) - z[label],
                }
            }
            (Loss::CategoricalCrossentropy, true) => {
                let lse = log_sum_exp(z);
                if let Some(g) = gradient {
                    softmax_row(z, g);
                    for (j, gj) in g.iter_mut().enumerate() {
                        *gj -= y(j);
                    }
                }
                (0..width).map(|j| y(j) * (lse - z[j])).sum()
            }
            (Loss::BinaryCrossentropy, true) => {
                let mut sum = 0.0f32;
                let mut g = gradient;
                for (j, &zj) in z.iter().enumerate() {
                    let t = y(j);
                    sum += zj.max(0.0) - zj * t + ln_1p(exp(-zj.abs()));
                    if let Some(g) = g.as_deref_mut() {
                        g[j] = (sigmoid(zj) - t) / width as f32;
                    }
                }
                sum / width as f32
            }
            (Loss::SparseCategoricalCrossentropy, false) => {
                // TF backend: `−ln q_y + ln Σ q` with q the clipped output, no renormalizing.
                let label = targets.class(row, width);
                let clip = |p: f32| p.clamp(EPSILON, 1.0 - EPSILON);
                let sum_q: f32 = z.iter().map(|&p| clip(p)).sum();
                let q_label = clip(z[label]);
                if let Some(g) = gradient {
                    for (j, gj) in g.iter_mut().enumerate() {
                        let d = 1.0 / sum_q - if j == label { 1.0 / q_label } else { 0.0 };
                        *gj = d * passes_clip(z[j]);
                    }
                }
                sum_q.ln() - q_label.ln()
            }
            (Loss::CategoricalCrossentropy, false) => {
                // Renormalize, clip, `−Σ y ln c`.
                let s: f32 = z.iter().sum();
                let mut loss = 0.0f32;
                let mut weighted = 0.0f32;
                for (j, &p) in z.iter().enumerate() {
                    let r = p / s;
                    let c = r.clamp(EPSILON, 1.0 - EPSILON);
                    loss -= y(j) * c.ln();
                    weighted += -y(j) / c * passes_clip(r) * r;
                }
                if let Some(g) = gradient {
                    for (j, gj) in g.iter_mut().enumerate() {
                        let r = z[j] / s;
                        let c = r.clamp(EPSILON, 1.0 - EPSILON);
                        let d_r = -y(j) / c * passes_clip(r);
                        *gj = (d_r - weighted) / s;
                    }
                }
                loss
            }
            (Loss::BinaryCrossentropy, false) => {
                let mut sum = 0.0f32;
                let mut g = gradient;
                for (j, &p) in z.iter().enumerate() {
                    let t = y(j);
                    let c = p.clamp(EPSILON, 1.0 - EPSILON);
                    sum -= t * c.ln() + (1.0 - t) * (1.0 - c).ln();
                    if let Some(g) = g.as_deref_mut() {
                        g[j] = (-t / c + (1.0 - t) / (1.0 - c)) * passes_clip(p) / width as f32;
                    }
                }
                sum / width as f32
            }
            (Loss::MeanSquaredError, _) => {
                let mut sum = 0.0f32;
                let mut g = gradient;
                for (j, &p) in z.iter().enumerate() {
                    let d = p - y(j);
                    sum += d * d;
                    if let Some(g) = g.as_deref_mut() {
                        g[j] = 2.0 * d / width as f32;
                    }
                }
                sum / width as f32
            }
        }
    }
}

/// 1 where `clip(p, ε, 1 − ε)` passes gradient (inside the bounds, inclusive), else 0.
fn passes_clip(p: f32) -> f32 {
    f32::from((EPSILON..=1.0 - EPSILON).contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One gradient-check case: a loss on a path, an input row set and its targets.
    struct Case {
        loss: Loss,
        from_logits: bool,
        width: usize,
        input: Vec<f32>,
        targets: Targets,
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

    fn check(case: &Case) {
        let mut gradient = vec![0.0; case.input.len()];
        let targets = case.targets.batch();
        case.loss.evaluate(
            case.from_logits,
            &case.input,
            targets,
            case.width,
            Some(&mut gradient),
        );
        for i in 0..case.input.len() {
            let h = 1e-3f32;
            let at = |shift: f32| {
                let mut x = case.input.clone();
                x[i] += shift;
                f64::from(
                    case.loss
                        .evaluate(case.from_logits, &x, targets, case.width, None),
                )
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let analytic = f64::from(gradient[i]);
            assert!(
                (numeric - analytic).abs() < 1e-2 * (0.05 + analytic.abs()),
                "{:?} from_logits={} input[{i}]: numeric {numeric}, analytic {analytic}",
                case.loss,
                case.from_logits
            );
        }
    }

    #[test]
    fn every_loss_on_both_paths_matches_a_central_finite_difference() {
        let logits = vec![0.2, -1.3, 0.7, 1.1, 0.4, -0.6];
        let probabilities = vec![0.2, 0.5, 0.3, 0.1, 0.6, 0.3];
        let unnormalized = vec![0.2, 0.6, 0.3, 0.1, 0.5, 0.3];
        let one_hot = vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let cases = [
            Case {
                loss: Loss::SparseCategoricalCrossentropy,
                from_logits: true,
                width: 3,
                input: logits.clone(),
                targets: Targets::Classes(vec![1, 2]),
            },
            Case {
                loss: Loss::SparseCategoricalCrossentropy,
                from_logits: false,
                width: 3,
                input: unnormalized.clone(),
                targets: Targets::Classes(vec![1, 2]),
            },
            Case {
                loss: Loss::CategoricalCrossentropy,
                from_logits: true,
                width: 3,
                input: logits.clone(),
                targets: Targets::Values(one_hot.clone()),
            },
            Case {
                loss: Loss::CategoricalCrossentropy,
                from_logits: false,
                width: 3,
                input: unnormalized.clone(),
                targets: Targets::Classes(vec![1, 2]),
            },
            Case {
                loss: Loss::BinaryCrossentropy,
                from_logits: true,
                width: 3,
                input: logits.clone(),
                targets: Targets::Values(one_hot.clone()),
            },
            Case {
                loss: Loss::BinaryCrossentropy,
                from_logits: false,
                width: 3,
                input: probabilities.clone(),
                targets: Targets::Values(one_hot.clone()),
            },
            Case {
                loss: Loss::BinaryCrossentropy,
                from_logits: false,
                width: 1,
                input: vec![0.3, 0.8],
                targets: Targets::Classes(vec![1, 0]),
            },
            Case {
                loss: Loss::MeanSquaredError,
                from_logits: false,
                width: 3,
                input: logits.clone(),
                targets: Targets::Values(probabilities.clone()),
            },
            Case {
                loss: Loss::MeanSquaredError,
                from_logits: false,
                width: 3,
                input: logits.clone(),
                targets: Targets::Classes(vec![0, 2]),
            },
        ];
        for case in &cases {
            check(case);
        }
    }

    /// NUMERICS §9 (Keras 3.15.1, TF backend): logits [0, 40] with label 0 give a fit/evaluate
    /// loss of 40.0 from logits, and 16.118095 = −ln(1e-7) on the clipped probability path;
    /// the logit gradient is exactly p − onehot even at saturation.
    #[test]
    fn saturated_softmax_crossentropy_is_forty_from_logits_and_capped_from_probabilities() {
        let mut gradient = [0.0; 2];
        let fused = Loss::SparseCategoricalCrossentropy.evaluate(
            true,
            &[0.0, 40.0],
            BatchTargets::Classes(&[0]),
            2,
            Some(&mut gradient),
        );
        assert_eq!(fused, 40.0);
        assert_eq!(gradient, [-1.0, 1.0]);
        let clipped = Loss::SparseCategoricalCrossentropy.evaluate(
            false,
            &[4.248_354e-18, 1.0],
            BatchTargets::Classes(&[0]),
            2,
            None,
        );
        assert!((clipped - 16.118_095).abs() < 1e-5, "{clipped}");
        let binary =
            Loss::BinaryCrossentropy.evaluate(true, &[-40.0], BatchTargets::Classes(&[1]), 1, None);
        assert_eq!(binary, 40.0);
    }

    #[test]
    fn crossentropies_are_computed_from_logits_only_after_softmax_or_sigmoid() {
        use Activation::*;
        let cases = [
            (Loss::SparseCategoricalCrossentropy, Some(Softmax), true),
            (Loss::CategoricalCrossentropy, Some(Softmax), true),
            (Loss::BinaryCrossentropy, Some(Sigmoid), true),
            (Loss::BinaryCrossentropy, Some(Softmax), true),
            (Loss::MeanSquaredError, Some(Sigmoid), false),
            (Loss::SparseCategoricalCrossentropy, Some(Linear), false),
            (Loss::CategoricalCrossentropy, None, false),
        ];
        for (loss, activation, expected) in cases {
            assert_eq!(
                loss.from_logits(activation),
                expected,
                "{loss:?} {activation:?}"
            );
        }
    }

    #[test]
    fn mean_squared_error_is_the_mean_over_rows_and_columns() {
        let loss = Loss::MeanSquaredError.evaluate(
            false,
            &[1.0, 2.0, 3.0, 5.0],
            BatchTargets::Values(&[0.0, 0.0, 0.0, 0.0]),
            2,
            None,
        );
        assert_eq!(loss, (1.0 + 4.0 + 9.0 + 25.0) / 4.0);
    }
}
