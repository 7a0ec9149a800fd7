#!/usr/bin/env bash
# The C test driver of libpersistency. Run from anywhere:  tests/c/run.sh
#
# Builds the library (cargo build --release), checks the header (C99, C++,
# double include), the API surface against API.md, the exported symbols,
# builds the C test programs and runs each under valgrind, then installs
# into a temporary prefix and builds the quick start through pkg-config.
# Prints one line per test case and ends with "N passed, M failed"; exits
# non-zero if anything failed.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=$ROOT/tests/c/build
SRC=$ROOT/tests/c
LIBDIR=$ROOT/target/release
CFLAGS=(-std=c99 -Wall -Wextra -Wpedantic -Werror -pthread)
CXXFLAGS=(-x c++ -Wall -Wextra -Werror -pedantic)
LINK=(-L"$LIBDIR" -lpersistency -Wl,-rpath,"$LIBDIR")
VALGRIND=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1)
PROGRAMS=(test_lifecycle test_global test_ops test_keys test_args test_concurrency test_maintenance)

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "not ok - $1"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# Runs a command as test case $1, quietly; shows its output if it fails.
check() {
    local name=$1 log
    shift
    log=$(mktemp "$SCRATCH/log.XXXXXX")
    if "$@" >"$log" 2>&1; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/    /' "$log" | tail -n 40
    fi
}

# ---- tools --------------------------------------------------------------
missing=()
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
    [ "$(id -u)" -eq 0 ] || apt=(sudo "${apt[@]}")
    echo "installing ${missing[*]}"
    "${apt[@]}" update -qq && "${apt[@]}" install -y -qq "${missing[@]}" >/dev/null ||
        { echo "cannot install ${missing[*]}" >&2; exit 1; }
fi

mkdir -p "$BUILD"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/persistency-c.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

# ---- the library ----------------------------------------------------------
if ! cargo build --release; then
    fail "cargo build --release"
    finish
fi
pass "cargo build --release"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

# ---- the header -------------------------------------------------------------
check "header compiles alone as C99" \
    cc "${CFLAGS[@]}" -I include -c "$SRC/header_only.c" -o "$BUILD/header_only.o"
check "header compiles twice as C99 (include guard)" \
    cc "${CFLAGS[@]}" -I include -c "$SRC/header_twice.c" -o "$BUILD/header_twice.o"
check "header compiles alone as C++" \
    g++ "${CXXFLAGS[@]}" -I include -c "$SRC/header_only.c" -o "$BUILD/header_only_cxx.o"
check "header compiles twice as C++ (include guard)" \
    g++ "${CXXFLAGS[@]}" -I include -c "$SRC/header_twice.c" -o "$BUILD/header_twice_cxx.o"
check "api_surface.c: header matches API.md" \
    cc "${CFLAGS[@]}" -I include "$SRC/api_surface.c" "${LINK[@]}" -o "$BUILD/api_surface"
check "api_surface runs" "$BUILD/api_surface"

# ---- exported symbols ---------------------------------------------------------
# Every defined dynamic symbol must be a persistency_* function: no bundled
# SQLite, no Rust internals, no linker symbols (none appear today; any that
# appears later must be looked at, not waved through).
exports() {
    local syms bad
    syms=$(nm -D --defined-only "$LIBDIR/libpersistency.so") || return 1
    [ -n "$syms" ] || { echo "no exported symbols"; return 1; }
    bad=$(echo "$syms" | awk '$NF !~ /^persistency_[a-z0-9_]+$/ || $(NF-1) != "T"')
    if [ -n "$bad" ]; then
        echo "unexpected exports:"
        echo "$bad"
        return 1
    fi
    echo "$(echo "$syms" | wc -l) exports, all persistency_*"
}
check "libpersistency.so exports only persistency_* functions" exports

# ---- the C tests under valgrind ------------------------------------------------
check "key vectors generated from tests/data/keys.json" \
    python3 "$SRC/gen_key_vectors.py" tests/data/keys.json "$BUILD/key_vectors.h"

built=()
for prog in "${PROGRAMS[@]}"; do
    if check "build $prog" cc "${CFLAGS[@]}" -I include -I "$BUILD" \
        -DPERSISTENCY_EXPECTED_VERSION="\"$VERSION\"" \
        "$SRC/$prog.c" "$SRC/harness.c" "${LINK[@]}" -o "$BUILD/$prog"; then
        built+=("$prog")
    fi
done

RUNDIR=$SCRATCH/run
mkdir -p "$RUNDIR"
for prog in ${built[@]+"${built[@]}"}; do
    vlog=$BUILD/$prog.valgrind.log
    out=$BUILD/$prog.out
    (cd "$RUNDIR" && TMPDIR=$SCRATCH timeout 600 "${VALGRIND[@]}" --log-file="$vlog" \
        "$BUILD/$prog" >"$out" 2>"$BUILD/$prog.stderr")
    rc=$?
    plan=0
    reported=0
    while IFS= read -r line; do
        case $line in
        1..*) plan=${line#1..} ;;
        "ok - "*) pass "${line#ok - }"; reported=$((reported + 1)) ;;
        "not ok - "*) fail "${line#not ok - }"; reported=$((reported + 1)) ;;
        esac
    done <"$out"
    if [ "$plan" -eq 0 ] || [ "$reported" -ne "$plan" ]; then
        fail "$prog: $reported of $plan planned tests reported (crashed or hung?)"
    fi
    if grep -q '^not ok' "$out"; then
        sed 's/^/    /' "$BUILD/$prog.stderr"
    fi
    if [ "$rc" -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$vlog" &&
        ! grep -q "definitely lost: [1-9]" "$vlog"; then
        pass "$prog: clean under valgrind (0 errors, 0 bytes definitely lost)"
    else
        fail "$prog: exit status $rc under valgrind (log: $vlog)"
        grep -E "ERROR SUMMARY|definitely lost|Invalid|uninitialised" "$vlog" | head -n 20 | sed 's/^/    /'
        tail -n 5 "$BUILD/$prog.stderr" | sed 's/^/    /'
    fi
done

# ---- install + pkg-config --------------------------------------------------------
PREFIX=$SCRATCH/prefix
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
check "scripts/install.sh into a temporary prefix" scripts/install.sh "$PREFIX"

installed() {
    local f
    for f in lib/libpersistency.so lib/libpersistency.a include/persistency.h \
        lib/pkgconfig/persistency.pc; do
        [ -f "$PREFIX/$f" ] || { echo "missing $PREFIX/$f"; return 1; }
    done
    [ "$(pkg-config --modversion persistency)" = "$VERSION" ] || return 1
    grep -q -- "-lpthread -ldl -lm" <<<"$(pkg-config --static --libs persistency)"
}
check "installed files and persistency.pc" installed

# Functions that cd run in a subshell: ( ... ).
quickstart_shared() (
    local qs=$SCRATCH/quickstart dir=$SCRATCH/qs-shared deps
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    cc "${CFLAGS[@]}" examples/quickstart.c $(pkg-config --cflags --libs persistency) \
        -Wl,-rpath,"$PREFIX/lib" -o "$qs" || return 1
    deps=$(ldd "$qs") || return 1
    grep -qF "$PREFIX/lib/libpersistency.so" <<<"$deps" || { echo "$deps"; return 1; }
    mkdir -p "$dir" && cd "$dir" || return 1
    "${VALGRIND[@]}" -q "$qs" || return 1
    [ -f data/quickstart.db ] || { echo "no ./data/quickstart.db"; return 1; }
)
check "quickstart built with pkg-config runs (shared, valgrind)" quickstart_shared

quickstart_static() (
    local qs=$SCRATCH/quickstart-static dir=$SCRATCH/qs-static libs deps
    libs=$(pkg-config --static --libs persistency) || return 1
    # Link the archive itself; only Libs.private (and libc) may be needed beside it.
    # shellcheck disable=SC2046
    cc "${CFLAGS[@]}" examples/quickstart.c $(pkg-config --cflags persistency) \
        ${libs/-lpersistency/-l:libpersistency.a} -o "$qs" || return 1
    deps=$(ldd "$qs") || return 1
    if grep -q libpersistency <<<"$deps"; then
        echo "static build still needs libpersistency.so"
        return 1
    fi
    mkdir -p "$dir" && cd "$dir" && "$qs" && [ -f data/quickstart.db ]
)
check "quickstart linked statically with pkg-config --static runs" quickstart_static

finish
