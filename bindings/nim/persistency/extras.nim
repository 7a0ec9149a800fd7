## Options, figures and warnings of the facade (additions to upstream's
## API): `JobOptions` for `openJob`, `JobStats`, `ScanPage`, and the
## handler that receives the binding's warnings (upstream logs them with
## chronicles).

{.push raises: [], gcsafe.}

import ./[ffi, types]

type
  Synchronous* = enum
    ## SQLite `synchronous` of a job.
    syncNormal ## NORMAL (default): durable except on power loss in WAL mode
    syncOff    ## OFF: fastest; an OS crash may lose recent commits
    syncFull   ## FULL: every commit reaches the disk

  FullPolicy* = enum
    ## What a write does when the job's queue is full.
    fpBlock ## wait for room (default)
    fpFail  ## drop it (logged); `persistCommitted` gives `peBusy`

  JobOptions* = object
    ## Options of `openJob`; start from `defaultJobOptions()`.
    synchronous*: Synchronous
    queueCapacity*: int ## most operations waiting for the worker; 0 = default
    fullPolicy*: FullPolicy
    maxDbBytes*: uint64 ## cap on the database file's size; 0 = unlimited
    maxQueueBytes*: uint64 ## most bytes of requests waiting; 0 = default (64 MiB)
    retentionMaxBytes*: uint64
      ## size-capped retention: the most live bytes kept (0: off); past it
      ## the oldest rows of `retentionCategories` are removed, and a write
      ## of more than half of it fails with `peFull`
    retentionCategories*: seq[string] ## the categories retention trims, in order

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

  WarningHandler* = proc (msg: string, jobId: string) {.nimcall, gcsafe, raises: [].}
    ## Receives the warnings of the binding (e.g. a dropped write).

proc defaultJobOptions*(): JobOptions =
  ## The library's defaults.
  var c: CJobOptions
  discard persistency_job_options_init_sized(addr c, csize_t(sizeof(c)))
  JobOptions(synchronous: Synchronous(c.synchronous), queueCapacity: int(c.queue_capacity),
             fullPolicy: FullPolicy(c.full_policy), maxDbBytes: c.max_db_bytes,
             maxQueueBytes: c.max_queue_bytes)

proc stderrWarning(msg: string, jobId: string) {.nimcall, gcsafe, raises: [].} =
  try:
    stderr.writeLine("WRN persistency: " & msg & " topics=\"persistency\" jobId=" & jobId)
  except IOError:
    discard

var warningHandler: WarningHandler = stderrWarning

proc setWarningHandler*(handler: WarningHandler) =
  ## Routes the binding's warnings (upstream logs them with chronicles'
  ## `warn`, topic "persistency") to `handler`, process-wide; `nil`
  ## restores the default, a line on stderr. Set it before starting
  ## threads.
  {.cast(gcsafe).}:
    warningHandler = if handler == nil: stderrWarning else: handler

proc warn*(msg: string, jobId: string) =
  ## Sends a warning to the installed handler.
  {.cast(gcsafe).}:
    let h = warningHandler
  h(msg, jobId)

{.pop.}
