//! From a validated job's `DataPlan` to the matrices `train::fit` reads: load the source
//! (built-in, generated from the job's seed, uploaded, inline), hold out validation (a split of
//! the source or a second source), and standardize with statistics of the training part only.
//!
//! Synchronous and store-free: the worker fetches uploaded datasets first and passes them in.

use std::collections::HashMap;

use super::spec::data::{Generated as GeneratedSpec, SplitRule};
use super::validate::{DataPlan, SourcePlan, ValidationPlan};
use crate::data::split::{SplitKind, split};
use crate::data::standardize::Standardizer;
use crate::data::synthetic::Generated;
use crate::data::{Dataset, builtin};

/// The data of one run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    /// Fitted on `train` and already applied to both parts; stored with the model.
    pub standardizer: Option<Standardizer>,
}

/// Uploaded datasets a plan names, fetched from the store.
pub fn uploaded_ids(plan: &DataPlan) -> Vec<String> {
    let mut ids = Vec::new();
    if let SourcePlan::Dataset { id } = &plan.source {
        ids.push(id.clone());
    }
    if let ValidationPlan::Source(SourcePlan::Dataset { id }) = &plan.validation
        && !ids.contains(id)
    {
        ids.push(id.clone());
    }
    ids
}

/// The data layer's generator for a spec's `generated` source.
fn generator(spec: &GeneratedSpec) -> Generated {
    match *spec {
        GeneratedSpec::Blobs {
            samples,
            features,
            classes,
            center_std,
            cluster_std,
        } => Generated::Blobs {
            samples,
            features,
            classes,
            center_std,
            cluster_std,
        },
        GeneratedSpec::Xor { samples, noise } => Generated::Xor { samples, noise },
        GeneratedSpec::Moons { samples, noise } => Generated::Moons { samples, noise },
        GeneratedSpec::Circles {
            samples,
            noise,
            factor,
        } => Generated::Circles {
            samples,
            noise,
            factor,
        },
        GeneratedSpec::Spirals {
            samples,
            noise,
            classes,
            turns,
        } => Generated::Spirals {
            samples,
            noise,
            classes,
            turns,
        },
    }
}

fn load(
    source: &SourcePlan,
    seed: u64,
    uploads: &HashMap<String, Dataset>,
) -> Result<Dataset, String> {
    match source {
        SourcePlan::Builtin(which) => builtin::load(which.name())
            .map(|shared| (*shared).clone())
            .ok_or_else(|| format!("the built-in dataset {} failed to load", which.name())),
        SourcePlan::Generated(spec) => generator(spec)
            .generate(seed)
            .map_err(|e| format!("generating {}: {e}", spec.name())),
        SourcePlan::Dataset { id } => uploads
            .get(id)
            .cloned()
            .ok_or_else(|| format!("dataset {id} is no longer stored")),
        SourcePlan::Inline(dataset) => Ok(dataset.clone()),
    }
}

/// Loads, splits and standardizes; the error says which step failed.
pub fn prepare(
    plan: &DataPlan,
    seed: u64,
    uploads: &HashMap<String, Dataset>,
) -> Result<Prepared, String> {
    let source = load(&plan.source, seed, uploads)?;
    let (mut train, mut validation) = match &plan.validation {
        ValidationPlan::None => (source, None),
        ValidationPlan::Split { fraction, rule } => {
            let kind = match rule {
                SplitRule::Stratified => SplitKind::Stratified,
                SplitRule::Tail => SplitKind::Tail,
            };
            let (train, validation) =
                split(&source, *fraction, kind, seed).map_err(|e| e.to_string())?;
            (train, Some(validation))
        }
        ValidationPlan::Source(second) => (source, Some(load(second, seed, uploads)?)),
    };
    let standardizer = if plan.standardize {
        let standardizer = Standardizer::fit(train.features.view());
        standardizer
            .apply(&mut train.features)
            .map_err(|e| e.to_string())?;
        if let Some(validation) = validation.as_mut() {
            standardizer
                .apply(&mut validation.features)
                .map_err(|e| format!("validation data: {e}"))?;
        }
        Some(standardizer)
    } else {
        None
    };
    Ok(Prepared {
        train,
        validation,
        standardizer,
    })
}
