//! `POST /v1/descent`: the lecture's first demonstration, through the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{body, error_paths, problem, spawn_app};

fn example(name: &str) -> Value {
    let path = format!("{}/examples/descent/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("the example exists"))
        .expect("valid JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecture_example_converges_at_0_1_and_diverges_at_0_5() {
    let app = spawn_app().await;
    let path = body(
        app.post_json("/v1/descent", &example("learning-rate-0.1-converges.json"))
            .await,
        StatusCode::OK,
    )
    .await;
    let points = path["points"].as_array().expect("points");
    assert_eq!(points.len(), 31);
    assert_eq!(points[0]["x"], json!([-5.0, 4.0]));
    // ∇(x1² + 2x2² − x1x2) at (−5, 4) = (2·(−5) − 4, 4·4 − (−5)) = (−14, 21)
    assert_eq!(points[0]["gradient"], json!([-14.0, 21.0]));
    // API.md: point 30 is x ≈ [−0.016062, −0.006653]
    let x30: Vec<f64> = points[30]["x"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        (x30[0] + 0.016062).abs() < 1e-5 && (x30[1] + 0.006653).abs() < 1e-5,
        "{x30:?}"
    );

    let diverged = body(
        app.post_json("/v1/descent", &example("learning-rate-0.5-diverges.json"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(diverged["outcome"], "diverged");

    let bad = problem(
        app.post_json(
            "/v1/descent",
            &json!({"function": "x1^2 +", "x0": [1], "optimizer": {"type": "sgd", "momentum": 2}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&bad), ["optimizer.momentum"]);
    let bad = problem(
        app.post_json("/v1/descent", &json!({"function": "x1^2 +", "x0": [1]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(error_paths(&bad), ["function"]);
    // The message reads after the field's name, without repeating it.
    let message = bad["errors"][0]["message"].as_str().expect("a message");
    assert!(message.starts_with("at position "), "{message}");
    let saddle = body(
        app.post_json(
            "/v1/descent",
            &json!({"function": {"name": "saddle"}, "x0": [1, 0], "steps": 5}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saddle["points"].as_array().map(Vec::len), Some(6));
    app.stop().await;
}
