//! Datasets as dense `f32` matrices: built-in, generated, uploaded CSV or inline; validation
//! splits, standardization and augmentation. No HTTP, no SQL, no I/O beyond parsing bytes.
//!
//! A dataset enters through one of four doors — [`builtin::load`], [`synthetic::Generated`],
//! [`csv::parse`] or [`Dataset::from_rows`] — each of which checks every value, so a
//! [`Dataset`] always holds finite features and in-range class ids. From there [`split`] cuts
//! the validation part, [`standardize`] fits statistics on the training part, and the engine
//! draws epochs through [`batches`] and, when asked, [`augment`]. Every random draw comes from
//! a `train::rng` stream keyed by the job seed, so the same seed gives the same bits.

use ndarray::{Array2, Axis};

pub mod augment;
pub mod batches;
pub mod builtin;
pub mod csv;
pub mod inline;
pub mod labels;
pub mod split;
pub mod standardize;
pub mod synthetic;
pub mod value;

/// Features and targets of one dataset (or one part of it after a split).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `rows × features`.
    pub features: Array2<f32>,
    pub targets: Targets,
    /// `(height, width)` when every row is a flattened image (digits 8×8, MNIST 28×28).
    pub image_shape: Option<(usize, usize)>,
    pub feature_names: Vec<String>,
    /// Names of the classes, index = class id, when known.
    pub class_names: Option<Vec<String>>,
}

/// What the network is trained to predict.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One integer class per row, each `< n_classes`.
    Classes { labels: Vec<u32>, n_classes: usize },
    /// Real-valued targets, `rows × outputs` (regression with mean squared error).
    Values(Array2<f32>),
}

/// Training-time data augmentation, drawn from the job's seed each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Augmentation {
    /// Standard deviation of Gaussian noise added to every feature (0 = off).
    pub gaussian_noise: f32,
    /// Largest random shift in pixels, per axis, for image-shaped data (0 = off).
    pub shift: usize,
}

impl Dataset {
    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns: the network's input width.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// The number of classes for classification data, `None` for regression.
    pub fn n_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { n_classes, .. } => Some(*n_classes),
            Targets::Values(_) => None,
        }
    }

    /// The rows at `indices`, in that order, with every other field kept.
    ///
    /// Callers inside this module pass indices below `self.rows()`; that is their invariant.
    pub(crate) fn select_rows(&self, indices: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select(Axis(0), indices),
            targets: self.targets.select_rows(indices),
            image_shape: self.image_shape,
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }
}

impl Targets {
    /// Number of rows the targets describe.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(values) => values.nrows(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select_rows(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: indices.iter().map(|&row| labels[row]).collect(),
                n_classes: *n_classes,
            },
            Targets::Values(values) => Targets::Values(values.select(Axis(0), indices)),
        }
    }
}
