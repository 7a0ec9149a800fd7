//! Generates `include/persistency.h` from the Rust sources with cbindgen.
//! The header is checked in; CI rebuilds and fails if it changed.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some()
        && std::env::var_os("CARGO_FEATURE_SYSTEM_SQLITE").is_some()
    {
        panic!("the `system-sqlite` feature needs `--no-default-features` (it replaces `bundled`)");
    }

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let header = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let mut out = Vec::new();
            bindings.write(&mut out);
            out
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let path = crate_dir.join("include").join("persistency.h");
    // Write only on change so an unchanged header keeps its timestamp.
    if std::fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create include/");
        std::fs::write(&path, header).expect("write include/persistency.h");
    }
}
