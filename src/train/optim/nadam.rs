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

use std::ops::Range;

use super::Slot;

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
        let (u_t, u_t1, u_product) = (self.u_t, self.u_t1, self.u_product);
        let u_product_t1 = u_product * u_t1;
        let one_minus_beta_1 = 1.0 - self.beta_1;
        let one_minus_beta_2 = 1.0 - self.beta_2;
        let one_minus_beta_2_power = 1.0 - self.beta_2_power;
        let epsilon = self.epsilon;
        let m = &mut self.m.buffers[index][range.clone()];
        let v = &mut self.v.buffers[index][range];
        for (((w, m), v), &g) in weights
            .iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(gradient)
        {
            *m += (g - *m) * one_minus_beta_1;
            *v += (g * g - *v) * one_minus_beta_2;
            let m_hat = (u_t1 * *m) / (1.0 - u_product_t1) + ((1.0 - u_t) * g) / (1.0 - u_product);
            let v_hat = *v / one_minus_beta_2_power;
            *w -= (m_hat * learning_rate) / (v_hat.sqrt() + epsilon);
        }
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
