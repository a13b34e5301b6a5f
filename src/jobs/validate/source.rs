//! Shapes of data sources, inline rows turned into a `Dataset`, and the sizes of a split.
//!
//! Built-in and uploaded sources are described by the [`DataCatalog`]; generated sets from
//! their parameters; inline data from its rows, where the loss decides whether labels are
//! class ids (cross-entropy losses) or regression targets (`mean_squared_error`).

use ndarray::Array2;

use super::SourcePlan;
use crate::data::{Dataset, Targets};
use crate::jobs::catalog::{DataCatalog, DataShape, TargetShape};
use crate::jobs::spec::data::{DataSource, InlineData, Label, MAX_INLINE_CLASSES, SplitRule};
use crate::jobs::spec::read::{Errors, item, join};

/// Largest class id accepted in inline labels: below the data layer's 1000 classes.
const MAX_CLASS: f64 = (MAX_INLINE_CLASSES - 1) as f64;

/// A source's shape, and what the data layer must load for it.
pub struct Described {
    pub shape: DataShape,
    pub plan: SourcePlan,
}

/// Describes `source` at `path`, or returns `None` after recording why it cannot be.
/// `classification` is `Some(true)` for cross-entropy losses, `Some(false)` for mean squared
/// error, `None` when the loss is unknown (inline labels are then classes if they look like it).
pub fn describe(
    source: &DataSource,
    path: &str,
    classification: Option<bool>,
    catalog: &dyn DataCatalog,
    errors: &mut Errors,
) -> Option<Described> {
    match source {
        DataSource::Builtin(builtin) => catalog_shape(source, &join(path, "name"), catalog, errors)
            .map(|shape| Described {
                shape,
                plan: SourcePlan::Builtin(*builtin),
            }),
        DataSource::Dataset { id } => catalog_shape(source, &join(path, "id"), catalog, errors)
            .map(|shape| Described {
                shape,
                plan: SourcePlan::Dataset { id: id.clone() },
            }),
        DataSource::Generated(generated) => Some(Described {
            shape: DataShape {
                rows: generated.samples(),
                features: generated.features(),
                targets: TargetShape::Classes {
                    n_classes: generated.classes(),
                    class_counts: generated.class_counts(),
                },
                image_shape: None,
            },
            plan: SourcePlan::Generated(*generated),
        }),
        DataSource::Inline(inline) => {
            let dataset = inline_dataset(inline, path, classification, errors)?;
            let targets = match &dataset.targets {
                Targets::Classes { labels, n_classes } => {
                    let mut class_counts = vec![0; *n_classes];
                    for &label in labels {
                        class_counts[label as usize] += 1;
                    }
                    TargetShape::Classes {
                        n_classes: *n_classes,
                        class_counts,
                    }
                }
                Targets::Values(values) => TargetShape::Values {
                    outputs: values.ncols(),
                },
            };
            let shape = DataShape {
                rows: dataset.features.nrows(),
                features: dataset.features.ncols(),
                targets,
                image_shape: None,
            };
            Some(Described {
                shape,
                plan: SourcePlan::Inline(dataset),
            })
        }
    }
}

/// The catalog's shape for `source`; its refusal is recorded at `path`.
fn catalog_shape(
    source: &DataSource,
    path: &str,
    catalog: &dyn DataCatalog,
    errors: &mut Errors,
) -> Option<DataShape> {
    catalog
        .describe(source)
        .map_err(|message| errors.add(path, message, None))
        .ok()
}

/// Inline rows as a dataset, the labels read as the loss needs them.
fn inline_dataset(
    inline: &InlineData,
    path: &str,
    classification: Option<bool>,
    errors: &mut Errors,
) -> Option<Dataset> {
    let targets = inline_targets(inline, path, classification, errors)?;
    let rows = inline.features.len();
    let width = inline.features.first().map_or(0, Vec::len);
    let cells: Vec<f32> = inline
        .features
        .iter()
        .flatten()
        .map(|&x| x as f32)
        .collect();
    let Ok(features) = Array2::from_shape_vec((rows, width), cells) else {
        errors.add(
            join(path, "features"),
            "rows must all have the same number of features",
            None,
        );
        return None;
    };
    Some(Dataset {
        features,
        targets,
        image_shape: None,
        feature_names: (0..width).map(|j| format!("x{}", j + 1)).collect(),
        class_names: None,
    })
}

fn inline_targets(
    inline: &InlineData,
    path: &str,
    classification: Option<bool>,
    errors: &mut Errors,
) -> Option<Targets> {
    let labels_path = join(path, "labels");
    let is_class = |label: &Label| match label {
        Label::Number(x) => x.fract() == 0.0 && (0.0..=MAX_CLASS).contains(x),
        Label::Vector(_) => false,
    };
    let classification = classification.unwrap_or_else(|| inline.labels.iter().all(is_class));
    if !classification {
        let outputs = match inline.labels.first() {
            Some(Label::Vector(values)) => values.len(),
            _ => 1,
        };
        if outputs == 0 {
            errors.add(
                item(&labels_path, 0),
                "must have at least one target value",
                None,
            );
            return None;
        }
        let cells: Vec<f32> = inline
            .labels
            .iter()
            .flat_map(|label| match label {
                Label::Number(x) => vec![*x as f32],
                Label::Vector(values) => values.iter().map(|&x| x as f32).collect(),
            })
            .collect();
        return Array2::from_shape_vec((inline.labels.len(), outputs), cells)
            .ok()
            .map(Targets::Values);
    }
    let before = errors.count();
    let mut labels = Vec::with_capacity(inline.labels.len());
    for (index, label) in inline.labels.iter().enumerate() {
        if is_class(label) {
            if let Label::Number(x) = label {
                labels.push(*x as u32);
            }
        } else {
            errors.add(
                item(&labels_path, index),
                format!(
                    "must be a class id (an integer in [0, {MAX_CLASS}]) for a cross-entropy loss"
                ),
                None,
            );
        }
    }
    let largest = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |max| max as usize + 1);
    let n_classes = inline.classes.unwrap_or(largest);
    for (index, &label) in labels.iter().enumerate() {
        if label as usize >= n_classes {
            errors.add(
                item(&labels_path, index),
                format!("must be a class in [0, {n_classes}) since data.classes is {n_classes}, got {label}"),
                Some(&serde_json::json!(label)),
            );
        }
    }
    (errors.count() == before).then_some(Targets::Classes { labels, n_classes })
}

/// Rows for training and for validation when `fraction` of `rows` is held out.
///
/// - `tail`: Keras's `validation_split` (K3 `trainers/data_adapters/array_slicing.py`
///   `train_validation_split`): `split_at = ⌊N·(1 − v)⌋` rows train, computed in f64 as written.
/// - `stratified`: per class `round(n_c·v)` rows (half away from zero), at most `n_c − 1` so
///   that every class keeps a training row, go to validation; real-valued targets count as a
///   single class.
///
/// The data layer applies the same rule when it cuts the rows (`data::split`).
pub fn split_sizes(
    rows: usize,
    targets: &TargetShape,
    fraction: f64,
    rule: SplitRule,
) -> (usize, usize) {
    match rule {
        SplitRule::Tail => {
            let n_train = ((rows as f64) * (1.0 - fraction)).floor() as usize;
            (n_train, rows - n_train.min(rows))
        }
        SplitRule::Stratified => {
            let held_out =
                |n: usize| (((n as f64) * fraction).round() as usize).min(n.saturating_sub(1));
            let n_validation = match targets {
                TargetShape::Classes { class_counts, .. } => {
                    class_counts.iter().map(|&n| held_out(n)).sum()
                }
                TargetShape::Values { .. } => held_out(rows),
            }
            .min(rows);
            (rows - n_validation, n_validation)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iris() -> TargetShape {
        TargetShape::Classes {
            n_classes: 3,
            class_counts: vec![50, 50, 50],
        }
    }

    #[test]
    fn split_sizes_follow_keras_tail_rule_and_the_stratified_rule() {
        // (rows, targets, fraction, rule) → (train, validation)
        let cases = [
            (150, iris(), 0.3, SplitRule::Tail, (105, 45)),
            // 1 − 0.9 is 0.09999999999999998 in f64: Keras keeps ⌊100·(1 − 0.9)⌋ = 9 rows, not 10.
            (
                100,
                TargetShape::Values { outputs: 1 },
                0.9,
                SplitRule::Tail,
                (9, 91),
            ),
            (150, iris(), 0.3, SplitRule::Stratified, (105, 45)),
            (150, iris(), 0.2, SplitRule::Tail, (120, 30)),
            (
                10,
                TargetShape::Values { outputs: 1 },
                0.2,
                SplitRule::Tail,
                (8, 2),
            ),
            (
                10,
                TargetShape::Values { outputs: 1 },
                0.25,
                SplitRule::Stratified,
                (7, 3),
            ),
            // A class of one row keeps it for training: round(1·0.6) = 1 is capped at 0.
            (
                4,
                TargetShape::Classes {
                    n_classes: 2,
                    class_counts: vec![3, 1],
                },
                0.6,
                SplitRule::Stratified,
                (2, 2),
            ),
            // wine 59/71/48 at 0.25: 14.75→15, 17.75→18, 12→12.
            (
                178,
                TargetShape::Classes {
                    n_classes: 3,
                    class_counts: vec![59, 71, 48],
                },
                0.25,
                SplitRule::Stratified,
                (133, 45),
            ),
        ];
        for (rows, targets, fraction, rule, expected) in cases {
            assert_eq!(
                split_sizes(rows, &targets, fraction, rule),
                expected,
                "{rows} {fraction} {rule:?}"
            );
        }
    }
}
