//! Inline data written in the job spec as JSON arrays: [`Dataset::from_rows`].
//!
//! The same checks as a CSV upload — rectangular, finite, `f32`-representable, non-empty — with
//! errors located by row and column index, so the API can point at `data.features[3][1]`.
//! Labels follow the same rule as a CSV label column ([`super::labels`]).

use std::fmt;

use ndarray::Array2;

use super::labels::{self, LabelRule};
use super::value::{self, ValueRule};
use super::{Dataset, Targets};

/// The label array of inline data, as the JSON carried it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Labels<'a> {
    /// Numbers: class ids if all are non-negative integers, else regression targets.
    Numbers(&'a [f64]),
    /// Class names, sorted by bytes into class ids.
    Names(&'a [String]),
    /// One vector of regression targets per row (several outputs).
    Vectors(&'a [Vec<f64>]),
}

/// Where in the inline data an error lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsLocation {
    /// The `features` array as a whole.
    Features,
    /// `features[row]`.
    FeatureRow { row: usize },
    /// `features[row][column]`.
    Feature { row: usize, column: usize },
    /// The `labels` array as a whole.
    Labels,
    /// `labels[row]`.
    Label { row: usize },
    /// `labels[row][column]`, for vector labels.
    LabelValue { row: usize, column: usize },
}

impl RowsLocation {
    /// The location as a JSON path below the data object: `features[3][1]`, `labels[2]`.
    pub fn path(&self) -> String {
        match *self {
            RowsLocation::Features => "features".to_string(),
            RowsLocation::FeatureRow { row } => format!("features[{row}]"),
            RowsLocation::Feature { row, column } => format!("features[{row}][{column}]"),
            RowsLocation::Labels => "labels".to_string(),
            RowsLocation::Label { row } => format!("labels[{row}]"),
            RowsLocation::LabelValue { row, column } => format!("labels[{row}][{column}]"),
        }
    }
}

/// Which rule inline data broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsRule {
    /// No rows at all.
    NoRows,
    /// A row with no values.
    EmptyRow,
    /// A row whose length differs from row 0's.
    RaggedRow { expected: usize, found: usize },
    /// A different number of labels than feature rows.
    LabelCount { expected: usize, found: usize },
    /// A feature value that is not finite or not `f32`-representable.
    Feature(ValueRule),
    /// A label the label rule rejects.
    Label(LabelRule),
}

impl RowsRule {
    /// A stable machine-readable name for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            RowsRule::NoRows => "no_rows",
            RowsRule::EmptyRow => "empty_row",
            RowsRule::RaggedRow { .. } => "ragged_row",
            RowsRule::LabelCount { .. } => "label_count",
            RowsRule::Feature(rule) => rule.code(),
            RowsRule::Label(rule) => rule.code(),
        }
    }
}

impl fmt::Display for RowsRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowsRule::NoRows => f.write_str("there are no rows"),
            RowsRule::EmptyRow => f.write_str("the row is empty"),
            RowsRule::RaggedRow { expected, found } => {
                write!(
                    f,
                    "the row has {found} values but the first row has {expected}"
                )
            }
            RowsRule::LabelCount { expected, found } => {
                write!(f, "there are {found} labels for {expected} feature rows")
            }
            RowsRule::Feature(rule) => rule.fmt(f),
            RowsRule::Label(rule) => rule.fmt(f),
        }
    }
}

/// Rejected inline data: where, which rule, and the offending value as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RowsError {
    pub location: RowsLocation,
    pub rule: RowsRule,
    pub value: Option<String>,
}

impl fmt::Display for RowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location.path(), self.rule)?;
        if let Some(value) = &self.value {
            write!(f, " (got {value})")?;
        }
        Ok(())
    }
}

impl Dataset {
    /// Builds a dataset from row-major features and their labels, checking every value.
    ///
    /// Feature names are `x0, x1, …`; there is no image shape. Integer labels may describe at
    /// most [`labels::MAX_CLASSES`] classes.
    pub fn from_rows(features: &[Vec<f64>], labels: Labels<'_>) -> Result<Dataset, RowsError> {
        let feature_matrix = matrix(features, |row, column| match column {
            Some(column) => RowsLocation::Feature { row, column },
            None => RowsLocation::FeatureRow { row },
        })
        .map_err(|mut error| {
            if error.rule == RowsRule::NoRows {
                error.location = RowsLocation::Features;
            }
            error
        })?;
        let rows = feature_matrix.nrows();
        let label_count = match labels {
            Labels::Numbers(values) => values.len(),
            Labels::Names(names) => names.len(),
            Labels::Vectors(vectors) => vectors.len(),
        };
        if label_count != rows {
            return Err(RowsError {
                location: RowsLocation::Labels,
                rule: RowsRule::LabelCount {
                    expected: rows,
                    found: label_count,
                },
                value: None,
            });
        }
        let (targets, class_names) = match labels {
            Labels::Numbers(values) => {
                let column =
                    labels::from_numbers(values, labels::MAX_CLASSES).map_err(label_error)?;
                (column.targets, column.class_names)
            }
            Labels::Names(names) => {
                let column = labels::from_names(names, labels::MAX_CLASSES).map_err(label_error)?;
                (column.targets, column.class_names)
            }
            Labels::Vectors(vectors) => {
                let values = matrix(vectors, |row, column| match column {
                    Some(column) => RowsLocation::LabelValue { row, column },
                    None => RowsLocation::Label { row },
                })?;
                (Targets::Values(values), None)
            }
        };
        Ok(Dataset {
            feature_names: (0..feature_matrix.ncols())
                .map(|column| format!("x{column}"))
                .collect(),
            features: feature_matrix,
            targets,
            image_shape: None,
            class_names,
        })
    }
}

/// Checks that `rows` is a non-empty rectangle of `f32`-representable finite numbers.
fn matrix(
    rows: &[Vec<f64>],
    locate: impl Fn(usize, Option<usize>) -> RowsLocation,
) -> Result<Array2<f32>, RowsError> {
    let Some(first) = rows.first() else {
        return Err(RowsError {
            location: locate(0, None),
            rule: RowsRule::NoRows,
            value: None,
        });
    };
    let width = first.len();
    let mut values = Vec::with_capacity(rows.len().saturating_mul(width));
    for (row_index, row) in rows.iter().enumerate() {
        if row.is_empty() {
            return Err(RowsError {
                location: locate(row_index, None),
                rule: RowsRule::EmptyRow,
                value: None,
            });
        }
        if row.len() != width {
            return Err(RowsError {
                location: locate(row_index, None),
                rule: RowsRule::RaggedRow {
                    expected: width,
                    found: row.len(),
                },
                value: None,
            });
        }
        for (column, &number) in row.iter().enumerate() {
            values.push(value::check(number).map_err(|rule| RowsError {
                location: locate(row_index, Some(column)),
                rule: RowsRule::Feature(rule),
                value: Some(number.to_string()),
            })?);
        }
    }
    Array2::from_shape_vec((rows.len(), width), values).map_err(|_| RowsError {
        location: locate(0, None),
        rule: RowsRule::RaggedRow {
            expected: width,
            found: 0,
        },
        value: None,
    })
}

fn label_error(error: labels::LabelError) -> RowsError {
    RowsError {
        location: RowsLocation::Label { row: error.index },
        rule: RowsRule::Label(error.rule),
        value: Some(error.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn rejection(features: &[Vec<f64>], labels: Labels<'_>) -> (String, &'static str) {
        let error = Dataset::from_rows(features, labels).expect_err("should be rejected");
        (error.location.path(), error.rule.code())
    }

    fn located(path: &str, code: &'static str) -> (String, &'static str) {
        (path.to_string(), code)
    }

    #[test]
    fn rows_and_integer_labels_make_a_classification_dataset() {
        let dataset = Dataset::from_rows(
            &[vec![0.0, 1.0], vec![2.0, 3.5]],
            Labels::Numbers(&[1.0, 0.0]),
        )
        .unwrap();
        assert_eq!(dataset.features, array![[0.0, 1.0], [2.0, 3.5]]);
        assert_eq!(
            dataset.targets,
            Targets::Classes {
                labels: vec![1, 0],
                n_classes: 2
            }
        );
        assert_eq!(dataset.feature_names, ["x0", "x1"]);
    }

    #[test]
    fn named_and_vector_labels_are_accepted() {
        let names = ["b".to_string(), "a".to_string()];
        let dataset = Dataset::from_rows(&[vec![0.0], vec![1.0]], Labels::Names(&names)).unwrap();
        assert_eq!(dataset.class_names, Some(vec!["a".into(), "b".into()]));
        let vectors = [vec![1.0, 2.0], vec![3.0, 4.0]];
        let dataset =
            Dataset::from_rows(&[vec![0.0], vec![1.0]], Labels::Vectors(&vectors)).unwrap();
        assert_eq!(
            dataset.targets,
            Targets::Values(array![[1.0, 2.0], [3.0, 4.0]])
        );
    }

    #[test]
    fn each_fault_is_located_by_its_json_path() {
        let two = Labels::Numbers(&[0.0, 1.0]);
        assert_eq!(
            rejection(&[], Labels::Numbers(&[])),
            located("features", "no_rows")
        );
        assert_eq!(
            rejection(&[vec![0.0, 1.0], vec![2.0]], two),
            located("features[1]", "ragged_row")
        );
        assert_eq!(
            rejection(&[vec![], vec![]], two),
            located("features[0]", "empty_row")
        );
        assert_eq!(
            rejection(&[vec![0.0, 1.0], vec![2.0, f64::NAN]], two),
            located("features[1][1]", "not_finite")
        );
        assert_eq!(
            rejection(&[vec![0.0, 1e300], vec![2.0, 1.0]], two),
            located("features[0][1]", "out_of_f32_range")
        );
        assert_eq!(
            rejection(&[vec![0.0]], two),
            located("labels", "label_count")
        );
        assert_eq!(
            rejection(
                &[vec![0.0], vec![1.0]],
                Labels::Numbers(&[0.5, f64::INFINITY])
            ),
            located("labels[1]", "not_finite")
        );
        let vectors = [vec![1.0], vec![1.0, 2.0]];
        assert_eq!(
            rejection(&[vec![0.0], vec![1.0]], Labels::Vectors(&vectors)),
            located("labels[1]", "ragged_row")
        );
    }

    #[test]
    fn the_error_message_carries_path_rule_and_value() {
        let error = Dataset::from_rows(&[vec![0.0, 1e300]], Labels::Numbers(&[0.0])).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "features[0][1]: the value is too large in magnitude for 32-bit floats (got {})",
                1e300
            )
        );
    }
}
