## The binding's own tests: key vectors and invariants, the status codes
## against include/persistency.h, the facade (upstream behaviours plus
## what the library adds: read-your-writes, typed errors), and a row
## written by Nim read by a C program and back. Chronos and threads:
## test_chronos.nim. Run with bindings/nim/run_tests.sh.

{.used.}

import std/[json, os, strutils, algorithm, osproc, sequtils, tables]
import chronos, results
import testutils/unittests
import persistency/persistency
import persistency/ffi

const repoRoot = currentSourcePath().parentDir().parentDir().parentDir().parentDir()

proc hexToBytes(h: string): seq[byte] =
  result = newSeq[byte](h.len div 2)
  for i in 0 ..< result.len:
    result[i] = byte(parseHexInt(h[2*i .. 2*i+1]))

proc hex(b: openArray[byte]): string =
  for x in b: result.add toHex(x, 2).toLowerAscii
proc hex(k: Key): string = hex(k.bytes)

var rootCounter = 0
let testBase = getTempDir() / ("persistency-nim-test-" & $getCurrentProcessId())

proc freshRoot(): string {.gcsafe.} =
  ## A directory that does not exist yet (created by the first openJob).
  {.cast(gcsafe).}:
    inc rootCounter
    testBase / ("root" & $rootCounter)

proc startsWith(k, prefix: Key): bool =
  k.len >= prefix.len and k.bytes[0 ..< prefix.len] == prefix.bytes

proc inRange(k: Key, r: KeyRange): bool =
  r.start <= k and (r.stop.len == 0 or k < r.stop)

var warnings: seq[string]
proc recordWarning(msg: string, jobId: string) {.nimcall, gcsafe, raises: [].} =
  {.cast(gcsafe).}:
    warnings.add(jobId & ": " & msg)

proc logged(): seq[string] {.gcsafe.} =
  ## The warnings recorded since `recordWarnings`.
  {.cast(gcsafe).}: warnings

proc recordWarnings() {.gcsafe.} =
  ## Starts recording the binding's warnings.
  {.cast(gcsafe).}: warnings.setLen(0)
  setWarningHandler(recordWarning)

type
  Color = enum red, green, blue
  Pair = object
    name: string
    n: int64

suite "keys":
  test "every case of tests/data/keys.json, built with encodePart":
    let doc = parseFile(repoRoot / "tests" / "data" / "keys.json")
    var n = 0
    for c in doc["cases"]:
      var buf: seq[byte]
      for part in c["parts"]:
        case part["type"].getStr
        of "str": encodePart(buf, part["value"].getStr)
        of "bytes": encodePart(buf, hexToBytes(part["hex"].getStr))
        of "i64": encodePart(buf, int64(parseBiggestInt(part["value"].getStr)))
        of "i32": encodePart(buf, int32(parseInt(part["value"].getStr)))
        of "u64": encodePart(buf, uint64(parseBiggestUInt(part["value"].getStr)))
        of "u16": encodePart(buf, uint16(parseUInt(part["value"].getStr)))
        of "u8": encodePart(buf, uint8(parseUInt(part["value"].getStr)))
        of "bool": encodePart(buf, part["value"].getBool)
        of "raw": encodePart(buf, rawKey(hexToBytes(part["hex"].getStr)))
        else: fail()
      check hex(buf) == c["key_hex"].getStr
      check hex(prefixRange(Key(buf)).stop) == c["prefix_stop_hex"].getStr
      inc n
    check n == doc["cases"].len
    check n > 100

  test "every part type encodes as upstream":
    check hex(key()) == ""
    check hex(key("ab")) == "00026162"
    check hex(key("ch", -1'i64)) == "000263687fffffffffffffff"
    check hex(key(5)) == "8000000000000005"
    check hex(key(-2'i8)) == hex(key(-2'i64))
    check hex(key(7'u16)) == "0000000000000007"
    check hex(key(7'u32)) == "0000000000000007"
    check hex(key(7'u8)) == "07"
    check hex(key('A')) == "41"
    check hex(key(true, false)) == "0100"
    check hex(key(blue)) == hex(key(2'i64))
    check hex(key(@[1'u8, 2])) == "00020102"
    check hex(key(key("a"), 1'u8)) == "00016101"
    check hex(key(Pair(name: "n", n: 3))) == hex(key("n", 3'i64))
    var k = key("a")
    k.add 1'i64
    check k == key("a", 1'i64)
    check payload("v1", 1'i64) == key("v1", 1'i64).bytes
    check toPayload(Pair(name: "n", n: 3)) == key("n", 3'i64).bytes
    check $key("a") == "Key(000161)"

  test "orders: integers numerically, strings by length then bytes, tuples by field":
    let vals = @[low(int64), -1_000_000'i64, -2, -1, 0, 1, 2, 255, 256, high(int64)]
    var keys = vals.mapIt(key(it))
    keys.sort(cmp)
    check keys == vals.mapIt(key(it))
    let words = @["pear", "fig", "apple", "kiwi", "a", "banana"]
    var byKey = words
    byKey.sort(proc (a, b: string): int = cmp(key(a), key(b)))
    check byKey == @["a", "fig", "kiwi", "pear", "apple", "banana"]
    check key((1'i64, -5'i64)) < key((1'i64, 3'i64))
    check key(("ch", 2'i64, 0'u64)) > key(("ch", 1'i64, 99'u64))

  test "prefixRange covers exactly the keys with that prefix":
    var all: seq[Key]
    for ch in ["a", "b", "ab"]:
      for n in [-3'i64, 0, 7]:
        all.add key(ch, n)
        all.add key(ch, n, true)
    all.add rawKey(@[0xff'u8, 0xff])
    all.add rawKey(@[0xff'u8, 0xff, 0x00])
    all.add key()
    for prefix in [key("a"), key("ab", 0'i64), key(), rawKey(@[0xff'u8, 0xff]), key("zz")]:
      let r = prefixRange(prefix)
      for k in all:
        check inRange(k, r) == k.startsWith(prefix)

  test "the Nim encoder matches the C key builder":
    let b = persistency_key_new()
    check persistency_key_push_str(b, "topic") == PERSISTENCY_OK
    check persistency_key_push_i64(b, -42) == PERSISTENCY_OK
    check persistency_key_push_u64(b, 99) == PERSISTENCY_OK
    check persistency_key_push_bool(b, true) == PERSISTENCY_OK
    check persistency_key_push_u8(b, 200) == PERSISTENCY_OK
    var n: csize_t
    let data = persistency_key_data(b, addr n)
    let cBytes = @(data.toOpenArray(0, int(n) - 1))
    persistency_key_free(b)
    check cBytes == key("topic", -42'i64, 99'u64, true, 200'u8).bytes

  test "an over-long part fails upstream's assertion":
    let long = newString(StringLenMax + 1)
    expect AssertionDefect:
      discard key("ok", long)
    check key(newString(StringLenMax)).len == StringLenMax + 2

suite "C ABI constants":
  test "the binding's copies match include/persistency.h":
    var header = initTable[string, int]()
    for line in lines(repoRoot / "include" / "persistency.h"):
      let f = line.splitWhitespace()
      if f.len == 3 and f[0] == "#define" and f[1].startsWith("PERSISTENCY_") and
          f[2].allCharsInSet(Digits):
        header[f[1]] = parseInt(f[2])
    # The version macros are checked against the library's own version.
    let version = ($persistency_version()).split('.').mapIt(parseInt(it))
    check header.getOrDefault("PERSISTENCY_VERSION_MAJOR", -1) == version[0]
    check header.getOrDefault("PERSISTENCY_VERSION_MINOR", -1) == version[1]
    check header.getOrDefault("PERSISTENCY_VERSION_PATCH", -1) == version[2]
    for name in ["PERSISTENCY_VERSION_MAJOR", "PERSISTENCY_VERSION_MINOR",
                 "PERSISTENCY_VERSION_PATCH", "PERSISTENCY_VERSION_NUMBER"]:
      header.del(name)
    let nim = {
      "PERSISTENCY_OK": PERSISTENCY_OK, "PERSISTENCY_ERR_BACKEND": PERSISTENCY_ERR_BACKEND,
      "PERSISTENCY_ERR_CLOSED": PERSISTENCY_ERR_CLOSED,
      "PERSISTENCY_ERR_INVALID_ARGUMENT": PERSISTENCY_ERR_INVALID_ARGUMENT,
      "PERSISTENCY_ERR_TIMEOUT": PERSISTENCY_ERR_TIMEOUT,
      "PERSISTENCY_ERR_JOB_NOT_FOUND": PERSISTENCY_ERR_JOB_NOT_FOUND,
      "PERSISTENCY_ERR_BUSY": PERSISTENCY_ERR_BUSY, "PERSISTENCY_ERR_FULL": PERSISTENCY_ERR_FULL,
      "PERSISTENCY_ERR_INTERNAL": PERSISTENCY_ERR_INTERNAL,
      "PERSISTENCY_SYNC_NORMAL": PERSISTENCY_SYNC_NORMAL, "PERSISTENCY_SYNC_OFF": PERSISTENCY_SYNC_OFF,
      "PERSISTENCY_SYNC_FULL": PERSISTENCY_SYNC_FULL,
      "PERSISTENCY_FULL_BLOCK": PERSISTENCY_FULL_BLOCK, "PERSISTENCY_FULL_FAIL": PERSISTENCY_FULL_FAIL,
      "PERSISTENCY_LOG_ERROR": PERSISTENCY_LOG_ERROR, "PERSISTENCY_LOG_WARN": PERSISTENCY_LOG_WARN,
      "PERSISTENCY_LOG_INFO": PERSISTENCY_LOG_INFO, "PERSISTENCY_LOG_DEBUG": PERSISTENCY_LOG_DEBUG,
      "PERSISTENCY_OP_PUT": PERSISTENCY_OP_PUT, "PERSISTENCY_OP_DELETE": PERSISTENCY_OP_DELETE,
      "PERSISTENCY_OP_DELETE_PREFIX": PERSISTENCY_OP_DELETE_PREFIX,
      "PERSISTENCY_OP_DELETE_RANGE": PERSISTENCY_OP_DELETE_RANGE,
    }.toTable
    check header.len > 0
    # Same names both ways, same values.
    for name, value in header:
      check name in nim
      check nim.getOrDefault(name, -1) == value
    for name in nim.keys:
      check name in header
    # Each error status maps to the error kind of the same rank, and the
    # library names each code as the header does.
    for name, value in header:
      if name.startsWith("PERSISTENCY_ERR_") or name == "PERSISTENCY_OK":
        check $persistency_status_name(int32(value)) == name
      if name.startsWith("PERSISTENCY_ERR_"):
        let kind = PersistencyErrorKind(value - 1)
        check ("pe" & name["PERSISTENCY_ERR_".len .. ^1].replace("_", "")).toLowerAscii ==
          ($kind).toLowerAscii
    check ord(high(PersistencyErrorKind)) + 1 == PERSISTENCY_ERR_INTERNAL
    # Every function the header declares is imported by ffi.nim.
    const ffiSource = staticRead(repoRoot / "bindings" / "nim" / "persistency" / "ffi.nim")
    var functions = 0
    var notImported: seq[string]
    for line in lines(repoRoot / "include" / "persistency.h"):
      if line.len > 0 and line[0] in {'a'..'z'} and not line.startsWith("typedef"):
        let paren = line.find('(')
        let name = if paren > 0: line[0 ..< paren].split({' ', '*'})[^1] else: ""
        if name.startsWith("persistency_"):
          inc functions
          if ("proc " & name & "*(") notin ffiSource:
            notImported.add name
    check functions > 40
    check notImported == newSeq[string]()
    # The Nim structs have the C sizes (LP64): a field added to the header
    # without the binding shows here.
    check sizeof(CJobOptions) == 56
    check sizeof(CStats) == 48
    check sizeof(CResult) == 72
    check sizeof(COp) == 48

suite "upstream's public API":
  test "every public proc, type and constant of upstream, with its types":
    # Each assignment picks the overload with exactly upstream's parameter
    # and return types (from logos-delivery waku/persistency/*.nim); a
    # missing one or a changed type fails to compile.
    type
      JobForm[T] = proc (t: Job, category: string, key: Key): Future[Result[T, PersistencyError]] {.nimcall.}
      IdForm[T] = proc (p: Persistency, jobId: string, category: string, key: Key): Future[Result[T, PersistencyError]] {.nimcall.}
    check typeof(Persistency.new("")) is Result[Persistency, PersistencyError]
    let openJobP: proc (p: Persistency, jobId: string): Result[Job, PersistencyError] {.nimcall.} = openJob
    let closeJobP: proc (p: Persistency, jobId: string) {.nimcall.} = closeJob
    let closeP: proc (p: Persistency) {.nimcall.} = persistency.close
    let dropJobP: proc (p: Persistency, jobId: string) {.nimcall.} = dropJob
    let jobP: proc (p: Persistency, jobId: string): Result[Job, PersistencyError] {.nimcall.} = job
    let subscriptP: proc (p: Persistency, jobId: string): Job {.nimcall, raises: [KeyError].} = `[]`
    check typeof(hasJob(Persistency(), "")) is bool # {.inline.} upstream too
    let persistOps: proc (t: Job, ops: seq[TxOp]): Future[void] {.nimcall.} = persist
    let persistOp: proc (t: Job, op: TxOp): Future[void] {.nimcall.} = persist
    let putP: proc (t: Job, category: string, key: Key, payload: seq[byte]): Future[void] {.nimcall.} = persistPut
    let delP: proc (t: Job, category: string, key: Key): Future[void] {.nimcall.} = persistDelete
    let delPrefixP: proc (t: Job, category: string, prefix: Key): Future[void] {.nimcall.} = persistDeletePrefix
    check typeof(Job().persistEncoded("c", key(), Pair())) is Future[void] # generic
    let idPersistOps: proc (p: Persistency, jobId: string, ops: seq[TxOp]): Future[void] {.nimcall.} = persist
    let idPersistOp: proc (p: Persistency, jobId: string, op: TxOp): Future[void] {.nimcall.} = persist
    let idPut: proc (p: Persistency, jobId: string, category: string, key: Key, payload: seq[byte]): Future[void] {.nimcall.} = persistPut
    let idDel: proc (p: Persistency, jobId: string, category: string, key: Key): Future[void] {.nimcall.} = persistDelete
    let idDelPrefix: proc (p: Persistency, jobId: string, category: string, prefix: Key): Future[void] {.nimcall.} = persistDeletePrefix
    check typeof(Persistency().persistEncoded("j", "c", key(), Pair())) is Future[void]
    let getP: JobForm[Opt[seq[byte]]] = get
    let existsP: JobForm[bool] = exists
    let deleteAckedP: JobForm[bool] = deleteAcked
    let scanP: proc (t: Job, category: string, range: KeyRange, reverse: bool): Future[Result[seq[KvRow], PersistencyError]] {.nimcall.} = scan
    let scanPrefixP: proc (t: Job, category: string, prefix: Key, reverse: bool): Future[Result[seq[KvRow], PersistencyError]] {.nimcall.} = scanPrefix
    let countP: proc (t: Job, category: string, range: KeyRange): Future[Result[int, PersistencyError]] {.nimcall.} = count
    let idGet: IdForm[Opt[seq[byte]]] = get
    let idExists: IdForm[bool] = exists
    let idDeleteAcked: IdForm[bool] = deleteAcked
    let idScan: proc (p: Persistency, jobId: string, category: string, range: KeyRange, reverse: bool): Future[Result[seq[KvRow], PersistencyError]] {.nimcall.} = scan
    let idScanPrefix: proc (p: Persistency, jobId: string, category: string, prefix: Key, reverse: bool): Future[Result[seq[KvRow], PersistencyError]] {.nimcall.} = scanPrefix
    let idCount: proc (p: Persistency, jobId: string, category: string, range: KeyRange): Future[Result[int, PersistencyError]] {.nimcall.} = count
    # types.nim
    check typeof(bytes(key())) is seq[byte] # the {.inline.} ones
    check typeof(key().len) is int
    check typeof(key() == key()) is bool
    let ltP: proc (a, b: Key): bool {.nimcall.} = `<`
    check typeof(key() <= key()) is bool
    let rawA: proc (b: openArray[byte]): Key {.nimcall.} = rawKey
    check typeof(rawKey(@[1'u8])) is Key
    check typeof(persistencyErr(peBackend, "m", 1)) is PersistencyError
    let dollarP: proc (e: PersistencyError): string {.nimcall.} = `$`
    # keys.nim and payload.nim
    let prefixRangeP: proc (prefix: Key): KeyRange {.nimcall.} = prefixRange
    var buf: seq[byte]
    encodePart(buf, "s"); encodePart(buf, @[1'u8]); encodePart(buf, 1'i64); encodePart(buf, 1'u64)
    encodePart(buf, 1); encodePart(buf, 1'i32); encodePart(buf, 1'i16); encodePart(buf, 1'i8)
    encodePart(buf, 1'u32); encodePart(buf, 1'u16); encodePart(buf, true); encodePart(buf, 1'u8)
    encodePart(buf, 'c'); encodePart(buf, key("k")); encodePart(buf, green); encodePart(buf, (1'i64, "t"))
    var k = key("a")
    k.add("b")
    check toKey("x") == key("x")
    check toPayload("x") == payload("x")
    check StringLenMax == 65535
    check DefaultStoragePath == "./data"
    check InMemoryStoragePath == ":memory:"
    check [peBackend, peClosed, peInvalidArgument, peTimeout, peJobNotFound].mapIt(ord(it)) == @[0, 1, 2, 3, 4]
    check [txPut, txDelete, txDeletePrefix].mapIt(ord(it)) == @[0, 1, 2]
    let row: KvRow = (key: key("r"), payload: @[1'u8])
    let op = TxOp(category: "c", key: key("k"), kind: txPut, payload: @[1'u8])
    let e = PersistencyError(kind: peTimeout, msg: "m", backendCode: 5)
    check $e == "PersistencyError(peTimeout: m, code=5)"
    check row.key == key("r") and op.payload == @[1'u8]
    let jobFields = (id: Job().id, running: Job().running)
    let pFields = (rootDir: Persistency().rootDir, jobs: Persistency().jobs)
    check jobFields.id == "" and not jobFields.running and pFields.jobs.len == 0
    check not openJobP.isNil and not closeJobP.isNil and not closeP.isNil
    check not dropJobP.isNil and not jobP.isNil and not subscriptP.isNil
    check not persistOps.isNil and not persistOp.isNil and not putP.isNil and not delP.isNil
    check not delPrefixP.isNil and not idPersistOps.isNil and not idPersistOp.isNil
    check not idPut.isNil and not idDel.isNil and not idDelPrefix.isNil
    check not getP.isNil and not existsP.isNil and not deleteAckedP.isNil and not scanP.isNil
    check not scanPrefixP.isNil and not countP.isNil and not idGet.isNil and not idExists.isNil
    check not idDeleteAcked.isNil and not idScan.isNil and not idScanPrefix.isNil and not idCount.isNil
    check not ltP.isNil and not rawA.isNil and not dollarP.isNil
    check not prefixRangeP.isNil

suite "facade":
  asyncTest "a read sees every write queued before it, no poll or sleep":
    let p = Persistency.new(freshRoot()).get()
    defer: p.close()
    let j = p.openJob("alpha").get()
    let k = key("msg", 1'i64)
    await j.persistPut("msg", k, @[1'u8, 2, 3])
    check (await j.get("msg", k)).get() == Opt.some(@[1'u8, 2, 3])
    check (await j.exists("msg", k)).get()
    check (await j.get("msg", key("msg", 2'i64))).get().isNone
    check (await j.get("other", k)).get().isNone
    await j.persistPut("msg", k, @[])
    check (await j.get("msg", k)).get() == Opt.some(newSeq[byte]())
    for i in 0 ..< 50:
      await j.persistPut("c", key("a", i), @[byte(i)])
    await j.persistDelete("c", key("a", 7))
    check (await j.get("c", key("a", 7))).get().isNone
    check (await j.count("c", prefixRange(key("a")))).get() == 49
    await j.persistDeletePrefix("c", key("a"))
    check (await j.count("c", prefixRange(key()))).get() == 0
    check (await j.flush()).isOk

  asyncTest "batches: atomic, committed on request, refused whole when invalid":
    recordWarnings()
    defer: setWarningHandler(nil)
    let p = Persistency.new(freshRoot()).get()
    defer: p.close()
    var opts = defaultJobOptions()
    opts.maxDbBytes = 256 * 1024
    let j = p.openJob("batch", opts).get()
    check (await j.persistCommitted(@[putOp("c", key(1), @[1'u8]), putOp("c", key(2), @[2'u8]),
                                      deleteOp("c", key(3))])).isOk
    let full = await j.persistCommitted(@[putOp("c", key(3), @[3'u8]), deleteOp("c", key(1)),
                                          putOp("c", key(4), newSeq[byte](2 * 1024 * 1024))])
    check full.error.kind == peFull
    check (await j.get("c", key(1))).get() == Opt.some(@[1'u8])
    check (await j.get("c", key(3))).get().isNone
    await j.persist(@[putOp("c", key(5), @[5'u8]), deletePrefixOp("c", key(2))])
    check (await j.get("c", key(5))).get() == Opt.some(@[5'u8])
    check (await j.get("c", key(2))).get().isNone
    check logged().len == 0
    await j.persist(@[putOp("c", key(7), @[7'u8]), putOp("bad\0category", key(8), @[])])
    check not (await j.exists("c", key(7))).get()
    check logged().len == 1
    check "category contains a NUL byte" in logged()[0]

  asyncTest "scans, pages, counts, multi-get, acked deletes":
    let p = Persistency.new(freshRoot()).get()
    defer: p.close()
    let j = p.openJob("scan").get()
    for i in -3'i64 .. 5'i64:
      await j.persistPut("m", key("ch", i), payload(i))
    await j.persistPut("m", key("other", 0'i64), @[0'u8])
    let asc = (await j.scanPrefix("m", key("ch"))).get()
    check asc.mapIt(it.key) == toSeq(-3'i64 .. 5'i64).mapIt(key("ch", it))
    check asc[0].payload == payload(-3'i64)
    let desc = (await j.scanPrefix("m", key("ch"), reverse = true)).get()
    check desc.mapIt(it.key) == toSeq(countdown(5'i64, -3'i64)).mapIt(key("ch", it))
    let page = (await j.scanPage("m", prefixRange(key("ch")), limit = 4)).get()
    check page.rows.len == 4
    check page.hasMore
    check (await j.scanPage("m", prefixRange(key("ch")), limit = -1)).error.kind == peInvalidArgument
    let mid = (await j.scan("m", KeyRange(start: key("ch", 0'i64), stop: key("ch", 3'i64)))).get()
    check mid.mapIt(it.key) == @[key("ch", 0'i64), key("ch", 1'i64), key("ch", 2'i64)]
    check (await j.count("m", prefixRange(key("ch")))).get() == 9
    check (await j.count("m", KeyRange())).get() == 10
    let many = (await j.getMany("m", @[key("ch", 2'i64), key("nope"), key("ch", -3'i64)])).get()
    check many.mapIt(it.key) == @[key("ch", 2'i64), key("ch", -3'i64)]
    check (await j.deleteAcked("m", key("other", 0'i64))).get() == true
    check (await j.deleteAcked("m", key("other", 0'i64))).get() == false

  asyncTest "jobs: one ref per open job, isolation, close, drop, reopen":
    recordWarnings()
    defer: setWarningHandler(nil)
    let root = freshRoot()
    let p = Persistency.new(root).get()
    defer: p.close()
    let a = p.openJob("a").get()
    let b = p.openJob("b").get()
    check p.openJob("a").get() == a
    check p.job("a").get() == a
    check p["b"] == b
    check a.context == p.job("a").get().context
    check a.context != b.context
    check a.running and b.running
    await a.persistPut("c", key(1), @[1'u8])
    await b.persistPut("c", key(1), @[2'u8])
    check (await a.get("c", key(1))).get() == Opt.some(@[1'u8])
    check (await b.get("c", key(1))).get() == Opt.some(@[2'u8])
    check fileExists(root / "b.db")
    p.dropJob("b")
    check not fileExists(root / "b.db")
    check not b.running
    check (await b.get("c", key(1))).error.kind == peClosed
    await b.persistPut("c", key(2), @[2'u8])
    check logged().len == 1 and "peClosed" in logged()[0]
    check (await a.get("c", key(1))).get() == Opt.some(@[1'u8])
    p.closeJob("a")
    check not p.hasJob("a")
    check p.job("a").error.kind == peJobNotFound
    let a2 = p.openJob("a").get()
    check a2 != a
    check a2.context != a.context
    check (await a2.get("c", key(1))).get() == Opt.some(@[1'u8])
    check a2.stats().get().reads >= 1
    p.close()
    check a2.stats().error.kind == peClosed
    check p.jobs.len == 0

  asyncTest "string-id forms: reads say peJobNotFound, writes are dropped and logged":
    recordWarnings()
    defer: setWarningHandler(nil)
    let p = Persistency.new(freshRoot()).get()
    defer: p.close()
    discard p.openJob("alpha").get()
    await p.persistPut("alpha", "c", key("x"), @[1'u8])
    await p.persistEncoded("alpha", "c", key("y"), Pair(name: "n", n: 3))
    check (await p.get("alpha", "c", key("x"))).get() == Opt.some(@[1'u8])
    check (await p.get("alpha", "c", key("y"))).get() == Opt.some(key("n", 3'i64).bytes)
    check (await p.scanPrefix("alpha", "c", key())).get().len == 2
    check (await p.scan("alpha", "c", prefixRange(key()))).get().len == 2
    await p.persist("alpha", deleteOp("c", key("y")))
    check not (await p.exists("alpha", "c", key("y"))).get()
    check (await p.deleteAcked("alpha", "c", key("x"))).get()
    check logged().len == 0
    await p.persistPut("ghost", "c", key("x"), @[1'u8])
    await p.persistDelete("ghost", "c", key("x"))
    await p.persistDeletePrefix("ghost", "c", key())
    await p.persist("ghost", @[deleteOp("c", key("x"))])
    await p.persistEncoded("ghost", "c", key("x"), 42'i64)
    check logged() == newSeqWith(5, "ghost: write dropped, job not open")
    check (await p.exists("ghost", "c", key("x"))).error.kind == peJobNotFound
    check (await p.scanPrefix("ghost", "c", key())).error.kind == peJobNotFound
    expect KeyError:
      discard p["ghost"]

  asyncTest "in-memory root: nothing on disk, rows gone when the job closes":
    recordWarnings()
    defer: setWarningHandler(nil)
    let p = Persistency.new(InMemoryStoragePath).get()
    defer: p.close()
    let j = p.openJob("mem").get()
    await j.persistPut("c", key(1), @[1'u8])
    check (await j.get("c", key(1))).get() == Opt.some(@[1'u8])
    check not fileExists("mem.db") and not dirExists(InMemoryStoragePath)
    p.closeJob("mem")
    let j2 = p.openJob("mem").get()
    check (await j2.get("c", key(1))).get().isNone
    p.dropJob("mem")
    check not p.hasJob("mem")
    check logged().len == 0

  asyncTest "bad input gives typed errors, never a crash":
    let root = freshRoot()
    let p = Persistency.new(root).get()
    defer: p.close()
    for bad in ["", ".hidden", "a/b", "../x", "a b", repeat('x', 129), "a\0b"]:
      let r = p.openJob(bad)
      check r.isErr
      check r.error.kind == peInvalidArgument
    check p.openJob(repeat('x', 128)).isOk
    check Persistency.new("").error.kind == peInvalidArgument
    let tb = freshRoot() & "-files"
    createDir(tb)
    writeFile(tb / "plainfile", "x")
    check Persistency.new(tb / "plainfile").error.kind == peInvalidArgument
    check Persistency.new(tb / "plainfile" / "sub").error.kind == peInvalidArgument
    let j = p.openJob("ok").get()
    check (await j.get("a\0b", key(1))).error.kind == peInvalidArgument
    check (await j.count(newString(70_000), KeyRange())).error.kind == peInvalidArgument
    let nilJob: Job = nil
    check (await nilJob.get("c", key(1))).error.kind == peInvalidArgument
    p.closeJob("never-opened")
    p.dropJob("never-opened")

  test "two instances cannot hold the same job file":
    let root = freshRoot()
    let a = Persistency.new(root).get()
    let b = Persistency.new(root).get()
    defer: a.close()
    defer: b.close()
    check a != b
    check a.openJob("same").isOk
    check b.openJob("same").error.kind == peInvalidArgument
    a.closeJob("same")
    check b.openJob("same").isOk

suite "cross-language":
  asyncTest "a row written by Nim is read by C, and the other way round":
    let exe = getEnv("PERSISTENCY_XLANG_C")
    check exe.len > 0 and fileExists(exe)
    let root = freshRoot()
    block:
      let p = Persistency.new(root).get()
      let j = p.openJob("xlang").get()
      var bytes = newSeq[byte](256)
      for i in 0 ..< 256: bytes[i] = byte(i)
      await j.persistPut("rows", key("xlang", -5'i64, 7'u64, true, 3'u8), bytes)
      p.close()
    let (output, code) = execCmdEx(quoteShell(exe) & " " & quoteShell(root))
    check code == 0
    check output.strip == "xlang ok"
    let p = Persistency.new(root).get()
    defer: p.close()
    let j = p.openJob("xlang").get()
    let fromC = (await j.get("rows", key("from-c", 42'i64))).get()
    check fromC.isSome
    check cast[string](fromC.get()) == "hello from c"

removeDir(testBase)
