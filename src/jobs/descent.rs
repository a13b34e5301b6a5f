//! Reading a `POST /v1/descent` request into a `descent::Problem`, and the path as JSON.
//!
//! The optimizer and schedule are the same objects as in a job spec, so they are read by the
//! job-spec validator itself: they are placed in a minimal job spec (one-feature inline data,
//! one softmax layer, zero epochs) and taken from the resulting plan. Their errors therefore
//! carry the same paths (`optimizer.momentum`) and the same defaults apply.

use std::num::NonZeroUsize;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::error::{JobsError, Rejection};
use super::recorder::number;
use super::validate::validate;
use crate::descent::{DescentError, NamedFunction, Objective, Path, Point, Problem};

/// Steps when the request gives none.
pub const DEFAULT_STEPS: usize = 100;

const FIELDS: [&str; 6] = [
    "function",
    "x0",
    "optimizer",
    "schedule",
    "steps",
    "tolerance",
];

fn invalid(path: impl Into<String>, message: impl Into<String>) -> JobsError {
    JobsError::InvalidInput(vec![Rejection::new(path, message)])
}

fn named(value: &Value) -> Result<NamedFunction, JobsError> {
    let fields = value
        .as_object()
        .ok_or_else(|| invalid("function", "must be a formula or {\"name\": …}"))?;
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["name", "a", "b"].contains(&k.as_str()))
    {
        return Err(invalid(
            format!("function.{unknown}"),
            "is not a field of a named function",
        ));
    }
    let numbers = |v: &Value, path: &str| -> Result<Vec<f64>, JobsError> {
        v.as_array()
            .and_then(|items| items.iter().map(Value::as_f64).collect())
            .ok_or_else(|| invalid(path, "must be an array of numbers"))
    };
    Ok(match fields.get("name").and_then(Value::as_str) {
        Some("rosenbrock") => NamedFunction::Rosenbrock,
        Some("himmelblau") => NamedFunction::Himmelblau,
        Some("beale") => NamedFunction::Beale,
        Some("booth") => NamedFunction::Booth,
        Some("saddle") => NamedFunction::Saddle,
        Some("rastrigin") => NamedFunction::Rastrigin,
        Some("quadratic") => {
            let rows = fields
                .get("a")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("function.a", "quadratic needs its matrix a (rows)"))?;
            let a = rows
                .iter()
                .enumerate()
                .map(|(i, row)| numbers(row, &format!("function.a[{i}]")))
                .collect::<Result<_, _>>()?;
            let b = fields
                .get("b")
                .map(|b| numbers(b, "function.b"))
                .transpose()?;
            NamedFunction::Quadratic { a, b }
        }
        _ => {
            return Err(invalid(
                "function.name",
                "must be one of rosenbrock, himmelblau, beale, booth, saddle, rastrigin, quadratic",
            ));
        }
    })
}

/// Reads and checks a descent request; every problem names its path.
pub fn read_problem(body: &Value) -> Result<Problem, JobsError> {
    let fields = body
        .as_object()
        .ok_or_else(|| invalid("", "must be an object"))?;
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            unknown.clone(),
            "is not a field of a descent request",
        ));
    }
    let function = match fields.get("function") {
        Some(Value::String(formula)) => Objective::Formula(formula.clone()),
        Some(other) => Objective::Named(named(other)?),
        None => return Err(invalid("function", "is required")),
    };
    let x0 = fields
        .get("x0")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("x0", "must be an array of numbers"))?
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64().map(|x| x as f32) {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(invalid(
                format!("x0[{i}]"),
                format!("must be a finite number, got {v}"),
            )),
        })
        .collect::<Result<Vec<f32>, _>>()?;
    let steps = match fields.get("steps") {
        None => DEFAULT_STEPS,
        Some(v) => v
            .as_u64()
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| invalid("steps", format!("must be a non-negative integer, got {v}")))?,
    };
    let tolerance = match fields.get("tolerance") {
        None => crate::descent::DEFAULT_TOLERANCE,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| invalid("tolerance", format!("must be a number, got {v}")))?,
    };
    let mut spec = json!({
        "data": {"type": "inline", "features": [[0.0], [1.0]], "labels": [0, 1]},
        "architecture": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
        "training": {"loss": "sparse_categorical_crossentropy", "epochs": 0,
                     "batch_size": "full", "seed": 0}
    });
    for part in ["optimizer", "schedule"] {
        if let Some(value) = fields.get(part) {
            spec[part] = value.clone();
        }
    }
    let plan = validate(&spec, &super::datasets::StoreCatalog::default(), 0)
        .map_err(|errors| {
            JobsError::InvalidInput(
                errors
                    .into_iter()
                    .map(|e| Rejection::new(e.path, e.message))
                    .collect(),
            )
        })?
        .plan();
    Ok(Problem {
        function,
        x0,
        optimizer: plan.optimizer,
        schedule: plan.schedule,
        steps,
        tolerance,
    })
}

/// A descent error as a request error, named by the field at fault, with a message that
/// reads after that field's name (as every other refusal's does) rather than repeating it.
pub fn refusal(error: DescentError) -> JobsError {
    match error {
        DescentError::Parse(parse) => invalid("function", parse.to_string()),
        DescentError::InvalidQuadratic(_) => invalid("function", error.to_string()),
        DescentError::Dimension { .. } | DescentError::UndefinedAtStart { .. } => {
            invalid("x0", error.to_string())
        }
        DescentError::NonFiniteStart { index } => {
            invalid(format!("x0[{index}]"), "is not a finite number")
        }
        DescentError::TooManySteps { steps, max } => {
            invalid("steps", format!("must be at most {max}, got {steps}"))
        }
        DescentError::PathTooLong { .. } => invalid("steps", error.to_string()),
        DescentError::InvalidTolerance(tolerance) => invalid(
            "tolerance",
            format!("must be a finite number ≥ 0, got {tolerance}"),
        ),
    }
}

fn point_json(point: &Point) -> Value {
    json!({
        "step": point.step,
        "x": point.x.iter().map(|&x| number(x)).collect::<Vec<_>>(),
        "value": point.value,
        "gradient": point.gradient,
    })
}

/// The answer of `POST /v1/descent`.
pub fn path_json(path: &Path) -> Value {
    json!({
        "points": path.points.iter().map(point_json).collect::<Vec<_>>(),
        "outcome": path.outcome.as_str(),
        "minimum": point_json(&path.minimum),
    })
}

/// Whether a problem can be drawn over contour lines: its starting point has 2 coordinates.
pub fn check_plottable(problem: &Problem) -> Result<(), JobsError> {
    match problem.x0.len() {
        2 => Ok(()),
        n => Err(invalid(
            "x0",
            format!("contour plots need a function of 2 variables; x0 has {n}"),
        )),
    }
}

/// The `POST /v1/descent?format=svg` picture: the path of a two-variable problem over the
/// contour lines of its function, evaluated with the same compiled expression the descent ran
/// on. Refuses any other dimension, naming `x0`.
pub fn contour_svg(problem: &Problem, path: &Path) -> Result<String, JobsError> {
    check_plottable(problem)?;
    let expr = crate::descent::compile(&problem.function, 2).map_err(refusal)?;
    let evaluator = std::cell::RefCell::new(expr.evaluator());
    let f = |x1: f64, x2: f64| evaluator.borrow_mut().value(&[x1, x2]);
    let points: Vec<(f64, f64)> = path
        .points
        .iter()
        .map(|p| (f64::from(p.x[0]), f64::from(p.x[1])))
        .collect();
    let title = match &problem.function {
        Objective::Formula(text) => text.clone(),
        Objective::Named(named) => match named {
            NamedFunction::Rosenbrock => "Rosenbrock",
            NamedFunction::Himmelblau => "Himmelblau",
            NamedFunction::Beale => "Beale",
            NamedFunction::Booth => "Booth",
            NamedFunction::Saddle => "saddle",
            NamedFunction::Rastrigin => "Rastrigin",
            NamedFunction::Quadratic { .. } => "quadratic",
        }
        .to_owned(),
    };
    let title = format!(
        "{title} — {} after {} steps",
        path.outcome.as_str(),
        path.points.len().saturating_sub(1)
    );
    crate::plot::descent_contour(&f, &points, &crate::plot::DescentSpec::new(title))
        .map_err(|e| JobsError::Corrupt(e.to_string()))
}

/// Runs descents on the blocking pool, at most as many at once as it has permits; the rest
/// wait for one, first come first served. Each descent is bounded (up to 100 000 steps and a
/// contour grid, about a second of one core), but every request brings its own: unbounded, a
/// few dozen at once would hold every core and starve the training workers.
#[derive(Debug, Clone)]
pub struct DescentLimiter {
    permits: Arc<Semaphore>,
}

impl DescentLimiter {
    /// At most `permits` descents computing at once (at least one).
    pub fn new(permits: usize) -> Self {
        DescentLimiter {
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    /// One permit per core this process may use (`available_parallelism`), one when unknown.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits for a permit, then runs `work` on the blocking pool. The permit moves into the
    /// blocking task and is released when `work` returns, not when the request ends: a client
    /// that hangs up mid-descent does not free a slot while its work still computes.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobsError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| JobsError::Corrupt(format!("descent permits: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let answer = work();
            drop(permit);
            answer
        })
        .await
        .map_err(|e| JobsError::Corrupt(format!("descent stopped: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Starts `count` descents that each hold their permit until their sender is dropped, and
    /// waits until every one of them computes.
    async fn hold(
        limiter: &DescentLimiter,
        count: usize,
    ) -> (
        Vec<std::sync::mpsc::Sender<()>>,
        Vec<tokio::task::JoinHandle<Result<(), JobsError>>>,
    ) {
        let mut releases = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..count {
            let (release, wait) = std::sync::mpsc::channel::<()>();
            let (started, running) = tokio::sync::oneshot::channel();
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter
                    .run(move || {
                        started.send(()).ok();
                        wait.recv().ok();
                    })
                    .await
            }));
            running.await.expect("the descent started");
            releases.push(release);
        }
        (releases, tasks)
    }

    #[tokio::test]
    async fn the_permits_bound_how_many_descents_compute_at_once() {
        for permits in [1, 3] {
            let limiter = DescentLimiter::new(permits);
            // As many as there are permits compute together…
            let (mut releases, tasks) = hold(&limiter, permits).await;
            assert_eq!(limiter.available(), 0);
            // …and one more waits without starting.
            let ran = Arc::new(AtomicBool::new(false));
            let next = limiter.run({
                let ran = Arc::clone(&ran);
                move || ran.store(true, Ordering::SeqCst)
            });
            tokio::pin!(next);
            assert!(futures::poll!(&mut next).is_pending());
            assert!(!ran.load(Ordering::SeqCst), "{permits} permits");
            // One finishing lets it in.
            releases.pop();
            next.await.expect("ran");
            assert!(ran.load(Ordering::SeqCst));
            drop(releases);
            for task in tasks {
                task.await.expect("joined").expect("ran");
            }
            assert_eq!(limiter.available(), permits);
        }
    }

    #[test]
    fn the_service_allows_one_descent_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(DescentLimiter::per_core().available(), cores);
        assert_eq!(DescentLimiter::new(0).available(), 1);
    }
}
