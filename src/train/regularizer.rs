//! L1/L2 kernel penalties (K3 `regularizers/regularizers.py`): `l1·Σ|w| + l2·Σw²`, with no ½,
//! added to the loss once per step and not divided by the batch size.
//!
//! The gradient added to the kernel's data gradient is `l1·sign(w) + 2·l2·w`. At `w = 0` the L1
//! term is not differentiable; TensorFlow's gradient of `abs` is `sign(x)` with `sign(0) = 0`,
//! so a zero weight gets no L1 push, and so does it here.

/// Kernel regularizer factors; both zero means no penalty.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Regularizer {
    pub l1: f32,
    pub l2: f32,
}

impl Regularizer {
    /// Keras's `"l1"` string: `L1(l1=0.01)`.
    pub const L1_DEFAULT: Regularizer = Regularizer { l1: 0.01, l2: 0.0 };
    /// Keras's `"l2"` string: `L2(l2=0.01)`.
    pub const L2_DEFAULT: Regularizer = Regularizer { l1: 0.0, l2: 0.01 };

    /// Whether the penalty is identically zero, so the engine can skip it.
    pub fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// `l1·Σ|w| + l2·Σw²` over the kernel. Sums are accumulated in f64 and the result rounded
    /// once, so the value does not depend on the kernel's size beyond f32 rounding. A zero
    /// factor contributes nothing, as Keras's `L1L2.__call__` skips it.
    pub fn penalty(&self, kernel: &[f32]) -> f32 {
        let mut penalty = 0.0f64;
        if self.l1 != 0.0 {
            let sum_abs: f64 = kernel.iter().map(|&w| f64::from(w.abs())).sum();
            penalty += f64::from(self.l1) * sum_abs;
        }
        if self.l2 != 0.0 {
            let sum_squares: f64 = kernel.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
            penalty += f64::from(self.l2) * sum_squares;
        }
        penalty as f32
    }

    /// Adds the penalty's gradient `l1·sign(w) + 2·l2·w` to `grad`, element by element
    /// (`grad.len() == kernel.len()`; extra elements of the longer slice are left alone).
    pub fn add_gradient(&self, kernel: &[f32], grad: &mut [f32]) {
        if self.is_zero() {
            return;
        }
        let twice_l2 = 2.0 * self.l2;
        for (g, &w) in grad.iter_mut().zip(kernel) {
            *g += self.l1 * sign(w) + twice_l2 * w;
        }
    }
}

/// TensorFlow's `sign`: −1, 0 or +1 (`f32::signum` would give ±1 at ±0).
fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l2_of_a_single_weight_three_is_0_09_as_keras_reports() {
        // NUMERICS.md §9: L2(0.01) on w = 3 with zero data loss gives loss 0.09 and
        // val_loss 0.09 in Keras 3.15.1 (TF and JAX backends).
        // 0.01 is not exact in f32: f32(0.01)·9 rounds to 0.089999996, as it does in TF's
        // float32 arithmetic, and Keras prints that as 0.09.
        let penalty = Regularizer::L2_DEFAULT.penalty(&[3.0]);
        assert!((penalty - 0.09).abs() < 1e-8, "{penalty}");
    }

    #[test]
    fn penalties_match_their_formula() {
        let kernel = [1.0, -2.0, 0.5, 0.0];
        // Σ|w| = 3.5, Σw² = 5.25.
        let cases = [
            (Regularizer { l1: 0.0, l2: 0.0 }, 0.0),
            (Regularizer { l1: 0.1, l2: 0.0 }, 0.35),
            (Regularizer { l1: 0.0, l2: 0.2 }, 1.05),
            (Regularizer { l1: 0.1, l2: 0.2 }, 1.4),
        ];
        for (regularizer, expected) in cases {
            let got = regularizer.penalty(&kernel);
            assert!((got - expected).abs() < 1e-6, "{regularizer:?}: {got}");
        }
    }

    #[test]
    fn gradients_are_sign_times_l1_plus_twice_l2_w_with_no_push_at_zero() {
        let regularizer = Regularizer { l1: 0.1, l2: 0.2 };
        let kernel = [1.0, -2.0, 0.5, 0.0];
        let mut grad = [10.0, 10.0, 10.0, 10.0];
        regularizer.add_gradient(&kernel, &mut grad);
        let expected = [
            10.0 + 0.1 + 0.4,
            10.0 - 0.1 - 0.8,
            10.0 + 0.1 + 0.2,
            10.0, // sign(0) = 0 and 2·l2·0 = 0
        ];
        for (got, want) in grad.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{grad:?}");
        }
    }

    #[test]
    fn the_gradient_matches_central_finite_differences_away_from_zero() {
        let regularizer = Regularizer { l1: 0.03, l2: 0.07 };
        let kernel = [0.8f32, -1.3, 0.25, -0.4, 2.0];
        let mut grad = vec![0.0; kernel.len()];
        regularizer.add_gradient(&kernel, &mut grad);
        // Central differences of the penalty in f64 (the formula evaluated exactly) with
        // h = 1e-4: the L2 part is quadratic, so its central difference is exact, and the L1
        // part is linear on each side of 0, where no weight lies within h.
        let h = 1e-4f64;
        let exact_penalty = |w: &[f64]| {
            0.03 * w.iter().map(|v| v.abs()).sum::<f64>()
                + 0.07 * w.iter().map(|v| v * v).sum::<f64>()
        };
        for i in 0..kernel.len() {
            let mut plus: Vec<f64> = kernel.iter().map(|&w| f64::from(w)).collect();
            let mut minus = plus.clone();
            plus[i] += h;
            minus[i] -= h;
            let numeric = (exact_penalty(&plus) - exact_penalty(&minus)) / (2.0 * h);
            assert!(
                (f64::from(grad[i]) - numeric).abs() < 1e-6,
                "weight {i}: analytic {} numeric {numeric}",
                grad[i]
            );
        }
    }

    #[test]
    fn a_zero_regularizer_leaves_the_gradient_untouched() {
        let mut grad = [0.5, -0.5];
        Regularizer::default().add_gradient(&[3.0, -3.0], &mut grad);
        assert_eq!(grad, [0.5, -0.5]);
        assert!(Regularizer::default().is_zero());
        assert_eq!(Regularizer::default().penalty(&[3.0, -3.0]), 0.0);
    }
}
