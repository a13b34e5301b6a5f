//! A standalone activation layer `y = act(x)` (K3 `layers/activations/activation.py`). Its
//! input is its pre-activation, so a crossentropy after a final softmax or sigmoid layer is
//! computed from that input, exactly as after a dense layer with the same activation.

use crate::train::activation::Activation;

/// An activation applied as a layer of its own; it has no variables.
#[derive(Debug)]
pub struct ActivationLayer {
    pub activation: Activation,
    /// Row width (softmax normalizes each row).
    pub width: usize,
}

impl ActivationLayer {
    pub fn new(activation: Activation, width: usize) -> ActivationLayer {
        ActivationLayer { activation, width }
    }

    pub fn forward(&mut self, x: &[f32], y: &mut [f32]) {
        self.activation.forward(x, y, self.width);
    }

    /// `dx = dy ⊙ act'(x)`, or `dx = dy` when `dy` is already the gradient at the logits.
    pub fn backward(
        &mut self,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        at_logits: bool,
    ) {
        let Some(dx) = dx else { return };
        if at_logits {
            dx.copy_from_slice(dy);
        } else {
            self.activation.backward(x, y, dy, dx, self.width);
        }
    }
}
