//! Trained models: how they are stored, shown as JSON, hashed, and used for predictions.
//!
//! A model is stored as a JSON description (format `trainyard.model.v1`: the resolved
//! architecture, the loss, input and output widths, feature and class names, the
//! standardization, and each tensor's name and shape) plus one blob: every tensor's values as
//! little-endian `f32`, row-major, in the order the description lists them (the network's
//! forward order, batch-norm moving statistics included). `weights_sha256` is the SHA-256 of
//! exactly that blob, so the same resolved spec reproduces the same hash bit for bit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::Array2;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::datasets::{StoreCatalog, shape_from_json};
use super::error::{JobsError, Rejection};
use super::spec::read::MAX_ERRORS;
use super::validate::validate;
use crate::data::standardize::Standardizer;
use crate::export::ModelArtifact;
use crate::store::{ImportedModelRecord, JobRow, ModelRecord};
use crate::train::{LayerPlan, Tensor};

/// The `format` of every stored and served model description.
pub const MODEL_FORMAT: &str = "trainyard.model.v1";

/// How many jobs' predictors stay built in memory.
const PREDICTOR_CACHE: usize = 32;

/// What the worker knows about a finished model, to store it.
pub struct NewModel<'a> {
    pub job_id: &'a str,
    /// The job's resolved spec.
    pub resolved: &'a Value,
    pub tensors: &'a [Tensor],
    pub standardizer: Option<&'a Standardizer>,
    pub feature_names: &'a [String],
    pub class_names: Option<&'a [String]>,
    /// `None` for regression targets.
    pub n_classes: Option<usize>,
    pub input_width: usize,
    pub output_width: usize,
    /// Shapes of the uploaded datasets the job read, by id, so predictions still work after
    /// the upload is deleted.
    pub data_shapes: Value,
    pub created_at: i64,
}

/// Every tensor's values as little-endian `f32`, in order.
pub fn weights_bytes(tensors: &[Tensor]) -> Vec<u8> {
    let total: usize = tensors.iter().map(|t| t.values.len()).sum();
    let mut bytes = Vec::with_capacity(4 * total);
    for tensor in tensors {
        for value in &tensor.values {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The stored form of a model.
pub fn encode(model: &NewModel<'_>) -> ModelRecord {
    let weights = weights_bytes(model.tensors);
    let weights_sha256 = sha256_hex(&weights);
    let meta = json!({
        "format": MODEL_FORMAT,
        "job_id": model.job_id,
        "architecture": model.resolved.get("architecture").cloned().unwrap_or(Value::Null),
        "loss": model.resolved.pointer("/training/loss").cloned().unwrap_or(Value::Null),
        "input_width": model.input_width,
        "output_width": model.output_width,
        "n_classes": model.n_classes,
        "feature_names": model.feature_names,
        "class_names": model.class_names,
        "standardization": model.standardizer.map(|s| json!({"mean": s.mean, "std": s.std})),
        "tensors": model.tensors.iter()
            .map(|t| json!({"name": t.name, "shape": t.shape}))
            .collect::<Vec<_>>(),
        "data_shapes": model.data_shapes,
    });
    ModelRecord {
        meta: meta.to_string(),
        weights,
        weights_sha256,
        created_at: model.created_at,
    }
}

fn corrupt(job_id: &str, what: &str) -> JobsError {
    JobsError::Corrupt(format!("model of job {job_id}: {what}"))
}

fn meta_of(job_id: &str, meta: &str) -> Result<Value, JobsError> {
    serde_json::from_str(meta).map_err(|_| corrupt(job_id, "description"))
}

/// The names and shapes of a stored model's tensors, in stored order, from its description
/// (`meta`) alone.
pub fn tensor_shapes(job_id: &str, meta: &str) -> Result<Vec<(String, Vec<usize>)>, JobsError> {
    let meta = meta_of(job_id, meta)?;
    let described = meta["tensors"]
        .as_array()
        .ok_or_else(|| corrupt(job_id, "tensor list"))?;
    described
        .iter()
        .map(|tensor| {
            let name = tensor["name"]
                .as_str()
                .ok_or_else(|| corrupt(job_id, "tensor name"))?;
            let shape: Vec<usize> = tensor["shape"]
                .as_array()
                .ok_or_else(|| corrupt(job_id, "tensor shape"))?
                .iter()
                .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                .collect::<Option<_>>()
                .ok_or_else(|| corrupt(job_id, "tensor shape"))?;
            Ok((name.to_owned(), shape))
        })
        .collect()
}

/// The tensors of a stored model, with their values.
pub fn decode_tensors(job_id: &str, record: &ModelRecord) -> Result<Vec<Tensor>, JobsError> {
    let described = tensor_shapes(job_id, &record.meta)?;
    let mut values = record
        .weights
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let mut tensors = Vec::with_capacity(described.len());
    for (name, shape) in described {
        let len: usize = shape.iter().product();
        let tensor_values: Vec<f32> = values.by_ref().take(len).collect();
        if tensor_values.len() != len {
            return Err(corrupt(job_id, "weights shorter than the shapes"));
        }
        tensors.push(Tensor {
            name,
            shape,
            values: tensor_values,
        });
    }
    if values.next().is_some() || !record.weights.len().is_multiple_of(4) {
        return Err(corrupt(job_id, "weights longer than the shapes"));
    }
    Ok(tensors)
}

/// The model as `GET /v1/jobs/{id}/model?format=json` serves it.
pub fn model_json(job_id: &str, record: &ModelRecord) -> Result<Value, JobsError> {
    let mut meta = meta_of(job_id, &record.meta)?;
    let tensors = decode_tensors(job_id, record)?;
    if let Value::Object(fields) = &mut meta {
        fields.remove("data_shapes");
        fields.remove("n_classes");
        fields.insert(
            "tensors".into(),
            tensors
                .iter()
                .map(|t| json!({"name": t.name, "shape": t.shape, "values": t.values}))
                .collect(),
        );
        fields.insert("weights_sha256".into(), json!(record.weights_sha256));
    }
    Ok(meta)
}

/// [`model_json`] as the bytes of its JSON text, built and serialized on the blocking pool: a
/// model of millions of parameters is hundreds of megabytes of JSON, whose building would hold
/// an async worker, and every request it serves, for seconds.
pub async fn model_json_bytes(job_id: String, record: ModelRecord) -> Result<Vec<u8>, JobsError> {
    tokio::task::spawn_blocking(move || {
        let document = model_json(&job_id, &record)?;
        serde_json::to_vec(&document)
            .map_err(|e| JobsError::Corrupt(format!("serializing the model of {job_id}: {e}")))
    })
    .await
    .map_err(|e| JobsError::Corrupt(format!("serializing the model stopped: {e}")))?
}

/// Everything needed to run a stored model.
#[derive(Debug)]
pub struct Predictor {
    layers: Vec<LayerPlan>,
    tensors: Vec<Tensor>,
    standardizer: Option<Standardizer>,
    pub input_width: usize,
    output_width: usize,
    n_classes: Option<usize>,
    pub class_names: Option<Vec<String>>,
    /// Free-form entries written into exported files: where the model came from, its loss and
    /// class count, so that an import predicts as the original did.
    metadata: Vec<(String, String)>,
}

/// The file formats a stored model is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `trainyard.model.v1` JSON ([`model_json`]).
    Json,
    /// [`crate::export::safetensors`], importable with `POST /v1/models`.
    Safetensors,
    /// [`crate::export::onnx`], an inference graph from raw features.
    Onnx,
}

impl ExportFormat {
    /// The `?format=` names, the default first.
    pub const NAMES: [&'static str; 3] = ["json", "safetensors", "onnx"];

    pub fn from_name(name: &str) -> Option<ExportFormat> {
        match name {
            "json" => Some(ExportFormat::Json),
            "safetensors" => Some(ExportFormat::Safetensors),
            "onnx" => Some(ExportFormat::Onnx),
            _ => None,
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Safetensors => "safetensors",
            ExportFormat::Onnx => "onnx",
        }
    }
}

/// Metadata key of the model's loss in exported files.
pub const METADATA_LOSS: &str = "loss";
/// Metadata key of the number of classes (absent for regression) in exported files.
pub const METADATA_N_CLASSES: &str = "n_classes";

/// Losses whose targets are classes: predictions of such a model name a class per row.
pub const CLASSIFICATION_LOSSES: [&str; 3] = [
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
];

/// A prediction for each input row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub outputs: Array2<f32>,
    /// The predicted class of each row; `None` for regression.
    pub classes: Option<Vec<usize>>,
    /// Names of the classes, index = class id, when the data named them.
    pub class_names: Option<Vec<String>>,
}

fn floats(value: &Value) -> Option<Vec<f32>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_f64().map(|v| v as f32))
        .collect()
}

impl Predictor {
    /// Rebuilds the network of `job` (its resolved spec re-validated against the data shapes
    /// the model recorded) and loads the stored tensors.
    pub fn build(job: &JobRow, record: &ModelRecord) -> Result<Predictor, JobsError> {
        let meta = meta_of(&job.id, &record.meta)?;
        let resolved: Value = serde_json::from_str(&job.resolved_spec)
            .map_err(|_| corrupt(&job.id, "resolved spec"))?;
        let mut catalog = StoreCatalog::default();
        for (id, shape) in meta["data_shapes"].as_object().into_iter().flatten() {
            let shape = shape_from_json(shape).ok_or_else(|| corrupt(&job.id, "data shape"))?;
            catalog = catalog.with_upload(id, shape);
        }
        let validated = validate(&resolved, &catalog, job.seed).map_err(|errors| {
            corrupt(
                &job.id,
                &format!(
                    "the resolved spec no longer validates: {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
        })?;
        let width = |name: &str| {
            meta[name]
                .as_u64()
                .and_then(|w| usize::try_from(w).ok())
                .ok_or_else(|| corrupt(&job.id, name))
        };
        let standardizer = match &meta["standardization"] {
            Value::Null => None,
            stats => Some(Standardizer {
                mean: floats(&stats["mean"]).ok_or_else(|| corrupt(&job.id, "mean"))?,
                std: floats(&stats["std"]).ok_or_else(|| corrupt(&job.id, "std"))?,
            }),
        };
        let n_classes = meta["n_classes"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok());
        let mut metadata = vec![("job_id".to_owned(), job.id.clone())];
        if let Some(loss) = meta["loss"].as_str() {
            metadata.push((METADATA_LOSS.to_owned(), loss.to_owned()));
        }
        if let Some(n) = n_classes {
            metadata.push((METADATA_N_CLASSES.to_owned(), n.to_string()));
        }
        Ok(Predictor {
            layers: validated.plan().layers,
            tensors: decode_tensors(&job.id, record)?,
            standardizer,
            input_width: width("input_width")?,
            output_width: width("output_width")?,
            n_classes,
            class_names: meta["class_names"].as_array().map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().unwrap_or_default().to_owned())
                    .collect()
            }),
            metadata,
        })
    }

    /// Loads a model imported with `POST /v1/models`: its description carries the
    /// architecture in export form, so no job spec is needed.
    pub fn from_imported(imported: &ImportedModelRecord) -> Result<Predictor, JobsError> {
        let id = &imported.id;
        let record = &imported.model;
        let meta = meta_of(id, &record.meta)?;
        let layers = crate::export::architecture::from_json(&meta["architecture"])
            .map_err(|e| corrupt(id, &format!("architecture: {e}")))?;
        let width = |name: &str| {
            meta[name]
                .as_u64()
                .and_then(|w| usize::try_from(w).ok())
                .ok_or_else(|| corrupt(id, name))
        };
        let standardizer = match &meta["standardization"] {
            Value::Null => None,
            stats => Some(Standardizer {
                mean: floats(&stats["mean"]).ok_or_else(|| corrupt(id, "mean"))?,
                std: floats(&stats["std"]).ok_or_else(|| corrupt(id, "std"))?,
            }),
        };
        let n_classes = meta["n_classes"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok());
        let mut metadata = vec![("model_id".to_owned(), id.clone())];
        if let Some(loss) = meta["loss"].as_str() {
            metadata.push((METADATA_LOSS.to_owned(), loss.to_owned()));
        }
        if let Some(n) = n_classes {
            metadata.push((METADATA_N_CLASSES.to_owned(), n.to_string()));
        }
        Ok(Predictor {
            layers,
            tensors: decode_tensors(id, record)?,
            standardizer,
            input_width: width("input_width")?,
            output_width: width("output_width")?,
            n_classes,
            class_names: meta["class_names"].as_array().map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().unwrap_or_default().to_owned())
                    .collect()
            }),
            metadata,
        })
    }

    /// The model as the exporters take it, with the job's standardization and class names.
    pub fn artifact(&self) -> ModelArtifact<'_> {
        ModelArtifact {
            layers: &self.layers,
            parameters: &self.tensors,
            input_width: self.input_width,
            standardization: self.standardizer.as_ref(),
            class_names: self.class_names.as_deref(),
            metadata: &self.metadata,
        }
    }

    /// The bytes of a safetensors or ONNX file (JSON is [`model_json`], from the stored
    /// record). CPU work: call it off the async threads.
    pub fn export(&self, format: ExportFormat) -> Result<Vec<u8>, JobsError> {
        let artifact = self.artifact();
        let exported = match format {
            ExportFormat::Safetensors => {
                crate::export::safetensors::export(&artifact).map_err(|e| e.to_string())
            }
            ExportFormat::Onnx => crate::export::onnx::export(&artifact).map_err(|e| e.to_string()),
            ExportFormat::Json => Err("JSON is served from the stored record".to_owned()),
        };
        exported.map_err(|message| JobsError::Corrupt(format!("exporting the model: {message}")))
    }

    /// Outputs for raw (unstandardized) input rows. CPU work: call it off the async threads.
    pub fn predict(&self, mut inputs: Array2<f32>) -> Result<Prediction, JobsError> {
        if let Some(standardizer) = &self.standardizer {
            standardizer.apply(&mut inputs).map_err(|e| {
                JobsError::InvalidInput(vec![Rejection::new("inputs", e.to_string())])
            })?;
        }
        let outputs = crate::train::predict(&self.layers, &self.tensors, inputs.view())
            .map_err(|e| JobsError::InvalidInput(vec![Rejection::new("inputs", e.to_string())]))?;
        // Finite inputs can still overflow inside the network (3e38 through a kernel): such a
        // row has no answer, and a class read off NaNs would be made up.
        let overflowed: Vec<Rejection> = outputs
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, row)| row.iter().any(|v| !v.is_finite()))
            .take(MAX_ERRORS)
            .map(|(r, _)| {
                Rejection::new(
                    format!("inputs[{r}]"),
                    "gives outputs that are not finite numbers: the features are too large for \
                     this model",
                )
            })
            .collect();
        if !overflowed.is_empty() {
            return Err(JobsError::InvalidInput(overflowed));
        }
        let classes = self.n_classes.map(|_| {
            outputs
                .rows()
                .into_iter()
                .map(|row| {
                    if self.output_width == 1 {
                        usize::from(row[0] >= 0.5)
                    } else {
                        row.iter()
                            .enumerate()
                            .fold((0, f32::NEG_INFINITY), |(best, top), (i, &v)| {
                                if v > top { (i, v) } else { (best, top) }
                            })
                            .0
                    }
                })
                .collect()
        });
        Ok(Prediction {
            outputs,
            classes,
            class_names: self.class_names.clone(),
        })
    }
}

/// Reads `{"inputs": [[…], …]}`: at least one and at most `max_rows` rows, each `width` finite
/// numbers. Every bad row or cell is named by its path.
pub fn parse_inputs(body: &Value, width: usize, max_rows: usize) -> Result<Array2<f32>, JobsError> {
    let invalid = |path: String, message: String| {
        JobsError::InvalidInput(vec![Rejection::new(path, message)])
    };
    let Some(fields) = body.as_object() else {
        return Err(invalid(
            "".into(),
            "must be an object {\"inputs\": [[…], …]}".into(),
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| k.as_str() != "inputs") {
        return Err(invalid(
            unknown.clone(),
            "is not a field of a predict request".into(),
        ));
    }
    let Some(rows) = fields.get("inputs").and_then(Value::as_array) else {
        return Err(invalid("inputs".into(), "must be an array of rows".into()));
    };
    if rows.is_empty() {
        return Err(invalid(
            "inputs".into(),
            "must have at least one row".into(),
        ));
    }
    if rows.len() > max_rows {
        return Err(JobsError::Limit(super::error::LimitExceeded {
            limit: "--max-predict-rows",
            maximum: max_rows as u64,
            requested: Some(rows.len() as u64),
            path: Some("inputs".into()),
            what: "predict rows",
        }));
    }
    // Sized only once every row is known to hold `width` cells: the cells are then in the
    // request already, so an imported model's width cannot make this allocation large.
    let well_formed = rows
        .iter()
        .all(|row| row.as_array().is_some_and(|cells| cells.len() == width));
    let mut values = Vec::with_capacity(if well_formed { rows.len() * width } else { 0 });
    let mut problems = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let Some(cells) = row.as_array() else {
            problems.push(Rejection::new(
                format!("inputs[{r}]"),
                "must be an array of numbers",
            ));
            continue;
        };
        if cells.len() != width {
            problems.push(Rejection::new(
                format!("inputs[{r}]"),
                format!("has {} features, the model expects {width}", cells.len()),
            ));
            continue;
        }
        for (c, cell) in cells.iter().enumerate() {
            match cell.as_f64().map(|v| v as f32) {
                Some(v) if v.is_finite() => values.push(v),
                _ => problems.push(Rejection::new(
                    format!("inputs[{r}][{c}]"),
                    format!("must be a finite 32-bit number, got {cell}"),
                )),
            }
        }
        if problems.len() >= 20 {
            break;
        }
    }
    if !problems.is_empty() {
        return Err(JobsError::InvalidInput(problems));
    }
    Array2::from_shape_vec((rows.len(), width), values)
        .map_err(|e| invalid("inputs".into(), e.to_string()))
}

/// Built predictors by job id, so repeated predictions skip rebuilding the network.
#[derive(Debug, Default)]
pub struct PredictorCache {
    entries: Mutex<HashMap<String, Arc<Predictor>>>,
    /// Counts [`PredictorCache::forget`]s: a predictor built from a record read before a
    /// forget is not cached (its model may have been deleted meanwhile).
    generation: AtomicU64,
}

impl PredictorCache {
    /// Take this before reading the record a predictor is built from; pass it to
    /// [`PredictorCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn get(&self, job_id: &str) -> Option<Arc<Predictor>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(job_id)
            .cloned()
    }

    /// Caches `predictor` unless something was forgotten since `generation` was taken.
    pub fn insert(&self, generation: u64, job_id: &str, predictor: Arc<Predictor>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation() != generation {
            return;
        }
        if entries.len() >= PREDICTOR_CACHE
            && let Some(evicted) = entries.keys().next().cloned()
        {
            entries.remove(&evicted);
        }
        entries.insert(job_id.to_owned(), predictor);
    }

    /// Drops `job_id`'s predictor; call it after the model is deleted from the store.
    pub fn forget(&self, job_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: &[usize], values: &[f32]) -> Tensor {
        Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn the_weights_hash_is_the_sha256_of_the_little_endian_f32_bytes_in_order() {
        let tensors = [
            tensor("layers.0.kernel", &[1, 2], &[1.0, -2.0]),
            tensor("layers.0.bias", &[2], &[0.5, 0.0]),
        ];
        let bytes = weights_bytes(&tensors);
        assert_eq!(
            bytes,
            [
                0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00,
                0x00, 0x00
            ]
        );
        // printf '\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f\x00\x00\x00\x00' | sha256sum
        assert_eq!(
            sha256_hex(&bytes),
            "c16372899a2906d5f8ddcbd6371a6e2315909b9a7195368ed55793904e9b33d3"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn stored_tensors_decode_with_their_names_and_shapes() {
        let tensors = vec![
            tensor("layers.0.kernel", &[2, 1], &[1.5, -2.0]),
            tensor("layers.0.bias", &[1], &[0.25]),
        ];
        let record = regression_record(&tensors, 2);
        assert_eq!(record.weights_sha256, sha256_hex(&record.weights));
        assert_eq!(decode_tensors("j", &record).ok(), Some(tensors));
        let served = model_json("j", &record).expect("json");
        assert_eq!(served["format"], MODEL_FORMAT);
        assert_eq!(served["tensors"][0]["values"], json!([1.5, -2.0]));
        assert_eq!(served["loss"], "mean_squared_error");
        let mut cut = record.clone();
        cut.weights.truncate(8);
        assert!(decode_tensors("j", &cut).is_err());
    }

    /// The stored model of job `j`, a one-output regression over `input_width` features.
    fn regression_record(tensors: &[Tensor], input_width: usize) -> ModelRecord {
        let resolved =
            json!({"architecture": {"layers": []}, "training": {"loss": "mean_squared_error"}});
        encode(&NewModel {
            job_id: "j",
            resolved: &resolved,
            tensors,
            standardizer: None,
            feature_names: &[],
            class_names: None,
            n_classes: None,
            input_width,
            output_width: 1,
            data_shapes: json!({}),
            created_at: 0,
        })
    }

    #[tokio::test]
    async fn the_json_bytes_built_off_the_runtime_are_the_served_document() {
        let record = regression_record(&[tensor("layers.0.kernel", &[1, 1], &[0.5])], 1);
        let bytes = model_json_bytes("j".into(), record.clone())
            .await
            .expect("serialized");
        let parsed: Value = serde_json::from_slice(&bytes).expect("JSON text");
        assert_eq!(parsed, model_json("j", &record).expect("json"));
        let mut cut = record;
        cut.weights.truncate(2);
        assert!(matches!(
            model_json_bytes("j".into(), cut).await,
            Err(JobsError::Corrupt(_))
        ));
    }

    #[test]
    fn a_predictor_built_before_a_forget_is_not_cached() {
        let predictor = || {
            Arc::new(Predictor {
                layers: Vec::new(),
                tensors: Vec::new(),
                standardizer: None,
                input_width: 1,
                output_width: 1,
                n_classes: None,
                class_names: None,
                metadata: Vec::new(),
            })
        };
        let cache = PredictorCache::default();
        let before = cache.generation();
        cache.insert(before, "a", predictor());
        assert!(cache.get("a").is_some());
        // A predict reads the generation and the record; the model is deleted and forgotten;
        // the predict's predictor must not come back into the cache.
        let read = cache.generation();
        cache.forget("a");
        cache.insert(read, "a", predictor());
        assert!(cache.get("a").is_none());
        cache.insert(cache.generation(), "a", predictor());
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn predict_inputs_are_checked_row_by_row() {
        let ok = parse_inputs(&json!({"inputs": [[1, 2], [3.5, -4]]}), 2, 10).expect("valid");
        assert_eq!(ok.shape(), &[2, 2]);
        let paths = |body: Value| match parse_inputs(&body, 2, 10) {
            Err(JobsError::InvalidInput(problems)) => {
                problems.into_iter().map(|p| p.path).collect::<Vec<_>>()
            }
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(paths(json!({"inputs": [[1, 2], [3]]})), ["inputs[1]"]);
        assert_eq!(paths(json!({"inputs": [[1, "x"]]})), ["inputs[0][1]"]);
        assert_eq!(paths(json!({"inputs": [[1, 1e300]]})), ["inputs[0][1]"]);
        assert_eq!(paths(json!({"inputs": []})), ["inputs"]);
        assert_eq!(paths(json!({"rows": [[1, 2]]})), ["rows"]);
        assert!(matches!(
            parse_inputs(&json!({"inputs": [[1, 2], [1, 2]]}), 2, 1),
            Err(JobsError::Limit(_))
        ));
    }
}
