#!/usr/bin/env bash
# The project's test command (README "Tests"); .ci/run runs exactly this.
# Installs what it needs on a fresh Debian machine (run as root), then runs
# every suite: Rust, C under valgrind, Go, Nim, the benchmark in quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s (at %d s) ===\n' "$*" "$SECONDS"; }

need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v go >/dev/null || need+=(golang-go)
[ -e /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
command -v python3 >/dev/null || need+=(python3)
command -v objcopy >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features persistency/fault-injection -- -D warnings
cargo clippy --workspace --all-targets --features persistency/fault-injection,persistency/postgres -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "documentation links stay inside the repository"
scripts/check-links.py

step "release build, header freshness, link-safe archive"
# build.rs generates the header into OUT_DIR; the checked-in copy must match.
scripts/gen-header.sh --check
# libpersistency.so.0 beside the .so, and the link-safe static archive.
scripts/build.sh

step "cargo package: the packaged crate builds (and its build writes nothing into the sources)"
# Verification builds the .crate's unpacked sources; cargo fails it if the
# build script modified them. --allow-dirty lets this run on uncommitted work.
cargo package --allow-dirty --locked --quiet

step "Rust tests (unit, integration, doc)"
# tests/maintenance/metrics.rs parses the metrics text with Prometheus's
# own Python parser.
python3 -c 'import prometheus_client' 2>/dev/null ||
  python3 -m pip install -q prometheus_client ||
  { echo "cannot install prometheus_client (pip)" >&2; exit 1; }
# With the postgres feature too (its tests skip themselves without a
# server): scripts/valgrind_stress.sh and scripts/test-postgres.sh then
# reuse this build, as long as no cargo build of other packages or
# features runs in between (the library's file names carry no hash, so
# another build of it replaces this one, and cargo then rebuilds it and
# every test binary). Hence their steps come next.
cargo test --workspace --release --features persistency/fault-injection,persistency/postgres

step "stress test under valgrind (small size)"
scripts/valgrind_stress.sh

step "PostgreSQL: a throw-away cluster, the behavioural tests against it, fencing, faults"
scripts/test-postgres.sh

step "sync sets: the Python vectors are current, the reconciliation example"
python3 tests/data/sync_vectors.py | diff -q - tests/data/sync_vectors.json
examples/sync_reconcile/run.sh | tail -n 1 | grep -q '^reconciled: 2000 differences in [0-9]* rounds$'

step "build against the system SQLite"
cargo build --release --no-default-features --features system-sqlite --target-dir target/system-sqlite
grep -q ' U sqlite3_open_v2' <<<"$(nm -D target/system-sqlite/release/libpersistency.so)" \
  || { echo "system-sqlite build does not link libsqlite3 dynamically" >&2; exit 1; }
# Its archive leaves sqlite3_* undefined (for the host's libsqlite3) and
# still defines nothing global but persistency_*.
scripts/link-safe-archive.sh target/system-sqlite/release/libpersistency.a \
  target/system-sqlite/release/link-safe/libpersistency.a

step "Go binding (vet, race detector, cgocheck=2)"
bindings/go/run_tests.sh

step "C tests under valgrind, install + pkg-config"
tests/c/run.sh

step "Nim binding (Nim 2.2 from pip, chronos, refc and orc, upstream's tests, cross-language)"
bash bindings/nim/run_tests.sh

step "benchmark, quick mode (figures only, no timing assertions)"
cargo bench --bench throughput -- --quick
cargo bench --bench maintenance -- --quick
cargo bench --bench sync -- --quick
