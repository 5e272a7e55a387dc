//! Prepares the embedding of the web client.
//!
//! rust-embed resolves `web/dist` when this crate compiles. If the folder does
//! not exist yet (no web build so far), a debug binary would never find the
//! files built later, so the empty folder is created here. The rerun line makes
//! a release build embed the current client whenever `web/dist` changes.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    if let Err(error) = std::fs::create_dir_all(&dist) {
        println!("cargo:warning=cannot create {}: {error}", dist.display());
    }
    println!("cargo:rerun-if-changed=../../web/dist");
}
