//! The named test functions of optimization, built as [`Expr`]s so they share the parser's
//! evaluator and exact gradients.
//!
//! | name | formula | dimension | minima |
//! |---|---|---|---|
//! | rosenbrock | `(1 − x1)² + 100·(x2 − x1²)²` (a = 1, b = 100) | 2 | (1, 1) |
//! | himmelblau | `(x1² + x2 − 11)² + (x1 + x2² − 7)²` | 2 | (3, 2) and three more, value 0 |
//! | beale | `(1.5 − x1 + x1x2)² + (2.25 − x1 + x1x2²)² + (2.625 − x1 + x1x2³)²` | 2 | (3, 0.5) |
//! | booth | `(x1 + 2x2 − 7)² + (2x1 + x2 − 5)²` | 2 | (1, 3) |
//! | saddle | `x1² − x2²` | 2 | none: a saddle point at 0 |
//! | rastrigin | `10n + Σ (xi² − 10·cos(2π·xi))` | any n ≥ 1 | 0, among many local minima |
//! | quadratic | `½·xᵀAx − bᵀx` (b = 0 if omitted) | n = rows of A | `A x = b` for symmetric positive-definite A |
//!
//! For the quadratic the gradient is `½(A + Aᵀ)x − b`, which is `Ax − b` when A is symmetric.

use super::DescentError;
use super::expr::{BinaryOp, Expr, ExprBuilder, Function};
use super::parse::{MAX_VARIABLES, parse};

/// A function by name, as the API's `{"name": …}` form gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedFunction {
    Rosenbrock,
    Himmelblau,
    Beale,
    Booth,
    Saddle,
    /// Takes its dimension from the starting point.
    Rastrigin,
    /// `½·xᵀAx − bᵀx`; `a` is square (rows), `b` has as many entries or is omitted.
    Quadratic {
        a: Vec<Vec<f64>>,
        b: Option<Vec<f64>>,
    },
}

impl NamedFunction {
    /// The expression, for a starting point of `dimension` coordinates (used by the
    /// dimension-free Rastrigin; the others check it against their own).
    pub fn build(&self, dimension: usize) -> Result<Expr, DescentError> {
        let formula = match self {
            NamedFunction::Rosenbrock => "(1 - x1)^2 + 100*(x2 - x1^2)^2",
            NamedFunction::Himmelblau => "(x1^2 + x2 - 11)^2 + (x1 + x2^2 - 7)^2",
            NamedFunction::Beale => {
                "(1.5 - x1 + x1*x2)^2 + (2.25 - x1 + x1*x2^2)^2 + (2.625 - x1 + x1*x2^3)^2"
            }
            NamedFunction::Booth => "(x1 + 2*x2 - 7)^2 + (2*x1 + x2 - 5)^2",
            NamedFunction::Saddle => "x1^2 - x2^2",
            NamedFunction::Rastrigin => return rastrigin(dimension),
            NamedFunction::Quadratic { a, b } => return quadratic(a, b.as_deref()),
        };
        Ok(parse(formula)?)
    }
}

fn rastrigin(dimension: usize) -> Result<Expr, DescentError> {
    if !(1..=MAX_VARIABLES).contains(&dimension) {
        return Err(DescentError::Dimension {
            function: format!("rastrigin takes 1 to {MAX_VARIABLES} variables"),
            x0: dimension,
        });
    }
    let mut builder = ExprBuilder::new();
    let mut terms = vec![builder.constant(10.0 * dimension as f64)];
    for i in 0..dimension {
        let x = builder.variable(i);
        let two = builder.constant(2.0);
        let square = builder.binary(BinaryOp::Power, x, two);
        let two_pi = builder.constant(2.0 * std::f64::consts::PI);
        let angle = builder.binary(BinaryOp::Multiply, two_pi, x);
        let cosine = builder.call(Function::Cos, angle);
        let ten = builder.constant(10.0);
        let ripple = builder.binary(BinaryOp::Multiply, ten, cosine);
        terms.push(builder.binary(BinaryOp::Subtract, square, ripple));
    }
    let root = builder.sum(terms);
    Ok(builder.finish(root))
}

fn quadratic(a: &[Vec<f64>], b: Option<&[f64]>) -> Result<Expr, DescentError> {
    let n = a.len();
    let invalid = |reason: String| Err(DescentError::InvalidQuadratic(reason));
    if !(1..=MAX_VARIABLES).contains(&n) {
        return invalid(format!("A must have 1 to {MAX_VARIABLES} rows, it has {n}"));
    }
    if let Some(row) = a.iter().position(|row| row.len() != n) {
        return invalid(format!(
            "A must be square: row {row} has {} entries, not {n}",
            a[row].len()
        ));
    }
    if a.iter().flatten().any(|v| !v.is_finite()) {
        return invalid("A has a non-finite entry".into());
    }
    if let Some(b) = b {
        if b.len() != n {
            return invalid(format!("b has {} entries, A has {n} rows", b.len()));
        }
        if b.iter().any(|v| !v.is_finite()) {
            return invalid("b has a non-finite entry".into());
        }
    }
    let mut builder = ExprBuilder::new();
    let mut terms = Vec::new();
    for (i, row) in a.iter().enumerate() {
        for (j, &entry) in row.iter().enumerate() {
            if entry == 0.0 {
                continue;
            }
            let coefficient = builder.constant(0.5 * entry);
            let xi = builder.variable(i);
            let xj = builder.variable(j);
            let scaled = builder.binary(BinaryOp::Multiply, coefficient, xi);
            terms.push(builder.binary(BinaryOp::Multiply, scaled, xj));
        }
    }
    for (i, &entry) in b.unwrap_or(&[]).iter().enumerate() {
        if entry == 0.0 {
            continue;
        }
        let coefficient = builder.constant(-entry);
        let xi = builder.variable(i);
        terms.push(builder.binary(BinaryOp::Multiply, coefficient, xi));
    }
    // Mention the last variable so the dimension is n even if its row and column are zero.
    let last = builder.variable(n - 1);
    let zero = builder.constant(0.0);
    terms.push(builder.binary(BinaryOp::Multiply, zero, last));
    let root = builder.sum(terms);
    Ok(builder.finish(root))
}
