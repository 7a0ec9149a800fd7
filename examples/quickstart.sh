#!/bin/sh
# Builds the library and the C quick start, then runs it (data goes to ./data).
# Usage, from anywhere: examples/quickstart.sh
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
mkdir -p examples/build
cc -std=c99 -Wall -Wextra -Wpedantic -pthread -Iinclude examples/quickstart.c \
    -Ltarget/release -lpersistency -Wl,-rpath,"$PWD/target/release" -o examples/build/quickstart
exec examples/build/quickstart
