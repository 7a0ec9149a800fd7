## Reads through the Nim binding with chronos, against bench_c.c (the same
## through the C ABI): one on-disk job of 10,000 rows (32-byte keys,
## 256-byte payloads), then
##   * `await get` one at a time (20,000 gets),
##   * 1,000 gets in flight at once, awaited together (20 rounds).
## Each phase runs five times; the best is printed (the build machine is
## shared, the minimum is the least disturbed). Run with bench/run.sh.

import std/[os, monotimes, times, strutils]
import chronos, results
import persistency/persistency

const
  rows = 10_000
  sequential = 20_000
  batch = 1_000
  rounds = 20
  reps = 5

proc keyOf(i: int): Key =
  var b = newSeq[byte](32)
  var x = uint64(i) * 0x9E3779B97F4A7C15'u64
  for j in 0 ..< 32:
    x = x xor (x shl 13); x = x xor (x shr 7); x = x xor (x shl 17)
    b[j] = byte(x and 0xFF)
  rawKey(b)

proc report(what: string, n: int, ns: float) =
  echo what, ": ", formatFloat(ns / float(n) / 1000.0, ffDecimal, 2), " us/get, ",
    int(float(n) / (ns / 1e9)), " gets/s"

proc run(root: string) {.async.} =
  let p = Persistency.new(root).get()
  defer: p.close()
  let j = p.openJob("bench").get()
  let payload = newSeq[byte](256)
  for i in 0 ..< rows:
    await j.persistPut("b", keyOf(i), payload)
  doAssert (await j.flush()).isOk
  var best = Inf
  for rep in 0 ..< reps:
    let start = getMonoTime()
    for i in 0 ..< sequential:
      let r = await j.get("b", keyOf((i * 7919) mod rows))
      doAssert r.get().isSome
    best = min(best, float((getMonoTime() - start).inNanoseconds))
  report("nim await get, one at a time", sequential, best)
  best = Inf
  for rep in 0 ..< reps:
    let start = getMonoTime()
    for round in 0 ..< rounds:
      var futs = newSeqOfCap[Future[Result[Opt[seq[byte]], PersistencyError]]](batch)
      for i in 0 ..< batch:
        futs.add j.get("b", keyOf((round * batch + i) * 7919 mod rows))
      await allFutures(futs)
      for f in futs:
        doAssert f.read().get().isSome
    best = min(best, float((getMonoTime() - start).inNanoseconds))
  report("nim 1,000 gets in flight", rounds * batch, best)

let root = if paramCount() >= 1: paramStr(1) else: getTempDir() / "persistency-nim-bench"
removeDir(root)
waitFor run(root)
removeDir(root)
