//! `trainyard bench`: the five reference workloads of `shared/bench/README.md` (W1–W5), trained
//! by the engine exactly as the PyTorch, JAX, Keras and scikit-learn scripts train them, so the
//! numbers can be compared side by side.
//!
//! Data is prepared before the clock starts, as `shared/bench/common.py` `load_data` does: Iris
//! standardized over all 150 rows (population std), digits pixels divided by 16, W4 the
//! generated 60000×784 Gaussian blobs ([`Generated::w4_benchmark`]). Every run builds a
//! [`Plan`] (Glorot-uniform kernels, zero biases, shuffling every epoch, no validation, no
//! metrics) and times one call of [`fit`] with an observer that does nothing. One JSON line per
//! run carries `common.py`'s `make_record` fields; `final_loss` (mean crossentropy, clipped at
//! 1e-12 as `cross_entropy_np` does) and `final_acc` are evaluated after the clock stops.
//! `us_per_step = wall_s / steps · 10⁶` with `steps = ⌈N / batch⌉ · epochs`.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ndarray::Array2;

use crate::data::standardize::Standardizer;
use crate::data::synthetic::Generated;
use crate::data::{Dataset, Targets, builtin};
use crate::train::activation::Activation;
use crate::train::init::Initializer;
use crate::train::loss::Loss;
use crate::train::optim::{Clip, OptimizerConfig, OptimizerKind};
use crate::train::regularizer::Regularizer;
use crate::train::schedule::{Schedule, ScheduleUnit};
use crate::train::{EpochRecord, Initialization, LayerPlan, Observer, Plan, fit, predict};

/// Seed of every run (`common.py` `SEED`), and of W4's generated data.
const SEED: u64 = 0;

/// Adam's ε in every reference script (`common.py` `ADAM_EPS`; Keras's default 1e-7 is
/// overridden there too).
const ADAM_EPSILON: f32 = 1e-8;

/// Which data a workload trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    Iris,
    Digits,
    SynthMnist,
}

/// The optimizer of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Sgd { learning_rate: f32, momentum: f32 },
    Adam { learning_rate: f32 },
}

/// One row of the README's workload table.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub id: &'static str,
    pub name: &'static str,
    pub data: Data,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub optimizer: Optimizer,
    pub batch: usize,
    pub epochs: usize,
}

/// W1–W5 in order (`common.py` `WORKLOADS`).
pub fn workloads() -> Vec<Workload> {
    let iris = |id, name, batch| Workload {
        id,
        name,
        data: Data::Iris,
        hidden: vec![16],
        activation: Activation::Relu,
        optimizer: Optimizer::Sgd {
            learning_rate: 0.1,
            momentum: 0.9,
        },
        batch,
        epochs: 1000,
    };
    vec![
        iris("W1", "iris-sgd", 15),
        iris("W2", "iris-full-batch", 150),
        Workload {
            id: "W3",
            name: "digits-mlp",
            data: Data::Digits,
            hidden: vec![128, 64],
            activation: Activation::Relu,
            optimizer: Optimizer::Adam {
                learning_rate: 1e-3,
            },
            batch: 32,
            epochs: 50,
        },
        Workload {
            id: "W4",
            name: "mnist-scale",
            data: Data::SynthMnist,
            hidden: vec![256, 128],
            activation: Activation::Relu,
            optimizer: Optimizer::Adam {
                learning_rate: 1e-3,
            },
            batch: 128,
            epochs: 3,
        },
        Workload {
            id: "W5",
            name: "deep-narrow",
            data: Data::Digits,
            hidden: vec![32; 20],
            activation: Activation::Sigmoid,
            optimizer: Optimizer::Sgd {
                learning_rate: 0.01,
                momentum: 0.0,
            },
            batch: 32,
            epochs: 20,
        },
    ]
}

/// The workloads named by `names` (ids `W1`…, names `iris-sgd`…, or `all`), in the order given.
pub fn resolve(names: &[String]) -> Result<Vec<Workload>, String> {
    let all = workloads();
    let mut out = Vec::new();
    for name in names {
        if name.eq_ignore_ascii_case("all") {
            out.extend(all.iter().cloned());
            continue;
        }
        match all
            .iter()
            .find(|w| w.id.eq_ignore_ascii_case(name) || w.name == name)
        {
            Some(w) => out.push(w.clone()),
            None => {
                return Err(format!(
                    "unknown workload {name:?}; use W1..W5, a name or all"
                ));
            }
        }
    }
    Ok(out)
}

/// `⌈n / batch⌉ · epochs` (`common.py` `step_count`).
pub fn step_count(rows: usize, batch: usize, epochs: usize) -> u64 {
    (rows.div_ceil(batch) * epochs) as u64
}

/// The dataset of `data`, prepared as `common.py` `load_data` prepares it.
pub fn load(data: Data) -> Result<Dataset, String> {
    match data {
        Data::Iris => {
            let mut iris = builtin_copy("iris")?;
            let scaler = Standardizer::fit(iris.features.view());
            scaler
                .apply(&mut iris.features)
                .map_err(|e| format!("{e:?}"))?;
            Ok(iris)
        }
        Data::Digits => {
            let mut digits = builtin_copy("digits")?;
            digits.features.mapv_inplace(|v| v / 16.0);
            Ok(digits)
        }
        Data::SynthMnist => Generated::w4_benchmark()
            .generate(SEED)
            .map_err(|e| e.to_string()),
    }
}

fn builtin_copy(name: &str) -> Result<Dataset, String> {
    builtin::load(name)
        .map(|d| (*d).clone())
        .ok_or_else(|| format!("the built-in dataset {name} is missing"))
}

/// The plan of workload `w` for inputs of `features` columns and `classes` classes.
pub fn plan(w: &Workload, classes: usize, threads: usize) -> Plan {
    let dense = |units, activation| LayerPlan::Dense {
        units,
        activation,
        kernel_initializer: None,
        bias_initializer: Initializer::Zeros,
        kernel_regularizer: Regularizer::default(),
        use_bias: true,
    };
    let mut layers: Vec<LayerPlan> = w.hidden.iter().map(|&u| dense(u, w.activation)).collect();
    layers.push(dense(classes, Activation::Softmax));
    let (kind, learning_rate) = match w.optimizer {
        Optimizer::Sgd {
            learning_rate,
            momentum,
        } => (
            OptimizerKind::Sgd {
                momentum,
                nesterov: false,
            },
            learning_rate,
        ),
        Optimizer::Adam { learning_rate } => (
            OptimizerKind::Adam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: ADAM_EPSILON,
                amsgrad: false,
            },
            learning_rate,
        ),
    };
    Plan {
        layers,
        initialization: Initialization::Random {
            kernel: Initializer::GlorotUniform,
        },
        optimizer: OptimizerConfig {
            kind,
            clip: Clip::None,
            weight_decay: None,
        },
        schedule: Schedule::Constant { learning_rate },
        schedule_unit: ScheduleUnit::Step,
        loss: Loss::SparseCategoricalCrossentropy,
        metrics: Vec::new(),
        batch_size: w.batch,
        epochs: w.epochs,
        seed: SEED,
        shuffle: true,
        augmentation: None,
        early_stopping: None,
        log_every_steps: None,
        threads,
    }
}

/// An observer that ignores everything.
struct Quiet;

impl Observer for Quiet {
    fn on_epoch(&mut self, _record: &EpochRecord) {}
}

/// One timed run's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub wall_s: f64,
    pub steps: u64,
    pub final_loss: f64,
    pub final_acc: f64,
    /// Percent of one core that other processes used during the run, when `/proc` tells.
    pub other_cpu_pct: Option<f64>,
}

/// Trains `w` once on `data` (already prepared) on `threads` threads and evaluates it on the
/// training set.
pub fn run(w: &Workload, data: &Dataset, threads: usize) -> Result<Run, String> {
    let Targets::Classes { labels, n_classes } = &data.targets else {
        return Err(format!("{}: the data has no class labels", w.id));
    };
    let plan = plan(w, *n_classes, threads);
    let cancel = AtomicBool::new(false);
    let busy0 = machine_busy_s();
    let own0 = own_cpu_s();
    let start = Instant::now();
    let result = fit(&plan, data, None, None, &mut Quiet, &cancel).map_err(|e| e.to_string())?;
    let wall_s = start.elapsed().as_secs_f64();
    let other_cpu_pct = match (busy0, machine_busy_s(), own0, own_cpu_s()) {
        (Some(b0), Some(b1), Some(o0), Some(o1)) => {
            Some((((b1 - b0) - (o1 - o0)).max(0.0) / wall_s * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    let probabilities = predict(&plan.layers, &result.parameters, data.features.view())
        .map_err(|e| e.to_string())?;
    let (final_loss, final_acc) = crossentropy_and_accuracy(&probabilities, labels);
    Ok(Run {
        wall_s,
        steps: result.steps,
        final_loss,
        final_acc,
        other_cpu_pct,
    })
}

/// Mean `−ln max(p_y, 1e-12)` and the fraction of rows whose largest probability is the label.
pub fn crossentropy_and_accuracy(probabilities: &Array2<f32>, labels: &[u32]) -> (f64, f64) {
    let mut loss = 0.0f64;
    let mut hits = 0usize;
    for (row, &label) in probabilities.rows().into_iter().zip(labels) {
        let p = f64::from(row[label as usize]).clamp(1e-12, 1.0);
        loss -= p.ln();
        let best = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, &v)| {
                    if v > acc.1 { (i, v) } else { acc }
                },
            )
            .0;
        hits += usize::from(best == label as usize);
    }
    let n = labels.len().max(1) as f64;
    (loss / n, hits as f64 / n)
}

/// The JSON line of one run, with `common.py` `make_record`'s fields.
pub fn record(w: &Workload, rows: usize, threads: usize, rep: usize, run: &Run) -> String {
    let steps = step_count(rows, w.batch, w.epochs);
    let round = |v: f64, digits: i32| {
        let scale = 10f64.powi(digits);
        (v * scale).round() / scale
    };
    serde_json::json!({
        "framework": "trainyard",
        "workload": w.id,
        "name": w.name,
        "threads": threads,
        "rep": rep,
        "wall_s": round(run.wall_s, 6),
        "samples_per_s": round((rows * w.epochs) as f64 / run.wall_s, 1),
        "steps": steps,
        "us_per_step": round(run.wall_s / steps as f64 * 1e6, 2),
        "warm_us_per_step": null,
        "final_loss": round(run.final_loss, 6),
        "final_acc": round(run.final_acc, 6),
        "other_cpu_pct": run.other_cpu_pct,
        "loadavg_1m": loadavg(),
    })
    .to_string()
}

/// Runs every workload `reps` times, printing one JSON line per run to standard output and
/// a table of medians to standard error.
pub fn main(names: &[String], reps: usize, threads: usize) -> Result<(), String> {
    if names.len() == 1 && names[0] == "products" {
        products(reps);
        return Ok(());
    }
    if names.len() == 1 && names[0] == "updates" {
        updates(reps);
        return Ok(());
    }
    if names.len() == 1 && names[0] == "activations" {
        activations(reps);
        return Ok(());
    }
    let workloads = resolve(names)?;
    let mut table = Vec::new();
    for w in &workloads {
        let data = load(w.data)?;
        let rows = data.rows();
        let mut times = Vec::new();
        let mut last = None;
        for rep in 0..reps.max(1) {
            let run = run(w, &data, threads)?;
            if run.steps != step_count(rows, w.batch, w.epochs) {
                return Err(format!(
                    "{}: {} steps taken, {} expected",
                    w.id,
                    run.steps,
                    step_count(rows, w.batch, w.epochs)
                ));
            }
            println!("{}", record(w, rows, threads, rep, &run));
            times.push(run.wall_s);
            last = Some(run);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let steps = step_count(rows, w.batch, w.epochs);
        table.push((w.clone(), median, steps, last));
    }
    eprintln!(
        "\n{:<4} {:<16} {:>9} {:>7} {:>10} {:>10} {:>7}",
        "id", "name", "median s", "steps", "µs/step", "loss", "acc"
    );
    for (w, median, steps, last) in &table {
        let (loss, acc) = last
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |r| (r.final_loss, r.final_acc));
        eprintln!(
            "{:<4} {:<16} {:>9.4} {:>7} {:>10.2} {:>10.4} {:>7.4}",
            w.id,
            w.name,
            median,
            steps,
            median / *steps as f64 * 1e6,
            loss,
            acc
        );
    }
    Ok(())
}

/// The dense-layer product shapes of W1, W3, W4 and W5 (`m × k · k × n`).
const PRODUCT_SHAPES: &[(usize, usize, usize)] = &[
    (15, 4, 16),
    (15, 16, 3),
    (32, 32, 32),
    (32, 64, 32),
    (32, 64, 128),
    (32, 128, 64),
    (32, 64, 10),
    (64, 32, 10),
    (128, 128, 10),
    (128, 256, 128),
    (128, 784, 256),
    (784, 128, 256),
];

/// `trainyard bench products`: each shape along the engine's kernel, faer on one thread and
/// faer on two (the engine's split: a block of output rows per thread); per path the best of `reps` batches of at least 20 ms, as µs per product and
/// GFLOP/s. One JSON line per shape and path, then a table on stderr.
pub fn products(reps: usize) {
    use crate::train::layer::product::{Path, product};
    use faer::Par;
    let paths = [
        ("tiles", Path::Tiles),
        ("faer", Path::Faer(Par::Seq)),
        ("faer-2-threads", Path::Faer(Par::rayon(2))),
    ];
    eprintln!("shape                 tiles µs  faer µs  faer 2 thr µs");
    for &(m, k, n) in PRODUCT_SHAPES {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![0.0f32; m * n];
        let flop = 2.0 * (m * k * n) as f64;
        // Enough repetitions for ≥ 20 ms at ≈ 50 GFLOP/s.
        let batch = ((1e9 / flop) as usize).max(1);
        let mut row = Vec::new();
        for (name, path) in paths {
            let mut best = f64::INFINITY;
            for _ in 0..reps.max(1) {
                let start = Instant::now();
                for _ in 0..batch {
                    product(&a, &b, &mut c, m, k, n, path);
                    std::hint::black_box(&mut c);
                }
                best = best.min(start.elapsed().as_secs_f64() / batch as f64);
            }
            println!(
                "{}",
                serde_json::json!({
                    "shape": format!("{m}x{k}x{n}"),
                    "path": name,
                    "us": (best * 1e8).round() / 100.0,
                    "gflops": (flop / best / 1e7).round() / 100.0,
                })
            );
            row.push(best * 1e6);
        }
        eprintln!(
            "{:<20} {:>9.2} {:>8.2} {:>14.2}",
            format!("{m}x{k}x{n}"),
            row[0],
            row[1],
            row[2]
        );
    }
}

/// `trainyard bench activations`: every activation's forward pass and its gradient over a
/// batch of 32 rows of 1024 values (softmax by rows of ten) spread over `[−8, 8]`, each the best
/// of `reps` batches of at least 20 ms, in ns per 1024 values. One JSON line per activation,
/// then a table on stderr.
pub fn activations(reps: usize) {
    const VALUES: usize = 32 * 1024;
    let all = [
        ("linear", Activation::Linear),
        ("relu", Activation::Relu),
        ("leaky_relu", Activation::LEAKY_RELU),
        ("elu", Activation::ELU),
        ("selu", Activation::Selu),
        ("gelu", Activation::Gelu),
        ("gelu (tanh form)", Activation::GeluTanh),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("softmax", Activation::Softmax),
        ("swish", Activation::Swish),
        ("softplus", Activation::Softplus),
    ];
    let z: Vec<f32> = (0..VALUES).map(|i| (i as f32 * 0.37).sin() * 8.0).collect();
    let dy: Vec<f32> = (0..VALUES).map(|i| (i as f32 * 0.11).cos()).collect();
    let mut y = vec![0.0f32; VALUES];
    let mut dz = vec![0.0f32; VALUES];
    let per_1024 = |seconds: f64| seconds * 1e9 * 1024.0 / VALUES as f64;
    eprintln!("activation        forward ns  gradient ns  (per 1024 values)");
    for (name, activation) in all {
        let width = if activation == Activation::Softmax {
            10
        } else {
            1024
        };
        let rows = VALUES / width * width;
        let forward = per_1024(best_pass(reps, || {
            activation.forward(&z[..rows], &mut y[..rows], width);
            std::hint::black_box(&mut y);
        }));
        activation.forward(&z[..rows], &mut y[..rows], width);
        let gradient = per_1024(best_pass(reps, || {
            activation.backward(&z[..rows], &y[..rows], &dy[..rows], &mut dz[..rows], width);
            std::hint::black_box(&mut dz);
        }));
        println!(
            "{}",
            serde_json::json!({
                "activation": name,
                "forward_ns": (forward * 10.0).round() / 10.0,
                "gradient_ns": (gradient * 10.0).round() / 10.0,
            })
        );
        eprintln!("{name:<16} {forward:>11.1} {gradient:>12.1}");
    }
}

/// Seconds per call of `pass`: the best over `reps` batches of calls lasting at least 20 ms.
fn best_pass(reps: usize, mut pass: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let (mut elapsed, mut passes) = (0.0, 0);
        while elapsed < 0.02 {
            let start = Instant::now();
            pass();
            elapsed += start.elapsed().as_secs_f64();
            passes += 1;
        }
        best = best.min(elapsed / passes as f64);
    }
    best
}

/// The kernels whose updates `trainyard bench updates` times: W4's three large ones
/// (784-256-128-10) and W5's twenty-one small ones (64-[32]×20-10), where the fixed cost of
/// each kernel's update shows.
fn update_sets() -> [(&'static str, Vec<(usize, usize)>); 2] {
    let mut w5 = vec![(64, 32)];
    w5.extend(std::iter::repeat_n((32, 32), 19));
    w5.push((32, 10));
    [("W4", vec![(784, 256), (256, 128), (128, 10)]), ("W5", w5)]
}

/// `trainyard bench updates`: one optimizer apply to the kernels of W4 and of W5
/// ([`update_sets`]), statistics included (the per-layer gradient norm, weight norm and
/// update ratio every step records), on the path training takes, for each rule; best of
/// `reps` batches of ≥ 20 ms, µs per apply.
pub fn updates(reps: usize) {
    use crate::train::optim::OptimizerKind;
    let adam = |amsgrad| OptimizerKind::Adam {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
        amsgrad,
    };
    let rules = [
        (
            "sgd",
            OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
        ),
        (
            "sgd momentum 0.9",
            OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: false,
            },
        ),
        ("adam", adam(false)),
        ("adam amsgrad", adam(true)),
        (
            "rmsprop",
            OptimizerKind::Rmsprop {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
                centered: false,
            },
        ),
        (
            "adagrad",
            OptimizerKind::Adagrad {
                initial_accumulator_value: 0.1,
                epsilon: 1e-7,
            },
        ),
        (
            "nadam",
            OptimizerKind::Nadam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
            },
        ),
    ];
    let sets = update_sets().map(|(set, kernels)| {
        let values: usize = kernels.iter().map(|(i, o)| i * o).sum();
        (set, kernels, values)
    });
    let headers = sets
        .each_ref()
        .map(|(set, _, values)| format!("{set} ({values} values)"));
    eprintln!("rule                 µs per apply: {}", headers.join(", "));
    for (name, kind) in rules {
        let mut line = format!("{name:<20}");
        for (set, kernels, values) in &sets {
            let best = time_updates(kind, kernels, reps);
            println!(
                "{}",
                serde_json::json!({
                    "rule": name,
                    "kernels": set,
                    "values": values,
                    "us": (best * 1e8).round() / 100.0,
                })
            );
            line.push_str(&format!(" {:>12.2}", best * 1e6));
        }
        eprintln!("{line}");
    }
}

/// Seconds per apply of `kind` to fresh kernels of the given shapes, best of `reps`.
fn time_updates(
    kind: crate::train::optim::OptimizerKind,
    kernels: &[(usize, usize)],
    reps: usize,
) -> f64 {
    use crate::train::fit::kernel_update;
    use crate::train::layer::{Role, Variable};
    use crate::train::optim::{Clip, OptimizerConfig};
    use crate::train::regularizer::Regularizer;
    let sizes: Vec<usize> = kernels.iter().map(|(i, o)| i * o).collect();
    let config = OptimizerConfig {
        kind,
        clip: Clip::None,
        weight_decay: None,
    };
    let mut optimizer = config.build(&sizes);
    let mut variables: Vec<Variable> = kernels
        .iter()
        .enumerate()
        .map(|(i, &(inputs, units))| Variable {
            name: format!("layers.{i}.kernel"),
            shape: vec![inputs, units],
            values: (0..inputs * units)
                .map(|j| (j as f32 * 0.37).sin() * 0.05)
                .collect(),
            gradient: vec![0.0; inputs * units],
            role: Role::Kernel(Regularizer::default()),
        })
        .collect();
    let fill = |variables: &mut [Variable], step: usize| {
        for v in variables {
            for (j, g) in v.gradient.iter_mut().enumerate() {
                *g = ((j + step) as f32 * 0.11).cos() * 1e-3;
            }
        }
    };
    let mut step = 0;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let mut elapsed = 0.0;
        let mut applies = 0;
        while elapsed < 0.02 {
            // A fresh gradient every apply, as training has; its writing is not timed.
            fill(&mut variables, step);
            step += 1;
            let start = Instant::now();
            optimizer.begin_step(1e-3, 0.0);
            for (index, variable) in variables.iter_mut().enumerate() {
                std::hint::black_box(kernel_update(
                    &mut optimizer,
                    index,
                    variable,
                    false,
                    1,
                    &mut [],
                ));
            }
            optimizer.end_step();
            elapsed += start.elapsed().as_secs_f64();
            applies += 1;
        }
        best = best.min(elapsed / applies as f64);
    }
    best
}

/// Non-idle CPU seconds of all processes since boot, from the first line of `/proc/stat`
/// (assumes the usual 100 ticks per second).
fn machine_busy_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((ticks.iter().sum::<u64>() - idle) as f64 / 100.0)
}

/// CPU seconds this process used (user + system), from `/proc/self/stat`.
fn own_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_counts_match_the_readme_table() {
        let rows = [150, 150, 1797, 60_000, 1797];
        let steps: Vec<u64> = workloads()
            .iter()
            .zip(rows)
            .map(|(w, n)| step_count(n, w.batch, w.epochs))
            .collect();
        assert_eq!(steps, [10_000, 1_000, 2_850, 1_407, 1_140]);
    }

    #[test]
    fn workloads_resolve_by_id_name_or_all() {
        let ids = |names: &[&str]| -> Vec<&str> {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            resolve(&names).unwrap().iter().map(|w| w.id).collect()
        };
        assert_eq!(ids(&["w3", "iris-sgd"]), ["W3", "W1"]);
        assert_eq!(ids(&["all"]), ["W1", "W2", "W3", "W4", "W5"]);
        assert!(resolve(&["W6".to_string()]).is_err());
    }

    #[test]
    fn the_deep_narrow_plan_has_twenty_sigmoid_layers_and_a_softmax() {
        let w = &workloads()[4];
        let plan = plan(w, 10, 1);
        assert_eq!(plan.layers.len(), 21);
        let sigmoid = plan
            .layers
            .iter()
            .filter(|l| {
                matches!(
                    l,
                    LayerPlan::Dense {
                        units: 32,
                        activation: Activation::Sigmoid,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(sigmoid, 20);
    }

    #[test]
    fn the_update_sets_are_the_kernels_of_w4_and_w5() {
        use crate::train::layer::Role;
        use crate::train::network::Network;
        for (set, kernels) in update_sets() {
            let w = workloads().into_iter().find(|w| w.id == set).unwrap();
            let inputs = if set == "W4" { 784 } else { 64 };
            let network = Network::build(&plan(&w, 10, 1).layers, inputs, 1).unwrap();
            let shapes: Vec<(usize, usize)> = network
                .variables
                .iter()
                .filter(|v| matches!(v.role, Role::Kernel(_)))
                .map(|v| (v.shape[0], v.shape[1]))
                .collect();
            assert_eq!(shapes, kernels, "{set}");
        }
    }

    #[test]
    fn iris_is_standardized_over_all_rows() {
        let iris = load(Data::Iris).unwrap();
        for column in iris.features.columns() {
            let n = column.len() as f64;
            let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = column
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            assert!(
                mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
                "{mean} {var}"
            );
        }
    }

    /// Uniform probabilities over 3 classes: loss ln 3; argmax ties go to the first class.
    #[test]
    fn crossentropy_and_accuracy_follow_the_reference_formula() {
        let p = Array2::from_shape_vec((2, 3), vec![1.0 / 3.0; 6]).unwrap();
        let (loss, acc) = crossentropy_and_accuracy(&p, &[0, 2]);
        assert!((loss - 3f64.ln()).abs() < 1e-7);
        assert_eq!(acc, 0.5);
    }
}
