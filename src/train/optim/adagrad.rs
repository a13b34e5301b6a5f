//! Adagrad as Keras 3 computes it (K3 `optimizers/adagrad.py`; `../../NUMERICS.md` §1.5).
//!
//! ```text
//! a ← a + g²                  (a starts at initial_accumulator_value, Keras default 0.1)
//! w ← w − (lr·g) / sqrt(a + ε)            ← ε inside the square root
//! ```
//! PyTorch starts the accumulator at 0 and puts ε outside the root, which changes the first
//! steps a lot.

use super::Slot;
use super::watch::{Elementwise, StepVisitor};

/// Adagrad state: the running sum of squared gradients per variable.
#[derive(Debug, Clone)]
pub struct Adagrad {
    epsilon: f32,
    accumulator: Slot,
}

impl Adagrad {
    pub fn new(initial_accumulator_value: f32, epsilon: f32, variable_sizes: &[usize]) -> Adagrad {
        Adagrad {
            epsilon,
            accumulator: Slot::filled("accumulator", variable_sizes, initial_accumulator_value),
        }
    }

    /// Hands `visitor` this apply's step on variable `index` and its accumulator.
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> V::Output {
        let step = AdagradStep {
            epsilon: self.epsilon,
            learning_rate,
        };
        visitor.visit(step, [self.accumulator.buffers[index].as_mut_slice()])
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        vec![&self.accumulator]
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        vec![&mut self.accumulator]
    }
}

/// Adagrad's step on one vector, the operations of the formulas above in their order.
#[derive(Clone, Copy)]
struct AdagradStep {
    epsilon: f32,
    learning_rate: f32,
}

impl Elementwise<1> for AdagradStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [a]: &mut [S::f32s; 1],
    ) -> S::f32s {
        *a = simd.add_f32s(*a, simd.mul_f32s(g, g));
        let numerator = simd.mul_f32s(simd.splat_f32s(self.learning_rate), g);
        let denominator = simd.sqrt_f32s(simd.add_f32s(*a, simd.splat_f32s(self.epsilon)));
        simd.sub_f32s(w, simd.div_f32s(numerator, denominator))
    }
}
