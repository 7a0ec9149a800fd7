## Chronos and threads: how read futures are completed.
##
## * 10,000 reads in flight on one thread share one wake-up descriptor
##   (counted in /proc/self/fd) and complete through the dispatcher.
## * Several threads, each with its own dispatcher, instance and jobs,
##   complete their own futures only, on their own thread.
## * A cancelled read, and a thread that ends with reads in flight, do
##   not disturb anything.

{.used.}

import std/[os, sequtils]
import chronos, results
import testutils/unittests
import persistency/persistency
import persistency/[bridge, ffi]

proc openFds(): int =
  for _ in walkDir("/proc/self/fd"):
    inc result

proc tempRoot(label: string): string {.gcsafe.} =
  getTempDir() / ("persistency-nim-chronos-" & $getCurrentProcessId() & "-" & label)

suite "chronos futures":
  test "10,000 reads in flight hold one wake-up descriptor, not 10,000":
    let root = tempRoot("fan")
    defer: removeDir(root)
    let p = Persistency.new(root).get()
    defer: p.close()
    let j = p.openJob("fan").get()
    for i in 0 ..< 100:
      waitFor j.persistPut("c", key(i), @[byte(i)])
    # The first call of the thread makes its hub (one eventfd).
    check (waitFor j.get("c", key(0))).get() == Opt.some(@[0'u8])
    check threadWakeFds() == 1
    let before = openFds()
    var futs: seq[Future[Result[Opt[seq[byte]], PersistencyError]]]
    for i in 0 ..< 10_000:
      futs.add j.get("c", key(i mod 100))
    # All submitted and none completed: completion happens only when this
    # thread's dispatcher runs, whatever the worker has done meanwhile.
    check inFlight() == 10_000
    check futs.allIt(not it.finished())
    check openFds() == before
    waitFor allFutures(futs)
    check inFlight() == 0
    for i in 0 ..< 10_000:
      check futs[i].read().get() == Opt.some(@[byte(i mod 100)])
    check openFds() == before

  test "a cancelled read is dropped when its reply arrives":
    let p = Persistency.new(InMemoryStoragePath).get()
    defer: p.close()
    let j = p.openJob("cancel").get()
    waitFor j.persistPut("c", key(1), @[1'u8])
    let doomed = j.get("c", key(1))
    waitFor doomed.cancelAndWait()
    check doomed.cancelled()
    check (waitFor j.get("c", key(1))).get() == Opt.some(@[1'u8])
    check inFlight() == 0

const threads = 4
const perThread = 500

type ThreadReport = object
  ok: int             ## reads that returned this thread's own rows
  wrongThread: int    ## continuations that ran on another thread
  fdsHeld: int        ## wake-up descriptors of this thread
  leftInFlight: int

var reports: array[threads, ThreadReport]

proc worker(n: int) {.thread.} =
  ## Own dispatcher (chronos makes one per thread), own instance, own job;
  ## every read's continuation must run here and see this thread's rows.
  let me = getThreadId()
  let root = tempRoot("thread" & $n)
  let p = Persistency.new(root).get()
  let j = p.openJob("t" & $n).get()
  var report: ThreadReport
  proc readOne(i: int): Future[bool] {.async.} =
    let r = await j.get("c", key(i))
    if getThreadId() != me:
      inc report.wrongThread
    return r.isOk and r.get() == Opt.some(payload(n, i))
  for i in 0 ..< perThread:
    waitFor j.persistPut("c", key(i), payload(n, i))
  var futs: seq[Future[bool]]
  for i in 0 ..< perThread:
    futs.add readOne(i)
  waitFor allFutures(futs)
  for f in futs:
    if f.completed() and f.value():
      inc report.ok
  report.fdsHeld = threadWakeFds()
  report.leftInFlight = inFlight()
  p.close()
  removeDir(root)
  reports[n] = report

proc leaver(h: ptr CPersistencyJob) {.thread.} =
  ## Ends with reads in flight on a job of the main thread: the replies
  ## that arrive after it ended are freed by the worker's callback.
  proc found(rep: Reply): PResult[bool] {.gcsafe, raises: [].} = ok(rep.found)
  for i in 0 ..< 2000:
    discard submitCall[bool]("leaver", proc (req: ptr Request): CStatus {.gcsafe, raises: [].} =
      persistency_exists(h, "c", nil, 0, onReply, req), found)
  reports[0].leftInFlight = inFlight()

suite "threads, each with its own dispatcher":
  test "every thread completes its own futures only":
    var ts: array[threads, Thread[int]]
    for i in 0 ..< threads:
      createThread(ts[i], worker, i)
    joinThreads(ts)
    for i in 0 ..< threads:
      check reports[i].ok == perThread
      check reports[i].wrongThread == 0
      check reports[i].fdsHeld == 1
      check reports[i].leftInFlight == 0

  test "a thread may end with reads in flight":
    let p = Persistency.new(InMemoryStoragePath).get()
    defer: p.close()
    let j = p.openJob("left").get()
    var t: Thread[ptr CPersistencyJob]
    createThread(t, leaver, j.unsafeHandle)
    joinThread(t)
    check reports[0].leftInFlight == 2000
    check (waitFor j.flush()).isOk
    waitFor j.persistPut("c", key(1), @[1'u8])
    check (waitFor j.get("c", key(1))).get() == Opt.some(@[1'u8])
    check j.stats().get().reads >= 2001
