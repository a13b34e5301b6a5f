//! Greedy layer-wise RBM pre-training (a deep belief network; Hinton, Osindero & Teh 2006) for
//! the hidden dense layers.
//!
//! RBM 0 models the (squashed) inputs; RBM k models the hidden probabilities `σ(xW + c)` of
//! RBM k−1 on the whole training set, so each layer learns features of the one below. Each RBM
//! is a [`BernoulliRbm`] trained by CD-k ([`super::rbm`]) for `epochs` passes, in mini-batches
//! of `batch_size` rows reshuffled every epoch from the caller's rng. RBM k's `W`
//! (`in × out`) becomes the Dense kernel and its hidden bias `c` the Dense bias; the visible
//! biases are dropped (NUMERICS.md §7, "Handing off to Keras fine-tuning").
//!
//! Inputs need not lie in [0, 1]: the engine hands over standardized features, but a Bernoulli
//! visible unit models a probability. So each input feature is min-max scaled to [0, 1] over
//! the training rows, `x' = (x − min)/(max − min)`, before RBM 0 (what scikit-learn's RBM
//! example does to its digits), and this affine map is then *folded into* the first layer:
//! kernel rows are divided by `max − min` and the bias becomes `c − Σⱼ Wⱼ·min_j/(max_j − min_j)`.
//! The Dense layer fed the unscaled inputs then computes exactly the pre-activation the RBM was
//! trained with, `x'W + c`, which a logistic squash (not affine) could not give. A feature that
//! is constant in training scales to 0 and gets a zero kernel row: it carries no information
//! the RBM could have used. (A Gaussian–Bernoulli first layer would avoid the squash but needs a
//! much smaller learning rate and per-feature variances to be stable; min-max keeps one model
//! and one set of defaults for every layer.)

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::rbm::{BernoulliRbm, CdWorkspace};

/// Settings of the pre-training phase.
///
/// Defaults ([`DbnConfig::default`]) follow scikit-learn's `BernoulliRBM` where the lecture and
/// the API leave them open (SK `sklearn/neural_network/_rbm.py`): 10 epochs (`n_iter=10`),
/// learning rate 0.1, batches of 10 rows, and CD-1 (Hinton's guide: k = 1 is enough for
/// learning features).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbnConfig {
    /// Passes over the training data per RBM.
    pub epochs: usize,
    pub learning_rate: f32,
    pub batch_size: usize,
    /// Gibbs steps per contrastive-divergence update (CD-k).
    pub cd_steps: usize,
}

impl Default for DbnConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            learning_rate: 0.1,
            batch_size: 10,
            cd_steps: 1,
        }
    }
}

/// One pre-trained hidden Dense layer.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainedLayer {
    /// Input width of the layer.
    pub inputs: usize,
    /// Number of units.
    pub units: usize,
    /// `inputs × units`, row-major: the Dense kernel layout.
    pub kernel: Vec<f32>,
    /// `units` values: the RBM's hidden biases (folded with the input scaling for layer 0).
    pub bias: Vec<f32>,
}

/// Why pre-training could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbnError {
    #[error("pre-training needs at least one training row")]
    NoRows,
    #[error("input row {row}, column {column} is not a finite number")]
    NonFiniteInput { row: usize, column: usize },
    #[error("hidden layer {layer} has no units")]
    NoUnits { layer: usize },
    #[error("dbn batch_size must be at least 1")]
    ZeroBatchSize,
    #[error("dbn cd_steps must be at least 1")]
    ZeroCdSteps,
    #[error("dbn learning_rate must be finite and non-negative, got {0}")]
    InvalidLearningRate(f32),
    #[error("pre-training was cancelled")]
    Cancelled,
}

/// Pre-trains one RBM per entry of `hidden_sizes` on `inputs` (`rows × features`), greedily,
/// and returns the Dense kernels and biases in layer order.
///
/// `progress(layer, epoch, reconstruction_error)` is called after every epoch, with `layer`
/// counted from 0 (as `LayerStats::index`), `epoch` from 1 (as `EpochRecord::epoch`), and the
/// error the mean over rows and visible units of `(v₀ − v₁)²` for that epoch's batches, each
/// measured before its own update (on the squashed scale, so it lies in [0, 1]).
///
/// Random draws, in order: for each layer, its initial weights, then per epoch one
/// permutation of the rows and the hidden samples of each batch.
///
/// `cancel` is read before every batch; once it is set, pre-training stops with
/// [`DbnError::Cancelled`].
pub fn pretrain(
    inputs: ArrayView2<f32>,
    hidden_sizes: &[usize],
    config: &DbnConfig,
    rng: &mut ChaCha8Rng,
    progress: &mut dyn FnMut(usize, usize, f32),
    cancel: &AtomicBool,
) -> Result<Vec<PretrainedLayer>, DbnError> {
    check(inputs, hidden_sizes, config)?;
    let (n_rows, n_features) = inputs.dim();
    let scaling = MinMaxScaling::fit(inputs);
    let mut layer_input = scaling.apply(inputs);
    let mut layer_width = n_features;
    let mut layers = Vec::with_capacity(hidden_sizes.len());
    let batch_capacity = config.batch_size.min(n_rows);

    for (layer_index, &units) in hidden_sizes.iter().enumerate() {
        let mut rbm = BernoulliRbm::new(layer_width, units, rng);
        let mut workspace = CdWorkspace::new(&rbm, batch_capacity);
        let mut batch = vec![0.0f32; batch_capacity * layer_width];
        let mut order: Vec<usize> = (0..n_rows).collect();
        for epoch in 1..=config.epochs {
            order.shuffle(rng);
            let mut squared_error = 0.0f64;
            for batch_rows in order.chunks(batch_capacity) {
                if cancel.load(Ordering::Relaxed) {
                    return Err(DbnError::Cancelled);
                }
                for (slot, &row) in batch.chunks_exact_mut(layer_width).zip(batch_rows) {
                    slot.copy_from_slice(&layer_input[row * layer_width..(row + 1) * layer_width]);
                }
                squared_error += rbm.contrastive_divergence(
                    &batch,
                    batch_rows.len(),
                    config.cd_steps,
                    config.learning_rate,
                    &mut workspace,
                    rng,
                );
            }
            let mean_error = squared_error / (n_rows * layer_width.max(1)) as f64;
            progress(layer_index, epoch, mean_error as f32);
        }

        let mut next_input = vec![0.0f32; n_rows * units];
        rbm.hidden_probabilities(&layer_input, n_rows, &mut next_input);
        let mut layer = PretrainedLayer {
            inputs: layer_width,
            units,
            kernel: rbm.weights,
            bias: rbm.hidden_bias,
        };
        if layer_index == 0 {
            scaling.fold_into(&mut layer);
        }
        layers.push(layer);
        layer_input = next_input;
        layer_width = units;
    }
    Ok(layers)
}

fn check(
    inputs: ArrayView2<f32>,
    hidden_sizes: &[usize],
    config: &DbnConfig,
) -> Result<(), DbnError> {
    if inputs.nrows() == 0 {
        return Err(DbnError::NoRows);
    }
    if let Some(((row, column), _)) = inputs.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DbnError::NonFiniteInput { row, column });
    }
    if let Some(layer) = hidden_sizes.iter().position(|&units| units == 0) {
        return Err(DbnError::NoUnits { layer });
    }
    if config.batch_size == 0 {
        return Err(DbnError::ZeroBatchSize);
    }
    if config.cd_steps == 0 {
        return Err(DbnError::ZeroCdSteps);
    }
    if !(config.learning_rate.is_finite() && config.learning_rate >= 0.0) {
        return Err(DbnError::InvalidLearningRate(config.learning_rate));
    }
    Ok(())
}

/// Per-feature `x' = (x − min)/(max − min)` over the training rows; range 0 maps to 0.
#[derive(Debug, Clone, PartialEq)]
struct MinMaxScaling {
    minimum: Vec<f32>,
    range: Vec<f32>,
}

impl MinMaxScaling {
    fn fit(inputs: ArrayView2<f32>) -> Self {
        let (minimum, range) = inputs
            .columns()
            .into_iter()
            .map(|column| {
                let low = column.iter().copied().fold(f32::INFINITY, f32::min);
                let high = column.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                (low, high - low)
            })
            .unzip();
        Self { minimum, range }
    }

    /// The scaled inputs, row-major `rows × features`.
    fn apply(&self, inputs: ArrayView2<f32>) -> Vec<f32> {
        let mut scaled = Vec::with_capacity(inputs.len());
        for row in inputs.rows() {
            for ((&x, &low), &range) in row.iter().zip(&self.minimum).zip(&self.range) {
                // A range that overflows f32 (features spanning ±f32::MAX) is treated as
                // constant rather than producing infinities.
                scaled.push(if range > 0.0 && range.is_finite() {
                    ((x - low) / range).clamp(0.0, 1.0)
                } else {
                    0.0
                });
            }
        }
        scaled
    }

    /// Rewrites a kernel trained on scaled inputs to act on unscaled ones:
    /// `K_jk = W_jk / range_j`, `bias_k = c_k − Σ_j W_jk·min_j/range_j` (zero rows where the
    /// range is 0).
    fn fold_into(&self, layer: &mut PretrainedLayer) {
        let mut bias_shift = vec![0.0f64; layer.units];
        for (feature, kernel_row) in layer.kernel.chunks_exact_mut(layer.units).enumerate() {
            let range = self.range[feature];
            if !(range > 0.0 && range.is_finite()) {
                kernel_row.fill(0.0);
                continue;
            }
            let offset = f64::from(self.minimum[feature]) / f64::from(range);
            for (weight, shift) in kernel_row.iter_mut().zip(bias_shift.iter_mut()) {
                *shift += f64::from(*weight) * offset;
                *weight /= range;
            }
        }
        for (bias, shift) in layer.bias.iter_mut().zip(bias_shift) {
            *bias = (f64::from(*bias) - shift) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::init::rbm::sigmoid;
    use crate::train::rng::{Purpose, stream};
    use ndarray::Array2;
    use rand::RngExt;

    /// 8×8 binary images, each one lit row or lit column (16 patterns), with 5% of the pixels
    /// flipped: a digits-like dataset with clear structure for an RBM to find.
    fn noisy_stripes(samples: usize, seed: u64) -> Array2<f32> {
        let mut rng = stream(seed, Purpose::DataGeneration);
        let mut images = Array2::zeros((samples, 64));
        for mut image in images.rows_mut() {
            let pattern = rng.random_range(0..16usize);
            for (pixel, value) in image.iter_mut().enumerate() {
                let (row, column) = (pixel / 8, pixel % 8);
                let lit = if pattern < 8 {
                    row == pattern
                } else {
                    column == pattern - 8
                };
                let flipped = rng.random::<f32>() < 0.05;
                *value = if lit != flipped { 1.0 } else { 0.0 };
            }
        }
        images
    }

    fn run(
        inputs: &Array2<f32>,
        hidden: &[usize],
        config: &DbnConfig,
        seed: u64,
    ) -> (Vec<PretrainedLayer>, Vec<(usize, usize, f32)>) {
        let mut rng = stream(seed, Purpose::Pretraining);
        let mut errors = Vec::new();
        let mut progress = |l, e, err| errors.push((l, e, err));
        let go = AtomicBool::new(false);
        let layers = pretrain(inputs.view(), hidden, config, &mut rng, &mut progress, &go).unwrap();
        (layers, errors)
    }

    #[test]
    fn reconstruction_error_falls_over_epochs_on_noisy_stripes() {
        let inputs = noisy_stripes(300, 1);
        let config = DbnConfig {
            epochs: 15,
            ..DbnConfig::default()
        };
        let (_, errors) = run(&inputs, &[24, 12], &config, 7);
        // The first epoch starts from near-random weights, where each reconstruction is about
        // ½ and the error about ¼ on binary pixels. RBM 0 must cut it by a quarter within 15
        // epochs. RBM 1 sees RBM 0's hidden probabilities, which start near ½ with little
        // spread, so its error starts lower and falls later: it must still fall by a tenth.
        for (layer, required_ratio) in [(0, 0.75), (1, 0.9)] {
            let curve: Vec<f32> = errors
                .iter()
                .filter(|(l, _, _)| *l == layer)
                .map(|(_, _, err)| *err)
                .collect();
            assert_eq!(curve.len(), 15);
            assert!(
                curve[14] < required_ratio * curve[0],
                "layer {layer}: {curve:?}"
            );
        }
    }

    #[test]
    fn layers_have_dense_shapes_in_order() {
        let inputs = noisy_stripes(30, 2);
        let config = DbnConfig {
            epochs: 2,
            batch_size: 7,
            ..DbnConfig::default()
        };
        let (layers, errors) = run(&inputs, &[5, 3], &config, 1);
        let shapes: Vec<(usize, usize, usize, usize)> = layers
            .iter()
            .map(|l| (l.inputs, l.units, l.kernel.len(), l.bias.len()))
            .collect();
        assert_eq!(shapes, vec![(64, 5, 320, 5), (5, 3, 15, 3)]);
        let calls: Vec<(usize, usize)> = errors.iter().map(|&(l, e, _)| (l, e)).collect();
        assert_eq!(calls, vec![(0, 1), (0, 2), (1, 1), (1, 2)]);
    }

    #[test]
    fn the_same_seed_gives_the_same_bits_and_another_seed_does_not() {
        let inputs = noisy_stripes(40, 3);
        let config = DbnConfig {
            epochs: 3,
            cd_steps: 2,
            ..DbnConfig::default()
        };
        let bits = |seed| {
            let (layers, errors) = run(&inputs, &[6, 4], &config, seed);
            let mut bits: Vec<u32> = layers
                .iter()
                .flat_map(|l| l.kernel.iter().chain(&l.bias))
                .map(|v| v.to_bits())
                .collect();
            bits.extend(errors.iter().map(|e| e.2.to_bits()));
            bits
        };
        assert_eq!(bits(5), bits(5));
        assert_ne!(bits(5), bits(6));
    }

    #[test]
    fn the_first_layer_on_raw_inputs_equals_the_rbm_on_scaled_inputs() {
        // Folding: for real-valued inputs, σ(xK + bias) of the returned layer must equal the
        // RBM's σ(x'W + c) on min-max scaled x'. We recover W and c by pre-training the scaled
        // inputs directly with the same seed (scaling already-[0,1] columns with min 0 and max 1
        // is the identity, so that run folds nothing).
        let mut rng = stream(4, Purpose::DataGeneration);
        let raw = Array2::from_shape_fn((25, 3), |(_, column)| {
            let u: f32 = rng.random();
            [-2.0 + 4.0 * u, 10.0 + u, 0.5 * u][column]
        });
        let mut scaled = raw.clone();
        for mut column in scaled.columns_mut() {
            let low = column.iter().copied().fold(f32::INFINITY, f32::min);
            let high = column.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            column.mapv_inplace(|x| (x - low) / (high - low));
        }
        let config = DbnConfig {
            epochs: 3,
            batch_size: 5,
            ..DbnConfig::default()
        };
        let (folded, _) = run(&raw, &[4], &config, 9);
        let (unfolded, _) = run(&scaled, &[4], &config, 9);
        for (x, x_scaled) in raw.rows().into_iter().zip(scaled.rows()) {
            for unit in 0..4 {
                let through_dense: f32 = (0..3)
                    .map(|j| x[j] * folded[0].kernel[j * 4 + unit])
                    .sum::<f32>()
                    + folded[0].bias[unit];
                let through_rbm: f32 = (0..3)
                    .map(|j| x_scaled[j] * unfolded[0].kernel[j * 4 + unit])
                    .sum::<f32>()
                    + unfolded[0].bias[unit];
                assert!(
                    (sigmoid(through_dense) - sigmoid(through_rbm)).abs() < 1e-5,
                    "{through_dense} vs {through_rbm}"
                );
            }
        }
    }

    #[test]
    fn a_constant_feature_gets_a_zero_kernel_row() {
        let mut inputs = noisy_stripes(20, 5);
        inputs.column_mut(3).fill(7.0);
        let config = DbnConfig {
            epochs: 1,
            ..DbnConfig::default()
        };
        let (layers, _) = run(&inputs, &[4], &config, 2);
        assert_eq!(&layers[0].kernel[3 * 4..4 * 4], &[0.0; 4]);
    }

    #[test]
    fn impossible_inputs_and_settings_are_errors() {
        let mut rng = stream(1, Purpose::Pretraining);
        let mut ignore = |_: usize, _: usize, _: f32| {};
        let good = noisy_stripes(4, 6);
        let empty = Array2::<f32>::zeros((0, 3));
        let mut with_nan = good.clone();
        with_nan[[2, 1]] = f32::NAN;
        let config = DbnConfig::default();
        let cases: Vec<(ArrayView2<f32>, &[usize], DbnConfig, DbnError)> = vec![
            (empty.view(), &[2], config, DbnError::NoRows),
            (
                with_nan.view(),
                &[2],
                config,
                DbnError::NonFiniteInput { row: 2, column: 1 },
            ),
            (good.view(), &[2, 0], config, DbnError::NoUnits { layer: 1 }),
            (
                good.view(),
                &[2],
                DbnConfig {
                    batch_size: 0,
                    ..config
                },
                DbnError::ZeroBatchSize,
            ),
            (
                good.view(),
                &[2],
                DbnConfig {
                    cd_steps: 0,
                    ..config
                },
                DbnError::ZeroCdSteps,
            ),
            (
                good.view(),
                &[2],
                DbnConfig {
                    learning_rate: f32::NAN,
                    ..config
                },
                DbnError::InvalidLearningRate(f32::NAN),
            ),
        ];
        for (inputs, hidden, config, expected) in cases {
            let go = AtomicBool::new(false);
            let got = pretrain(inputs, hidden, &config, &mut rng, &mut ignore, &go).unwrap_err();
            // NaN ≠ NaN, so compare the messages.
            assert_eq!(got.to_string(), expected.to_string());
        }
    }

    #[test]
    fn a_cancel_stops_pretraining_within_the_epoch() {
        let inputs = noisy_stripes(40, 3);
        let config = DbnConfig {
            epochs: 1_000_000,
            batch_size: 4,
            ..DbnConfig::default()
        };
        let cancel = AtomicBool::new(false);
        let mut rng = stream(3, Purpose::Pretraining);
        let mut epochs = 0;
        // Set after the second epoch's progress: the third epoch's first batch sees it.
        let mut progress = |_, epoch, _| {
            epochs = epoch;
            if epoch == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        };
        let stopped = pretrain(
            inputs.view(),
            &[6],
            &config,
            &mut rng,
            &mut progress,
            &cancel,
        );
        assert_eq!(stopped, Err(DbnError::Cancelled));
        assert_eq!(epochs, 2);
    }

    #[test]
    fn defaults_follow_scikit_learn() {
        // SK _rbm.py: BernoulliRBM(learning_rate=0.1, batch_size=10, n_iter=10); CD-1.
        assert_eq!(
            DbnConfig::default(),
            DbnConfig {
                epochs: 10,
                learning_rate: 0.1,
                batch_size: 10,
                cd_steps: 1
            }
        );
    }
}
