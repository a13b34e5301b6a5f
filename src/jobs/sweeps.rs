//! Sweeps (API.md "Plots and sweeps"): one base job spec and a grid of values for some of its
//! fields, expanded into one job per combination, validated together and queued together.
//!
//! A grid key is a dotted path into the job spec (`optimizer.learning_rate`,
//! `architecture.layers.0.activation`); a numeric segment indexes an array, a missing object
//! field is created. Each value *sets* its field in a copy of the base. The combinations are the
//! cartesian product of the grid's lists in a fixed order: keys sorted by name, values in the
//! order listed, the last key varying fastest (an odometer). Every job is named after the sweep
//! and its overrides, and every job gets the same seed — the base's `training.seed`, or one seed
//! drawn for the whole sweep — so that the jobs differ only by what the grid sets (unless the
//! grid sets `training.seed` itself).
//!
//! Every combination goes through the job validator (`jobs::validate`) and the job limits; if
//! any is refused, the whole sweep is refused and nothing is inserted. A refusal names the grid
//! value to blame by JSON Pointer (`/grid/optimizer.learning_rate/2`) with the validator's rule
//! (also for an error inside an object the key added to the base, such as an `optimizer`
//! without its `type`), or `/base/…` when every combination breaks the same rule. The sweep and
//! its jobs are then inserted in one transaction.
//!
//! The summary of a sweep counts its jobs by status and finds each job's best value of one
//! metric in its stored epoch records (the minimum, or the maximum for accuracy-like names, as
//! Keras's `mode="auto"` decides), and the best job of the sweep.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::datasets::{StoreCatalog, referenced_datasets};
use super::error::{JobsError, LimitExceeded, Rejection};
use super::plots::render;
use super::queue::{CANCEL_WAIT, JobQueue, check_limits, draw_seed, now_ms};
use super::recorder::higher_is_better;
use super::spec::{FieldError, MAX_NAME_CHARS};
use super::validate::{ValidatedJob, validate};
use super::worker::StopReason;
use crate::plot::job::compare;
use crate::store::{
    CancelSweep, DeleteSweep, Idempotency, InsertSweep, JobStatus, NewJob, NewSweep, SweepEntry,
    SweepJob, SweepQuery, SweepRow,
};

/// The most JSON a sweep's job specs may hold in all (each is a copy of the base with its
/// overrides): room for 64 jobs of 64 KiB, or a few copies of small inline data.
const MAX_SWEEP_SPEC_BYTES: u64 = 4 << 20;

/// The most fields one grid may vary (each with at least one value).
const MAX_GRID_KEYS: usize = 32;

/// The most dotted parts in a grid key: a job spec's deepest field (a layer inside eight levels
/// of residual blocks) has about twenty.
const MAX_GRID_KEY_SEGMENTS: usize = 32;

/// The longest grid key, in characters.
const MAX_GRID_KEY_CHARS: usize = 256;

/// The metric a sweep summary ranks jobs by unless asked otherwise.
pub const DEFAULT_METRIC: &str = "val_loss";

/// Fields of a sweep body.
const FIELDS: [&str; 3] = ["name", "base", "grid"];

/// Longest legend label made of full grid keys before the keys are shortened (the legend of
/// `plot::line` cuts labels after 32 characters).
const MAX_LEGEND_CHARS: usize = 32;

/// One key of the grid: its path and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The key as written (`optimizer.learning_rate`).
    pub key: String,
    segments: Vec<String>,
    pub values: Vec<Value>,
}

/// A sweep body that read cleanly: every grid key settable in the base, the lists non-empty
/// and within the job limit. The jobs are not validated yet.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRequest {
    pub name: Option<String>,
    pub base: Value,
    /// Sorted by key.
    pub axes: Vec<Axis>,
}

/// A JSON Pointer (RFC 6901) from its segments: `~` and `/` escaped.
pub fn pointer<S: AsRef<str>>(segments: &[S]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.as_ref().replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The segments of a job-validator path: `architecture.layers[2].units` →
/// `architecture`, `layers`, `2`, `units`.
fn validator_segments(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            segments.push(rest[..open].to_owned());
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                segments.push(stripped[..close].to_owned());
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            segments.push(rest.to_owned());
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Sets the field at `segments` of `target` to `value`. Missing object fields on the way are
/// created as empty objects; an array index must exist.
pub fn set_path(target: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = segments.split_last() else {
        return Err("is empty".to_owned());
    };
    let mut node = target;
    for (depth, segment) in parents.iter().enumerate() {
        let here = || segments[..depth].join(".");
        node = match node {
            Value::Object(fields) => fields
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                let len = items.len();
                match segment.parse::<usize>().ok().filter(|i| *i < len) {
                    Some(index) => &mut items[index],
                    None => return Err(index_error(&here(), segment, len)),
                }
            }
            other => {
                return Err(format!(
                    "{} is {} in the base, which has no field {segment:?}",
                    here(),
                    kind(other)
                ));
            }
        };
    }
    let here = parents.join(".");
    match node {
        Value::Object(fields) => {
            fields.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let len = items.len();
            match last.parse::<usize>().ok().filter(|i| *i < len) {
                Some(index) => {
                    items[index] = value;
                    Ok(())
                }
                None => Err(index_error(&here, last, len)),
            }
        }
        other => Err(format!(
            "{here} is {} in the base, which has no field {last:?}",
            kind(other)
        )),
    }
}

fn index_error(list: &str, segment: &str, len: usize) -> String {
    format!(
        "{list} is a list of {len} in the base; {segment:?} is not an index of it (0 to {len} exclusive)"
    )
}

/// Reads a sweep body: its fields, the grid's keys and lists, and the number of combinations
/// against `max_jobs` (`--max-sweep-jobs`). Every problem is reported at once.
pub fn read_request(body: &Value, max_jobs: u64) -> Result<SweepRequest, JobsError> {
    let mut errors = Vec::new();
    let Some(fields) = body.as_object() else {
        return Err(JobsError::InvalidSpec(vec![Rejection::new(
            "",
            format!(
                "must be an object with base and grid (and an optional name), got {}",
                kind(body)
            ),
        )]));
    };
    for key in fields.keys() {
        if !FIELDS.contains(&key.as_str()) {
            errors.push(Rejection::new(
                pointer(&[key]),
                "is not a field of a sweep (name, base, grid)",
            ));
        }
    }
    let name = match fields.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if (1..=MAX_NAME_CHARS).contains(&name.chars().count()) => {
            Some(name.clone())
        }
        Some(other) => {
            errors.push(Rejection::new(
                "/name",
                format!(
                    "must be a string of 1 to {MAX_NAME_CHARS} characters, got {}",
                    kind(other)
                ),
            ));
            None
        }
    };
    let base = match fields.get("base") {
        Some(Value::Object(base)) => Some(Value::Object(base.clone())),
        Some(other) => {
            errors.push(Rejection::new(
                "/base",
                format!("must be a job spec (an object), got {}", kind(other)),
            ));
            None
        }
        None => {
            errors.push(Rejection::new("/base", "is required: the job spec to vary"));
            None
        }
    };
    let mut axes = Vec::new();
    match fields.get("grid") {
        Some(Value::Object(grid)) if grid.len() > MAX_GRID_KEYS => errors.push(Rejection::new(
            "/grid",
            format!(
                "varies {} fields; a sweep varies at most {MAX_GRID_KEYS}",
                grid.len()
            ),
        )),
        Some(Value::Object(grid)) if !grid.is_empty() => {
            let mut keys: Vec<&String> = grid.keys().collect();
            keys.sort();
            for key in keys {
                if let Some(axis) = read_axis(key, &grid[key.as_str()], max_jobs, &mut errors) {
                    axes.push(axis);
                }
            }
        }
        Some(Value::Object(_)) => errors.push(Rejection::new(
            "/grid",
            "must name at least one field to vary",
        )),
        Some(other) => errors.push(Rejection::new(
            "/grid",
            format!(
                "must be an object of dotted spec paths to lists of values, got {}",
                kind(other)
            ),
        )),
        None => errors.push(Rejection::new(
            "/grid",
            "is required: {\"dotted.path\": [values…], …}",
        )),
    }
    for (i, a) in axes.iter().enumerate() {
        for b in &axes[i + 1..] {
            let (outer, inner) = if a.segments.len() <= b.segments.len() {
                (a, b)
            } else {
                (b, a)
            };
            if inner.segments.starts_with(&outer.segments) {
                errors.push(Rejection::new(
                    pointer(&["grid", &inner.key]),
                    format!(
                        "sets a field inside {}, which the grid sets too",
                        pointer(&["grid", &outer.key])
                    ),
                ));
            }
        }
    }
    if let Some(base) = &base {
        for axis in &axes {
            let mut probe = base.clone();
            if let Err(reason) = set_path(&mut probe, &axis.segments, Value::Null) {
                errors.push(Rejection::new(
                    pointer(&["grid", &axis.key]),
                    format!("cannot be set: {reason}"),
                ));
            }
        }
    }
    let (Some(base), true) = (base, errors.is_empty()) else {
        return Err(JobsError::InvalidSpec(errors));
    };
    let combinations = axes
        .iter()
        .try_fold(1u64, |n, axis| n.checked_mul(axis.values.len() as u64));
    match combinations {
        Some(n) if n <= max_jobs => {
            // Every job is a copy of the base with its overrides, validated and stored.
            let per_job = json_len(&base)
                + axes
                    .iter()
                    .map(|axis| axis.values.iter().map(json_len).max().unwrap_or(0))
                    .sum::<u64>();
            let stored = per_job.saturating_mul(n);
            if stored > MAX_SWEEP_SPEC_BYTES {
                return Err(JobsError::InvalidSpec(vec![Rejection::new(
                    "/base",
                    format!(
                        "each of the sweep's {n} jobs is a copy of the base with its overrides: \
                         up to {per_job} bytes of JSON each, {stored} in all, over the \
                         {MAX_SWEEP_SPEC_BYTES} a sweep may store; upload inline data once \
                         (POST /v1/datasets) and use {{\"type\": \"dataset\", \"id\": …}}"
                    ),
                )]));
            }
            Ok(SweepRequest { name, base, axes })
        }
        requested => Err(JobsError::Limit(LimitExceeded {
            limit: "--max-sweep-jobs",
            maximum: max_jobs,
            requested,
            path: Some("/grid".into()),
            what: "jobs in the sweep (the product of the grid's list lengths)",
        })),
    }
}

/// The length of `value` written as JSON, counted without writing it out.
fn json_len(value: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => u64::MAX,
    }
}

fn read_axis(
    key: &str,
    values: &Value,
    max_jobs: u64,
    errors: &mut Vec<Rejection>,
) -> Option<Axis> {
    let path = pointer(&["grid", key]);
    if key.chars().count() > MAX_GRID_KEY_CHARS || key.split('.').count() > MAX_GRID_KEY_SEGMENTS {
        errors.push(Rejection::new(
            path,
            format!(
                "is longer than a path into a job spec can be: at most \
                 {MAX_GRID_KEY_SEGMENTS} dotted parts and {MAX_GRID_KEY_CHARS} characters"
            ),
        ));
        return None;
    }
    let segments: Vec<String> = key.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        errors.push(Rejection::new(
            path,
            "is not a dotted path into the job spec (like optimizer.learning_rate)",
        ));
        return None;
    }
    if segments[0] == "name" {
        errors.push(Rejection::new(
            path,
            "cannot be varied: each job is named after the sweep and its overrides",
        ));
        return None;
    }
    let Some(list) = values.as_array() else {
        errors.push(Rejection::new(
            path,
            format!("must be a list of the values to try, got {}", kind(values)),
        ));
        return None;
    };
    if list.is_empty() {
        errors.push(Rejection::new(path, "must list at least one value"));
        return None;
    }
    // A list longer than a sweep may be is refused as such (`--max-sweep-jobs`, below) before
    // the pairwise search for repeats, which is quadratic in the length.
    let searched = if list.len() as u64 > max_jobs {
        &list[..0]
    } else {
        &list[..]
    };
    let mut clean = true;
    for (index, value) in searched.iter().enumerate() {
        if let Some(first) = list[..index].iter().position(|v| v == value) {
            errors.push(Rejection::new(
                pointer(&["grid", key, &index.to_string()]),
                format!(
                    "repeats the value at {}",
                    pointer(&["grid", key, &first.to_string()])
                ),
            ));
            clean = false;
        }
    }
    clean.then(|| Axis {
        key: key.to_owned(),
        segments,
        values: list.clone(),
    })
}

impl SweepRequest {
    /// Every combination as the index of its value on each axis, in sweep order: the last axis
    /// varies fastest.
    pub fn combinations(&self) -> Vec<Vec<usize>> {
        let total: usize = self.axes.iter().map(|a| a.values.len()).product();
        (0..total)
            .map(|mut n| {
                let mut choice = vec![0; self.axes.len()];
                for (slot, axis) in choice.iter_mut().zip(&self.axes).rev() {
                    *slot = n % axis.values.len();
                    n /= axis.values.len();
                }
                choice
            })
            .collect()
    }

    /// `{grid key: value}` of one combination.
    pub fn overrides(&self, choice: &[usize]) -> Map<String, Value> {
        self.axes
            .iter()
            .zip(choice)
            .map(|(axis, &i)| (axis.key.clone(), axis.values[i].clone()))
            .collect()
    }

    /// The grid keys with more than one value.
    pub fn varying(&self) -> Vec<String> {
        self.axes
            .iter()
            .filter(|a| a.values.len() > 1)
            .map(|a| a.key.clone())
            .collect()
    }

    /// What every job's name starts with: the sweep's name, else the base's, else "sweep".
    fn prefix(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.base["name"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "sweep".to_owned())
    }

    /// The job spec of one combination: the base with each value set and the job's name.
    pub fn expand(&self, choice: &[usize]) -> Value {
        let mut spec = self.base.clone();
        for (axis, &i) in self.axes.iter().zip(choice) {
            // Every key was checked settable in the base, and keys never overlap.
            if let Err(reason) = set_path(&mut spec, &axis.segments, axis.values[i].clone()) {
                tracing::error!(key = axis.key, reason, "a checked grid key did not set");
            }
        }
        let overrides = self.overrides(choice);
        let label = label(overrides.iter().map(|(k, v)| (k.as_str(), v)));
        let name: String = format!("{} {label}", self.prefix())
            .chars()
            .take(MAX_NAME_CHARS)
            .collect();
        if let Value::Object(fields) = &mut spec {
            fields.insert("name".into(), Value::String(name));
        }
        spec
    }

    /// The seed of every job whose spec gives none.
    fn seed(&self) -> u64 {
        self.base
            .pointer("/training/seed")
            .and_then(Value::as_u64)
            .unwrap_or_else(draw_seed)
    }
}

/// A value as a label shows it: strings without quotes, an object with a `type` as
/// `type(field=value, …)` (a spec part such as an optimizer or initializer), other JSON as is.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(fields) => {
            let rest: Vec<String> = fields
                .iter()
                .filter(|(k, _)| k.as_str() != "type")
                .map(|(k, v)| format!("{k}={}", value_text(v)))
                .collect();
            match fields.get("type").and_then(Value::as_str) {
                Some(kind) if rest.is_empty() => kind.to_owned(),
                Some(kind) => format!("{kind}({})", rest.join(", ")),
                None => format!("{{{}}}", rest.join(", ")),
            }
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// `key=value, key=value`.
fn label<'a>(overrides: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    overrides
        .map(|(key, value)| format!("{key}={}", value_text(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Legend labels of a sweep's jobs, naming the values of the `varying` keys (all keys when
/// none varies). The first of these that fits the legend (32 characters) is used: full keys
/// (`optimizer.learning_rate=0.1`), each key's last segment unless two keys share it
/// (`learning_rate=0.1, batch_size=full`), and for a single key the values alone; when none
/// fits, the first whose cut labels still tell the jobs apart.
pub fn legend_labels(varying: &[String], overrides: &[Map<String, Value>]) -> Vec<String> {
    let keys: Vec<String> = if varying.is_empty() {
        let mut all: Vec<String> = overrides.iter().flat_map(|o| o.keys().cloned()).collect();
        all.sort();
        all.dedup();
        all
    } else {
        varying.to_vec()
    };
    let labels_with = |shown: &dyn Fn(&str) -> Option<String>| -> Vec<String> {
        overrides
            .iter()
            .map(|o| {
                keys.iter()
                    .filter_map(|k| {
                        let value = value_text(o.get(k)?);
                        Some(match shown(k) {
                            Some(key) => format!("{key}={value}"),
                            None => value,
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect()
    };
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_owned();
    let mut candidates = vec![
        labels_with(&|k: &str| Some(k.to_owned())),
        labels_with(&|k: &str| {
            let short = last(k);
            let shared = keys.iter().filter(|other| last(other) == short).count() > 1;
            Some(if shared { k.to_owned() } else { short })
        }),
    ];
    if keys.len() == 1 {
        candidates.push(labels_with(&|_: &str| None));
    }
    let fits = |labels: &Vec<String>| labels.iter().all(|l| l.chars().count() <= MAX_LEGEND_CHARS);
    let distinct_when_cut = |labels: &Vec<String>| {
        let mut cut: Vec<String> = labels
            .iter()
            .map(|l| l.chars().take(MAX_LEGEND_CHARS).collect())
            .collect();
        cut.sort();
        cut.dedup();
        cut.len() == labels.len()
    };
    let chosen = candidates
        .iter()
        .position(fits)
        .or_else(|| candidates.iter().position(distinct_when_cut))
        .unwrap_or(0);
    candidates.swap_remove(chosen)
}

/// How many leading segments of a grid key name the first object the base lacks, which
/// setting the key creates (`optimizer` for `optimizer.learning_rate` in a base without an
/// optimizer); `None` when every object on the way is there.
fn created_depth(base: &Value, segments: &[String]) -> Option<usize> {
    let mut node = base;
    let parents = segments.len().saturating_sub(1);
    for (depth, segment) in segments[..parents].iter().enumerate() {
        let next = match node {
            Value::Object(fields) => fields.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(next) if !next.is_null() => node = next,
            _ => return Some(depth + 1),
        }
    }
    None
}

/// Turns the validator's errors of every combination into the sweep's refusal: an error at or
/// inside (or around) a field the grid sets, or inside an object setting it added to the base,
/// is blamed on that grid value (on the whole key when every value of it breaks the same
/// rule); any other error on the base when every combination breaks it, else on the grid with
/// the first combination that breaks it.
fn blame(
    request: &SweepRequest,
    combinations: &[Vec<usize>],
    failures: &[(usize, Vec<FieldError>)],
) -> Vec<Rejection> {
    let created: Vec<Option<&[String]>> = request
        .axes
        .iter()
        .map(|axis| {
            created_depth(&request.base, &axis.segments).map(|depth| &axis.segments[..depth])
        })
        .collect();
    // (axis, message) → value indices; (validator path, message) → combinations.
    let mut on_values: Vec<((usize, String), BTreeSet<usize>)> = Vec::new();
    let mut elsewhere: Vec<((String, String), Vec<usize>)> = Vec::new();
    for (combination, errors) in failures {
        for error in errors {
            let segments = validator_segments(&error.path);
            // The first grid key the error is at, inside or around, or inside an object the
            // key added to the base, with the message that says which.
            let axes = request.axes.iter().zip(&created).enumerate();
            let blamed =
                axes.filter(|_| !segments.is_empty())
                    .find_map(|(index, (axis, created))| {
                        if segments.starts_with(&axis.segments)
                            || axis.segments.starts_with(&segments)
                        {
                            return Some((index, format!("sets {}: {error}", axis.key)));
                        }
                        let object = created.filter(|object| segments.starts_with(object))?;
                        let message = format!(
                            "sets {}, which adds `{}` to the base: {error}",
                            axis.key,
                            object.join(".")
                        );
                        Some((index, message))
                    });
            match blamed {
                Some(key) => {
                    let axis = key.0;
                    let value = combinations[*combination][axis];
                    match on_values.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, values)) => {
                            values.insert(value);
                        }
                        None => on_values.push((key, BTreeSet::from([value]))),
                    }
                }
                None => {
                    let key = (error.path.clone(), error.message.clone());
                    match elsewhere.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, list)) => list.push(*combination),
                        None => elsewhere.push((key, vec![*combination])),
                    }
                }
            }
        }
    }
    // By grid key, then by the first value to blame.
    on_values.sort_by_key(|((axis, _), values)| (*axis, values.first().copied()));
    let mut rejections = Vec::new();
    for ((axis, message), values) in on_values {
        let axis_ref = &request.axes[axis];
        if values.len() == axis_ref.values.len() && values.len() > 1 {
            rejections.push(Rejection::new(pointer(&["grid", &axis_ref.key]), message));
        } else {
            for value in values {
                rejections.push(Rejection::new(
                    pointer(&["grid", &axis_ref.key, &value.to_string()]),
                    message.clone(),
                ));
            }
        }
    }
    for ((path, message), broken) in elsewhere {
        if broken.len() == combinations.len() {
            let mut segments = vec!["base".to_owned()];
            segments.extend(validator_segments(&path));
            rejections.push(Rejection::new(pointer(&segments), message));
        } else {
            let first = request.overrides(&combinations[broken[0]]);
            let with = label(first.iter().map(|(k, v)| (k.as_str(), v)));
            let others = match broken.len() - 1 {
                0 => String::new(),
                1 => " (and 1 other combination)".to_owned(),
                n => format!(" (and {n} other combinations)"),
            };
            let field = if path.is_empty() {
                message
            } else {
                format!("{path} {message}")
            };
            rejections.push(Rejection::new(
                "/grid",
                format!("with {with}{others}: {field}"),
            ));
        }
    }
    rejections
}

/// The grid pointer to blame for a limit the job at `choice` went past (its `path` is a job
/// spec path), or the base's.
fn blame_limit(request: &SweepRequest, choice: &[usize], mut limit: LimitExceeded) -> JobsError {
    if let Some(path) = &limit.path {
        let segments = validator_segments(path);
        let axis = request.axes.iter().position(|axis| {
            segments.starts_with(&axis.segments) || axis.segments.starts_with(&segments)
        });
        limit.path = Some(match axis {
            Some(axis) => pointer(&["grid", &request.axes[axis].key, &choice[axis].to_string()]),
            None => {
                let mut all = vec!["base".to_owned()];
                all.extend(segments);
                pointer(&all)
            }
        });
    }
    JobsError::Limit(limit)
}

/// One job of a checked sweep, before it is queued.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub overrides: Map<String, Value>,
    pub spec: Value,
    pub validated: ValidatedJob,
    /// Optimizer steps × batch size × parameter count.
    pub work: u64,
}

/// A sweep whose every job passed validation and the limits.
#[derive(Debug, Clone)]
pub struct PlannedSweep {
    pub name: Option<String>,
    pub seed: u64,
    pub varying: Vec<String>,
    pub jobs: Vec<PlannedJob>,
}

/// How a sweep submission ended.
#[derive(Debug)]
pub enum SweepSubmitted {
    DryRun(PlannedSweep),
    Created(SweepDetails),
    /// An earlier request with the same `Idempotency-Key` and body created this sweep.
    Replayed(SweepDetails),
}

/// A sweep with its jobs, as stored.
#[derive(Debug, Clone)]
pub struct SweepDetails {
    pub sweep: SweepRow,
    pub jobs: Vec<SweepJob>,
    pub varying: Vec<String>,
}

/// A job's best value of the summary's metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Best {
    pub epoch: usize,
    pub value: f64,
}

/// What `GET /v1/sweeps/{id}` shows.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    pub details: SweepDetails,
    pub metric: String,
    pub higher_is_better: bool,
    /// Per job, in sweep order: its best value, when it logged the metric.
    pub best: Vec<Option<Best>>,
    /// Index into `details.jobs` of the best job.
    pub best_job: Option<usize>,
}

impl SweepSummary {
    /// How many jobs are in each status, every status listed.
    pub fn counts(&self) -> Vec<(JobStatus, u64)> {
        JobStatus::ALL
            .into_iter()
            .map(|status| {
                let n = self
                    .details
                    .jobs
                    .iter()
                    .filter(|j| j.job.status == status)
                    .count();
                (status, n as u64)
            })
            .collect()
    }
}

/// The grid keys with more than one value, read from a stored grid.
fn stored_varying(grid: &str) -> Vec<String> {
    let grid: Value = serde_json::from_str(grid).unwrap_or(Value::Null);
    let mut keys: Vec<String> = grid
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, values)| values.as_array().is_some_and(|v| v.len() > 1))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

/// A job's overrides as stored.
pub fn stored_overrides(job: &SweepJob) -> Map<String, Value> {
    match serde_json::from_str(&job.overrides) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The best of `values` (epoch, value) for a metric: the first epoch holding the minimum, or
/// the maximum when `higher` (NaN values are skipped).
pub fn best_of(values: impl Iterator<Item = (usize, f64)>, higher: bool) -> Option<Best> {
    let mut best: Option<Best> = None;
    for (epoch, value) in values.filter(|(_, v)| v.is_finite()) {
        let better = match best {
            None => true,
            Some(b) if higher => value > b.value,
            Some(b) => value < b.value,
        };
        if better {
            best = Some(Best { epoch, value });
        }
    }
    best
}

impl JobQueue {
    /// Reads, expands and validates a sweep; unless `dry_run`, queues all its jobs atomically
    /// (or, when `idempotency_key` came with this same body before, returns that sweep).
    pub async fn submit_sweep(
        &self,
        body: &Value,
        dry_run: bool,
        idempotency_key: Option<String>,
    ) -> Result<SweepSubmitted, JobsError> {
        let request = read_request(body, self.limits().max_sweep_jobs)?;
        let combinations = request.combinations();
        let seed = request.seed();
        let mut specs = Vec::with_capacity(combinations.len());
        for choice in &combinations {
            let spec = request.expand(choice);
            let catalog = StoreCatalog::for_spec(&**self.store(), &spec).await?;
            specs.push((spec, catalog));
        }
        let checked = tokio::task::spawn_blocking(move || {
            specs
                .into_iter()
                .map(|(spec, catalog)| {
                    let result = validate(&spec, &catalog, seed);
                    (spec, result)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| JobsError::Corrupt(format!("validation stopped: {e}")))?;

        let mut failures = Vec::new();
        let mut planned = Vec::with_capacity(checked.len());
        for (index, (spec, result)) in checked.into_iter().enumerate() {
            match result {
                Ok(validated) => match self.warm_start_refusal(&validated).await? {
                    Some(error) => failures.push((index, vec![error])),
                    None => planned.push((index, spec, validated)),
                },
                Err(errors) => failures.push((index, errors)),
            }
        }
        if !failures.is_empty() {
            return Err(JobsError::InvalidSpec(blame(
                &request,
                &combinations,
                &failures,
            )));
        }
        let mut jobs = Vec::with_capacity(planned.len());
        for (index, spec, validated) in planned {
            let choice = &combinations[index];
            let work = check_limits(&validated, self.limits()).map_err(|error| match error {
                JobsError::Limit(limit) => blame_limit(&request, choice, limit),
                other => other,
            })?;
            jobs.push(PlannedJob {
                overrides: request.overrides(choice),
                spec,
                validated,
                work,
            });
        }
        let plan = PlannedSweep {
            name: request.name.clone(),
            seed,
            varying: request.varying(),
            jobs,
        };
        if dry_run {
            return Ok(SweepSubmitted::DryRun(plan));
        }
        let idempotency = idempotency_key.map(|key| Idempotency {
            key,
            request_hash: hex::encode(Sha256::digest(body.to_string().as_bytes())),
        });
        self.insert_sweep(body, plan, idempotency).await
    }

    async fn insert_sweep(
        &self,
        body: &Value,
        plan: PlannedSweep,
        idempotency: Option<Idempotency>,
    ) -> Result<SweepSubmitted, JobsError> {
        let created_at = now_ms();
        let jobs = plan
            .jobs
            .iter()
            .map(|job| {
                let validated = &job.validated;
                let new = NewJob {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: Some(validated.name.clone()),
                    priority: 0,
                    spec: job.spec.to_string(),
                    resolved_spec: validated.resolved.to_string(),
                    seed: validated.seed,
                    parameter_count: validated.parameter_count as u64,
                    total_steps: validated.total_steps,
                    epochs: validated.plan().epochs as u64,
                    created_at,
                    datasets: referenced_datasets(&job.spec),
                    idempotency: None,
                    max_queued: self.limits().max_queued_jobs,
                };
                (new, Value::Object(job.overrides.clone()).to_string())
            })
            .collect();
        let sweep = NewSweep {
            id: uuid::Uuid::now_v7().to_string(),
            name: plan.name,
            base: body["base"].to_string(),
            grid: body["grid"].to_string(),
            seed: plan.seed,
            created_at,
            idempotency,
            jobs,
            max_queued: self.limits().max_queued_jobs,
        };
        match self.store().insert_sweep(sweep).await? {
            InsertSweep::Created {
                sweep,
                jobs,
                events,
            } => {
                self.hub().publish(&events);
                self.doorbell().ring();
                Ok(SweepSubmitted::Created(SweepDetails {
                    varying: plan.varying,
                    sweep,
                    jobs,
                }))
            }
            InsertSweep::Replayed { sweep, jobs } => Ok(SweepSubmitted::Replayed(SweepDetails {
                varying: plan.varying,
                sweep,
                jobs,
            })),
            InsertSweep::KeyReused { sweep_id } => Err(JobsError::IdempotencyKeyReused {
                earlier: format!("sweep {sweep_id}"),
            }),
            InsertSweep::QueueFull { queued } => Err(JobsError::QueueFull {
                queued,
                maximum: self.limits().max_queued_jobs,
            }),
            InsertSweep::DatasetMissing { dataset_id } => {
                Err(JobsError::InvalidSpec(vec![Rejection::new(
                    "/base/data/id",
                    format!("no dataset with id {dataset_id:?}"),
                )]))
            }
        }
    }

    /// A sweep with its jobs.
    pub async fn sweep(&self, id: &str) -> Result<SweepDetails, JobsError> {
        let (sweep, jobs) = self
            .store()
            .sweep(id)
            .await?
            .ok_or_else(|| JobsError::SweepNotFound(id.to_owned()))?;
        Ok(SweepDetails {
            varying: stored_varying(&sweep.grid),
            sweep,
            jobs,
        })
    }

    /// A sweep with each job's best value of `metric` (read from its epoch records) and the
    /// best job.
    pub async fn sweep_summary(&self, id: &str, metric: &str) -> Result<SweepSummary, JobsError> {
        let details = self.sweep(id).await?;
        let higher = higher_is_better(metric);
        let mut best = Vec::with_capacity(details.jobs.len());
        for job in &details.jobs {
            let points = self.epoch_points(&job.job.id).await?;
            best.push(best_of(
                points
                    .iter()
                    .filter_map(|p| p.value(metric).map(|v| (p.epoch, v))),
                higher,
            ));
        }
        let best_job = best_of(
            best.iter()
                .enumerate()
                .filter_map(|(i, b)| b.map(|b| (i, b.value))),
            higher,
        )
        .map(|b| b.epoch);
        Ok(SweepSummary {
            details,
            metric: metric.to_owned(),
            higher_is_better: higher,
            best,
            best_job,
        })
    }

    /// Sweeps newest first, with their jobs counted by status; returns the page and the key of
    /// its last sweep when more may follow.
    pub async fn list_sweeps(
        &self,
        limit: u32,
        before: Option<(i64, String)>,
    ) -> Result<(Vec<SweepEntry>, Option<(i64, String)>), JobsError> {
        let mut sweeps = self
            .store()
            .sweeps(SweepQuery {
                limit: limit.saturating_add(1),
                before,
            })
            .await?;
        let more = sweeps.len() > limit as usize;
        sweeps.truncate(limit as usize);
        let next = if more {
            sweeps
                .last()
                .map(|s| (s.sweep.created_at, s.sweep.id.clone()))
        } else {
            None
        };
        Ok((sweeps, next))
    }

    /// Cancels every queued job of a sweep at once and stops its running ones, waiting briefly
    /// for them. A sweep whose jobs have all finished cannot be cancelled.
    pub async fn cancel_sweep(&self, id: &str) -> Result<(), JobsError> {
        match self.store().cancel_sweep(id, now_ms()).await? {
            CancelSweep::NotFound => Err(JobsError::SweepNotFound(id.to_owned())),
            CancelSweep::Done { cancelled, running } => {
                if cancelled.is_empty() && running.is_empty() {
                    return Err(JobsError::SweepFinished(id.to_owned()));
                }
                self.hub().publish(&cancelled);
                for job_id in &running {
                    self.running().stop(job_id, StopReason::Cancelled);
                }
                let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
                for job_id in &running {
                    while tokio::time::Instant::now() < deadline {
                        match self.store().job(job_id).await? {
                            Some(job) if !job.status.is_terminal() => {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            _ => break,
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Deletes a sweep whose jobs have all finished, with the jobs, their records and models.
    pub async fn delete_sweep(&self, id: &str) -> Result<(), JobsError> {
        match self.store().delete_sweep(id).await? {
            DeleteSweep::Deleted { job_ids } => {
                for job_id in &job_ids {
                    self.predictors.forget(job_id);
                }
                Ok(())
            }
            DeleteSweep::Active { job_ids } => Err(JobsError::SweepActive {
                id: id.to_owned(),
                job_ids,
            }),
            DeleteSweep::NotFound => Err(JobsError::SweepNotFound(id.to_owned())),
        }
    }

    /// The SVG of `metric` of every job of the sweep overlaid, in sweep order, each line
    /// labelled by its overrides.
    pub async fn sweep_plot(&self, id: &str, metric: &str) -> Result<String, JobsError> {
        let details = self.sweep(id).await?;
        let overrides: Vec<_> = details.jobs.iter().map(stored_overrides).collect();
        let labels = legend_labels(&details.varying, &overrides);
        let mut runs = Vec::with_capacity(details.jobs.len());
        for (job, label) in details.jobs.iter().zip(labels) {
            runs.push((label, self.epoch_points(&job.job.id).await?));
        }
        let mut chart = compare(metric, &runs);
        let sweep_name = details
            .sweep
            .name
            .clone()
            .unwrap_or_else(|| details.sweep.id.clone());
        chart.spec.title = format!("{metric} by run — {sweep_name}");
        render(chart).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "name": "iris",
            "data": {"type": "builtin", "name": "iris", "validation_split": 0.3},
            "architecture": {"layers": [
                {"type": "dense", "units": 8, "activation": "relu"},
                {"type": "dense", "units": 3, "activation": "softmax"}
            ]},
            "optimizer": {"type": "sgd", "learning_rate": 0.1},
            "training": {"loss": "sparse_categorical_crossentropy", "batch_size": 15,
                         "epochs": 2, "seed": 7}
        })
    }

    fn read(grid: Value) -> Result<SweepRequest, JobsError> {
        read_request(&json!({"name": "s", "base": base(), "grid": grid}), 64)
    }

    /// Each rejection as its pointer and message.
    fn shown(rejections: &[Rejection]) -> Vec<(&str, &str)> {
        rejections
            .iter()
            .map(|r| (r.path.as_str(), r.message.as_str()))
            .collect()
    }

    fn paths(error: JobsError) -> Vec<String> {
        match error {
            JobsError::InvalidSpec(rejections) => rejections.into_iter().map(|r| r.path).collect(),
            other => panic!("expected a spec refusal, got {other:?}"),
        }
    }

    #[test]
    fn combinations_are_the_cartesian_product_with_the_last_sorted_key_fastest() {
        let request = read(json!({
            "training.batch_size": [1, 15, "full"],
            "optimizer.learning_rate": [0.01, 0.1],
        }))
        .expect("a valid grid");
        let keys: Vec<_> = request.axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["optimizer.learning_rate", "training.batch_size"]);
        let labels: Vec<String> = request
            .combinations()
            .iter()
            .map(|c| {
                let o = request.overrides(c);
                label(o.iter().map(|(k, v)| (k.as_str(), v)))
            })
            .collect();
        assert_eq!(
            labels,
            [
                "optimizer.learning_rate=0.01, training.batch_size=1",
                "optimizer.learning_rate=0.01, training.batch_size=15",
                "optimizer.learning_rate=0.01, training.batch_size=full",
                "optimizer.learning_rate=0.1, training.batch_size=1",
                "optimizer.learning_rate=0.1, training.batch_size=15",
                "optimizer.learning_rate=0.1, training.batch_size=full",
            ]
        );
        assert_eq!(
            request.varying(),
            ["optimizer.learning_rate", "training.batch_size"]
        );
    }

    #[test]
    fn a_value_replaces_its_field_in_a_copy_of_the_base_and_names_the_job() {
        let request = read(json!({
            "architecture.layers.0.activation": ["tanh"],
            "initializer.type": ["he_normal", "glorot_uniform"],
        }))
        .expect("a valid grid");
        let spec = request.expand(&[0, 1]);
        assert_eq!(spec["architecture"]["layers"][0]["activation"], "tanh");
        assert_eq!(spec["architecture"]["layers"][0]["units"], 8);
        assert_eq!(spec["initializer"], json!({"type": "glorot_uniform"}));
        assert_eq!(
            spec["name"],
            "s architecture.layers.0.activation=tanh, initializer.type=glorot_uniform"
        );
        assert_eq!(request.base, base(), "the base is left as it was");
        assert_eq!(request.seed(), 7);
    }

    #[test]
    fn bad_grids_are_refused_with_the_path_of_each_bad_key() {
        let refused = paths(
            read(json!({
                "optimizer.learning_rate": [],
                "training.batch_size": 15,
                "architecture.layers.5.units": [3],
                "training.epochs.count": [1],
                "name": ["x"],
                "optimizer..type": ["sgd"],
                "training.seed": [1, 2, 1],
            }))
            .expect_err("refused"),
        );
        assert_eq!(
            refused,
            [
                "/grid/name",
                "/grid/optimizer..type",
                "/grid/optimizer.learning_rate",
                "/grid/training.batch_size",
                "/grid/training.seed/2",
                "/grid/architecture.layers.5.units",
                "/grid/training.epochs.count",
            ]
        );
        let overlapping = paths(
            read(json!({"optimizer": [{}], "optimizer.type": ["sgd"]})).expect_err("refused"),
        );
        assert_eq!(overlapping, ["/grid/optimizer.type"]);
        let body = paths(
            read_request(&json!({"base": base(), "grid": {}, "extra": 1}), 64)
                .expect_err("refused"),
        );
        assert_eq!(body, ["/extra", "/grid"]);
    }

    #[test]
    fn too_many_combinations_exceed_the_sweep_limit() {
        let body = json!({"base": base(), "grid": {
            "training.seed": [1, 2, 3, 4, 5], "optimizer.learning_rate": [0.1, 0.2, 0.3]}});
        match read_request(&body, 14) {
            Err(JobsError::Limit(limit)) => {
                assert_eq!(limit.limit, "--max-sweep-jobs");
                assert_eq!(limit.requested, Some(15));
            }
            other => panic!("expected a limit refusal, got {other:?}"),
        }
        assert!(read_request(&body, 15).is_ok());
    }

    #[test]
    fn validator_paths_split_into_segments_and_pointers_escape() {
        assert_eq!(
            validator_segments("architecture.layers[2].units"),
            ["architecture", "layers", "2", "units"]
        );
        assert_eq!(validator_segments("a.b[0][1]"), ["a", "b", "0", "1"]);
        assert!(validator_segments("").is_empty());
        assert_eq!(pointer(&["grid", "a/b~c", "2"]), "/grid/a~1b~0c/2");
    }

    #[test]
    fn errors_are_blamed_on_the_grid_value_that_set_the_field_or_on_the_base() {
        let request =
            read(json!({"optimizer.learning_rate": [0.1, -1.0, -2.0], "training.seed": [1, 2]}))
                .expect("a valid grid");
        let combinations = request.combinations();
        let error = |path: &str, message: &str| FieldError {
            path: path.into(),
            message: message.into(),
            value: None,
        };
        let mut failures = Vec::new();
        for (i, choice) in combinations.iter().enumerate() {
            let mut errors = vec![error("training.loss", "is unknown")];
            if choice[0] > 0 {
                errors.push(error("optimizer.learning_rate", "must be positive"));
            }
            if choice[1] == 1 {
                errors.push(error("data.validation_split", "is too large with seed 2"));
            }
            failures.push((i, errors));
        }
        let rejections = blame(&request, &combinations, &failures);
        let shown = shown(&rejections);
        assert_eq!(
            shown,
            [
                (
                    "/grid/optimizer.learning_rate/1",
                    "sets optimizer.learning_rate: optimizer.learning_rate must be positive"
                ),
                (
                    "/grid/optimizer.learning_rate/2",
                    "sets optimizer.learning_rate: optimizer.learning_rate must be positive"
                ),
                ("/base/training/loss", "is unknown"),
                (
                    "/grid",
                    "with optimizer.learning_rate=0.1, training.seed=2 (and 2 other \
                     combinations): data.validation_split is too large with seed 2"
                ),
            ]
        );
    }

    #[test]
    fn an_error_inside_an_object_the_grid_added_is_blamed_on_the_grid_key() {
        let mut without_optimizer = base();
        without_optimizer
            .as_object_mut()
            .expect("an object")
            .remove("optimizer");
        let body = json!({"name": "s", "base": without_optimizer,
                          "grid": {"optimizer.learning_rate": [0.01, 0.1], "training.epochs": [1, 2]}});
        let request = read_request(&body, 64).expect("a valid grid");
        let combinations = request.combinations();
        let failures: Vec<(usize, Vec<FieldError>)> = (0..combinations.len())
            .map(|i| {
                let missing_type = FieldError {
                    path: "optimizer.type".into(),
                    message: "is required".into(),
                    value: None,
                };
                (i, vec![missing_type])
            })
            .collect();
        let rejections = blame(&request, &combinations, &failures);
        let shown = shown(&rejections);
        assert_eq!(
            shown,
            [(
                "/grid/optimizer.learning_rate",
                "sets optimizer.learning_rate, which adds `optimizer` to the base: \
                 optimizer.type is required"
            )]
        );
        // With the optimizer in the base the same error stays the base's.
        let request = read(json!({"optimizer.learning_rate": [0.01, 0.1]})).expect("a valid grid");
        let combinations = request.combinations();
        let failures = vec![(0, failures[0].1.clone()), (1, failures[1].1.clone())];
        let rejections = blame(&request, &combinations, &failures);
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0].path, "/base/optimizer/type");
        assert_eq!(created_depth(&base(), &["a".into(), "b".into()]), Some(1));
        assert_eq!(
            created_depth(&base(), &["training".into(), "x".into()]),
            None
        );
        assert_eq!(created_depth(&base(), &[]), None);
    }

    #[test]
    fn legend_labels_use_full_keys_when_they_fit_and_last_segments_otherwise() {
        let overrides = |lr: f64, batch: Value| -> Map<String, Value> {
            [
                ("optimizer.learning_rate".to_owned(), json!(lr)),
                ("training.batch_size".to_owned(), batch),
            ]
            .into_iter()
            .collect()
        };
        let one = [overrides(0.1, json!(15)), overrides(0.5, json!(15))];
        assert_eq!(
            legend_labels(&["optimizer.learning_rate".into()], &one),
            ["optimizer.learning_rate=0.1", "optimizer.learning_rate=0.5"]
        );
        let two = [overrides(0.1, json!(1)), overrides(0.1, json!("full"))];
        let varying = [
            "optimizer.learning_rate".into(),
            "training.batch_size".into(),
        ];
        assert_eq!(
            legend_labels(&varying, &two),
            [
                "learning_rate=0.1, batch_size=1",
                "learning_rate=0.1, batch_size=full"
            ]
        );
        let optimizer = |value: Value| -> Map<String, Value> {
            [("optimizer".to_owned(), value)].into_iter().collect()
        };
        let optimizers = [
            optimizer(json!({"type": "sgd", "learning_rate": 0.01})),
            optimizer(json!({"type": "sgd", "learning_rate": 0.01, "momentum": 0.9})),
            optimizer(json!({"type": "adam"})),
        ];
        assert_eq!(
            legend_labels(&["optimizer".into()], &optimizers),
            [
                "sgd(learning_rate=0.01)",
                "sgd(learning_rate=0.01, momentum=0.9)",
                "adam"
            ]
        );
    }

    #[test]
    fn the_best_value_is_the_first_minimum_or_maximum_and_skips_nan() {
        let values = [(1, 0.5), (2, f64::NAN), (3, 0.25), (4, 0.25), (5, 0.75)];
        assert_eq!(
            best_of(values.into_iter(), false),
            Some(Best {
                epoch: 3,
                value: 0.25
            })
        );
        assert_eq!(
            best_of(values.into_iter(), true),
            Some(Best {
                epoch: 5,
                value: 0.75
            })
        );
        assert_eq!(best_of(std::iter::empty(), false), None);
    }
}
