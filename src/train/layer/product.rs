//! The three matrix products of a dense layer, over row-major slices, into preallocated
//! buffers: the affine forward map `Z = X·K + b`, the kernel gradient `dK = Xᵀ·dZ` and the
//! input gradient `dX = dZ·Kᵀ`, with `X: rows × inputs`, `K: inputs × units`,
//! `Z, dZ: rows × units`.
//!
//! Up to [`FAER_THRESHOLD`] multiply-adds a product runs in the register-tiled kernel of
//! [`super::tiles`]: faer's dispatch and packing cost more than the arithmetic on the
//! lecture's networks and the benchmark's 32-row batches. From there on faer's cache-blocked
//! kernels (single-threaded, `Par::Seq`) win (`CRATES.md` §3). Both paths are deterministic
//! for a given shape, so a run replays bit for bit; the tiles give the same bits on every
//! instruction set.
//!
//! The kernel reads `A` either by rows (`X`, `dZ`) or by columns (`Xᵀ`, whose columns are
//! `X`'s rows), so only `Kᵀ` is ever copied out.

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::tiles::{Lhs, panel_product};

/// Products with more multiply-adds (`rows·inputs·units`) than this go to faer. Measured
/// with `trainyard bench products` on one Emerald Rapids core (AVX-512): at 32×32·32×32 the
/// tiles take 0.43 µs and faer 0.77, at 32×64·64×128 4.2 and 5.5, at 32×128·128×64 3.5 and
/// 3.9; at 128×256·256×128 faer is ahead (54 against 64) and at 128×784·784×256 far ahead
/// (326 against 418): its packing and cache blocking pay from there on.
pub const FAER_THRESHOLD: usize = 1 << 20;

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

/// How many threads a product of this size runs on: `par`'s for a large one, else one.
fn threads(par: Par, rows: usize, inputs: usize, units: usize) -> usize {
    match par {
        Par::Rayon(n) if rows * inputs * units >= PARALLEL_THRESHOLD => n.get(),
        _ => 1,
    }
}

/// `c ← lhs·rhs` (`Accum::Replace`) or `c += lhs·rhs` (`Accum::Add`) for row-major `c`, in
/// faer, one block of `c`'s rows per thread, each block a single-threaded faer product of
/// `lhs`'s rows. A faer product sums every output in the same order whatever its number of
/// rows (its summation blocks depend on the summation length and the caches only), so the
/// result is the same bits on any thread count (tested). faer's own row-and-column split of a
/// product was slower on two Zen 4 cores than one thread for 128×784·784×256 (515 µs
/// against 452).
fn faer_by_rows(
    c: &mut [f32],
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    accum: Accum,
    threads: usize,
) {
    let (rows, cols) = (lhs.nrows(), rhs.ncols());
    let product = |first: usize, c_block: &mut [f32]| {
        let len = c_block.len() / cols;
        matmul(
            MatMut::from_row_major_slice_mut(c_block, len, cols),
            accum,
            lhs.subrows(first, len),
            rhs,
            1.0f32,
            Par::Seq,
        );
    };
    if threads <= 1 || rows < 2 {
        product(0, &mut c[..rows * cols]);
        return;
    }
    crate::train::denormals::init_pool();
    // Whole vectors of rows per block, so that every block runs faer's full kernels.
    let block = rows.div_ceil(threads).next_multiple_of(16).min(rows);
    let product = &product;
    let mut blocks = c[..rows * cols].chunks_mut(block * cols).enumerate();
    // The calling thread takes the first block itself rather than wait idle.
    let first = blocks.next();
    rayon::in_place_scope(|scope| {
        for (i, c_block) in blocks {
            scope.spawn(move |_| product(i * block, c_block));
        }
        if let Some((_, c_block)) = first {
            product(0, c_block);
        }
    });
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
        faer_by_rows(
            z,
            MatRef::from_row_major_slice(x, rows, inputs),
            MatRef::from_row_major_slice(kernel, inputs, units),
            Accum::Add,
            threads(par, rows, inputs, units),
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
        faer_by_rows(
            dkernel,
            MatRef::from_row_major_slice(x, rows, inputs).transpose(),
            MatRef::from_row_major_slice(dz, rows, units),
            Accum::Replace,
            threads(par, rows, inputs, units),
        );
        return;
    }
    // The columns of `xᵀ` are the rows of `x`.
    panel_product(Lhs::Columns(x), dz, None, dkernel, inputs, units, rows);
}

/// `dx = dz·kernelᵀ` (overwrites `dx`); a small product first copies `kernelᵀ` into `transposed`
/// (at least `inputs·units` long).
#[allow(clippy::too_many_arguments)]
pub fn input_gradient(
    dz: &[f32],
    kernel: &[f32],
    dx: &mut [f32],
    rows: usize,
    inputs: usize,
    units: usize,
    transposed: &mut [f32],
    par: Par,
) {
    if large(rows, inputs, units) {
        faer_by_rows(
            dx,
            MatRef::from_row_major_slice(dz, rows, units),
            MatRef::from_row_major_slice(kernel, inputs, units).transpose(),
            Accum::Replace,
            threads(par, rows, inputs, units),
        );
        return;
    }
    let kt = &mut transposed[..inputs * units];
    transpose(&kernel[..inputs * units], inputs, units, kt);
    panel_product(Lhs::Rows(dz), kt, None, dx, rows, inputs, units);
}

/// `db = Σ_rows dz` (overwrites `db`, `units` long): each column summed from zero in row
/// order, as the plain loop over rows does, but with a block of columns' sums held in
/// registers across the rows. Adding each row into `db` in memory chained every row's
/// additions to the last row's stores, which cost a deep sigmoid stack as much as a product.
pub fn bias_gradient(dz: &[f32], db: &mut [f32], units: usize) {
    crate::train::simd::vectorize(ColumnSums { dz, db, units });
}

struct ColumnSums<'a> {
    dz: &'a [f32],
    db: &'a mut [f32],
    units: usize,
}

impl pulp::WithSimd for ColumnSums<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let ColumnSums { dz, db, units } = self;
        let lanes = S::F32_LANES;
        let mut n0 = 0;
        while n0 + 4 * lanes <= units {
            column_block::<S, 4>(simd, dz, &mut db[n0..n0 + 4 * lanes], units, n0);
            n0 += 4 * lanes;
        }
        while n0 + lanes <= units {
            column_block::<S, 1>(simd, dz, &mut db[n0..n0 + lanes], units, n0);
            n0 += lanes;
        }
        let tail = &mut db[n0..units];
        if !tail.is_empty() {
            // Fewer columns than a vector: their sums in an array of scalars, which the
            // compiler keeps apart per column.
            let mut sums = [0.0f32; 16];
            let sums = &mut sums[..tail.len()];
            for row in dz.chunks_exact(units) {
                for (sum, &d) in sums.iter_mut().zip(&row[n0..]) {
                    *sum += d;
                }
            }
            tail.copy_from_slice(sums);
        }
    }
}

/// The sums of `NB` vectors of columns from `n0`, into `db` (`NB·lanes` long).
#[inline(always)]
fn column_block<S: pulp::Simd, const NB: usize>(
    simd: S,
    dz: &[f32],
    db: &mut [f32],
    units: usize,
    n0: usize,
) {
    let mut sums = [simd.splat_f32s(0.0); NB];
    for row in dz.chunks_exact(units) {
        let (vectors, _) = S::as_simd_f32s(&row[n0..n0 + db.len()]);
        for (sum, &v) in sums.iter_mut().zip(vectors) {
            *sum = simd.add_f32s(*sum, v);
        }
    }
    let (out, _) = S::as_mut_simd_f32s(db);
    out.copy_from_slice(&sums);
}

/// `to (cols × rows) = fromᵀ` for row-major `from (rows × cols)`, in square blocks: 16 × 16
/// with AVX-512 (sixteen loads, 64 shuffles, sixteen stores), 8 × 8 with AVX (eight loads, 24
/// shuffles, eight stores) and for what a 16 × 16 block leaves at the edges, the last partial
/// blocks element by element. (A column-by-column copy took a sixth of a step of the
/// benchmark's digits network, and a blocked scalar copy half that.)
fn transpose(from: &[f32], rows: usize, cols: usize, to: &mut [f32]) {
    let from = &from[..rows * cols];
    let to = &mut to[..rows * cols];
    let all = Region {
        rows: 0..rows,
        cols: 0..cols,
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V4::try_new() {
        let avx = simd.avx;
        simd.vectorize(
            #[inline(always)]
            || {
                transpose_blocks::<16>(
                    (from, rows, cols, to),
                    all,
                    #[inline(always)]
                    |block| transpose_avx512(simd, block),
                    #[inline(always)]
                    |transposition, edge| {
                        transpose_blocks::<8>(
                            transposition,
                            edge,
                            #[inline(always)]
                            |block| transpose_avx(avx, block),
                            transpose_elements,
                        )
                    },
                )
            },
        );
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.vectorize(
            #[inline(always)]
            || {
                transpose_blocks::<8>(
                    (from, rows, cols, to),
                    all,
                    #[inline(always)]
                    |block| transpose_avx(simd.avx, block),
                    transpose_elements,
                )
            },
        );
        return;
    }
    transpose_blocks::<8>(
        (from, rows, cols, to),
        all,
        transpose_block,
        transpose_elements,
    );
}

/// A rectangle of a matrix: its rows and its columns.
#[derive(Clone)]
struct Region {
    rows: Range<usize>,
    cols: Range<usize>,
}

/// `from (rows × cols)` and `to`, the transposition's source and destination.
type Transposition<'a, 'b> = (&'a [f32], usize, usize, &'b mut [f32]);

/// Transposes `region` of `from` into `to`: its full `B × B` blocks through `full(rows of the
/// block) → its columns`, the partial blocks at its right and bottom edges through `edge`.
#[inline(always)]
fn transpose_blocks<const B: usize>(
    (from, rows, cols, to): Transposition<'_, '_>,
    region: Region,
    full: impl Fn(&[&[f32; B]; B]) -> [[f32; B]; B],
    edge: impl Fn(Transposition<'_, '_>, Region),
) {
    for r0 in region.rows.clone().step_by(B) {
        let r1 = region.rows.end.min(r0 + B);
        for c0 in region.cols.clone().step_by(B) {
            let c1 = region.cols.end.min(c0 + B);
            if r1 - r0 < B || c1 - c0 < B {
                edge(
                    (from, rows, cols, &mut *to),
                    Region {
                        rows: r0..r1,
                        cols: c0..c1,
                    },
                );
                continue;
            }
            let mut from_rows = [&[0.0f32; B]; B];
            for (r, row) in from_rows.iter_mut().enumerate() {
                *row = from[(r0 + r) * cols + c0..][..B]
                    .try_into()
                    .expect("a full block");
            }
            let columns = full(&from_rows);
            for (c, column) in columns.iter().enumerate() {
                to[(c0 + c) * rows + r0..][..B].copy_from_slice(column);
            }
        }
    }
}

/// A partial block of a transposition, element by element.
#[inline(always)]
fn transpose_elements((from, rows, cols, to): Transposition<'_, '_>, region: Region) {
    for r in region.rows {
        for c in region.cols.clone() {
            to[c * rows + r] = from[r * cols + c];
        }
    }
}

/// One full block, element by element.
#[inline(always)]
fn transpose_block<const B: usize>(from: &[&[f32; B]; B]) -> [[f32; B]; B] {
    let mut columns = [[0.0; B]; B];
    for (c, column) in columns.iter_mut().enumerate() {
        for (t, from_row) in column.iter_mut().zip(from) {
            *t = from_row[c];
        }
    }
    columns
}
/// One full block with AVX's unpack, shuffle and lane-permute steps.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose_avx(avx: pulp::core_arch::x86::Avx, from: &[&[f32; 8]; 8]) -> [[f32; 8]; 8] {
    use std::arch::x86_64::__m256;
    let r: [__m256; 8] = from.map(|row| pulp::cast(*row));
    let t0 = avx._mm256_unpacklo_ps(r[0], r[1]);
    let t1 = avx._mm256_unpackhi_ps(r[0], r[1]);
    let t2 = avx._mm256_unpacklo_ps(r[2], r[3]);
    let t3 = avx._mm256_unpackhi_ps(r[2], r[3]);
    let t4 = avx._mm256_unpacklo_ps(r[4], r[5]);
    let t5 = avx._mm256_unpackhi_ps(r[4], r[5]);
    let t6 = avx._mm256_unpacklo_ps(r[6], r[7]);
    let t7 = avx._mm256_unpackhi_ps(r[6], r[7]);
    let u0 = avx._mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = avx._mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = avx._mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = avx._mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = avx._mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = avx._mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = avx._mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = avx._mm256_shuffle_ps::<0xEE>(t5, t7);
    let columns = [
        avx._mm256_permute2f128_ps::<0x20>(u0, u4),
        avx._mm256_permute2f128_ps::<0x20>(u1, u5),
        avx._mm256_permute2f128_ps::<0x20>(u2, u6),
        avx._mm256_permute2f128_ps::<0x20>(u3, u7),
        avx._mm256_permute2f128_ps::<0x31>(u0, u4),
        avx._mm256_permute2f128_ps::<0x31>(u1, u5),
        avx._mm256_permute2f128_ps::<0x31>(u2, u6),
        avx._mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    columns.map(pulp::cast)
}

/// One full 16 × 16 block with AVX-512: within each 128-bit lane, unpacks and shuffles
/// transpose 4 × 4 blocks, as in [`transpose_avx`]; two rounds of lane shuffles then put
/// every 4 × 4 block in its place.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose_avx512(simd: pulp::x86::V4, from: &[&[f32; 16]; 16]) -> [[f32; 16]; 16] {
    use std::arch::x86_64::__m512;
    let f = simd.avx512f;
    let r: [__m512; 16] = from.map(|row| pulp::cast(*row));
    // Pairs of rows interleaved: `t[2i]` holds entries 0 and 1 of every lane of rows 2i and
    // 2i + 1, `t[2i + 1]` entries 2 and 3.
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            f._mm512_unpacklo_ps(a, b)
        } else {
            f._mm512_unpackhi_ps(a, b)
        }
    });
    // `u[4g + j]`: in lane l, column 4l + j of rows 4g … 4g + 3.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (g, j) = (i / 4, i % 4);
        let (a, b) = (t[4 * g + j / 2], t[4 * g + 2 + j / 2]);
        if j % 2 == 0 {
            f._mm512_shuffle_ps::<0x44>(a, b)
        } else {
            f._mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    let mut columns = [[0.0f32; 16]; 16];
    for j in 0..4 {
        let [v0, v1, v2, v3] = [u[j], u[4 + j], u[8 + j], u[12 + j]];
        let x0 = f._mm512_shuffle_f32x4::<0x44>(v0, v1);
        let x1 = f._mm512_shuffle_f32x4::<0xEE>(v0, v1);
        let x2 = f._mm512_shuffle_f32x4::<0x44>(v2, v3);
        let x3 = f._mm512_shuffle_f32x4::<0xEE>(v2, v3);
        columns[j] = pulp::cast(f._mm512_shuffle_f32x4::<0x88>(x0, x2));
        columns[4 + j] = pulp::cast(f._mm512_shuffle_f32x4::<0xDD>(x0, x2));
        columns[8 + j] = pulp::cast(f._mm512_shuffle_f32x4::<0x88>(x1, x3));
        columns[12 + j] = pulp::cast(f._mm512_shuffle_f32x4::<0xDD>(x1, x3));
    }
    columns
}

/// Which way [`product`] multiplies.
#[derive(Debug, Clone, Copy)]
pub enum Path {
    /// This module's register-tiled kernel.
    Tiles,
    /// faer, on the given threads as the engine shares a large product out: one block of
    /// output rows per thread, each a single-threaded faer product.
    Faer(Par),
}

/// `c = a·b` for row-major `a: m × k`, `b: k × n`, `c: m × n`, along `path` whatever the
/// size: what `trainyard bench products` times to compare the paths on one shape.
pub fn product(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize, path: Path) {
    match path {
        Path::Tiles => panel_product(Lhs::Rows(a), b, None, c, m, n, k),
        Path::Faer(par) => {
            let threads = match par {
                Par::Rayon(n) => n.get(),
                Par::Seq => 1,
            };
            faer_by_rows(
                &mut c[..m * n],
                MatRef::from_row_major_slice(&a[..m * k], m, k),
                MatRef::from_row_major_slice(&b[..k * n], k, n),
                Accum::Replace,
                threads,
            );
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
            let mut transposed = vec![0.0; inputs * units];
            let x = pattern(rows * inputs, 0.3);
            let k = pattern(inputs * units, 1.7);
            let b = pattern(units, 2.9);
            let dz = pattern(rows * units, 4.1);
            let mut z = vec![0.0; rows * units];
            affine(&x, &k, Some(&b), &mut z, rows, inputs, units, Par::Seq);
            let mut dk = vec![f32::NAN; inputs * units];
            kernel_gradient(&x, &dz, &mut dk, rows, inputs, units, Par::Seq);
            let mut dx = vec![f32::NAN; rows * inputs];
            input_gradient(
                &dz,
                &k,
                &mut dx,
                rows,
                inputs,
                units,
                &mut transposed,
                Par::Seq,
            );
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

    /// The blocked transpose, with AVX where the machine has it and element by element, on
    /// shapes with partial blocks both ways.
    /// Every column's sum, on the vector blocks and the scalar tail, is the plain row-order
    /// loop's bit for bit (so that `db` does not depend on the instruction set).
    #[test]
    fn bias_gradient_sums_each_column_in_row_order() {
        for units in [1, 3, 10, 16, 32, 64, 75, 130] {
            for rows in [1, 7, 32] {
                let dz: Vec<f32> = (0..rows * units)
                    .map(|i| ((i as f32) * 0.377).sin() * 10f32.powi((i % 7) as i32 - 3))
                    .collect();
                let mut want = vec![0.0f32; units];
                for row in dz.chunks_exact(units) {
                    for (w, &d) in want.iter_mut().zip(row) {
                        *w += d;
                    }
                }
                let mut got = vec![f32::NAN; units];
                bias_gradient(&dz, &mut got, units);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{rows} × {units}"
                );
            }
        }
    }

    #[test]
    fn transpose_moves_every_entry() {
        for (rows, cols) in [
            (1, 1),
            (3, 17),
            (16, 8),
            (21, 10),
            (64, 128),
            (33, 40),
            (32, 32),
            (48, 25),
            (25, 48),
        ] {
            let from = pattern(rows * cols, 0.9);
            let mut to = vec![f32::NAN; rows * cols];
            transpose(&from, rows, cols, &mut to);
            let mut plain = vec![f32::NAN; rows * cols];
            transpose_blocks::<8>(
                (&from, rows, cols, &mut plain),
                Region {
                    rows: 0..rows,
                    cols: 0..cols,
                },
                transpose_block,
                transpose_elements,
            );
            assert_eq!(plain, to);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        to[c * rows + r],
                        from[r * cols + c],
                        "{rows}×{cols} at {r},{c}"
                    );
                }
            }
        }
    }

    /// Only products from the threshold on get the threads.
    #[test]
    fn only_large_products_use_the_threads() {
        let two = Par::rayon(2);
        assert_eq!(threads(two, 128, 256, 256), 2);
        assert_eq!(threads(two, 128, 256, 255), 1);
        assert_eq!(threads(Par::Seq, 128, 784, 256), 1);
    }

    /// Two and three threads give the same bits as one on the products large enough to use
    /// them, the benchmark's largest among them, with row counts that split unevenly.
    #[test]
    fn more_threads_give_the_same_bits_as_one() {
        for (rows, inputs, units) in [(128, 320, 256), (128, 784, 256), (131, 301, 217)] {
            assert!(rows * inputs * units >= PARALLEL_THRESHOLD);
            let x: Vec<f32> = (0..rows * inputs)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let k: Vec<f32> = (0..inputs * units)
                .map(|i| (i as f32 * 0.11).cos())
                .collect();
            let dz: Vec<f32> = (0..rows * units).map(|i| (i as f32 * 0.53).sin()).collect();
            let b: Vec<f32> = (0..units).map(|i| i as f32 * 0.01).collect();
            let mut transposed = vec![0.0; inputs * units];
            let mut run = |par: Par| {
                let mut z = vec![0.0; rows * units];
                affine(&x, &k, Some(&b), &mut z, rows, inputs, units, par);
                let mut dk = vec![0.0; inputs * units];
                kernel_gradient(&x, &dz, &mut dk, rows, inputs, units, par);
                let mut dx = vec![0.0; rows * inputs];
                input_gradient(&dz, &k, &mut dx, rows, inputs, units, &mut transposed, par);
                [z, dk, dx].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            let one = run(Par::Seq);
            for threads in [2, 3] {
                assert!(
                    one == run(Par::rayon(threads)),
                    "{rows}×{inputs}×{units}, {threads}"
                );
            }
        }
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
}
