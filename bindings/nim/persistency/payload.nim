## Payload encoding with the same `encodePart` family as keys, as upstream
## `waku/persistency/payload.nim`: `payload(...)` concatenates the encoded
## parts, `toPayload(v)` encodes one value. Any other format (CBOR,
## protobuf...) can be stored as plain `seq[byte]`.
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

export keys

macro payload*(parts: varargs[typed]): seq[byte] =
  ## The concatenated encodings of `parts`, in order.
  let buf = genSym(nskVar, "payloadBuf")
  let enc = bindSym("encodePart", brOpen)
  result = newStmtList(quote do:
    var `buf`: seq[byte])
  for p in parts:
    result.add newCall(enc, buf, p)
  result.add buf
  result = newBlockStmt(result)

macro tryPayload*(parts: varargs[typed]): PResult[seq[byte]] =
  ## Like `payload(...)`, but an over-long part gives a
  ## `peInvalidArgument` error instead of raising.
  let call = newCall(bindSym"payload")
  for p in parts:
    call.add p
  let resT = bindSym"PResult"
  result = quote do:
    try:
      ok(`resT`[seq[byte]], `call`)
    except KeyEncodingError as e:
      err(`resT`[seq[byte]], persistencyErr(peInvalidArgument, e.msg))

{.pop.}

proc toPayload*[T](v: T): seq[byte] =
  ## The encoding of one value (raises `KeyEncodingError` for a string or
  ## byte-string part longer than 65535 bytes).
  encodePart(result, v)
