//! Checkpoints and recovery with the real binary: a server killed with SIGKILL mid-training,
//! and one stopped with SIGTERM, each restarted on the same database, must finish the job with
//! the same weights and the same epoch records as an uninterrupted run of the same spec on a
//! fresh database.
//!
//! Each scenario is a function of database URLs, so that it runs on any backend: the tests
//! below call them with temporary SQLite files and with fresh PostgreSQL databases (see
//! `multinode` for the server they need). On PostgreSQL the servers hold 2 s leases, so a
//! killed server's job is taken over soon after the restart.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::multinode::TestDatabase;
use crate::support::{SseEvent, SseReader, listening_address, spawn_binary};

/// A few seconds of training that touches every piece of state a checkpoint carries: shuffled
/// batches, dropout, augmentation noise, batch normalization, Adam's slots, early stopping
/// with a best-weights snapshot, validation, and step records.
fn long_spec(epochs: u64) -> Value {
    json!({
        "name": "durability",
        "data": {"type": "builtin", "name": "iris", "validation_split": 0.3, "standardize": true,
                 "augmentation": {"gaussian_noise": 0.05}},
        "architecture": {"layers": [
            {"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dropout", "rate": 0.2},
            {"type": "batch_normalization"},
            {"type": "dense", "units": 3, "activation": "softmax"}
        ]},
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     "batch_size": 15, "epochs": epochs, "seed": 11, "log_every_steps": 5,
                     "early_stopping": {"monitor": "val_loss", "patience": 100000,
                                        "restore_best_weights": true}}
    })
}

const EPOCHS: u64 = 1500;

fn is_postgres(database_url: &str) -> bool {
    database_url.starts_with("postgres")
}

/// A `trainyard serve` process.
struct Server {
    child: Child,
    address: String,
    client: reqwest::Client,
}

impl Server {
    /// Starts the binary on `database_url` with one worker and `flags`, and waits for its
    /// `listening on` line.
    fn start(database_url: &str, flags: &[&str]) -> Server {
        let lease: &[&str] = if is_postgres(database_url) {
            &["--lease-secs", "2"]
        } else {
            &[]
        };
        let (child, lines) = spawn_binary(
            &[&["--database-url", database_url][..], lease, flags].concat(),
            "server",
        );
        let address = listening_address(&lines);
        Server {
            child,
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a client"),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("http://{}{path}", self.address))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    async fn submit(&self, spec: &Value) -> String {
        let response = self
            .client
            .post(format!("http://{}/v1/jobs", self.address))
            .json(spec)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::CREATED);
        let job: Value = response.json().await.expect("a JSON body");
        job["id"].as_str().expect("an id").to_owned()
    }

    /// Polls the job until `done` holds for it.
    async fn wait_for(&self, id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let job = self.get(&format!("/v1/jobs/{id}")).await;
            if done(&job) {
                return job;
            }
            assert!(
                started.elapsed() < timeout,
                "job {id} did not get there within {timeout:?}: {job:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_until_succeeded(&self, id: &str) -> Value {
        let job = self
            .wait_for(id, Duration::from_secs(120), |job| {
                matches!(
                    job["status"].as_str(),
                    Some("succeeded" | "failed" | "cancelled")
                )
            })
            .await;
        assert_eq!(job["status"], "succeeded", "{job:#}");
        job
    }

    /// Every epoch record of a job, oldest first.
    async fn epochs(&self, id: &str) -> Vec<Value> {
        let page = self
            .get(&format!("/v1/jobs/{id}/metrics?since=0&limit=10000"))
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Every stored event of a finished job, replayed from the start.
    async fn events(&self, id: &str) -> Vec<SseEvent> {
        let response = self
            .client
            .get(format!("http://{}/v1/jobs/{id}/events", self.address))
            .send()
            .await
            .expect("the server answers");
        SseReader::new(response).rest().await
    }

    /// SIGTERM, then waits up to `bound` for the exit.
    fn terminate(mut self, bound: Duration) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        let signalled = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < bound,
                "the server did not exit within {bound:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to save anything.
    fn kill(mut self) {
        self.child.kill().expect("the child can be killed");
        self.child.wait().expect("the child is reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an uninterrupted run produces: its weights' hash, epoch records and step records.
struct Outcome {
    weights_sha256: Value,
    epochs: Vec<Value>,
    steps: Vec<Value>,
}

/// The numbers of an epoch record, without its timing.
fn numbers(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(fields) = record.as_object_mut() {
        fields.remove("duration_ms");
    }
    record
}

fn of_kind<'a>(events: &'a [SseEvent], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e.event == kind)
        .map(|e| &e.data)
        .collect()
}

fn statuses(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str().map(str::to_owned))
        .collect()
}

/// The job run once, without interruption, on a fresh database.
async fn uninterrupted(reference_url: &str, spec: &Value) -> Outcome {
    let server = Server::start(reference_url, &["--workers", "1"]);
    let id = server.submit(spec).await;
    let job = server.wait_until_succeeded(&id).await;
    let epochs = server.epochs(&id).await;
    let events = server.events(&id).await;
    assert_eq!(epochs.len() as u64, EPOCHS);
    Outcome {
        weights_sha256: job["weights_sha256"].clone(),
        epochs,
        steps: of_kind(&events, "step").into_iter().cloned().collect(),
    }
}

/// The resumed job must match the uninterrupted one number for number, with no record twice.
async fn assert_same_as(server: &Server, id: &str, job: &Value, reference: &Outcome) {
    assert_eq!(job["weights_sha256"], reference.weights_sha256);
    let epochs = server.epochs(id).await;
    let numbered: Vec<u64> = epochs.iter().filter_map(|e| e["epoch"].as_u64()).collect();
    assert_eq!(
        numbered,
        (1..=EPOCHS).collect::<Vec<_>>(),
        "every epoch once, in order"
    );
    for (resumed, whole) in epochs.iter().zip(&reference.epochs) {
        assert_eq!(numbers(resumed), numbers(whole));
    }
    let events = server.events(id).await;
    let steps: Vec<Value> = of_kind(&events, "step").into_iter().cloned().collect();
    assert_eq!(steps, reference.steps, "every step record once, the same");
    let logs = of_kind(&events, "log");
    assert!(
        logs.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("resumed from checkpoint at epoch"))),
        "the resume is in the log: {logs:?}"
    );
}

/// SIGKILL once checkpoints exist, restart on the same database: the job continues from its
/// latest checkpoint and ends exactly as an uninterrupted run does.
pub async fn killed_server_resumes_from_its_checkpoint(database_url: &str, reference_url: &str) {
    let spec = long_spec(EPOCHS);
    let reference = uninterrupted(reference_url, &spec).await;

    let flags = [
        "--workers",
        "1",
        "--checkpoint-every-epochs",
        "5",
        "--checkpoint-every-secs",
        "1",
    ];
    let server = Server::start(database_url, &flags);
    let id = server.submit(&spec).await;
    let running = server
        .wait_for(&id, Duration::from_secs(60), |job| {
            job["progress"]["checkpoint"]["epoch"].as_u64() >= Some(10)
        })
        .await;
    assert_eq!(running["status"], "running", "killed while it trains");
    server.kill();

    let server = Server::start(database_url, &flags);
    let job = server.wait_until_succeeded(&id).await;
    assert_eq!(
        statuses(&job),
        ["queued", "running", "queued", "running", "succeeded"]
    );
    // One process requeues what was running when it starts; a node of a cluster takes over
    // the job once the dead node's lease has expired.
    let interrupted = if is_postgres(database_url) {
        "requeued: the lease of attempt 1 on "
    } else {
        "interrupted: server restarted"
    };
    assert!(
        job["history"][2]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with(interrupted)),
        "{:#}",
        job["history"]
    );
    assert_same_as(&server, &id, &job, &reference).await;
}

/// SIGTERM mid-training: the server exits within its bound with the job back in the queue and
/// checkpointed at a step boundary; a restart finishes it exactly as an uninterrupted run.
pub async fn terminated_server_checkpoints_and_requeues(database_url: &str, reference_url: &str) {
    let spec = long_spec(EPOCHS);
    let reference = uninterrupted(reference_url, &spec).await;

    // No periodic checkpoints: the only one is the shutdown's.
    let flags = [
        "--workers",
        "1",
        "--checkpoint-every-epochs",
        "0",
        "--checkpoint-every-secs",
        "0",
        "--shutdown-timeout-secs",
        "5",
    ];
    let server = Server::start(database_url, &flags);
    let id = server.submit(&spec).await;
    server
        .wait_for(&id, Duration::from_secs(60), |job| {
            job["status"] == "running" && job["progress"]["epoch"].as_u64() >= Some(10)
        })
        .await;
    let (status, took) = server.terminate(Duration::from_secs(5 + 10));
    assert!(status.success(), "exit status {status}");
    eprintln!("the server exited {took:?} after SIGTERM");

    let idle = Server::start(database_url, &["--workers", "0"]);
    let queued = idle.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(statuses(&queued), ["queued", "running", "queued"]);
    let note = queued["history"][2]["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("shut down") && note.contains("continues from its checkpoint at epoch"),
        "{note}"
    );
    let kept = idle.epochs(&id).await;
    assert!(
        !kept.is_empty(),
        "the records the checkpoint covers are kept"
    );
    for (stored, whole) in kept.iter().zip(&reference.epochs) {
        assert_eq!(numbers(stored), numbers(whole));
    }
    let (status, _) = idle.terminate(Duration::from_secs(15));
    assert!(status.success());

    let server = Server::start(database_url, &flags);
    let job = server.wait_until_succeeded(&id).await;
    assert_eq!(
        statuses(&job),
        ["queued", "running", "queued", "running", "succeeded"]
    );
    assert_same_as(&server, &id, &job, &reference).await;
}

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_training_resumes_from_its_checkpoint_to_the_same_model() {
    let dir = tempfile::tempdir().expect("a temp dir");
    killed_server_resumes_from_its_checkpoint(
        &sqlite_url(&dir, "killed.db"),
        &sqlite_url(&dir, "reference.db"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_checkpoints_the_running_job_and_a_restart_finishes_it_exactly() {
    let dir = tempfile::tempdir().expect("a temp dir");
    terminated_server_checkpoints_and_requeues(
        &sqlite_url(&dir, "terminated.db"),
        &sqlite_url(&dir, "reference.db"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_server_killed_mid_training_resumes_from_its_checkpoint_to_the_same_model() {
    let database = TestDatabase::create().await;
    let reference = TestDatabase::create().await;
    killed_server_resumes_from_its_checkpoint(&database.url, &reference.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_sigterm_checkpoints_the_running_job_and_a_restart_finishes_it_exactly() {
    let database = TestDatabase::create().await;
    let reference = TestDatabase::create().await;
    terminated_server_checkpoints_and_requeues(&database.url, &reference.url).await;
}

/// A checkpoint whose bytes were damaged on disk is refused by its checksum: the job trains
/// again from the start, logs why, and still ends with the uninterrupted run's weights and
/// each epoch record once (the records the store kept are not written twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_checkpoint_is_refused_and_the_job_starts_over_without_duplicates() {
    use crate::support::{Options, body, open_events, spawn_app_in, spawn_app_with};

    let spec = long_spec(EPOCHS);
    let reference = spawn_app_with(Options::default()).await;
    let job = body(
        reference.post_json("/v1/jobs", &spec).await,
        StatusCode::CREATED,
    )
    .await;
    let reference_id = job["id"].as_str().expect("an id").to_owned();
    let whole = reference
        .wait_until_finished(&reference_id, Duration::from_secs(120))
        .await;
    let whole_epochs = body(
        reference
            .get(&format!(
                "/v1/jobs/{reference_id}/metrics?since=0&limit=10000"
            ))
            .await,
        StatusCode::OK,
    )
    .await;
    reference.stop().await;

    let app = spawn_app_with(Options::default()).await;
    let job = body(app.post_json("/v1/jobs", &spec).await, StatusCode::CREATED).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    app.wait_for_job(&id, Duration::from_secs(60), |job| {
        job["progress"]["epoch"].as_u64() >= Some(20)
    })
    .await;
    let db_path = app.db_path.clone();
    let dir = app.stop().await;

    // Flip one bit in the middle of the stored checkpoint.
    let url = format!("sqlite://{}", db_path.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("the database opens");
    let mut data: Vec<u8> = sqlx::query_scalar("SELECT data FROM checkpoints WHERE job_id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("the shutdown left a checkpoint");
    let middle = data.len() / 2;
    data[middle] ^= 0x04;
    sqlx::query("UPDATE checkpoints SET data = $1 WHERE job_id = $2")
        .bind(&data)
        .bind(&id)
        .execute(&pool)
        .await
        .expect("the checkpoint is damaged");
    pool.close().await;

    let app = spawn_app_in(dir, Options::default()).await;
    let done = app.wait_until_finished(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["weights_sha256"], whole["weights_sha256"]);
    let epochs = body(
        app.get(&format!("/v1/jobs/{id}/metrics?since=0&limit=10000"))
            .await,
        StatusCode::OK,
    )
    .await;
    let epochs = epochs["items"].as_array().cloned().unwrap_or_default();
    let numbered: Vec<u64> = epochs.iter().filter_map(|e| e["epoch"].as_u64()).collect();
    assert_eq!(numbered, (1..=EPOCHS).collect::<Vec<_>>());
    let whole_epochs = whole_epochs["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (again, first) in epochs.iter().zip(&whole_epochs) {
        assert_eq!(numbers(again), numbers(first));
    }
    let events = open_events(&app, &id, None).await.rest().await;
    let logs = of_kind(&events, "log");
    assert!(
        logs.iter().any(|l| l["message"].as_str().is_some_and(|m| m
            .contains("cannot be used (the checksum does not match")
            && m.contains("training again from the start"))),
        "{logs:?}"
    );
    app.stop().await;
}
