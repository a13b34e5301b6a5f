//! [`App`]: wires the store, the job queue, the worker pool and the router, binds the listener,
//! and runs until told to stop.
//!
//! Shutdown (SIGINT/SIGTERM in `main`, or [`App::shutdown_token`] in tests): the listener stops
//! accepting, open SSE streams end, workers stop taking jobs, and running jobs are interrupted
//! within one training step and put back in the queue (their partial records are dropped; the
//! next start trains them from the beginning). Then the process exits.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::jobs::JobQueue;
use crate::jobs::worker::WorkerPool;
use crate::store::{self, StoreError};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("opening the database failed: {0}")]
    Store(#[from] StoreError),
    #[error("starting the job queue failed: {0}")]
    Jobs(#[from] crate::jobs::JobsError),
    #[error("binding {address} failed: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the worker threads failed: {0}")]
    Workers(std::io::Error),
    #[error("serving HTTP failed: {0}")]
    Serve(std::io::Error),
}

/// A built server: bound, with its workers ready to start.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: axum::Router,
    queue: Arc<JobQueue>,
    workers: WorkerPool,
    shutdown: CancellationToken,
}

impl App {
    /// Opens and migrates the database, requeues jobs a previous run left running, and binds.
    pub async fn build(config: Config) -> Result<App, AppError> {
        let store = store::connect(&config.database_url).await?;
        let queue = Arc::new(JobQueue::new(store, config.limits.clone()));
        let requeued = queue.recover().await?;
        if requeued > 0 {
            tracing::info!(requeued, "requeued jobs left running by the previous run");
        }
        let shutdown = CancellationToken::new();
        let router = api::router(AppState {
            queue: Arc::clone(&queue),
            shutdown: shutdown.clone(),
        });
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| AppError::Bind {
                address: config.bind,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| AppError::Bind {
            address: config.bind,
            source,
        })?;
        let count = config.worker_count();
        let workers = WorkerPool::start(&queue, count, tokio::runtime::Handle::current())
            .map_err(AppError::Workers)?;
        tracing::info!(workers = count, "training threads started");
        Ok(App {
            listener,
            address,
            router,
            queue,
            workers,
            shutdown,
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Cancel it to shut the server down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The job service, for embedding and tests.
    pub fn queue(&self) -> Arc<JobQueue> {
        Arc::clone(&self.queue)
    }

    /// Serves until the shutdown token is cancelled, then drains.
    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        let App {
            listener,
            address,
            router,
            queue,
            workers,
            shutdown,
        } = self;
        tracing::info!("listening on http://{address}");
        let stop = shutdown.clone();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        // Interrupt running jobs (they go back to the queue) and wait for the threads, off the
        // async threads since joining blocks.
        let stopped = tokio::task::spawn_blocking(move || workers.stop()).await;
        if stopped.is_err() {
            tracing::error!("stopping the workers panicked");
        }
        drop(queue);
        tracing::info!("stopped");
        served.map_err(AppError::Serve)
    }
}
