//! [`App`]: wires the store, the job queue, the worker pool and the router, binds the listener,
//! and runs until told to stop.
//!
//! Shutdown (SIGINT/SIGTERM in `main`, or [`App::shutdown_token`] in tests): the listener stops
//! accepting, open SSE streams end with a `shutdown` event, workers stop taking jobs, and each
//! running job is checkpointed at its next optimizer step and put back in the queue (the next
//! start continues it from there). All of this within `--shutdown-timeout-secs`; whatever is
//! not done by then is left behind (a job still running is requeued from its latest checkpoint
//! at the next start, or on PostgreSQL once its lease has expired), and the process exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::jobs::JobQueue;
use crate::jobs::lease::Node;
use crate::jobs::recorder::CheckpointPolicy;
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
    #[error("{0}")]
    Config(String),
}

/// A built server: bound, with its workers ready to start.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: axum::Router,
    queue: Arc<JobQueue>,
    workers: WorkerPool,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
}

impl App {
    /// Opens and migrates the database, requeues jobs a previous run left running, and binds.
    pub async fn build(config: Config) -> Result<App, AppError> {
        config.check_api_keys().map_err(AppError::Config)?;
        let options = store::StoreOptions {
            lease: config.lease(),
        };
        let store = store::connect_with(&config.database_url, &options).await?;
        let node = Node {
            id: config.node_id(),
            lease: config.lease(),
        };
        tracing::info!(node = %node.id, multi_node = store.multi_node(), "store opened");
        let queue = Arc::new(JobQueue::new(store, config.limits.clone()).with_node(node));
        let requeued = queue.recover().await?;
        if requeued > 0 {
            tracing::info!(requeued, "requeued jobs left running by the previous run");
        }
        let shutdown = CancellationToken::new();
        let router = api::router(
            AppState {
                queue: Arc::clone(&queue),
                shutdown: shutdown.clone(),
            },
            api::auth::ApiKeys::new(&config.api_keys),
        );
        if !config.api_keys.is_empty() {
            tracing::info!(keys = config.api_keys.len(), "API keys required");
        }
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
        let checkpoints = CheckpointPolicy::new(
            config.durability.checkpoint_every_epochs,
            config.durability.checkpoint_every_secs,
        );
        let workers = WorkerPool::start(
            &queue,
            count,
            tokio::runtime::Handle::current(),
            checkpoints,
        )
        .map_err(AppError::Workers)?;
        tracing::info!(workers = count, "training threads started");
        Ok(App {
            listener,
            address,
            router,
            queue,
            workers,
            shutdown,
            shutdown_timeout: Duration::from_secs(config.durability.shutdown_timeout_secs),
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

    /// Serves until the shutdown token is cancelled, then drains within the shutdown timeout.
    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        let App {
            listener,
            address,
            router,
            queue,
            workers,
            shutdown,
            shutdown_timeout,
        } = self;
        tracing::info!("listening on http://{address}");
        let stop = shutdown.clone();
        let mut server = tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .into_future(),
        );
        let served_early = tokio::select! {
            served = &mut server => Some(served),
            () = shutdown.cancelled() => None,
        };
        let deadline = tokio::time::Instant::now() + shutdown_timeout;
        // Checkpoint and requeue the running jobs on a plain thread: joining the workers
        // blocks, and a thread still joining at the deadline must not hold the exit up (the
        // runtime waits for `spawn_blocking` tasks when it is dropped).
        let (stopped, workers_stopped) = tokio::sync::oneshot::channel();
        let stopper = std::thread::Builder::new()
            .name("trainyard-shutdown".into())
            .spawn(move || {
                workers.stop();
                let _ = stopped.send(());
            });
        match stopper {
            Ok(_) => match tokio::time::timeout_at(deadline, workers_stopped).await {
                Ok(Ok(())) => tracing::info!("running jobs are checkpointed and back in the queue"),
                Ok(Err(_)) => tracing::error!("stopping the workers panicked"),
                Err(_) => tracing::warn!(
                    timeout_secs = shutdown_timeout.as_secs(),
                    "the workers did not stop in time; jobs still running are requeued from \
                     their latest checkpoint at the next start (PostgreSQL: once their lease \
                     has expired)"
                ),
            },
            Err(error) => tracing::error!(%error, "cannot start the shutdown thread"),
        }
        let served = match served_early {
            Some(served) => served,
            None => match tokio::time::timeout_at(deadline, &mut server).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!("open connections did not close in time; leaving them");
                    server.abort();
                    Ok(Ok(()))
                }
            },
        };
        drop(queue);
        tracing::info!("stopped");
        match served {
            Ok(result) => result.map_err(AppError::Serve),
            Err(join) => Err(AppError::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}
