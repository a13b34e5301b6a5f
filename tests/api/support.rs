//! `spawn_app()`: a real server on 127.0.0.1:0 with its own temporary SQLite file, and a small
//! client for it. Each test gets its own app, database and port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trainyard::app::App;
use trainyard::config::{Config, Limits};
use trainyard::jobs::JobQueue;

/// A running server.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub queue: Arc<JobQueue>,
    pub db_path: PathBuf,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    /// Keeps the database directory alive; shared with apps rebuilt on the same file.
    pub dir: Arc<tempfile::TempDir>,
}

/// Options of a test server.
pub struct Options {
    pub workers: usize,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 1,
            limits: Limits::default(),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("a temporary directory"));
    spawn_app_in(dir, options).await
}

/// A server on the database file of an earlier one (which must have been stopped).
pub async fn spawn_app_in(dir: Arc<tempfile::TempDir>, options: Options) -> TestApp {
    spawn_app_configured(dir, options, |_| {}).await
}

/// A server whose configuration `configure` adjusts last.
pub async fn spawn_app_configured(
    dir: Arc<tempfile::TempDir>,
    options: Options,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    // Server logs only on request: `TEST_LOG=1 cargo test`.
    if std::env::var_os("TEST_LOG").is_some() {
        trainyard::telemetry::init(trainyard::config::LogFormat::Text);
    }
    let db_path = dir.path().join("trainyard.db");
    let mut config = Config::new(format!("sqlite://{}", db_path.display()));
    config.bind = "127.0.0.1:0".parse().expect("an address");
    config.workers = Some(options.workers);
    config.limits = options.limits;
    configure(&mut config);
    let app = App::build(config).await.expect("the app builds");
    let address = app.address();
    let queue = app.queue();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(async move {
        app.run_until_stopped().await.expect("the server runs");
    });
    TestApp {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a client"),
        queue,
        db_path,
        shutdown,
        server: Some(server),
        dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.expect("the request is sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("the request is sent")
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) -> Arc<tempfile::TempDir> {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("the server stops within 30 s")
                .expect("the server task ends cleanly");
        }
        Arc::clone(&self.dir)
    }

    /// Polls a job until `done` holds for it, or fails after `timeout`.
    pub async fn wait_for_job(
        &self,
        id: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let job = body(self.get(&format!("/v1/jobs/{id}")).await, StatusCode::OK).await;
            if done(&job) {
                return job;
            }
            assert!(
                started.elapsed() < timeout,
                "job {id} did not get there within {timeout:?}: {job:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the job has finished, whatever the outcome.
    pub async fn wait_until_finished(&self, id: &str, timeout: Duration) -> Value {
        self.wait_for_job(id, timeout, |job| {
            matches!(
                job["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The JSON body of `response`, after checking its status.
pub async fn body(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}"))
}

/// Checks that `response` is a problem with `status` and `slug`, and returns its body.
pub async fn problem(response: Response, status: StatusCode, slug: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let problem = body(response, status).await;
    assert_eq!(content_type, "application/problem+json", "{problem}");
    assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
    assert_eq!(problem["status"], status.as_u16(), "{problem}");
    assert!(problem["title"].is_string() && problem["detail"].is_string());
    problem
}

/// The paths named in a problem's `errors`.
pub fn error_paths(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One Server-Sent Event as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads SSE frames from a streaming response.
pub struct SseReader {
    response: Response,
    buffer: String,
    /// `: comment` lines seen (keep-alives).
    pub comments: usize,
}

impl SseReader {
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event, or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                let mut has_field = false;
                for line in frame.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some((field, value)) = line.split_once(':') {
                        has_field = true;
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "event" => event.event = value.to_owned(),
                            "id" => event.id = Some(value.to_owned()),
                            "data" => data.push_str(value),
                            _ => {}
                        }
                    }
                }
                if has_field {
                    event.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                    return Some(event);
                }
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Every remaining event until the stream ends.
    pub async fn rest(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

/// Opens a job's event stream, resuming after `last_event_id` when given.
pub async fn open_events(app: &TestApp, id: &str, last_event_id: Option<&str>) -> SseReader {
    let mut request = app.client.get(app.url(&format!("/v1/jobs/{id}/events")));
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last);
    }
    SseReader::new(request.send().await.expect("the request is sent"))
}

/// Puts a job straight into the store, bypassing validation: for tests of the lifecycle that
/// must not depend on the engine (the job never trains unless a worker claims it).
pub async fn insert_raw_job(app: &TestApp, name: &str, created_at: i64) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let job = trainyard::store::NewJob {
        id: id.clone(),
        name: Some(name.to_owned()),
        priority: 0,
        spec: r#"{"name":"raw"}"#.into(),
        resolved_spec: r#"{"name":"raw"}"#.into(),
        seed: 7,
        parameter_count: 1,
        total_steps: 1,
        epochs: 1,
        created_at,
        datasets: Vec::new(),
        idempotency: None,
        max_queued: 1_000,
    };
    match app.queue.store().insert_job(job).await {
        Ok(trainyard::store::InsertJob::Created { .. }) => id,
        other => panic!("the raw job was not inserted: {other:?}"),
    }
}

/// Starts the real binary as `trainyard serve --bind 127.0.0.1:0 {args}` (`RUST_LOG=info`)
/// and forwards every line it writes to standard error into the returned channel (the
/// receiver may be dropped), echoed with `label` when `TEST_LOG` is set.
pub fn spawn_binary(
    args: &[&str],
    label: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trainyard"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, lines) = std::sync::mpsc::channel();
    let echo = std::env::var_os("TEST_LOG").is_some();
    let label = label.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if echo {
                eprintln!("[{label}] {line}");
            }
            // Reading goes on after the receiver is gone, so the server never blocks or
            // fails on a full or closed pipe.
            let _ = sender.send(line);
        }
    });
    (child, lines)
}

/// Reads the binary's lines up to its `listening on http://ADDR` line (plain or JSON) and
/// returns `ADDR`; panics with the lines read when none comes within 60 s.
pub fn listening_address(lines: &std::sync::mpsc::Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            panic!("no `listening on` line within 60 s; the log: {seen:#?}");
        };
        if let Some((_, address)) = line.split_once("listening on http://") {
            // The address ends where the text line ends or the JSON string closes.
            return address
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
                .collect();
        }
        seen.push(line);
    }
}

/// The `examples/{directory}/*.json` specs (`""` for `examples/` itself), sorted by name, each
/// with its file stem.
pub fn example_files(directory: &str) -> Vec<(String, Value)> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(directory);
    let mut paths: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|_| panic!("{} exists", directory.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, serde_json::from_str(&text).expect("valid JSON"))
        })
        .collect()
}

/// `openapi.yaml`, parsed.
pub fn openapi() -> Value {
    serde_saphyr::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml parses")
}
