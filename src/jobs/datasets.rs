//! Datasets as the service sees them: the built-in ones, and CSV uploads parsed once and stored
//! as a matrix blob. Also [`StoreCatalog`], the `DataCatalog` that validation asks about the
//! shapes of the sources a spec names.
//!
//! Stored matrix layout (all little-endian): the features, `rows × features` `f32` row by row;
//! then the targets, `rows` `u32` class ids, or `rows × outputs` `f32` values. The metadata
//! JSON holds the feature names, class names, target kind and class counts.

use std::collections::HashMap;

use ndarray::Array2;
use serde_json::{Value, json};

use super::catalog::{DataCatalog, DataShape, TargetShape, builtin_shape};
use super::error::{JobsError, LimitExceeded, Rejection};
use super::queue::{JobQueue, now_ms};
use super::spec::data::DataSource;
use crate::data::csv::{self, CsvError, CsvLimits, CsvRule};
use crate::data::{Dataset, Targets, builtin};
use crate::store::{DatasetMeta, DatasetQuery, DatasetRecord, DeleteDataset, Store};

/// Longest dataset name.
const MAX_NAME_CHARS: usize = 200;

/// A dataset as listed: a built-in one or an upload.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetEntry {
    Builtin(builtin::BuiltinInfo),
    Uploaded(DatasetMeta),
}

/// One page of the dataset list.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetPage {
    pub items: Vec<DatasetEntry>,
    pub next: Option<DatasetCursor>,
}

/// Where a dataset page starts: built-ins come first, then uploads newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetCursor {
    /// At this index of the built-in list.
    Builtin(usize),
    /// Uploads older than this `(created_at, id)`, or all uploads for `None`.
    Uploaded(Option<(i64, String)>),
}

/// What the stored metadata of an upload says about its targets.
fn target_meta(dataset: &Dataset) -> Value {
    match &dataset.targets {
        Targets::Classes { labels, n_classes } => {
            let mut counts = vec![0u64; *n_classes];
            for &label in labels {
                if let Some(count) = counts.get_mut(label as usize) {
                    *count += 1;
                }
            }
            json!({"kind": "classes", "n_classes": n_classes, "class_counts": counts})
        }
        Targets::Values(values) => json!({"kind": "values", "outputs": values.ncols()}),
    }
}

/// The bytes of a dataset's matrix blob.
pub fn encode_matrix(dataset: &Dataset) -> Vec<u8> {
    let targets = match &dataset.targets {
        Targets::Classes { labels, .. } => labels.len(),
        Targets::Values(values) => values.len(),
    };
    let mut bytes = Vec::with_capacity(4 * (dataset.features.len() + targets));
    for value in dataset.features.iter() {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    match &dataset.targets {
        Targets::Classes { labels, .. } => {
            for label in labels {
                bytes.extend_from_slice(&label.to_le_bytes());
            }
        }
        Targets::Values(values) => {
            for value in values.iter() {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
    }
    bytes
}

fn words(bytes: &[u8]) -> impl Iterator<Item = [u8; 4]> + '_ {
    bytes
        .chunks_exact(4)
        .map(|chunk| [chunk[0], chunk[1], chunk[2], chunk[3]])
}

/// The dataset a stored record holds.
pub fn decode_dataset(record: &DatasetRecord) -> Result<Dataset, JobsError> {
    let corrupt = |what: &str| JobsError::Corrupt(format!("dataset {}: {what}", record.meta.id));
    let meta: Value = serde_json::from_str(&record.meta.meta).map_err(|_| corrupt("meta"))?;
    let rows = usize::try_from(record.meta.rows).map_err(|_| corrupt("rows"))?;
    let features = usize::try_from(record.meta.features).map_err(|_| corrupt("features"))?;
    let feature_cells = rows.checked_mul(features).ok_or_else(|| corrupt("size"))?;
    let (feature_bytes, target_bytes) = record
        .matrix
        .split_at_checked(4 * feature_cells)
        .ok_or_else(|| corrupt("short matrix"))?;
    let mut matrix = crate::data::zeroed_rows(rows, features);
    for (cell, word) in matrix.iter_mut().zip(words(feature_bytes)) {
        *cell = f32::from_le_bytes(word);
    }
    let targets = match meta["targets"]["kind"].as_str() {
        Some("classes") => {
            let n_classes = meta["targets"]["n_classes"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| corrupt("n_classes"))?;
            let labels: Vec<u32> = words(target_bytes).map(u32::from_le_bytes).collect();
            if labels.len() != rows || labels.iter().any(|&l| l as usize >= n_classes) {
                return Err(corrupt("labels"));
            }
            Targets::Classes { labels, n_classes }
        }
        Some("values") => {
            let outputs = meta["targets"]["outputs"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| corrupt("outputs"))?;
            let values: Vec<f32> = words(target_bytes).map(f32::from_le_bytes).collect();
            Targets::Values(
                Array2::from_shape_vec((rows, outputs), values).map_err(|_| corrupt("targets"))?,
            )
        }
        _ => return Err(corrupt("target kind")),
    };
    let strings = |value: &Value| -> Option<Vec<String>> {
        value.as_array().map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    Ok(Dataset {
        features: matrix,
        targets,
        image_shape: None,
        feature_names: strings(&meta["feature_names"]).unwrap_or_default(),
        class_names: strings(&meta["class_names"]),
    })
}

/// A data shape as JSON: `{rows, features, targets: {kind: "classes", n_classes,
/// class_counts} | {kind: "values", outputs}}`.
pub fn shape_json(shape: &DataShape) -> Value {
    let targets = match &shape.targets {
        TargetShape::Classes {
            n_classes,
            class_counts,
        } => json!({"kind": "classes", "n_classes": n_classes, "class_counts": class_counts}),
        TargetShape::Values { outputs } => json!({"kind": "values", "outputs": outputs}),
    };
    json!({"rows": shape.rows, "features": shape.features, "targets": targets})
}

/// The inverse of [`shape_json`].
pub fn shape_from_json(value: &Value) -> Option<DataShape> {
    let count = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let targets = &value["targets"];
    let targets = match targets["kind"].as_str()? {
        "classes" => TargetShape::Classes {
            n_classes: count(&targets["n_classes"])?,
            class_counts: targets["class_counts"]
                .as_array()?
                .iter()
                .map(count)
                .collect::<Option<Vec<usize>>>()?,
        },
        "values" => TargetShape::Values {
            outputs: count(&targets["outputs"])?,
        },
        _ => return None,
    };
    Some(DataShape {
        rows: count(&value["rows"])?,
        features: count(&value["features"])?,
        targets,
        image_shape: None,
    })
}

/// The shape validation needs, from an upload's stored description.
pub fn uploaded_shape(meta: &DatasetMeta) -> Option<DataShape> {
    let stored: Value = serde_json::from_str(&meta.meta).ok()?;
    shape_from_json(&json!({
        "rows": meta.rows,
        "features": meta.features,
        "targets": stored["targets"],
    }))
}

/// The uploaded datasets a spec names (`data` and `data.validation` of type `dataset`), so that
/// their shapes can be fetched before the synchronous validation runs.
pub fn referenced_datasets(spec: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let data = &spec["data"];
    for source in [data, &data["validation"]] {
        if source["type"] == "dataset"
            && let Some(id) = source["id"].as_str()
            && !ids.iter().any(|known| known == id)
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// A `DataCatalog` over the built-ins and the uploads fetched for one spec.
#[derive(Debug, Clone, Default)]
pub struct StoreCatalog {
    uploads: HashMap<String, DataShape>,
}

impl StoreCatalog {
    /// The catalog with one more upload.
    pub fn with_upload(mut self, id: &str, shape: DataShape) -> Self {
        self.uploads.insert(id.to_owned(), shape);
        self
    }

    /// The shapes of the uploads it knows, as `{id: shape_json}`.
    pub fn shapes_json(&self) -> Value {
        Value::Object(
            self.uploads
                .iter()
                .map(|(id, shape)| (id.clone(), shape_json(shape)))
                .collect(),
        )
    }

    /// Fetches the shapes of the uploads `spec` names; unknown ids are left for validation to
    /// report with their path.
    pub async fn for_spec(store: &dyn Store, spec: &Value) -> Result<StoreCatalog, JobsError> {
        let mut uploads = HashMap::new();
        for id in referenced_datasets(spec) {
            if let Some(meta) = store.dataset(&id).await? {
                let shape = uploaded_shape(&meta).ok_or_else(|| {
                    JobsError::Corrupt(format!("dataset {id} has an unreadable description"))
                })?;
                uploads.insert(id, shape);
            }
        }
        Ok(StoreCatalog { uploads })
    }
}

impl DataCatalog for StoreCatalog {
    fn describe(&self, source: &DataSource) -> Result<DataShape, String> {
        match source {
            DataSource::Builtin(builtin) => Ok(builtin_shape(*builtin)),
            DataSource::Dataset { id } => self
                .uploads
                .get(id)
                .cloned()
                .ok_or_else(|| format!("no dataset with id {id:?}")),
            DataSource::Generated(_) | DataSource::Inline(_) => {
                Err("generated and inline data are described from the spec".to_owned())
            }
        }
    }
}

/// Why an upload was refused, as a request error.
fn csv_refusal(error: CsvError, label_column: &str) -> JobsError {
    if let CsvRule::TooManyCells { limit } = error.rule {
        return JobsError::Limit(LimitExceeded {
            limit: "--max-dataset-cells",
            maximum: limit as u64,
            requested: None,
            path: Some("body".into()),
            what: "dataset cells",
        });
    }
    let path = match (&error.rule, error.line, &error.column) {
        (CsvRule::MissingLabelColumn, _, _) => "label_column".to_owned(),
        (_, Some(line), Some(column)) => format!("body.line[{line}].{}", column.name),
        (_, Some(line), None) => format!("body.line[{line}]"),
        (_, None, Some(column)) => format!("body.{}", column.name),
        (_, None, None) => "body".to_owned(),
    };
    let message = match error.rule {
        CsvRule::MissingLabelColumn => {
            format!("the CSV header has no column named {label_column:?}")
        }
        _ => error.to_string(),
    };
    JobsError::InvalidInput(vec![Rejection::new(path, message)])
}

impl JobQueue {
    /// Parses and stores an uploaded CSV. Parsing runs on a blocking thread.
    pub async fn upload_dataset(
        &self,
        name: &str,
        label_column: &str,
        bytes: impl AsRef<[u8]> + Send + 'static,
    ) -> Result<DatasetMeta, JobsError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(JobsError::InvalidInput(vec![Rejection::new(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            )]));
        }
        let cells = usize::try_from(self.limits.max_dataset_cells).unwrap_or(usize::MAX);
        let limits = CsvLimits {
            max_cells: cells,
            ..CsvLimits::default()
        };
        let label = label_column.to_owned();
        let parsed =
            tokio::task::spawn_blocking(move || csv::parse(bytes.as_ref(), &label, &limits))
                .await
                .map_err(|e| JobsError::Corrupt(format!("the CSV parser stopped: {e}")))?;
        let dataset = parsed.map_err(|e| csv_refusal(e, label_column))?;
        let meta = json!({
            "feature_names": dataset.feature_names,
            "class_names": dataset.class_names,
            "targets": target_meta(&dataset),
        });
        let record = DatasetRecord {
            meta: DatasetMeta {
                id: uuid::Uuid::now_v7().to_string(),
                name: name.to_owned(),
                rows: dataset.rows() as u64,
                features: dataset.n_features() as u64,
                classes: dataset.n_classes().map(|c| c as u64),
                label_column: label_column.to_owned(),
                meta: meta.to_string(),
                created_at: now_ms(),
            },
            matrix: encode_matrix(&dataset),
        };
        let meta = record.meta.clone();
        self.store.insert_dataset(record).await?;
        Ok(meta)
    }

    /// One page of datasets: built-ins first, then uploads newest first.
    pub async fn list_datasets(
        &self,
        limit: u32,
        cursor: Option<DatasetCursor>,
    ) -> Result<DatasetPage, JobsError> {
        let limit_usize = limit as usize;
        let mut items = Vec::new();
        let uploads_from = match cursor.unwrap_or(DatasetCursor::Builtin(0)) {
            DatasetCursor::Builtin(start) => {
                let names = builtin::NAMES.iter().skip(start).take(limit_usize);
                items.extend(
                    names
                        .filter_map(|name| builtin::info(name))
                        .map(DatasetEntry::Builtin),
                );
                let shown = start + items.len();
                if items.len() == limit_usize {
                    let next = if shown < builtin::NAMES.len() {
                        Some(DatasetCursor::Builtin(shown))
                    } else {
                        let any = self
                            .store
                            .datasets(DatasetQuery {
                                limit: 1,
                                before: None,
                            })
                            .await?;
                        (!any.is_empty()).then_some(DatasetCursor::Uploaded(None))
                    };
                    return Ok(DatasetPage { items, next });
                }
                None
            }
            DatasetCursor::Uploaded(before) => before,
        };
        let room = limit_usize - items.len();
        let mut uploads = self
            .store
            .datasets(DatasetQuery {
                limit: u32::try_from(room + 1).unwrap_or(u32::MAX),
                before: uploads_from,
            })
            .await?;
        let more = uploads.len() > room;
        uploads.truncate(room);
        let next = if more {
            uploads
                .last()
                .map(|d| DatasetCursor::Uploaded(Some((d.created_at, d.id.clone()))))
        } else {
            None
        };
        items.extend(uploads.into_iter().map(DatasetEntry::Uploaded));
        Ok(DatasetPage { items, next })
    }

    /// A built-in dataset by name, or an upload by id.
    pub async fn dataset(&self, id: &str) -> Result<DatasetEntry, JobsError> {
        if let Some(info) = builtin::info(id) {
            return Ok(DatasetEntry::Builtin(info));
        }
        self.store
            .dataset(id)
            .await?
            .map(DatasetEntry::Uploaded)
            .ok_or_else(|| JobsError::DatasetNotFound(id.to_owned()))
    }

    /// Deletes an upload no queued or running job reads.
    pub async fn delete_dataset(&self, id: &str) -> Result<(), JobsError> {
        if builtin::info(id).is_some() {
            return Err(JobsError::BuiltinDataset(id.to_owned()));
        }
        match self.store.delete_dataset(id).await? {
            DeleteDataset::Deleted => Ok(()),
            DeleteDataset::InUse { job_ids } => Err(JobsError::DatasetInUse {
                id: id.to_owned(),
                job_ids,
            }),
            DeleteDataset::NotFound => Err(JobsError::DatasetNotFound(id.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(targets: Targets) -> Dataset {
        Dataset {
            features: Array2::from_shape_vec((2, 2), vec![1.0, -2.5, 3.0, 4.0]).expect("shape"),
            targets,
            image_shape: None,
            feature_names: vec!["a".into(), "b".into()],
            class_names: Some(vec!["no".into(), "yes".into()]),
        }
    }

    fn record(dataset: &Dataset) -> DatasetRecord {
        DatasetRecord {
            meta: DatasetMeta {
                id: "d".into(),
                name: "small".into(),
                rows: 2,
                features: 2,
                classes: dataset.n_classes().map(|c| c as u64),
                label_column: "label".into(),
                meta: json!({"feature_names": dataset.feature_names,
                             "class_names": dataset.class_names,
                             "targets": target_meta(dataset)})
                .to_string(),
                created_at: 0,
            },
            matrix: encode_matrix(dataset),
        }
    }

    #[test]
    fn stored_class_datasets_decode_to_the_same_dataset() {
        let dataset = small(Targets::Classes {
            labels: vec![1, 0],
            n_classes: 2,
        });
        let stored = record(&dataset);
        assert_eq!(stored.matrix.len(), 4 * (4 + 2));
        assert_eq!(decode_dataset(&stored).ok(), Some(dataset));
        let shape = uploaded_shape(&stored.meta).expect("a shape");
        assert_eq!(
            shape.targets,
            TargetShape::Classes {
                n_classes: 2,
                class_counts: vec![1, 1]
            }
        );
    }

    #[test]
    fn stored_regression_datasets_decode_to_the_same_dataset() {
        let values = Array2::from_shape_vec((2, 1), vec![0.5, 7.0]).expect("shape");
        let dataset = Dataset {
            class_names: None,
            ..small(Targets::Values(values))
        };
        assert_eq!(decode_dataset(&record(&dataset)).ok(), Some(dataset));
    }

    #[test]
    fn a_truncated_blob_is_reported_not_trusted() {
        let dataset = small(Targets::Classes {
            labels: vec![1, 0],
            n_classes: 2,
        });
        let mut stored = record(&dataset);
        stored.matrix.truncate(10);
        assert!(matches!(
            decode_dataset(&stored),
            Err(JobsError::Corrupt(_))
        ));
    }

    #[test]
    fn specs_name_their_uploaded_datasets_once() {
        let spec = json!({"data": {"type": "dataset", "id": "a",
                                   "validation": {"type": "dataset", "id": "b"}}});
        assert_eq!(referenced_datasets(&spec), ["a", "b"]);
        let same = json!({"data": {"type": "dataset", "id": "a",
                                   "validation": {"type": "dataset", "id": "a"}}});
        assert_eq!(referenced_datasets(&same), ["a"]);
        assert!(referenced_datasets(&json!({"data": {"type": "builtin"}})).is_empty());
    }
}
