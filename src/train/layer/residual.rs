//! Residual block `y = x + f(x)`, where `f` is a sequence of inner layers whose output width
//! equals the input width (an architecture where it does not is a [`BuildError`]). An empty
//! block has `f(x) = x`. Backward: `dx = dy + ∂f/∂x(dy)`.
//!
//! Inner layer `j` of top-level layer `i` names its variables `layers.{i}.layers.{j}.…`.

use super::{BuildError, Mode, Sequence, Variable};
use crate::train::plan::LayerPlan;

/// A residual block with its inner layers.
#[derive(Debug)]
pub struct Residual {
    pub inner: Sequence,
    /// ∂loss/∂x through the inner path, before the skip connection is added.
    inner_gradient: Vec<f32>,
}

impl Residual {
    pub fn build(
        plans: &[LayerPlan],
        prefix: &str,
        width: usize,
        capacity: usize,
        variables: &mut Vec<Variable>,
    ) -> Result<Residual, BuildError> {
        let inner = Sequence::build(plans, &format!("{prefix}."), width, capacity, variables)?;
        if inner.output_width() != width {
            return Err(BuildError::ResidualWidth {
                layer: prefix.to_string(),
                outer: width,
                inner: inner.output_width(),
            });
        }
        Ok(Residual {
            inner,
            inner_gradient: vec![0.0; width * capacity],
        })
    }

    pub fn forward(
        &mut self,
        variables: &mut [Variable],
        x: &[f32],
        y: &mut [f32],
        rows: usize,
        mode: &mut Mode,
    ) {
        self.inner.forward(variables, x, rows, mode);
        let fx = self.inner.output(x, rows);
        for ((out, &a), &b) in y.iter_mut().zip(x).zip(fx) {
            *out = a + b;
        }
    }

    pub fn backward(
        &mut self,
        variables: &mut [Variable],
        x: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        rows: usize,
    ) {
        let inner_dx = &mut self.inner_gradient[..dy.len()];
        self.inner
            .backward(variables, x, dy, Some(&mut *inner_dx), rows, false);
        if let Some(dx) = dx {
            for ((d, &a), &b) in dx.iter_mut().zip(dy).zip(inner_dx.iter()) {
                *d = a + b;
            }
        }
    }
}
