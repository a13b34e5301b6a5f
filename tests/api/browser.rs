//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver and
//! `fantoccini`) against a server from `spawn_app`. One walk through: the job list, an example
//! submitted from the form, its page following the event stream to `succeeded`, a comparison
//! of two jobs, a sweep's page, a descent; screenshots (PNG) are saved in `target/browser-artifacts/` or in
//! `$TRAINYARD_BROWSER_ARTIFACTS`.
//!
//! Without `chromium` and `chromedriver` the walk is skipped with a message, unless `CI` or
//! `TRAINYARD_REQUIRE_BROWSER=1` is set: then their absence fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, body, spawn_app};

/// How long any one thing the page should do may take (training included); generous, since
/// the machine may be busy. Nothing here measures speed.
const PATIENCE: Duration = Duration::from_secs(180);

/// Flags without which Chromium tries the network at start (this machine refuses it).
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,1250",
];

fn browser_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
        || std::env::var("TRAINYARD_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// `$VAR` if set (and a file), else the first of `names` found on `PATH` or as an absolute
/// path.
fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        let candidate = Path::new(name);
        if candidate.is_absolute() {
            return candidate.is_file().then(|| candidate.to_owned());
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|full| full.is_file())
    })
}

/// A chromedriver process and a session in the Chromium it starts.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the chromedriver this test started (Chromium exits with its session).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver and a headless Chromium session, or says why it cannot.
async fn start_browser() -> Option<Browser> {
    let chromium = program(
        "TRAINYARD_CHROMIUM",
        &["chromium", "chromium-browser", "/usr/bin/chromium"],
    );
    let chromedriver = program(
        "TRAINYARD_CHROMEDRIVER",
        &["chromedriver", "/usr/bin/chromedriver"],
    );
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let message = "the browser tests need chromium and chromedriver (Debian: apt-get install \
                       chromium chromium-driver; or set TRAINYARD_CHROMIUM and \
                       TRAINYARD_CHROMEDRIVER)";
        assert!(
            !browser_required(),
            "{message}; CI or TRAINYARD_REQUIRE_BROWSER=1 requires them"
        );
        eprintln!("SKIPPED: {message}");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", chromedriver.display()));
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": chromium, "args": args},
    });
    let capabilities = match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    };
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut browser = None;
    // chromedriver takes a moment to listen.
    while browser.is_none() {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities.clone());
        match builder.connect(&url).await {
            Ok(client) => browser = Some(client),
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "no WebDriver session from {}: {error}",
                    chromedriver.display()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Some(Browser {
        client: browser.expect("a session"),
        driver,
        _profile: profile,
    })
}

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("TRAINYARD_BROWSER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts"));
    std::fs::create_dir_all(&dir).expect("the artifacts directory can be made");
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = artifacts_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("the screenshot is written");
    eprintln!("screenshot: {}", path.display());
}

/// Waits until `script` (a function body returning a value) returns something truthy, and
/// returns it; fails with `what` after [`PATIENCE`].
async fn wait_for_script(client: &Client, script: &str, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let value = client
            .execute(script, Vec::new())
            .await
            .expect("the script runs");
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{what} did not happen within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page's URL satisfies `done` (a click on a link or a submit button returns
/// before the next page has loaded), and returns it.
async fn wait_for_url(
    client: &Client,
    what: &str,
    done: impl Fn(&reqwest::Url) -> bool,
) -> reqwest::Url {
    let started = Instant::now();
    loop {
        let url = client.current_url().await.expect("the current URL");
        if done(&url)
            && client
                .execute("return document.readyState", Vec::new())
                .await
                .ok()
                == Some(Value::String("complete".into()))
        {
            return url;
        }
        assert!(started.elapsed() < PATIENCE, "{what}: still on {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("its text")
}

/// Every chart image on the page has loaded (and so is a valid SVG).
const CHARTS_LOADED: &str = "const images = Array.from(document.querySelectorAll('figure img'));
    return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);";

/// A job that trains until it is cancelled, keeping the only worker busy.
async fn submit_blocker(app: &TestApp) -> String {
    let spec = json!({
        "name": "blocker",
        "data": {"type": "generated", "name": "moons", "samples": 2000, "noise": 0.2},
        "architecture": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
        "optimizer": {"type": "sgd", "learning_rate": 0.01},
        "training": {"loss": "sparse_categorical_crossentropy", "batch_size": 1,
                     "epochs": 100_000, "seed": 1}
    });
    let job = body(app.post_json("/v1/jobs", &spec).await, StatusCode::CREATED).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_for_job(&id, PATIENCE, |job| job["status"] == "running")
        .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_submitted_example_live_and_compares_and_descends() {
    let Some(browser) = start_browser().await else {
        return;
    };
    let client = &browser.client;
    let app = spawn_app().await;

    // The empty list; the first Tab reaches the skip link.
    client.goto(&app.url("/")).await.expect("the list opens");
    assert_eq!(text_of(client, "h1").await, "Jobs");
    assert_eq!(client.title().await.unwrap(), "Jobs · trainyard");
    let tab = char::from(Key::Tab);
    client
        .perform_actions(
            KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: tab })
                .then(KeyAction::Up { value: tab }),
        )
        .await
        .expect("Tab is pressed");
    let focused = client.active_element().await.unwrap().text().await.unwrap();
    assert_eq!(focused, "Skip to content");

    // The only worker is busy, so the submitted example waits in the queue.
    let blocker = submit_blocker(&app).await;

    // Submit an example from the form: one click loads it, one click queues it.
    client
        .find(Locator::LinkText("Submit a job"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(client, "the submit form", |url| url.path() == "/submit").await;
    client
        .find(Locator::Css("a[href='/submit?example=optimizer-adam']"))
        .await
        .expect("the example's link")
        .click()
        .await
        .unwrap();
    wait_for_url(client, "the example loaded", |url| url.query().is_some()).await;
    let spec = client
        .find(Locator::Id("spec"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert!(
        spec.unwrap_or_default()
            .contains("\"name\": \"optimizer-adam\"")
    );
    client
        .find(Locator::XPath("//button[text()='Submit job']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url = wait_for_url(client, "the job's page", |url| {
        url.path().starts_with("/jobs/")
    })
    .await;
    let adam = url
        .path()
        .strip_prefix("/jobs/")
        .unwrap_or_else(|| panic!("the job's page, got {url}"))
        .to_owned();
    assert_eq!(text_of(client, "h1").await, "optimizer-adam");
    assert_eq!(text_of(client, "[data-field=status]").await, "queued");

    // The list shows it too, live, without reloading.
    client.goto(&app.url("/")).await.unwrap();
    let row = format!("tr[data-job-id='{adam}'] [data-field=status]");
    assert_eq!(text_of(client, &row).await, "queued");
    let sgd_spec: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/examples/optimizer-sgd.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let sgd = body(
        app.post_json("/v1/jobs", &sgd_spec).await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_script(
        client,
        &format!("return document.querySelector(\"tr[data-job-id='{sgd}']\") !== null;"),
        "the new job appearing in the list",
    )
    .await;
    screenshot(client, "1-jobs").await;

    // Back on the job's page, free the worker: the page follows the job to its end.
    client
        .goto(&app.url(&format!("/jobs/{adam}")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "[data-field=status]").await, "queued");
    let cancelled = app
        .post_json(&format!("/v1/jobs/{blocker}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    wait_for_script(
        client,
        "return document.querySelector('[data-field=status]').textContent === 'succeeded';",
        "the job page showing succeeded",
    )
    .await;
    let job = body(app.get(&format!("/v1/jobs/{adam}")).await, StatusCode::OK).await;
    assert_eq!(job["status"], "succeeded");
    let epochs = job["progress"]["epoch"].as_u64().unwrap();
    assert_eq!(
        text_of(client, "[data-job-page] [data-field=epochs]").await,
        format!("{epochs} / {}", job["progress"]["epochs"])
    );
    assert!(
        client
            .find(Locator::Id("downloads"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    let latest = text_of(client, "[data-field=latest]").await;
    assert!(latest.contains("val_loss"), "{latest}");
    wait_for_script(client, CHARTS_LOADED, "the job's charts loading").await;
    // The charts were fetched again after the end: plots show the finished curves.
    let sources = client
        .execute(
            "return Array.from(document.querySelectorAll('img[data-plot]')).map((i) => i.getAttribute('src'));",
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(sources.to_string().contains("?v="), "{sources}");
    screenshot(client, "2-job").await;

    // Compare the two jobs.
    app.wait_until_finished(&sgd, PATIENCE).await;
    client
        .goto(&app.url(&format!("/compare?jobs={adam},{sgd}&metric=val_loss")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "h1").await, "Comparing 2 jobs");
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    wait_for_script(client, CHARTS_LOADED, "the comparison chart loading").await;
    // The metric picker reloads the comparison.
    client
        .find(Locator::Id("metric"))
        .await
        .unwrap()
        .select_by_value("val_accuracy")
        .await
        .unwrap();
    client
        .find(Locator::XPath("//button[text()='Show']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(client, "the comparison of val_accuracy", |url| {
        url.query().unwrap_or("").contains("metric=val_accuracy")
    })
    .await;
    wait_for_script(client, CHARTS_LOADED, "the comparison chart loading").await;
    screenshot(client, "3-compare").await;

    // A sweep: the lecture's three learning rates, compared on the sweep's page.
    let mut base = crate::jobs::iris_spec(15);
    base.as_object_mut().map(|s| s.remove("name"));
    let sweep = body(
        app.post_json(
            "/v1/sweeps",
            &json!({"name": "learning-rates", "base": base,
                    "grid": {"optimizer.learning_rate": [0.01, 0.1, 0.5]}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let sweep_id = sweep["id"].as_str().expect("a sweep id").to_owned();
    for job in sweep["jobs"].as_array().expect("jobs") {
        let job_id = job["id"].as_str().expect("a job id");
        app.wait_until_finished(job_id, PATIENCE).await;
    }
    client
        .goto(&app.url(&format!("/sweeps/{sweep_id}?metric=val_loss")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "h1").await, "Sweep learning-rates");
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 3);
    wait_for_script(client, CHARTS_LOADED, "the sweep's chart loading").await;
    screenshot(client, "5-sweep").await;

    // Descent: change the learning rate, descend, see the path.
    client.goto(&app.url("/descent")).await.unwrap();
    let rate = client.find(Locator::Id("learning_rate")).await.unwrap();
    rate.clear().await.unwrap();
    rate.send_keys("0.3").await.unwrap();
    client
        .find(Locator::XPath("//button[text()='Descend']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(client, "the descent with learning rate 0.3", |url| {
        url.query().unwrap_or("").contains("learning_rate=0.3")
    })
    .await;
    let title = wait_for_script(
        client,
        "const t = document.querySelector('figure svg title'); return t && t.textContent;",
        "the descent path",
    )
    .await;
    let title = title.as_str().unwrap_or_default();
    assert!(title.starts_with("x1^2 + 2*x2^2 - x1*x2"), "{title}");
    screenshot(client, "4-descent").await;

    browser
        .client
        .clone()
        .close()
        .await
        .expect("the session closes");
    app.stop().await;
}
