#!/bin/sh
# build.rs generates the C header into cargo's OUT_DIR and never touches the
# source tree. This script builds the crate (release profile), finds that
# generated header and:
#   scripts/gen-header.sh           copies it to include/persistency.h
#   scripts/gen-header.sh --check   fails (showing the diff) when the
#                                   checked-in header differs from it
# Extra arguments are passed to cargo build.
set -eu
cd "$(dirname "$0")/.."

mode=write
if [ "${1:-}" = "--check" ]; then
    mode=check
    shift
fi

# The out_dir of this package's build script, from cargo's JSON messages.
out_dir=$(
    cargo build --release --message-format=json-render-diagnostics "$@" |
        python3 -c '
import json, subprocess, sys
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--no-deps", "--format-version", "1"],
    check=True, capture_output=True, text=True).stdout)
root = next(p["id"] for p in meta["packages"] if p["name"] == "persistency")
found = ""
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "build-script-executed" and msg.get("package_id") == root:
        found = msg["out_dir"]
print(found)
'
)
generated=$out_dir/persistency.h
if [ -z "$out_dir" ] || [ ! -f "$generated" ]; then
    echo "gen-header.sh: cargo reported no generated header" >&2
    exit 1
fi

case $mode in
write)
    if cmp -s "$generated" include/persistency.h; then
        echo "include/persistency.h is up to date"
    else
        cp "$generated" include/persistency.h
        echo "include/persistency.h regenerated"
    fi
    ;;
check)
    if ! diff -u include/persistency.h "$generated"; then
        echo "include/persistency.h differs from the header build.rs generates:" \
            "run scripts/gen-header.sh and commit the result" >&2
        exit 1
    fi
    echo "include/persistency.h matches the generated header"
    ;;
esac
