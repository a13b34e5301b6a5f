//! VarianceScaling, the base of the Glorot, He and Lecun initializers
//! (K3 `initializers/random_initializers.py` `VarianceScaling.__call__`).
//!
//! `σ² = scale / n` with `n = max(1, fan_in)`, `max(1, fan_out)` or `max(1, (fan_in+fan_out)/2)`.
//! The uniform distribution is `U[−L, L)` with `L = sqrt(3σ²)`. The truncated normal draws
//! `z ~ N(0, 1)`, re-draws it while `|z| > 2`, and scales it by the stddev *parameter*
//! `sqrt(σ²)/0.87962566103423978`, so the resulting standard deviation is exactly `sqrt(σ²)`
//! (0.8796… is the std of a standard normal truncated to [−2, 2]).

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{Fans, fill_uniform};

/// The standard deviation of `N(0, 1)` truncated to `[−2, 2]`; Keras divides the target std by
/// it (K3 `initializers/random_initializers.py`, `VarianceScaling.__call__`).
pub const TRUNCATED_NORMAL_STD: f64 = 0.879_625_661_034_239_8;

/// Which fan divides the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    In,
    Out,
    Avg,
}

/// The distribution VarianceScaling draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaledDistribution {
    /// Keras's `"truncated_normal"` (alias `"normal"`): re-drawn outside ±2 stddev parameters.
    TruncatedNormal,
    /// `U[−L, L)`, `L = sqrt(3σ²)`.
    Uniform,
}

/// `VarianceScaling(scale, mode, distribution)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarianceScaling {
    pub scale: f64,
    pub mode: FanMode,
    pub distribution: ScaledDistribution,
}

impl VarianceScaling {
    /// `GlorotUniform`: scale 1, fan_avg, uniform.
    pub const GLOROT_UNIFORM: Self = Self::new(1.0, FanMode::Avg, ScaledDistribution::Uniform);
    /// `GlorotNormal`: scale 1, fan_avg, truncated normal.
    pub const GLOROT_NORMAL: Self =
        Self::new(1.0, FanMode::Avg, ScaledDistribution::TruncatedNormal);
    /// `HeUniform`: scale 2, fan_in, uniform.
    pub const HE_UNIFORM: Self = Self::new(2.0, FanMode::In, ScaledDistribution::Uniform);
    /// `HeNormal`: scale 2, fan_in, truncated normal.
    pub const HE_NORMAL: Self = Self::new(2.0, FanMode::In, ScaledDistribution::TruncatedNormal);
    /// `LecunUniform`: scale 1, fan_in, uniform.
    pub const LECUN_UNIFORM: Self = Self::new(1.0, FanMode::In, ScaledDistribution::Uniform);
    /// `LecunNormal`: scale 1, fan_in, truncated normal.
    pub const LECUN_NORMAL: Self = Self::new(1.0, FanMode::In, ScaledDistribution::TruncatedNormal);

    const fn new(scale: f64, mode: FanMode, distribution: ScaledDistribution) -> Self {
        Self {
            scale,
            mode,
            distribution,
        }
    }

    /// The target variance `σ² = scale / max(1, n)` for these fans.
    pub fn variance(&self, fans: Fans) -> f64 {
        let fan_in = fans.fan_in as f64;
        let fan_out = fans.fan_out as f64;
        let n = match self.mode {
            FanMode::In => fan_in,
            FanMode::Out => fan_out,
            FanMode::Avg => (fan_in + fan_out) / 2.0,
        };
        self.scale / n.max(1.0)
    }

    /// Fills `values` from `rng` for a tensor with these fans, in order.
    pub fn fill(&self, values: &mut [f32], fans: Fans, rng: &mut ChaCha8Rng) {
        let variance = self.variance(fans);
        match self.distribution {
            ScaledDistribution::Uniform => {
                let limit = (3.0 * variance).sqrt() as f32;
                // limit > 0 is finite because variance ≥ scale / fan > 0 for any usize fan.
                fill_uniform(values, -limit, limit, rng)
                    .expect("a positive finite limit is a valid uniform range");
            }
            ScaledDistribution::TruncatedNormal => {
                let stddev = (variance.sqrt() / TRUNCATED_NORMAL_STD) as f32;
                for value in values.iter_mut() {
                    *value = stddev * truncated_standard_normal(rng);
                }
            }
        }
    }
}

/// `z ~ N(0, 1)` conditioned on `|z| ≤ 2` by re-drawing, as TF's truncated normal does
/// (about 4.6% of draws are rejected).
pub fn truncated_standard_normal(rng: &mut ChaCha8Rng) -> f32 {
    loop {
        let z: f32 = StandardNormal.sample(rng);
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_truncation_constant_is_the_std_of_a_normal_cut_at_two() {
        // Var of N(0,1) truncated to [−a, a] is 1 − 2aφ(a)/(2Φ(a) − 1); at a = 2,
        // φ(2) = e^{−2}/√(2π) and 2Φ(2) − 1 = erf(√2).
        let a = 2.0f64;
        let density = (-a * a / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mass = libm::erf(a / std::f64::consts::SQRT_2);
        let std = (1.0 - 2.0 * a * density / mass).sqrt();
        assert!((std - TRUNCATED_NORMAL_STD).abs() < 1e-15, "{std}");
    }

    #[test]
    fn variances_follow_the_keras_table() {
        let fans = Fans {
            fan_in: 784,
            fan_out: 128,
        };
        let cases = [
            (VarianceScaling::GLOROT_UNIFORM, 2.0 / 912.0),
            (VarianceScaling::GLOROT_NORMAL, 2.0 / 912.0),
            (VarianceScaling::HE_UNIFORM, 2.0 / 784.0),
            (VarianceScaling::HE_NORMAL, 2.0 / 784.0),
            (VarianceScaling::LECUN_UNIFORM, 1.0 / 784.0),
            (VarianceScaling::LECUN_NORMAL, 1.0 / 784.0),
        ];
        for (scaling, expected) in cases {
            assert!(
                (scaling.variance(fans) - expected).abs() < 1e-15,
                "{scaling:?}"
            );
        }
    }
}
