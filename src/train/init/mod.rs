//! Weight initializers under their Keras names (K3 `initializers/random_initializers.py`).

pub mod dbn;

/// A kernel or bias initializer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal { gain: f32 },
    RandomNormal { mean: f32, stddev: f32 },
    RandomUniform { minval: f32, maxval: f32 },
    Zeros,
    Ones,
    Constant { value: f32 },
}
