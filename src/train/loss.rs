//! Loss functions under their Keras names (K3 `losses/losses.py`), reduced with Keras's default
//! `sum_over_batch_size`.

/// A training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Integer class labels against a probability row (or logits when fused with softmax).
    SparseCategoricalCrossentropy,
    /// One-hot targets against a probability row.
    CategoricalCrossentropy,
    /// 0/1 targets against one probability per output unit, averaged over the last axis.
    BinaryCrossentropy,
    /// Mean over the last axis of `(y − ŷ)²`.
    MeanSquaredError,
}
