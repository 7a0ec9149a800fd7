## Tests of the maintenance additions: deleteRange, backup, compact, check
## and metricsText, with bad input. Run with bindings/nim/run_tests.sh.

{.used.}

import std/[os, strutils]
import chronos, results
import testutils/unittests
import persistency/persistency

let maintBase = getTempDir() / ("persistency-nim-maint-" & $getCurrentProcessId())
var maintCounter = 0

proc maintRoot(): string {.gcsafe.} =
  ## A directory that does not exist yet.
  {.cast(gcsafe).}:
    inc maintCounter
    maintBase / ("root" & $maintCounter)

proc countAll(j: Job, category: string): Future[int] {.async.} =
  return (await j.count(category, prefixRange(key()))).get()

suite "maintenance":
  asyncTest "deleteRange removes [start, stop) and refuses a reversed range":
    let p = Persistency.new(maintRoot()).get()
    defer: p.close()
    let j = p.openJob("range").get()
    for i in 0 ..< 10:
      await j.persistPut("c", key(int64(i)), @[byte(i)])
    check j.deleteRange("c", key(2'i64), key(5'i64)).isOk
    check (await j.countAll("c")) == 7
    check j.deleteRange("c", key(8'i64), key()).isOk # empty stop: no bound
    check (await j.countAll("c")) == 5
    check j.deleteRange("c", key(5'i64), key(2'i64)).error.kind == peInvalidArgument
    check j.deleteRange("a\0b", key(), key()).error.kind == peInvalidArgument
    check (await j.countAll("c")) == 5
    p.closeJob("range")
    check j.deleteRange("c", key(), key()).error.kind == peClosed

  asyncTest "backup: a copy that opens as a job, never over an existing file":
    let p = Persistency.new(maintRoot()).get()
    defer: p.close()
    let j = p.openJob("b").get()
    for i in 0 ..< 100:
      await j.persistPut("c", key(int64(i)), newSeq[byte](100))
    let dir = maintRoot()
    createDir(dir)
    let dest = dir / "copy.db"
    check (await j.backup(dest)).isOk
    check fileExists(dest)
    let restored = Persistency.new(dir).get()
    defer: restored.close()
    let copy = restored.openJob("copy").get()
    check (await copy.countAll("c")) == 100
    check (await copy.check()).isOk
    check (await j.backup(dest)).error.kind == peInvalidArgument
    check (await j.backup(dir / "no" / "such" / "x.db")).error.kind == peInvalidArgument
    check (await j.backup("")).error.kind == peInvalidArgument
    check (await j.backup("a\0b")).error.kind == peInvalidArgument
    p.closeJob("b")
    check (await j.backup(dir / "after-close.db")).error.kind == peClosed
    check not fileExists(dir / "after-close.db")

  asyncTest "compact gives space back; check passes; closed jobs refuse":
    let p = Persistency.new(maintRoot()).get()
    defer: p.close()
    let j = p.openJob("k").get()
    for chunk in 0 ..< 10:
      var ops: seq[TxOp]
      for i in 0 ..< 1000:
        ops.add putOp("c", key(int64(chunk * 1000 + i)), newSeq[byte](500))
      check (await j.persistCommitted(ops)).isOk
    check (await j.compact()).isOk
    let before = j.stats().get().dbBytes
    check j.deleteRange("c", key(), key(9000'i64)).isOk
    check (await j.compact()).isOk
    let after = j.stats().get().dbBytes
    check after * 4 < before
    check (await j.countAll("c")) == 1000
    check (await j.check()).isOk
    p.closeJob("k")
    check (await j.compact()).error.kind == peClosed
    check (await j.check()).error.kind == peClosed

  asyncTest "metricsText carries the stats of every open job":
    let p = Persistency.new(InMemoryStoragePath).get()
    defer: p.close()
    let j = p.openJob("m").get()
    check (await j.persistCommitted(@[putOp("c", key(1'i64), @[1'u8]),
                                      putOp("c", key(2'i64), @[2'u8])])).isOk
    discard (await j.get("c", key(1'i64))).get()
    let st = j.stats().get()
    let text = p.metricsText().get()
    check "# TYPE persistency_ops_applied_total counter\n" in text
    check ("persistency_ops_applied_total{job=\"m\"} " & $st.opsApplied & "\n") in text
    check ("persistency_reads_total{job=\"m\"} " & $st.reads & "\n") in text
    check ("persistency_transactions_total{job=\"m\"} " & $st.transactions & "\n") in text
    check "persistency_errors_total{job=\"m\",kind=\"full\"} 0\n" in text
    check Persistency(nil).metricsText().error.kind == peInvalidArgument

proc fileBytes(db: string): int64 =
  for p in [db, db & "-wal"]:
    if fileExists(p):
      result += getFileSize(p)

suite "retention":
  asyncTest "20 cycles of twice the cap: under the cap, newest rows kept":
    # The Rust, C and Go tests run the same scenario.
    const capBytes = 1 shl 20
    const row = 400
    const batch = 100
    let root = maintRoot()
    let p = Persistency.new(root).get()
    defer: p.close()
    var opts = defaultJobOptions()
    opts.retentionMaxBytes = capBytes
    opts.retentionCategories = @["msgs"]
    let j = p.openJob("capped", opts).get()
    await j.persistPut("other", key("config"), @[1'u8])
    let db = root / "capped.db"
    var next = 0
    for cycle in 0 ..< 20:
      for b in 0 ..< 2 * capBytes div (batch * row):
        var ops: seq[TxOp]
        for k in next ..< next + batch:
          ops.add putOp("msgs", key(int64(k)), newSeq[byte](row))
        check (await j.persistCommitted(ops)).isOk
        next += batch
        check (await j.flush()).isOk
        check float(fileBytes(db)) <= capBytes * 1.15
      let rows = (await j.scan("msgs", prefixRange(key()))).get()
      check rows.len > 0 and rows.len < next
      let first = next - rows.len
      for i, r in rows:
        check r.key == key(int64(first + i))
    check (await j.get("other", key("config"))).get() == Opt.some(@[1'u8])
    let big = await j.persistCommitted(@[putOp("msgs", key("big"), newSeq[byte](capBytes div 2 + 1))])
    check big.error.kind == peFull
    var bad = defaultJobOptions()
    bad.retentionMaxBytes = 1
    bad.retentionCategories = @["a\0b"]
    check p.openJob("bad", bad).error.kind == peInvalidArgument
