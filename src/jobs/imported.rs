//! Model import (`POST /v1/models`): a trainyard JSON model (the document
//! `GET /v1/jobs/{id}/model?format=json` serves) or a trainyard safetensors file becomes a stored
//! model in the same form as a job's ([`super::model`]), under its own id.
//!
//! Both paths end in [`ModelArtifact::check`]: every tensor the architecture implies must be
//! present with its exact shape and value count, nothing else may be, and the standardization
//! must have one mean and one positive std per input feature. A refusal names the tensor. The
//! stored description writes the architecture in the export form
//! ([`crate::export::architecture::to_json`]) so that the model runs without a job spec.
//!
//! Whether predictions name classes (`classes` in a predict answer) follows the source: the
//! `n_classes` metadata entry of a safetensors export, else a classification loss or class
//! names.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::error::{JobsError, Rejection};
use super::model::{
    CLASSIFICATION_LOSSES, METADATA_LOSS, METADATA_N_CLASSES, MODEL_FORMAT, sha256_hex,
    weights_bytes,
};
use crate::data::standardize::Standardizer;
use crate::export::safetensors::ImportError;
use crate::export::{ArtifactError, ModelArtifact, architecture};
use crate::store::{ImportedModelRecord, ModelRecord};
use crate::train::{LayerPlan, Tensor};

/// A request body of `POST /v1/models`, by its content type.
#[derive(Debug)]
pub enum ImportBody {
    /// `application/json`: a `trainyard.model.v1` document.
    Json(Value),
    /// `application/octet-stream`: a safetensors file with trainyard metadata.
    Safetensors(Vec<u8>),
}

/// A model read and checked, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedModel {
    pub layers: Vec<LayerPlan>,
    /// In the architecture's forward order.
    pub parameters: Vec<Tensor>,
    pub input_width: usize,
    pub output_width: usize,
    pub standardization: Option<Standardizer>,
    pub class_names: Option<Vec<String>>,
    pub feature_names: Vec<String>,
    pub loss: Option<String>,
    pub n_classes: Option<usize>,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> JobsError {
    JobsError::InvalidInput(vec![Rejection::new(path, message)])
}

/// The tensor an artifact error is about, as the refusal's path.
fn artifact_refusal(error: &ArtifactError) -> JobsError {
    let path = match error {
        ArtifactError::MissingTensor { name, .. }
        | ArtifactError::ShapeMismatch { name, .. }
        | ArtifactError::LengthMismatch { name, .. }
        | ArtifactError::UnexpectedTensor { name }
        | ArtifactError::DuplicateTensor { name } => format!("tensors.{name}"),
        ArtifactError::ZeroInputWidth | ArtifactError::InputWidthTooLarge { .. } => {
            "input_width".to_owned()
        }
        ArtifactError::ZeroUnits { layer }
        | ArtifactError::TooLarge { layer }
        | ArtifactError::ResidualWidth { layer, .. } => format!("architecture.{layer}"),
        ArtifactError::ReservedMetadataKey { .. } | ArtifactError::DuplicateMetadataKey { .. } => {
            "metadata".to_owned()
        }
    };
    invalid(path, error.to_string())
}

fn import_refusal(error: ImportError) -> JobsError {
    match error {
        ImportError::Tensor(error) => artifact_refusal(&error),
        ImportError::Architecture(error) => {
            invalid(format!("architecture.{}", error.path), error.message)
        }
        ImportError::WrongDtype { ref name, .. }
        | ImportError::NonFinite { ref name }
        | ImportError::NonPositiveStd { ref name } => {
            invalid(format!("tensors.{name}"), error.to_string())
        }
        ImportError::HalfStandardization { name, .. } => {
            invalid(format!("tensors.{name}"), error.to_string())
        }
        ImportError::MissingMetadata { key } | ImportError::InvalidMetadata { key, .. } => {
            invalid(format!("metadata.{key}"), error.to_string())
        }
        ImportError::Unreadable(_)
        | ImportError::NotTrainyard
        | ImportError::UnsupportedVersion { .. } => invalid("", error.to_string()),
    }
}

/// Whether predictions of a model with this loss and output width name a class per row.
fn classes_of(
    loss: Option<&str>,
    class_names: Option<&[String]>,
    output_width: usize,
) -> Option<usize> {
    let classifies =
        loss.is_some_and(|loss| CLASSIFICATION_LOSSES.contains(&loss)) || class_names.is_some();
    classifies.then(|| output_width.max(2))
}

/// One name per class: as many as outputs, or two for a single sigmoid output.
fn check_class_names(names: &[String], output_width: usize, path: &str) -> Result<(), JobsError> {
    if names.len() == output_width.max(2) || names.len() == output_width {
        return Ok(());
    }
    Err(invalid(
        path,
        format!(
            "has {} names but the model has {output_width} outputs",
            names.len()
        ),
    ))
}

/// Reads and checks an import body. CPU work: call it off the async threads.
pub fn read(body: &ImportBody) -> Result<CheckedModel, JobsError> {
    match body {
        ImportBody::Safetensors(bytes) => read_safetensors(bytes),
        ImportBody::Json(document) => read_json(document),
    }
}

fn read_safetensors(bytes: &[u8]) -> Result<CheckedModel, JobsError> {
    let model = crate::export::safetensors::import(bytes).map_err(import_refusal)?;
    let layout = model.artifact().check().map_err(|e| artifact_refusal(&e))?;
    let metadata: HashMap<&str, &str> = model
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(names) = &model.class_names {
        check_class_names(names, layout.output_width, "metadata.class_names")?;
    }
    let loss = metadata.get(METADATA_LOSS).map(|loss| (*loss).to_owned());
    let n_classes = match metadata.get(METADATA_N_CLASSES) {
        Some(text) => {
            let path = format!("metadata.{METADATA_N_CLASSES}");
            let n = text
                .parse::<usize>()
                .map_err(|_| invalid(&path, format!("must be a count of classes, got {text:?}")))?;
            let expected = layout.output_width.max(2);
            if n != expected {
                return Err(invalid(
                    path,
                    format!(
                        "is {n}, but a model with {} outputs tells {expected} classes apart",
                        layout.output_width
                    ),
                ));
            }
            Some(n)
        }
        None => classes_of(
            loss.as_deref(),
            model.class_names.as_deref(),
            layout.output_width,
        ),
    };
    Ok(CheckedModel {
        layers: model.layers,
        parameters: model.parameters,
        input_width: model.input_width,
        output_width: layout.output_width,
        standardization: model.standardization,
        class_names: model.class_names,
        feature_names: Vec::new(),
        loss,
        n_classes,
    })
}

fn finite_floats(value: &Value, path: &str) -> Result<Vec<f32>, JobsError> {
    let items = value
        .as_array()
        .ok_or_else(|| invalid(path, "must be an array of numbers"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.as_f64().map(|v| v as f32) {
            Some(v) if v.is_finite() => Ok(v),
            _ => Err(invalid(
                format!("{path}[{i}]"),
                format!("must be a finite 32-bit number, got {item}"),
            )),
        })
        .collect()
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>, JobsError> {
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| invalid(path, "must be an array of strings"))
}

fn read_json(document: &Value) -> Result<CheckedModel, JobsError> {
    if !document.is_object() {
        return Err(invalid("", "must be a trainyard model object"));
    }
    if document["format"] != MODEL_FORMAT {
        return Err(invalid(
            "format",
            format!("must be {MODEL_FORMAT:?}, got {}", document["format"]),
        ));
    }
    let layers = architecture::from_json(&document["architecture"])
        .map_err(|e| invalid(format!("architecture.{}", e.path), e.message))?;
    let input_width = document["input_width"]
        .as_u64()
        .and_then(|w| usize::try_from(w).ok())
        .ok_or_else(|| invalid("input_width", "must be a positive integer"))?;
    let described = document["tensors"]
        .as_array()
        .ok_or_else(|| invalid("tensors", "must be an array of {name, shape, values}"))?;
    let mut parameters = Vec::with_capacity(described.len());
    for (i, tensor) in described.iter().enumerate() {
        let at = format!("tensors[{i}]");
        let name = tensor["name"]
            .as_str()
            .ok_or_else(|| invalid(format!("{at}.name"), "must be a string"))?;
        let shape: Vec<usize> = tensor["shape"]
            .as_array()
            .and_then(|dims| {
                dims.iter()
                    .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                    .collect()
            })
            .ok_or_else(|| {
                invalid(
                    format!("tensors.{name}"),
                    format!("tensor `{name}`: shape must be an array of sizes"),
                )
            })?;
        let values = finite_floats(&tensor["values"], &format!("tensors.{name}.values"))?;
        parameters.push(Tensor {
            name: name.to_owned(),
            shape,
            values,
        });
    }
    let standardization = match &document["standardization"] {
        Value::Null => None,
        stats => {
            let mean = finite_floats(&stats["mean"], "standardization.mean")?;
            let std = finite_floats(&stats["std"], "standardization.std")?;
            if let Some(i) = std.iter().position(|&s| s <= 0.0) {
                return Err(invalid(
                    format!("standardization.std[{i}]"),
                    "must be positive",
                ));
            }
            Some(Standardizer { mean, std })
        }
    };
    let class_names = match &document["class_names"] {
        Value::Null => None,
        names => Some(strings(names, "class_names")?),
    };
    let feature_names = match &document["feature_names"] {
        Value::Null => Vec::new(),
        names => strings(names, "feature_names")?,
    };
    let loss = document["loss"].as_str().map(str::to_owned);
    let artifact = ModelArtifact {
        layers: &layers,
        parameters: &parameters,
        input_width,
        standardization: standardization.as_ref(),
        class_names: class_names.as_deref(),
        metadata: &[],
    };
    let layout = artifact.check().map_err(|e| artifact_refusal(&e))?;
    if let Some(names) = &class_names {
        check_class_names(names, layout.output_width, "class_names")?;
    }
    let mut by_name: HashMap<String, Tensor> = parameters
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let parameters = layout
        .tensors
        .iter()
        .filter_map(|(name, _)| by_name.remove(name))
        .collect();
    let n_classes = classes_of(loss.as_deref(), class_names.as_deref(), layout.output_width);
    Ok(CheckedModel {
        layers,
        parameters,
        input_width,
        output_width: layout.output_width,
        standardization,
        class_names,
        feature_names,
        loss,
        n_classes,
    })
}

/// The stored form of a checked model: the description of [`super::model`] with `model_id`
/// in place of `job_id` and the architecture in export form.
pub fn encode(id: &str, model: &CheckedModel, created_at: i64) -> ImportedModelRecord {
    let weights = weights_bytes(&model.parameters);
    let weights_sha256 = sha256_hex(&weights);
    let meta = json!({
        "format": MODEL_FORMAT,
        "model_id": id,
        "architecture": architecture::to_json(&model.layers),
        "loss": model.loss,
        "input_width": model.input_width,
        "output_width": model.output_width,
        "n_classes": model.n_classes,
        "feature_names": model.feature_names,
        "class_names": model.class_names,
        "standardization": model.standardization.as_ref()
            .map(|s| json!({"mean": s.mean, "std": s.std})),
        "tensors": model.parameters.iter()
            .map(|t| json!({"name": t.name, "shape": t.shape}))
            .collect::<Vec<_>>(),
        "data_shapes": {},
    });
    ImportedModelRecord {
        id: id.to_owned(),
        parameter_count: model.parameters.iter().map(|t| t.values.len() as u64).sum(),
        input_width: model.input_width as u64,
        model: ModelRecord {
            meta: meta.to_string(),
            weights,
            weights_sha256,
            created_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::activation::Activation;
    use crate::train::init::Initializer;
    use crate::train::regularizer::Regularizer;

    fn document() -> Value {
        json!({
            "format": MODEL_FORMAT,
            "architecture": {"layers": [
                {"type": "dense", "units": 2, "activation": "softmax",
                 "kernel_initializer": null, "kernel_regularizer": null}
            ]},
            "loss": "sparse_categorical_crossentropy",
            "input_width": 3,
            "class_names": ["a", "b"],
            "standardization": null,
            "tensors": [
                {"name": "layers.0.bias", "shape": [2], "values": [0.5, -0.5]},
                {"name": "layers.0.kernel", "shape": [3, 2], "values": [1, 2, 3, 4, 5, 6]}
            ]
        })
    }

    #[test]
    fn a_json_model_is_read_in_forward_order_with_its_classes() {
        let model = read(&ImportBody::Json(document())).expect("valid");
        assert_eq!(
            model.layers,
            [LayerPlan::Dense {
                units: 2,
                activation: Activation::Softmax,
                kernel_initializer: None,
                bias_initializer: Initializer::Zeros,
                kernel_regularizer: Regularizer::default(),
                use_bias: true,
            }]
        );
        let names: Vec<&str> = model.parameters.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["layers.0.kernel", "layers.0.bias"]);
        assert_eq!(model.n_classes, Some(2));
        assert_eq!(model.output_width, 2);
        let record = encode("m", &model, 5);
        // 3·2 + 2
        assert_eq!(record.parameter_count, 8);
        assert_eq!(record.model.weights.len(), 8 * 4);
    }

    /// The JSON document's model as a safetensors file, with `class_names` and free-form
    /// metadata as given.
    fn safetensors_of(class_names: &[&str], metadata: &[(&str, &str)]) -> Vec<u8> {
        let model = read(&ImportBody::Json(document())).expect("valid");
        let names: Vec<String> = class_names.iter().map(|&n| n.to_owned()).collect();
        let metadata: Vec<(String, String)> = metadata
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        crate::export::safetensors::export(&crate::export::ModelArtifact {
            layers: &model.layers,
            parameters: &model.parameters,
            input_width: model.input_width,
            standardization: None,
            class_names: Some(&names),
            metadata: &metadata,
        })
        .expect("exported")
    }

    #[test]
    fn a_safetensors_file_is_held_to_the_json_documents_class_rules() {
        let good = safetensors_of(&["a", "b"], &[(METADATA_N_CLASSES, "2")]);
        let model = read(&ImportBody::Safetensors(good)).expect("valid");
        assert_eq!(model.n_classes, Some(2));
        let cases = [
            (
                safetensors_of(&["a"], &[]),
                "metadata.class_names",
                "has 1 names but the model has 2 outputs",
            ),
            (
                safetensors_of(&["a", "b"], &[(METADATA_N_CLASSES, "1000000000000")]),
                "metadata.n_classes",
                "is 1000000000000, but a model with 2 outputs tells 2 classes apart",
            ),
            (
                safetensors_of(&["a", "b"], &[(METADATA_N_CLASSES, "0")]),
                "metadata.n_classes",
                "is 0, but a model with 2 outputs tells 2 classes apart",
            ),
        ];
        for (bytes, path, message) in cases {
            let Err(JobsError::InvalidInput(problems)) = read(&ImportBody::Safetensors(bytes))
            else {
                panic!("a refusal at {path}")
            };
            assert_eq!(
                (problems[0].path.as_str(), problems[0].message.as_str()),
                (path, message)
            );
        }
    }

    #[test]
    fn a_json_tensor_of_the_wrong_shape_is_refused_by_name() {
        let mut bad = document();
        bad["tensors"][1]["shape"] = json!([2, 3]);
        let Err(JobsError::InvalidInput(problems)) = read(&ImportBody::Json(bad)) else {
            panic!("a refusal")
        };
        assert_eq!(problems[0].path, "tensors.layers.0.kernel");
        assert!(
            problems[0].message.contains("[3, 2]"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn a_regression_model_names_no_classes() {
        let mut regression = document();
        regression["loss"] = json!("mean_squared_error");
        regression["class_names"] = Value::Null;
        let model = read(&ImportBody::Json(regression)).expect("valid");
        assert_eq!(model.n_classes, None);
    }
}
