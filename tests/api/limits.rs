//! The configured limits: each refusal names the limit and its value.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::jobs::iris_spec;
use crate::support::{Options, body, error_paths, problem, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let mut options = Options {
        workers: 0,
        ..Options::default()
    };
    options.limits.max_queued_jobs = 1;
    let app = spawn_app_with(options).await;
    body(
        app.post_json("/v1/jobs", &iris_spec(5)).await,
        StatusCode::CREATED,
    )
    .await;
    let refused = app.post_json("/v1/jobs", &iris_spec(6)).await;
    assert_eq!(refused.headers()["retry-after"], "5");
    let refused = problem(refused, StatusCode::TOO_MANY_REQUESTS, "queue-full").await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--max-queued-jobs 1"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_and_dataset_size_limits_name_their_flag_and_value() {
    let mut options = Options {
        workers: 0,
        ..Options::default()
    };
    options.limits.max_work = 1_000_000;
    options.limits.max_dataset_cells = 100;
    let app = spawn_app_with(options).await;

    let work = problem(
        app.post_json("/v1/jobs?dry_run=true", &iris_spec(1000))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    // iris itself is 150 × 4 = 600 cells, over 100: the data limit is checked first.
    assert_eq!(error_paths(&work), ["data"]);
    assert_eq!(
        work["detail"],
        "dataset cells 600 exceeds --max-dataset-cells 100"
    );

    let small = json!({
        "data": {"type": "inline", "features": [[0, 0], [0, 1], [1, 0], [1, 1]],
                 "labels": [0, 1, 1, 0]},
        "architecture": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"},
                                    {"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "training": {"loss": "binary_crossentropy", "batch_size": 1, "epochs": 10000, "seed": 1}
    });
    let refused = problem(
        app.post_json("/v1/jobs", &small).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    assert_eq!(error_paths(&refused), ["training.epochs"]);
    // 40 000 steps × batch 1 × 33 parameters
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1320000 exceeds --max-work 1000000")),
        "{refused}"
    );

    let csv = "a,b,label\n".to_owned() + &"1,2,0\n3,4,1\n".repeat(30);
    let upload = problem(
        app.send(Method::POST, "/v1/datasets?name=big", Some("text/csv"), csv)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    assert!(
        upload["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--max-dataset-cells 100")),
        "{upload}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_counts_validation_passes_and_dbn_pretraining() {
    let mut options = Options {
        workers: 0,
        ..Options::default()
    };
    options.limits.max_work = 1_000_000;
    let app = spawn_app_with(options).await;
    // Validation passes count too: 4 training rows, 100 000 generated validation rows.
    let validated = json!({
        "data": {"type": "generated", "name": "xor", "samples": 4,
                 "validation": {"type": "generated", "name": "xor", "samples": 100_000}},
        "architecture": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"},
                                    {"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "training": {"loss": "binary_crossentropy", "batch_size": 4, "epochs": 10, "seed": 1}
    });
    let refused = problem(
        app.post_json("/v1/jobs", &validated).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    // (10 steps × 4 rows + 10 epochs × 100 000 rows) × 33 parameters
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("33001320 exceeds --max-work 1000000")),
        "{refused}"
    );
    // And so does DBN pre-training: 1000 epochs × 10 Gibbs steps × 4 rows × 33 parameters.
    let pretrained = json!({
        "data": {"type": "inline", "features": [[0, 0], [0, 1], [1, 0], [1, 1]],
                 "labels": [0, 1, 1, 0]},
        "architecture": {"layers": [{"type": "dense", "units": 8, "activation": "sigmoid"},
                                    {"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "initializer": {"type": "dbn_pretraining", "epochs": 1000, "cd_steps": 10,
                        "batch_size": 4},
        "training": {"loss": "binary_crossentropy", "batch_size": 4, "epochs": 1, "seed": 1}
    });
    let refused = problem(
        app.post_json("/v1/jobs", &pretrained).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    assert_eq!(error_paths(&refused), ["initializer.epochs"]);
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1320132 exceeds --max-work 1000000")),
        "{refused}"
    );

    app.stop().await;
}
