//! A parsed formula as a flat list of nodes, evaluated in `f64` with exact gradients by
//! reverse-mode automatic differentiation.
//!
//! Nodes are stored children-first (every node's operands have smaller indices), so one
//! forward sweep computes every node's value and one backward sweep pushes adjoints
//! `∂f/∂node` to the operands: no recursion, so no depth can overflow the stack, and an
//! [`Evaluator`] reuses its buffers so stepping allocates nothing. Local derivatives:
//!
//! | node | ∂/∂a | ∂/∂b |
//! |---|---|---|
//! | `a + b`, `a − b` | 1 | ±1 |
//! | `a·b` | b | a |
//! | `a / b` | 1/b | −(a/b)/b |
//! | `a ^ b` | b·a^(b−1) | a^b·ln a (only when b depends on x; 0 where a^b = 0) |
//! | `−a` | −1 | |
//! | sin, cos, tan | cos a, −sin a, 1 + tan² a | |
//! | exp, log, sqrt | exp a, 1/a, 1/(2·sqrt a) | |
//! | abs, tanh | sign a (0 at 0), 1 − tanh² a | |
//!
//! A zero adjoint is not propagated, so an unused or multiplied-by-zero branch cannot turn
//! the gradient NaN through `0·∞`.

/// An elementary function callable in a formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Sin,
    Cos,
    Tan,
    Exp,
    Log,
    Sqrt,
    Abs,
    Tanh,
}

impl Function {
    /// Every function with the name a formula calls it by.
    pub const ALL: [(&'static str, Function); 8] = [
        ("sin", Function::Sin),
        ("cos", Function::Cos),
        ("tan", Function::Tan),
        ("exp", Function::Exp),
        ("log", Function::Log),
        ("sqrt", Function::Sqrt),
        ("abs", Function::Abs),
        ("tanh", Function::Tanh),
    ];

    /// The function called `name` in a formula (`log` is the natural logarithm).
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, function)| function)
    }

    fn value(self, a: f64) -> f64 {
        match self {
            Function::Sin => a.sin(),
            Function::Cos => a.cos(),
            Function::Tan => a.tan(),
            Function::Exp => a.exp(),
            Function::Log => a.ln(),
            Function::Sqrt => a.sqrt(),
            Function::Abs => a.abs(),
            Function::Tanh => a.tanh(),
        }
    }

    /// `d f(a) / da`, given the argument `a` and the value `v = f(a)`.
    fn derivative(self, a: f64, v: f64) -> f64 {
        match self {
            Function::Sin => a.cos(),
            Function::Cos => -a.sin(),
            Function::Tan => 1.0 + v * v,
            Function::Exp => v,
            Function::Log => 1.0 / a,
            Function::Sqrt => 0.5 / v,
            Function::Abs => {
                if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Function::Tanh => 1.0 - v * v,
        }
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Power,
}

/// One node; operands are indices of earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Constant(f64),
    /// `x_{i+1}`: variable indices are 0-based here, 1-based in formulas.
    Variable(usize),
    Negate(usize),
    Binary(BinaryOp, usize, usize),
    Call(Function, usize),
}

/// Handle of a node while building an [`Expr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId(usize);

/// Builds an [`Expr`] bottom-up; the parser and the named functions both use it.
#[derive(Debug, Default)]
pub struct ExprBuilder {
    nodes: Vec<Node>,
}

impl ExprBuilder {
    pub fn new() -> ExprBuilder {
        ExprBuilder::default()
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        NodeId(self.nodes.len() - 1)
    }

    pub fn constant(&mut self, value: f64) -> NodeId {
        self.push(Node::Constant(value))
    }

    /// The 0-based variable `index` (`x1` is 0).
    pub fn variable(&mut self, index: usize) -> NodeId {
        self.push(Node::Variable(index))
    }

    pub fn negate(&mut self, operand: NodeId) -> NodeId {
        self.push(Node::Negate(operand.0))
    }

    pub fn binary(&mut self, op: BinaryOp, left: NodeId, right: NodeId) -> NodeId {
        self.push(Node::Binary(op, left.0, right.0))
    }

    pub fn call(&mut self, function: Function, argument: NodeId) -> NodeId {
        self.push(Node::Call(function, argument.0))
    }

    /// The sum of `terms` left to right, or 0 for none.
    pub fn sum(&mut self, terms: impl IntoIterator<Item = NodeId>) -> NodeId {
        let mut terms = terms.into_iter();
        let Some(first) = terms.next() else {
            return self.constant(0.0);
        };
        terms.fold(first, |total, term| self.binary(BinaryOp::Add, total, term))
    }

    /// The expression whose value is node `root`.
    pub fn finish(self, root: NodeId) -> Expr {
        let nodes = self.nodes;
        let mut depends_on_x = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let depends = match *node {
                Node::Constant(_) => false,
                Node::Variable(_) => true,
                Node::Negate(a) | Node::Call(_, a) => depends_on_x[a],
                Node::Binary(_, a, b) => depends_on_x[a] || depends_on_x[b],
            };
            depends_on_x.push(depends);
        }
        let variables = nodes
            .iter()
            .filter_map(|node| match node {
                Node::Variable(index) => Some(index + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Expr {
            nodes,
            depends_on_x,
            root: root.0,
            variables,
        }
    }
}

/// A function of `x1 … xn` ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    nodes: Vec<Node>,
    /// Whether each node's value changes with x (constants need no adjoints).
    depends_on_x: Vec<bool>,
    root: usize,
    /// The highest variable number used (`x3` → 3); the function takes this many inputs.
    variables: usize,
}

impl Expr {
    /// How many inputs the function takes: the highest `xk` it mentions.
    pub fn variables(&self) -> usize {
        self.variables
    }

    /// Node count, a measure of the cost of one evaluation.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// An evaluator with buffers for this expression.
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            expr: self,
            values: vec![0.0; self.nodes.len()],
            adjoints: vec![0.0; self.nodes.len()],
        }
    }
}

/// Evaluates one [`Expr`] repeatedly without allocating.
#[derive(Debug, Clone)]
pub struct Evaluator<'a> {
    expr: &'a Expr,
    values: Vec<f64>,
    adjoints: Vec<f64>,
}

impl Evaluator<'_> {
    /// `f(x)`. A variable beyond `x.len()` reads as NaN (callers check the dimension first).
    pub fn value(&mut self, x: &[f64]) -> f64 {
        self.forward(x);
        self.values.get(self.expr.root).copied().unwrap_or(f64::NAN)
    }

    /// `f(x)`, and `∇f(x)` written into `gradient` (its length is the dimension; entries for
    /// variables the formula does not mention are 0).
    pub fn value_and_gradient(&mut self, x: &[f64], gradient: &mut [f64]) -> f64 {
        let value = self.value(x);
        gradient.fill(0.0);
        self.adjoints.fill(0.0);
        let Some(root_adjoint) = self.adjoints.get_mut(self.expr.root) else {
            return value;
        };
        *root_adjoint = 1.0;
        let (nodes, depends, values, adjoints) = (
            &self.expr.nodes,
            &self.expr.depends_on_x,
            &self.values,
            &mut self.adjoints,
        );
        for i in (0..=self.expr.root).rev() {
            let adjoint = adjoints[i];
            if adjoint == 0.0 || !depends[i] {
                continue;
            }
            match nodes[i] {
                Node::Constant(_) => {}
                Node::Variable(index) => {
                    if let Some(slot) = gradient.get_mut(index) {
                        *slot += adjoint;
                    }
                }
                Node::Negate(a) => adjoints[a] -= adjoint,
                Node::Call(function, a) => {
                    adjoints[a] += adjoint * function.derivative(values[a], values[i]);
                }
                Node::Binary(op, a, b) => {
                    let (va, vb, v) = (values[a], values[b], values[i]);
                    match op {
                        BinaryOp::Add => {
                            adjoints[a] += adjoint;
                            adjoints[b] += adjoint;
                        }
                        BinaryOp::Subtract => {
                            adjoints[a] += adjoint;
                            adjoints[b] -= adjoint;
                        }
                        BinaryOp::Multiply => {
                            adjoints[a] += adjoint * vb;
                            adjoints[b] += adjoint * va;
                        }
                        BinaryOp::Divide => {
                            adjoints[a] += adjoint / vb;
                            adjoints[b] -= adjoint * v / vb;
                        }
                        BinaryOp::Power => {
                            if depends[a] {
                                adjoints[a] += adjoint * vb * va.powf(vb - 1.0);
                            }
                            if depends[b] && v != 0.0 {
                                adjoints[b] += adjoint * v * va.ln();
                            }
                        }
                    }
                }
            }
        }
        value
    }

    fn forward(&mut self, x: &[f64]) {
        for (i, node) in self.expr.nodes.iter().enumerate() {
            let value = match *node {
                Node::Constant(c) => c,
                Node::Variable(index) => x.get(index).copied().unwrap_or(f64::NAN),
                Node::Negate(a) => -self.values[a],
                Node::Call(function, a) => function.value(self.values[a]),
                Node::Binary(op, a, b) => {
                    let (va, vb) = (self.values[a], self.values[b]);
                    match op {
                        BinaryOp::Add => va + vb,
                        BinaryOp::Subtract => va - vb,
                        BinaryOp::Multiply => va * vb,
                        BinaryOp::Divide => va / vb,
                        BinaryOp::Power => va.powf(vb),
                    }
                }
            };
            self.values[i] = value;
        }
    }
}
