//! The register-tiled product kernel for the small products of the lecture's networks and the
//! benchmark's 32-row batches, where faer's dispatch and packing cost more than the arithmetic.
//!
//! [`panel_product`] computes `C = init + A·B` with `B` row-major and `A` read either by rows
//! or by columns. `C` is cut into tiles of `R` rows × `NB` SIMD vectors whose accumulators stay
//! in registers: 8 × 32 with AVX-512 (sixteen of its 32 registers), 6 × 16 with AVX2 (twelve
//! of 16), 4 × 4 without either. Each step of the summation loads `NB` vectors of a row of
//! `B`, broadcasts `R` values of `A` and issues `R·NB` fused multiply-adds; columns left over
//! past the last full tile go in single vectors, the last one partly used (and run first, so
//! that it can store whole vectors). `A` read by rows of 32, 64 or 128 values has its stride as
//! a constant of the kernel.
//!
//! Every output is `init` followed by `k` fused multiply-adds in the order of the summation
//! index, whatever the tile it falls in and whichever instruction set runs it (a fused
//! multiply-add is exactly rounded everywhere), so neither the tiling nor the machine shows in
//! the result.

use std::ops::Range;

use pulp::{Simd, WithSimd};

/// The left operand `a` (`m × k`) of [`panel_product`].
#[derive(Clone, Copy)]
pub enum Lhs<'a> {
    /// `a` row-major.
    Rows(&'a [f32]),
    /// `aᵀ` row-major: each of the `k` runs of `m` values is a column of `a`.
    Columns(&'a [f32]),
}

/// `c (m × n) = init + a·b`, with `b` row-major `k × n` and `init` a row added to every row of
/// `c` (zero when `None`).
///
/// # Panics
/// If a slice is shorter than its shape says: a bug in the caller.
pub fn panel_product(
    a: Lhs<'_>,
    b: &[f32],
    init: Option<&[f32]>,
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    let a = match a {
        Lhs::Rows(a) => Lhs::Rows(&a[..m * k]),
        Lhs::Columns(at) => Lhs::Columns(&at[..k * m]),
    };
    let ops = Operands {
        b: &b[..k * n],
        init: init.map(|init| &init[..n]),
        m,
        n,
        k,
    };
    run(&Best, a, &mut c[..m * n], ops);
}

/// Runs a product on some instruction set.
trait Vectorize {
    fn vectorize<Op: WithSimd<Output = ()>>(&self, op: Op);
}

/// The best instruction set the CPU has.
struct Best;

impl Vectorize for Best {
    #[inline(always)]
    fn vectorize<Op: WithSimd<Output = ()>>(&self, op: Op) {
        crate::train::simd::vectorize(op);
    }
}

/// Runs the product on `on`. With `a` read by rows of 32, 64 or 128 values the row stride is
/// a constant of the kernel, so that a tile's rows are one address and fixed offsets from it
/// rather than a register each (W5's and W3's forward products: 6 % faster). Each stride is
/// its own dispatched function, so that no one function's stack holds every variant.
fn run(on: &impl Vectorize, a: Lhs<'_>, c: &mut [f32], ops: Operands<'_>) {
    match (a, ops.k) {
        (Lhs::Rows(_), 32) => run_with::<32>(on, a, c, ops),
        (Lhs::Rows(_), 64) => run_with::<64>(on, a, c, ops),
        (Lhs::Rows(_), 128) => run_with::<128>(on, a, c, ops),
        _ => run_with::<0>(on, a, c, ops),
    }
}

/// One variant of [`run`]. An unoptimized build inlines the portable kernel into its caller,
/// and four of them in one frame overflowed a thread's stack: there it is never inlined.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn run_with<const K: usize>(on: &impl Vectorize, a: Lhs<'_>, c: &mut [f32], ops: Operands<'_>) {
    on.vectorize(Product::<K> { a, c, ops });
}

/// One product, run by [`WithSimd::with_simd`]; `K` is the row stride of `a` read by rows
/// when it is not zero.
struct Product<'a, const K: usize> {
    a: Lhs<'a>,
    c: &'a mut [f32],
    ops: Operands<'a>,
}

/// The operands of one product besides `a` and `c`.
struct Operands<'a> {
    b: &'a [f32],
    init: Option<&'a [f32]>,
    m: usize,
    n: usize,
    k: usize,
}

impl<const K: usize> WithSimd for Product<'_, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match (S::F32_LANES, self.a) {
            (16, Lhs::Rows(_)) => strips::<S, 8, 2, false, K>(simd, self),
            (16, Lhs::Columns(_)) => strips::<S, 8, 2, true, 0>(simd, self.without_stride()),
            (8, Lhs::Rows(_)) => strips::<S, 6, 2, false, K>(simd, self),
            (8, Lhs::Columns(_)) => strips::<S, 6, 2, true, 0>(simd, self.without_stride()),
            (_, Lhs::Rows(_)) => strips::<S, 4, 4, false, K>(simd, self),
            (_, Lhs::Columns(_)) => strips::<S, 4, 4, true, 0>(simd, self.without_stride()),
        }
    }
}

impl<'a, const K: usize> Product<'a, K> {
    /// The product with no constant stride: `a` read by columns has none, so its kernels are
    /// built once, as `K = 0`, rather than once per stride.
    #[inline(always)]
    fn without_stride(self) -> Product<'a, 0> {
        Product {
            a: self.a,
            c: self.c,
            ops: self.ops,
        }
    }
}

/// Every column strip of tiles: the columns past the last whole vector (fewer than a vector)
/// in one partly used vector, then from the left `NB` vectors at a time, then single vectors.
#[inline(always)]
fn strips<S: Simd, const R: usize, const NB: usize, const COLUMNS: bool, const K: usize>(
    simd: S,
    p: Product<'_, K>,
) {
    let a = match p.a {
        Lhs::Rows(a) | Lhs::Columns(a) => a,
    };
    let (ops, c) = (&p.ops, p.c);
    let lanes = S::F32_LANES;
    // The columns past the last whole vector first: their tiles store whole vectors that run
    // on into the next row's first columns, which the strips after them overwrite.
    let narrow_from = ops.n / lanes * lanes;
    if narrow_from < ops.n {
        narrow_strip::<S, R, COLUMNS, K>(simd, a, ops, c, narrow_from);
    }
    let mut n0 = 0;
    while n0 + NB * lanes <= ops.n {
        full_strip::<S, R, NB, COLUMNS, K>(simd, a, ops, c, n0);
        n0 += NB * lanes;
    }
    if NB > 1 {
        while n0 + lanes <= ops.n {
            full_strip::<S, R, 1, COLUMNS, K>(simd, a, ops, c, n0);
            n0 += lanes;
        }
    }
}

/// Runs `$tile::<S, height, …>(…, m0, …)` for every tile of a strip, top to bottom: tiles of
/// `$r` rows, then one of the rows left over (at most 7), each with its height as a constant.
macro_rules! for_each_tile {
    ($m:expr, $r:ident, $m0:ident, $tile:ident::<$s:ty, _ $(, $g:tt)*>($($arg:expr),*)) => {{
        let mut $m0 = 0;
        while $m0 + $r <= $m {
            $tile::<$s, $r $(, $g)*>($($arg),*);
            $m0 += $r;
        }
        match $m - $m0 {
            0 => {}
            1 => $tile::<$s, 1 $(, $g)*>($($arg),*),
            2 => $tile::<$s, 2 $(, $g)*>($($arg),*),
            3 => $tile::<$s, 3 $(, $g)*>($($arg),*),
            4 => $tile::<$s, 4 $(, $g)*>($($arg),*),
            5 => $tile::<$s, 5 $(, $g)*>($($arg),*),
            6 => $tile::<$s, 6 $(, $g)*>($($arg),*),
            _ => $tile::<$s, 7 $(, $g)*>($($arg),*),
        }
    }};
}

/// A strip of `b`: row `p` starts at `values[p·stride + n0]`; in a narrow strip, rows from
/// `edge_from` on are read from `edge` instead, one zero-padded vector per row.
#[derive(Clone, Copy)]
struct Strip<'a> {
    values: &'a [f32],
    stride: usize,
    n0: usize,
    edge_from: usize,
    edge: &'a [f32],
}

/// Copies the `to.len() < 16` values, element by element over a loop of constant length:
/// `copy_from_slice`, or a plain loop the compiler recognizes as one, would call `memcpy`
/// for a length known only at run time, which costs more than the copy.
#[inline(always)]
fn copy_short(to: &mut [f32], from: &[f32]) {
    let len = to.len();
    for i in 0..16 {
        if i < len {
            to[i] = from[i];
        }
    }
}

/// `NB` vectors from `NB·lanes` values.
#[inline(always)]
fn load<S: Simd, const NB: usize>(values: &[f32]) -> [S::f32s; NB] {
    let (vectors, _) = S::as_simd_f32s(values);
    let mut out = [vectors[0]; NB];
    for (o, &v) in out.iter_mut().zip(vectors) {
        *o = v;
    }
    out
}

/// One vector holding the first `w < lanes` of `values`, zero beyond.
#[inline(always)]
fn pad<S: Simd>(values: &[f32], w: usize) -> S::f32s {
    let mut lanes = [0.0f32; 16];
    copy_short(&mut lanes[..w], &values[..w]);
    load::<S, 1>(&lanes[..S::F32_LANES])[0]
}

/// The strip of `NB` full vectors at column `n0`: `b` is read in place, `c` written in place.
#[inline(always)]
fn full_strip<S: Simd, const R: usize, const NB: usize, const COLUMNS: bool, const K: usize>(
    simd: S,
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    n0: usize,
) {
    let start = match ops.init {
        Some(init) => load::<S, NB>(&init[n0..n0 + NB * S::F32_LANES]),
        None => [simd.splat_f32s(0.0); NB],
    };
    let rows = Strip {
        values: ops.b,
        stride: ops.n,
        n0,
        edge_from: ops.k,
        edge: &[],
    };
    // At least one pass, so that an empty summation still writes `init`.
    let mut k0 = 0;
    loop {
        let span = k0..ops.k.min(k0 + K_BLOCK);
        for_each_tile!(
            ops.m,
            R,
            m0,
            full_tile::<S, _, NB, COLUMNS, K>(simd, a, ops, c, m0, n0, start, rows, span.clone())
        );
        k0 = span.end;
        if k0 >= ops.k {
            break;
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn full_tile<S: Simd, const R: usize, const NB: usize, const COLUMNS: bool, const K: usize>(
    simd: S,
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    m0: usize,
    n0: usize,
    start: [S::f32s; NB],
    rows: Strip<'_>,
    span: Range<usize>,
) {
    let width = NB * S::F32_LANES;
    let mut acc = [start; R];
    if span.start > 0 {
        for (i, acc_row) in acc.iter_mut().enumerate() {
            *acc_row = load::<S, NB>(&c[(m0 + i) * ops.n + n0..][..width]);
        }
    }
    accumulate::<S, R, NB, COLUMNS, false, K>(simd, a, ops, m0, span, &mut acc, rows);
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (m0 + i) * ops.n + n0;
        let (vectors, _) = S::as_mut_simd_f32s(&mut c[start..start + width]);
        vectors.copy_from_slice(acc_row);
    }
}

/// Summation indices a full strip runs through before moving to its next tile: 256 rows of a
/// 32-column strip of `b` (32 KiB) stay in the L1 cache while every tile of the strip reads
/// them. Between blocks the accumulators go through `c`, which leaves each output's chain of
/// fused multiply-adds unchanged.
const K_BLOCK: usize = 256;

/// Rows at the end of `b` too short for a whole vector past a narrow strip's first column: at
/// most `1 + lanes / n` rows, so at most 17.
const EDGE_ROWS: usize = 17;

/// The `w = n − n0 < lanes` columns at the right edge, one vector wide. Each row of `b` is
/// loaded as a whole vector that runs on into the next row, and only the `w` lanes that
/// belong to the strip are stored; the last rows, too close to the end of `b` for a whole
/// vector, are copied once into zero-padded vectors. The other lanes never mix with these
/// (every operation is lane by lane), so each output's chain of fused multiply-adds is
/// unchanged.
#[inline(always)]
fn narrow_strip<S: Simd, const R: usize, const COLUMNS: bool, const K: usize>(
    simd: S,
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    n0: usize,
) {
    let (n, k, lanes) = (ops.n, ops.k, S::F32_LANES);
    let w = n - n0;
    let start = match ops.init {
        Some(init) => pad::<S>(&init[n0..], w),
        None => simd.splat_f32s(0.0),
    };
    // The first row `p` with `p·n + n0 + lanes > k·n`.
    let edge_from = match (k * n).checked_sub(n0 + lanes) {
        Some(room) => (room / n + 1).min(k),
        None => 0,
    };
    let mut edge = [0.0f32; EDGE_ROWS * 16];
    for (p, row) in (edge_from..k).zip(edge.chunks_exact_mut(lanes)) {
        copy_short(&mut row[..w], &ops.b[p * n + n0..]);
    }
    let rows = Strip {
        values: ops.b,
        stride: n,
        n0,
        edge_from,
        edge: &edge[..(k - edge_from) * lanes],
    };
    for_each_tile!(
        ops.m,
        R,
        m0,
        narrow_tile::<S, _, COLUMNS, K>(simd, a, ops, c, m0, n0, start, rows)
    );
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn narrow_tile<S: Simd, const R: usize, const COLUMNS: bool, const K: usize>(
    simd: S,
    a: &[f32],
    ops: &Operands<'_>,
    c: &mut [f32],
    m0: usize,
    n0: usize,
    start: S::f32s,
    rows: Strip<'_>,
) {
    let n = ops.n;
    let w = n - n0;
    let mut acc = [[start]; R];
    accumulate::<S, R, 1, COLUMNS, true, K>(simd, a, ops, m0, 0..ops.k, &mut acc, rows);
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (m0 + i) * n + n0;
        // A whole vector where `c` has room for it: the lanes past the strip land in the
        // next rows' first columns, which later rows of this strip and the strips to its left
        // (run after it) overwrite. Only the last rows of `c` are copied lane by lane.
        if let Some(room) = c.get_mut(start..start + S::F32_LANES) {
            let (vector, _) = S::as_mut_simd_f32s(room);
            vector[0] = acc_row[0];
        } else {
            let mut lanes = [0.0f32; 16];
            let (vector, _) = S::as_mut_simd_f32s(&mut lanes[..S::F32_LANES]);
            vector[0] = acc_row[0];
            copy_short(&mut c[start..start + w], &lanes[..w]);
        }
    }
}

/// `acc += a[m0..m0 + R, ..] · b[.., strip]`, one outer product per summation index, in
/// order. With `EDGE`, the rows of a narrow strip's `edge` stand in for the last rows of `b`.
#[inline(always)]
fn accumulate<
    S: Simd,
    const R: usize,
    const NB: usize,
    const COLUMNS: bool,
    const EDGE: bool,
    const K: usize,
>(
    simd: S,
    a: &[f32],
    ops: &Operands<'_>,
    m0: usize,
    span: Range<usize>,
    acc: &mut [[S::f32s; NB]; R],
    rows: Strip<'_>,
) {
    let (m, k) = (ops.m, ops.k);
    if COLUMNS {
        let (k0, len) = (span.start, span.len());
        let a_cols = a[k0 * m..(k0 + len) * m].chunks_exact(m);
        for (p, a_col) in span.zip(a_cols) {
            let a_p: &[f32; R] = a_col[m0..m0 + R].try_into().expect("R rows");
            multiply_add(simd, acc, a_p, &b_row::<S, NB, EDGE>(rows, p));
        }
    } else {
        accumulate_rows::<S, R, NB, EDGE, K>(simd, a, k, m0, span, acc, rows);
    }
}

/// [`accumulate`] with `a` read by rows of `k` values; `K` is `k` when it is not zero.
#[inline(always)]
fn accumulate_rows<S: Simd, const R: usize, const NB: usize, const EDGE: bool, const K: usize>(
    simd: S,
    a: &[f32],
    k: usize,
    m0: usize,
    span: Range<usize>,
    acc: &mut [[S::f32s; NB]; R],
    rows: Strip<'_>,
) {
    let stride = if K == 0 { k } else { K };
    let (k0, len) = (span.start, span.len());
    let mut a_rows: [&[f32]; R] = [&[]; R];
    for (i, row) in a_rows.iter_mut().enumerate() {
        *row = &a[(m0 + i) * stride + k0..][..len];
    }
    for (q, p) in span.enumerate() {
        let mut a_p = [0.0f32; R];
        for (value, row) in a_p.iter_mut().zip(&a_rows) {
            *value = row[q];
        }
        multiply_add(simd, acc, &a_p, &b_row::<S, NB, EDGE>(rows, p));
    }
}

/// Row `p` of the strip `rows` as `NB` vectors.
#[inline(always)]
fn b_row<S: Simd, const NB: usize, const EDGE: bool>(rows: Strip<'_>, p: usize) -> [S::f32s; NB] {
    let width = NB * S::F32_LANES;
    if EDGE && p >= rows.edge_from {
        return load::<S, NB>(&rows.edge[(p - rows.edge_from) * S::F32_LANES..][..width]);
    }
    let from = p * rows.stride + rows.n0;
    load::<S, NB>(&rows.values[from..from + width])
}

/// `acc += a·bᵀ` (an outer product), one fused multiply-add per entry.
#[inline(always)]
fn multiply_add<S: Simd, const R: usize, const NB: usize>(
    simd: S,
    acc: &mut [[S::f32s; NB]; R],
    a: &[f32; R],
    b: &[S::f32s; NB],
) {
    for (acc_row, &a_i) in acc.iter_mut().zip(a) {
        let a_i = simd.splat_f32s(a_i);
        for (sum, &b_j) in acc_row.iter_mut().zip(b) {
            *sum = simd.mul_add_f32s(a_i, b_j, *sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irregular(len: usize, salt: f32) -> Vec<f32> {
        (0..len)
            .map(|i| (i as f32 * 0.7310 + salt).sin() * 1.37)
            .collect()
    }

    /// `init + a·b` as a scalar loop of fused multiply-adds in summation order.
    fn reference(
        a: &[f32],
        b: &[f32],
        init: Option<&[f32]>,
        m: usize,
        n: usize,
        k: usize,
    ) -> Vec<u32> {
        let mut c = vec![0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut sum = init.map_or(0.0, |init| init[j]);
                for p in 0..k {
                    sum = a[i * k + p].mul_add(b[p * n + j], sum);
                }
                c[i * n + j] = sum.to_bits();
            }
        }
        c
    }

    /// Every output is the scalar fused loop's, bit for bit, on every instruction set this
    /// machine has (the scalar one always): tiles of every height up to 8, strips of two
    /// vectors, one vector and the masked edge, summations longer than a narrow panel, with
    /// and without `init`, with `a` by rows and by columns.
    #[test]
    fn every_instruction_set_gives_the_bits_of_a_scalar_fused_loop() {
        fn run<S: Simd>(
            simd: S,
            a: Lhs<'_>,
            b: &[f32],
            init: Option<&[f32]>,
            m: usize,
            n: usize,
            k: usize,
        ) -> Vec<u32> {
            struct On<S>(S);
            impl<S: Simd> Vectorize for On<S> {
                fn vectorize<Op: WithSimd<Output = ()>>(&self, op: Op) {
                    self.0.vectorize(op);
                }
            }
            let mut c = vec![f32::NAN; m * n];
            super::run(&On(simd), a, &mut c, Operands { b, init, m, n, k });
            c.iter().map(|x| x.to_bits()).collect()
        }
        let shapes = [
            (32, 64, 128),
            (13, 9, 61),
            (7, 33, 32),
            (6, 5, 3),
            (15, 300, 3),
            (9, 300, 40),
            (23, 7, 50),
            (9, 130, 10),
            (1, 1, 1),
            (17, 4, 16),
            (5, 0, 20),
            // Row strides the kernel takes as constants.
            (19, 32, 40),
            (11, 128, 20),
        ];
        for (m, k, n) in shapes {
            let a = irregular(m * k, 0.3);
            let at: Vec<f32> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
            let b = irregular(k * n, 1.1);
            let init = irregular(n, 2.9);
            for init in [None, Some(init.as_slice())] {
                let want = reference(&a, &b, init, m, n, k);
                for lhs in [Lhs::Rows(&a), Lhs::Columns(&at)] {
                    let shape = format!("{m}×{k}·{k}×{n}, init {}", init.is_some());
                    assert_eq!(
                        run(pulp::Scalar::new(), lhs, &b, init, m, n, k),
                        want,
                        "scalar {shape}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    {
                        if let Some(simd) = pulp::x86::V3::try_new() {
                            assert_eq!(run(simd, lhs, &b, init, m, n, k), want, "AVX2 {shape}");
                        }
                        if let Some(simd) = pulp::x86::V4::try_new() {
                            assert_eq!(run(simd, lhs, &b, init, m, n, k), want, "AVX-512 {shape}");
                        }
                    }
                    let mut c = vec![f32::NAN; m * n];
                    panel_product(lhs, &b, init, &mut c, m, n, k);
                    let bits: Vec<u32> = c.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(bits, want, "dispatched {shape}");
                }
            }
        }
    }
}
