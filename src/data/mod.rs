//! Datasets as dense `f32` matrices: built-in, generated, uploaded CSV or inline; validation
//! splits, standardization and augmentation. No HTTP, no SQL, no I/O beyond parsing bytes.

use ndarray::Array2;

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
