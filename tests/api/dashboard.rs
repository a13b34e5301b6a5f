//! The dashboard's pages over plain HTTP: each answers HTML with what it must show, unknown
//! jobs are 404 pages, refusals keep the form as typed, and every user-controlled string
//! (job names, specs, formulas) is escaped.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{Options, TestApp, body, insert_raw_job, problem, spawn_app, spawn_app_with};

/// A server without workers: jobs inserted raw (with specs no worker could train) stay
/// queued however long a page takes.
async fn idle_app() -> TestApp {
    spawn_app_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await
}

const HOSTILE: &str = "<script>alert(1)</script>";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// The body of an HTML page, after checking its status and media type.
async fn html(response: Response, expected: StatusCode) -> String {
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("a body");
    assert_eq!(status, expected, "unexpected status; body: {text}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        text.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{text}"
    );
    assert!(text.contains("<main id=\"main\""), "{text}");
    // Nothing is loaded from elsewhere.
    for external in ["src=\"http", "href=\"http", "url(http"] {
        assert!(!text.contains(external), "{external}: {text}");
    }
    text
}

/// A form body, `application/x-www-form-urlencoded`.
fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{name}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Response {
    app.send(
        Method::POST,
        path,
        Some("application/x-www-form-urlencoded"),
        form(fields),
    )
    .await
}

fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("the example exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_shows_each_job_with_its_status_and_follows_new_ones() {
    let app = idle_app().await;
    let empty = html(app.get("/").await, StatusCode::OK).await;
    assert!(empty.contains("No jobs yet"), "{empty}");

    let first = insert_raw_job(&app, "first-job", 1_000).await;
    let second = insert_raw_job(&app, "second-job", 2_000).await;
    let page = html(app.get("/").await, StatusCode::OK).await;
    assert!(
        page.contains("<table data-live-jobs"),
        "the first page is live"
    );
    for id in [&first, &second] {
        assert!(page.contains(&format!("href=\"/jobs/{id}\"")), "{page}");
        assert!(
            page.contains(&format!("value=\"{id}\"")),
            "a compare checkbox"
        );
    }
    assert!(
        page.find("second-job") < page.find("first-job"),
        "newest first"
    );
    assert!(page.contains("status-queued"), "{page}");
    assert!(
        page.contains("<label class=\"visually-hidden\" for=\"pick-"),
        "{page}"
    );

    // Paging: one job a page, the next page is not live.
    let page = html(app.get("/?limit=1").await, StatusCode::OK).await;
    assert!(page.contains("second-job") && !page.contains("first-job"));
    let older = page
        .split("href=\"/?cursor=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older jobs")
        .replace("&amp;", "&");
    let page = html(app.get(&format!("/?cursor={older}")).await, StatusCode::OK).await;
    assert!(page.contains("first-job") && !page.contains("second-job"));
    assert!(
        !page.contains("<table data-live-jobs"),
        "older pages are not live"
    );

    html(app.get("/?limit=0").await, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_page_shows_its_charts_spec_and_downloads_and_unknown_jobs_are_404() {
    let app = spawn_app().await;
    let spec: Value = serde_json::from_str(&example("iris-minibatch-gradient-descent")).unwrap();
    let job = body(app.post_json("/v1/jobs", &spec).await, StatusCode::CREATED).await;
    let id = job["id"].as_str().unwrap();
    let done = app.wait_until_finished(id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");

    let page = html(app.get(&format!("/jobs/{id}")).await, StatusCode::OK).await;
    assert!(
        page.contains("<h1>iris-minibatch-gradient-descent</h1>"),
        "{page}"
    );
    assert!(page.contains("status-succeeded"), "{page}");
    assert!(page.contains("15 / 15"), "the progress: {page}");
    for plot in ["loss", "accuracy", "learning_rate", "gradients", "steps"] {
        let src = format!("src=\"/v1/jobs/{id}/plots/{plot}.svg\"");
        assert!(page.contains(&src), "{plot}: {page}");
        let chart = app.get(&format!("/v1/jobs/{id}/plots/{plot}.svg")).await;
        assert_eq!(chart.status(), StatusCode::OK, "{plot}");
    }
    assert!(page.contains("Gradient norm of each layer"), "{page}");
    for format in ["json", "safetensors", "onnx"] {
        let href = format!("href=\"/v1/jobs/{id}/model?format={format}\"");
        assert!(page.contains(&href), "{format}: {page}");
    }
    assert!(
        !page.contains("id=\"downloads\" hidden"),
        "downloads are shown"
    );
    // The resolved spec, defaults filled in.
    assert!(page.contains("&quot;shuffle&quot;: true"), "{page}");
    assert!(page.contains("data-job-page") && page.contains("data-status=\"succeeded\""));

    let missing = "00000000-0000-0000-0000-000000000000";
    let page = html(
        app.get(&format!("/jobs/{missing}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        page.contains(&format!("no job with id {missing}")),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_page_hides_the_downloads_until_the_job_succeeds() {
    let app = idle_app().await;
    let id = insert_raw_job(&app, "waiting", 1_000).await;
    let page = html(app.get(&format!("/jobs/{id}")).await, StatusCode::OK).await;
    assert!(page.contains("data-status=\"queued\""), "{page}");
    assert!(page.contains("id=\"downloads\" hidden"), "{page}");
    assert!(page.contains("0 / 1"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_specs_and_formulas_are_escaped_on_every_page() {
    let app = idle_app().await;
    let id = insert_raw_job(&app, HOSTILE, 1_000).await;
    for path in [
        "/".to_owned(),
        format!("/jobs/{id}"),
        format!("/compare?jobs={id}&metric={}", urlencode(HOSTILE)),
        format!("/descent?function={}", urlencode(HOSTILE)),
        format!("/submit?example={}", urlencode(HOSTILE)),
    ] {
        let response = app.get(&path).await;
        let status = response.status();
        let page = html(response, status).await;
        assert!(!page.contains(HOSTILE), "{path}: {page}");
        assert!(page.contains(HOSTILE_ESCAPED), "{path}: {page}");
    }

    // A spec that is not JSON comes back in the form, escaped, even when it closes the textarea.
    let spec = format!("</textarea>{HOSTILE}");
    let page = html(
        post_form(&app, "/submit", &[("spec", &spec)]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(!page.contains(HOSTILE), "{page}");
    assert!(
        page.contains(&format!("&lt;/textarea&gt;{HOSTILE_ESCAPED}")),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compare_page_overlays_the_listed_jobs_and_refuses_unknown_ones() {
    let app = idle_app().await;
    let a = insert_raw_job(&app, "run-a", 1_000).await;
    let b = insert_raw_job(&app, "run-b", 2_000).await;

    let page = html(
        app.get(&format!("/compare?jobs={a},{b}&metric=val_loss"))
            .await,
        StatusCode::OK,
    )
    .await;
    let chart = format!("src=\"/v1/plots/compare.svg?jobs={a},{b}&amp;metric=val_loss\"");
    assert!(page.contains(&chart), "{page}");
    assert!(page.contains("run-a") && page.contains("run-b"), "{page}");
    assert!(
        page.contains("<option value=\"val_loss\" selected>"),
        "{page}"
    );
    assert!(
        page.contains("data-live-comparison>"),
        "queued jobs are followed"
    );
    let svg = app
        .get(&format!(
            "/v1/plots/compare.svg?jobs={a},{b}&metric=val_loss"
        ))
        .await;
    assert_eq!(svg.status(), StatusCode::OK);

    // The job list's checkboxes repeat the parameter; a repeated id counts once.
    let page = html(
        app.get(&format!("/compare?jobs={a}&jobs={b}&jobs={a}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains(&format!("compare.svg?jobs={a},{b}&amp;metric=loss")),
        "{page}"
    );
    assert!(page.contains("Comparing 2 jobs"), "{page}");

    let picker = html(app.get("/compare").await, StatusCode::OK).await;
    assert!(
        picker.contains("<label for=\"jobs\">Job ids</label>"),
        "{picker}"
    );

    let missing = "00000000-0000-0000-0000-000000000000";
    html(
        app.get(&format!("/compare?jobs={a},{missing}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let many: Vec<String> = (0..21).map(|i| format!("id-{i}")).collect();
    let page = html(
        app.get(&format!("/compare?jobs={}", many.join(","))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(page.contains("at most 20 can be compared"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_descent_page_draws_the_path_and_names_the_fields_it_refuses() {
    let app = spawn_app().await;
    let page = html(app.get("/descent").await, StatusCode::OK).await;
    assert!(page.contains("<svg"), "the default path is drawn: {page}");
    assert!(!page.contains("<?xml"), "{page}");
    assert!(
        page.contains("learning-rate-0.5-diverges"),
        "the presets: {page}"
    );

    let page = html(
        app.get("/descent?function=rosenbrock&x0=-1,2&optimizer=adam&learning_rate=0.05&steps=200")
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("<svg") && page.contains("<option value=\"adam\" selected>"));

    let page = html(
        app.get("/descent?learning_rate=fast&x0=1,oops").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        page.contains("<code>optimizer.learning_rate</code>"),
        "{page}"
    );
    assert!(page.contains("<code>x0[1]</code>"), "{page}");
    assert!(
        page.contains("value=\"fast\""),
        "the form keeps what was typed"
    );

    let page = html(
        app.get("/descent?optimizer=sgd&momentum=1.5").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(page.contains("<code>optimizer.momentum</code>"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submit_form_offers_every_example_and_queues_what_is_posted() {
    let app = spawn_app().await;
    let page = html(app.get("/submit").await, StatusCode::OK).await;
    assert!(page.contains("<label for=\"spec\">"), "{page}");
    let examples = std::fs::read_dir(format!("{}/examples", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "json").then(|| path.file_stem().unwrap().to_owned())
        })
        .collect::<Vec<_>>();
    assert!(examples.len() > 10);
    for name in &examples {
        let link = format!("href=\"/submit?example={}\"", name.to_string_lossy());
        assert!(page.contains(&link), "{link}");
    }

    let page = html(app.get("/submit?example=xor-inline").await, StatusCode::OK).await;
    assert!(
        page.contains("&quot;name&quot;: &quot;xor-inline&quot;"),
        "{page}"
    );
    html(
        app.get("/submit?example=nope").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Posting the example queues it and lands on its page (303 → /jobs/{id}).
    let response = post_form(&app, "/submit", &[("spec", &example("xor-inline"))]).await;
    let landed = response.url().path().to_owned();
    let page = html(response, StatusCode::OK).await;
    let id = landed.strip_prefix("/jobs/").expect("the job's page");
    assert!(page.contains("<h1>xor-inline</h1>"), "{page}");
    let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(job["name"], "xor-inline");

    // An invalid spec comes back with every broken rule by path, and the text as typed.
    let bad = json!({"name": "bad", "data": {"type": "builtin", "name": "iris"},
                     "architecture": {"layers": []}, "optimizer": {"type": "sgd", "momentum": 1.5},
                     "training": {"loss": "sparse_categorical_crossentropy"}})
    .to_string();
    let page = html(
        post_form(&app, "/submit", &[("spec", &bad)]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(page.contains("<code>optimizer.momentum</code>"), "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    assert!(page.contains("&quot;momentum&quot;:1.5"), "{page}");

    // A form without its field, and a body of the wrong type.
    html(
        post_form(&app, "/submit", &[("other", "x")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let response = app
        .send(Method::POST, "/submit", Some("application/json"), "{}")
        .await;
    html(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submit_form_refuses_a_key_repeated_in_one_object_as_the_api_does() {
    let app = idle_app().await;
    let spec = example("xor-inline").replacen(
        "\"name\": \"xor-inline\",",
        "\"name\": \"xor-inline\", \"name\": \"renamed\",",
        1,
    );
    assert!(
        spec.contains("\"renamed\""),
        "the example names itself first"
    );
    let page = html(
        post_form(&app, "/submit", &[("spec", &spec)]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(page.contains("<code>spec</code>"), "{page}");
    assert!(
        page.contains("the key &quot;name&quot; appears twice in one object"),
        "{page}"
    );
    assert!(
        page.contains("&quot;name&quot;: &quot;renamed&quot;"),
        "the form keeps the spec as typed: {page}"
    );
    let api = app
        .send(Method::POST, "/v1/jobs", Some("application/json"), spec)
        .await;
    assert_eq!(api.status(), StatusCode::BAD_REQUEST);
    let jobs = body(app.get("/v1/jobs").await, StatusCode::OK).await;
    assert_eq!(jobs["items"], json!([]), "neither queued a job");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_page_compares_its_jobs_with_their_grid_values() {
    let app = spawn_app().await;
    let mut spec = crate::jobs::iris_spec(3);
    spec.as_object_mut().map(|s| s.remove("name"));
    let created = body(
        app.post_json(
            "/v1/sweeps",
            &json!({"name": "rates", "base": spec,
                    "grid": {"optimizer.learning_rate": [0.01, 0.1]}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let page = html(
        app.get(&format!("/sweeps/{id}?metric=val_loss")).await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Sweep rates"), "{page}");
    let chart = format!("src=\"/v1/sweeps/{id}/plots/val_loss.svg\"");
    assert!(page.contains(&chart), "{page}");
    for job in created["jobs"].as_array().expect("jobs") {
        let job_id = job["id"].as_str().expect("a job id");
        assert!(page.contains(job_id), "{job_id}: {page}");
    }
    assert!(
        page.contains("{&quot;optimizer.learning_rate&quot;:0.1}"),
        "grid values shown: {page}"
    );
    // The picker reloads this page, not /compare.
    assert!(page.contains(&format!("action=\"/sweeps/{id}\"")), "{page}");
    html(app.get("/sweeps/nope").await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_page_cancels_a_waiting_job_and_offers_no_cancel_once_it_has_ended() {
    let app = idle_app().await;
    let id = insert_raw_job(&app, "waiting", 1_000).await;
    let page = html(app.get(&format!("/jobs/{id}")).await, StatusCode::OK).await;
    let action = format!("action=\"/jobs/{id}/cancel\"");
    assert!(page.contains(&action), "{page}");

    // A page on another site posting the same form changes nothing, whichever way the
    // browser tells where the request comes from.
    let cross_site = [
        ("sec-fetch-site", "cross-site".to_owned()),
        ("origin", "http://evil.example".to_owned()),
    ];
    for (name, value) in cross_site {
        let refused = app
            .client
            .post(app.url(&format!("/jobs/{id}/cancel")))
            .header(name, value)
            .send()
            .await
            .expect("sent");
        problem(refused, StatusCode::FORBIDDEN, "cross-site-request").await;
    }
    let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(job["status"], "queued");

    // Posting the button's form cancels the job and lands back on its page (303).
    let response = post_form(&app, &format!("/jobs/{id}/cancel"), &[]).await;
    assert_eq!(response.url().path(), format!("/jobs/{id}"));
    let page = html(response, StatusCode::OK).await;
    assert!(!page.contains(&action), "{page}");
    let job = body(app.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
    assert_eq!(job["status"], "cancelled");

    // A finished job cannot be cancelled again, nor an unknown one.
    html(
        post_form(&app, &format!("/jobs/{id}/cancel"), &[]).await,
        StatusCode::CONFLICT,
    )
    .await;
    html(
        post_form(&app, "/jobs/no-such-job/cancel", &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}
