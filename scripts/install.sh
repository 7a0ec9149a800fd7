#!/bin/sh
# Builds libpersistency in release mode and installs it under PREFIX
# (default /usr/local):
#   PREFIX/lib/libpersistency.so, PREFIX/lib/libpersistency.a,
#   PREFIX/include/persistency.h, PREFIX/lib/pkgconfig/persistency.pc
#
# Usage: scripts/install.sh [PREFIX]
# DESTDIR, if set, is prepended to every installed path (for packaging);
# the .pc file still names PREFIX.
set -eu

PREFIX=${1:-/usr/local}
case $PREFIX in
/*) ;;
*) PREFIX=$(pwd)/$PREFIX ;;
esac
DESTDIR=${DESTDIR:-}

cd "$(dirname "$0")/.."
cargo build --release

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$version" ]; then
    echo "install.sh: cannot read the version from Cargo.toml" >&2
    exit 1
fi

libdir=$DESTDIR$PREFIX/lib
includedir=$DESTDIR$PREFIX/include
install -d "$libdir/pkgconfig" "$includedir"
install -m 755 target/release/libpersistency.so "$libdir/libpersistency.so"
install -m 644 target/release/libpersistency.a "$libdir/libpersistency.a"
install -m 644 include/persistency.h "$includedir/persistency.h"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$version|g" scripts/persistency.pc.in \
    >"$libdir/pkgconfig/persistency.pc"
chmod 644 "$libdir/pkgconfig/persistency.pc"

# Refresh the loader cache for the system prefixes only (never for a
# private prefix, which would leak it into the system-wide cache).
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    case $PREFIX in
    /usr | /usr/local) ldconfig ;;
    esac
fi

echo "installed libpersistency $version under $DESTDIR$PREFIX"
