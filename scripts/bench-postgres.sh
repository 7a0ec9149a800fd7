#!/usr/bin/env bash
# The PostgreSQL benchmark (benches/postgres.rs) on a throw-away cluster
# with fsync on (as a production server): the library next to raw
# PostgreSQL and one transaction per put. Arguments go to the benchmark
# (`--quick` for small sizes). Writes target/bench/postgres.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-cluster.sh
pg_cluster_start on
export PERSISTENCY_BENCH_POSTGRES=$PG_URI
cargo bench --features postgres --bench postgres -- "$@"
