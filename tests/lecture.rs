//! The lecture's demonstrations, run on the engine as tests: each takes a spec from
//! `examples/`, validates it as the service would, prepares its data, trains it with
//! `train::fit`, and checks the effect the lecture describes.
//!
//! These are the claims of `../shared/seed/NOTES.md` §1–§3 turned into numbers: the Keras iris
//! example learns the task; a 20-layer sigmoid network's gradients vanish towards the input and
//! ReLU + He initialization + batch normalization keep them alive; dropout and L2 shrink the
//! gap between training and validation accuracy; DBN pre-training beats random initialization
//! within the same budget.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use ndarray::Array2;
use serde_json::Value;
use trainyard::data::{Dataset, Targets};
use trainyard::jobs::catalog::StaticCatalog;
use trainyard::jobs::prepare::{Prepared, prepare};
use trainyard::jobs::validate::{ValidatedJob, validate};
use trainyard::train::{EpochRecord, FitResult, Observer, fit, predict};

/// Collects every epoch record.
#[derive(Default)]
struct History(Vec<EpochRecord>);

impl Observer for History {
    fn on_epoch(&mut self, record: &EpochRecord) {
        self.0.push(record.clone());
    }
}

struct Run {
    job: ValidatedJob,
    data: Prepared,
    result: FitResult,
    history: Vec<EpochRecord>,
}

/// Reads `examples/{name}.json`, applies `edit` (to shorten a run), and trains it.
fn run_example(name: &str, edit: impl FnOnce(&mut Value)) -> Run {
    let path = format!("{}/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut spec: Value = serde_json::from_str(&text).expect("examples are valid JSON");
    edit(&mut spec);
    let job = validate(&spec, &StaticCatalog::default(), 0)
        .unwrap_or_else(|errors| panic!("{name} does not validate: {errors:?}"));
    let data = prepare(&job.data, job.seed, &HashMap::new()).expect("data prepares");
    let mut history = History::default();
    let result = fit(
        &job.plan(),
        &data.train,
        data.validation.as_ref(),
        None,
        &mut history,
        &AtomicBool::new(false),
    )
    .unwrap_or_else(|e| panic!("{name} failed to train: {e}"));
    Run {
        job,
        data,
        result,
        history: history.0,
    }
}

fn val_metric(record: &EpochRecord, name: &str) -> f32 {
    record
        .val_metrics
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no val_{name} in epoch {}", record.epoch))
}

/// Accuracy of the trained model on `data`, in inference mode (dropout off).
fn accuracy(run: &Run, data: &Dataset) -> f64 {
    let outputs: Array2<f32> = predict(
        &run.job.plan().layers,
        &run.result.parameters,
        data.features.view(),
    )
    .expect("predict runs");
    let Targets::Classes { labels, .. } = &data.targets else {
        panic!("classification data expected")
    };
    let hits = outputs
        .rows()
        .into_iter()
        .zip(labels)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            best == Some(**label as usize)
        })
        .count();
    hits as f64 / labels.len() as f64
}

fn set(spec: &mut Value, path: &[&str], value: Value) {
    let mut node = spec;
    for key in &path[..path.len() - 1] {
        node = node.get_mut(*key).expect("path exists");
    }
    node[path[path.len() - 1]] = value;
}

#[test]
fn the_keras_iris_example_reaches_95_percent_validation_accuracy() {
    // NOTES.md §1: SGD(0.1, momentum=0.9), batch 15, 1000 epochs, PiecewiseConstantDecay
    // ([700, 900], [0.1, 0.05, 0.01]), sparse categorical cross-entropy, accuracy. With 45
    // validation rows one mistake is 2.2 points, so the claim is checked as the median of
    // the final validation accuracy over five seeds (each seed also draws its own split).
    let mut finals = Vec::new();
    for seed in 1..=5u64 {
        let run = run_example("iris-keras-sgd-momentum-piecewise", |spec| {
            set(spec, &["training", "seed"], Value::from(seed))
        });
        assert_eq!(run.history.len(), 1000);
        let last = run.history.last().unwrap();
        // The schedule counts optimizer steps: 7 per epoch on 105 training rows.
        assert_eq!(last.step, 7000);
        assert_eq!(last.learning_rate, 0.01);
        assert_eq!(run.history[99].learning_rate, 0.1);
        assert_eq!(run.history[119].learning_rate, 0.05);
        finals.push(val_metric(last, "accuracy"));
    }
    finals.sort_by(f32::total_cmp);
    eprintln!("final val_accuracy over seeds 1..=5: {finals:?}");
    assert!(finals[2] >= 0.95, "median {}", finals[2]);
}

/// Mean over the first `epochs` records of last-layer grad norm / first-layer grad norm.
fn gradient_gap(history: &[EpochRecord]) -> f64 {
    let ratios: Vec<f64> = history
        .iter()
        .map(|record| {
            let first = record.layers.first().expect("layer stats").grad_norm as f64;
            let last = record.layers.last().expect("layer stats").grad_norm as f64;
            last / first
        })
        .collect();
    ratios.iter().sum::<f64>() / ratios.len() as f64
}

#[test]
fn a_deep_sigmoid_network_loses_its_gradient_and_relu_he_batchnorm_restore_it() {
    let shorten = |spec: &mut Value| set(spec, &["training", "epochs"], Value::from(3));
    let sigmoid = run_example("vanishing-gradients-sigmoid-20-layers", shorten);
    let fixed = run_example("vanishing-gradients-fix-relu-he-batchnorm", shorten);
    assert_eq!(sigmoid.history[0].layers.len(), 21, "20 hidden + output");

    let sigmoid_gap = gradient_gap(&sigmoid.history);
    let fixed_gap = gradient_gap(&fixed.history);
    eprintln!("last/first gradient norm: sigmoid {sigmoid_gap:.3e}, relu+he+bn {fixed_gap:.3e}");
    // Orders of magnitude: the first layer's gradient is at least 10⁴ times smaller than the
    // last layer's in the sigmoid stack, and the remedies narrow the gap by at least 10³.
    assert!(sigmoid_gap > 1e4, "sigmoid gap {sigmoid_gap}");
    assert!(sigmoid_gap / fixed_gap > 1e3, "fixed gap {fixed_gap}");
}

#[test]
fn dropout_and_l2_narrow_the_gap_between_training_and_validation_loss() {
    // What a Keras user sees in History: on 20 % of digits a wide network drives its training
    // loss towards zero while val_loss stays high; dropout and an L2 penalty keep the two
    // curves closer. (Inference-mode accuracies are printed for reference.)
    let gap = |name: &str| {
        let run = run_example(name, |_| {});
        let last = run.history.last().unwrap();
        let gap = last.val_loss.expect("validation") - last.loss;
        let train = accuracy(&run, &run.data.train);
        let val = accuracy(&run, run.data.validation.as_ref().expect("validation part"));
        eprintln!(
            "{name}: loss {:.4} val_loss {:.4?} gap {gap:.4}; accuracy train {train:.4} validation {val:.4}",
            last.loss, last.val_loss
        );
        gap
    };
    let plain = gap("overfitting-wide-net");
    let dropout = gap("overfitting-fix-dropout");
    let l2 = gap("overfitting-fix-l2");
    assert!(dropout < plain, "dropout gap {dropout} vs plain {plain}");
    assert!(l2 < plain, "l2 gap {l2} vs plain {plain}");
}

#[test]
fn dbn_pretraining_beats_random_initialization_on_a_deep_sigmoid_net_in_the_same_budget() {
    let score = |name: &str| {
        let run = run_example(name, |_| {});
        let last = run.history.last().unwrap().clone();
        let accuracy = val_metric(&last, "accuracy");
        eprintln!(
            "{name}: val_accuracy {accuracy:.4}, val_loss {:?}",
            last.val_loss
        );
        accuracy
    };
    let pretrained = score("dbn-pretraining-deep-sigmoid");
    let random = score("dbn-baseline-random-init-deep-sigmoid");
    assert!(pretrained > random + 0.05, "{pretrained} vs {random}");
}
