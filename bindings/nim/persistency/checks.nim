## Internal: argument checks, status conversion, and the conversions of
## a copied reply into the facade's results, shared by its procs.

{.push raises: [], gcsafe.}

import chronos, results
import ./[ffi, types, keys, bridge, extras]

proc invalid*(msg: string): PersistencyError =
  ## A `peInvalidArgument` error.
  persistencyErr(peInvalidArgument, msg)

proc checkCString*(s, what: string): PResult[void] =
  ## C strings end at the first NUL: refuse strings holding one rather
  ## than silently using a shorter name.
  if '\0' in s:
    return err(invalid(what & " contains a NUL byte"))
  ok()

proc checkCategory*(category: string): PResult[void] =
  ## A category must hold no NUL and fit a key part (65535 bytes).
  ?checkCString(category, "category")
  if category.len > StringLenMax:
    return err(invalid("category of " & $category.len & " bytes is longer than " & $StringLenMax))
  ok()

template bytesPtr*(s: seq[byte]): ptr uint8 =
  ## The address of the first byte, or nil for an empty seq.
  (if s.len == 0: nil else: unsafeAddr s[0])

template keyPtr*(k: Key): ptr uint8 =
  ## The address of the key's first byte, or nil for the empty key.
  bytesPtr(seq[byte](k))

proc statusResult*(st: CStatus): PResult[void] =
  ## `ok` for `PERSISTENCY_OK`, else the error the call left on this thread.
  if st != PERSISTENCY_OK:
    return err(lastError(st))
  ok()

proc toCOps*(ops: openArray[TxOp]): PResult[seq[COp]] =
  ## C views of `ops` (valid while `ops` lives unchanged).
  var cops = newSeq[COp](ops.len)
  for i in 0 ..< ops.len:
    # Index into `ops` (no copy): the views must point at its data.
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

proc convVoid*(rep: Reply): PResult[void] =
  ## A write or flush reply.
  if rep.status != PERSISTENCY_OK: err(rep.error) else: ok()

proc convGet*(rep: Reply): PResult[Opt[seq[byte]]] =
  ## A get reply.
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  if rep.found: ok(Opt.some(rep.value)) else: ok(Opt.none(seq[byte]))

proc convFound*(rep: Reply): PResult[bool] =
  ## An exists or deleteAcked reply.
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(rep.found)

proc convCount*(rep: Reply): PResult[int] =
  ## A count reply.
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(int(rep.count))

proc convRows*(rep: Reply): PResult[seq[KvRow]] =
  ## A scan or getMany reply.
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(rep.rows)

proc convPage*(rep: Reply): PResult[ScanPage] =
  ## A limited scan reply.
  if rep.status != PERSISTENCY_OK: return err(rep.error)
  ok(ScanPage(rows: rep.rows, hasMore: rep.hasMore))

proc failed*[T](name: static string, e: PersistencyError): Future[PResult[T]] =
  ## A future already completed with the error `e`.
  result = newFuture[PResult[T]](name)
  result.complete(PResult[T].err(e))

{.pop.}
