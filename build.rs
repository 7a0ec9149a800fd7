//! Generates the C header from the Rust sources with cbindgen into
//! `$OUT_DIR/persistency.h`, and gives the shared library its ELF identity.
//!
//! Nothing is written into the source tree: `scripts/gen-header.sh` copies
//! the generated header to the checked-in `include/persistency.h`, and
//! `scripts/gen-header.sh --check` (run by `scripts/test.sh`) fails when the
//! two differ.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    if env::var_os("CARGO_FEATURE_BUNDLED").is_some()
        && env::var_os("CARGO_FEATURE_SYSTEM_SQLITE").is_some()
    {
        panic!("the `system-sqlite` feature needs `--no-default-features` (it replaces `bundled`)");
    }

    shared_library_link_args();
    generate_header();
}

/// ELF platforms only: the SONAME carries the ABI major version (see
/// docs/abi.md), and `-Bsymbolic` binds the library's own references to its
/// own definitions, so a host that loads another SQLite (or anything else
/// with the same symbol names) first can never interpose on them. The
/// exported set itself is rustc's: only the `#[no_mangle]` `persistency_*`
/// functions, every other symbol is local.
fn shared_library_link_args() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos"
    );
    if !elf {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpersistency.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-Bsymbolic");
}

/// The version macros of the header, from Cargo.toml's version.
fn version_macros() -> String {
    let part = |name: &str| env::var(name).expect("set by cargo");
    let (major, minor, patch) = (
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    );
    let number = major.parse::<u64>().expect("numeric major") * 1_000_000
        + minor.parse::<u64>().expect("numeric minor") * 1_000
        + patch.parse::<u64>().expect("numeric patch");
    format!(
        "
/*
 * The version of the library this header belongs to (Cargo.toml's version).
 * persistency_version() returns the version of the library actually loaded;
 * docs/abi.md says what may change between versions.
 */
#define PERSISTENCY_VERSION_MAJOR {major}
#define PERSISTENCY_VERSION_MINOR {minor}
#define PERSISTENCY_VERSION_PATCH {patch}
#define PERSISTENCY_VERSION_STRING \"{version}\"
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, for #if comparisons. */
#define PERSISTENCY_VERSION_NUMBER {number}",
        version = part("CARGO_PKG_VERSION"),
    )
}

fn generate_header() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    config.after_includes = Some(version_macros());
    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("persistency.h");
    bindings.write_to_file(&out);
}
