//! `/v1/sweeps`: submit a grid over a base job spec, list, read with each job's best metric,
//! the overlay plot of one metric across the sweep's jobs, cancel and delete the whole sweep.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::Routes;
use super::extract::{IdempotencyKey, JsonBody, Page, Params, encode_cursor};
use super::jobs::{stored_json, timestamp};
use super::problem::ApiError;
use crate::jobs::sweeps::{
    DEFAULT_METRIC, PlannedSweep, SweepDetails, SweepSubmitted, SweepSummary, stored_overrides,
};
use crate::jobs::{JobQueue, JobsError, Rejection};
use crate::store::{JobStatus, SweepEntry};

/// Longest metric name a summary or plot accepts.
const MAX_METRIC_CHARS: usize = 64;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/sweeps", &["GET", "POST"], get(list).post(submit))
        .route(
            "/v1/sweeps/{id}",
            &["GET", "DELETE"],
            get(read).delete(delete),
        )
        .route("/v1/sweeps/{id}/cancel", &["POST"], post(cancel))
        .route("/v1/sweeps/{id}/plots/{file}", &["GET"], get(plot))
}

/// `{status: count}` with every status.
fn counts_json(counts: &[(JobStatus, u64)]) -> Value {
    let mut map = Map::new();
    for status in JobStatus::ALL {
        let n = counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        map.insert(status.as_str().into(), json!(n));
    }
    Value::Object(map)
}

/// The fields every rendering of a sweep shares.
fn sweep_fields(details: &SweepDetails) -> Map<String, Value> {
    let sweep = &details.sweep;
    let mut fields = Map::new();
    fields.insert("id".into(), json!(sweep.id));
    fields.insert("name".into(), json!(sweep.name));
    fields.insert("created_at".into(), timestamp(sweep.created_at));
    fields.insert("seed".into(), json!(sweep.seed));
    fields.insert("varying".into(), json!(details.varying));
    fields
}

/// What `POST /v1/sweeps` answers: the sweep and its jobs with their overrides.
fn created_json(details: &SweepDetails) -> Value {
    let mut fields = sweep_fields(details);
    fields.insert(
        "jobs".into(),
        details
            .jobs
            .iter()
            .map(|j| {
                json!({
                    "id": j.job.id,
                    "name": j.job.name,
                    "status": j.job.status.as_str(),
                    "overrides": stored_overrides(j),
                })
            })
            .collect(),
    );
    Value::Object(fields)
}

fn dry_run_json(plan: &PlannedSweep) -> Value {
    json!({
        "dry_run": true,
        "name": plan.name,
        "seed": plan.seed,
        "varying": plan.varying,
        "jobs": plan.jobs.iter().map(|job| json!({
            "name": job.validated.name,
            "overrides": job.overrides,
            "parameter_count": job.validated.parameter_count,
            "total_steps": job.validated.total_steps,
            "work": job.work,
        })).collect::<Vec<_>>(),
    })
}

/// `{"epoch": e, "<metric>": v}`, as a job's `best` reads.
fn best_json(metric: &str, epoch: usize, value: f64) -> Value {
    let mut best = Map::new();
    best.insert("epoch".into(), json!(epoch));
    best.insert(metric.into(), json!(value));
    Value::Object(best)
}

/// What `GET /v1/sweeps/{id}` shows.
fn summary_json(summary: &SweepSummary) -> Value {
    let details = &summary.details;
    let mut fields = sweep_fields(details);
    fields.insert("base".into(), stored_json(Some(&details.sweep.base)));
    fields.insert("grid".into(), stored_json(Some(&details.sweep.grid)));
    fields.insert("counts".into(), counts_json(&summary.counts()));
    fields.insert(
        "finished".into(),
        json!(details.jobs.iter().all(|j| j.job.status.is_terminal())),
    );
    fields.insert("metric".into(), json!(summary.metric));
    fields.insert(
        "goal".into(),
        json!(if summary.higher_is_better {
            "max"
        } else {
            "min"
        }),
    );
    let jobs: Vec<Value> = details
        .jobs
        .iter()
        .zip(&summary.best)
        .map(|(j, best)| {
            let progress = stored_json(j.job.progress.as_deref());
            json!({
                "id": j.job.id,
                "name": j.job.name,
                "status": j.job.status.as_str(),
                "overrides": stored_overrides(j),
                "epoch": progress.get("epoch").cloned().unwrap_or(json!(0)),
                "epochs": j.job.epochs,
                "best": best.map(|b| best_json(&summary.metric, b.epoch, b.value)),
                "error": stored_json(j.job.error.as_deref()),
            })
        })
        .collect();
    let best = summary.best_job.and_then(|i| {
        let job = details.jobs.get(i)?;
        let best = summary.best.get(i).copied().flatten()?;
        Some(json!({
            "job_id": job.job.id,
            "overrides": stored_overrides(job),
            "epoch": best.epoch,
            "value": best.value,
        }))
    });
    fields.insert("best".into(), best.unwrap_or(Value::Null));
    fields.insert("jobs".into(), Value::Array(jobs));
    Value::Object(fields)
}

fn entry_json(entry: &SweepEntry) -> Value {
    let total: u64 = entry.counts.iter().map(|(_, n)| n).sum();
    let active = entry.counts.iter().any(|(s, n)| !s.is_terminal() && *n > 0);
    json!({
        "id": entry.sweep.id,
        "name": entry.sweep.name,
        "created_at": timestamp(entry.sweep.created_at),
        "seed": entry.sweep.seed,
        "job_count": total,
        "counts": counts_json(&entry.counts),
        "finished": !active,
    })
}

/// `?metric=`: a name an epoch record may hold.
fn metric(params: &Params) -> Result<String, ApiError> {
    check_metric(params.get("metric").unwrap_or(DEFAULT_METRIC))
}

fn check_metric(metric: &str) -> Result<String, ApiError> {
    let valid = !metric.is_empty()
        && metric.len() <= MAX_METRIC_CHARS
        && metric
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(metric.to_owned())
    } else {
        Err(ApiError::BadParameter(Rejection::new(
            "metric",
            format!(
                "must be the name of a value of an epoch record (loss, val_loss, accuracy…), \
                 got {metric:?}"
            ),
        )))
    }
}

async fn submit(
    State(queue): State<Arc<JobQueue>>,
    params: Params,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let dry_run = params.flag("dry_run")?;
    let (status, details) = match queue.submit_sweep(&body, dry_run, idempotency_key).await? {
        SweepSubmitted::DryRun(plan) => {
            return Ok((StatusCode::OK, Json(dry_run_json(&plan))).into_response());
        }
        SweepSubmitted::Created(details) => (StatusCode::CREATED, details),
        SweepSubmitted::Replayed(details) => (StatusCode::OK, details),
    };
    let location = format!("/v1/sweeps/{}", details.sweep.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(created_json(&details)),
    )
        .into_response())
}

async fn list(State(queue): State<Arc<JobQueue>>, params: Params) -> Result<Json<Value>, ApiError> {
    let page = Page::from_params(&params)?;
    let (sweeps, next) = queue.list_sweeps(page.limit, page.before).await?;
    Ok(Json(json!({
        "items": sweeps.iter().map(entry_json).collect::<Vec<_>>(),
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

async fn read(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let metric = metric(&params)?;
    Ok(Json(summary_json(
        &queue.sweep_summary(&id, &metric).await?,
    )))
}

async fn cancel(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    queue.cancel_sweep(&id).await?;
    Ok(Json(summary_json(
        &queue.sweep_summary(&id, DEFAULT_METRIC).await?,
    )))
}

async fn delete(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    queue.delete_sweep(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn plot(
    State(queue): State<Arc<JobQueue>>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = file.strip_suffix(".svg").ok_or_else(|| {
        JobsError::InvalidInput(vec![Rejection::new(
            "metric",
            format!("sweep plots are served as {{metric}}.svg; got {file:?}"),
        )])
    })?;
    let metric = check_metric(name)?;
    let svg = queue.sweep_plot(&id, &metric).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}
