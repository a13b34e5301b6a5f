//! Adam and AMSGrad as Keras 3 computes them (K3 `optimizers/adam.py` `update_step`;
//! `../../NUMERICS.md` §1.2). AdamW is this rule with decoupled weight decay, which the
//! [`super::Optimizer`] pipeline applies before the step (§1.3).
//!
//! ```text
//! t   = iterations + 1                               (as f32)
//! α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)             (β^t in f32)
//! m   ← m + (g − m)·(1 − β1)
//! v   ← v + (g² − v)·(1 − β2)
//! amsgrad: v_max ← max(v_max, v), used in place of v
//! w   ← w − (m·α_t) / (sqrt(v) + ε)                  ← ε on the *uncorrected* sqrt(v)
//! ```
//! `1 − β1` and `1 − β2` are Python-float arithmetic in Keras (float64, then rounded), unlike
//! Nadam's, which are float32; see [`super::python_float`].

use super::watch::{Elementwise, StepVisitor};
use super::{Slot, python_float};

/// Adam state: first and second moments per variable, and `v_max` for AMSGrad.
#[derive(Debug, Clone)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    /// `1 − β1` as Keras computes it: in float64 from the Python literal, rounded to f32.
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    /// `β1^t` and `β2^t` of the apply in progress.
    beta_1_power: f32,
    beta_2_power: f32,
    m: Slot,
    v: Slot,
    v_max: Option<Slot>,
}

impl Adam {
    pub fn new(
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
        variable_sizes: &[usize],
    ) -> Adam {
        Adam {
            beta_1,
            beta_2,
            one_minus_beta_1: (1.0 - python_float(beta_1)) as f32,
            one_minus_beta_2: (1.0 - python_float(beta_2)) as f32,
            epsilon,
            beta_1_power: beta_1,
            beta_2_power: beta_2,
            m: Slot::zeros("m", variable_sizes),
            v: Slot::zeros("v", variable_sizes),
            v_max: amsgrad.then(|| Slot::zeros("v_max", variable_sizes)),
        }
    }

    /// Fixes `β1^t`, `β2^t` for the apply with `iterations` completed before it.
    pub fn begin_step(&mut self, iterations: u64) {
        let local_step = (iterations + 1) as f32;
        self.beta_1_power = libm::powf(self.beta_1, local_step);
        self.beta_2_power = libm::powf(self.beta_2, local_step);
    }

    /// Hands `visitor` this apply's step on variable `index` and its slots: `m` and `v`, and
    /// `v_max` with AMSGrad.
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> V::Output {
        let step = AdamStep {
            one_minus_beta_1: self.one_minus_beta_1,
            one_minus_beta_2: self.one_minus_beta_2,
            alpha: self.alpha(learning_rate),
            epsilon: self.epsilon,
        };
        let m = self.m.buffers[index].as_mut_slice();
        let v = self.v.buffers[index].as_mut_slice();
        match &mut self.v_max {
            Some(v_max) => visitor.visit(AmsgradStep(step), [m, v, &mut v_max.buffers[index]]),
            None => visitor.visit(step, [m, v]),
        }
    }

    /// `α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)`.
    fn alpha(&self, learning_rate: f32) -> f32 {
        learning_rate * (1.0 - self.beta_2_power).sqrt() / (1.0 - self.beta_1_power)
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        [&self.m, &self.v]
            .into_iter()
            .chain(self.v_max.as_ref())
            .collect()
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        [&mut self.m, &mut self.v]
            .into_iter()
            .chain(self.v_max.as_mut())
            .collect()
    }
}

/// Adam's step on one vector, the operations of the formulas above in their order.
#[derive(Clone, Copy)]
struct AdamStep {
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    alpha: f32,
    epsilon: f32,
}

impl Elementwise<2> for AdamStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [m, v]: &mut [S::f32s; 2],
    ) -> S::f32s {
        self.apply(simd, w, g, [m, v], |v| v)
    }
}

impl AdamStep {
    /// The moments, then `w − (m·α_t) / (sqrt(s) + ε)` with `s = second(v)` of the new `v`:
    /// `v` itself for Adam, the running maximum for AMSGrad.
    #[inline(always)]
    fn apply<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [m, v]: [&mut S::f32s; 2],
        second: impl FnOnce(S::f32s) -> S::f32s,
    ) -> S::f32s {
        let splat = |x: f32| simd.splat_f32s(x);
        moments(
            simd,
            g,
            [&mut *m, &mut *v],
            [self.one_minus_beta_1, self.one_minus_beta_2],
        );
        let numerator = simd.mul_f32s(*m, splat(self.alpha));
        let denominator = simd.add_f32s(simd.sqrt_f32s(second(*v)), splat(self.epsilon));
        simd.sub_f32s(w, simd.div_f32s(numerator, denominator))
    }
}

/// AMSGrad's step on one vector: Adam's, with `sqrt(v_max)` in place of `sqrt(v)` after
/// `v_max ← max(v_max, v)`. The maximum is written as a comparison and a choice, `v` where
/// `v_max < v` and `v_max` elsewhere, so that it is the same on every instruction set (a NaN
/// `v` leaves `v_max` as it was, as `f32::max` would).
#[derive(Clone, Copy)]
struct AmsgradStep(AdamStep);

impl Elementwise<3> for AmsgradStep {
    #[inline(always)]
    fn step<S: pulp::Simd>(
        self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        [m, v, v_max]: &mut [S::f32s; 3],
    ) -> S::f32s {
        let AmsgradStep(rule) = self;
        rule.apply(simd, w, g, [m, v], |v| {
            *v_max = simd.select_f32s(simd.less_than_f32s(*v_max, v), v, *v_max);
            *v_max
        })
    }
}

/// Adam's and Nadam's moment updates on one vector: `m ← m + (g − m)·(1 − β1)`,
/// `v ← v + (g² − v)·(1 − β2)`.
#[inline(always)]
pub(super) fn moments<S: pulp::Simd>(
    simd: S,
    g: S::f32s,
    [m, v]: [&mut S::f32s; 2],
    [one_minus_beta_1, one_minus_beta_2]: [f32; 2],
) {
    let (b1, b2) = (
        simd.splat_f32s(one_minus_beta_1),
        simd.splat_f32s(one_minus_beta_2),
    );
    *m = simd.add_f32s(*m, simd.mul_f32s(simd.sub_f32s(g, *m), b1));
    *v = simd.add_f32s(
        *v,
        simd.mul_f32s(simd.sub_f32s(simd.mul_f32s(g, g), *v), b2),
    );
}
