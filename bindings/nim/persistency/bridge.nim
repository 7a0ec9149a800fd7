## Internal: carries a result from the library's worker thread (a foreign,
## non-Nim thread) back to the Nim thread that asked for it.
##
## Why this is safe:
##
## * The C callback (`onReply`) touches no Nim-managed memory and no Nim
##   runtime state: it copies the result into `malloc`ed buffers hung on a
##   `Request` that the Nim side allocated with `createShared` (the shared
##   heap), then wakes the waiter with a pthread condition variable
##   (blocking form) or an `eventfd` write (async form). Only libc and
##   pthreads run on the foreign thread, with stack traces and runtime
##   checks off, so no exception or GC'd object is ever created there.
##   That holds under any memory manager; the binding still requires
##   `--mm:orc`/`--mm:arc` because its `ref` handles have destructors, and
##   because with `refc` any Nim code on a foreign thread would need
##   `setupForeignThreadGc` first.
## * After it signals, the callback never touches the `Request` again (the
##   eventfd number is read before the result is published), so the Nim
##   side may free it as soon as it observes `done`.
## * Async form: each request gets its own non-blocking `eventfd`,
##   registered with the calling thread's `asyncdispatch` dispatcher before
##   the request is submitted. The dispatcher's read callback runs on the
##   owning thread, converts the shared copy into Nim values, frees it and
##   completes the `Future`; the fd is unregistered and closed on the next
##   tick (not inside the selector's own callback). `Future`s and closures
##   therefore never leave their thread.

{.push raises: [], gcsafe.}

import std/[locks, asyncdispatch]
import std/posix except Key
import ./ffi, ./types

proc c_malloc(size: csize_t): pointer {.importc: "malloc", header: "<stdlib.h>".}
proc c_free(p: pointer) {.importc: "free", header: "<stdlib.h>".}
proc c_strlen(s: cstring): csize_t {.importc: "strlen", header: "<string.h>".}
proc eventfd(initval: cuint, flags: cint): cint {.importc, header: "<sys/eventfd.h>".}
var
  EFD_CLOEXEC {.importc, header: "<sys/eventfd.h>".}: cint
  EFD_NONBLOCK {.importc, header: "<sys/eventfd.h>".}: cint

type
  RowSpan = object
    keyOff, keyLen, payloadOff, payloadLen: int

  Reply* = object
    ## A copy of a `persistency_result` in `malloc`ed memory.
    status*: int32
    backendCode*: int32
    found*: bool
    hasMore*: bool
    count*: uint64
    errLen: int   ## the message is data[0 ..< errLen]
    valueLen: int ## the value follows it
    rowCount: int
    rows: ptr UncheckedArray[RowSpan]
    data: ptr UncheckedArray[byte]

  WaitMode* = enum
    ## How the Nim side waits for the callback.
    wmBlocking ## condition variable: the calling thread blocks
    wmEventFd  ## eventfd registered with the thread's async dispatcher

  Request* = object
    ## Shared between the Nim thread and the worker's callback.
    reply*: Reply
    mode: WaitMode
    done: bool ## under `lock` (blocking) or atomic (eventfd)
    lock: Lock
    cond: Cond
    efd: cint

const oomMessage = "out of memory while copying a result"

{.push checks: off, stackTrace: off, lineTrace: off.}

proc copyReply(dst: var Reply, r: ptr CResult) =
  dst.status = r.status
  dst.backendCode = r.backend_code
  dst.found = r.found
  dst.hasMore = r.has_more
  dst.count = r.count
  let errLen = if r.error != nil: int(c_strlen(r.error)) else: 0
  let valueLen = if r.value != nil: int(r.value_len) else: 0
  let rowCount = if r.rows != nil: int(r.row_count) else: 0
  var total = errLen + valueLen
  for i in 0 ..< rowCount:
    total += int(r.rows[i].key_len) + int(r.rows[i].payload_len)
  let data = cast[ptr UncheckedArray[byte]](c_malloc(csize_t(max(total, 1))))
  var rows: ptr UncheckedArray[RowSpan] = nil
  if rowCount > 0:
    rows = cast[ptr UncheckedArray[RowSpan]](c_malloc(csize_t(rowCount * sizeof(RowSpan))))
  if data == nil or (rowCount > 0 and rows == nil):
    c_free(data)
    c_free(rows)
    dst.status = PERSISTENCY_ERR_INTERNAL
    return
  var at = 0
  if errLen > 0:
    copyMem(addr data[at], r.error, errLen)
    at += errLen
  if valueLen > 0:
    copyMem(addr data[at], r.value, valueLen)
    at += valueLen
  for i in 0 ..< rowCount:
    let row = r.rows[i]
    rows[i].keyOff = at
    rows[i].keyLen = int(row.key_len)
    if row.key_len > 0:
      copyMem(addr data[at], row.key, int(row.key_len))
      at += int(row.key_len)
    rows[i].payloadOff = at
    rows[i].payloadLen = int(row.payload_len)
    if row.payload_len > 0:
      copyMem(addr data[at], row.payload, int(row.payload_len))
      at += int(row.payload_len)
  dst.errLen = errLen
  dst.valueLen = valueLen
  dst.rowCount = rowCount
  dst.rows = rows
  dst.data = data

proc onReply*(r: ptr CResult, userData: pointer) {.cdecl.} =
  ## The `persistency_callback` of every request: runs on the worker thread.
  let req = cast[ptr Request](userData)
  copyReply(req.reply, r)
  case req.mode
  of wmBlocking:
    acquire(req.lock)
    req.done = true
    signal(req.cond)
    release(req.lock)
  of wmEventFd:
    let fd = req.efd
    atomicStoreN(addr req.done, true, ATOMIC_RELEASE)
    var one = 1'u64
    discard posix.write(fd, addr one, sizeof(one))

{.pop.}

proc newRequest*(mode: WaitMode): ptr Request =
  ## A zeroed request in shared memory.
  result = createShared(Request)
  result.mode = mode
  result.efd = -1
  if mode == wmBlocking:
    initLock(result.lock)
    initCond(result.cond)

proc freeRequest*(req: ptr Request) =
  ## Frees `req` and its copied result (not its eventfd).
  c_free(req.reply.data)
  c_free(req.reply.rows)
  if req.mode == wmBlocking:
    deinitCond(req.cond)
    deinitLock(req.lock)
  freeShared(req)

proc waitBlocking*(req: ptr Request) =
  ## Blocks until the callback of `req` ran.
  acquire(req.lock)
  while not req.done:
    wait(req.cond, req.lock)
  release(req.lock)

proc errorKind*(status: int32): PersistencyErrorKind =
  ## The error kind of a non-zero status (`peInternal` for an unknown one).
  if status >= 1 and status <= 8:
    PersistencyErrorKind(status - 1)
  else:
    peInternal

proc lastError*(status: int32): PersistencyError =
  ## The error of a call that just returned `status` on this thread.
  let msg = persistency_last_error()
  let text = if msg != nil: $msg else: $persistency_status_name(status)
  persistencyErr(errorKind(status), text)

proc error*(rep: Reply): PersistencyError =
  ## The error carried by a failed reply.
  var msg: string
  if rep.data == nil:
    msg = oomMessage
  else:
    msg = newString(rep.errLen)
    if rep.errLen > 0:
      copyMem(addr msg[0], addr rep.data[0], rep.errLen)
  if msg.len == 0:
    msg = $persistency_status_name(rep.status)
  persistencyErr(errorKind(rep.status), msg, int(rep.backendCode))

proc value*(rep: Reply): seq[byte] =
  ## The `value` of a get reply.
  result = newSeq[byte](rep.valueLen)
  if rep.valueLen > 0:
    copyMem(addr result[0], addr rep.data[rep.errLen], rep.valueLen)

proc slice(rep: Reply, off, len: int): seq[byte] =
  result = newSeq[byte](len)
  if len > 0:
    copyMem(addr result[0], addr rep.data[off], len)

proc rows*(rep: Reply): seq[KvRow] =
  ## The rows of a scan / get_many reply.
  result = newSeqOfCap[KvRow](rep.rowCount)
  for i in 0 ..< rep.rowCount:
    let s = rep.rows[i]
    result.add (key: Key(rep.slice(s.keyOff, s.keyLen)),
                payload: rep.slice(s.payloadOff, s.payloadLen))

type
  Submit* = proc (req: ptr Request): CStatus {.gcsafe, raises: [].}
    ## Starts one library call with `onReply` and `req` as user data.
  Convert*[T] = proc (rep: Reply): PResult[T] {.gcsafe, raises: [].}
    ## Turns a reply into the typed result.

proc runBlocking*[T](submit: Submit, convert: Convert[T]): PResult[T] =
  ## Submits a request and blocks the calling thread until its callback.
  let req = newRequest(wmBlocking)
  let st = submit(req)
  if st != PERSISTENCY_OK:
    let e = lastError(st)
    freeRequest(req)
    return PResult[T].err(e)
  waitBlocking(req)
  result = convert(req.reply)
  freeRequest(req)

{.pop.}

proc failedFuture[T](fut: Future[PResult[T]], e: PersistencyError): Future[PResult[T]] =
  fut.complete(PResult[T].err(e))
  fut

proc runAsync*[T](name: static string, submit: Submit, convert: Convert[T]): Future[PResult[T]] =
  ## Submits a request; the `Future` completes (with a typed result, never
  ## an exception) on this thread's dispatcher once the callback ran.
  let fut = newFuture[PResult[T]](name)
  let efd = eventfd(0, EFD_CLOEXEC or EFD_NONBLOCK)
  if efd < 0:
    return failedFuture(fut, persistencyErr(peInternal, "eventfd: " & $strerror(errno)))
  let afd = AsyncFD(efd)
  let req = newRequest(wmEventFd)
  req.efd = efd
  try:
    register(afd)
    addRead(afd, proc (fd: AsyncFD): bool {.gcsafe.} =
      var counter: uint64
      discard posix.read(efd, addr counter, sizeof(counter))
      if not atomicLoadN(addr req.done, ATOMIC_ACQUIRE):
        return false
      let res = convert(req.reply)
      freeRequest(req)
      callSoon(proc () {.gcsafe.} =
        try: unregister(afd)
        except CatchableError: discard
        discard posix.close(efd))
      fut.complete(res)
      true)
  except CatchableError as e:
    try: unregister(afd)
    except CatchableError: discard
    discard posix.close(efd)
    freeRequest(req)
    return failedFuture(fut, persistencyErr(peInternal, "dispatcher: " & e.msg))
  let st = submit(req)
  if st != PERSISTENCY_OK:
    let e = lastError(st)
    try: unregister(afd)
    except CatchableError: discard
    discard posix.close(efd)
    freeRequest(req)
    return failedFuture(fut, e)
  fut
