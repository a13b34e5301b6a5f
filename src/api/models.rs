//! `/v1/jobs/{id}/model` and `/v1/jobs/{id}/predict`: a succeeded job's trained model, served
//! as trainyard JSON, safetensors or ONNX.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::Routes;
use super::extract::{JsonBody, Params};
use super::problem::ApiError;
use crate::jobs::model::{ExportFormat, model_json};
use crate::jobs::{JobQueue, JobsError, Rejection};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/jobs/{id}/model", &["GET"], get(model))
        .route("/v1/jobs/{id}/predict", &["POST"], post(predict))
}

/// `?format=json|safetensors|onnx`; an unknown name is a 422 naming `format`.
pub fn export_format(params: &Params) -> Result<ExportFormat, ApiError> {
    let name = params.get("format").unwrap_or("json");
    ExportFormat::from_name(name).ok_or_else(|| {
        ApiError::Jobs(JobsError::InvalidInput(vec![Rejection::new(
            "format",
            format!(
                "must be one of {}, got {name:?}",
                ExportFormat::NAMES.join(", ")
            ),
        )]))
    })
}

/// A model file as a download: `application/octet-stream` for safetensors,
/// `application/onnx` for ONNX, named `{stem}.{extension}`.
pub fn file_response(bytes: Vec<u8>, format: ExportFormat, stem: &str) -> Response {
    let content_type = match format {
        ExportFormat::Onnx => "application/onnx",
        ExportFormat::Json => "application/json",
        ExportFormat::Safetensors => "application/octet-stream",
    };
    let disposition = format!("attachment; filename=\"{stem}.{}\"", format.extension());
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

async fn model(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let format = export_format(&params)?;
    if format == ExportFormat::Json {
        let (job, record) = queue.model(&id).await?;
        return Ok(Json(model_json(&job.id, &record)?).into_response());
    }
    let bytes = queue.export_job_model(&id, format).await?;
    Ok(file_response(bytes, format, &format!("trainyard-job-{id}")))
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
