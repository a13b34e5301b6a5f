//! Metrics reported per epoch, and the per-epoch record the engine hands to its observer.

/// A metric requested in `training.metrics`, under Keras's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Keras resolves `"accuracy"` by the loss: sparse categorical, categorical or binary
    /// (threshold 0.5) accuracy.
    Accuracy,
    MeanSquaredError,
    MeanAbsoluteError,
}
