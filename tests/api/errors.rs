//! A table of bad requests: each gets its status, its problem type and, where a field is to
//! blame, that field's path. Afterwards the server still serves and the stored job is exactly
//! as before. No input may produce a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::jobs::iris_spec;
use crate::support::{Options, body, error_paths, spawn_app_with};

/// One bad request and what it must get.
struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    slug: &'static str,
    /// The field path the problem must name; `None`: the problem names no field.
    field: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    expect: (StatusCode, &'static str, Option<&'static str>),
) -> Case {
    Case {
        name,
        method,
        path,
        content_type,
        body: body.into(),
        status: expect.0,
        slug: expect.1,
        field: expect.2,
    }
}

/// A job spec with one change, as a JSON POST to /v1/jobs.
fn spec_case(name: &'static str, change: impl FnOnce(&mut Value), field: &'static str) -> Case {
    let mut spec = iris_spec(5);
    change(&mut spec);
    case(
        name,
        Method::POST,
        "/v1/jobs",
        Some("application/json"),
        spec.to_string(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-spec",
            Some(field),
        ),
    )
}

const JSON: Option<&str> = Some("application/json");
const CSV: Option<&str> = Some("text/csv");
const MALFORMED: (StatusCode, &str, Option<&str>) =
    (StatusCode::BAD_REQUEST, "malformed-json", None);

fn cases() -> Vec<Case> {
    use Method as M;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let huge = json!({"x": "a"})
        .to_string()
        .replace("\"a\"", &format!("\"{}\"", "a".repeat(70_000)));
    let inline = |features: Value, labels: Value| {
        move |spec: &mut Value| {
            spec["data"] = json!({"type": "inline", "features": features, "labels": labels});
        }
    };
    vec![
        case(
            "truncated JSON",
            M::POST,
            "/v1/jobs",
            JSON,
            "{\"data\":",
            MALFORMED,
        ),
        case(
            "NaN literal",
            M::POST,
            "/v1/jobs",
            JSON,
            "{\"a\": NaN}",
            MALFORMED,
        ),
        case(
            "Infinity literal",
            M::POST,
            "/v1/jobs",
            JSON,
            "{\"a\": Infinity}",
            MALFORMED,
        ),
        case(
            "number beyond f64",
            M::POST,
            "/v1/jobs",
            JSON,
            "{\"a\": 1e400}",
            MALFORMED,
        ),
        case(
            "nesting deeper than 128",
            M::POST,
            "/v1/jobs",
            JSON,
            deep,
            MALFORMED,
        ),
        case(
            "trailing garbage",
            M::POST,
            "/v1/jobs",
            JSON,
            "{} x",
            MALFORMED,
        ),
        case("empty body", M::POST, "/v1/jobs", JSON, "", MALFORMED),
        case(
            "a key twice in one object",
            M::POST,
            "/v1/descent",
            JSON,
            "{\"function\": \"x1\", \"x0\": [1], \"function\": \"x1*x1\"}",
            MALFORMED,
        ),
        case(
            "single quotes",
            M::POST,
            "/v1/jobs",
            JSON,
            "{'a': 1}",
            MALFORMED,
        ),
        case(
            "text/plain body",
            M::POST,
            "/v1/jobs",
            Some("text/plain"),
            "{}",
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            ),
        ),
        case(
            "no content type",
            M::POST,
            "/v1/jobs",
            None,
            "{}",
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            ),
        ),
        case(
            "body over the limit",
            M::POST,
            "/v1/jobs",
            JSON,
            huge,
            (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None),
        ),
        case(
            "an array instead of a spec",
            M::POST,
            "/v1/jobs",
            JSON,
            "[]",
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-spec", Some("")),
        ),
        case(
            "an empty spec",
            M::POST,
            "/v1/jobs",
            JSON,
            "{}",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-spec",
                Some("data"),
            ),
        ),
        spec_case(
            "an unknown top-level field",
            |s| s["epochz"] = json!(3),
            "epochz",
        ),
        spec_case(
            "momentum out of range",
            |s| s["optimizer"]["momentum"] = json!(1.5),
            "optimizer.momentum",
        ),
        spec_case(
            "an unknown optimizer",
            |s| s["optimizer"]["type"] = json!("sgdd"),
            "optimizer.type",
        ),
        spec_case(
            "negative epochs",
            |s| s["training"]["epochs"] = json!(-1),
            "training.epochs",
        ),
        spec_case(
            "epochs as a string",
            |s| s["training"]["epochs"] = json!("ten"),
            "training.epochs",
        ),
        spec_case(
            "huge epochs",
            |s| s["training"]["epochs"] = json!(1e30),
            "training.epochs",
        ),
        spec_case(
            "batch size zero",
            |s| s["training"]["batch_size"] = json!(0),
            "training.batch_size",
        ),
        spec_case(
            "batch size as a word",
            |s| s["training"]["batch_size"] = json!("half"),
            "training.batch_size",
        ),
        spec_case(
            "an unknown built-in",
            |s| s["data"]["name"] = json!("irsi"),
            "data.name",
        ),
        spec_case(
            "an unknown data type",
            |s| s["data"]["type"] = json!("ftp"),
            "data.type",
        ),
        spec_case(
            "validation split above 1",
            |s| s["data"]["validation_split"] = json!(1.5),
            "data.validation_split",
        ),
        spec_case(
            "no layers",
            |s| s["architecture"]["layers"] = json!([]),
            "architecture.layers",
        ),
        spec_case(
            "zero units",
            |s| s["architecture"]["layers"][0]["units"] = json!(0),
            "architecture.layers[0].units",
        ),
        spec_case(
            "an unknown activation",
            |s| s["architecture"]["layers"][0]["activation"] = json!("relux"),
            "architecture.layers[0].activation",
        ),
        spec_case(
            "an unknown layer type",
            |s| s["architecture"]["layers"][0]["type"] = json!("conv9d"),
            "architecture.layers[0].type",
        ),
        spec_case(
            "an unknown loss",
            |s| s["training"]["loss"] = json!("hinge"),
            "training.loss",
        ),
        spec_case(
            "a negative seed",
            |s| s["training"]["seed"] = json!(-5),
            "training.seed",
        ),
        spec_case("a name that is a number", |s| s["name"] = json!(12), "name"),
        spec_case(
            "an unknown uploaded dataset",
            |s| s["data"] = json!({"type": "dataset", "id": "nope"}),
            "data.id",
        ),
        spec_case(
            "ragged inline rows",
            inline(json!([[0, 0], [1]]), json!([0, 1])),
            "data.features[1]",
        ),
        spec_case(
            "inline data with no rows",
            inline(json!([]), json!([])),
            "data.features",
        ),
        spec_case(
            "an inline value beyond f32",
            inline(json!([[1e39, 0], [1, 1]]), json!([0, 1])),
            "data.features[0][0]",
        ),
        spec_case(
            "fewer labels than rows",
            inline(json!([[0, 0], [1, 1]]), json!([0])),
            "data.labels",
        ),
        case(
            "a network over --max-parameters",
            M::POST,
            "/v1/jobs",
            JSON,
            {
                let mut spec = iris_spec(5);
                spec["architecture"]["layers"][0]["units"] = json!(5000);
                spec.to_string()
            },
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "limit-exceeded",
                Some("architecture.layers"),
            ),
        ),
        case(
            "priority out of range",
            M::POST,
            "/v1/jobs?priority=5000",
            JSON,
            iris_spec(5).to_string(),
            (
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                Some("priority"),
            ),
        ),
        case(
            "dry_run that is not a boolean",
            M::POST,
            "/v1/jobs?dry_run=maybe",
            JSON,
            iris_spec(5).to_string(),
            (
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                Some("dry_run"),
            ),
        ),
        case(
            "limit as a word",
            M::GET,
            "/v1/jobs?limit=abc",
            None,
            "",
            (StatusCode::BAD_REQUEST, "invalid-parameter", Some("limit")),
        ),
        case(
            "an unknown status filter",
            M::GET,
            "/v1/jobs?status=paused",
            None,
            "",
            (StatusCode::BAD_REQUEST, "invalid-parameter", Some("status")),
        ),
        case(
            "an unknown job",
            M::GET,
            "/v1/jobs/0196a000-0000-7000-8000-000000000000",
            None,
            "",
            (StatusCode::NOT_FOUND, "not-found", None),
        ),
        case(
            "predict on an unknown job",
            M::POST,
            "/v1/jobs/nope/predict",
            JSON,
            "{\"inputs\": [[1]]}",
            (StatusCode::NOT_FOUND, "not-found", None),
        ),
        case(
            "model of an unknown job",
            M::GET,
            "/v1/jobs/nope/model",
            None,
            "",
            (StatusCode::NOT_FOUND, "not-found", None),
        ),
        case(
            "an unknown dataset",
            M::GET,
            "/v1/datasets/nope",
            None,
            "",
            (StatusCode::NOT_FOUND, "not-found", None),
        ),
        case(
            "deleting a built-in dataset",
            M::DELETE,
            "/v1/datasets/iris",
            None,
            "",
            (StatusCode::CONFLICT, "dataset-builtin", None),
        ),
        case(
            "an upload without a name",
            M::POST,
            "/v1/datasets",
            CSV,
            "a,label\n1,0\n",
            (StatusCode::BAD_REQUEST, "invalid-parameter", Some("name")),
        ),
        case(
            "an upload sent as JSON",
            M::POST,
            "/v1/datasets?name=x",
            JSON,
            "{}",
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            ),
        ),
        case(
            "an empty CSV",
            M::POST,
            "/v1/datasets?name=x",
            CSV,
            "",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("body"),
            ),
        ),
        case(
            "a CSV without data rows",
            M::POST,
            "/v1/datasets?name=x",
            CSV,
            "a,label\n",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("body.line[1]"),
            ),
        ),
        case(
            "a ragged CSV",
            M::POST,
            "/v1/datasets?name=x",
            CSV,
            "a,b,label\n1,2,0\n3,1\n",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("body.line[3].label"),
            ),
        ),
        case(
            "a CSV with NaN",
            M::POST,
            "/v1/datasets?name=x",
            CSV,
            "a,label\nNaN,0\n1,1\n",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("body.line[2].a"),
            ),
        ),
        case(
            "a CSV with a huge number",
            M::POST,
            "/v1/datasets?name=x",
            CSV,
            "a,label\n1e39,0\n1,1\n",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("body.line[2].a"),
            ),
        ),
        case(
            "a CSV without its label column",
            M::POST,
            "/v1/datasets?name=x&label_column=y",
            CSV,
            "a,label\n1,0\n",
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                Some("label_column"),
            ),
        ),
        case(
            "PUT on the job list",
            M::PUT,
            "/v1/jobs",
            JSON,
            "{}",
            (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", None),
        ),
        case(
            "an unknown route",
            M::GET,
            "/v1/nothing-here",
            None,
            "",
            (StatusCode::NOT_FOUND, "not-found", None),
        ),
        case(
            "a garbage cursor",
            M::GET,
            "/v1/datasets?cursor=zzz",
            None,
            "",
            (StatusCode::BAD_REQUEST, "invalid-parameter", Some("cursor")),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_problem_type_and_field_path_and_change_nothing() {
    let mut options = Options {
        workers: 0,
        ..Options::default()
    };
    options.limits.max_body_bytes = 64 * 1024;
    options.limits.max_parameters = 10_000;
    let app = spawn_app_with(options).await;
    let stored = body(
        app.post_json("/v1/jobs", &iris_spec(5)).await,
        StatusCode::CREATED,
    )
    .await;
    let id = stored["id"].as_str().expect("an id").to_owned();
    let before = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;

    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let response = app
            .send(case.method.clone(), case.path, case.content_type, case.body)
            .await;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let paths = error_paths(&problem);
        let path_ok = match case.field {
            Some(field) => paths.iter().any(|p| p == field),
            None => paths.is_empty(),
        };
        if status != case.status
            || content_type != "application/problem+json"
            || problem["type"] != format!("/problems/{}", case.slug)
            || problem["status"] != case.status.as_u16()
            || !path_ok
        {
            failures.push(format!(
                "{}: expected {} {} {:?}, got {status} {content_type} {text}",
                case.name, case.status, case.slug, case.field
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    assert_eq!(
        body(app.get("/healthz").await, StatusCode::OK).await["status"],
        "ok"
    );
    let after = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(before, after);
    let listed = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}
