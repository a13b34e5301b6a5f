//! The example job specs (`examples/*.json`) and descent requests (`examples/descent/*.json`),
//! embedded at build time by `build.rs` as `(file stem, text)` pairs sorted by name.

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// The text of the job example named `name`.
pub fn job_example(name: &str) -> Option<&'static str> {
    JOB_EXAMPLES
        .iter()
        .find(|(stem, _)| *stem == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_in_the_folder_is_embedded_and_parses() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let on_disk = std::fs::read_dir(folder)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count();
        assert_eq!(JOB_EXAMPLES.len(), on_disk);
        for (name, text) in JOB_EXAMPLES.iter().chain(DESCENT_EXAMPLES) {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(job_example("xor-inline").is_some());
        assert!(job_example("no-such-example").is_none());
    }
}
