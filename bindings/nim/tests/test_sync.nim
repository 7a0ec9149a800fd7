## Tests of the sync sets: every call against counts and XORs computed
## here, unions, splits, and argument errors. Run with
## bindings/nim/run_tests.sh.

{.used.}

import std/os
import results
import testutils/unittests
import persistency/persistency

proc syncIds(n: int): seq[SyncId] =
  var x = 0x9e3779b97f4a7c15'u64
  for i in 0 ..< n:
    var id = SyncId(time: int64(i))
    for k in 0 ..< 32:
      x = x xor (x shl 13)
      x = x xor (x shr 7)
      x = x xor (x shl 17)
      id.hash[k] = byte(x and 0xff)
    result.add id

proc xorOf(ids: openArray[SyncId]): array[32, byte] =
  for id in ids:
    for k in 0 ..< 32:
      result[k] = result[k] xor id.hash[k]

suite "sync sets":
  test "add, query, split, remove and prune":
    let root = getTempDir() / ("persistency-nim-sync-" & $getCurrentProcessId())
    let p = Persistency.new(root).get()
    defer:
      p.close()
      removeDir(root)
    let j = p.openJob("sync").get()
    let ids = syncIds(400)
    check j.syncAdd("a", ids[0 ..< 200]).isOk
    check j.syncAddWait("a", ids[190 ..< 400]).get() == 200'u64
    check j.syncLen("a").get() == 400'u64
    let s = j.syncSummary(["a"], ids[10], ids[300]).get()
    check s.count == 290'u64
    check s.fingerprint == xorOf(ids[10 ..< 300])
    let parts = j.syncSplit(["a"], syncMin, syncMax, 8).get()
    check parts.len == 8
    for i, part in parts:
      check part.count == 50'u64
      check part.fingerprint == xorOf(ids[i * 50 ..< (i + 1) * 50])
    check parts[1].start == ids[50]
    let items = j.syncItems(["a"], ids[5], syncMax, 3).get()
    check items == @[ids[5], ids[6], ids[7]]
    let other = SyncId(time: -1)
    check j.syncAddWait("b", [other]).get() == 1'u64
    check j.syncSummary(["a", "b"], syncMin, syncMax).get().count == 401'u64
    check j.syncRemove("a", ids[0 ..< 5]).isOk
    check j.syncRemoveWait("a", ids[0 ..< 10]).get() == 5'u64
    check j.syncPruneWait("a", 100).get() == 90'u64
    check j.syncPrune("b", 0).isOk
    check j.syncLen("b").get() == 0'u64

  test "argument errors":
    let p = Persistency.new(":memory:").get()
    defer: p.close()
    let j = p.openJob("args").get()
    check j.syncAddWait("a", [syncMax]).error.kind == peInvalidArgument
    check j.syncAdd("", []).error.kind == peInvalidArgument
    check j.syncAdd("a\0b", []).error.kind == peInvalidArgument
    check j.syncSummary(["a", "a"], syncMin, syncMax).error.kind == peInvalidArgument
    check j.syncSplit(["a"], syncMin, syncMax, 0).error.kind == peInvalidArgument
    check j.syncItems(["a"], syncMin, syncMax, 0).error.kind == peInvalidArgument
