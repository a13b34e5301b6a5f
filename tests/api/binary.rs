//! The real `trainyard` binary: it starts, logs `listening on http://ADDR` with the real port,
//! serves, writes one structured line per request and per job transition, and exits cleanly
//! on SIGTERM.

use std::process::{Child, Command};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;

use crate::jobs::iris_spec;
use crate::support::{listening_address, spawn_binary};

/// A running binary, its address, and every line it writes to standard error.
struct Server {
    child: Child,
    address: String,
    lines: Receiver<String>,
}

/// Starts the binary on a fresh SQLite file with `extra` flags and waits for its address.
fn start(dir: &tempfile::TempDir, extra: &[&str]) -> Server {
    let database = format!("sqlite://{}", dir.path().join("bin.db").display());
    let (child, lines) = spawn_binary(
        &[&["--workers", "1", "--database-url", &database][..], extra].concat(),
        "binary",
    );
    let address = listening_address(&lines);
    Server {
        child,
        address,
        lines,
    }
}

/// Sends SIGTERM and waits up to 10 s for a clean exit.
fn terminate(server: &mut Server) {
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    for _ in 0..200 {
        if let Some(status) = server.child.try_wait().expect("the child can be waited on") {
            assert!(status.success(), "exit status {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.child.kill();
    panic!("the server did not exit within 10 s of SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_its_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = start(&dir, &[]);
    assert!(
        !server.address.ends_with(":0"),
        "the real port is logged: {}",
        server.address
    );
    let health = reqwest::get(format!("http://{}/healthz", server.address))
        .await
        .expect("the server answers");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    terminate(&mut server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_line_per_request_and_per_job_transition() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = start(&dir, &["--log-format", "json"]);
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.address);
    let created: Value = client
        .post(format!("{base}/v1/jobs"))
        .json(&iris_spec(5))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a job");
    let id = created["id"].as_str().expect("an id").to_owned();
    let mut status = String::new();
    for _ in 0..600 {
        let job: Value = client
            .get(format!("{base}/v1/jobs/{id}"))
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("a job");
        status = job["status"].as_str().unwrap_or_default().to_owned();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded");
    terminate(&mut server);

    let lines: Vec<String> = server.lines.try_iter().collect();
    let records: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let transitions: Vec<&str> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "job status" && r["fields"]["job"] == id.as_str())
        .map(|r| r["fields"]["status"].as_str().expect("a status"))
        .collect();
    assert_eq!(
        transitions,
        ["queued", "running", "succeeded"],
        "{lines:#?}"
    );
    let submit = records
        .iter()
        .filter(|r| r["fields"]["message"] == "finished processing request")
        .filter(|r| r["span"]["method"] == "POST" && r["span"]["uri"] == "/v1/jobs")
        .collect::<Vec<_>>();
    assert_eq!(submit.len(), 1, "{lines:#?}");
    assert_eq!(submit[0]["fields"]["status"], 201);
    assert_eq!(submit[0]["level"], "INFO");
    assert!(
        submit[0]["fields"]["latency"].is_string(),
        "{:#}",
        submit[0]
    );
    let polls = records
        .iter()
        .filter(|r| r["fields"]["message"] == "finished processing request")
        .filter(|r| r["span"]["uri"] == format!("/v1/jobs/{id}").as_str())
        .count();
    assert!(polls >= 1, "every poll is logged: {lines:#?}");
}
