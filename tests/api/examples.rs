//! Every example spec in `examples/*.json` is accepted and trains to success.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Options, body, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_spec_is_accepted_and_trains_to_success() {
    let app = spawn_app_with(Options {
        workers: 2,
        ..Options::default()
    })
    .await;
    let mut submitted = Vec::new();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut paths: Vec<_> = std::fs::read_dir(directory)
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in &paths {
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
            .expect("valid JSON");
        let job = body(app.post_json("/v1/jobs", &spec).await, StatusCode::CREATED).await;
        submitted.push((
            path.clone(),
            job["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    for (path, id) in submitted {
        let done = app.wait_until_finished(&id, Duration::from_secs(600)).await;
        assert_eq!(done["status"], "succeeded", "{}: {done:#}", path.display());
        assert!(done["weights_sha256"].is_string());
    }
    app.stop().await;
}
