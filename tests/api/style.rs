//! Source layout checks. The import layout `rustfmt.toml` asks for (`group_imports = "StdExternalCrate"`,
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
        "bench/src",
        "bench/tests",
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

/// The service modules named on each line of the dependency list in `src/service/mod.rs`,
/// top line first.
fn service_layers(root: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root.join("src/service/mod.rs")).expect("read mod.rs");
    text.lines()
        .filter_map(|line| line.strip_prefix("//! - "))
        .map(|line| {
            // The module names are the backticked words outside parentheses.
            let mut names = String::new();
            let mut depth = 0_usize;
            for c in line.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    c if depth == 0 => names.push(c),
                    _ => {}
                }
            }
            names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn services_depend_one_way_as_their_module_doc_lists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layers = service_layers(root);
    let layer_of = |name: &str| layers.iter().position(|l| l.iter().any(|n| n == name));
    let mut files = Vec::new();
    rust_files(&root.join("src/service"), &mut files);
    let modules: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_stem()?.to_str().map(str::to_owned))
        .filter(|m| m != "mod")
        .collect();
    let mut uses: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let Some(this) = file.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if this == "mod" {
            continue;
        }
        let Some(own) = layer_of(this) else {
            problems.push(format!(
                "service `{this}` is missing from the list in mod.rs"
            ));
            continue;
        };
        // Code only: comments may name any module.
        let text: String = std::fs::read_to_string(file)
            .expect("read a service")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for other in modules.iter().filter(|m| m.as_str() != this) {
            // A path through the module: `other::` not preceded by a word character or `_`
            // (so `entity::task::` does not count as `tasks::`).
            let needle = format!("{other}::");
            let referenced = text.match_indices(&needle).any(|(at, _)| {
                !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if !referenced {
                continue;
            }
            uses.push((this.to_owned(), other.clone()));
            match layer_of(other) {
                Some(theirs) if theirs < own => problems.push(format!(
                    "service `{this}` uses `{other}`, which the list in mod.rs puts above it"
                )),
                _ => {}
            }
        }
    }
    for (a, b) in &uses {
        if uses.contains(&(b.clone(), a.clone())) && a < b {
            problems.push(format!("services `{a}` and `{b}` use each other"));
        }
    }
    assert!(
        layers.len() > 3,
        "no dependency list found in src/service/mod.rs"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
