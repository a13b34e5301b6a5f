//! The example job specs (`examples/*.json`) and descent requests (`examples/descent/*.json`),
//! embedded at build time with `include_str!` as `(file stem, text)` pairs sorted by name; a
//! test checks that the lists name every file of the folders.

/// `(stem, text)` of `examples/{path}.json`.
macro_rules! example {
    ($path:literal) => {
        (
            stem($path),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/",
                $path,
                ".json"
            )),
        )
    };
}

/// The file name after the last `/`.
const fn stem(path: &'static str) -> &'static str {
    let bytes = path.as_bytes();
    let mut start = bytes.len();
    while start > 0 && bytes[start - 1] != b'/' {
        start -= 1;
    }
    let (_, name) = path.split_at(start);
    name
}

pub const JOB_EXAMPLES: &[(&str, &str)] = &[
    example!("dbn-baseline-random-init-deep-sigmoid"),
    example!("dbn-pretraining-deep-sigmoid"),
    example!("initializer-glorot-normal"),
    example!("initializer-glorot-uniform"),
    example!("initializer-he-normal"),
    example!("initializer-he-uniform"),
    example!("iris-batch-gradient-descent"),
    example!("iris-keras-sgd-momentum-piecewise"),
    example!("iris-minibatch-gradient-descent"),
    example!("iris-stochastic-gradient-descent"),
    example!("moons-generated-adam"),
    example!("optimizer-adam"),
    example!("optimizer-rmsprop"),
    example!("optimizer-sgd"),
    example!("optimizer-sgd-momentum"),
    example!("overfitting-fix-augmentation"),
    example!("overfitting-fix-dropout"),
    example!("overfitting-fix-l2"),
    example!("overfitting-wide-net"),
    example!("schedule-cosine-decay"),
    example!("schedule-exponential-decay"),
    example!("schedule-piecewise-constant-decay"),
    example!("schedule-polynomial-decay"),
    example!("vanishing-gradients-fix-relu-he-batchnorm"),
    example!("vanishing-gradients-fix-residual"),
    example!("vanishing-gradients-sigmoid-20-layers"),
    example!("xor-inline"),
];

pub const DESCENT_EXAMPLES: &[(&str, &str)] = &[
    example!("descent/learning-rate-0.01-creeps"),
    example!("descent/learning-rate-0.1-converges"),
    example!("descent/learning-rate-0.5-diverges"),
];

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

    fn stems(folder: &str) -> Vec<String> {
        let mut stems: Vec<String> =
            std::fs::read_dir(format!("{}/examples/{folder}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|x| x == "json"))
                .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
        stems.sort();
        stems
    }

    #[test]
    fn every_example_file_is_embedded_in_order_and_parses() {
        for (list, folder) in [(JOB_EXAMPLES, ""), (DESCENT_EXAMPLES, "descent")] {
            let embedded: Vec<String> = list.iter().map(|(s, _)| (*s).to_owned()).collect();
            assert_eq!(
                embedded,
                stems(folder),
                "add new examples/{folder} files to the list"
            );
            for (name, text) in list {
                serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        assert!(job_example("xor-inline").is_some());
        assert!(job_example("no-such-example").is_none());
    }
}
