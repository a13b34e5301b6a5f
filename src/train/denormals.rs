//! Subnormal floats flushed to zero while the engine runs, as Keras does on CPU.
//!
//! TensorFlow's and XLA's CPU threads run with the processor's flush-to-zero (FTZ: a result
//! below `f32::MIN_POSITIVE` becomes zero) and denormals-are-zero (DAZ: a subnormal operand is
//! read as zero) modes on, so Keras never computes with subnormals: with the JAX backend
//! `1e-39 × 1.5` is `0` and `1e-30 × 1e-10` is `0`, where IEEE gives `1.5e-39` and `1e-40`
//! (PyTorch keeps IEEE's gradual underflow). The engine does the same: [`Flush`] turns both
//! modes on for the calling thread for as long as it lives, and the thread pool that shares
//! out large products ([`init_pool`]) runs with them on for good.
//!
//! Besides matching Keras bit for bit where values underflow, this is a matter of speed:
//! Intel cores take a microcode assist of about a hundred cycles for every subnormal operand
//! or result. Adam's moment estimates decay geometrically where a weight's gradient stays
//! zero (a pixel that is blank in every image), pass through the subnormal range, and made
//! the digits workload twice as slow on a Cascade Lake core (`BENCHMARKS.md`).
//!
//! Only x86-64 (MXCSR bits 15 and 6) and AArch64 (FPCR bit 24, which flushes both ways) have
//! these modes; elsewhere [`Flush`] changes nothing.

/// Flushing on for the calling thread while alive; the thread's previous modes come back
/// when it is dropped, so guards nest.
#[must_use = "the modes are restored when the guard is dropped"]
pub struct Flush {
    saved: Option<usize>,
}

impl Flush {
    pub fn new() -> Flush {
        let saved = control::read();
        if let Some(word) = saved {
            control::write(word | control::FLUSH);
        }
        Flush { saved }
    }
}

impl Default for Flush {
    fn default() -> Flush {
        Flush::new()
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        if let Some(word) = self.saved {
            control::write(word);
        }
    }
}

/// Whether the calling thread flushes subnormals (always false where the modes do not exist).
#[cfg(test)]
pub(crate) fn flushing() -> bool {
    control::read().is_some_and(|word| word & control::FLUSH == control::FLUSH)
}

/// Builds rayon's global pool, which `layer::product` shares large products out on, with
/// flushing on in every worker, so a product gives the same bits on any number of threads.
/// Called wherever a product is shared out; later calls do nothing. The thread that shares a
/// product out computes one block itself, so the pool has one worker fewer than the machine
/// has cores: one more would only spin beside the training thread between products and take
/// its core (on two Zen 4 cores that cost W4 200–300 µs a step outside the products). Nothing
/// else in the process uses rayon, so the pool cannot have been built already; if it somehow
/// was, its threads keep their modes and the error is ignored.
pub fn init_pool() {
    static POOL: std::sync::Once = std::sync::Once::new();
    POOL.call_once(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads((cores - 1).max(1))
            .thread_name(|i| format!("trainyard-product-{i}"))
            .start_handler(|_| std::mem::forget(Flush::new()))
            .build_global();
    });
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod control {
    /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    pub const FLUSH: usize = (1 << 15) | (1 << 6);

    pub fn read() -> Option<usize> {
        let mut word = 0u32;
        // SAFETY: `stmxcsr` stores the SSE control register, present on every x86-64 CPU,
        // into the four bytes it is given, which are `word`'s.
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut word, options(nostack, preserves_flags));
        }
        Some(word as usize)
    }

    pub fn write(word: usize) {
        let word = word as u32;
        // SAFETY: `ldmxcsr` loads the control register from `word`, a value read from it with
        // at most the FTZ and DAZ bits changed: rounding and exception masks stay as they were.
        unsafe {
            core::arch::asm!("ldmxcsr [{}]", in(reg) &word, options(nostack, readonly, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
mod control {
    /// FPCR's flush-to-zero bit, which also reads subnormal operands as zero.
    pub const FLUSH: usize = 1 << 24;

    pub fn read() -> Option<usize> {
        let word: u64;
        // SAFETY: reading FPCR has no side effects.
        unsafe {
            core::arch::asm!("mrs {}, fpcr", out(reg) word, options(nomem, nostack, preserves_flags));
        }
        Some(word as usize)
    }

    pub fn write(word: usize) {
        // SAFETY: writes back a value read from FPCR with at most the FZ bit changed.
        unsafe {
            core::arch::asm!("msr fpcr, {}", in(reg) word as u64, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod control {
    pub const FLUSH: usize = 0;

    pub fn read() -> Option<usize> {
        None
    }

    pub fn write(_word: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn results_and_operands_below_the_normal_range_are_zero_while_the_guard_lives() {
        let tiny = black_box(1e-39f32);
        assert!(tiny.is_subnormal());
        assert!(!flushing());
        {
            let _flush = Flush::new();
            assert!(flushing());
            // FTZ: a product of normal numbers that lands below the normal range.
            assert_eq!((black_box(1e-30f32) * black_box(1e-10f32)).to_bits(), 0);
            // DAZ: a subnormal operand reads as zero.
            assert_eq!((tiny * black_box(1.5f32)).to_bits(), 0);
            assert_eq!((tiny + black_box(0.0f32)).to_bits(), 0);
            // Normal numbers are untouched.
            assert_eq!(black_box(3e-38f32) * black_box(1.5f32), 4.5e-38);
            {
                let _inner = Flush::new();
            }
            assert!(flushing(), "an inner guard restores the outer one's modes");
        }
        assert!(!flushing());
        assert!((tiny * black_box(1.5f32)).is_subnormal());
        assert!((black_box(1e-30f32) * black_box(1e-10f32)).is_subnormal());
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn every_thread_of_the_product_pool_flushes() {
        init_pool();
        let modes = rayon::broadcast(|_| flushing());
        assert!(!modes.is_empty());
        assert!(modes.iter().all(|&on| on), "{modes:?}");
    }
}
