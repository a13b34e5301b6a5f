//! Runtime instruction-set dispatch for the engine's own loops.
//!
//! The crate is built for the x86-64 baseline (SSE2), so a plain loop vectorizes four `f32`
//! lanes wide. [`dispatch`] runs a closure inside a function compiled with AVX-512
//! (x86-64-v4) or AVX2 and FMA (x86-64-v3) enabled, the best the CPU has (through `pulp`,
//! which faer already uses), so the loops inlined into that closure vectorize sixteen or
//! eight lanes wide; on other CPUs the closure runs as it is.
//!
//! Results do not depend on the path taken: IEEE addition, multiplication, division and
//! square root are exactly rounded per lane, and the compiler neither reorders float
//! reductions nor fuses a multiply and an add into an FMA unless asked to, which this crate
//! never does. Functions meant to be vectorized this way are `#[inline(always)]`, so that
//! their bodies are compiled inside the dispatched function.

use std::sync::OnceLock;

/// The instruction set picked once per process.
fn arch() -> pulp::Arch {
    static ARCH: OnceLock<pulp::Arch> = OnceLock::new();
    *ARCH.get_or_init(pulp::Arch::new)
}

/// Runs `f` with the best instruction set the CPU supports enabled.
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    arch().dispatch(f)
}

/// Runs `op` with the best instruction set the CPU supports, handing it that set's vector
/// type, for loops written with explicit vectors (`pulp::Simd`).
#[inline(always)]
pub fn vectorize<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    arch().dispatch(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same loop, dispatched and plain, agrees bit for bit (division and square root
    /// included), whichever instruction set this machine offers.
    #[test]
    fn a_dispatched_loop_matches_the_plain_loop_bit_for_bit() {
        let a: Vec<f32> = (0..1037).map(|i| (i as f32 * 0.377).sin() * 3.0).collect();
        let b: Vec<f32> = (0..1037).map(|i| (i as f32 * 1.13).cos() + 1.5).collect();
        #[inline(always)]
        fn kernel(a: &[f32], b: &[f32], out: &mut [f32]) -> f32 {
            let mut sum = 0.0f32;
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = (x * y + x) / (y.sqrt() + 1e-7);
                sum += *o;
            }
            sum
        }
        let mut plain = vec![0.0; a.len()];
        let plain_sum = kernel(&a, &b, &mut plain);
        let mut fast = vec![0.0; a.len()];
        let fast_sum = dispatch(
            #[inline(always)]
            || kernel(&a, &b, &mut fast),
        );
        assert_eq!(plain_sum.to_bits(), fast_sum.to_bits());
        assert!(
            plain
                .iter()
                .zip(&fast)
                .all(|(p, f)| p.to_bits() == f.to_bits())
        );
    }
}
