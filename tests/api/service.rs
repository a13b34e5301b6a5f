//! The service endpoints, unknown routes and methods, and the OpenAPI document against the
//! router.

use reqwest::StatusCode;

use crate::support::{body, problem, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_version_answer() {
    let app = spawn_app().await;
    assert_eq!(
        body(app.get("/healthz").await, StatusCode::OK).await["status"],
        "ok"
    );
    assert_eq!(
        body(app.get("/readyz").await, StatusCode::OK).await["status"],
        "ready"
    );
    let version = body(app.get("/v1/version").await, StatusCode::OK).await;
    assert_eq!(version["service"], "trainyard");
    assert_eq!(version["api_version"], "v1");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_as_written() {
    let app = spawn_app().await;
    let response = app.get("/openapi.yaml").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let text = response.text().await.expect("a body");
    assert_eq!(text, include_str!("../../openapi.yaml"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    problem(
        app.get("/v2/nothing").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    problem(
        app.delete("/healthz").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    app.stop().await;
}
