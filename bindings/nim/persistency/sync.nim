## Sync sets, included by `persistency.nim` (additions to upstream's API):
## persistent sets of `(timestamp, hash)` ids with range fingerprints,
## counts and splits for range-based set reconciliation. See
## docs/c-api-sync.md. The calls block the calling thread (a query waits
## for the job's worker, typically well under a millisecond).

const
  syncMin* = SyncId(time: low(int64))
    ## The smallest id.
  syncMax* = SyncId(time: high(int64), hash: [
    0xff'u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    ## The largest id: bounds ranges, cannot be added. `[syncMin, syncMax)`
    ## holds every id.

template idsPtr(ids: openArray[SyncId]): ptr SyncId =
  (if ids.len == 0: nil else: unsafeAddr ids[0])

proc syncAdd*(t: Job, setName: string, ids: openArray[SyncId]): PResult[void] =
  ## Queues adding `ids` to a set, atomically (fire-and-forget).
  ?checkJob(t)
  ?checkCString(setName, "set")
  statusResult(persistency_sync_add(t.handle, setName.cstring, idsPtr(ids), csize_t(ids.len)))

proc syncAddWait*(t: Job, setName: string, ids: openArray[SyncId]): PResult[uint64] =
  ## Adds `ids`, waits for the commit and returns how many were new.
  ?checkJob(t)
  ?checkCString(setName, "set")
  var n: uint64
  ?statusResult(persistency_sync_add_sync(t.handle, setName.cstring, idsPtr(ids),
    csize_t(ids.len), addr n))
  ok(n)

proc syncRemove*(t: Job, setName: string, ids: openArray[SyncId]): PResult[void] =
  ## Queues removing `ids` from a set, atomically (fire-and-forget).
  ?checkJob(t)
  ?checkCString(setName, "set")
  statusResult(persistency_sync_remove(t.handle, setName.cstring, idsPtr(ids), csize_t(ids.len)))

proc syncRemoveWait*(t: Job, setName: string, ids: openArray[SyncId]): PResult[uint64] =
  ## Removes `ids`, waits for the commit and returns how many were there.
  ?checkJob(t)
  ?checkCString(setName, "set")
  var n: uint64
  ?statusResult(persistency_sync_remove_sync(t.handle, setName.cstring, idsPtr(ids),
    csize_t(ids.len), addr n))
  ok(n)

proc syncPrune*(t: Job, setName: string, before: int64): PResult[void] =
  ## Queues removing every id older than `before` (fire-and-forget).
  ?checkJob(t)
  ?checkCString(setName, "set")
  statusResult(persistency_sync_prune(t.handle, setName.cstring, before))

proc syncPruneWait*(t: Job, setName: string, before: int64): PResult[uint64] =
  ## Prunes, waits for the commit and returns how many ids went.
  ?checkJob(t)
  ?checkCString(setName, "set")
  var n: uint64
  ?statusResult(persistency_sync_prune_sync(t.handle, setName.cstring, before, addr n))
  ok(n)

proc syncLen*(t: Job, setName: string): PResult[uint64] =
  ## How many ids a set holds.
  ?checkJob(t)
  ?checkCString(setName, "set")
  var n: uint64
  ?statusResult(persistency_sync_len_sync(t.handle, setName.cstring, addr n))
  ok(n)

template withSets(sets: openArray[string], body: untyped) =
  ## Runs `body` with `names` (a C array of the set names) and `nSets`.
  for s in sets:
    ?checkCString(s, "set")
  let names {.inject.} = allocCStringArray(sets)
  let nSets {.inject.} = csize_t(sets.len)
  defer: deallocCStringArray(names)
  body

proc syncSummary*(t: Job, sets: openArray[string], start, stop: SyncId): PResult[SyncSummary] =
  ## Count and fingerprint of `[start, stop)` over the union of `sets`
  ## (distinct names; an id in several counts once per set).
  ?checkJob(t)
  var res: SyncSummary
  var (a, b) = (start, stop)
  withSets(sets):
    ?statusResult(persistency_sync_summary_sync(t.handle, names, nSets, addr a, addr b, addr res))
  ok(res)

proc syncSplit*(t: Job, sets: openArray[string], start, stop: SyncId,
                parts: int): PResult[seq[SyncPart]] =
  ## `[start, stop)` over the union of `sets` in `parts` (1 to 1024)
  ## consecutive parts whose counts differ by at most one.
  ?checkJob(t)
  if parts < 1 or parts > 1024:
    return err(invalid("a split into " & $parts & " parts (1 to 1024)"))
  var res = newSeq[SyncPart](parts)
  var (a, b) = (start, stop)
  withSets(sets):
    ?statusResult(persistency_sync_split_sync(t.handle, names, nSets, addr a, addr b,
      uint32(parts), addr res[0], csize_t(parts)))
  ok(res)

proc syncItems*(t: Job, sets: openArray[string], start, stop: SyncId,
                limit: int): PResult[seq[SyncId]] =
  ## The ids of `[start, stop)` over the union of `sets`, in order, at most
  ## `limit` (at least 1).
  ?checkJob(t)
  if limit < 1:
    return err(invalid("a limit of at least 1 is needed"))
  var res = newSeq[SyncId](limit)
  var count: csize_t
  var (a, b) = (start, stop)
  withSets(sets):
    ?statusResult(persistency_sync_items_sync(t.handle, names, nSets, addr a, addr b,
      addr res[0], csize_t(limit), addr count))
  res.setLen(int(count))
  ok(res)
