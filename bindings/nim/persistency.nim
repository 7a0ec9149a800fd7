## Nim facade over libpersistency, shaped like upstream `waku/persistency`
## so node code moves over with few changes.
##
## ```nim
## import persistency
##
## let p = persistency("/var/lib/wakustore").get()     # process-wide instance
## let j = p.openJob("alpha").get()
## discard j.persistPut("msg", key("chan", 1'i64), @[1'u8, 2, 3])
## assert j.get("msg", key("chan", 1'i64)).get() == some(@[1'u8, 2, 3])
## let rows = (waitFor j.scanPrefixAsync("msg", key("chan"))).get()
## ```
##
## * Every call returns a `PResult[T]` (`Result[T, PersistencyError]`);
##   nothing raises except `[]` (`KeyError`, as upstream) and the key
##   builders (`KeyEncodingError` for a part over 65535 bytes; `tryKey`
##   returns a `Result` instead).
## * Each read and `persist`/`flush` has a blocking form (the calling
##   thread waits for the job's worker) and an `...Async` form returning a
##   `Future` on `std/asyncdispatch` that completes on the calling thread's
##   dispatcher. Reads observe every write accepted before them, so no
##   sleep or poll is needed after a write.
## * `persistPut`, `persistDelete`, `persistDeletePrefix` are
##   fire-and-forget: they return once the operation is queued (or with a
##   typed error, nothing queued). `persist(ops)` is one atomic
##   transaction and returns once it committed.
## * `Persistency` and `Job` are `ref`s owning one reference to the C
##   handle, released by their destructor; like every `ref` they belong to
##   the thread that made them. Another thread gets its own with
##   `persistency(root)` / `p.job(id)`, or `Persistency.borrow(h)` on an
##   `unsafeHandle` whose owner outlives it.
##
## Compile with `--threads:on --mm:orc` (or `--mm:arc`).

when not compileOption("threads"):
  {.error: "the persistency binding needs --threads:on".}
when not (defined(gcOrc) or defined(gcArc)):
  {.error: "the persistency binding needs --mm:orc or --mm:arc".}

import std/[asyncdispatch, options]
import ./persistency/[ffi, types, keys, payload, bridge]

export options, asyncdispatch, types, keys, payload

{.push raises: [], gcsafe.}

type
  PersistencyObj {.acyclic.} = object
    handle: ptr CPersistency
    borrowed: bool

  Persistency* = ref PersistencyObj
    ## One root directory holding any number of jobs (`<root>/<id>.db`).

  JobObj {.acyclic.} = object
    handle: ptr CPersistencyJob
    id: string

  Job* = ref JobObj
    ## One open job: one SQLite file, one worker thread.

  Synchronous* = enum
    ## SQLite `synchronous` of a job.
    syncNormal ## NORMAL (default): durable except on power loss in WAL mode
    syncOff    ## OFF: fastest, an OS crash may lose recent commits
    syncFull   ## FULL: every commit reaches the disk

  FullPolicy* = enum
    ## What a call does when the job's queue is full.
    fpBlock ## wait for room (default)
    fpFail  ## fail with `peBusy`

  JobOptions* = object
    ## Options of `openJob`; start from `defaultJobOptions()`.
    synchronous*: Synchronous
    queueCapacity*: int ## most operations waiting for the worker; 0 = default
    fullPolicy*: FullPolicy
    maxDbBytes*: uint64 ## cap on the database file's size; 0 = unlimited

  JobStats* = object
    ## Counters of a job (figures may be a moment old).
    queued*: uint64       ## operations waiting now
    opsApplied*: uint64   ## write operations committed
    opsFailed*: uint64    ## write operations that failed
    transactions*: uint64 ## commits
    reads*: uint64        ## read requests served
    dbBytes*: uint64      ## bytes of the job's files on disk

  ScanPage* = object
    ## One page of a limited scan.
    rows*: seq[KvRow]
    hasMore*: bool ## rows remain in the range beyond `rows`

proc `=destroy`(p: var PersistencyObj) =
  if p.handle != nil and not p.borrowed:
    persistency_release(p.handle)
  p.handle = nil

proc `=copy`(dest: var PersistencyObj, src: PersistencyObj) {.error.}

proc `=destroy`(j: var JobObj) =
  if j.handle != nil:
    persistency_job_release(j.handle)
  j.handle = nil
  `=destroy`(j.id)

proc `=copy`(dest: var JobObj, src: JobObj) {.error.}

# ── Argument checks ─────────────────────────────────────────────────────

proc invalid(msg: string): PersistencyError =
  persistencyErr(peInvalidArgument, msg)

proc checkCString(s, what: string): PResult[void] =
  ## C strings end at the first NUL: refuse strings that contain one
  ## rather than silently using a shorter name.
  if '\0' in s:
    return err(invalid(what & " contains a NUL byte"))
  ok()

proc checkCategory(category: string): PResult[void] =
  ?checkCString(category, "category")
  if category.len > StringLenMax:
    return err(invalid("category of " & $category.len & " bytes is longer than " & $StringLenMax))
  ok()

proc checkJob(j: Job): PResult[void] =
  if j == nil or j.handle == nil:
    return err(invalid("job is nil"))
  ok()

proc checkInstance(p: Persistency): PResult[void] =
  if p == nil or p.handle == nil:
    return err(invalid("persistency instance is nil"))
  ok()

template bytesPtr(s: seq[byte]): ptr uint8 =
  (if s.len == 0: nil else: unsafeAddr s[0])

template keyPtr(k: Key): ptr uint8 =
  bytesPtr(seq[byte](k))

proc statusResult(st: CStatus): PResult[void] =
  if st != PERSISTENCY_OK:
    return err(lastError(st))
  ok()

# ── Instances ───────────────────────────────────────────────────────────

proc persistency*(rootDir: string): PResult[Persistency] =
  ## The process-wide instance (upstream `Persistency.instance(rootDir)`):
  ## the first call validates `rootDir` (created at the first `openJob`)
  ## and installs it; later calls with the same string return the same
  ## instance; another string is `peInvalidArgument` until
  ## `Persistency.reset()`. `":memory:"` keeps every job in memory.
  ?checkCString(rootDir, "root dir")
  var h: ptr CPersistency
  ?statusResult(persistency_instance(rootDir.cstring, addr h))
  ok(Persistency(handle: h))

proc instance*(T: typedesc[Persistency], rootDir: string): PResult[Persistency] =
  ## Same as `persistency(rootDir)`.
  persistency(rootDir)

proc instance*(T: typedesc[Persistency]): PResult[Persistency] =
  ## The installed process-wide instance, or `peClosed` if there is none.
  var h: ptr CPersistency
  ?statusResult(persistency_instance_current(addr h))
  ok(Persistency(handle: h))

proc reset*(T: typedesc[Persistency]): PResult[void] =
  ## Closes every job of the process-wide instance and empties the slot.
  ## The old instance is closed for good (`peClosed` on its handles).
  ## Idempotent.
  statusResult(persistency_reset())

proc newPersistency*(rootDir: string): PResult[Persistency] =
  ## An independent instance (one per node), validated like the
  ## process-wide one. Two live instances cannot open the same job file.
  ## Its jobs are closed when the last reference is released.
  ?checkCString(rootDir, "root dir")
  var h: ptr CPersistency
  ?statusResult(persistency_new(rootDir.cstring, addr h))
  ok(Persistency(handle: h))

proc new*(T: typedesc[Persistency], rootDir: string): PResult[Persistency] =
  ## Same as `newPersistency(rootDir)`.
  newPersistency(rootDir)

proc unsafeHandle*(p: Persistency): ptr CPersistency =
  ## The C handle, for the low-level `ffi` module or another thread
  ## (`Persistency.borrow`). Valid while `p` lives.
  if p == nil: nil else: p.handle

proc borrow*(T: typedesc[Persistency], handle: ptr CPersistency): Persistency =
  ## A wrapper of `handle` that does not own a reference: the owner of the
  ## handle must outlive it. Use it to reach an independent instance from
  ## another thread.
  Persistency(handle: handle, borrowed: true)

proc rootDir*(p: Persistency): string =
  ## The root directory, as given.
  if p == nil or p.handle == nil: return ""
  let s = persistency_root_dir(p.handle)
  if s == nil: "" else: $s

proc `==`*(a, b: Persistency): bool =
  ## Whether both refer to the same instance.
  a.unsafeHandle == b.unsafeHandle

proc close*(p: Persistency): PResult[void] =
  ## Closes every job (each drained first); `p` stays usable for
  ## `openJob`. Idempotent.
  ?checkInstance(p)
  statusResult(persistency_close(p.handle))

# ── Jobs ────────────────────────────────────────────────────────────────

proc defaultJobOptions*(): JobOptions =
  ## The library's defaults.
  var c: CJobOptions
  persistency_job_options_init(addr c)
  JobOptions(
    synchronous: Synchronous(c.synchronous),
    queueCapacity: int(c.queue_capacity),
    fullPolicy: FullPolicy(c.full_policy),
    maxDbBytes: c.max_db_bytes)

proc wrapJob(h: ptr CPersistencyJob): Job =
  let id = persistency_job_id(h)
  Job(handle: h, id: if id == nil: "" else: $id)

proc openJob*(p: Persistency, jobId: string): PResult[Job] =
  ## Opens or creates `<root>/<jobId>.db` with the default options;
  ## opening an open job returns it. A job id is 1 to 128 bytes of
  ## `[A-Za-z0-9_.-]`, not starting with `.`.
  ?checkInstance(p)
  ?checkCString(jobId, "job id")
  var h: ptr CPersistencyJob
  ?statusResult(persistency_open_job(p.handle, jobId.cstring, addr h))
  ok(wrapJob(h))

proc openJob*(p: Persistency, jobId: string, options: JobOptions): PResult[Job] =
  ## `openJob` with options (those of the first open stand).
  ?checkInstance(p)
  ?checkCString(jobId, "job id")
  if options.queueCapacity < 0 or options.queueCapacity > int(high(uint32)):
    return err(invalid("queueCapacity out of range: " & $options.queueCapacity))
  var c: CJobOptions
  persistency_job_options_init(addr c)
  c.synchronous = int32(ord(options.synchronous))
  c.queue_capacity = uint32(options.queueCapacity)
  c.full_policy = int32(ord(options.fullPolicy))
  c.max_db_bytes = options.maxDbBytes
  var h: ptr CPersistencyJob
  ?statusResult(persistency_open_job_with(p.handle, jobId.cstring, addr c, addr h))
  ok(wrapJob(h))

proc job*(p: Persistency, jobId: string): PResult[Job] =
  ## An open job by id, or `peJobNotFound`.
  ?checkInstance(p)
  ?checkCString(jobId, "job id")
  var h: ptr CPersistencyJob
  ?statusResult(persistency_find_job(p.handle, jobId.cstring, addr h))
  ok(wrapJob(h))

proc `[]`*(p: Persistency, jobId: string): Job {.raises: [KeyError].} =
  ## An open job by id; raises `KeyError` when it is not open (as
  ## upstream). Prefer `job` for a typed error.
  let r = p.job(jobId)
  if r.isErr:
    raise newException(KeyError, r.error.msg)
  r.get()

proc hasJob*(p: Persistency, jobId: string): bool =
  ## Whether a job with that id is open.
  if p == nil or p.handle == nil or '\0' in jobId:
    return false
  persistency_has_job(p.handle, jobId.cstring)

proc closeJob*(p: Persistency, jobId: string): PResult[void] =
  ## Applies every accepted operation, invokes every callback, joins the
  ## worker and forgets the job; a job that is not open is a no-op. Old
  ## handles then give `peClosed`.
  ?checkInstance(p)
  ?checkCString(jobId, "job id")
  statusResult(persistency_close_job(p.handle, jobId.cstring))

proc dropJob*(p: Persistency, jobId: string): PResult[void] =
  ## Closes the job if open, then deletes its file and sidecars.
  ?checkInstance(p)
  ?checkCString(jobId, "job id")
  statusResult(persistency_drop_job(p.handle, jobId.cstring))

proc id*(j: Job): string =
  ## The job id.
  if j == nil: "" else: j.id

proc unsafeHandle*(j: Job): ptr CPersistencyJob =
  ## The C handle, for the low-level `ffi` module. Valid while `j` lives.
  if j == nil: nil else: j.handle

proc `$`*(j: Job): string =
  ## `Job(<id>)`.
  "Job(" & j.id & ")"

proc `$`*(p: Persistency): string =
  ## `Persistency(<root dir>)`.
  "Persistency(" & p.rootDir & ")"

proc stats*(j: Job): PResult[JobStats] =
  ## The job's counters; `peClosed` once the job is closed.
  ?checkJob(j)
  var s: CStats
  ?statusResult(persistency_job_stats(j.handle, addr s))
  ok(JobStats(queued: s.queued, opsApplied: s.ops_applied, opsFailed: s.ops_failed,
              transactions: s.transactions, reads: s.reads, dbBytes: s.db_bytes))

proc isOpen*(j: Job): bool =
  ## Whether the job is still open (upstream `running`).
  j.stats().isOk

# ── Writes ──────────────────────────────────────────────────────────────

proc persistPut*(j: Job, category: string, key: Key, payload: openArray[byte]): PResult[void] =
  ## Queues an insert-or-replace of `key` (fire-and-forget).
  ?checkJob(j)
  ?checkCategory(category)
  statusResult(persistency_put(j.handle, category.cstring, keyPtr(key), csize_t(key.len),
    (if payload.len == 0: nil else: unsafeAddr payload[0]), csize_t(payload.len)))

proc persistDelete*(j: Job, category: string, key: Key): PResult[void] =
  ## Queues a delete of `key` (fire-and-forget).
  ?checkJob(j)
  ?checkCategory(category)
  statusResult(persistency_delete(j.handle, category.cstring, keyPtr(key), csize_t(key.len)))

proc persistDeletePrefix*(j: Job, category: string, prefix: Key): PResult[void] =
  ## Queues a delete of every key starting with `prefix` (fire-and-forget).
  ?checkJob(j)
  ?checkCategory(category)
  statusResult(persistency_delete_prefix(j.handle, category.cstring, keyPtr(prefix),
    csize_t(prefix.len)))

proc toCOps(ops: openArray[TxOp]): PResult[seq[COp]] =
  var cops = newSeq[COp](ops.len)
  for i in 0 ..< ops.len:
    # Index into `ops` (no loop copy): the views must point at its data.
    ?checkCategory(ops[i].category)
    cops[i].category = ops[i].category.cstring
    cops[i].key = keyPtr(ops[i].key)
    cops[i].key_len = csize_t(ops[i].key.len)
    case ops[i].kind
    of txPut:
      cops[i].kind = PERSISTENCY_OP_PUT
      cops[i].payload = bytesPtr(ops[i].payload)
      cops[i].payload_len = csize_t(ops[i].payload.len)
    of txDelete:
      cops[i].kind = PERSISTENCY_OP_DELETE
    of txDeletePrefix:
      cops[i].kind = PERSISTENCY_OP_DELETE_PREFIX
  ok(cops)

proc convVoid(rep: Reply): PResult[void] =
  if rep.status != PERSISTENCY_OK: err(rep.error) else: ok()

proc writeSubmit(j: Job, cops: seq[COp]): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_write(h, (if cops.len == 0: nil else: unsafeAddr cops[0]), csize_t(cops.len),
                      onReply, req)

proc persist*(j: Job, ops: openArray[TxOp]): PResult[void] =
  ## Applies `ops` as one atomic transaction (all or none) and returns
  ## once it committed, with its outcome.
  ?checkJob(j)
  let cops = ?toCOps(ops)
  runBlocking[void](writeSubmit(j, cops), convVoid)

proc persist*(j: Job, op: TxOp): PResult[void] =
  ## `persist` of one operation.
  persist(j, [op])

proc flushSubmit(j: Job): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus = persistency_flush(h, onReply, req)

proc flush*(j: Job): PResult[void] =
  ## Returns once every operation accepted before it is committed.
  ?checkJob(j)
  runBlocking[void](flushSubmit(j), convVoid)

# ── Reads ───────────────────────────────────────────────────────────────

proc convGet(rep: Reply): PResult[Option[seq[byte]]] =
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  if rep.found: ok(some(rep.value)) else: ok(none(seq[byte]))

proc convFound(rep: Reply): PResult[bool] =
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(rep.found)

proc convCount(rep: Reply): PResult[int] =
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(int(rep.count))

proc convRows(rep: Reply): PResult[seq[KvRow]] =
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(rep.rows)

proc convPage(rep: Reply): PResult[ScanPage] =
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(ScanPage(rows: rep.rows, hasMore: rep.hasMore))

proc getSubmit(j: Job, category: string, key: Key): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_get(h, category.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc existsSubmit(j: Job, category: string, key: Key): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_exists(h, category.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc scanSubmit(j: Job, category: string, range: KeyRange, reverse: bool, limit: uint32): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_scan(h, category.cstring, keyPtr(range.start), csize_t(range.start.len),
                     keyPtr(range.stop), csize_t(range.stop.len), reverse, limit, onReply, req)

proc scanPrefixSubmit(j: Job, category: string, prefix: Key, reverse: bool, limit: uint32): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_scan_prefix(h, category.cstring, keyPtr(prefix), csize_t(prefix.len),
                            reverse, limit, onReply, req)

proc countSubmit(j: Job, category: string, range: KeyRange): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_count(h, category.cstring, keyPtr(range.start), csize_t(range.start.len),
                      keyPtr(range.stop), csize_t(range.stop.len), onReply, req)

proc deleteAckedSubmit(j: Job, category: string, key: Key): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    persistency_delete_acked(h, category.cstring, keyPtr(key), csize_t(key.len), onReply, req)

proc getManySubmit(j: Job, category: string, keys: seq[Key]): Submit =
  let h = j.handle
  result = proc (req: ptr Request): CStatus =
    var views = newSeq[CBytes](keys.len)
    for i in 0 ..< keys.len:
      views[i] = CBytes(data: keyPtr(keys[i]), len: csize_t(keys[i].len))
    persistency_get_many(h, category.cstring, (if views.len == 0: nil else: addr views[0]),
                         csize_t(views.len), onReply, req)

proc checkLimit(limit: int): PResult[uint32] =
  if limit < 0 or limit > int(high(uint32)):
    return err(invalid("limit out of range: " & $limit))
  ok(uint32(limit))

template readCall(T: typedesc, j: Job, category: string, submit, conv: untyped): untyped =
  ?checkJob(j)
  ?checkCategory(category)
  runBlocking[T](submit, conv)

proc get*(j: Job, category: string, key: Key): PResult[Option[seq[byte]]] =
  ## The payload of `key`, or `none` when it is absent.
  readCall(Option[seq[byte]], j, category, getSubmit(j, category, key), convGet)

proc exists*(j: Job, category: string, key: Key): PResult[bool] =
  ## Whether `key` is present.
  readCall(bool, j, category, existsSubmit(j, category, key), convFound)

proc scan*(j: Job, category: string, range: KeyRange, reverse = false): PResult[seq[KvRow]] =
  ## Every row of `[range.start, range.stop)` in key order (descending
  ## with `reverse`).
  readCall(seq[KvRow], j, category, scanSubmit(j, category, range, reverse, 0), convRows)

proc scanPage*(j: Job, category: string, range: KeyRange, reverse = false,
               limit: int): PResult[ScanPage] =
  ## At most `limit` rows of the range (0: no limit) and whether more
  ## remain. Resume ascending from the last key with a 0 byte appended,
  ## descending with the last key as `stop`.
  let lim = ?checkLimit(limit)
  readCall(ScanPage, j, category, scanSubmit(j, category, range, reverse, lim), convPage)

proc scanPrefix*(j: Job, category: string, prefix: Key, reverse = false): PResult[seq[KvRow]] =
  ## Every row whose key starts with `prefix`.
  readCall(seq[KvRow], j, category, scanPrefixSubmit(j, category, prefix, reverse, 0), convRows)

proc scanPrefixPage*(j: Job, category: string, prefix: Key, reverse = false,
                     limit: int): PResult[ScanPage] =
  ## At most `limit` rows whose key starts with `prefix`.
  let lim = ?checkLimit(limit)
  readCall(ScanPage, j, category, scanPrefixSubmit(j, category, prefix, reverse, lim), convPage)

proc count*(j: Job, category: string, range = KeyRange()): PResult[int] =
  ## Number of rows in the range (the whole category by default).
  readCall(int, j, category, countSubmit(j, category, range), convCount)

proc deleteAcked*(j: Job, category: string, key: Key): PResult[bool] =
  ## Deletes `key` and tells whether a row was removed.
  readCall(bool, j, category, deleteAckedSubmit(j, category, key), convFound)

proc getMany*(j: Job, category: string, keys: openArray[Key]): PResult[seq[KvRow]] =
  ## The rows of the keys that exist, in the order given, in one request.
  readCall(seq[KvRow], j, category, getManySubmit(j, category, @keys), convRows)

# ── String-id forms ─────────────────────────────────────────────────────

template byId(p: Persistency, jobId: string, call: untyped): untyped =
  let jr = p.job(jobId)
  if jr.isErr:
    return err(jr.error)
  let j {.inject.} = jr.get()
  call

proc persist*(p: Persistency, jobId: string, ops: openArray[TxOp]): PResult[void] =
  ## `persist` on the open job `jobId` (`peJobNotFound` if it is not open).
  byId(p, jobId, j.persist(ops))

proc persistPut*(p: Persistency, jobId, category: string, key: Key,
                 payload: openArray[byte]): PResult[void] =
  ## `persistPut` on the open job `jobId`.
  byId(p, jobId, j.persistPut(category, key, payload))

proc persistDelete*(p: Persistency, jobId, category: string, key: Key): PResult[void] =
  ## `persistDelete` on the open job `jobId`.
  byId(p, jobId, j.persistDelete(category, key))

proc persistDeletePrefix*(p: Persistency, jobId, category: string, prefix: Key): PResult[void] =
  ## `persistDeletePrefix` on the open job `jobId`.
  byId(p, jobId, j.persistDeletePrefix(category, prefix))

proc get*(p: Persistency, jobId, category: string, key: Key): PResult[Option[seq[byte]]] =
  ## `get` on the open job `jobId`.
  byId(p, jobId, j.get(category, key))

proc exists*(p: Persistency, jobId, category: string, key: Key): PResult[bool] =
  ## `exists` on the open job `jobId`.
  byId(p, jobId, j.exists(category, key))

proc scan*(p: Persistency, jobId, category: string, range: KeyRange,
           reverse = false): PResult[seq[KvRow]] =
  ## `scan` on the open job `jobId`.
  byId(p, jobId, j.scan(category, range, reverse))

proc scanPrefix*(p: Persistency, jobId, category: string, prefix: Key,
                 reverse = false): PResult[seq[KvRow]] =
  ## `scanPrefix` on the open job `jobId`.
  byId(p, jobId, j.scanPrefix(category, prefix, reverse))

proc count*(p: Persistency, jobId, category: string, range = KeyRange()): PResult[int] =
  ## `count` on the open job `jobId`.
  byId(p, jobId, j.count(category, range))

proc deleteAcked*(p: Persistency, jobId, category: string, key: Key): PResult[bool] =
  ## `deleteAcked` on the open job `jobId`.
  byId(p, jobId, j.deleteAcked(category, key))

{.pop.}

# ── Generic writes (effects inferred from the value's type) ─────────────

proc persistEncoded*[T](j: Job, category: string, key: Key, value: T): PResult[void] =
  ## Encodes `value` with `toPayload` and queues a put of it; an over-long
  ## string part is `peInvalidArgument`.
  let payload = tryPayload(value)
  if payload.isErr:
    return err(payload.error)
  j.persistPut(category, key, payload.get())

proc persistEncoded*[T](p: Persistency, jobId, category: string, key: Key,
                        value: T): PResult[void] =
  ## `persistEncoded` on the open job `jobId`.
  let jr = p.job(jobId)
  if jr.isErr:
    return err(jr.error)
  jr.get().persistEncoded(category, key, value)

# ── Async forms (std/asyncdispatch) ─────────────────────────────────────
# The Future never fails: errors arrive as `err` results.

proc done[T](name: static string, r: PResult[T]): Future[PResult[T]] =
  result = newFuture[PResult[T]](name)
  result.complete(r)

template asyncCall(T: typedesc, name: static string, j: Job, category: string,
                   submit, conv: untyped): untyped =
  let chk = (block:
    var c = checkJob(j)
    if c.isOk: c = checkCategory(category)
    c)
  if chk.isErr:
    done[T](name, PResult[T].err(chk.error))
  else:
    runAsync[T](name, submit, conv)

proc persistAsync*(j: Job, ops: openArray[TxOp]): Future[PResult[void]] =
  ## `persist` as a `Future`: completes once the batch committed (or
  ## failed).
  if j == nil or j.handle == nil:
    return done[void]("persistAsync", PResult[void].err(invalid("job is nil")))
  let cops = toCOps(ops)
  if cops.isErr:
    return done[void]("persistAsync", PResult[void].err(cops.error))
  runAsync[void]("persistAsync", writeSubmit(j, cops.get()), convVoid)

proc flushAsync*(j: Job): Future[PResult[void]] =
  ## `flush` as a `Future`.
  if j == nil or j.handle == nil:
    return done[void]("flushAsync", PResult[void].err(invalid("job is nil")))
  runAsync[void]("flushAsync", flushSubmit(j), convVoid)

proc getAsync*(j: Job, category: string, key: Key): Future[PResult[Option[seq[byte]]]] =
  ## `get` as a `Future`.
  asyncCall(Option[seq[byte]], "getAsync", j, category, getSubmit(j, category, key), convGet)

proc existsAsync*(j: Job, category: string, key: Key): Future[PResult[bool]] =
  ## `exists` as a `Future`.
  asyncCall(bool, "existsAsync", j, category, existsSubmit(j, category, key), convFound)

proc scanAsync*(j: Job, category: string, range: KeyRange,
                reverse = false): Future[PResult[seq[KvRow]]] =
  ## `scan` as a `Future`.
  asyncCall(seq[KvRow], "scanAsync", j, category,
            scanSubmit(j, category, range, reverse, 0), convRows)

proc scanPrefixAsync*(j: Job, category: string, prefix: Key,
                      reverse = false): Future[PResult[seq[KvRow]]] =
  ## `scanPrefix` as a `Future`.
  asyncCall(seq[KvRow], "scanPrefixAsync", j, category,
            scanPrefixSubmit(j, category, prefix, reverse, 0), convRows)

proc countAsync*(j: Job, category: string, range = KeyRange()): Future[PResult[int]] =
  ## `count` as a `Future`.
  asyncCall(int, "countAsync", j, category, countSubmit(j, category, range), convCount)

proc deleteAckedAsync*(j: Job, category: string, key: Key): Future[PResult[bool]] =
  ## `deleteAcked` as a `Future`.
  asyncCall(bool, "deleteAckedAsync", j, category, deleteAckedSubmit(j, category, key), convFound)

proc getManyAsync*(j: Job, category: string, keys: openArray[Key]): Future[PResult[seq[KvRow]]] =
  ## `getMany` as a `Future`.
  asyncCall(seq[KvRow], "getManyAsync", j, category, getManySubmit(j, category, @keys), convRows)

proc getAsync*(p: Persistency, jobId, category: string,
               key: Key): Future[PResult[Option[seq[byte]]]] =
  ## `getAsync` on the open job `jobId`.
  let jr = p.job(jobId)
  if jr.isErr:
    return done[Option[seq[byte]]]("getAsync", PResult[Option[seq[byte]]].err(jr.error))
  jr.get().getAsync(category, key)

proc scanPrefixAsync*(p: Persistency, jobId, category: string, prefix: Key,
                      reverse = false): Future[PResult[seq[KvRow]]] =
  ## `scanPrefixAsync` on the open job `jobId`.
  let jr = p.job(jobId)
  if jr.isErr:
    return done[seq[KvRow]]("scanPrefixAsync", PResult[seq[KvRow]].err(jr.error))
  jr.get().scanPrefixAsync(category, prefix, reverse)

proc persistAsync*(p: Persistency, jobId: string, ops: openArray[TxOp]): Future[PResult[void]] =
  ## `persistAsync` on the open job `jobId`.
  let jr = p.job(jobId)
  if jr.isErr:
    return done[void]("persistAsync", PResult[void].err(jr.error))
  jr.get().persistAsync(ops)

proc libraryVersion*(): string =
  ## The version of the loaded libpersistency.
  $persistency_version()
