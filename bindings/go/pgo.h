/*
 * pgo.h: what the cgo preambles of this package share. A preamble sees only
 * what it includes, so the C helpers of each Go file reach the library and
 * one another through this header.
 */
#ifndef PGO_H
#define PGO_H

#include <stdint.h>
#include "persistency.h"

/* Status a C helper of this package returns when it cannot allocate. */
#define PGO_NOMEM (-1)

/*
 * The callback of every asynchronous call: passes the result and the
 * request's cgo.Handle (its user_data) to persistencyGoResult. Defined in
 * async.go.
 */
void pgo_result(const persistency_result *r, void *user_data);

#endif
