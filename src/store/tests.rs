//! The store's behaviour, one suite run against both backends: every test below runs once on
//! a fresh SQLite file and once on a fresh PostgreSQL database.
//!
//! PostgreSQL tests use the server named by `TRAINYARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, which `.ci/run` starts when it is down). Each
//! test creates its own database with a random name and drops it at the end; when the server
//! cannot be reached the tests fail and say so.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::*;

/// The admin connection the PostgreSQL tests create their databases through.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A lease long enough never to expire by itself: the tests move time by hand.
const LEASE: Duration = Duration::from_secs(10);

enum Backend {
    Sqlite {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: PgStore,
        _database: Box<DropDatabase>,
    },
}

/// Drops its PostgreSQL test database when it goes out of scope, so a test that fails (and
/// unwinds) leaves nothing behind either; `WITH (FORCE)` ends connections still open.
struct DropDatabase {
    admin: PgConnectOptions,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        super::test_database::drop_database(&self.admin, &self.name);
    }
}

/// A fresh, migrated store of one backend.
struct TestDb {
    store: Arc<dyn Store>,
    backend: Backend,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = SqliteStore::connect(&url).await.expect("the store opens");
        TestDb {
            store: Arc::new(store.clone()),
            backend: Backend::Sqlite { store, _dir: dir },
        }
    }

    async fn postgres() -> TestDb {
        let url = std::env::var("TRAINYARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let admin: PgConnectOptions = url
            .parse()
            .unwrap_or_else(|e| panic!("TRAINYARD_TEST_POSTGRES_URL {url:?} does not parse: {e}"));
        let database = format!("trainyard_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is unreachable at {url} ({e}); start it (.ci/run does) or point \
                 TRAINYARD_TEST_POSTGRES_URL at a server where this user may create databases"
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut conn)
            .await
            .expect("the test database is created");
        conn.close().await.ok();
        let store = PgStore::connect_with(admin.clone().database(&database), LEASE)
            .await
            .expect("the store opens");
        TestDb {
            store: Arc::new(store.clone()),
            backend: Backend::Postgres {
                store,
                _database: Box::new(DropDatabase {
                    admin,
                    name: database,
                }),
            },
        }
    }

    /// Runs raw SQL, for checks the trait does not offer.
    async fn execute(&self, sql: &'static str) -> Result<(), sqlx::Error> {
        match &self.backend {
            Backend::Sqlite { store, .. } => sqlx::query(sql).execute(&store.pool).await.map(drop),
            Backend::Postgres { store, .. } => {
                sqlx::query(sql).execute(&store.pool).await.map(drop)
            }
        }
    }

    /// Closes the store, then drops a PostgreSQL test database (a SQLite one goes with its
    /// temp dir).
    async fn close(self) {
        if let Backend::Postgres { store, .. } = &self.backend {
            store.close().await;
        }
    }
}

/// Each test as a `#[tokio::test]` per backend, in modules `sqlite` and `postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::postgres().await;
                    super::$name(&db).await;
                    db.close().await;
                }
            )*
        }
    };
}

on_both_backends!(
    claims_take_the_highest_priority_then_the_oldest,
    lists_page_newest_first_without_the_specs,
    seeds_keep_all_64_bits,
    a_finished_job_keeps_its_status,
    an_idempotency_key_replays_the_same_request_and_refuses_another,
    a_full_queue_refuses_new_jobs,
    records_of_an_attempt_that_lost_the_job_are_dropped,
    deleting_a_job_takes_its_events_and_model_with_it,
    an_imported_model_is_stored_read_and_deleted,
    a_dataset_read_by_a_waiting_job_cannot_be_deleted,
    concurrent_claims_never_take_the_same_job,
    a_checkpoint_belongs_to_the_attempt_that_owns_the_job,
    a_requeue_keeps_the_records_a_checkpoint_covers_and_the_logs,
    heartbeats_renew_held_leases_and_report_cancels,
    an_expired_lease_is_taken_over_and_fences_the_old_attempt,
    an_expired_lease_of_a_job_asked_to_cancel_ends_it_cancelled,
    the_checkpoint_goes_when_the_job_is_cancelled_or_deleted,
    a_sweep_is_inserted_whole_or_not_at_all_and_cancelled_and_deleted_as_one,
    a_sweep_idempotency_key_replays_the_same_request_and_refuses_another,
);

fn new_job(id: &str, priority: i64, created_at: i64) -> NewJob {
    NewJob {
        id: id.to_owned(),
        name: Some(format!("job {id}")),
        priority,
        spec: "{}".into(),
        resolved_spec: "{}".into(),
        seed: u64::MAX,
        parameter_count: 131,
        total_steps: 70,
        epochs: 10,
        created_at,
        datasets: Vec::new(),
        idempotency: None,
        max_queued: 100,
    }
}

fn epoch(n: u64) -> NewEvent {
    NewEvent {
        kind: EventKind::Epoch,
        epoch: Some(n),
        body: format!(r#"{{"epoch":{n}}}"#),
        at: 1,
    }
}

async fn insert(store: &dyn Store, job: NewJob) -> JobRow {
    match store.insert_job(job).await.expect("insert works") {
        InsertJob::Created { job, .. } => job,
        other => panic!("expected a created job, got {other:?}"),
    }
}

async fn claim(store: &dyn Store) -> Option<JobRow> {
    store
        .claim_job("w", 5)
        .await
        .expect("claim works")
        .map(|(job, _)| job)
}

async fn claims_take_the_highest_priority_then_the_oldest(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    insert(&*db.store, new_job("b", 5, 2)).await;
    insert(&*db.store, new_job("c", 0, 3)).await;
    assert_eq!(db.store.queue_position("a").await.ok().flatten(), Some(2));
    assert_eq!(db.store.queue_position("b").await.ok().flatten(), Some(1));
    let order: Vec<String> = [
        claim(&*db.store).await,
        claim(&*db.store).await,
        claim(&*db.store).await,
        claim(&*db.store).await,
    ]
    .into_iter()
    .map(|job| job.map_or("-".to_owned(), |j| j.id))
    .collect();
    assert_eq!(order, ["b", "a", "c", "-"]);
}

async fn lists_page_newest_first_without_the_specs(db: &TestDb) {
    for (id, at) in [("a", 1), ("b", 2), ("c", 3)] {
        let mut job = new_job(id, 0, at);
        job.spec = r#"{"big": "spec"}"#.into();
        insert(&*db.store, job).await;
    }
    let page = |before: Option<(i64, String)>| {
        db.store.jobs(JobQuery {
            status: None,
            limit: 2,
            before,
        })
    };
    let first = page(None).await.expect("listed");
    let ids: Vec<&str> = first.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["c", "b"]);
    assert!(
        first
            .iter()
            .all(|j| j.spec.is_empty() && j.resolved_spec.is_empty())
    );
    let rest = page(Some((2, "b".into()))).await.expect("listed");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, "a");
    // One job read by id has its spec.
    let one = db.store.job("a").await.expect("read").expect("the job");
    assert_eq!(one.spec, r#"{"big": "spec"}"#);
}

async fn seeds_keep_all_64_bits(db: &TestDb) {
    let job = insert(&*db.store, new_job("a", 0, 1)).await;
    assert_eq!(job.seed, u64::MAX);
}

async fn a_finished_job_keeps_its_status(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    let job = claim(&*db.store).await.expect("a job to claim");
    let finish = Finish {
        job_id: "a".into(),
        attempt: job.attempt,
        status: JobStatus::Succeeded,
        error: None,
        progress: None,
        events: vec![epoch(1)],
        model: None,
        at: 9,
    };
    let events = db
        .store
        .finish_job(finish.clone())
        .await
        .expect("finish works");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].kind, EventKind::Status);
    let again = Finish {
        status: JobStatus::Failed,
        ..finish
    };
    assert!(
        db.store
            .finish_job(again)
            .await
            .expect("no error")
            .is_empty()
    );
    let forced = db
        .execute("UPDATE jobs SET status = 'queued' WHERE id = 'a'")
        .await;
    assert!(
        forced.is_err(),
        "the trigger refuses to reopen a finished job"
    );
    let job = db.store.job("a").await.ok().flatten().expect("the job");
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(matches!(
        db.store.request_cancel("a", 10).await,
        Ok(CancelJob::Finished(_))
    ));
}

async fn an_idempotency_key_replays_the_same_request_and_refuses_another(db: &TestDb) {
    let keyed = |id: &str, hash: &str| NewJob {
        idempotency: Some(Idempotency {
            key: "k1".into(),
            request_hash: hash.into(),
        }),
        ..new_job(id, 0, 1)
    };
    insert(&*db.store, keyed("a", "h1")).await;
    match db.store.insert_job(keyed("b", "h1")).await {
        Ok(InsertJob::Replayed(job)) => assert_eq!(job.id, "a"),
        other => panic!("expected a replay, got {other:?}"),
    }
    match db.store.insert_job(keyed("c", "h2")).await {
        Ok(InsertJob::KeyReused { job_id }) => assert_eq!(job_id, "a"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_full_queue_refuses_new_jobs(db: &TestDb) {
    insert(
        &*db.store,
        NewJob {
            max_queued: 1,
            ..new_job("a", 0, 1)
        },
    )
    .await;
    let refused = db
        .store
        .insert_job(NewJob {
            max_queued: 1,
            ..new_job("b", 0, 2)
        })
        .await;
    assert!(matches!(refused, Ok(InsertJob::QueueFull { queued: 1 })));
}

async fn records_of_an_attempt_that_lost_the_job_are_dropped(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    let first = claim(&*db.store).await.expect("claimed");
    let kept = db
        .store
        .record("a", first.attempt, vec![epoch(1)], Some("{}".into()))
        .await
        .expect("record works");
    assert_eq!(kept.len(), 1);
    let requeued = db
        .store
        .requeue_running("restart", 6)
        .await
        .expect("requeue");
    assert_eq!(requeued.len(), 1);
    assert!(
        db.store
            .epochs("a", 0, 10)
            .await
            .expect("epochs")
            .is_empty()
    );
    let second = claim(&*db.store).await.expect("claimed again");
    assert_eq!(second.attempt, first.attempt + 1);
    let stale = db
        .store
        .record("a", first.attempt, vec![epoch(1)], None)
        .await
        .expect("no error");
    assert!(stale.is_empty());
    let statuses: Vec<String> = db
        .store
        .history("a")
        .await
        .expect("history")
        .iter()
        .map(|e| e.body.clone())
        .collect();
    assert_eq!(
        statuses.len(),
        4,
        "queued, running, queued, running: {statuses:?}"
    );
    assert!(statuses[2].contains("restart"));
}

async fn an_imported_model_is_stored_read_and_deleted(db: &TestDb) {
    let record = ImportedModelRecord {
        id: "m".into(),
        parameter_count: 1,
        input_width: 1,
        model: ModelRecord {
            meta: r#"{"tensors":[]}"#.into(),
            weights: vec![0, 0, 128, 63],
            weights_sha256: "abc".into(),
            created_at: 3,
        },
    };
    assert_eq!(db.store.has_imported_model("m").await.ok(), Some(false));
    assert_eq!(db.store.imported_model_meta("m").await.ok(), Some(None));
    db.store
        .insert_imported_model(record.clone())
        .await
        .expect("stored");
    assert_eq!(db.store.has_imported_model("m").await.ok(), Some(true));
    assert_eq!(
        db.store.imported_model_meta("m").await.ok().flatten(),
        Some(record.model.meta.clone())
    );
    assert_eq!(
        db.store.imported_model("m").await.ok().flatten(),
        Some(record)
    );
    assert_eq!(db.store.delete_imported_model("m").await.ok(), Some(true));
    assert_eq!(db.store.delete_imported_model("m").await.ok(), Some(false));
    assert_eq!(db.store.has_imported_model("m").await.ok(), Some(false));
}

async fn deleting_a_job_takes_its_events_and_model_with_it(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    assert_eq!(
        db.store.delete_job("a").await.ok(),
        Some(DeleteJob::Active(JobStatus::Queued))
    );
    let job = claim(&*db.store).await.expect("claimed");
    let model = ModelRecord {
        meta: r#"{"tensors":[]}"#.into(),
        weights: vec![0, 0, 128, 63],
        weights_sha256: "abc".into(),
        created_at: 3,
    };
    db.store
        .finish_job(Finish {
            job_id: "a".into(),
            attempt: job.attempt,
            status: JobStatus::Succeeded,
            error: None,
            progress: None,
            events: vec![epoch(1), epoch(2)],
            model: Some(model.clone()),
            at: 4,
        })
        .await
        .expect("finish");
    assert_eq!(
        db.store.model_meta("a").await.ok().flatten(),
        Some(model.meta.clone())
    );
    assert_eq!(db.store.model("a").await.ok().flatten(), Some(model));
    assert_eq!(db.store.has_model("a").await.ok(), Some(true));
    assert_eq!(db.store.has_model("b").await.ok(), Some(false));
    assert_eq!(db.store.model_meta("b").await.ok(), Some(None));
    assert_eq!(
        db.store
            .job("a")
            .await
            .ok()
            .flatten()
            .and_then(|j| j.weights_sha256),
        Some("abc".into())
    );
    assert_eq!(db.store.epochs("a", 1, 10).await.expect("epochs").len(), 1);
    assert_eq!(
        db.store.delete_job("a").await.ok(),
        Some(DeleteJob::Deleted)
    );
    assert_eq!(db.store.has_model("a").await.ok(), Some(false));
    assert_eq!(db.store.model_meta("a").await.ok(), Some(None));
    assert_eq!(
        db.store.delete_job("a").await.ok(),
        Some(DeleteJob::NotFound)
    );
    assert!(
        db.store
            .events("a", 0, 10)
            .await
            .expect("events")
            .is_empty()
    );
    assert_eq!(db.store.model("a").await.ok().flatten(), None);
}

async fn a_dataset_read_by_a_waiting_job_cannot_be_deleted(db: &TestDb) {
    let dataset = DatasetRecord {
        meta: DatasetMeta {
            id: "d".into(),
            name: "points".into(),
            rows: 2,
            features: 1,
            classes: Some(2),
            label_column: "label".into(),
            meta: "{}".into(),
            created_at: 1,
        },
        matrix: vec![1, 2, 3],
    };
    db.store
        .insert_dataset(dataset.clone())
        .await
        .expect("insert");
    assert_eq!(
        db.store.dataset_matrix("d").await.ok().flatten(),
        Some(dataset)
    );
    insert(
        &*db.store,
        NewJob {
            datasets: vec!["d".into()],
            ..new_job("a", 0, 2)
        },
    )
    .await;
    assert_eq!(
        db.store.delete_dataset("d").await.ok(),
        Some(DeleteDataset::InUse {
            job_ids: vec!["a".into()]
        })
    );
    assert!(matches!(
        db.store.request_cancel("a", 3).await,
        Ok(CancelJob::Cancelled { .. })
    ));
    assert_eq!(
        db.store.delete_dataset("d").await.ok(),
        Some(DeleteDataset::Deleted)
    );
    let missing = db
        .store
        .insert_job(NewJob {
            datasets: vec!["d".into()],
            ..new_job("b", 0, 4)
        })
        .await;
    assert!(matches!(missing, Ok(InsertJob::DatasetMissing { .. })));
}

fn step(epoch: u64) -> NewEvent {
    NewEvent {
        kind: EventKind::Step,
        epoch: Some(epoch),
        body: r#"{"step":1}"#.into(),
        at: 1,
    }
}

fn log(message: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Log,
        epoch: None,
        body: format!(r#"{{"message":"{message}"}}"#),
        at: 1,
    }
}

fn checkpoint(job_id: &str, attempt: i64, last_seq: i64) -> CheckpointRecord {
    CheckpointRecord {
        job_id: job_id.to_owned(),
        attempt,
        epoch: 1,
        step: 7,
        last_seq,
        data: vec![1, 2, 3, 255],
        created_at: 6,
    }
}

fn lease(job: &JobRow) -> Lease {
    Lease {
        job_id: job.id.clone(),
        attempt: job.attempt,
    }
}

/// The notes of the job's status events, in order.
async fn notes(store: &dyn Store, id: &str) -> Vec<String> {
    store
        .history(id)
        .await
        .expect("history")
        .iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_str(&e.body).expect("JSON");
            format!(
                "{} {}",
                body["status"].as_str().unwrap_or("?"),
                body["note"]
            )
        })
        .collect()
}

async fn concurrent_claims_never_take_the_same_job(db: &TestDb) {
    for n in 0..40 {
        insert(&*db.store, new_job(&format!("j{n:02}"), 0, n)).await;
    }
    let mut claimers = Vec::new();
    for w in 0..8 {
        let store = Arc::clone(&db.store);
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some((job, _)) = store
                .claim_job(&format!("w{w}"), 5)
                .await
                .expect("claim works")
            {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.expect("the claimer ends"));
    }
    claimed.sort();
    let expected: Vec<String> = (0..40).map(|n| format!("j{n:02}")).collect();
    assert_eq!(claimed, expected, "each job claimed exactly once");
}

async fn a_checkpoint_belongs_to_the_attempt_that_owns_the_job(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    assert!(
        !db.store
            .save_checkpoint(checkpoint("a", 1, 0))
            .await
            .expect("no error"),
        "a queued job takes no checkpoint"
    );
    let job = claim(&*db.store).await.expect("claimed");
    assert!(
        !db.store
            .save_checkpoint(checkpoint("a", job.attempt + 1, 0))
            .await
            .expect("no error"),
        "another attempt's checkpoint is refused"
    );
    assert!(
        db.store
            .save_checkpoint(checkpoint("a", job.attempt, 0))
            .await
            .expect("saved")
    );
    let replaced = CheckpointRecord {
        epoch: 2,
        data: vec![9; 1000],
        ..checkpoint("a", job.attempt, 4)
    };
    assert!(
        db.store
            .save_checkpoint(replaced.clone())
            .await
            .expect("saved")
    );
    assert_eq!(
        db.store.checkpoint("a").await.expect("read"),
        Some(replaced.clone())
    );
    // After a requeue the checkpoint waits for the next attempt; the previous one is fenced off.
    db.store
        .requeue_running("restart", 6)
        .await
        .expect("requeue");
    let next = claim(&*db.store).await.expect("claimed again");
    assert!(
        !db.store
            .save_checkpoint(checkpoint("a", job.attempt, 0))
            .await
            .expect("no error"),
        "the previous attempt lost the job"
    );
    assert_eq!(
        db.store.checkpoint("a").await.expect("read"),
        Some(replaced)
    );
    assert!(
        db.store
            .save_checkpoint(checkpoint("a", next.attempt, 0))
            .await
            .expect("saved")
    );
    assert_eq!(
        db.store.checkpoint("a").await.expect("read"),
        Some(checkpoint("a", next.attempt, 0)),
        "the row is replaced, with the new attempt"
    );
    db.store
        .finish_job(Finish {
            job_id: "a".into(),
            attempt: next.attempt,
            status: JobStatus::Succeeded,
            error: None,
            progress: None,
            events: Vec::new(),
            model: None,
            at: 9,
        })
        .await
        .expect("finish");
    assert_eq!(db.store.checkpoint("a").await.expect("read"), None);
}

async fn a_requeue_keeps_the_records_a_checkpoint_covers_and_the_logs(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    let job = claim(&*db.store).await.expect("claimed");
    let first = db
        .store
        .record(
            "a",
            job.attempt,
            vec![step(1), epoch(1), log("hello")],
            None,
        )
        .await
        .expect("record");
    let covered = first[1].seq;
    assert!(
        db.store
            .save_checkpoint(checkpoint("a", job.attempt, covered))
            .await
            .expect("saved")
    );
    db.store
        .record(
            "a",
            job.attempt,
            vec![step(2), epoch(2), log("later")],
            None,
        )
        .await
        .expect("record");
    let requeued = db
        .store
        .requeue_job("a", job.attempt, "requeued: shutdown", 7)
        .await
        .expect("requeue");
    assert!(requeued.is_some());
    let kinds: Vec<(EventKind, Option<u64>)> = db
        .store
        .events("a", 0, 100)
        .await
        .expect("events")
        .iter()
        .map(|e| (e.kind, e.epoch))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Status, None),
            (EventKind::Status, None),
            (EventKind::Step, Some(1)),
            (EventKind::Epoch, Some(1)),
            (EventKind::Log, None),
            (EventKind::Log, None),
            (EventKind::Status, None),
        ]
    );
    assert!(
        db.store.checkpoint("a").await.expect("read").is_some(),
        "the checkpoint stays for the next attempt"
    );
    assert!(
        db.store
            .requeue_job("a", job.attempt, "again", 8)
            .await
            .expect("no error")
            .is_none(),
        "a queued job is not requeued again"
    );
    let second = claim(&*db.store).await.expect("claimed again");
    assert_eq!(second.attempt, job.attempt + 1);
    let notes = notes(&*db.store, "a").await;
    assert!(
        notes[3].starts_with("running") && notes[3].contains("attempt 2"),
        "{notes:?}"
    );
}

/// Claims `id` (the only queued job), saves a checkpoint for it and puts it back in the queue,
/// as an interrupted job is.
async fn interrupt_with_checkpoint(store: &dyn Store, id: &str) {
    let job = claim(store).await.expect("claimed");
    assert_eq!(job.id, id);
    assert!(
        store
            .save_checkpoint(checkpoint(id, job.attempt, 0))
            .await
            .expect("saved")
    );
    assert!(
        store
            .requeue_job(id, job.attempt, "interrupted", 7)
            .await
            .expect("requeue")
            .is_some()
    );
    assert!(store.checkpoint(id).await.expect("read").is_some());
}

async fn the_checkpoint_goes_when_the_job_is_cancelled_or_deleted(db: &TestDb) {
    // A queued job with a checkpoint (interrupted earlier) that is cancelled.
    insert(&*db.store, new_job("b", 0, 2)).await;
    interrupt_with_checkpoint(&*db.store, "b").await;
    assert!(matches!(
        db.store.request_cancel("b", 8).await,
        Ok(CancelJob::Cancelled { .. })
    ));
    assert_eq!(db.store.checkpoint("b").await.expect("read"), None);

    // And with the job: the cascade (the job forced to an end that keeps its checkpoint).
    insert(&*db.store, new_job("c", 0, 3)).await;
    let job = claim(&*db.store).await.expect("claimed");
    assert!(
        db.store
            .save_checkpoint(checkpoint("c", job.attempt, 0))
            .await
            .expect("saved")
    );
    db.execute("UPDATE jobs SET status = 'failed' WHERE id = 'c'")
        .await
        .expect("forced to an end");
    assert!(db.store.checkpoint("c").await.expect("read").is_some());
    assert_eq!(
        db.store.delete_job("c").await.ok(),
        Some(DeleteJob::Deleted)
    );
    assert_eq!(db.store.checkpoint("c").await.expect("read"), None);
}

fn new_sweep(id: &str, job_ids: &[&str], max_queued: u64) -> NewSweep {
    NewSweep {
        id: id.to_owned(),
        name: Some("grid".into()),
        base: "{}".into(),
        grid: r#"{"training.seed":[1,2,3]}"#.into(),
        seed: 7,
        created_at: 10,
        idempotency: None,
        jobs: job_ids
            .iter()
            .enumerate()
            .map(|(i, job_id)| {
                (
                    new_job(job_id, 0, 10),
                    format!(r#"{{"training.seed":{}}}"#, i + 1),
                )
            })
            .collect(),
        max_queued,
    }
}

async fn a_sweep_idempotency_key_replays_the_same_request_and_refuses_another(db: &TestDb) {
    let keyed = |id: &str, job_ids: &[&str], hash: &str| NewSweep {
        idempotency: Some(Idempotency {
            key: "k1".into(),
            request_hash: hash.into(),
        }),
        ..new_sweep(id, job_ids, 100)
    };
    // A job's key is not a sweep's: the same key on a job first does not replay a sweep.
    insert(
        &*db.store,
        NewJob {
            idempotency: Some(Idempotency {
                key: "k1".into(),
                request_hash: "h1".into(),
            }),
            ..new_job("single", 0, 1)
        },
    )
    .await;
    let created = db.store.insert_sweep(keyed("s1", &["a", "b"], "h1")).await;
    let Ok(InsertSweep::Created { jobs: first, .. }) = created else {
        panic!("expected a created sweep, got {created:?}");
    };
    match db.store.insert_sweep(keyed("s2", &["c", "d"], "h1")).await {
        Ok(InsertSweep::Replayed { sweep, jobs }) => {
            assert_eq!(sweep.id, "s1");
            assert_eq!(jobs, first);
        }
        other => panic!("expected a replay, got {other:?}"),
    }
    match db.store.insert_sweep(keyed("s3", &["e"], "h2")).await {
        Ok(InsertSweep::KeyReused { sweep_id }) => assert_eq!(sweep_id, "s1"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Neither the replay nor the refusal queued anything.
    for id in ["c", "d", "e"] {
        assert!(db.store.job(id).await.expect("read").is_none());
    }
    assert!(db.store.sweep("s2").await.expect("read").is_none());
}

async fn a_sweep_is_inserted_whole_or_not_at_all_and_cancelled_and_deleted_as_one(db: &TestDb) {
    insert(&*db.store, new_job("other", 0, 1)).await;
    // One place left in a queue of 3: a sweep of 3 does not fit, and leaves no trace.
    let full = db
        .store
        .insert_sweep(new_sweep("s0", &["x", "y", "z"], 3))
        .await;
    assert!(matches!(full, Ok(InsertSweep::QueueFull { queued: 1 })));
    let mut missing = new_sweep("s0", &["x", "y"], 100);
    missing.jobs[1].0.datasets = vec!["gone".into()];
    assert!(matches!(
        db.store.insert_sweep(missing).await,
        Ok(InsertSweep::DatasetMissing { .. })
    ));
    assert!(db.store.job("x").await.expect("read").is_none());
    assert!(db.store.sweep("s0").await.expect("read").is_none());

    let created = db
        .store
        .insert_sweep(new_sweep("s1", &["a", "b", "c"], 100))
        .await;
    let Ok(InsertSweep::Created { jobs, events, .. }) = created else {
        panic!("expected a created sweep, got {created:?}");
    };
    assert_eq!(events.len(), 3);
    let order: Vec<(u64, &str)> = jobs
        .iter()
        .map(|j| (j.position, j.job.id.as_str()))
        .collect();
    assert_eq!(order, [(0, "a"), (1, "b"), (2, "c")]);
    assert_eq!(jobs[2].overrides, r#"{"training.seed":3}"#);
    let (row, read) = db
        .store
        .sweep("s1")
        .await
        .expect("read")
        .expect("the sweep");
    assert_eq!((row.seed, read), (7, jobs));
    let listed = db
        .store
        .sweeps(SweepQuery {
            limit: 10,
            before: None,
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].counts, [(JobStatus::Queued, 3)]);

    // "other" is claimed first, then "a"; "b" was interrupted and waits with a checkpoint.
    // Cancelling the sweep stops "a", cancels b and c, and drops b's checkpoint.
    claim(&*db.store).await.expect("other");
    let a = claim(&*db.store).await.expect("a");
    assert_eq!(a.id, "a");
    interrupt_with_checkpoint(&*db.store, "b").await;
    assert_eq!(
        db.store.delete_sweep("s1").await.ok(),
        Some(DeleteSweep::Active {
            job_ids: vec!["a".into(), "b".into(), "c".into()]
        })
    );
    let Ok(CancelSweep::Done { cancelled, running }) = db.store.cancel_sweep("s1", 20).await else {
        panic!("expected a cancel");
    };
    assert_eq!(cancelled.len(), 2);
    assert_eq!(running, ["a"]);
    assert_eq!(db.store.checkpoint("b").await.expect("read"), None);
    let a = db.store.job("a").await.ok().flatten().expect("a");
    assert!(a.cancel_requested && a.status == JobStatus::Running);
    let listed = db
        .store
        .sweeps(SweepQuery {
            limit: 10,
            before: None,
        })
        .await
        .expect("list");
    assert_eq!(
        listed[0].counts,
        [(JobStatus::Running, 1), (JobStatus::Cancelled, 2)]
    );
    db.store
        .finish_job(Finish {
            job_id: "a".into(),
            attempt: a.attempt,
            status: JobStatus::Cancelled,
            error: None,
            progress: None,
            events: vec![epoch(1)],
            model: None,
            at: 21,
        })
        .await
        .expect("finish");
    assert_eq!(
        db.store.delete_sweep("s1").await.ok(),
        Some(DeleteSweep::Deleted {
            job_ids: vec!["a".into(), "b".into(), "c".into()]
        })
    );
    assert!(db.store.job("a").await.expect("read").is_none());
    assert!(
        db.store
            .events("a", 0, 10)
            .await
            .expect("events")
            .is_empty()
    );
    assert!(db.store.job("other").await.expect("read").is_some());
    assert!(matches!(
        db.store.cancel_sweep("s1", 22).await,
        Ok(CancelSweep::NotFound)
    ));
    assert_eq!(
        db.store.delete_sweep("s1").await.ok(),
        Some(DeleteSweep::NotFound)
    );
}

async fn heartbeats_renew_held_leases_and_report_cancels(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    insert(&*db.store, new_job("b", 0, 2)).await;
    let a = claim(&*db.store).await.expect("claimed");
    let b = claim(&*db.store).await.expect("claimed");
    let stale = Lease {
        job_id: "a".into(),
        attempt: a.attempt - 1,
    };
    let leases = [lease(&a), lease(&b), stale];
    let held = db.store.renew_leases(&leases, 6).await.expect("renewal");
    let mut held_ids: Vec<(String, bool)> = held
        .iter()
        .map(|h| (h.job_id.clone(), h.cancel_requested))
        .collect();
    held_ids.sort();
    assert_eq!(held_ids, [("a".into(), false), ("b".into(), false)]);
    assert!(matches!(
        db.store.request_cancel("b", 7).await,
        Ok(CancelJob::Requested(_))
    ));
    db.store
        .finish_job(Finish {
            job_id: "a".into(),
            attempt: a.attempt,
            status: JobStatus::Failed,
            error: None,
            progress: None,
            events: Vec::new(),
            model: None,
            at: 8,
        })
        .await
        .expect("finish");
    let held = db.store.renew_leases(&leases, 9).await.expect("renewal");
    assert_eq!(
        held,
        [HeldLease {
            job_id: "b".into(),
            cancel_requested: true
        }],
        "a finished job's lease is gone; the cancel shows"
    );
    assert!(
        db.store
            .renew_leases(&[], 10)
            .await
            .expect("renewal")
            .is_empty()
    );
}

async fn an_expired_lease_is_taken_over_and_fences_the_old_attempt(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    let first = claim(&*db.store).await.expect("claimed"); // at 5, lease 10 s
    db.store
        .record("a", first.attempt, vec![epoch(1), log("one")], None)
        .await
        .expect("record");
    let lease_ms = LEASE.as_millis() as i64;
    assert!(
        db.store
            .requeue_expired(5 + lease_ms - 1)
            .await
            .expect("sweep")
            .is_empty(),
        "a live lease is left alone"
    );
    // A renewal moves the lease on.
    db.store
        .renew_leases(&[lease(&first)], 1000)
        .await
        .expect("renewal");
    assert!(
        db.store
            .requeue_expired(5 + lease_ms + 1)
            .await
            .expect("sweep")
            .is_empty()
    );
    let swept = db
        .store
        .requeue_expired(1000 + lease_ms + 1)
        .await
        .expect("sweep");
    if !db.store.multi_node() {
        // One process per file: nothing expires, startup requeues instead.
        assert!(swept.is_empty());
        return;
    }
    assert_eq!(swept.len(), 1);
    assert!(
        swept[0].body.contains("lease of attempt 1 on w expired"),
        "{}",
        swept[0].body
    );
    assert!(
        db.store
            .epochs("a", 0, 10)
            .await
            .expect("epochs")
            .is_empty()
    );
    let second = db
        .store
        .claim_job("other", 20_000)
        .await
        .expect("claim")
        .map(|(job, _)| job)
        .expect("taken over");
    assert_eq!(second.attempt, first.attempt + 1);
    assert_eq!(second.worker.as_deref(), Some("other"));
    // The old attempt writes nothing any more.
    assert!(
        db.store
            .record("a", first.attempt, vec![epoch(1)], None)
            .await
            .expect("no error")
            .is_empty()
    );
    assert!(
        !db.store
            .save_checkpoint(checkpoint("a", first.attempt, 0))
            .await
            .expect("no error")
    );
    assert!(
        db.store
            .requeue_job("a", first.attempt, "late", 20_001)
            .await
            .expect("no error")
            .is_none()
    );
    assert!(
        db.store
            .renew_leases(&[lease(&first)], 20_002)
            .await
            .expect("renewal")
            .is_empty(),
        "the old attempt learns it lost the job"
    );
    let late = Finish {
        job_id: "a".into(),
        attempt: first.attempt,
        status: JobStatus::Succeeded,
        error: None,
        progress: None,
        events: vec![epoch(1)],
        model: None,
        at: 20_003,
    };
    assert!(
        db.store
            .finish_job(late)
            .await
            .expect("no error")
            .is_empty()
    );
    let notes = notes(&*db.store, "a").await;
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes[2].starts_with("queued") && notes[2].contains("expired"));
    assert!(notes[3].starts_with("running") && notes[3].contains("attempt 2"));
    let job = db.store.job("a").await.expect("read").expect("the job");
    assert_eq!(job.status, JobStatus::Running);
}

async fn an_expired_lease_of_a_job_asked_to_cancel_ends_it_cancelled(db: &TestDb) {
    insert(&*db.store, new_job("a", 0, 1)).await;
    claim(&*db.store).await.expect("claimed");
    assert!(matches!(
        db.store.request_cancel("a", 6).await,
        Ok(CancelJob::Requested(_))
    ));
    let swept = db.store.requeue_expired(1_000_000).await.expect("sweep");
    let job = db.store.job("a").await.expect("read").expect("the job");
    if db.store.multi_node() {
        assert_eq!(swept.len(), 1);
        assert_eq!(job.status, JobStatus::Cancelled);
        assert!(claim(&*db.store).await.is_none());
    } else {
        assert!(swept.is_empty());
        assert_eq!(job.status, JobStatus::Running);
    }
}

/// The migration versions in a folder, sorted.
fn migration_versions(folder: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut versions: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".sql")
                .then(|| name.split('_').next().unwrap_or_default().to_owned())
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let sqlite = migration_versions("migrations/sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        migration_versions("migrations/postgres"),
        "a schema change needs a migration for each backend, under the same number"
    );
}
