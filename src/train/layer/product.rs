//! The three matrix products of a dense layer, over row-major slices, into preallocated
//! buffers: the affine forward map `Z = X·K + b`, the kernel gradient `dK = Xᵀ·dZ` and the
//! input gradient `dX = dZ·Kᵀ`, with `X: rows × inputs`, `K: inputs × units`,
//! `Z, dZ: rows × units`.
//!
//! Up to [`FAER_THRESHOLD`] multiply-adds a product runs in this module's register-blocked
//! kernel ([`panel_product`]): faer's dispatch and packing cost more than the arithmetic on
//! the lecture's networks and the benchmark's 32-row batches. From there on faer's
//! cache-blocked kernels (single-threaded, `Par::Seq`) win (`CRATES.md` §3). Both paths are
//! deterministic for a given shape, so a run replays bit for bit.
//!
//! The kernel computes `C = init + A·B` with `B` row-major and `A` read either by rows (`X`,
//! `dZ`) or by columns (`Xᵀ`, whose columns are `X`'s rows), so only `Kᵀ` is ever copied
//! out, in tiles of up to 6 rows × 16 columns whose accumulators stay in registers. Every
//! output is `init` followed by `k` fused multiply-adds in the order of the summation index,
//! whatever the tile it falls in and whichever instruction set runs it (`f32::mul_add` is
//! exactly rounded everywhere), so the tiling never shows in the result.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Products with more multiply-adds (`rows·inputs·units`) than this go to faer. Measured
/// with `trainyard bench products` on one Zen 3 core (AVX2): at 32×32·32×32 the tiles take
/// 0.77 µs and faer 1.17, at 32×64·64×32 1.47 and 1.96; at 32×64·64×128 they are level
/// (6.6 µs), and at 128×784·784×256 faer is far ahead (575 against 798): its packing and
/// cache blocking pay from there on.
pub const FAER_THRESHOLD: usize = 64 * 32 * 32;

fn large(rows: usize, inputs: usize, units: usize) -> bool {
    rows * inputs * units > FAER_THRESHOLD
}

/// Products with at least this many multiply-adds use the threads a job was given; smaller
/// ones stay on one thread. Measured with `trainyard bench products` on two Zen 3 cores:
/// 128×784·784×256 takes 575 µs on one thread and 370 on two, 784×128·128×256 542 and 360;
/// 128×256·256×128 gained in one run (93 → 72) and lost in another (108 → 119), and small
/// products lose outright (waking the second thread costs ≈ 10 µs: 32×64·64×128 takes 6.6 µs
/// on one thread and 17 on two).
pub const PARALLEL_THRESHOLD: usize = 1 << 23;

/// `par` for a product of this size, else one thread. faer splits a product into the same
/// blocks whatever the thread count, so the result is the same bits either way (tested).
fn parallelism(par: Par, rows: usize, inputs: usize, units: usize) -> Par {
    if rows * inputs * units >= PARALLEL_THRESHOLD {
        crate::train::denormals::init_pool();
        par
    } else {
        Par::Seq
    }
}

/// Scratch space for the one transposed operand the kernel needs, `Kᵀ` for the input
/// gradient, sized once for a layer.
#[derive(Debug, Clone)]
pub struct Panels {
    kernel: Vec<f32>,
}

impl Panels {
    pub fn new(inputs: usize, units: usize) -> Panels {
        Panels {
            kernel: vec![0.0; inputs * units],
        }
    }
}

/// `z = x·kernel + bias` (bias broadcast over rows; none when `bias` is `None`).
#[allow(clippy::too_many_arguments)]
pub fn affine(
    x: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    z: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
    par: Par,
) {
    if large(rows, inputs, units) {
        for z_row in z.chunks_exact_mut(units) {
            match bias {
                Some(b) => z_row.copy_from_slice(b),
                None => z_row.fill(0.0),
            }
        }
        matmul(
            MatMut::from_row_major_slice_mut(z, rows, units),
            Accum::Add,
            MatRef::from_row_major_slice(x, rows, inputs),
            MatRef::from_row_major_slice(kernel, inputs, units),
            1.0f32,
            parallelism(par, rows, inputs, units),
        );
        return;
    }
    panel_product(Lhs::Rows(x), kernel, bias, z, rows, units, inputs);
}

/// `dkernel = xᵀ·dz` (overwrites `dkernel`).
#[allow(clippy::too_many_arguments)]
pub fn kernel_gradient(
    x: &[f32],
    dz: &[f32],
    dkernel: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
    par: Par,
) {
    if large(rows, inputs, units) {
        matmul(
            MatMut::from_row_major_slice_mut(dkernel, inputs, units),
            Accum::Replace,
            MatRef::from_row_major_slice(x, rows, inputs).transpose(),
            MatRef::from_row_major_slice(dz, rows, units),
            1.0f32,
            parallelism(par, rows, inputs, units),
        );
        return;
    }
    // The columns of `xᵀ` are the rows of `x`.
    panel_product(Lhs::Columns(x), dz, None, dkernel, inputs, units, rows);
}

/// `dx = dz·kernelᵀ` (overwrites `dx`).
#[allow(clippy::too_many_arguments)]
pub fn input_gradient(
    dz: &[f32],
    kernel: &[f32],
    dx: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
    panels: &mut Panels,
    par: Par,
) {
    if large(rows, inputs, units) {
        matmul(
            MatMut::from_row_major_slice_mut(dx, rows, inputs),
            Accum::Replace,
            MatRef::from_row_major_slice(dz, rows, units),
            MatRef::from_row_major_slice(kernel, inputs, units).transpose(),
            1.0f32,
            parallelism(par, rows, inputs, units),
        );
        return;
    }
    let kt = &mut panels.kernel[..inputs * units];
    for (j, kt_row) in kt.chunks_exact_mut(inputs).enumerate() {
        for (slot, k_row) in kt_row.iter_mut().zip(kernel.chunks_exact(units)) {
            *slot = k_row[j];
        }
    }
    panel_product(Lhs::Rows(dz), kt, None, dx, rows, inputs, units);
}

/// Which way [`product`] multiplies.
#[derive(Debug, Clone, Copy)]
pub enum Path {
    /// This module's register-tiled kernel.
    Tiles,
    /// faer, on the given threads.
    Faer(Par),
}

/// `c = a·b` for row-major `a: m × k`, `b: k × n`, `c: m × n`, along `path` whatever the
/// size: what `trainyard bench products` times to compare the paths on one shape.
pub fn product(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize, path: Path) {
    match path {
        Path::Tiles => panel_product(Lhs::Rows(a), b, None, c, m, n, k),
        Path::Faer(par) => {
            crate::train::denormals::init_pool();
            matmul(
                MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n),
                Accum::Replace,
                MatRef::from_row_major_slice(&a[..m * k], m, k),
                MatRef::from_row_major_slice(&b[..k * n], k, n),
                1.0f32,
                par,
            )
        }
    }
}

/// Rows of one tile.
const MR: usize = 6;
/// Columns of the widest tile: one AVX-512 register or two AVX2 ones. (32 columns, two
/// AVX-512 registers, made the tiles several times slower: the accumulators no longer stayed
/// in registers.)
const NR: usize = 16;

/// The left operand `a` (`m × k`) of [`panel_product`].
#[derive(Clone, Copy)]
enum Lhs<'a> {
    /// `a` row-major.
    Rows(&'a [f32]),
    /// `aᵀ` row-major: each of the `k` runs of `m` values is a column of `a`.
    Columns(&'a [f32]),
}

/// `c (m × n) = init + a·b`, with `b` row-major `k × n` and `init` a row added to every row of
/// `c` (zero when `None`).
fn panel_product(
    a: Lhs<'_>,
    b: &[f32],
    init: Option<&[f32]>,
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    let operands = Operands {
        b: &b[..k * n],
        init,
        m,
        n,
        k,
    };
    let c = &mut c[..m * n];
    crate::train::simd::dispatch(
        #[inline(always)]
        || match a {
            Lhs::Rows(a) => columns_of_tiles::<false>(&a[..m * k], &operands, c),
            Lhs::Columns(at) => columns_of_tiles::<true>(&at[..k * m], &operands, c),
        },
    );
}

/// The operands of one [`panel_product`] besides `a`.
struct Operands<'a> {
    b: &'a [f32],
    init: Option<&'a [f32]>,
    m: usize,
    n: usize,
    k: usize,
}

/// Every column strip of tiles, left to right: 16 columns at a time, then 8, 4 and 1.
#[inline(always)]
fn columns_of_tiles<const COLUMNS: bool>(a: &[f32], ops: &Operands<'_>, c: &mut [f32]) {
    let mut n0 = 0;
    while n0 < ops.n {
        let width = ops.n - n0;
        if width >= NR {
            rows_of_tiles::<NR, COLUMNS>(a, ops, c, n0);
            n0 += NR;
        } else if width >= 8 {
            rows_of_tiles::<8, COLUMNS>(a, ops, c, n0);
            n0 += 8;
        } else if width >= 4 {
            rows_of_tiles::<4, COLUMNS>(a, ops, c, n0);
            n0 += 4;
        } else {
            rows_of_tiles::<1, COLUMNS>(a, ops, c, n0);
            n0 += 1;
        }
    }
}

/// Every tile of the `W` columns from `n0`, top to bottom.
#[inline(always)]
fn rows_of_tiles<const W: usize, const COLUMNS: bool>(
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    n0: usize,
) {
    let mut m0 = 0;
    while m0 < ops.m {
        match ops.m - m0 {
            1 => tile::<1, W, COLUMNS>(a, ops, c, m0, n0),
            2 => tile::<2, W, COLUMNS>(a, ops, c, m0, n0),
            3 => tile::<3, W, COLUMNS>(a, ops, c, m0, n0),
            4 => tile::<4, W, COLUMNS>(a, ops, c, m0, n0),
            5 => tile::<5, W, COLUMNS>(a, ops, c, m0, n0),
            _ => tile::<MR, W, COLUMNS>(a, ops, c, m0, n0),
        }
        m0 += MR;
    }
}

/// The `R × W` tile of `c` at row `m0`, column `n0`, accumulated in registers.
#[inline(always)]
fn tile<const R: usize, const W: usize, const COLUMNS: bool>(
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    m0: usize,
    n0: usize,
) {
    let (m, n, k) = (ops.m, ops.n, ops.k);
    let mut acc = [[0.0f32; W]; R];
    if let Some(init) = ops.init {
        let row: &[f32; W] = init[n0..n0 + W].try_into().expect("W columns");
        acc = [*row; R];
    }
    if COLUMNS {
        for (a_col, b_row) in a.chunks_exact(m).zip(ops.b.chunks_exact(n)) {
            let a_p: &[f32; R] = a_col[m0..m0 + R].try_into().expect("R rows");
            let b_p: &[f32; W] = b_row[n0..n0 + W].try_into().expect("W columns");
            multiply_add(&mut acc, a_p, b_p);
        }
    } else {
        let a_rows: [&[f32]; R] = std::array::from_fn(|i| &a[(m0 + i) * k..(m0 + i + 1) * k]);
        for (p, b_row) in ops.b.chunks_exact(n).enumerate() {
            let a_p: [f32; R] = std::array::from_fn(|i| a_rows[i][p]);
            let b_p: &[f32; W] = b_row[n0..n0 + W].try_into().expect("W columns");
            multiply_add(&mut acc, &a_p, b_p);
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (m0 + i) * n + n0;
        c[start..start + W].copy_from_slice(acc_row);
    }
}

/// `acc += a·bᵀ` (an outer product), one fused multiply-add per entry.
#[inline(always)]
fn multiply_add<const R: usize, const W: usize>(
    acc: &mut [[f32; W]; R],
    a: &[f32; R],
    b: &[f32; W],
) {
    for (acc_row, &a_i) in acc.iter_mut().zip(a) {
        for (sum, &b_j) in acc_row.iter_mut().zip(b) {
            *sum = a_i.mul_add(b_j, *sum);
        }
    }
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

    /// Both paths (the panel kernel below the threshold, faer above it) against a naive triple
    /// loop in f64; the half-integer entries make every product exact in f32.
    #[test]
    fn all_three_products_agree_with_the_definition_on_both_paths() {
        // Tiles of every width (16, 8, 4, 1) and height (6 and 1–5), and a product above the
        // threshold.
        for (rows, inputs, units) in [
            (3, 4, 2),
            (15, 4, 16),
            (40, 33, 29),
            (11, 7, 31),
            (70, 66, 61),
        ] {
            let mut panels = Panels::new(inputs, units);
            let x = pattern(rows * inputs, 0.3);
            let k = pattern(inputs * units, 1.7);
            let b = pattern(units, 2.9);
            let dz = pattern(rows * units, 4.1);
            let mut z = vec![0.0; rows * units];
            affine(&x, &k, Some(&b), &mut z, rows, inputs, units, Par::Seq);
            let mut dk = vec![f32::NAN; inputs * units];
            kernel_gradient(&x, &dz, &mut dk, rows, inputs, units, Par::Seq);
            let mut dx = vec![f32::NAN; rows * inputs];
            input_gradient(&dz, &k, &mut dx, rows, inputs, units, &mut panels, Par::Seq);
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

    /// Only products from the threshold on get the threads.
    #[test]
    fn only_large_products_use_the_threads() {
        let two = Par::rayon(2);
        assert_eq!(parallelism(two, 128, 256, 256), two);
        assert_eq!(parallelism(two, 128, 256, 255), Par::Seq);
        assert_eq!(parallelism(Par::Seq, 128, 784, 256), Par::Seq);
    }

    /// Two threads give the same bits as one on the products large enough to use them.
    #[test]
    fn two_threads_give_the_same_bits_as_one() {
        let (rows, inputs, units) = (128, 320, 256);
        assert!(rows * inputs * units >= PARALLEL_THRESHOLD);
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let k: Vec<f32> = (0..inputs * units)
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let dz: Vec<f32> = (0..rows * units).map(|i| (i as f32 * 0.53).sin()).collect();
        let b: Vec<f32> = (0..units).map(|i| i as f32 * 0.01).collect();
        let mut panels = Panels::new(inputs, units);
        let mut run = |par: Par| {
            let mut z = vec![0.0; rows * units];
            affine(&x, &k, Some(&b), &mut z, rows, inputs, units, par);
            let mut dk = vec![0.0; inputs * units];
            kernel_gradient(&x, &dz, &mut dk, rows, inputs, units, par);
            let mut dx = vec![0.0; rows * inputs];
            input_gradient(&dz, &k, &mut dx, rows, inputs, units, &mut panels, par);
            [z, dk, dx].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        };
        let one = run(Par::Seq);
        let two = run(Par::rayon(2));
        assert!(one == two);
    }

    /// Both paths of [`product`] give the exact product (half-integer entries) on a shape
    /// with partial tiles in both directions.
    #[test]
    fn the_forced_paths_agree_on_one_shape() {
        let (m, k, n) = (13, 9, 21);
        let a = pattern(m * k, 0.7);
        let b = pattern(k * n, 2.3);
        let mut tiles = vec![f32::NAN; m * n];
        product(&a, &b, &mut tiles, m, k, n, Path::Tiles);
        let mut faer = vec![f32::NAN; m * n];
        product(&a, &b, &mut faer, m, k, n, Path::Faer(Par::Seq));
        assert_eq!(tiles, faer);
    }

    /// Every output of the kernel is `init` followed by one fused multiply-add per summation
    /// index, in order: the same bits as a scalar loop, on values whose products round, for
    /// every tile width (16, 8, 4, 1) and height (6 and 1–5).
    #[test]
    fn the_tiles_give_the_bits_of_a_scalar_fused_loop() {
        let irregular = |len: usize, salt: f32| -> Vec<f32> {
            (0..len)
                .map(|i| (i as f32 * 0.7310 + salt).sin() * 1.37)
                .collect()
        };
        for (m, k, n) in [(32, 64, 128), (13, 9, 61), (7, 33, 32), (6, 5, 3)] {
            let a = irregular(m * k, 0.3);
            let b = irregular(k * n, 1.1);
            let init = irregular(n, 2.9);
            let mut reference = vec![0.0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut sum = init[j];
                    for p in 0..k {
                        sum = a[i * k + p].mul_add(b[p * n + j], sum);
                    }
                    reference[i * n + j] = sum;
                }
            }
            let at: Vec<f32> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
            for lhs in [Lhs::Rows(&a), Lhs::Columns(&at)] {
                let mut c = vec![f32::NAN; m * n];
                panel_product(lhs, &b, Some(&init), &mut c, m, n, k);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&c), bits(&reference), "{m}×{k}·{k}×{n}");
            }
        }
    }
}
