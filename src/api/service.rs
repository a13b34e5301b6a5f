//! `/v1/version`, `/healthz`, `/readyz` and `/openapi.yaml`: what operators and client
//! generators ask before anything else.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::Routes;
use super::problem::ApiError;
use crate::jobs::JobQueue;

/// The API contract, served as written.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// The version of the HTTP API (the `/v1` prefix).
pub const API_VERSION: &str = "v1";

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/version", &["GET"], get(version))
        .route("/healthz", &["GET"], get(healthz))
        .route("/readyz", &["GET"], get(readyz))
        .route("/openapi.yaml", &["GET"], get(openapi))
}

async fn version() -> Json<Value> {
    Json(json!({
        "service": "trainyard",
        "version": env!("CARGO_PKG_VERSION"),
        "api_version": API_VERSION,
    }))
}

/// Alive: the process answers HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database answers too.
async fn readyz(State(queue): State<Arc<JobQueue>>) -> Result<Json<Value>, ApiError> {
    queue.ready().await?;
    Ok(Json(json!({"status": "ready"})))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}
