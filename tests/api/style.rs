//! The import layout `rustfmt.toml` asks for (`group_imports = "StdExternalCrate"`,
//! `imports_granularity = "Crate"`), checked here because those two options need a nightly
//! rustfmt and the stable one we build with only warns about them.

use std::path::{Path, PathBuf};

/// The group of a `use` path's first segment: the standard library, other crates, this crate.
fn group(root: &str) -> u8 {
    match root {
        "std" | "core" | "alloc" => 0,
        "crate" | "super" | "self" => 2,
        // A local item (`use Expect::{...}` of an enum defined in the file).
        r if r.starts_with(char::is_uppercase) => 2,
        _ => 1,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_are_grouped_std_external_crate_and_merged_per_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "entity/src",
        "migration/src",
        "webhooks/src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        let mut last = 0;
        let mut crate_uses = 0;
        for line in text.lines() {
            // Top-level, private imports only: `pub use` re-exports are the module's API.
            let Some(path) = line.strip_prefix("use ") else {
                continue;
            };
            let first = path
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default();
            let group = group(first);
            if group < last {
                problems.push(format!("{}: `{line}` is out of its group", file.display()));
            }
            last = group;
            crate_uses += usize::from(first == "crate");
        }
        if crate_uses > 1 {
            problems.push(format!(
                "{}: {crate_uses} `use crate::` statements; merge them into one",
                file.display()
            ));
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
