//! The job lifecycle: submission, the queue, the worker threads that train, and the events a
//! job emits. Knows `train`, `data` and the `Store` trait; never HTTP.

pub mod catalog;
pub mod checkpoint;
pub mod datasets;
pub mod descent;
pub mod error;
pub mod events;
pub mod imported;
pub mod lease;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod prepare;
pub mod queue;
pub mod recorder;
pub mod spec;
pub mod sweeps;
pub mod validate;
pub mod worker;

pub use error::{JobsError, LimitExceeded, Rejection};
pub use queue::JobQueue;
