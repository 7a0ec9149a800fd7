#!/bin/sh
# Makes the static archive link-safe: a copy of libpersistency.a whose only
# global definitions are the persistency_* functions of the C API.
#
# The archive cargo builds holds the bundled SQLite (sqlite3_*), the Rust
# standard library and the crate's dependencies as global symbols; linked
# next to a host's own SQLite that is a duplicate-symbol failure or, worse,
# one copy silently calling the other. This script
#   1. links every member into one relocatable object (ld -r), which binds
#      the library's internal references to its own definitions, and drops
#      the LLVM sections no C linker uses, then
#   2. makes every global definition but persistency_* local (objcopy
#      --keep-global-symbols), so nothing outside can see or clash with them,
#   3. and checks the result with nm.
# References to the C library (malloc, pthread_*, ...) stay undefined and
# are resolved by the host's link as usual. docs/abi.md explains the choice.
#
# Usage: scripts/link-safe-archive.sh [IN [OUT]]
#   IN  defaults to target/release/libpersistency.a (cargo build --release)
#   OUT defaults to target/release/link-safe/libpersistency.a
# LD, OBJCOPY, NM and AR may name other binutils (for cross builds).
set -eu
cd "$(dirname "$0")/.."

in=${1:-target/release/libpersistency.a}
out=${2:-target/release/link-safe/libpersistency.a}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
NM=${NM:-nm}
AR=${AR:-ar}

[ -f "$in" ] || { echo "link-safe-archive.sh: no $in (run cargo build --release)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/persistency-archive.XXXXXX")
trap 'rm -rf "$work"' EXIT
obj=$work/persistency.o

"$LD" -r --whole-archive "$in" -o "$obj"
# rustc embeds LLVM bitcode and address-significance tables (.llvmbc,
# .llvmcmd, .llvm_addrsig) for its own LTO. C linkers never use them, the
# partial link has concatenated them into garbage, and a linker plugin of
# another LLVM version (binutils' LLVMgold, a host's -flto) can choke on them.
"$OBJCOPY" --remove-section=.llvmbc --remove-section=.llvmcmd \
    --remove-section=.llvm_addrsig "$obj"

"$NM" --defined-only -g "$obj" | awk '$NF ~ /^persistency_[a-z0-9_]+$/ { print $NF }' >"$work/keep"
[ -s "$work/keep" ] || { echo "link-safe-archive.sh: $in defines no persistency_* symbol" >&2; exit 1; }
"$OBJCOPY" --keep-global-symbols="$work/keep" "$obj"

bad=$("$NM" --defined-only -g "$obj" | awk '$NF !~ /^persistency_[a-z0-9_]+$/ || $(NF-1) != "T"')
if [ -n "$bad" ]; then
    echo "link-safe-archive.sh: global definitions other than persistency_* functions remain:" >&2
    echo "$bad" | head -n 20 >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
rm -f "$work/out.a"
"$AR" rcsD "$work/out.a" "$obj"
mv "$work/out.a" "$out"
echo "$out: $(wc -l <"$work/keep") global symbols, all persistency_*"
