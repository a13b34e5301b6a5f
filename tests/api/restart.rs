//! Restarts on the same database: queued jobs run after a restart, and a job interrupted by a
//! shutdown goes back to the queue with a checkpoint (its history says so) and runs again.
//! (Exact resumes with the real binary are in `durability.rs`.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::jobs::{iris_spec, submit};
use crate::support::{Options, body, spawn_app_in, spawn_app_with};

fn statuses(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_a_restart_and_then_run() {
    let idle = spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let first = submit(&idle, &iris_spec(10)).await;
    let second = submit(&idle, &iris_spec(12)).await;
    let dir = idle.stop().await;

    let app = spawn_app_in(dir, Options::default()).await;
    for job in [&first, &second] {
        let id = job["id"].as_str().expect("an id");
        let done = app.wait_until_finished(id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "succeeded");
        assert_eq!(done["spec"], job["spec"]);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_shutdown_is_requeued_and_runs_again() {
    let app = spawn_app_with(Options::default()).await;
    let job = submit(&app, &iris_spec(100_000)).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_for_job(&id, Duration::from_secs(30), |job| {
        job["progress"]["epoch"].as_u64() > Some(3)
    })
    .await;
    let dir = app.stop().await;

    let idle = spawn_app_in(
        dir,
        Options {
            workers: 0,
            ..Options::default()
        },
    )
    .await;
    let requeued = body(idle.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(requeued["status"], "queued");
    assert_eq!(statuses(&requeued), ["queued", "running", "queued"]);
    assert!(
        requeued["history"][2]["note"]
            .as_str()
            .is_some_and(|n| n.contains("shut down"))
    );
    let metrics = body(
        idle.get(&format!("/v1/jobs/{id}/metrics")).await,
        StatusCode::OK,
    )
    .await;
    let kept: Vec<u64> = metrics["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["epoch"].as_u64())
        .collect();
    assert!(
        kept.len() > 3 && kept == (1..=kept.len() as u64).collect::<Vec<_>>(),
        "the shutdown's checkpoint keeps the epochs before it: {kept:?}"
    );
    let dir = idle.stop().await;

    let app = spawn_app_in(dir, Options::default()).await;
    app.wait_for_job(&id, Duration::from_secs(30), |job| {
        job["status"] == "running"
    })
    .await;
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
    assert_eq!(
        statuses(&done),
        ["queued", "running", "queued", "running", "cancelled"]
    );
    app.stop().await;
}
