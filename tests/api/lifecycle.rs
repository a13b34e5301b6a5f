//! The job lifecycle without training: reading, listing and paging, cancelling a queued job,
//! deleting, unknown ids, and event streams of jobs that never run (no workers).

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Options, body, insert_raw_job, open_events, problem, spawn_app_with};

fn idle() -> Options {
    Options {
        workers: 0,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_job_ids_are_404_on_every_job_route() {
    let app = spawn_app_with(idle()).await;
    let id = "00000000-0000-0000-0000-000000000000";
    for response in [
        app.get(&format!("/v1/jobs/{id}")).await,
        app.delete(&format!("/v1/jobs/{id}")).await,
        app.post_json(&format!("/v1/jobs/{id}/cancel"), &Value::Null)
            .await,
        app.get(&format!("/v1/jobs/{id}/metrics")).await,
        app.get(&format!("/v1/jobs/{id}/events")).await,
        app.get("/v1/jobs/not-even-a-uuid").await,
    ] {
        problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_is_cancelled_at_once_and_then_stays_cancelled() {
    let app = spawn_app_with(idle()).await;
    let id = insert_raw_job(&app, "waiting", 1_000).await;
    let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(job["status"], "queued");
    assert_eq!(job["queue_position"], 1);
    assert_eq!(job["history"][0]["status"], "queued");

    problem(
        app.delete(&format!("/v1/jobs/{id}")).await,
        StatusCode::CONFLICT,
        "job-active",
    )
    .await;

    let cancel_path = format!("/v1/jobs/{id}/cancel");
    let cancelled = body(
        app.post_json(&cancel_path, &Value::Null).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["queue_position"], Value::Null);
    assert!(cancelled["finished_at"].is_string());
    let statuses: Vec<&str> = cancelled["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str())
        .collect();
    assert_eq!(statuses, ["queued", "cancelled"]);

    problem(
        app.post_json(&cancel_path, &Value::Null).await,
        StatusCode::CONFLICT,
        "job-finished",
    )
    .await;

    let deleted = app.delete(&format!("/v1/jobs/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&format!("/v1/jobs/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_newest_first_filtered_and_paged_by_cursor() {
    let app = spawn_app_with(idle()).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(insert_raw_job(&app, &format!("job {n}"), 1_000 + n).await);
    }
    app.post_json(&format!("/v1/jobs/{}/cancel", ids[1]), &Value::Null)
        .await;

    let mut seen = Vec::new();
    let mut path = "/v1/jobs?limit=2".to_owned();
    loop {
        let page = body(app.get(&path).await, StatusCode::OK).await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .filter_map(|j| j["id"].as_str().map(str::to_owned)),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/jobs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let cancelled = body(app.get("/v1/jobs?status=cancelled").await, StatusCode::OK).await;
    assert_eq!(cancelled["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(cancelled["items"][0]["id"], ids[1].as_str());
    assert_eq!(cancelled["next_cursor"], Value::Null);

    for (path, parameter) in [
        ("/v1/jobs?status=sleeping", "status"),
        ("/v1/jobs?limit=0", "limit"),
        ("/v1/jobs?limit=501", "limit"),
        ("/v1/jobs?limit=ten", "limit"),
        ("/v1/jobs?cursor=not-a-cursor", "cursor"),
    ] {
        let refused = problem(
            app.get(path).await,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
        )
        .await;
        assert_eq!(refused["errors"][0]["path"], parameter, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_of_a_cancelled_job_replays_and_resumes_after_last_event_id() {
    let app = spawn_app_with(idle()).await;
    let id = insert_raw_job(&app, "to cancel", 1_000).await;

    let mut live = open_events(&app, &id, None).await;
    let queued = live.next().await.expect("the queued event");
    assert_eq!(
        (queued.event.as_str(), &queued.data["status"]),
        ("status", &Value::from("queued"))
    );
    app.post_json(&format!("/v1/jobs/{id}/cancel"), &Value::Null)
        .await;
    let rest = live.rest().await;
    let names: Vec<&str> = rest.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["status", "end"]);
    assert_eq!(rest[0].data["status"], "cancelled");
    assert!(rest[0].data["at"].is_string());
    assert_eq!(rest[1].data["status"], "cancelled");
    assert_eq!(rest[1].id, None);

    let replay = open_events(&app, &id, None).await.rest().await;
    assert_eq!(replay.len(), 3);
    let resumed = open_events(&app, &id, queued.id.as_deref())
        .await
        .rest()
        .await;
    assert_eq!(
        resumed, rest,
        "resuming after the first event gives exactly the rest"
    );

    let bad = app
        .client
        .get(app.url(&format!("/v1/jobs/{id}/events")))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .expect("sent");
    let refused = problem(bad, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    assert_eq!(refused["errors"][0]["path"], "Last-Event-ID");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_ends_open_event_streams_with_a_shutdown_event() {
    let app = spawn_app_with(idle()).await;
    let id = insert_raw_job(&app, "never runs", 1_000).await;
    let mut stream = open_events(&app, &id, None).await;
    assert_eq!(
        stream.next().await.map(|e| e.event),
        Some("status".to_owned())
    );
    let stopping = tokio::spawn(app.stop());
    let rest = tokio::time::timeout(std::time::Duration::from_secs(10), stream.rest())
        .await
        .expect("the stream ends when the server stops");
    assert_eq!(rest.len(), 1, "one farewell: {rest:?}");
    assert_eq!(rest[0].event, "shutdown");
    assert_eq!(
        rest[0].id, None,
        "reconnecting resumes after the last real event"
    );
    assert!(rest[0].data["message"].as_str().is_some());
    stopping.await.expect("the server stops");
}
