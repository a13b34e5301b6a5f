//! Activation functions under their Keras names, with Keras's defaults
//! (K3 `activations/activations.py`).

/// An elementwise (or, for softmax, row-wise) activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    /// `x` for x ≥ 0, `negative_slope·x` otherwise. Keras's *function* default slope is 0.2
    /// (the `LeakyReLU` layer's is 0.3); `activation="leaky_relu"` uses the function.
    LeakyRelu {
        negative_slope: f32,
    },
    /// `x` for x > 0, `alpha·(eˣ − 1)` otherwise; alpha defaults to 1.0.
    Elu {
        alpha: f32,
    },
    Selu,
    /// The exact form `x·½(1 + erf(x/√2))`, which the string `"gelu"` means in Keras.
    Gelu,
    Sigmoid,
    Tanh,
    /// Row-wise softmax over the last axis, max-subtracted.
    Softmax,
    /// `x·sigmoid(x)`; Keras accepts both `"swish"` and `"silu"`.
    Swish,
    Softplus,
}
