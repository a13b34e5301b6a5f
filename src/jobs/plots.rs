//! The charts of API.md "Plots and sweeps", read from the store: a job's epoch records (stored
//! as the JSON of `recorder::epoch_json`) become [`EpochPoint`]s and its step records
//! [`StepPoint`]s, which `plot::job` draws. Plot names are `loss`, `learning_rate`,
//! `gradients`, `steps`, or any value a job logs (`accuracy`, `val_accuracy`,
//! `mean_squared_error`…); an unknown name is refused with the list of the job's names.

use std::collections::HashSet;

use serde_json::Value;

use super::error::{JobsError, Rejection};
use super::queue::JobQueue;
use crate::plot::LineChart;
use crate::plot::job::{self, EpochPoint, StepPoint};
use crate::store::{EventKind, JobRow};

/// The plots every job has, whatever it logs.
pub const FIXED_PLOTS: [&str; 4] = ["loss", "learning_rate", "gradients", "steps"];

/// The most jobs one comparison overlays.
pub const MAX_COMPARED_JOBS: usize = 20;

/// Records read from the store per query.
const PAGE: u32 = 10_000;

/// Layer indices read from a record at most (a damaged record cannot ask for a huge vector).
const MAX_LAYERS: usize = 4096;

/// Fields of an epoch record that are not metrics.
const NOT_METRICS: [&str; 5] = ["epoch", "step", "learning_rate", "duration_ms", "layers"];

/// An epoch record's JSON as an [`EpochPoint`]; `None` when it has no epoch number. A value
/// stored as null (not finite when recorded) reads as NaN and leaves a gap in the line.
pub fn epoch_point(record: &Value) -> Option<EpochPoint> {
    let object = record.as_object()?;
    let epoch = usize::try_from(object.get("epoch")?.as_u64()?).ok()?;
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut metrics = Vec::new();
    let mut val_metrics = Vec::new();
    for (key, value) in object {
        if NOT_METRICS.contains(&key.as_str()) || key == "loss" || key == "val_loss" {
            continue;
        }
        if !(value.is_number() || value.is_null()) {
            continue;
        }
        match key.strip_prefix("val_") {
            Some(base) => val_metrics.push((base.to_owned(), number(value))),
            None => metrics.push((key.clone(), number(value))),
        }
    }
    let layers = object
        .get("layers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let layer_count = layers
        .iter()
        .filter_map(|l| l.get("index").and_then(Value::as_u64))
        .map(|i| i as usize + 1)
        .max()
        .unwrap_or(0)
        .min(MAX_LAYERS);
    let mut layer_grad_norms = vec![f64::NAN; layer_count];
    for layer in layers {
        let index = layer
            .get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize);
        if let Some(slot) = index.and_then(|i| layer_grad_norms.get_mut(i)) {
            *slot = layer.get("grad_norm").map_or(f64::NAN, number);
        }
    }
    Some(EpochPoint {
        epoch,
        loss: object.get("loss").map_or(f64::NAN, number),
        val_loss: object.get("val_loss").map(number),
        metrics,
        val_metrics,
        learning_rate: object.get("learning_rate").map_or(f64::NAN, number),
        layer_grad_norms,
    })
}

/// A step record's JSON (`{"epoch", "step", "loss", "learning_rate"}`) as a [`StepPoint`].
pub fn step_point(record: &Value) -> Option<StepPoint> {
    Some(StepPoint {
        step: record.get("step")?.as_u64()?,
        loss: record
            .get("loss")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
    })
}

/// The names a job's plots can be asked for: the fixed ones, then every value its records log
/// or its resolved spec says it will log (`accuracy`, `val_accuracy`, `val_loss`), sorted.
pub fn plot_names(job: &JobRow, epochs: &[EpochPoint]) -> Vec<String> {
    let mut logged: Vec<String> = Vec::new();
    for epoch in epochs {
        if epoch.val_loss.is_some() {
            logged.push("val_loss".into());
        }
        logged.extend(epoch.metrics.iter().map(|(n, _)| n.clone()));
        logged.extend(epoch.val_metrics.iter().map(|(n, _)| format!("val_{n}")));
    }
    let resolved: Value = serde_json::from_str(&job.resolved_spec).unwrap_or(Value::Null);
    for name in resolved["training"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        logged.push(name.to_owned());
    }
    logged.sort();
    logged.dedup();
    logged.retain(|n| !FIXED_PLOTS.contains(&n.as_str()));
    FIXED_PLOTS
        .iter()
        .map(|n| (*n).to_owned())
        .chain(logged)
        .collect()
}

/// What a chart is titled and a job is named by in a legend: its name, else its id.
fn label(job: &JobRow) -> String {
    job.name.clone().unwrap_or_else(|| job.id.clone())
}

/// A job's name and the last 8 characters of its id, which tell runs apart (ids are UUIDv7:
/// the first characters are the creation time, shared by jobs submitted together; the last
/// ones are random).
fn name_and_id_tail(job: &JobRow) -> String {
    let chars: Vec<char> = job.id.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(8)..].iter().collect();
    match &job.name {
        Some(name) => format!("{name} ({tail})"),
        None => tail,
    }
}

/// Spec fields that may differ between compared jobs and still label them, at most.
const MAX_LABEL_FIELDS: usize = 3;
/// Longest label made of spec fields: the legend of `plot::line` cuts labels after 32
/// characters, and a cut label would hide the values that tell the runs apart.
const MAX_LABEL_CHARS: usize = 32;

/// The resolved spec as `(dotted path, value)` leaves; arrays are leaves. The top-level `data`
/// subtree is left out: inline data holds up to millions of values, which would be cloned and
/// compared for every job only to make a label too long for the legend; the data a job read
/// is shown on its own page.
fn flatten(prefix: &str, value: &Value, out: &mut std::collections::BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if prefix.is_empty() && key == "data" {
                    continue;
                }
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, field, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

/// The job ids of a comparison from `?jobs=` values, each holding one or more ids separated by
/// commas: trimmed, blanks dropped, each id once in first-seen order. More than
/// [`MAX_COMPARED_JOBS`] distinct ids is refused, naming `jobs`, before any job is read; the
/// repeats are dropped through a set, so a long list costs one pass, not a comparison of every
/// pair.
pub fn compared_ids<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, JobsError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for value in values {
        for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
            if seen.insert(id) {
                ids.push(id.to_owned());
            }
        }
    }
    if ids.len() > MAX_COMPARED_JOBS {
        return Err(JobsError::InvalidInput(vec![Rejection::new(
            "jobs",
            format!(
                "lists {} jobs; at most {MAX_COMPARED_JOBS} can be compared",
                ids.len()
            ),
        )]));
    }
    Ok(ids)
}

/// Legend labels for compared jobs: the resolved-spec fields in which they differ
/// (`learning_rate=0.1, batch_size=15`), when there are 1 to 3 such fields besides `name` and
/// outside `data`, each label fits the legend (32 characters) and they tell every job apart;
/// otherwise each job's name and id tail. Parses every job's resolved spec: CPU work, call it
/// off the async threads.
pub fn legend_labels(jobs: &[JobRow]) -> Vec<String> {
    let fallback = || jobs.iter().map(name_and_id_tail).collect();
    let specs: Vec<_> = jobs
        .iter()
        .map(|job| {
            let mut leaves = std::collections::BTreeMap::new();
            let spec: Value = serde_json::from_str(&job.resolved_spec).unwrap_or(Value::Null);
            flatten("", &spec, &mut leaves);
            leaves
        })
        .collect();
    let mut paths: Vec<&String> = specs.iter().flat_map(|s| s.keys()).collect();
    paths.sort();
    paths.dedup();
    let differing: Vec<&String> = paths
        .into_iter()
        .filter(|path| path.as_str() != "name")
        .filter(|path| {
            let first = specs[0].get(*path);
            specs.iter().any(|s| s.get(*path) != first)
        })
        .collect();
    if jobs.len() < 2 || differing.is_empty() || differing.len() > MAX_LABEL_FIELDS {
        return fallback();
    }
    // A field is shown by its last segment (`learning_rate`) unless two differing fields share
    // one, then by its whole path.
    let last = |path: &str| path.rsplit('.').next().unwrap_or(path).to_owned();
    let shown: Vec<String> = differing
        .iter()
        .map(|path| {
            let short = last(path);
            if differing.iter().filter(|p| last(p) == short).count() > 1 {
                (*path).clone()
            } else {
                short
            }
        })
        .collect();
    let mut labels = Vec::with_capacity(jobs.len());
    for spec in &specs {
        let mut parts = Vec::with_capacity(differing.len());
        for (path, field) in differing.iter().zip(&shown) {
            let text = spec.get(*path).unwrap_or(&Value::Null).to_string();
            parts.push(format!("{field}={text}"));
        }
        let label = parts.join(", ");
        if label.chars().count() > MAX_LABEL_CHARS {
            return fallback();
        }
        labels.push(label);
    }
    let mut unique = labels.clone();
    unique.sort();
    unique.dedup();
    if unique.len() == labels.len() {
        labels
    } else {
        fallback()
    }
}

/// Parses one page of a job's `kind` records (up to [`PAGE`] JSON bodies) into points on the
/// blocking pool: a long job's page is megabytes of JSON, which would hold an async worker,
/// and every request it serves, for tens of milliseconds.
async fn parse_off_runtime<P: Send + 'static>(
    id: &str,
    kind: &'static str,
    bodies: Vec<String>,
    point: fn(&Value) -> Option<P>,
) -> Result<Vec<P>, JobsError> {
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut points = Vec::with_capacity(bodies.len());
        for body in &bodies {
            let body: Value = serde_json::from_str(body)
                .map_err(|e| JobsError::Corrupt(format!("{kind} record of {id}: {e}")))?;
            points.extend(point(&body));
        }
        Ok(points)
    })
    .await
    .map_err(|e| JobsError::Corrupt(format!("reading records stopped: {e}")))?
}

/// [`legend_labels`] on the blocking pool: each resolved spec may hold megabytes of inline
/// data, all of it parsed to find the fields that differ.
async fn labels_off_runtime(jobs: Vec<JobRow>) -> Result<Vec<String>, JobsError> {
    tokio::task::spawn_blocking(move || legend_labels(&jobs))
        .await
        .map_err(|e| JobsError::Corrupt(format!("labelling the jobs stopped: {e}")))
}

pub(super) async fn render(chart: LineChart) -> Result<String, JobsError> {
    tokio::task::spawn_blocking(move || chart.render())
        .await
        .map_err(|e| JobsError::Corrupt(format!("drawing stopped: {e}")))?
        .map_err(|e| JobsError::Corrupt(e.to_string()))
}

impl JobQueue {
    /// Every epoch record of a job, oldest first.
    pub(super) async fn epoch_points(&self, id: &str) -> Result<Vec<EpochPoint>, JobsError> {
        let mut points = Vec::new();
        let mut since = 0;
        loop {
            let rows = self.store().epochs(id, since, PAGE).await?;
            let done = rows.len() < PAGE as usize;
            let last = rows.last().and_then(|r| r.epoch);
            let bodies = rows.into_iter().map(|row| row.body).collect();
            points.extend(parse_off_runtime(id, "epoch", bodies, epoch_point).await?);
            match last {
                Some(last) if !done && last > since => since = last,
                _ => return Ok(points),
            }
        }
    }

    /// Every step record of a job, oldest first.
    async fn step_points(&self, id: &str) -> Result<Vec<StepPoint>, JobsError> {
        let mut points = Vec::new();
        let mut after = 0;
        loop {
            let rows = self.store().events(id, after, PAGE).await?;
            let full = rows.len() == PAGE as usize;
            let last = rows.last().map(|r| r.seq);
            let bodies = rows
                .into_iter()
                .filter(|r| r.kind == EventKind::Step)
                .map(|row| row.body)
                .collect();
            points.extend(parse_off_runtime(id, "step", bodies, step_point).await?);
            match last {
                Some(last) if full && last > after => after = last,
                _ => return Ok(points),
            }
        }
    }

    /// The SVG of plot `name` of job `id`; a job with no records yet gets a chart saying
    /// "no data yet".
    pub async fn plot(&self, id: &str, name: &str) -> Result<String, JobsError> {
        let job = self.row(id).await?;
        let epochs = self.epoch_points(id).await?;
        let available = plot_names(&job, &epochs);
        if !available.iter().any(|n| n == name) {
            return Err(JobsError::PlotNotFound {
                id: job.id,
                name: name.to_owned(),
                available,
            });
        }
        let label = label(&job);
        let chart = match name {
            "loss" => job::loss(&label, &epochs),
            "learning_rate" => job::learning_rate(&label, &epochs),
            "gradients" => job::gradients(&label, &epochs),
            "steps" => job::steps(&label, &self.step_points(id).await?),
            metric => job::metric(&label, metric, &epochs),
        };
        render(chart).await
    }

    /// The SVG of `metric` of several jobs overlaid, one line per job in the order `jobs` (the
    /// `?jobs=` values, read by [`compared_ids`]) first names them, labelled by
    /// [`legend_labels`].
    pub async fn compare_plot(&self, jobs: &[&str], metric: &str) -> Result<String, JobsError> {
        let ids = compared_ids(jobs.iter().copied())?;
        if ids.is_empty() {
            return Err(JobsError::InvalidInput(vec![Rejection::new(
                "jobs",
                "must list at least one job id, separated by commas",
            )]));
        }
        let mut jobs = Vec::with_capacity(ids.len());
        let mut histories = Vec::with_capacity(ids.len());
        for id in &ids {
            jobs.push(self.row(id).await?);
            histories.push(self.epoch_points(id).await?);
        }
        let labels = labels_off_runtime(jobs).await?;
        let runs: Vec<_> = labels.into_iter().zip(histories).collect();
        render(job::compare(metric, &runs)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::recorder::epoch_json;
    use crate::train::{EpochRecord, LayerStats};

    #[test]
    fn a_stored_epoch_record_reads_back_as_the_point_of_its_record() {
        let layer = |index: usize, grad_norm: f32| LayerStats {
            index,
            name: format!("layers.{index}"),
            grad_norm,
            weight_norm: 1.0,
            update_ratio: 0.01,
        };
        let record = EpochRecord {
            epoch: 3,
            step: 21,
            loss: 0.5,
            metrics: vec![("accuracy".to_string(), 0.75)],
            val_loss: Some(0.25),
            val_metrics: vec![("accuracy".to_string(), 0.5)],
            learning_rate: 0.125,
            layers: vec![layer(0, 0.25), layer(1, 0.5)],
        };
        let stored = epoch_json(&record, 12.5);
        assert_eq!(epoch_point(&stored), Some(EpochPoint::from(&record)));
    }

    #[test]
    fn a_null_value_reads_as_a_gap_and_a_record_without_epoch_is_skipped() {
        let point = epoch_point(&serde_json::json!(
            {"epoch": 2, "step": 4, "loss": null, "learning_rate": 0.1, "layers": []}
        ))
        .expect("a point");
        assert!(point.loss.is_nan());
        assert_eq!(point.val_loss, None);
        assert_eq!(epoch_point(&serde_json::json!({"loss": 1.0})), None);
        assert_eq!(
            step_point(&serde_json::json!({"epoch": 1, "step": 7, "loss": 0.5})),
            Some(StepPoint { step: 7, loss: 0.5 })
        );
    }

    fn job(id: &str, name: &str, resolved: Value) -> JobRow {
        JobRow {
            id: id.into(),
            name: Some(name.into()),
            status: crate::store::JobStatus::Succeeded,
            priority: 0,
            spec: "{}".into(),
            resolved_spec: resolved.to_string(),
            seed: 7,
            parameter_count: 1,
            total_steps: 1,
            epochs: 1,
            created_at: 0,
            started_at: None,
            finished_at: None,
            cancel_requested: false,
            attempt: 1,
            worker: None,
            progress: None,
            error: None,
            weights_sha256: None,
        }
    }

    fn spec(name: &str, learning_rate: f64, batch_size: Value) -> Value {
        serde_json::json!({
            "name": name,
            "optimizer": {"type": "sgd", "learning_rate": learning_rate},
            "training": {"batch_size": batch_size, "epochs": 20}
        })
    }

    #[test]
    fn compared_jobs_are_labelled_by_the_spec_fields_that_differ() {
        let jobs = [
            job("0001-aaaaaaaa", "a", spec("a", 0.1, serde_json::json!(15))),
            job("0001-bbbbbbbb", "b", spec("b", 0.5, serde_json::json!(30))),
        ];
        assert_eq!(
            legend_labels(&jobs),
            [
                "learning_rate=0.1, batch_size=15",
                "learning_rate=0.5, batch_size=30"
            ]
        );
    }

    #[test]
    fn jobs_with_the_same_spec_or_one_job_are_labelled_by_name_and_id_tail() {
        let same = [
            job(
                "0001-aaaaaaaa",
                "first",
                spec("first", 0.1, serde_json::json!(15)),
            ),
            job(
                "0001-bbbbbbbb",
                "second",
                spec("second", 0.1, serde_json::json!(15)),
            ),
        ];
        assert_eq!(
            legend_labels(&same),
            ["first (aaaaaaaa)", "second (bbbbbbbb)"]
        );
        assert_eq!(legend_labels(&same[..1]), ["first (aaaaaaaa)"]);
        let mut unnamed = same[1].clone();
        unnamed.name = None;
        assert_eq!(legend_labels(&[unnamed]), ["bbbbbbbb"]);
    }

    #[test]
    fn fields_sharing_a_last_segment_are_shown_by_their_whole_path() {
        let jobs = [
            job(
                "1-aaaaaaaa",
                "a",
                serde_json::json!({"x": {"rate": 1}, "y": {"rate": 1}}),
            ),
            job(
                "1-bbbbbbbb",
                "b",
                serde_json::json!({"x": {"rate": 2}, "y": {"rate": 3}}),
            ),
        ];
        assert_eq!(
            legend_labels(&jobs),
            ["x.rate=1, y.rate=1", "x.rate=2, y.rate=3"]
        );
    }

    #[test]
    fn the_data_subtree_is_not_compared_for_labels() {
        let inline = |rows: usize, learning_rate: f64| {
            let mut spec = spec("x", learning_rate, serde_json::json!(15));
            spec["data"] = serde_json::json!({
                "type": "inline",
                "features": vec![[0.5; 4]; rows],
                "labels": vec![1; rows],
                "validation_split": 0.1 * rows as f64,
            });
            spec
        };
        let jobs = [
            job("1-aaaaaaaa", "a", inline(100, 0.1)),
            job("1-bbbbbbbb", "b", inline(200, 0.5)),
        ];
        assert_eq!(
            legend_labels(&jobs),
            ["learning_rate=0.1", "learning_rate=0.5"]
        );
        // Jobs that differ only in their data are told apart by name and id tail.
        let jobs = [
            job("1-aaaaaaaa", "a", inline(100, 0.1)),
            job("1-bbbbbbbb", "b", inline(200, 0.1)),
        ];
        assert_eq!(legend_labels(&jobs), ["a (aaaaaaaa)", "b (bbbbbbbb)"]);
    }

    #[test]
    fn compared_ids_keep_each_id_once_in_first_seen_order() {
        let ids = compared_ids(["b, a,,b", " c ,a", ""]).expect("accepted");
        assert_eq!(ids, ["b", "a", "c"]);
        // A repeated id counts once against the limit, however often it repeats.
        let repeated = vec!["same"; 10_000].join(",");
        assert_eq!(compared_ids([repeated.as_str()]).expect("one id"), ["same"]);
        let twenty: Vec<String> = (0..MAX_COMPARED_JOBS).map(|i| format!("j{i}")).collect();
        let joined = twenty.join(",");
        assert_eq!(
            compared_ids([joined.as_str(), joined.as_str()]).expect("twenty"),
            twenty
        );
        let over = format!("{joined},one-more");
        match compared_ids([over.as_str()]) {
            Err(JobsError::InvalidInput(rejections)) => {
                assert_eq!(rejections[0].path, "jobs");
                assert!(
                    rejections[0].message.contains("lists 21 jobs"),
                    "{rejections:?}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(compared_ids([]).expect("none").is_empty());
    }

    #[test]
    fn too_many_differing_fields_fall_back_to_names() {
        let jobs = [
            job(
                "1-aaaaaaaa",
                "a",
                serde_json::json!({"p": 1, "q": 1, "r": 1, "s": 1}),
            ),
            job(
                "1-bbbbbbbb",
                "b",
                serde_json::json!({"p": 2, "q": 2, "r": 2, "s": 2}),
            ),
        ];
        assert_eq!(legend_labels(&jobs), ["a (aaaaaaaa)", "b (bbbbbbbb)"]);
        let long = [
            job(
                "1-aaaaaaaa",
                "a",
                serde_json::json!({"dataset": "a-very-long-dataset-name-1"}),
            ),
            job(
                "1-bbbbbbbb",
                "b",
                serde_json::json!({"dataset": "a-very-long-dataset-name-2"}),
            ),
        ];
        assert_eq!(legend_labels(&long), ["a (aaaaaaaa)", "b (bbbbbbbb)"]);
    }
}
