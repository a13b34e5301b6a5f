//! Stochastic gradient descent with optional momentum and Nesterov momentum, as Keras 3
//! computes it (K3 `optimizers/sgd.py` `update_step`; `../../NUMERICS.md` §1.1).
//!
//! ```text
//! momentum = 0:  w ← w − g·lr
//! momentum μ:    v ← v·μ − g·lr ;  w ← w + v
//! nesterov:      v ← v·μ − g·lr ;  w ← w + (v·μ − g·lr)     (with the new v)
//! ```
//! The learning rate sits *inside* the velocity, so after a learning-rate change the velocity
//! still carries the old rate's scale (PyTorch keeps it outside). Keras creates the velocity
//! only when `momentum != 0`.

use super::Slot;
use super::watch::{Elementwise, StepVisitor};

/// SGD state: the velocity per variable when momentum is on.
#[derive(Debug, Clone)]
pub struct Sgd {
    momentum: f32,
    nesterov: bool,
    velocity: Option<Slot>,
}

impl Sgd {
    pub fn new(momentum: f32, nesterov: bool, variable_sizes: &[usize]) -> Sgd {
        Sgd {
            momentum,
            nesterov,
            velocity: (momentum != 0.0).then(|| Slot::zeros("velocity", variable_sizes)),
        }
    }

    /// Hands `visitor` this apply's step on variable `index` and its velocity, when
    /// momentum is on.
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> V::Output {
        let step = SgdStep {
            momentum: self.momentum,
            learning_rate,
            nesterov: self.nesterov,
        };
        match self.velocity.as_mut() {
            None => visitor.visit(step, []),
            Some(slot) => visitor.visit(step, [slot.buffers[index].as_mut_slice()]),
        }
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        self.velocity.iter().collect()
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        self.velocity.iter_mut().collect()
    }
}

/// SGD's step on one vector, the operations of the formulas above in their order:
/// without a slot plain descent, with one the velocity (and Nesterov's look-ahead).
#[derive(Clone, Copy)]
struct SgdStep {
    momentum: f32,
    learning_rate: f32,
    nesterov: bool,
}

impl Elementwise<0> for SgdStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(self, simd: S, w: S::f32s, g: S::f32s, _: &mut [S::f32s; 0]) -> S::f32s {
        simd.sub_f32s(w, simd.mul_f32s(g, simd.splat_f32s(self.learning_rate)))
    }
}

impl Elementwise<1> for SgdStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [v]: &mut [S::f32s; 1],
    ) -> S::f32s {
        let momentum = simd.splat_f32s(self.momentum);
        let scaled = simd.mul_f32s(g, simd.splat_f32s(self.learning_rate));
        *v = simd.sub_f32s(simd.mul_f32s(*v, momentum), scaled);
        if self.nesterov {
            simd.add_f32s(w, simd.sub_f32s(simd.mul_f32s(*v, momentum), scaled))
        } else {
            simd.add_f32s(w, *v)
        }
    }
}
