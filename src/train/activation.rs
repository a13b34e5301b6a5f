//! Activation functions under their Keras names, with Keras's defaults
//! (K3 `activations/activations.py`, `backend/tensorflow/nn.py`), each with its derivative.
//!
//! Buffers are row-major `rows × width` slices. [`Activation::forward`] maps pre-activations
//! `z` to outputs `y`; [`Activation::backward`] maps an output gradient `dy` to the
//! pre-activation gradient `dz`, reading both `z` and `y` (sigmoid, tanh and softmax
//! differentiate most cheaply through `y`). Every function is elementwise except softmax, which
//! works on each row.

use super::math::{self, exp, exp_m1, ln_1p, tanh};
#[cfg(target_arch = "x86_64")]
use super::math::{exp_at_most_high_avx2, exp_at_most_high_avx512};

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
    /// The tanh approximation `x·½(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, Keras's
    /// `gelu(x, approximate=True)` (the default of `keras.ops.gelu`) and PyTorch's
    /// `GELU(approximate="tanh")`.
    GeluTanh,
    Sigmoid,
    Tanh,
    /// Row-wise softmax over the last axis, max-subtracted.
    Softmax,
    /// `x·sigmoid(x)`; Keras accepts both `"swish"` and `"silu"`.
    Swish,
    Softplus,
}

/// SELU's α, as in K3 `backend/numpy/nn.py` (TF, JAX and torch use the same constants).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's scale, as in K3 `backend/numpy/nn.py`.
pub const SELU_SCALE: f32 = 1.050_701;

impl Activation {
    /// Keras's `leaky_relu` function default (K3 `activations/activations.py`).
    pub const LEAKY_RELU: Activation = Activation::LeakyRelu {
        negative_slope: 0.2,
    };
    /// Keras's `elu` default α = 1.0.
    pub const ELU: Activation = Activation::Elu { alpha: 1.0 };

    /// Whether Keras's TF backend caches the pre-activation as `_keras_logits` on the output,
    /// so that a crossentropy loss on it is computed from logits (K3 `backend/tensorflow/nn.py`
    /// `sigmoid`, `softmax`, `_get_logits`).
    pub fn carries_logits(self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::Softmax)
    }

    /// `y = f(z)` over `rows × width` buffers (`z.len() == y.len()`, a multiple of `width`).
    pub fn forward(self, z: &[f32], y: &mut [f32], width: usize) {
        if self == Activation::Sigmoid && sigmoid_in_vectors(z, y) {
            return;
        }
        // Sixteen lanes wide with AVX-512, eight with AVX2 (`super::simd`); same results.
        super::simd::dispatch(
            #[inline(always)]
            || self.forward_loops(z, y, width),
        );
    }

    #[inline(always)]
    fn forward_loops(self, z: &[f32], y: &mut [f32], width: usize) {
        match self {
            Activation::Softmax => softmax_rows(z, y, width, |_, _| {}),
            Activation::Linear => y.copy_from_slice(z),
            Activation::Relu => map(z, y, |x| if x > 0.0 { x } else { 0.0 }),
            Activation::LeakyRelu { negative_slope } => {
                map(z, y, |x| if x > 0.0 { x } else { negative_slope * x })
            }
            Activation::Elu { alpha } => map(z, y, |x| elu(x, alpha)),
            Activation::Selu => map(z, y, |x| SELU_SCALE * elu(x, SELU_ALPHA)),
            Activation::Gelu => map(z, y, gelu),
            Activation::GeluTanh => map(z, y, gelu_tanh),
            Activation::Sigmoid => map(z, y, sigmoid),
            Activation::Tanh => map(z, y, tanh),
            Activation::Swish => map(z, y, |x| x * sigmoid(x)),
            Activation::Softplus => map(z, y, softplus),
        }
    }

    /// `dz = dy · ∂f/∂z` given `z`, `y = f(z)` and `dy`; for softmax, per row,
    /// `dz_i = y_i·(dy_i − Σ_j dy_j·y_j)`.
    pub fn backward(self, z: &[f32], y: &[f32], dy: &[f32], dz: &mut [f32], width: usize) {
        super::simd::dispatch(
            #[inline(always)]
            || self.backward_loops(z, y, dy, dz, width),
        );
    }

    #[inline(always)]
    fn backward_loops(self, z: &[f32], y: &[f32], dy: &[f32], dz: &mut [f32], width: usize) {
        match self {
            Activation::Softmax => {
                for ((y_row, dy_row), dz_row) in y
                    .chunks_exact(width)
                    .zip(dy.chunks_exact(width))
                    .zip(dz.chunks_exact_mut(width))
                {
                    let dot: f32 = y_row.iter().zip(dy_row).map(|(a, b)| a * b).sum();
                    for ((d, &yi), &dyi) in dz_row.iter_mut().zip(y_row).zip(dy_row) {
                        *d = yi * (dyi - dot);
                    }
                }
            }
            Activation::Linear => dz.copy_from_slice(dy),
            Activation::Relu => chain(z, dy, dz, |x| if x > 0.0 { 1.0 } else { 0.0 }),
            Activation::LeakyRelu { negative_slope } => {
                chain(z, dy, dz, |x| if x > 0.0 { 1.0 } else { negative_slope })
            }
            Activation::Elu { alpha } => {
                chain(z, dy, dz, |x| if x > 0.0 { 1.0 } else { alpha * exp(x) })
            }
            Activation::Selu => chain(z, dy, dz, |x| {
                SELU_SCALE * if x > 0.0 { 1.0 } else { SELU_ALPHA * exp(x) }
            }),
            Activation::Gelu => chain(z, dy, dz, gelu_derivative),
            Activation::GeluTanh => chain(z, dy, dz, gelu_tanh_derivative),
            Activation::Sigmoid => chain(y, dy, dz, |s| s * (1.0 - s)),
            Activation::Tanh => chain(y, dy, dz, |t| 1.0 - t * t),
            Activation::Swish => chain(z, dy, dz, |x| {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }),
            Activation::Softplus => chain(z, dy, dz, sigmoid),
        }
    }
}

#[inline(always)]
fn map(z: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32) {
    for (out, &x) in y.iter_mut().zip(z) {
        *out = f(x);
    }
}

/// `dz = dy · f'(at)`, where `at` is whichever of z or y the derivative is written in.
#[inline(always)]
fn chain(at: &[f32], dy: &[f32], dz: &mut [f32], derivative: impl Fn(f32) -> f32) {
    for ((d, &a), &g) in dz.iter_mut().zip(at).zip(dy) {
        *d = g * derivative(a);
    }
}

/// `e^{z−max} / Σ e^{z−max}` over one row ([`softmax_rows`] of a single row).
#[inline(always)]
pub fn softmax_row(z: &[f32], y: &mut [f32]) {
    softmax_rows(z, y, z.len().max(1), |_, _| {});
}

/// `e^{z−max} / Σ e^{z−max}` of every row of `z` (`rows × width`) into `y`, the sum taken in
/// row order, handing `max + ln Σ e^{z−max}` (bit for bit [`log_sum_exp`] of the row) to
/// `each_row` with the row's index, in row order.
///
/// The exponentials are taken over the whole batch in one loop: within a row, the running sum
/// ties each `e^{z−max}` to the one before, and rows as narrow as a classifier's outputs
/// (three or ten) leave a vector loop nothing to fill, so the exponentials ran one at a time.
/// Here the rows are first shifted by their maxima in place, then exponentiated as one vector
/// loop, then summed and divided row by row.
#[inline(always)]
pub fn softmax_rows(z: &[f32], y: &mut [f32], width: usize, mut each_row: impl FnMut(usize, f32)) {
    let y = &mut y[..z.len()];
    for (z_row, y_row) in z.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
        let max = row_max(z_row);
        for (out, &x) in y_row.iter_mut().zip(z_row) {
            *out = x - max;
        }
    }
    for v in y.iter_mut() {
        *v = exp(*v);
    }
    for (row, (z_row, y_row)) in z
        .chunks_exact(width)
        .zip(y.chunks_exact_mut(width))
        .enumerate()
    {
        let mut sum = 0.0f32;
        for &e in y_row.iter() {
            sum += e;
        }
        for out in y_row.iter_mut() {
            *out /= sum;
        }
        each_row(row, row_max(z_row) + sum.ln());
    }
}

#[inline(always)]
fn row_max(row: &[f32]) -> f32 {
    row.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// `ln Σ_j e^{z_j}`, computed as `max + ln Σ e^{z−max}` so that it never overflows.
#[inline(always)]
pub fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = z.iter().map(|&x| exp(x - max)).sum();
    max + sum.ln()
}

/// `1/(1 + e^{−x})`, evaluated on the side where the exponential cannot overflow.
///
/// Both sides use the same `e = e^{−|x|}` and the side is picked after the exponential, so the
/// loop has no data-dependent branch around the call (a mispredicted branch per element cost
/// more than the exponential in deep sigmoid stacks).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp(-x.abs());
    let numerator = if x >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// [`sigmoid`] of sixteen values with AVX-512 through [`exp_at_most_high_avx512`] of `−|x|`,
/// the same bits lane by lane: the deep sigmoid stacks of the lecture spend a seventh of their
/// step here, most of it in the exponential.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sigmoid_avx512(simd: pulp::x86::V4, x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::_CMP_GE_OQ;
    let f = simd.avx512f;
    let (zero, one) = (f._mm512_set1_ps(0.0), f._mm512_set1_ps(1.0));
    // −|x|, by setting the sign bit as the scalar form's negation of `abs` does.
    let sign = f._mm512_set1_epi32(i32::MIN);
    let negative = f._mm512_castsi512_ps(f._mm512_or_si512(f._mm512_castps_si512(x), sign));
    let e = exp_at_most_high_avx512(simd, negative);
    let at_or_above_zero = f._mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, zero);
    let numerator = f._mm512_mask_blend_ps(at_or_above_zero, e, one);
    f._mm512_div_ps(numerator, f._mm512_add_ps(e, one))
}

/// [`sigmoid`] of eight values with AVX2 and FMA through [`exp_at_most_high_avx2`], the same
/// bits lane by lane. The loop the compiler made of the scalar form clamped `−|x|` from above
/// too and reloaded constants it had no registers for; this one takes 680–810 ns per 1024
/// values on a Zen 3 core against 850–910 (`trainyard bench activations`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sigmoid_avx2(simd: pulp::x86::V3, x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::_CMP_GE_OQ;
    let avx = simd.avx;
    let (zero, one) = (avx._mm256_set1_ps(0.0), avx._mm256_set1_ps(1.0));
    // −|x|: the sign bit set, as for AVX-512.
    let negative = avx._mm256_or_ps(x, avx._mm256_set1_ps(-0.0));
    let e = exp_at_most_high_avx2(simd, negative);
    let at_or_above_zero = avx._mm256_cmp_ps::<_CMP_GE_OQ>(x, zero);
    let numerator = avx._mm256_blendv_ps(e, one, at_or_above_zero);
    avx._mm256_div_ps(numerator, avx._mm256_add_ps(e, one))
}

/// [`sigmoid`] over a buffer in the explicit vector form the CPU has, AVX-512 or else AVX2;
/// false, with `y` untouched, on a CPU with neither.
fn sigmoid_in_vectors(z: &[f32], y: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = pulp::x86::V4::try_new() {
            simd.vectorize(
                #[inline(always)]
                || sigmoid_vectors::<16>(z, y, |x| pulp::cast(sigmoid_avx512(simd, pulp::cast(x)))),
            );
            return true;
        }
        if let Some(simd) = pulp::x86::V3::try_new() {
            simd.vectorize(
                #[inline(always)]
                || sigmoid_vectors::<8>(z, y, |x| pulp::cast(sigmoid_avx2(simd, pulp::cast(x)))),
            );
            return true;
        }
    }
    // Elsewhere the buffers are the portable loop's.
    let _ = (z, y);
    false
}

/// `y = vector(z)` over whole vectors of `L` values, [`sigmoid`] on the tail.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sigmoid_vectors<const L: usize>(
    z: &[f32],
    y: &mut [f32],
    vector: impl Fn([f32; L]) -> [f32; L],
) {
    let y = &mut y[..z.len()];
    let mut z_chunks = z.chunks_exact(L);
    let mut y_chunks = y.chunks_exact_mut(L);
    for (z_chunk, y_chunk) in (&mut z_chunks).zip(&mut y_chunks) {
        y_chunk.copy_from_slice(&vector(z_chunk.try_into().expect("a whole vector")));
    }
    for (out, &x) in y_chunks
        .into_remainder()
        .iter_mut()
        .zip(z_chunks.remainder())
    {
        *out = sigmoid(x);
    }
}

/// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|})`.
#[inline(always)]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + ln_1p(exp(-x.abs()))
}

#[inline(always)]
fn elu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 { x } else { alpha * exp_m1(x) }
}

/// Exact GELU `x·Φ(x)`, with Φ from [`math::normal`].
#[inline(always)]
fn gelu(x: f32) -> f32 {
    x * math::normal(x).cdf
}

/// `Φ(x) + x·φ(x)`.
#[inline(always)]
fn gelu_derivative(x: f32) -> f32 {
    let normal = math::normal(x);
    x.mul_add(normal.density, normal.cdf)
}

/// `√(2/π)`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// The cubic term's coefficient of the tanh approximation of GELU.
const GELU_CUBIC: f32 = 0.044_715;

/// `tanh(√(2/π)·(x + 0.044715·x³))`, the argument formed as Keras's TF backend forms it.
#[inline(always)]
fn gelu_tanh_inner(x: f32) -> f32 {
    tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * (x * x * x)))
}

/// `x·½(1 + t)` with t = [`gelu_tanh_inner`].
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    x * (0.5 * (1.0 + gelu_tanh_inner(x)))
}

/// `½(1 + t) + x·½(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)`.
#[inline(always)]
fn gelu_tanh_derivative(x: f32) -> f32 {
    let t = gelu_tanh_inner(x);
    let slope = SQRT_2_OVER_PI * (3.0 * GELU_CUBIC).mul_add(x * x, 1.0);
    (x * (0.5 * (1.0 - t * t))).mul_add(slope, 0.5 * (1.0 + t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch form gives every row the plain row-order softmax, bit for bit, and the row's
    /// `log_sum_exp`, on rows of every width a vector loop splits differently (and extreme
    /// logits); a single row is the batch of one.
    #[test]
    fn the_batch_softmax_matches_the_row_softmax_bit_for_bit() {
        for width in [1, 2, 3, 4, 10, 16, 17, 33] {
            let rows = 7;
            let z: Vec<f32> = (0..rows * width)
                .map(|i| match i % 11 {
                    0 => 95.0,
                    1 => -120.0,
                    _ => ((i as f32) * 0.731).sin() * 9.0,
                })
                .collect();
            let mut batch = vec![f32::NAN; rows * width];
            let mut sums = Vec::new();
            softmax_rows(&z, &mut batch, width, |row, lse| sums.push((row, lse)));
            assert_eq!(sums.len(), rows);
            for (row, z_row) in z.chunks_exact(width).enumerate() {
                let max = z_row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exps: Vec<f32> = z_row.iter().map(|&x| exp(x - max)).collect();
                let mut sum = 0.0f32;
                for &e in &exps {
                    sum += e;
                }
                let want: Vec<u32> = exps.iter().map(|e| (e / sum).to_bits()).collect();
                let got = &batch[row * width..(row + 1) * width];
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(got), want, "width {width}, row {row}");
                assert_eq!(
                    sums[row],
                    (row, log_sum_exp(z_row)),
                    "width {width}, row {row}"
                );
                let mut alone = vec![0.0; width];
                softmax_row(z_row, &mut alone);
                assert_eq!(bits(&alone), want, "width {width}, row {row} alone");
            }
        }
    }

    /// The sigmoid layer's vector loop (AVX-512 or AVX2, whichever the machine has) gives the
    /// scalar function's bits on every value (NaN included), in the vectors and in the tail.
    #[test]
    fn the_sigmoid_layer_gives_the_scalar_sigmoid_bit_for_bit() {
        let mut z = vec![
            0.0,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            88.8,
            -88.8,
            103.5,
            -103.5,
            1e-30,
            -1e-30,
        ];
        let mut x = -120.0f32;
        while x < 120.0 {
            z.push(x);
            x += 0.000_77;
        }
        z.extend((0..500_000).map(|i| -0.5 + i as f32 * 2e-6));
        z.push(0.25); // a tail shorter than a vector
        let mut y = vec![0.0f32; z.len()];
        Activation::Sigmoid.forward(&z, &mut y, 1);
        for (&x, &got) in z.iter().zip(&y) {
            assert_eq!(got.to_bits(), sigmoid(x).to_bits(), "sigmoid({x})");
        }
    }

    /// GELU through the layer's (vectorized) loops against `x·Φ(x)` in f64: within 3.5 units in
    /// the last place from where its terms leave the normal floats to where it is x, and its
    /// derivative within 4
    /// units of the larger of `Φ(x)` and `|x·φ(x)|` (the two terms cancel near −0.75, where
    /// the derivative crosses zero), the layer's bits equal to the scalar function's.
    #[test]
    fn gelu_and_its_derivative_are_accurate_over_the_whole_range() {
        let mut z: Vec<f32> = std::iter::successors(Some(-13.0f32), |x| Some(x + 0.000_37))
            .take_while(|&x| x < 12.0)
            .collect();
        z.extend([0.0, -0.0, 1e-30, -1e-30, f32::MAX, f32::MIN, f32::INFINITY]);
        let mut y = vec![0.0f32; z.len()];
        Activation::Gelu.forward(&z, &mut y, 1);
        let ones = vec![1.0f32; z.len()];
        let mut dz = vec![0.0f32; z.len()];
        Activation::Gelu.backward(&z, &y, &ones, &mut dz, 1);
        let spacing = |v: f64| {
            let v = (v as f32).abs();
            f64::from(f32::from_bits(v.to_bits() + 1) - v).max(f64::from(f32::from_bits(1)))
        };
        let (mut worst_value, mut worst_slope) = (0.0f64, 0.0f64);
        for ((&x, &got), &slope) in z.iter().zip(&y).zip(&dz) {
            assert_eq!(got.to_bits(), gelu(x).to_bits(), "gelu({x})");
            assert_eq!(slope.to_bits(), gelu_derivative(x).to_bits(), "gelu'({x})");
            if x.is_infinite() || x.abs() == f32::MAX {
                assert_eq!(got, x.max(0.0), "gelu({x})");
                continue;
            }
            let x64 = f64::from(x);
            let cdf = 0.5 * libm::erfc(-x64 * std::f64::consts::FRAC_1_SQRT_2);
            let density = (-0.5 * x64 * x64).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let value = (f64::from(got) - x64 * cdf).abs() / spacing(x64 * cdf);
            let scale = cdf.max((x64 * density).abs());
            let slope = (f64::from(slope) - (cdf + x64 * density)).abs() / spacing(scale);
            assert!(value <= 3.5, "gelu({x}) = {got}: {value} ulps");
            assert!(slope <= 4.0, "gelu'({x}): {slope} ulps");
            worst_value = worst_value.max(value);
            worst_slope = worst_slope.max(slope);
        }
        eprintln!("worst: gelu {worst_value:.3}, gelu' {worst_slope:.3} ulps");
        assert!(worst_value > 0.0 && worst_slope > 0.0);
        assert_eq!(gelu(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    /// The branch-free form against `1/(1 + e^{−x})` in f64.
    #[test]
    fn sigmoid_is_accurate_on_both_sides_and_saturates_without_overflow() {
        for x in [-100.0f32, -20.0, -1.5, -1e-3, 0.0, 1e-3, 1.5, 20.0, 100.0] {
            let want = 1.0 / (1.0 + (-f64::from(x)).exp());
            let got = f64::from(sigmoid(x));
            assert!(
                (got - want).abs() <= 1e-7 * want.max(1e-30),
                "{x}: {got} {want}"
            );
        }
        assert_eq!(sigmoid(0.0), 0.5);
    }

    /// Every activation, checked at points away from kinks: the backward pass against a
    /// central finite difference of the forward pass, computed in f64 on the f32 function.
    #[test]
    fn every_derivative_matches_a_central_finite_difference() {
        let all = [
            Activation::Linear,
            Activation::Relu,
            Activation::LEAKY_RELU,
            Activation::ELU,
            Activation::Elu { alpha: 0.5 },
            Activation::Selu,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softmax,
            Activation::Swish,
            Activation::Softplus,
        ];
        let z = [-2.3f32, -0.7, 0.4, 1.9, -1.1, 0.9];
        let dy = [0.3f32, -1.2, 0.5, 0.8, -0.4, 1.1];
        let width = 3;
        for activation in all {
            let mut y = [0.0; 6];
            activation.forward(&z, &mut y, width);
            let mut dz = [0.0; 6];
            activation.backward(&z, &y, &dy, &mut dz, width);
            for i in 0..z.len() {
                let h = 1e-2f32;
                let objective = |shift: f32| {
                    let mut zs = z;
                    zs[i] += shift;
                    let mut ys = [0.0; 6];
                    activation.forward(&zs, &mut ys, width);
                    ys.iter()
                        .zip(&dy)
                        .map(|(a, b)| f64::from(a * b))
                        .sum::<f64>()
                };
                let numeric = (objective(h) - objective(-h)) / (2.0 * f64::from(h));
                let analytic = f64::from(dz[i]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                    "{activation:?} at z[{i}]: numeric {numeric}, analytic {analytic}"
                );
            }
        }
    }

    /// Values against the Keras definitions (K3 `activations/activations.py`): the function
    /// default leaky slope 0.2, SELU's constants, exact-erf GELU (gelu(1) = 0.8413447), the
    /// tanh approximation (`gelu(1, approximate=True)` = 0.8411920, `gelu(−1, …)` =
    /// −0.1588080), softplus(0) = ln 2, swish(1) = σ(1).
    #[test]
    fn activation_values_follow_the_keras_definitions() {
        let cases: [(Activation, f32, f32); 11] = [
            (Activation::LEAKY_RELU, -1.0, -0.2),
            (Activation::ELU, -1.0, (-1.0f32).exp_m1()),
            (Activation::Selu, 1.0, 1.050_701),
            (
                Activation::Selu,
                -1.0,
                1.050_701 * 1.673_263_2 * (-1.0f32).exp_m1(),
            ),
            (Activation::Gelu, 1.0, 0.841_344_8),
            (Activation::GeluTanh, 1.0, 0.841_192),
            (Activation::GeluTanh, -1.0, -0.158_808),
            (Activation::Softplus, 0.0, std::f32::consts::LN_2),
            (Activation::Swish, 1.0, 0.731_058_6),
            (Activation::Sigmoid, -40.0, 4.248_354e-18),
            (Activation::Relu, -3.0, 0.0),
        ];
        for (activation, x, expected) in cases {
            let mut y = [0.0];
            activation.forward(&[x], &mut y, 1);
            assert!(
                (y[0] - expected).abs() <= 1e-6 * expected.abs().max(1e-12),
                "{activation:?}({x}) = {}, expected {expected}",
                y[0]
            );
        }
    }

    #[test]
    fn softmax_of_huge_logits_stays_finite_and_sums_to_one() {
        let mut y = [0.0; 3];
        Activation::Softmax.forward(&[1000.0, 0.0, -1000.0], &mut y, 3);
        assert_eq!(y, [1.0, 0.0, 0.0]);
        assert_eq!(log_sum_exp(&[0.0, 40.0]), 40.0);
    }
}
