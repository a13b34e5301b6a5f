//! Elementary functions written so that loops over them vectorize.
//!
//! `f32::exp` is a call into the C library, which a loop cannot vectorize: in a 20-layer
//! sigmoid stack it was a third of all instructions. [`exp`] is straight-line arithmetic —
//! multiplies, fused multiply-adds and integer bit operations, no branches — so the compiler
//! turns a loop over it into 16- or 8-lane code under [`super::simd::dispatch`]. Every
//! operation is exactly rounded on every instruction set (`f32::mul_add` included), so the
//! result is the same bits whichever path runs it, on every machine: unlike the C library's
//! `expf`, it does not depend on the system it runs on. [`tanh`] and [`exp_m1`], built on
//! it, and [`ln_1p`] replace `tanhf`, `expm1f` and `log1pf` for the same reasons.

/// `log₂ e`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in two (Cody–Waite): `LN2_HI` has trailing zero bits, so `n·LN2_HI` is exact
/// for every `|n| ≤ 2⁹`, and `LN2_HI + LN2_LO` is `ln 2` to about 2⁻⁴⁸.
const LN2_HI: f32 = 0.693_359_4; // 355/512 exactly
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5·2²³`: adding it rounds to the nearest integer and leaves the integer in the low bits.
const ROUNDER: f32 = 12_582_912.0;
/// Above this `eˣ` overflows (`ln f32::MAX ≈ 88.72`); below the lower bound it is below half
/// the smallest subnormal (`ln 2⁻¹⁵⁰ ≈ −103.97`). Clamping to them keeps `n` in `[−150, 129]`.
const HIGH: f32 = 89.0;
const LOW: f32 = -104.0;

/// e^r on [−ln 2 / 2, ln 2 / 2]: Cephes's `expf` minimax polynomial, highest power first.
const EXP_POLYNOMIAL: [f32; 8] = [
    1.987_569_1e-4,
    1.398_2e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
    1.0,
    1.0,
];

/// `c₀·xⁿ + c₁·xⁿ⁻¹ + … + cₙ` by Horner's rule, one fused multiply-add per coefficient after
/// the first.
#[inline(always)]
fn horner(coefficients: &[f32], x: f32) -> f32 {
    let mut sum = coefficients[0];
    for &c in &coefficients[1..] {
        sum = sum.mul_add(x, c);
    }
    sum
}

/// `eˣ`, less than one unit in the last place from the exact value over the whole range
/// (0.88 at most against `f64::exp` on the tests' grid), with `e^{+∞} = +∞`, `e^{−∞} = 0`,
/// NaN for NaN, overflow to `+∞` above `≈ 88.72` and gradual underflow through the
/// subnormals (in IEEE mode; inside `fit` and inference the thread flushes them to zero,
/// [`super::denormals`]).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let (n, r) = reduce(x);
    scale(horner(&EXP_POLYNOMIAL, r), n)
}

/// `e^{x + low}` for a `low` below an ulp of x, which joins the reduced argument of [`exp`]
/// rather than x itself (where it would be rounded away): the exponential of a sum known in
/// two parts, such as `−y²/2` split by a fused multiply-add.
#[inline(always)]
fn exp_sum(x: f32, low: f32) -> f32 {
    let (n, r) = reduce(x);
    scale(horner(&EXP_POLYNOMIAL, r + low), n)
}

/// x as `n·ln 2 + r`, with n an integer and `|r| ≤ ln 2 / 2`, after clamping x into
/// `[LOW, HIGH]` (comparisons are false for NaN, which passes through to r).
#[inline(always)]
fn reduce(x: f32) -> (i32, f32) {
    let x = if x > HIGH { HIGH } else { x };
    let x = if x < LOW { LOW } else { x };
    let shifted = x.mul_add(LOG2_E, ROUNDER);
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let n_float = shifted - ROUNDER;
    let r = (-n_float).mul_add(LN2_HI, x);
    (n, (-n_float).mul_add(LN2_LO, r))
}

/// `p·2ⁿ` for n in `[−150, 129]`, as `p·2^{n₁}·2^{n₂}`: each factor a normal float, one
/// rounding at most (the second product's, into the subnormals).
#[inline(always)]
fn scale(p: f32, n: i32) -> f32 {
    let n1 = n >> 1;
    let n2 = n - n1;
    let power = |k: i32| f32::from_bits(((k + 127) << 23) as u32);
    p * power(n1) * power(n2)
}

/// [`exp`] of sixteen values at most `HIGH` (or NaN) with AVX-512, the same bits lane by lane:
/// the same steps without the clamp from above, which such values never reach (the sigmoid's
/// `−|x|`; a caller with larger values takes `min(HIGH, x)` first), and with the last scaling
/// `p·2ⁿ` one `vscalefps` (a product by a power of two, rounded once, as the two products of
/// the scalar form are) in place of two products and six integer steps, which share the two
/// fused multiply-add pipes with the polynomial.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn exp_at_most_high_avx512(
    simd: pulp::x86::V4,
    x: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__m512 {
    let f = simd.avx512f;
    let splat = |v: f32| f._mm512_set1_ps(v);
    // `max(LOW, x)` returns its second operand, x, when x is NaN.
    let x = f._mm512_max_ps(splat(LOW), x);
    let shifted = f._mm512_fmadd_ps(x, splat(LOG2_E), splat(ROUNDER));
    let n_float = f._mm512_sub_ps(shifted, splat(ROUNDER));
    let r = f._mm512_fnmadd_ps(n_float, splat(LN2_HI), x);
    let r = f._mm512_fnmadd_ps(n_float, splat(LN2_LO), r);
    let mut p = splat(EXP_POLYNOMIAL[0]);
    for &c in &EXP_POLYNOMIAL[1..] {
        p = f._mm512_fmadd_ps(p, r, splat(c));
    }
    f._mm512_scalef_ps(p, n_float)
}

/// [`exp`] of eight values at most `HIGH` (or NaN) with AVX2 and FMA, the same bits lane by
/// lane: the scalar form's steps without the clamp from above, as [`exp_at_most_high_avx512`].
/// AVX2 has no `vscalefps`, so `p·2ⁿ` is the scalar form's two products by powers of two
/// built from the exponent bits.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn exp_at_most_high_avx2(
    simd: pulp::x86::V3,
    x: std::arch::x86_64::__m256,
) -> std::arch::x86_64::__m256 {
    let (avx, avx2, fma) = (simd.avx, simd.avx2, simd.fma);
    let splat = |v: f32| avx._mm256_set1_ps(v);
    // `max(LOW, x)` returns its second operand, x, when x is NaN.
    let x = avx._mm256_max_ps(splat(LOW), x);
    let shifted = fma._mm256_fmadd_ps(x, splat(LOG2_E), splat(ROUNDER));
    let n = avx2._mm256_sub_epi32(
        avx._mm256_castps_si256(shifted),
        avx._mm256_set1_epi32(ROUNDER.to_bits() as i32),
    );
    let n_float = avx._mm256_sub_ps(shifted, splat(ROUNDER));
    let r = fma._mm256_fnmadd_ps(n_float, splat(LN2_HI), x);
    let r = fma._mm256_fnmadd_ps(n_float, splat(LN2_LO), r);
    let mut p = splat(EXP_POLYNOMIAL[0]);
    for &c in &EXP_POLYNOMIAL[1..] {
        p = fma._mm256_fmadd_ps(p, r, splat(c));
    }
    let n1 = avx2._mm256_srai_epi32::<1>(n);
    let n2 = avx2._mm256_sub_epi32(n, n1);
    let power = |k| {
        let biased = avx2._mm256_add_epi32(k, avx._mm256_set1_epi32(127));
        avx._mm256_castsi256_ps(avx2._mm256_slli_epi32::<23>(biased))
    };
    avx._mm256_mul_ps(avx._mm256_mul_ps(p, power(n1)), power(n2))
}

/// Below this `|x|`, [`exp_m1`] sums its Taylor series; from it on, `eˣ − 1`.
const EXP_M1_SERIES_BELOW: f32 = 0.7;

/// `1/n!` for n = 10 down to 2: `eˣ − 1 = x + x²·(1/2! + x/3! + … + x⁸/10!)` to within a
/// fraction of a unit in the last place for `|x| < 0.7`.
const EXP_M1_SERIES: [f32; 9] = [
    (1.0f64 / 3_628_800.0) as f32,
    (1.0f64 / 362_880.0) as f32,
    (1.0f64 / 40_320.0) as f32,
    (1.0f64 / 5_040.0) as f32,
    (1.0f64 / 720.0) as f32,
    (1.0f64 / 120.0) as f32,
    (1.0f64 / 24.0) as f32,
    (1.0f64 / 6.0) as f32,
    0.5,
];

/// `eˣ − 1`, within two units in the last place of the exact value (1.44 at most against
/// `f64::exp_m1` on the tests' grid), without the cancellation of `exp(x) − 1` near zero:
/// the Taylor series below `|x| = 0.7` (where `eˣ` is between ½ and 2 and its own rounding
/// would dominate the difference), [`exp`] minus one above. `−0` for `−0`, `−1` from
/// `x ≈ −17` on, `+∞` on overflow, NaN for NaN; straight-line arithmetic, so loops over it
/// vectorize, and the same bits on every machine, unlike the C library's `expm1f` it replaces.
#[inline(always)]
pub fn exp_m1(x: f32) -> f32 {
    let series = horner(&EXP_M1_SERIES, x);
    // `eˣ − 1` has x's sign; the series alone would give +0 for −0.
    let small = (x * x).mul_add(series, x).copysign(x);
    let large = exp(x) - 1.0;
    if x.abs() < EXP_M1_SERIES_BELOW {
        small
    } else {
        large
    }
}

/// `2/(2k + 1)` for k = 5 down to 1: `ln m = 2s + s³·(2/3 + 2s²/5 + … + 2s⁸/11)` with
/// `s = (m − 1)/(m + 1)`, `|s| ≤ 0.172` for m in `[√2/2, √2)`.
const LOG_SERIES: [f32; 5] = [
    (2.0f64 / 11.0) as f32,
    (2.0f64 / 9.0) as f32,
    (2.0f64 / 7.0) as f32,
    (2.0f64 / 5.0) as f32,
    (2.0f64 / 3.0) as f32,
];

/// `ln(1 + x)`, within two units in the last place of the exact value (1.24 at most against
/// `f64::ln_1p` on the tests' grid), exact near zero where `ln(1 + x)` would lose `x`'s low
/// bits: `u = 1 + x` is split as `2ᵏ·m` with m in `[√2/2, √2)`, `ln m` summed as a series in
/// `s = (m − 1)/(m + 1)`, and the rounding of `1 + x` put back as `(x − (u − 1))/u`. `−∞` at
/// −1, NaN below it and for NaN, `+∞` at `+∞`; straight-line arithmetic that a loop
/// vectorizes, the same bits on every machine, unlike the C library's `log1pf` it replaces.
#[inline(always)]
pub fn ln_1p(x: f32) -> f32 {
    let u = 1.0 + x;
    // The rounding of `1 + x`, divided by u: `ln(1 + x) = ln u + (x − (u − 1))/u` to first
    // order. (`u − 1` is exact while u is below 2; above, x dwarfs the correction.)
    let correction = (x - (u - 1.0)) / u;
    // u = 2ᵏ·m: shifting the bits by 1 − √2/2 moves the exponent's step to m = √2 (musl's
    // `logf` split).
    const SQRT_HALF_BITS: i32 = 0x3f35_04f3;
    let shifted = (u.to_bits() as i32).wrapping_add(0x3f80_0000 - SQRT_HALF_BITS);
    let k = ((shifted >> 23) - 127) as f32;
    let m = f32::from_bits(((shifted & 0x007f_ffff) + SQRT_HALF_BITS) as u32);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let square = s * s;
    let series = horner(&LOG_SERIES, square);
    // ln m = 2s + s³·series, written as f − s·(f − s²·series) to keep 2s's rounding out.
    let ln_m = f - s * (f - square * series);
    let low = k.mul_add(LN2_LO, ln_m + correction);
    let result = k.mul_add(LN2_HI, low);
    if x == f32::INFINITY {
        f32::INFINITY
    } else if x == -1.0 {
        f32::NEG_INFINITY
    } else if x < -1.0 {
        f32::NAN
    } else {
        // `ln(1 + x)` has x's sign (the sum above gives +0 for −0).
        result.copysign(x)
    }
}

/// Below this `|x|`, [`tanh`] sums its Taylor series; from it on, `1 − 2/(e^{2|x|} + 1)`.
const TANH_SERIES_BELOW: f32 = 0.55;

/// The Taylor coefficients of `tanh x = x + x³·(c₃ + c₅x² + …)` after the first, to `x¹⁷`,
/// highest power first: `2²ⁿ(2²ⁿ − 1)B₂ₙ/(2n)!`, each rounded once to f32. Nine terms reach
/// a relative error below 2⁻²⁶ for `|x| < 0.55`.
const TANH_SERIES: [f32; 8] = [
    (6_404_582.0f64 / 10_854_718_875.0) as f32,
    (-929_569.0f64 / 638_512_875.0) as f32,
    (21844.0f64 / 6_081_075.0) as f32,
    (-1382.0f64 / 155_925.0) as f32,
    (62.0f64 / 2835.0) as f32,
    (-17.0f64 / 315.0) as f32,
    (2.0f64 / 15.0) as f32,
    (-1.0f64 / 3.0) as f32,
];

/// `tanh x`, within two units in the last place of the exact value (1.55 at most against
/// `f64::tanh` on the tests' grid), odd (`tanh −0 = −0`), `±1` from `|x| ≈ 9` on and NaN for
/// NaN. Like [`exp`], on which it rests, it is straight-line arithmetic that a loop
/// vectorizes (both sides are computed and one is chosen), the same bits on every machine:
/// the C library's `tanhf` it replaces is a call per value, fifty times slower in a loop.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let magnitude = x.abs();
    // Small |x|: x + x³·P(x²), the sum ordered from the smallest term.
    let square = x * x;
    let series = horner(&TANH_SERIES, square);
    let small = (x * square).mul_add(series, x);
    // Large |x|: no cancellation, the result being at least tanh 0.55 ≈ 0.5. Either side
    // takes x's sign at the end (the series alone would give tanh −0 = +0).
    let large = 1.0 - 2.0 / (exp(2.0 * magnitude) + 1.0);
    let result = if magnitude < TANH_SERIES_BELOW {
        small
    } else {
        large
    };
    result.copysign(x)
}

/// `Φ(x) = ½ + x·C(x²)` for `|x| <` [`CDF_CENTRAL_BELOW`]: a Chebyshev fit of
/// `C(s) = erf(√(s/2))/(2√s)` on `[0, ¼]`, relative error 1.2·10⁻¹⁰, highest power first.
const CDF_CENTRAL: [f32; 5] = [
    0.000_109_982_64,
    -0.001_186_213,
    0.009_973_464_5,
    -0.066_490_375,
    0.398_942_3,
];
const CDF_CENTRAL_BELOW: f32 = 0.5;

/// Mills's ratio over √(2π), `M(y) = Φ(−y)·e^{y²/2}`, on `[0.5, 2.5]`: a Chebyshev fit in
/// `y − 1.5` (relative error 6.6·10⁻⁹), highest power first.
const MILLS_MID: [f32; 11] = [
    1.849_008_1e-6,
    -7.945_024e-6,
    2.687_654_9e-5,
    -0.000_100_874_35,
    0.000_368_443_58,
    -0.001_266_729,
    0.004_110_377_3,
    -0.012_496_918,
    0.035_186_87,
    -0.090_271_29,
    0.205_780_67,
];
/// `y·M(y)` on `[2.5, 14]`, a function of `1/y²` (its asymptotic series `(1 − 1/y² + 3/y⁴ −
/// …)/√(2π)` is even in 1/y): a Chebyshev fit in `1/y²`, relative error 2·10⁻⁸. Past 14,
/// `Φ(−y)` is below the smallest normal float and the fit's error no longer shows.
const MILLS_FAR: [f32; 10] = [
    -16_705.904,
    14_704.747,
    -5_838.055,
    1_420.616_7,
    -250.161_18,
    37.572_17,
    -5.886_718_8,
    1.195_514_8,
    -0.398_933_2,
    0.398_942_26,
];
const MILLS_FAR_FROM: f32 = 2.5;
/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The standard normal distribution at x: its cumulative distribution `Φ(x)` and its density
/// `φ(x) = e^{−x²/2}/√(2π)`.
#[derive(Debug, Clone, Copy)]
pub struct Normal {
    pub cdf: f32,
    pub density: f32,
}

/// `Φ(x)` and `φ(x)`, each within a few units in the last place of the exact value over the
/// whole range (the tests' bounds), with relative accuracy far into the lower tail, where
/// `½(1 + erf(x/√2))` in f32 cancels to zero from `x ≈ −5.4` on. Near zero `Φ = ½ + x·C(x²)`;
/// elsewhere the tail `Φ(−|x|) = e^{−x²/2}·M(|x|)`, with `x²` split exactly in two by a fused
/// multiply-add so that the exponential keeps its accuracy up to `x² ≈ 200`, and Mills's
/// ratio M a polynomial in `|x|` or in `1/x²`. Straight-line arithmetic (every branch is
/// computed and one chosen), so loops over it vectorize; the same bits on every machine.
#[inline(always)]
pub fn normal(x: f32) -> Normal {
    // |x| capped where e^{−x²/2} is zero in f32 anyway (comparisons are false for NaN).
    let y = x.abs();
    let y = if y > 20.0 { 20.0 } else { y };
    let square = y * y;
    let square_low = y.mul_add(y, -square);
    let gaussian = exp_sum(-0.5 * square, -0.5 * square_low);
    let mid = horner(&MILLS_MID, y - 1.5);
    let far = horner(&MILLS_FAR, 1.0 / square) / y;
    let tail = gaussian * if y < MILLS_FAR_FROM { mid } else { far };
    let central = x.mul_add(horner(&CDF_CENTRAL, x * x), 0.5);
    let cdf = if y < CDF_CENTRAL_BELOW {
        central
    } else if x < 0.0 {
        tail
    } else {
        1.0 - tail
    };
    Normal {
        cdf,
        density: gaussian * FRAC_1_SQRT_2PI,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The special values, the clamps, the edges of overflow and of the subnormals, a sweep
    /// over the whole range and a dense run around zero.
    #[cfg(target_arch = "x86_64")]
    fn exponential_inputs() -> Vec<f32> {
        let mut inputs = vec![
            0.0,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            HIGH,
            LOW,
            88.72,
            -87.34,
            -103.97,
            -149.0 * std::f32::consts::LN_2,
            -150.0 * std::f32::consts::LN_2,
        ];
        inputs.extend(steps(-110.0, 95.0, 0.000_61));
        inputs.extend((0..1_000_000).map(|i| -1.0 + i as f32 * 2e-6));
        inputs
    }

    /// `vector` of [`exponential_inputs`], `L` at a time, against [`exp`] bit for bit.
    #[cfg(target_arch = "x86_64")]
    fn matches_exp_bit_for_bit<const L: usize>(vector: impl Fn([f32; L]) -> [f32; L]) {
        for chunk in exponential_inputs().chunks(L) {
            let mut lanes = [0.0f32; L];
            lanes[..chunk.len()].copy_from_slice(chunk);
            for (&x, g) in chunk.iter().zip(vector(lanes)) {
                assert_eq!(
                    g.to_bits(),
                    exp(x).to_bits(),
                    "exp({x}): {g} against {}",
                    exp(x)
                );
            }
        }
    }

    /// The AVX-512 form gives the scalar form's bits in every lane, over the whole range
    /// (subnormal results, overflow and the clamps included) and on the special values. The
    /// inputs are clamped from above first, as the scalar form clamps them; NaN stays NaN.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_exponential_matches_the_scalar_one_bit_for_bit() {
        let Some(simd) = pulp::x86::V4::try_new() else {
            return;
        };
        matches_exp_bit_for_bit::<16>(|lanes| {
            simd.vectorize(
                #[inline(always)]
                || {
                    let f = simd.avx512f;
                    let x = f._mm512_min_ps(f._mm512_set1_ps(HIGH), pulp::cast(lanes));
                    pulp::cast(exp_at_most_high_avx512(simd, x))
                },
            )
        });
    }

    /// The AVX2 form, likewise.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_exponential_matches_the_scalar_one_bit_for_bit() {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return;
        };
        matches_exp_bit_for_bit::<8>(|lanes| {
            simd.vectorize(
                #[inline(always)]
                || {
                    let avx = simd.avx;
                    let x = avx._mm256_min_ps(avx._mm256_set1_ps(HIGH), pulp::cast(lanes));
                    pulp::cast(exp_at_most_high_avx2(simd, x))
                },
            )
        });
    }

    /// Within two units in the last place of `f64::ln_1p` from −1 up, densely near zero and
    /// across the exponent steps of `1 + x`.
    #[test]
    fn ln_1p_is_within_two_ulps_over_the_whole_range() {
        let above_one = std::iter::successors(Some(1.0f32), |x| Some(x * 1.000_37));
        let inputs = dense_from_minus_one()
            .skip(1)
            .chain(above_one.take_while(|&x| x < 1e30))
            .chain(powers_of_two(-60));
        let worst = worst_ulps("ln_1p", ln_1p, f64::ln_1p, inputs);
        assert!(worst > 0.0 && worst < 1.3, "worst {worst}");
        assert_eq!(ln_1p(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(ln_1p(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(ln_1p(1e-30), 1e-30);
        assert_eq!(ln_1p(-1.0), f32::NEG_INFINITY);
        assert!(ln_1p(-1.5).is_nan());
        assert!(ln_1p(f32::NAN).is_nan());
        assert_eq!(ln_1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_1p(f32::MAX), f64::from(f32::MAX).ln_1p() as f32);
    }

    /// Within two units in the last place of `f64::exp_m1` on both sides of the switch,
    /// densely around zero, out to both saturations.
    #[test]
    fn exp_m1_is_within_two_ulps_over_the_whole_range() {
        let inputs = dense_from_minus_one()
            .chain(steps(-110.0, 89.0, 0.000_37))
            .chain(powers_of_two(-40));
        let worst = worst_ulps("exp_m1", exp_m1, f64::exp_m1, inputs);
        assert!(worst > 0.0 && worst < 1.5, "worst {worst}");
        assert_eq!(exp_m1(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(exp_m1(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(exp_m1(-20.0), -1.0);
        assert_eq!(exp_m1(f32::NEG_INFINITY), -1.0);
        assert_eq!(exp_m1(f32::INFINITY), f32::INFINITY);
        assert!(exp_m1(f32::NAN).is_nan());
        assert_eq!(exp_m1(1e-30), 1e-30);
    }

    /// Within two units in the last place of `f64::tanh` across both sides of the switch,
    /// densely around zero and out to where the result rounds to one.
    #[test]
    fn tanh_is_within_two_ulps_over_the_whole_range() {
        let inputs = dense_from_minus_one()
            .chain(steps(-20.0, 20.0, 0.000_13))
            .chain(powers_of_two(-40));
        let worst = worst_ulps("tanh", tanh, f64::tanh, inputs);
        assert!(worst > 0.0 && worst < 1.6, "worst {worst}");
        assert_eq!(tanh(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(9.5), 1.0);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(1e30), 1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(1e-30), 1e-30);
    }

    /// The largest distance in units in the last place of `f` from `reference` (in f64) over
    /// `inputs`, failing at the first beyond two.
    fn worst_ulps(
        name: &str,
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
        inputs: impl Iterator<Item = f32>,
    ) -> f64 {
        worst_ulps_within(2.0, name, f, reference, inputs)
    }

    /// [`worst_ulps`] failing at the first beyond `limit`.
    fn worst_ulps_within(
        limit: f64,
        name: &str,
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
        inputs: impl Iterator<Item = f32>,
    ) -> f64 {
        let mut worst = 0.0f64;
        for x in inputs {
            let want = reference(f64::from(x));
            let error = ulps(f(x), want);
            assert!(error <= limit, "{name}({x}) = {} against {want}", f(x));
            worst = worst.max(error);
        }
        worst
    }

    /// `Φ(x)` in f64, accurate in the lower tail (`erfc` does not cancel there).
    fn exact_cdf(x: f64) -> f64 {
        0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
    }

    /// Every input of `[−20, 10)` 1.3·10⁻⁴ apart, every one of [−1, 1) a millionth apart, and
    /// the powers of two down to 2⁻⁴⁰.
    fn normal_inputs() -> impl Iterator<Item = f32> {
        dense_from_minus_one()
            .chain(steps(-20.0, 10.0, 0.000_13))
            .chain(powers_of_two(-40))
    }

    /// `Φ` within three units in the last place of the exact value from where it underflows
    /// past the subnormals to where it rounds to one, across the switches between its three
    /// forms; `φ` within two and a half.
    #[test]
    fn the_normal_distribution_is_accurate_into_the_far_tail() {
        let cdf = worst_ulps_within(3.0, "cdf", |x| normal(x).cdf, exact_cdf, normal_inputs());
        let density = worst_ulps_within(
            2.5,
            "density",
            |x| normal(x).density,
            |x| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            normal_inputs(),
        );
        eprintln!("worst: cdf {cdf:.3}, density {density:.3} ulps");
        assert!(cdf > 0.0 && density > 0.0);
        for (x, want) in [(0.0, 0.5), (-0.0, 0.5), (40.0, 1.0), (-40.0, 0.0)] {
            assert_eq!(normal(x).cdf, want, "Φ({x})");
        }
        assert_eq!(normal(f32::INFINITY).cdf, 1.0);
        assert_eq!(normal(f32::NEG_INFINITY).cdf, 0.0);
        assert_eq!(normal(f32::INFINITY).density, 0.0);
        assert!(normal(f32::NAN).cdf.is_nan() && normal(f32::NAN).density.is_nan());
        // The lower tail keeps its relative accuracy where ½(1 + erf) would be zero.
        assert!(normal(-10.0).cdf > 7.6e-24 && normal(-10.0).cdf < 7.7e-24);
    }

    /// Every input of [−1, 1) a millionth apart.
    fn dense_from_minus_one() -> impl Iterator<Item = f32> {
        (0..2_000_000).map(|i| -1.0 + i as f32 * 1e-6)
    }

    /// `from`, `from + step`, … below `to`.
    fn steps(from: f32, to: f32, step: f32) -> impl Iterator<Item = f32> {
        std::iter::successors(Some(from), move |x| Some(x + step)).take_while(move |&x| x < to)
    }

    /// `2ᵉ` and `−1.37·2ᵉ` for every e from `lowest` to −1.
    fn powers_of_two(lowest: i32) -> impl Iterator<Item = f32> {
        (lowest..0).flat_map(|e| [2f32.powi(e), -(2f32.powi(e) * 1.37)])
    }

    /// Distance in units in the last place between `got` and the correctly rounded `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let rounded = want as f32;
        if got == rounded {
            return 0.0;
        }
        let spacing = if rounded == 0.0 {
            f64::from(f32::from_bits(1))
        } else {
            f64::from(f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs())
        };
        (f64::from(got) - want).abs() / spacing
    }

    #[test]
    fn less_than_one_ulp_from_the_exact_exponential_over_the_whole_range() {
        let mut worst = 0.0f64;
        let mut x = -104.0f32;
        while x < 89.0 {
            let want = f64::from(x).exp();
            let error = if want > f64::from(f32::MAX) {
                assert_eq!(exp(x), f32::INFINITY, "{x}");
                0.0
            } else {
                ulps(exp(x), want)
            };
            assert!(error < 1.0, "exp({x}) = {} against {want}", exp(x));
            worst = worst.max(error);
            x += 0.000_37;
        }
        // Every input between −1 and 1 is dense; sweep all of [−1, 1) at a finer grain.
        for i in 0..2_000_000 {
            let x = -1.0 + i as f32 * 1e-6;
            let error = ulps(exp(x), f64::from(x).exp());
            assert!(error < 1.0, "exp({x})");
            worst = worst.max(error);
        }
        assert!(worst > 0.0, "some results round the other way");
    }

    #[test]
    fn special_values_and_the_edges_of_the_range() {
        assert_eq!(LN2_HI, 355.0 / 512.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(1.0), std::f32::consts::E);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(88.8), f32::INFINITY);
        assert_eq!(exp(1e30), f32::INFINITY);
        assert!(exp(88.7).is_finite());
        assert_eq!(exp(-104.0), 0.0);
        assert_eq!(exp(-1e30), 0.0);
        // Subnormal results: 2⁻¹⁴⁰ and the smallest positive float.
        let tiny = exp(-140.0 * std::f32::consts::LN_2);
        assert_eq!(tiny, f32::from_bits(1 << 9));
        assert_eq!(exp(-103.5), f32::from_bits(1));
    }

    /// The dispatched (vectorized) loop and the plain one give the same bits.
    #[test]
    fn vectorized_and_scalar_results_are_the_same_bits() {
        let inputs: Vec<f32> = (0..4099).map(|i| (i as f32 - 2000.0) * 0.047).collect();
        let plain: Vec<f32> = inputs.iter().map(|&x| exp(x)).collect();
        let mut fast = vec![0.0f32; inputs.len()];
        super::super::simd::dispatch(
            #[inline(always)]
            || {
                for (out, &x) in fast.iter_mut().zip(&inputs) {
                    *out = exp(x);
                }
            },
        );
        assert!(
            plain
                .iter()
                .zip(&fast)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
