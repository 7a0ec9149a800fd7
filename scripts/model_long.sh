#!/usr/bin/env bash
# Long run of the model-based test (tests/model/): more and longer
# sequences than the project's test command runs.
#
#   scripts/model_long.sh [CASES] [SEED]
#
# Defaults: 20000 sequences of 300 to 1000 operations, a seed from the
# clock (printed, so a failure can be replayed with the same arguments).
# MODEL_MIN_OPS / MODEL_MAX_OPS / MODEL_DIR in the environment are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
seed="${2:-$(date +%s)}"
echo "model_long: $cases sequences, seed $seed"
PROPTEST_CASES="$cases" PROPTEST_RNG_SEED="$seed" \
MODEL_MIN_OPS="${MODEL_MIN_OPS:-300}" MODEL_MAX_OPS="${MODEL_MAX_OPS:-1000}" \
    cargo test --release --features fault-injection --test model -- --nocapture
