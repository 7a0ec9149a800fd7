/*
 * Callbacks and threads: exactly-once callbacks across close, re-entrant
 * callbacks, close/drop from inside a callback, several host threads at
 * once, backpressure (FAIL and BLOCK), the disk quota and the logger.
 */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define U8(s) ((const uint8_t *)(s))

/* ---- helpers -------------------------------------------------------- */

/* A gate: a callback that holds the worker thread until the test opens it. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;
    bool open;
} gate;

static void gate_init(gate *g) {
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static struct timespec in_seconds(int s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    return ts;
}

/* Waits (with a hang guard) until flag becomes true; g->mu must be held. */
static bool gate_wait_flag(gate *g, const bool *flag) {
    struct timespec ts = in_seconds(120);
    while (!*flag) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT) return false;
    }
    return true;
}

static void gate_cb(const persistency_result *result, void *user_data) {
    gate *g = user_data;
    (void)result;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    gate_wait_flag(g, &g->open);
    pthread_mutex_unlock(&g->mu);
}

static bool gate_wait_entered(gate *g) {
    bool ok;
    pthread_mutex_lock(&g->mu);
    ok = gate_wait_flag(g, &g->entered);
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int32_t count_rows(persistency_job *job, const char *category, uint64_t *out) {
    reply r;
    int32_t rc;
    reply_init(&r);
    rc = persistency_count(job, category, NULL, 0, NULL, 0, on_reply, &r);
    if (rc == PERSISTENCY_OK) rc = reply_wait(&r) ? r.status : PERSISTENCY_ERR_TIMEOUT;
    *out = r.count;
    reply_free(&r);
    return rc;
}

static int32_t flush_sync(persistency_job *job) {
    reply r;
    int32_t rc;
    reply_init(&r);
    rc = persistency_flush(job, on_reply, &r);
    if (rc == PERSISTENCY_OK) rc = reply_wait(&r) ? r.status : PERSISTENCY_ERR_TIMEOUT;
    reply_free(&r);
    return rc;
}

static int32_t write_sync(persistency_job *job, const persistency_op *ops, size_t n, reply *r) {
    int32_t rc = persistency_write(job, ops, n, on_reply, r);
    if (rc != PERSISTENCY_OK) return rc;
    return reply_wait(r) ? r->status : PERSISTENCY_ERR_TIMEOUT;
}

static persistency_op put_op(const char *category, const uint8_t *key, size_t key_len,
                             const uint8_t *payload, size_t payload_len) {
    persistency_op op;
    op.kind = PERSISTENCY_OP_PUT;
    op.category = category;
    op.key = key;
    op.key_len = key_len;
    op.payload = payload;
    op.payload_len = payload_len;
    return op;
}

/* ---- exactly once across close --------------------------------------- */

/* One request's tally: how many times its callback ran, with what status. */
typedef struct slot {
    pthread_mutex_t *mu;
    int hits;
    int32_t status;
} slot;

static void on_slot(const persistency_result *result, void *user_data) {
    slot *s = user_data;
    pthread_mutex_lock(s->mu);
    s->hits++;
    s->status = result->status;
    pthread_mutex_unlock(s->mu);
}

/* Queues n mixed requests, each with a slot; returns the first failure. */
static int32_t queue_mixed(persistency_job *job, slot *slots, int n) {
    int i;
    for (i = 0; i < n; i++) {
        uint8_t key[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        persistency_op op = put_op("c", key, 2, key, 2);
        persistency_bytes keys[2];
        int32_t rc = PERSISTENCY_OK;
        keys[0].data = key;
        keys[0].len = 2;
        keys[1].data = U8("zz");
        keys[1].len = 2;
        switch (i % 8) {
        case 0: rc = persistency_write(job, &op, 1, on_slot, &slots[i]); break;
        case 1: rc = persistency_get(job, "c", key, 2, on_slot, &slots[i]); break;
        case 2: rc = persistency_flush(job, on_slot, &slots[i]); break;
        case 3: rc = persistency_delete_acked(job, "c", key, 2, on_slot, &slots[i]); break;
        case 4:
            rc = persistency_scan(job, "c", NULL, 0, key, 2, true, 2, on_slot, &slots[i]);
            break;
        case 5: rc = persistency_exists(job, "c", key, 2, on_slot, &slots[i]); break;
        case 6: rc = persistency_count(job, "c", key, 2, NULL, 0, on_slot, &slots[i]); break;
        default: rc = persistency_get_many(job, "c", keys, 2, on_slot, &slots[i]); break;
        }
        if (rc == PERSISTENCY_OK && i % 5 == 0) rc = persistency_put(job, "c", key, 2, NULL, 0);
        if (rc != PERSISTENCY_OK) return rc;
    }
    return PERSISTENCY_OK;
}

static void exactly_once(bool whole_instance) {
    enum { N = 3000 };
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    slot *slots = calloc(N, sizeof *slots);
    persistency *p = NULL;
    persistency_job *job = NULL;
    int i, bad = 0;

    CHECK(slots != NULL);
    for (i = 0; i < N; i++) slots[i].mu = &mu;
    CHECK_OK(open_instance(whole_instance ? "once-all" : "once-job", &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK_OK(queue_mixed(job, slots, N));
    if (whole_instance) {
        CHECK_OK(persistency_close(p));
    } else {
        CHECK_OK(persistency_close_job(p, "j"));
    }
    /* No waiting: the close returned only after every callback ran. */
    pthread_mutex_lock(&mu);
    for (i = 0; i < N; i++) {
        if (slots[i].hits != 1 || slots[i].status != PERSISTENCY_OK) {
            if (bad++ < 5) {
                fprintf(stderr, "  request %d: %d callbacks, status %s\n", i, slots[i].hits,
                        persistency_status_name(slots[i].status));
            }
        }
    }
    pthread_mutex_unlock(&mu);
    CHECKF(bad == 0, "%d of %d requests not called back exactly once", bad, N);
    CHECK_CLOSED(persistency_get(job, "c", U8("k"), 1, on_slot, &slots[0]));
    CHECK(slots[0].hits == 1);
    persistency_job_release(job);
    persistency_release(p);
    free(slots);
}

static void test_exactly_once_close_job(void) { exactly_once(false); }
static void test_exactly_once_close_instance(void) { exactly_once(true); }

/* ---- re-entrant callbacks -------------------------------------------- */

typedef struct reentry {
    persistency *p;
    persistency_job *job;
    int32_t put_status, get_status, stats_status, find_status, write_status;
    bool has_job;
    bool find_same;
    uint64_t applied_seen;
    reply nested;       /* the read issued from inside the callback */
    counter nested_write; /* the write issued from inside the callback */
    reply outer;
} reentry;

static void reentrant_cb(const persistency_result *result, void *user_data) {
    reentry *e = user_data;
    persistency_stats st;
    persistency_job *found = NULL;
    persistency_op op = put_op("c", U8("w"), 1, U8("from write"), 10);

    e->put_status = persistency_put(e->job, "c", U8("inner"), 5, U8("from callback"), 13);
    e->write_status = persistency_write(e->job, &op, 1, on_count, &e->nested_write);
    e->get_status = persistency_get(e->job, "c", U8("inner"), 5, on_reply, &e->nested);
    e->stats_status = persistency_job_stats(e->job, &st);
    e->applied_seen = st.ops_applied;
    e->has_job = persistency_has_job(e->p, "re");
    e->find_status = persistency_find_job(e->p, "re", &found);
    e->find_same = found == e->job;
    persistency_job_release(found);
    on_reply(result, &e->outer);
}

static void test_reentrant_callbacks(void) {
    reentry e;
    reply r;

    memset(&e, 0, sizeof e);
    reply_init(&e.nested);
    reply_init(&e.outer);
    reply_init(&r);
    counter_init(&e.nested_write);
    CHECK_OK(open_instance("reentrant", &e.p));
    CHECK_OK(persistency_open_job(e.p, "re", &e.job));
    CHECK_OK(persistency_put(e.job, "c", U8("outer"), 5, U8("x"), 1));
    CHECK_OK(persistency_get(e.job, "c", U8("outer"), 5, reentrant_cb, &e));
    CHECK_REPLY(&e.outer, PERSISTENCY_OK);
    CHECK(e.outer.found);
    CHECK_STATUS(e.put_status, PERSISTENCY_OK);
    CHECK_STATUS(e.write_status, PERSISTENCY_OK);
    CHECK_STATUS(e.get_status, PERSISTENCY_OK);
    CHECK_STATUS(e.stats_status, PERSISTENCY_OK);
    CHECK_STATUS(e.find_status, PERSISTENCY_OK);
    CHECK(e.applied_seen >= 1 && e.has_job && e.find_same);
    /* The nested read was accepted after the nested put: it sees it. */
    CHECK_REPLY(&e.nested, PERSISTENCY_OK);
    CHECK(e.nested.found &&
          bytes_eq(e.nested.value, e.nested.value_len, U8("from callback"), 13));
    CHECK(counter_wait(&e.nested_write, 1));
    CHECK_OK(get_sync(e.job, "c", "w", &r));
    CHECK(r.found);
    CHECK_OK(persistency_close_job(e.p, "re"));
    CHECK(counter_get(&e.nested_write) == 1);
    persistency_job_release(e.job);
    persistency_release(e.p);
    reply_free(&e.nested);
    reply_free(&e.outer);
    reply_free(&r);
    counter_destroy(&e.nested_write);
}

/* A callback on job A that reads job B, whose callback writes job A. */
typedef struct cross {
    persistency_job *a, *b;
    int32_t b_status, a_status;
    reply done;
} cross;

static void cross_b_cb(const persistency_result *result, void *user_data) {
    cross *c = user_data;
    persistency_op op = put_op("c", U8("from-b"), 6, result->value, result->value_len);
    c->a_status = persistency_write(c->a, &op, 1, on_reply, &c->done);
}

static void cross_a_cb(const persistency_result *result, void *user_data) {
    cross *c = user_data;
    (void)result;
    c->b_status = persistency_get(c->b, "c", U8("k"), 1, cross_b_cb, c);
}

static void test_cross_job_callbacks(void) {
    persistency *p = NULL;
    cross c;
    reply r;

    memset(&c, 0, sizeof c);
    reply_init(&c.done);
    reply_init(&r);
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job(p, "a", &c.a));
    CHECK_OK(persistency_open_job(p, "b", &c.b));
    CHECK_OK(persistency_put(c.b, "c", U8("k"), 1, U8("b-value"), 7));
    CHECK_OK(persistency_flush(c.a, cross_a_cb, &c));
    CHECK_REPLY(&c.done, PERSISTENCY_OK);
    CHECK_STATUS(c.b_status, PERSISTENCY_OK);
    CHECK_STATUS(c.a_status, PERSISTENCY_OK);
    CHECK_OK(get_sync(c.a, "c", "from-b", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("b-value"), 7));
    persistency_job_release(c.a);
    persistency_job_release(c.b);
    persistency_release(p);
    reply_free(&c.done);
    reply_free(&r);
}

/* ---- closing from inside a callback ----------------------------------- */

typedef struct closer {
    persistency *p;
    int32_t close_job, drop_job, close_all, close_other;
    bool messages;
    reply done;
} closer;

static void closer_cb(const persistency_result *result, void *user_data) {
    closer *c = user_data;
    bool m = true;
    c->close_job = persistency_close_job(c->p, "self");
    m = m && persistency_last_error() != NULL;
    c->drop_job = persistency_drop_job(c->p, "self");
    m = m && persistency_last_error() != NULL;
    c->close_all = persistency_close(c->p);
    m = m && persistency_last_error() != NULL;
    c->messages = m;
    /* Another job is not one this callback runs on: closing it is fine. */
    c->close_other = persistency_close_job(c->p, "other");
    on_reply(result, &c->done);
}

static void test_close_from_callback(void) {
    char root[1024], db[1100];
    persistency_job *self = NULL, *other = NULL;
    closer c;
    reply r;

    memset(&c, 0, sizeof c);
    reply_init(&c.done);
    reply_init(&r);
    test_path(root, sizeof root, "closer");
    snprintf(db, sizeof db, "%s/self.db", root);
    CHECK_OK(persistency_new(root, &c.p));
    CHECK_OK(persistency_open_job(c.p, "self", &self));
    CHECK_OK(persistency_open_job(c.p, "other", &other));
    CHECK_OK(persistency_put(self, "c", U8("k"), 1, U8("v"), 1));
    CHECK_OK(persistency_get(self, "c", U8("k"), 1, closer_cb, &c));
    CHECK_REPLY(&c.done, PERSISTENCY_OK);
    CHECK_STATUS(c.close_job, PERSISTENCY_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(c.drop_job, PERSISTENCY_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(c.close_all, PERSISTENCY_ERR_INVALID_ARGUMENT);
    CHECK(c.messages);
    CHECK_STATUS(c.close_other, PERSISTENCY_OK);
    /* Nothing changed for "self"; "other" is closed. */
    CHECK(persistency_has_job(c.p, "self"));
    CHECK(path_exists(db));
    CHECK_OK(get_sync(self, "c", "k", &r));
    CHECK(r.found);
    CHECK(!persistency_has_job(c.p, "other"));
    CHECK_CLOSED(persistency_put(other, "c", U8("k"), 1, NULL, 0));
    persistency_job_release(self);
    persistency_job_release(other);
    persistency_release(c.p);
    reply_free(&c.done);
    reply_free(&r);
}

/* ---- several host threads --------------------------------------------- */

enum { THREADS = 4, PUTS = 300, BATCHES = 25, BATCH = 4 };

typedef struct writer {
    persistency_job *job;
    int id;
    int32_t status;  /* first failure, if any */
    bool last_seen;  /* its last write was visible to its next read */
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    char key[32], last[16];
    int i, j;
    reply r;

    w->status = PERSISTENCY_OK;
    for (i = 0; i < PUTS && w->status == PERSISTENCY_OK; i++) {
        snprintf(key, sizeof key, "t%d/p%04d", w->id, i);
        snprintf(last, sizeof last, "%d", i);
        w->status = persistency_put(w->job, "c", U8(key), strlen(key), U8(key), strlen(key));
        if (w->status == PERSISTENCY_OK) {
            w->status = persistency_put(w->job, "last", U8(key), 2, U8(last), strlen(last));
        }
    }
    for (i = 0; i < BATCHES && w->status == PERSISTENCY_OK; i++) {
        char keys[BATCH][32];
        persistency_op ops[BATCH];
        for (j = 0; j < BATCH; j++) {
            snprintf(keys[j], sizeof keys[j], "t%d/b%03d-%d", w->id, i, j);
            ops[j] = put_op("c", U8(keys[j]), strlen(keys[j]), U8("b"), 1);
        }
        w->status = persistency_write(w->job, ops, BATCH, NULL, NULL);
    }
    /* Read-your-writes from this thread: the last "last" value is PUTS-1. */
    reply_init(&r);
    if (w->status == PERSISTENCY_OK) {
        snprintf(key, sizeof key, "t%d", w->id);
        w->status = persistency_get(w->job, "last", U8(key), 2, on_reply, &r);
        if (w->status == PERSISTENCY_OK) {
            snprintf(last, sizeof last, "%d", PUTS - 1);
            w->last_seen = reply_wait(&r) && r.found &&
                           bytes_eq(r.value, r.value_len, U8(last), strlen(last));
        }
    }
    reply_free(&r);
    return NULL;
}

static void test_host_threads(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    pthread_t threads[THREADS];
    writer w[THREADS];
    uint64_t n = 0;
    persistency_stats st;
    int i;

    CHECK_OK(open_instance("threads", &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    for (i = 0; i < THREADS; i++) {
        w[i].job = job;
        w[i].id = i;
        w[i].last_seen = false;
        CHECK(pthread_create(&threads[i], NULL, writer_main, &w[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    for (i = 0; i < THREADS; i++) {
        CHECK_STATUS(w[i].status, PERSISTENCY_OK);
        CHECKF(w[i].last_seen, "thread %d did not read its own last write", i);
    }
    CHECK_OK(count_rows(job, "c", &n));
    CHECKF(n == THREADS * (PUTS + BATCHES * BATCH), "%llu rows", (unsigned long long)n);
    CHECK_OK(count_rows(job, "last", &n));
    CHECK(n == THREADS);
    CHECK_OK(flush_sync(job));
    CHECK_OK(persistency_job_stats(job, &st));
    CHECK(st.ops_applied == (uint64_t)THREADS * (2 * PUTS + BATCHES * BATCH));
    CHECK(st.ops_failed == 0);
    persistency_job_release(job);
    persistency_release(p);
}

/* ---- backpressure ----------------------------------------------------- */

static void test_backpressure_fail(void) {
    enum { CAPACITY = 4, TRIES = 40 };
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    persistency_stats st;
    counter called;
    gate g;
    int i, accepted = 0, accepted_cb = 0, busy = 0;
    uint64_t n = 0;

    gate_init(&g);
    counter_init(&called);
    persistency_job_options_init(&o);
    o.full_policy = PERSISTENCY_FULL_FAIL;
    o.queue_capacity = CAPACITY;
    CHECK_OK(open_instance("busy", &p));
    CHECK_OK(persistency_open_job_with(p, "j", &o, &job));
    /* Hold the worker inside a callback, so nothing drains the queue. */
    CHECK_OK(persistency_flush(job, gate_cb, &g));
    CHECK(gate_wait_entered(&g));
    for (i = 0; i < TRIES; i++) {
        uint8_t key[1] = {(uint8_t)i};
        persistency_op op = put_op("c", key, 1, key, 1);
        int32_t rc = (i % 2) ? persistency_put(job, "c", key, 1, key, 1)
                             : persistency_write(job, &op, 1, on_count, &called);
        if (rc == PERSISTENCY_OK) {
            accepted++;
            accepted_cb += i % 2 == 0;
        } else {
            if (rc != PERSISTENCY_ERR_BUSY || persistency_last_error() == NULL) {
                gate_open(&g);
                CHECKF(0, "call %d: %s", i, persistency_status_name(rc));
            }
            busy++;
        }
    }
    CHECK_OK(persistency_job_stats(job, &st));
    gate_open(&g);
    CHECKF(accepted >= 1 && accepted <= CAPACITY, "accepted %d with capacity %d", accepted,
           CAPACITY);
    CHECK(busy == TRIES - accepted);
    CHECKF(st.queued == (uint64_t)accepted, "queued %llu, accepted %d",
           (unsigned long long)st.queued, accepted);
    /* Close drains the queue: every accepted write lands, no refused one does. */
    CHECK_OK(persistency_close_job(p, "j"));
    CHECK(counter_get(&called) == (uint64_t)accepted_cb);
    persistency_job_release(job);
    CHECK_OK(persistency_open_job_with(p, "j", &o, &job));
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == (uint64_t)accepted);
    persistency_job_release(job);
    persistency_release(p);
    gate_destroy(&g);
    counter_destroy(&called);
}

typedef struct blocker {
    persistency_job *job;
    counter accepted;
    int32_t status;
} blocker;

static void *blocked_writer(void *arg) {
    blocker *b = arg;
    int i;
    for (i = 0; i < 30 && b->status == PERSISTENCY_OK; i++) {
        uint8_t key[1] = {(uint8_t)i};
        b->status = persistency_put(b->job, "c", key, 1, key, 1);
        counter_add(&b->accepted);
    }
    return NULL;
}

static void test_backpressure_block_waits(void) {
    persistency *p = NULL;
    persistency_job_options o;
    pthread_t t;
    blocker b;
    gate g;
    uint64_t n = 0;

    gate_init(&g);
    memset(&b, 0, sizeof b);
    counter_init(&b.accepted);
    persistency_job_options_init(&o);
    o.queue_capacity = 2; /* FULL_BLOCK by default */
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job_with(p, "j", &o, &b.job));
    CHECK_OK(persistency_flush(b.job, gate_cb, &g));
    CHECK(gate_wait_entered(&g));
    CHECK(pthread_create(&t, NULL, blocked_writer, &b) == 0);
    /* The writer fills the queue, then waits for room instead of failing. */
    CHECK(counter_wait(&b.accepted, 2));
    gate_open(&g);
    pthread_join(t, NULL);
    CHECK_STATUS(b.status, PERSISTENCY_OK);
    CHECK_OK(count_rows(b.job, "c", &n));
    CHECK(n == 30);
    persistency_job_release(b.job);
    persistency_release(p);
    gate_destroy(&g);
    counter_destroy(&b.accepted);
}

/* With a wait bound set, a put on a full queue returns TIMEOUT and queues
 * nothing; the bound is the calling thread's and 0 removes it. */
static void test_bounded_wait_times_out(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    gate g;
    uint64_t n = 0;

    gate_init(&g);
    persistency_job_options_init(&o);
    o.queue_capacity = 1; /* FULL_BLOCK by default */
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job_with(p, "j", &o, &job));
    CHECK_OK(persistency_flush(job, gate_cb, &g));
    CHECK(gate_wait_entered(&g));
    CHECK_OK(persistency_put(job, "c", (const uint8_t *)"a", 1, NULL, 0));
    CHECK(persistency_set_wait_timeout(20) == 0);
    CHECK_STATUS(persistency_put(job, "c", (const uint8_t *)"b", 1, NULL, 0),
                 PERSISTENCY_ERR_TIMEOUT);
    CHECK(persistency_last_error() != NULL);
    CHECK(persistency_set_wait_timeout(0) == 20);
    gate_open(&g);
    CHECK_OK(persistency_put(job, "c", (const uint8_t *)"c", 1, NULL, 0));
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == 2); /* "a" and "c"; the timed-out "b" was never queued */
    persistency_job_release(job);
    persistency_release(p);
    gate_destroy(&g);
}

/* A callback that waits until the host filled the queue, then writes. */
typedef struct own_queue {
    persistency_job *job;
    gate g; /* entered: callback running; open: the host filled the queue */
    int32_t put_status, get_status;
    bool message;
    reply done;
    counter never;
} own_queue;

static void own_queue_cb(const persistency_result *result, void *user_data) {
    own_queue *q = user_data;
    pthread_mutex_lock(&q->g.mu);
    q->g.entered = true;
    pthread_cond_broadcast(&q->g.cv);
    gate_wait_flag(&q->g, &q->g.open);
    pthread_mutex_unlock(&q->g.mu);
    /* On the job's own worker with a full queue: BUSY, never a wait. */
    q->put_status = persistency_put(q->job, "c", U8("mine"), 4, NULL, 0);
    q->message = persistency_last_error() != NULL;
    q->get_status = persistency_get(q->job, "c", U8("mine"), 4, on_count, &q->never);
    on_reply(result, &q->done);
}

static void test_callback_never_waits_for_own_queue(void) {
    enum { CAPACITY = 3 };
    persistency *p = NULL;
    persistency_job_options o;
    own_queue q;
    uint64_t n = 0;
    int i;

    memset(&q, 0, sizeof q);
    gate_init(&q.g);
    reply_init(&q.done);
    counter_init(&q.never);
    persistency_job_options_init(&o);
    o.queue_capacity = CAPACITY;
    o.full_policy = PERSISTENCY_FULL_BLOCK;
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job_with(p, "j", &o, &q.job));
    CHECK_OK(persistency_flush(q.job, own_queue_cb, &q));
    CHECK(gate_wait_entered(&q.g));
    for (i = 0; i < CAPACITY; i++) {
        uint8_t key[1] = {(uint8_t)i};
        CHECK_OK(persistency_put(q.job, "c", key, 1, key, 1));
    }
    gate_open(&q.g);
    CHECK_REPLY(&q.done, PERSISTENCY_OK);
    CHECK_STATUS(q.put_status, PERSISTENCY_ERR_BUSY);
    CHECK_STATUS(q.get_status, PERSISTENCY_ERR_BUSY);
    CHECK(q.message);
    CHECK_OK(count_rows(q.job, "c", &n));
    CHECK(n == CAPACITY);
    CHECK(counter_get(&q.never) == 0);
    persistency_job_release(q.job);
    persistency_release(p);
    gate_destroy(&q.g);
    reply_free(&q.done);
    counter_destroy(&q.never);
}

/* ---- quota and logger ------------------------------------------------- */

typedef struct log_sink {
    pthread_mutex_t mu;
    int messages;
    int errors;
    int32_t max_seen;
    bool empty_message;
} log_sink;

static void log_cb(int32_t level, const char *message, void *user_data) {
    log_sink *s = user_data;
    pthread_mutex_lock(&s->mu);
    s->messages++;
    s->errors += level == PERSISTENCY_LOG_ERROR;
    if (level > s->max_seen) s->max_seen = level;
    if (message == NULL || message[0] == '\0') s->empty_message = true;
    pthread_mutex_unlock(&s->mu);
}

static void sink_init(log_sink *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static int sink_messages(log_sink *s) {
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->messages;
    pthread_mutex_unlock(&s->mu);
    return n;
}

enum { QUOTA = 64 * 1024, BIG = 200 * 1024 };

static void test_quota(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    persistency_stats before, after;
    persistency_op ops[2];
    uint8_t *big = calloc(1, BIG);
    uint64_t n = 0;
    reply r;

    reply_init(&r);
    CHECK(big != NULL);
    persistency_job_options_init(&o);
    o.max_db_bytes = QUOTA;
    CHECK_OK(open_instance("quota", &p));
    CHECK_OK(persistency_open_job_with(p, "q", &o, &job));
    CHECK_OK(put_sync(job, "c", "small", "fits"));

    /* An over-quota batch fails as a whole with FULL, in its callback. */
    ops[0] = put_op("c", U8("also-small"), 10, U8("x"), 1);
    ops[1] = put_op("c", U8("big"), 3, big, BIG);
    CHECK_OK(persistency_job_stats(job, &before));
    CHECK_STATUS(write_sync(job, ops, 2, &r), PERSISTENCY_ERR_FULL);
    CHECK(r.calls == 1 && r.error != NULL);
    reply_reset(&r);
    CHECK_OK(persistency_job_stats(job, &after));
    CHECK(after.ops_failed >= before.ops_failed + 2);
    /* Nothing of it was applied; reads still work. */
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == 1);
    CHECK_OK(get_sync(job, "c", "small", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("fits"), 4));
    reply_reset(&r);
    /* Writes that fit, and deletes, go on working. */
    CHECK_STATUS(write_sync(job, ops, 1, &r), PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_delete(job, "c", U8("also-small"), 10));
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == 1);
    persistency_job_release(job);
    persistency_release(p);
    free(big);
    reply_free(&r);
}

static void test_quota_below_current_size(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    persistency_op ops[1];
    uint8_t *chunk = calloc(1, 16 * 1024);
    uint64_t n = 0;
    reply r;
    int i;

    reply_init(&r);
    CHECK(chunk != NULL);
    CHECK_OK(open_instance("quota-shrunk", &p));
    CHECK_OK(persistency_open_job(p, "q", &job));
    for (i = 0; i < 8; i++) {
        uint8_t key[1] = {(uint8_t)i};
        CHECK_OK(persistency_put(job, "c", key, 1, chunk, 16 * 1024));
    }
    persistency_job_release(job);
    CHECK_OK(persistency_close_job(p, "q"));

    persistency_job_options_init(&o);
    o.max_db_bytes = 8192; /* far below the file's size */
    CHECK_OK(persistency_open_job_with(p, "q", &o, &job));
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == 8);
    ops[0].kind = PERSISTENCY_OP_DELETE;
    ops[0].category = "c";
    ops[0].key = chunk; /* key {0} */
    ops[0].key_len = 1;
    ops[0].payload = NULL;
    ops[0].payload_len = 0;
    CHECK_STATUS(write_sync(job, ops, 1, &r), PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(count_rows(job, "c", &n));
    CHECK(n == 7);
    /* Growth is refused. */
    ops[0] = put_op("c", U8("grow"), 4, chunk, 16 * 1024);
    memset(chunk, 0x5A, 16 * 1024);
    for (i = 0; i < 4; i++) {
        char key[8];
        snprintf(key, sizeof key, "grow%d", i);
        ops[0].key = U8(key);
        ops[0].key_len = strlen(key);
        if (write_sync(job, ops, 1, &r) == PERSISTENCY_ERR_FULL) break;
        reply_reset(&r);
    }
    CHECKF(i < 4, "64 KiB of new rows fit under an 8 KiB cap");
    persistency_job_release(job);
    persistency_release(p);
    free(chunk);
    reply_free(&r);
}

static void test_logger(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    persistency_stats st;
    uint8_t *big = calloc(1, BIG);
    log_sink errors_only, everything;
    int seen;

    CHECK(big != NULL);
    sink_init(&errors_only);
    sink_init(&everything);
    persistency_job_options_init(&o);
    o.max_db_bytes = QUOTA;
    CHECK_OK(open_instance("logger", &p));

    /* Each phase does the same: open, a failing fire-and-forget write (counted
     * and logged at ERROR; flush is still OK), close. */
    persistency_set_logger(log_cb, &errors_only, PERSISTENCY_LOG_ERROR);
    CHECK_OK(persistency_open_job_with(p, "l", &o, &job));
    CHECK_OK(persistency_put(job, "c", U8("big"), 3, big, BIG));
    CHECK_OK(flush_sync(job));
    CHECK_OK(persistency_job_stats(job, &st));
    CHECK(st.ops_failed == 1);
    CHECK_OK(persistency_close_job(p, "l"));
    persistency_job_release(job);
    pthread_mutex_lock(&errors_only.mu);
    seen = errors_only.errors;
    pthread_mutex_unlock(&errors_only.mu);
    CHECKF(seen >= 1, "no ERROR message for a failed fire-and-forget write");
    CHECKF(errors_only.max_seen == PERSISTENCY_LOG_ERROR, "level %d delivered with max ERROR",
           (int)errors_only.max_seen);

    /* DEBUG delivers every level (whatever the library emits at the others). */
    persistency_set_logger(log_cb, &everything, PERSISTENCY_LOG_DEBUG);
    CHECK_OK(persistency_open_job_with(p, "l", &o, &job));
    CHECK_OK(persistency_put(job, "c", U8("big"), 3, big, BIG));
    CHECK_OK(flush_sync(job));
    CHECK_OK(persistency_close_job(p, "l"));
    persistency_job_release(job);
    CHECK_OK(persistency_open_job_with(p, "l", &o, &job));
    pthread_mutex_lock(&everything.mu);
    seen = everything.errors;
    pthread_mutex_unlock(&everything.mu);
    CHECK(seen >= 1);
    CHECK(everything.max_seen >= PERSISTENCY_LOG_ERROR &&
          everything.max_seen <= PERSISTENCY_LOG_DEBUG);
    CHECK(sink_messages(&everything) >= sink_messages(&errors_only));
    CHECK(!errors_only.empty_message && !everything.empty_message);

    /* A NULL callback removes the logger. */
    persistency_set_logger(NULL, NULL, PERSISTENCY_LOG_DEBUG);
    seen = sink_messages(&everything) + sink_messages(&errors_only);
    CHECK_OK(persistency_put(job, "c", U8("big"), 3, big, BIG));
    CHECK_OK(flush_sync(job));
    CHECK_OK(persistency_close_job(p, "l"));
    CHECK(sink_messages(&everything) + sink_messages(&errors_only) == seen);
    persistency_job_release(job);
    persistency_release(p);
    pthread_mutex_destroy(&errors_only.mu);
    pthread_mutex_destroy(&everything.mu);
    free(big);
}

int main(void) {
    static const test_case tests[] = {
        {"concurrency/exactly_once_close_job", test_exactly_once_close_job},
        {"concurrency/exactly_once_close_instance", test_exactly_once_close_instance},
        {"concurrency/reentrant_callbacks", test_reentrant_callbacks},
        {"concurrency/cross_job_callbacks", test_cross_job_callbacks},
        {"concurrency/close_from_callback", test_close_from_callback},
        {"concurrency/host_threads", test_host_threads},
        {"concurrency/backpressure_fail", test_backpressure_fail},
        {"concurrency/backpressure_block_waits", test_backpressure_block_waits},
        {"concurrency/bounded_wait_times_out", test_bounded_wait_times_out},
        {"concurrency/callback_never_waits_for_own_queue", test_callback_never_waits_for_own_queue},
        {"concurrency/quota", test_quota},
        {"concurrency/quota_below_current_size", test_quota_below_current_size},
        {"concurrency/logger", test_logger},
    };
    persistency_set_logger(NULL, NULL, 0);
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
