//! `/v1/descent`: run an optimizer on a formula and answer with its path, at once (no queue);
//! with `?format=svg`, the path drawn over the contour lines of a two-variable function.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::Routes;
use super::extract::{JsonBody, Params};
use super::problem::ApiError;
use crate::jobs::JobQueue;
use crate::jobs::descent::{check_plottable, contour_svg, path_json, read_problem, refusal};

pub fn routes() -> Routes {
    Routes::new().route("/v1/descent", &["POST"], post(descent))
}

async fn descent(
    State(queue): State<Arc<JobQueue>>,
    params: Params,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let svg = params.choice("format", &["json", "svg"])? == "svg";
    let problem = read_problem(&body)?;
    if svg {
        check_plottable(&problem)?;
    }
    // Up to 100 000 steps of CPU work (and a contour grid): off the async threads, and no
    // more at once than there are cores, so that concurrent requests cannot starve training.
    let answer = queue
        .descents()
        .run(move || {
            let path = crate::descent::run(&problem).map_err(refusal)?;
            if svg {
                contour_svg(&problem, &path).map(Answer::Svg)
            } else {
                Ok(Answer::Json(path_json(&path)))
            }
        })
        .await??;
    Ok(match answer {
        Answer::Json(value) => Json(value).into_response(),
        Answer::Svg(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
    })
}

enum Answer {
    Json(serde_json::Value),
    Svg(String),
}
