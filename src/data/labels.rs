//! Turning a label column into [`Targets`]: the one rule shared by CSV uploads and inline data.
//!
//! Read the whole column, then decide, in this order:
//! 1. every label is a non-negative integer → class ids, `n_classes = max + 1`;
//! 2. every label is a number → regression targets, one output (`rows × 1`); any NaN or
//!    infinity is then an error rather than a reason to fall through to names;
//! 3. otherwise every label is a class name; the distinct names sorted by their bytes become
//!    class ids `0, 1, …` and are kept as `class_names`.
//!
//! So `-1`/`1` labels are regression targets, and integer labels larger than the class limit are
//! rejected (write them with a decimal point, `250000.0`, to ask for regression).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ndarray::Array2;

use super::Targets;
use super::value::{self, ValueRule};

/// The most classes a dataset may have: bounds the width of the output layer that integer
/// labels such as `999999` would otherwise ask for.
pub const MAX_CLASSES: usize = 1000;

/// Why a label column was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelRule {
    /// An empty label.
    Empty,
    /// A numeric column holding NaN or infinity.
    NotFinite,
    /// A numeric label beyond the `f32` range.
    OutOfRange,
    /// More classes than `limit` (from a large integer label or too many distinct names).
    TooManyClasses { limit: usize },
}

impl LabelRule {
    /// A stable machine-readable name for the rule.
    pub fn code(self) -> &'static str {
        match self {
            LabelRule::Empty => "empty_label",
            LabelRule::NotFinite => "not_finite",
            LabelRule::OutOfRange => "out_of_f32_range",
            LabelRule::TooManyClasses { .. } => "too_many_classes",
        }
    }
}

impl fmt::Display for LabelRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelRule::Empty => f.write_str("the label is empty"),
            LabelRule::NotFinite => {
                f.write_str("the label column is numeric but this label is NaN or infinite")
            }
            LabelRule::OutOfRange => {
                f.write_str("the label is too large in magnitude for 32-bit floats")
            }
            LabelRule::TooManyClasses { limit } => write!(
                f,
                "at most {limit} classes are allowed (integer labels are class ids; \
                 write regression targets with a decimal point)"
            ),
        }
    }
}

/// A rejected label: its row index (0-based, among the data rows), rule and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    pub index: usize,
    pub rule: LabelRule,
    pub value: String,
}

/// An interpreted label column.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelColumn {
    pub targets: Targets,
    /// Set when the labels were names.
    pub class_names: Option<Vec<String>>,
}

/// Interprets label texts (CSV cells, already trimmed) by the rule in the module docs.
pub fn from_texts<S: AsRef<str>>(
    texts: &[S],
    max_classes: usize,
) -> Result<LabelColumn, LabelError> {
    if let Some(index) = texts.iter().position(|text| text.as_ref().is_empty()) {
        return Err(LabelError {
            index,
            rule: LabelRule::Empty,
            value: String::new(),
        });
    }
    let integers: Option<Vec<u64>> = texts
        .iter()
        .map(|text| text.as_ref().parse::<u64>().ok())
        .collect();
    if let Some(integers) = integers {
        return class_ids(&integers, max_classes, |index| {
            texts[index].as_ref().to_string()
        });
    }
    let numbers: Option<Vec<f64>> = texts
        .iter()
        .map(|text| text.as_ref().parse::<f64>().ok())
        .collect();
    if let Some(numbers) = numbers {
        return regression(&numbers, |index| texts[index].as_ref().to_string());
    }
    from_names(texts, max_classes)
}

/// Interprets numeric labels (inline JSON numbers): non-negative integers are class ids,
/// anything else makes the column regression targets.
pub fn from_numbers(values: &[f64], max_classes: usize) -> Result<LabelColumn, LabelError> {
    let all_class_ids = values
        .iter()
        .all(|&v| v.is_finite() && v >= 0.0 && v.fract() == 0.0);
    if all_class_ids {
        // Values at or above 2^64 saturate; they are far beyond any class limit anyway.
        let integers: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        return class_ids(&integers, max_classes, |index| values[index].to_string());
    }
    regression(values, |index| values[index].to_string())
}

/// Interprets labels as class names: the distinct names sorted by bytes become ids `0, 1, …`.
pub fn from_names<S: AsRef<str>>(
    names: &[S],
    max_classes: usize,
) -> Result<LabelColumn, LabelError> {
    let mut distinct = BTreeSet::new();
    for (index, name) in names.iter().enumerate() {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(LabelError {
                index,
                rule: LabelRule::Empty,
                value: String::new(),
            });
        }
        if distinct.insert(name) && distinct.len() > max_classes {
            return Err(LabelError {
                index,
                rule: LabelRule::TooManyClasses { limit: max_classes },
                value: name.to_string(),
            });
        }
    }
    let ids: BTreeMap<&str, u32> = distinct
        .iter()
        .enumerate()
        .map(|(id, &name)| (name, id as u32))
        .collect();
    let labels = names.iter().map(|name| ids[name.as_ref()]).collect();
    Ok(LabelColumn {
        targets: Targets::Classes {
            labels,
            n_classes: distinct.len(),
        },
        class_names: Some(distinct.into_iter().map(str::to_string).collect()),
    })
}

fn class_ids(
    integers: &[u64],
    max_classes: usize,
    text_of: impl Fn(usize) -> String,
) -> Result<LabelColumn, LabelError> {
    let mut largest = 0;
    for (index, &label) in integers.iter().enumerate() {
        if label >= max_classes as u64 {
            return Err(LabelError {
                index,
                rule: LabelRule::TooManyClasses { limit: max_classes },
                value: text_of(index),
            });
        }
        largest = largest.max(label);
    }
    // Every label is below `max_classes`, a `usize`, so both conversions are exact.
    let n_classes = if integers.is_empty() {
        0
    } else {
        largest as usize + 1
    };
    Ok(LabelColumn {
        targets: Targets::Classes {
            labels: integers.iter().map(|&label| label as u32).collect(),
            n_classes,
        },
        class_names: None,
    })
}

fn regression(
    numbers: &[f64],
    text_of: impl Fn(usize) -> String,
) -> Result<LabelColumn, LabelError> {
    let mut targets = Array2::zeros((numbers.len(), 1));
    for (index, &number) in numbers.iter().enumerate() {
        targets[[index, 0]] = value::check(number).map_err(|rule| LabelError {
            index,
            rule: match rule {
                ValueRule::OutOfRange => LabelRule::OutOfRange,
                ValueRule::Empty | ValueRule::NotANumber | ValueRule::NotFinite => {
                    LabelRule::NotFinite
                }
            },
            value: text_of(index),
        })?;
    }
    Ok(LabelColumn {
        targets: Targets::Values(targets),
        class_names: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn classes(labels: &[u32], n_classes: usize) -> Targets {
        Targets::Classes {
            labels: labels.to_vec(),
            n_classes,
        }
    }

    #[test]
    fn non_negative_integer_texts_are_class_ids_up_to_the_largest() {
        let column = from_texts(&["0", "2", "2", "0"], MAX_CLASSES).unwrap();
        assert_eq!(column.targets, classes(&[0, 2, 2, 0], 3));
        assert_eq!(column.class_names, None);
    }

    #[test]
    fn decimal_or_negative_texts_are_regression_targets() {
        let column = from_texts(&["1.5", "-2", "3"], MAX_CLASSES).unwrap();
        assert_eq!(
            column.targets,
            Targets::Values(array![[1.5], [-2.0], [3.0]])
        );
        let signs = from_texts(&["-1", "1"], MAX_CLASSES).unwrap();
        assert_eq!(signs.targets, Targets::Values(array![[-1.0], [1.0]]));
    }

    #[test]
    fn any_word_makes_every_label_a_name_sorted_by_bytes() {
        let column = from_texts(&["virginica", "setosa", "1", "setosa"], MAX_CLASSES).unwrap();
        assert_eq!(column.targets, classes(&[2, 1, 0, 1], 3));
        assert_eq!(
            column.class_names,
            Some(vec!["1".to_string(), "setosa".into(), "virginica".into()])
        );
    }

    #[test]
    fn a_nan_in_a_numeric_label_column_is_an_error_at_its_row() {
        let error = from_texts(&["1.5", "NaN", "2"], MAX_CLASSES).unwrap_err();
        assert_eq!(
            error,
            LabelError {
                index: 1,
                rule: LabelRule::NotFinite,
                value: "NaN".into()
            }
        );
        let error = from_texts(&["1.5", "1e300"], MAX_CLASSES).unwrap_err();
        assert_eq!(error.rule, LabelRule::OutOfRange);
    }

    #[test]
    fn an_empty_label_is_an_error_at_its_row() {
        let error = from_texts(&["a", "b", ""], MAX_CLASSES).unwrap_err();
        assert_eq!((error.index, error.rule), (2, LabelRule::Empty));
    }

    #[test]
    fn an_integer_label_at_the_class_limit_is_rejected() {
        assert!(from_texts(&["0", "9"], 10).is_ok());
        let error = from_texts(&["0", "10"], 10).unwrap_err();
        assert_eq!(
            (error.index, error.rule, error.value.as_str()),
            (1, LabelRule::TooManyClasses { limit: 10 }, "10")
        );
        let huge = from_texts(&["0", "99999999999999999999999"], 10).unwrap();
        assert!(matches!(huge.targets, Targets::Values(_)));
    }

    #[test]
    fn too_many_distinct_names_are_rejected_at_the_first_extra_name() {
        let error = from_names(&["a", "b", "a", "c"], 2).unwrap_err();
        assert_eq!((error.index, error.value.as_str()), (3, "c"));
    }

    #[test]
    fn numeric_labels_follow_the_same_rule() {
        let ids = from_numbers(&[1.0, 0.0, 4.0], MAX_CLASSES).unwrap();
        assert_eq!(ids.targets, classes(&[1, 0, 4], 5));
        let values = from_numbers(&[1.0, 0.5], MAX_CLASSES).unwrap();
        assert_eq!(values.targets, Targets::Values(array![[1.0], [0.5]]));
        let error = from_numbers(&[0.5, f64::NAN], MAX_CLASSES).unwrap_err();
        assert_eq!((error.index, error.rule), (1, LabelRule::NotFinite));
        let error = from_numbers(&[1.0, 1e12], MAX_CLASSES).unwrap_err();
        assert_eq!(
            (error.index, error.rule),
            (1, LabelRule::TooManyClasses { limit: MAX_CLASSES })
        );
    }
}
