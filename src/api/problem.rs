//! [`ApiError`] and its RFC 9457 body: the one place where errors become HTTP statuses.
//!
//! [`ApiError::classify`] matches every variant — and every variant of the layers' errors it
//! wraps — without a wildcard, so a new error cannot reach users without a deliberate status.
//! Internal causes (database errors, panics, corrupt rows) are logged here and never sent: the
//! body then says only that the server failed.
//!
//! Problem `type`s are the relative URIs `/problems/{slug}`; `openapi.yaml` lists them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::jobs::{JobsError, LimitExceeded, Rejection};
use crate::store::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a handler or extractor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Jobs(#[from] JobsError),
    /// The body is not JSON (syntax, NaN/Infinity literals, too deep, numbers out of range, a
    /// key repeated in one object).
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// API keys are configured and the request carries none of them.
    #[error(
        "{} send a configured API key as `Authorization: Bearer KEY` (or as the password of \
         HTTP Basic)",
        if *presented { "the API key is not one of the configured keys;" } else { "an API key is required:" }
    )]
    Unauthorized {
        challenge: Challenge,
        presented: bool,
    },
    /// A browser says this request, which would change something, comes from another site.
    #[error(
        "the request comes from another site (Sec-Fetch-Site or Origin); changes are only \
         taken from this server's own pages and from clients that are not browsers"
    )]
    CrossSite,
    #[error("the body must be sent as {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the body exceeds --max-body-bytes {limit}")]
    PayloadTooLarge { limit: usize },
    #[error("the body could not be read: {0}")]
    UnreadableBody(String),
    /// A query parameter or header that cannot be understood.
    #[error("{}: {}", .0.path, .0.message)]
    BadParameter(Rejection),
    #[error("no route {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A handler panicked; the panic message is logged.
    #[error("a handler panicked")]
    Panic,
}

/// The RFC 9457 body.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub errors: Vec<ProblemField>,
}

/// One offending field of a problem.
#[derive(Debug, Serialize)]
pub struct ProblemField {
    pub path: String,
    pub message: String,
}

/// The `WWW-Authenticate` challenge a 401 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// API clients: `Bearer`.
    Bearer,
    /// Dashboard pages: `Basic`, which a browser answers by asking for the key.
    Basic,
}

/// Status, slug and title of one kind of problem.
struct Class {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
}

const fn class(status: StatusCode, slug: &'static str, title: &'static str) -> Class {
    Class {
        status,
        slug,
        title,
    }
}

const INTERNAL: Class = class(
    StatusCode::INTERNAL_SERVER_ERROR,
    "internal",
    "The server failed to answer",
);

impl ApiError {
    /// The one exhaustive error → status table.
    fn classify(&self) -> Class {
        match self {
            ApiError::Jobs(error) => match error {
                JobsError::InvalidSpec(_) => class(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-spec",
                    "The job spec is invalid",
                ),
                JobsError::InvalidInput(_) => class(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-input",
                    "The request is invalid",
                ),
                JobsError::Limit(_) => class(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "limit-exceeded",
                    "The request exceeds a configured limit",
                ),
                JobsError::QueueFull { .. } => class(
                    StatusCode::TOO_MANY_REQUESTS,
                    "queue-full",
                    "The job queue is full",
                ),
                JobsError::JobNotFound(_) => {
                    class(StatusCode::NOT_FOUND, "not-found", "No such job")
                }
                JobsError::ModelNotFound(_) => {
                    class(StatusCode::NOT_FOUND, "not-found", "No such model")
                }
                JobsError::PlotNotFound { .. } => {
                    class(StatusCode::NOT_FOUND, "not-found", "No such plot")
                }
                JobsError::DatasetNotFound(_) => {
                    class(StatusCode::NOT_FOUND, "not-found", "No such dataset")
                }
                JobsError::JobFinished { .. } => class(
                    StatusCode::CONFLICT,
                    "job-finished",
                    "The job has already finished",
                ),
                JobsError::JobActive { .. } => class(
                    StatusCode::CONFLICT,
                    "job-active",
                    "The job is still queued or running",
                ),
                JobsError::ModelNotReady { .. } => class(
                    StatusCode::CONFLICT,
                    "model-not-ready",
                    "The job has no model yet",
                ),
                JobsError::IdempotencyKeyReused { .. } => class(
                    StatusCode::CONFLICT,
                    "idempotency-key-reused",
                    "The Idempotency-Key was used for a different request",
                ),
                JobsError::BuiltinDataset(_) => class(
                    StatusCode::CONFLICT,
                    "dataset-builtin",
                    "Built-in datasets cannot be deleted",
                ),
                JobsError::DatasetInUse { .. } => class(
                    StatusCode::CONFLICT,
                    "dataset-in-use",
                    "The dataset is used by queued or running jobs",
                ),
                JobsError::SweepNotFound(_) => {
                    class(StatusCode::NOT_FOUND, "not-found", "No such sweep")
                }
                JobsError::SweepFinished(_) => class(
                    StatusCode::CONFLICT,
                    "sweep-finished",
                    "Every job of the sweep has already finished",
                ),
                JobsError::SweepActive { .. } => class(
                    StatusCode::CONFLICT,
                    "sweep-active",
                    "The sweep has queued or running jobs",
                ),
                JobsError::Store(store) => match store {
                    StoreError::Unavailable(_) => class(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "The database is unavailable",
                    ),
                    StoreError::UnsupportedUrl(_)
                    | StoreError::Database(_)
                    | StoreError::Migrate(_)
                    | StoreError::Corrupt(_) => INTERNAL,
                },
                JobsError::Corrupt(_) => INTERNAL,
            },
            ApiError::MalformedJson(_) => class(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
            ),
            ApiError::Unauthorized { .. } => class(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "An API key is required",
            ),
            ApiError::CrossSite => class(
                StatusCode::FORBIDDEN,
                "cross-site-request",
                "Requests from other sites may not change anything",
            ),
            ApiError::UnsupportedMediaType { .. } => class(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The body has the wrong content type",
            ),
            ApiError::PayloadTooLarge { .. } => class(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
            ),
            ApiError::UnreadableBody(_) => class(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "The body could not be read",
            ),
            ApiError::BadParameter(_) => class(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "A query parameter or header is invalid",
            ),
            ApiError::RouteNotFound { .. } => {
                class(StatusCode::NOT_FOUND, "not-found", "No such resource")
            }
            ApiError::MethodNotAllowed { .. } => class(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "The method is not allowed here",
            ),
            ApiError::Panic => INTERNAL,
        }
    }

    /// The offending fields, by path.
    fn fields(&self) -> Vec<ProblemField> {
        let from = |rejections: &[Rejection]| {
            rejections
                .iter()
                .map(|r| ProblemField {
                    path: r.path.clone(),
                    message: r.message.clone(),
                })
                .collect()
        };
        match self {
            ApiError::Jobs(
                JobsError::InvalidSpec(rejections) | JobsError::InvalidInput(rejections),
            ) => from(rejections),
            ApiError::Jobs(JobsError::Limit(LimitExceeded {
                path: Some(path), ..
            })) => vec![ProblemField {
                path: path.clone(),
                message: self.to_string(),
            }],
            ApiError::BadParameter(rejection) => from(std::slice::from_ref(rejection)),
            _ => Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.classify().status
    }

    /// The body sent for this error.
    pub fn problem(&self) -> Problem {
        let class = self.classify();
        let detail = if class.status.is_server_error() {
            match class.status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the database is unavailable; try again shortly".to_owned()
                }
                _ => "the server failed to answer this request; the cause is in its log".to_owned(),
            }
        } else {
            self.to_string()
        };
        Problem {
            kind: format!("/problems/{}", class.slug),
            title: class.title,
            status: class.status.as_u16(),
            detail,
            errors: self.fields(),
        }
    }
}

/// Serializes a problem with its media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, debug = ?self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let mut response = problem_response(&self.problem());
        if let ApiError::Jobs(JobsError::QueueFull { .. }) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let ApiError::Unauthorized { challenge, .. } = self {
            let challenge = match challenge {
                Challenge::Bearer => "Bearer realm=\"trainyard\"",
                Challenge::Basic => "Basic realm=\"trainyard\", charset=\"UTF-8\"",
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_are_not_sent() {
        let error = ApiError::Jobs(JobsError::Corrupt("secret table xyz".into()));
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("xyz"));
        assert_eq!(problem.kind, "/problems/internal");
    }

    #[test]
    fn limit_refusals_name_the_limit_its_value_and_the_field() {
        let error = ApiError::Jobs(JobsError::Limit(LimitExceeded {
            limit: "--max-parameters",
            maximum: 100,
            requested: Some(131),
            path: Some("architecture".into()),
            what: "parameter count",
        }));
        let problem = error.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(
            problem.detail,
            "parameter count 131 exceeds --max-parameters 100"
        );
        assert_eq!(problem.errors[0].path, "architecture");
    }

    #[test]
    fn spec_errors_list_every_path() {
        let error = ApiError::Jobs(JobsError::InvalidSpec(vec![
            Rejection::new("optimizer.momentum", "must be in [0, 1), got 1.5"),
            Rejection::new("training.epochs", "must be an integer"),
        ]));
        let problem = error.problem();
        let paths: Vec<_> = problem.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["optimizer.momentum", "training.epochs"]);
        assert_eq!(problem.kind, "/problems/invalid-spec");
    }
}
