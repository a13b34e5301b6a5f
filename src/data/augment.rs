//! Training-time augmentation of one batch: a random integer shift of each image and Gaussian
//! noise on every feature, written into a preallocated buffer without allocating.
//!
//! Per sample, in row order, the draws are: the vertical shift `dy`, then the horizontal shift
//! `dx` (each uniform on the integers `[−shift, shift]`, only when `shift > 0` and the data is
//! image-shaped), then one standard normal per feature in row-major order (only when
//! `gaussian_noise > 0`). A shift by `(dy, dx)` moves the pixel at `(y, x)` to
//! `(y + dy, x + dx)`; pixels shifted in from outside the image are 0. Noise is added after
//! the shift, so the zero fill gets noise too. The engine passes the `Purpose::Augmentation(e)`
//! stream of epoch `e`, so a seed replays the same augmented epochs.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::Augmentation;

/// Shifts larger than this are clamped; any shift at least as large as the image already moves
/// every pixel out, so the clamp only keeps the integer arithmetic in range.
const MAX_SHIFT: usize = 1 << 20;

/// The buffers or the image shape do not fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AugmentError {
    #[error("source batch is {source_shape:?} but the destination is {destination_shape:?}")]
    ShapeMismatch {
        source_shape: (usize, usize),
        destination_shape: (usize, usize),
    },
    #[error("image shape {height}×{width} does not cover the {features} features")]
    ImageShape {
        height: usize,
        width: usize,
        features: usize,
    },
}

impl Augmentation {
    /// True when augmentation changes nothing, so the engine can skip the copy.
    pub fn is_off(&self) -> bool {
        (self.gaussian_noise.is_nan() || self.gaussian_noise <= 0.0) && self.shift == 0
    }
}

/// Writes the augmented `src` batch (`batch × features`) into `dst` (same shape).
pub fn augment_batch(
    src: ArrayView2<'_, f32>,
    mut dst: ArrayViewMut2<'_, f32>,
    augmentation: &Augmentation,
    image_shape: Option<(usize, usize)>,
    rng: &mut ChaCha8Rng,
) -> Result<(), AugmentError> {
    if src.dim() != dst.dim() {
        return Err(AugmentError::ShapeMismatch {
            source_shape: src.dim(),
            destination_shape: dst.dim(),
        });
    }
    let features = src.ncols();
    let image = match image_shape {
        Some((height, width)) if augmentation.shift > 0 => {
            if height.checked_mul(width) != Some(features) {
                return Err(AugmentError::ImageShape {
                    height,
                    width,
                    features,
                });
            }
            Some((height, width))
        }
        _ => None,
    };
    let shift = augmentation.shift.min(MAX_SHIFT) as i64;
    let noise = augmentation.gaussian_noise;
    for (source, mut destination) in src.rows().into_iter().zip(dst.rows_mut()) {
        match image {
            Some((height, width)) => {
                let dy = rng.random_range(-shift..=shift);
                let dx = rng.random_range(-shift..=shift);
                shift_image(source, destination.view_mut(), (height, width), (dy, dx));
            }
            None => destination.assign(&source),
        }
        if noise > 0.0 {
            for value in destination.iter_mut() {
                let z: f32 = rng.sample(StandardNormal);
                *value += noise * z;
            }
        }
    }
    Ok(())
}

/// Copies one flattened `height × width` image moved by `(dy, dx)`, filling with zeros.
fn shift_image(
    source: ArrayView1<'_, f32>,
    mut destination: ArrayViewMut1<'_, f32>,
    (height, width): (usize, usize),
    (dy, dx): (i64, i64),
) {
    for y in 0..height {
        for x in 0..width {
            let from_y = y as i64 - dy;
            let from_x = x as i64 - dx;
            let inside =
                from_y >= 0 && from_y < height as i64 && from_x >= 0 && from_x < width as i64;
            destination[y * width + x] = if inside {
                source[from_y as usize * width + from_x as usize]
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::{Purpose, stream};
    use ndarray::{Array1, Array2};

    fn augmented(
        src: &Array2<f32>,
        augmentation: Augmentation,
        image_shape: Option<(usize, usize)>,
        seed: u64,
    ) -> Array2<f32> {
        let mut dst = Array2::from_elem(src.dim(), f32::NAN);
        let mut rng = stream(seed, Purpose::Augmentation(0));
        augment_batch(
            src.view(),
            dst.view_mut(),
            &augmentation,
            image_shape,
            &mut rng,
        )
        .unwrap();
        dst
    }

    fn ramp_batch(rows: usize, features: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, features), |(r, c)| (r * features + c) as f32)
    }

    #[test]
    fn zero_augmentation_copies_the_batch_unchanged() {
        let src = ramp_batch(5, 16);
        let off = Augmentation::default();
        assert!(off.is_off());
        assert_eq!(augmented(&src, off, Some((4, 4)), 1), src);
        assert_eq!(augmented(&src, off, None, 1), src);
    }

    #[test]
    fn a_shift_moves_a_pixel_by_dy_dx_and_fills_with_zeros() {
        // A 4×5 image with one lit pixel at (2, 3), shifted by (+1, −2), lights (3, 1).
        let mut image = Array1::zeros(20);
        image[2 * 5 + 3] = 7.0;
        let mut moved = Array1::from_elem(20, f32::NAN);
        shift_image(image.view(), moved.view_mut(), (4, 5), (1, -2));
        let lit: Vec<usize> = (0..20).filter(|&i| moved[i] != 0.0).collect();
        assert_eq!(lit, [3 * 5 + 1]);
        assert_eq!(moved[3 * 5 + 1], 7.0);
        // Shifting an all-ones 3×3 image by (−1, 1) leaves a 2×2 block of ones.
        let ones = Array1::ones(9);
        let mut out = Array1::zeros(9);
        shift_image(ones.view(), out.view_mut(), (3, 3), (-1, 1));
        assert_eq!(out.to_vec(), [0., 1., 1., 0., 1., 1., 0., 0., 0.]);
    }

    #[test]
    fn each_sample_is_shifted_by_its_own_first_two_draws() {
        let src = Array2::ones((6, 9));
        let shift = Augmentation {
            gaussian_noise: 0.0,
            shift: 1,
        };
        let out = augmented(&src, shift, Some((3, 3)), 11);
        let mut rng = stream(11, Purpose::Augmentation(0));
        for row in out.rows() {
            let dy: i64 = rng.random_range(-1..=1);
            let dx: i64 = rng.random_range(-1..=1);
            let kept = (3 - dy.unsigned_abs()) * (3 - dx.unsigned_abs());
            assert_eq!(row.sum(), kept as f32);
        }
    }

    #[test]
    fn shifts_cover_the_whole_range_and_no_more() {
        let mut image = Array2::zeros((400, 25));
        image.column_mut(12).fill(1.0); // the centre of a 5×5 image
        let shift = Augmentation {
            gaussian_noise: 0.0,
            shift: 2,
        };
        let out = augmented(&image, shift, Some((5, 5)), 3);
        let mut seen = [[false; 5]; 5];
        for row in out.rows() {
            let lit = row.iter().position(|&v| v == 1.0).unwrap();
            seen[lit / 5][lit % 5] = true;
        }
        assert!(seen.iter().flatten().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn noise_has_mean_zero_and_the_requested_std() {
        // 200 000 draws: the standard error of the mean is 0.5/√200000 ≈ 0.0011.
        let src = Array2::from_elem((200, 1000), 3.0);
        let noisy = Augmentation {
            gaussian_noise: 0.5,
            shift: 0,
        };
        let out = augmented(&src, noisy, None, 5);
        let n = out.len() as f64;
        let mean = out.iter().map(|&v| f64::from(v) - 3.0).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&v| (f64::from(v) - 3.0 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.005, "std {}", var.sqrt());
    }

    #[test]
    fn the_same_seed_gives_the_same_batch_and_another_seed_another() {
        let src = ramp_batch(8, 16);
        let both = Augmentation {
            gaussian_noise: 0.1,
            shift: 1,
        };
        let first = augmented(&src, both, Some((4, 4)), 9);
        assert_eq!(first, augmented(&src, both, Some((4, 4)), 9));
        assert_ne!(first, augmented(&src, both, Some((4, 4)), 10));
    }

    #[test]
    fn mismatched_buffers_and_image_shapes_are_errors() {
        let src = ramp_batch(2, 16);
        let mut dst = Array2::zeros((3, 16));
        let mut rng = stream(0, Purpose::Augmentation(0));
        let shift = Augmentation {
            gaussian_noise: 0.0,
            shift: 1,
        };
        assert!(matches!(
            augment_batch(src.view(), dst.view_mut(), &shift, None, &mut rng),
            Err(AugmentError::ShapeMismatch { .. })
        ));
        let mut dst = Array2::zeros((2, 16));
        assert_eq!(
            augment_batch(src.view(), dst.view_mut(), &shift, Some((3, 5)), &mut rng),
            Err(AugmentError::ImageShape {
                height: 3,
                width: 5,
                features: 16
            })
        );
    }
}
