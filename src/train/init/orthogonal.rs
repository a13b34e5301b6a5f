//! The orthogonal initializer (K3 `initializers/random_initializers.py` `Orthogonal`; Saxe et al.
//! 2014).
//!
//! For a tensor of shape `(…, cols)` with `rows = Π shape[..-1]`: draw a standard-normal matrix
//! `A` of shape `(max(rows, cols), min(rows, cols))`, factor `A = QR` (reduced QR, faer's
//! Householder QR), flip each column of `Q` by `sign(R_jj)` so the result is uniformly (Haar)
//! distributed rather than biased by the QR's sign convention, transpose when `rows < cols`,
//! and multiply by `gain`. A tall result has orthonormal columns (`QᵀQ = I`), a wide one
//! orthonormal rows (`QQᵀ = I`).
//!
//! The normal matrix is drawn and factored in f64 and rounded to f32 at the end, so
//! orthogonality holds to f32 rounding. `sign(0)` would zero a column in Keras; a zero diagonal
//! of `R` has probability zero for a normal matrix, and we take it as +1 to keep `Q` orthogonal.

use faer::Mat;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::InitError;

/// Fills the row-major `values` of a tensor of `shape` (rank ≥ 2) with `gain` times a random
/// (semi-)orthogonal matrix of shape `(Π shape[..-1], shape[-1])`.
pub fn fill(
    values: &mut [f32],
    shape: &[usize],
    gain: f32,
    rng: &mut ChaCha8Rng,
) -> Result<(), InitError> {
    let Some((&cols, leading)) = shape.split_last().filter(|_| shape.len() >= 2) else {
        return Err(InitError::OrthogonalNeedsMatrix {
            shape: shape.to_vec(),
        });
    };
    let rows: usize = leading.iter().product();
    if values.is_empty() {
        return Ok(());
    }
    let tall_rows = rows.max(cols);
    let tall_cols = rows.min(cols);

    // Draw row by row so the stream order does not depend on faer's storage order.
    let draws: Vec<f64> = (0..tall_rows * tall_cols)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    let normal = Mat::<f64>::from_fn(tall_rows, tall_cols, |i, j| draws[i * tall_cols + j]);
    let qr = normal.qr();
    let q = qr.compute_thin_Q();
    let r = qr.thin_R();
    let signs: Vec<f64> = (0..tall_cols)
        .map(|j| if r[(j, j)] < 0.0 { -1.0 } else { 1.0 })
        .collect();

    let gain = f64::from(gain);
    for i in 0..rows {
        for j in 0..cols {
            // q is (tall_rows × tall_cols); a wide result is its transpose.
            let entry = if rows >= cols {
                q[(i, j)] * signs[j]
            } else {
                q[(j, i)] * signs[i]
            };
            values[i * cols + j] = (gain * entry) as f32;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Initializer;
    use crate::train::rng::{Purpose, stream};

    /// The largest |(MᵀM − I)_ij| for the row-major `rows × cols` matrix `m` (columns compared).
    fn worst_column_gram_error(m: &[f32], rows: usize, cols: usize, gain: f64) -> f64 {
        let mut worst = 0.0f64;
        for a in 0..cols {
            for b in 0..cols {
                let dot: f64 = (0..rows)
                    .map(|i| f64::from(m[i * cols + a]) * f64::from(m[i * cols + b]))
                    .sum();
                let expected = if a == b { gain * gain } else { 0.0 };
                worst = worst.max((dot - expected).abs());
            }
        }
        worst
    }

    fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0.0; m.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        t
    }

    #[test]
    fn a_tall_kernel_has_orthonormal_columns() {
        let mut rng = stream(3, Purpose::Init);
        let kernel = Initializer::ORTHOGONAL.tensor(&[64, 16], &mut rng).unwrap();
        // f32 rounding of 64-term dot products: a few 1e-7.
        assert!(worst_column_gram_error(&kernel, 64, 16, 1.0) < 1e-5);
    }

    #[test]
    fn a_wide_kernel_has_orthonormal_rows() {
        let mut rng = stream(3, Purpose::Init);
        let kernel = Initializer::ORTHOGONAL.tensor(&[10, 40], &mut rng).unwrap();
        let transposed = transpose(&kernel, 10, 40);
        assert!(worst_column_gram_error(&transposed, 40, 10, 1.0) < 1e-5);
    }

    #[test]
    fn a_square_kernel_is_orthogonal_both_ways_and_scaled_by_the_gain() {
        let mut rng = stream(9, Purpose::Init);
        let kernel = Initializer::Orthogonal { gain: 2.0 }
            .tensor(&[12, 12], &mut rng)
            .unwrap();
        assert!(worst_column_gram_error(&kernel, 12, 12, 2.0) < 1e-5);
        let transposed = transpose(&kernel, 12, 12);
        assert!(worst_column_gram_error(&transposed, 12, 12, 2.0) < 1e-5);
    }

    #[test]
    fn higher_ranks_flatten_all_but_the_last_axis_into_rows() {
        let mut rng = stream(9, Purpose::Init);
        let kernel = Initializer::ORTHOGONAL
            .tensor(&[2, 3, 4], &mut rng)
            .unwrap();
        assert!(worst_column_gram_error(&kernel, 6, 4, 1.0) < 1e-5);
    }

    #[test]
    fn a_vector_cannot_be_orthogonal() {
        let mut rng = stream(9, Purpose::Init);
        assert!(matches!(
            Initializer::ORTHOGONAL.tensor(&[5], &mut rng),
            Err(super::InitError::OrthogonalNeedsMatrix { .. })
        ));
    }

    #[test]
    fn sign_correction_makes_entries_symmetric_about_zero() {
        // Householder QR gives R₀₀ = −sign(A₀₀)·‖A₋₀‖, so without q *= sign(diag(r)) the
        // entry Q₀₀ = A₀₀/R₀₀ would be negative in every draw. With it, Q₀₀ has A₀₀'s sign,
        // positive half the time: over 400 draws the count has std 10, so [140, 260] is a
        // six-sigma band.
        let mut rng = stream(21, Purpose::Init);
        let positives = (0..400)
            .filter(|_| Initializer::ORTHOGONAL.tensor(&[4, 4], &mut rng).unwrap()[0] > 0.0)
            .count();
        assert!((140..=260).contains(&positives), "{positives}");
    }
}
