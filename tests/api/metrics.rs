//! `GET /metrics`: the Prometheus text format, parsed line by line, and the counters and
//! histograms a finished job moves.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;

use crate::jobs::{iris_spec, submit};
use crate::support::{TestApp, spawn_app};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the text exposition format: `# HELP`/`# TYPE`/`# EOF` comments and
/// `name{label="value",…} number` samples. Panics on any other line, so a malformed exposition
/// fails the test.
fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line == "# EOF" {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a series and a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, HashMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let labels = body
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once("=\"").expect("key=\"value\"");
                        (key.to_owned(), value.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

async fn scrape(app: &TestApp) -> (Vec<Sample>, HashMap<String, String>) {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().await.expect("a body"))
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map_or(0.0, |s| s.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_after_a_job() {
    let app = spawn_app().await;
    let (before, types) = scrape(&app).await;
    assert_eq!(types["trainyard_jobs"], "gauge");
    assert_eq!(types["trainyard_epochs_trained"], "counter");
    assert_eq!(value(&before, "trainyard_epochs_trained_total", &[]), 0.0);
    assert_eq!(value(&before, "trainyard_queue_depth", &[]), 0.0);
    assert_eq!(value(&before, "trainyard_running_jobs", &[]), 0.0);
    assert!(
        before
            .iter()
            .any(|s| s.name == "trainyard_build_info" && s.value == 1.0)
    );

    let job = submit(&app, &iris_spec(12)).await;
    let id = job["id"].as_str().expect("an id");
    let done = app.wait_until_finished(id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded");

    let (after, types) = scrape(&app).await;
    assert_eq!(types["trainyard_job_duration_seconds"], "histogram");
    assert_eq!(types["trainyard_job_queue_wait_seconds"], "histogram");
    assert_eq!(
        types["trainyard_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(types["trainyard_http_requests"], "counter");
    assert_eq!(
        value(&after, "trainyard_jobs", &[("status", "succeeded")]),
        1.0
    );
    assert_eq!(
        value(&after, "trainyard_jobs", &[("status", "queued")]),
        0.0
    );
    assert_eq!(value(&after, "trainyard_epochs_trained_total", &[]), 12.0);
    // 105 training rows (70 % of iris) per epoch.
    assert_eq!(
        value(&after, "trainyard_samples_trained_total", &[]),
        12.0 * 105.0
    );
    assert_eq!(
        value(
            &after,
            "trainyard_job_duration_seconds_count",
            &[("status", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "trainyard_job_queue_wait_seconds_count", &[]),
        1.0
    );
    // The job page polls were counted under the route template, not the raw path.
    assert!(
        value(
            &after,
            "trainyard_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/v1/jobs/{id}"),
                ("status", "200")
            ]
        ) >= 1.0
    );
    assert_eq!(
        value(
            &after,
            "trainyard_http_requests_total",
            &[("method", "POST"), ("route", "/v1/jobs"), ("status", "201")]
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "trainyard_http_request_duration_seconds_count",
            &[("route", "/metrics")]
        ) >= 1.0
    );
    app.stop().await;
}
