//! Reading a `serde_json::Value` field by field while collecting every problem with its JSON
//! path, instead of stopping at the first as `serde` would.
//!
//! An [`Object`] remembers which keys its parser asked for; [`Object::finish`] reports every
//! other key as unknown, listing the known ones, so a misspelt field is an error and never a
//! silent default. A `null` value counts as absent (the resolved spec writes `null` for options
//! that are off). Nothing here recurses into user values: messages describe arrays and objects
//! by their size, so no input can blow the stack.

use serde_json::{Map, Value};
use std::fmt;

use super::FieldError;

/// At most this many errors are kept; the rest are counted and summarized in one last entry.
pub const MAX_ERRORS: usize = 100;

/// Longest string echoed back in a message or in [`FieldError::value`].
const MAX_ECHO_CHARS: usize = 64;

/// The errors found so far.
#[derive(Debug, Default)]
pub struct Errors {
    list: Vec<FieldError>,
    total: usize,
}

impl Errors {
    /// Records a problem at `path`; `value` is the offending value, kept when it is a scalar.
    pub fn add(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        value: Option<&Value>,
    ) {
        self.total += 1;
        if self.list.len() < MAX_ERRORS {
            self.list.push(FieldError {
                path: path.into(),
                message: message.into(),
                value: value.and_then(echo),
            });
        }
    }

    /// How many problems have been found, including those not kept. Parsers compare this before
    /// and after reading a part to learn whether the part is valid.
    pub fn count(&self) -> usize {
        self.total
    }

    pub fn into_vec(mut self) -> Vec<FieldError> {
        if self.total > self.list.len() {
            let hidden = self.total - self.list.len();
            self.list.push(FieldError {
                path: String::new(),
                message: format!("{hidden} more errors not shown"),
                value: None,
            });
        }
        self.list
    }
}

/// `parent.key`, or `key` at the root.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// A short description of a value for messages: scalars as JSON, long strings cut,
/// arrays and objects by size.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let shown: String = text.chars().take(MAX_ECHO_CHARS).collect();
            if shown.len() < text.len() {
                format!("\"{shown}…\"")
            } else {
                format!("\"{shown}\"")
            }
        }
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(map) => format!("an object with {} fields", map.len()),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.to_string(),
    }
}

/// The value stored in a [`FieldError`]: scalars only, long strings cut.
fn echo(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) => Some(Value::String(text.chars().take(MAX_ECHO_CHARS).collect())),
        Value::Null | Value::Bool(_) | Value::Number(_) => Some(value.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// An interval of allowed real values, printed the way messages state rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    lo: f64,
    lo_closed: bool,
    hi: f64,
    hi_closed: bool,
}

impl Interval {
    /// `[lo, hi]`.
    pub const fn closed(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            lo_closed: true,
            hi,
            hi_closed: true,
        }
    }
    /// `[lo, hi)`.
    pub const fn closed_open(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            lo_closed: true,
            hi,
            hi_closed: false,
        }
    }
    /// `(lo, hi]`.
    pub const fn open_closed(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            lo_closed: false,
            hi,
            hi_closed: true,
        }
    }

    pub fn contains(self, x: f64) -> bool {
        let above = if self.lo_closed {
            x >= self.lo
        } else {
            x > self.lo
        };
        let below = if self.hi_closed {
            x <= self.hi
        } else {
            x < self.hi
        };
        above && below
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = if self.lo_closed { '[' } else { '(' };
        let close = if self.hi_closed { ']' } else { ')' };
        write!(f, "{open}{}, {}{close}", self.lo, self.hi)
    }
}

/// A JSON object under a path, read key by key.
pub struct Object<'v> {
    path: String,
    map: &'v Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'v> Object<'v> {
    /// Opens `value` as an object, or records "must be an object" and returns `None`.
    pub fn open(value: &'v Value, path: &str, errors: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Object {
                path: path.to_string(),
                map,
                known: Vec::new(),
            }),
            other => {
                errors.add(
                    path,
                    format!("must be an object, got {}", describe(other)),
                    Some(other),
                );
                None
            }
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` inside this object.
    pub fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, `None` when absent or null. Marks `key` as known.
    pub fn field(&mut self, key: &'static str) -> Option<&'v Value> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// Like [`Object::field`], recording "is required" when absent.
    pub fn required(&mut self, key: &'static str, errors: &mut Errors) -> Option<&'v Value> {
        let value = self.field(key);
        if value.is_none() {
            errors.add(self.at(key), "is required", None);
        }
        value
    }

    /// True when `key` is present and not null (without marking it known).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|value| !value.is_null())
    }

    /// An optional real number in `range`.
    pub fn number(
        &mut self,
        key: &'static str,
        range: Interval,
        errors: &mut Errors,
    ) -> Option<f64> {
        let path = self.at(key);
        self.field(key)
            .and_then(|value| number(value, &path, range, errors))
    }

    /// A required real number in `range`.
    pub fn required_number(
        &mut self,
        key: &'static str,
        range: Interval,
        errors: &mut Errors,
    ) -> Option<f64> {
        let path = self.at(key);
        self.required(key, errors)
            .and_then(|value| number(value, &path, range, errors))
    }

    /// An optional integer in `[lo, hi]`.
    pub fn integer(
        &mut self,
        key: &'static str,
        lo: u64,
        hi: u64,
        errors: &mut Errors,
    ) -> Option<u64> {
        let path = self.at(key);
        self.field(key)
            .and_then(|value| integer(value, &path, lo, hi, errors))
    }

    /// A required integer in `[lo, hi]`.
    pub fn required_integer(
        &mut self,
        key: &'static str,
        lo: u64,
        hi: u64,
        errors: &mut Errors,
    ) -> Option<u64> {
        let path = self.at(key);
        self.required(key, errors)
            .and_then(|value| integer(value, &path, lo, hi, errors))
    }

    /// An optional boolean.
    pub fn boolean(&mut self, key: &'static str, errors: &mut Errors) -> Option<bool> {
        let path = self.at(key);
        match self.field(key)? {
            Value::Bool(flag) => Some(*flag),
            other => {
                errors.add(
                    path,
                    format!("must be true or false, got {}", describe(other)),
                    Some(other),
                );
                None
            }
        }
    }

    /// An optional name from `table` (Keras names and their aliases).
    pub fn name<T: Copy>(
        &mut self,
        key: &'static str,
        what: &str,
        table: &[(&str, T)],
        errors: &mut Errors,
    ) -> Option<T> {
        let path = self.at(key);
        self.field(key)
            .and_then(|value| name(value, &path, what, table, errors))
    }

    /// A required name from `table`.
    pub fn required_name<T: Copy>(
        &mut self,
        key: &'static str,
        what: &str,
        table: &[(&str, T)],
        errors: &mut Errors,
    ) -> Option<T> {
        let path = self.at(key);
        self.required(key, errors)
            .and_then(|value| name(value, &path, what, table, errors))
    }

    /// Reports every key that no parser asked for.
    pub fn finish(self, errors: &mut Errors) {
        for (key, value) in self.map {
            if !self.known.contains(&key.as_str()) {
                let shown: String = key.chars().take(MAX_ECHO_CHARS).collect();
                errors.add(
                    join(&self.path, &shown),
                    format!("unknown field; expected one of: {}", self.known.join(", ")),
                    Some(value),
                );
            }
        }
    }
}

/// A finite real number in `range`.
pub fn number(value: &Value, path: &str, range: Interval, errors: &mut Errors) -> Option<f64> {
    let Some(x) = value.as_f64().filter(|x| x.is_finite()) else {
        errors.add(
            path,
            format!("must be a number, got {}", describe(value)),
            Some(value),
        );
        return None;
    };
    if range.contains(x) {
        Some(x)
    } else {
        errors.add(
            path,
            format!("must be in {range}, got {}", describe(value)),
            Some(value),
        );
        None
    }
}

/// An integer in `[lo, hi]`. A number with a zero fraction (`15.0`) counts as an integer.
pub fn integer(value: &Value, path: &str, lo: u64, hi: u64, errors: &mut Errors) -> Option<u64> {
    let exact = match value {
        Value::Number(number) => number
            .as_u64()
            .map(|n| n as f64)
            .or_else(|| number.as_i64().map(|n| n as f64))
            .or_else(|| number.as_f64()),
        _ => None,
    };
    let Some(x) = exact else {
        errors.add(
            path,
            format!("must be an integer, got {}", describe(value)),
            Some(value),
        );
        return None;
    };
    if x.fract() != 0.0 || !x.is_finite() {
        errors.add(
            path,
            format!("must be an integer, got {}", describe(value)),
            Some(value),
        );
        return None;
    }
    // u64 values above 2^53 lose precision as f64; compare them exactly.
    if let Some(n) = value.as_u64() {
        return if (lo..=hi).contains(&n) {
            Some(n)
        } else {
            errors.add(
                path,
                format!(
                    "must be an integer in [{lo}, {hi}], got {}",
                    describe(value)
                ),
                Some(value),
            );
            None
        };
    }
    // Written as a float (2e19): `hi as f64` may round up (u64::MAX to 2^64), so the bounds
    // are compared on the integer, once it is known to fit.
    const TWO_TO_THE_64: f64 = 18_446_744_073_709_551_616.0;
    if (0.0..TWO_TO_THE_64).contains(&x) && (lo..=hi).contains(&(x as u64)) {
        Some(x as u64)
    } else {
        errors.add(
            path,
            format!(
                "must be an integer in [{lo}, {hi}], got {}",
                describe(value)
            ),
            Some(value),
        );
        None
    }
}

/// Every name `table` accepts, aliases included, in its order.
pub fn names<'a, T>(table: &[(&'a str, T)]) -> Vec<&'a str> {
    table.iter().map(|(name, _)| *name).collect()
}

/// A string naming one entry of `table`; the message lists every accepted name.
pub fn name<T: Copy>(
    value: &Value,
    path: &str,
    what: &str,
    table: &[(&str, T)],
    errors: &mut Errors,
) -> Option<T> {
    let names = names(table);
    let Value::String(text) = value else {
        errors.add(
            path,
            format!(
                "must be a string naming the {what}, one of: {}; got {}",
                names.join(", "),
                describe(value)
            ),
            Some(value),
        );
        return None;
    };
    match table.iter().find(|(name, _)| *name == text) {
        Some((_, item)) => Some(*item),
        None => {
            errors.add(
                path,
                format!(
                    "unknown {what} {}; expected one of: {}",
                    describe(value),
                    names.join(", ")
                ),
                Some(value),
            );
            None
        }
    }
}

/// The canonical (first) name of `item` in `table`.
pub fn name_of<T: PartialEq>(table: &[(&'static str, T)], item: &T) -> &'static str {
    table
        .iter()
        .find(|(_, candidate)| candidate == item)
        .map_or("", |(name, _)| *name)
}

/// A string of 1 to `max_chars` characters.
pub fn string<'v>(
    value: &'v Value,
    path: &str,
    max_chars: usize,
    errors: &mut Errors,
) -> Option<&'v str> {
    match value {
        Value::String(text) if !text.is_empty() && text.chars().count() <= max_chars => Some(text),
        Value::String(_) => {
            errors.add(
                path,
                format!("must be a string of 1 to {max_chars} characters"),
                Some(value),
            );
            None
        }
        other => {
            errors.add(
                path,
                format!("must be a string, got {}", describe(other)),
                Some(other),
            );
            None
        }
    }
}

/// An array of at most `max_len` items.
pub fn array<'v>(
    value: &'v Value,
    path: &str,
    max_len: usize,
    errors: &mut Errors,
) -> Option<&'v [Value]> {
    match value {
        Value::Array(items) if items.len() <= max_len => Some(items),
        Value::Array(items) => {
            errors.add(
                path,
                format!("must have at most {max_len} items, got {}", items.len()),
                None,
            );
            None
        }
        other => {
            errors.add(
                path,
                format!("must be an array, got {}", describe(other)),
                Some(other),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_accept_whole_numbers_written_as_floats_and_reject_fractions() {
        let mut errors = Errors::default();
        assert_eq!(integer(&json!(15), "b", 1, 100, &mut errors), Some(15));
        assert_eq!(integer(&json!(15.0), "b", 1, 100, &mut errors), Some(15));
        assert_eq!(integer(&json!(15.5), "b", 1, 100, &mut errors), None);
        assert_eq!(integer(&json!(-3), "b", 1, 100, &mut errors), None);
        assert_eq!(integer(&json!(1e300), "b", 1, 100, &mut errors), None);
        assert_eq!(
            integer(&json!(u64::MAX), "b", 0, u64::MAX, &mut errors),
            Some(u64::MAX)
        );
        // 2^64 and 2e19 are past u64::MAX, though `u64::MAX as f64` is 2^64.
        let past: Value = serde_json::from_str("18446744073709551616").expect("json");
        assert_eq!(integer(&past, "b", 0, u64::MAX, &mut errors), None);
        assert_eq!(integer(&json!(2e19), "b", 0, u64::MAX, &mut errors), None);
        assert_eq!(
            integer(&json!(1e19), "b", 0, u64::MAX, &mut errors),
            Some(10_000_000_000_000_000_000)
        );
        assert_eq!(integer(&json!("15"), "b", 1, 100, &mut errors), None);
        let messages: Vec<String> = errors.into_vec().into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "must be an integer, got 15.5",
                "must be an integer in [1, 100], got -3",
                "must be an integer in [1, 100], got 1e+300",
                "must be an integer in [0, 18446744073709551615], got 1.8446744073709552e+19",
                "must be an integer in [0, 18446744073709551615], got 2e+19",
                "must be an integer, got \"15\""
            ]
        );
    }

    #[test]
    fn intervals_print_their_brackets() {
        assert_eq!(Interval::closed(0.0, 1.0).to_string(), "[0, 1]");
        assert_eq!(Interval::closed_open(0.0, 1.0).to_string(), "[0, 1)");
        assert!(!Interval::open_closed(0.0, 1.0).contains(0.0));
        assert!(Interval::open_closed(0.0, 1.0).contains(1.0));
    }

    #[test]
    fn errors_beyond_the_cap_are_counted_and_summarized() {
        let mut errors = Errors::default();
        for i in 0..MAX_ERRORS + 7 {
            errors.add(format!("x[{i}]"), "bad", None);
        }
        assert_eq!(errors.count(), MAX_ERRORS + 7);
        let list = errors.into_vec();
        assert_eq!(list.len(), MAX_ERRORS + 1);
        assert_eq!(list[MAX_ERRORS].message, "7 more errors not shown");
    }

    #[test]
    fn long_strings_are_cut_in_messages_and_echoed_values() {
        let long = "x".repeat(10_000);
        let mut errors = Errors::default();
        let _ = number(&json!(long), "n", Interval::closed(0.0, 1.0), &mut errors);
        let list = errors.into_vec();
        assert!(list[0].message.len() < 200);
        assert_eq!(
            list[0].value.as_ref().and_then(Value::as_str).map(str::len),
            Some(64)
        );
    }
}
