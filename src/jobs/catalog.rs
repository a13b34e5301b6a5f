//! What validation needs to know about a dataset before loading it: its shape.
//!
//! Rules such as "the output width equals the number of classes" or "the batch is no larger
//! than the training part" depend on the data. The service answers them through
//! [`DataCatalog`] (built-in files and uploaded datasets); generated and inline sources are
//! described by `validate` itself, from their parameters and rows. [`StaticCatalog`] knows the
//! built-in datasets' shapes and a fixed list of uploaded ones, for tests and dry runs.

use super::spec::data::{Builtin, DataSource};

/// The shape of a dataset: rows, features and what the targets look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataShape {
    pub rows: usize,
    pub features: usize,
    pub targets: TargetShape,
    /// `(height, width)` when rows are flattened images (`features = height·width`).
    pub image_shape: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetShape {
    /// Integer class labels; `class_counts[c]` rows have label `c`.
    Classes {
        n_classes: usize,
        class_counts: Vec<usize>,
    },
    /// Real-valued targets with `outputs` columns.
    Values { outputs: usize },
}

/// Describes the data sources a spec may name.
pub trait DataCatalog {
    /// The shape of `source`, or a message saying why it is unavailable (e.g. an unknown
    /// dataset id). Called for `builtin` and `dataset` sources.
    fn describe(&self, source: &DataSource) -> Result<DataShape, String>;
}

/// The shape of a built-in dataset as shipped (`data/builtin`): the scikit-learn copies of
/// iris, wine, breast cancer and digits, and the 10 000-image MNIST test set.
pub fn builtin_shape(builtin: Builtin) -> DataShape {
    let classes = |counts: &[usize]| TargetShape::Classes {
        n_classes: counts.len(),
        class_counts: counts.to_vec(),
    };
    match builtin {
        Builtin::Iris => DataShape {
            rows: 150,
            features: 4,
            targets: classes(&[50, 50, 50]),
            image_shape: None,
        },
        Builtin::Wine => DataShape {
            rows: 178,
            features: 13,
            targets: classes(&[59, 71, 48]),
            image_shape: None,
        },
        Builtin::BreastCancer => DataShape {
            rows: 569,
            features: 30,
            targets: classes(&[212, 357]),
            image_shape: None,
        },
        Builtin::Digits => DataShape {
            rows: 1797,
            features: 64,
            // scikit-learn's load_digits: np.bincount(target).
            targets: classes(&[178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
            image_shape: Some((8, 8)),
        },
        Builtin::Mnist => DataShape {
            rows: 10_000,
            features: 784,
            // The MNIST test set (t10k-labels): np.bincount(labels).
            targets: classes(&[980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
            image_shape: Some((28, 28)),
        },
    }
}

/// A catalog that knows the built-in shapes and a fixed list of uploaded datasets.
#[derive(Debug, Clone, Default)]
pub struct StaticCatalog {
    pub datasets: Vec<(String, DataShape)>,
}

impl StaticCatalog {
    pub fn with_dataset(mut self, id: &str, shape: DataShape) -> Self {
        self.datasets.push((id.to_string(), shape));
        self
    }
}

impl DataCatalog for StaticCatalog {
    fn describe(&self, source: &DataSource) -> Result<DataShape, String> {
        match source {
            DataSource::Builtin(builtin) => Ok(builtin_shape(*builtin)),
            DataSource::Dataset { id } => self
                .datasets
                .iter()
                .find(|(known, _)| known == id)
                .map(|(_, shape)| shape.clone())
                .ok_or_else(|| format!("no dataset with id {id:?}")),
            DataSource::Generated(_) | DataSource::Inline(_) => {
                Err("generated and inline data are described from the spec".to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_class_counts_add_up_to_the_rows() {
        for builtin in [
            Builtin::Iris,
            Builtin::Wine,
            Builtin::BreastCancer,
            Builtin::Digits,
            Builtin::Mnist,
        ] {
            let shape = builtin_shape(builtin);
            let TargetShape::Classes {
                n_classes,
                class_counts,
            } = &shape.targets
            else {
                panic!("{builtin:?} has class labels");
            };
            assert_eq!(class_counts.len(), *n_classes);
            assert_eq!(
                class_counts.iter().sum::<usize>(),
                shape.rows,
                "{builtin:?}"
            );
            if let Some((height, width)) = shape.image_shape {
                assert_eq!(height * width, shape.features);
            }
        }
    }
}
