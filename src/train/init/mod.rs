//! Weight initializers under their Keras names, with Keras 3's formulas and defaults
//! (K3 `initializers/random_initializers.py` for the random ones,
//! K3 `initializers/constant_initializers.py` for `zeros`, `ones` and `constant`).
//!
//! [`Initializer::fill`] writes a tensor of any shape in row-major order from the caller's
//! ChaCha8 stream (the engine passes `rng::stream(seed, Purpose::Init)`), so the same seed and
//! the same sequence of `fill` calls give the same bits. Keras's backends use other generators,
//! so only the *distributions* match Keras, never the values. The scaled initializers live in
//! [`variance_scaling`], the orthogonal one in [`orthogonal`], and RBM pre-training in [`dbn`].

pub mod dbn;
pub mod orthogonal;
pub mod rbm;
pub mod variance_scaling;

use rand::RngExt;
use rand::distr::Uniform;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use variance_scaling::VarianceScaling;

/// A kernel or bias initializer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    /// `U[−L, L)`, `L = sqrt(6/(fan_in+fan_out))`: VarianceScaling(1, fan_avg, uniform).
    /// The Dense layer's default kernel initializer.
    GlorotUniform,
    /// Normal truncated at 2σ with std `sqrt(2/(fan_in+fan_out))`: VarianceScaling(1, fan_avg,
    /// truncated_normal).
    GlorotNormal,
    /// `U[−L, L)`, `L = sqrt(6/fan_in)`: VarianceScaling(2, fan_in, uniform).
    HeUniform,
    /// Normal truncated at 2σ with std `sqrt(2/fan_in)`: VarianceScaling(2, fan_in,
    /// truncated_normal).
    HeNormal,
    /// `U[−L, L)`, `L = sqrt(3/fan_in)`: VarianceScaling(1, fan_in, uniform).
    LecunUniform,
    /// Normal truncated at 2σ with std `sqrt(1/fan_in)`: VarianceScaling(1, fan_in,
    /// truncated_normal).
    LecunNormal,
    /// A (semi-)orthogonal matrix times `gain` (Keras default gain 1.0); rank ≥ 2 only.
    Orthogonal { gain: f32 },
    /// `mean + stddev·N(0, 1)`, untruncated (Keras defaults mean 0.0, stddev 0.05).
    RandomNormal { mean: f32, stddev: f32 },
    /// `U[minval, maxval)` (Keras defaults −0.05, 0.05).
    RandomUniform { minval: f32, maxval: f32 },
    /// All 0: the Dense layer's default bias initializer.
    Zeros,
    /// All 1.
    Ones,
    /// Every value `value` (Keras default 0.0).
    Constant { value: f32 },
}

/// Why a tensor could not be initialized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InitError {
    #[error("{len} values cannot hold a tensor of shape {shape:?}")]
    LengthMismatch { len: usize, shape: Vec<usize> },
    #[error("the orthogonal initializer needs a tensor of rank 2 or more, got shape {shape:?}")]
    OrthogonalNeedsMatrix { shape: Vec<usize> },
    #[error("random_uniform needs finite minval ≤ maxval, got [{minval}, {maxval})")]
    InvalidUniformRange { minval: f32, maxval: f32 },
    #[error("{name} needs a finite, non-negative stddev, got {stddev}")]
    InvalidStddev { name: &'static str, stddev: f32 },
}

/// The fan-in and fan-out of a weight shape (K3 `initializers/random_initializers.py`
/// `compute_fans`): rank 0 → (1, 1); rank 1 `(n)` → (n, n); rank 2 `(in, out)` → (in, out);
/// rank ≥ 3 → `(shape[-2]·rf, shape[-1]·rf)` with `rf = Π shape[..-2]`. A Dense kernel has shape
/// `(input_dim, units)`, so `fan_in = input_dim` and `fan_out = units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fans {
    pub fan_in: usize,
    pub fan_out: usize,
}

impl Fans {
    pub fn of_shape(shape: &[usize]) -> Fans {
        match shape {
            [] => Fans {
                fan_in: 1,
                fan_out: 1,
            },
            [n] => Fans {
                fan_in: *n,
                fan_out: *n,
            },
            [.., inputs, outputs] => {
                let receptive_field: usize = shape[..shape.len() - 2].iter().product();
                Fans {
                    fan_in: inputs * receptive_field,
                    fan_out: outputs * receptive_field,
                }
            }
        }
    }
}

impl Initializer {
    /// Keras's `RandomNormal()`: mean 0.0, stddev 0.05.
    pub const RANDOM_NORMAL: Initializer = Initializer::RandomNormal {
        mean: 0.0,
        stddev: 0.05,
    };
    /// Keras's `RandomUniform()`: minval −0.05, maxval 0.05.
    pub const RANDOM_UNIFORM: Initializer = Initializer::RandomUniform {
        minval: -0.05,
        maxval: 0.05,
    };
    /// Keras's `Orthogonal()`: gain 1.0.
    pub const ORTHOGONAL: Initializer = Initializer::Orthogonal { gain: 1.0 };
    /// Keras's `Constant()`: value 0.0.
    pub const CONSTANT: Initializer = Initializer::Constant { value: 0.0 };

    /// Fills `values`, the row-major contents of a tensor of `shape` (a Dense kernel is
    /// `&[input_dim, units]`, a bias `&[units]`), drawing from `rng`.
    ///
    /// Draws happen in row-major order, one stream position per value (more for rejected
    /// truncated-normal draws), so the result depends only on the rng state, the shape and the
    /// initializer. Deterministic initializers draw nothing.
    pub fn fill(
        &self,
        values: &mut [f32],
        shape: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> Result<(), InitError> {
        let expected_len: usize = shape.iter().product();
        if values.len() != expected_len {
            return Err(InitError::LengthMismatch {
                len: values.len(),
                shape: shape.to_vec(),
            });
        }
        let fans = Fans::of_shape(shape);
        match *self {
            Initializer::GlorotUniform => VarianceScaling::GLOROT_UNIFORM.fill(values, fans, rng),
            Initializer::GlorotNormal => VarianceScaling::GLOROT_NORMAL.fill(values, fans, rng),
            Initializer::HeUniform => VarianceScaling::HE_UNIFORM.fill(values, fans, rng),
            Initializer::HeNormal => VarianceScaling::HE_NORMAL.fill(values, fans, rng),
            Initializer::LecunUniform => VarianceScaling::LECUN_UNIFORM.fill(values, fans, rng),
            Initializer::LecunNormal => VarianceScaling::LECUN_NORMAL.fill(values, fans, rng),
            Initializer::Orthogonal { gain } => orthogonal::fill(values, shape, gain, rng)?,
            Initializer::RandomNormal { mean, stddev } => {
                if !(stddev.is_finite() && stddev >= 0.0 && mean.is_finite()) {
                    return Err(InitError::InvalidStddev {
                        name: "random_normal",
                        stddev,
                    });
                }
                for value in values.iter_mut() {
                    let z: f32 = StandardNormal.sample(rng);
                    *value = mean + stddev * z;
                }
            }
            Initializer::RandomUniform { minval, maxval } => {
                fill_uniform(values, minval, maxval, rng)?;
            }
            Initializer::Zeros => values.fill(0.0),
            Initializer::Ones => values.fill(1.0),
            Initializer::Constant { value } => values.fill(value),
        }
        Ok(())
    }

    /// A freshly initialized row-major tensor of `shape`; see [`Initializer::fill`].
    pub fn tensor(&self, shape: &[usize], rng: &mut ChaCha8Rng) -> Result<Vec<f32>, InitError> {
        let mut values = vec![0.0; shape.iter().product()];
        self.fill(&mut values, shape, rng)?;
        Ok(values)
    }
}

/// `U[minval, maxval)` per value; `minval == maxval` gives that constant, as TF's
/// `random.uniform` does. rand's `Uniform` keeps the upper bound exclusive even where
/// `minval + (maxval − minval)·u` would round up to `maxval`.
pub(crate) fn fill_uniform(
    values: &mut [f32],
    minval: f32,
    maxval: f32,
    rng: &mut ChaCha8Rng,
) -> Result<(), InitError> {
    if !(minval.is_finite() && maxval.is_finite() && minval <= maxval) {
        return Err(InitError::InvalidUniformRange { minval, maxval });
    }
    if minval == maxval {
        values.fill(minval);
        return Ok(());
    }
    let uniform = Uniform::new(minval, maxval)
        .map_err(|_| InitError::InvalidUniformRange { minval, maxval })?;
    for value in values.iter_mut() {
        *value = rng.sample(uniform);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::variance_scaling::FanMode;
    use super::*;
    use crate::train::rng::{Purpose, stream};

    #[test]
    fn fans_follow_keras_compute_fans_for_every_rank() {
        let cases: &[(&[usize], (usize, usize))] = &[
            (&[], (1, 1)),
            (&[7], (7, 7)),
            (&[784, 128], (784, 128)),
            (&[3, 3, 16, 32], (16 * 9, 32 * 9)),
            (&[0, 5], (0, 5)),
        ];
        for (shape, (fan_in, fan_out)) in cases {
            assert_eq!(
                Fans::of_shape(shape),
                Fans {
                    fan_in: *fan_in,
                    fan_out: *fan_out
                },
                "shape {shape:?}"
            );
        }
    }

    #[test]
    fn deterministic_initializers_write_their_constant() {
        let mut rng = stream(1, Purpose::Init);
        let cases = [
            (Initializer::Zeros, 0.0),
            (Initializer::Ones, 1.0),
            (Initializer::Constant { value: -2.5 }, -2.5),
            (Initializer::CONSTANT, 0.0),
        ];
        for (initializer, expected) in cases {
            let values = initializer.tensor(&[3, 4], &mut rng).unwrap();
            assert!(values.iter().all(|&v| v == expected), "{initializer:?}");
        }
    }

    #[test]
    fn a_length_that_does_not_match_the_shape_is_an_error() {
        let mut rng = stream(1, Purpose::Init);
        let mut values = vec![0.0; 5];
        assert_eq!(
            Initializer::GlorotUniform.fill(&mut values, &[2, 3], &mut rng),
            Err(InitError::LengthMismatch {
                len: 5,
                shape: vec![2, 3]
            })
        );
    }

    #[test]
    fn the_same_seed_gives_identical_bits_for_every_initializer() {
        let all = [
            Initializer::GlorotUniform,
            Initializer::GlorotNormal,
            Initializer::HeUniform,
            Initializer::HeNormal,
            Initializer::LecunUniform,
            Initializer::LecunNormal,
            Initializer::ORTHOGONAL,
            Initializer::RANDOM_NORMAL,
            Initializer::RANDOM_UNIFORM,
        ];
        for initializer in all {
            let draw = |seed| {
                let mut rng = stream(seed, Purpose::Init);
                let values = initializer.tensor(&[13, 7], &mut rng).unwrap();
                values.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
            };
            assert_eq!(draw(42), draw(42), "{initializer:?}");
            assert_ne!(draw(42), draw(43), "{initializer:?}");
        }
    }

    /// Sample moments of `values`, accumulated in f64.
    fn mean_and_std(values: &[f32]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, variance.sqrt())
    }

    // Tolerances: with n = 200 000 draws of a distribution with std σ, the sample mean has
    // standard error σ/√n ≈ 0.0022σ and the sample std has standard error ≈ σ/√(2n) ≈ 0.0016σ
    // (for a uniform, σ·√(0.8/(4n)) ≈ 0.001σ). A 1% band is over 4.5 standard errors, so a correct
    // implementation fails with probability well under 1e-5, while a wrong constant (a missing
    // 0.8796 correction is a 13.7% error, a missing √2 a 41% one) fails certainly.
    const SAMPLES: usize = 200_000;

    #[test]
    fn plain_random_normal_and_uniform_match_their_parameters() {
        let mut rng = stream(5, Purpose::Init);
        let normal = Initializer::RandomNormal {
            mean: 0.5,
            stddev: 2.0,
        }
        .tensor(&[SAMPLES], &mut rng)
        .unwrap();
        let (mean, std) = mean_and_std(&normal);
        assert!((mean - 0.5).abs() < 0.01 * 2.0, "mean {mean}");
        assert!((std / 2.0 - 1.0).abs() < 0.01, "std {std}");

        let uniform = Initializer::RandomUniform {
            minval: -1.0,
            maxval: 3.0,
        }
        .tensor(&[SAMPLES], &mut rng)
        .unwrap();
        let (mean, std) = mean_and_std(&uniform);
        let expected_std = 4.0 / 12f64.sqrt();
        assert!((mean - 1.0).abs() < 0.01 * expected_std, "mean {mean}");
        assert!((std / expected_std - 1.0).abs() < 0.01, "std {std}");
        assert!(uniform.iter().all(|&v| (-1.0..3.0).contains(&v)));
    }

    #[test]
    fn keras_defaults_for_random_normal_and_uniform_are_0_05() {
        // K3 random_initializers.py: RandomNormal(mean=0.0, stddev=0.05),
        // RandomUniform(minval=-0.05, maxval=0.05); orthogonal gain 1.0.
        // K3 constant_initializers.py: Constant(value=0.0).
        assert_eq!(
            Initializer::RANDOM_NORMAL,
            Initializer::RandomNormal {
                mean: 0.0,
                stddev: 0.05
            }
        );
        assert_eq!(
            Initializer::RANDOM_UNIFORM,
            Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05
            }
        );
        assert_eq!(
            Initializer::ORTHOGONAL,
            Initializer::Orthogonal { gain: 1.0 }
        );
    }

    #[test]
    fn an_empty_uniform_range_gives_its_bound_and_a_reversed_one_is_an_error() {
        let mut rng = stream(5, Purpose::Init);
        let same = Initializer::RandomUniform {
            minval: 0.25,
            maxval: 0.25,
        };
        assert_eq!(same.tensor(&[4], &mut rng).unwrap(), vec![0.25; 4]);
        let reversed = Initializer::RandomUniform {
            minval: 1.0,
            maxval: 0.0,
        };
        assert!(matches!(
            reversed.tensor(&[4], &mut rng),
            Err(InitError::InvalidUniformRange { .. })
        ));
        let negative_std = Initializer::RandomNormal {
            mean: 0.0,
            stddev: -1.0,
        };
        assert!(matches!(
            negative_std.tensor(&[4], &mut rng),
            Err(InitError::InvalidStddev { .. })
        ));
    }

    #[test]
    fn variance_scaling_initializers_reach_their_formula_moments() {
        // (initializer, shape, expected std, uniform limit if uniform); the formulas are the
        // docstrings of K3 initializers/random_initializers.py. Fans here: in 300, out 200.
        let (fan_in, fan_out) = (300.0f64, 200.0f64);
        let cases = [
            (
                Initializer::GlorotUniform,
                Some((6.0 / (fan_in + fan_out)).sqrt()),
                (2.0 / (fan_in + fan_out)).sqrt(),
            ),
            (
                Initializer::GlorotNormal,
                None,
                (2.0 / (fan_in + fan_out)).sqrt(),
            ),
            (
                Initializer::HeUniform,
                Some((6.0 / fan_in).sqrt()),
                (2.0 / fan_in).sqrt(),
            ),
            (Initializer::HeNormal, None, (2.0 / fan_in).sqrt()),
            (
                Initializer::LecunUniform,
                Some((3.0 / fan_in).sqrt()),
                (1.0 / fan_in).sqrt(),
            ),
            (Initializer::LecunNormal, None, (1.0 / fan_in).sqrt()),
        ];
        let mut rng = stream(11, Purpose::Init);
        for (initializer, limit, expected_std) in cases {
            // 300 × 200 = 60 000 values per draw; four draws give 240 000 samples.
            let mut values = Vec::new();
            for _ in 0..4 {
                values.extend(initializer.tensor(&[300, 200], &mut rng).unwrap());
            }
            let (mean, std) = mean_and_std(&values);
            assert!(
                mean.abs() < 0.01 * expected_std,
                "{initializer:?}: mean {mean}"
            );
            assert!(
                (std / expected_std - 1.0).abs() < 0.01,
                "{initializer:?}: std {std}, expected {expected_std}"
            );
            let bound = match limit {
                // U[−L, L): never L itself.
                Some(limit) => {
                    assert!(values.iter().all(|&v| f64::from(v) < limit));
                    limit
                }
                // Truncated at two stddev parameters, i.e. 2·std/0.8796….
                None => 2.0 * expected_std / variance_scaling::TRUNCATED_NORMAL_STD,
            };
            let largest = values
                .iter()
                .map(|v| f64::from(v.abs()))
                .fold(0.0, f64::max);
            assert!(
                largest <= bound * (1.0 + 1e-6),
                "{initializer:?}: {largest} > {bound}"
            );
            // The extremes come close to the bound: the support really reaches it.
            assert!(largest > 0.95 * bound, "{initializer:?}: {largest}");
        }
    }

    #[test]
    fn fan_mode_max_one_rule_applies_to_a_zero_fan() {
        // K3 VarianceScaling: scale /= max(1.0, fan); a (0, 4) kernel is empty, but a rank-1
        // shape (0) has fans (0, 0) and must not divide by zero.
        let scaling = VarianceScaling::HE_UNIFORM;
        let fans = Fans {
            fan_in: 0,
            fan_out: 0,
        };
        assert_eq!(scaling.variance(fans), 2.0);
        assert_eq!(
            VarianceScaling {
                scale: 1.0,
                mode: FanMode::Avg,
                distribution: variance_scaling::ScaledDistribution::Uniform
            }
            .variance(Fans {
                fan_in: 1,
                fan_out: 0
            }),
            1.0
        );
    }
}
