//! Rebuild when a migration changes: `sqlx::migrate!` embeds the files at compile time, and
//! cargo would not otherwise notice a new `.sql` file.
//!
//! The dashboard offers every `examples/*.json` job spec and `examples/descent/*.json` descent
//! request: this script lists them into `$OUT_DIR/examples.rs` as `include_str!`s, so a new
//! example file is embedded without editing code and nothing is read from the source tree at
//! run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=examples");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let mut code = String::new();
    for (constant, folder) in [
        ("JOB_EXAMPLES", manifest.join("examples")),
        (
            "DESCENT_EXAMPLES",
            manifest.join("examples").join("descent"),
        ),
    ] {
        writeln!(code, "pub const {constant}: &[(&str, &str)] = &[").expect("a string");
        for (name, path) in json_files(&folder) {
            writeln!(code, "    ({name:?}, include_str!({:?})),", path.display())
                .expect("a string");
        }
        writeln!(code, "];").expect("a string");
    }
    std::fs::write(out.join("examples.rs"), code).expect("OUT_DIR is writable");
}

/// `(file stem, path)` of every `.json` file directly in `folder`, sorted by name.
fn json_files(folder: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .filter_map(|path| {
                    let stem = path.file_stem()?.to_str()?.to_owned();
                    Some((stem, path))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
