#!/usr/bin/env bash
# The C test driver of libpersistency. Run from anywhere:  tests/c/run.sh
#
# Builds the library (scripts/build.sh: cargo build --release, the SONAME
# link, the link-safe archive), checks the header (C99, C++, double include,
# version macros against Cargo.toml), the API surface, that docs/c-api.md
# documents every function of the header, the exported symbols of both
# artifacts and the SONAME, builds the C test programs and runs each under
# valgrind, links the library next to Debian's own SQLite (static archive
# and shared library) and runs both in one process, then installs into a
# temporary prefix and builds the quick start through pkg-config.
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
PROGRAMS=(test_lifecycle test_global test_ops test_keys test_args test_concurrency test_version test_blocking test_maintenance test_sync)
ARCHIVE=$LIBDIR/link-safe/libpersistency.a

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
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
[ -e /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
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
if ! scripts/build.sh; then
    fail "scripts/build.sh (cargo build --release, SONAME link, link-safe archive)"
    finish
fi
pass "scripts/build.sh (cargo build --release, SONAME link, link-safe archive)"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
MAJOR=${VERSION%%.*}

# ---- the header -------------------------------------------------------------
check "header compiles alone as C99" \
    cc "${CFLAGS[@]}" -I include -c "$SRC/header_only.c" -o "$BUILD/header_only.o"
check "header compiles twice as C99 (include guard)" \
    cc "${CFLAGS[@]}" -I include -c "$SRC/header_twice.c" -o "$BUILD/header_twice.o"
check "header compiles alone as C++" \
    g++ "${CXXFLAGS[@]}" -I include -c "$SRC/header_only.c" -o "$BUILD/header_only_cxx.o"
check "header compiles twice as C++ (include guard)" \
    g++ "${CXXFLAGS[@]}" -I include -c "$SRC/header_twice.c" -o "$BUILD/header_twice_cxx.o"
check "api_surface.c: header matches the C API contract" \
    cc "${CFLAGS[@]}" -I include "$SRC/api_surface.c" "${LINK[@]}" -o "$BUILD/api_surface"
check "api_surface runs" "$BUILD/api_surface"

# The version macros against Cargo.toml (test_version.c checks the runtime).
header_version() {
    local major minor patch string
    major=$(sed -n 's/^#define PERSISTENCY_VERSION_MAJOR \([0-9]*\)$/\1/p' include/persistency.h)
    minor=$(sed -n 's/^#define PERSISTENCY_VERSION_MINOR \([0-9]*\)$/\1/p' include/persistency.h)
    patch=$(sed -n 's/^#define PERSISTENCY_VERSION_PATCH \([0-9]*\)$/\1/p' include/persistency.h)
    string=$(sed -n 's/^#define PERSISTENCY_VERSION_STRING "\(.*\)"$/\1/p' include/persistency.h)
    echo "header: $major.$minor.$patch \"$string\", Cargo.toml: $VERSION"
    [ "$string" = "$VERSION" ] && [ "$major.$minor.$patch" = "${VERSION%%-*}" ]
}
check "header version macros equal Cargo.toml's version" header_version
check "docs/c-api*.md document every function and constant of the header" \
    python3 "$SRC/check_c_api_doc.py" include/persistency.h docs/c-api.md docs/c-api-*.md

# ---- exported symbols ---------------------------------------------------------
# Every global definition must be a persistency_* function: no bundled
# SQLite, no Rust internals, no linker symbols (none appear today; any that
# appears later must be looked at, not waved through). $1 is the nm command
# line, $2 the artifact.
only_persistency() {
    local syms bad
    syms=$($1 "$2" | awk 'NF >= 3') || return 1
    [ -n "$syms" ] || { echo "no exported symbols"; return 1; }
    bad=$(echo "$syms" | awk '$NF !~ /^persistency_[a-z0-9_]+$/ || $(NF-1) != "T"')
    if [ -n "$bad" ]; then
        echo "unexpected exports:"
        echo "$bad" | head -n 20
        return 1
    fi
    echo "$(echo "$syms" | wc -l) exports, all persistency_*"
}
check "libpersistency.so exports only persistency_* functions (nm -D)" \
    only_persistency "nm -D --defined-only" "$LIBDIR/libpersistency.so"
check "link-safe libpersistency.a defines only persistency_* globals (nm -g)" \
    only_persistency "nm -g --defined-only" "$ARCHIVE"
same_exports() {
    diff <(nm -D --defined-only "$LIBDIR/libpersistency.so" | awk '{print $NF}' | sort) \
        <(nm -g --defined-only "$ARCHIVE" | awk 'NF >= 3 {print $NF}' | sort)
}
check "the .so and the link-safe .a export the same functions" same_exports
soname() {
    readelf -d "$LIBDIR/libpersistency.so" | grep -F "Library soname: [libpersistency.so.$MAJOR]" &&
        readelf -d "$LIBDIR/libpersistency.so" | grep -E "SYMBOLIC"
}
check "libpersistency.so has SONAME libpersistency.so.$MAJOR and -Bsymbolic" soname

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

# As many programs at once as there are cores (each writes only its own
# files: a mkdtemp scratch directory and its own run directory), then the
# results in order.
RUNDIR=$SCRATCH/run
parallel=$(nproc 2>/dev/null || echo 2)
for prog in ${built[@]+"${built[@]}"}; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
        wait -n || true
    done
    mkdir -p "$RUNDIR/$prog"
    (
        cd "$RUNDIR/$prog" && TMPDIR=$SCRATCH timeout 600 "${VALGRIND[@]}" \
            --log-file="$BUILD/$prog.valgrind.log" \
            "$BUILD/$prog" >"$BUILD/$prog.out" 2>"$BUILD/$prog.stderr"
        echo $? >"$BUILD/$prog.rc"
    ) &
done
wait
for prog in ${built[@]+"${built[@]}"}; do
    vlog=$BUILD/$prog.valgrind.log
    out=$BUILD/$prog.out
    rc=$(cat "$BUILD/$prog.rc" 2>/dev/null || echo 125)
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

# ---- next to the host's own SQLite ------------------------------------------------
# One program (test_sqlite_coexist.c) uses Debian's SQLite and the library in
# one process, linked four ways. The expected library-side version is the
# bundled one: the sqlite3.h of the libsqlite3-sys crate in Cargo.lock.
bundled_sqlite=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, os, re, sys
meta = json.load(sys.stdin)
for pkg in meta["packages"]:
    if pkg["name"] == "libsqlite3-sys":
        header = os.path.join(os.path.dirname(pkg["manifest_path"]), "sqlite3", "sqlite3.h")
        with open(header) as f:
            print(re.search(r"#define SQLITE_VERSION\s+\"([^\"]+)\"", f.read()).group(1))
')
COEXIST=(-DPERSISTENCY_EXPECTED_SQLITE="\"$bundled_sqlite\"" "$SRC/test_sqlite_coexist.c" "$SRC/harness.c")

# Builds test_sqlite_coexist as $1 with the link arguments that follow, runs
# it and reports its TAP lines as "<what>: <test>".
coexist() {
    local name=$1 what=$2 out
    shift 2
    if ! check "$what: links" cc "${CFLAGS[@]}" -I include "${COEXIST[@]}" "$@" -o "$BUILD/$name"; then
        return
    fi
    out=$(cd "$SCRATCH" && TMPDIR=$SCRATCH ${PRELOAD:+env LD_PRELOAD="$PRELOAD"} "$BUILD/$name" 2>&1)
    while IFS= read -r line; do
        case $line in
        "ok - "*) pass "$what: ${line#ok - }" ;;
        "not ok - "*) fail "$what: ${line#not ok - }" ;;
        "  "*) echo "  $line" ;;
        esac
    done <<<"$out"
    grep -q "^1\.\.3$" <<<"$out" && [ "$(grep -c "^ok - " <<<"$out")" -eq 3 ] ||
        fail "$what: not every test passed ($(grep -c "^ok - " <<<"$out") of 3)"
}

if [ -z "$bundled_sqlite" ]; then
    fail "bundled SQLite version from Cargo.lock's libsqlite3-sys"
else
    pass "bundled SQLite is $bundled_sqlite, Debian's is $(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"$/\1/p' /usr/include/sqlite3.h)"
    coexist coexist_static_static "link-safe .a + static libsqlite3.a" \
        "$ARCHIVE" -Wl,-Bstatic -lsqlite3 -Wl,-Bdynamic -lpthread -ldl -lm
    coexist coexist_static_shared "link-safe .a + shared libsqlite3" \
        -lsqlite3 "$ARCHIVE" -lpthread -ldl -lm
    coexist coexist_shared "libsqlite3.so loaded before libpersistency.so" \
        -lsqlite3 -L"$LIBDIR" -lpersistency -Wl,-rpath,"$LIBDIR"
    libsqlite=$(cc -print-file-name=libsqlite3.so.0)
    PRELOAD=$libsqlite coexist coexist_preload "libsqlite3 LD_PRELOADed before libpersistency.so" \
        -lsqlite3 -L"$LIBDIR" -lpersistency -Wl,-rpath,"$LIBDIR"
fi

# Controls: the archive cargo builds (before link-safe-archive.sh) does clash,
# so the checks above can fail.
raw_clashes() {
    local log
    if log=$(cc "${CFLAGS[@]}" -I include "${COEXIST[@]}" -Wl,-Bstatic -lsqlite3 -Wl,-Bdynamic \
        "$LIBDIR/libpersistency.a" -lpthread -ldl -lm -o "$BUILD/coexist_raw" 2>&1); then
        echo "linked without a clash"
        return 1
    fi
    grep -m 1 "multiple definition of .sqlite3_" <<<"$log"
}
check "control: cargo's raw archive + static libsqlite3.a fails with duplicate sqlite3_*" raw_clashes
raw_interposes() {
    cc "${CFLAGS[@]}" -I include "${COEXIST[@]}" "$LIBDIR/libpersistency.a" -lsqlite3 \
        -lpthread -ldl -lm -o "$BUILD/coexist_raw" || return 1
    if (cd "$SCRATCH" && TMPDIR=$SCRATCH "$BUILD/coexist_raw"); then
        echo "the raw archive passed: the coexistence test cannot see interposition"
        return 1
    fi
    return 0
}
check "control: cargo's raw archive before libsqlite3.so hijacks the host's sqlite3_* calls" raw_interposes

# Panics still unwind to the boundary inside the link-safe archive (whose
# Rust runtime symbols are local): a fault-injection build. It is built in
# target/ itself, where cargo already holds SQLite and every other
# dependency, so only this crate is compiled again (a target directory of
# its own compiled everything). Its archive is copied out at once, and
# scripts/build.sh then rebuilds the release artifacts it replaced: the
# later checks, and the steps of scripts/test.sh after this script, use
# them. The checksums prove they are back.
release_sums() {
    sha256sum "$LIBDIR/libpersistency.so" "$LIBDIR/libpersistency.a" "$ARCHIVE"
}
archive_panic() {
    local dir=$SCRATCH/fault-injection before rc=0
    before=$(release_sums) || return 1
    mkdir -p "$dir"
    cargo build --release --quiet --features fault-injection &&
        cp "$LIBDIR/libpersistency.a" "$dir/libpersistency.a" || rc=1
    if ! scripts/build.sh --quiet || [ "$(release_sums)" != "$before" ]; then
        echo "the release artifacts were not restored after the fault-injection build"
        release_sums
        return 1
    fi
    [ "$rc" -eq 0 ] &&
        scripts/link-safe-archive.sh "$dir/libpersistency.a" "$dir/link-safe/libpersistency.a" &&
        cc "${CFLAGS[@]}" -I include -I "$SRC" "$SRC/test_archive_panic.c" "$SRC/harness.c" \
            "$dir/link-safe/libpersistency.a" -Wl,-Bstatic -lsqlite3 -Wl,-Bdynamic \
            -lpthread -ldl -lm -o "$BUILD/test_archive_panic" &&
        (cd "$SCRATCH" && TMPDIR=$SCRATCH "$BUILD/test_archive_panic")
}
check "panics at an entry point and in a worker are caught inside the link-safe archive" archive_panic

# ---- install + pkg-config --------------------------------------------------------
PREFIX=$SCRATCH/prefix
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
check "scripts/install.sh into a temporary prefix" scripts/install.sh "$PREFIX"

installed() {
    local f
    for f in "lib/libpersistency.so.$VERSION" lib/libpersistency.a include/persistency.h \
        lib/pkgconfig/persistency.pc; do
        [ -f "$PREFIX/$f" ] && [ ! -L "$PREFIX/$f" ] || { echo "missing $PREFIX/$f"; return 1; }
    done
    [ "$(readlink "$PREFIX/lib/libpersistency.so.$MAJOR")" = "libpersistency.so.$VERSION" ] &&
        [ "$(readlink "$PREFIX/lib/libpersistency.so")" = "libpersistency.so.$MAJOR" ] ||
        { ls -l "$PREFIX/lib"; return 1; }
    readelf -d "$PREFIX/lib/libpersistency.so.$VERSION" |
        grep -F "Library soname: [libpersistency.so.$MAJOR]" || return 1
    only_persistency "nm -g --defined-only" "$PREFIX/lib/libpersistency.a" || return 1
    echo "pkg-config --modversion persistency: $(pkg-config --modversion persistency)"
    [ "$(pkg-config --modversion persistency)" = "$VERSION" ] || return 1
    grep -q -- "-lpthread -ldl -lm" <<<"$(pkg-config --static --libs persistency)"
}
check "installed: libpersistency.so.$VERSION (SONAME .so.$MAJOR) + links, link-safe .a, header, pkg-config --modversion = $VERSION" installed

# Functions that cd run in a subshell: ( ... ).
quickstart_shared() (
    local qs=$SCRATCH/quickstart dir=$SCRATCH/qs-shared deps
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    cc "${CFLAGS[@]}" examples/quickstart.c $(pkg-config --cflags --libs persistency) \
        -Wl,-rpath,"$PREFIX/lib" -o "$qs" || return 1
    deps=$(ldd "$qs") || return 1
    grep -qF "libpersistency.so.$MAJOR => $PREFIX/lib/libpersistency.so.$MAJOR" <<<"$deps" ||
        { echo "$deps"; return 1; }
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
