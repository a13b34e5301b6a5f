//! The three matrix products of a dense layer, over row-major slices, into preallocated
//! buffers: the affine forward map `Z = X·K + b`, the kernel gradient `dK = Xᵀ·dZ` and the
//! input gradient `dX = dZ·Kᵀ`, with `X: rows × inputs`, `K: inputs × units`,
//! `Z, dZ: rows × units`.
//!
//! Small products (the lecture's 4-16-3 networks) run fastest as plain loops the compiler
//! vectorizes: faer's dispatch costs more than the arithmetic there. From
//! [`FAER_THRESHOLD`] multiply-adds on, faer's kernels (single-threaded, `Par::Seq`) win by a
//! wide margin (`CRATES.md` §3: ≈ 240 GFLOP/s on 128×784·784×256). Either path is
//! deterministic for a given shape, so a run replays bit for bit.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Products with at least this many multiply-adds (`rows·inputs·units`) go to faer.
/// Measured in a release build: at 15×4·4×16 the loops take ≈ 0.1 µs and faer ≈ 0.4 µs;
/// at 32×64·64×64 faer is already ahead.
pub const FAER_THRESHOLD: usize = 32 * 32 * 32;

fn large(rows: usize, inputs: usize, units: usize) -> bool {
    rows * inputs * units >= FAER_THRESHOLD
}

/// `z = x·kernel + bias` (bias broadcast over rows; none when `bias` is `None`).
pub fn affine(
    x: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    z: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
) {
    for z_row in z.chunks_exact_mut(units) {
        match bias {
            Some(b) => z_row.copy_from_slice(b),
            None => z_row.fill(0.0),
        }
    }
    if large(rows, inputs, units) {
        matmul(
            MatMut::from_row_major_slice_mut(z, rows, units),
            Accum::Add,
            MatRef::from_row_major_slice(x, rows, inputs),
            MatRef::from_row_major_slice(kernel, inputs, units),
            1.0f32,
            Par::Seq,
        );
        return;
    }
    crate::train::simd::dispatch(
        #[inline(always)]
        || {
            for (x_row, z_row) in x.chunks_exact(inputs).zip(z.chunks_exact_mut(units)) {
                for (&xi, k_row) in x_row.iter().zip(kernel.chunks_exact(units)) {
                    for (zj, &kj) in z_row.iter_mut().zip(k_row) {
                        *zj += xi * kj;
                    }
                }
            }
        },
    );
}

/// `dkernel = xᵀ·dz` (overwrites `dkernel`).
pub fn kernel_gradient(
    x: &[f32],
    dz: &[f32],
    dkernel: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
) {
    if large(rows, inputs, units) {
        matmul(
            MatMut::from_row_major_slice_mut(dkernel, inputs, units),
            Accum::Replace,
            MatRef::from_row_major_slice(x, rows, inputs).transpose(),
            MatRef::from_row_major_slice(dz, rows, units),
            1.0f32,
            Par::Seq,
        );
        return;
    }
    crate::train::simd::dispatch(
        #[inline(always)]
        || {
            dkernel.fill(0.0);
            for (x_row, dz_row) in x.chunks_exact(inputs).zip(dz.chunks_exact(units)) {
                for (&xi, dk_row) in x_row.iter().zip(dkernel.chunks_exact_mut(units)) {
                    for (dk, &d) in dk_row.iter_mut().zip(dz_row) {
                        *dk += xi * d;
                    }
                }
            }
        },
    );
}

/// `dx = dz·kernelᵀ` (overwrites `dx`).
pub fn input_gradient(
    dz: &[f32],
    kernel: &[f32],
    dx: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
) {
    if large(rows, inputs, units) {
        matmul(
            MatMut::from_row_major_slice_mut(dx, rows, inputs),
            Accum::Replace,
            MatRef::from_row_major_slice(dz, rows, units),
            MatRef::from_row_major_slice(kernel, inputs, units).transpose(),
            1.0f32,
            Par::Seq,
        );
        return;
    }
    crate::train::simd::dispatch(
        #[inline(always)]
        || {
            for (dz_row, dx_row) in dz.chunks_exact(units).zip(dx.chunks_exact_mut(inputs)) {
                for (dxi, k_row) in dx_row.iter_mut().zip(kernel.chunks_exact(units)) {
                    *dxi = dz_row.iter().zip(k_row).map(|(a, b)| a * b).sum();
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, irregular fill so that transposition mistakes cannot cancel out.
    fn pattern(len: usize, salt: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 * 0.618 + salt).sin() * 2.0).round() / 2.0)
            .collect()
    }

    /// Both paths (loops below the threshold, faer above it) against a naive triple loop in
    /// f64; the half-integer entries make every product exact in f32.
    #[test]
    fn all_three_products_agree_with_the_definition_on_both_paths() {
        for (rows, inputs, units) in [(3, 4, 2), (15, 4, 16), (40, 33, 29)] {
            let x = pattern(rows * inputs, 0.3);
            let k = pattern(inputs * units, 1.7);
            let b = pattern(units, 2.9);
            let dz = pattern(rows * units, 4.1);
            let mut z = vec![0.0; rows * units];
            affine(&x, &k, Some(&b), &mut z, rows, inputs, units);
            let mut dk = vec![f32::NAN; inputs * units];
            kernel_gradient(&x, &dz, &mut dk, rows, inputs, units);
            let mut dx = vec![f32::NAN; rows * inputs];
            input_gradient(&dz, &k, &mut dx, rows, inputs, units);
            for i in 0..rows {
                for j in 0..units {
                    let want: f64 = f64::from(b[j])
                        + (0..inputs)
                            .map(|p| f64::from(x[i * inputs + p]) * f64::from(k[p * units + j]))
                            .sum::<f64>();
                    assert_eq!(
                        f64::from(z[i * units + j]),
                        want,
                        "z[{i},{j}] {rows}x{inputs}x{units}"
                    );
                }
            }
            for p in 0..inputs {
                for j in 0..units {
                    let want: f64 = (0..rows)
                        .map(|i| f64::from(x[i * inputs + p]) * f64::from(dz[i * units + j]))
                        .sum();
                    assert_eq!(f64::from(dk[p * units + j]), want);
                }
            }
            for i in 0..rows {
                for p in 0..inputs {
                    let want: f64 = (0..units)
                        .map(|j| f64::from(dz[i * units + j]) * f64::from(k[p * units + j]))
                        .sum();
                    assert_eq!(f64::from(dx[i * inputs + p]), want);
                }
            }
        }
    }
}
