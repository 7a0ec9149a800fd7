# Sourced by run_tests.sh and run_upstream_tests.sh: finds the Nim packages
# the tests build against (chronos, results, stew, unittest2, testutils) and
# upstream's persistency tests, and sets `deps` and `upstream`.
#
#   PERSISTENCY_NIM_DEPS      a directory holding the five packages' source
#                             trees (chronos/, results/, stew/, unittest2/,
#                             testutils/), e.g. clones of their repositories
#   PERSISTENCY_NIM_UPSTREAM  a logos-delivery source tree (its
#                             tests/persistency/ is used)
#
# When unset, a copy laid beside the checkout for machines without access to
# GitHub (../shared/nim/deps, ../shared/nim/upstream) is used if present;
# otherwise the sources are fetched once, at the commits in nim-sources.txt,
# into the cache directory (git, network access to github.com).
# Expects `repo`, `nim_cache` and a `die MESSAGE` function.

nim_fetch() { # name repository commit dest
  [ -e "$4/.fetched" ] && return 0
  command -v git >/dev/null || die "git is needed to fetch $2 (or set PERSISTENCY_NIM_DEPS)"
  rm -rf "$4" && mkdir -p "$4" &&
    git -C "$4" init -q &&
    git -C "$4" fetch -q --depth 1 "https://github.com/$2" "$3" &&
    git -C "$4" checkout -q FETCH_HEAD &&
    touch "$4/.fetched" ||
    die "cannot fetch $2 at $3 from github.com: set PERSISTENCY_NIM_DEPS and PERSISTENCY_NIM_UPSTREAM to local copies"
}

nim_sources() {
  local beside="$repo/../shared/nim"
  local fetched="$nim_cache/sources"
  if [ -n "${PERSISTENCY_NIM_DEPS:-}" ]; then
    deps="$PERSISTENCY_NIM_DEPS"
  elif [ -d "$beside/deps/chronos" ]; then
    deps="$beside/deps"
  else
    deps="$fetched"
    local name repository commit
    while read -r name repository commit; do
      case "$name" in ''|'#'*|upstream) continue ;; esac
      nim_fetch "$name" "$repository" "$commit" "$deps/$name"
    done <"$repo/bindings/nim/nim-sources.txt"
  fi
  if [ -n "${PERSISTENCY_NIM_UPSTREAM:-}" ]; then
    upstream="$PERSISTENCY_NIM_UPSTREAM"
  elif [ -d "$beside/upstream/tests/persistency" ]; then
    upstream="$beside/upstream"
  else
    upstream="$fetched/upstream"
    local line
    line=$(grep '^upstream ' "$repo/bindings/nim/nim-sources.txt")
    set -- $line
    nim_fetch upstream "$2" "$3" "$upstream"
  fi
  [ -d "$deps/chronos" ] || die "no Nim packages at $deps (PERSISTENCY_NIM_DEPS)"
  [ -d "$upstream/tests/persistency" ] || die "no upstream tests at $upstream/tests/persistency (PERSISTENCY_NIM_UPSTREAM)"
}
