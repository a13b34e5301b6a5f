//! `GET /metrics` (the Prometheus text exposition format) and the middleware that counts and
//! times every routed request by its route template (`MatchedPath`) and status.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Routes;
use super::problem::ApiError;
use crate::jobs::JobQueue;

/// The content type of the text format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> Routes {
    Routes::new().route("/metrics", &["GET"], get(metrics))
}

async fn metrics(State(queue): State<Arc<JobQueue>>) -> Result<Response, ApiError> {
    let text = queue.metrics_text().await?;
    Ok(([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response())
}

/// Counts the request and observes its latency (to the response head) under its route template.
pub async fn track(State(queue): State<Arc<JobQueue>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    queue.service_metrics().http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
