//! Sweeps: a grid over a base spec expanded into jobs, refused whole when one combination is
//! invalid, summarised with each job's best metric, overlaid in one plot, cancelled and deleted
//! as a whole; and every examples/sweeps/*.json is accepted.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use trainyard::plot::palette::{hex, series_colour};

use crate::jobs::iris_spec;
use crate::support::{
    Options, TestApp, body, error_paths, example_files, problem, spawn_app, spawn_app_with,
};

/// A quick iris spec (validation split, seed 7) to vary.
fn base(epochs: u64) -> Value {
    let mut spec = iris_spec(epochs);
    spec.as_object_mut().map(|s| s.remove("name"));
    spec
}

async fn submit_sweep(app: &TestApp, sweep: &Value) -> Value {
    body(
        app.post_json("/v1/sweeps", sweep).await,
        StatusCode::CREATED,
    )
    .await
}

fn job_ids(created: &Value) -> Vec<String> {
    created["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Polls the sweep until every job has finished.
async fn wait_for_sweep(app: &TestApp, id: &str, query: &str) -> Value {
    let started = Instant::now();
    loop {
        let sweep = body(
            app.get(&format!("/v1/sweeps/{id}{query}")).await,
            StatusCode::OK,
        )
        .await;
        if sweep["finished"] == true {
            return sweep;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sweep {id} did not finish: {sweep:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_expands_into_one_job_per_combination_in_sweep_order() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let sweep = json!({
        "name": "lr-batch",
        "base": base(2),
        "grid": {"training.batch_size": [1, 15, "full"], "optimizer.learning_rate": [0.01, 0.1]}
    });
    let response = app.post_json("/v1/sweeps", &sweep).await;
    let location = response.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned();
    let created = body(response, StatusCode::CREATED).await;
    let id = created["id"].as_str().expect("an id");
    assert_eq!(location, format!("/v1/sweeps/{id}"));
    let overrides: Vec<Value> = created["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["overrides"].clone())
        .collect();
    let expected: Vec<Value> = [0.01, 0.1]
        .iter()
        .flat_map(|lr| {
            [json!(1), json!(15), json!("full")]
                .map(|batch| json!({"optimizer.learning_rate": lr, "training.batch_size": batch}))
        })
        .collect();
    assert_eq!(overrides, expected);
    assert_eq!(
        created["varying"],
        json!(["optimizer.learning_rate", "training.batch_size"])
    );

    // Each job is an ordinary job: its spec is the base with the overrides, the base's seed.
    let ids = job_ids(&created);
    let last = body(
        app.get(&format!("/v1/jobs/{}", ids[5])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(last["status"], "queued");
    assert_eq!(last["spec"]["optimizer"]["learning_rate"], 0.1);
    assert_eq!(last["spec"]["optimizer"]["momentum"], 0.9);
    assert_eq!(last["spec"]["training"]["batch_size"], "full");
    assert_eq!(last["seed"], 7);
    assert_eq!(
        last["name"],
        "lr-batch optimizer.learning_rate=0.1, training.batch_size=full"
    );

    let summary = body(app.get(&location).await, StatusCode::OK).await;
    assert_eq!(summary["counts"]["queued"], 6);
    assert_eq!(summary["finished"], false);
    assert_eq!(summary["base"], base(2));

    // A dry run expands and sizes without queueing.
    let dry = body(
        app.post_json("/v1/sweeps?dry_run=true", &sweep).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["jobs"].as_array().map(Vec::len), Some(6));
    assert_eq!(dry["jobs"][0]["total_steps"], 2 * 105);
    let jobs = body(app.get("/v1/jobs?limit=100").await, StatusCode::OK).await;
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(6));

    // The README's example.
    let readme = json!({
      "name": "lr-batch",
      "base": {"data": {"type": "builtin", "name": "iris", "validation_split": 0.3, "standardize": true},
               "architecture": {"layers": [{"type": "dense", "units": 3, "activation": "softmax"}]},
               "optimizer": {"type": "sgd", "learning_rate": 0.1},
               "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                            "epochs": 30, "seed": 7}},
      "grid": {"optimizer.learning_rate": [0.01, 0.1, 0.5], "training.batch_size": [1, 15, "full"]}});
    let dry = body(
        app.post_json("/v1/sweeps?dry_run=true", &readme).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["jobs"].as_array().map(Vec::len), Some(9));
    assert_eq!(dry["seed"], 7);

    // Lists are newest first with cursors, as /v1/jobs.
    let second = submit_sweep(
        &app,
        &json!({"base": base(1), "grid": {"training.seed": [1]}}),
    )
    .await;
    let page = body(app.get("/v1/sweeps?limit=1").await, StatusCode::OK).await;
    assert_eq!(page["items"][0]["id"], second["id"]);
    assert_eq!(page["items"][0]["job_count"], 1);
    let cursor = page["next_cursor"].as_str().expect("a cursor");
    let next = body(
        app.get(&format!("/v1/sweeps?limit=1&cursor={cursor}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["items"][0]["id"], created["id"]);
    assert_eq!(next["items"][0]["counts"]["queued"], 6);
    assert_eq!(next["next_cursor"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_sweep_with_its_idempotency_key_is_queued_once() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let sweep = |rates: Value| json!({"base": base(2), "grid": {"optimizer.learning_rate": rates}});
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/sweeps"))
            .header("idempotency-key", "sweep-retry-1")
            .json(&body)
            .send()
    };
    let first = body(
        send(sweep(json!([0.01, 0.1]))).await.expect("sent"),
        StatusCode::CREATED,
    )
    .await;
    let retry = send(sweep(json!([0.01, 0.1]))).await.expect("sent");
    assert_eq!(
        retry.headers()["location"],
        format!("/v1/sweeps/{}", first["id"].as_str().unwrap_or_default()).as_str()
    );
    let retry = body(retry, StatusCode::OK).await;
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(job_ids(&retry), job_ids(&first));
    let refused = problem(
        send(sweep(json!([0.5]))).await.expect("sent"),
        StatusCode::CONFLICT,
        "idempotency-key-reused",
    )
    .await;
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(first["id"].as_str().unwrap_or("?")),
        "{detail}"
    );
    // The same key on a single job is a key of its own.
    let job = app
        .client
        .post(app.url("/v1/jobs"))
        .header("idempotency-key", "sweep-retry-1")
        .json(&iris_spec(2))
        .send()
        .await
        .expect("sent");
    body(job, StatusCode::CREATED).await;
    let jobs = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(3));
    let sweeps = body(app.get("/v1/sweeps").await, StatusCode::OK).await;
    assert_eq!(sweeps["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_with_one_invalid_value_is_refused_whole_and_inserts_nothing() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let refused = problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": base(2), "grid": {
                "optimizer.learning_rate": [0.01, 0.1, -0.5],
                "training.batch_size": [15, 1000],
            }}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-spec",
    )
    .await;
    assert_eq!(
        error_paths(&refused),
        [
            "/grid/optimizer.learning_rate/2",
            "/grid/training.batch_size/1"
        ],
        "{refused:#}"
    );
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("sets optimizer.learning_rate: optimizer.learning_rate"),
        "{message}"
    );
    assert!(message.contains("-0.5"), "{message}");

    // An unknown field set by the grid is refused by the job validator, on the whole key.
    let typo = problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": base(2), "grid": {"optimizer.learnin_rate": [0.1, 0.2]}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-spec",
    )
    .await;
    assert_eq!(error_paths(&typo), ["/grid/optimizer.learnin_rate"]);

    // A base error every combination shares is blamed on the base.
    let mut bad_base = base(2);
    bad_base["training"]["epochs"] = json!(-1);
    let on_base = problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": bad_base, "grid": {"optimizer.learning_rate": [0.1, 0.2]}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-spec",
    )
    .await;
    assert_eq!(error_paths(&on_base), ["/base/training/epochs"]);

    let jobs = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(jobs["items"], json!([]));
    let sweeps = body(app.get("/v1/sweeps").await, StatusCode::OK).await;
    assert_eq!(sweeps["items"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sweep_bodies_are_refused_with_their_paths() {
    let limits = trainyard::config::Limits {
        max_sweep_jobs: 4,
        max_queued_jobs: 3,
        ..trainyard::config::Limits::default()
    };
    let app = spawn_app_with(Options { workers: 0, limits }).await;
    let cases = [
        (
            json!({"base": base(2), "grid": {"training.epochs": [1]}, "grdi": {}}),
            vec!["/grdi"],
        ),
        (json!({"grid": {"training.epochs": [1]}}), vec!["/base"]),
        (json!({"base": base(2), "grid": {}}), vec!["/grid"]),
        (
            json!({"base": base(2), "grid": {"training.epochs": 3}}),
            vec!["/grid/training.epochs"],
        ),
        (
            json!({"base": base(2), "grid": {"training.epochs": []}}),
            vec!["/grid/training.epochs"],
        ),
        (
            json!({"base": base(2), "grid": {"architecture.layers.7.units": [4]}}),
            vec!["/grid/architecture.layers.7.units"],
        ),
        (
            json!({"base": base(2), "grid": {"training.seed.x": [4]}}),
            vec!["/grid/training.seed.x"],
        ),
        (
            json!({"name": 5, "base": [], "grid": {"training.epochs": [1]}}),
            vec!["/name", "/base"],
        ),
        (
            json!({"base": base(2), "grid": {vec!["a"; 20_000].join("."): [1]}}),
            vec![
                Box::leak(format!("/grid/{}", vec!["a"; 20_000].join(".")).into_boxed_str())
                    as &str,
            ],
        ),
        (
            json!({"base": base(2), "grid": (0..40)
                .map(|i| (format!("training.x{i}"), json!([1])))
                .collect::<serde_json::Map<String, Value>>()}),
            vec!["/grid"],
        ),
    ];
    for (sweep, paths) in cases {
        let refused = problem(
            app.post_json("/v1/sweeps", &sweep).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-spec",
        )
        .await;
        assert_eq!(error_paths(&refused), paths, "{sweep}: {refused:#}");
    }
    // Every job is a copy of the base with its overrides: inline data of about 1.2 MB,
    // copied into 4 jobs, is over the 4 MiB a sweep may store, whether it is in the base or
    // in the grid's values; the refusal points at an uploaded dataset.
    let rows = vec![json!([0.123456789, 0.234567891, 0.345678912, 0.456789123]); 25_000];
    let mut inline_base = base(2);
    inline_base["data"] = json!({"type": "inline", "features": rows.clone(),
                                 "labels": vec![json!(0); 25_000]});
    // Four different copies of the rows, so that the grid's values are distinct.
    let variant = |k: f64| {
        let mut rows = rows.clone();
        rows[0] = json!([k, k, k, k]);
        rows
    };
    let mut small_base = base(2);
    small_base["data"] = json!({"type": "inline", "features": [[0.5, 0.5, 0.5, 0.5], [1, 1, 1, 1]],
                                "labels": [0, 1]});
    let sweeps = [
        json!({"base": inline_base, "grid": {"training.seed": [1, 2, 3, 4]}}),
        json!({"base": small_base, "grid": {"data.features": [variant(1.0), variant(2.0),
                                                              variant(3.0), variant(4.0)]}}),
    ];
    for sweep in sweeps {
        let copied = problem(
            app.post_json("/v1/sweeps", &sweep).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-spec",
        )
        .await;
        assert_eq!(error_paths(&copied), ["/base"]);
        assert!(
            copied.to_string().contains("POST /v1/datasets"),
            "{copied:#}"
        );
    }

    // A list far longer than a sweep may be is refused as too many jobs, without a search
    // for repeats among its values.
    let long = problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": base(2), "grid": {"optimizer.learning_rate": vec![0.5; 200_000]}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    assert!(
        long["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("200000"),
        "{long:#}"
    );
    let too_many = problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": base(2), "grid": {"training.seed": [1, 2, 3, 4, 5]}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
    )
    .await;
    assert!(
        too_many["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-sweep-jobs 4"),
        "{too_many:#}"
    );
    problem(
        app.post_json(
            "/v1/sweeps",
            &json!({"base": base(2), "grid": {"training.seed": [1, 2, 3, 4]}}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "queue-full",
    )
    .await;
    problem(
        app.send(
            reqwest::Method::POST,
            "/v1/sweeps",
            Some("application/json"),
            "{",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "malformed-json",
    )
    .await;
    let jobs = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(jobs["items"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_sweep_summarises_each_jobs_best_metric_and_plots_them_overlaid() {
    let app = spawn_app().await;
    let created = submit_sweep(
        &app,
        &json!({"name": "three-rates", "base": base(8),
                "grid": {"optimizer.learning_rate": [0.01, 0.05, 0.1]}}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let summary = wait_for_sweep(&app, id, "").await;
    assert_eq!(summary["counts"]["succeeded"], 3, "{summary:#}");
    assert_eq!(summary["metric"], "val_loss");
    assert_eq!(summary["goal"], "min");

    // Each job's best is the minimum of its own val_loss records, and the sweep's best job the
    // one with the lowest.
    let mut lowest: Option<(f64, String)> = None;
    for job in summary["jobs"].as_array().expect("jobs") {
        let job_id = job["id"].as_str().expect("an id");
        let records = body(
            app.get(&format!("/v1/jobs/{job_id}/metrics")).await,
            StatusCode::OK,
        )
        .await;
        let (epoch, value) = records["items"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| Some((r["epoch"].as_u64()?, r["val_loss"].as_f64()?)))
            .fold(None, |best: Option<(u64, f64)>, (e, v)| match best {
                Some((_, b)) if b <= v => best,
                _ => Some((e, v)),
            })
            .expect("val_loss records");
        assert_eq!(job["best"], json!({"epoch": epoch, "val_loss": value}));
        assert_eq!(job["epoch"], 8);
        if lowest.as_ref().is_none_or(|(v, _)| value < *v) {
            lowest = Some((value, job_id.to_owned()));
        }
    }
    let (value, best_job) = lowest.expect("a best job");
    assert_eq!(summary["best"]["job_id"], best_job.as_str());
    assert_eq!(summary["best"]["value"], value);

    // Accuracy is maximized.
    let by_accuracy = body(
        app.get(&format!("/v1/sweeps/{id}?metric=val_accuracy"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_accuracy["goal"], "max");
    assert!(by_accuracy["best"]["value"].as_f64().is_some());
    problem(
        app.get(&format!("/v1/sweeps/{id}?metric=Val-Loss")).await,
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
    )
    .await;

    // One line per job, named by its override.
    let response = app
        .get(&format!("/v1/sweeps/{id}/plots/val_loss.svg"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let text = response.text().await.expect("a body");
    let document = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for rate in ["0.01", "0.05", "0.1"] {
        let label = format!("optimizer.learning_rate={rate}");
        assert!(texts.contains(&label.as_str()), "{label}: {texts:?}");
    }
    let strokes: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter_map(|n| n.attribute("stroke"))
        .collect();
    let series = |i: usize| hex(series_colour(i));
    for i in 0..3 {
        let lines = strokes.iter().filter(|s| **s == series(i)).count();
        assert_eq!(lines, 1, "series {i}: {strokes:?}");
    }
    assert!(!strokes.contains(&series(3).as_str()), "{strokes:?}");
    problem(
        app.get(&format!("/v1/sweeps/{id}/plots/val_loss.png"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;

    // Finished: cancelling is a conflict; deleting removes the sweep and its jobs.
    problem(
        app.post_json(&format!("/v1/sweeps/{id}/cancel"), &json!({}))
            .await,
        StatusCode::CONFLICT,
        "sweep-finished",
    )
    .await;
    let response = app.delete(&format!("/v1/sweeps/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for job_id in job_ids(&created) {
        problem(
            app.get(&format!("/v1/jobs/{job_id}")).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    problem(
        app.get(&format!("/v1/sweeps/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_every_queued_and_running_job_and_delete_waits_for_it() {
    let app = spawn_app().await;
    let created = submit_sweep(
        &app,
        &json!({"base": base(100_000), "grid": {"training.seed": [1, 2, 3]}}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let first = &job_ids(&created)[0];
    app.wait_for_job(first, Duration::from_secs(30), |job| {
        job["status"] == "running"
    })
    .await;
    let active = problem(
        app.delete(&format!("/v1/sweeps/{id}")).await,
        StatusCode::CONFLICT,
        "sweep-active",
    )
    .await;
    assert!(
        active["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(first.as_str()),
        "{active:#}"
    );

    let cancelled = body(
        app.post_json(&format!("/v1/sweeps/{id}/cancel"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["id"], id);
    for job_id in job_ids(&created) {
        let job = app
            .wait_until_finished(&job_id, Duration::from_secs(30))
            .await;
        assert_eq!(job["status"], "cancelled", "{job:#}");
    }
    let summary = body(app.get(&format!("/v1/sweeps/{id}")).await, StatusCode::OK).await;
    assert_eq!(summary["counts"]["cancelled"], 3);
    assert_eq!(summary["finished"], true);
    let response = app.delete(&format!("/v1/sweeps/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let sweeps = body(app.get("/v1/sweeps").await, StatusCode::OK).await;
    assert_eq!(sweeps["items"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sweeps_are_404s() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let id = "00000000-0000-0000-0000-000000000000";
    for response in [
        app.get(&format!("/v1/sweeps/{id}")).await,
        app.get(&format!("/v1/sweeps/{id}/plots/loss.svg")).await,
        app.post_json(&format!("/v1/sweeps/{id}/cancel"), &json!({}))
            .await,
        app.delete(&format!("/v1/sweeps/{id}")).await,
    ] {
        let missing = problem(response, StatusCode::NOT_FOUND, "not-found").await;
        assert!(missing["detail"].as_str().unwrap_or_default().contains(id));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_sweep_is_accepted_and_the_gradient_descent_one_runs_to_completion() {
    let app = spawn_app().await;
    let examples = example_files("sweeps");
    assert!(examples.len() >= 5, "{}", examples.len());
    for (name, sweep) in &examples {
        let dry = body(
            app.post_json("/v1/sweeps?dry_run=true", sweep).await,
            StatusCode::OK,
        )
        .await;
        let expected: usize = sweep["grid"]
            .as_object()
            .expect("a grid")
            .values()
            .map(|values| values.as_array().map_or(0, Vec::len))
            .product();
        assert_eq!(
            dry["jobs"].as_array().map(Vec::len),
            Some(expected),
            "{name}: {dry:#}"
        );
    }
    let (_, sweep) = examples
        .iter()
        .find(|(name, _)| name == "gradient-descent-batch-stochastic-minibatch")
        .expect("the gradient descent sweep");
    let created = submit_sweep(&app, sweep).await;
    let id = created["id"].as_str().expect("an id");
    let summary = wait_for_sweep(&app, id, "?metric=loss").await;
    assert_eq!(summary["counts"]["succeeded"], 3, "{summary:#}");
    // Batch gradient descent takes one step per epoch, SGD one per sample.
    let steps: Vec<u64> = last_steps(&app, &job_ids(&created)).await;
    assert_eq!(steps, [150 * 10, 10 * 10, 10]);
    app.stop().await;
}

/// The last recorded step of each job.
async fn last_steps(app: &TestApp, ids: &[String]) -> Vec<u64> {
    let mut steps = Vec::new();
    for id in ids {
        let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
        steps.push(job["latest"]["step"].as_u64().expect("a step"));
    }
    steps
}
