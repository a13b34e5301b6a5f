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
            features: select_rows(&self.features, indices),
            targets: self.targets.select_rows(indices),
            image_shape: self.image_shape,
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }
}

/// A `rows × cols` matrix of zeros for a dataset's features. From [`HUGE_PAGES_FROM`] bytes
/// its memory is marked for transparent huge pages before anything is written to it (the
/// zeros are the allocator's untouched pages), so that the pages are 2 MiB when first written:
/// a batch is gathered from rows all over the set, and with 4 KiB pages nearly every row
/// costs a TLB miss and stops the hardware prefetcher at a page boundary. Gathering W4's
/// batches from a 188 MB set: about 1440 → 1400 µs a step on a Zen 4 core.
pub fn zeroed_rows(rows: usize, cols: usize) -> Array2<f32> {
    let matrix = Array2::zeros((rows, cols));
    advise_huge_pages(matrix.as_slice().unwrap_or_default());
    matrix
}

/// Where [`zeroed_rows`] starts asking for huge pages.
const HUGE_PAGES_FROM: usize = 4 << 20;

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(values: &[f32]) {
    const PAGE: usize = 4096;
    let bytes = std::mem::size_of_val(values);
    if bytes < HUGE_PAGES_FROM {
        return;
    }
    let start = values.as_ptr() as usize;
    let first = start.next_multiple_of(PAGE);
    let end = (start + bytes) / PAGE * PAGE;
    // SAFETY: `[first, end)` lies inside `values`' allocation and is page-aligned; the advice
    // changes how the kernel backs those pages, never their contents. It is only a hint, so
    // an error (a kernel without transparent huge pages) leaves things as they were.
    let _ = unsafe {
        rustix::mm::madvise(
            first as *mut std::ffi::c_void,
            end - first,
            rustix::mm::Advice::LinuxHugepage,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_values: &[f32]) {}

/// The rows of `matrix` at `indices`, in that order (every index below `matrix.nrows()`).
fn select_rows(matrix: &Array2<f32>, indices: &[usize]) -> Array2<f32> {
    let mut selected = zeroed_rows(indices.len(), matrix.ncols());
    for (mut to, &row) in selected.rows_mut().into_iter().zip(indices) {
        to.assign(&matrix.row(row));
    }
    selected
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
