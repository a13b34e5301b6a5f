//! The integration tests: one binary that starts real servers on 127.0.0.1:0, each with its own
//! temporary SQLite database (`support::spawn_app`), and (`multinode`) several server processes
//! on a fresh PostgreSQL database.

/// spawn_app() and the client helpers; each area uses a different subset of them.
#[allow(dead_code)]
mod support;

/// /healthz, /readyz, /v1/version, /openapi.yaml, and the OpenAPI drift check.
mod service;

/// Reading, listing, cancelling and deleting jobs; event streams; shutdown.
mod lifecycle;

/// The real binary: startup line, SIGTERM.
mod binary;

/// Submitting and training jobs; metrics, models, predictions, cancel, reproducibility.
mod jobs;

/// The table of bad requests.
mod errors;

/// CSV uploads, listing with the built-ins, deletion rules.
mod datasets;

/// SSE streams of training jobs, resumed with Last-Event-ID.
mod events;

/// Restarts on the same database.
mod restart;

/// Checkpoints with the real binary: SIGKILL and SIGTERM mid-training, exact resume.
mod durability;
/// Several server processes on one PostgreSQL database: leases, takeover, cross-node SSE/cancel.
mod multinode;

/// Every examples/*.json trains to success.
mod examples;

/// The examples and a live server's responses against the schemas of openapi.yaml.
mod contract;

/// Descent on a formula.
mod descent;

/// Configured limits and their refusals.
mod limits;

/// Model export as safetensors and ONNX, model import, warm starts from imported models.
mod models;

/// GET /metrics: Prometheus text that moves with the jobs.
mod metrics;

/// SVG plots of jobs, comparisons, and descent over contour lines.
mod plots;

/// Sweeps: grids over a base spec, their summaries, plots, cancel and delete, and the examples.
mod sweeps;

/// The dashboard's HTML pages: content, 404s, refusals, escaping.
mod dashboard;

/// The dashboard in headless Chromium over WebDriver: live updates, forms, screenshots.
mod browser;
