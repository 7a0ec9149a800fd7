/*
 * Blocking reads (persistency_*_sync) and their owned replies: answers,
 * every argument error, replies that outlive their job, read-your-writes
 * from several threads (a write accepted on one thread is seen by a read
 * on another), the in-memory path and the call from a job's own callback.
 */
#include "harness.h"

#include <stdlib.h>

#define U8(s) ((const uint8_t *)(s))
#define THREADS 4
#define PER_THREAD 300

static int32_t file_job(const char *name, persistency **p, persistency_job **job) {
    int32_t rc = open_instance(name, p);
    if (rc != PERSISTENCY_OK) return rc;
    return persistency_open_job(*p, "blocking", job);
}

static void test_every_read_kind(void) {
    persistency *p;
    persistency_job *job;
    const persistency_result *r = NULL;
    bool found = true;
    uint64_t n = 99;
    persistency_bytes keys[3] = {{U8("b"), 1}, {U8("zz"), 2}, {U8("a"), 1}};

    CHECK_OK(file_job("kinds", &p, &job));
    CHECK_OK(put_sync(job, "c", "a", "1"));
    CHECK_OK(put_sync(job, "c", "b", "22"));
    CHECK_OK(put_sync(job, "c", "c", "333"));

    CHECK_OK(persistency_get_sync(job, "c", U8("b"), 1, &r));
    CHECK(r != NULL && r->status == PERSISTENCY_OK && r->found);
    CHECK(bytes_eq(r->value, r->value_len, U8("22"), 2));
    persistency_reply_free(r);
    CHECK_OK(persistency_get_sync(job, "c", U8("x"), 1, &r));
    CHECK(r != NULL && !r->found && r->value == NULL && r->value_len == 0);
    persistency_reply_free(r);

    CHECK_OK(persistency_exists_sync(job, "c", U8("c"), 1, &found));
    CHECK(found);
    CHECK_OK(persistency_exists_sync(job, "c", U8("d"), 1, &found));
    CHECK(!found);
    CHECK_OK(persistency_count_sync(job, "c", U8("b"), 1, NULL, 0, &n));
    CHECK(n == 2);

    CHECK_OK(persistency_scan_sync(job, "c", NULL, 0, NULL, 0, true, 2, &r));
    CHECK(r != NULL && r->row_count == 2 && r->count == 2 && r->has_more);
    CHECK(bytes_eq(r->rows[0].key, r->rows[0].key_len, U8("c"), 1));
    CHECK(bytes_eq(r->rows[1].payload, r->rows[1].payload_len, U8("22"), 2));
    persistency_reply_free(r);
    CHECK_OK(persistency_scan_prefix_sync(job, "c", U8("a"), 1, false, 0, &r));
    CHECK(r != NULL && r->row_count == 1 && !r->has_more);
    persistency_reply_free(r);
    CHECK_OK(persistency_scan_sync(job, "empty", NULL, 0, NULL, 0, false, 0, &r));
    CHECK(r != NULL && r->row_count == 0 && r->rows == NULL);
    persistency_reply_free(r);

    CHECK_OK(persistency_get_many_sync(job, "c", keys, 3, &r));
    CHECK(r != NULL && r->row_count == 2 && r->count == 2);
    CHECK(bytes_eq(r->rows[0].key, r->rows[0].key_len, U8("b"), 1));
    CHECK(bytes_eq(r->rows[1].payload, r->rows[1].payload_len, U8("1"), 1));
    persistency_reply_free(r);

    persistency_job_release(job);
    persistency_release(p);
}

static void test_argument_errors(void) {
    persistency *p;
    persistency_job *job;
    const persistency_result *r = (const persistency_result *)&r; /* not NULL */
    bool found = true;
    uint64_t n = 7;
    enum { LONG = 70000 }; /* longer than a key part may be (65535) */
    static char long_category[LONG + 1];

    memset(long_category, 'x', LONG);
    long_category[LONG] = '\0';
    CHECK_OK(file_job("args", &p, &job));
    CHECK_INVALID(persistency_get_sync(NULL, "c", U8("k"), 1, &r));
    CHECK(r == NULL);
    r = (const persistency_result *)&r;
    CHECK_INVALID(persistency_get_sync(job, NULL, U8("k"), 1, &r));
    CHECK(r == NULL);
    CHECK_INVALID(persistency_get_sync(job, "c", NULL, 1, &r));
    CHECK_INVALID(persistency_get_sync(job, long_category, U8("k"), 1, &r));
    CHECK(r == NULL);
    CHECK_INVALID(persistency_get_sync(job, "c", U8("k"), 1, NULL));
    CHECK_INVALID(persistency_exists_sync(job, "c", U8("k"), 1, NULL));
    CHECK_INVALID(persistency_exists_sync(NULL, "c", U8("k"), 1, &found));
    CHECK(!found);
    CHECK_INVALID(persistency_count_sync(job, "c", NULL, 3, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_INVALID(persistency_count_sync(job, "c", NULL, 0, NULL, 0, NULL));
    CHECK_INVALID(persistency_scan_sync(job, "c", NULL, 0, NULL, 2, false, 0, &r));
    CHECK_INVALID(persistency_scan_prefix_sync(job, NULL, NULL, 0, false, 0, &r));
    CHECK_INVALID(persistency_get_many_sync(job, "c", NULL, 2, &r));
    CHECK(r == NULL);
    persistency_reply_free(NULL);
    persistency_job_release(job);
    persistency_release(p);
}

static void test_reply_outlives_job(void) {
    persistency *p;
    persistency_job *job;
    const persistency_result *value = NULL, *rows = NULL, *after = NULL;

    CHECK_OK(file_job("outlive", &p, &job));
    CHECK_OK(put_sync(job, "c", "k", "payload"));
    CHECK_OK(persistency_get_sync(job, "c", U8("k"), 1, &value));
    CHECK_OK(persistency_scan_sync(job, "c", NULL, 0, NULL, 0, false, 0, &rows));
    CHECK_OK(persistency_close_job(p, "blocking"));
    CHECK_CLOSED(persistency_get_sync(job, "c", U8("k"), 1, &after));
    CHECK(after == NULL);
    persistency_job_release(job);
    persistency_release(p);
    /* The replies own their data: still readable after close and release. */
    CHECK(value->found && bytes_eq(value->value, value->value_len, U8("payload"), 7));
    CHECK(rows->row_count == 1 &&
          bytes_eq(rows->rows[0].payload, rows->rows[0].payload_len, U8("payload"), 7));
    persistency_reply_free(value);
    persistency_reply_free(rows);
}

typedef struct writer_arg {
    persistency_job *job;
    int id;
    int failures;
} writer_arg;

static void *own_writes(void *v) {
    writer_arg *a = v;
    int i;
    for (i = 0; i < PER_THREAD; i++) {
        char key[32];
        const persistency_result *r = NULL;
        bool found = false;
        int len = snprintf(key, sizeof key, "t%d-%04d", a->id, i);
        if (persistency_put(a->job, "c", U8(key), (size_t)len, U8(key), (size_t)len) !=
            PERSISTENCY_OK) {
            a->failures++;
            continue;
        }
        if (persistency_get_sync(a->job, "c", U8(key), (size_t)len, &r) != PERSISTENCY_OK ||
            !r->found || !bytes_eq(r->value, r->value_len, U8(key), (size_t)len)) {
            a->failures++;
        }
        persistency_reply_free(r);
        if (i % 4 == 0) {
            if (persistency_delete(a->job, "c", U8(key), (size_t)len) != PERSISTENCY_OK ||
                persistency_exists_sync(a->job, "c", U8(key), (size_t)len, &found) !=
                    PERSISTENCY_OK ||
                found) {
                a->failures++;
            }
        }
    }
    return NULL;
}

static void test_threads_read_their_writes(void) {
    persistency *p;
    persistency_job *job;
    pthread_t threads[THREADS];
    writer_arg args[THREADS];
    uint64_t n = 0;
    int i;

    CHECK_OK(file_job("threads", &p, &job));
    for (i = 0; i < THREADS; i++) {
        args[i].job = job;
        args[i].id = i;
        args[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, own_writes, &args[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    for (i = 0; i < THREADS; i++) CHECKF(args[i].failures == 0, "thread %d: %d failures", i, args[i].failures);
    CHECK_OK(persistency_count_sync(job, "c", NULL, 0, NULL, 0, &n));
    CHECKF(n == THREADS * (PER_THREAD - PER_THREAD / 4), "count %llu", (unsigned long long)n);
    persistency_job_release(job);
    persistency_release(p);
}

/* A reader thread gets each key as soon as the writer says put returned. */
typedef struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int published; /* the last key put, -1 before the first */
    bool done;
    persistency_job *job;
    int misses;
    int reads;
} handoff;

static void *handoff_reader(void *v) {
    handoff *h = v;
    int last = -1;
    for (;;) {
        int want;
        char key[16];
        int len;
        const persistency_result *r = NULL;
        pthread_mutex_lock(&h->mu);
        while (h->published == last && !h->done) pthread_cond_wait(&h->cv, &h->mu);
        want = h->published;
        pthread_mutex_unlock(&h->mu);
        if (want == last) break;
        last = want;
        len = snprintf(key, sizeof key, "k%05d", want);
        if (persistency_get_sync(h->job, "c", U8(key), (size_t)len, &r) != PERSISTENCY_OK ||
            !r->found) {
            h->misses++;
        }
        h->reads++;
        persistency_reply_free(r);
    }
    return NULL;
}

static void test_read_sees_write_from_other_thread(void) {
    persistency *p;
    persistency_job *job;
    pthread_t reader;
    handoff h;
    int i;

    CHECK_OK(file_job("handoff", &p, &job));
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    h.published = -1;
    h.done = false;
    h.job = job;
    h.misses = 0;
    h.reads = 0;
    CHECK(pthread_create(&reader, NULL, handoff_reader, &h) == 0);
    for (i = 0; i < 500; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "k%05d", i);
        if (i % 50 == 0) {
            reply r;
            reply_init(&r);
            if (persistency_flush(job, on_reply, &r) == PERSISTENCY_OK) reply_wait(&r);
            reply_free(&r);
        }
        if (persistency_put(job, "c", U8(key), (size_t)len, U8("v"), 1) != PERSISTENCY_OK) break;
        pthread_mutex_lock(&h.mu);
        h.published = i;
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
    }
    pthread_mutex_lock(&h.mu);
    h.done = true;
    pthread_cond_signal(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(reader, NULL);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    CHECK(i == 500);
    CHECKF(h.misses == 0, "%d of %d reads missed a published write", h.misses, h.reads);
    CHECK(h.reads > 0);
    persistency_job_release(job);
    persistency_release(p);
}

static void test_memory_job(void) {
    persistency *p;
    persistency_job *job;
    const persistency_result *r = NULL;

    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job(p, "mem", &job));
    CHECK_OK(persistency_put(job, "c", U8("k"), 1, U8("v"), 1));
    CHECK_OK(persistency_get_sync(job, "c", U8("k"), 1, &r));
    CHECK(r != NULL && r->found && bytes_eq(r->value, r->value_len, U8("v"), 1));
    persistency_reply_free(r);
    persistency_job_release(job);
    persistency_release(p);
}

/* Reads a cursor to its end, checking that its one-byte keys come in
 * order; returns the page count (the rows in *rows), or -1.  */
static int read_cursor(persistency_cursor *c, int *rows, bool descending) {
    int pages = 0, last = descending ? 256 : -1;
    *rows = 0;
    for (;;) {
        const persistency_result *r = NULL;
        size_t i;
        if (persistency_cursor_next(c, &r) != PERSISTENCY_OK) return -1;
        if (r->row_count == 0) {
            bool more = r->has_more;
            persistency_reply_free(r);
            return more ? -1 : pages;
        }
        pages++;
        for (i = 0; i < r->row_count; i++) {
            int k = r->rows[i].key[0];
            if (r->rows[i].key_len != 1 || (descending ? k >= last : k <= last)) {
                persistency_reply_free(r);
                return -1;
            }
            last = k;
            (*rows)++;
        }
        persistency_reply_free(r);
    }
}

static void test_cursor(void) {
    persistency *p;
    persistency_job *job;
    persistency_cursor *c = NULL;
    const persistency_result *r = NULL;
    int i, rows = 0;
    uint8_t k[1];

    CHECK_OK(file_job("cursor", &p, &job));
    for (i = 0; i < 200; i++) {
        k[0] = (uint8_t)i;
        CHECK_OK(persistency_put(job, "c", k, 1, k, 1));
    }
    CHECK_OK(persistency_cursor_open(job, "c", NULL, 0, NULL, 0, false, 30, &c));
    CHECKF(read_cursor(c, &rows, false) == 7 && rows == 200, "rows %d", rows);
    /* An exhausted cursor keeps answering with an empty page. */
    CHECK_OK(persistency_cursor_next(c, &r));
    CHECK(r != NULL && r->row_count == 0 && !r->has_more);
    persistency_reply_free(r);
    persistency_cursor_close(c);

    k[0] = 150;
    CHECK_OK(persistency_cursor_open(job, "c", NULL, 0, k, 1, true, 0, &c));
    CHECKF(read_cursor(c, &rows, true) == 1 && rows == 150, "rows %d", rows);
    persistency_cursor_close(c);

    /* Closed early, with a page being read ahead. */
    CHECK_OK(persistency_cursor_open(job, "c", NULL, 0, NULL, 0, false, 10, &c));
    CHECK_OK(persistency_cursor_next(c, &r));
    CHECK(r->row_count == 10 && r->has_more);
    persistency_cursor_close(c);
    /* The reply outlives its cursor. */
    CHECK(r->rows[9].key[0] == 9);
    persistency_reply_free(r);

    c = (persistency_cursor *)&c;
    CHECK_INVALID(persistency_cursor_open(job, NULL, NULL, 0, NULL, 0, false, 0, &c));
    CHECK(c == NULL);
    CHECK_INVALID(persistency_cursor_open(job, "c", NULL, 0, NULL, 0, false, 0, NULL));
    CHECK_INVALID(persistency_cursor_next(NULL, &r));
    CHECK(r == NULL);

    /* A cursor outlives its job's close; its next page reports it. */
    CHECK_OK(persistency_cursor_open(job, "c", NULL, 0, NULL, 0, false, 0, &c));
    CHECK_OK(persistency_close_job(p, "blocking"));
    CHECK_CLOSED(persistency_cursor_next(c, &r));
    CHECK(r == NULL);
    CHECK_OK(persistency_cursor_next(c, &r));
    CHECK(r != NULL && r->row_count == 0);
    persistency_reply_free(r);
    persistency_cursor_close(c);
    persistency_cursor_close(NULL);
    persistency_job_release(job);
    persistency_release(p);
}

/* From a callback on the job's own worker a blocking read would deadlock. */
typedef struct own_call {
    persistency_job *job;
    int32_t status;
    const persistency_result *reply;
    counter done;
} own_call;

static void call_from_callback(const persistency_result *result, void *user_data) {
    own_call *c = user_data;
    (void)result;
    c->status = persistency_get_sync(c->job, "c", U8("k"), 1, &c->reply);
    counter_add(&c->done);
}

static void test_refused_in_own_callback(void) {
    persistency *p;
    persistency_job *job;
    own_call c;

    CHECK_OK(file_job("own", &p, &job));
    c.job = job;
    c.status = PERSISTENCY_OK;
    c.reply = (const persistency_result *)&c;
    counter_init(&c.done);
    CHECK_OK(persistency_flush(job, call_from_callback, &c));
    CHECK(counter_wait(&c.done, 1));
    counter_destroy(&c.done);
    CHECKF(c.status == PERSISTENCY_ERR_INVALID_ARGUMENT, "status %s",
           persistency_status_name(c.status));
    CHECK(c.reply == NULL);
    persistency_job_release(job);
    persistency_release(p);
}

int main(void) {
    static const test_case tests[] = {
        {"blocking/every_read_kind", test_every_read_kind},
        {"blocking/argument_errors", test_argument_errors},
        {"blocking/reply_outlives_job", test_reply_outlives_job},
        {"blocking/threads_read_their_writes", test_threads_read_their_writes},
        {"blocking/read_sees_write_from_other_thread", test_read_sees_write_from_other_thread},
        {"blocking/memory_job", test_memory_job},
        {"blocking/refused_in_own_callback", test_refused_in_own_callback},
        {"blocking/cursor", test_cursor},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
