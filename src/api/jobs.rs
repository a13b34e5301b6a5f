//! `/v1/jobs`: submit, list, read, cancel, delete, and the epoch metrics of a job.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::Routes;
use super::extract::{IdempotencyKey, JsonBody, Page, Params, encode_cursor};
use super::problem::ApiError;
use crate::jobs::queue::{DryRun, JobDetails, Submission, Submitted};
use crate::jobs::{JobQueue, JobsError};
use crate::store::{EventRow, JobRow, JobStatus};

/// Default and largest number of epoch records per metrics page.
const DEFAULT_METRICS_PAGE: i64 = 1000;
const MAX_METRICS_PAGE: i64 = 10_000;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/jobs", &["GET", "POST"], get(list).post(submit))
        .route(
            "/v1/jobs/{id}",
            &["GET", "DELETE"],
            get(read).delete(delete),
        )
        .route("/v1/jobs/{id}/cancel", &["POST"], post(cancel))
        .route("/v1/jobs/{id}/metrics", &["GET"], get(metrics))
}

/// An RFC 3339 UTC timestamp with milliseconds, from the store's milliseconds.
pub fn timestamp(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms).map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

fn optional_timestamp(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, timestamp)
}

/// Parses JSON text the store holds; text that does not parse is shown as null (and logged).
pub fn stored_json(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|error| {
            tracing::error!(%error, "stored JSON does not parse");
            Value::Null
        }),
    }
}

/// `progress`, `latest` and `best` of a job, from what its worker last wrote.
fn progress_parts(job: &JobRow) -> (Value, Value, Value) {
    let stored = stored_json(job.progress.as_deref());
    let field = |name: &str| stored.get(name).cloned().unwrap_or(Value::Null);
    let progress = if stored.is_null() {
        json!({"epoch": 0, "epochs": job.epochs, "step": 0, "fraction": 0.0,
               "eta_seconds": null, "checkpoint": null})
    } else {
        json!({"epoch": field("epoch"), "epochs": job.epochs, "step": field("step"),
               "fraction": field("fraction"), "eta_seconds": field("eta_seconds"),
               "checkpoint": field("checkpoint")})
    };
    (progress, field("latest"), field("best"))
}

/// The fields every rendering of a job shares.
fn job_fields(job: &JobRow) -> Map<String, Value> {
    let (progress, latest, best) = progress_parts(job);
    let fields = json!({
        "id": job.id,
        "name": job.name,
        "status": job.status.as_str(),
        "priority": job.priority,
        "created_at": timestamp(job.created_at),
        "started_at": optional_timestamp(job.started_at),
        "finished_at": optional_timestamp(job.finished_at),
        "progress": progress,
        "latest": latest,
        "best": best,
        "error": stored_json(job.error.as_deref()),
        "parameter_count": job.parameter_count,
        "total_steps": job.total_steps,
        "seed": job.seed,
        "weights_sha256": job.weights_sha256,
        "cancel_requested": job.cancel_requested,
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One entry of a job's history.
fn history_entry(event: &EventRow) -> Value {
    let body = stored_json(Some(&event.body));
    let mut entry = json!({
        "status": body.get("status").cloned().unwrap_or(Value::Null),
        "at": timestamp(event.at),
    });
    if let Some(note) = body.get("note").filter(|n| !n.is_null()) {
        entry["note"] = note.clone();
    }
    entry
}

/// A job as `GET /v1/jobs/{id}` shows it.
pub fn job_json(details: &JobDetails) -> Value {
    let job = &details.job;
    let mut fields = job_fields(job);
    fields.insert("spec".into(), stored_json(Some(&job.spec)));
    fields.insert(
        "resolved_spec".into(),
        stored_json(Some(&job.resolved_spec)),
    );
    fields.insert("queue_position".into(), json!(details.queue_position));
    fields.insert(
        "history".into(),
        details.history.iter().map(history_entry).collect(),
    );
    Value::Object(fields)
}

/// A job as lists show it: without specs and history.
pub fn job_summary(job: &JobRow) -> Value {
    Value::Object(job_fields(job))
}

/// What a dry run answers.
fn dry_run_json(dry_run: &DryRun) -> Value {
    let validated = &dry_run.validated;
    json!({
        "dry_run": true,
        "name": validated.name,
        "resolved_spec": validated.resolved,
        "parameter_count": validated.parameter_count,
        "n_train": validated.n_train,
        "n_validation": validated.n_validation,
        "batch_size": validated.batch_size,
        "steps_per_epoch": validated.steps_per_epoch,
        "total_steps": validated.total_steps,
        "seed": validated.seed,
        "work": dry_run.work,
    })
}

async fn submit(
    State(queue): State<Arc<JobQueue>>,
    params: Params,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(spec): JsonBody,
) -> Result<Response, ApiError> {
    let submission = Submission {
        spec,
        idempotency_key,
        priority: params.integer("priority", 0, -1000, 1000)?,
        dry_run: params.flag("dry_run")?,
    };
    let (status, job) = match queue.submit(submission).await? {
        Submitted::DryRun(dry_run) => {
            return Ok((StatusCode::OK, Json(dry_run_json(&dry_run))).into_response());
        }
        Submitted::Created(job) => (StatusCode::CREATED, job),
        Submitted::Replayed(job) => (StatusCode::OK, job),
    };
    let location = format!("/v1/jobs/{}", job.id);
    let details = queue.get(&job.id).await?;
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(job_json(&details)),
    )
        .into_response())
}

async fn list(State(queue): State<Arc<JobQueue>>, params: Params) -> Result<Json<Value>, ApiError> {
    let page = Page::from_params(&params)?;
    let status = params
        .get("status")
        .map(|text| {
            JobStatus::parse(text).ok_or_else(|| {
                ApiError::BadParameter(crate::jobs::Rejection::new(
                    "status",
                    format!(
                        "must be one of queued, running, succeeded, failed, cancelled; got {text:?}"
                    ),
                ))
            })
        })
        .transpose()?;
    let (jobs, next) = queue.list(status, page.limit, page.before).await?;
    Ok(Json(json!({
        "items": jobs.iter().map(job_summary).collect::<Vec<_>>(),
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

async fn read(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let details = queue.get(&id).await?;
    Ok(Json(job_json(&details)))
}

async fn cancel(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    queue.cancel(&id).await?;
    let details = queue.get(&id).await?;
    Ok(Json(job_json(&details)))
}

async fn delete(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    queue.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn metrics(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let since = params.integer("since", 0, 0, i64::MAX)?;
    let limit = params.integer("limit", DEFAULT_METRICS_PAGE, 1, MAX_METRICS_PAGE)?;
    let format = params.choice("format", &["json", "csv"])?;
    let rows = queue
        .metrics(
            &id,
            u64::try_from(since).unwrap_or(0),
            u32::try_from(limit).unwrap_or(1000),
        )
        .await?;
    let next_since = rows.last().and_then(|r| r.epoch).unwrap_or(since as u64);
    // A page is up to 10 000 stored bodies, megabytes of JSON: parsed and written out on the
    // blocking pool, so that no async worker (and no request it serves) waits for it.
    let csv = format == "csv";
    let page = tokio::task::spawn_blocking(move || {
        let records: Vec<Value> = rows
            .iter()
            .map(|row| stored_json(Some(&row.body)))
            .collect();
        if csv {
            records_csv(&records)
        } else {
            json!({"items": records, "next_since": next_since}).to_string()
        }
    })
    .await
    .map_err(|e| JobsError::Corrupt(format!("reading records stopped: {e}")))?;
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    Ok(([(header::CONTENT_TYPE, content_type)], page).into_response())
}

/// Epoch records as CSV: one row per epoch; scalar fields first (`epoch`, `step`, `loss`, the
/// rest alphabetically), then `layers.{index}.{field}` for every per-layer number, in the
/// order first seen. Linear in the page: a page of 10 000 records of a 256-layer network is a
/// few million cells.
pub fn records_csv(records: &[Value]) -> String {
    let mut scalar_columns: Vec<&str> = Vec::new();
    let mut layer_columns: Vec<(u64, &str)> = Vec::new();
    let mut seen_scalars: HashSet<&str> = HashSet::new();
    let mut seen_layers: HashSet<(u64, &str)> = HashSet::new();
    for object in records.iter().filter_map(Value::as_object) {
        for (key, value) in object {
            if key == "layers" {
                for layer in value.as_array().into_iter().flatten() {
                    let index = layer.get("index").and_then(Value::as_u64).unwrap_or(0);
                    for (field, v) in layer.as_object().into_iter().flatten() {
                        if field != "index"
                            && (v.is_number() || v.is_null())
                            && seen_layers.insert((index, field))
                        {
                            layer_columns.push((index, field));
                        }
                    }
                }
            } else if !value.is_object() && !value.is_array() && seen_scalars.insert(key) {
                scalar_columns.push(key);
            }
        }
    }
    let lead = ["epoch", "step", "loss"];
    scalar_columns.sort_by_key(|&c| (lead.iter().position(|&l| l == c).unwrap_or(lead.len()), c));
    let mut out = String::new();
    let header: Vec<String> = scalar_columns
        .iter()
        .map(|&c| c.to_owned())
        .chain(
            layer_columns
                .iter()
                .map(|(index, field)| format!("layers.{index}.{field}")),
        )
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    let mut layers: HashMap<(u64, &str), &Value> = HashMap::new();
    for record in records {
        layers.clear();
        for layer in record
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(index) = layer.get("index").and_then(Value::as_u64) else {
                continue;
            };
            for (field, v) in layer.as_object().into_iter().flatten() {
                layers.entry((index, field)).or_insert(v);
            }
        }
        let scalars = scalar_columns.iter().map(|&column| record.get(column));
        let per_layer = layer_columns
            .iter()
            .map(|&column| layers.get(&column).copied());
        for (i, value) in scalars.chain(per_layer).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_cell(value));
        }
        out.push('\n');
    }
    out
}

fn csv_cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => {
            if text.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.clone()
            }
        }
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(timestamp(0), json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(timestamp(1_500), json!("1970-01-01T00:00:01.500Z"));
    }

    #[test]
    fn metrics_csv_puts_epoch_step_loss_first_and_flattens_layers() {
        let records = [
            json!({"epoch": 1, "step": 7, "loss": 0.5, "accuracy": 0.75, "learning_rate": 0.1,
                   "layers": [{"index": 0, "name": "layers.0", "grad_norm": 0.3}]}),
            json!({"epoch": 2, "step": 14, "loss": 0.25, "accuracy": null, "learning_rate": 0.1,
                   "layers": [{"index": 0, "name": "layers.0", "grad_norm": 0.2}]}),
        ];
        assert_eq!(
            records_csv(&records),
            "epoch,step,loss,accuracy,learning_rate,layers.0.grad_norm\n\
             1,7,0.5,0.75,0.1,0.3\n\
             2,14,0.25,,0.1,0.2\n"
        );
    }

    #[test]
    fn metrics_csv_leaves_a_cell_empty_where_a_record_lacks_a_column() {
        let records = [
            json!({"epoch": 1, "loss": 0.5,
                   "layers": [{"index": 0, "grad_norm": 0.3}]}),
            json!({"epoch": 2, "loss": 0.25, "val_loss": 0.75,
                   "layers": [{"index": 2, "grad_norm": 0.1}, {"index": 0, "grad_norm": 0.2}]}),
        ];
        assert_eq!(
            records_csv(&records),
            "epoch,loss,val_loss,layers.0.grad_norm,layers.2.grad_norm\n\
             1,0.5,,0.3,\n\
             2,0.25,0.75,0.2,0.1\n"
        );
    }
}
