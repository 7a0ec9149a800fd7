## Quickstart of the Nim binding: a store of chat messages keyed by
## (channel, timestamp), written and read back in both the blocking and the
## async (std/asyncdispatch) form.
##
## Build and run from the repo root (after `scripts/build.sh`):
##
##   nim c -r --threads:on --mm:orc --path:bindings/nim examples/nim/quickstart.nim [root_dir]

import std/[os, strutils]
import persistency

type Message = object
  sender: string
  body: string

proc main(root: string): int =
  # One instance per root directory; jobs live in <root>/<job>.db.
  let p = newPersistency(root).valueOr:
    echo "cannot use ", root, ": ", error
    return 1
  let j = p.openJob("chat").valueOr:
    echo "cannot open job: ", error
    return 1

  # Fire-and-forget writes: queued at once, applied in order.
  for ts in 1'i64 .. 3'i64:
    let msg = Message(sender: "alice", body: "hello #" & $ts)
    j.persistEncoded("messages", key("/waku/2/rs/1/0", ts), msg).isOkOr:
      echo "put failed: ", error
      return 1

  # An atomic batch: both rows or none, returned once committed.
  j.persist([
    putOp("messages", key("/waku/2/rs/1/0", 4'i64), toPayload(Message(sender: "bob", body: "hi"))),
    putOp("state", key("last-seen"), payload(4'i64)),
  ]).isOkOr:
    echo "batch failed: ", error
    return 1

  # Reads see every earlier write: no sleep or polling needed.
  let newest = j.scanPrefix("messages", key("/waku/2/rs/1/0"), reverse = true).get()
  echo "messages, newest first: ", newest.len
  for row in newest:
    echo "  ", toHex(row.key.bytes), " -> ", row.payload.len, " bytes"

  # The same read as a Future on std/asyncdispatch.
  let seen = waitFor j.getAsync("state", key("last-seen"))
  echo "last-seen stored: ", seen.get().isSome

  # Typed errors instead of crashes.
  let bad = p.openJob("../escape")
  echo "bad job id: ", bad.error.kind
  discard p.closeJob("chat")
  echo "after close: ", j.get("state", key("last-seen")).error.kind
  0

when isMainModule:
  let root = if paramCount() >= 1: paramStr(1) else: getTempDir() / "persistency-nim-quickstart"
  removeDir(root)
  let code = main(root)
  removeDir(root)
  quit(code)
