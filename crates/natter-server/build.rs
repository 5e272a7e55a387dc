//! Rebuilds the server when the web client's build output changes, so that a
//! release binary always embeds the current client.

fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
