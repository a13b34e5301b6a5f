//! trainyard: training as a service.
//!
//! A job spec arrives over HTTP (`api`), is checked into a `train::Plan` and queued (`jobs`),
//! persisted (`store`), and trained on a worker thread by the engine (`train`) on data from
//! `data`. Trained models are exported by `export`; `descent` runs optimizers on formulas.

/// The training engine: layers, losses, optimizers, schedules, `fit`.
pub mod train;

/// Datasets: built-in, generated, CSV; splits, standardization, augmentation.
pub mod data;

/// Server-side SVG charts: loss curves, gradient norms, run comparisons, descent paths.
pub mod plot;
