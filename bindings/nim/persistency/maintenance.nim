## Maintenance, included by `persistency.nim` (additions to upstream's
## API): range deletes, online backup, compaction, the integrity check and
## the Prometheus metrics text. See docs/c-api-maintenance.md.

proc deleteRange*(t: Job, category: string, start, stop: Key): PResult[void] =
  ## Queues a delete of every row of `category` with `start <= key < stop`
  ## (an empty `stop`: no upper bound), fire-and-forget. Unlike the
  ## upstream writes it reports a refused call: `peInvalidArgument` for a
  ## `start` after a non-empty `stop` or a bad category, `peClosed` for a
  ## closed job.
  ?checkJob(t)
  ?checkCategory(category)
  statusResult(persistency_delete_range(t.handle, category.cstring, keyPtr(start),
    csize_t(start.len), keyPtr(stop), csize_t(stop.len)))

proc backup*(t: Job, destPath: string): Future[Result[void, PersistencyError]] =
  ## Writes a copy of the job's data, holding every write queued before
  ## the call, to a new file at `destPath`; completes once it is in place.
  ## It is copied in steps while the job keeps serving requests, and
  ## appears at `destPath` complete or not at all. An existing `destPath`
  ## or a missing directory: `peInvalidArgument`. The copy opens as a job
  ## file.
  let c = checkJob(t)
  if c.isErr:
    return failed[void]("backup", c.error)
  let d = checkCString(destPath, "destination path")
  if d.isErr:
    return failed[void]("backup", d.error)
  let h = t.handle
  submitCall[void]("backup", proc (req: ptr Request): CStatus =
    persistency_job_backup(h, destPath.cstring, onReply, req), convVoid)

proc compact*(t: Job): Future[Result[void, PersistencyError]] =
  ## Gives the free pages of the job's file back to the file system:
  ## incrementally for files made by libpersistency, with one full VACUUM
  ## for older files. Incremental compaction runs in small steps, between
  ## which the job serves the requests queued meanwhile.
  let c = checkJob(t)
  if c.isErr:
    return failed[void]("compact", c.error)
  let h = t.handle
  submitCall[void]("compact", proc (req: ptr Request): CStatus =
    persistency_job_compact(h, onReply, req), convVoid)

proc check*(t: Job): Future[Result[void, PersistencyError]] =
  ## SQLite's integrity check: `ok` when sound, else `peBackend` with the
  ## first problems found.
  let c = checkJob(t)
  if c.isErr:
    return failed[void]("check", c.error)
  let h = t.handle
  submitCall[void]("check", proc (req: ptr Request): CStatus =
    persistency_job_check(h, onReply, req), convVoid)

proc metricsText*(p: Persistency): Result[string, PersistencyError] =
  ## The figures of every open job in the Prometheus text exposition
  ## format (version 0.0.4), each series labelled with its job.
  ?checkInstance(p)
  if p.handle == nil:
    return err(persistencyErr(peClosed, "persistency instance is closed"))
  let text = persistency_metrics_text(p.handle)
  if text == nil:
    return err(lastError(PERSISTENCY_ERR_INTERNAL))
  result = ok($text)
  persistency_string_free(text)
