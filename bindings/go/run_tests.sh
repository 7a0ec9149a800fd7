#!/bin/sh
# Tests of the Go binding: go vet, the race detector, and cgo's strict
# pointer checks. Run from the repository root: bindings/go/run_tests.sh
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

if ! command -v go >/dev/null 2>&1; then
    apt-get update && apt-get install -y golang-go
fi
if ! command -v gcc >/dev/null 2>&1; then
    apt-get update && apt-get install -y gcc
fi
# cargo build --release (a no-op when fresh) and the libpersistency.so.0
# link the test binaries load.
scripts/build.sh

# A per-user build cache, even where HOME is unset.
if [ -z "${GOCACHE:-}" ]; then
    GOCACHE="${XDG_CACHE_HOME:-${HOME:-/tmp/go-$(id -u)}/.cache}/go-build"
    export GOCACHE
fi
export CGO_ENABLED=1
# The package takes its status codes from include/persistency.h, but Go's
# build cache does not notice a change to a header outside the package. The
# C flags are part of its key: the header's checksum there makes a changed
# header rebuild the package ("-g -O2" is cgo's default).
CGO_CFLAGS="${CGO_CFLAGS:--g -O2} -DPERSISTENCY_H_CKSUM=$(cksum <include/persistency.h | cut -d' ' -f1)"
export CGO_CFLAGS

cd bindings/go
go vet ./...
go test -race -count=1 ./...
GODEBUG=cgocheck=2 go test -count=1 ./...
# The example is part of the contract: it must build and run.
example_root=$(mktemp -d)
go run ./example "$example_root" >/dev/null
rm -rf "$example_root"
echo "bindings/go: all tests passed"
