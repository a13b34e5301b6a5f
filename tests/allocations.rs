//! The training step loop allocates nothing: the heap blocks allocated during one epoch are the
//! same whether the epoch takes 1, 7 or 105 optimizer steps, so every allocation belongs to the
//! epoch (its record, its shuffle, validation) and none to a step.
//!
//! Counted with `dhat`'s testing allocator, so this file holds a single test: the allocator
//! and its profiler are global to the test binary.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};
use trainyard::jobs::catalog::StaticCatalog;
use trainyard::jobs::prepare::prepare;
use trainyard::jobs::validate::validate;
use trainyard::train::{EpochRecord, Observer, fit};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Notes the running count of heap blocks ever allocated at the end of every epoch.
#[derive(Default)]
struct BlockCounts(Vec<u64>);

impl Observer for BlockCounts {
    fn on_epoch(&mut self, _record: &EpochRecord) {
        let stats = dhat::HeapStats::get();
        // Reserved up front: pushing never allocates inside the measurement.
        self.0.push(stats.total_blocks);
    }
}

/// Iris with a network that exercises every kind of layer and an optimizer with slots.
fn spec(batch_size: u64, optimizer: Value) -> Value {
    json!({
        "data": {"type": "builtin", "name": "iris", "validation_split": 0.3, "standardize": true,
                 "augmentation": {"gaussian_noise": 0.05}},
        "architecture": {"layers": [
            {"type": "dense", "units": 16, "activation": "relu",
             "kernel_regularizer": {"l2": 0.001}},
            {"type": "batch_normalization"},
            {"type": "dropout", "rate": 0.2},
            {"type": "residual", "layers": [
                {"type": "dense", "units": 16, "activation": "tanh"},
                {"type": "dense", "units": 16, "activation": "linear"}
            ]},
            {"type": "activation", "activation": "gelu"},
            {"type": "dense", "units": 3, "activation": "softmax"}
        ]},
        "optimizer": optimizer,
        "schedule": {"type": "cosine_decay", "initial_learning_rate": 0.01, "decay_steps": 1000},
        "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     "batch_size": batch_size, "epochs": 6, "seed": 3}
    })
}

/// Blocks allocated in each epoch after the first two (which may size lazily kept buffers).
fn blocks_per_epoch(spec: &Value) -> Vec<u64> {
    let job = validate(spec, &StaticCatalog::default(), 0)
        .unwrap_or_else(|errors| panic!("the spec validates: {errors:?}"));
    let data = prepare(&job.data, job.seed, &HashMap::new()).expect("data prepares");
    let plan = job.plan();
    let mut counts = BlockCounts(Vec::with_capacity(64));
    fit(
        &plan,
        &data.train,
        data.validation.as_ref(),
        None,
        &mut counts,
        &AtomicBool::new(false),
    )
    .expect("training succeeds");
    counts.0.windows(2).skip(1).map(|w| w[1] - w[0]).collect()
}

#[test]
fn no_heap_allocation_happens_per_training_step() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let optimizers = [
        json!({"type": "sgd", "momentum": 0.9, "nesterov": true,
               "clipnorm": 1.0}),
        json!({"type": "adam", "amsgrad": true, "global_clipnorm": 1.0}),
        json!({"type": "rmsprop", "centered": true, "momentum": 0.5}),
    ];
    for optimizer in optimizers {
        // 105 training rows: 1, 7 and 105 steps per epoch.
        let full = blocks_per_epoch(&spec(105, optimizer.clone()));
        let minibatch = blocks_per_epoch(&spec(15, optimizer.clone()));
        let stochastic = blocks_per_epoch(&spec(1, optimizer.clone()));
        assert_eq!(full.len(), 4);
        // The count works: each epoch allocates its record and its validation buffers.
        assert!(full.iter().all(|&blocks| blocks > 0), "{full:?}");
        assert_eq!(full, minibatch, "{optimizer}: 1 vs 7 steps per epoch");
        assert_eq!(full, stochastic, "{optimizer}: 1 vs 105 steps per epoch");
    }
}
