//! Gradient clipping as Keras 3 does it (K3 `optimizers/base_optimizer.py` `_clip_gradients`,
//! `_clip_by_norm`, `clip_by_global_norm`, `global_norm`; `../../NUMERICS.md` §1.7).
//!
//! | option | formula |
//! |---|---|
//! | `clipnorm = c` | per variable: `n = ‖g‖₂`; `g ← (g·c) / max(n, c)` (n = 0 leaves g unchanged) |
//! | `global_clipnorm = c` | `N = sqrt(Σ_vars ‖g‖²)`; `s = c·min(1/N, 1/c) + (N − N)`; `g ← g·s` |
//! | `clipvalue = c` | `g ← clip(g, −c, c)` elementwise |
//!
//! The `+ (N − N)` makes the global scale NaN when `N` is infinite or NaN, so every gradient
//! turns NaN rather than silently zero. No ε anywhere (PyTorch adds 1e-6 to the norm).

/// `Σ g²` of one tensor: Keras's `ops.sum(ops.square(g))`. Accumulated in f64 and rounded
/// once: the backend's reduction order cannot be reproduced, and the exactly rounded sum is
/// what its tree reduction approximates. Sum these over all variables for
/// [`super::Optimizer::begin_step`].
pub fn squared_sum(values: &[f32]) -> f32 {
    values
        .iter()
        .map(|&g| f64::from(g) * f64::from(g))
        .sum::<f64>() as f32
}

/// Per-variable clipping to norm `clip_norm` (> 0), in place.
pub fn clip_by_norm(gradient: &mut [f32], clip_norm: f32) {
    let l2sum = squared_sum(gradient);
    // Keras's two-tap `where`: sqrt only of a positive sum; a zero (or NaN) sum passes through.
    let l2norm = if l2sum > 0.0 { l2sum.sqrt() } else { l2sum };
    // The backends' `maximum` propagates NaN, so a NaN norm poisons the whole variable.
    let denominator = if l2norm.is_nan() {
        l2norm
    } else {
        l2norm.max(clip_norm)
    };
    for g in gradient.iter_mut() {
        *g = (*g * clip_norm) / denominator;
    }
}

/// The global-norm factor `c·min(1/N, 1/c) + (N − N)` for `N = sqrt(global_squared_sum)`.
/// `inverse_clip_norm` is `1/c` computed as Keras does, in float64 then rounded.
pub fn global_norm_scale(global_squared_sum: f32, clip_norm: f32, inverse_clip_norm: f32) -> f32 {
    let norm = global_squared_sum.sqrt();
    let scale_for_finite = clip_norm * (1.0 / norm).min(inverse_clip_norm);
    // Keras's own trick: zero for a finite norm, NaN for an infinite or NaN one.
    #[allow(clippy::eq_op)]
    let poison = norm - norm;
    scale_for_finite + poison
}

/// `g ← g·scale`, in place.
pub fn scale(gradient: &mut [f32], scale: f32) {
    for g in gradient.iter_mut() {
        *g *= scale;
    }
}

/// Elementwise clipping into `[−clip_value, clip_value]` (`clip_value` > 0), in place. NaN
/// entries stay NaN, as `ops.clip` leaves them.
pub fn clip_by_value(gradient: &mut [f32], clip_value: f32) {
    for g in gradient.iter_mut() {
        if !g.is_nan() {
            *g = g.max(-clip_value).min(clip_value);
        }
    }
}
