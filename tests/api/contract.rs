//! `openapi.yaml` against what is really sent: every spec in `examples/` against its request
//! schema, and the responses of a live server against the schema the document gives for their
//! operation and status (JSON Schema 2020-12, which OpenAPI 3.1's schemas are).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Options, TestApp, example_files, spawn_app_with};

fn document() -> Value {
    serde_saphyr::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml parses")
}

/// Fails with every place where `instance` breaks `schema`, whose references resolve in the
/// document's components.
fn assert_matches(document: &Value, schema: &Value, instance: &Value, what: &str) {
    let root = json!({"allOf": [schema], "components": document["components"]});
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at `{}`", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} breaks openapi.yaml: {errors:#?}\n{instance:#}"
    );
}

/// `#/components/schemas/{name}`.
fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schema `openapi.yaml` gives the JSON body of `method path` answering `status`.
fn response_schema(document: &Value, method: &str, path: &str, status: StatusCode) -> Value {
    let mut response = &document["paths"][path][method]["responses"][status.as_str()];
    if let Some(reference) = response["$ref"].as_str() {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        response = document.pointer(pointer).expect("the reference resolves");
    }
    let content = response["content"]
        .as_object()
        .unwrap_or_else(|| panic!("openapi.yaml gives {method} {path} {status} no body"));
    content
        .iter()
        .find(|(media, _)| media.ends_with("json"))
        .map(|(_, body)| body["schema"].clone())
        .unwrap_or_else(|| panic!("openapi.yaml gives {method} {path} {status} no JSON body"))
}

#[test]
fn every_example_matches_its_request_schema() {
    let document = document();
    for (directory, schema, at_least) in [
        ("", "JobSpec", 20),
        ("sweeps", "SweepRequest", 3),
        ("descent", "DescentRequest", 3),
    ] {
        let files = example_files(directory);
        assert!(files.len() >= at_least, "examples/{directory}");
        for (name, spec) in files {
            let what = std::path::Path::new("examples")
                .join(directory)
                .join(format!("{name}.json"));
            let what = what.display().to_string();
            assert_matches(&document, &component(schema), &spec, &what);
        }
    }
}

/// Sends a request and checks its answer: the expected status, and a JSON body that matches
/// what `openapi.yaml` documents for `template` (the path as the document writes it).
async fn checked(
    app: &TestApp,
    document: &Value,
    (method, template, path): (Method, &str, &str),
    body: Option<&Value>,
    status: StatusCode,
) -> Value {
    let body = body.map(|body| {
        let bytes = serde_json::to_vec(body).expect("serializable");
        ("application/json", bytes)
    });
    checked_raw(app, document, (method, template, path), body, status).await
}

/// [`checked`] with a body of any content type.
async fn checked_raw(
    app: &TestApp,
    document: &Value,
    (method, template, path): (Method, &str, &str),
    body: Option<(&str, Vec<u8>)>,
    status: StatusCode,
) -> Value {
    let response = match body {
        Some((content_type, bytes)) => {
            app.send(method.clone(), path, Some(content_type), bytes)
                .await
        }
        None => app.send(method.clone(), path, None, Vec::new()).await,
    };
    assert_eq!(response.status(), status, "{method} {path}");
    let value: Value = response.json().await.expect("a JSON body");
    let schema = response_schema(document, &method.as_str().to_lowercase(), template, status);
    assert_matches(document, &schema, &value, &format!("{method} {path}"));
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_their_documented_schemas() {
    let document = document();
    let document = &document;
    let server = spawn_app_with(Options {
        workers: 1,
        ..Options::default()
    })
    .await;
    let app = &server;
    let (_, xor) = example_files("")
        .into_iter()
        .find(|(name, _)| name == "xor-inline")
        .expect("examples/xor-inline.json");
    let (get, post) = (Method::GET, Method::POST);

    let dry = checked(
        app,
        document,
        (post.clone(), "/v1/jobs", "/v1/jobs?dry_run=true"),
        Some(&xor),
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    let job = checked(
        app,
        document,
        (post.clone(), "/v1/jobs", "/v1/jobs"),
        Some(&xor),
        StatusCode::CREATED,
    )
    .await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_until_finished(&id, Duration::from_secs(120)).await;
    let job_path = format!("/v1/jobs/{id}");
    let finished = checked(
        app,
        document,
        (get.clone(), "/v1/jobs/{id}", &job_path),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(finished["status"], "succeeded");
    for (template, path) in [
        ("/v1/jobs", "/v1/jobs".to_owned()),
        ("/v1/jobs/{id}/metrics", format!("{job_path}/metrics")),
        ("/v1/jobs/{id}/model", format!("{job_path}/model")),
        ("/v1/datasets", "/v1/datasets".to_owned()),
        ("/v1/sweeps", "/v1/sweeps".to_owned()),
        ("/v1/version", "/v1/version".to_owned()),
        ("/healthz", "/healthz".to_owned()),
        ("/readyz", "/readyz".to_owned()),
    ] {
        checked(
            app,
            document,
            (get.clone(), template, &path),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let predict = format!("{job_path}/predict");
    checked(
        app,
        document,
        (post.clone(), "/v1/jobs/{id}/predict", &predict),
        Some(&json!({"inputs": [[0, 1], [1, 1]]})),
        StatusCode::OK,
    )
    .await;
    for (_, sweep) in example_files("sweeps").into_iter().take(2) {
        checked(
            app,
            document,
            (post.clone(), "/v1/sweeps", "/v1/sweeps?dry_run=true"),
            Some(&sweep),
            StatusCode::OK,
        )
        .await;
    }
    for (_, descent) in example_files("descent") {
        checked(
            app,
            document,
            (post.clone(), "/v1/descent", "/v1/descent"),
            Some(&descent),
            StatusCode::OK,
        )
        .await;
    }

    // The model imported back, an uploaded dataset, and a sweep queued for real.
    let model = checked(
        app,
        document,
        (
            get.clone(),
            "/v1/jobs/{id}/model",
            &format!("{job_path}/model?format=json"),
        ),
        None,
        StatusCode::OK,
    )
    .await;
    let imported = checked(
        app,
        document,
        (post.clone(), "/v1/models", "/v1/models"),
        Some(&model),
        StatusCode::CREATED,
    )
    .await;
    let model_path = format!("/v1/models/{}", imported["id"].as_str().expect("an id"));
    checked(
        app,
        document,
        (get.clone(), "/v1/models/{id}", &model_path),
        None,
        StatusCode::OK,
    )
    .await;
    let csv = b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n".to_vec();
    let dataset = checked_raw(
        app,
        document,
        (
            post.clone(),
            "/v1/datasets",
            "/v1/datasets?name=contract&label_column=label",
        ),
        Some(("text/csv", csv)),
        StatusCode::CREATED,
    )
    .await;
    let dataset_path = format!("/v1/datasets/{}", dataset["id"].as_str().expect("an id"));
    checked(
        app,
        document,
        (get.clone(), "/v1/datasets/{id}", &dataset_path),
        None,
        StatusCode::OK,
    )
    .await;
    let sweep = json!({"name": "contract", "base": xor,
                       "grid": {"optimizer.learning_rate": [0.05, 0.1]}});
    let created = checked(
        app,
        document,
        (post.clone(), "/v1/sweeps", "/v1/sweeps"),
        Some(&sweep),
        StatusCode::CREATED,
    )
    .await;
    let sweep_path = format!("/v1/sweeps/{}", created["id"].as_str().expect("an id"));
    checked(
        app,
        document,
        (get.clone(), "/v1/sweeps/{id}", &sweep_path),
        None,
        StatusCode::OK,
    )
    .await;

    // Problems: a spec with an error in each of two fields, and an unknown job.
    let mut broken = xor.clone();
    broken["training"]["loss"] = json!("hinge");
    broken["architecture"]["layers"][0]["units"] = json!(0);
    let problem = checked(
        app,
        document,
        (post.clone(), "/v1/jobs", "/v1/jobs"),
        Some(&broken),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
    checked(
        app,
        document,
        (
            get.clone(),
            "/v1/jobs/{id}",
            "/v1/jobs/00000000-0000-0000-0000-000000000000",
        ),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    server.stop().await;
}
