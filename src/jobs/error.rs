//! [`JobsError`]: why the job layer refused or failed a request, with the data a caller needs to
//! explain it (paths, limits, states). `api::problem` maps every variant to an HTTP status.

use crate::store::{JobStatus, StoreError};

/// One thing wrong with a request, named by its JSON path (`optimizer.momentum`,
/// `inputs[3]`, `label_column`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub path: String,
    pub message: String,
}

impl Rejection {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A configured limit that a request went past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The command-line flag that sets the limit, e.g. `--max-parameters`.
    pub limit: &'static str,
    pub maximum: u64,
    /// The amount asked for, when it is known (a CSV upload stops counting at the limit).
    pub requested: Option<u64>,
    /// The request field responsible, when there is one.
    pub path: Option<String>,
    /// What was counted, in words: "parameters", "dataset cells"…
    pub what: &'static str,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.requested {
            Some(requested) => write!(
                f,
                "{} {requested} exceeds {} {}",
                self.what, self.limit, self.maximum
            ),
            None => write!(f, "{} exceed {} {}", self.what, self.limit, self.maximum),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The job spec parsed as JSON but breaks rules; every broken rule is listed.
    #[error("the job spec is invalid: {}", summary(.0))]
    InvalidSpec(Vec<Rejection>),
    /// Some other request input (a CSV, predict inputs, a query) is invalid.
    #[error("the request is invalid: {}", summary(.0))]
    InvalidInput(Vec<Rejection>),
    #[error("{}", .0)]
    Limit(LimitExceeded),
    #[error("the queue is full: {queued} jobs are waiting (--max-queued-jobs {maximum})")]
    QueueFull { queued: u64, maximum: u64 },
    #[error("no job with id {0}")]
    JobNotFound(String),
    #[error("no model with id {0}")]
    ModelNotFound(String),
    #[error("job {id} has no plot named {name:?}; its plots are {}", available.join(", "))]
    PlotNotFound {
        id: String,
        name: String,
        available: Vec<String>,
    },
    #[error("no dataset with id {0}")]
    DatasetNotFound(String),
    #[error("job {id} has already finished as {status}")]
    JobFinished { id: String, status: JobStatus },
    #[error("job {id} is {status}; cancel it and wait until it stops before deleting it")]
    JobActive { id: String, status: JobStatus },
    #[error("job {id} has no model yet: it is {status}")]
    ModelNotReady { id: String, status: JobStatus },
    /// `earlier` names what the first request created: "job …" or "sweep …".
    #[error("the Idempotency-Key was already used for a different request ({earlier})")]
    IdempotencyKeyReused { earlier: String },
    #[error("{0} is a built-in dataset; only uploaded datasets can be deleted")]
    BuiltinDataset(String),
    #[error("dataset {id} is used by queued or running jobs: {}", job_ids.join(", "))]
    DatasetInUse { id: String, job_ids: Vec<String> },
    #[error("no sweep with id {0}")]
    SweepNotFound(String),
    #[error("every job of sweep {0} has already finished")]
    SweepFinished(String),
    #[error(
        "sweep {id} has queued or running jobs ({}); cancel the sweep and wait until they stop \
         before deleting it",
        job_ids.join(", ")
    )]
    SweepActive { id: String, job_ids: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data that should decode did not; a bug or a damaged database.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

fn summary(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(|r| format!("{}: {}", r.path, r.message))
        .collect::<Vec<_>>()
        .join("; ")
}
