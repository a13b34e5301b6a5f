//! [`AppState`], what handlers share, and the substates they ask for with `State<T>`.

use std::sync::Arc;

use axum::extract::FromRef;
use tokio_util::sync::CancellationToken;

use crate::jobs::JobQueue;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The job service: the only way handlers reach jobs, datasets and the store.
    pub queue: Arc<JobQueue>,
    /// Cancelled when the server shuts down; open SSE streams end on it.
    pub shutdown: CancellationToken,
}

impl FromRef<AppState> for Arc<JobQueue> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.queue)
    }
}

impl FromRef<AppState> for CancellationToken {
    fn from_ref(state: &AppState) -> Self {
        state.shutdown.clone()
    }
}
