## A small `Result[T, E]`, written here because the binding uses the Nim
## standard library only (no nimble packages). Its surface follows the
## `results` package that upstream `waku/persistency` code uses, so call
## sites keep compiling: `ok(v)` / `err(e)` inside a proc returning a
## `Result`, `isOk`, `isErr`, `get`, `error`, `valueOr`, and `?` for early
## return.
##
## ```nim
## proc half(x: int): Result[int, string] =
##   if x mod 2 != 0: return err("odd")
##   ok(x div 2)
##
## proc quarter(x: int): Result[int, string] =
##   let h = ?half(x)
##   half(h)
## ```

{.push raises: [].}

type
  Result*[T, E] = object
    ## Either a value of type `T` (`isOk`) or an error of type `E` (`isErr`).
    ## `T` may be `void`.
    case oResultPrivate: bool
    of false:
      eResultPrivate: E
    of true:
      vResultPrivate: T

  ResultDefect* = object of Defect
    ## Raised by `get` / `error` when the other side is present: a bug in
    ## the caller, like `Option.get` on `none`.

proc ok*[T, E](R: typedesc[Result[T, E]], v: T): Result[T, E] =
  ## A successful result holding `v`.
  Result[T, E](oResultPrivate: true, vResultPrivate: v)

proc ok*[E](R: typedesc[Result[void, E]]): Result[void, E] =
  ## A successful `Result[void, E]`.
  Result[void, E](oResultPrivate: true)

proc err*[T, E](R: typedesc[Result[T, E]], e: E): Result[T, E] =
  ## A failed result holding `e`.
  Result[T, E](oResultPrivate: false, eResultPrivate: e)

template ok*(v: auto): auto =
  ## Inside a proc returning a `Result`: the successful result holding `v`.
  ok(typeof(result), v)

template ok*(): auto =
  ## Inside a proc returning a `Result[void, E]`: success.
  ok(typeof(result))

template err*(e: auto): auto =
  ## Inside a proc returning a `Result`: the failed result holding `e`.
  err(typeof(result), e)

proc isOk*[T, E](r: Result[T, E]): bool {.inline.} =
  ## True when `r` holds a value.
  r.oResultPrivate

proc isErr*[T, E](r: Result[T, E]): bool {.inline.} =
  ## True when `r` holds an error.
  not r.oResultPrivate

proc get*[T: not void, E](r: Result[T, E]): T {.inline.} =
  ## The value; raises `ResultDefect` when `r` holds an error.
  if not r.oResultPrivate:
    raise newException(ResultDefect, "get() on an error Result: " & $r.eResultPrivate)
  r.vResultPrivate

proc get*[E](r: Result[void, E]) {.inline.} =
  ## Checks that `r` is successful; raises `ResultDefect` otherwise.
  if not r.oResultPrivate:
    raise newException(ResultDefect, "get() on an error Result: " & $r.eResultPrivate)

proc get*[T: not void, E](r: Result[T, E], otherwise: T): T {.inline.} =
  ## The value, or `otherwise` when `r` holds an error.
  if r.oResultPrivate: r.vResultPrivate else: otherwise

proc value*[T: not void, E](r: Result[T, E]): T {.inline.} =
  ## Same as `get`.
  r.get()

proc error*[T, E](r: Result[T, E]): E {.inline.} =
  ## The error; raises `ResultDefect` when `r` is successful.
  if r.oResultPrivate:
    raise newException(ResultDefect, "error() on a successful Result")
  r.eResultPrivate

template valueOr*[T: not void, E](r: Result[T, E], body: untyped): T =
  ## The value, or else evaluates `body` (which may `return`), with the
  ## error available as `error` inside it.
  let tmp = r
  if tmp.isOk:
    tmp.vResultPrivate
  else:
    template error(): E {.used, inject.} = tmp.eResultPrivate
    body

template isOkOr*[T, E](r: Result[T, E], body: untyped) =
  ## Evaluates `body` (with `error` bound) when `r` holds an error.
  let tmp = r
  if not tmp.isOk:
    template error(): E {.used, inject.} = tmp.eResultPrivate
    body

template `?`*[T, E](r: Result[T, E]): auto =
  ## Early return: the value when `r` is successful, otherwise returns
  ## `err(r.error)` from the enclosing proc.
  let tmp = r
  if not tmp.isOk:
    return err(typeof(result), tmp.eResultPrivate)
  when T isnot void:
    tmp.vResultPrivate

proc `==`*[T, E](a, b: Result[T, E]): bool =
  ## Structural equality.
  if a.oResultPrivate != b.oResultPrivate:
    return false
  if a.oResultPrivate:
    when T is void: true
    else: a.vResultPrivate == b.vResultPrivate
  else:
    a.eResultPrivate == b.eResultPrivate

proc `$`*[T, E](r: Result[T, E]): string =
  ## `ok(v)` or `err(e)`.
  if r.oResultPrivate:
    when T is void: "ok()"
    else: "ok(" & $r.vResultPrivate & ")"
  else:
    "err(" & $r.eResultPrivate & ")"

{.pop.}
