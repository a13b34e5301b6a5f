//! Tests of `validate`, written as tables: bad specs with the exact paths of their errors,
//! resolved defaults, and the dry-run numbers.

use serde_json::{Value, json};

use super::*;
use crate::jobs::catalog::StaticCatalog;

const SEED: u64 = 42;

/// The API.md example: iris, 4-16-3, sgd with momentum and a piecewise schedule.
fn iris() -> Value {
    json!({
        "name": "iris-sgd-momentum",
        "data": {"type": "builtin", "name": "iris", "validation_split": 0.3, "standardize": true},
        "architecture": {"layers": [
            {"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dense", "units": 3, "activation": "softmax"}
        ]},
        "initializer": {"type": "he_normal"},
        "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
        "schedule": {"type": "piecewise_constant_decay", "boundaries": [700, 900], "values": [0.1, 0.05, 0.01]},
        "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     "batch_size": 15, "epochs": 1000, "seed": 7}
    })
}

fn breast_cancer_binary() -> Value {
    let mut spec = iris();
    edit(&mut spec, "/data/name", json!("breast_cancer"));
    edit(
        &mut spec,
        "/architecture/layers/1",
        json!({"type": "dense", "units": 1, "activation": "sigmoid"}),
    );
    edit(&mut spec, "/training/loss", json!("binary_crossentropy"));
    spec
}

fn inline(features: Value, labels: Value) -> Value {
    let mut spec = iris();
    edit(
        &mut spec,
        "/data",
        json!({"type": "inline", "features": features, "labels": labels}),
    );
    edit(&mut spec, "/training/batch_size", json!("full"));
    spec
}

fn catalog() -> StaticCatalog {
    StaticCatalog::default().with_dataset(
        "housing",
        DataShape {
            rows: 500,
            features: 8,
            targets: TargetShape::Values { outputs: 1 },
            image_shape: None,
        },
    )
}

/// Sets the value at a JSON pointer (creating the last key), or removes it for `REMOVE`.
/// The empty pointer replaces the whole body.
fn edit(spec: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        *spec = value;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer starts with /");
    let parent = spec.pointer_mut(parent).expect("the parent exists");
    match parent {
        Value::Object(map) if value == json!(REMOVE) => {
            map.remove(key);
        }
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().expect("an array index");
            if index < items.len() {
                items[index] = value;
            } else {
                items.push(value);
            }
        }
        _ => panic!("cannot edit {pointer}"),
    }
}

const REMOVE: &str = "<remove>";

fn errors_of(spec: &Value) -> Vec<FieldError> {
    match validate(spec, &catalog(), SEED) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

fn deep_residual(depth: usize) -> Value {
    let mut block = json!({"type": "dense", "units": 16, "activation": "relu"});
    for _ in 0..depth {
        block = json!({"type": "residual", "layers": [block]});
    }
    block
}

/// JSON-pointer edits applied to a base spec.
type Edits = Vec<(&'static str, Value)>;

/// (what is wrong, base spec, edits, the exact error paths, sorted)
type BadSpec = (&'static str, Value, Edits, Vec<&'static str>);

fn bad_specs() -> Vec<BadSpec> {
    let many_layers: Vec<Value> = (0..300)
        .map(|_| json!({"type": "dense", "units": 3, "activation": "softmax"}))
        .collect();
    vec![
        (
            "an unknown top-level field is rejected",
            iris(),
            vec![("/optimiser", json!({"type": "sgd"}))],
            vec!["optimiser"],
        ),
        (
            "a misspelt optimizer field is rejected, not defaulted",
            iris(),
            vec![("/optimizer/momentun", json!(0.9))],
            vec!["optimizer.momentun"],
        ),
        (
            "momentum above 1 is out of range",
            iris(),
            vec![("/optimizer/momentum", json!(1.5))],
            vec!["optimizer.momentum"],
        ),
        (
            "momentum as a string is the wrong type",
            iris(),
            vec![("/optimizer/momentum", json!("high"))],
            vec!["optimizer.momentum"],
        ),
        (
            "an unknown optimizer is named",
            iris(),
            vec![("/optimizer/type", json!("sgdd"))],
            vec!["optimizer.type"],
        ),
        (
            "a spec without data is rejected",
            iris(),
            vec![("/data", json!(REMOVE))],
            vec!["data"],
        ),
        (
            "a spec without architecture is rejected",
            iris(),
            vec![("/architecture", json!(REMOVE))],
            vec!["architecture"],
        ),
        (
            "a spec without training is rejected",
            iris(),
            vec![("/training", json!(REMOVE))],
            vec!["training"],
        ),
        (
            "a body that is an array is rejected at the root",
            iris(),
            vec![("", json!([1, 2]))],
            vec![""],
        ),
        (
            "a body that is null is rejected at the root",
            iris(),
            vec![("", Value::Null)],
            vec![""],
        ),
        (
            "zero units are out of range",
            iris(),
            vec![("/architecture/layers/0/units", json!(0))],
            vec!["architecture.layers[0].units"],
        ),
        (
            "fractional units are not an integer",
            iris(),
            vec![("/architecture/layers/0/units", json!(2.5))],
            vec!["architecture.layers[0].units"],
        ),
        (
            "negative units are out of range",
            iris(),
            vec![("/architecture/layers/0/units", json!(-3))],
            vec!["architecture.layers[0].units"],
        ),
        (
            "a trillion units are out of range",
            iris(),
            vec![("/architecture/layers/0/units", json!(1e12))],
            vec!["architecture.layers[0].units"],
        ),
        (
            "an unknown activation is named",
            iris(),
            vec![("/architecture/layers/0/activation", json!("rellu"))],
            vec!["architecture.layers[0].activation"],
        ),
        (
            "gelu's approximate is a boolean, and only gelu has one",
            iris(),
            vec![
                (
                    "/architecture/layers/0/activation",
                    json!({"type": "gelu", "approximate": "tanh"}),
                ),
                (
                    "/architecture/layers/1/activation",
                    json!({"type": "softmax", "approximate": true}),
                ),
            ],
            vec![
                "architecture.layers[0].activation.approximate",
                "architecture.layers[1].activation.approximate",
            ],
        ),
        (
            "an unknown layer type is named",
            iris(),
            vec![("/architecture/layers/0/type", json!("conv2d"))],
            vec!["architecture.layers[0].type"],
        ),
        (
            "an empty layer list is rejected",
            iris(),
            vec![("/architecture/layers", json!([]))],
            vec!["architecture.layers"],
        ),
        (
            "a dropout rate of 1 is out of range",
            iris(),
            vec![
                (
                    "/architecture/layers/1",
                    json!({"type": "dropout", "rate": 1.0}),
                ),
                (
                    "/architecture/layers/2",
                    json!({"type": "dense", "units": 3, "activation": "softmax"}),
                ),
            ],
            vec!["architecture.layers[1].rate"],
        ),
        (
            "batch normalization momentum above 1 is out of range",
            iris(),
            vec![
                (
                    "/architecture/layers/1",
                    json!({"type": "batch_normalization", "momentum": 2}),
                ),
                (
                    "/architecture/layers/2",
                    json!({"type": "dense", "units": 3, "activation": "softmax"}),
                ),
            ],
            vec!["architecture.layers[1].momentum"],
        ),
        (
            "a residual block that changes the width is rejected at its last units",
            iris(),
            vec![
                (
                    "/architecture/layers/1",
                    json!({"type": "residual", "layers": [{"type": "dense", "units": 8, "activation": "relu"}]}),
                ),
                (
                    "/architecture/layers/2",
                    json!({"type": "dense", "units": 3, "activation": "softmax"}),
                ),
            ],
            vec!["architecture.layers[1].layers[0].units"],
        ),
        (
            "residual blocks nested too deep are cut off",
            iris(),
            vec![("/architecture/layers/0", deep_residual(12))],
            vec![
                "architecture.layers[0].layers[0].layers[0].layers[0].layers[0].layers[0].layers[0].layers[0].layers[0].layers",
            ],
        ),
        (
            "300 layers are too many",
            iris(),
            vec![("/architecture/layers", Value::Array(many_layers))],
            vec!["architecture.layers"],
        ),
        (
            "an output of 4 units for 3 classes is rejected",
            iris(),
            vec![("/architecture/layers/1/units", json!(4))],
            vec!["architecture.layers[1].units"],
        ),
        (
            "softmax with binary crossentropy is rejected",
            breast_cancer_binary(),
            vec![("/architecture/layers/1/activation", json!("softmax"))],
            vec!["architecture.layers[1].activation"],
        ),
        (
            "binary crossentropy needs one output unit",
            breast_cancer_binary(),
            vec![("/architecture/layers/1/units", json!(2))],
            vec!["architecture.layers[1].units"],
        ),
        (
            "binary crossentropy needs two classes",
            breast_cancer_binary(),
            vec![("/data/name", json!("iris"))],
            vec!["training.loss"],
        ),
        (
            "categorical crossentropy needs a softmax output",
            iris(),
            vec![("/architecture/layers/1/activation", json!("relu"))],
            vec!["architecture.layers[1].activation"],
        ),
        (
            "two different learning rates are rejected",
            iris(),
            vec![("/optimizer/learning_rate", json!(0.5))],
            vec!["optimizer.learning_rate"],
        ),
        (
            "a constant schedule and the optimizer disagreeing on the rate",
            iris(),
            vec![(
                "/schedule",
                json!({"type": "constant", "learning_rate": 0.2}),
            )],
            vec!["optimizer.learning_rate"],
        ),
        (
            "piecewise values must outnumber boundaries by one",
            iris(),
            vec![("/schedule/values", json!([0.1, 0.05]))],
            vec!["schedule.values"],
        ),
        (
            "piecewise boundaries must increase",
            iris(),
            vec![("/schedule/boundaries", json!([900, 700]))],
            vec!["schedule.boundaries[1]"],
        ),
        (
            "exponential decay needs decay_steps",
            iris(),
            vec![(
                "/schedule",
                json!({"type": "exponential_decay", "initial_learning_rate": 0.1, "decay_rate": 0.5}),
            )],
            vec!["schedule.decay_steps"],
        ),
        (
            "an unknown schedule is named",
            iris(),
            vec![("/schedule/type", json!("step_decay"))],
            vec!["schedule.type"],
        ),
        (
            "an unknown schedule unit is named",
            iris(),
            vec![("/schedule/unit", json!("week"))],
            vec!["schedule.unit"],
        ),
        (
            "cosine warmup steps need a warmup target",
            iris(),
            vec![
                ("/optimizer/learning_rate", json!(REMOVE)),
                (
                    "/schedule",
                    json!({"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 100, "warmup_steps": 10}),
                ),
            ],
            vec!["schedule.warmup_steps"],
        ),
        (
            "a batch larger than the 105 training rows is rejected",
            iris(),
            vec![("/training/batch_size", json!(1000))],
            vec!["training.batch_size"],
        ),
        (
            "a batch size of \"half\" is not a size",
            iris(),
            vec![("/training/batch_size", json!("half"))],
            vec!["training.batch_size"],
        ),
        (
            "a batch size of 0 is out of range",
            iris(),
            vec![("/training/batch_size", json!(0))],
            vec!["training.batch_size"],
        ),
        (
            "no threads is out of range",
            iris(),
            vec![("/training/threads", json!(0))],
            vec!["training.threads"],
        ),
        (
            "more threads than a job may use are out of range",
            iris(),
            vec![("/training/threads", json!(17))],
            vec!["training.threads"],
        ),
        (
            "negative epochs are out of range",
            iris(),
            vec![("/training/epochs", json!(-1))],
            vec!["training.epochs"],
        ),
        (
            "an unknown loss is named",
            iris(),
            vec![("/training/loss", json!("hinge"))],
            vec!["training.loss"],
        ),
        (
            "an unknown metric is named",
            iris(),
            vec![("/training/metrics", json!(["accuracy", "f1"]))],
            vec!["training.metrics[1]"],
        ),
        (
            "a metric listed twice under an alias is rejected",
            iris(),
            vec![("/training/metrics", json!(["accuracy", "acc"]))],
            vec!["training.metrics[1]"],
        ),
        (
            "clipnorm and global_clipnorm together are rejected",
            iris(),
            vec![
                ("/optimizer/clipnorm", json!(1.0)),
                ("/optimizer/global_clipnorm", json!(1.0)),
            ],
            vec!["optimizer.global_clipnorm"],
        ),
        (
            "early stopping on val_loss needs validation data",
            iris(),
            vec![
                ("/data/validation_split", json!(REMOVE)),
                ("/training/early_stopping", json!({"monitor": "val_loss"})),
            ],
            vec!["training.early_stopping.monitor"],
        ),
        (
            "early stopping on a metric the job does not compute is rejected",
            iris(),
            vec![
                ("/training/metrics", json!([])),
                (
                    "/training/early_stopping",
                    json!({"monitor": "val_accuracy"}),
                ),
            ],
            vec!["training.early_stopping.monitor"],
        ),
        (
            "a misspelt early stopping field is rejected",
            iris(),
            vec![("/training/early_stopping", json!({"patiense": 3}))],
            vec!["training.early_stopping.patiense"],
        ),
        (
            "dbn pre-training needs sigmoid hidden layers",
            iris(),
            vec![("/initializer", json!({"type": "dbn_pretraining"}))],
            vec!["architecture.layers[0].activation"],
        ),
        (
            "dbn pre-training refuses residual blocks",
            iris(),
            vec![
                ("/initializer", json!({"type": "dbn_pretraining"})),
                ("/architecture/layers/0/activation", json!("sigmoid")),
                (
                    "/architecture/layers/1",
                    json!({"type": "residual", "layers": [{"type": "dense", "units": 16, "activation": "sigmoid"}]}),
                ),
                (
                    "/architecture/layers/2",
                    json!({"type": "dense", "units": 3, "activation": "softmax"}),
                ),
            ],
            vec!["architecture.layers[1]"],
        ),
        (
            "dbn pre-training needs a hidden layer",
            iris(),
            vec![
                ("/initializer", json!({"type": "dbn_pretraining"})),
                (
                    "/architecture/layers",
                    json!([{"type": "dense", "units": 3, "activation": "softmax"}]),
                ),
            ],
            vec!["initializer.type"],
        ),
        (
            "a dbn batch larger than the training part is rejected",
            iris(),
            vec![
                (
                    "/initializer",
                    json!({"type": "dbn_pretraining", "batch_size": 500}),
                ),
                ("/architecture/layers/0/activation", json!("sigmoid")),
            ],
            vec!["initializer.batch_size"],
        ),
        (
            "a warm start from a job needs its id",
            iris(),
            vec![("/initializer", json!({"type": "from_job"}))],
            vec!["initializer.job_id"],
        ),
        (
            "a warm start from a model needs its id",
            iris(),
            vec![(
                "/initializer",
                json!({"type": "from_model", "model_id": ""}),
            )],
            vec!["initializer.model_id"],
        ),
        (
            "a shift augmentation needs images",
            iris(),
            vec![("/data/augmentation", json!({"shift": 1}))],
            vec!["data.augmentation.shift"],
        ),
        (
            "an unknown built-in dataset is named",
            iris(),
            vec![("/data/name", json!("cifar10"))],
            vec!["data.name"],
        ),
        (
            "an unknown uploaded dataset is reported by the catalog",
            iris(),
            vec![("/data", json!({"type": "dataset", "id": "nope"}))],
            vec!["data.id"],
        ),
        (
            "a validation split of 1 is out of range",
            iris(),
            vec![("/data/validation_split", json!(1.0))],
            vec!["data.validation_split"],
        ),
        (
            "a validation split that holds out no row is rejected",
            iris(),
            vec![("/data/validation_split", json!(0.001))],
            vec!["data.validation_split"],
        ),
        (
            "a split rule without validation_split is rejected",
            iris(),
            vec![
                ("/data/validation_split", json!(REMOVE)),
                ("/data/split", json!("tail")),
            ],
            vec!["data.split"],
        ),
        (
            "a split rule with a validation source is rejected",
            iris(),
            vec![
                ("/data/validation_split", json!(REMOVE)),
                ("/data/split", json!("tail")),
                (
                    "/data/validation",
                    json!({"type": "builtin", "name": "iris"}),
                ),
            ],
            vec!["data.split"],
        ),
        (
            "spirals take no factor parameter",
            iris(),
            vec![(
                "/data",
                json!({"type": "generated", "name": "spirals", "factor": 0.5}),
            )],
            vec!["data.factor"],
        ),
        (
            "blobs beyond the cell limit are rejected",
            iris(),
            vec![(
                "/data",
                json!({"type": "generated", "name": "blobs", "samples": 1000000, "features": 1000}),
            )],
            vec!["data.samples"],
        ),
        (
            "inline data with a billion classes is out of range",
            inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0, 1, 2])),
            vec![("/data/classes", json!(1_000_000_000))],
            vec!["data.classes"],
        ),
        (
            "an inline class id of a million is out of range",
            inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0, 1, 1_000_000])),
            vec![],
            vec!["data.labels[2]"],
        ),
        (
            "validation_split and a validation source together are rejected",
            iris(),
            vec![(
                "/data/validation",
                json!({"type": "builtin", "name": "iris"}),
            )],
            vec!["data.validation"],
        ),
        (
            "a validation source with other features is rejected",
            iris(),
            vec![
                ("/data/validation_split", json!(REMOVE)),
                (
                    "/data/validation",
                    json!({"type": "builtin", "name": "wine"}),
                ),
            ],
            vec!["data.validation"],
        ),
        (
            "an inline label beyond data.classes is out of range",
            inline(json!([[0, 0], [0, 1], [1, 0], [1, 1]]), json!([0, 1, 2, 1])),
            vec![
                ("/data/classes", json!(2)),
                ("/architecture/layers/1/units", json!(2)),
            ],
            vec!["data.labels[2]"],
        ),
        (
            "ragged inline rows are rejected",
            inline(json!([[0, 0], [0], [1, 0]]), json!([0, 1, 2])),
            vec![],
            vec!["data.features[1]"],
        ),
        (
            "one inline label per row is required",
            inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0, 1])),
            vec![],
            vec!["data.labels"],
        ),
        (
            "a fractional inline label is not a class",
            inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0.5, 1, 2])),
            vec![],
            vec!["data.labels[0]"],
        ),
        (
            "moons take no features parameter",
            iris(),
            vec![(
                "/data",
                json!({"type": "generated", "name": "moons", "features": 5}),
            )],
            vec!["data.features"],
        ),
        (
            "an unknown generator is named",
            iris(),
            vec![("/data", json!({"type": "generated", "name": "swirl"}))],
            vec!["data.name"],
        ),
        (
            "a negative seed is out of range",
            iris(),
            vec![("/training/seed", json!(-1))],
            vec!["training.seed"],
        ),
        (
            "an empty name is rejected",
            iris(),
            vec![("/name", json!(""))],
            vec!["name"],
        ),
        (
            "crossentropy on real-valued targets is rejected",
            iris(),
            vec![
                ("/data", json!({"type": "dataset", "id": "housing"})),
                ("/training/metrics", json!([])),
            ],
            vec!["training.loss"],
        ),
        (
            "accuracy on real-valued targets is rejected",
            iris(),
            vec![
                ("/data", json!({"type": "dataset", "id": "housing"})),
                (
                    "/architecture/layers/1",
                    json!({"type": "dense", "units": 1}),
                ),
                ("/training/loss", json!("mse")),
            ],
            vec!["training.metrics[0]"],
        ),
        (
            "random_uniform needs minval below maxval",
            iris(),
            vec![(
                "/initializer",
                json!({"type": "random_uniform", "minval": 0.1, "maxval": 0.1}),
            )],
            vec!["initializer.maxval"],
        ),
        (
            "an unknown per-layer initializer is named",
            iris(),
            vec![("/architecture/layers/0/kernel_initializer", json!("xavier"))],
            vec!["architecture.layers[0].kernel_initializer"],
        ),
        (
            "an unknown regularizer name is rejected",
            iris(),
            vec![("/architecture/layers/0/kernel_regularizer", json!("l3"))],
            vec!["architecture.layers[0].kernel_regularizer"],
        ),
        (
            "adam's beta_1 of 1 is out of range",
            iris(),
            vec![("/optimizer", json!({"type": "adam", "beta_1": 1.0}))],
            vec!["optimizer.beta_1"],
        ),
        (
            "adam's sgd-only field is unknown",
            iris(),
            vec![("/optimizer", json!({"type": "adam", "nesterov": true}))],
            vec!["optimizer.nesterov"],
        ),
        (
            "use_bias must be a boolean",
            iris(),
            vec![("/architecture/layers/0/use_bias", json!("yes"))],
            vec!["architecture.layers[0].use_bias"],
        ),
        (
            "a network over the parameter limit is rejected",
            iris(),
            vec![
                ("/architecture/layers/0/units", json!(65536)),
                (
                    "/architecture/layers/1",
                    json!({"type": "dense", "units": 65536}),
                ),
                (
                    "/architecture/layers/2",
                    json!({"type": "dense", "units": 3, "activation": "softmax"}),
                ),
            ],
            vec!["architecture.layers"],
        ),
        (
            "every problem is reported at once",
            iris(),
            vec![
                ("/optimizer/momentum", json!(1.5)),
                ("/architecture/layers/0/units", json!(0)),
                ("/training/loss", json!("hinge")),
                ("/data/colour", json!("red")),
                ("/schedule/values", json!([0.1])),
            ],
            vec![
                "architecture.layers[0].units",
                "data.colour",
                "optimizer.momentum",
                "schedule.values",
                "training.loss",
            ],
        ),
        (
            "cross-field rules are reported together with field errors",
            iris(),
            vec![
                ("/optimizer/momentum", json!(-1)),
                ("/architecture/layers/1/units", json!(5)),
                ("/training/batch_size", json!(500)),
            ],
            vec![
                "architecture.layers[1].units",
                "optimizer.momentum",
                "training.batch_size",
            ],
        ),
    ]
}

#[test]
fn bad_specs_are_rejected_with_the_exact_paths_of_every_error() {
    let cases = bad_specs();
    assert!(cases.len() >= 40);
    for (what, mut spec, edits, expected) in cases {
        for (pointer, value) in edits {
            edit(&mut spec, pointer, value);
        }
        let errors = errors_of(&spec);
        let mut paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, expected, "{what}: {errors:#?}");
        for error in &errors {
            assert!(!error.message.is_empty(), "{what}");
        }
    }
}

#[test]
fn messages_state_the_rule_and_the_value() {
    let cases = [
        (
            "/optimizer/momentum",
            json!(1.5),
            "optimizer.momentum",
            "must be in [0, 1], got 1.5",
        ),
        (
            "/architecture/layers/0/units",
            json!(2.5),
            "architecture.layers[0].units",
            "must be an integer, got 2.5",
        ),
        (
            "/training/batch_size",
            json!(1000),
            "training.batch_size",
            "must be at most the 105 training rows, got 1000",
        ),
        (
            "/architecture/layers/1/units",
            json!(4),
            "architecture.layers[1].units",
            "the output width must equal the number of classes (3) for sparse_categorical_crossentropy, got 4",
        ),
        (
            "/optimizer/type",
            json!("sgdd"),
            "optimizer.type",
            "unknown optimizer \"sgdd\"; expected one of: sgd, adam, adamw, rmsprop, adagrad, nadam",
        ),
        (
            "/architecture/layers/0/activation",
            json!("rellu"),
            "architecture.layers[0].activation",
            "unknown activation \"rellu\"; expected one of: linear, relu, leaky_relu, elu, selu, gelu, sigmoid, tanh, softmax, silu, swish, softplus",
        ),
    ];
    for (pointer, value, path, message) in cases {
        let mut spec = iris();
        edit(&mut spec, pointer, value.clone());
        let errors = errors_of(&spec);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].path.as_str(), errors[0].message.as_str()),
            (path, message)
        );
        if value.is_number() || value.is_string() {
            assert_eq!(errors[0].value.as_ref(), Some(&value));
        }
    }
}

#[test]
fn unknown_fields_list_the_known_ones() {
    let mut spec = iris();
    edit(&mut spec, "/optimizer/momentun", json!(0.9));
    let errors = errors_of(&spec);
    assert_eq!(
        errors[0].message,
        "unknown field; expected one of: type, momentum, nesterov, learning_rate, clipnorm, global_clipnorm, clipvalue, weight_decay"
    );
}

#[test]
fn the_api_s_generated_blobs_example_is_valid() {
    // API.md: 60000 × 784 blobs in 10 classes (the benchmark's W4 data).
    let mut spec = iris();
    edit(
        &mut spec,
        "/data",
        json!({"type": "generated", "name": "blobs", "samples": 60000, "features": 784,
               "classes": 10, "center_std": 0.12, "cluster_std": 1.0}),
    );
    edit(&mut spec, "/architecture/layers/1/units", json!(10));
    edit(&mut spec, "/training/batch_size", json!(128));
    let job = validate(&spec, &catalog(), SEED).expect("valid");
    assert_eq!(job.parameter_count, 784 * 16 + 16 + 16 * 10 + 10);
    assert_eq!((job.n_train, job.steps_per_epoch), (60000, 469));
}

#[test]
fn the_dry_run_numbers_of_the_api_example() {
    let job = validate(&iris(), &catalog(), SEED).expect("the API example is valid");
    // 4·16 + 16 + 16·3 + 3.
    assert_eq!(job.parameter_count, 131);
    // Stratified 0.3 of 50/50/50: 15 per class held out, 105 train; ⌈105/15⌉ = 7 steps.
    assert_eq!((job.n_train, job.n_validation), (105, 45));
    assert_eq!(job.steps_per_epoch, 7);
    assert_eq!(job.total_steps, 7000);
    assert_eq!((job.input_width, job.output_width), (4, 3));
    assert_eq!(job.seed, 7);
    assert_eq!(job.name, "iris-sgd-momentum");
}

#[test]
fn steps_per_epoch_follow_the_batch_size_and_the_split() {
    // (edits to the API example, n_train, batch_size, steps per epoch)
    let cases: Vec<(Edits, usize, usize, usize)> = vec![
        (vec![("/training/batch_size", json!("full"))], 105, 105, 1),
        (vec![("/training/batch_size", json!(1))], 105, 1, 105),
        (vec![("/training/batch_size", json!(32))], 105, 32, 4),
        // Keras's tail rule: ⌊150·(1 − 0.2)⌋ = 120; the last 30 rows (all virginica) validate.
        (
            vec![
                ("/data/split", json!("tail")),
                ("/data/validation_split", json!(0.2)),
            ],
            120,
            15,
            8,
        ),
        (
            vec![
                ("/data/validation_split", json!(REMOVE)),
                ("/training/batch_size", json!(10)),
            ],
            150,
            10,
            15,
        ),
        // Digits 0.2 stratified: Σ round(n_c·0.2) = 359 held out of 1797.
        (
            vec![
                ("/data/name", json!("digits")),
                ("/data/validation_split", json!(0.2)),
                ("/architecture/layers/1/units", json!(10)),
                ("/training/batch_size", json!(32)),
            ],
            1438,
            32,
            45,
        ),
    ];
    for (edits, n_train, batch_size, steps) in cases {
        let mut spec = iris();
        for (pointer, value) in &edits {
            edit(&mut spec, pointer, value.clone());
        }
        let job = validate(&spec, &catalog(), SEED).unwrap_or_else(|e| panic!("{edits:?}: {e:?}"));
        assert_eq!(
            (job.n_train, job.batch_size, job.steps_per_epoch),
            (n_train, batch_size, steps),
            "{edits:?}"
        );
        assert_eq!(job.plan().batch_size, batch_size);
    }
}

#[test]
fn a_minimal_spec_resolves_to_keras_defaults() {
    let spec = json!({
        "data": {"type": "builtin", "name": "iris"},
        "architecture": {"layers": [{"type": "dense", "units": 3, "activation": "softmax"}]},
        "training": {"loss": "sparse_categorical_crossentropy"}
    });
    let job = validate(&spec, &catalog(), SEED).expect("valid");
    assert_eq!(
        job.resolved,
        json!({
            "name": "iris-rmsprop",
            "data": {"type": "builtin", "name": "iris", "validation_split": 0.0, "split": "stratified",
                     "standardize": false, "shuffle": true,
                     "augmentation": {"gaussian_noise": 0.0, "shift": 0}},
            "architecture": {"layers": [{
                "type": "dense", "units": 3, "activation": "softmax", "kernel_initializer": null,
                "bias_initializer": {"type": "zeros"}, "kernel_regularizer": null, "use_bias": true
            }]},
            "initializer": {"type": "glorot_uniform"},
            "optimizer": {"type": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                          "epsilon": 1e-7, "centered": false, "clipnorm": null, "global_clipnorm": null,
                          "clipvalue": null, "weight_decay": null},
            "schedule": {"type": "constant", "unit": "step"},
            "training": {"loss": "sparse_categorical_crossentropy", "metrics": [], "epochs": 1,
                         "batch_size": 32, "seed": 42, "early_stopping": null, "log_every_steps": null,
                         "threads": 1}
        })
    );
    assert_eq!(job.seed, SEED);
}

#[test]
fn optimizers_resolve_to_their_keras_defaults() {
    let cases = [
        (
            json!({"type": "sgd"}),
            json!({"type": "sgd", "learning_rate": 0.01, "momentum": 0.0, "nesterov": false}),
        ),
        (
            json!({"type": "adam"}),
            json!({"type": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": false}),
        ),
        (
            json!({"type": "adamw"}),
            json!({"type": "adamw", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": false, "weight_decay": 0.004}),
        ),
        (
            json!({"type": "rmsprop"}),
            json!({"type": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": false}),
        ),
        (
            json!({"type": "adagrad"}),
            json!({"type": "adagrad", "learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7}),
        ),
        (
            json!({"type": "nadam"}),
            json!({"type": "nadam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
        ),
        (
            json!({"type": "sgd", "weight_decay": 0.1, "clipvalue": 0.5}),
            json!({"type": "sgd", "learning_rate": 0.01, "momentum": 0.0, "nesterov": false, "clipvalue": 0.5, "weight_decay": 0.1}),
        ),
    ];
    for (given, expected) in cases {
        let mut spec = iris();
        edit(&mut spec, "/optimizer", given.clone());
        edit(&mut spec, "/schedule", json!(REMOVE));
        let job = validate(&spec, &catalog(), SEED).unwrap_or_else(|e| panic!("{given}: {e:?}"));
        let mut full = json!({"clipnorm": null, "global_clipnorm": null, "clipvalue": null, "weight_decay": null});
        for (key, value) in expected.as_object().expect("an object") {
            full[key] = value.clone();
        }
        assert_eq!(job.resolved["optimizer"], full, "{given}");
    }
}

#[test]
fn layers_schedules_and_stopping_resolve_to_keras_defaults() {
    // (pointer, given, pointer in the resolved spec, expected)
    let cases = [
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "activation": "leaky_relu"}),
            "/architecture/layers/0/activation",
            json!({"type": "leaky_relu", "negative_slope": 0.2}),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "activation": "swish"}),
            "/architecture/layers/0/activation",
            json!("silu"),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "activation": {"type": "gelu", "approximate": true}}),
            "/architecture/layers/0/activation",
            json!({"type": "gelu", "approximate": true}),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "activation": {"type": "gelu", "approximate": false}}),
            "/architecture/layers/0/activation",
            json!("gelu"),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "kernel_regularizer": "l2"}),
            "/architecture/layers/0/kernel_regularizer",
            json!({"l1": 0.0, "l2": 0.01}),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "dense", "units": 16, "kernel_initializer": "random_normal"}),
            "/architecture/layers/0/kernel_initializer",
            json!({"type": "random_normal", "mean": 0.0, "stddev": 0.05}),
        ),
        (
            "/architecture/layers/0",
            json!({"type": "batch_normalization"}),
            "/architecture/layers/0",
            json!({"type": "batch_normalization", "momentum": 0.99, "epsilon": 0.001}),
        ),
        (
            "/initializer",
            json!({"type": "orthogonal"}),
            "/initializer",
            json!({"type": "orthogonal", "gain": 1.0}),
        ),
        (
            "/schedule",
            json!({"type": "polynomial_decay", "initial_learning_rate": 0.1, "decay_steps": 900}),
            "/schedule",
            json!({"type": "polynomial_decay", "initial_learning_rate": 0.1, "decay_steps": 900, "end_learning_rate": 0.0001, "power": 1.0, "cycle": false, "unit": "step"}),
        ),
        (
            "/schedule",
            json!({"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 50}),
            "/schedule",
            json!({"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 50, "alpha": 0.0, "warmup_target": null, "warmup_steps": 0, "unit": "step"}),
        ),
        (
            "/schedule",
            json!({"type": "cosine_decay_restarts", "initial_learning_rate": 0.1, "first_decay_steps": 50}),
            "/schedule",
            json!({"type": "cosine_decay_restarts", "initial_learning_rate": 0.1, "first_decay_steps": 50, "t_mul": 2.0, "m_mul": 1.0, "alpha": 0.0, "unit": "step"}),
        ),
        (
            "/data",
            json!({"type": "generated", "name": "moons"}),
            "/data",
            json!({"type": "generated", "name": "moons", "samples": 200, "noise": 0.1, "validation_split": 0.0, "split": "stratified", "standardize": false, "shuffle": true, "augmentation": {"gaussian_noise": 0.0, "shift": 0}}),
        ),
        (
            "/data",
            json!({"type": "generated", "name": "blobs"}),
            "/data/features",
            json!(2),
        ),
        (
            "/data",
            json!({"type": "generated", "name": "spirals"}),
            "/data/turns",
            json!(1.0),
        ),
        (
            "/data",
            json!({"type": "generated", "name": "circles"}),
            "/data/factor",
            json!(0.5),
        ),
        (
            "/initializer",
            json!("dbn_pretraining"),
            "/initializer",
            json!({"type": "dbn_pretraining", "epochs": 10, "learning_rate": 0.1, "batch_size": 10, "cd_steps": 1, "kernel_initializer": {"type": "glorot_uniform"}}),
        ),
        (
            "/training/early_stopping",
            json!({}),
            "/training/early_stopping",
            json!({"monitor": "val_loss", "min_delta": 0.0, "patience": 0, "mode": "auto", "baseline": null, "restore_best_weights": false, "start_from_epoch": 0}),
        ),
        (
            "/training/early_stopping",
            json!({"monitor": "val_acc"}),
            "/training/early_stopping/monitor",
            json!("val_accuracy"),
        ),
    ];
    for (pointer, given, resolved_pointer, expected) in cases {
        let mut spec = iris();
        if pointer.starts_with("/schedule") {
            edit(&mut spec, "/optimizer/learning_rate", json!(REMOVE));
        }
        if given == json!("dbn_pretraining") {
            edit(
                &mut spec,
                "/architecture/layers/0/activation",
                json!("sigmoid"),
            );
        }
        if matches!(given["name"].as_str(), Some("moons" | "circles")) {
            edit(&mut spec, "/architecture/layers/1/units", json!(2));
        }
        edit(&mut spec, pointer, given.clone());
        let job = validate(&spec, &catalog(), SEED).unwrap_or_else(|e| panic!("{given}: {e:?}"));
        assert_eq!(
            job.resolved.pointer(resolved_pointer),
            Some(&expected),
            "{given}"
        );
    }
}

#[test]
fn a_schedule_holds_the_learning_rate_in_the_resolved_spec() {
    let job = validate(&iris(), &catalog(), SEED).expect("valid");
    assert_eq!(job.resolved["optimizer"].get("learning_rate"), None);
    assert_eq!(job.resolved["schedule"]["values"], json!([0.1, 0.05, 0.01]));
    let mut constant = iris();
    edit(&mut constant, "/optimizer/learning_rate", json!(REMOVE));
    edit(
        &mut constant,
        "/schedule",
        json!({"type": "constant", "learning_rate": 0.2}),
    );
    let job = validate(&constant, &catalog(), SEED).expect("valid");
    assert_eq!(job.resolved["optimizer"]["learning_rate"], json!(0.2));
    assert_eq!(
        job.resolved["schedule"],
        json!({"type": "constant", "unit": "step"})
    );
}

#[test]
fn the_resolved_spec_validates_to_itself() {
    for spec in [
        iris(),
        breast_cancer_binary(),
        inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0, 1, 2])),
    ] {
        let first = validate(&spec, &catalog(), SEED).expect("valid");
        let second =
            validate(&first.resolved, &catalog(), SEED + 1).expect("the resolved spec is valid");
        assert_eq!(second.resolved, first.resolved);
        assert_eq!(second.plan(), first.plan());
    }
}

#[test]
fn the_seed_is_the_spec_s_or_the_drawn_one_and_is_recorded() {
    let job = validate(&iris(), &catalog(), SEED).expect("valid");
    assert_eq!((job.seed, job.plan().seed), (7, 7));
    let mut spec = iris();
    edit(&mut spec, "/training/seed", json!(REMOVE));
    let job = validate(&spec, &catalog(), 123_456).expect("valid");
    assert_eq!((job.seed, job.plan().seed), (123_456, 123_456));
    assert_eq!(job.resolved["training"]["seed"], json!(123_456));
}

#[test]
fn the_plan_carries_the_spec_in_engine_types() {
    use crate::train::activation::Activation;
    use crate::train::init::Initializer;
    use crate::train::optim::{Clip, OptimizerKind};
    use crate::train::schedule::{Schedule, ScheduleUnit};

    let plan = validate(&iris(), &catalog(), SEED).expect("valid").plan();
    assert_eq!(
        plan.optimizer.kind,
        OptimizerKind::Sgd {
            momentum: 0.9,
            nesterov: false
        }
    );
    assert_eq!(plan.optimizer.clip, Clip::None);
    assert_eq!(plan.optimizer.weight_decay, None);
    assert_eq!(
        plan.schedule,
        Schedule::PiecewiseConstantDecay {
            boundaries: vec![700.0, 900.0],
            values: vec![0.1, 0.05, 0.01]
        }
    );
    assert_eq!(plan.schedule_unit, ScheduleUnit::Step);
    assert_eq!(
        plan.initialization,
        Initialization::Random {
            kernel: Initializer::HeNormal
        }
    );
    assert!(matches!(
        &plan.layers[0],
        LayerPlan::Dense {
            units: 16,
            activation: Activation::Relu,
            ..
        }
    ));
    assert_eq!(
        (plan.loss, plan.metrics.clone()),
        (Loss::SparseCategoricalCrossentropy, vec![Metric::Accuracy])
    );
    assert_eq!(
        (plan.batch_size, plan.epochs, plan.seed, plan.shuffle),
        (15, 1000, 7, true)
    );

    let mut adamw = iris();
    edit(
        &mut adamw,
        "/optimizer",
        json!({"type": "adamw", "global_clipnorm": 1.0}),
    );
    edit(&mut adamw, "/schedule", json!(REMOVE));
    let plan = validate(&adamw, &catalog(), SEED).expect("valid").plan();
    assert!(matches!(
        plan.optimizer.kind,
        OptimizerKind::Adam { amsgrad: false, .. }
    ));
    assert_eq!(
        (plan.optimizer.clip, plan.optimizer.weight_decay),
        (Clip::GlobalNorm(1.0), Some(0.004))
    );
    assert_eq!(
        plan.schedule,
        Schedule::Constant {
            learning_rate: 0.001
        }
    );
}

#[test]
fn data_plans_name_the_source_and_the_split() {
    let job = validate(&iris(), &catalog(), SEED).expect("valid");
    assert_eq!(
        job.data,
        DataPlan {
            source: SourcePlan::Builtin(Builtin::Iris),
            validation: ValidationPlan::Split {
                fraction: 0.3,
                rule: SplitRule::Stratified
            },
            standardize: true,
            shuffle: true,
            augmentation: None,
        }
    );
    let spec = inline(json!([[0, 0], [0, 1], [1, 0]]), json!([0, 1, 2]));
    let job = validate(&spec, &catalog(), SEED).expect("valid");
    let SourcePlan::Inline(dataset) = &job.data.source else {
        panic!("inline data becomes a dataset")
    };
    assert_eq!(dataset.features.shape(), [3, 2]);
    assert_eq!(
        dataset.targets,
        crate::data::Targets::Classes {
            labels: vec![0, 1, 2],
            n_classes: 3
        }
    );
}

#[test]
fn warm_starts_name_their_source_and_check_the_weights() {
    let mut spec = iris();
    edit(
        &mut spec,
        "/initializer",
        json!({"type": "from_job", "job_id": "0190-abc"}),
    );
    let job = validate(&spec, &catalog(), SEED).expect("valid");
    assert_eq!(job.warm_start, Some(WarmStart::Job("0190-abc".into())));
    let tensors: Vec<Tensor> = job
        .parameters
        .iter()
        .rev()
        .map(|p| Tensor {
            name: p.name.clone(),
            shape: p.shape.clone(),
            values: vec![0.5; p.len()],
        })
        .collect();
    let plan = job
        .plan_with_parameters(tensors.clone())
        .expect("matching weights");
    let Initialization::WarmStart { parameters } = plan.initialization else {
        panic!("a warm start")
    };
    let names: Vec<&str> = parameters.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "layers.0.kernel",
            "layers.0.bias",
            "layers.1.kernel",
            "layers.1.bias"
        ]
    );

    let mut wrong = tensors.clone();
    wrong[0].shape = vec![4];
    assert!(job.plan_with_parameters(wrong).is_err());
    assert!(job.plan_with_parameters(tensors[1..].to_vec()).is_err());
    let mut extra = tensors;
    extra.push(Tensor {
        name: "layers.9.kernel".into(),
        shape: vec![1],
        values: vec![0.0],
    });
    assert!(job.plan_with_parameters(extra).is_err());
}

#[test]
fn every_example_spec_validates() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&directory).expect("examples/ exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let body: Value = serde_json::from_str(&text).expect("valid JSON");
        let job = validate(&body, &catalog(), SEED)
            .unwrap_or_else(|e| panic!("{}: {e:#?}", path.display()));
        let again = validate(&job.resolved, &catalog(), SEED).expect("its resolved spec is valid");
        assert_eq!(again.resolved, job.resolved, "{}", path.display());
        count += 1;
    }
    assert!(count >= 20, "found {count} examples");
}

#[test]
fn hostile_values_anywhere_never_panic() {
    // Every leaf and every object of the example spec replaced by each hostile value in turn.
    let hostile = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.5),
        json!(""),
        json!("x".repeat(5000)),
        json!([]),
        json!([[]]),
        json!({}),
        json!({"type": "residual"}),
        deep_residual(40),
    ];
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match value {
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
            _ => {}
        }
    }
    let base = iris();
    let mut all = Vec::new();
    pointers(&base, String::new(), &mut all);
    for pointer in &all {
        for value in &hostile {
            let mut spec = base.clone();
            if pointer.is_empty() {
                spec = value.clone();
            } else if let Some(slot) = spec.pointer_mut(pointer) {
                *slot = value.clone();
            }
            let _ = validate(&spec, &catalog(), SEED);
        }
    }
}

#[test]
fn a_flood_of_bad_cells_is_capped_with_a_count() {
    let rows: Vec<Value> = (0..500).map(|_| json!(["a", "b"])).collect();
    let labels: Vec<Value> = (0..500).map(|_| json!(0)).collect();
    let errors = errors_of(&inline(Value::Array(rows), Value::Array(labels)));
    assert_eq!(errors.len(), crate::jobs::spec::read::MAX_ERRORS + 1);
    assert_eq!(
        errors.last().map(|e| e.message.as_str()),
        Some("900 more errors not shown")
    );
}

#[test]
fn every_example_is_small_enough_for_the_test_suite() {
    // Multiply-adds of the forward passes over training and validation rows, all epochs: about
    // 1e9 is a few seconds of CPU for the engine.
    const BUDGET: f64 = 2e9;
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&directory).expect("examples/ exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let body: Value = serde_json::from_str(&text).expect("valid JSON");
        let job = validate(&body, &catalog(), SEED).expect("valid");
        let rows = (job.n_train + job.n_validation) as f64;
        let work = job.parameter_count as f64 * rows * job.spec.training.epochs as f64;
        assert!(work <= BUDGET, "{}: {work:.2e}", path.display());
    }
}

#[test]
fn what_a_job_stores_is_bounded() {
    // 7 steps an epoch × 100 000 epochs, one step record each: 700 000.
    let mut spec = iris();
    edit(&mut spec, "/training/epochs", json!(100_000));
    edit(&mut spec, "/training/log_every_steps", json!(1));
    let errors = errors_of(&spec);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "training.log_every_steps");
    assert_eq!(
        errors[0].message,
        "would store 700000 step records over the job's 700000 steps; at most 100000 are \
         stored per job, so it must be at least 7"
    );
    edit(&mut spec, "/training/log_every_steps", json!(7));
    assert!(errors_of(&spec).is_empty());

    // 21 kernels × 100 000 epochs of per-layer statistics: 2.1 million.
    let mut layers = vec![json!({"type": "dense", "units": 4, "activation": "relu"}); 20];
    layers.push(json!({"type": "dense", "units": 3, "activation": "softmax"}));
    edit(&mut spec, "/architecture/layers", json!(layers));
    edit(&mut spec, "/training/log_every_steps", json!(REMOVE));
    let errors = errors_of(&spec);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "training.epochs");
    assert!(errors[0].message.contains("2100000 in all"), "{errors:?}");
    edit(&mut spec, "/training/epochs", json!(95_000));
    assert!(errors_of(&spec).is_empty());
}

#[test]
fn a_classifier_needs_two_classes_in_its_data() {
    let mut spec = inline(json!([[0.0], [1.0], [2.0]]), json!([0, 0, 0]));
    edit(
        &mut spec,
        "/architecture/layers",
        json!([{"type": "dense", "units": 1, "activation": "softmax"}]),
    );
    let errors = errors_of(&spec);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "data");
    assert_eq!(
        errors[0].message,
        "the data has only 1 class; sparse_categorical_crossentropy needs at least 2 to tell apart"
    );
}

#[test]
fn inline_labels_count_toward_the_inline_limit() {
    // 200 rows of 1 feature, each label a vector of 1000 values: 200 000 label values.
    let features = json!(vec![json!([0.5]); 200]);
    let labels = json!(vec![json!(vec![0.25; 1000]); 200]);
    let mut spec = inline(features, labels);
    edit(&mut spec, "/training/loss", json!("mean_squared_error"));
    edit(&mut spec, "/training/metrics", json!([]));
    let errors = errors_of(&spec);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"data.labels"), "{errors:?}");
    assert!(
        errors.iter().any(|e| e
            .message
            .contains("at most 100000 values in all, got 200000")),
        "{errors:?}"
    );
}
