#!/usr/bin/env bash
# The PostgreSQL suite on its own: installs Debian's `postgresql` when no
# server is found (as root), starts a throw-away cluster (initdb into a
# temporary directory as `nobody`, a Unix socket in that directory, no TCP),
# runs the core's behavioural tests against it (the same sources as for
# SQLite: guarantees, lifecycle, the model with 2,000 sequences), the
# PostgreSQL tests (fencing, two processes, SIGKILL cycles, a server
# restart under load) and the C operation tests, then tears the cluster
# down (also on failure). scripts/test.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-cluster.sh

step() { printf '\n=== postgres: %s ===\n' "$*"; }

# The packages and features of scripts/test.sh's test build, so this reuses
# it: another set resolves other features, which rebuilds the library and
# every test binary.
features=(--workspace --features persistency/fault-injection,persistency/postgres)

step "throw-away cluster"
# fsync off: these tests check results, not the disk; a restart with
# `-m immediate` still keeps every write that reached the kernel.
pg_cluster_start off
echo "$PG_URI"

export PERSISTENCY_TEST_POSTGRES=$PG_URI
export PERSISTENCY_TEST_PG_RESTART="runuser -u nobody -- $PG_BIN/pg_ctl -D $PG_DATA -l $PG_DIR/log/server.log -w -t 60 -m immediate restart >/dev/null"

step "unit tests of the adapter"
cargo test --release "${features[@]}" --lib postgres

step "behavioural tests against PostgreSQL (guarantees, lifecycle)"
cargo test --release "${features[@]}" --test integration -- guarantees:: lifecycle::

step "the model-based test against PostgreSQL: 2,000 sequences in 4 processes"
# Every step is a round trip to the server, and every sequence opens two
# tables in a fresh schema: shorter sequences (20 to 60 steps) than on
# SQLite, and 4 processes of 500 sequences, each with its own seed.
model=$(cargo test --release "${features[@]}" --test model --no-run --message-format=json |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "model" and m.get("executable"):
        print(m["executable"])')
pids=()
for k in 1 2 3 4; do
  MODEL_MIN_OPS=20 MODEL_MAX_OPS=60 PROPTEST_CASES=500 PROPTEST_RNG_SEED=$((0x5eed0f1e55 + k)) \
    "$model" --nocapture >"$PG_DIR/model-$k.log" 2>&1 &
  pids+=($!)
done
model_failed=0
for k in 1 2 3 4; do
  if wait "${pids[$((k - 1))]}"; then
    grep '^model:' "$PG_DIR/model-$k.log" || true
  else
    model_failed=1
    tail -n 60 "$PG_DIR/model-$k.log"
  fi
done
[ "$model_failed" -eq 0 ] || { echo "the model-based test failed on PostgreSQL" >&2; exit 1; }

step "processes (fencing, two writers, SIGKILL cycles)"
cargo test --release "${features[@]}" --test postgres -- --skip restart

step "a server restart under a write load (alone: it cuts every session)"
cargo test --release "${features[@]}" --test postgres -- restart

step "the C suite's operation tests against PostgreSQL"
# The shared library of this build, as cargo reports it (the tests' build
# of it: `cargo build --lib` would resolve other features and build it
# again, over target/release's).
lib=$(cargo test --release "${features[@]}" --test postgres --no-run --message-format=json |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "persistency" and "cdylib" in m["target"]["kind"]:
        print(*[f for f in m["filenames"] if f.endswith(".so")])')
[ -f "$lib" ] || { echo "no libpersistency.so reported by cargo: $lib" >&2; exit 1; }
# Inside the cluster's directory: removed with it, also on failure.
build=$PG_DIR/c
mkdir "$build"
# A copy of this build of the library under its SONAME, beside the test.
cp "$lib" "$build/libpersistency.so.0"
ln -s libpersistency.so.0 "$build/libpersistency.so"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -pthread -I include \
  tests/c/test_ops.c tests/c/harness.c -L "$build" -lpersistency \
  -Wl,-rpath,"$build" -o "$build/test_ops"
out=$build/test_ops.out
(cd "$build" && TMPDIR=$build "$build/test_ops") | tee "$out"
plan=$(sed -n 's/^1\.\.//p' "$out")
ok=$(grep -c '^ok - ' "$out" || true)
[ -n "$plan" ] && [ "$ok" -eq "$plan" ] ||
  { echo "C operation tests: $ok of ${plan:-?} passed" >&2; exit 1; }
echo "C operation tests on PostgreSQL: $ok of $plan passed"
