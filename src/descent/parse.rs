//! Parses a formula in `x1 … xn` into an [`Expr`], with hard limits that make hostile input
//! safe: at most [`MAX_EXPRESSION_CHARS`] characters, nesting at most [`MAX_NESTING_DEPTH`]
//! deep (the parser is recursive; the evaluator is not), variables `x1` to
//! [`MAX_VARIABLES`], finite numbers. Every violation is a [`ParseError`] carrying the
//! 0-based character position it was found at.
//!
//! Grammar, loosest binding first (`^` binds tighter than unary minus, so `-x1^2` is
//! `−(x1²)`, and is right-associative, so `2^3^2` is `2^9`; `**` is accepted for `^`):
//!
//! ```text
//! sum     = product (("+" | "-") product)*
//! product = unary (("*" | "/") unary)*
//! unary   = ("-" | "+") unary | power
//! power   = atom ("^" unary)?
//! atom    = number | "pi" | "e" | variable | function "(" sum ")" | "(" sum ")"
//! number  = digits ["." digits] [("e" | "E") ["+" | "-"] digits]      (also ".5", "1.")
//! ```
//! Functions: `sin cos tan exp log sqrt abs tanh` (`log` is natural). There is no implicit
//! multiplication: `2x1` is an error, write `2*x1`.

use super::expr::{BinaryOp, Expr, ExprBuilder, Function, NodeId};

/// Longest accepted formula, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 2000;
/// Deepest accepted nesting of parentheses, unary signs and powers.
pub const MAX_NESTING_DEPTH: usize = 64;
/// Highest variable number: `x1` … `x32`.
pub const MAX_VARIABLES: usize = 32;

/// A formula that could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at position {position}: {kind}")]
pub struct ParseError {
    /// 0-based index of the offending character (the formula's length for "at the end").
    pub position: usize,
    pub kind: ParseErrorKind,
}

/// What is wrong with a formula.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("the formula is empty")]
    Empty,
    #[error("the formula has {length} characters; at most {max} are accepted")]
    TooLong { length: usize, max: usize },
    #[error("the formula nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("unexpected character `{0}`")]
    UnexpectedCharacter(char),
    #[error("`{0}` is not a finite number")]
    InvalidNumber(String),
    #[error("unknown function `{0}`; known: sin cos tan exp log sqrt abs tanh")]
    UnknownFunction(String),
    #[error("unknown name `{0}`; variables are x1, x2, …, constants pi and e")]
    UnknownName(String),
    #[error("variable `{name}` is out of range; variables are x1 to x{max}")]
    VariableOutOfRange { name: String, max: usize },
    #[error("function `{0}` needs its argument in parentheses, as in {0}(x1)")]
    MissingArgument(String),
    #[error("this `(` is never closed")]
    UnclosedParenthesis,
    #[error("this `)` has no matching `(`")]
    UnmatchedParenthesis,
    #[error("expected a number, variable, function or `(`, found {0}")]
    ExpectedOperand(String),
    #[error("expected an operator or the end of the formula, found {0}")]
    ExpectedOperator(String),
}

/// Parses `text` into an expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let length = text.chars().count();
    if length > MAX_EXPRESSION_CHARS {
        return Err(ParseError {
            position: MAX_EXPRESSION_CHARS,
            kind: ParseErrorKind::TooLong {
                length,
                max: MAX_EXPRESSION_CHARS,
            },
        });
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
        builder: ExprBuilder::new(),
        length,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(ParseError {
            position: 0,
            kind: ParseErrorKind::Empty,
        });
    }
    let root = parser.sum()?;
    let token = parser.peek().clone();
    match token.kind {
        TokenKind::End => Ok(parser.builder.finish(root)),
        TokenKind::RightParen => Err(ParseError {
            position: token.position,
            kind: ParseErrorKind::UnmatchedParenthesis,
        }),
        _ => Err(ParseError {
            position: token.position,
            kind: ParseErrorKind::ExpectedOperator(token.describe()),
        }),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Number(f64),
    Name(String),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LeftParen,
    RightParen,
    End,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: TokenKind,
    position: usize,
}

impl Token {
    /// How an error message names this token.
    fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Number(value) => format!("the number `{value}`"),
            TokenKind::Name(name) => format!("`{name}`"),
            TokenKind::Plus => "`+`".into(),
            TokenKind::Minus => "`-`".into(),
            TokenKind::Star => "`*`".into(),
            TokenKind::Slash => "`/`".into(),
            TokenKind::Caret => "`^`".into(),
            TokenKind::LeftParen => "`(`".into(),
            TokenKind::RightParen => "`)`".into(),
            TokenKind::End => "the end of the formula".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                TokenKind::Caret
            }
            '*' => TokenKind::Star,
            '/' => TokenKind::Slash,
            '^' => TokenKind::Caret,
            '(' => TokenKind::LeftParen,
            ')' => TokenKind::RightParen,
            c if c.is_ascii_digit() || c == '.' => {
                let end = number_end(&chars, i);
                let literal: String = chars[i..end].iter().collect();
                i = end;
                match literal.parse::<f64>() {
                    Ok(value) if value.is_finite() => {
                        tokens.push(Token {
                            kind: TokenKind::Number(value),
                            position: start,
                        });
                        continue;
                    }
                    _ => {
                        return Err(ParseError {
                            position: start,
                            kind: ParseErrorKind::InvalidNumber(literal),
                        });
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                {
                    end += 1;
                }
                let name: String = chars[i..end].iter().collect();
                i = end;
                tokens.push(Token {
                    kind: TokenKind::Name(name),
                    position: start,
                });
                continue;
            }
            other => {
                return Err(ParseError {
                    position: start,
                    kind: ParseErrorKind::UnexpectedCharacter(other),
                });
            }
        };
        i += 1;
        tokens.push(Token {
            kind,
            position: start,
        });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        position: chars.len(),
    });
    Ok(tokens)
}

/// End of the number literal starting at `start`: digits, an optional fraction, and an
/// exponent only if digits follow the `e` (so `2e` stops before the `e`).
fn number_end(chars: &[char], start: usize) -> usize {
    let digits_from = |mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits_from(start);
    if chars.get(i) == Some(&'.') {
        i = digits_from(i + 1);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut exponent = i + 1;
        if matches!(chars.get(exponent), Some('+' | '-')) {
            exponent += 1;
        }
        if chars.get(exponent).is_some_and(char::is_ascii_digit) {
            i = digits_from(exponent);
        }
    }
    i
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
    builder: ExprBuilder,
    /// Formula length in characters, the position of "the end".
    length: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // `tokenize` always ends the list with `End`, and `advance` never passes it.
        self.tokens
            .get(self.next)
            .unwrap_or(self.tokens.last().unwrap_or(&END))
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.next += 1;
        }
        token
    }

    fn sum(&mut self) -> Result<NodeId, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Plus => BinaryOp::Add,
                TokenKind::Minus => BinaryOp::Subtract,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.product()?;
            left = self.builder.binary(op, left, right);
        }
    }

    fn product(&mut self) -> Result<NodeId, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Star => BinaryOp::Multiply,
                TokenKind::Slash => BinaryOp::Divide,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.unary()?;
            left = self.builder.binary(op, left, right);
        }
    }

    /// Every recursive path (parentheses, calls, signs, powers) passes through here, so the
    /// depth count here bounds the parser's stack.
    fn unary(&mut self) -> Result<NodeId, ParseError> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(ParseError {
                position: self.peek().position,
                kind: ParseErrorKind::TooDeep {
                    max: MAX_NESTING_DEPTH,
                },
            });
        }
        self.depth += 1;
        let result = match self.peek().kind {
            TokenKind::Minus => {
                self.advance();
                self.unary().map(|operand| self.builder.negate(operand))
            }
            TokenKind::Plus => {
                self.advance();
                self.unary()
            }
            _ => self.power(),
        };
        self.depth -= 1;
        result
    }

    fn power(&mut self) -> Result<NodeId, ParseError> {
        let base = self.atom()?;
        if self.peek().kind != TokenKind::Caret {
            return Ok(base);
        }
        self.advance();
        let exponent = self.unary()?;
        Ok(self.builder.binary(BinaryOp::Power, base, exponent))
    }

    fn atom(&mut self) -> Result<NodeId, ParseError> {
        let token = self.advance();
        match token.kind {
            TokenKind::Number(value) => Ok(self.builder.constant(value)),
            TokenKind::LeftParen => self.parenthesized(token.position),
            TokenKind::Name(name) => self.name(name, token.position),
            TokenKind::RightParen if self.depth <= 1 => Err(ParseError {
                position: token.position,
                kind: ParseErrorKind::UnmatchedParenthesis,
            }),
            TokenKind::End => Err(ParseError {
                position: self.length,
                kind: ParseErrorKind::ExpectedOperand(token.describe()),
            }),
            _ => Err(ParseError {
                position: token.position,
                kind: ParseErrorKind::ExpectedOperand(token.describe()),
            }),
        }
    }

    /// The rest of `( sum )` after the `(` at `open`.
    fn parenthesized(&mut self, open: usize) -> Result<NodeId, ParseError> {
        let inner = self.sum()?;
        let token = self.advance();
        match token.kind {
            TokenKind::RightParen => Ok(inner),
            TokenKind::End => Err(ParseError {
                position: open,
                kind: ParseErrorKind::UnclosedParenthesis,
            }),
            _ => Err(ParseError {
                position: token.position,
                kind: ParseErrorKind::ExpectedOperator(token.describe()),
            }),
        }
    }

    fn name(&mut self, name: String, position: usize) -> Result<NodeId, ParseError> {
        let called = self.peek().kind == TokenKind::LeftParen;
        if let Some(function) = Function::from_name(&name) {
            if !called {
                return Err(ParseError {
                    position,
                    kind: ParseErrorKind::MissingArgument(name),
                });
            }
            let open = self.advance().position;
            let argument = self.parenthesized(open)?;
            return Ok(self.builder.call(function, argument));
        }
        if called {
            return Err(ParseError {
                position,
                kind: ParseErrorKind::UnknownFunction(name),
            });
        }
        match name.as_str() {
            "pi" => return Ok(self.builder.constant(std::f64::consts::PI)),
            "e" => return Ok(self.builder.constant(std::f64::consts::E)),
            _ => {}
        }
        let Some(digits) = name.strip_prefix('x') else {
            return Err(ParseError {
                position,
                kind: ParseErrorKind::UnknownName(name),
            });
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError {
                position,
                kind: ParseErrorKind::UnknownName(name),
            });
        }
        match digits.parse::<usize>() {
            Ok(number) if (1..=MAX_VARIABLES).contains(&number) && !digits.starts_with('0') => {
                Ok(self.builder.variable(number - 1))
            }
            _ => Err(ParseError {
                position,
                kind: ParseErrorKind::VariableOutOfRange {
                    name,
                    max: MAX_VARIABLES,
                },
            }),
        }
    }
}

/// Stands in for the end token if the list were ever empty (it never is).
static END: Token = Token {
    kind: TokenKind::End,
    position: 0,
};
