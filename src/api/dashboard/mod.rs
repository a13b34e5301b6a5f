//! The dashboard: server-rendered HTML pages over the same `JobQueue` the API uses — the job
//! list (`/`), a job's page (`/jobs/{id}`), a comparison (`/compare?jobs=ID,ID&metric=…`),
//! descent on a formula (`/descent`) and the submit form (`/submit`).
//!
//! Markup comes from `maud` (every spliced value escaped at compile time); the CSS and the
//! small vanilla script are embedded in each page, so nothing is fetched from elsewhere and
//! there is no front-end build. Live updates use the API itself: `GET /v1/jobs`, the job's
//! event stream and its SVG plot endpoints. Errors are pages with the status and the fields
//! the API's problem would carry.

mod compare;
mod descent;
mod examples;
mod jobs;
mod markup;
mod submit;

pub use compare::comparison;

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

use super::Routes;
use super::extract::{Page, Params, encode_cursor, parse_json};
use super::problem::{ApiError, Problem};
use crate::jobs::descent::{check_plottable, contour_svg, read_problem, refusal};
use crate::jobs::plots::compared_ids;
use crate::jobs::queue::{Submission, Submitted};
use crate::jobs::{JobQueue, JobsError, Rejection};

pub fn routes() -> Routes {
    Routes::new()
        .route("/", &["GET"], get(home))
        .route("/jobs/{id}", &["GET"], get(job))
        .route("/jobs/{id}/cancel", &["POST"], post(cancel_job))
        .route("/compare", &["GET"], get(compare))
        .route("/sweeps/{id}", &["GET"], get(sweep))
        .route("/descent", &["GET"], get(descent))
        .route("/submit", &["GET", "POST"], get(submit_form).post(submit))
}

/// Any refusal, answered as an HTML page with the status the API would give.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl From<JobsError> for PageError {
    fn from(error: JobsError) -> Self {
        PageError(ApiError::from(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        log(&self.0);
        (status, markup::problem_page(&self.0.problem())).into_response()
    }
}

/// Logs a refusal as the API does: server errors with their cause, the rest at debug level.
fn log(error: &ApiError) {
    if error.status().is_server_error() {
        tracing::error!(error = %error, debug = ?error, "page failed");
    } else {
        tracing::debug!(error = %error, "page refused");
    }
}

/// The query as pairs in order (a repeated name keeps every value).
fn pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|rejection| ApiError::BadParameter(Rejection::new("query", rejection.body_text())))
}

async fn home(
    State(queue): State<Arc<JobQueue>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Markup, PageError> {
    let params = Params(pairs(query)?.into_iter().collect());
    let page = Page::from_params(&params)?;
    let first = page.before.is_none();
    let (jobs, next) = queue.list(None, page.limit, page.before).await?;
    Ok(jobs::list_page(
        &jobs,
        page.limit,
        next.as_ref().map(encode_cursor),
        first,
    ))
}

async fn job(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    Ok(jobs::job_page(&queue.get(&id).await?))
}

/// The job page's cancel button: cancels the job as `POST /v1/jobs/{id}/cancel` does and
/// redirects (303) back to its page; an unknown or finished job gets the problem page.
async fn cancel_job(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let job = queue.cancel(&id).await?;
    Ok(Redirect::to(&format!("/jobs/{}", job.id)))
}

/// `?jobs=` may be repeated (the job list's checkboxes) or hold ids separated by commas.
async fn compare(
    State(queue): State<Arc<JobQueue>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Markup, PageError> {
    let pairs = pairs(query)?;
    let ids = compared_ids(
        pairs
            .iter()
            .filter(|(name, _)| name == "jobs")
            .map(|(_, value)| value.as_str()),
    )?;
    let metric = pairs
        .iter()
        .rev()
        .find(|(name, value)| name == "metric" && !value.trim().is_empty())
        .map_or("loss", |(_, value)| value.trim())
        .to_owned();
    let mut jobs = Vec::with_capacity(ids.len());
    for id in &ids {
        jobs.push(queue.row(id).await?);
    }
    // The metric picker parses every job's resolved spec, which may hold megabytes of inline
    // data: the page is built off the async threads.
    render_off_runtime(move || compare::compare_page(&jobs, &metric)).await
}

/// Builds a page on the blocking pool, for pages whose building parses stored specs.
async fn render_off_runtime(
    build: impl FnOnce() -> Markup + Send + 'static,
) -> Result<Markup, PageError> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|e| JobsError::Corrupt(format!("building the page stopped: {e}")).into())
}

/// A sweep's jobs compared, in sweep order, with the values the grid set for each.
async fn sweep(
    State(queue): State<Arc<JobQueue>>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Markup, PageError> {
    let pairs = pairs(query)?;
    let metric = pairs
        .iter()
        .rev()
        .find(|(name, value)| name == "metric" && !value.trim().is_empty())
        .map_or("loss", |(_, value)| value.trim());
    let details = queue.sweep(&id).await?;
    let jobs: Vec<(crate::store::JobRow, String)> = details
        .jobs
        .iter()
        .map(|entry| (entry.job.clone(), entry.overrides.clone()))
        .collect();
    let title = match &details.sweep.name {
        Some(name) => format!("Sweep {name}"),
        None => format!("Sweep {}", details.sweep.id),
    };
    let sweep_id = details.sweep.id;
    let metric = metric.to_owned();
    render_off_runtime(move || compare::sweep_page(&title, &sweep_id, &jobs, &metric)).await
}

/// Runs the descent the form describes; what is wrong with it is shown beside the form (with
/// the status the API would answer), not as an error page.
async fn descent(
    State(queue): State<Arc<JobQueue>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, PageError> {
    let form = descent::DescentForm::from_query(&pairs(query)?);
    match descent_svg(&queue, &form).await {
        Ok(svg) => Ok(descent::descent_page(&form, Ok(&svg)).into_response()),
        Err(error) => {
            log(&error);
            let problem = error.problem();
            Ok((error.status(), descent::descent_page(&form, Err(&problem))).into_response())
        }
    }
}

async fn descent_svg(queue: &JobQueue, form: &descent::DescentForm) -> Result<String, ApiError> {
    let body = form.request().map_err(JobsError::InvalidInput)?;
    let problem = read_problem(&body)?;
    check_plottable(&problem)?;
    // Up to 100 000 steps and a contour grid: off the async threads and within the API's
    // bound on descents computing at once.
    queue
        .descents()
        .run(move || {
            let path = crate::descent::run(&problem).map_err(refusal)?;
            contour_svg(&problem, &path)
        })
        .await?
        .map_err(ApiError::from)
}

async fn submit_form(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Markup, PageError> {
    let pairs = pairs(query)?;
    let Some((_, name)) = pairs.iter().rev().find(|(name, _)| name == "example") else {
        return Ok(submit::submit_page("", None, None));
    };
    let text = examples::job_example(name).ok_or_else(|| {
        ApiError::BadParameter(Rejection::new(
            "example",
            format!("no example named {name:?}; the examples are listed on /submit"),
        ))
    })?;
    Ok(submit::submit_page(text, Some(name), None))
}

#[derive(Debug, Deserialize)]
struct SubmitFields {
    spec: String,
}

/// Queues the posted spec and redirects (303) to the job's page; a refusal shows the form
/// again with the spec as typed and the problem's fields.
async fn submit(
    State(queue): State<Arc<JobQueue>>,
    form: Result<Form<SubmitFields>, FormRejection>,
) -> Response {
    let text = match form {
        Ok(Form(fields)) => fields.spec,
        Err(rejection) => {
            let problem = Problem {
                kind: "/problems/bad-request".into(),
                title: "Bad form",
                status: rejection.status().as_u16(),
                detail: rejection.body_text(),
                errors: Vec::new(),
            };
            return refused(rejection.status(), "", &problem);
        }
    };
    // Read by the API body's rules: a key repeated in one object is refused, not resolved to
    // its last value, so the form queues exactly what `POST /v1/jobs` would.
    let spec = match parse_json(text.as_bytes()) {
        Ok(spec) => spec,
        Err(error) => {
            let message = if error.is_data() {
                format!("is refused: {error}")
            } else {
                format!("is not JSON: {error}")
            };
            let problem = ApiError::BadParameter(Rejection::new("spec", message)).problem();
            return refused(StatusCode::BAD_REQUEST, &text, &problem);
        }
    };
    let submission = Submission {
        spec,
        idempotency_key: None,
        priority: 0,
        dry_run: false,
    };
    match queue.submit(submission).await {
        Ok(Submitted::Created(job) | Submitted::Replayed(job)) => {
            Redirect::to(&format!("/jobs/{}", job.id)).into_response()
        }
        Ok(Submitted::DryRun(_)) => {
            let error = ApiError::from(JobsError::Corrupt(
                "the queue answered a submission as a dry run".into(),
            ));
            log(&error);
            refused(error.status(), &text, &error.problem())
        }
        Err(error) => {
            let error = ApiError::from(error);
            log(&error);
            refused(error.status(), &text, &error.problem())
        }
    }
}

fn refused(status: StatusCode, spec: &str, problem: &Problem) -> Response {
    (status, submit::submit_page(spec, None, Some(problem))).into_response()
}
