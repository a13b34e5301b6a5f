//! The worker pool: N named OS threads that claim queued jobs from the store and train them.
//! Training never runs on a tokio thread; the async side reaches a worker only through the
//! [`Doorbell`] (new work, shutdown) and a job's [`RunControl`] (its cancel flag).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Wakes idle workers when a job is queued, and tells them to stop.
#[derive(Debug, Default)]
pub struct Doorbell {
    state: Mutex<DoorbellState>,
    bell: Condvar,
}

#[derive(Debug, Default)]
struct DoorbellState {
    rings: u64,
    closed: bool,
}

/// What an idle worker woke up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// New work may be waiting (or the wait timed out: look anyway).
    Look,
    /// The pool is shutting down.
    Stop,
}

impl Doorbell {
    pub fn new() -> Self {
        Doorbell::default()
    }

    /// A job was queued.
    pub fn ring(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.rings = state.rings.wrapping_add(1);
        self.bell.notify_all();
    }

    /// No more work will be handed out.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        self.bell.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed
    }

    /// The ring count, to pass to [`Doorbell::wait`] after looking for work and finding none.
    pub fn rings(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rings
    }

    /// Blocks until a ring newer than `seen`, the close, or `timeout` (a fallback poll).
    pub fn wait(&self, seen: u64, timeout: Duration) -> Wake {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = self
            .bell
            .wait_timeout_while(state, timeout, |s| !s.closed && s.rings == seen)
            .unwrap_or_else(PoisonError::into_inner);
        if state.closed { Wake::Stop } else { Wake::Look }
    }
}

/// Why a running job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A user cancelled it: it ends as `cancelled`.
    Cancelled,
    /// The server is shutting down: it goes back to the queue.
    Shutdown,
}

/// The cancel flag of one running job, which `train::fit` checks every step, and why it was set.
#[derive(Debug, Default)]
pub struct RunControl {
    cancel: AtomicBool,
    /// 0 = not stopped, 1 = cancelled, 2 = shutdown.
    reason: AtomicU8,
}

impl RunControl {
    /// The flag to hand to `train::fit`.
    pub fn flag(&self) -> &AtomicBool {
        &self.cancel
    }

    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::Shutdown => 2,
        };
        // The first reason wins: a job cancelled by its user stays cancelled at shutdown.
        let _ = self
            .reason
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::Shutdown),
            _ => None,
        }
    }
}

/// The controls of the jobs running in this process, by job id.
#[derive(Debug, Default)]
pub struct RunningJobs {
    jobs: Mutex<HashMap<String, Arc<RunControl>>>,
}

impl RunningJobs {
    /// Registers a job a worker has just claimed.
    pub fn start(&self, job_id: &str) -> Arc<RunControl> {
        let control = Arc::new(RunControl::default());
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job_id.to_owned(), Arc::clone(&control));
        control
    }

    pub fn end(&self, job_id: &str) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(job_id);
    }

    /// Sets the job's cancel flag if it runs here; returns whether it does.
    pub fn stop(&self, job_id: &str, reason: StopReason) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match jobs.get(job_id) {
            Some(control) => {
                control.stop(reason);
                true
            }
            None => false,
        }
    }

    pub fn stop_all(&self, reason: StopReason) {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        for control in jobs.values() {
            control.stop(reason);
        }
    }

    pub fn count(&self) -> usize {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_ring_wakes_a_waiting_worker_and_a_close_stops_it() {
        let doorbell = Arc::new(Doorbell::new());
        let seen = doorbell.rings();
        let ringer = Arc::clone(&doorbell);
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ringer.ring();
        });
        let started = Instant::now();
        assert_eq!(doorbell.wait(seen, Duration::from_secs(10)), Wake::Look);
        assert!(started.elapsed() < Duration::from_secs(5));
        handle.join().map_err(|_| "ringer panicked").unwrap_or(());
        doorbell.close();
        assert_eq!(
            doorbell.wait(doorbell.rings(), Duration::from_secs(10)),
            Wake::Stop
        );
    }

    #[test]
    fn the_first_stop_reason_wins() {
        let control = RunControl::default();
        assert_eq!(control.reason(), None);
        control.stop(StopReason::Cancelled);
        control.stop(StopReason::Shutdown);
        assert_eq!(control.reason(), Some(StopReason::Cancelled));
        assert!(control.flag().load(Ordering::SeqCst));
    }

    #[test]
    fn stop_reaches_only_jobs_running_here() {
        let running = RunningJobs::default();
        let control = running.start("a");
        assert!(running.stop("a", StopReason::Shutdown));
        assert!(!running.stop("b", StopReason::Shutdown));
        assert_eq!(control.reason(), Some(StopReason::Shutdown));
        running.end("a");
        assert_eq!(running.count(), 0);
    }
}
