//! A node's hold on the jobs it runs: its [`Node`] identity and the [`heartbeat`] task.
//!
//! Every lease/3 the heartbeat renews the leases of all of this node's running attempts in one
//! store call. An attempt the store no longer lists has lost its job (its lease ran out and
//! another node took the job over, or the job ended): its training is stopped, and since every
//! write of an attempt is fenced by its attempt number, it could not have written anyway. A
//! job whose cancel was requested on any node is stopped here as cancelled. On a multi-node
//! store the heartbeat also takes over the jobs of nodes that stopped renewing
//! ([`Store::requeue_expired`]) and wakes this node's workers for them.
//!
//! The task runs on the tokio runtime, never on a training thread, so renewals go on while every
//! worker trains.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::events::EventHub;
use super::queue::now_ms;
use super::worker::{Doorbell, RunningJobs, StopReason};
use crate::store::Store;

/// Who this process is among the nodes sharing a database, and how long its leases last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Recorded with every job it runs, as `ID/worker-N`.
    pub id: String,
    pub lease: Duration,
}

impl Node {
    /// How often the heartbeat renews: three times per lease, so that one late beat does not
    /// lose a job.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(50))
    }
}

impl Default for Node {
    fn default() -> Self {
        Node {
            id: crate::config::default_node_id(),
            lease: Duration::from_secs(15),
        }
    }
}

/// What the heartbeat reaches.
pub struct Heart {
    pub store: Arc<dyn Store>,
    pub hub: Arc<EventHub>,
    pub doorbell: Arc<Doorbell>,
    pub running: Arc<RunningJobs>,
    pub interval: Duration,
}

/// Beats every `heart.interval` until `stop` is cancelled.
pub async fn heartbeat(heart: Heart, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(heart.interval) => {}
        }
        beat(&heart).await;
    }
}

/// One renewal, then (multi-node) one sweep for expired leases.
pub async fn beat(heart: &Heart) {
    let leases = heart.running.leases();
    if !leases.is_empty() {
        match heart.store.renew_leases(&leases, now_ms()).await {
            Ok(held) => {
                let held: HashMap<&str, bool> = held
                    .iter()
                    .map(|h| (h.job_id.as_str(), h.cancel_requested))
                    .collect();
                for lease in &leases {
                    match held.get(lease.job_id.as_str()) {
                        None => {
                            if heart.running.stop_attempt(
                                &lease.job_id,
                                lease.attempt,
                                StopReason::LeaseLost,
                            ) {
                                tracing::warn!(
                                    job = %lease.job_id,
                                    attempt = lease.attempt,
                                    "lost the lease of a running job; stopping it"
                                );
                            }
                        }
                        Some(true) => {
                            heart.running.stop_attempt(
                                &lease.job_id,
                                lease.attempt,
                                StopReason::Cancelled,
                            );
                        }
                        Some(false) => {}
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "renewing the leases of running jobs failed"),
        }
    }
    if heart.store.multi_node() {
        match heart.store.requeue_expired(now_ms()).await {
            Ok(events) if !events.is_empty() => {
                tracing::info!(
                    jobs = events.len(),
                    "took over jobs whose lease expired; they are queued again"
                );
                heart.hub.publish(&events);
                heart.doorbell.ring();
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "looking for expired leases failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CancelJob, InsertJob, NewJob, SqliteStore};

    fn new_job(id: &str) -> NewJob {
        NewJob {
            id: id.to_owned(),
            name: None,
            priority: 0,
            spec: "{}".into(),
            resolved_spec: "{}".into(),
            seed: 1,
            parameter_count: 1,
            total_steps: 1,
            epochs: 1,
            created_at: 1,
            datasets: Vec::new(),
            idempotency: None,
            max_queued: 10,
        }
    }

    #[tokio::test]
    async fn a_beat_stops_cancelled_and_lost_attempts_and_leaves_the_rest() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("beat.db").display());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("opens"));
        for id in ["kept", "cancelled", "lost"] {
            assert!(matches!(
                store.insert_job(new_job(id)).await,
                Ok(InsertJob::Created { .. })
            ));
            store.claim_job("n/worker-0", 2).await.expect("claimed");
        }
        assert!(matches!(
            store.request_cancel("cancelled", 3).await,
            Ok(CancelJob::Requested(_))
        ));
        let running = Arc::new(RunningJobs::default());
        let kept = running.start("kept", 1);
        let cancelled = running.start("cancelled", 1);
        // Registered under an attempt the store no longer knows: it lost the job.
        let lost = running.start("lost", 0);
        let heart = Heart {
            store,
            hub: Arc::new(EventHub::new()),
            doorbell: Arc::new(Doorbell::new()),
            running,
            interval: Duration::from_millis(10),
        };
        beat(&heart).await;
        assert_eq!(kept.reason(), None);
        assert_eq!(cancelled.reason(), Some(StopReason::Cancelled));
        assert_eq!(lost.reason(), Some(StopReason::LeaseLost));
    }

    #[test]
    fn the_heartbeat_beats_three_times_per_lease() {
        let node = Node {
            id: "n".into(),
            lease: Duration::from_secs(15),
        };
        assert_eq!(node.heartbeat_interval(), Duration::from_secs(5));
    }
}
