//! Cutting a validation part off a dataset, before any training or shuffling.
//!
//! Two rules:
//! - [`SplitKind::Tail`] is Keras's `validation_split` exactly (K3
//!   `trainers/data_adapters/array_slicing.py` `train_validation_split`):
//!   `split_at = floor(N · (1.0 − v))`, with `1.0 − v` computed in `f64` as written; training is
//!   rows `[0, split_at)` and validation rows `[split_at, N)`, and a split that leaves either
//!   part empty is an error.
//! - [`SplitKind::Stratified`] (the default, because the built-in files are sorted by class):
//!   for each class `c` with `n_c` rows, `k_c = round(n_c · v)` rows (halves round away from
//!   zero), capped at `n_c − 1` so that every class keeps at least one training row, are
//!   chosen uniformly at random from the `Purpose::Split` stream of the seed (a partial
//!   Fisher–Yates over the class's rows, classes in id order). For regression targets the
//!   same draw runs over all rows as one group. Both parts keep the original relative order of
//!   their rows.

use std::fmt;

use rand::RngExt;

use super::{Dataset, Targets};
use crate::train::rng::{self, Purpose};

/// How the validation rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitKind {
    /// A seeded random choice of `round(n_c · v)` rows per class.
    #[default]
    Stratified,
    /// Keras's rule: the last fraction of the rows, unshuffled.
    Tail,
}

/// Why a dataset could not be split.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// The fraction is not strictly between 0 and 1.
    #[error("validation_split must be strictly between 0 and 1, got {fraction}")]
    FractionOutOfRange { fraction: f64 },
    /// The dataset's targets describe a different number of rows than its features.
    #[error("the dataset has {rows} feature rows but {targets} targets")]
    Inconsistent { rows: usize, targets: usize },
    /// One part would have no rows.
    #[error(
        "validation_split {fraction} of {rows} rows leaves {training} training and {validation} \
         validation rows; both parts need at least one"
    )]
    EmptyPart {
        fraction: f64,
        rows: usize,
        training: usize,
        validation: usize,
    },
}

impl fmt::Display for SplitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitKind::Stratified => "stratified",
            SplitKind::Tail => "tail",
        })
    }
}

/// Splits `dataset` into `(training, validation)` by `kind`; see the module docs.
pub fn split(
    dataset: &Dataset,
    fraction: f64,
    kind: SplitKind,
    seed: u64,
) -> Result<(Dataset, Dataset), SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::FractionOutOfRange { fraction });
    }
    let rows = dataset.rows();
    if dataset.targets.len() != rows {
        return Err(SplitError::Inconsistent {
            rows,
            targets: dataset.targets.len(),
        });
    }
    let in_validation = match kind {
        SplitKind::Tail => tail(rows, fraction),
        SplitKind::Stratified => stratified(&dataset.targets, rows, fraction, seed),
    };
    let (training, validation): (Vec<usize>, Vec<usize>) =
        (0..rows).partition(|&row| !in_validation[row]);
    if training.is_empty() || validation.is_empty() {
        return Err(SplitError::EmptyPart {
            fraction,
            rows,
            training: training.len(),
            validation: validation.len(),
        });
    }
    Ok((
        dataset.select_rows(&training),
        dataset.select_rows(&validation),
    ))
}

/// Keras's rule: rows at and after `floor(N · (1.0 − v))` are validation rows.
fn tail(rows: usize, fraction: f64) -> Vec<bool> {
    let split_at = (rows as f64 * (1.0 - fraction)).floor() as usize;
    (0..rows).map(|row| row >= split_at).collect()
}

/// A seeded per-class choice of validation rows.
fn stratified(targets: &Targets, rows: usize, fraction: f64, seed: u64) -> Vec<bool> {
    let groups: Vec<Vec<usize>> = match targets {
        Targets::Classes { labels, n_classes } => {
            let mut groups = vec![Vec::new(); *n_classes];
            for (row, &label) in labels.iter().enumerate() {
                if let Some(group) = groups.get_mut(label as usize) {
                    group.push(row);
                }
            }
            groups
        }
        Targets::Values(_) => vec![(0..rows).collect()],
    };
    let mut rng = rng::stream(seed, Purpose::Split);
    let mut in_validation = vec![false; rows];
    for mut group in groups {
        let size = group.len();
        let wanted = (size as f64 * fraction).round() as usize;
        let chosen = wanted.min(size.saturating_sub(1));
        // Partial Fisher–Yates: after step i, group[..=i] is a uniform draw without
        // replacement.
        for i in 0..chosen {
            let j = rng.random_range(i..size);
            group.swap(i, j);
            in_validation[group[i]] = true;
        }
    }
    in_validation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::builtin;
    use ndarray::Array2;

    /// `x = y = 0..n` as a one-feature regression dataset, the §9 example.
    fn ramp(n: usize) -> Dataset {
        let values = Array2::from_shape_fn((n, 1), |(row, _)| row as f32);
        Dataset {
            features: values.clone(),
            targets: Targets::Values(values),
            image_shape: None,
            feature_names: vec!["x".into()],
            class_names: None,
        }
    }

    fn column(dataset: &Dataset) -> Vec<f32> {
        dataset.features.column(0).to_vec()
    }

    fn class_counts(dataset: &Dataset) -> Vec<usize> {
        let Targets::Classes { labels, n_classes } = &dataset.targets else {
            panic!("classes expected");
        };
        let mut counts = vec![0; *n_classes];
        for &label in labels {
            counts[label as usize] += 1;
        }
        counts
    }

    #[test]
    fn tail_split_of_ten_rows_at_one_fifth_validates_on_rows_eight_and_nine() {
        // NUMERICS.md §9: validation_split=0.2 on x=y=0..9 gives val_loss 72.5 = mean(8², 9²).
        let (training, validation) = split(&ramp(10), 0.2, SplitKind::Tail, 0).unwrap();
        assert_eq!(column(&training), [0., 1., 2., 3., 4., 5., 6., 7.]);
        assert_eq!(column(&validation), [8., 9.]);
    }

    #[test]
    fn tail_split_uses_keras_floor_of_one_minus_v_in_double() {
        // 1.0 - 0.7 = 0.30000000000000004, so 10 · it floors to 3, not 2.
        let (training, validation) = split(&ramp(10), 0.7, SplitKind::Tail, 0).unwrap();
        assert_eq!((training.rows(), validation.rows()), (3, 7));
        // 1.0 - 0.9 = 0.09999999999999998, so 10 · it floors to 0: Keras raises.
        let error = split(&ramp(10), 0.9, SplitKind::Tail, 0).unwrap_err();
        assert!(matches!(error, SplitError::EmptyPart { training: 0, .. }));
        // 3 · 0.9 = 2.7 floors to 2: one validation row.
        let (_, validation) = split(&ramp(3), 0.1, SplitKind::Tail, 0).unwrap();
        assert_eq!(column(&validation), [2.]);
        // Only a fraction so small that 1.0 − v rounds to 1.0 leaves no validation rows.
        let error = split(&ramp(3), 1e-17, SplitKind::Tail, 0).unwrap_err();
        assert!(matches!(error, SplitError::EmptyPart { validation: 0, .. }));
    }

    #[test]
    fn fractions_outside_the_open_unit_interval_are_rejected() {
        for fraction in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                split(&ramp(10), fraction, SplitKind::Stratified, 0),
                Err(SplitError::FractionOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn stratified_iris_at_three_tenths_validates_on_fifteen_of_each_class() {
        let iris = builtin::load("iris").unwrap();
        let (training, validation) = split(&iris, 0.3, SplitKind::Stratified, 7).unwrap();
        assert_eq!(class_counts(&validation), [15, 15, 15]);
        assert_eq!(class_counts(&training), [35, 35, 35]);
        assert_eq!(training.class_names, iris.class_names);
    }

    #[test]
    fn stratified_split_is_the_same_for_a_seed_and_differs_between_seeds() {
        let iris = builtin::load("iris").unwrap();
        let first = split(&iris, 0.3, SplitKind::Stratified, 7).unwrap();
        let again = split(&iris, 0.3, SplitKind::Stratified, 7).unwrap();
        let other = split(&iris, 0.3, SplitKind::Stratified, 8).unwrap();
        assert_eq!(first, again);
        assert_ne!(first.1.features, other.1.features);
    }

    #[test]
    fn both_parts_keep_the_original_row_order() {
        let (training, validation) = split(&ramp(40), 0.25, SplitKind::Stratified, 3).unwrap();
        let mut all = column(&training);
        all.extend(column(&validation));
        for part in [column(&training), column(&validation)] {
            assert!(part.windows(2).all(|pair| pair[0] < pair[1]));
        }
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..40).map(|v| v as f32).collect::<Vec<_>>());
        // Regression falls back to one group: round(40 · 0.25) = 10 random rows.
        assert_eq!(validation.rows(), 10);
    }

    #[test]
    fn every_class_keeps_a_training_row_and_rounding_is_per_class() {
        // Classes of 1, 2 and 5 rows at v = 0.5: round(0.5) = 1 capped to 0, round(1) = 1,
        // round(2.5) = 3 (halves away from zero).
        let labels = vec![0, 1, 1, 2, 2, 2, 2, 2];
        let dataset = Dataset {
            features: Array2::zeros((8, 1)),
            targets: Targets::Classes {
                labels,
                n_classes: 3,
            },
            image_shape: None,
            feature_names: vec!["x".into()],
            class_names: None,
        };
        let (training, validation) = split(&dataset, 0.5, SplitKind::Stratified, 1).unwrap();
        assert_eq!(class_counts(&validation), [0, 1, 3]);
        assert_eq!(class_counts(&training), [1, 1, 2]);
    }

    #[test]
    fn a_dataset_whose_targets_and_features_disagree_is_an_error_not_a_panic() {
        let mut dataset = ramp(10);
        dataset.targets = Targets::Classes {
            labels: vec![0; 12],
            n_classes: 1,
        };
        assert_eq!(
            split(&dataset, 0.2, SplitKind::Stratified, 0),
            Err(SplitError::Inconsistent {
                rows: 10,
                targets: 12
            })
        );
    }

    #[test]
    fn a_stratified_split_that_chooses_nothing_is_an_error() {
        let error = split(&ramp(4), 0.1, SplitKind::Stratified, 0).unwrap_err();
        assert!(matches!(error, SplitError::EmptyPart { validation: 0, .. }));
    }
}
