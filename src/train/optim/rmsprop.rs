//! RMSprop, plain, centered and with momentum, as Keras 3 computes it
//! (K3 `optimizers/rmsprop.py` `update_step`; `../../NUMERICS.md` §1.4).
//!
//! ```text
//! v ← ρ·v + (1 − ρ)·g²                          (no bias correction)
//! centered: ḡ ← ρ·ḡ + (1 − ρ)·g ;  D = sqrt(v − ḡ² + ε)
//! else:                           D = sqrt(v + ε)        ← ε inside the square root
//! inc = (lr·g) / D
//! momentum μ > 0: mom ← μ·mom + inc ;  w ← w − mom        ← lr inside the momentum buffer
//! else:           w ← w − inc
//! ```
//! `ρ` and `μ` enter as float32, `1 − ρ` is Python-float arithmetic (float64, then rounded;
//! see [`super::python_float`]). Keras creates the momentum slot only for `momentum > 0` and
//! ḡ only when centered.

use std::ops::Range;

use super::{Slot, python_float};

/// RMSprop state: the mean square per variable, plus ḡ (centered) and the momentum buffer.
#[derive(Debug, Clone)]
pub struct Rmsprop {
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
    v: Slot,
    average_gradient: Option<Slot>,
    momentum_buffer: Option<Slot>,
}

impl Rmsprop {
    pub fn new(
        rho: f32,
        momentum: f32,
        epsilon: f32,
        centered: bool,
        variable_sizes: &[usize],
    ) -> Rmsprop {
        Rmsprop {
            rho,
            one_minus_rho: (1.0 - python_float(rho)) as f32,
            momentum,
            epsilon,
            v: Slot::zeros("v", variable_sizes),
            average_gradient: centered.then(|| Slot::zeros("average_gradient", variable_sizes)),
            momentum_buffer: (momentum > 0.0).then(|| Slot::zeros("momentum", variable_sizes)),
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
        let (rho, one_minus_rho, momentum, epsilon) =
            (self.rho, self.one_minus_rho, self.momentum, self.epsilon);
        let v = &mut self.v.buffers[index][range.clone()];
        // Empty slices stand in for the slots this configuration does not have; `get_mut`
        // below then yields None for every element.
        let average_gradient = match &mut self.average_gradient {
            Some(slot) => &mut slot.buffers[index][range.clone()],
            None => &mut [],
        };
        let momentum_buffer = match &mut self.momentum_buffer {
            Some(slot) => &mut slot.buffers[index][range],
            None => &mut [],
        };
        for (i, ((w, v), &g)) in weights
            .iter_mut()
            .zip(v.iter_mut())
            .zip(gradient)
            .enumerate()
        {
            *v = rho * *v + one_minus_rho * (g * g);
            let denominator = match average_gradient.get_mut(i) {
                Some(mean) => {
                    *mean = rho * *mean + one_minus_rho * g;
                    *v - *mean * *mean + epsilon
                }
                None => *v + epsilon,
            };
            let increment = (learning_rate * g) / denominator.sqrt();
            match momentum_buffer.get_mut(i) {
                Some(buffer) => {
                    *buffer = momentum * *buffer + increment;
                    *w -= *buffer;
                }
                None => *w -= increment,
            }
        }
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        [&self.v]
            .into_iter()
            .chain(self.average_gradient.as_ref())
            .chain(self.momentum_buffer.as_ref())
            .collect()
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        [&mut self.v]
            .into_iter()
            .chain(self.average_gradient.as_mut())
            .chain(self.momentum_buffer.as_mut())
            .collect()
    }
}
