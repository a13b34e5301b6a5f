//! Every example spec in `examples/*.json` is accepted and trains to success.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Options, body, example_files, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_spec_is_accepted_and_trains_to_success() {
    let app = spawn_app_with(Options {
        workers: 2,
        ..Options::default()
    })
    .await;
    let examples = example_files("");
    assert!(!examples.is_empty());
    let mut submitted = Vec::new();
    for (name, spec) in &examples {
        let job = body(app.post_json("/v1/jobs", spec).await, StatusCode::CREATED).await;
        submitted.push((name, job["id"].as_str().unwrap_or_default().to_owned()));
    }
    for (name, id) in submitted {
        let done = app.wait_until_finished(&id, Duration::from_secs(600)).await;
        assert_eq!(done["status"], "succeeded", "{name}: {done:#}");
        assert!(done["weights_sha256"].is_string());
    }
    app.stop().await;
}
