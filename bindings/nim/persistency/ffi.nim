## Low-level binding: one `importc` declaration per function of
## `include/persistency.h`, and a Nim object with the same layout per C
## struct. Handles are opaque objects used only through `ptr`. Nothing here
## allocates Nim memory; see `persistency.nim` for the typed facade.
##
## Linking (pick one):
##
## * default: `-L<repo>/target/release -lpersistency
##   -Wl,-rpath,<repo>/target/release` is passed to the linker from this
##   file (the repo is found from this file's path). Override the directory
##   with `-d:persistencyLibDir=/usr/local/lib`; with
##   `-d:persistencyNoLink` nothing is passed and you give the `--passL`
##   flags yourself, e.g. for the link-safe static archive (scripts/build.sh)
##   `--passL:<repo>/target/release/link-safe/libpersistency.a --passL:-lm`.
## * `-d:persistencyDynlib`: the functions are resolved with `dlopen` at
##   program start from `persistencyLib` (default `libpersistency.so`, found
##   through `LD_LIBRARY_PATH`/the loader path; give a full path with
##   `-d:persistencyLib=/path/libpersistency.so`).
##
## Header mapping: `persistency` → `CPersistency`, `persistency_job` →
## `CPersistencyJob`, `persistency_key` → `CPersistencyKey`, `persistency_cursor` →
## `CPersistencyCursor`,
## `persistency_job_options` → `CJobOptions`, `persistency_stats` →
## `CStats`, `persistency_row` → `CRow`, `persistency_result` → `CResult`,
## `persistency_bytes` → `CBytes`, `persistency_op` → `COp`,
## `persistency_callback` → `CCallback`, `persistency_log_callback` →
## `CLogCallback`, `persistency_status` → `CStatus`. Functions keep their C
## names.

{.push raises: [], gcsafe.}

when defined(persistencyDynlib):
  const persistencyLib* {.strdefine.} = "libpersistency.so"
    ## The shared library loaded with `-d:persistencyDynlib`.
  const resolvedLib = static(persistencyLib) # the pragma would see the default otherwise
  {.pragma: pimport, importc, cdecl, dynlib: resolvedLib.}
else:
  import std/os
  const persistencyLibDir* {.strdefine.} =
    currentSourcePath().parentDir().parentDir().parentDir().parentDir() / "target" / "release"
    ## The directory holding `libpersistency.so` (default: the repo's
    ## `target/release`).
  when not defined(persistencyNoLink):
    {.passL: "-L" & persistencyLibDir & " -lpersistency -Wl,-rpath," & persistencyLibDir.}
  {.pragma: pimport, importc, cdecl.}

type
  CStatus* = int32 ## `persistency_status`: 0 is success.

  CPersistency* = object ## `persistency`: one root directory (opaque).
  CPersistencyJob* = object ## `persistency_job`: one job (opaque).
  CPersistencyKey* = object ## `persistency_key`: a key builder (opaque).
  CPersistencyCursor* = object ## `persistency_cursor`: a range read page by page (opaque).

  CJobOptions* {.bycopy.} = object
    ## `persistency_job_options` (second version, 32 bytes); fill with
    ## `persistency_job_options_init_sized(addr o, csize_t(sizeof(o)))`.
    struct_size*: uint32
    synchronous*: int32
    queue_capacity*: uint32
    full_policy*: int32
    max_db_bytes*: uint64
    max_queue_bytes*: uint64
    retention_max_bytes*: uint64
    retention_categories*: ptr cstring
    retention_category_count*: csize_t

  CStats* {.bycopy.} = object
    ## `persistency_stats`.
    queued*: uint64
    ops_applied*: uint64
    ops_failed*: uint64
    transactions*: uint64
    reads*: uint64
    db_bytes*: uint64

  CRow* {.bycopy.} = object
    ## `persistency_row`: views valid only during the callback.
    key*: ptr UncheckedArray[uint8]
    key_len*: csize_t
    payload*: ptr UncheckedArray[uint8]
    payload_len*: csize_t

  CResult* {.bycopy.} = object
    ## `persistency_result`: every pointer is valid only during the callback.
    status*: int32
    backend_code*: int32
    error*: cstring
    found*: bool
    value*: ptr UncheckedArray[uint8]
    value_len*: csize_t
    count*: uint64
    rows*: ptr UncheckedArray[CRow]
    row_count*: csize_t
    has_more*: bool

  CBytes* {.bycopy.} = object
    ## `persistency_bytes`.
    data*: ptr uint8
    len*: csize_t

  COp* {.bycopy.} = object
    ## `persistency_op`: one operation of `persistency_write`.
    kind*: int32
    category*: cstring
    key*: ptr uint8
    key_len*: csize_t
    payload*: ptr uint8
    payload_len*: csize_t

  CCallback* = proc (result: ptr CResult, user_data: pointer) {.cdecl, gcsafe, raises: [].}
    ## `persistency_callback`: runs on the job's worker thread (a foreign,
    ## non-Nim thread).
  CLogCallback* = proc (level: int32, message: cstring, user_data: pointer) {.cdecl, gcsafe, raises: [].}
    ## `persistency_log_callback`: may run on any library thread.

const
  PERSISTENCY_OK* = 0'i32 ## success
  PERSISTENCY_ERR_BACKEND* = 1'i32 ## SQLite or file-system failure
  PERSISTENCY_ERR_CLOSED* = 2'i32 ## instance or job closed / not initialised
  PERSISTENCY_ERR_INVALID_ARGUMENT* = 3'i32 ## bad argument
  PERSISTENCY_ERR_TIMEOUT* = 4'i32 ## a bounded wait ran out
  PERSISTENCY_ERR_JOB_NOT_FOUND* = 5'i32 ## no open job with that id
  PERSISTENCY_ERR_BUSY* = 6'i32 ## queue full and the job fails fast
  PERSISTENCY_ERR_FULL* = 7'i32 ## the disk or the job's quota is full
  PERSISTENCY_ERR_INTERNAL* = 8'i32 ## a caught panic; the call had no effect

  PERSISTENCY_SYNC_NORMAL* = 0'i32 ## SQLite `synchronous = NORMAL` (default)
  PERSISTENCY_SYNC_OFF* = 1'i32 ## SQLite `synchronous = OFF`
  PERSISTENCY_SYNC_FULL* = 2'i32 ## SQLite `synchronous = FULL`
  PERSISTENCY_FULL_BLOCK* = 0'i32 ## a full queue makes the caller wait (default)
  PERSISTENCY_FULL_FAIL* = 1'i32 ## a full queue gives `PERSISTENCY_ERR_BUSY`
  PERSISTENCY_LOG_ERROR* = 1'i32 ## log level: errors
  PERSISTENCY_LOG_WARN* = 2'i32 ## log level: warnings
  PERSISTENCY_LOG_INFO* = 3'i32 ## log level: information
  PERSISTENCY_LOG_DEBUG* = 4'i32 ## log level: debugging
  PERSISTENCY_OP_PUT* = 0'i32 ## `persistency_op.kind`: insert or replace
  PERSISTENCY_OP_DELETE* = 1'i32 ## `persistency_op.kind`: delete one key
  PERSISTENCY_OP_DELETE_PREFIX* = 2'i32 ## `persistency_op.kind`: delete a prefix
  PERSISTENCY_OP_DELETE_RANGE* = 3'i32
    ## `persistency_op.kind`: delete `[key, payload)` (empty payload: no upper bound)

# Instances
proc persistency_instance*(root_dir: cstring, out_p: ptr ptr CPersistency): CStatus {.pimport.}
  ## Gets or installs the process-wide instance.
proc persistency_instance_current*(out_p: ptr ptr CPersistency): CStatus {.pimport.}
  ## The installed process-wide instance, or `PERSISTENCY_ERR_CLOSED`.
proc persistency_reset*(): CStatus {.pimport.}
  ## Closes the process-wide instance for good and empties the slot.
proc persistency_new*(root_dir: cstring, out_p: ptr ptr CPersistency): CStatus {.pimport.}
  ## An independent instance owned by the caller.
proc persistency_close*(p: ptr CPersistency): CStatus {.pimport.}
  ## Closes every job of `p`; `p` stays usable.
proc persistency_release*(p: ptr CPersistency) {.pimport.}
  ## Gives back one reference (NULL is a no-op).
proc persistency_retain*(p: ptr CPersistency): ptr CPersistency {.pimport.}
  ## Takes one more reference to an instance (NULL gives NULL).
proc persistency_root_dir*(p: ptr CPersistency): cstring {.pimport.}
  ## The root directory, valid while `p` is.

# Jobs
proc persistency_job_options_init*(options: ptr CJobOptions) {.pimport.}
  ## Writes the defaults into the first version's fields (24 bytes).
proc persistency_job_options_init_sized*(options: ptr CJobOptions,
    size: csize_t): CStatus {.pimport.}
  ## Writes the defaults into every field that fits in `size` bytes.
proc persistency_set_wait_timeout*(timeout_ms: uint32): uint32 {.pimport.}
  ## Bounds, for the calling thread, how long calls wait for room in a full
  ## queue (0: no bound); returns the previous bound.
proc persistency_open_job*(p: ptr CPersistency, job_id: cstring,
    out_job: ptr ptr CPersistencyJob): CStatus {.pimport.}
  ## Opens or creates `<root>/<job_id>.db`.
proc persistency_open_job_with*(p: ptr CPersistency, job_id: cstring,
    options: ptr CJobOptions, out_job: ptr ptr CPersistencyJob): CStatus {.pimport.}
  ## `persistency_open_job` with options (NULL: defaults).
proc persistency_find_job*(p: ptr CPersistency, job_id: cstring,
    out_job: ptr ptr CPersistencyJob): CStatus {.pimport.}
  ## An open job, or `PERSISTENCY_ERR_JOB_NOT_FOUND`.
proc persistency_has_job*(p: ptr CPersistency, job_id: cstring): bool {.pimport.}
  ## Whether the job is open.
proc persistency_close_job*(p: ptr CPersistency, job_id: cstring): CStatus {.pimport.}
  ## Drains, closes and joins the job (no-op if not open).
proc persistency_drop_job*(p: ptr CPersistency, job_id: cstring): CStatus {.pimport.}
  ## Closes the job, then deletes its files.
proc persistency_job_release*(job: ptr CPersistencyJob) {.pimport.}
  ## Gives back one reference (NULL is a no-op).
proc persistency_job_retain*(job: ptr CPersistencyJob): ptr CPersistencyJob {.pimport.}
  ## Takes one more reference to a job (NULL gives NULL).
proc persistency_job_id*(job: ptr CPersistencyJob): cstring {.pimport.}
  ## The job id, valid until the handle is released.
proc persistency_job_stats*(job: ptr CPersistencyJob, out_stats: ptr CStats): CStatus {.pimport.}
  ## The job's counters.

# Keys
proc persistency_key_new*(): ptr CPersistencyKey {.pimport.}
  ## A new empty key builder.
proc persistency_key_free*(key: ptr CPersistencyKey) {.pimport.}
  ## Frees a key builder (NULL is a no-op).
proc persistency_key_clear*(key: ptr CPersistencyKey) {.pimport.}
  ## Empties a key builder.
proc persistency_key_push_str*(key: ptr CPersistencyKey, s: cstring): CStatus {.pimport.}
  ## Appends a string part.
proc persistency_key_push_bytes*(key: ptr CPersistencyKey, bytes: ptr uint8, len: csize_t): CStatus {.pimport.}
  ## Appends a byte-string part.
proc persistency_key_push_i64*(key: ptr CPersistencyKey, v: int64): CStatus {.pimport.}
  ## Appends a signed integer part.
proc persistency_key_push_u64*(key: ptr CPersistencyKey, v: uint64): CStatus {.pimport.}
  ## Appends an unsigned integer part.
proc persistency_key_push_u8*(key: ptr CPersistencyKey, v: uint8): CStatus {.pimport.}
  ## Appends a one-byte part.
proc persistency_key_push_bool*(key: ptr CPersistencyKey, v: bool): CStatus {.pimport.}
  ## Appends a bool part.
proc persistency_key_push_raw*(key: ptr CPersistencyKey, bytes: ptr uint8, len: csize_t): CStatus {.pimport.}
  ## Appends bytes verbatim.
proc persistency_key_data*(key: ptr CPersistencyKey, len: ptr csize_t): ptr UncheckedArray[uint8] {.pimport.}
  ## The encoded bytes (NULL with `*len` 0 when empty).
proc persistency_prefix_stop*(prefix: ptr uint8, prefix_len: csize_t,
    out_stop: ptr uint8, out_len: ptr csize_t): CStatus {.pimport.}
  ## The exclusive upper bound of the prefix range.

# Logging
proc persistency_set_logger*(callback: CLogCallback, user_data: pointer, max_level: int32) {.pimport.}
  ## Installs (or with NULL removes) the logger.

# Reads
proc persistency_get*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8, key_len: csize_t,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Looks up one key.
proc persistency_exists*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8, key_len: csize_t,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Whether one key exists.
proc persistency_scan*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t,
    reverse: bool, limit: uint32, callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Rows of `[start, stop)`.
proc persistency_scan_prefix*(job: ptr CPersistencyJob, category: cstring,
    prefix: ptr uint8, prefix_len: csize_t, reverse: bool, limit: uint32,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Rows whose key starts with `prefix`.
proc persistency_count*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Number of rows in `[start, stop)`.
proc persistency_get_many*(job: ptr CPersistencyJob, category: cstring,
    keys: ptr CBytes, n_keys: csize_t, callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Looks up a set of keys in one request.
proc persistency_delete_acked*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8, key_len: csize_t,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Deletes one key and reports whether a row was removed.

# Blocking reads: answered on the calling thread (or after the worker
# committed the writes before them); a reply is freed with
# persistency_reply_free.
proc persistency_get_sync*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8,
    key_len: csize_t, reply: ptr ptr CResult): CStatus {.pimport.}
  ## Looks up one key; `reply[]` is an owned reply on success.
proc persistency_exists_sync*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8,
    key_len: csize_t, found: ptr bool): CStatus {.pimport.}
  ## Whether one key exists, into `found[]`.
proc persistency_count_sync*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t,
    count: ptr uint64): CStatus {.pimport.}
  ## Number of rows in `[start, stop)`, into `count[]`.
proc persistency_scan_sync*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t,
    reverse: bool, limit: uint32, reply: ptr ptr CResult): CStatus {.pimport.}
  ## One page of `[start, stop)`; `reply[]` is an owned reply on success.
proc persistency_scan_prefix_sync*(job: ptr CPersistencyJob, category: cstring,
    prefix: ptr uint8, prefix_len: csize_t, reverse: bool, limit: uint32,
    reply: ptr ptr CResult): CStatus {.pimport.}
  ## Rows whose key starts with `prefix`; `reply[]` is an owned reply.
proc persistency_get_many_sync*(job: ptr CPersistencyJob, category: cstring,
    keys: ptr CBytes, n_keys: csize_t, reply: ptr ptr CResult): CStatus {.pimport.}
  ## Looks up a set of keys in one snapshot; `reply[]` is an owned reply.
proc persistency_reply_free*(reply: ptr CResult) {.pimport.}
  ## Frees a reply of a blocking read (NULL is ignored).
proc persistency_cursor_open*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t,
    reverse: bool, page_rows: uint32, `out`: ptr ptr CPersistencyCursor): CStatus {.pimport.}
  ## A cursor over `[start, stop)`, pages of `page_rows` rows (0: 256).
proc persistency_cursor_next*(cursor: ptr CPersistencyCursor, reply: ptr ptr CResult): CStatus {.pimport.}
  ## The next page as an owned reply (no rows at the end).
proc persistency_cursor_close*(cursor: ptr CPersistencyCursor) {.pimport.}
  ## Closes and frees a cursor (NULL is ignored).

# Errors and version
proc persistency_last_error*(): cstring {.pimport.}
  ## The last error message on this thread, or NULL.
proc persistency_status_name*(status: int32): cstring {.pimport.}
  ## The constant's name of a status.
proc persistency_version*(): cstring {.pimport.}
  ## The crate version.
proc persistency_sqlite_version*(): cstring {.pimport.}
  ## The version of the SQLite the library runs on (its bundled copy).

# Writes
proc persistency_put*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8, key_len: csize_t,
    payload: ptr uint8, payload_len: csize_t): CStatus {.pimport.}
  ## Queues an insert-or-replace (fire-and-forget).
proc persistency_delete*(job: ptr CPersistencyJob, category: cstring, key: ptr uint8,
    key_len: csize_t): CStatus {.pimport.}
  ## Queues a delete (fire-and-forget).
proc persistency_delete_prefix*(job: ptr CPersistencyJob, category: cstring, prefix: ptr uint8,
    prefix_len: csize_t): CStatus {.pimport.}
  ## Queues a prefix delete (fire-and-forget).
proc persistency_write*(job: ptr CPersistencyJob, ops: ptr COp, n_ops: csize_t,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Queues an atomic batch; `callback` (may be nil) reports the commit.
proc persistency_flush*(job: ptr CPersistencyJob, callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Calls back once every earlier operation is committed.

# Maintenance (docs/c-api-maintenance.md)
proc persistency_delete_range*(job: ptr CPersistencyJob, category: cstring,
    start: ptr uint8, start_len: csize_t, stop: ptr uint8, stop_len: csize_t): CStatus {.pimport.}
  ## Queues a delete of `[start, stop)` (fire-and-forget; `stop_len` 0: no upper bound).
proc persistency_job_backup*(job: ptr CPersistencyJob, dest_path: cstring,
    callback: CCallback, user_data: pointer): CStatus {.pimport.}
  ## Copies the job's data to a new file at `dest_path`, in steps, atomically.
proc persistency_job_compact*(job: ptr CPersistencyJob, callback: CCallback,
    user_data: pointer): CStatus {.pimport.}
  ## Gives free pages back to the file system.
proc persistency_job_check*(job: ptr CPersistencyJob, callback: CCallback,
    user_data: pointer): CStatus {.pimport.}
  ## Runs the integrity check.
proc persistency_metrics_text*(instance: ptr CPersistency): cstring {.pimport.}
  ## Prometheus text of every open job; free with `persistency_string_free`.
proc persistency_string_free*(text: cstring) {.pimport.}
  ## Frees a string of `persistency_metrics_text` (NULL is a no-op).

# Sync sets (docs/c-api-sync.md)
type
  SyncId* {.bycopy.} = object
    ## `persistency_sync_id`: a timestamp (ns) and a message hash, ordered
    ## by time, then hash.
    time*: int64
    hash*: array[32, byte]
  SyncSummary* {.bycopy.} = object
    ## `persistency_sync_summary`: count and fingerprint (XOR of hashes).
    count*: uint64
    fingerprint*: array[32, byte]
  SyncPart* {.bycopy.} = object
    ## `persistency_sync_part`: `[start, stop)`, count and fingerprint.
    start*, stop*: SyncId
    count*: uint64
    fingerprint*: array[32, byte]

proc persistency_sync_add*(job: ptr CPersistencyJob, setName: cstring, ids: ptr SyncId,
    count: csize_t): CStatus {.pimport.}
  ## Queues adding ids to a set (fire-and-forget).
proc persistency_sync_add_sync*(job: ptr CPersistencyJob, setName: cstring, ids: ptr SyncId,
    count: csize_t, added: ptr uint64): CStatus {.pimport.}
  ## Adds ids and waits for the commit; `added[]`: how many were new.
proc persistency_sync_remove*(job: ptr CPersistencyJob, setName: cstring, ids: ptr SyncId,
    count: csize_t): CStatus {.pimport.}
  ## Queues removing ids (fire-and-forget).
proc persistency_sync_remove_sync*(job: ptr CPersistencyJob, setName: cstring, ids: ptr SyncId,
    count: csize_t, removed: ptr uint64): CStatus {.pimport.}
  ## Removes ids and waits for the commit.
proc persistency_sync_prune*(job: ptr CPersistencyJob, setName: cstring,
    before: int64): CStatus {.pimport.}
  ## Queues removing ids older than `before` (fire-and-forget).
proc persistency_sync_prune_sync*(job: ptr CPersistencyJob, setName: cstring, before: int64,
    removed: ptr uint64): CStatus {.pimport.}
  ## Prunes and waits for the commit.
proc persistency_sync_summary_sync*(job: ptr CPersistencyJob, sets: cstringArray,
    set_count: csize_t, start, stop: ptr SyncId, summary: ptr SyncSummary): CStatus {.pimport.}
  ## Count and fingerprint of `[start, stop)` over a union of sets.
proc persistency_sync_split_sync*(job: ptr CPersistencyJob, sets: cstringArray,
    set_count: csize_t, start, stop: ptr SyncId, parts: uint32, `out`: ptr SyncPart,
    out_len: csize_t): CStatus {.pimport.}
  ## `[start, stop)` in `parts` parts of equal count.
proc persistency_sync_items_sync*(job: ptr CPersistencyJob, sets: cstringArray,
    set_count: csize_t, start, stop: ptr SyncId, `out`: ptr SyncId, capacity: csize_t,
    count: ptr csize_t): CStatus {.pimport.}
  ## The ids of `[start, stop)`, in order, at most `capacity`.
proc persistency_sync_len_sync*(job: ptr CPersistencyJob, setName: cstring,
    len: ptr uint64): CStatus {.pimport.}
  ## How many ids a set holds.

{.pop.}
