#!/bin/sh
# Builds and runs the sync reconciliation example (release): two jobs of
# 100 000 ids each reconcile with range fingerprints, 8-way splits and
# item lists below 100 ids. The last line reads
# "reconciled: D differences in R rounds".
set -eu
cd "$(dirname "$0")/../.."
exec cargo run --quiet --release --example sync_reconcile
