## Test suite of the Nim binding: the upstream suites' behaviours through
## libpersistency, the key-encoding invariants and vectors, the async form,
## several Nim threads at once, and a row read back by a C program.
##
## Run with `bindings/nim/run_tests.sh` from the repo root.

import std/[unittest, json, os, strutils, algorithm, osproc, sequtils]
import ../persistency
import ../persistency/ffi

const repoRoot = currentSourcePath().parentDir().parentDir().parentDir().parentDir()

proc hexToBytes(h: string): seq[byte] =
  result = newSeq[byte](h.len div 2)
  for i in 0 ..< result.len:
    result[i] = byte(parseHexInt(h[2*i .. 2*i+1]))

proc hex(k: Key): string = toHex(k.bytes)

var rootCounter = 0
let testBase = getTempDir() / ("persistency-nim-test-" & $getCurrentProcessId())

proc freshRoot(): string =
  ## A directory that does not exist yet (created by the first openJob).
  inc rootCounter
  testBase / ("root" & $rootCounter)

proc newInstance(root: string): Persistency =
  newPersistency(root).get()

proc startsWith(k, prefix: Key): bool =
  k.len >= prefix.len and k.bytes[0 ..< prefix.len] == prefix.bytes

proc inRange(k: Key, r: KeyRange): bool =
  r.start <= k and (r.stop.len == 0 or k < r.stop)

# ── Keys ────────────────────────────────────────────────────────────────

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
      check toHex(buf) == c["key_hex"].getStr
      check hex(prefixRange(Key(buf)).stop) == c["prefix_stop_hex"].getStr
      inc n
    check n == doc["cases"].len
    check n > 100

  test "key(...) macro matches the vectors' forms":
    check hex(key()) == ""
    check hex(key("")) == "0000"
    check hex(key("ab")) == "00026162"
    check hex(key("ch", -1'i64)) == "000263687fffffffffffffff"
    check hex(key(low(int64))) == "0000000000000000"
    check hex(key(high(uint64))) == "ffffffffffffffff"
    check hex(prefixRange(key("ch", -1'i64)).stop) == "0002636880"
    check hex(prefixRange(rawKey(@[0xff'u8, 0xff, 0xff])).stop) == ""
    check hex(prefixRange(rawKey(@[0x01'u8, 0xff])).stop) == "02"

  test "every part type encodes as upstream":
    check hex(key(5)) == "8000000000000005"
    check hex(key(-2'i8)) == hex(key(-2'i64))
    check hex(key(7'i16)) == hex(key(7'i64))
    check hex(key(7'u16)) == "0000000000000007"
    check hex(key(7'u32)) == "0000000000000007"
    check hex(key(7'u)) == "0000000000000007"
    check hex(key(7'u8)) == "07"
    check hex(key('A')) == "41"
    check hex(key(true, false)) == "0100"
    check hex(key(blue)) == hex(key(2'i64))
    check hex(key(@[1'u8, 2])) == "00020102"
    var arr: array[3, byte] = [9'u8, 8, 7]
    check hex(key(arr)) == "0003090807"
    check hex(key(key("a"), 1'u8)) == "00016101"
    check hex(key((1'i64, "x"))) == hex(key(1'i64, "x"))
    check hex(key(Pair(name: "n", n: 3))) == hex(key("n", 3'i64))
    check toKey("ab") == key("ab")
    var k = key("a")
    k.add 1'i64
    check k == key("a", 1'i64)
    check payload("v1", 1'i64) == key("v1", 1'i64).bytes
    check toPayload(Pair(name: "n", n: 3)) == key("n", 3'i64).bytes

  test "signed integers order numerically, negatives included":
    let vals = @[low(int64), -1_000_000'i64, -2, -1, 0, 1, 2, 255, 256, 1_000_000, high(int64)]
    var keys = vals.mapIt(key(it))
    keys.sort(cmp)
    check keys == vals.mapIt(key(it))
    for i in 1 ..< vals.len:
      check key(vals[i-1]) < key(vals[i])
    check key(-1'i32) < key(0'i32)

  test "strings order by length first, then bytes":
    check key("b") < key("aa")
    check key("zz") < key("aaa")
    check key("ab") < key("ac")
    check key("") < key("a")
    let words = @["pear", "fig", "apple", "kiwi", "a", "banana"]
    var byKey = words
    byKey.sort(proc (a, b: string): int = cmp(key(a), key(b)))
    check byKey == @["a", "fig", "kiwi", "pear", "apple", "banana"]

  test "tuples order field by field":
    check key((1'i64, 9'i64)) < key((2'i64, 0'i64))
    check key((1'i64, -5'i64)) < key((1'i64, 3'i64))
    check key(("ch", 1'i64, 7'u64)) < key(("ch", 1'i64, 8'u64))
    check key(("ch", 2'i64, 0'u64)) > key(("ch", 1'i64, 99'u64))

  test "prefixRange covers exactly the keys with that prefix":
    var all: seq[Key]
    for ch in ["a", "b", "ab"]:
      for n in [-3'i64, 0, 7]:
        all.add key(ch, n)
        all.add key(ch, n, true)
    all.add rawKey(@[0xff'u8, 0xff])
    all.add rawKey(@[0xff'u8, 0xff, 0x00])
    all.add rawKey(@[0xff'u8])
    all.add key()
    for prefix in [key("a"), key("ab", 0'i64), key(), rawKey(@[0xff'u8, 0xff]),
                   rawKey(@[0xff'u8]), key("zz")]:
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

  test "over-long parts are typed errors":
    let long = newString(StringLenMax + 1)
    expect KeyEncodingError:
      discard key("ok", long)
    expect KeyEncodingError:
      discard toPayload(newSeq[byte](70_000))
    let r = tryKey("a", long)
    check r.isErr
    check r.error.kind == peInvalidArgument
    check tryPayload(long).isErr
    check tryKey(newString(StringLenMax)).get().len == StringLenMax + 2

# ── Facade ──────────────────────────────────────────────────────────────

suite "facade":
  test "round trip: put, get, exists, missing key":
    let p = newInstance(freshRoot())
    let j = p.openJob("alpha").get()
    let k = key("msg", 1'i64)
    check j.persistPut("msg", k, @[1'u8, 2, 3]).isOk
    check j.get("msg", k).get() == some(@[1'u8, 2, 3])
    check j.exists("msg", k).get()
    check j.get("msg", key("msg", 2'i64)).get().isNone
    check not j.exists("msg", key("msg", 2'i64)).get()
    check j.get("other", k).get().isNone
    check j.persistPut("msg", k, @[]).isOk
    check j.get("msg", k).get() == some(newSeq[byte]())
    check j.persistPut("msg", key(), @[7'u8]).isOk
    check j.get("msg", key()).get() == some(@[7'u8])
    check j.id == "alpha"

  test "atomic batch: all or none":
    let p = newInstance(freshRoot())
    var opts = defaultJobOptions()
    opts.maxDbBytes = 256 * 1024
    let j = p.openJob("batch", opts).get()
    check j.persist([putOp("c", key(1), @[1'u8]), putOp("c", key(2), @[2'u8]),
                     deleteOp("c", key(3))]).isOk
    check j.count("c").get() == 2
    check j.persist([putOp("c", key(3), @[3'u8]), deleteOp("c", key(1)),
                     putOp("c", key(4), newSeq[byte](2 * 1024 * 1024))]).error.kind == peFull
    check j.get("c", key(1)).get() == some(@[1'u8])
    check j.get("c", key(3)).get().isNone
    check j.count("c").get() == 2
    check j.persist([putOp("c", key(5), @[5'u8]), deletePrefixOp("c", key(2))]).isOk
    check j.get("c", key(5)).get() == some(@[5'u8])
    check j.get("c", key(2)).get().isNone
    check j.persist(putOp("c", key(6), @[6'u8])).isOk
    check j.exists("c", key(6)).get()
    let bad = j.persist([putOp("c", key(7), @[7'u8]), putOp(newString(70_000), key(8), @[])])
    check bad.error.kind == peInvalidArgument
    check not j.exists("c", key(7)).get()

  test "scanPrefix ascending and descending, pages":
    let p = newInstance(freshRoot())
    let j = p.openJob("scan").get()
    for i in -3'i64 .. 5'i64:
      check j.persistPut("m", key("ch", i), payload(i)).isOk
    check j.persistPut("m", key("other", 0'i64), @[0'u8]).isOk
    check j.persistPut("n", key("ch", 0'i64), @[0'u8]).isOk
    let asc = j.scanPrefix("m", key("ch")).get()
    check asc.mapIt(it.key) == toSeq(-3'i64 .. 5'i64).mapIt(key("ch", it))
    check asc[0].payload == payload(-3'i64)
    let desc = j.scanPrefix("m", key("ch"), reverse = true).get()
    check desc.mapIt(it.key) == toSeq(countdown(5'i64, -3'i64)).mapIt(key("ch", it))
    let page = j.scanPrefixPage("m", key("ch"), limit = 4).get()
    check page.rows.len == 4
    check page.hasMore
    let last = j.scanPrefixPage("m", key("ch"), limit = 9).get()
    check last.rows.len == 9
    check not last.hasMore
    let mid = j.scan("m", keyRange(key("ch", 0'i64), key("ch", 3'i64))).get()
    check mid.mapIt(it.key) == @[key("ch", 0'i64), key("ch", 1'i64), key("ch", 2'i64)]
    check j.count("m", prefixRange(key("ch"))).get() == 9
    check j.count("m").get() == 10
    # Open-ended: ch/4, ch/5, then "other" (a longer string sorts after "ch").
    check j.scan("m", keyRange(key("ch", 4'i64))).get().mapIt(it.key) ==
      @[key("ch", 4'i64), key("ch", 5'i64), key("other", 0'i64)]
    let many = j.getMany("m", [key("ch", 2'i64), key("nope"), key("ch", -3'i64)]).get()
    check many.mapIt(it.key) == @[key("ch", 2'i64), key("ch", -3'i64)]

  test "deleteAcked tells whether a row was removed":
    let p = newInstance(freshRoot())
    let j = p.openJob("acked").get()
    check j.persistPut("c", key("k"), @[1'u8]).isOk
    check j.deleteAcked("c", key("k")).get() == true
    check j.deleteAcked("c", key("k")).get() == false
    check j.get("c", key("k")).get().isNone

  test "fire-and-forget deletes are seen by the next read, no sleep":
    let p = newInstance(freshRoot())
    let j = p.openJob("ff").get()
    for i in 0 ..< 50:
      check j.persistPut("c", key("a", i), @[byte(i)]).isOk
    check j.persistDelete("c", key("a", 7)).isOk
    check j.get("c", key("a", 7)).get().isNone
    check j.persistDeletePrefix("c", key("a")).isOk
    check j.count("c").get() == 0
    check j.flush().isOk

  test "two jobs are isolated":
    let p = newInstance(freshRoot())
    let a = p.openJob("a").get()
    let b = p.openJob("b").get()
    check a.persistPut("c", key(1), @[1'u8]).isOk
    check b.persistPut("c", key(1), @[2'u8]).isOk
    check a.get("c", key(1)).get() == some(@[1'u8])
    check b.get("c", key(1)).get() == some(@[2'u8])
    check p.dropJob("b").isOk
    check a.get("c", key(1)).get() == some(@[1'u8])
    check b.get("c", key(1)).error.kind == peClosed

  test "string-id lookups":
    let p = newInstance(freshRoot())
    discard p.openJob("alpha").get()
    check p.hasJob("alpha")
    check not p.hasJob("beta")
    check p.persistPut("alpha", "c", key("x"), @[1'u8]).isOk
    check p.get("alpha", "c", key("x")).get() == some(@[1'u8])
    check p.exists("alpha", "c", key("x")).get()
    check p.scanPrefix("alpha", "c", key()).get().len == 1
    check p.count("alpha", "c").get() == 1
    check p.persistEncoded("alpha", "c", key("y"), Pair(name: "n", n: 3)).isOk
    check p.get("alpha", "c", key("y")).get() == some(key("n", 3'i64).bytes)
    check p.persist("alpha", [deleteOp("c", key("y"))]).isOk
    check p.deleteAcked("alpha", "c", key("x")).get()
    check p["alpha"].id == "alpha"
    check p.job("alpha").get().id == "alpha"
    check p.job("beta").error.kind == peJobNotFound
    check p.get("beta", "c", key("x")).error.kind == peJobNotFound
    check p.persistPut("beta", "c", key("x"), @[1'u8]).error.kind == peJobNotFound
    expect KeyError:
      discard p["beta"]
    check p.closeJob("alpha").isOk
    check not p.hasJob("alpha")
    check p.job("alpha").error.kind == peJobNotFound

  test "reopen keeps data; nothing accepted is lost":
    let root = freshRoot()
    block:
      let p = newInstance(root)
      let j = p.openJob("keep").get()
      for i in 0 ..< 500:
        check j.persistPut("c", key(i), payload("row", i)).isOk
      check p.closeJob("keep").isOk
      check j.persistPut("c", key(1), @[]).error.kind == peClosed
      let j2 = p.openJob("keep").get()
      check j2.count("c").get() == 500
      check j2.persistPut("c", key(-1), @[1'u8]).isOk
    check fileExists(root / "keep.db")
    let p = newInstance(root)
    let j = p.openJob("keep").get()
    check j.count("c").get() == 501
    check j.get("c", key(499)).get() == some(payload("row", 499))
    let s = j.stats().get()
    check s.reads >= 2

  test "process-wide instance: same root same instance, reset":
    let root = freshRoot()
    let p1 = persistency(root).get()
    let p2 = Persistency.instance(root).get()
    check p1 == p2
    check Persistency.instance().get() == p1
    check p1.rootDir == root
    check persistency(root & "-other").error.kind == peInvalidArgument
    let j = p1.openJob("w").get()
    check j.persistPut("c", key(1), @[1'u8]).isOk
    check Persistency.reset().isOk
    check Persistency.reset().isOk
    check Persistency.instance().error.kind == peClosed
    check j.get("c", key(1)).error.kind == peClosed
    check p1.openJob("w").error.kind == peClosed
    let p3 = Persistency.instance(root & "-other").get()
    check p3.openJob("w").isOk
    check Persistency.reset().isOk

  test "bad input gives typed errors":
    let root = freshRoot()
    let p = newInstance(root)
    for bad in ["", ".hidden", "a/b", "../x", "a b", repeat('x', 129), "a\0b"]:
      let r = p.openJob(bad)
      check r.isErr
      check r.error.kind == peInvalidArgument
    check p.openJob(repeat('x', 128)).isOk
    check newPersistency("").error.kind == peInvalidArgument
    writeFile(testBase / "plainfile", "x")
    check newPersistency(testBase / "plainfile").error.kind == peInvalidArgument
    check newPersistency(testBase / "plainfile" / "sub").error.kind == peInvalidArgument
    let j = p.openJob("ok").get()
    check j.persistPut(newString(70_000), key(1), @[]).error.kind == peInvalidArgument
    check j.persistPut("a\0b", key(1), @[]).error.kind == peInvalidArgument
    check j.get("a\0b", key(1)).error.kind == peInvalidArgument
    check j.scanPrefixPage("c", key(), limit = -1).error.kind == peInvalidArgument
    let nilJob: Job = nil
    check nilJob.get("c", key(1)).error.kind == peInvalidArgument
    check nilJob.persistPut("c", key(1), @[]).error.kind == peInvalidArgument
    check p.persistEncoded("ok", "c", key(1), newString(70_000)).error.kind == peInvalidArgument
    check p.closeJob("never-opened").isOk
    check p.dropJob("never-opened").isOk
    check p.close().isOk
    check j.get("c", key(1)).error.kind == peClosed
    check j.deleteAcked("c", key(1)).error.kind == peClosed
    check j.persist([putOp("c", key(1), @[])]).error.kind == peClosed
    check j.flush().error.kind == peClosed
    check j.stats().error.kind == peClosed
    check not j.isOpen
    check p.openJob("ok").get().isOpen

  test "two instances cannot hold the same job file":
    let root = freshRoot()
    let a = newInstance(root)
    let b = newInstance(root)
    check a.openJob("same").isOk
    check b.openJob("same").error.kind == peInvalidArgument
    check a.closeJob("same").isOk
    check b.openJob("same").isOk

# ── Async ───────────────────────────────────────────────────────────────

proc asyncScenario(j: Job): Future[seq[string]] {.async.} =
  var log: seq[string]
  let w = await j.persistAsync([putOp("a", key("k", 1), @[1'u8]), putOp("a", key("k", 2), @[2'u8])])
  log.add $w.isOk
  let g = await j.getAsync("a", key("k", 2))
  log.add $g.get()
  let e = await j.existsAsync("a", key("k", 3))
  log.add $e.get()
  let s = await j.scanPrefixAsync("a", key("k"), reverse = true)
  log.add $s.get().mapIt(it.payload)
  let c = await j.countAsync("a")
  log.add $c.get()
  let d = await j.deleteAckedAsync("a", key("k", 1))
  log.add $d.get()
  let f = await j.flushAsync()
  log.add $f.isOk
  let m = await j.getManyAsync("a", [key("k", 2), key("k", 1)])
  log.add $m.get().len
  let r = await j.scanAsync("a", keyRange(key("k", 0)))
  log.add $r.get().len
  return log

suite "async (std/asyncdispatch)":
  test "each async read and write completes with its result":
    let p = newInstance(freshRoot())
    let j = p.openJob("async").get()
    let log = waitFor asyncScenario(j)
    check log == @["true", "some(@[2])", "false", "@[@[2], @[1]]", "2", "true", "true", "1", "1"]
    check not hasPendingOperations()

  test "many futures in flight at once":
    let p = newInstance(freshRoot())
    let j = p.openJob("fan").get()
    for i in 0 ..< 100:
      check j.persistPut("c", key(i), @[byte(i)]).isOk
    var futs: seq[Future[PResult[Option[seq[byte]]]]]
    for i in 0 ..< 100:
      futs.add j.getAsync("c", key(i))
    let all = waitFor all(futs)
    for i in 0 ..< 100:
      check all[i].get() == some(@[byte(i)])

  test "errors arrive as results, not exceptions":
    let p = newInstance(freshRoot())
    let j = p.openJob("aerr").get()
    check (waitFor j.getAsync("a\0", key(1))).error.kind == peInvalidArgument
    check (waitFor p.getAsync("nope", "c", key(1))).error.kind == peJobNotFound
    check (waitFor p.persistAsync("aerr", [putOp("c", key(1), @[1'u8])])).isOk
    check (waitFor p.scanPrefixAsync("aerr", "c", key())).get().len == 1
    check p.closeJob("aerr").isOk
    check (waitFor j.getAsync("c", key(1))).error.kind == peClosed
    check (waitFor j.persistAsync([putOp("c", key(1), @[])])).error.kind == peClosed

# ── Threads ─────────────────────────────────────────────────────────────

const perThread = 200
var threadOk: array[6, int]

proc sharedWriter(arg: tuple[root: string, n: int]) {.thread.} =
  ## Reaches the process-wide instance and the job by id from its own thread.
  let p = persistency(arg.root).get()
  let j = p.job("shared").get()
  var ok = 0
  for i in 0 ..< perThread:
    if j.persistPut("t", key(arg.n, i), payload(arg.n, i)).isOk: inc ok
  for i in 0 ..< perThread:
    if j.get("t", key(arg.n, i)).get() == some(payload(arg.n, i)): inc ok
  threadOk[arg.n] = ok

proc borrowedWriter(arg: tuple[handle: ptr CPersistency, n: int]) {.thread.} =
  ## Uses an independent instance owned by the main thread; async reads on
  ## this thread's own dispatcher.
  let p = Persistency.borrow(arg.handle)
  let j = p.job("indep").get()
  var ok = 0
  for i in 0 ..< perThread:
    if j.persistPut("t", key(arg.n, i), @[byte(i mod 256)]).isOk: inc ok
  for i in 0 ..< perThread:
    if (waitFor j.getAsync("t", key(arg.n, i))).get() == some(@[byte(i mod 256)]): inc ok
  threadOk[arg.n] = ok

suite "threads":
  test "several Nim threads write at once":
    let root = freshRoot()
    let p = persistency(root).get()
    let shared = p.openJob("shared").get()
    let indep = newInstance(root & "-indep")
    let ij = indep.openJob("indep").get()
    var ts: array[4, Thread[tuple[root: string, n: int]]]
    var tb: array[2, Thread[tuple[handle: ptr CPersistency, n: int]]]
    for i in 0 ..< ts.len:
      createThread(ts[i], sharedWriter, (root: root, n: i))
    for i in 0 ..< tb.len:
      createThread(tb[i], borrowedWriter, (handle: indep.unsafeHandle, n: 4 + i))
    joinThreads(ts)
    joinThreads(tb)
    for i in 0 ..< threadOk.len:
      check threadOk[i] == 2 * perThread
    check shared.count("t").get() == 4 * perThread
    check ij.count("t").get() == 2 * perThread
    for n in 0 ..< 4:
      check shared.scanPrefix("t", key(n)).get().len == perThread
    check Persistency.reset().isOk

# ── Cross-language ──────────────────────────────────────────────────────

suite "cross-language":
  test "a row written by Nim is read by C, and the other way round":
    let exe = getEnv("PERSISTENCY_XLANG_C")
    check exe.len > 0 and fileExists(exe)
    let root = freshRoot()
    block:
      let p = newInstance(root)
      let j = p.openJob("xlang").get()
      var bytes = newSeq[byte](256)
      for i in 0 ..< 256: bytes[i] = byte(i)
      check j.persistPut("rows", key("xlang", -5'i64, 7'u64, true, 3'u8), bytes).isOk
      check p.closeJob("xlang").isOk
    let (output, code) = execCmdEx(quoteShell(exe) & " " & quoteShell(root))
    check code == 0
    check output.strip == "xlang ok"
    let p = newInstance(root)
    let j = p.openJob("xlang").get()
    let fromC = j.get("rows", key("from-c", 42'i64)).get()
    check fromC.isSome
    check cast[string](fromC.get()) == "hello from c"

removeDir(testBase)
