#!/usr/bin/env bash
# Crash soak: runs N SIGKILL cycles of tests/child_process/crash.rs (default
# 1000) and prints the totals: batches acknowledged, batches found
# committed, acknowledged batches lost (always 0, or the run fails),
# integrity checks.
#
#   scripts/soak.sh [N] [SEED]
#
# Each cycle starts a child process that writes atomic batches with
# synchronous = Full, kills it with SIGKILL at a random moment, checks the
# file with PRAGMA integrity_check and checks that every acknowledged batch
# is present and every batch is all-or-nothing. A fresh file every 50 cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
seed="${2:-$(date +%s)}"
summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
echo "soak: $cycles kill cycles, seed $seed"
start=$(date +%s)
CRASH_CYCLES="$cycles" CRASH_SEED="$seed" CRASH_SUMMARY="$summary" \
    cargo test --release --features fault-injection --test child_process -- \
    --test-threads=1 crash::acknowledged_batches_survive_sigkill
echo "soak: $(cat "$summary")"
echo "soak: wall time $(( $(date +%s) - start )) s (including the build)"
