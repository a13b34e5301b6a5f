//! L1/L2 kernel penalties (K3 `regularizers/regularizers.py`): `l1·Σ|w| + l2·Σw²`, with no ½,
//! added to the loss once per step and not divided by the batch size.

/// Kernel regularizer factors; both zero means no penalty.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Regularizer {
    pub l1: f32,
    pub l2: f32,
}
