## Internal: carries the result of a library call from the job's worker
## thread (a Rust thread Nim knows nothing about) back to the Nim thread
## that issued it, and completes its chronos `Future` there.
##
## How, and why it is safe under `--mm:refc` as well as `--mm:orc`:
##
## * Every Nim thread that issues a call gets one `Hub` (lazily, kept in a
##   threadvar): a `malloc`ed object holding a mutex, an `eventfd` and a
##   list of finished requests. The `eventfd` is registered once with that
##   thread's chronos dispatcher (`addReader2`). However many calls are in
##   flight, a thread holds one descriptor.
## * A call allocates a `Request` with `malloc` and passes it as the C
##   callback's `user_data`. The callback (`onReply`) runs on the worker:
##   it copies the `persistency_result` into `malloc`ed buffers, pushes
##   the request onto its hub's list under the hub's mutex, and writes the
##   `eventfd` when the list was empty. It calls only libc and pthread
##   functions (imported directly), compiled with stack traces and runtime
##   checks off: no GC'd memory, no Nim allocator, no exception, nothing
##   thread-local of Nim.
## * The dispatcher of the issuing thread sees the `eventfd` readable and
##   calls `drain`, on that thread: it takes the whole list, turns each
##   copy into Nim values and completes the `Future` found in a threadvar
##   table keyed by the request. `Future`s and closures never leave their
##   thread; a thread completes only its own futures.
## * Lifetime: the hub counts one reference for its thread and one per
##   request in flight. When the thread ends (`onThreadDestruction`), the
##   hub is marked gone and its `eventfd` closed, under the mutex; a reply
##   arriving later is freed by the callback, and the last reference frees
##   the hub. No polling, no sleeping anywhere.

{.push raises: [], gcsafe.}

import std/tables
import chronos
import ./ffi, ./types

proc c_malloc(size: csize_t): pointer {.importc: "malloc", header: "<stdlib.h>".}
proc c_calloc(n, size: csize_t): pointer {.importc: "calloc", header: "<stdlib.h>".}
proc c_free(p: pointer) {.importc: "free", header: "<stdlib.h>".}
proc c_strlen(s: cstring): csize_t {.importc: "strlen", header: "<string.h>".}
proc c_write(fd: cint, buf: pointer, n: csize_t): int {.importc: "write", header: "<unistd.h>".}
proc c_read(fd: cint, buf: pointer, n: csize_t): int {.importc: "read", header: "<unistd.h>".}
proc c_close(fd: cint): cint {.importc: "close", header: "<unistd.h>".}
proc c_eventfd(initval: cuint, flags: cint): cint {.importc: "eventfd", header: "<sys/eventfd.h>".}
type Mutex {.importc: "pthread_mutex_t", header: "<pthread.h>", bycopy.} = object
# pthread directly rather than std/locks: the worker's callback must run no
# Nim proc that could touch Nim's per-thread state.
proc mutexInit(m: ptr Mutex, attr: pointer): cint {.importc: "pthread_mutex_init", header: "<pthread.h>".}
proc mutexDestroy(m: ptr Mutex): cint {.importc: "pthread_mutex_destroy", header: "<pthread.h>".}
proc mutexLock(m: ptr Mutex): cint {.importc: "pthread_mutex_lock", header: "<pthread.h>".}
proc mutexUnlock(m: ptr Mutex): cint {.importc: "pthread_mutex_unlock", header: "<pthread.h>".}
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

  Hub = object
    ## One per Nim thread that issued calls (see the module comment).
    lock: Mutex
    efd: cint
    head: ptr Request ## finished requests, newest first (under `lock`)
    refs: int         ## the thread's own + one per request in flight (under `lock`)
    ownerGone: bool   ## the thread ended (under `lock`)

  Request* = object
    ## One call in flight, shared with the worker's callback.
    reply: Reply
    hub: ptr Hub
    next: ptr Request

  Completion = proc (rep: Reply) {.gcsafe, raises: [].}

var
  threadHub {.threadvar.}: ptr Hub
  pending {.threadvar.}: Table[uint, Completion]

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

proc freeRequest(req: ptr Request) =
  c_free(req.reply.data)
  c_free(req.reply.rows)
  c_free(req)

proc unrefHub(hub: ptr Hub) =
  ## Drops one reference; frees the hub with the last one.
  discard mutexLock(addr hub.lock)
  dec hub.refs
  let last = hub.refs == 0
  discard mutexUnlock(addr hub.lock)
  if last:
    discard mutexDestroy(addr hub.lock)
    c_free(hub)

proc onReply*(r: ptr CResult, userData: pointer) {.cdecl.} =
  ## The `persistency_callback` of every call: runs on the worker thread.
  let req = cast[ptr Request](userData)
  copyReply(req.reply, r)
  let hub = req.hub
  discard mutexLock(addr hub.lock)
  if hub.ownerGone:
    discard mutexUnlock(addr hub.lock)
    freeRequest(req)
    unrefHub(hub)
    return
  let wasEmpty = hub.head == nil
  req.next = hub.head
  hub.head = req
  if wasEmpty:
    var one = 1'u64
    discard c_write(hub.efd, addr one, csize_t(sizeof(one)))
  discard mutexUnlock(addr hub.lock)

{.pop.}

proc errorKind*(status: int32): PersistencyErrorKind =
  ## The error kind of a non-zero status (`peInternal` for an unknown one).
  if status >= PERSISTENCY_ERR_BACKEND and status <= PERSISTENCY_ERR_INTERNAL:
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

proc slice(rep: Reply, off, len: int): seq[byte] =
  result = newSeq[byte](len)
  if len > 0:
    copyMem(addr result[0], addr rep.data[off], len)

proc value*(rep: Reply): seq[byte] =
  ## The `value` of a get reply.
  rep.slice(rep.errLen, rep.valueLen)

proc rows*(rep: Reply): seq[KvRow] =
  ## The rows of a scan / get_many reply.
  result = newSeqOfCap[KvRow](rep.rowCount)
  for i in 0 ..< rep.rowCount:
    let s = rep.rows[i]
    result.add (key: Key(rep.slice(s.keyOff, s.keyLen)),
                payload: rep.slice(s.payloadOff, s.payloadLen))

proc drain(arg: pointer) {.gcsafe, raises: [].} =
  ## The dispatcher's read callback of the hub's `eventfd`: completes every
  ## finished request of this thread.
  let hub = cast[ptr Hub](arg)
  var counter: uint64
  discard c_read(hub.efd, addr counter, csize_t(sizeof(counter)))
  discard mutexLock(addr hub.lock)
  var list = hub.head
  hub.head = nil
  discard mutexUnlock(addr hub.lock)
  var ordered: ptr Request = nil # oldest first
  while list != nil:
    let next = list.next
    list.next = ordered
    ordered = list
    list = next
  while ordered != nil:
    let req = ordered
    ordered = req.next
    var done: Completion
    if pending.pop(cast[uint](req), done):
      done(req.reply)
    freeRequest(req)
    unrefHub(hub)

proc releaseThreadHub() {.gcsafe, raises: [].} =
  let hub = threadHub
  if hub == nil:
    return
  threadHub = nil
  discard removeReader2(AsyncFD(hub.efd))
  discard unregister2(AsyncFD(hub.efd))
  discard mutexLock(addr hub.lock)
  hub.ownerGone = true
  discard c_close(hub.efd)
  hub.efd = -1
  var list = hub.head
  hub.head = nil
  discard mutexUnlock(addr hub.lock)
  while list != nil:
    let next = list.next
    freeRequest(list)
    unrefHub(hub)
    list = next
  pending = default(Table[uint, Completion]) # frees the storage: threadvars are not destroyed
  unrefHub(hub)

proc threadHubFor(): PResult[ptr Hub] =
  ## This thread's hub, made and registered with its dispatcher on first use.
  if threadHub != nil:
    return ok(threadHub)
  let efd = c_eventfd(0, EFD_CLOEXEC or EFD_NONBLOCK)
  if efd < 0:
    return err(persistencyErr(peInternal, "eventfd failed"))
  let hub = cast[ptr Hub](c_calloc(1, csize_t(sizeof(Hub))))
  if hub == nil:
    discard c_close(efd)
    return err(persistencyErr(peInternal, "out of memory"))
  discard mutexInit(addr hub.lock, nil)
  hub.efd = efd
  hub.refs = 1
  let reg = register2(AsyncFD(efd))
  if reg.isErr or addReader2(AsyncFD(efd), drain, hub).isErr:
    if reg.isOk:
      discard unregister2(AsyncFD(efd))
    discard c_close(efd)
    discard mutexDestroy(addr hub.lock)
    c_free(hub)
    return err(persistencyErr(peInternal, "cannot register with the chronos dispatcher"))
  threadHub = hub
  when compileOption("threads"):
    onThreadDestruction(releaseThreadHub)
  ok(hub)

proc threadWakeFds*(): int =
  ## How many descriptors this thread's hub holds (0 before the first call,
  ## then 1), for tests.
  if threadHub == nil: 0 else: 1

proc inFlight*(): int =
  ## How many calls of this thread wait for their reply, for tests.
  pending.len

type
  Submit* = proc (req: ptr Request): CStatus {.gcsafe, raises: [].}
    ## Starts one library call with `onReply` and `req` as user data.
  Convert*[T] = proc (rep: Reply): PResult[T] {.gcsafe, raises: [].}
    ## Turns a reply into the typed result.

proc submitCall*[T](name: static string, submit: Submit,
                    convert: Convert[T]): Future[PResult[T]] =
  ## Starts a call; the `Future` completes on this thread's chronos
  ## dispatcher once the worker answered, with a typed result (it never
  ## fails with an exception). A call the library refuses completes at
  ## once with the error.
  let fut = newFuture[PResult[T]](name)
  let hubRes = threadHubFor()
  if hubRes.isErr:
    fut.complete(PResult[T].err(hubRes.error))
    return fut
  let hub = hubRes.get()
  let req = cast[ptr Request](c_calloc(1, csize_t(sizeof(Request))))
  if req == nil:
    fut.complete(PResult[T].err(persistencyErr(peInternal, "out of memory")))
    return fut
  req.hub = hub
  discard mutexLock(addr hub.lock)
  inc hub.refs
  discard mutexUnlock(addr hub.lock)
  pending[cast[uint](req)] = proc (rep: Reply) {.gcsafe, raises: [].} =
    if not fut.finished():
      fut.complete(convert(rep))
  let st = submit(req)
  if st != PERSISTENCY_OK:
    let e = lastError(st)
    pending.del(cast[uint](req))
    freeRequest(req)
    unrefHub(hub)
    fut.complete(PResult[T].err(e))
  fut

{.pop.}
