//! `/v1/jobs/{id}/plots/{name}.svg` and `/v1/plots/compare.svg`: a job's charts and one metric
//! of several jobs overlaid, as `image/svg+xml`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Routes;
use super::extract::Params;
use super::problem::ApiError;
use crate::jobs::{JobQueue, JobsError, Rejection};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/jobs/{id}/plots/{file}", &["GET"], get(job_plot))
        .route("/v1/plots/compare.svg", &["GET"], get(compare))
}

fn svg(document: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], document).into_response()
}

async fn job_plot(
    State(queue): State<Arc<JobQueue>>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = file.strip_suffix(".svg").ok_or_else(|| {
        JobsError::InvalidInput(vec![Rejection::new(
            "name",
            format!("plots are served as {{name}}.svg; got {file:?}"),
        )])
    })?;
    Ok(svg(queue.plot(&id, name).await?))
}

async fn compare(State(queue): State<Arc<JobQueue>>, params: Params) -> Result<Response, ApiError> {
    let jobs: Vec<&str> = params.get("jobs").into_iter().collect();
    let metric = params.get("metric").unwrap_or("loss");
    Ok(svg(queue.compare_plot(&jobs, metric).await?))
}
