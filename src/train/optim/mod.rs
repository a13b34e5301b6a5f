//! Optimizers exactly as Keras 3 computes them (K3 `optimizers/*.py`), with gradient clipping
//! and decoupled weight decay in Keras's order (`../NUMERICS.md` §1.0).
//!
//! The engine keeps its parameters in its own buffers, so the API works one variable at a time
//! and never allocates while stepping. One Keras `optimizer.apply(grads, vars)` is:
//!
//! ```text
//! optimizer.begin_step(lr_t, Σ‖g‖² over all variables (only read for global_clipnorm));
//! for each variable i: optimizer.update(i, &mut w_i, &mut g_i);   // clip → decay → rule
//! optimizer.end_step();                                            // iterations += 1
//! ```
//!
//! `lr_t` is the schedule evaluated at [`Optimizer::iterations`] *before* the increment, so the
//! first update uses step 0 (K3 `optimizers/base_optimizer.py` `_get_current_learning_rate`).
//! Every slot is a plain `f32` buffer per variable; [`Optimizer::state`] and
//! [`Optimizer::restore`] move them in and out as named tensors so that a restored optimizer
//! continues bit for bit.

pub mod adagrad;
pub mod adam;
pub mod clip;
pub mod nadam;
pub mod rmsprop;
pub mod sgd;
pub mod watch;

use std::fmt::Write as _;
use std::ops::Range;

use super::plan::Tensor;
use adagrad::Adagrad;
use adam::Adam;
use nadam::Nadam;
use rmsprop::Rmsprop;
use sgd::Sgd;
pub use watch::BlockSums;
use watch::StepVisitor;

/// Which update rule, with its hyperparameters (Keras defaults are filled in by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    Sgd {
        momentum: f32,
        nesterov: bool,
    },
    Adam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
    },
    Rmsprop {
        rho: f32,
        momentum: f32,
        epsilon: f32,
        centered: bool,
    },
    Adagrad {
        initial_accumulator_value: f32,
        epsilon: f32,
    },
    Nadam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    },
}

/// Gradient clipping; Keras allows at most one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Clip {
    #[default]
    None,
    /// Per variable: `g ← g·c / max(‖g‖, c)`.
    Norm(f32),
    /// Over all variables together.
    GlobalNorm(f32),
    /// Elementwise into `[−c, c]`.
    Value(f32),
}

/// A checked optimizer configuration. `adamw` is `Adam` with `weight_decay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub clip: Clip,
    /// Decoupled weight decay `w ← w − w·wd·lr_t`, applied before the step to every variable.
    pub weight_decay: Option<f32>,
}

impl OptimizerConfig {
    /// Builds the optimizer for variables of the given flat sizes (in the engine's variable
    /// order), with every slot created as Keras's `build` creates it: zeros, except Adagrad's
    /// accumulator which starts at `initial_accumulator_value`. Slots Keras does not create
    /// (SGD velocity without momentum, RMSprop momentum at 0, ḡ when not centered, `v_max`
    /// without AMSGrad) are not created here either.
    pub fn build(&self, variable_sizes: &[usize]) -> Optimizer {
        let rule = match self.kind {
            OptimizerKind::Sgd { momentum, nesterov } => {
                Rule::Sgd(Sgd::new(momentum, nesterov, variable_sizes))
            }
            OptimizerKind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
            } => Rule::Adam(Adam::new(beta_1, beta_2, epsilon, amsgrad, variable_sizes)),
            OptimizerKind::Rmsprop {
                rho,
                momentum,
                epsilon,
                centered,
            } => Rule::Rmsprop(Rmsprop::new(
                rho,
                momentum,
                epsilon,
                centered,
                variable_sizes,
            )),
            OptimizerKind::Adagrad {
                initial_accumulator_value,
                epsilon,
            } => Rule::Adagrad(Adagrad::new(
                initial_accumulator_value,
                epsilon,
                variable_sizes,
            )),
            OptimizerKind::Nadam {
                beta_1,
                beta_2,
                epsilon,
            } => Rule::Nadam(Nadam::new(beta_1, beta_2, epsilon, variable_sizes)),
        };
        Optimizer {
            rule,
            clip: ActiveClip::from(self.clip),
            weight_decay: self.weight_decay,
            variable_sizes: variable_sizes.to_vec(),
            iterations: 0,
            learning_rate: 0.0,
            global_scale: 1.0,
        }
    }
}

/// Everything an optimizer carries between steps, as plain data a store can persist.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    /// Keras's `iterations`: completed applies.
    pub iterations: u64,
    /// Nadam's running product `U` of the momentum schedule (1.0 for the other rules).
    pub u_product: f32,
    /// Every slot buffer, named `optimizer.{variable index}.{slot}` with shape
    /// `[variable size]`. Slot names: `velocity` (SGD), `m` `v` `v_max` (Adam, Nadam without
    /// `v_max`), `v` `average_gradient` `momentum` (RMSprop), `accumulator` (Adagrad).
    pub tensors: Vec<Tensor>,
}

/// Why an [`OptimizerState`] does not fit the optimizer it is restored into.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimizerStateError {
    #[error("optimizer state has no tensor `{name}`")]
    MissingTensor { name: String },
    #[error("optimizer state tensor `{name}` has {found} values, the variable has {expected}")]
    WrongSize {
        name: String,
        expected: usize,
        found: usize,
    },
    #[error("optimizer state tensor `{name}` belongs to no slot of this optimizer")]
    UnexpectedTensor { name: String },
}

/// A built optimizer: the update rule with its slots, the clipping and decay settings, and
/// the step counter. See the module docs for the call sequence.
#[derive(Debug, Clone)]
pub struct Optimizer {
    rule: Rule,
    clip: ActiveClip,
    weight_decay: Option<f32>,
    variable_sizes: Vec<usize>,
    iterations: u64,
    /// `lr_t` of the apply in progress.
    learning_rate: f32,
    /// The global-norm factor of the apply in progress (1 when not clipping globally).
    global_scale: f32,
}

impl Optimizer {
    /// True when [`Optimizer::begin_step`] needs the sum of squared gradient entries over all
    /// variables (`global_clipnorm`); use [`clip::squared_sum`] per variable and add them.
    pub fn needs_global_norm(&self) -> bool {
        matches!(self.clip, ActiveClip::GlobalNorm { .. })
    }

    /// Starts one Keras `apply`: fixes `lr_t` for this update, computes the global-norm scale
    /// from `global_grad_sq_sum` (ignored unless [`Optimizer::needs_global_norm`]), and runs
    /// the once-per-apply part of the rule (Adam's β powers; Nadam's `U ← U·u_t`, which Keras
    /// does before any variable is updated).
    pub fn begin_step(&mut self, learning_rate: f32, global_grad_sq_sum: f32) {
        self.learning_rate = learning_rate;
        self.global_scale = match self.clip {
            ActiveClip::GlobalNorm {
                clip_norm,
                inverse_clip_norm,
            } => clip::global_norm_scale(global_grad_sq_sum, clip_norm, inverse_clip_norm),
            _ => 1.0,
        };
        let iterations = self.iterations;
        match &mut self.rule {
            Rule::Sgd(_) | Rule::Rmsprop(_) | Rule::Adagrad(_) => {}
            Rule::Adam(adam) => adam.begin_step(iterations),
            Rule::Nadam(nadam) => nadam.begin_step(iterations),
        }
    }

    /// Clips (per variable, by value, or by the global scale fixed in `begin_step`), applies
    /// decoupled weight decay `w ← w − w·wd·lr_t`, and runs the rule on variable `index`, in
    /// place. `gradient` is overwritten with the clipped gradient. Returns whether every new
    /// weight is finite (seen as the rule writes it, without another pass). Allocation-free.
    ///
    /// # Panics
    /// If `index` is not a variable of [`OptimizerConfig::build`] or the slices' lengths differ
    /// from its size: a bug in the caller, never a user input.
    pub fn update(&mut self, index: usize, weights: &mut [f32], gradient: &mut [f32]) -> bool {
        self.check_sizes(index, weights, gradient);
        self.clip(gradient);
        self.step(index, 0, weights, gradient).all_finite()
    }

    /// [`Optimizer::update`] of variable `index`, run block by block over `BLOCK` values at a
    /// time after the whole gradient is clipped, calling `observe` with each block's
    /// [`BlockSums`] of its clipped gradient and its weights before and after the update. The
    /// weights come out bit for bit as from [`Optimizer::update`]: every rule is elementwise
    /// once the gradient is clipped. Without weight decay the rule's [`watch::Elementwise`]
    /// step takes the sums inside its own loop; with it, each block is observed after its step
    /// while it is in the L1 cache; the sums are the same bits either way.
    /// Inlined, so that the loops are compiled into the caller's instruction set
    /// (`crate::train::simd::dispatch`).
    ///
    /// # Panics
    /// As [`Optimizer::update`].
    #[inline(always)]
    pub fn update_in_blocks<const BLOCK: usize>(
        &mut self,
        index: usize,
        weights: &mut [f32],
        gradient: &mut [f32],
        mut observe: impl FnMut(&BlockSums),
    ) {
        self.check_sizes(index, weights, gradient);
        self.clip(gradient);
        for (block, (w, g)) in weights
            .chunks_mut(BLOCK)
            .zip(gradient.chunks(BLOCK))
            .enumerate()
        {
            let sums = match self.weight_decay {
                None => self.with_step(
                    index,
                    OnRange {
                        range: block * BLOCK..block * BLOCK + w.len(),
                        weights: w,
                        gradient: g,
                    },
                ),
                Some(_) => {
                    let mut saved = [0.0f32; BLOCK];
                    let before = &mut saved[..w.len()];
                    before.copy_from_slice(w);
                    self.step(index, block * BLOCK, w, g);
                    let mut sums = BlockSums::ZERO;
                    sums.see_all(before, w, g);
                    sums
                }
            };
            observe(&sums);
        }
    }

    /// [`Optimizer::update_in_blocks`] of variable `index` shared out on rayon's pool in
    /// `parts` runs of whole blocks ([`watch::step_in_parts`]), with block `b`'s sums written
    /// to `sums[b]` (one entry per block) instead of handed to an observer: the same weights,
    /// slots and sums, bit for bit. Only without weight decay; with it, it does nothing and
    /// returns false.
    ///
    /// # Panics
    /// As [`Optimizer::update`], or if `sums` does not hold one entry per block.
    pub fn update_in_parts<const BLOCK: usize>(
        &mut self,
        index: usize,
        weights: &mut [f32],
        gradient: &mut [f32],
        parts: usize,
        sums: &mut [BlockSums],
    ) -> bool {
        if self.weight_decay.is_some() {
            return false;
        }
        self.check_sizes(index, weights, gradient);
        let in_parts = InParts::<BLOCK> {
            weights,
            gradient,
            clip: self.clip,
            global_scale: self.global_scale,
            parts,
            sums,
        };
        self.with_step(index, in_parts);
        true
    }

    /// True when gradients are clipped, so that [`Optimizer::update`] changes them.
    pub fn clips(&self) -> bool {
        !matches!(self.clip, ActiveClip::None)
    }

    fn check_sizes(&self, index: usize, weights: &[f32], gradient: &[f32]) {
        let size = self.variable_sizes[index];
        assert!(
            weights.len() == size && gradient.len() == size,
            "optimizer variable {index} has {size} values, got weights {} and gradient {}",
            weights.len(),
            gradient.len()
        );
    }

    fn clip(&self, gradient: &mut [f32]) {
        self.clip.apply(gradient, self.global_scale);
    }

    /// Decay and the rule on the values `offset..offset + weights.len()` of variable `index`,
    /// with their (clipped) gradient; the sums of the values the rule wrote.
    fn step(
        &mut self,
        index: usize,
        offset: usize,
        weights: &mut [f32],
        gradient: &[f32],
    ) -> BlockSums {
        let learning_rate = self.learning_rate;
        if let Some(weight_decay) = self.weight_decay {
            // K3 base_optimizer.py `_apply_weight_decay`: `variable - variable * wd * lr`.
            for w in weights.iter_mut() {
                *w -= *w * weight_decay * learning_rate;
            }
        }
        let on_range = OnRange {
            range: offset..offset + weights.len(),
            weights: &mut *weights,
            gradient,
        };
        self.with_step(index, on_range)
    }

    /// Hands `visitor` the rule's [`watch::Elementwise`] step for this apply on variable
    /// `index`, with the variable's slots.
    fn with_step<V: StepVisitor>(&mut self, index: usize, visitor: V) -> V::Output {
        let learning_rate = self.learning_rate;
        match &mut self.rule {
            Rule::Sgd(rule) => rule.with_step(index, learning_rate, visitor),
            Rule::Adam(rule) => rule.with_step(index, learning_rate, visitor),
            Rule::Rmsprop(rule) => rule.with_step(index, learning_rate, visitor),
            Rule::Adagrad(rule) => rule.with_step(index, learning_rate, visitor),
            Rule::Nadam(rule) => rule.with_step(index, learning_rate, visitor),
        }
    }

    /// Ends the apply: `iterations += 1`.
    pub fn end_step(&mut self) {
        self.iterations += 1;
    }

    /// One whole apply over every variable, for callers that hold all variables at once.
    ///
    /// # Panics
    /// As [`Optimizer::update`], or if the two lists' lengths differ from the variable count.
    pub fn apply(
        &mut self,
        learning_rate: f32,
        weights: &mut [&mut [f32]],
        gradients: &mut [&mut [f32]],
    ) {
        assert!(
            weights.len() == self.variable_sizes.len() && gradients.len() == weights.len(),
            "optimizer built for {} variables",
            self.variable_sizes.len()
        );
        let squared_sum = if self.needs_global_norm() {
            gradients.iter().map(|g| clip::squared_sum(g)).sum()
        } else {
            0.0
        };
        self.begin_step(learning_rate, squared_sum);
        for (index, (w, g)) in weights.iter_mut().zip(gradients.iter_mut()).enumerate() {
            self.update(index, w, g);
        }
        self.end_step();
    }

    /// Completed applies (Keras's `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The `lr_t` passed to the latest [`Optimizer::begin_step`] (0 before the first), which
    /// is what Keras logs as `learning_rate`.
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    /// A copy of every slot and scalar, for checkpoints.
    pub fn state(&self) -> OptimizerState {
        let mut tensors = Vec::new();
        for slot in self.rule.slots() {
            for (index, buffer) in slot.buffers.iter().enumerate() {
                tensors.push(Tensor {
                    name: slot_tensor_name(index, slot.name),
                    shape: vec![buffer.len()],
                    values: buffer.clone(),
                });
            }
        }
        OptimizerState {
            iterations: self.iterations,
            u_product: match &self.rule {
                Rule::Nadam(nadam) => nadam.u_product(),
                _ => 1.0,
            },
            tensors,
        }
    }

    /// Loads a state taken with [`Optimizer::state`] from an optimizer of the same
    /// configuration. Checks every tensor before changing anything, so on error the optimizer
    /// is unchanged.
    pub fn restore(&mut self, state: &OptimizerState) -> Result<(), OptimizerStateError> {
        let mut expected = 0;
        for slot in self.rule.slots() {
            for (index, buffer) in slot.buffers.iter().enumerate() {
                expected += 1;
                let name = slot_tensor_name(index, slot.name);
                let tensor = state
                    .tensors
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| OptimizerStateError::MissingTensor { name: name.clone() })?;
                if tensor.values.len() != buffer.len() {
                    return Err(OptimizerStateError::WrongSize {
                        name,
                        expected: buffer.len(),
                        found: tensor.values.len(),
                    });
                }
            }
        }
        if state.tensors.len() != expected {
            let known: Vec<String> = self
                .rule
                .slots()
                .iter()
                .flat_map(|slot| (0..slot.buffers.len()).map(|i| slot_tensor_name(i, slot.name)))
                .collect();
            let stray = state
                .tensors
                .iter()
                .find(|t| !known.contains(&t.name))
                .map_or_else(|| "(duplicate)".to_string(), |t| t.name.clone());
            return Err(OptimizerStateError::UnexpectedTensor { name: stray });
        }
        for slot in self.rule.slots_mut() {
            let slot_name = slot.name;
            for (index, buffer) in slot.buffers.iter_mut().enumerate() {
                let name = slot_tensor_name(index, slot_name);
                if let Some(tensor) = state.tensors.iter().find(|t| t.name == name) {
                    buffer.copy_from_slice(&tensor.values);
                }
            }
        }
        if let Rule::Nadam(nadam) = &mut self.rule {
            nadam.set_u_product(state.u_product);
        }
        self.iterations = state.iterations;
        Ok(())
    }
}

fn slot_tensor_name(index: usize, slot: &str) -> String {
    format!("optimizer.{index}.{slot}")
}

/// One kind of per-variable state (a Keras "optimizer variable"): a buffer per variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The last part of the tensor name, e.g. `m`.
    pub name: &'static str,
    pub buffers: Vec<Vec<f32>>,
}

impl Slot {
    /// A buffer per variable, every entry `value`.
    pub fn filled(name: &'static str, variable_sizes: &[usize], value: f32) -> Slot {
        Slot {
            name,
            buffers: variable_sizes.iter().map(|&n| vec![value; n]).collect(),
        }
    }

    /// A buffer per variable of zeros, as `add_optimizer_variables` creates them.
    pub fn zeros(name: &'static str, variable_sizes: &[usize]) -> Slot {
        Slot::filled(name, variable_sizes, 0.0)
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Sgd(Sgd),
    Adam(Adam),
    Rmsprop(Rmsprop),
    Adagrad(Adagrad),
    Nadam(Nadam),
}

impl Rule {
    fn slots(&self) -> Vec<&Slot> {
        match self {
            Rule::Sgd(rule) => rule.slots(),
            Rule::Adam(rule) => rule.slots(),
            Rule::Rmsprop(rule) => rule.slots(),
            Rule::Adagrad(rule) => rule.slots(),
            Rule::Nadam(rule) => rule.slots(),
        }
    }

    fn slots_mut(&mut self) -> Vec<&mut Slot> {
        match self {
            Rule::Sgd(rule) => rule.slots_mut(),
            Rule::Adam(rule) => rule.slots_mut(),
            Rule::Rmsprop(rule) => rule.slots_mut(),
            Rule::Adagrad(rule) => rule.slots_mut(),
            Rule::Nadam(rule) => rule.slots_mut(),
        }
    }
}

/// Runs a rule's step over `range` of its variable (`weights` and `gradient` hold just
/// those values), returning the range's sums.
struct OnRange<'a> {
    range: Range<usize>,
    weights: &'a mut [f32],
    gradient: &'a [f32],
}

impl StepVisitor for OnRange<'_> {
    type Output = BlockSums;

    #[inline(always)]
    fn visit<const N: usize, E: watch::Elementwise<N> + Sync>(
        self,
        step: E,
        slots: [&mut [f32]; N],
    ) -> BlockSums {
        let range = self.range;
        let slots = slots.map(|slot| &mut slot[range.clone()]);
        watch::step_watched(step, self.weights, self.gradient, slots)
    }
}

/// Clips a whole variable's gradient, then runs a rule's step over it in parts on rayon's
/// pool ([`watch::step_in_parts`]).
struct InParts<'a, const BLOCK: usize> {
    weights: &'a mut [f32],
    gradient: &'a mut [f32],
    clip: ActiveClip,
    global_scale: f32,
    parts: usize,
    sums: &'a mut [BlockSums],
}

impl<const BLOCK: usize> StepVisitor for InParts<'_, BLOCK> {
    type Output = ();

    fn visit<const N: usize, E: watch::Elementwise<N> + Sync>(
        self,
        step: E,
        slots: [&mut [f32]; N],
    ) {
        self.clip.apply(self.gradient, self.global_scale);
        watch::step_in_parts::<BLOCK, N, E>(
            step,
            self.weights,
            self.gradient,
            slots,
            self.parts,
            self.sums,
        );
    }
}

/// [`Clip`] with Keras's "a value ≤ 0 disables it" applied (K3 `base_optimizer.py`
/// `_clip_gradients`: `if self.clipnorm and self.clipnorm > 0`), and `1/c` of the global norm
/// computed once, as Keras does in float64 (`1.0 / clip_norm` on a Python float).
#[derive(Debug, Clone, Copy, PartialEq)]
enum ActiveClip {
    None,
    Norm(f32),
    GlobalNorm {
        clip_norm: f32,
        inverse_clip_norm: f32,
    },
    Value(f32),
}

impl From<Clip> for ActiveClip {
    fn from(clip: Clip) -> ActiveClip {
        match clip {
            Clip::Norm(c) if c > 0.0 => ActiveClip::Norm(c),
            Clip::GlobalNorm(c) if c > 0.0 => ActiveClip::GlobalNorm {
                clip_norm: c,
                inverse_clip_norm: (1.0 / python_float(c)) as f32,
            },
            Clip::Value(c) if c > 0.0 => ActiveClip::Value(c),
            Clip::None | Clip::Norm(_) | Clip::GlobalNorm(_) | Clip::Value(_) => ActiveClip::None,
        }
    }
}

impl ActiveClip {
    /// Clips `gradient` in place; `global_scale` is the apply's global-norm factor.
    fn apply(self, gradient: &mut [f32], global_scale: f32) {
        match self {
            ActiveClip::None => {}
            ActiveClip::Norm(clip_norm) => clip::clip_by_norm(gradient, clip_norm),
            ActiveClip::GlobalNorm { .. } => clip::scale(gradient, global_scale),
            ActiveClip::Value(clip_value) => clip::clip_by_value(gradient, clip_value),
        }
    }
}

/// The float64 that the Python literal behind an `f32` hyperparameter carries in Keras.
///
/// Keras mixes Python floats into float32 tensor arithmetic in a few places, and there the
/// scalar part is computed in float64 first: Adam's `1 - self.beta_1`, RMSprop's `1 - rho`,
/// `1.0 / clip_norm`, CosineDecay's `1 - self.alpha`. `1 − 0.9` in float64 rounds to the
/// float32 `0.1`, but `1 − 0.9f32` is `0.100000024`, three units in the last place away. The
/// user wrote a short decimal (the JSON spec), which we hold as `f32`; its shortest round-trip
/// decimal is that literal, and parsing it as `f64` recovers Python's value. Allocation-free.
pub(crate) fn python_float(value: f32) -> f64 {
    /// `{:e}` of an f32 is at most 15 bytes (`-1.2345678e-38`); 32 leaves room.
    struct Digits {
        bytes: [u8; 32],
        len: usize,
    }
    impl std::fmt::Write for Digits {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            let target = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
            target.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut digits = Digits {
        bytes: [0; 32],
        len: 0,
    };
    if write!(digits, "{value:e}").is_ok()
        && let Ok(text) = std::str::from_utf8(&digits.bytes[..digits.len])
        && let Ok(parsed) = text.parse::<f64>()
    {
        return parsed;
    }
    f64::from(value)
}

#[cfg(test)]
mod tests;
