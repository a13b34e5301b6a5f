//! `/v1/descent`: run an optimizer on a formula and answer with its path, at once (no queue).

use axum::Json;
use axum::routing::post;
use serde_json::Value;

use super::Routes;
use super::extract::JsonBody;
use super::problem::ApiError;
use crate::jobs::JobsError;
use crate::jobs::descent::{path_json, read_problem, refusal};

pub fn routes() -> Routes {
    Routes::new().route("/v1/descent", &["POST"], post(descent))
}

async fn descent(JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    let problem = read_problem(&body)?;
    // Up to 100 000 steps of CPU work: off the async threads.
    let path = tokio::task::spawn_blocking(move || crate::descent::run(&problem))
        .await
        .map_err(|e| JobsError::Corrupt(format!("descent stopped: {e}")))?
        .map_err(refusal)?;
    Ok(Json(path_json(&path)))
}
