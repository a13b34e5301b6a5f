//! `openapi.yaml` against what is really sent: every spec in `examples/` against its request
//! schema, and the responses of a live server against the schema the document gives for their
//! operation and status (JSON Schema 2020-12, which OpenAPI 3.1's schemas are).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Options, TestApp, example_files, openapi, spawn_app_with};

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
    let document = openapi();
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

/// A client that checks every answer: the expected status, and a JSON body that matches what
/// `openapi.yaml` documents for the operation (`template` is the path as the document writes
/// it) and that status.
struct Checked<'a> {
    app: &'a TestApp,
    document: &'a Value,
}

impl Checked<'_> {
    async fn get(&self, (template, path): (&str, &str), status: StatusCode) -> Value {
        self.send(Method::GET, (template, path), None, status).await
    }

    async fn post(
        &self,
        (template, path): (&str, &str),
        body: &Value,
        status: StatusCode,
    ) -> Value {
        let bytes = serde_json::to_vec(body).expect("serializable");
        let body = Some(("application/json", bytes));
        self.send(Method::POST, (template, path), body, status)
            .await
    }

    async fn send(
        &self,
        method: Method,
        (template, path): (&str, &str),
        body: Option<(&str, Vec<u8>)>,
        status: StatusCode,
    ) -> Value {
        let (content_type, bytes) = body.unzip();
        let bytes = bytes.unwrap_or_default();
        let response = self
            .app
            .send(method.clone(), path, content_type, bytes)
            .await;
        assert_eq!(response.status(), status, "{method} {path}");
        let value: Value = response.json().await.expect("a JSON body");
        let operation = method.as_str().to_lowercase();
        let schema = response_schema(self.document, &operation, template, status);
        let what = format!("{method} {path}");
        assert_matches(self.document, &schema, &value, &what);
        value
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_their_documented_schemas() {
    let document = openapi();
    let server = spawn_app_with(Options {
        workers: 1,
        ..Options::default()
    })
    .await;
    let api = Checked {
        app: &server,
        document: &document,
    };
    let (_, xor) = example_files("")
        .into_iter()
        .find(|(name, _)| name == "xor-inline")
        .expect("examples/xor-inline.json");
    let (ok, created) = (StatusCode::OK, StatusCode::CREATED);

    let dry = api
        .post(("/v1/jobs", "/v1/jobs?dry_run=true"), &xor, ok)
        .await;
    assert_eq!(dry["dry_run"], true);
    let job = api.post(("/v1/jobs", "/v1/jobs"), &xor, created).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    server
        .wait_until_finished(&id, Duration::from_secs(120))
        .await;
    let job_path = format!("/v1/jobs/{id}");
    let finished = api.get(("/v1/jobs/{id}", &job_path), ok).await;
    assert_eq!(finished["status"], "succeeded");
    for (template, path) in [
        ("/v1/jobs", "/v1/jobs".to_owned()),
        ("/v1/jobs/{id}/metrics", format!("{job_path}/metrics")),
        ("/v1/datasets", "/v1/datasets".to_owned()),
        ("/v1/sweeps", "/v1/sweeps".to_owned()),
        ("/v1/version", "/v1/version".to_owned()),
        ("/healthz", "/healthz".to_owned()),
        ("/readyz", "/readyz".to_owned()),
    ] {
        api.get((template, &path), ok).await;
    }
    let predict = format!("{job_path}/predict");
    let inputs = json!({"inputs": [[0, 1], [1, 1]]});
    api.post(("/v1/jobs/{id}/predict", &predict), &inputs, ok)
        .await;
    for (_, sweep) in example_files("sweeps").into_iter().take(2) {
        api.post(("/v1/sweeps", "/v1/sweeps?dry_run=true"), &sweep, ok)
            .await;
    }
    for (_, descent) in example_files("descent") {
        api.post(("/v1/descent", "/v1/descent"), &descent, ok).await;
    }

    // The model, imported back; an uploaded dataset; a sweep queued for real.
    let model_path = format!("{job_path}/model");
    let model = api.get(("/v1/jobs/{id}/model", &model_path), ok).await;
    let imported = api
        .post(("/v1/models", "/v1/models"), &model, created)
        .await;
    let model_path = format!("/v1/models/{}", imported["id"].as_str().expect("an id"));
    api.get(("/v1/models/{id}", &model_path), ok).await;
    let csv = Some((
        "text/csv",
        b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n".to_vec(),
    ));
    let upload = (
        "/v1/datasets",
        "/v1/datasets?name=contract&label_column=label",
    );
    let dataset = api.send(Method::POST, upload, csv, created).await;
    let dataset_path = format!("/v1/datasets/{}", dataset["id"].as_str().expect("an id"));
    api.get(("/v1/datasets/{id}", &dataset_path), ok).await;
    let sweep = json!({"name": "contract", "base": xor,
                       "grid": {"optimizer.learning_rate": [0.05, 0.1]}});
    let queued = api
        .post(("/v1/sweeps", "/v1/sweeps"), &sweep, created)
        .await;
    let sweep_path = format!("/v1/sweeps/{}", queued["id"].as_str().expect("an id"));
    api.get(("/v1/sweeps/{id}", &sweep_path), ok).await;

    // Problems: a spec with an error in each of two fields, and an unknown job.
    let mut broken = xor.clone();
    broken["training"]["loss"] = json!("hinge");
    broken["architecture"]["layers"][0]["units"] = json!(0);
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let problem = api.post(("/v1/jobs", "/v1/jobs"), &broken, invalid).await;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
    let unknown = "/v1/jobs/00000000-0000-0000-0000-000000000000";
    api.get(("/v1/jobs/{id}", unknown), StatusCode::NOT_FOUND)
        .await;
    server.stop().await;
}
