//! Several real `trainyard serve` processes on one fresh PostgreSQL database, with a 2 s lease:
//! jobs submitted through any node run exactly once; SSE and cancel reach a job running on
//! another node; a node killed mid-job loses its lease and another node finishes the job with
//! the same weights as an uninterrupted run.
//!
//! Needs PostgreSQL at `TRAINYARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); fails with a clear message without it.

use std::process::Child;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::jobs::iris_spec;
use crate::support::{SseReader, body, listening_address, spawn_binary};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const LEASE_SECS: &str = "2";

/// A fresh database on the test server, dropped with the value.
pub struct TestDatabase {
    admin: PgConnectOptions,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let admin_url = std::env::var("TRAINYARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let admin: PgConnectOptions = admin_url.parse().unwrap_or_else(|e| {
            panic!("TRAINYARD_TEST_POSTGRES_URL {admin_url:?} does not parse: {e}")
        });
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is unreachable at {admin_url} ({e}); start it (.ci/run does) or \
                 point TRAINYARD_TEST_POSTGRES_URL at a server where this user may create \
                 databases"
                )
            });
        let name = format!("trainyard_nodes_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("the test database is created");
        conn.close().await.ok();
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        TestDatabase { admin, name, url }
    }

    async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.admin.clone().database(&self.name))
            .await
            .expect("the test database answers")
    }
}

/// The database goes when the value does, so a test that fails (and unwinds) leaves nothing
/// behind either; `WITH (FORCE)` ends connections still open.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        test_database::drop_database(&self.admin, &self.name);
    }
}

#[path = "../../src/store/test_database.rs"]
mod test_database;

/// One `trainyard serve` process; killed when dropped.
struct Node {
    name: String,
    child: Child,
    address: String,
    client: reqwest::Client,
}

impl Node {
    fn spawn(
        name: &str,
        database_url: &str,
        workers: usize,
    ) -> (Child, std::sync::mpsc::Receiver<String>) {
        let workers = workers.to_string();
        let (child, receiver) = spawn_binary(
            &[
                "--node-id",
                name,
                "--workers",
                &workers,
                "--lease-secs",
                LEASE_SECS,
                "--database-url",
                database_url,
            ],
            name,
        );
        (child, receiver)
    }

    /// Starts the nodes together (they migrate the new database concurrently).
    fn start_all(database_url: &str, nodes: &[(&str, usize)]) -> Vec<Node> {
        let spawned: Vec<_> = nodes
            .iter()
            .map(|(name, workers)| (name, Node::spawn(name, database_url, *workers)))
            .collect();
        spawned
            .into_iter()
            .map(|(name, (child, receiver))| {
                let address = listening_address(&receiver);
                Node {
                    name: (*name).to_owned(),
                    child,
                    address,
                    client: reqwest::Client::builder()
                        .timeout(Duration::from_secs(60))
                        .build()
                        .expect("a client"),
                }
            })
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the node answers");
        body(response, StatusCode::OK).await
    }

    async fn submit(&self, spec: &Value) -> String {
        let response = self
            .client
            .post(self.url("/v1/jobs"))
            .json(spec)
            .send()
            .await
            .expect("the node answers");
        let job = body(response, StatusCode::CREATED).await;
        job["id"].as_str().expect("an id").to_owned()
    }

    async fn wait_for(&self, id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let job = self.get(&format!("/v1/jobs/{id}")).await;
            if done(&job) {
                return job;
            }
            assert!(
                started.elapsed() < timeout,
                "job {id} did not get there within {timeout:?} (asked {}): {job:#}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_until_finished(&self, id: &str, timeout: Duration) -> Value {
        self.wait_for(id, timeout, |job| {
            matches!(
                job["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `(worker, attempt)` of a job, read from the shared database.
async fn placement(db: &mut PgConnection, id: &str) -> (String, i64) {
    let (worker, attempt): (Option<String>, i64) =
        sqlx::query_as("SELECT worker, attempt FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *db)
            .await
            .expect("the job row");
    (worker.unwrap_or_default(), attempt)
}

fn statuses(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str().map(str::to_owned))
        .collect()
}

/// The epochs of the job's stored epoch records, in order.
async fn epochs(node: &Node, id: &str) -> Vec<u64> {
    let metrics = node
        .get(&format!("/v1/jobs/{id}/metrics?limit=10000"))
        .await;
    metrics["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["epoch"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_database_share_the_queue_and_take_over_a_dead_nodes_job() {
    let database = TestDatabase::create().await;
    let mut db = database.connect().await;
    // b only serves the API: every job it takes runs on a or c.
    let mut nodes = Node::start_all(
        &database.url,
        &[("node-a", 1), ("node-b", 0), ("node-c", 1)],
    );
    let (a, b, c) = (0, 1, 2);

    // SSE on b follows a job that runs elsewhere; a cancel sent to b stops a job elsewhere.
    let long = nodes[b].submit(&iris_spec(100_000)).await;
    let followed = nodes[b].submit(&iris_spec(150)).await;
    let events = nodes[b]
        .client
        .get(nodes[b].url(&format!("/v1/jobs/{followed}/events")))
        .send()
        .await
        .expect("the node answers");
    let streamed = tokio::time::timeout(Duration::from_secs(60), SseReader::new(events).rest())
        .await
        .expect("the stream ends after the job");
    let streamed_epochs: Vec<u64> = streamed
        .iter()
        .filter(|e| e.event == "epoch")
        .filter_map(|e| e.data["epoch"].as_u64())
        .collect();
    assert_eq!(streamed_epochs, (1..=150).collect::<Vec<_>>());
    let last = streamed.last().expect("events");
    assert_eq!(
        (last.event.as_str(), &last.data["status"]),
        ("end", &json!("succeeded"))
    );
    let (worker, _) = placement(&mut db, &followed).await;
    assert!(!worker.starts_with("node-b/"), "b trains nothing: {worker}");

    nodes[b]
        .wait_for(&long, Duration::from_secs(30), |job| {
            job["status"] == "running"
        })
        .await;
    let (long_worker, long_attempt) = placement(&mut db, &long).await;
    assert!(!long_worker.starts_with("node-b/"), "{long_worker}");
    let response = nodes[b]
        .client
        .post(nodes[b].url(&format!("/v1/jobs/{long}/cancel")))
        .send()
        .await
        .expect("the node answers");
    assert!(response.status().is_success(), "{}", response.status());
    let cancelled = nodes[b]
        .wait_until_finished(&long, Duration::from_secs(15))
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(placement(&mut db, &long).await, (long_worker, long_attempt));
    assert_eq!(statuses(&cancelled), ["queued", "running", "cancelled"]);

    // 30 jobs through all three nodes: each runs once, with no repeated epoch record.
    let mut ids = Vec::new();
    for n in 0..30 {
        let mut spec = iris_spec(15);
        spec["training"]["seed"] = json!(n);
        ids.push(nodes[n % 3].submit(&spec).await);
    }
    for (n, id) in ids.iter().enumerate() {
        let job = nodes[(n + 1) % 3]
            .wait_until_finished(id, Duration::from_secs(60))
            .await;
        assert_eq!(job["status"], "succeeded", "{job:#}");
        let history = statuses(&job);
        assert_eq!(
            history.iter().filter(|s| *s == "succeeded").count(),
            1,
            "{history:?}"
        );
        let (worker, attempt) = placement(&mut db, id).await;
        assert_eq!(
            history.iter().filter(|s| *s == "running").count() as i64,
            attempt,
            "one running event per attempt: {history:?}"
        );
        assert!(
            worker.starts_with("node-a/") || worker.starts_with("node-c/"),
            "{worker}"
        );
        assert_eq!(
            epochs(&nodes[n % 3], id).await,
            (1..=15).collect::<Vec<_>>()
        );
    }
    let trained_by: std::collections::HashSet<String> = {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT split_part(worker, '/', 1) FROM jobs WHERE status = 'succeeded'",
        )
        .fetch_all(&mut db)
        .await
        .expect("the workers");
        rows.into_iter().map(|(w,)| w).collect()
    };
    assert!(
        trained_by.contains("node-a") && trained_by.contains("node-c"),
        "{trained_by:?}"
    );

    // A node killed mid-job: its lease runs out and the other trainer finishes the job.
    let spec = iris_spec(1500);
    let doomed = nodes[a].submit(&spec).await;
    nodes[a]
        .wait_for(&doomed, Duration::from_secs(30), |job| {
            job["progress"]["epoch"].as_u64() > Some(5)
        })
        .await;
    let (first_worker, first_attempt) = placement(&mut db, &doomed).await;
    let victim = if first_worker.starts_with("node-a/") {
        a
    } else {
        c
    };
    let survivor = if victim == a { c } else { a };
    nodes[victim].kill();
    let finished = nodes[b]
        .wait_until_finished(&doomed, Duration::from_secs(60))
        .await;
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
    let (second_worker, second_attempt) = placement(&mut db, &doomed).await;
    assert_eq!(second_attempt, first_attempt + 1);
    assert!(
        second_worker.starts_with(&format!("{}/", nodes[survivor].name)),
        "{second_worker}"
    );
    assert_eq!(
        statuses(&finished),
        ["queued", "running", "queued", "running", "succeeded"]
    );
    let expired_note = finished["history"][2]["note"].as_str().unwrap_or("");
    assert!(
        expired_note.contains("lease of attempt 1") && expired_note.contains("expired"),
        "{expired_note}"
    );
    assert_eq!(
        epochs(&nodes[b], &doomed).await,
        (1..=1500).collect::<Vec<_>>()
    );

    let reference = nodes[b].submit(&spec).await;
    let uninterrupted = nodes[survivor]
        .wait_until_finished(&reference, Duration::from_secs(60))
        .await;
    assert_eq!(uninterrupted["status"], "succeeded");
    assert!(finished["weights_sha256"].is_string());
    assert_eq!(
        finished["weights_sha256"], uninterrupted["weights_sha256"],
        "the taken-over job trains the same weights as an uninterrupted run"
    );

    drop(nodes);
    db.close().await.ok();
}
