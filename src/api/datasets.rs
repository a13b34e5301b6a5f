//! `/v1/datasets`: upload a CSV, list the built-in and uploaded datasets, read, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::Routes;
use super::extract::{CsvBody, DEFAULT_PAGE, MAX_PAGE, Params};
use super::jobs::{stored_json, timestamp};
use super::problem::ApiError;
use crate::jobs::datasets::{DatasetCursor, DatasetEntry};
use crate::jobs::{JobQueue, Rejection};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/datasets", &["GET", "POST"], get(list).post(upload))
        .route(
            "/v1/datasets/{id}",
            &["GET", "DELETE"],
            get(read).delete(delete),
        )
}

/// A dataset as the API shows it.
fn dataset_json(entry: &DatasetEntry) -> Value {
    match entry {
        DatasetEntry::Builtin(info) => json!({
            "id": info.name,
            "name": info.name,
            "title": info.title,
            "builtin": true,
            "rows": info.rows,
            "features": info.features,
            "classes": info.classes,
            "class_names": info.class_names,
            "class_counts": info.class_counts,
            "image_shape": info.image_shape.map(|(h, w)| [h, w]),
            "label_column": "label",
            "license": info.license,
            "source": info.source,
            "created_at": null,
        }),
        DatasetEntry::Uploaded(meta) => {
            let stored = stored_json(Some(&meta.meta));
            json!({
                "id": meta.id,
                "name": meta.name,
                "builtin": false,
                "rows": meta.rows,
                "features": meta.features,
                "classes": meta.classes,
                "class_names": stored["class_names"],
                "class_counts": stored["targets"]["class_counts"],
                "feature_names": stored["feature_names"],
                "label_column": meta.label_column,
                "created_at": timestamp(meta.created_at),
            })
        }
    }
}

fn encode_cursor(cursor: &DatasetCursor) -> String {
    let text = match cursor {
        DatasetCursor::Builtin(index) => format!("b:{index}"),
        DatasetCursor::Uploaded(None) => "u:".to_owned(),
        DatasetCursor::Uploaded(Some((at, id))) => format!("u:{at}:{id}"),
    };
    hex::encode(text)
}

fn decode_cursor(text: &str) -> Result<DatasetCursor, ApiError> {
    let invalid = || {
        ApiError::BadParameter(Rejection::new(
            "cursor",
            "is not a cursor this server issued",
        ))
    };
    let bytes = hex::decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    if let Some(index) = text.strip_prefix("b:") {
        return index
            .parse()
            .map(DatasetCursor::Builtin)
            .map_err(|_| invalid());
    }
    match text.strip_prefix("u:") {
        Some("") => Ok(DatasetCursor::Uploaded(None)),
        Some(key) => {
            let (at, id) = key.split_once(':').ok_or_else(invalid)?;
            let at = at.parse().map_err(|_| invalid())?;
            Ok(DatasetCursor::Uploaded(Some((at, id.to_owned()))))
        }
        None => Err(invalid()),
    }
}

async fn upload(
    State(queue): State<Arc<JobQueue>>,
    params: Params,
    CsvBody(bytes): CsvBody,
) -> Result<Response, ApiError> {
    let name = params
        .get("name")
        .ok_or_else(|| ApiError::BadParameter(Rejection::new("name", "is required: ?name=…")))?;
    let label_column = params.get("label_column").unwrap_or("label");
    let meta = queue.upload_dataset(name, label_column, bytes).await?;
    let location = format!("/v1/datasets/{}", meta.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(dataset_json(&DatasetEntry::Uploaded(meta))),
    )
        .into_response())
}

async fn list(State(queue): State<Arc<JobQueue>>, params: Params) -> Result<Json<Value>, ApiError> {
    let limit = params.integer("limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let cursor = params.get("cursor").map(decode_cursor).transpose()?;
    let page = queue
        .list_datasets(u32::try_from(limit).unwrap_or(50), cursor)
        .await?;
    Ok(Json(json!({
        "items": page.items.iter().map(dataset_json).collect::<Vec<_>>(),
        "next_cursor": page.next.as_ref().map(encode_cursor),
    })))
}

async fn read(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(dataset_json(&queue.dataset(&id).await?)))
}

async fn delete(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    queue.delete_dataset(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
