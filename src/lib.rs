//! trainyard: training as a service.
//!
//! A job spec arrives over HTTP (`api`), is checked into a `train::Plan` and queued (`jobs`),
//! persisted (`store`), and trained on a worker thread by the engine (`train`) on data from
//! `data`. Trained models are exported by `export`; `descent` runs optimizers on formulas.

/// The training engine: layers, losses, optimizers, schedules, `fit`.
pub mod train;

/// Datasets: built-in, generated, CSV; splits, standardization, augmentation.
pub mod data;

/// Gradient descent on a formula: parse, differentiate exactly, step with a training optimizer.
pub mod descent;

/// Persistence: the `Store` trait and its SQLite backend; the only module with SQL.
pub mod store;

/// The job lifecycle: specs validated into plans, the queue, worker threads, events; never
/// HTTP.
pub mod jobs;

/// The HTTP API: routes, extractors, problem+json.
pub mod api;

/// Command-line and environment configuration.
pub mod config;

/// Wiring: `App::build` and graceful shutdown.
pub mod app;

/// Logging setup.
pub mod telemetry;

/// Model export: pure functions from a trained model to safetensors or ONNX bytes, and import.
pub mod export;

/// Server-side SVG charts: loss curves, gradient norms, run comparisons, descent paths.
pub mod plot;

/// `trainyard bench`: the reference benchmark workloads W1–W5, timed through `train::fit`.
pub mod bench;
