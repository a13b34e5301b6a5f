//! What counts as a valid feature or target value: a finite number that survives the
//! conversion to `f32`. CSV cells and inline JSON numbers both pass through here, so the two
//! doors reject the same things with the same rule names.

use std::fmt;

/// Why a single value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// The cell holds nothing (or only spaces).
    Empty,
    /// The text is not a decimal number.
    NotANumber,
    /// NaN, `inf` or `-inf`.
    NotFinite,
    /// Finite as a double but beyond `f32::MAX` in magnitude, so it would become infinite.
    OutOfRange,
}

impl ValueRule {
    /// A stable machine-readable name for the rule.
    pub fn code(self) -> &'static str {
        match self {
            ValueRule::Empty => "empty_value",
            ValueRule::NotANumber => "not_a_number",
            ValueRule::NotFinite => "not_finite",
            ValueRule::OutOfRange => "out_of_f32_range",
        }
    }
}

impl fmt::Display for ValueRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueRule::Empty => "the value is empty",
            ValueRule::NotANumber => "the value is not a number",
            ValueRule::NotFinite => "the value is not finite (NaN or infinity)",
            ValueRule::OutOfRange => "the value is too large in magnitude for 32-bit floats",
        })
    }
}

/// Parses a CSV cell (surrounding spaces already trimmed) as a feature value.
///
/// Rust's `f64` grammar is used: `1`, `-2.5`, `1e-3`, `+4` are numbers. `nan` and `inf` parse
/// but are rejected as [`ValueRule::NotFinite`].
pub fn parse(text: &str) -> Result<f32, ValueRule> {
    if text.is_empty() {
        return Err(ValueRule::Empty);
    }
    let value: f64 = text.parse().map_err(|_| ValueRule::NotANumber)?;
    check(value)
}

/// Checks a number for finiteness and `f32` range, returning it rounded to `f32`.
pub fn check(value: f64) -> Result<f32, ValueRule> {
    if !value.is_finite() {
        return Err(ValueRule::NotFinite);
    }
    let single = value as f32;
    if !single.is_finite() {
        return Err(ValueRule::OutOfRange);
    }
    Ok(single)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_the_usual_spellings_parse() {
        assert_eq!(parse("1"), Ok(1.0));
        assert_eq!(parse("-2.5"), Ok(-2.5));
        assert_eq!(parse("1e-3"), Ok(0.001));
        assert_eq!(parse("+4"), Ok(4.0));
        assert_eq!(parse("1001"), Ok(1001.0));
    }

    #[test]
    fn each_bad_value_gets_its_own_rule() {
        assert_eq!(parse(""), Err(ValueRule::Empty));
        assert_eq!(parse("abc"), Err(ValueRule::NotANumber));
        assert_eq!(parse("1,5"), Err(ValueRule::NotANumber));
        assert_eq!(parse("NaN"), Err(ValueRule::NotFinite));
        assert_eq!(parse("nan"), Err(ValueRule::NotFinite));
        assert_eq!(parse("-inf"), Err(ValueRule::NotFinite));
        assert_eq!(parse("1e39"), Err(ValueRule::OutOfRange));
        assert_eq!(check(f64::INFINITY), Err(ValueRule::NotFinite));
        assert_eq!(check(-1e300), Err(ValueRule::OutOfRange));
    }
}
