//! Parsing an uploaded CSV file around its named label column.
//!
//! The first record is the header. The label column may sit anywhere; every other column is a
//! feature and must hold a finite number in every row ([`super::value`]); the label column is
//! interpreted by [`super::labels`] (class ids, regression values or class names). Cells are
//! trimmed of surrounding spaces, quoting follows RFC 4180, blank lines are skipped and a UTF-8
//! byte-order mark is ignored. Each failure is a [`CsvError`] naming the 1-based line (the
//! header is line 1), the column and the rule, so the user can find the cell.

use std::collections::HashMap;
use std::fmt;

use ::csv::{ByteRecord, ReaderBuilder, Trim};
use ndarray::Array2;

use super::Dataset;
use super::labels::{self, LabelRule};
use super::value::{self, ValueRule};

/// Size limits checked while reading, before the rows are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLimits {
    /// Data rows, not counting the header.
    pub max_rows: usize,
    /// Columns, the label column included.
    pub max_columns: usize,
    /// `rows × columns`, the label column included.
    pub max_cells: usize,
    /// Classes the label column may describe (see [`labels::MAX_CLASSES`]).
    pub max_classes: usize,
    /// Characters of one column name: the names are stored with the dataset and shown in every
    /// listing of it, so 10 000 columns of kilobyte names would be a header of tens of
    /// megabytes re-read per listing.
    pub max_column_name_chars: usize,
}

impl Default for CsvLimits {
    /// One million rows, 10 000 columns, 50 million cells (200 MB of `f32`), 1000 classes,
    /// column names of at most 256 characters.
    fn default() -> Self {
        CsvLimits {
            max_rows: 1_000_000,
            max_columns: 10_000,
            max_cells: 50_000_000,
            max_classes: labels::MAX_CLASSES,
            max_column_name_chars: 256,
        }
    }
}

impl CsvLimits {
    /// No size limits: for the files embedded in the binary, whose sizes are known.
    pub const UNLIMITED: CsvLimits = CsvLimits {
        max_rows: usize::MAX,
        max_columns: usize::MAX,
        max_cells: usize::MAX,
        max_classes: labels::MAX_CLASSES,
        max_column_name_chars: usize::MAX,
    };
}

/// A column named in an error: its 1-based position in the header (0 for a label column the
/// header lacks) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvColumn {
    pub number: usize,
    pub name: String,
}

/// Which rule a CSV file broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvRule {
    /// The file has no header line.
    NoHeader,
    /// A header cell is empty.
    EmptyColumnName,
    /// A header cell is longer than `limit` characters.
    ColumnNameTooLong {
        limit: usize,
    },
    /// Two header cells carry the same name; `first` is the 1-based position of the first.
    DuplicateColumn {
        first: usize,
    },
    /// No header cell equals the requested label column.
    MissingLabelColumn,
    /// The label column is the only column.
    NoFeatureColumns,
    /// The header is the only record.
    NoDataRows,
    /// A row has `found` cells where the header has `expected`.
    RaggedRow {
        expected: usize,
        found: usize,
    },
    /// A cell is not valid UTF-8.
    NotUtf8,
    /// A feature cell is not a finite number.
    Feature(ValueRule),
    /// The label column cannot be interpreted.
    Label(LabelRule),
    TooManyRows {
        limit: usize,
    },
    TooManyColumns {
        limit: usize,
    },
    TooManyCells {
        limit: usize,
    },
    /// The CSV reader itself failed; the message is the reader's.
    Malformed {
        message: String,
    },
}

impl CsvRule {
    /// A stable machine-readable name for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            CsvRule::NoHeader => "no_header",
            CsvRule::EmptyColumnName => "empty_column_name",
            CsvRule::ColumnNameTooLong { .. } => "column_name_too_long",
            CsvRule::DuplicateColumn { .. } => "duplicate_column",
            CsvRule::MissingLabelColumn => "missing_label_column",
            CsvRule::NoFeatureColumns => "no_feature_columns",
            CsvRule::NoDataRows => "no_data_rows",
            CsvRule::RaggedRow { .. } => "ragged_row",
            CsvRule::NotUtf8 => "not_utf8",
            CsvRule::Feature(rule) => rule.code(),
            CsvRule::Label(rule) => rule.code(),
            CsvRule::TooManyRows { .. } => "too_many_rows",
            CsvRule::TooManyColumns { .. } => "too_many_columns",
            CsvRule::TooManyCells { .. } => "too_many_cells",
            CsvRule::Malformed { .. } => "malformed_csv",
        }
    }
}

impl fmt::Display for CsvRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvRule::NoHeader => f.write_str("the file is empty; a header line is required"),
            CsvRule::EmptyColumnName => f.write_str("the column name is empty"),
            CsvRule::ColumnNameTooLong { limit } => {
                write!(f, "the column name is longer than {limit} characters")
            }
            CsvRule::DuplicateColumn { first } => {
                write!(f, "the column name repeats column {first}")
            }
            CsvRule::MissingLabelColumn => f.write_str("the header has no such label column"),
            CsvRule::NoFeatureColumns => {
                f.write_str("the label column is the only column; no features remain")
            }
            CsvRule::NoDataRows => f.write_str("the file has a header but no data rows"),
            CsvRule::RaggedRow { expected, found } => {
                write!(f, "the row has {found} cells but the header has {expected}")
            }
            CsvRule::NotUtf8 => f.write_str("the cell is not valid UTF-8"),
            CsvRule::Feature(rule) => rule.fmt(f),
            CsvRule::Label(rule) => rule.fmt(f),
            CsvRule::TooManyRows { limit } => write!(f, "more than {limit} data rows"),
            CsvRule::TooManyColumns { limit } => write!(f, "more than {limit} columns"),
            CsvRule::TooManyCells { limit } => write!(f, "more than {limit} cells"),
            CsvRule::Malformed { message } => write!(f, "malformed CSV: {message}"),
        }
    }
}

/// A rejected CSV file: where (line, column), which rule, and the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CsvError {
    /// 1-based line where the offending record starts; the header is line 1.
    pub line: Option<u64>,
    pub column: Option<CsvColumn>,
    pub rule: CsvRule,
    /// The offending cell, cut to at most 64 characters.
    pub value: Option<String>,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
            if self.column.is_some() {
                f.write_str(", ")?;
            }
        }
        if let Some(column) = &self.column {
            write!(f, "column {} ({:?})", column.number, column.name)?;
        }
        if self.line.is_some() || self.column.is_some() {
            f.write_str(": ")?;
        }
        write!(f, "{}", self.rule)?;
        if let Some(value) = &self.value {
            write!(f, " (got {value:?})")?;
        }
        Ok(())
    }
}

/// Parses `bytes` as a CSV file whose header names `label_column`; see the module docs.
///
/// Feature names are the other header names in file order. The result has no image shape.
pub fn parse(bytes: &[u8], label_column: &str, limits: &CsvLimits) -> Result<Dataset, CsvError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(bytes);
    let mut record = ByteRecord::new();

    if !next_record(&mut reader, &mut record)? {
        return Err(error(None, None, CsvRule::NoHeader, None));
    }
    let header = read_header(&record, label_column, limits)?;
    let width = header.names.len();
    let n_features = width - 1;

    let mut features: Vec<f32> = Vec::new();
    let mut label_texts: Vec<String> = Vec::new();
    let mut row_lines: Vec<u64> = Vec::new();
    while next_record(&mut reader, &mut record)? {
        let line = record.position().map(|position| position.line());
        let rows = row_lines.len() + 1;
        if rows > limits.max_rows {
            let rule = CsvRule::TooManyRows {
                limit: limits.max_rows,
            };
            return Err(error(line, None, rule, None));
        }
        if rows.saturating_mul(width) > limits.max_cells {
            let rule = CsvRule::TooManyCells {
                limit: limits.max_cells,
            };
            return Err(error(line, None, rule, None));
        }
        if record.len() != width {
            let rule = CsvRule::RaggedRow {
                expected: width,
                found: record.len(),
            };
            // A short row is named by its first missing column.
            let column = (record.len() < width).then(|| header.column(record.len()));
            return Err(error(line, column, rule, None));
        }
        for (index, cell) in record.iter().enumerate() {
            let text = std::str::from_utf8(cell)
                .map_err(|_| error(line, Some(header.column(index)), CsvRule::NotUtf8, None))?;
            if index == header.label_index {
                label_texts.push(text.to_string());
            } else {
                let feature = value::parse(text).map_err(|rule| {
                    let column = Some(header.column(index));
                    error(line, column, CsvRule::Feature(rule), Some(text))
                })?;
                features.push(feature);
            }
        }
        row_lines.push(line.unwrap_or(0));
    }

    let rows = row_lines.len();
    if rows == 0 {
        return Err(error(Some(1), None, CsvRule::NoDataRows, None));
    }
    let column = labels::from_texts(&label_texts, limits.max_classes).map_err(|label_error| {
        error(
            row_lines.get(label_error.index).copied(),
            Some(header.column(header.label_index)),
            CsvRule::Label(label_error.rule),
            Some(&label_error.value),
        )
    })?;
    let features = Array2::from_shape_vec((rows, n_features), features).map_err(|shape| {
        let message = shape.to_string();
        error(None, None, CsvRule::Malformed { message }, None)
    })?;
    let feature_names = header
        .names
        .into_iter()
        .enumerate()
        .filter(|&(index, _)| index != header.label_index)
        .map(|(_, name)| name)
        .collect();
    Ok(Dataset {
        features,
        targets: column.targets,
        image_shape: None,
        feature_names,
        class_names: column.class_names,
    })
}

/// The checked header: every name non-empty and distinct, the label column found.
struct Header {
    names: Vec<String>,
    label_index: usize,
}

impl Header {
    fn column(&self, index: usize) -> CsvColumn {
        CsvColumn {
            number: index + 1,
            name: self.names.get(index).cloned().unwrap_or_default(),
        }
    }
}

fn read_header(
    record: &ByteRecord,
    label_column: &str,
    limits: &CsvLimits,
) -> Result<Header, CsvError> {
    let line = Some(1);
    if record.len() > limits.max_columns {
        let rule = CsvRule::TooManyColumns {
            limit: limits.max_columns,
        };
        return Err(error(line, None, rule, None));
    }
    let mut names = Vec::with_capacity(record.len());
    let mut positions: HashMap<&[u8], usize> = HashMap::with_capacity(record.len());
    for (index, cell) in record.iter().enumerate() {
        let unnamed = || CsvColumn {
            number: index + 1,
            name: String::new(),
        };
        let name = std::str::from_utf8(cell)
            .map_err(|_| error(line, Some(unnamed()), CsvRule::NotUtf8, None))?;
        if name.is_empty() {
            return Err(error(line, Some(unnamed()), CsvRule::EmptyColumnName, None));
        }
        if name.chars().nth(limits.max_column_name_chars).is_some() {
            // Named by its position and its first characters, so the error stays short.
            let column = CsvColumn {
                number: index + 1,
                name: excerpt(name),
            };
            let rule = CsvRule::ColumnNameTooLong {
                limit: limits.max_column_name_chars,
            };
            return Err(error(line, Some(column), rule, None));
        }
        if let Some(&first) = positions.get(cell) {
            let column = CsvColumn {
                number: index + 1,
                name: name.to_string(),
            };
            let rule = CsvRule::DuplicateColumn { first: first + 1 };
            return Err(error(line, Some(column), rule, None));
        }
        positions.insert(cell, index);
        names.push(name.to_string());
    }
    let wanted = label_column.trim();
    let Some(label_index) = names.iter().position(|name| name == wanted) else {
        let column = CsvColumn {
            number: 0,
            name: wanted.to_string(),
        };
        return Err(error(line, Some(column), CsvRule::MissingLabelColumn, None));
    };
    if names.len() < 2 {
        let column = CsvColumn {
            number: label_index + 1,
            name: wanted.to_string(),
        };
        return Err(error(line, Some(column), CsvRule::NoFeatureColumns, None));
    }
    Ok(Header { names, label_index })
}

fn next_record(
    reader: &mut ::csv::Reader<&[u8]>,
    record: &mut ByteRecord,
) -> Result<bool, CsvError> {
    reader.read_byte_record(record).map_err(|reader_error| {
        let line = reader_error.position().map(|position| position.line());
        let message = reader_error.to_string();
        error(line, None, CsvRule::Malformed { message }, None)
    })
}

fn error(
    line: Option<u64>,
    column: Option<CsvColumn>,
    rule: CsvRule,
    value: Option<&str>,
) -> CsvError {
    CsvError {
        line,
        column,
        rule,
        value: value.map(excerpt),
    }
}

/// The first 64 characters of an offending cell, so an error never echoes megabytes.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;
    use ndarray::array;

    fn parse_text(text: &str) -> Result<Dataset, CsvError> {
        parse(text.as_bytes(), "y", &CsvLimits::default())
    }

    /// The (line, column name, rule code, value) of the error `text` gives.
    fn failure(text: &str) -> (Option<u64>, Option<String>, &'static str, Option<String>) {
        let error = parse_text(text).expect_err("the file should be rejected");
        let code = error.rule.code();
        (error.line, error.column.map(|c| c.name), code, error.value)
    }

    fn at(
        line: u64,
        column: &str,
        code: &'static str,
        value: Option<&str>,
    ) -> (Option<u64>, Option<String>, &'static str, Option<String>) {
        (
            Some(line),
            Some(column.to_string()),
            code,
            value.map(str::to_string),
        )
    }

    #[test]
    fn the_label_column_can_sit_anywhere_and_the_rest_are_features_in_order() {
        let dataset = parse_text("a,y,b\n1,0,2\n3,1,4.5\n").unwrap();
        assert_eq!(dataset.features, array![[1.0, 2.0], [3.0, 4.5]]);
        assert_eq!(
            dataset.targets,
            Targets::Classes {
                labels: vec![0, 1],
                n_classes: 2
            }
        );
        assert_eq!(dataset.feature_names, ["a", "b"]);
        assert_eq!(dataset.class_names, None);
        assert_eq!(dataset.image_shape, None);
    }

    #[test]
    fn string_labels_become_sorted_class_names() {
        let dataset = parse_text("x,y\n1,dog\n2,cat\n3,dog\n").unwrap();
        assert_eq!(
            dataset.targets,
            Targets::Classes {
                labels: vec![1, 0, 1],
                n_classes: 2
            }
        );
        assert_eq!(dataset.class_names, Some(vec!["cat".into(), "dog".into()]));
    }

    #[test]
    fn decimal_labels_become_one_regression_output() {
        let dataset = parse_text("x,y\n1,0.5\n2,-1.25\n").unwrap();
        assert_eq!(dataset.targets, Targets::Values(array![[0.5], [-1.25]]));
    }

    #[test]
    fn spaces_quotes_blank_lines_crlf_and_a_byte_order_mark_are_accepted() {
        // A quote opens a quoted field only as the field's first byte, as in RFC 4180.
        let text = "\u{feff} x ,\"y\"\r\n 1.5 ,\"2\"\r\n\r\n\"3\",0\r\n";
        let dataset = parse_text(text).unwrap();
        assert_eq!(dataset.features, array![[1.5], [3.0]]);
        assert_eq!(dataset.feature_names, ["x"]);
    }

    #[test]
    fn each_bad_cell_is_reported_with_its_line_column_and_rule() {
        assert_eq!(
            failure("x,z,y\n1,2,0\n1,,0\n"),
            at(3, "z", "empty_value", Some(""))
        );
        assert_eq!(
            failure("x,z,y\n1,2,0\n1,NaN,0\n"),
            at(3, "z", "not_finite", Some("NaN"))
        );
        assert_eq!(
            failure("x,z,y\n1,inf,0\n"),
            at(2, "z", "not_finite", Some("inf"))
        );
        assert_eq!(
            failure("x,z,y\n1,2,0\nabc,2,0\n"),
            at(3, "x", "not_a_number", Some("abc"))
        );
        assert_eq!(
            failure("x,z,y\n1,1e40,0\n"),
            at(2, "z", "out_of_f32_range", Some("1e40"))
        );
    }

    #[test]
    fn a_short_row_names_its_first_missing_column_and_a_long_row_its_line() {
        assert_eq!(
            failure("x,z,y\n1,2,0\n1,2\n"),
            at(3, "y", "ragged_row", None)
        );
        let error = parse_text("x,y\n1,0\n1,0,5\n").unwrap_err();
        assert_eq!(error.line, Some(3));
        assert_eq!(
            error.rule,
            CsvRule::RaggedRow {
                expected: 2,
                found: 3
            }
        );
        assert_eq!(
            error.to_string(),
            "line 3: the row has 3 cells but the header has 2"
        );
    }

    #[test]
    fn header_problems_are_reported_on_line_one() {
        assert_eq!(
            failure("x,label\n1,0\n"),
            at(1, "y", "missing_label_column", None)
        );
        assert_eq!(
            failure("x,x,y\n1,2,0\n"),
            at(1, "x", "duplicate_column", None)
        );
        assert_eq!(failure("y\n0\n"), at(1, "y", "no_feature_columns", None));
        assert_eq!(
            failure("x,,y\n1,2,0\n"),
            at(1, "", "empty_column_name", None)
        );
        assert_eq!(failure("x,y\n"), (Some(1), None, "no_data_rows", None));
        assert_eq!(failure(""), (None, None, "no_header", None));
    }

    #[test]
    fn a_bad_label_is_reported_at_its_own_line() {
        assert_eq!(
            failure("x,y\n1,0.5\n2,nan\n3,1\n"),
            at(3, "y", "not_finite", Some("nan"))
        );
        assert_eq!(
            failure("x,y\n1,a\n2,\n"),
            at(3, "y", "empty_label", Some(""))
        );
        assert_eq!(
            failure("x,y\n1,0\n2,5000\n"),
            at(3, "y", "too_many_classes", Some("5000"))
        );
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_cell() {
        let error = parse(b"x,y\n\xff,0\n", "y", &CsvLimits::default()).unwrap_err();
        assert_eq!((error.line, error.rule.code()), (Some(2), "not_utf8"));
        assert_eq!(error.column.map(|column| column.number), Some(1));
    }

    #[test]
    fn size_limits_stop_reading_at_the_first_line_beyond_them() {
        let limits = CsvLimits {
            max_rows: 2,
            max_columns: 3,
            max_cells: 5,
            max_classes: 10,
            max_column_name_chars: 256,
        };
        let rows = parse(b"x,y\n1,0\n2,0\n3,0\n", "y", &limits).unwrap_err();
        assert_eq!(
            (rows.line, rows.rule),
            (Some(4), CsvRule::TooManyRows { limit: 2 })
        );
        let columns = parse(b"a,b,c,y\n1,2,3,0\n", "y", &limits).unwrap_err();
        assert_eq!(
            (columns.line, columns.rule),
            (Some(1), CsvRule::TooManyColumns { limit: 3 })
        );
        let cells = parse(b"a,b,y\n1,2,0\n1,2,0\n", "y", &limits).unwrap_err();
        assert_eq!(
            (cells.line, cells.rule),
            (Some(3), CsvRule::TooManyCells { limit: 5 })
        );
    }

    #[test]
    fn the_error_message_names_line_column_rule_and_value() {
        let error = parse_text("x,z,y\n1,abc,0\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2, column 2 (\"z\"): the value is not a number (got \"abc\")"
        );
    }

    #[test]
    fn a_column_name_longer_than_the_limit_is_refused_by_its_position() {
        // 256 characters (not bytes) are accepted, the 257th is refused.
        let longest = "é".repeat(256);
        let dataset = parse_text(&format!("{longest},y\n1,0\n")).expect("accepted");
        assert_eq!(dataset.feature_names, std::slice::from_ref(&longest));
        let long = format!("{longest}x");
        let error = parse_text(&format!("a,{long},y\n1,2,0\n")).unwrap_err();
        assert_eq!(error.line, Some(1));
        assert_eq!(error.rule, CsvRule::ColumnNameTooLong { limit: 256 });
        assert_eq!(error.rule.code(), "column_name_too_long");
        let column = error.column.clone().expect("a column");
        assert_eq!(column.number, 2);
        // The column is named by its first 64 characters, never echoed whole.
        assert_eq!(column.name, format!("{}…", "é".repeat(64)));
        assert!(
            error
                .to_string()
                .ends_with("the column name is longer than 256 characters"),
            "{error}"
        );
        // The label column is held to the same rule.
        let error = parse(
            format!("a,{long}\n1,0\n").as_bytes(),
            &long,
            &CsvLimits::default(),
        )
        .unwrap_err();
        assert_eq!(error.rule, CsvRule::ColumnNameTooLong { limit: 256 });
        // The embedded files are not limited.
        assert!(
            parse(
                format!("{long},y\n1,0\n").as_bytes(),
                "y",
                &CsvLimits::UNLIMITED
            )
            .is_ok()
        );
    }

    #[test]
    fn a_very_long_offending_value_is_cut_in_the_error() {
        let long = "é".repeat(1000);
        let error = parse_text(&format!("x,y\n{long},0\n")).unwrap_err();
        let value = error.value.unwrap();
        assert_eq!(value.chars().count(), 65);
        assert!(value.ends_with('…'));
    }
}
