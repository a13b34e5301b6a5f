//! The SVG plots of a job, the comparison of several jobs, and descent over contour lines.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::jobs::{iris_spec, submit};
use crate::support::{TestApp, body, error_paths, insert_raw_job, problem, spawn_app};

/// The text of every `<text>` element of a well-formed SVG document.
fn svg_texts(document: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(document)
        .unwrap_or_else(|e| panic!("well-formed SVG ({e}): {document}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

/// GETs (or POSTs) an SVG: checks the status and content type, returns the `<text>` texts.
async fn svg(response: reqwest::Response) -> Vec<String> {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("a body");
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "image/svg+xml");
    svg_texts(&text)
}

fn has(texts: &[String], wanted: &str) -> bool {
    texts.iter().any(|t| t == wanted)
}

/// A 20-epoch iris job with validation that records every 5th step's loss, finished.
async fn finished_iris_job(app: &TestApp, name: &str) -> String {
    let mut spec = iris_spec(20);
    spec["name"] = json!(name);
    spec["training"]["log_every_steps"] = json!(5);
    let job = submit(app, &spec).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    let done = app.wait_until_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plot_of_a_finished_job_is_an_svg_with_its_legend() {
    let app = spawn_app().await;
    let id = finished_iris_job(&app, "iris-plots").await;
    let plot = |name: &str| format!("/v1/jobs/{id}/plots/{name}.svg");

    let loss = svg(app.get(&plot("loss")).await).await;
    assert!(
        has(&loss, "loss") && has(&loss, "val_loss") && has(&loss, "epoch"),
        "{loss:?}"
    );
    assert!(!has(&loss, "no data yet"));

    let accuracy = svg(app.get(&plot("accuracy")).await).await;
    assert!(
        has(&accuracy, "accuracy") && has(&accuracy, "val_accuracy"),
        "{accuracy:?}"
    );

    let val_accuracy = svg(app.get(&plot("val_accuracy")).await).await;
    assert!(has(&val_accuracy, "val_accuracy"), "{val_accuracy:?}");

    let rate = svg(app.get(&plot("learning_rate")).await).await;
    assert!(has(&rate, "learning_rate"), "{rate:?}");

    let gradients = svg(app.get(&plot("gradients")).await).await;
    assert!(
        has(&gradients, "layer 0 (input side)") && has(&gradients, "layer 1 (output side)"),
        "{gradients:?}"
    );

    let steps = svg(app.get(&plot("steps")).await).await;
    assert!(has(&steps, "loss") && has(&steps, "step"), "{steps:?}");
    assert!(!has(&steps, "loss (no data)"), "{steps:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_jobs_plots_and_suffixes_are_refused_by_name() {
    let app = spawn_app().await;
    let id = finished_iris_job(&app, "iris-refusals").await;

    let unknown = problem(
        app.get(&format!("/v1/jobs/{id}/plots/precision.svg")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let detail = unknown["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("\"precision\"")
            && detail.contains("loss, learning_rate, gradients, steps")
            && detail.contains("val_accuracy"),
        "{detail}"
    );

    let png = problem(
        app.get(&format!("/v1/jobs/{id}/plots/loss.png")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&png), ["name"]);

    let missing = "00000000-0000-0000-0000-000000000000";
    let no_job = problem(
        app.get(&format!("/v1/jobs/{missing}/plots/loss.svg")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert!(
        no_job["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(missing)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_records_gets_a_chart_saying_no_data_yet() {
    let app = spawn_app().await;
    let id = insert_raw_job(&app, "waiting", 1).await;
    for name in ["loss", "learning_rate", "gradients", "steps"] {
        let texts = svg(app.get(&format!("/v1/jobs/{id}/plots/{name}.svg")).await).await;
        assert!(has(&texts, "no data yet"), "{name}: {texts:?}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_overlays_one_metric_of_jobs_named_by_the_spec_fields_that_differ() {
    let app = spawn_app().await;
    let first = finished_iris_job(&app, "iris-first").await;
    let second = finished_iris_job(&app, "iris-second").await;

    let texts = svg(app
        .get(&format!(
            "/v1/plots/compare.svg?jobs={first},{second}&metric=val_loss"
        ))
        .await)
    .await;
    for (name, id) in [("iris-first", &first), ("iris-second", &second)] {
        let label = format!("{name} ({})", &id[id.len() - 8..]);
        assert!(has(&texts, &label), "{label}: {texts:?}");
    }
    assert!(has(&texts, "val_loss"), "{texts:?}");

    let mut spec = iris_spec(20);
    spec["optimizer"]["learning_rate"] = json!(0.05);
    spec["training"]["log_every_steps"] = json!(5);
    let slower = submit(&app, &spec).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    app.wait_until_finished(&slower, Duration::from_secs(60))
        .await;
    let by_spec = svg(app
        .get(&format!(
            "/v1/plots/compare.svg?jobs={first},{slower}&metric=accuracy"
        ))
        .await)
    .await;
    assert!(
        has(&by_spec, "learning_rate=0.1") && has(&by_spec, "learning_rate=0.05"),
        "{by_spec:?}"
    );

    let missing = "00000000-0000-0000-0000-000000000000";
    let unknown = problem(
        app.get(&format!("/v1/plots/compare.svg?jobs={first},{missing}"))
            .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(missing)
    );

    let none = problem(
        app.get("/v1/plots/compare.svg?metric=loss").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&none), ["jobs"]);
    // The limit counts distinct ids, checked before any job is read (these do not exist).
    let many: Vec<String> = (0..21).map(|i| format!("id-{i}")).collect();
    let too_many = problem(
        app.get(&format!("/v1/plots/compare.svg?jobs={}", many.join(",")))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&too_many), ["jobs"]);
    assert!(
        too_many["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("lists 21 jobs"),
        "{too_many}"
    );
    // A repeated id is drawn once, where it first appears.
    let repeated = [first.as_str(); 30]
        .into_iter()
        .chain([second.as_str(), first.as_str()])
        .collect::<Vec<_>>()
        .join(",");
    let texts = svg(app
        .get(&format!("/v1/plots/compare.svg?jobs={repeated}"))
        .await)
    .await;
    let first_label = format!("iris-first ({})", &first[first.len() - 8..]);
    let second_label = format!("iris-second ({})", &second[second.len() - 8..]);
    assert_eq!(
        texts.iter().filter(|t| **t == first_label).count(),
        1,
        "{texts:?}"
    );
    assert!(has(&texts, &second_label), "{texts:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecture_descent_is_drawn_over_its_contours_and_only_in_two_variables() {
    let app = spawn_app().await;
    let path = format!(
        "{}/examples/descent/learning-rate-0.1-converges.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the example exists"))
            .expect("valid JSON");
    let texts = svg(app.post_json("/v1/descent?format=svg", &example).await).await;
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("x1^2 + 2*x2^2 - x1*x2") && t.contains("after 30 steps")),
        "{texts:?}"
    );
    assert!(has(&texts, "x1") && has(&texts, "x2"), "{texts:?}");

    let json_answer = body(
        app.post_json("/v1/descent?format=json", &example).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(json_answer["points"].as_array().map(Vec::len), Some(31));

    let three = problem(
        app.post_json(
            "/v1/descent?format=svg",
            &json!({"function": "x1^2 + x2^2 + x3^2", "x0": [1, 2, 3]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&three), ["x0"]);
    app.stop().await;
}
