//! `/v1/jobs/{id}/model` and `/v1/jobs/{id}/predict`: a succeeded job's trained model.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::Routes;
use super::extract::{JsonBody, Params};
use super::problem::ApiError;
use crate::jobs::JobQueue;
use crate::jobs::model::model_json;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/jobs/{id}/model", &["GET"], get(model))
        .route("/v1/jobs/{id}/predict", &["POST"], post(predict))
}

async fn model(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    params.choice("format", &["json"])?;
    let (job, record) = queue.model(&id).await?;
    Ok(Json(model_json(&job.id, &record)?))
}

async fn predict(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let prediction = queue.predict(&id, &body).await?;
    let outputs: Vec<Vec<f32>> = prediction
        .outputs
        .rows()
        .into_iter()
        .map(|row| row.to_vec())
        .collect();
    Ok(Json(json!({
        "outputs": outputs,
        "classes": prediction.classes,
        "class_names": prediction.class_names,
    })))
}
