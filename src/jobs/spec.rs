//! `JobSpec`: the job spec users write (API.md "Jobs"), read strictly from a
//! `serde_json::Value` with every default filled in.
//!
//! A spec has six parts, each in its own file: `data`, `architecture`, `initializer`,
//! `optimizer`, `schedule` and `training`, plus an optional `name`. Reading never stops at the
//! first problem: every unknown field, wrong type, out-of-range number and unknown name is
//! reported as a [`FieldError`] with its JSON path (`architecture.layers[2].units`). Rules that
//! relate two parts, or a part and the data, are checked afterwards by `jobs::validate`, which
//! also turns the spec into a `train::Plan`.
//!
//! The resolved spec ([`JobSpec::to_json`]) writes every default out, with the Keras names,
//! and reads back to the same `JobSpec`.

pub mod architecture;
pub mod data;
pub mod initializer;
pub mod optimizer;
pub mod read;
pub mod schedule;
pub mod training;

use serde_json::{Value, json};
use std::fmt;

use architecture::ArchitectureSpec;
use data::DataSpec;
use initializer::InitializerSpec;
use optimizer::OptimizerSpec;
use read::{Errors, Object, string};
use schedule::ScheduleSpec;
use training::TrainingSpec;

/// Longest job name.
pub const MAX_NAME_CHARS: usize = 200;

/// One problem with a spec: where, which rule, and the offending value when it is a scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// JSON path such as `optimizer.momentum` or `architecture.layers[2].units`; empty for the
    /// body itself.
    pub path: String,
    /// The rule and the value, e.g. `must be in [0, 1], got 1.5`.
    pub message: String,
    pub value: Option<Value>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} {}", self.path, self.message)
        }
    }
}

/// A complete spec with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: Option<String>,
    pub data: DataSpec,
    pub architecture: ArchitectureSpec,
    pub initializer: InitializerSpec,
    pub optimizer: OptimizerSpec,
    pub schedule: ScheduleSpec,
    pub training: TrainingSpec,
}

/// The parts that read without error (`None` for a part with errors), so that rules across
/// parts can still be checked on the valid ones and reported together with the field errors.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub name: Option<String>,
    pub data: Option<DataSpec>,
    pub architecture: Option<ArchitectureSpec>,
    pub initializer: Option<InitializerSpec>,
    pub optimizer: Option<OptimizerSpec>,
    pub schedule: Option<ScheduleSpec>,
    pub training: Option<TrainingSpec>,
}

impl Parts {
    /// The whole spec, when every part read cleanly.
    pub fn complete(self) -> Option<JobSpec> {
        Some(JobSpec {
            name: self.name,
            data: self.data?,
            architecture: self.architecture?,
            initializer: self.initializer?,
            optimizer: self.optimizer?,
            schedule: self.schedule?,
            training: self.training?,
        })
    }
}

/// Reads every part of `body`, recording each problem in `errors`.
pub fn read_parts(body: &Value, errors: &mut Errors) -> Parts {
    let Some(mut object) = Object::open(body, "", errors) else {
        return Parts::default();
    };
    let name = object
        .field("name")
        .and_then(|value| string(value, "name", MAX_NAME_CHARS, errors))
        .map(str::to_string);
    let data = object
        .required("data", errors)
        .and_then(|value| data::parse(value, "data", errors));
    let architecture = object
        .required("architecture", errors)
        .and_then(|value| architecture::parse(value, "architecture", errors));
    let initializer = match object.field("initializer") {
        Some(value) => initializer::parse(value, "initializer", errors),
        None => Some(InitializerSpec::default()),
    };
    let optimizer = match object.field("optimizer") {
        Some(value) => optimizer::parse(value, "optimizer", errors),
        None => Some(OptimizerSpec::default()),
    };
    let schedule = match object.field("schedule") {
        Some(value) => schedule::parse(value, "schedule", errors),
        None => Some(ScheduleSpec::default()),
    };
    let training = object
        .required("training", errors)
        .and_then(|value| training::parse(value, "training", errors));
    object.finish(errors);
    Parts {
        name,
        data,
        architecture,
        initializer,
        optimizer,
        schedule,
        training,
    }
}

/// Reads `body` into a [`JobSpec`], or every field error found. Rules across parts are not
/// checked here (see `jobs::validate::validate`).
pub fn parse(body: &Value) -> Result<JobSpec, Vec<FieldError>> {
    let mut errors = Errors::default();
    let parts = read_parts(body, &mut errors);
    match parts.complete() {
        Some(spec) if errors.count() == 0 => Ok(spec),
        _ => Err(errors.into_vec()),
    }
}

impl JobSpec {
    /// The resolved spec as JSON, every default written out.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "data": self.data.to_json(),
            "architecture": self.architecture.to_json(),
            "initializer": self.initializer.to_json(),
            "optimizer": self.optimizer.to_json(),
            "schedule": self.schedule.to_json(),
            "training": self.training.to_json(),
        })
    }
}

#[cfg(test)]
mod openapi_tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::architecture::{ACTIVATIONS, KERNEL_INITIALIZERS, MAX_LAYERS, MAX_UNITS};
    use super::read::names;
    use super::schedule::SCHEDULE_UNITS;
    use super::training::{LOSSES, METRICS};
    use super::*;

    /// The enumeration at `pointer` under `components.schemas`, as a set.
    fn enumeration<'a>(schemas: &'a Value, pointer: &str) -> BTreeSet<&'a str> {
        schemas
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("openapi.yaml has no enum at {pointer}"))
            .iter()
            .map(|name| name.as_str().expect("an enum of names"))
            .collect()
    }

    /// The names and limits `openapi.yaml` documents for a job spec are those the spec reader
    /// accepts, aliases included, so that a client generated from it neither refuses a spec
    /// the server takes nor sends a name the server rejects.
    #[test]
    fn openapi_yaml_names_what_the_spec_reader_accepts() {
        let document: Value = serde_saphyr::from_str(include_str!("../../openapi.yaml"))
            .expect("openapi.yaml parses");
        let schemas = &document["components"]["schemas"];
        let checks = [
            (
                "/JobSpec/properties/data/properties/type/enum",
                data::source_types(),
            ),
            ("/Activation/oneOf/0/enum", names(ACTIVATIONS)),
            (
                "/Activation/oneOf/1/properties/type/enum",
                names(ACTIVATIONS),
            ),
            (
                "/KernelInitializer/oneOf/0/enum",
                names(KERNEL_INITIALIZERS),
            ),
            (
                "/KernelInitializer/oneOf/1/properties/type/enum",
                names(KERNEL_INITIALIZERS),
            ),
            (
                "/JobSpec/properties/training/properties/loss/enum",
                names(LOSSES),
            ),
            (
                "/JobSpec/properties/training/properties/metrics/items/enum",
                names(METRICS),
            ),
            ("/Initializer/oneOf/0/enum", initializer::names()),
            (
                "/Initializer/oneOf/1/properties/type/enum",
                initializer::names(),
            ),
            (
                "/Optimizer/properties/type/enum",
                optimizer::optimizer_types(),
            ),
            ("/Schedule/properties/type/enum", schedule::schedule_types()),
            ("/Schedule/properties/unit/enum", names(SCHEDULE_UNITS)),
        ];
        for (pointer, accepted) in checks {
            let accepted: BTreeSet<&str> = accepted.into_iter().collect();
            assert_eq!(enumeration(schemas, pointer), accepted, "{pointer}");
        }
        // One variant of `Layer` per layer type, each naming its type as a constant.
        let variants = schemas["Layer"]["oneOf"]
            .as_array()
            .expect("Layer's variants");
        let layer_types: BTreeSet<&str> = variants
            .iter()
            .map(|variant| {
                variant["properties"]["type"]["const"]
                    .as_str()
                    .expect("a type")
            })
            .collect();
        let accepted: BTreeSet<&str> = architecture::layer_types().into_iter().collect();
        assert_eq!(layer_types, accepted);
        let limit = |pointer: &str| schemas.pointer(pointer).and_then(Value::as_u64);
        assert_eq!(
            limit("/JobSpec/properties/name/maxLength"),
            Some(MAX_NAME_CHARS as u64)
        );
        assert_eq!(
            limit("/JobSpec/properties/architecture/properties/layers/maxItems"),
            Some(MAX_LAYERS as u64)
        );
        assert_eq!(
            limit("/Layer/oneOf/0/properties/units/maximum"),
            Some(MAX_UNITS)
        );
    }
}
