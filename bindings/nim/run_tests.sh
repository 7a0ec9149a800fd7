#!/usr/bin/env bash
# Builds and runs the Nim binding's test suite, the C cross-language helper
# and the Nim example (linked both ways). Run from anywhere; works from the
# repo root. Prints "N passed, M failed" last and exits non-zero on failure.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

if ! command -v nim >/dev/null 2>&1; then
    apt-get update && apt-get install -y nim || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! command -v cc >/dev/null 2>&1; then
    apt-get update && apt-get install -y gcc || { echo "0 passed, 1 failed"; exit 1; }
fi

scripts/build.sh || { echo "0 passed, 1 failed"; exit 1; }

out="$repo/target/nim"
mkdir -p "$out"
lib="$repo/target/release"
nimflags=(--threads:on --mm:orc --hints:off --verbosity:0)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  [OK] $1"; }
failnow() { failed=$((failed + 1)); echo "  [FAILED] $1"; }

# The C side of the cross-language test: strict flags, against the header.
if cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$repo/include" \
      "$repo/bindings/nim/tests/xlang.c" -L"$lib" -lpersistency -Wl,-rpath,"$lib" \
      -o "$out/xlang"; then
    pass "xlang.c compiles with -Wall -Wextra -Werror -pedantic"
else
    failnow "xlang.c compiles with -Wall -Wextra -Werror -pedantic"
fi

# The suite (std unittest).
if nim c "${nimflags[@]}" --nimcache:"$out/nimcache-tests" -o:"$out/test_persistency" \
       "$repo/bindings/nim/tests/test_persistency.nim"; then
    PERSISTENCY_XLANG_C="$out/xlang" "$out/test_persistency" 2>&1 | tee "$out/test_output.txt"
    suite_rc=${PIPESTATUS[0]}
    ok=$(grep -c '\[OK\]' "$out/test_output.txt")
    bad=$(grep -c '\[FAILED\]' "$out/test_output.txt")
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$suite_rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        failnow "test_persistency exited with status $suite_rc"
    fi
else
    failnow "test_persistency compiles"
fi

# The example, linked with --passL (default) and loaded with dynlib.
if nim c "${nimflags[@]}" --path:"$repo/bindings/nim" --nimcache:"$out/nimcache-ex" \
       -o:"$out/quickstart" "$repo/examples/nim/quickstart.nim" &&
   "$out/quickstart" "$out/quickstart-root" | grep -q '^after close: peClosed$'; then
    pass "examples/nim/quickstart (linked with -lpersistency)"
else
    failnow "examples/nim/quickstart (linked with -lpersistency)"
fi
if nim c "${nimflags[@]}" --path:"$repo/bindings/nim" --nimcache:"$out/nimcache-dl" \
       -d:persistencyDynlib -d:persistencyLib="$lib/libpersistency.so" \
       -o:"$out/quickstart-dynlib" "$repo/examples/nim/quickstart.nim" &&
   "$out/quickstart-dynlib" "$out/quickstart-root" | grep -q '^after close: peClosed$'; then
    pass "examples/nim/quickstart (loaded with dynlib)"
else
    failnow "examples/nim/quickstart (loaded with dynlib)"
fi

echo "nim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
