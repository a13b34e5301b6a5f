//! Live events of each job: an in-memory broadcast per job, fed with the rows the store has just
//! committed, and [`follow`], the stream an SSE client reads.
//!
//! Events are numbered by the store (`seq`), and published only after they are committed. A
//! follower subscribes to the broadcast *first*, then reads the store for everything after the
//! client's last id, then takes live events whose `seq` is higher than the last one sent. Every
//! event is therefore either in what the store returned or in what the broadcast delivers, so a
//! client resuming with `Last-Event-ID` misses nothing; one that falls behind the broadcast
//! (lagged) simply catches up from the store again.
//!
//! The broadcast only carries what this process committed. On a multi-node store the job may
//! be running on another node, so a follower also reads the store for events after the last
//! one it sent every [`REMOTE_POLL`] while the broadcast is quiet. Polling was chosen over
//! PostgreSQL's LISTEN/NOTIFY: it needs no dedicated connection per node, survives a dropped
//! connection without a resubscription protocol, and costs one indexed query per follower per
//! interval. It misses nothing because one job's events commit in `seq` order (see
//! `store::postgres`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::store::{EventKind, EventRow, JobStatus, Store, StoreError};

/// Live events a slow follower may fall behind by before it re-reads from the store.
const CHANNEL_CAPACITY: usize = 1024;
/// Rows read from the store per query while catching up.
const CATCH_UP_PAGE: u32 = 500;
/// How often a follower on a multi-node store reads the store for events other nodes wrote.
pub const REMOTE_POLL: Duration = Duration::from_millis(250);

/// The per-job broadcast channels. A channel exists while someone follows the job.
#[derive(Debug, Default)]
pub struct EventHub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<EventRow>>>>,
}

/// The status a `status` event announces, if `event` is one.
pub fn announced_status(event: &EventRow) -> Option<JobStatus> {
    if event.kind != EventKind::Status {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(&event.body).ok()?;
    JobStatus::parse(body.get("status")?.as_str()?)
}

/// Whether `event` is a job's final status event.
pub fn is_final(event: &EventRow) -> bool {
    announced_status(event).is_some_and(JobStatus::is_terminal)
}

/// Writes one log line for a status event: every transition of every job passes through
/// [`EventHub::publish`], so this is the job log.
fn log_transition(event: &EventRow) {
    let Some(status) = announced_status(event) else {
        return;
    };
    let note = serde_json::from_str::<serde_json::Value>(&event.body)
        .ok()
        .and_then(|body| {
            body.get("note")
                .and_then(|note| note.as_str().map(str::to_owned))
        });
    tracing::info!(
        job = %event.job_id,
        status = status.as_str(),
        seq = event.seq,
        note = note.as_deref().unwrap_or(""),
        "job status"
    );
}

impl EventHub {
    pub fn new() -> Self {
        EventHub::default()
    }

    /// Hands committed events to the job's followers, in order. After a final status the
    /// channel is dropped: followers drain what they have and then see the end.
    pub fn publish(&self, events: &[EventRow]) {
        if events.is_empty() {
            return;
        }
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            log_transition(event);
            if let Some(sender) = channels.get(&event.job_id) {
                // An error only means nobody listens right now.
                let _ = sender.send(Arc::new(event.clone()));
            }
            if is_final(event) {
                channels.remove(&event.job_id);
            }
        }
    }

    /// Starts receiving the job's live events.
    pub fn subscribe(self: &Arc<Self>, job_id: &str) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = channels
            .entry(job_id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        Subscription {
            hub: Arc::clone(self),
            job_id: job_id.to_owned(),
            receiver: Some(receiver),
        }
    }

    /// How many jobs have followers; for tests and diagnostics.
    pub fn followed_jobs(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A receiver of one job's live events; dropping the last one frees the channel.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<EventHub>,
    job_id: String,
    receiver: Option<broadcast::Receiver<Arc<EventRow>>>,
}

impl Subscription {
    async fn recv(&mut self) -> Result<Arc<EventRow>, broadcast::error::RecvError> {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut channels = self
            .hub
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if channels
            .get(&self.job_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            channels.remove(&self.job_id);
        }
    }
}

/// What a follower hands its reader.
#[derive(Debug, Clone)]
pub enum Followed {
    /// The next event.
    Event(Arc<EventRow>),
    /// The job had ended before the reader's `after`, which was at or past its final status
    /// event (a client reconnecting after it missed the end): nothing more will come.
    Ended(JobStatus),
}

/// Every event of `job_id` after `after`, stored ones first, then live ones, ending after the
/// final status event (or at once with [`Followed::Ended`] when that event is at or before
/// `after`). The stream also ends when its reader goes away. A store error ends it with that
/// error as the last item.
pub fn follow(
    store: Arc<dyn Store>,
    hub: Arc<EventHub>,
    job_id: String,
    after: i64,
) -> ReceiverStream<Result<Followed, StoreError>> {
    let (sender, receiver) = mpsc::channel(64);
    let poll = store.multi_node().then_some(REMOTE_POLL);
    tokio::spawn(async move {
        if let Err(error) = pump(&*store, &hub, &job_id, after, poll, &sender).await {
            let _ = sender.send(Err(error)).await;
        }
    });
    ReceiverStream::new(receiver)
}

type Outbox = mpsc::Sender<Result<Followed, StoreError>>;

/// Whether the stream should go on after `event` was handed to the reader.
enum Next {
    More,
    Done,
}

async fn deliver(outbox: &Outbox, event: Arc<EventRow>, last: &mut i64) -> Next {
    *last = event.seq;
    let done = is_final(&event);
    if outbox.send(Ok(Followed::Event(event))).await.is_err() || done {
        Next::Done
    } else {
        Next::More
    }
}

/// Sleeps `poll`, or forever without one.
async fn poll_tick(poll: Option<Duration>) {
    match poll {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}

/// The job's final status, if it has ended.
async fn ended(store: &dyn Store, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
    Ok(store
        .job(job_id)
        .await?
        .map(|job| job.status)
        .filter(|status| status.is_terminal()))
}

async fn pump(
    store: &dyn Store,
    hub: &Arc<EventHub>,
    job_id: &str,
    after: i64,
    poll: Option<Duration>,
    outbox: &Outbox,
) -> Result<(), StoreError> {
    let mut last = after;
    let mut subscription = hub.subscribe(job_id);
    // Read before the first catch-up: a job that had ended then has all its events stored, so
    // if that catch-up brings no final status, the reader was past it already.
    let mut ended_before = ended(store, job_id).await?;
    loop {
        loop {
            let rows = store.events(job_id, last, CATCH_UP_PAGE).await?;
            let full_page = rows.len() == CATCH_UP_PAGE as usize;
            for row in rows {
                if let Next::Done = deliver(outbox, Arc::new(row), &mut last).await {
                    return Ok(());
                }
            }
            if !full_page {
                break;
            }
        }
        if let Some(status) = ended_before.take() {
            let _ = outbox.send(Ok(Followed::Ended(status))).await;
            return Ok(());
        }
        loop {
            let received = tokio::select! {
                () = outbox.closed() => return Ok(()),
                received = subscription.recv() => received,
                // Events other nodes wrote: read the store.
                () = poll_tick(poll) => break,
            };
            match received {
                Ok(event) if event.seq > last => {
                    if let Next::Done = deliver(outbox, event, &mut last).await {
                        return Ok(());
                    }
                }
                // The final status, at or before the reader's `after` (ids are numbered across
                // all jobs, so a reader may start past it): nothing more will come.
                Ok(event) if is_final(&event) => {
                    if let Some(status) = announced_status(&event) {
                        let _ = outbox.send(Ok(Followed::Ended(status))).await;
                    }
                    return Ok(());
                }
                Ok(_) => {}
                // Fell behind: catch up from the store.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                // The channel was dropped after a final status that is now in the store:
                // subscribe again (before reading, so nothing falls between) and catch up.
                Err(broadcast::error::RecvError::Closed) => {
                    subscription = hub.subscribe(job_id);
                    ended_before = ended(store, job_id).await?;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_event(seq: i64, job_id: &str, status: &str) -> EventRow {
        EventRow {
            seq,
            job_id: job_id.to_owned(),
            kind: EventKind::Status,
            epoch: None,
            body: format!(r#"{{"status":"{status}","note":null,"error":null}}"#),
            at: 0,
        }
    }

    #[test]
    fn only_terminal_status_events_are_final() {
        assert!(!is_final(&status_event(1, "j", "queued")));
        assert!(!is_final(&status_event(2, "j", "running")));
        assert!(is_final(&status_event(3, "j", "succeeded")));
        assert!(is_final(&status_event(4, "j", "failed")));
        assert!(is_final(&status_event(5, "j", "cancelled")));
    }

    #[tokio::test]
    async fn subscribers_receive_published_events_and_the_channel_goes_with_the_last_one() {
        let hub = Arc::new(EventHub::new());
        let mut first = hub.subscribe("j");
        let second = hub.subscribe("j");
        assert_eq!(hub.followed_jobs(), 1);
        hub.publish(&[
            status_event(7, "j", "running"),
            status_event(8, "other", "running"),
        ]);
        assert_eq!(first.recv().await.map(|e| e.seq).ok(), Some(7));
        drop(first);
        assert_eq!(hub.followed_jobs(), 1);
        drop(second);
        assert_eq!(hub.followed_jobs(), 0);
    }

    #[tokio::test]
    async fn a_final_status_closes_the_channel_after_delivery() {
        let hub = Arc::new(EventHub::new());
        let mut subscription = hub.subscribe("j");
        hub.publish(&[status_event(9, "j", "succeeded")]);
        assert_eq!(hub.followed_jobs(), 0);
        assert_eq!(subscription.recv().await.map(|e| e.seq).ok(), Some(9));
        assert!(subscription.recv().await.is_err());
    }
}
