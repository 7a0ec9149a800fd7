## Payload encoding with the same `encodePart` family as keys, as upstream
## `waku/persistency/payload.nim`: `payload(...)` concatenates the encoded
## parts, `toPayload(v)` encodes one value. Any other format (CBOR,
## protobuf...) can be stored as a plain `seq[byte]`.
##
## ```nim
## type Msg = object
##   sender: string
##   epoch: int64
## let p = toPayload(Msg(sender: "alice", epoch: 7))
## let p2 = payload("v1", 1'i64)
## ```

{.push raises: [].}

import std/macros
import ./keys

export keys.encodePart

proc toPayload*[T](v: T): seq[byte] =
  ## The encoding of one value; same as `payload(v)`.
  encodePart(result, v)

macro payload*(parts: varargs[typed]): seq[byte] =
  ## The concatenated encodings of `parts`, in order; `payload()` is empty.
  let buf = genSym(nskVar, "payloadBuf")
  let enc = bindSym("encodePart", brOpen)
  result = newStmtList(quote do:
    var `buf`: seq[byte])
  for p in parts:
    result.add newCall(enc, buf, p)
  result.add buf
  result = newBlockStmt(result)

{.pop.}
