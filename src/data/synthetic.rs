//! Generated datasets, drawn from the `Purpose::DataGeneration` stream of the job's seed, so
//! the same parameters and seed give the same bits.
//!
//! - **xor**: points uniform on the square `[−1, 1]²`, class 1 where the coordinates' signs
//!   differ (`x·y < 0`, the XOR of the sign bits) and 0 otherwise; then `N(0, noise²)` is added
//!   to each coordinate, so noise blurs the boundary without relabelling.
//! - **moons**: scikit-learn's `make_moons` geometry (sklearn `datasets/_samples_generator.py`):
//!   `n // 2` points `(cos t, sin t)` with `t = linspace(0, π)` are class 0, the other
//!   `n − n // 2` points `(1 − cos t, 1 − sin t − 0.5)` are class 1.
//! - **circles**: `make_circles`: `n // 2` points on the unit circle with
//!   `t = linspace(0, 2π, endpoint=False)` are class 0, the rest on the circle of radius
//!   `factor` are class 1.
//! - **spirals**: `classes` arms; the `j`-th of the `n_k` points of class `k` sits at radius
//!   `r = j / (n_k − 1)` and angle `2π·(turns·r + k / classes)`; sample `p` of the base order
//!   belongs to class `p mod classes`.
//! - **blobs** (the benchmark's W4 data): class centres with `N(0, center_std²)` coordinates,
//!   drawn first, class by class; then sample `i` has class `i mod classes` (balanced, no
//!   shuffle needed) and features `centre + N(0, cluster_std²)`, drawn row by row straight into
//!   the output matrix with no per-sample allocation.
//!
//! For xor, moons, circles and spirals the draws are: for moons, circles and spirals first a
//! Fisher–Yates permutation of the base order (as `make_moons(shuffle=True)` shuffles before
//! adding noise), then per output row two standard normals for the noise (drawn even when
//! `noise` is 0, so that changing only the noise keeps the same points); xor draws per row two
//! uniforms then two normals. Trigonometry uses `libm`, so the bits do not depend on the
//! platform's math library.

use std::f64::consts::PI;

use ndarray::Array2;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::labels::MAX_CLASSES;
use super::{Dataset, Targets};
use crate::train::rng::{self, Purpose};

/// The largest `samples × features` a generator will produce (400 MB of `f32`).
pub const MAX_CELLS: usize = 100_000_000;

/// A generated dataset and its parameters; see the module docs for each geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Generated {
    Xor {
        samples: usize,
        noise: f64,
    },
    Moons {
        samples: usize,
        noise: f64,
    },
    Circles {
        samples: usize,
        noise: f64,
        /// Inner radius relative to the outer, in `[0, 1)`.
        factor: f64,
    },
    Spirals {
        samples: usize,
        noise: f64,
        classes: usize,
        /// Full turns each arm makes from the centre to radius 1.
        turns: f64,
    },
    Blobs {
        samples: usize,
        features: usize,
        classes: usize,
        center_std: f64,
        cluster_std: f64,
    },
}

/// A generator parameter outside its allowed range.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("{parameter} must be at least {minimum}, got {value}")]
    TooSmall {
        parameter: &'static str,
        minimum: usize,
        value: usize,
    },
    #[error("{parameter} must be a finite number ≥ 0, got {value}")]
    NotNonNegative { parameter: &'static str, value: f64 },
    #[error("factor must be in [0, 1), got {value}")]
    FactorOutOfRange { value: f64 },
    #[error("classes must be at most {limit}, got {value}")]
    TooManyClasses { value: usize, limit: usize },
    #[error("samples × features = {cells} exceeds the limit of {limit}")]
    TooManyCells { cells: u128, limit: usize },
}

impl GenerateError {
    /// The spec field the error is about (`samples`, `noise`, `factor`…).
    pub fn parameter(&self) -> &'static str {
        match self {
            GenerateError::TooSmall { parameter, .. }
            | GenerateError::NotNonNegative { parameter, .. } => parameter,
            GenerateError::FactorOutOfRange { .. } => "factor",
            GenerateError::TooManyClasses { .. } => "classes",
            GenerateError::TooManyCells { .. } => "samples",
        }
    }
}

impl Generated {
    /// The names users write in `{"type": "generated", "name": …}`.
    pub const NAMES: [&'static str; 5] = ["xor", "moons", "circles", "spirals", "blobs"];

    /// 200 points, noise 0.1.
    pub fn xor_default() -> Generated {
        Generated::Xor {
            samples: 200,
            noise: 0.1,
        }
    }

    /// 200 points, noise 0.1 (sklearn's own default is 100 points without noise).
    pub fn moons_default() -> Generated {
        Generated::Moons {
            samples: 200,
            noise: 0.1,
        }
    }

    /// 200 points, noise 0.05, factor 0.5 (sklearn: 100 points, no noise, factor 0.8).
    pub fn circles_default() -> Generated {
        Generated::Circles {
            samples: 200,
            noise: 0.05,
            factor: 0.5,
        }
    }

    /// 300 points on 3 arms of one turn each, noise 0.05.
    pub fn spirals_default() -> Generated {
        Generated::Spirals {
            samples: 300,
            noise: 0.05,
            classes: 3,
            turns: 1.0,
        }
    }

    /// 600 points, 2 features, 3 classes, centre std 3, cluster std 1: a small, visible
    /// problem. The W4 benchmark's parameters are [`Generated::w4_benchmark`].
    pub fn blobs_default() -> Generated {
        Generated::Blobs {
            samples: 600,
            features: 2,
            classes: 3,
            center_std: 3.0,
            cluster_std: 1.0,
        }
    }

    /// The benchmark's W4 data (`shared/bench/README.md`): 60000 × 784, 10 classes, centre
    /// std 0.12, cluster std 1.
    pub fn w4_benchmark() -> Generated {
        Generated::Blobs {
            samples: 60_000,
            features: 784,
            classes: 10,
            center_std: 0.12,
            cluster_std: 1.0,
        }
    }

    /// The defaults of the generator called `name`, for filling in omitted spec fields.
    pub fn default_for(name: &str) -> Option<Generated> {
        match name {
            "xor" => Some(Generated::xor_default()),
            "moons" => Some(Generated::moons_default()),
            "circles" => Some(Generated::circles_default()),
            "spirals" => Some(Generated::spirals_default()),
            "blobs" => Some(Generated::blobs_default()),
            _ => None,
        }
    }

    /// The generator's name as users write it.
    pub fn name(&self) -> &'static str {
        match self {
            Generated::Xor { .. } => "xor",
            Generated::Moons { .. } => "moons",
            Generated::Circles { .. } => "circles",
            Generated::Spirals { .. } => "spirals",
            Generated::Blobs { .. } => "blobs",
        }
    }

    /// Checks every parameter; [`Generated::generate`] calls this first.
    pub fn check(&self) -> Result<(), GenerateError> {
        let (samples, features) = match *self {
            Generated::Xor { samples, noise } | Generated::Moons { samples, noise } => {
                non_negative("noise", noise)?;
                (samples, 2)
            }
            Generated::Circles {
                samples,
                noise,
                factor,
            } => {
                non_negative("noise", noise)?;
                if !(0.0..1.0).contains(&factor) {
                    return Err(GenerateError::FactorOutOfRange { value: factor });
                }
                (samples, 2)
            }
            Generated::Spirals {
                samples,
                noise,
                classes,
                turns,
            } => {
                non_negative("noise", noise)?;
                non_negative("turns", turns)?;
                class_count(classes)?;
                (samples, 2)
            }
            Generated::Blobs {
                samples,
                features,
                classes,
                center_std,
                cluster_std,
            } => {
                at_least("features", 1, features)?;
                class_count(classes)?;
                non_negative("center_std", center_std)?;
                non_negative("cluster_std", cluster_std)?;
                (samples, features)
            }
        };
        at_least("samples", 1, samples)?;
        let cells = samples as u128 * features as u128;
        if cells > MAX_CELLS as u128 {
            return Err(GenerateError::TooManyCells {
                cells,
                limit: MAX_CELLS,
            });
        }
        Ok(())
    }

    /// Draws the dataset from the `Purpose::DataGeneration` stream of `seed`.
    pub fn generate(&self, seed: u64) -> Result<Dataset, GenerateError> {
        self.check()?;
        let mut rng = rng::stream(seed, Purpose::DataGeneration);
        Ok(match *self {
            Generated::Xor { samples, noise } => xor(samples, noise, &mut rng),
            Generated::Moons { samples, noise } => {
                let n_out = samples / 2;
                let n_in = samples - n_out;
                plane(samples, 2, noise, &mut rng, |p| {
                    if p < n_out {
                        let t = linspace(0.0, PI, n_out, true, p);
                        ([libm::cos(t), libm::sin(t)], 0)
                    } else {
                        let t = linspace(0.0, PI, n_in, true, p - n_out);
                        ([1.0 - libm::cos(t), 1.0 - libm::sin(t) - 0.5], 1)
                    }
                })
            }
            Generated::Circles {
                samples,
                noise,
                factor,
            } => {
                let n_out = samples / 2;
                let n_in = samples - n_out;
                plane(samples, 2, noise, &mut rng, |p| {
                    if p < n_out {
                        let t = linspace(0.0, 2.0 * PI, n_out, false, p);
                        ([libm::cos(t), libm::sin(t)], 0)
                    } else {
                        let t = linspace(0.0, 2.0 * PI, n_in, false, p - n_out);
                        ([factor * libm::cos(t), factor * libm::sin(t)], 1)
                    }
                })
            }
            Generated::Spirals {
                samples,
                noise,
                classes,
                turns,
            } => plane(samples, classes, noise, &mut rng, |p| {
                let class = p % classes;
                let index = p / classes;
                // Rows p < samples with p mod classes = class.
                let in_class = (samples - class).div_ceil(classes);
                let radius = if in_class > 1 {
                    index as f64 / (in_class - 1) as f64
                } else {
                    0.0
                };
                let angle = 2.0 * PI * (turns * radius + class as f64 / classes as f64);
                (
                    [radius * libm::cos(angle), radius * libm::sin(angle)],
                    class as u32,
                )
            }),
            Generated::Blobs {
                samples,
                features,
                classes,
                center_std,
                cluster_std,
            } => blobs(
                samples,
                features,
                classes,
                center_std,
                cluster_std,
                &mut rng,
            ),
        })
    }
}

fn at_least(parameter: &'static str, minimum: usize, value: usize) -> Result<(), GenerateError> {
    if value < minimum {
        return Err(GenerateError::TooSmall {
            parameter,
            minimum,
            value,
        });
    }
    Ok(())
}

fn non_negative(parameter: &'static str, value: f64) -> Result<(), GenerateError> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(GenerateError::NotNonNegative { parameter, value });
    }
    Ok(())
}

fn class_count(classes: usize) -> Result<(), GenerateError> {
    at_least("classes", 1, classes)?;
    if classes > MAX_CLASSES {
        return Err(GenerateError::TooManyClasses {
            value: classes,
            limit: MAX_CLASSES,
        });
    }
    Ok(())
}

/// NumPy's `linspace(start, stop, count, endpoint)[index]`.
fn linspace(start: f64, stop: f64, count: usize, endpoint: bool, index: usize) -> f64 {
    let intervals = if endpoint {
        count.saturating_sub(1)
    } else {
        count
    };
    if intervals == 0 {
        return start;
    }
    start + index as f64 * ((stop - start) / intervals as f64)
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

fn xor(samples: usize, noise: f64, rng: &mut ChaCha8Rng) -> Dataset {
    let mut features = Array2::zeros((samples, 2));
    let mut labels = Vec::with_capacity(samples);
    for mut row in features.rows_mut() {
        let x = rng.random::<f64>() * 2.0 - 1.0;
        let y = rng.random::<f64>() * 2.0 - 1.0;
        labels.push(u32::from(x * y < 0.0));
        row[0] = (x + noise * normal(rng)) as f32;
        row[1] = (y + noise * normal(rng)) as f32;
    }
    two_dimensional(features, labels, 2)
}

/// A shuffled 2-D dataset: `base(p)` gives point `p` of the unshuffled order and its class.
fn plane(
    samples: usize,
    n_classes: usize,
    noise: f64,
    rng: &mut ChaCha8Rng,
    base: impl Fn(usize) -> ([f64; 2], u32),
) -> Dataset {
    let mut order: Vec<usize> = (0..samples).collect();
    for i in (1..samples).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut features = Array2::zeros((samples, 2));
    let mut labels = Vec::with_capacity(samples);
    for (mut row, &p) in features.rows_mut().into_iter().zip(&order) {
        let ([x, y], class) = base(p);
        labels.push(class);
        row[0] = (x + noise * normal(rng)) as f32;
        row[1] = (y + noise * normal(rng)) as f32;
    }
    two_dimensional(features, labels, n_classes)
}

fn two_dimensional(features: Array2<f32>, labels: Vec<u32>, n_classes: usize) -> Dataset {
    Dataset {
        features,
        targets: Targets::Classes { labels, n_classes },
        image_shape: None,
        feature_names: vec!["x".into(), "y".into()],
        class_names: None,
    }
}

fn blobs(
    samples: usize,
    n_features: usize,
    classes: usize,
    center_std: f64,
    cluster_std: f64,
    rng: &mut ChaCha8Rng,
) -> Dataset {
    let centres = Array2::from_shape_simple_fn((classes, n_features), || center_std * normal(rng));
    let mut features = super::zeroed_rows(samples, n_features);
    for (i, mut row) in features.rows_mut().into_iter().enumerate() {
        let centre = centres.row(i % classes);
        for (value, &c) in row.iter_mut().zip(centre.iter()) {
            *value = (c + cluster_std * normal(rng)) as f32;
        }
    }
    Dataset {
        features,
        targets: Targets::Classes {
            labels: (0..samples).map(|i| (i % classes) as u32).collect(),
            n_classes: classes,
        },
        image_shape: None,
        feature_names: (0..n_features).map(|j| format!("x{j}")).collect(),
        class_names: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(dataset: &Dataset) -> &[u32] {
        match &dataset.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values(_) => panic!("generated data has classes"),
        }
    }

    fn class_counts(dataset: &Dataset) -> Vec<usize> {
        let mut counts = vec![0; dataset.n_classes().unwrap()];
        for &label in labels(dataset) {
            counts[label as usize] += 1;
        }
        counts
    }

    fn all_defaults() -> Vec<Generated> {
        Generated::NAMES
            .iter()
            .map(|name| Generated::default_for(name).unwrap())
            .collect()
    }

    #[test]
    fn the_same_seed_gives_identical_bits_and_another_seed_other_data() {
        for generated in all_defaults() {
            let first = generated.generate(7).unwrap();
            let again = generated.generate(7).unwrap();
            let bits = |d: &Dataset| d.features.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&first), bits(&again), "{}", generated.name());
            assert_eq!(first.targets, again.targets);
            assert_ne!(first.features, generated.generate(8).unwrap().features);
        }
    }

    #[test]
    fn defaults_have_their_documented_shapes_and_balanced_classes() {
        let shapes: Vec<_> = all_defaults()
            .iter()
            .map(|g| {
                let d = g.generate(1).unwrap();
                (g.name(), d.rows(), d.n_features(), d.n_classes())
            })
            .collect();
        assert_eq!(
            shapes,
            [
                ("xor", 200, 2, Some(2)),
                ("moons", 200, 2, Some(2)),
                ("circles", 200, 2, Some(2)),
                ("spirals", 300, 2, Some(3)),
                ("blobs", 600, 2, Some(3)),
            ]
        );
        for generated in &all_defaults()[1..] {
            let counts = class_counts(&generated.generate(1).unwrap());
            assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
        }
    }

    #[test]
    fn noiseless_moons_lie_on_sklearns_two_half_circles() {
        let moons = Generated::Moons {
            samples: 101,
            noise: 0.0,
        }
        .generate(3)
        .unwrap();
        assert_eq!(class_counts(&moons), [50, 51]);
        for (row, &label) in moons.features.rows().into_iter().zip(labels(&moons)) {
            let (x, y) = (f64::from(row[0]), f64::from(row[1]));
            // Class 0: the upper unit half-circle. Class 1: centred at (1, 0.5), lower half.
            let (cx, cy) = if label == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
            let radius = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            assert!((radius - 1.0).abs() < 1e-6, "{x}, {y}");
            assert!(if label == 0 {
                y >= -1e-7
            } else {
                y <= 0.5 + 1e-7
            });
        }
    }

    #[test]
    fn noiseless_circles_have_radius_one_and_factor() {
        let circles = Generated::Circles {
            samples: 50,
            noise: 0.0,
            factor: 0.3,
        }
        .generate(3)
        .unwrap();
        for (row, &label) in circles.features.rows().into_iter().zip(labels(&circles)) {
            let radius = f64::from(row[0]).hypot(f64::from(row[1]));
            let expected = if label == 0 { 1.0 } else { 0.3 };
            assert!((radius - expected).abs() < 1e-6);
        }
        // endpoint=False: the 25 outer angles are k·2π/25, so (1, 0) is among them once.
        let at_one_zero = circles
            .features
            .rows()
            .into_iter()
            .filter(|row| row[0] == 1.0 && row[1] == 0.0)
            .count();
        assert_eq!(at_one_zero, 1);
    }

    #[test]
    fn noiseless_xor_labels_are_the_sign_product() {
        let xor = Generated::Xor {
            samples: 500,
            noise: 0.0,
        }
        .generate(4)
        .unwrap();
        for (row, &label) in xor.features.rows().into_iter().zip(labels(&xor)) {
            assert!(row[0].abs() <= 1.0 && row[1].abs() <= 1.0);
            assert_eq!(label, u32::from(row[0] * row[1] < 0.0));
        }
    }

    #[test]
    fn noiseless_spiral_arms_end_on_the_unit_circle_at_their_offsets() {
        let spirals = Generated::Spirals {
            samples: 40,
            noise: 0.0,
            classes: 4,
            turns: 1.5,
        }
        .generate(2)
        .unwrap();
        assert_eq!(class_counts(&spirals), [10, 10, 10, 10]);
        // Arm k ends at radius 1, angle 2π(1.5 + k/4): for k = 0 that is (−1, 0).
        let ends: Vec<usize> = spirals
            .features
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, row)| (f64::from(row[0]).hypot(f64::from(row[1])) - 1.0).abs() < 1e-6)
            .map(|(i, _)| labels(&spirals)[i] as usize)
            .collect();
        assert_eq!(ends.len(), 4);
        let arm_zero_end = spirals
            .features
            .rows()
            .into_iter()
            .zip(labels(&spirals))
            .find(|(row, label)| **label == 0 && (row[0] + 1.0).abs() < 1e-6)
            .map(|(row, _)| row[1]);
        assert!(arm_zero_end.is_some_and(|y| y.abs() < 1e-6));
    }

    #[test]
    fn changing_only_the_noise_moves_the_same_points() {
        let clean = Generated::Moons {
            samples: 30,
            noise: 0.0,
        };
        let noisy = Generated::Moons {
            samples: 30,
            noise: 0.2,
        };
        let (a, b) = (clean.generate(5).unwrap(), noisy.generate(5).unwrap());
        assert_eq!(a.targets, b.targets);
        let moved = (&a.features - &b.features).mapv(f32::abs);
        assert!(moved.iter().any(|&d| d > 0.01) && moved.iter().all(|&d| d < 2.0));
    }

    #[test]
    fn blobs_scatter_around_centres_with_the_requested_spreads() {
        // 4000 samples, 50 features, 2 classes: per-class mean estimates the centre (error
        // ≈ 0.5/√2000 ≈ 0.011) and the within-class std estimates cluster_std.
        let blobs = Generated::Blobs {
            samples: 4000,
            features: 50,
            classes: 2,
            center_std: 2.0,
            cluster_std: 0.5,
        }
        .generate(9)
        .unwrap();
        assert_eq!(labels(&blobs)[..5], [0, 1, 0, 1, 0]);
        assert_eq!(class_counts(&blobs), [2000, 2000]);
        let mut centre_values = Vec::new();
        let mut deviations = Vec::new();
        for class in 0..2 {
            let rows: Vec<_> = (class..4000).step_by(2).collect();
            let part = blobs.features.select(ndarray::Axis(0), &rows);
            let mean = part.mean_axis(ndarray::Axis(0)).unwrap();
            centre_values.extend(mean.iter().map(|&v| f64::from(v)));
            deviations.extend((&part - &mean).iter().map(|&v| f64::from(v)));
        }
        let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
        // 100 centre coordinates with std 2: their RMS is within ~0.3 of 2.
        assert!(
            (rms(&centre_values) - 2.0).abs() < 0.35,
            "{}",
            rms(&centre_values)
        );
        assert!(
            (rms(&deviations) - 0.5).abs() < 0.01,
            "{}",
            rms(&deviations)
        );
    }

    #[test]
    fn out_of_range_parameters_are_errors_naming_the_field() {
        let bad = [
            Generated::Xor {
                samples: 0,
                noise: 0.1,
            },
            Generated::Moons {
                samples: 10,
                noise: -1.0,
            },
            Generated::Circles {
                samples: 10,
                noise: 0.1,
                factor: 1.0,
            },
            Generated::Spirals {
                samples: 10,
                noise: 0.1,
                classes: 0,
                turns: 1.0,
            },
            Generated::Spirals {
                samples: 10,
                noise: 0.1,
                classes: 2,
                turns: f64::NAN,
            },
            Generated::Blobs {
                samples: 1_000_000,
                features: 1000,
                classes: 2,
                center_std: 1.0,
                cluster_std: 1.0,
            },
            Generated::Blobs {
                samples: 10,
                features: 2,
                classes: 5000,
                center_std: 1.0,
                cluster_std: 1.0,
            },
        ];
        let fields: Vec<_> = bad
            .iter()
            .map(|g| g.generate(0).unwrap_err().parameter())
            .collect();
        assert_eq!(
            fields,
            [
                "samples", "noise", "factor", "classes", "turns", "samples", "classes"
            ]
        );
    }

    #[test]
    fn linspace_matches_numpy() {
        // numpy.linspace(0, 1, 5) = [0, .25, .5, .75, 1]; endpoint=False: [0, .2, .4, .6, .8].
        let with: Vec<_> = (0..5).map(|i| linspace(0.0, 1.0, 5, true, i)).collect();
        assert_eq!(with, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let without: Vec<_> = (0..5).map(|i| linspace(0.0, 1.0, 5, false, i)).collect();
        assert_eq!(without, [0.0, 0.2, 0.4, 0.6000000000000001, 0.8]);
        assert_eq!(linspace(0.0, PI, 1, true, 0), 0.0);
    }
}
