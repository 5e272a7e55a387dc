//! Architecture invariants that are about the code itself (docs/ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source dir")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_server_reaches_storage_and_the_bus_only_through_traits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("manifest");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10, "found the sources");
    // The backends are chosen by name (`natter_store::open_postgres`,
    // `natter_bus::RedisBus`), but their crates are never used directly.
    for (package, path) in [
        ("rusqlite", "rusqlite"),
        ("tokio-postgres", "tokio_postgres"),
        ("deadpool", "deadpool_postgres"),
        ("redis", "redis"),
    ] {
        assert!(
            !manifest
                .lines()
                .any(|line| line.trim_start().starts_with(package)),
            "natter-server depends on {package}"
        );
        for file in &files {
            let text = std::fs::read_to_string(file).expect("source");
            for usage in [format!("{path}::"), format!("use {path}")] {
                let used = text.match_indices(&usage).any(|(at, _)| {
                    // `natter_store::postgres::` is fine; `redis::` alone is not.
                    !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                });
                assert!(!used, "{} uses {path}", file.display());
            }
        }
    }
}

#[test]
fn the_protocol_crate_does_no_io() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../natter-protocol/Cargo.toml"),
    )
    .expect("protocol manifest");
    for forbidden in [
        "tokio",
        "axum",
        "reqwest",
        "rusqlite",
        "hyper",
        "tungstenite",
    ] {
        assert!(
            !manifest.contains(forbidden),
            "natter-protocol depends on {forbidden}"
        );
    }
}
