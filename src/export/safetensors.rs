//! The safetensors format: every parameter tensor as little-endian `F32` under its convention
//! name, plus `standardization.mean` / `standardization.std` `[input_width]` when the model
//! standardizes its inputs. The header's `__metadata__` string map says what the tensors mean:
//!
//! | key | value |
//! |---|---|
//! | `format` | `trainyard` |
//! | `format_version` | `1` |
//! | `architecture` | the layers as JSON text ([`architecture`](super::architecture)) |
//! | `input_width` | features per sample, decimal |
//! | `class_names` | a JSON list of strings (only when the model has class names) |
//! | anything else | the artifact's free-form metadata, copied as is |
//!
//! The Python `safetensors` package reads these files (`safe_open(path, "np")`); [`import`]
//! reads them back, checking every tensor against the shapes the architecture implies.
//! The order of the `__metadata__` keys in the header is not fixed (the `safetensors` crate
//! keeps them in a hash map); tensor order and bytes are.

use std::collections::HashMap;

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::Value;

use super::architecture::{self, ArchitectureError};
use super::{
    ArtifactError, ModelArtifact, RESERVED_METADATA_KEYS, STANDARDIZATION_MEAN, STANDARDIZATION_STD,
};
use crate::data::standardize::Standardizer;
use crate::train::plan::{LayerPlan, Tensor};

/// The `format` metadata value that marks a trainyard file.
pub const FORMAT: &str = "trainyard";
/// The version of the metadata layout this module writes and reads.
pub const FORMAT_VERSION: &str = "1";

/// The safetensors header starts with its length as a little-endian `u64`.
const HEADER_SIZE_BYTES: usize = 8;

// The entries of `RESERVED_METADATA_KEYS`.
const KEY_FORMAT: &str = "format";
const KEY_FORMAT_VERSION: &str = "format_version";
const KEY_ARCHITECTURE: &str = "architecture";
const KEY_INPUT_WIDTH: &str = "input_width";
const KEY_CLASS_NAMES: &str = "class_names";

/// Why a model could not be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("safetensors serialization failed: {0}")]
    Serialization(String),
}

/// Why bytes could not be read back as a trainyard model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("not a readable safetensors file: {0}")]
    Unreadable(String),
    #[error("not a trainyard model: the metadata has no `format: trainyard` entry")]
    NotTrainyard,
    #[error("unsupported trainyard format version `{found}`; this server reads version 1")]
    UnsupportedVersion { found: String },
    #[error("metadata entry `{key}` is missing")]
    MissingMetadata { key: &'static str },
    #[error("metadata entry `{key}` is invalid: {reason}")]
    InvalidMetadata { key: &'static str, reason: String },
    #[error("architecture: {0}")]
    Architecture(#[from] ArchitectureError),
    #[error("tensor `{name}` has dtype {dtype}; only F32 is accepted")]
    WrongDtype { name: String, dtype: String },
    #[error("tensor `{name}` holds a value that is not finite")]
    NonFinite { name: String },
    #[error("tensor `{name}` holds a standard deviation that is not positive")]
    NonPositiveStd { name: String },
    #[error("tensor `{name}` is missing; `{present}` needs it")]
    HalfStandardization {
        name: &'static str,
        present: &'static str,
    },
    #[error(transparent)]
    Tensor(#[from] ArtifactError),
}

/// A model read from a trainyard safetensors file; [`ImportedModel::artifact`] views it as the
/// exporters take it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    pub layers: Vec<LayerPlan>,
    /// In the architecture's forward order.
    pub parameters: Vec<Tensor>,
    pub input_width: usize,
    /// Mean and std, each `[input_width]`, every std positive.
    pub standardization: Option<Standardizer>,
    pub class_names: Option<Vec<String>>,
    /// The free-form metadata entries, sorted by key.
    pub metadata: Vec<(String, String)>,
}

impl ImportedModel {
    /// A borrowed view for the exporters.
    pub fn artifact(&self) -> ModelArtifact<'_> {
        ModelArtifact {
            layers: &self.layers,
            parameters: &self.parameters,
            input_width: self.input_width,
            standardization: self.standardization.as_ref(),
            class_names: self.class_names.as_deref(),
            metadata: &self.metadata,
        }
    }
}

/// Writes the model as a safetensors file (see the module doc for its layout).
pub fn export(artifact: &ModelArtifact) -> Result<Vec<u8>, ExportError> {
    let layout = artifact.check()?;

    let mut metadata: HashMap<String, String> = artifact.metadata.iter().cloned().collect();
    metadata.insert(KEY_FORMAT.to_owned(), FORMAT.to_owned());
    metadata.insert(KEY_FORMAT_VERSION.to_owned(), FORMAT_VERSION.to_owned());
    metadata.insert(
        KEY_ARCHITECTURE.to_owned(),
        architecture::to_json(artifact.layers).to_string(),
    );
    metadata.insert(KEY_INPUT_WIDTH.to_owned(), artifact.input_width.to_string());
    if let Some(class_names) = artifact.class_names {
        metadata.insert(
            KEY_CLASS_NAMES.to_owned(),
            Value::from(class_names.to_vec()).to_string(),
        );
    }

    // (name, shape, little-endian bytes); the views below borrow the bytes.
    let by_name = artifact.parameters_by_name()?;
    let mut encoded: Vec<(&str, Vec<usize>, Vec<u8>)> = layout
        .tensors
        .iter()
        .filter_map(|(name, shape)| {
            let tensor = by_name.get(name.as_str())?;
            Some((name.as_str(), shape.clone(), little_endian(&tensor.values)))
        })
        .collect();
    if let Some(standardizer) = artifact.standardization {
        for (name, values) in [
            (STANDARDIZATION_MEAN, &standardizer.mean),
            (STANDARDIZATION_STD, &standardizer.std),
        ] {
            encoded.push((name, vec![values.len()], little_endian(values)));
        }
    }
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (*name, view))
                .map_err(|error| ExportError::Serialization(error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ::safetensors::serialize(views, Some(metadata))
        .map_err(|error| ExportError::Serialization(error.to_string()))
}

/// Reads a file written by [`export`]: the architecture from the metadata, then every tensor,
/// checked by name, dtype, shape and finiteness against what the architecture implies.
pub fn import(bytes: &[u8]) -> Result<ImportedModel, ImportError> {
    let (header_len, header) = SafeTensors::read_metadata(bytes)
        .map_err(|error| ImportError::Unreadable(error.to_string()))?;
    // `read_metadata` has checked that the tensors tile the rest of the buffer exactly.
    let data = bytes
        .get(HEADER_SIZE_BYTES + header_len..)
        .ok_or_else(|| ImportError::Unreadable("header longer than the file".to_owned()))?;
    let metadata = header.metadata().clone().unwrap_or_default();

    if metadata.get(KEY_FORMAT).map(String::as_str) != Some(FORMAT) {
        return Err(ImportError::NotTrainyard);
    }
    let version = entry(&metadata, KEY_FORMAT_VERSION)?;
    if version != FORMAT_VERSION {
        return Err(ImportError::UnsupportedVersion {
            found: version.to_owned(),
        });
    }
    let architecture_text = entry(&metadata, KEY_ARCHITECTURE)?;
    let architecture_json: Value =
        serde_json::from_str(architecture_text).map_err(|error| ImportError::InvalidMetadata {
            key: KEY_ARCHITECTURE,
            reason: error.to_string(),
        })?;
    let layers = architecture::from_json(&architecture_json)?;
    let input_width = entry(&metadata, KEY_INPUT_WIDTH)?
        .parse::<usize>()
        .map_err(|error| ImportError::InvalidMetadata {
            key: KEY_INPUT_WIDTH,
            reason: error.to_string(),
        })?;
    let class_names = match metadata.get(KEY_CLASS_NAMES) {
        None => None,
        Some(text) => Some(serde_json::from_str::<Vec<String>>(text).map_err(|error| {
            ImportError::InvalidMetadata {
                key: KEY_CLASS_NAMES,
                reason: error.to_string(),
            }
        })?),
    };
    let mut extra: Vec<(String, String)> = metadata
        .into_iter()
        .filter(|(key, _)| !RESERVED_METADATA_KEYS.contains(&key.as_str()))
        .collect();
    extra.sort();

    let mut tensors = Vec::new();
    let mut mean = None;
    let mut std = None;
    // In file order, so that the first bad tensor reported does not depend on hashing.
    for name in header.offset_keys() {
        let Some(info) = header.info(&name) else {
            continue;
        };
        let (start, end) = info.data_offsets;
        let bytes = data.get(start..end).ok_or_else(|| {
            ImportError::Unreadable(format!("tensor `{name}` lies outside the file"))
        })?;
        let tensor = decode(&name, info.dtype, &info.shape, bytes)?;
        match name.as_str() {
            STANDARDIZATION_MEAN => mean = Some(tensor),
            STANDARDIZATION_STD => std = Some(tensor),
            _ => tensors.push(tensor),
        }
    }
    let standardization = match (mean, std) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ImportError::HalfStandardization {
                name: STANDARDIZATION_STD,
                present: STANDARDIZATION_MEAN,
            });
        }
        (None, Some(_)) => {
            return Err(ImportError::HalfStandardization {
                name: STANDARDIZATION_MEAN,
                present: STANDARDIZATION_STD,
            });
        }
        (Some(mean), Some(std)) => {
            for tensor in [&mean, &std] {
                if tensor.shape != [input_width] {
                    return Err(ArtifactError::ShapeMismatch {
                        name: tensor.name.clone(),
                        expected: vec![input_width],
                        found: tensor.shape.clone(),
                    }
                    .into());
                }
            }
            if std.values.iter().any(|&value| value <= 0.0) {
                return Err(ImportError::NonPositiveStd { name: std.name });
            }
            Some(Standardizer {
                mean: mean.values,
                std: std.values,
            })
        }
    };

    let mut model = ImportedModel {
        layers,
        parameters: tensors,
        input_width,
        standardization,
        class_names,
        metadata: extra,
    };
    let layout = model.artifact().check()?;
    // Put the parameters in forward order; `check` proved the names are exactly the layout's.
    let mut by_name: HashMap<String, Tensor> = model
        .parameters
        .drain(..)
        .map(|tensor| (tensor.name.clone(), tensor))
        .collect();
    model.parameters = layout
        .tensors
        .iter()
        .filter_map(|(name, _)| by_name.remove(name))
        .collect();
    Ok(model)
}

fn entry<'m>(
    metadata: &'m HashMap<String, String>,
    key: &'static str,
) -> Result<&'m str, ImportError> {
    metadata
        .get(key)
        .map(String::as_str)
        .ok_or(ImportError::MissingMetadata { key })
}

fn decode(name: &str, dtype: Dtype, shape: &[usize], bytes: &[u8]) -> Result<Tensor, ImportError> {
    if dtype != Dtype::F32 {
        return Err(ImportError::WrongDtype {
            name: name.to_owned(),
            dtype: format!("{dtype:?}"),
        });
    }
    // The safetensors reader has checked that the byte length is the shape's product × 4.
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect();
    if values.iter().any(|value| !value.is_finite()) {
        return Err(ImportError::NonFinite {
            name: name.to_owned(),
        });
    }
    Ok(Tensor {
        name: name.to_owned(),
        shape: shape.to_vec(),
        values,
    })
}

fn little_endian(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::activation::Activation;
    use crate::train::init::Initializer;
    use crate::train::regularizer::Regularizer;

    fn dense(units: usize, activation: Activation, use_bias: bool) -> LayerPlan {
        LayerPlan::Dense {
            units,
            activation,
            kernel_initializer: Some(Initializer::HeNormal),
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer { l1: 0.0, l2: 0.01 },
            use_bias,
        }
    }

    fn layers() -> Vec<LayerPlan> {
        vec![
            dense(4, Activation::Relu, true),
            LayerPlan::Residual {
                layers: vec![
                    LayerPlan::BatchNormalization {
                        momentum: 0.99,
                        epsilon: 1e-3,
                    },
                    dense(4, Activation::Linear, false),
                ],
            },
            LayerPlan::Dropout { rate: 0.5 },
            dense(3, Activation::Softmax, true),
        ]
    }

    /// Values with awkward bit patterns: signed zeros, a subnormal, extremes of f32.
    fn values(count: usize, seed: u32) -> Vec<f32> {
        let awkward = [-0.0, 0.0, 1e-45, f32::MAX, f32::MIN_POSITIVE, -1.5];
        (0..count)
            .map(|index| {
                let index = index as u32;
                if index.is_multiple_of(4) {
                    awkward[(index as usize / 4) % awkward.len()]
                } else {
                    f32::from_bits(0x3f00_0000 + index.wrapping_mul(2_654_435_761) % 0x00ff_ffff)
                        * if (index + seed).is_multiple_of(3) {
                            -1.0
                        } else {
                            1.0
                        }
                }
            })
            .collect()
    }

    fn parameters(layers: &[LayerPlan], input_width: usize) -> Vec<Tensor> {
        super::super::layout(layers, input_width)
            .unwrap()
            .tensors
            .into_iter()
            .enumerate()
            .map(|(index, (name, shape))| Tensor {
                values: values(shape.iter().product(), index as u32),
                name,
                shape,
            })
            .collect()
    }

    struct Owned {
        layers: Vec<LayerPlan>,
        parameters: Vec<Tensor>,
        standardizer: Standardizer,
        class_names: Vec<String>,
        metadata: Vec<(String, String)>,
    }

    fn model() -> Owned {
        let layers = layers();
        Owned {
            parameters: parameters(&layers, 5),
            layers,
            standardizer: Standardizer {
                mean: vec![0.5, -1.25, 0.0, -0.0, 3.0],
                std: vec![1.0, 0.25, 2.0, 1e-30, 7.5],
            },
            class_names: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
            metadata: vec![
                ("job_id".into(), "0190-abc".into()),
                ("loss".into(), "sparse_categorical_crossentropy".into()),
            ],
        }
    }

    impl Owned {
        fn artifact(&self) -> ModelArtifact<'_> {
            ModelArtifact {
                layers: &self.layers,
                parameters: &self.parameters,
                input_width: 5,
                standardization: Some(&self.standardizer),
                class_names: Some(&self.class_names),
                metadata: &self.metadata,
            }
        }
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|value| value.to_bits()).collect()
    }

    /// Rewrites an exported file: `edit` gets every tensor as (name, dtype, shape, bytes)
    /// and the metadata, and may change them.
    fn rewrite(
        bytes: &[u8],
        edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>),
    ) -> Vec<u8> {
        let file = SafeTensors::deserialize(bytes).unwrap();
        let mut metadata = SafeTensors::read_metadata(bytes)
            .unwrap()
            .1
            .metadata()
            .clone()
            .unwrap();
        let mut tensors: Vec<_> = file
            .iter()
            .map(|(name, view)| {
                (
                    name.to_owned(),
                    view.dtype(),
                    view.shape().to_vec(),
                    view.data().to_vec(),
                )
            })
            .collect();
        edit(&mut tensors, &mut metadata);
        let views: Vec<_> = tensors
            .iter()
            .map(|(name, dtype, shape, data)| {
                (
                    name.clone(),
                    TensorView::new(*dtype, shape.clone(), data).unwrap(),
                )
            })
            .collect();
        ::safetensors::serialize(views, Some(metadata)).unwrap()
    }

    #[test]
    fn a_model_survives_export_and_import_bit_for_bit() {
        let model = model();
        let bytes = export(&model.artifact()).unwrap();
        let imported = import(&bytes).unwrap();

        assert_eq!(imported.layers, model.layers);
        assert_eq!(imported.input_width, 5);
        assert_eq!(imported.class_names.as_ref(), Some(&model.class_names));
        assert_eq!(imported.metadata, model.metadata);
        let standardizer = imported.standardization.as_ref().unwrap();
        assert_eq!(bits(&standardizer.mean), bits(&model.standardizer.mean));
        assert_eq!(bits(&standardizer.std), bits(&model.standardizer.std));
        assert_eq!(imported.parameters.len(), model.parameters.len());
        for (got, want) in imported.parameters.iter().zip(&model.parameters) {
            assert_eq!(got.name, want.name);
            assert_eq!(got.shape, want.shape);
            assert_eq!(bits(&got.values), bits(&want.values), "{}", got.name);
        }
        // And the imported model exports to a file that imports to the same model again.
        assert_eq!(
            import(&export(&imported.artifact()).unwrap()).unwrap(),
            imported
        );
    }

    #[test]
    fn the_file_holds_named_little_endian_f32_tensors_and_the_documented_metadata() {
        let model = model();
        let bytes = export(&model.artifact()).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let bias = file.tensor("layers.0.bias").unwrap();
        assert_eq!(bias.dtype(), Dtype::F32);
        assert_eq!(bias.shape(), [4]);
        assert_eq!(bias.data(), little_endian(&model.parameters[1].values));
        assert_eq!(file.tensor(STANDARDIZATION_STD).unwrap().shape(), [5]);
        assert!(file.tensor("layers.1.layers.1.bias").is_err());

        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = header.metadata().as_ref().unwrap();
        assert_eq!(metadata["format"], "trainyard");
        assert_eq!(metadata["format_version"], "1");
        assert_eq!(metadata["input_width"], "5");
        assert_eq!(
            metadata["class_names"],
            r#"["setosa","versicolor","virginica"]"#
        );
        assert_eq!(metadata["job_id"], "0190-abc");
        let architecture: Value = serde_json::from_str(&metadata["architecture"]).unwrap();
        assert_eq!(architecture["layers"][1]["type"], "residual");
        assert_eq!(architecture["layers"][3]["activation"], "softmax");
    }

    #[test]
    fn a_model_without_standardization_or_class_names_round_trips() {
        let layers = vec![dense(2, Activation::Tanh, true)];
        let parameters = parameters(&layers, 3);
        let artifact = ModelArtifact {
            layers: &layers,
            parameters: &parameters,
            input_width: 3,
            standardization: None,
            class_names: None,
            metadata: &[],
        };
        let imported = import(&export(&artifact).unwrap()).unwrap();
        assert_eq!(imported.standardization, None);
        assert_eq!(imported.class_names, None);
        assert_eq!(imported.metadata, vec![]);
        assert_eq!(imported.layers, layers);
    }

    #[test]
    fn export_refuses_parameters_that_do_not_fit_the_architecture() {
        let mut model = model();
        model.parameters.remove(0);
        assert_eq!(
            export(&model.artifact()),
            Err(ExportError::Artifact(ArtifactError::MissingTensor {
                name: "layers.0.kernel".into(),
                shape: vec![5, 4],
            }))
        );
    }

    #[test]
    fn import_refuses_tensors_that_do_not_fit_and_names_them() {
        let bytes = export(&model().artifact()).unwrap();
        let four_floats = little_endian(&[1.0; 4]);
        type Edit = Box<dyn FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)>;
        let cases: Vec<(Edit, ImportError)> = vec![
            (
                Box::new(|tensors| tensors.retain(|t| t.0 != "layers.1.layers.0.beta")),
                ArtifactError::MissingTensor {
                    name: "layers.1.layers.0.beta".into(),
                    shape: vec![4],
                }
                .into(),
            ),
            (
                Box::new(move |tensors| {
                    tensors.push((
                        "layers.9.kernel".into(),
                        Dtype::F32,
                        vec![2, 2],
                        four_floats,
                    ))
                }),
                ArtifactError::UnexpectedTensor {
                    name: "layers.9.kernel".into(),
                }
                .into(),
            ),
            (
                Box::new(|tensors| {
                    for tensor in tensors.iter_mut().filter(|t| t.0 == "layers.3.kernel") {
                        tensor.2 = vec![3, 4];
                    }
                }),
                ArtifactError::ShapeMismatch {
                    name: "layers.3.kernel".into(),
                    expected: vec![4, 3],
                    found: vec![3, 4],
                }
                .into(),
            ),
            (
                Box::new(|tensors| {
                    for tensor in tensors.iter_mut().filter(|t| t.0 == "layers.0.bias") {
                        tensor.1 = Dtype::I32;
                    }
                }),
                ImportError::WrongDtype {
                    name: "layers.0.bias".into(),
                    dtype: "I32".into(),
                },
            ),
            (
                Box::new(|tensors| {
                    for tensor in tensors.iter_mut().filter(|t| t.0 == "layers.0.bias") {
                        tensor.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
                    }
                }),
                ImportError::NonFinite {
                    name: "layers.0.bias".into(),
                },
            ),
            (
                Box::new(|tensors| tensors.retain(|t| t.0 != STANDARDIZATION_STD)),
                ImportError::HalfStandardization {
                    name: STANDARDIZATION_STD,
                    present: STANDARDIZATION_MEAN,
                },
            ),
            (
                Box::new(|tensors| {
                    for tensor in tensors.iter_mut().filter(|t| t.0 == STANDARDIZATION_STD) {
                        tensor.3[..4].copy_from_slice(&0.0f32.to_le_bytes());
                    }
                }),
                ImportError::NonPositiveStd {
                    name: STANDARDIZATION_STD.into(),
                },
            ),
            (
                Box::new(|tensors| {
                    for tensor in tensors.iter_mut().filter(|t| t.0 == STANDARDIZATION_MEAN) {
                        tensor.2 = vec![1, 5];
                    }
                }),
                ArtifactError::ShapeMismatch {
                    name: STANDARDIZATION_MEAN.into(),
                    expected: vec![5],
                    found: vec![1, 5],
                }
                .into(),
            ),
        ];
        for (edit, expected) in cases {
            let edited = rewrite(&bytes, |tensors, _| edit(tensors));
            assert_eq!(import(&edited), Err(expected));
        }
    }

    #[test]
    fn import_refuses_files_whose_metadata_is_not_a_trainyard_model() {
        let bytes = export(&model().artifact()).unwrap();
        type Edit = Box<dyn FnOnce(&mut HashMap<String, String>)>;
        let cases: Vec<(Edit, ImportError)> = vec![
            (
                Box::new(|metadata| {
                    metadata.remove("format");
                }),
                ImportError::NotTrainyard,
            ),
            (
                Box::new(|metadata| {
                    metadata.insert("format_version".into(), "2".into());
                }),
                ImportError::UnsupportedVersion { found: "2".into() },
            ),
            (
                Box::new(|metadata| {
                    metadata.remove("input_width");
                }),
                ImportError::MissingMetadata { key: "input_width" },
            ),
            (
                Box::new(|metadata| {
                    metadata.insert("input_width".into(), "6".into());
                }),
                ArtifactError::ShapeMismatch {
                    name: STANDARDIZATION_MEAN.into(),
                    expected: vec![6],
                    found: vec![5],
                }
                .into(),
            ),
            (
                Box::new(|metadata| {
                    metadata.insert(
                        "architecture".into(),
                        r#"{"layers": [{"type": "dense", "units": -3}]}"#.into(),
                    );
                }),
                ImportError::Architecture(ArchitectureError {
                    path: "layers[0].units".into(),
                    message: "must be a positive integer".into(),
                }),
            ),
        ];
        for (edit, expected) in cases {
            let edited = rewrite(&bytes, |_, metadata| edit(metadata));
            assert_eq!(import(&edited), Err(expected));
        }

        let invalid_json = rewrite(&bytes, |_, metadata| {
            metadata.insert("class_names".into(), "[1, 2]".into());
        });
        assert!(matches!(
            import(&invalid_json),
            Err(ImportError::InvalidMetadata {
                key: "class_names",
                ..
            })
        ));
    }

    #[test]
    fn import_refuses_bytes_that_are_not_safetensors() {
        for bytes in [
            &b""[..],
            b"\x02\0\0\0\0\0\0\0[]",
            b"\xff\xff\xff\xff\xff\xff\xff\xffxx",
        ] {
            assert!(matches!(import(bytes), Err(ImportError::Unreadable(_))));
        }
        // A well-formed safetensors file without trainyard metadata.
        assert_eq!(
            import(b"\x02\0\0\0\0\0\0\0{}"),
            Err(ImportError::NotTrainyard)
        );
        let bytes = export(&model().artifact()).unwrap();
        assert!(matches!(
            import(&bytes[..bytes.len() - 1]),
            Err(ImportError::Unreadable(_))
        ));
    }
}
