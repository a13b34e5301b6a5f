//! Submitting and training real jobs: dry runs, idempotent retries, the job page while and
//! after training, metrics as JSON and CSV, models and predictions, cancel while running,
//! reproducible weights.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Options, TestApp, body, problem, spawn_app, spawn_app_with};

/// The spec of API.md's example: iris, 16 relu units, SGD with momentum, piecewise decay.
pub fn iris_spec(epochs: u64) -> Value {
    json!({
        "name": "iris-sgd-momentum",
        "data": {"type": "builtin", "name": "iris", "validation_split": 0.3, "standardize": true},
        "architecture": {"layers": [
            {"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dense", "units": 3, "activation": "softmax"}
        ]},
        "initializer": {"type": "he_normal"},
        "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
        "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     "batch_size": 15, "epochs": epochs, "seed": 7}
    })
}

pub async fn submit(app: &TestApp, spec: &Value) -> Value {
    body(app.post_json("/v1/jobs", spec).await, StatusCode::CREATED).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_resolves_the_spec_and_sizes_the_job_without_queueing_it() {
    let app = spawn_app().await;
    let dry = body(
        app.post_json("/v1/jobs?dry_run=true", &iris_spec(1000))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    // 4·16 + 16 + 16·3 + 3
    assert_eq!(dry["parameter_count"], 131);
    // 105 training rows in batches of 15, 1000 epochs
    assert_eq!(dry["steps_per_epoch"], 7);
    assert_eq!(dry["total_steps"], 7000);
    // (7000 steps × 15 rows + 1000 epochs × 45 validation rows) × 131 parameters
    assert_eq!(dry["work"], (7000 * 15 + 1000 * 45) * 131);
    assert_eq!(dry["resolved_spec"]["training"]["seed"], 7);
    assert_eq!(dry["resolved_spec"]["optimizer"]["nesterov"], false);
    let jobs = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(jobs["items"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_trains_to_success_and_serves_metrics_model_and_predictions() {
    let app = spawn_app().await;
    let response = app.post_json("/v1/jobs", &iris_spec(1000)).await;
    let location = response.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned();
    let job = body(response, StatusCode::CREATED).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert_eq!(job["seed"], 7);
    assert_eq!(job["parameter_count"], 131);
    assert_eq!(job["spec"], iris_spec(1000));

    let started = Instant::now();
    let done = app.wait_until_finished(&id, Duration::from_secs(120)).await;
    let elapsed = started.elapsed();
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["epoch"], 1000);
    assert_eq!(done["progress"]["fraction"], 1.0);
    assert_eq!(done["latest"]["epoch"], 1000);
    assert!(done["best"]["val_loss"].is_number(), "{}", done["best"]);
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    let history: Vec<&str> = done["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str())
        .collect();
    assert_eq!(history, ["queued", "running", "succeeded"]);
    let accuracy = done["latest"]["val_accuracy"]
        .as_f64()
        .expect("val_accuracy");
    assert!(accuracy > 0.85, "iris is learnt: val_accuracy {accuracy}");
    eprintln!("1000 iris epochs end to end in {elapsed:?}");

    let all = body(
        app.get(&format!("/v1/jobs/{id}/metrics")).await,
        StatusCode::OK,
    )
    .await;
    let items = all["items"].as_array().expect("items");
    assert_eq!(items.len(), 1000);
    assert_eq!(all["next_since"], 1000);
    assert_eq!(items[0]["epoch"], 1);
    assert_eq!(items[0]["step"], 7);
    assert!(items[0]["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
    assert_eq!(items[0]["layers"].as_array().map(Vec::len), Some(2));
    let page = body(
        app.get(&format!("/v1/jobs/{id}/metrics?since=990&limit=5"))
            .await,
        StatusCode::OK,
    )
    .await;
    let epochs: Vec<u64> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["epoch"].as_u64())
        .collect();
    assert_eq!(epochs, [991, 992, 993, 994, 995]);
    assert_eq!(page["next_since"], 995);

    let csv = app
        .get(&format!("/v1/jobs/{id}/metrics?format=csv&since=998"))
        .await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/csv"))
    );
    let csv = csv.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("epoch,step,loss,"), "{}", lines[0]);
    assert!(lines[1].starts_with("999,6993,"), "{}", lines[1]);

    let model = body(
        app.get(&format!("/v1/jobs/{id}/model?format=json")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(model["format"], "trainyard.model.v1");
    assert_eq!(model["input_width"], 4);
    assert_eq!(model["output_width"], 3);
    assert_eq!(model["weights_sha256"], done["weights_sha256"]);
    assert_eq!(
        model["class_names"],
        json!(["setosa", "versicolor", "virginica"])
    );
    assert_eq!(
        model["standardization"]["mean"].as_array().map(Vec::len),
        Some(4)
    );
    let shapes: Vec<Value> = model["tensors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!([t["name"], t["shape"]]))
        .collect();
    assert_eq!(
        shapes,
        [
            json!(["layers.0.kernel", [4, 16]]),
            json!(["layers.0.bias", [16]]),
            json!(["layers.1.kernel", [16, 3]]),
            json!(["layers.1.bias", [3]]),
        ]
    );

    // Raw measurements (cm): a setosa and a virginica from the iris file.
    let predicted = body(
        app.post_json(
            &format!("/v1/jobs/{id}/predict"),
            &json!({"inputs": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(predicted["classes"], json!([0, 2]));
    let sums: Vec<f64> = predicted["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .sum()
        })
        .collect();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-4), "{sums:?}");

    let narrow = problem(
        app.post_json(
            &format!("/v1/jobs/{id}/predict"),
            &json!({"inputs": [[5.1, 3.5, 1.4]]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(narrow["errors"][0]["path"], "inputs[0]");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_resolved_spec_reproduces_the_same_weights() {
    let app = spawn_app_with(Options {
        workers: 2,
        ..Options::default()
    })
    .await;
    let first = submit(&app, &iris_spec(20)).await;
    let second = submit(&app, &iris_spec(20)).await;
    let mut hashes = Vec::new();
    for job in [&first, &second] {
        let id = job["id"].as_str().expect("an id");
        let done = app.wait_until_finished(id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "succeeded");
        hashes.push(done["weights_sha256"].as_str().expect("a hash").to_owned());
    }
    assert_eq!(hashes[0].len(), 64);
    assert_eq!(hashes[0], hashes[1]);
    // A drawn seed is recorded, and resubmitting the resolved spec replays it.
    let mut unseeded = iris_spec(5);
    unseeded["training"]
        .as_object_mut()
        .expect("training")
        .remove("seed");
    let drawn = submit(&app, &unseeded).await;
    assert!(drawn["seed"].is_u64());
    assert_eq!(drawn["resolved_spec"]["training"]["seed"], drawn["seed"]);
    let replay = submit(&app, &drawn["resolved_spec"]).await;
    let mut replayed = Vec::new();
    for job in [&drawn, &replay] {
        let id = job["id"].as_str().expect("an id");
        let done = app.wait_until_finished(id, Duration::from_secs(60)).await;
        replayed.push(done["weights_sha256"].clone());
    }
    assert_eq!(replayed[0], replayed[1]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_returns_the_same_job_and_a_changed_body_is_refused() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let send = |spec: Value| {
        app.client
            .post(app.url("/v1/jobs"))
            .header("idempotency-key", "retry-me-1")
            .json(&spec)
            .send()
    };
    let first = body(
        send(iris_spec(10)).await.expect("sent"),
        StatusCode::CREATED,
    )
    .await;
    let retry = send(iris_spec(10)).await.expect("sent");
    assert_eq!(
        retry.headers()["location"],
        format!("/v1/jobs/{}", first["id"].as_str().unwrap_or_default()).as_str()
    );
    let retry = body(retry, StatusCode::OK).await;
    assert_eq!(retry["id"], first["id"]);
    problem(
        send(iris_spec(11)).await.expect("sent"),
        StatusCode::CONFLICT,
        "idempotency-key-reused",
    )
    .await;
    let listed = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_stops_soon_after_cancel_and_keeps_its_records() {
    let app = spawn_app().await;
    let job = submit(&app, &iris_spec(100_000)).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_for_job(&id, Duration::from_secs(30), |job| {
        job["status"] == "running" && job["progress"]["epoch"].as_u64() > Some(2)
    })
    .await;
    let asked = Instant::now();
    let cancelled = body(
        app.post_json(&format!("/v1/jobs/{id}/cancel"), &Value::Null)
            .await,
        StatusCode::OK,
    )
    .await;
    let done = if cancelled["status"] == "cancelled" {
        cancelled
    } else {
        app.wait_until_finished(&id, Duration::from_secs(10)).await
    };
    assert_eq!(done["status"], "cancelled");
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(done["weights_sha256"], Value::Null);
    let metrics = body(
        app.get(&format!("/v1/jobs/{id}/metrics")).await,
        StatusCode::OK,
    )
    .await;
    assert!(!metrics["items"].as_array().is_none_or(Vec::is_empty));
    problem(
        app.get(&format!("/v1/jobs/{id}/model")).await,
        StatusCode::CONFLICT,
        "model-not-ready",
    )
    .await;
    problem(
        app.post_json(&format!("/v1/jobs/{id}/cancel"), &Value::Null)
            .await,
        StatusCode::CONFLICT,
        "job-finished",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/jobs/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}
