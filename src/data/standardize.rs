//! Standardization: `x' = (x − mean) / std` per feature, with statistics fitted on the training
//! rows only and then applied unchanged to validation rows, predictions and exports.
//!
//! This follows scikit-learn's `StandardScaler` (sklearn `preprocessing/_data.py`): the
//! population variance (ddof 0), accumulated here in `f64` by two passes (mean, then squared
//! deviations), and a near-constant feature gets scale 1 instead of a tiny divisor. "Near
//! constant" is sklearn's `_is_constant_feature`:
//! `var ≤ n·ε·var + (n·mean·ε)²` with `ε = f64::EPSILON`, so an exactly constant column, whose
//! variance is 0, always qualifies. The statistics are stored as `f32` and applied in `f32`.

use ndarray::{Array2, ArrayView2, Axis};

/// Per-feature statistics; index = feature column.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    /// Population standard deviation, or 1 for a (near-)constant feature.
    pub std: Vec<f32>,
}

/// The matrix or row has a different number of features than the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("standardization was fitted on {expected} features but the data has {found}")]
pub struct WidthMismatch {
    pub expected: usize,
    pub found: usize,
}

impl Standardizer {
    /// Fits mean and std on `features` (`rows × features`). With no rows, mean 0 and std 1.
    pub fn fit(features: ArrayView2<'_, f32>) -> Standardizer {
        let rows = features.nrows();
        let mut mean = Vec::with_capacity(features.ncols());
        let mut std = Vec::with_capacity(features.ncols());
        for column in features.axis_iter(Axis(1)) {
            if rows == 0 {
                mean.push(0.0);
                std.push(1.0);
                continue;
            }
            let n = rows as f64;
            let column_mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let variance = column
                .iter()
                .map(|&v| (f64::from(v) - column_mean).powi(2))
                .sum::<f64>()
                / n;
            let eps = f64::EPSILON;
            let constant = variance <= n * eps * variance + (n * column_mean * eps).powi(2);
            mean.push(column_mean as f32);
            std.push(if constant {
                1.0
            } else {
                variance.sqrt() as f32
            });
        }
        Standardizer { mean, std }
    }

    /// Statistics that change nothing: mean 0 and std 1 for `features` columns.
    pub fn identity(features: usize) -> Standardizer {
        Standardizer {
            mean: vec![0.0; features],
            std: vec![1.0; features],
        }
    }

    /// Number of features the statistics describe.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Standardizes every row of `features` in place.
    pub fn apply(&self, features: &mut Array2<f32>) -> Result<(), WidthMismatch> {
        self.check(features.ncols())?;
        for mut row in features.rows_mut() {
            for ((value, &mean), &std) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *value = (*value - mean) / std;
            }
        }
        Ok(())
    }

    /// Standardizes one row in place.
    pub fn apply_row(&self, row: &mut [f32]) -> Result<(), WidthMismatch> {
        self.check(row.len())?;
        for ((value, &mean), &std) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *value = (*value - mean) / std;
        }
        Ok(())
    }

    fn check(&self, found: usize) -> Result<(), WidthMismatch> {
        if found == self.width() {
            Ok(())
        } else {
            Err(WidthMismatch {
                expected: self.width(),
                found,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn statistics_are_the_population_mean_and_std_of_each_column() {
        // Column 0: 1, 2, 3, 6 → mean 3, squared deviations 4+1+0+9 = 14, var 3.5.
        // Column 1: 10, 10, 10, 10 → constant, std 1.
        // Column 2: -1, 1, -1, 1 → mean 0, var 1.
        let x = array![
            [1.0, 10.0, -1.0],
            [2.0, 10.0, 1.0],
            [3.0, 10.0, -1.0],
            [6.0, 10.0, 1.0]
        ];
        let standardizer = Standardizer::fit(x.view());
        assert_eq!(standardizer.mean, [3.0, 10.0, 0.0]);
        assert_eq!(standardizer.std, [3.5f64.sqrt() as f32, 1.0, 1.0]);
    }

    #[test]
    fn applying_gives_zero_mean_unit_variance_and_leaves_constants_centred() {
        let mut x = array![[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [6.0, 10.0]];
        let standardizer = Standardizer::fit(x.view());
        standardizer.apply(&mut x).unwrap();
        let s = 3.5f32.sqrt();
        let expected = array![[-2.0 / s, 0.0], [-1.0 / s, 0.0], [0.0, 0.0], [3.0 / s, 0.0]];
        for (got, want) in x.iter().zip(expected.iter()) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        let mut row = [3.0, 12.0];
        standardizer.apply_row(&mut row).unwrap();
        assert_eq!(row, [0.0, 2.0]);
    }

    #[test]
    fn a_column_constant_up_to_rounding_counts_as_constant() {
        // 0.1 as f32 repeated: variance exactly 0 in f64, so std is 1 as in sklearn.
        let x = Array2::from_elem((1000, 1), 0.1f32);
        assert_eq!(Standardizer::fit(x.view()).std, [1.0]);
        // A genuinely varying column far from zero keeps its std.
        let y = array![[1000.0f32], [1000.5]];
        assert_eq!(Standardizer::fit(y.view()).std, [0.25]);
    }

    #[test]
    fn statistics_are_accumulated_in_double_precision() {
        // Large offsets lose nothing in f64: mean 1e7 + 0.5, std 0.5.
        let x = array![[1e7f32], [1e7 + 1.0], [1e7], [1e7 + 1.0]];
        let standardizer = Standardizer::fit(x.view());
        assert_eq!(standardizer.mean, [(1e7f64 + 0.5) as f32]);
        assert_eq!(standardizer.std, [0.5]);
    }

    #[test]
    fn a_width_mismatch_is_an_error_not_a_panic() {
        let standardizer = Standardizer::identity(3);
        let mut x = Array2::zeros((2, 4));
        assert_eq!(
            standardizer.apply(&mut x),
            Err(WidthMismatch {
                expected: 3,
                found: 4
            })
        );
        assert!(standardizer.apply_row(&mut [0.0; 2]).is_err());
    }

    #[test]
    fn fitting_no_rows_gives_the_identity() {
        let x = Array2::<f32>::zeros((0, 2));
        assert_eq!(Standardizer::fit(x.view()), Standardizer::identity(2));
    }
}
