## The order-preserving key encoding, byte-identical to upstream
## `waku/persistency/keys.nim` and to the library's C key builder, so rows
## written by the Nim encoder before the move to libpersistency stay
## readable, and rows written by any binding are interchangeable.
##
## | Nim type | bytes |
## |---|---|
## | `string`, `openArray[byte]` (`seq[byte]`, `array[N, byte]`) | 2-byte big-endian length, then the bytes (at most 65535) |
## | `int`, `int8`..`int64` | the value as int64, XOR `0x8000000000000000`, 8 bytes big-endian |
## | `uint`, `uint16`..`uint64` | 8 bytes big-endian |
## | `byte` (`uint8`), `char`, `bool` | 1 byte (bool: 0 or 1) |
## | `enum` | its ordinal as a signed integer |
## | `Key` | its bytes verbatim (embed a pre-built key) |
## | `tuple`, `object` | its fields in declaration order |
##
## Encoded keys compare byte-wise in the order of their parts: negative
## integers sort before positive ones, tuples sort field by field, and
## strings sort by length first, then bytes (an upstream property, kept).
##
## ```nim
## let k = key("channel-42", 1'i64)
## let k2 = key("channel-42", (epoch: 1'i64, seqNum: 7'u64))
## let r = prefixRange(key("channel-42"))   # every key starting with it
## ```
##
## A string or byte-string part longer than 65535 bytes cannot be encoded:
## as upstream, `encodePart` fails a `doAssert` (an `AssertionDefect`, not
## a catchable error), so every builder keeps upstream's `raises: []`.

{.push raises: [].}

import std/macros
import ./types

const
  StringLenMax* = 0xFFFF ## The longest string or byte-string part.
  signFlip = 0x8000_0000_0000_0000'u64

proc appendU64BE(dest: var seq[byte], v: uint64) =
  var shift = 56
  while shift >= 0:
    dest.add byte((v shr shift) and 0xFF)
    shift -= 8

proc appendLenPrefixed(dest: var seq[byte], p: pointer, n: int, what: string) =
  doAssert n <= StringLenMax, what & " component exceeds 65535 bytes"
  dest.add byte((n shr 8) and 0xFF)
  dest.add byte(n and 0xFF)
  if n > 0:
    let start = dest.len
    dest.setLen(start + n)
    copyMem(addr dest[start], p, n)

proc encodePart*(dest: var seq[byte], s: string) =
  ## A string: 2-byte big-endian length, then its bytes.
  appendLenPrefixed(dest, (if s.len > 0: unsafeAddr s[0] else: nil), s.len, "string")

proc encodePart*(dest: var seq[byte], b: openArray[byte]) =
  ## A byte string: 2-byte big-endian length, then the bytes.
  appendLenPrefixed(dest, (if b.len > 0: unsafeAddr b[0] else: nil), b.len, "byte-string")

proc encodePart*(dest: var seq[byte], i: int64) =
  ## A signed integer: sign bit flipped, 8 bytes big-endian.
  appendU64BE(dest, cast[uint64](i) xor signFlip)

proc encodePart*(dest: var seq[byte], i: int) {.inline.} =
  ## A signed integer (as int64).
  encodePart(dest, int64(i))

proc encodePart*(dest: var seq[byte], i: int32) {.inline.} =
  ## A signed integer (as int64).
  encodePart(dest, int64(i))

proc encodePart*(dest: var seq[byte], i: int16) {.inline.} =
  ## A signed integer (as int64).
  encodePart(dest, int64(i))

proc encodePart*(dest: var seq[byte], i: int8) {.inline.} =
  ## A signed integer (as int64).
  encodePart(dest, int64(i))

proc encodePart*(dest: var seq[byte], u: uint64) =
  ## An unsigned integer: 8 bytes big-endian.
  appendU64BE(dest, u)

proc encodePart*(dest: var seq[byte], u: uint) {.inline.} =
  ## An unsigned integer (8 bytes big-endian).
  encodePart(dest, uint64(u))

proc encodePart*(dest: var seq[byte], u: uint32) {.inline.} =
  ## An unsigned integer (8 bytes big-endian).
  encodePart(dest, uint64(u))

proc encodePart*(dest: var seq[byte], u: uint16) {.inline.} =
  ## An unsigned integer (8 bytes big-endian).
  encodePart(dest, uint64(u))

proc encodePart*(dest: var seq[byte], b: byte) =
  ## A byte: itself.
  dest.add b

proc encodePart*(dest: var seq[byte], c: char) =
  ## A char: its byte.
  dest.add byte(c)

proc encodePart*(dest: var seq[byte], b: bool) =
  ## A bool: 0 or 1.
  dest.add(if b: 1'u8 else: 0'u8)

proc encodePart*(dest: var seq[byte], k: Key) =
  ## An embedded key: its bytes verbatim.
  dest.add seq[byte](k)

macro key*(parts: varargs[typed]): Key =
  ## The key made of `parts`, in order, each encoded by its `encodePart`.
  ## `key()` is the empty key.
  let buf = genSym(nskVar, "keyBuf")
  let enc = bindSym("encodePart", brOpen)
  result = newStmtList(quote do:
    var `buf`: seq[byte])
  for p in parts:
    result.add newCall(enc, buf, p)
  result.add newCall(bindSym"Key", buf)
  result = newBlockStmt(result)

proc prefixStop*(prefix: openArray[byte]): seq[byte] =
  ## The exclusive upper bound of the keys starting with `prefix`: the
  ## prefix with its last non-0xFF byte incremented and what follows it
  ## dropped; empty (open-ended) for an empty or all-0xFF prefix.
  var i = prefix.len - 1
  while i >= 0 and prefix[i] == 0xFF'u8:
    dec i
  if i < 0:
    return @[]
  result = @(prefix.toOpenArray(0, i))
  result[i] = result[i] + 1

proc prefixRange*(prefix: Key): KeyRange =
  ## `[prefix, prefixStop(prefix))`: exactly the keys that start with
  ## `prefix`.
  KeyRange(start: prefix, stop: Key(prefixStop(seq[byte](prefix))))

proc keyRange*(start: Key, stop: Key = Key(@[])): KeyRange =
  ## The range `[start, stop)`; an empty `stop` means no upper bound.
  KeyRange(start: start, stop: stop)


proc encodePart*[E: enum](dest: var seq[byte], v: E) {.inline.} =
  ## An enum: its ordinal as a signed integer.
  encodePart(dest, int64(ord(v)))

proc encodePart*[T: tuple | object](dest: var seq[byte], v: T) =
  ## A tuple or object: each field in declaration order (each field type
  ## needs an `encodePart` overload of its own).
  for f in fields(v):
    encodePart(dest, f)

proc add*[T](k: var Key, v: T) =
  ## Appends the encoding of `v` to `k`.
  encodePart(seq[byte](k), v)

proc toKey*[T](v: T): Key =
  ## The key of one value; same as `key(v)`.
  var buf: seq[byte]
  encodePart(buf, v)
  Key(buf)

{.pop.}
