## Quickstart of the Nim binding: a store of chat messages keyed by
## (channel, timestamp), written and read back with chronos, as the node
## does.
##
## Build and run from the repo root (after `scripts/build.sh`), with
## chronos and results on the path (nimble, or bindings/nim/nim_sources.sh):
##
##   nim c -r --threads:on --mm:refc --path:bindings/nim \
##     --path:<chronos> --path:<results> --path:<stew> examples/nim/quickstart.nim [root_dir]

import std/[os, strutils]
import chronos, results
import persistency/persistency

type Message = object
  sender: string
  body: string

proc run(root: string): Future[int] {.async.} =
  # One instance per root directory; jobs live in <root>/<job>.db.
  let p = Persistency.new(root).valueOr:
    echo "cannot use ", root, ": ", error
    return 1
  defer: p.close()
  let j = p.openJob("chat").valueOr:
    echo "cannot open job: ", error
    return 1

  # Fire-and-forget writes: queued at once, applied in order.
  for ts in 1'i64 .. 3'i64:
    await j.persistEncoded("messages", key("/waku/2/rs/1/0", ts),
                           Message(sender: "alice", body: "hello #" & $ts))

  # An atomic batch: both rows or none. `persistCommitted` (an addition to
  # upstream's fire-and-forget `persist`) completes once it committed.
  let committed = await j.persistCommitted(@[
    putOp("messages", key("/waku/2/rs/1/0", 4'i64), toPayload(Message(sender: "bob", body: "hi"))),
    putOp("state", key("last-seen"), payload(4'i64)),
  ])
  if committed.isErr:
    echo "batch failed: ", committed.error
    return 1

  # Reads see every earlier write: no sleep or polling needed.
  let newest = (await j.scanPrefix("messages", key("/waku/2/rs/1/0"), reverse = true)).get()
  echo "messages, newest first: ", newest.len
  for row in newest:
    var hex = ""
    for b in row.key.bytes: hex.add toHex(b, 2)
    echo "  ", hex, " -> ", row.payload.len, " bytes"
  let seen = await j.get("state", key("last-seen"))
  echo "last-seen stored: ", seen.get().isSome

  # Typed errors instead of crashes.
  echo "bad job id: ", p.openJob("../escape").error.kind
  p.closeJob("chat")
  echo "after close: ", (await j.get("state", key("last-seen"))).error.kind
  return 0

when isMainModule:
  let root = if paramCount() >= 1: paramStr(1) else: getTempDir() / "persistency-nim-quickstart"
  removeDir(root)
  let code = waitFor run(root)
  removeDir(root)
  quit(code)
