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

use super::watch::{Elementwise, StepVisitor};
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

    /// Hands `visitor` this apply's step on variable `index` and its slots: `v`, then ḡ
    /// when centered, then the momentum buffer when momentum is on.
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> V::Output {
        let step = RmspropStep {
            rho: self.rho,
            one_minus_rho: self.one_minus_rho,
            momentum: self.momentum,
            epsilon: self.epsilon,
            learning_rate,
            centered: self.average_gradient.is_some(),
        };
        let v = self.v.buffers[index].as_mut_slice();
        let average = self.average_gradient.as_mut();
        let average = average.map(|slot| slot.buffers[index].as_mut_slice());
        let buffer = self.momentum_buffer.as_mut();
        let buffer = buffer.map(|slot| slot.buffers[index].as_mut_slice());
        match (average, buffer) {
            (None, None) => visitor.visit(step, [v]),
            (Some(other), None) | (None, Some(other)) => visitor.visit(step, [v, other]),
            (Some(average), Some(buffer)) => visitor.visit(step, [v, average, buffer]),
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

/// RMSprop's step on one vector, the operations of the formulas above in their order.
#[derive(Clone, Copy)]
struct RmspropStep {
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
    learning_rate: f32,
    /// Whether the second of two slots is ḡ (else it is the momentum buffer).
    centered: bool,
}

impl RmspropStep {
    #[inline(always)]
    fn apply<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        v: &mut S::f32s,
        average: Option<&mut S::f32s>,
        buffer: Option<&mut S::f32s>,
    ) -> S::f32s {
        let splat = |x: f32| simd.splat_f32s(x);
        let (rho, one_minus_rho) = (splat(self.rho), splat(self.one_minus_rho));
        *v = simd.add_f32s(
            simd.mul_f32s(rho, *v),
            simd.mul_f32s(one_minus_rho, simd.mul_f32s(g, g)),
        );
        let denominator = match average {
            Some(average) => {
                *average = simd.add_f32s(
                    simd.mul_f32s(rho, *average),
                    simd.mul_f32s(one_minus_rho, g),
                );
                let spread = simd.sub_f32s(*v, simd.mul_f32s(*average, *average));
                simd.add_f32s(spread, splat(self.epsilon))
            }
            None => simd.add_f32s(*v, splat(self.epsilon)),
        };
        let increment = simd.div_f32s(
            simd.mul_f32s(splat(self.learning_rate), g),
            simd.sqrt_f32s(denominator),
        );
        match buffer {
            Some(buffer) => {
                *buffer = simd.add_f32s(simd.mul_f32s(splat(self.momentum), *buffer), increment);
                simd.sub_f32s(w, *buffer)
            }
            None => simd.sub_f32s(w, increment),
        }
    }
}

impl Elementwise<1> for RmspropStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [v]: &mut [S::f32s; 1],
    ) -> S::f32s {
        self.apply(simd, w, g, v, None, None)
    }
}

impl Elementwise<2> for RmspropStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [v, other]: &mut [S::f32s; 2],
    ) -> S::f32s {
        if self.centered {
            self.apply(simd, w, g, v, Some(other), None)
        } else {
            self.apply(simd, w, g, v, None, Some(other))
        }
    }
}

impl Elementwise<3> for RmspropStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [v, average, buffer]: &mut [S::f32s; 3],
    ) -> S::f32s {
        self.apply(simd, w, g, v, Some(average), Some(buffer))
    }
}
