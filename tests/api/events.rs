//! The SSE stream of a real training job, read to its end, and resumed mid-stream with
//! `Last-Event-ID` without missing or repeating anything.

use std::time::Duration;

use reqwest::StatusCode;

use crate::jobs::{iris_spec, submit};
use crate::support::{body, open_events, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_job_streams_every_epoch_and_a_resumed_stream_misses_nothing() {
    let app = spawn_app().await;
    let job = submit(&app, &iris_spec(300)).await;
    let id = job["id"].as_str().expect("an id").to_owned();

    let mut first = open_events(&app, &id, None).await;
    let mut head = Vec::new();
    for _ in 0..20 {
        head.push(first.next().await.expect("an event"));
    }
    drop(first);
    let resume_after = head
        .last()
        .and_then(|e| e.id.clone())
        .expect("events have ids");
    let tail = tokio::time::timeout(
        Duration::from_secs(120),
        open_events(&app, &id, Some(&resume_after)).await.rest(),
    )
    .await
    .expect("the stream ends after the job");

    let whole = open_events(&app, &id, None).await.rest().await;
    let joined: Vec<_> = head.iter().chain(tail.iter()).cloned().collect();
    assert_eq!(joined, whole, "head + resumed tail = the whole stream");

    let epochs: Vec<u64> = whole
        .iter()
        .filter(|e| e.event == "epoch")
        .filter_map(|e| e.data["epoch"].as_u64())
        .collect();
    assert_eq!(epochs, (1..=300).collect::<Vec<_>>());
    let statuses: Vec<&str> = whole
        .iter()
        .filter(|e| e.event == "status")
        .filter_map(|e| e.data["status"].as_str())
        .collect();
    assert_eq!(statuses, ["queued", "running", "succeeded"]);
    let last = whole.last().expect("events");
    assert_eq!((last.event.as_str(), last.id.as_deref()), ("end", None));
    assert_eq!(last.data["status"], "succeeded");
    let ids: Vec<i64> = whole
        .iter()
        .filter_map(|e| e.id.as_deref().and_then(|id| id.parse().ok()))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(job["status"], "succeeded");

    // A client that saw the final status but not the `end` after it (or any later id) gets
    // `end` at once, not a stream that waits forever.
    let final_status = whole
        .iter()
        .rev()
        .find_map(|e| e.id.clone())
        .expect("the final status has an id");
    let past: i64 = final_status.parse::<i64>().expect("a number") + 1_000;
    for after in [final_status, past.to_string()] {
        let rest = tokio::time::timeout(
            Duration::from_secs(30),
            open_events(&app, &id, Some(&after)).await.rest(),
        )
        .await
        .expect("the stream ends at once");
        assert_eq!(rest.len(), 1, "{rest:?}");
        assert_eq!(
            (rest[0].event.as_str(), rest[0].id.as_deref()),
            ("end", None)
        );
        assert_eq!(rest[0].data["status"], "succeeded");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_past_a_running_jobs_last_event_gets_end_when_it_finishes() {
    let app = spawn_app().await;
    let job = submit(&app, &iris_spec(100_000)).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_for_job(&id, Duration::from_secs(30), |job| {
        job["status"] == "running"
    })
    .await;
    // Ids are numbered across all jobs, so a reader may start past this job's every event.
    let mut stream = open_events(&app, &id, Some("999999999")).await;
    let cancelled = app
        .client
        .post(app.url(&format!("/v1/jobs/{id}/cancel")))
        .send()
        .await
        .expect("sent");
    body(cancelled, StatusCode::OK).await;
    let rest = tokio::time::timeout(Duration::from_secs(30), stream.rest())
        .await
        .expect("the stream ends with the job");
    let last = rest.last().expect("an end event");
    assert_eq!((last.event.as_str(), last.id.as_deref()), ("end", None));
    assert_eq!(last.data["status"], "cancelled");
    app.stop().await;
}
