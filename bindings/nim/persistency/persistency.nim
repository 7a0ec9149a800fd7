## The facade: `Persistency` and `Job` with the names, signatures and
## behaviour of upstream `waku/persistency/persistency.nim`, over
## libpersistency. A node switches by importing `persistency/persistency`
## instead of `logos_delivery/waku/persistency/persistency`.
##
## ```nim
## let p = Persistency.new("/var/lib/wakustore").get()
## let j = p.openJob("alpha").get()
## await j.persistPut("msg", key("chan", 1'i64), @[1'u8, 2, 3])
## let v = await j.get("msg", key("chan", 1'i64))   # Result[Opt[seq[byte]], PersistencyError]
## p.close()
## ```
##
## * Writes (`persist`, `persistPut`, `persistDelete`,
##   `persistDeletePrefix`, `persistEncoded`) return a `Future[void]` that
##   is already complete once the operation is queued, as upstream. A write
##   that cannot be queued (closed job, unknown job id, bad category, full
##   queue with `fpFail`) is dropped and logged through the warning
##   handler (`setWarningHandler`), as upstream drops and logs it.
## * Reads return `Future[Result[T, PersistencyError]]` of chronos that
##   complete on the calling thread's dispatcher (see `bridge.nim`). Unlike
##   upstream, a read sees every write queued before it: no poll or sleep
##   is needed after a write.
## * Additions (new names): `openJob(id, JobOptions)`, `stats`, `flush`,
##   `persistCommitted`, `getMany`, `scanPage`, `setWarningHandler`,
##   `libraryVersion`; maintenance (`maintenance.nim`): `deleteRange`,
##   `backup`, `compact`, `check`, `metricsText`.
##
## Works with `--mm:refc` and `--mm:orc`/`--mm:arc`; needs `--threads:on`.

when not compileOption("threads"):
  {.error: "the persistency binding needs --threads:on".}

{.push raises: [], gcsafe.}

import std/tables
import chronos, results
import ./[ffi, types, keys, payload, bridge, extras, checks]

export types, keys, payload, extras
export SyncId, SyncSummary, SyncPart

const DefaultStoragePath* = "./data"
  ## The root directory a node uses when none is configured (upstream's).

const InMemoryStoragePath* = ":memory:"
  ## Pass as `rootDir` to keep every job in a private in-memory database;
  ## nothing touches the file system and a job's rows are lost when it
  ## closes. Intended for tests.

type
  JobContext* = distinct uint64
    ## Identifies one opening of one job (upstream's `context` is the
    ## job's BrokerContext; brokers are not part of this binding). Every
    ## lookup of an open job gives the same value; two openings never do.

  JobObj = object
    id*: string ## the job id
    context*: JobContext ## this opening of the job
    running*: bool ## true from `openJob` until `closeJob` / `close`
    handle: ptr CPersistencyJob

  Job* = ref JobObj
    ## An open job: one database file (`<rootDir>/<id>.db`), one worker
    ## thread. `openJob` and `job` give the same ref for the same open job.

  PersistencyObj = object
    rootDir*: string ## the root directory, as given
    jobs*: Table[string, Job] ## the jobs open through this instance
    handle: ptr CPersistency

  Persistency* = ref PersistencyObj
    ## One root directory and the jobs open under it. Close it with
    ## `close` to stop every job.

# ── Handles: released when the Nim object goes ─────────────────────────

when defined(gcDestructors):
  proc `=destroy`(j: var JobObj) =
    if j.handle != nil:
      persistency_job_release(j.handle)
    `=destroy`(j.id)

  proc `=destroy`(p: var PersistencyObj) =
    if p.handle != nil:
      persistency_release(p.handle)
    `=destroy`(p.rootDir)
    `=destroy`(p.jobs)

  proc newJobObj(): Job = Job()
  proc newPersistencyObj(): Persistency = Persistency()
else:
  proc finalizeJob(j: Job) {.nimcall.} =
    if j.handle != nil:
      persistency_job_release(j.handle)
      j.handle = nil

  proc finalizePersistency(p: Persistency) {.nimcall.} =
    if p.handle != nil:
      persistency_release(p.handle)
      p.handle = nil

  proc newJobObj(): Job = new(result, finalizeJob)
  proc newPersistencyObj(): Persistency = new(result, finalizePersistency)

proc `==`*(a, b: JobContext): bool {.borrow.}
  ## Whether both name the same opening of a job.

proc `$`*(c: JobContext): string =
  ## `JobContext(<n>)`.
  "JobContext(" & $uint64(c) & ")"

var nextContext: int # atomically incremented

proc checkJob(j: Job): PResult[void] =
  if j == nil:
    return err(invalid("job is nil"))
  if j.handle == nil:
    return err(persistencyErr(peClosed, "job " & j.id & " is closed"))
  ok()

proc checkInstance(p: Persistency): PResult[void] =
  if p == nil:
    return err(invalid("persistency instance is nil"))
  ok()

# ── Lifecycle ───────────────────────────────────────────────────────────

proc new*(T: type Persistency, rootDir: string): Result[T, PersistencyError] =
  ## An instance over `rootDir`, validated but not created (the first
  ## `openJob` creates it): empty, an existing non-directory, or a path
  ## whose first existing ancestor is not a directory is
  ## `peInvalidArgument`. `InMemoryStoragePath` keeps every job in memory.
  ## Two instances never open the same job file at once.
  if rootDir.len == 0:
    return err(invalid("rootDir is empty"))
  ?checkCString(rootDir, "rootDir")
  var h: ptr CPersistency
  ?statusResult(persistency_new(rootDir.cstring, addr h))
  let p = newPersistencyObj()
  p.handle = h
  p.rootDir = rootDir
  ok(p)

proc ensureHandle(p: Persistency): PResult[void] =
  ## `close` gives the C instance back (so nothing is left to a finalizer
  ## under refc); a later `openJob` or `dropJob` takes a new one.
  if p.handle == nil:
    ?statusResult(persistency_new(p.rootDir.cstring, addr p.handle))
  ok()

proc wrapJob(h: ptr CPersistencyJob, jobId: string): Job =
  result = newJobObj()
  result.handle = h
  result.id = jobId
  result.running = true
  result.context = JobContext(uint64(atomicInc(nextContext)))

proc openJob*(p: Persistency, jobId: string): Result[Job, PersistencyError] =
  ## Opens or creates the job `jobId` (`<rootDir>/<jobId>.db`; an existing
  ## file is reopened with its rows). A job already open through `p` is
  ## returned as is. A job id is 1 to 128 bytes of `[A-Za-z0-9_.-]`, not
  ## starting with `.`.
  ?checkInstance(p)
  let existing = p.jobs.getOrDefault(jobId, nil)
  if existing != nil:
    return ok(existing)
  ?checkCString(jobId, "job id")
  ?p.ensureHandle()
  var h: ptr CPersistencyJob
  ?statusResult(persistency_open_job(p.handle, jobId.cstring, addr h))
  let j = wrapJob(h, jobId)
  p.jobs[jobId] = j
  ok(j)

proc openJob*(p: Persistency, jobId: string, options: JobOptions): Result[Job, PersistencyError] =
  ## `openJob` with options (those of the first opening stand).
  ?checkInstance(p)
  let existing = p.jobs.getOrDefault(jobId, nil)
  if existing != nil:
    return ok(existing)
  ?checkCString(jobId, "job id")
  if options.queueCapacity < 0 or options.queueCapacity > int(high(uint32)):
    return err(invalid("queueCapacity out of range: " & $options.queueCapacity))
  var c: CJobOptions
  ?statusResult(persistency_job_options_init_sized(addr c, csize_t(sizeof(c))))
  c.synchronous = int32(ord(options.synchronous))
  c.queue_capacity = uint32(options.queueCapacity)
  c.full_policy = int32(ord(options.fullPolicy))
  c.max_db_bytes = options.maxDbBytes
  if options.maxQueueBytes != 0:
    c.max_queue_bytes = options.maxQueueBytes
  c.retention_max_bytes = options.retentionMaxBytes
  for category in options.retentionCategories:
    ?checkCString(category, "retention category")
  var categories = newSeq[cstring](options.retentionCategories.len)
  for i, category in options.retentionCategories:
    categories[i] = category.cstring
  if categories.len > 0:
    c.retention_categories = addr categories[0]
    c.retention_category_count = csize_t(categories.len)
  ?p.ensureHandle()
  var h: ptr CPersistencyJob
  ?statusResult(persistency_open_job_with(p.handle, jobId.cstring, addr c, addr h))
  let j = wrapJob(h, jobId)
  p.jobs[jobId] = j
  ok(j)

proc closeJob*(p: Persistency, jobId: string) =
  ## Applies every write queued before, answers every read in flight,
  ## stops the worker and forgets the job. No-op if the job isn't open.
  ## The `Job` ref then reads `peClosed` and drops writes.
  if p == nil:
    return
  let j = p.jobs.getOrDefault(jobId, nil)
  if j == nil:
    return
  let st = persistency_close_job(p.handle, jobId.cstring)
  if st != PERSISTENCY_OK:
    warn("closeJob failed: " & lastError(st).msg, jobId)
  j.running = false
  if j.handle != nil:
    persistency_job_release(j.handle)
    j.handle = nil
  p.jobs.del(jobId)

proc close*(p: Persistency) =
  ## Closes every open job and gives back the library's instance.
  ## Idempotent; `p` stays usable for `openJob`.
  if p == nil:
    return
  var ids: seq[string]
  for id in p.jobs.keys:
    ids.add(id)
  for id in ids:
    p.closeJob(id)
  if p.handle != nil:
    persistency_release(p.handle)
    p.handle = nil

proc dropJob*(p: Persistency, jobId: string) =
  ## Closes the job if open, then deletes its file and the `-wal` / `-shm`
  ## sidecars. Best effort: a missing file is not an error (other failures
  ## are logged).
  if p == nil:
    return
  p.closeJob(jobId)
  let ready = block:
    var c = checkCString(jobId, "job id")
    if c.isOk: c = p.ensureHandle()
    c
  if ready.isErr:
    warn("dropJob failed: " & ready.error.msg, jobId)
    return
  let st = persistency_drop_job(p.handle, jobId.cstring)
  if st != PERSISTENCY_OK:
    warn("dropJob failed: " & lastError(st).msg, jobId)

# ── String lookup ───────────────────────────────────────────────────────

proc job*(p: Persistency, jobId: string): Result[Job, PersistencyError] =
  ## The open job `jobId` (the ref `openJob` returned), or
  ## `peJobNotFound`.
  let j = if p == nil: nil else: p.jobs.getOrDefault(jobId, nil)
  if j != nil:
    return ok(j)
  err(persistencyErr(peJobNotFound, "no open job with id: " & jobId))

proc `[]`*(p: Persistency, jobId: string): Job {.raises: [KeyError].} =
  ## The open job `jobId`; raises `KeyError` if it isn't open. Prefer
  ## `job(p, id)` for a typed error.
  p.jobs[jobId]

proc hasJob*(p: Persistency, jobId: string): bool {.inline.} =
  ## Whether the job `jobId` is open through `p`.
  p.jobs.hasKey(jobId)

proc unsafeHandle*(j: Job): ptr CPersistencyJob =
  ## The C handle (for `persistency/ffi`), valid while the job is open and
  ## `j` lives; nil once closed.
  if j == nil: nil else: j.handle

proc stats*(j: Job): Result[JobStats, PersistencyError] =
  ## The job's counters; `peClosed` once the job is closed.
  ?checkJob(j)
  var s: CStats
  ?statusResult(persistency_job_stats(j.handle, addr s))
  ok(JobStats(queued: s.queued, opsApplied: s.ops_applied, opsFailed: s.ops_failed,
              transactions: s.transactions, reads: s.reads, dbBytes: s.db_bytes))

# ── Writes (fire-and-forget) — Job form ─────────────────────────────────

proc queued(name: static string): Future[void] =
  result = newFuture[void](name)
  result.complete()

proc dropped(j: Job, e: PersistencyError) =
  warn("write dropped: " & $e, if j == nil: "" else: j.id)

proc writeNow(j: Job, ops: openArray[TxOp]): PResult[void] =
  ?checkJob(j)
  let cops = ?toCOps(ops)
  if cops.len == 0:
    return ok()
  statusResult(persistency_write(j.handle, unsafeAddr cops[0], csize_t(cops.len), nil, nil))

proc persist*(t: Job, ops: seq[TxOp]): Future[void] =
  ## Queues `ops` as one atomic transaction (all or none). The future is
  ## complete once they are queued; failures are logged.
  let r = writeNow(t, ops)
  if r.isErr:
    dropped(t, r.error)
  queued("persist")

proc persist*(t: Job, op: TxOp): Future[void] =
  ## `persist` of one operation.
  persist(t, @[op])

proc persistPut*(t: Job, category: string, key: Key, payload: seq[byte]): Future[void] =
  ## Queues an insert-or-replace of `key`.
  let r = block:
    var c = checkJob(t)
    if c.isOk: c = checkCategory(category)
    if c.isOk:
      c = statusResult(persistency_put(t.handle, category.cstring, keyPtr(key),
        csize_t(key.len), bytesPtr(payload), csize_t(payload.len)))
    c
  if r.isErr:
    dropped(t, r.error)
  queued("persistPut")

proc persistDelete*(t: Job, category: string, key: Key): Future[void] =
  ## Queues a delete of `key`.
  let r = block:
    var c = checkJob(t)
    if c.isOk: c = checkCategory(category)
    if c.isOk:
      c = statusResult(persistency_delete(t.handle, category.cstring, keyPtr(key),
        csize_t(key.len)))
    c
  if r.isErr:
    dropped(t, r.error)
  queued("persistDelete")

proc persistDeletePrefix*(t: Job, category: string, prefix: Key): Future[void] =
  ## Queues a delete of every key starting with `prefix` (an empty prefix:
  ## the whole category).
  let r = block:
    var c = checkJob(t)
    if c.isOk: c = checkCategory(category)
    if c.isOk:
      c = statusResult(persistency_delete_prefix(t.handle, category.cstring,
        keyPtr(prefix), csize_t(prefix.len)))
    c
  if r.isErr:
    dropped(t, r.error)
  queued("persistDeletePrefix")

# ── Writes (fire-and-forget) — string-lookup form ───────────────────────

proc jobOrWarn(p: Persistency, jobId: string): Job =
  ## The open job, or nil after logging that the write is dropped.
  result = if p == nil: nil else: p.jobs.getOrDefault(jobId, nil)
  if result == nil:
    warn("write dropped, job not open", jobId)

proc persist*(p: Persistency, jobId: string, ops: seq[TxOp]): Future[void] =
  ## `persist` on the open job `jobId`; dropped and logged if not open.
  let j = p.jobOrWarn(jobId)
  if j == nil: queued("persist") else: j.persist(ops)

proc persist*(p: Persistency, jobId: string, op: TxOp): Future[void] =
  ## `persist` of one operation on the open job `jobId`.
  p.persist(jobId, @[op])

proc persistPut*(p: Persistency, jobId: string, category: string, key: Key,
                 payload: seq[byte]): Future[void] =
  ## `persistPut` on the open job `jobId`; dropped and logged if not open.
  let j = p.jobOrWarn(jobId)
  if j == nil: queued("persistPut") else: j.persistPut(category, key, payload)

proc persistDelete*(p: Persistency, jobId: string, category: string, key: Key): Future[void] =
  ## `persistDelete` on the open job `jobId`; dropped and logged if not open.
  let j = p.jobOrWarn(jobId)
  if j == nil: queued("persistDelete") else: j.persistDelete(category, key)

proc persistDeletePrefix*(p: Persistency, jobId: string, category: string,
                          prefix: Key): Future[void] =
  ## `persistDeletePrefix` on the open job `jobId`; dropped and logged if
  ## not open.
  let j = p.jobOrWarn(jobId)
  if j == nil: queued("persistDeletePrefix") else: j.persistDeletePrefix(category, prefix)

{.pop.}

proc persistEncoded*[T](t: Job, category: string, key: Key, value: T): Future[void] =
  ## Encodes `value` with `toPayload` and queues a put of it.
  persistPut(t, category, key, toPayload(value))

proc persistEncoded*[T](p: Persistency, jobId: string, category: string, key: Key,
                        value: T): Future[void] =
  ## `persistEncoded` on the open job `jobId`; dropped and logged if not open.
  let j = p.jobOrWarn(jobId)
  if j == nil: queued("persistEncoded") else: j.persistEncoded(category, key, value)

{.push raises: [], gcsafe.}

# ── Reads (async, typed errors) — Job form ──────────────────────────────

template readCall(T: typedesc, name: static string, j: Job, category: string,
                  conv: untyped, call: untyped): untyped =
  ## Checks `j` and `category`, then runs `call` (a C call using
  ## `h`, `cat` and `req`) through the bridge.
  block:
    var c = checkJob(j)
    if c.isOk: c = checkCategory(category)
    if c.isErr:
      failed[T](name, c.error)
    else:
      let h {.inject.} = j.handle
      let cat {.inject.} = category
      submitCall[T](name, proc (req {.inject.}: ptr Request): CStatus = call, conv)

proc get*(t: Job, category: string, key: Key): Future[Result[Opt[seq[byte]], PersistencyError]] =
  ## The payload of `key`, or `Opt.none` when absent.
  readCall(Opt[seq[byte]], "get", t, category, convGet):
    persistency_get(h, cat.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc exists*(t: Job, category: string, key: Key): Future[Result[bool, PersistencyError]] =
  ## Whether `key` is present.
  readCall(bool, "exists", t, category, convFound):
    persistency_exists(h, cat.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc scanLimited(t: Job, category: string, range: KeyRange, reverse: bool,
                 limit: uint32): Future[PResult[ScanPage]] =
  readCall(ScanPage, "scan", t, category, convPage):
    persistency_scan(h, cat.cstring, keyPtr(range.start), csize_t(range.start.len),
                     keyPtr(range.stop), csize_t(range.stop.len), reverse, limit, onReply, req)

proc scan*(t: Job, category: string, range: KeyRange,
           reverse = false): Future[Result[seq[KvRow], PersistencyError]] =
  ## Every row of `[range.start, range.stop)` in key order (descending
  ## with `reverse`).
  readCall(seq[KvRow], "scan", t, category, convRows):
    persistency_scan(h, cat.cstring, keyPtr(range.start), csize_t(range.start.len),
                     keyPtr(range.stop), csize_t(range.stop.len), reverse, 0, onReply, req)

proc scanPrefix*(t: Job, category: string, prefix: Key,
                 reverse = false): Future[Result[seq[KvRow], PersistencyError]] =
  ## Every row whose key starts with `prefix` (`prefixRange(prefix)`).
  readCall(seq[KvRow], "scanPrefix", t, category, convRows):
    persistency_scan_prefix(h, cat.cstring, keyPtr(prefix), csize_t(prefix.len),
                            reverse, 0, onReply, req)

proc scanPage*(t: Job, category: string, range: KeyRange, reverse = false,
               limit: int): Future[Result[ScanPage, PersistencyError]] =
  ## At most `limit` rows of the range (0: no limit) and whether more
  ## remain. Resume ascending from the last key with a 0 byte appended,
  ## descending with the last key as `stop`.
  if limit < 0 or limit > int(high(uint32)):
    return failed[ScanPage]("scanPage", invalid("limit out of range: " & $limit))
  scanLimited(t, category, range, reverse, uint32(limit))

proc count*(t: Job, category: string, range: KeyRange): Future[Result[int, PersistencyError]] =
  ## Number of rows in the range.
  readCall(int, "count", t, category, convCount):
    persistency_count(h, cat.cstring, keyPtr(range.start), csize_t(range.start.len),
                      keyPtr(range.stop), csize_t(range.stop.len), onReply, req)

proc deleteAcked*(t: Job, category: string, key: Key): Future[Result[bool, PersistencyError]] =
  ## Deletes `key` and tells, once committed, whether a row was removed.
  readCall(bool, "deleteAcked", t, category, convFound):
    persistency_delete_acked(h, cat.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc getMany*(t: Job, category: string,
              keys: seq[Key]): Future[Result[seq[KvRow], PersistencyError]] =
  ## The rows of the keys that exist, in the order given, in one request
  ## and one read transaction.
  readCall(seq[KvRow], "getMany", t, category, convRows):
    var views = newSeq[CBytes](keys.len)
    for i in 0 ..< keys.len:
      views[i] = CBytes(data: keyPtr(keys[i]), len: csize_t(keys[i].len))
    persistency_get_many(h, cat.cstring, (if views.len == 0: nil else: addr views[0]),
                         csize_t(views.len), onReply, req)

proc persistCommitted*(t: Job, ops: seq[TxOp]): Future[Result[void, PersistencyError]] =
  ## `persist` that reports: the future completes once the transaction
  ## committed (as durable as the job's `synchronous` makes it) or failed.
  let c = checkJob(t)
  if c.isErr:
    return failed[void]("persistCommitted", c.error)
  let cops = toCOps(ops)
  if cops.isErr:
    return failed[void]("persistCommitted", cops.error)
  let h = t.handle
  let views = cops.get()
  submitCall[void]("persistCommitted", proc (req: ptr Request): CStatus =
    persistency_write(h, (if views.len == 0: nil else: unsafeAddr views[0]),
                      csize_t(views.len), onReply, req), convVoid)

proc flush*(t: Job): Future[Result[void, PersistencyError]] =
  ## Completes once every write queued before it is committed.
  let c = checkJob(t)
  if c.isErr:
    return failed[void]("flush", c.error)
  let h = t.handle
  submitCall[void]("flush", proc (req: ptr Request): CStatus =
    persistency_flush(h, onReply, req), convVoid)

# ── Reads (async, typed errors) — string-lookup form ────────────────────

template byId(T: typedesc, name: static string, p: Persistency, jobId: string,
              call: untyped): untyped =
  let jr = p.job(jobId)
  if jr.isErr:
    return failed[T](name, jr.error)
  let j {.inject.} = jr.get()
  call

proc get*(p: Persistency, jobId: string, category: string,
          key: Key): Future[Result[Opt[seq[byte]], PersistencyError]] =
  ## `get` on the open job `jobId` (`peJobNotFound` if it isn't open).
  byId(Opt[seq[byte]], "get", p, jobId, j.get(category, key))

proc exists*(p: Persistency, jobId: string, category: string,
             key: Key): Future[Result[bool, PersistencyError]] =
  ## `exists` on the open job `jobId`.
  byId(bool, "exists", p, jobId, j.exists(category, key))

proc scan*(p: Persistency, jobId: string, category: string, range: KeyRange,
           reverse = false): Future[Result[seq[KvRow], PersistencyError]] =
  ## `scan` on the open job `jobId`.
  byId(seq[KvRow], "scan", p, jobId, j.scan(category, range, reverse))

proc scanPrefix*(p: Persistency, jobId: string, category: string, prefix: Key,
                 reverse = false): Future[Result[seq[KvRow], PersistencyError]] =
  ## `scanPrefix` on the open job `jobId`.
  byId(seq[KvRow], "scanPrefix", p, jobId, j.scanPrefix(category, prefix, reverse))

proc count*(p: Persistency, jobId: string, category: string,
            range: KeyRange): Future[Result[int, PersistencyError]] =
  ## `count` on the open job `jobId`.
  byId(int, "count", p, jobId, j.count(category, range))

proc deleteAcked*(p: Persistency, jobId: string, category: string,
                  key: Key): Future[Result[bool, PersistencyError]] =
  ## `deleteAcked` on the open job `jobId`.
  byId(bool, "deleteAcked", p, jobId, j.deleteAcked(category, key))

proc libraryVersion*(): string =
  ## The version of the loaded libpersistency.
  $persistency_version()

include ./maintenance
include ./sync

{.pop.}
