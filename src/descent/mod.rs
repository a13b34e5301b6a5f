//! Gradient descent on a formula: the engine behind `POST /v1/descent`, the lecture's first
//! demonstration of how the learning rate, momentum and the shape of a function decide
//! whether descent converges, crawls, oscillates, diverges or stalls at a saddle point.
//!
//! A [`Problem`] names a function ([`Objective`]: a formula in `x1 … xn` or a
//! [`NamedFunction`]), a starting point, an optimizer and a schedule from the training
//! engine, and a number of steps. [`run`] parses and checks everything first, then steps:
//! the function and its exact gradient (reverse-mode automatic differentiation, [`expr`]) are
//! evaluated in `f64` at the current point, while the point itself lives in `f32` and is
//! moved by the same [`crate::train::optim::Optimizer`] as a Keras variable would be, with the
//! learning rate `schedule(step − 1)` for step `step`.
//!
//! Outcome rules, checked in this order:
//! - `diverged`: the point, value or gradient became non-finite (the run stops there); or, at
//!   the end, the value rose more than [`DIVERGED_RISE`]`·max(1, |f(x0)|)` above `f(x0)`, or
//!   the point went more than [`DIVERGED_DISTANCE`]`·max(1, ‖x0‖)` from the origin. A descent
//!   method that ends a thousand-fold uphill has blown up (the lecture's η = 0.5 example ends
//!   at `f ≈ 5.6e6` from `f(x0) = 77`).
//! - `converged`: the gradient norm fell to the tolerance or below (the run stops at the first
//!   such point). This is a stationary point: a minimum, or a saddle.
//! - `max_steps`: neither, after all the steps.

pub mod expr;
pub mod functions;
pub mod parse;

use crate::train::optim::OptimizerConfig;
use crate::train::optim::clip::squared_sum;
use crate::train::schedule::Schedule;
pub use functions::NamedFunction;
use parse::{MAX_VARIABLES, ParseError};

/// Most steps a run may take.
pub const MAX_STEPS: usize = 100_000;
/// Most coordinates a path may hold, `(steps + 1)·n`, which bounds its memory and the size
/// of the answer.
pub const MAX_PATH_COORDINATES: usize = 1_000_000;
/// Default gradient-norm tolerance for `converged`.
pub const DEFAULT_TOLERANCE: f64 = 1e-6;
/// `diverged` when the final value exceeds `f(x0)` by this many times `max(1, |f(x0)|)`.
pub const DIVERGED_RISE: f64 = 1e3;
/// `diverged` when the final point is this many times `max(1, ‖x0‖)` from the origin.
pub const DIVERGED_DISTANCE: f64 = 1e6;

/// The function to descend.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// A formula such as `x1^2 + 2*x2^2 - x1*x2` (see [`parse`] for the grammar).
    Formula(String),
    Named(NamedFunction),
}

/// One descent run, as the API hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub function: Objective,
    /// The starting point; its length is the function's dimension.
    pub x0: Vec<f32>,
    pub optimizer: OptimizerConfig,
    pub schedule: Schedule,
    /// Optimizer steps, at most [`MAX_STEPS`].
    pub steps: usize,
    /// `converged` when `‖∇f‖₂ ≤ tolerance` ([`DEFAULT_TOLERANCE`] is a good default).
    pub tolerance: f64,
}

/// A point of the path.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// 0 for the starting point, k after the k-th update.
    pub step: usize,
    pub x: Vec<f32>,
    /// `f(x)`, evaluated in f64 at the f32 point.
    pub value: f64,
    /// `∇f(x)`, exact, in f64.
    pub gradient: Vec<f64>,
}

/// How a run ended; see the module docs for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Converged,
    Diverged,
    MaxSteps,
}

impl Outcome {
    /// The API's name: `converged`, `diverged`, `max_steps`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::Diverged => "diverged",
            Outcome::MaxSteps => "max_steps",
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Step 0 (the start) through the last step taken.
    pub points: Vec<Point>,
    pub outcome: Outcome,
    /// The point with the lowest finite value (the earliest on ties).
    pub minimum: Point,
}

/// Why a problem cannot be run. Nothing here is a panic: every user input ends in a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DescentError {
    #[error("function: {0}")]
    Parse(#[from] ParseError),
    #[error("{function}, but x0 has {x0} coordinates")]
    Dimension { function: String, x0: usize },
    #[error("quadratic: {0}")]
    InvalidQuadratic(String),
    #[error("steps must be at most {max}, got {steps}")]
    TooManySteps { steps: usize, max: usize },
    #[error(
        "the path would hold {coordinates} coordinates ((steps + 1)·n); at most {max} are allowed"
    )]
    PathTooLong { coordinates: usize, max: usize },
    #[error("x0[{index}] is not a finite number")]
    NonFiniteStart { index: usize },
    #[error("the function or its gradient is not finite at x0 (value {value})")]
    UndefinedAtStart { value: f64 },
    #[error("tolerance must be a finite number ≥ 0, got {0}")]
    InvalidTolerance(f64),
}

/// Parses and checks the problem, then runs the descent.
pub fn run(problem: &Problem) -> Result<Path, DescentError> {
    let n = problem.x0.len();
    if problem.steps > MAX_STEPS {
        return Err(DescentError::TooManySteps {
            steps: problem.steps,
            max: MAX_STEPS,
        });
    }
    if !(problem.tolerance.is_finite() && problem.tolerance >= 0.0) {
        return Err(DescentError::InvalidTolerance(problem.tolerance));
    }
    let function = compile(&problem.function, n)?;
    let coordinates = (problem.steps + 1).saturating_mul(n);
    if coordinates > MAX_PATH_COORDINATES {
        return Err(DescentError::PathTooLong {
            coordinates,
            max: MAX_PATH_COORDINATES,
        });
    }
    if let Some(index) = problem.x0.iter().position(|x| !x.is_finite()) {
        return Err(DescentError::NonFiniteStart { index });
    }

    let mut evaluator = function.evaluator();
    let mut x = problem.x0.clone();
    let mut x_wide = vec![0.0_f64; n];
    let mut gradient_narrow = vec![0.0_f32; n];
    let mut evaluate = |x: &[f32], step: usize| {
        for (wide, &narrow) in x_wide.iter_mut().zip(x) {
            *wide = f64::from(narrow);
        }
        let mut gradient = vec![0.0; n];
        let value = evaluator.value_and_gradient(&x_wide, &mut gradient);
        Point {
            step,
            x: x.to_vec(),
            value,
            gradient,
        }
    };

    let start = evaluate(&x, 0);
    if !is_finite(&start) {
        return Err(DescentError::UndefinedAtStart { value: start.value });
    }
    let mut optimizer = problem.optimizer.build(&[n]);
    let mut points = Vec::with_capacity(problem.steps + 1);
    points.push(start);
    let mut outcome = None;
    for step in 1..=problem.steps {
        let current = &points[points.len() - 1];
        if norm(&current.gradient) <= problem.tolerance {
            outcome = Some(Outcome::Converged);
            break;
        }
        for (narrow, &wide) in gradient_narrow.iter_mut().zip(&current.gradient) {
            *narrow = wide as f32;
        }
        let learning_rate = problem.schedule.learning_rate(optimizer.iterations());
        let squared = if optimizer.needs_global_norm() {
            squared_sum(&gradient_narrow)
        } else {
            0.0
        };
        optimizer.begin_step(learning_rate, squared);
        optimizer.update(0, &mut x, &mut gradient_narrow);
        optimizer.end_step();
        let point = evaluate(&x, step);
        let finite = is_finite(&point);
        points.push(point);
        if !finite {
            outcome = Some(Outcome::Diverged);
            break;
        }
    }
    let outcome = outcome.unwrap_or_else(|| judge(&points, problem.tolerance));
    let minimum = points
        .iter()
        .filter(|p| p.value.is_finite())
        .fold(None::<&Point>, |best, p| match best {
            Some(b) if b.value <= p.value => Some(b),
            _ => Some(p),
        })
        .unwrap_or(&points[0])
        .clone();
    Ok(Path {
        points,
        outcome,
        minimum,
    })
}

/// The expression for `objective` with an `n`-coordinate starting point, checked to take
/// exactly `n` variables (for the API's contour plots as well as for [`run`]).
pub fn compile(objective: &Objective, n: usize) -> Result<expr::Expr, DescentError> {
    let function = match objective {
        Objective::Formula(text) => parse::parse(text)?,
        Objective::Named(named) => named.build(n)?,
    };
    let variables = function.variables();
    if variables != n || n == 0 {
        let function = match variables {
            0 => "the function uses no variable x1…xn".to_string(),
            1 => "the function uses 1 variable (x1)".to_string(),
            k => format!("the function uses {k} variables (x1…x{k})"),
        };
        return Err(DescentError::Dimension { function, x0: n });
    }
    debug_assert!(n <= MAX_VARIABLES);
    Ok(function)
}

/// The outcome of a run that took all its steps with finite values.
fn judge(points: &[Point], tolerance: f64) -> Outcome {
    let (start, last) = (&points[0], &points[points.len() - 1]);
    let start_radius = norm32(&start.x).max(1.0);
    let rise = last.value - start.value;
    if rise > DIVERGED_RISE * start.value.abs().max(1.0)
        || norm32(&last.x) > DIVERGED_DISTANCE * start_radius
    {
        Outcome::Diverged
    } else if norm(&last.gradient) <= tolerance {
        Outcome::Converged
    } else {
        Outcome::MaxSteps
    }
}

fn is_finite(point: &Point) -> bool {
    point.value.is_finite()
        && point.x.iter().all(|x| x.is_finite())
        && point.gradient.iter().all(|g| g.is_finite())
}

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn norm32(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests;
