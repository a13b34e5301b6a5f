//! Greedy layer-wise RBM pre-training (a deep belief network) for the hidden dense layers.

/// Settings of the pre-training phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbnConfig {
    /// Passes over the training data per RBM.
    pub epochs: usize,
    pub learning_rate: f32,
    pub batch_size: usize,
    /// Gibbs steps per contrastive-divergence update (CD-k).
    pub cd_steps: usize,
}
