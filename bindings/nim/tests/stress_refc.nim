## A thousand concurrent reads under `--mm:refc -d:useMalloc`, built with
## AddressSanitizer by run_tests.sh (README: why not valgrind): the worker
## threads' callbacks must touch no GC'd memory, every reply must be
## freed, every future completed on its own thread with the right value.
## Two more threads do the same on their own instances while the main
## thread's reads are in flight, and a third ends with 500 reads of the
## main thread's job still in flight. Exits non-zero on a wrong result;
## the sanitizer reports memory errors and leaks.

import std/os
import chronos, results
import persistency/[persistency, bridge, ffi]

const reads = 1000

var threadWrong: array[2, int]

proc sideReader(n: int) {.thread.} =
  let root = getTempDir() / ("persistency-nim-stress-" & $getCurrentProcessId() & "-" & $n)
  let p = Persistency.new(root).get()
  let j = p.openJob("side").get()
  for i in 0 ..< 50:
    waitFor j.persistPut("c", key(i), payload(n, i))
  var futs: seq[Future[Result[Opt[seq[byte]], PersistencyError]]]
  for i in 0 ..< 500:
    futs.add j.get("c", key(i mod 50))
  waitFor allFutures(futs)
  for i in 0 ..< 500:
    let r = futs[i].read()
    if r.isErr or r.get() != Opt.some(payload(n, i mod 50)):
      inc threadWrong[n]
  p.close()
  removeDir(root)

proc leaver(h: ptr CPersistencyJob) {.thread.} =
  proc found(rep: Reply): PResult[bool] {.gcsafe, raises: [].} = ok(rep.found)
  for i in 0 ..< 500:
    discard submitCall[bool]("leaver", proc (req: ptr Request): CStatus {.gcsafe, raises: [].} =
      persistency_exists(h, "c", nil, 0, onReply, req), found)

proc main(): int =
  let root = getTempDir() / ("persistency-nim-stress-" & $getCurrentProcessId())
  defer: removeDir(root)
  let p = Persistency.new(root).get()
  defer: p.close()
  let j = p.openJob("stress").get()
  for i in 0 ..< 100:
    waitFor j.persistPut("c", key("k", i), payload("value", i))
  var side: array[2, Thread[int]]
  for n in 0 ..< 2:
    createThread(side[n], sideReader, n)
  var leaving: Thread[ptr CPersistencyJob]
  createThread(leaving, leaver, j.unsafeHandle)
  var gets: seq[Future[Result[Opt[seq[byte]], PersistencyError]]]
  var scans: seq[Future[Result[seq[KvRow], PersistencyError]]]
  for i in 0 ..< reads:
    if i mod 10 == 0:
      scans.add j.scanPrefix("c", key("k"), reverse = i mod 20 == 0)
    else:
      gets.add j.get("c", key("k", i mod 100))
    if i mod 100 == 0:
      GC_fullCollect() # move GC'd memory around while replies arrive
  waitFor allFutures(gets)
  waitFor allFutures(scans)
  var bad = 0
  var n = 0
  for i in 0 ..< reads:
    if i mod 10 != 0:
      let r = gets[n].read()
      if r.isErr or r.get() != Opt.some(payload("value", i mod 100)):
        inc bad
      inc n
  for s in scans:
    let r = s.read()
    if r.isErr or r.get().len != 100:
      inc bad
  joinThreads(side)
  joinThread(leaving)
  if (waitFor j.flush()).isErr:
    inc bad
  bad += threadWrong[0] + threadWrong[1]
  GC_fullCollect()
  echo "stress: ", reads, " concurrent reads, ", bad, " wrong"
  bad

quit(if main() == 0: 0 else: 1)
