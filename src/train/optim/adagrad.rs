//! Adagrad as Keras 3 computes it (K3 `optimizers/adagrad.py`; `../../NUMERICS.md` §1.5).
//!
//! ```text
//! a ← a + g²                  (a starts at initial_accumulator_value, Keras default 0.1)
//! w ← w − (lr·g) / sqrt(a + ε)            ← ε inside the square root
//! ```
//! PyTorch starts the accumulator at 0 and puts ε outside the root, which changes the first
//! steps a lot.

use std::ops::Range;

use super::Slot;

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

    /// One update of the values `range` of variable `index` (`weights` and `gradient` hold
    /// just those); `gradient` is already clipped.
    pub fn update(
        &mut self,
        index: usize,
        range: Range<usize>,
        learning_rate: f32,
        weights: &mut [f32],
        gradient: &[f32],
    ) {
        let epsilon = self.epsilon;
        let accumulator = &mut self.accumulator.buffers[index][range];
        for ((w, a), &g) in weights.iter_mut().zip(accumulator.iter_mut()).zip(gradient) {
            *a += g * g;
            *w -= (learning_rate * g) / (*a + epsilon).sqrt();
        }
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        vec![&self.accumulator]
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        vec![&mut self.accumulator]
    }
}
