//! The service endpoints, unknown routes and methods, and the OpenAPI document against the
//! router.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::support::{body, openapi, problem, spawn_app};

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

/// Every path and method in `openapi.yaml`, as `(method, path)` pairs.
fn documented_routes() -> BTreeSet<(String, String)> {
    let document = openapi();
    assert_eq!(document["openapi"], "3.1.0");
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_yaml_documents_exactly_the_routes_the_router_serves() {
    let served: BTreeSet<(String, String)> = trainyard::api::route_table()
        .iter()
        .flat_map(|entry| {
            entry
                .methods
                .iter()
                .map(|method| (method.to_string(), entry.path.to_owned()))
        })
        .collect();
    assert_eq!(served, documented_routes());

    // The table matches the live router: each listed method is routed (never the router's own
    // 404/405), and each unlisted one is a 405.
    let app = spawn_app().await;
    let id = "00000000-0000-0000-0000-000000000000";
    for entry in trainyard::api::route_table() {
        let path = entry.path.replace("{id}", id);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let method_value = Method::from_bytes(method.as_bytes()).expect("a method");
            let response = app.send(method_value, &path, None, Vec::new()).await;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if entry.methods.contains(&method) {
                assert!(
                    !text.contains("/problems/method-not-allowed") && !text.contains("no route"),
                    "{method} {path} is listed but not routed: {status} {text}"
                );
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_api_keys_every_request_but_the_probes_needs_one() {
    const KEY: &str = "test-key-0123456789";
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("a temporary directory"));
    let options = crate::support::Options {
        workers: 0,
        ..crate::support::Options::default()
    };
    let app = crate::support::spawn_app_configured(dir, options, |config| {
        config.api_keys = vec!["another-key-0123456".into(), KEY.into()];
    })
    .await;
    let send = |path: &str, authorization: Option<String>| {
        let mut request = app.client.get(app.url(path));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    for probe in ["/healthz", "/readyz"] {
        let response = send(probe, None).await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }

    for path in ["/v1/jobs", "/metrics", "/v1/nope"] {
        let refused = send(path, None).await.expect("sent");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer realm=\"trainyard\"",
            "{path}"
        );
        let refused = problem(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(
            refused["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Authorization: Bearer")),
            "{refused}"
        );
    }
    let wrong = problem(
        send("/v1/jobs", Some("Bearer not-the-key-0123456".into()))
            .await
            .expect("sent"),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert!(
        wrong["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not one of the configured keys")),
        "{wrong}"
    );
    let listed = body(
        send("/v1/jobs", Some(format!("Bearer {KEY}")))
            .await
            .expect("sent"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"], serde_json::json!([]));

    // A browser's own requests to the API are challenged with Basic too, so that it answers
    // with the key it cached for a dashboard page.
    let from_page = app
        .client
        .get(app.url("/v1/jobs"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("sent");
    assert_eq!(from_page.status(), StatusCode::UNAUTHORIZED);
    assert!(
        from_page.headers()["www-authenticate"]
            .to_str()
            .is_ok_and(|c| c.starts_with("Basic ")),
        "{:?}",
        from_page.headers()
    );

    // The dashboard challenges with Basic, so that a browser asks; the key is the password.
    let page = send("/", None).await.expect("sent");
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(
        page.headers()["www-authenticate"]
            .to_str()
            .is_ok_and(|c| c.starts_with("Basic ")),
        "{:?}",
        page.headers()
    );
    let page = app
        .client
        .get(app.url("/"))
        .basic_auth("anyone", Some(KEY))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::OK);
    app.stop().await;
}
