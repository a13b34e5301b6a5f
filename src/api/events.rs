//! `/v1/jobs/{id}/events`: a job's events as Server-Sent Events.
//!
//! Every event carries its id (the store's sequence number), so a client reconnecting with
//! `Last-Event-ID` gets exactly what it missed. Event names are `status`, `epoch`, `step` and
//! `log`; after the final status comes one `end` event (no id) and the stream closes. Comment
//! lines (`: keep-alive`) are sent every 15 s of silence. When the server shuts down, the stream
//! ends with one `shutdown` event (no id, data `{"message": …}`): reconnect later with
//! `Last-Event-ID` to continue where it stopped.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt, stream};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Routes;
use super::extract::LastEventId;
use super::jobs::{stored_json, timestamp};
use super::problem::ApiError;
use crate::jobs::JobQueue;
use crate::jobs::events::{Followed, announced_status, is_final};
use crate::store::{EventKind, StoreError};

pub fn routes() -> Routes {
    Routes::new().route("/v1/jobs/{id}/events", &["GET"], get(events))
}

async fn events(
    State(queue): State<Arc<JobQueue>>,
    State(shutdown): State<CancellationToken>,
    Path(id): Path<String>,
    LastEventId(after): LastEventId,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let rows = queue.events(&id, after).await?;
    let stopping = shutdown.clone();
    let farewell =
        stream::once(async move { stopping.is_cancelled() }).filter_map(|stopped| async move {
            stopped.then(|| {
                let data = json!({"message": "the server is shutting down; reconnect with \
                    Last-Event-ID to continue"});
                Ok(Event::default().event("shutdown").data(data.to_string()))
            })
        });
    let events = rows
        .flat_map(|item| stream::iter(sse_events(item)))
        .take_until(shutdown.cancelled_owned())
        .chain(farewell);
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    ))
}

/// The SSE event(s) for one stored event: the event itself, plus `end` after a final status
/// (or `end` alone for a reader that was past the final status already).
fn sse_events(item: Result<Followed, StoreError>) -> Vec<Result<Event, Infallible>> {
    let row = match item {
        Ok(Followed::Event(row)) => row,
        Ok(Followed::Ended(status)) => return vec![Ok(end_event(Some(status.as_str())))],
        Err(error) => {
            tracing::error!(%error, "reading job events failed");
            let data = json!({"message": "the server could not read the job's events"});
            return vec![Ok(Event::default().event("error").data(data.to_string()))];
        }
    };
    let mut data = stored_json(Some(&row.body));
    if matches!(row.kind, EventKind::Status | EventKind::Log)
        && let Value::Object(fields) = &mut data
    {
        fields.insert("at".into(), timestamp(row.at));
    }
    let event = Event::default()
        .event(row.kind.as_str())
        .id(row.seq.to_string())
        .data(data.to_string());
    let mut events = vec![Ok(event)];
    if is_final(&row) {
        events.push(Ok(end_event(announced_status(&row).map(|s| s.as_str()))));
    }
    events
}

/// The `end` event: no id, data `{"status": …}`.
fn end_event(status: Option<&str>) -> Event {
    Event::default()
        .event("end")
        .data(json!({"status": status}).to_string())
}
