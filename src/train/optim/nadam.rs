//! Nadam as Keras 3 computes it (K3 `optimizers/nadam.py`; `../../NUMERICS.md` §1.6).
//!
//! A scalar `U` (Keras's `_u_product`) starts at 1. Once per apply, before any variable:
//! `U ← (U·β1)·(1 − 0.5·0.96^t)`. Then per variable, all in float32:
//! ```text
//! u_t  = β1·(1 − 0.5·0.96^t) ;  u_t1 = β1·(1 − 0.5·0.96^(t+1)) ;  U_t1 = U·u_t1
//! m ← m + (g − m)·(1 − β1) ;  v ← v + (g² − v)·(1 − β2)       (1 − β in float32 here)
//! m̂ = (u_t1·m)/(1 − U_t1) + ((1 − u_t)·g)/(1 − U)
//! v̂ = v/(1 − β2^t)
//! w ← w − (m̂·lr)/(sqrt(v̂) + ε)                        ← ε on the bias-corrected v̂
//! ```
//! Keras's momentum schedule uses `0.96^t`; PyTorch's NAdam uses `0.96^(0.004·t)`.

use super::Slot;
use super::adam::moments;
use super::watch::{Elementwise, StepVisitor};

/// Nadam state: moments per variable and the running product `U`.
#[derive(Debug, Clone)]
pub struct Nadam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    u_product: f32,
    /// Per-apply scalars fixed in `begin_step`.
    u_t: f32,
    u_t1: f32,
    beta_2_power: f32,
    m: Slot,
    v: Slot,
}

/// The momentum-schedule decay, `ops.cast(0.96, dtype)`.
const DECAY: f32 = 0.96;

impl Nadam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, variable_sizes: &[usize]) -> Nadam {
        Nadam {
            beta_1,
            beta_2,
            epsilon,
            u_product: 1.0,
            u_t: 0.0,
            u_t1: 0.0,
            beta_2_power: 1.0,
            m: Slot::zeros("m", variable_sizes),
            v: Slot::zeros("v", variable_sizes),
        }
    }

    /// The once-per-apply part (K3 `nadam.py` `_backend_update_step`), for the apply with
    /// `iterations` completed before it: advances `U` and fixes `u_t`, `u_t1`, `β2^t`.
    pub fn begin_step(&mut self, iterations: u64) {
        let local_step = (iterations + 1) as f32;
        let next_step = (iterations + 2) as f32;
        self.u_product = self.u_product * self.beta_1 * (1.0 - 0.5 * libm::powf(DECAY, local_step));
        self.u_t = self.beta_1 * (1.0 - 0.5 * libm::powf(DECAY, local_step));
        self.u_t1 = self.beta_1 * (1.0 - 0.5 * libm::powf(DECAY, next_step));
        self.beta_2_power = libm::powf(self.beta_2, local_step);
    }

    /// Hands `visitor` this apply's step on variable `index` and its slots `m` and `v`.
    pub(super) fn with_step<V: StepVisitor>(
        &mut self,
        index: usize,
        learning_rate: f32,
        visitor: V,
    ) -> V::Output {
        let step = NadamStep {
            one_minus_beta_1: 1.0 - self.beta_1,
            one_minus_beta_2: 1.0 - self.beta_2,
            u_t1: self.u_t1,
            one_minus_u_product_t1: 1.0 - self.u_product * self.u_t1,
            one_minus_u_t: 1.0 - self.u_t,
            one_minus_u_product: 1.0 - self.u_product,
            one_minus_beta_2_power: 1.0 - self.beta_2_power,
            learning_rate,
            epsilon: self.epsilon,
        };
        let m = self.m.buffers[index].as_mut_slice();
        let v = self.v.buffers[index].as_mut_slice();
        visitor.visit(step, [m, v])
    }

    /// Keras's `_u_product` after the latest apply (1 before the first).
    pub fn u_product(&self) -> f32 {
        self.u_product
    }

    pub(super) fn set_u_product(&mut self, u_product: f32) {
        self.u_product = u_product;
    }

    pub(super) fn slots(&self) -> Vec<&Slot> {
        vec![&self.m, &self.v]
    }

    pub(super) fn slots_mut(&mut self) -> Vec<&mut Slot> {
        vec![&mut self.m, &mut self.v]
    }
}

/// Nadam's step on one vector, the operations of the formulas above in their order, with the
/// per-apply scalars (`1 − U_t1`, `1 − u_t`, `1 − U`, `1 − β2^t`) computed once in float32.
#[derive(Clone, Copy)]
struct NadamStep {
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    u_t1: f32,
    one_minus_u_product_t1: f32,
    one_minus_u_t: f32,
    one_minus_u_product: f32,
    one_minus_beta_2_power: f32,
    learning_rate: f32,
    epsilon: f32,
}

impl Elementwise<2> for NadamStep {
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
        let momentum = simd.div_f32s(
            simd.mul_f32s(splat(self.u_t1), *m),
            splat(self.one_minus_u_product_t1),
        );
        let current = simd.div_f32s(
            simd.mul_f32s(splat(self.one_minus_u_t), g),
            splat(self.one_minus_u_product),
        );
        let m_hat = simd.add_f32s(momentum, current);
        let v_hat = simd.div_f32s(*v, splat(self.one_minus_beta_2_power));
        let numerator = simd.mul_f32s(m_hat, splat(self.learning_rate));
        let denominator = simd.add_f32s(simd.sqrt_f32s(v_hat), splat(self.epsilon));
        simd.sub_f32s(w, simd.div_f32s(numerator, denominator))
    }
}
