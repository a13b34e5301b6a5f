//! Early stopping with Keras 3's semantics (K3 `callbacks/early_stopping.py`).

/// Which direction counts as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `loss`-like names are minimized, everything else (accuracy…) maximized.
    #[default]
    Auto,
    Min,
    Max,
}

/// A checked early-stopping configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStoppingConfig {
    /// A key of the epoch record: `loss`, `val_loss`, `accuracy`, `val_accuracy`, …
    pub monitor: String,
    pub min_delta: f32,
    pub patience: usize,
    pub mode: Mode,
    pub baseline: Option<f32>,
    pub restore_best_weights: bool,
    pub start_from_epoch: usize,
}
