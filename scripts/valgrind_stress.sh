#!/usr/bin/env bash
# Runs the small size of the stress test (tests/stress.rs, STRESS_SMALL=1:
# 2 threads, 2 shared jobs plus short-lived ones, 2 seconds) under valgrind
# memcheck: any invalid access, use of uninitialised memory or definite
# leak fails the run.
#
#   scripts/valgrind_stress.sh [extra valgrind args...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || (apt-get update && apt-get install -y valgrind)
# The packages and features of scripts/test.sh's test build, so this reuses
# its binary: another set resolves other features, which rebuilds the
# library and the test.
features=(--workspace --features persistency/fault-injection,persistency/postgres)
bin="$(cargo test --release "${features[@]}" --test stress --no-run 2>&1 \
    | sed -n 's/.*Executable tests\/stress.rs (\(.*\))/\1/p' | tail -1)"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "valgrind_stress: could not find the stress test binary" >&2
    exit 1
fi
echo "valgrind_stress: $bin"
STRESS_SMALL=1 valgrind --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=1 "$@" \
    "$bin" --exact threads_and_jobs_under_load --test-threads=1 --nocapture
