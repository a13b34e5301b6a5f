//! The sums a kernel's update feeds the per-layer statistics (gradient norm, weight norm,
//! update ratio) and the finiteness check, taken over one block of the variable in [`LANES`]
//! independent `f32` lanes: value `j` of a block goes to lane `j % LANES`, in order.
//!
//! Every rule is written as an [`Elementwise`] step and, without weight decay, runs through
//! [`step_watched`], which adds each value to its lane as it writes it, in explicit vectors
//! whose accumulators stay in registers: no extra pass, no copy of the weights before the
//! update, and for Adam the sums fill the arithmetic units while the division and square root
//! run. With weight decay (applied to the whole block before the rule) a block is observed
//! after its step with [`BlockSums::see_all`]. Both add the same terms in the same order, so
//! the sums are the same bits either way (tested).

use pulp::{Simd, WithSimd};

/// Lanes per sum: two AVX-512 registers, four AVX2 ones.
pub const LANES: usize = 32;

/// Vectors of each lane group one pass of [`step_watched`] takes.
const PER_PASS: usize = 2;

/// Per-lane sums over one block: `Σ g²`, `Σ before²`, `Σ (after − before)²`, each square
/// added by a fused multiply-add (exactly rounded on every instruction set, and half the
/// arithmetic of a product and a sum beside the update rule's), and `Σ (after − after)`,
/// which is zero while every new value is finite and NaN otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockSums {
    pub gradient: [f32; LANES],
    pub before: [f32; LANES],
    pub moved: [f32; LANES],
    finite: [f32; LANES],
}

impl BlockSums {
    pub const ZERO: BlockSums = BlockSums {
        gradient: [0.0; LANES],
        before: [0.0; LANES],
        moved: [0.0; LANES],
        finite: [0.0; LANES],
    };

    /// Adds one value of the block: its gradient, and the weight before and after the step.
    #[inline(always)]
    #[allow(clippy::eq_op, reason = "`x − x` is 0 for finite x and NaN otherwise")]
    pub fn see(&mut self, lane: usize, gradient: f32, before: f32, after: f32) {
        self.gradient[lane] = gradient.mul_add(gradient, self.gradient[lane]);
        self.before[lane] = before.mul_add(before, self.before[lane]);
        let moved = after - before;
        self.moved[lane] = moved.mul_add(moved, self.moved[lane]);
        self.finite[lane] += after - after;
    }

    /// Adds a whole block (at most [`LANES`]·k values, any length) after its step.
    #[inline(always)]
    pub fn see_all(&mut self, before: &[f32], after: &[f32], gradient: &[f32]) {
        let full = before.len() / LANES * LANES;
        let chunks = before[..full]
            .chunks_exact(LANES)
            .zip(after[..full].chunks_exact(LANES))
            .zip(gradient[..full].chunks_exact(LANES));
        for ((b, a), g) in chunks {
            for lane in 0..LANES {
                self.see(lane, g[lane], b[lane], a[lane]);
            }
        }
        let rest = before[full..]
            .iter()
            .zip(&after[full..])
            .zip(&gradient[full..]);
        for (lane, ((&b, &a), &g)) in rest.enumerate() {
            self.see(lane, g, b, a);
        }
    }

    /// True when every value written in the block is finite.
    pub fn all_finite(&self) -> bool {
        self.finite.iter().all(|&x| x == 0.0)
    }
}

/// An elementwise update rule with `N` slots per value, written over vectors so that
/// [`step_watched`] can run it in any instruction set's registers. It must use only exactly
/// rounded operations (no fused multiply-add unless the rule's scalar form has one), so that
/// every lane gets the bits of the rule's scalar loop.
pub trait Elementwise<const N: usize>: Copy {
    /// The new weight from the weight `w`, its gradient `g` and its slots, which it updates.
    fn step<S: Simd>(self, simd: S, w: S::f32s, g: S::f32s, slots: &mut [S::f32s; N]) -> S::f32s;
}

/// What a rule hands its [`Elementwise`] step and one variable's whole slots to, so that the
/// optimizer can run the step over any range of the variable, or in parts on several
/// threads, without each rule writing those loops.
pub trait StepVisitor {
    type Output;
    fn visit<const N: usize, E: Elementwise<N> + Sync>(
        self,
        step: E,
        slots: [&mut [f32]; N],
    ) -> Self::Output;
}

/// Runs `rule` over one block of a variable (`weights`, `gradient` and each slot of the same
/// length) and returns its [`BlockSums`], the same bits as the step followed by
/// [`BlockSums::see_all`].
#[inline(always)]
pub fn step_watched<const N: usize, E: Elementwise<N>>(
    rule: E,
    weights: &mut [f32],
    gradient: &[f32],
    slots: [&mut [f32]; N],
) -> BlockSums {
    let n = weights.len();
    assert!(gradient.len() == n && slots.iter().all(|s| s.len() == n));
    crate::train::simd::vectorize(Watched {
        rule,
        weights,
        gradient,
        slots,
    })
}

/// [`step_watched`] over every `BLOCK`-value block of a whole variable, shared out on rayon's
/// pool: the blocks are cut into `parts` runs, the calling thread stepping the first and the
/// pool the others, and block `b`'s sums land in `sums[b]`. Every block is stepped and summed
/// exactly as on one thread, so the weights, slots and sums are the same bits.
///
/// # Panics
/// If the slices' lengths differ or `sums` does not hold one entry per block.
pub fn step_in_parts<const BLOCK: usize, const N: usize, E: Elementwise<N> + Sync>(
    rule: E,
    weights: &mut [f32],
    gradient: &[f32],
    slots: [&mut [f32]; N],
    parts: usize,
    sums: &mut [BlockSums],
) {
    let n = weights.len();
    assert!(gradient.len() == n && slots.iter().all(|s| s.len() == n));
    assert_eq!(sums.len(), n.div_ceil(BLOCK));
    let part = n.div_ceil(BLOCK).div_ceil(parts.max(1)).max(1) * BLOCK;
    let run = |mut weights: &mut [f32],
               gradient: &[f32],
               mut slots: [&mut [f32]; N],
               sums: &mut [BlockSums]| {
        for (sums, gradient) in sums.iter_mut().zip(gradient.chunks(BLOCK)) {
            let len = gradient.len();
            let (block, rest) = std::mem::take(&mut weights).split_at_mut(len);
            weights = rest;
            *sums = step_watched(rule, block, gradient, split_heads(&mut slots, len));
        }
    };
    let run = &run;
    crate::train::denormals::init_pool();
    rayon::in_place_scope(|scope| {
        let (mut weights, mut gradient, mut slots, mut sums) = (weights, gradient, slots, sums);
        let mut first = None;
        while !weights.is_empty() {
            let len = part.min(weights.len());
            let (w, w_rest) = std::mem::take(&mut weights).split_at_mut(len);
            let (g, g_rest) = gradient.split_at(len);
            let (s, s_rest) = std::mem::take(&mut sums).split_at_mut(len.div_ceil(BLOCK));
            let state = split_heads(&mut slots, len);
            (weights, gradient, sums) = (w_rest, g_rest, s_rest);
            if first.is_none() {
                first = Some((w, g, state, s));
            } else {
                scope.spawn(move |_| run(w, g, state, s));
            }
        }
        if let Some((w, g, state, s)) = first {
            run(w, g, state, s);
        }
    });
}

/// The first `len` values of every slot, leaving the rest in `slots`.
fn split_heads<'a, const N: usize>(
    slots: &mut [&'a mut [f32]; N],
    len: usize,
) -> [&'a mut [f32]; N] {
    std::array::from_fn(|i| {
        let (head, tail) = std::mem::take(&mut slots[i]).split_at_mut(len);
        slots[i] = tail;
        head
    })
}

struct Watched<'a, const N: usize, E> {
    rule: E,
    weights: &'a mut [f32],
    gradient: &'a [f32],
    slots: [&'a mut [f32]; N],
}

/// One vector of `values` from `at`.
#[inline(always)]
fn load<S: Simd>(values: &[f32], at: usize) -> S::f32s {
    S::as_simd_f32s(&values[at..at + S::F32_LANES]).0[0]
}

#[inline(always)]
fn store<S: Simd>(values: &mut [f32], at: usize, vector: S::f32s) {
    S::as_mut_simd_f32s(&mut values[at..at + S::F32_LANES]).0[0] = vector;
}

impl<const N: usize, E: Elementwise<N>> WithSimd for Watched<'_, N, E> {
    type Output = BlockSums;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> BlockSums {
        let Watched {
            rule,
            weights,
            gradient,
            mut slots,
        } = self;
        let width = S::F32_LANES;
        // Vectors per lane group: lane `q·width + e` is element `e` of vector `q`.
        let vectors = LANES / width;
        // A pass over the variable takes at most two vectors of every group, so that its
        // accumulators (four sums of two vectors) stay in registers beside the rule's: with
        // AVX-512 one pass takes whole groups, with AVX2 (sixteen registers) two passes take
        // the first and the second 64 bytes of every group. Every value is stepped once and
        // every lane still adds its values in order, so the pass count changes no bits.
        let per_pass = vectors.min(PER_PASS);
        let zero = simd.splat_f32s(0.0);
        let n = weights.len();
        let full = n / LANES * LANES;
        let mut sums = BlockSums::ZERO;
        for first in (0..vectors).step_by(per_pass) {
            let mut squares = [zero; PER_PASS];
            let mut befores = [zero; PER_PASS];
            let mut moves = [zero; PER_PASS];
            let mut finite = [zero; PER_PASS];
            for group in (0..full).step_by(LANES) {
                for i in 0..per_pass {
                    let at = group + (first + i) * width;
                    let g = load::<S>(gradient, at);
                    let before = load::<S>(weights, at);
                    let mut state: [S::f32s; N] = std::array::from_fn(|s| load::<S>(slots[s], at));
                    let after = rule.step(simd, before, g, &mut state);
                    for (slot, &value) in slots.iter_mut().zip(&state) {
                        store::<S>(slot, at, value);
                    }
                    store::<S>(weights, at, after);
                    squares[i] = simd.mul_add_f32s(g, g, squares[i]);
                    befores[i] = simd.mul_add_f32s(before, before, befores[i]);
                    let moved = simd.sub_f32s(after, before);
                    moves[i] = simd.mul_add_f32s(moved, moved, moves[i]);
                    finite[i] = simd.add_f32s(finite[i], simd.sub_f32s(after, after));
                }
            }
            for i in 0..per_pass {
                let at = (first + i) * width;
                store::<S>(&mut sums.gradient, at, squares[i]);
                store::<S>(&mut sums.before, at, befores[i]);
                store::<S>(&mut sums.moved, at, moves[i]);
                store::<S>(&mut sums.finite, at, finite[i]);
            }
        }
        // The last partial lane group, one value at a time, lanes 0, 1, …
        let scalar = pulp::Scalar::new();
        for (lane, i) in (full..n).enumerate() {
            let before = weights[i];
            let mut state: [f32; N] = std::array::from_fn(|s| slots[s][i]);
            let after = rule.step(scalar, before, gradient[i], &mut state);
            for (slot, &value) in slots.iter_mut().zip(&state) {
                slot[i] = value;
            }
            weights[i] = after;
            sums.see(lane, gradient[i], before, after);
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lands_in_its_lane_and_an_overflowing_one_is_caught() {
        let before = [1.0f32, 2.0, 3.0];
        let after = [1.5f32, 2.0, 2.0];
        let gradient = [0.5f32, -1.0, 2.0];
        let mut sums = BlockSums::ZERO;
        sums.see_all(&before, &after, &gradient);
        assert_eq!(&sums.gradient[..4], &[0.25, 1.0, 4.0, 0.0]);
        assert_eq!(&sums.before[..4], &[1.0, 4.0, 9.0, 0.0]);
        assert_eq!(&sums.moved[..4], &[0.25, 0.0, 1.0, 0.0]);
        assert!(sums.all_finite());
        // Lane 0 again, 32 values on.
        let long: Vec<f32> = (0..LANES + 1).map(|i| i as f32).collect();
        let mut sums = BlockSums::ZERO;
        sums.see_all(&long, &long, &long);
        assert_eq!(sums.gradient[0], (LANES * LANES) as f32);
        assert_eq!(sums.gradient[1], 1.0);
        for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            let mut sums = BlockSums::ZERO;
            sums.see(7, 0.0, 1.0, bad);
            assert!(!sums.all_finite(), "{bad}");
        }
        // A huge but finite change is finite.
        let mut sums = BlockSums::ZERO;
        sums.see(0, 0.0, -f32::MAX, f32::MAX);
        assert!(sums.all_finite());
    }
}
