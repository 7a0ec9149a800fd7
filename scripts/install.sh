#!/bin/sh
# Builds libpersistency in release mode and installs it under PREFIX
# (default /usr/local):
#   PREFIX/lib/libpersistency.so.X.Y.Z   the shared library (SONAME libpersistency.so.X)
#   PREFIX/lib/libpersistency.so.X       -> libpersistency.so.X.Y.Z (what programs load)
#   PREFIX/lib/libpersistency.so         -> libpersistency.so.X     (what -lpersistency finds)
#   PREFIX/lib/libpersistency.a          the link-safe static archive
#   PREFIX/include/persistency.h
#   PREFIX/lib/pkgconfig/persistency.pc
# X.Y.Z is the crate version (Cargo.toml); docs/abi.md explains the scheme.
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
scripts/build.sh

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
if [ -z "$version" ] || [ -z "$major" ]; then
    echo "install.sh: cannot read the version from Cargo.toml" >&2
    exit 1
fi
soname=libpersistency.so.$major
if command -v readelf >/dev/null 2>&1 &&
    ! readelf -d target/release/libpersistency.so | grep -q "Library soname: \[$soname\]"; then
    echo "install.sh: target/release/libpersistency.so does not have the SONAME $soname" >&2
    exit 1
fi

libdir=$DESTDIR$PREFIX/lib
includedir=$DESTDIR$PREFIX/include
install -d "$libdir/pkgconfig" "$includedir"
install -m 755 target/release/libpersistency.so "$libdir/libpersistency.so.$version"
ln -sfn "libpersistency.so.$version" "$libdir/$soname"
ln -sfn "$soname" "$libdir/libpersistency.so"
install -m 644 target/release/link-safe/libpersistency.a "$libdir/libpersistency.a"
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
