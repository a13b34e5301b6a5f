//! Trained models: `/v1/jobs/{id}/model` and `/v1/jobs/{id}/predict` serve a succeeded job's
//! model (trainyard JSON, safetensors or ONNX); `/v1/models` imports a model from trainyard
//! JSON or safetensors, and `/v1/models/{id}` reads, exports, runs and deletes it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::Routes;
use super::extract::{JsonBody, ModelBody, Params};
use super::jobs::{stored_json, timestamp};
use super::problem::ApiError;
use crate::jobs::imported::ImportBody;
use crate::jobs::model::{ExportFormat, Prediction, model_json_bytes};
use crate::jobs::{JobQueue, Rejection};
use crate::store::ImportedModelRecord;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/jobs/{id}/model", &["GET"], get(model))
        .route("/v1/jobs/{id}/predict", &["POST"], post(predict))
        .route("/v1/models", &["POST"], post(import))
        .route(
            "/v1/models/{id}",
            &["GET", "DELETE"],
            get(read_model).delete(delete_model),
        )
        .route("/v1/models/{id}/predict", &["POST"], post(predict_model))
}

/// An imported model as the API shows it.
fn imported_json(record: &ImportedModelRecord) -> Value {
    let meta = stored_json(Some(&record.model.meta));
    json!({
        "id": record.id,
        "architecture": meta["architecture"],
        "parameter_count": record.parameter_count,
        "input_width": record.input_width,
        "output_width": meta["output_width"],
        "loss": meta["loss"],
        "class_names": meta["class_names"],
        "standardized": !meta["standardization"].is_null(),
        "weights_sha256": record.model.weights_sha256,
        "created_at": timestamp(record.model.created_at),
    })
}

async fn import(State(queue): State<Arc<JobQueue>>, body: ModelBody) -> Result<Response, ApiError> {
    let body = match body {
        ModelBody::Json(document) => ImportBody::Json(document),
        ModelBody::Bytes(bytes) => ImportBody::Safetensors(bytes.to_vec()),
    };
    let record = queue.import_model(body).await?;
    let location = format!("/v1/models/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(imported_json(&record)),
    )
        .into_response())
}

async fn read_model(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if params.get("format").is_none() {
        let record = queue.imported_model(&id).await?;
        return Ok(Json(imported_json(&record)).into_response());
    }
    let format = export_format(&params)?;
    if format == ExportFormat::Json {
        let record = queue.imported_model(&id).await?;
        return Ok(json_response(
            model_json_bytes(record.id, record.model).await?,
        ));
    }
    let bytes = queue.export_imported_model(&id, format).await?;
    Ok(file_response(
        bytes,
        format,
        &format!("trainyard-model-{id}"),
    ))
}

async fn delete_model(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    queue.delete_model(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn predict_model(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let prediction = queue.predict_model(&id, body).await?;
    Ok(Json(prediction_json(&prediction)))
}

/// `?format=json|safetensors|onnx`; an unknown name is a 400 naming `format`, as for every
/// other query parameter.
pub fn export_format(params: &Params) -> Result<ExportFormat, ApiError> {
    let name = params.get("format").unwrap_or("json");
    ExportFormat::from_name(name).ok_or_else(|| {
        ApiError::BadParameter(Rejection::new(
            "format",
            format!(
                "must be one of {}, got {name:?}",
                ExportFormat::NAMES.join(", ")
            ),
        ))
    })
}

/// JSON text serialized off the async threads, served as `Json` would serve it.
fn json_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
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
        return Ok(json_response(model_json_bytes(job.id, record).await?));
    }
    let bytes = queue.export_job_model(&id, format).await?;
    Ok(file_response(bytes, format, &format!("trainyard-job-{id}")))
}

async fn predict(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let prediction = queue.predict(&id, body).await?;
    Ok(Json(prediction_json(&prediction)))
}

fn prediction_json(prediction: &Prediction) -> Value {
    let outputs: Vec<Vec<f32>> = prediction
        .outputs
        .rows()
        .into_iter()
        .map(|row| row.to_vec())
        .collect();
    json!({
        "outputs": outputs,
        "classes": prediction.classes,
        "class_names": prediction.class_names,
    })
}
