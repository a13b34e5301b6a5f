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

use std::ops::Range;

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

    /// Hands `visitor` this apply's step on variable `index` and its slots `m` and `v`;
    /// `None` with AMSGrad, whose maximum is not written as an [`Elementwise`] step (see
    /// [`Adam::update_amsgrad`]).
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> Option<V::Output> {
        if self.v_max.is_some() {
            return None;
        }
        let step = AdamStep {
            one_minus_beta_1: self.one_minus_beta_1,
            one_minus_beta_2: self.one_minus_beta_2,
            alpha: self.alpha(learning_rate),
            epsilon: self.epsilon,
        };
        let m = self.m.buffers[index].as_mut_slice();
        let v = self.v.buffers[index].as_mut_slice();
        Some(visitor.visit(step, [m, v]))
    }

    /// `α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)`.
    fn alpha(&self, learning_rate: f32) -> f32 {
        learning_rate * (1.0 - self.beta_2_power).sqrt() / (1.0 - self.beta_1_power)
    }

    /// One AMSGrad update of the values `range` of variable `index` (`weights` and
    /// `gradient` hold just those); `gradient` is already clipped.
    ///
    /// # Panics
    /// Without AMSGrad: a bug in the caller.
    pub fn update_amsgrad(
        &mut self,
        index: usize,
        range: Range<usize>,
        learning_rate: f32,
        weights: &mut [f32],
        gradient: &[f32],
    ) {
        let alpha = self.alpha(learning_rate);
        let (one_minus_beta_1, one_minus_beta_2, epsilon) =
            (self.one_minus_beta_1, self.one_minus_beta_2, self.epsilon);
        // Equal-length reslices let the compiler drop the bounds checks and vectorize the
        // loop; every element still sees Keras's operations in Keras's order.
        let n = weights.len();
        let w = &mut weights[..n];
        let g = &gradient[..n];
        let m = &mut self.m.buffers[index][range.clone()][..n];
        let v = &mut self.v.buffers[index][range.clone()][..n];
        let v_max =
            &mut self.v_max.as_mut().expect("AMSGrad's v_max slot").buffers[index][range][..n];
        // Sixteen lanes wide with AVX-512, eight with AVX2 (`crate::train::simd`); same results.
        crate::train::simd::dispatch(
            #[inline(always)]
            || {
                for i in 0..n {
                    let gi = g[i];
                    let mi = m[i] + (gi - m[i]) * one_minus_beta_1;
                    let vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2;
                    let top = v_max[i].max(vi);
                    m[i] = mi;
                    v[i] = vi;
                    v_max[i] = top;
                    w[i] -= (mi * alpha) / (top.sqrt() + epsilon);
                }
            },
        );
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
        let splat = |x: f32| simd.splat_f32s(x);
        moments(
            simd,
            g,
            [m, v],
            [self.one_minus_beta_1, self.one_minus_beta_2],
        );
        let numerator = simd.mul_f32s(*m, splat(self.alpha));
        let denominator = simd.add_f32s(simd.sqrt_f32s(*v), splat(self.epsilon));
        simd.sub_f32s(w, simd.div_f32s(numerator, denominator))
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
