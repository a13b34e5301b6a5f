//! Metrics reported per epoch (K3 `metrics/accuracy_metrics.py`,
//! `metrics/regression_metrics.py`), accumulated like Keras's `MeanMetricWrapper`: the sum of
//! per-sample values over every batch of the epoch, divided by the number of samples.
//!
//! `"accuracy"` is resolved from the shapes and the loss as K3 `trainers/compile_utils.py`
//! `get_metric` does: one output unit → binary accuracy (threshold 0.5); binary crossentropy
//! over several units → binary accuracy per unit, averaged over the row; class labels →
//! sparse categorical accuracy (argmax equals the label); value rows → categorical accuracy
//! (argmax equals the target's argmax).

use super::loss::{BatchTargets, Loss, argmax};

/// A metric requested in `training.metrics`, under Keras's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Keras resolves `"accuracy"` by the loss: sparse categorical, categorical or binary
    /// (threshold 0.5) accuracy.
    Accuracy,
    MeanSquaredError,
    MeanAbsoluteError,
}

/// Keras's `binary_accuracy` threshold.
pub const BINARY_THRESHOLD: f32 = 0.5;

impl Metric {
    /// The key under which the metric is logged (`val_` is prefixed for validation).
    pub fn keras_name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MeanSquaredError => "mean_squared_error",
            Metric::MeanAbsoluteError => "mean_absolute_error",
        }
    }

    /// Sum over the batch's rows of the per-sample metric on the network `output`
    /// (`rows × width`, probabilities after softmax/sigmoid).
    pub fn batch_sum(self, loss: Loss, output: &[f32], targets: BatchTargets, width: usize) -> f64 {
        let mut sum = 0.0f64;
        for (row, pred) in output.chunks_exact(width).enumerate() {
            let value: f32 = match self {
                Metric::Accuracy if width == 1 || loss == Loss::BinaryCrossentropy => {
                    let hits = pred
                        .iter()
                        .enumerate()
                        .filter(|&(j, &p)| {
                            f32::from(p > BINARY_THRESHOLD) == targets.at(row, j, width)
                        })
                        .count();
                    hits as f32 / width as f32
                }
                Metric::Accuracy => f32::from(argmax(pred) == targets.class(row, width)),
                Metric::MeanSquaredError => {
                    let s: f32 = pred
                        .iter()
                        .enumerate()
                        .map(|(j, &p)| (p - targets.at(row, j, width)).powi(2))
                        .sum();
                    s / width as f32
                }
                Metric::MeanAbsoluteError => {
                    let s: f32 = pred
                        .iter()
                        .enumerate()
                        .map(|(j, &p)| (p - targets.at(row, j, width)).abs())
                        .sum();
                    s / width as f32
                }
            };
            sum += f64::from(value);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_resolves_to_sparse_categorical_binary_or_categorical() {
        let probabilities = [0.1, 0.7, 0.2, 0.6, 0.3, 0.1];
        let sparse = Metric::Accuracy.batch_sum(
            Loss::SparseCategoricalCrossentropy,
            &probabilities,
            BatchTargets::Classes(&[1, 2]),
            3,
        );
        assert_eq!(sparse, 1.0);
        let categorical = Metric::Accuracy.batch_sum(
            Loss::CategoricalCrossentropy,
            &probabilities,
            BatchTargets::Values(&[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
            3,
        );
        assert_eq!(categorical, 2.0);
        let binary = Metric::Accuracy.batch_sum(
            Loss::BinaryCrossentropy,
            &[0.7, 0.5, 0.2],
            BatchTargets::Classes(&[1, 1, 0]),
            1,
        );
        // 0.5 is not above the threshold, so the middle row counts as class 0.
        assert_eq!(binary, 2.0);
    }

    #[test]
    fn regression_metrics_average_over_columns_and_sum_over_rows() {
        let output = [1.0, 3.0, 0.0, -2.0];
        let targets = BatchTargets::Values(&[0.0, 0.0, 0.0, 0.0]);
        let mse = Metric::MeanSquaredError.batch_sum(Loss::MeanSquaredError, &output, targets, 2);
        let mae = Metric::MeanAbsoluteError.batch_sum(Loss::MeanSquaredError, &output, targets, 2);
        assert_eq!(mse, 5.0 + 2.0);
        assert_eq!(mae, 2.0 + 1.0);
    }
}
