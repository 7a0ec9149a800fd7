#!/bin/sh
# Builds the C artifacts in target/release: what `cargo build --release`
# makes, plus the two things cargo does not:
#   target/release/libpersistency.so.<major>   a link to libpersistency.so
#       named after its SONAME, so programs linked against target/release
#       (the C tests, the Go and Nim bindings, the quick start) run in place,
#       as they would against an installed copy;
#   target/release/link-safe/libpersistency.a  the static archive with only
#       persistency_* global symbols (scripts/link-safe-archive.sh).
# Extra arguments are passed to cargo build. Usage: scripts/build.sh
set -eu
cd "$(dirname "$0")/.."

cargo build --release "$@"

major=$(sed -n 's/^version = "\([0-9]*\)\..*"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$major" ]; then
    echo "build.sh: cannot read the version from Cargo.toml" >&2
    exit 1
fi
if [ -f target/release/libpersistency.so ]; then
    ln -sfn libpersistency.so "target/release/libpersistency.so.$major"
fi
scripts/link-safe-archive.sh target/release/libpersistency.a target/release/link-safe/libpersistency.a
