//! Tests of the optimizer pipeline: every rule against an independent float32 re-implementation
//! of the Keras formulas, the Keras-run golden values of `NUMERICS.md` §9, the qualitative
//! differences between the variants, and checkpoint round trips.

use super::clip::squared_sum;
use super::watch::LANES;
use super::*;

/// The three applies every reference case runs: variables of sizes [2, 1] (flattened here),
/// a learning rate per step (as a schedule would hand them over), a gradient per step.
const START: [f32; 3] = [1.0, -2.0, 0.5];
const LEARNING_RATES: [f32; 3] = [0.1, 0.05, 0.02];
const GRADIENTS: [[f32; 3]; 3] = [[0.5, -1.5, 2.0], [-0.25, 0.75, 0.1], [1.0, 0.0, -3.0]];
const SIZES: [usize; 2] = [2, 1];

fn sgd(momentum: f32, nesterov: bool) -> OptimizerKind {
    OptimizerKind::Sgd { momentum, nesterov }
}

fn adam(amsgrad: bool) -> OptimizerKind {
    OptimizerKind::Adam {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
        amsgrad,
    }
}

fn rmsprop(momentum: f32, centered: bool) -> OptimizerKind {
    OptimizerKind::Rmsprop {
        rho: 0.9,
        momentum,
        epsilon: 1e-7,
        centered,
    }
}

const ADAGRAD: OptimizerKind = OptimizerKind::Adagrad {
    initial_accumulator_value: 0.1,
    epsilon: 1e-7,
};

const NADAM: OptimizerKind = OptimizerKind::Nadam {
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-7,
};

fn config(kind: OptimizerKind, clip: Clip, weight_decay: Option<f32>) -> OptimizerConfig {
    OptimizerConfig {
        kind,
        clip,
        weight_decay,
    }
}

/// The configuration behind each case name of `keras_reference.py`.
fn reference_case(name: &str) -> OptimizerConfig {
    match name {
        "sgd" => config(sgd(0.0, false), Clip::None, None),
        "sgd_momentum" => config(sgd(0.9, false), Clip::None, None),
        "sgd_nesterov" => config(sgd(0.9, true), Clip::None, None),
        "adam" => config(adam(false), Clip::None, None),
        "adam_amsgrad" => config(adam(true), Clip::None, None),
        "adamw" => config(adam(false), Clip::None, Some(0.004)),
        "rmsprop" => config(rmsprop(0.0, false), Clip::None, None),
        "rmsprop_centered" => config(rmsprop(0.0, true), Clip::None, None),
        "rmsprop_momentum" => config(rmsprop(0.9, false), Clip::None, None),
        "adagrad" => config(ADAGRAD, Clip::None, None),
        "nadam" => config(NADAM, Clip::None, None),
        "sgd_momentum_weight_decay" => config(sgd(0.9, false), Clip::None, Some(0.1)),
        "sgd_clipnorm" => config(sgd(0.0, false), Clip::Norm(1.0), None),
        "sgd_global_clipnorm" => config(sgd(0.0, false), Clip::GlobalNorm(1.0), None),
        "sgd_clipvalue" => config(sgd(0.0, false), Clip::Value(0.5), None),
        other => panic!("no reference case {other}"),
    }
}

/// Runs one apply of the reference problem through the per-variable API.
fn apply_reference_step(optimizer: &mut Optimizer, weights: &mut [f32; 3], step: usize) {
    let mut gradient = GRADIENTS[step];
    let (w0, w1) = weights.split_at_mut(2);
    let (g0, g1) = gradient.split_at_mut(2);
    let squared = if optimizer.needs_global_norm() {
        squared_sum(g0) + squared_sum(g1)
    } else {
        0.0
    };
    optimizer.begin_step(LEARNING_RATES[step], squared);
    optimizer.update(0, w0, g0);
    optimizer.update(1, w1, g1);
    optimizer.end_step();
}

/// Weights after each of the three steps, from `keras_reference.py` beside this file (plain
/// Python, every float32 operation rounded through `struct`, in Keras's order of operations;
/// run `python3 src/train/optim/keras_reference.py` to regenerate).
const EXPECTED: &[(&str, [[f64; 3]; 3])] = &[
    (
        "sgd",
        [
            [0.949999988079071, -1.850000023841858, 0.30000001192092896],
            [0.9624999761581421, -1.8875000476837158, 0.29500001668930054],
            [0.9424999952316284, -1.8875000476837158, 0.35500001907348633],
        ],
    ),
    (
        "sgd_momentum",
        [
            [0.949999988079071, -1.850000023841858, 0.30000001192092896],
            [0.9175000190734863, -1.752500057220459, 0.11500002443790436],
            [0.8682500123977661, -1.664750099182129, 0.00850003957748413],
        ],
    ),
    (
        "sgd_nesterov",
        [
            [0.9049999713897705, -1.7149999141693115, 0.12000000476837158],
            [
                0.8882499933242798,
                -1.6647498607635498,
                -0.051499977707862854,
            ],
            [
                0.8239250183105469,
                -1.5857748985290527,
                -0.08734996616840363,
            ],
        ],
    ),
    (
        "adam",
        [
            [0.9000012874603271, -1.9000009298324585, 0.40000081062316895],
            [0.8866846561431885, -1.8866841793060303, 0.364681214094162],
            [0.8735225200653076, -1.8825665712356567, 0.36925196647644043],
        ],
    ),
    (
        "adam_amsgrad",
        [
            [0.9000012874603271, -1.9000009298324585, 0.40000081062316895],
            [0.8866846561431885, -1.8866841793060303, 0.364681214094162],
            [0.8735225200653076, -1.8825687170028687, 0.36925196647644043],
        ],
    ),
    (
        "adamw",
        [
            [0.8996012806892395, -1.8992009162902832, 0.3998008370399475],
            [0.8861047029495239, -1.8855043649673462, 0.36440128087997437],
            [0.8728716969490051, -1.881235957145691, 0.36894288659095764],
        ],
    ),
    (
        "rmsprop",
        [
            [0.68377286195755, -1.683772325515747, 0.1837722659111023],
            [0.7574937343597412, -1.757493257522583, 0.17545048892498016],
            [0.7011221647262573, -1.757493257522583, 0.2296631783246994],
        ],
    ),
    (
        "rmsprop_centered",
        [
            [0.6666674017906189, -1.6666667461395264, 0.16666671633720398],
            [0.7409064769744873, -1.740906000137329, 0.1578947901725769],
            [0.6811320185661316, -1.740906000137329, 0.21247953176498413],
        ],
    ),
    (
        "rmsprop_momentum",
        [
            [0.68377286195755, -1.683772325515747, 0.1837722659111023],
            [
                0.4728892743587494,
                -1.4728883504867554,
                -0.10915449261665344,
            ],
            [0.22672247886657715, -1.283092737197876, -0.3185758888721466],
        ],
    ),
    (
        "adagrad",
        [
            [0.915484607219696, -1.9021507501602173, 0.40122702717781067],
            [0.9349470734596252, -1.9241242408752441, 0.39876070618629456],
            [0.918118953704834, -1.9241242408752441, 0.41533175110816956],
        ],
    ),
    (
        "nadam",
        [
            [0.8937212228775024, -1.8937212228775024, 0.39372122287750244],
            [0.9133509397506714, -1.9133509397506714, 0.3875678479671478],
            [0.894393265247345, -1.9127368927001953, 0.4044448435306549],
        ],
    ),
    (
        "sgd_momentum_weight_decay",
        [
            [0.9399999976158142, -1.8300000429153442, 0.29500001668930054],
            [0.9027999639511108, -1.7233500480651855, 0.10852502286434174],
            [
                0.8517443537712097,
                -1.6321533918380737,
                0.0018079876899719238,
            ],
        ],
    ),
    (
        "sgd_clipnorm",
        [
            [0.9683772325515747, -1.9051316976547241, 0.4000000059604645],
            [0.9808772206306458, -1.942631721496582, 0.39500001072883606],
            [0.9608772397041321, -1.942631721496582, 0.4150000214576721],
        ],
    ),
    (
        "sgd_global_clipnorm",
        [
            [0.9803884029388428, -1.9411652088165283, 0.4215535521507263],
            [0.9928883910179138, -1.9786652326583862, 0.4165535569190979],
            [0.9865638613700867, -1.9786652326583862, 0.4355272352695465],
        ],
    ),
    (
        "sgd_clipvalue",
        [
            [0.949999988079071, -1.9500000476837158, 0.44999998807907104],
            [0.9624999761581421, -1.975000023841858, 0.4449999928474426],
            [0.9524999856948853, -1.975000023841858, 0.45499998331069946],
        ],
    ),
];

#[test]
fn every_optimizer_matches_the_float32_reference_bit_for_bit_over_three_steps() {
    for (name, expected_steps) in EXPECTED {
        let mut optimizer = reference_case(name).build(&SIZES);
        let mut weights = START;
        for (step, expected) in expected_steps.iter().enumerate() {
            apply_reference_step(&mut optimizer, &mut weights, step);
            let expected = expected.map(|x| x as f32);
            assert_eq!(
                weights.map(f32::to_bits),
                expected.map(f32::to_bits),
                "{name} after step {}: got {weights:?}, want {expected:?}",
                step + 1
            );
        }
        assert_eq!(optimizer.iterations(), 3, "{name}");
    }
}

/// Every rule's vector loop gives each lane the reference bits: the reference problem's three
/// values repeated along one long variable (so that each lands in every lane of every vector
/// width, and in the scalar tail), stepped three times, match `EXPECTED` at every position.
/// Clipping is left out, since a norm depends on the variable's length.
#[test]
fn every_lane_of_the_vector_loops_matches_the_float32_reference() {
    const REPEATS: usize = 3 * LANES + 5;
    for (name, expected_steps) in EXPECTED {
        let config = reference_case(name);
        if config.clip != Clip::None {
            continue;
        }
        let mut optimizer = config.build(&[3 * REPEATS]);
        let mut weights: Vec<f32> = START.repeat(REPEATS);
        for (step, expected) in expected_steps.iter().enumerate() {
            let mut gradient: Vec<f32> = GRADIENTS[step].repeat(REPEATS);
            optimizer.begin_step(LEARNING_RATES[step], 0.0);
            optimizer.update(0, &mut weights, &mut gradient);
            optimizer.end_step();
            for (at, value) in weights.iter().enumerate() {
                let want = expected[at % 3] as f32;
                assert_eq!(
                    value.to_bits(),
                    want.to_bits(),
                    "{name} step {}, value {at}: got {value}, want {want}",
                    step + 1
                );
            }
        }
    }
}

/// AMSGrad keeps the largest second moment it has seen, lane by lane: a large gradient, then
/// small ones, leave `v_max` at the first step's `v` while `v` decays; a NaN gradient leaves
/// `v_max` as it was (as `f32::max` would) in the vector lanes and the scalar tail alike.
#[test]
fn amsgrad_keeps_the_peak_second_moment_in_every_lane() {
    let size = 2 * LANES + 3;
    let mut optimizer = config(adam(true), Clip::None, None).build(&[size]);
    let mut weights = vec![0.0f32; size];
    for g in [10.0f32, 0.1, 0.1, f32::NAN] {
        optimizer.begin_step(0.001, 0.0);
        optimizer.update(0, &mut weights, &mut vec![g; size]);
        optimizer.end_step();
    }
    let state = optimizer.state();
    let slot = |name: &str| -> &Vec<f32> {
        let name = format!("optimizer.0.{name}");
        &state
            .tensors
            .iter()
            .find(|tensor| tensor.name == name)
            .unwrap_or_else(|| panic!("no slot {name}"))
            .values
    };
    // v after the first step: (1 − β2)·g² = 0.001 · 100.
    let peak = (1.0 - python_float(0.999)) as f32 * 100.0;
    for (at, &v_max) in slot("v_max").iter().enumerate() {
        assert_eq!(v_max.to_bits(), peak.to_bits(), "v_max[{at}] = {v_max}");
    }
    assert!(slot("v").iter().all(|v| v.is_nan()));
}

/// Block-by-block updates leave weights, gradients and every slot exactly as whole-variable
/// ones, for every rule, with decay and each kind of clipping, over blocks that do not divide
/// the variable and hold whole lane groups, a partial one, or less than one; `observe` gets
/// each block's sums of its gradient and its weights before and after the update, the same
/// bits whether the rule takes them inside its loop or they are taken after it.
#[test]
fn updating_in_blocks_matches_updating_whole_variables_bit_for_bit() {
    const BLOCK: usize = 2 * LANES;
    let sizes = [2 * BLOCK + LANES + 7, 5];
    let values = |salt: f32, len: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + salt) * 0.731).sin() * 1.3)
            .collect()
    };
    for (name, _) in EXPECTED {
        let config = reference_case(name);
        let (mut whole, mut blocked) = (config.build(&sizes), config.build(&sizes));
        let mut w_whole: Vec<Vec<f32>> = sizes.iter().map(|&n| values(0.5, n)).collect();
        let mut w_blocked = w_whole.clone();
        for step in 0..4 {
            let gradients: Vec<Vec<f32>> = sizes
                .iter()
                .map(|&n| values(step as f32 * 3.1 + 1.0, n))
                .collect();
            let squared = gradients.iter().map(|g| squared_sum(g)).sum();
            let (mut g_whole, mut g_blocked) = (gradients.clone(), gradients);
            whole.begin_step(LEARNING_RATES[step % 3], squared);
            blocked.begin_step(LEARNING_RATES[step % 3], squared);
            for index in 0..sizes.len() {
                let start = w_blocked[index].clone();
                whole.update(index, &mut w_whole[index], &mut g_whole[index]);
                let mut seen = vec![];
                blocked.update_in_blocks::<BLOCK>(
                    index,
                    &mut w_blocked[index],
                    &mut g_blocked[index],
                    |sums| seen.push(*sums),
                );
                let expected: Vec<BlockSums> = start
                    .chunks(BLOCK)
                    .zip(w_whole[index].chunks(BLOCK))
                    .zip(g_whole[index].chunks(BLOCK))
                    .map(|((before, after), g)| {
                        let mut sums = BlockSums::ZERO;
                        sums.see_all(before, after, g);
                        sums
                    })
                    .collect();
                let bits = |sums: &[BlockSums]| -> Vec<u32> {
                    let lanes = sums
                        .iter()
                        .flat_map(|s| s.gradient.iter().chain(&s.before).chain(&s.moved));
                    lanes.map(|x| x.to_bits()).collect()
                };
                assert_eq!(
                    bits(&seen),
                    bits(&expected),
                    "{name}: block sums, step {step}"
                );
                assert!(seen.iter().all(BlockSums::all_finite), "{name}");
            }
            whole.end_step();
            blocked.end_step();
            let bits = |v: &Vec<Vec<f32>>| -> Vec<u32> {
                v.concat().iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(
                bits(&w_whole),
                bits(&w_blocked),
                "{name} weights, step {step}"
            );
            assert_eq!(
                bits(&g_whole),
                bits(&g_blocked),
                "{name} gradients, step {step}"
            );
            assert_eq!(whole.state(), blocked.state(), "{name} slots, step {step}");
        }
    }
}

/// Updating in parts on several threads leaves weights, gradients, slots and every block's
/// sums exactly as updating block by block on one, for the rules that can; the others
/// decline and change nothing.
#[test]
fn updating_in_parts_matches_updating_in_blocks_bit_for_bit() {
    const BLOCK: usize = 2 * LANES;
    let size = 7 * BLOCK + LANES + 5;
    let values = |salt: f32| -> Vec<f32> {
        (0..size)
            .map(|i| ((i as f32 + salt) * 0.377).cos() * 0.9)
            .collect()
    };
    for (name, _) in EXPECTED {
        let config = reference_case(name);
        let sharable = config.weight_decay.is_none();
        for parts in [2, 3, 8, 20] {
            let (mut blocked, mut shared) = (config.build(&[size]), config.build(&[size]));
            let (mut w_blocked, mut w_shared) = (values(0.25), values(0.25));
            for (step, learning_rate) in LEARNING_RATES.into_iter().enumerate() {
                let gradient = values(step as f32 * 1.7 + 2.0);
                let squared = squared_sum(&gradient);
                let (mut g_blocked, mut g_shared) = (gradient.clone(), gradient);
                blocked.begin_step(learning_rate, squared);
                shared.begin_step(learning_rate, squared);
                let mut want = vec![];
                blocked.update_in_blocks::<BLOCK>(0, &mut w_blocked, &mut g_blocked, |sums| {
                    want.push(*sums)
                });
                let mut got = vec![BlockSums::ZERO; size.div_ceil(BLOCK)];
                let before = (w_shared.clone(), g_shared.clone(), shared.state());
                let took = shared.update_in_parts::<BLOCK>(
                    0,
                    &mut w_shared,
                    &mut g_shared,
                    parts,
                    &mut got,
                );
                assert_eq!(took, sharable, "{name}");
                if !took {
                    assert!(before == (w_shared.clone(), g_shared.clone(), shared.state()));
                    shared.update_in_blocks::<BLOCK>(0, &mut w_shared, &mut g_shared, |_| {});
                    got = want.clone();
                }
                blocked.end_step();
                shared.end_step();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&w_blocked), bits(&w_shared), "{name}, {parts} parts");
                assert_eq!(bits(&g_blocked), bits(&g_shared), "{name}, {parts} parts");
                assert_eq!(blocked.state(), shared.state(), "{name}, {parts} parts");
                assert!(got == want, "{name}, {parts} parts: block sums");
            }
        }
    }
}

// Keras-run golden values, NUMERICS.md §9 (Keras 3.15.1, TensorFlow-CPU 2.21 and JAX 0.10.2).

#[test]
fn adam_with_learning_rate_point_one_moves_one_to_keras_value_after_one_tiny_gradient() {
    // §9: `Adam(learning_rate=0.1)`, one step with g = 1e-4 from w = 1 → 0.903066 (the
    // PyTorch ε placement would give 0.900100).
    let mut optimizer = config(adam(false), Clip::None, None).build(&[1]);
    let mut w = [1.0_f32];
    optimizer.apply(0.1, &mut [&mut w], &mut [&mut [1e-4]]);
    assert!((w[0] - 0.903066).abs() < 5e-7, "{}", w[0]);
}

#[test]
fn sgd_weight_decay_shrinks_weights_without_touching_the_momentum_buffer() {
    // §9: `SGD(learning_rate=.1, weight_decay=.1, momentum=.9)`, zero gradient, 2 steps →
    // 0.99, 0.9801.
    let mut optimizer = config(sgd(0.9, false), Clip::None, Some(0.1)).build(&[1]);
    let mut w = [1.0_f32];
    let mut after = Vec::new();
    for _ in 0..2 {
        optimizer.apply(0.1, &mut [&mut w], &mut [&mut [0.0]]);
        after.push(w[0]);
    }
    assert!(
        (after[0] - 0.99).abs() < 1e-7 && (after[1] - 0.9801).abs() < 1e-7,
        "{after:?}"
    );
    assert_eq!(optimizer.state().tensors[0].values, vec![0.0]);
}

/// One SGD(lr = 1) apply from zero weights, so the new weights are minus the clipped gradients.
fn clipped_gradients(clip: Clip, gradients: &[&[f32]]) -> Vec<Vec<f32>> {
    let sizes: Vec<usize> = gradients.iter().map(|g| g.len()).collect();
    let mut optimizer = config(sgd(0.0, false), clip, None).build(&sizes);
    let mut weights: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut grads: Vec<Vec<f32>> = gradients.iter().map(|g| g.to_vec()).collect();
    let mut w: Vec<&mut [f32]> = weights.iter_mut().map(Vec::as_mut_slice).collect();
    let mut g: Vec<&mut [f32]> = grads.iter_mut().map(Vec::as_mut_slice).collect();
    optimizer.apply(1.0, &mut w, &mut g);
    weights
        .iter()
        .map(|w| w.iter().map(|x| -x).collect())
        .collect()
}

#[test]
fn clipnorm_clips_each_variable_on_its_own() {
    // §9: clipnorm=1 on grads (3, 4) and (0.5) → (0.6, 0.8) and 0.5.
    let clipped = clipped_gradients(Clip::Norm(1.0), &[&[3.0, 4.0], &[0.5]]);
    assert_eq!(clipped, vec![vec![0.6, 0.8], vec![0.5]]);
}

#[test]
fn global_clipnorm_scales_all_variables_by_one_factor() {
    // §9: global_clipnorm=1 on (3, 4) and (0) → (0.6, 0.8) and 0.
    let clipped = clipped_gradients(Clip::GlobalNorm(1.0), &[&[3.0, 4.0], &[0.0]]);
    assert_eq!(clipped, vec![vec![0.6, 0.8], vec![0.0]]);
}

#[test]
fn global_clipnorm_turns_every_gradient_nan_when_the_norm_is_not_finite() {
    let clipped = clipped_gradients(Clip::GlobalNorm(1.0), &[&[f32::INFINITY, 1.0], &[2.0]]);
    assert!(clipped.iter().flatten().all(|g| g.is_nan()), "{clipped:?}");
    let clipped = clipped_gradients(Clip::GlobalNorm(1.0), &[&[f32::NAN, 1.0], &[2.0]]);
    assert!(clipped.iter().flatten().all(|g| g.is_nan()), "{clipped:?}");
}

#[test]
fn global_clipnorm_leaves_small_and_zero_gradients_alone() {
    let clipped = clipped_gradients(Clip::GlobalNorm(10.0), &[&[3.0, 4.0], &[0.0]]);
    assert_eq!(clipped, vec![vec![3.0, 4.0], vec![0.0]]);
    let clipped = clipped_gradients(Clip::GlobalNorm(1.0), &[&[0.0, 0.0], &[0.0]]);
    assert_eq!(clipped, vec![vec![0.0, 0.0], vec![0.0]]);
}

#[test]
fn clipvalue_clamps_elementwise_and_keeps_nan() {
    let clipped = clipped_gradients(Clip::Value(0.5), &[&[3.0, -4.0, 0.25], &[f32::NAN]]);
    assert_eq!(clipped[0], vec![0.5, -0.5, 0.25]);
    assert!(clipped[1][0].is_nan());
}

#[test]
fn clipping_with_a_non_positive_threshold_is_disabled_as_in_keras() {
    for clip in [
        Clip::Norm(0.0),
        Clip::GlobalNorm(-1.0),
        Clip::Value(0.0),
        Clip::Norm(f32::NAN),
    ] {
        let clipped = clipped_gradients(clip, &[&[3.0, 4.0], &[0.5]]);
        assert_eq!(clipped, vec![vec![3.0, 4.0], vec![0.5]], "{clip:?}");
    }
}

/// The weight after each apply of a one-variable problem with the given gradients at lr 0.1.
fn trajectory(kind: OptimizerKind, gradients: &[f32]) -> Vec<f32> {
    let mut optimizer = config(kind, Clip::None, None).build(&[1]);
    let mut w = [0.0_f32];
    gradients
        .iter()
        .map(|&g| {
            optimizer.apply(0.1, &mut [&mut w], &mut [&mut [g]]);
            w[0]
        })
        .collect()
}

#[test]
fn nesterov_adds_the_look_ahead_term_to_plain_momentum() {
    // Step 1: v = −lr·g; plain w = v = −0.1; Nesterov w = μ·v − lr·g = −0.19.
    // Step 2 (g = 1 again): v = μ·(−0.1) − 0.1 = −0.19; plain w = −0.29;
    // Nesterov w = −0.19 + (μ·(−0.19) − 0.1) = −0.461.
    let plain = trajectory(sgd(0.9, false), &[1.0, 1.0]);
    let nesterov = trajectory(sgd(0.9, true), &[1.0, 1.0]);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    assert!(close(&plain, &[-0.1, -0.29]), "{plain:?}");
    assert!(close(&nesterov, &[-0.19, -0.461]), "{nesterov:?}");
}

#[test]
fn amsgrad_takes_a_smaller_step_than_adam_once_the_second_moment_falls() {
    // A large gradient then small ones: v decays, v_max keeps the peak, so AMSGrad's
    // denominator is larger and its later steps are shorter.
    let gradients = [10.0, 0.1, 0.1, 0.1];
    let plain = trajectory(adam(false), &gradients);
    let amsgrad = trajectory(adam(true), &gradients);
    assert_eq!(plain[0], amsgrad[0], "identical while v is rising");
    let plain_steps: Vec<f32> = plain.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let amsgrad_steps: Vec<f32> = amsgrad.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    for (p, a) in plain_steps.iter().zip(&amsgrad_steps) {
        assert!(a < p, "{plain_steps:?} vs {amsgrad_steps:?}");
    }
}

#[test]
fn centered_rmsprop_divides_by_the_variance_instead_of_the_mean_square() {
    // First step with g = 1, ρ = 0.9: plain D = sqrt(0.1 + ε) → step lr/0.316 = 0.316;
    // centered D = sqrt(0.1 − 0.01 + ε) = 0.3 → step lr/0.3 = 0.333.
    let plain = trajectory(rmsprop(0.0, false), &[1.0]);
    let centered = trajectory(rmsprop(0.0, true), &[1.0]);
    assert!((plain[0] + 0.1 / 0.1_f32.sqrt()).abs() < 1e-5, "{plain:?}");
    assert!((centered[0] + 0.1 / 0.3).abs() < 1e-5, "{centered:?}");
}

#[test]
fn momentum_rmsprop_carries_the_previous_increment() {
    // g = 1 twice, μ = 0.9: inc₁ = 0.1/sqrt(0.1), inc₂ = 0.1/sqrt(0.19);
    // plain w₂ = −(inc₁ + inc₂); with momentum w₂ = −(inc₁ + (0.9·inc₁ + inc₂)).
    let inc_1 = 0.1 / 0.1_f32.sqrt();
    let inc_2 = 0.1 / 0.19_f32.sqrt();
    let plain = trajectory(rmsprop(0.0, false), &[1.0, 1.0]);
    let momentum = trajectory(rmsprop(0.9, false), &[1.0, 1.0]);
    assert!((plain[1] + inc_1 + inc_2).abs() < 1e-5, "{plain:?}");
    assert!(
        (momentum[1] + inc_1 + 0.9 * inc_1 + inc_2).abs() < 1e-5,
        "{momentum:?}"
    );
}

#[test]
fn adagrad_accumulator_starts_at_its_initial_value() {
    // a = 0.1 + 1 → step = 0.1·1/sqrt(1.1 + ε); PyTorch's zero start would step 0.1.
    let w = trajectory(ADAGRAD, &[1.0]);
    assert!((w[0] + 0.1 / 1.1_f32.sqrt()).abs() < 1e-7, "{w:?}");
}

#[test]
fn nadam_advances_its_momentum_product_once_per_apply_not_per_variable() {
    let mut one = NADAM_CONFIG.build(&[1]);
    let mut three = NADAM_CONFIG.build(&[1, 1, 1]);
    let (mut w, mut a, mut b, mut c) = ([0.5_f32], [0.5_f32], [0.5_f32], [0.5_f32]);
    for g in [1.0, -0.5, 2.0] {
        one.apply(0.01, &mut [&mut w], &mut [&mut [g]]);
        three.apply(
            0.01,
            &mut [&mut a, &mut b, &mut c],
            &mut [&mut [g], &mut [g], &mut [g]],
        );
    }
    assert_eq!([a[0], b[0], c[0]], [w[0]; 3]);
    // U after three applies: Π β1·(1 − ½·0.96^t), t = 1, 2, 3.
    let u: f64 = (1..=3)
        .map(|t| 0.9 * (1.0 - 0.5 * 0.96_f64.powi(t)))
        .product();
    assert!((f64::from(three.state().u_product) - u).abs() < 1e-6);
}

const NADAM_CONFIG: OptimizerConfig = OptimizerConfig {
    kind: NADAM,
    clip: Clip::None,
    weight_decay: None,
};

#[test]
fn a_restored_optimizer_continues_bit_for_bit() {
    for (name, _) in EXPECTED {
        let config = reference_case(name);
        let mut original = config.build(&SIZES);
        let mut weights = START;
        apply_reference_step(&mut original, &mut weights, 0);
        apply_reference_step(&mut original, &mut weights, 1);
        let state = original.state();

        let mut restored = config.build(&SIZES);
        restored.restore(&state).unwrap();
        assert_eq!(restored.state(), state, "{name}");
        let mut restored_weights = weights;
        apply_reference_step(&mut original, &mut weights, 2);
        apply_reference_step(&mut restored, &mut restored_weights, 2);
        assert_eq!(
            weights.map(f32::to_bits),
            restored_weights.map(f32::to_bits),
            "{name}"
        );
        assert_eq!(restored.state(), original.state(), "{name}");
    }
}

#[test]
fn state_names_every_slot_per_variable() {
    let names = |kind| -> Vec<String> {
        let optimizer = config(kind, Clip::None, None).build(&SIZES);
        optimizer
            .state()
            .tensors
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    assert_eq!(names(sgd(0.0, false)), Vec::<String>::new());
    assert_eq!(
        names(sgd(0.9, true)),
        ["optimizer.0.velocity", "optimizer.1.velocity"]
    );
    assert_eq!(
        names(adam(true)),
        [
            "optimizer.0.m",
            "optimizer.1.m",
            "optimizer.0.v",
            "optimizer.1.v",
            "optimizer.0.v_max",
            "optimizer.1.v_max"
        ]
    );
    assert_eq!(
        names(rmsprop(0.9, true)),
        [
            "optimizer.0.v",
            "optimizer.1.v",
            "optimizer.0.average_gradient",
            "optimizer.1.average_gradient",
            "optimizer.0.momentum",
            "optimizer.1.momentum"
        ]
    );
    assert_eq!(
        names(ADAGRAD),
        ["optimizer.0.accumulator", "optimizer.1.accumulator"]
    );
}

#[test]
fn restoring_a_state_that_does_not_fit_fails_and_changes_nothing() {
    let config = reference_case("adam");
    let mut source = config.build(&SIZES);
    let mut weights = START;
    apply_reference_step(&mut source, &mut weights, 0);
    let good = source.state();
    let fresh = config.build(&SIZES).state();

    let mut missing = good.clone();
    missing.tensors.retain(|t| t.name != "optimizer.1.v");
    let mut wrong_size = good.clone();
    wrong_size.tensors[0].values.push(0.0);
    let mut extra = good.clone();
    extra.tensors.push(Tensor {
        name: "optimizer.2.m".into(),
        shape: vec![1],
        values: vec![0.0],
    });
    let cases = [
        (
            missing,
            OptimizerStateError::MissingTensor {
                name: "optimizer.1.v".into(),
            },
        ),
        (
            wrong_size,
            OptimizerStateError::WrongSize {
                name: "optimizer.0.m".into(),
                expected: 2,
                found: 3,
            },
        ),
        (
            extra,
            OptimizerStateError::UnexpectedTensor {
                name: "optimizer.2.m".into(),
            },
        ),
    ];
    for (state, error) in cases {
        let mut target = config.build(&SIZES);
        assert_eq!(target.restore(&state), Err(error));
        assert_eq!(target.state(), fresh);
    }
}

#[test]
fn python_float_recovers_the_literal_keras_subtracts_in_float64() {
    // `1 - 0.9` in float64 rounds to float32 0.1; the same subtraction in float32 does not.
    assert_eq!(python_float(0.9), 0.9_f64);
    assert_eq!(python_float(1e-7), 1e-7_f64);
    assert_eq!((1.0 - python_float(0.9)) as f32, 0.1_f32);
    assert_ne!(1.0_f32 - 0.9_f32, 0.1_f32);
    // Whatever the value, rounding back gives the same f32.
    for x in [
        f32::MIN_POSITIVE,
        f32::MAX,
        -3.3e-5,
        0.999,
        1.0 / 3.0,
        f32::INFINITY,
    ] {
        assert_eq!(python_float(x) as f32, x);
    }
    assert!(python_float(f32::NAN).is_nan());
}
