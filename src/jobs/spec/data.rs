//! The `data` part of a job spec: where the rows come from, how validation is held out,
//! and what happens to the rows before training.
//!
//! Defaults: `validation_split` 0 (no validation, as Keras's `fit`), `split` `stratified`,
//! `standardize` false (Keras never standardizes behind the user's back; the lecture's and the
//! API's examples ask for it explicitly), `shuffle` true (Keras `fit`), no augmentation.

use serde_json::{Value, json};

use super::read::{Errors, Interval, Object, array, item, name_of, number, string};

/// Longest dataset or job id accepted.
pub const MAX_ID_CHARS: usize = 128;
/// Most rows a generated set may have.
pub const MAX_GENERATED_SAMPLES: u64 = 1_000_000;
/// Most features a generated `blobs` set may have.
pub const MAX_GENERATED_FEATURES: u64 = 10_000;
/// Most cells (`samples × features`) of a generated set (400 MB of f32), as the data layer allows.
pub const MAX_GENERATED_CELLS: u64 = 100_000_000;
/// Most classes of a generated set.
pub const MAX_GENERATED_CLASSES: u64 = 1_000;
/// Most rows of inline data (larger sets belong in an uploaded dataset).
pub const MAX_INLINE_ROWS: usize = 100_000;
/// Most features per inline row.
pub const MAX_INLINE_FEATURES: usize = 10_000;
/// Most classes of inline data (the data layer's limit on class labels).
pub const MAX_INLINE_CLASSES: usize = 1_000;
/// Most values of one inline source's features, and of its labels: about 1 MB of JSON each.
/// The spec is stored with the job and read back by every page that shows it, so larger data
/// is uploaded once as a dataset and named by id.
pub const MAX_INLINE_CELLS: usize = 100_000;
/// Most values per inline label vector.
pub const MAX_INLINE_OUTPUTS: usize = 1_000;
/// Largest augmentation shift in pixels.
pub const MAX_SHIFT: u64 = 8;

/// The resolved `data` part.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub source: DataSource,
    pub validation: ValidationSpec,
    pub standardize: bool,
    pub shuffle: bool,
    pub augmentation: AugmentationSpec,
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    Builtin(Builtin),
    Generated(Generated),
    /// An uploaded CSV, by id.
    Dataset {
        id: String,
    },
    Inline(InlineData),
}

/// The embedded datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Iris,
    Wine,
    BreastCancer,
    Digits,
    Mnist,
}

pub const BUILTINS: &[(&str, Builtin)] = &[
    ("iris", Builtin::Iris),
    ("wine", Builtin::Wine),
    ("breast_cancer", Builtin::BreastCancer),
    ("digits", Builtin::Digits),
    ("mnist", Builtin::Mnist),
];

impl Builtin {
    pub fn name(self) -> &'static str {
        name_of(BUILTINS, &self)
    }
}

/// A synthetic set drawn from the job's seed, with every parameter resolved. The variants and
/// defaults mirror the data layer's generators (`data::synthetic::Generated`), which draw them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Generated {
    /// Gaussian clusters: centers `~ N(0, center_std²)` per feature, rows `~ N(center, cluster_std²)`.
    Blobs {
        samples: usize,
        features: usize,
        classes: usize,
        center_std: f64,
        cluster_std: f64,
    },
    /// Two features in the four quadrants; the class is the sign of `x1·x2`.
    Xor { samples: usize, noise: f64 },
    /// scikit-learn's two interleaving half circles.
    Moons { samples: usize, noise: f64 },
    /// Two concentric circles; `factor` is the inner radius over the outer.
    Circles {
        samples: usize,
        noise: f64,
        factor: f64,
    },
    /// `classes` interleaved spiral arms in two features, each making `turns` full turns.
    Spirals {
        samples: usize,
        noise: f64,
        classes: usize,
        turns: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeneratorKind {
    Blobs,
    Xor,
    Moons,
    Circles,
    Spirals,
}

const GENERATORS: &[(&str, GeneratorKind)] = &[
    ("blobs", GeneratorKind::Blobs),
    ("xor", GeneratorKind::Xor),
    ("moons", GeneratorKind::Moons),
    ("circles", GeneratorKind::Circles),
    ("spirals", GeneratorKind::Spirals),
];

impl Generated {
    pub fn name(&self) -> &'static str {
        match self {
            Generated::Blobs { .. } => "blobs",
            Generated::Xor { .. } => "xor",
            Generated::Moons { .. } => "moons",
            Generated::Circles { .. } => "circles",
            Generated::Spirals { .. } => "spirals",
        }
    }

    pub fn samples(&self) -> usize {
        match self {
            Generated::Blobs { samples, .. }
            | Generated::Xor { samples, .. }
            | Generated::Moons { samples, .. }
            | Generated::Circles { samples, .. }
            | Generated::Spirals { samples, .. } => *samples,
        }
    }

    pub fn features(&self) -> usize {
        match self {
            Generated::Blobs { features, .. } => *features,
            _ => 2,
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            Generated::Blobs { classes, .. } | Generated::Spirals { classes, .. } => *classes,
            _ => 2,
        }
    }

    /// Rows per class, as the generators assign them: moons and circles put `⌊n/2⌋` rows in
    /// class 0 and the rest in class 1 (scikit-learn's `make_moons`/`make_circles`); spirals and
    /// blobs give row `i` class `i mod k`. Xor labels by the sign of `x1·x2` of uniform points, so
    /// its counts are random; `n/2` each is their expectation.
    pub fn class_counts(&self) -> Vec<usize> {
        let (n, k) = (self.samples(), self.classes());
        match self {
            Generated::Moons { .. } | Generated::Circles { .. } | Generated::Xor { .. } => {
                vec![n / 2, n - n / 2]
            }
            Generated::Spirals { .. } | Generated::Blobs { .. } => {
                (0..k).map(|c| n / k + usize::from(c < n % k)).collect()
            }
        }
    }
}

/// Rows given in the request itself.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineData {
    /// `rows × features`, every row the same length.
    pub features: Vec<Vec<f64>>,
    /// One label per row: a number (a class id, or a regression target) or a vector of targets.
    pub labels: Vec<Label>,
    /// The number of classes when given; otherwise the largest label plus one.
    pub classes: Option<usize>,
}

/// One inline label.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Number(f64),
    Vector(Vec<f64>),
}

/// How validation data is obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidationSpec {
    None,
    /// `validation_split`: hold out a fraction of the source.
    Split {
        fraction: f64,
        rule: SplitRule,
    },
    /// `validation`: a second source.
    Source(Box<DataSource>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitRule {
    /// A seeded, class-balanced random split: per class `round(n_c·v)` rows to validation.
    Stratified,
    /// Keras's rule: the last `N − ⌊N·(1 − v)⌋` rows, cut before any shuffling.
    Tail,
}

pub const SPLIT_RULES: &[(&str, SplitRule)] = &[
    ("stratified", SplitRule::Stratified),
    ("tail", SplitRule::Tail),
];

/// Training-only augmentation; zeros mean off.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AugmentationSpec {
    pub gaussian_noise: f64,
    pub shift: usize,
}

pub(super) fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<DataSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let source = parse_source_fields(&mut object, errors);

    let split_fraction = object.number("validation_split", Interval::closed_open(0.0, 1.0), errors);
    let rule = object.name("split", "split rule", SPLIT_RULES, errors);
    let second = object.field("validation").and_then(|value| {
        let mut inner = Object::open(value, &object.at("validation"), errors)?;
        let source = parse_source_fields(&mut inner, errors);
        inner.finish(errors);
        source
    });
    if object.has("validation") && split_fraction.is_some_and(|f| f > 0.0) {
        errors.add(
            object.at("validation"),
            "give either validation_split or validation, not both",
            None,
        );
    }
    if rule.is_some() {
        if object.has("validation") {
            errors.add(
                object.at("split"),
                "split applies to validation_split, not to a validation source",
                None,
            );
        } else if !object.has("validation_split") {
            errors.add(
                object.at("split"),
                "split applies to validation_split, which is not set",
                None,
            );
        }
    }
    let validation = match (second, split_fraction) {
        (Some(source), _) => ValidationSpec::Source(Box::new(source)),
        (None, Some(fraction)) if fraction > 0.0 => ValidationSpec::Split {
            fraction,
            rule: rule.unwrap_or(SplitRule::Stratified),
        },
        _ => ValidationSpec::None,
    };

    let standardize = object.boolean("standardize", errors).unwrap_or(false);
    let shuffle = object.boolean("shuffle", errors).unwrap_or(true);
    let augmentation = object
        .field("augmentation")
        .and_then(|value| parse_augmentation(value, &object.at("augmentation"), errors))
        .unwrap_or_default();
    object.finish(errors);

    let source = source?;
    (errors.count() == before).then_some(DataSpec {
        source,
        validation,
        standardize,
        shuffle,
        augmentation,
    })
}

fn parse_augmentation(value: &Value, path: &str, errors: &mut Errors) -> Option<AugmentationSpec> {
    let before = errors.count();
    let mut object = Object::open(value, path, errors)?;
    let gaussian_noise = object
        .number("gaussian_noise", Interval::closed(0.0, 100.0), errors)
        .unwrap_or(0.0);
    let shift = object.integer("shift", 0, MAX_SHIFT, errors).unwrap_or(0) as usize;
    object.finish(errors);
    (errors.count() == before).then_some(AugmentationSpec {
        gaussian_noise,
        shift,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceType {
    Builtin,
    Generated,
    Dataset,
    Inline,
}

const SOURCE_TYPES: &[(&str, SourceType)] = &[
    ("builtin", SourceType::Builtin),
    ("generated", SourceType::Generated),
    ("dataset", SourceType::Dataset),
    ("inline", SourceType::Inline),
];

/// The names `data.type` takes, for the check against `openapi.yaml`.
#[cfg(test)]
pub(super) fn source_types() -> Vec<&'static str> {
    super::read::names(SOURCE_TYPES)
}

/// Reads `type` and the fields of that source type from `object`.
fn parse_source_fields(object: &mut Object, errors: &mut Errors) -> Option<DataSource> {
    let before = errors.count();
    let source = match object.required_name("type", "data source type", SOURCE_TYPES, errors)? {
        SourceType::Builtin => object
            .required_name("name", "built-in dataset", BUILTINS, errors)
            .map(DataSource::Builtin),
        SourceType::Generated => parse_generated(object, errors).map(DataSource::Generated),
        SourceType::Dataset => {
            let path = object.at("id");
            object
                .required("id", errors)
                .and_then(|value| string(value, &path, MAX_ID_CHARS, errors))
                .map(|id| DataSource::Dataset { id: id.to_string() })
        }
        SourceType::Inline => parse_inline(object, errors).map(DataSource::Inline),
    };
    (errors.count() == before).then_some(source).flatten()
}

fn parse_generated(object: &mut Object, errors: &mut Errors) -> Option<Generated> {
    let kind = object.required_name("name", "generator", GENERATORS, errors)?;
    // Defaults are the data layer's (`data::synthetic`): small problems one can see.
    let samples_default = match kind {
        GeneratorKind::Blobs => 600,
        GeneratorKind::Spirals => 300,
        GeneratorKind::Xor | GeneratorKind::Moons | GeneratorKind::Circles => 200,
    };
    let samples = object
        .integer("samples", 1, MAX_GENERATED_SAMPLES, errors)
        .unwrap_or(samples_default) as usize;
    let noise = |object: &mut Object, errors: &mut Errors, default: f64| {
        object
            .number("noise", Interval::closed(0.0, 100.0), errors)
            .unwrap_or(default)
    };
    let classes = |object: &mut Object, errors: &mut Errors| {
        let classes = object
            .integer("classes", 2, MAX_GENERATED_CLASSES, errors)
            .unwrap_or(3) as usize;
        if classes > samples {
            errors.add(
                object.at("classes"),
                format!("must be at most samples ({samples}), got {classes}"),
                None,
            );
        }
        classes
    };
    Some(match kind {
        GeneratorKind::Blobs => {
            let features = object
                .integer("features", 1, MAX_GENERATED_FEATURES, errors)
                .unwrap_or(2);
            let classes = classes(object, errors);
            let spread = Interval::closed(0.0, 1e6);
            let center_std = object.number("center_std", spread, errors).unwrap_or(3.0);
            let cluster_std = object.number("cluster_std", spread, errors).unwrap_or(1.0);
            if (samples as u64).saturating_mul(features) > MAX_GENERATED_CELLS {
                errors.add(
                    object.at("samples"),
                    format!(
                        "samples × features must be at most {MAX_GENERATED_CELLS}, got {samples} × {features}"
                    ),
                    None,
                );
            }
            Generated::Blobs {
                samples,
                features: features as usize,
                classes,
                center_std,
                cluster_std,
            }
        }
        GeneratorKind::Xor => Generated::Xor {
            samples,
            noise: noise(object, errors, 0.1),
        },
        GeneratorKind::Moons => Generated::Moons {
            samples,
            noise: noise(object, errors, 0.1),
        },
        GeneratorKind::Circles => Generated::Circles {
            samples,
            noise: noise(object, errors, 0.05),
            factor: object
                .number("factor", Interval::closed_open(0.0, 1.0), errors)
                .unwrap_or(0.5),
        },
        GeneratorKind::Spirals => Generated::Spirals {
            samples,
            noise: noise(object, errors, 0.05),
            classes: classes(object, errors),
            turns: object
                .number("turns", Interval::closed(0.0, 100.0), errors)
                .unwrap_or(1.0),
        },
    })
}

fn parse_inline(object: &mut Object, errors: &mut Errors) -> Option<InlineData> {
    let before = errors.count();
    let features_path = object.at("features");
    let features = object
        .required("features", errors)
        .and_then(|value| parse_rows(value, &features_path, errors));
    let labels_path = object.at("labels");
    let labels = object
        .required("labels", errors)
        .and_then(|value| parse_labels(value, &labels_path, errors));
    let classes = object
        .integer("classes", 1, MAX_INLINE_CLASSES as u64, errors)
        .map(|c| c as usize);
    if let (Some(features), Some(labels)) = (&features, &labels)
        && features.len() != labels.len()
    {
        errors.add(
            labels_path,
            format!(
                "must have one label per row: {} rows, {} labels",
                features.len(),
                labels.len()
            ),
            None,
        );
    }
    let (features, labels) = (features?, labels?);
    (errors.count() == before).then_some(InlineData {
        features,
        labels,
        classes,
    })
}

fn parse_rows(value: &Value, path: &str, errors: &mut Errors) -> Option<Vec<Vec<f64>>> {
    let before = errors.count();
    let rows = array(value, path, MAX_INLINE_ROWS, errors)?;
    if rows.is_empty() {
        errors.add(path, "must have at least one row", None);
        return None;
    }
    let cells: usize = rows
        .iter()
        .map(|row| row.as_array().map_or(0, Vec::len))
        .sum();
    if cells > MAX_INLINE_CELLS {
        errors.add(
            path,
            format!("must have at most {MAX_INLINE_CELLS} values in all, got {cells}; upload a dataset instead"),
            None,
        );
        return None;
    }
    let mut width = None;
    let mut parsed = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let row_path = item(path, index);
        let Some(cells) = array(row, &row_path, MAX_INLINE_FEATURES, errors) else {
            continue;
        };
        if cells.is_empty() {
            errors.add(row_path, "must have at least one feature", None);
            continue;
        }
        match width {
            None => width = Some(cells.len()),
            Some(expected) if expected != cells.len() => {
                errors.add(
                    row_path,
                    format!(
                        "must have {expected} features like the first row, got {}",
                        cells.len()
                    ),
                    None,
                );
                continue;
            }
            Some(_) => {}
        }
        let values: Vec<f64> = cells
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                number(
                    cell,
                    &item(&row_path, column),
                    Interval::closed(-1e30, 1e30),
                    errors,
                )
                .unwrap_or(0.0)
            })
            .collect();
        parsed.push(values);
    }
    (errors.count() == before).then_some(parsed)
}

fn parse_labels(value: &Value, path: &str, errors: &mut Errors) -> Option<Vec<Label>> {
    let before = errors.count();
    let items = array(value, path, MAX_INLINE_ROWS, errors)?;
    let values: usize = items
        .iter()
        .map(|label| label.as_array().map_or(1, Vec::len))
        .sum();
    if values > MAX_INLINE_CELLS {
        errors.add(
            path,
            format!("must have at most {MAX_INLINE_CELLS} values in all, got {values}; upload a dataset instead"),
            None,
        );
        return None;
    }
    let range = Interval::closed(-1e30, 1e30);
    let mut width = None;
    let mut labels = Vec::with_capacity(items.len());
    for (index, label) in items.iter().enumerate() {
        let label_path = item(path, index);
        let parsed = match label {
            Value::Array(_) => {
                let Some(cells) = array(label, &label_path, MAX_INLINE_OUTPUTS, errors) else {
                    continue;
                };
                let values: Vec<f64> = cells
                    .iter()
                    .enumerate()
                    .map(|(k, cell)| {
                        number(cell, &item(&label_path, k), range, errors).unwrap_or(0.0)
                    })
                    .collect();
                Label::Vector(values)
            }
            other => match number(other, &label_path, range, errors) {
                Some(x) => Label::Number(x),
                None => continue,
            },
        };
        let this_width = match &parsed {
            Label::Number(_) => None,
            Label::Vector(values) => Some(values.len()),
        };
        match width {
            None => width = Some(this_width),
            Some(expected) if expected != this_width => {
                errors.add(label_path, "must have the same form as the first label (a number or a vector of the same length)", None);
                continue;
            }
            Some(_) => {}
        }
        labels.push(parsed);
    }
    (errors.count() == before).then_some(labels)
}

impl DataSpec {
    /// The resolved `data` object, every default written out.
    pub fn to_json(&self) -> Value {
        let mut object = source_json(&self.source);
        let map = object
            .as_object_mut()
            .expect("source_json builds an object");
        match &self.validation {
            ValidationSpec::None => {
                map.insert("validation_split".into(), json!(0.0));
                map.insert("split".into(), json!("stratified"));
            }
            ValidationSpec::Split { fraction, rule } => {
                map.insert("validation_split".into(), json!(fraction));
                map.insert("split".into(), json!(name_of(SPLIT_RULES, rule)));
            }
            ValidationSpec::Source(source) => {
                map.insert("validation".into(), source_json(source));
            }
        }
        map.insert("standardize".into(), json!(self.standardize));
        map.insert("shuffle".into(), json!(self.shuffle));
        map.insert(
            "augmentation".into(),
            json!({"gaussian_noise": self.augmentation.gaussian_noise, "shift": self.augmentation.shift}),
        );
        object
    }
}

/// The fields of one source, as an object with `type` first.
pub fn source_json(source: &DataSource) -> Value {
    match source {
        DataSource::Builtin(builtin) => json!({"type": "builtin", "name": builtin.name()}),
        DataSource::Dataset { id } => json!({"type": "dataset", "id": id}),
        DataSource::Generated(generated) => {
            let mut value = json!({"type": "generated", "name": generated.name(), "samples": generated.samples()});
            let map = value.as_object_mut().expect("an object literal");
            match generated {
                Generated::Blobs {
                    features,
                    classes,
                    center_std,
                    cluster_std,
                    ..
                } => {
                    map.insert("features".into(), json!(features));
                    map.insert("classes".into(), json!(classes));
                    map.insert("center_std".into(), json!(center_std));
                    map.insert("cluster_std".into(), json!(cluster_std));
                }
                Generated::Xor { noise, .. } | Generated::Moons { noise, .. } => {
                    map.insert("noise".into(), json!(noise));
                }
                Generated::Circles { noise, factor, .. } => {
                    map.insert("noise".into(), json!(noise));
                    map.insert("factor".into(), json!(factor));
                }
                Generated::Spirals {
                    noise,
                    classes,
                    turns,
                    ..
                } => {
                    map.insert("noise".into(), json!(noise));
                    map.insert("classes".into(), json!(classes));
                    map.insert("turns".into(), json!(turns));
                }
            }
            value
        }
        DataSource::Inline(inline) => {
            let labels: Vec<Value> = inline
                .labels
                .iter()
                .map(|label| match label {
                    Label::Number(x) if x.fract() == 0.0 && x.abs() < 9e15 => json!(*x as i64),
                    Label::Number(x) => json!(x),
                    Label::Vector(values) => json!(values),
                })
                .collect();
            json!({"type": "inline", "features": inline.features, "labels": labels, "classes": inline.classes})
        }
    }
}
