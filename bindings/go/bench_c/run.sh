#!/bin/sh
# Builds and runs the C-ABI twin of the Go benchmarks (run from anywhere,
# after `scripts/build.sh`). Arguments: [n_puts [n_gets]].
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${TMPDIR:-/tmp}/persistency-bench-c
cc -O2 -std=c99 -Wall -Wextra -Wpedantic -Werror -I"$repo/include" "$here/bench.c" \
    -L"$repo/target/release" -lpersistency -Wl,-rpath,"$repo/target/release" -lpthread -o "$out"
exec "$out" "$@"
