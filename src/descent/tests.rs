//! Tests of descent on a formula: the lecture's worked example to its printed digits, exact
//! gradients against finite differences, the named functions at their known minima, the
//! outcome rules, and every parser and problem error with its position.

use super::expr::Expr;
use super::parse::{MAX_EXPRESSION_CHARS, MAX_NESTING_DEPTH, ParseError, ParseErrorKind, parse};
use super::*;
use crate::train::optim::{Clip, OptimizerKind};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

const LECTURE: &str = "x1^2 + 2*x2^2 - x1*x2";

fn sgd(learning_rate: f32) -> (OptimizerConfig, Schedule) {
    (
        OptimizerConfig {
            kind: OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            clip: Clip::None,
            weight_decay: None,
        },
        Schedule::Constant { learning_rate },
    )
}

fn problem(function: &str, x0: &[f32], learning_rate: f32, steps: usize) -> Problem {
    let (optimizer, schedule) = sgd(learning_rate);
    Problem {
        function: Objective::Formula(function.into()),
        x0: x0.to_vec(),
        optimizer,
        schedule,
        steps,
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64, what: &str) {
    let ok = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(&g, &w)| (f64::from(g) - w).abs() <= tolerance);
    assert!(ok, "{what}: got {got:?}, want {want:?} ± {tolerance}");
}

// The lecture's worked example (seed NOTES.md §1): J = x1² + 2·x2² − x1·x2,
// ∇J = [2x1 − x2, 4x2 − x1], x(0) = [−5, 4]; the digits the notes print, "(checked)" there.

#[test]
fn lecture_example_with_learning_rate_point_one_follows_the_printed_path() {
    let path = run(&problem(LECTURE, &[-5.0, 4.0], 0.1, 30)).unwrap();
    assert_eq!(path.points.len(), 31);
    assert_eq!(path.points[0].gradient, vec![-14.0, 21.0]);
    assert_eq!(path.points[0].value, 77.0);
    assert_close(&path.points[1].x, &[-3.6, 1.9], 1e-6, "x(1)");
    let g1 = &path.points[1].gradient;
    assert!(
        (g1[0] + 9.1).abs() < 1e-5 && (g1[1] - 11.2).abs() < 1e-5,
        "{g1:?}"
    );
    assert_close(&path.points[2].x, &[-2.69, 0.78], 1e-6, "x(2)");
    assert_close(&path.points[30].x, &[-0.016062, -0.006653], 5e-7, "x(30)");
    assert_eq!(path.points[30].step, 30);
    assert_eq!(path.outcome, Outcome::MaxSteps);
    assert_eq!(path.minimum, path.points[30]);
}

#[test]
fn lecture_example_with_learning_rate_point_zero_one_creeps() {
    let path = run(&problem(LECTURE, &[-5.0, 4.0], 0.01, 30)).unwrap();
    assert_close(&path.points[30].x, &[-2.3205, 0.6058], 5e-5, "x(30)");
    assert_eq!(path.outcome, Outcome::MaxSteps);
}

#[test]
fn lecture_example_with_learning_rate_one_half_diverges() {
    // 0.5·(3 + √2) > 2: the step overshoots along the steep eigenvector and grows ×1.2 a step.
    let path = run(&problem(LECTURE, &[-5.0, 4.0], 0.5, 30)).unwrap();
    assert_eq!(
        path.points.len(),
        31,
        "a finite blow-up keeps the whole path"
    );
    assert_close(&path.points[30].x, &[-608.3, 1468.5], 0.05, "x(30)");
    assert_eq!(path.outcome, Outcome::Diverged);
    assert!(path.points.iter().all(|p| path.minimum.value <= p.value));
}

#[test]
fn lecture_example_converges_given_enough_steps() {
    let path = run(&problem(LECTURE, &[-5.0, 4.0], 0.1, 1000)).unwrap();
    assert_eq!(path.outcome, Outcome::Converged);
    assert!(
        path.points.len() < 1001,
        "stops at the first point within tolerance"
    );
    let last = path.points.last().unwrap();
    assert!(norm(&last.gradient) <= DEFAULT_TOLERANCE);
    assert_close(&last.x, &[0.0, 0.0], 1e-6, "minimum");
}

#[test]
fn overflow_to_infinity_stops_the_run_as_diverged() {
    let path = run(&problem("x1^2", &[1.0], 10.0, 1000)).unwrap();
    assert_eq!(path.outcome, Outcome::Diverged);
    assert!(path.points.len() < 1001);
    assert!(!is_finite(path.points.last().unwrap()));
    assert_eq!(path.minimum.step, 0);
}

#[test]
fn the_schedule_sees_step_zero_on_the_first_update() {
    // Learning rate 0.1 for the first update only, then 0: the path stops at x(1).
    let mut p = problem(LECTURE, &[-5.0, 4.0], 0.1, 5);
    p.schedule = Schedule::PiecewiseConstantDecay {
        boundaries: vec![0.0],
        values: vec![0.1, 0.0],
    };
    let path = run(&p).unwrap();
    for point in &path.points[1..] {
        assert_close(&point.x, &[-3.6, 1.9], 1e-6, "after the first update");
    }
}

#[test]
fn momentum_reaches_the_minimum_of_the_lecture_function_in_fewer_steps() {
    let plain = run(&problem(LECTURE, &[-5.0, 4.0], 0.05, 2000)).unwrap();
    let mut p = problem(LECTURE, &[-5.0, 4.0], 0.05, 2000);
    p.optimizer.kind = OptimizerKind::Sgd {
        momentum: 0.5,
        nesterov: false,
    };
    let momentum = run(&p).unwrap();
    assert_eq!(plain.outcome, Outcome::Converged);
    assert_eq!(momentum.outcome, Outcome::Converged);
    assert!(momentum.points.len() < plain.points.len());
}

// Exact gradients: reverse-mode AD against central finite differences.

/// A random formula over x1…x3 using every operator and function, built so each is used
/// where it is defined and smooth (log and sqrt of `1 + u²`, division by `1 + u²`, tan of
/// an argument within ±0.5, a variable exponent on a positive base).
fn random_formula(rng: &mut ChaCha8Rng, depth: usize) -> String {
    if depth == 0 || rng.random_range(0..5) == 0 {
        return match rng.random_range(0..6) {
            0 => "x1".into(),
            1 => "x2".into(),
            2 => "x3".into(),
            3 => "pi".into(),
            4 => "e".into(),
            _ => format!("{:.2}", rng.random_range(-3.0..3.0_f64)),
        };
    }
    let mut sub = || random_formula(rng, depth - 1);
    let (a, b) = (sub(), sub());
    match rng.random_range(0..15) {
        0 => format!("({a} + {b})"),
        1 => format!("({a} - {b})"),
        2 => format!("{a} * {b}"),
        3 => format!("({a}) / (1 + ({b})^2)"),
        4 => format!("(1.5 + sin({a}))^(0.5*cos({b}))"),
        5 => format!("-({a})"),
        6 => format!("sin({a})"),
        7 => format!("cos({a})"),
        8 => format!("tan(0.5*sin({a}))"),
        9 => format!("exp(sin({a}))"),
        10 => format!("log(1 + ({a})^2)"),
        11 => format!("sqrt(1 + ({a})^2)"),
        12 => format!("abs({a})"),
        13 => format!("tanh({a})"),
        _ => format!("({a})^{}", rng.random_range(2..4)),
    }
}

/// Central differences of `expr` at `x`, with step `h` in every coordinate.
fn finite_difference(expr: &Expr, x: &[f64], h: f64) -> Vec<f64> {
    let mut evaluator = expr.evaluator();
    (0..x.len())
        .map(|i| {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[i] += h;
            down[i] -= h;
            (evaluator.value(&up) - evaluator.value(&down)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn automatic_gradients_match_central_differences_on_random_formulas() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut checked, mut formulas_text) = (0, String::new());
    for _ in 0..300 {
        let formula = random_formula(&mut rng, 4);
        let expr = parse(&formula).unwrap_or_else(|e| panic!("{formula}: {e}"));
        formulas_text.push_str(&formula);
        let n = expr.variables().max(1);
        for _ in 0..3 {
            let x: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let mut gradient = vec![0.0; n];
            let value = expr.evaluator().value_and_gradient(&x, &mut gradient);
            let fd = finite_difference(&expr, &x, 1e-5);
            let fd_half = finite_difference(&expr, &x, 5e-6);
            if !value.is_finite() {
                continue;
            }
            for i in 0..n {
                // `abs` can put a kink within h of x; there the two step sizes disagree and
                // the finite difference says nothing.
                if (fd[i] - fd_half[i]).abs() > 1e-6 * (1.0 + fd[i].abs()) {
                    continue;
                }
                let tolerance = 1e-6 * (1.0 + gradient[i].abs());
                assert!(
                    (gradient[i] - fd[i]).abs() <= tolerance,
                    "{formula} at {x:?}: ∂/∂x{} AD {} vs FD {}",
                    i + 1,
                    gradient[i],
                    fd[i]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} partial derivatives checked");
    for needle in [
        "sin(", "cos(", "tan(", "exp(", "log(", "sqrt(", "abs(", "tanh(", "^", "/", "pi", "e", "-(",
    ] {
        assert!(formulas_text.contains(needle), "no formula used {needle}");
    }
}

#[test]
fn each_function_has_its_textbook_derivative() {
    // (formula, x1, d/dx1)
    let cases: [(&str, f64, f64); 13] = [
        ("sin(x1)", 0.7, 0.7_f64.cos()),
        ("cos(x1)", 0.7, -(0.7_f64.sin())),
        ("tan(x1)", 0.7, 1.0 / 0.7_f64.cos().powi(2)),
        ("exp(x1)", 0.7, 0.7_f64.exp()),
        ("log(x1)", 0.7, 1.0 / 0.7),
        ("sqrt(x1)", 0.7, 0.5 / 0.7_f64.sqrt()),
        ("abs(x1)", -0.7, -1.0),
        ("tanh(x1)", 0.7, 1.0 - 0.7_f64.tanh().powi(2)),
        ("x1^3", -2.0, 12.0),
        ("2^x1", 3.0, 8.0 * std::f64::consts::LN_2),
        ("x1^x1", 2.0, 4.0 * (2.0_f64.ln() + 1.0)),
        ("1/x1", 4.0, -1.0 / 16.0),
        ("-x1^2", 3.0, -6.0),
    ];
    for (formula, x, want) in cases {
        let expr = parse(formula).unwrap();
        let mut gradient = [0.0];
        expr.evaluator().value_and_gradient(&[x], &mut gradient);
        assert!(
            (gradient[0] - want).abs() < 1e-12,
            "{formula} at {x}: {} vs {want}",
            gradient[0]
        );
    }
}

#[test]
fn a_branch_multiplied_by_zero_does_not_poison_the_gradient() {
    // sqrt'(0) = ∞, but the branch is scaled by 0; x1² + 0·sqrt(x1) at 0 has gradient 0.
    let expr = parse("x1^2 + 0*sqrt(x1)").unwrap();
    let mut gradient = [f64::NAN];
    expr.evaluator().value_and_gradient(&[0.0], &mut gradient);
    assert_eq!(gradient, [0.0]);
}

#[test]
fn parser_follows_the_usual_precedence() {
    let cases: [(&str, f64); 12] = [
        ("1 + 2*3", 7.0),
        ("(1 + 2)*3", 9.0),
        ("2^3^2", 512.0),
        ("-2^2", -4.0),
        ("2^-1", 0.5),
        ("2**3", 8.0),
        ("8/4/2", 1.0),
        ("1 - 2 - 3", -4.0),
        ("--3", 3.0),
        ("1.5e2 + .5 + 2.", 152.5),
        ("2*pi - 2*pi + e", std::f64::consts::E),
        ("+x1 * x2", 6.0),
    ];
    for (formula, want) in cases {
        let expr = parse(formula).unwrap();
        assert_eq!(expr.evaluator().value(&[2.0, 3.0]), want, "{formula}");
    }
}

// Named functions.

fn named(function: NamedFunction, n: usize) -> Expr {
    compile(&Objective::Named(function), n).unwrap()
}

fn value_and_gradient(expr: &Expr, x: &[f64]) -> (f64, Vec<f64>) {
    let mut gradient = vec![0.0; x.len()];
    let value = expr.evaluator().value_and_gradient(x, &mut gradient);
    (value, gradient)
}

#[test]
fn named_functions_vanish_with_zero_gradient_at_their_minima() {
    let cases = [
        (NamedFunction::Rosenbrock, vec![1.0, 1.0]),
        (NamedFunction::Himmelblau, vec![3.0, 2.0]),
        (NamedFunction::Beale, vec![3.0, 0.5]),
        (NamedFunction::Booth, vec![1.0, 3.0]),
        (NamedFunction::Saddle, vec![0.0, 0.0]),
        (NamedFunction::Rastrigin, vec![0.0, 0.0, 0.0]),
    ];
    for (function, minimum) in cases {
        let expr = named(function.clone(), minimum.len());
        let (value, gradient) = value_and_gradient(&expr, &minimum);
        assert!(value.abs() < 1e-12, "{function:?}: {value}");
        assert!(norm(&gradient) < 1e-9, "{function:?}: {gradient:?}");
    }
}

#[test]
fn named_functions_have_their_closed_form_gradients() {
    let (x1, x2) = (-1.2, 1.0);
    let (value, gradient) = value_and_gradient(&named(NamedFunction::Rosenbrock, 2), &[x1, x2]);
    assert!((value - 24.2).abs() < 1e-12);
    let want = [
        -2.0 * (1.0 - x1) - 400.0 * x1 * (x2 - x1 * x1),
        200.0 * (x2 - x1 * x1),
    ];
    assert!((gradient[0] - want[0]).abs() < 1e-9 && (gradient[1] - want[1]).abs() < 1e-9);

    let (_, gradient) = value_and_gradient(&named(NamedFunction::Rastrigin, 2), &[0.3, -1.1]);
    let tau = 2.0 * std::f64::consts::PI;
    for (g, x) in gradient.iter().zip([0.3_f64, -1.1]) {
        assert!((g - (2.0 * x + 10.0 * tau * (tau * x).sin())).abs() < 1e-9);
    }

    // ½xᵀAx − bᵀx with a non-symmetric A: gradient ½(A + Aᵀ)x − b.
    let quadratic = NamedFunction::Quadratic {
        a: vec![vec![2.0, 1.0], vec![3.0, 4.0]],
        b: Some(vec![1.0, -1.0]),
    };
    let (value, gradient) = value_and_gradient(&named(quadratic, 2), &[1.0, 2.0]);
    assert_eq!(value, 0.5 * (2.0 + 2.0 + 6.0 + 16.0) - (1.0 - 2.0));
    assert_eq!(gradient, vec![2.0 + 2.0 * 2.0 - 1.0, 2.0 + 8.0 + 1.0]);
}

#[test]
fn booth_descent_converges_to_its_minimum() {
    let (optimizer, schedule) = sgd(0.05);
    let path = run(&Problem {
        function: Objective::Named(NamedFunction::Booth),
        x0: vec![-4.0, 6.0],
        optimizer,
        schedule,
        steps: 2000,
        // f32 coordinates near 3 are 2.4e-7 apart and the Hessian's top eigenvalue is 18, so
        // the gradient cannot fall much below 1e-5 here.
        tolerance: 1e-4,
    })
    .unwrap();
    assert_eq!(path.outcome, Outcome::Converged);
    assert_close(&path.minimum.x, &[1.0, 3.0], 1e-4, "minimum");
}

#[test]
fn saddle_stalls_on_its_ridge_and_escapes_off_it() {
    let saddle = |x0: Vec<f32>, steps| {
        let (optimizer, schedule) = sgd(0.1);
        run(&Problem {
            function: Objective::Named(NamedFunction::Saddle),
            x0,
            optimizer,
            schedule,
            steps,
            tolerance: DEFAULT_TOLERANCE,
        })
        .unwrap()
    };
    let stalled = saddle(vec![1.0, 0.0], 500);
    assert_eq!(stalled.outcome, Outcome::Converged);
    assert_close(
        &stalled.points.last().unwrap().x,
        &[0.0, 0.0],
        1e-6,
        "saddle point",
    );
    // Off the ridge x2 grows ×1.2 a step: 1e-3·1.2^200 ≈ 7e12, far beyond 1e6·‖x0‖.
    let escaped = saddle(vec![1.0, 1e-3], 200);
    assert_eq!(escaped.outcome, Outcome::Diverged);
}

// Errors: parse errors with their positions, and problem checks.

fn parse_error(formula: &str) -> ParseError {
    match parse(formula) {
        Ok(expr) => panic!("{formula} parsed to {expr:?}"),
        Err(error) => error,
    }
}

#[test]
fn parse_errors_name_the_problem_and_its_position() {
    use ParseErrorKind::*;
    let cases: Vec<(&str, usize, ParseErrorKind)> = vec![
        ("(x1 + 2", 0, UnclosedParenthesis),
        ("x1 * (x2 + (1)", 5, UnclosedParenthesis),
        ("x1 + 2)", 6, UnmatchedParenthesis),
        (")", 0, UnmatchedParenthesis),
        ("foo(x1)", 0, UnknownFunction("foo".into())),
        ("x1 + sinh(x2)", 5, UnknownFunction("sinh".into())),
        ("x1 + y", 5, UnknownName("y".into())),
        (
            "x0 + x1",
            0,
            VariableOutOfRange {
                name: "x0".into(),
                max: 32,
            },
        ),
        (
            "x33",
            0,
            VariableOutOfRange {
                name: "x33".into(),
                max: 32,
            },
        ),
        (
            "x01",
            0,
            VariableOutOfRange {
                name: "x01".into(),
                max: 32,
            },
        ),
        ("x1 $ 2", 3, UnexpectedCharacter('$')),
        ("x1 * * x2", 5, ExpectedOperand("`*`".into())),
        ("x1 +", 4, ExpectedOperand("the end of the formula".into())),
        ("2x1", 1, ExpectedOperator("`x1`".into())),
        ("(x1 x2)", 4, ExpectedOperator("`x2`".into())),
        ("sin x1", 0, MissingArgument("sin".into())),
        ("1e999", 0, InvalidNumber("1e999".into())),
        ("", 0, Empty),
        ("   ", 0, Empty),
    ];
    for (formula, position, kind) in cases {
        assert_eq!(
            parse_error(formula),
            ParseError { position, kind },
            "{formula:?}"
        );
    }
    let message = parse_error("x1 + sinh(x2)").to_string();
    assert!(
        message.contains("position 5") && message.contains("sinh"),
        "{message}"
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    let deep_parens = format!("{}x1{}", "(".repeat(900), ")".repeat(900));
    let deep_signs = format!("{}x1", "-".repeat(1500));
    let deep_powers = format!("x1{}", "^x1".repeat(600));
    let deep_calls = format!("{}x1{}", "sin(".repeat(300), ")".repeat(300));
    for formula in [&deep_parens, &deep_signs, &deep_powers, &deep_calls] {
        let error = parse_error(formula);
        assert_eq!(
            error.kind,
            ParseErrorKind::TooDeep {
                max: MAX_NESTING_DEPTH
            }
        );
        assert!(error.position < formula.len());
    }
    assert_eq!(parse_error(&deep_parens).position, MAX_NESTING_DEPTH);
    // Just inside the limit parses.
    let depth = MAX_NESTING_DEPTH - 1;
    assert!(parse(&format!("{}x1{}", "(".repeat(depth), ")".repeat(depth))).is_ok());

    let too_long = "(".repeat(1_000_000);
    let error = parse_error(&too_long);
    assert_eq!(
        error.kind,
        ParseErrorKind::TooLong {
            length: 1_000_000,
            max: MAX_EXPRESSION_CHARS
        }
    );
}

#[test]
fn problems_that_cannot_run_are_errors() {
    let check = |p: Problem, want: DescentError| assert_eq!(run(&p), Err(want));
    check(
        problem("x1^2 + x2^2", &[1.0], 0.1, 10),
        DescentError::Dimension {
            function: "the function uses 2 variables (x1…x2)".into(),
            x0: 1,
        },
    );
    check(
        problem("x1^2", &[1.0, 2.0], 0.1, 10),
        DescentError::Dimension {
            function: "the function uses 1 variable (x1)".into(),
            x0: 2,
        },
    );
    check(
        problem("3", &[], 0.1, 10),
        DescentError::Dimension {
            function: "the function uses no variable x1…xn".into(),
            x0: 0,
        },
    );
    check(
        problem("x1^2", &[1.0], 0.1, MAX_STEPS + 1),
        DescentError::TooManySteps {
            steps: MAX_STEPS + 1,
            max: MAX_STEPS,
        },
    );
    check(
        problem(
            "x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11",
            &[0.0; 11],
            0.1,
            MAX_STEPS,
        ),
        DescentError::PathTooLong {
            coordinates: (MAX_STEPS + 1) * 11,
            max: MAX_PATH_COORDINATES,
        },
    );
    check(
        problem("x1^2", &[f32::NAN], 0.1, 10),
        DescentError::NonFiniteStart { index: 0 },
    );
    assert!(matches!(
        run(&problem("log(x1)", &[-1.0], 0.1, 10)),
        Err(DescentError::UndefinedAtStart { .. })
    ));
    check(
        problem("(x1", &[1.0], 0.1, 10),
        DescentError::Parse(ParseError {
            position: 0,
            kind: ParseErrorKind::UnclosedParenthesis,
        }),
    );
    let mut p = problem("x1^2", &[1.0], 0.1, 10);
    p.tolerance = f64::NAN;
    assert!(matches!(run(&p), Err(DescentError::InvalidTolerance(_))));

    let mut p = problem("x1", &[0.0; 40], 0.1, 10);
    p.function = Objective::Named(NamedFunction::Rastrigin);
    assert!(matches!(
        run(&p),
        Err(DescentError::Dimension { x0: 40, .. })
    ));
    let mut p = problem("x1", &[0.0; 3], 0.1, 10);
    p.function = Objective::Named(NamedFunction::Rosenbrock);
    assert!(matches!(
        run(&p),
        Err(DescentError::Dimension { x0: 3, .. })
    ));
    for (a, b) in [
        (vec![vec![1.0, 0.0], vec![0.0]], None),
        (vec![vec![1.0, 0.0], vec![0.0, 1.0]], Some(vec![1.0])),
        (vec![vec![f64::INFINITY]], None),
        (vec![], None),
    ] {
        let mut p = problem("x1", &[0.0, 0.0], 0.1, 10);
        p.function = Objective::Named(NamedFunction::Quadratic { a, b });
        assert!(matches!(run(&p), Err(DescentError::InvalidQuadratic(_))));
    }
}

#[test]
fn a_quadratic_with_a_zero_last_row_still_takes_all_its_variables() {
    let quadratic = NamedFunction::Quadratic {
        a: vec![vec![1.0, 0.0], vec![0.0, 0.0]],
        b: None,
    };
    assert_eq!(named(quadratic, 2).variables(), 2);
}
