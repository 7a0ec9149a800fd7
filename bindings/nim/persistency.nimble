# Nim binding of libpersistency: a drop-in for logos-delivery's
# waku/persistency (import persistency/persistency). The library itself
# (libpersistency.so, built with cargo) is linked at build time; see
# README.md for the linking options.

version       = "0.1.0"
author        = "libpersistency contributors"
description   = "Per-job key-value storage on SQLite (libpersistency), with upstream waku/persistency's API on chronos"
license       = "MIT OR Apache-2.0"
installDirs   = @["persistency"]

requires "nim >= 2.2.4"
requires "chronos >= 4.0.4"
requires "results >= 0.5.1"
requires "stew >= 0.4.0"
