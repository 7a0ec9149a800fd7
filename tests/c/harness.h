/*
 * A small test harness for the C tests of libpersistency.
 *
 * Each test program lists its tests in a table and calls run_tests(), which
 * prints the plan ("1..N"), then one line per test, "ok - name" or
 * "not ok - name"; tests/c/run.sh counts them. A failed check prints where and why and returns from the test.
 *
 * Callbacks run on a job's worker thread; tests wait for them with the
 * mutex+condvar helpers below (reply, counter), never by polling.
 */
#ifndef PERSISTENCY_TEST_HARNESS_H
#define PERSISTENCY_TEST_HARNESS_H

/* Include this header first: it selects POSIX.1-2008 for everything after. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "persistency.h"

/** One test: its name and body. */
typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

/** Records a failed check of the running test (prints file:line and message). */
void test_fail(const char *file, int line, const char *fmt, ...);

/** Runs every test of the table in order; returns the process exit code. */
int run_tests(const test_case *tests, size_t n);

/** Fails the running test and returns from it unless cond holds. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            test_fail(__FILE__, __LINE__, "check failed: %s", #cond);      \
            return;                                                        \
        }                                                                  \
    } while (0)

/** Like CHECK, with a printf-style explanation. */
#define CHECKF(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                    \
            return;                                                        \
        }                                                                  \
    } while (0)

/** Fails unless expr returns want; prints both names and the last error. */
#define CHECK_STATUS(expr, want)                                           \
    do {                                                                   \
        int32_t check_got_ = (expr);                                       \
        int32_t check_want_ = (want);                                      \
        if (check_got_ != check_want_) {                                   \
            const char *check_err_ = persistency_last_error();             \
            test_fail(__FILE__, __LINE__, "%s returned %s, want %s (%s)",  \
                      #expr, persistency_status_name(check_got_),          \
                      persistency_status_name(check_want_),                \
                      check_err_ ? check_err_ : "no message");             \
            return;                                                        \
        }                                                                  \
    } while (0)

/** Fails unless expr returns PERSISTENCY_OK and clears the last error. */
#define CHECK_OK(expr)                                                     \
    do {                                                                   \
        CHECK_STATUS(expr, PERSISTENCY_OK);                                \
        CHECKF(persistency_last_error() == NULL,                           \
               "%s succeeded but left last_error set", #expr);             \
    } while (0)

/** Fails unless expr returns INVALID_ARGUMENT and sets a message. */
#define CHECK_INVALID(expr)                                                \
    do {                                                                   \
        CHECK_STATUS(expr, PERSISTENCY_ERR_INVALID_ARGUMENT);              \
        CHECKF(persistency_last_error() != NULL,                           \
               "%s failed without a last_error message", #expr);           \
    } while (0)

/** Fails unless expr returns CLOSED and sets a message. */
#define CHECK_CLOSED(expr)                                                 \
    do {                                                                   \
        CHECK_STATUS(expr, PERSISTENCY_ERR_CLOSED);                        \
        CHECKF(persistency_last_error() != NULL,                           \
               "%s failed without a last_error message", #expr);           \
    } while (0)

/** A copy of one row of a result (the library's pointers die with the callback). */
typedef struct row_copy {
    uint8_t *key;
    size_t key_len;
    uint8_t *payload;
    size_t payload_len;
} row_copy;

/**
 * The copied result of one async call, and how many times its callback ran.
 * Pass on_reply as the callback and the reply as user_data.
 */
typedef struct reply {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int32_t status;
    int32_t backend_code;
    char *error;
    bool found;
    bool has_value;
    uint8_t *value;
    size_t value_len;
    uint64_t count;
    row_copy *rows;
    size_t row_count;
    bool has_more;
    pthread_t thread; /* the thread the callback ran on */
} reply;

/** Initialises r (no callback seen yet). */
void reply_init(reply *r);
/** Frees the copies held by r and destroys its lock. */
void reply_free(reply *r);
/** Frees the copies and makes r ready for another call. */
void reply_reset(reply *r);
/** The persistency_callback that fills a reply; user_data is the reply. */
void on_reply(const persistency_result *result, void *user_data);
/** Waits until r's callback ran at least once; false after a generous hang guard. */
bool reply_wait(reply *r);

/** Fails the test unless the reply arrived (exactly once) with status want. */
#define CHECK_REPLY(r, want)                                               \
    do {                                                                   \
        CHECKF(reply_wait(r), "callback never ran");                       \
        CHECKF((r)->calls == 1, "callback ran %d times", (r)->calls);      \
        CHECKF((r)->status == (want), "callback status %s, want %s (%s)",  \
               persistency_status_name((r)->status),                      \
               persistency_status_name(want),                             \
               (r)->error ? (r)->error : "no message");                    \
    } while (0)

/** A thread-safe counter that tests can wait on. */
typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t value;
} counter;

/** Initialises c to zero. */
void counter_init(counter *c);
/** Destroys c's lock. */
void counter_destroy(counter *c);
/** Adds one and wakes the waiters. */
void counter_add(counter *c);
/** Reads the value. */
uint64_t counter_get(counter *c);
/** Waits until the value is at least n; false after a generous hang guard. */
bool counter_wait(counter *c, uint64_t n);

/** A persistency_callback that only counts its calls; user_data is a counter. */
void on_count(const persistency_result *result, void *user_data);

/** The per-program scratch directory (created by run_tests, removed after). */
const char *test_dir(void);
/** Writes "<test_dir>/<name>" into buf (of size n); returns buf. */
char *test_path(char *buf, size_t n, const char *name);
/** The root of a test's instance: test_path(buf, n, name), or, when
 * PERSISTENCY_TEST_POSTGRES holds a PostgreSQL URI (scripts/test-postgres.sh),
 * that URI with a schema no other root of the run uses. Returns buf. */
char *test_root(char *buf, size_t n, const char *name);
/** A root whose jobs nobody else sees: ":memory:", or under PostgreSQL a
 * fresh schema as test_root. Returns buf. */
char *test_scratch_root(char *buf, size_t n);
/** True if path exists. */
bool path_exists(const char *path);

/** Compares a byte buffer with an expected one. */
bool bytes_eq(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/** Opens an instance on the scratch directory's subdirectory name. */
int32_t open_instance(const char *name, persistency **out);

/** A blocking get: copies the value into r. */
int32_t get_sync(persistency_job *job, const char *category, const char *key, reply *r);

/** A blocking put of NUL-terminated key and payload, through persistency_write. */
int32_t put_sync(persistency_job *job, const char *category, const char *key,
                 const char *payload);

#endif
