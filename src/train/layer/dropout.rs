//! Inverted dropout (K3 `layers/regularization/dropout.py`): while training each element is
//! kept with probability `1 − rate` and scaled by `1/(1 − rate)`, otherwise zeroed; at
//! inference the layer is the identity. Rate 0 draws nothing and passes inputs through; rate
//! 1 zeroes everything.
//!
//! The mask comes from the epoch's `Purpose::Dropout` stream, one uniform draw per element in
//! row-major order (`u ≥ rate` keeps), so a replayed epoch draws the same masks.

use rand::RngExt;

use super::Mode;

/// A dropout layer with its last mask (`0` or `1/(1 − rate)` per element).
#[derive(Debug)]
pub struct Dropout {
    pub rate: f32,
    mask: Vec<f32>,
    /// Whether the last forward pass applied `mask` (training with rate > 0).
    masked: bool,
}

impl Dropout {
    pub fn new(rate: f32, width: usize, capacity: usize) -> Dropout {
        Dropout {
            rate,
            mask: vec![0.0; width * capacity],
            masked: false,
        }
    }

    pub fn forward(&mut self, x: &[f32], y: &mut [f32], _rows: usize, mode: &mut Mode) {
        let rng = match mode {
            Mode::Training { dropout } if self.rate > 0.0 => dropout,
            _ => {
                self.masked = false;
                y.copy_from_slice(x);
                return;
            }
        };
        self.masked = true;
        let scale = if self.rate < 1.0 {
            1.0 / (1.0 - self.rate)
        } else {
            0.0
        };
        let mask = &mut self.mask[..x.len()];
        for ((m, out), &value) in mask.iter_mut().zip(y.iter_mut()).zip(x) {
            let keep = rng.random::<f32>() >= self.rate;
            *m = if keep { scale } else { 0.0 };
            *out = value * *m;
        }
    }

    pub fn backward(&mut self, dy: &[f32], dx: Option<&mut [f32]>, _rows: usize) {
        let Some(dx) = dx else { return };
        if !self.masked {
            dx.copy_from_slice(dy);
            return;
        }
        for ((d, &g), &m) in dx.iter_mut().zip(dy).zip(&self.mask) {
            *d = g * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::rng::{Purpose, stream};

    #[test]
    fn training_keeps_about_one_minus_rate_and_scales_the_kept_values() {
        let mut layer = Dropout::new(0.25, 1000, 1);
        let x = vec![3.0f32; 1000];
        let mut y = vec![0.0; 1000];
        let mut rng = stream(1, Purpose::Dropout(0));
        layer.forward(&x, &mut y, 1, &mut Mode::Training { dropout: &mut rng });
        let kept = y.iter().filter(|&&v| v != 0.0).count();
        assert!((700..=800).contains(&kept), "kept {kept} of 1000");
        assert!(y.iter().all(|&v| v == 0.0 || v == 4.0));
    }

    #[test]
    fn inference_and_rate_zero_are_the_identity_and_rate_one_zeroes() {
        let x = [1.0f32, -2.0, 3.0];
        let mut y = [0.0; 3];
        let mut rng = stream(1, Purpose::Dropout(0));
        Dropout::new(0.5, 3, 1).forward(&x, &mut y, 1, &mut Mode::Inference);
        assert_eq!(y, x);
        Dropout::new(0.0, 3, 1).forward(&x, &mut y, 1, &mut Mode::Training { dropout: &mut rng });
        assert_eq!(y, x);
        Dropout::new(1.0, 3, 1).forward(&x, &mut y, 1, &mut Mode::Training { dropout: &mut rng });
        assert_eq!(y, [0.0; 3]);
    }
}
