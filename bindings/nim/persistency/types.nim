## Core types of the Nim binding, with the names, layouts and helpers of
## upstream `waku/persistency/types.nim` (`Key`, `KeyRange`, `KvRow`,
## `TxOp`, `PersistencyErrorKind`, `PersistencyError`), so node code keeps
## compiling when its import moves to `persistency/types`.
##
## Additions (new names only): the error kinds `peBusy`, `peFull`,
## `peInternal` (after upstream's five, so `ord(kind) + 1` is the C status
## code), `PResult[T]`, `cmp`, `$` of a `Key`, and the batch builders
## `putOp`, `deleteOp`, `deletePrefixOp`.

{.push raises: [].}

import results
export results

type
  Key* = distinct seq[byte]
    ## An encoded key: bytes that compare byte-wise in the order of the
    ## parts it was built from (see `keys.nim`).

  KeyRange* = object
    ## The half-open range `[start, stop)`.
    start*: Key
    stop*: Key ## exclusive; an empty `stop` means "no upper bound"

  KvRow* = tuple[key: Key, payload: seq[byte]]
    ## One row of a scan.

  TxOpKind* = enum
    ## The kind of one operation of a batch.
    txPut          ## insert or replace `key` with `payload`
    txDelete       ## delete `key`
    txDeletePrefix ## delete every key that starts with `key`

  TxOp* = object
    ## One operation of a batch (`persist`).
    category*: string
    key*: Key ## the prefix for `txDeletePrefix`
    case kind*: TxOpKind
    of txPut:
      payload*: seq[byte]
    of txDelete:
      discard
    of txDeletePrefix:
      discard

  PersistencyErrorKind* = enum
    ## Why a call failed. The first five are upstream's; the order follows
    ## the C status codes (`ord(kind) + 1` is the status).
    peBackend         ## SQLite or file-system failure
    peClosed          ## instance or job closed
    peInvalidArgument ## bad job id, root dir, category, option...
    peTimeout         ## a bounded wait ran out
    peJobNotFound     ## no open job with that id
    peBusy            ## the job's queue is full and it fails fast
    peFull            ## the disk or the job's quota (`maxDbBytes`) is full
    peInternal        ## a bug inside the library; the call had no effect

  PersistencyError* = object
    ## A typed error: its kind, a message, and the SQLite extended result
    ## code for `peBackend` (0 otherwise).
    kind*: PersistencyErrorKind
    msg*: string
    backendCode*: int

  PResult*[T] = Result[T, PersistencyError]
    ## Shorthand for `Result[T, PersistencyError]` (an addition).

proc bytes*(k: Key): lent seq[byte] {.inline.} =
  ## The encoded bytes of `k`.
  seq[byte](k)

proc len*(k: Key): int {.inline.} =
  ## Number of encoded bytes.
  seq[byte](k).len

proc `==`*(a, b: Key): bool {.inline.} =
  ## Byte equality.
  seq[byte](a) == seq[byte](b)

proc cmp*(a, b: Key): int =
  ## Byte-wise comparison, as SQLite orders BLOBs: negative, 0, positive.
  let ab = seq[byte](a)
  let bb = seq[byte](b)
  for i in 0 ..< min(ab.len, bb.len):
    if ab[i] != bb[i]:
      return (if ab[i] < bb[i]: -1 else: 1)
  cmp(ab.len, bb.len)

proc `<`*(a, b: Key): bool =
  ## Byte-wise less-than (a proper prefix sorts first).
  cmp(a, b) < 0

proc `<=`*(a, b: Key): bool {.inline.} =
  ## Byte-wise less-or-equal.
  cmp(a, b) <= 0

proc rawKey*(b: openArray[byte]): Key =
  ## A key made of exactly these bytes (no encoding).
  Key(@b)

proc rawKey*(b: sink seq[byte]): Key {.inline.} =
  ## A key made of exactly these bytes (no encoding).
  Key(b)

proc `$`*(k: Key): string =
  ## `Key(<lower-case hex>)`.
  const digits = "0123456789abcdef"
  result = "Key("
  for x in seq[byte](k):
    result.add digits[int(x shr 4)]
    result.add digits[int(x and 0x0F)]
  result.add ")"

proc persistencyErr*(
    kind: PersistencyErrorKind, msg: string, backendCode = 0
): PersistencyError {.inline.} =
  ## Builds a `PersistencyError`.
  PersistencyError(kind: kind, msg: msg, backendCode: backendCode)

proc `$`*(e: PersistencyError): string =
  ## `PersistencyError(kind: msg[, code=n])`, as upstream.
  "PersistencyError(" & $e.kind & ": " & e.msg &
    (if e.backendCode != 0: ", code=" & $e.backendCode else: "") & ")"

proc putOp*(category: string, key: Key, payload: seq[byte]): TxOp =
  ## A `txPut` batch operation.
  TxOp(category: category, key: key, kind: txPut, payload: payload)

proc deleteOp*(category: string, key: Key): TxOp =
  ## A `txDelete` batch operation.
  TxOp(category: category, key: key, kind: txDelete)

proc deletePrefixOp*(category: string, prefix: Key): TxOp =
  ## A `txDeletePrefix` batch operation.
  TxOp(category: category, key: prefix, kind: txDeletePrefix)

{.pop.}
