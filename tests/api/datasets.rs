//! Uploading CSV datasets, listing them after the built-ins, training on one, and refusing to
//! delete one that a waiting job reads.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Options, body, problem, spawn_app, spawn_app_with};

/// Two well-separated classes in two features.
fn points_csv() -> String {
    let mut csv = String::from("x,y,label\n");
    for i in 0..40 {
        let t = f64::from(i) / 40.0;
        csv.push_str(&format!("{:.3},{:.3},0\n", -1.0 - t, 0.5 * t));
        csv.push_str(&format!("{:.3},{:.3},1\n", 1.0 + t, -0.5 * t));
    }
    csv
}

fn spec_on(dataset_id: &str) -> Value {
    json!({
        "data": {"type": "dataset", "id": dataset_id, "validation_split": 0.25},
        "architecture": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
        "optimizer": {"type": "adam", "learning_rate": 0.05},
        "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     "batch_size": 16, "epochs": 30, "seed": 3}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_csv_is_listed_read_trained_on_and_deleted() {
    let app = spawn_app().await;
    let response = app
        .send(
            Method::POST,
            "/v1/datasets?name=points&label_column=label",
            Some("text/csv"),
            points_csv(),
        )
        .await;
    let location = response.headers()["location"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    let dataset = body(response, StatusCode::CREATED).await;
    let id = dataset["id"].as_str().expect("an id").to_owned();
    assert_eq!(location, format!("/v1/datasets/{id}"));
    assert_eq!(
        (&dataset["rows"], &dataset["features"], &dataset["classes"]),
        (&json!(80), &json!(2), &json!(2))
    );
    assert_eq!(dataset["feature_names"], json!(["x", "y"]));
    assert_eq!(dataset["builtin"], false);

    let listed = body(app.get("/v1/datasets").await, StatusCode::OK).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "iris",
            "wine",
            "breast_cancer",
            "digits",
            "mnist",
            id.as_str()
        ]
    );
    let iris = body(app.get("/v1/datasets/iris").await, StatusCode::OK).await;
    assert_eq!(
        (&iris["rows"], &iris["builtin"]),
        (&json!(150), &json!(true))
    );

    // Paging walks the built-ins, then the upload.
    let mut seen = Vec::new();
    let mut path = "/v1/datasets?limit=4".to_owned();
    loop {
        let page = body(app.get(&path).await, StatusCode::OK).await;
        seen.extend(
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["id"].as_str().map(str::to_owned)),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/datasets?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let job = body(
        app.post_json("/v1/jobs", &spec_on(&id)).await,
        StatusCode::CREATED,
    )
    .await;
    let job_id = job["id"].as_str().expect("a job id");
    let done = app
        .wait_until_finished(job_id, Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert!(
        done["latest"]["val_accuracy"].as_f64() > Some(0.9),
        "{}",
        done["latest"]
    );

    assert_eq!(
        app.delete(&format!("/v1/datasets/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.get(&format!("/v1/datasets/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // The model outlives its training data.
    let predicted = body(
        app.post_json(
            &format!("/v1/jobs/{job_id}/predict"),
            &json!({"inputs": [[-1.5, 0.2], [1.5, -0.2]]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(predicted["classes"], json!([0, 1]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_a_waiting_job_reads_cannot_be_deleted() {
    let app = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let dataset = body(
        app.send(
            Method::POST,
            "/v1/datasets?name=points",
            Some("text/csv"),
            points_csv(),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = dataset["id"].as_str().expect("an id");
    let job = body(
        app.post_json("/v1/jobs", &spec_on(id)).await,
        StatusCode::CREATED,
    )
    .await;
    let refused = problem(
        app.delete(&format!("/v1/datasets/{id}")).await,
        StatusCode::CONFLICT,
        "dataset-in-use",
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains(job["id"].as_str().unwrap_or("?")))
    );
    app.post_json(
        &format!("/v1/jobs/{}/cancel", job["id"].as_str().unwrap_or("")),
        &Value::Null,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/datasets/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}
