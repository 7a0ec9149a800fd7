/*
 * Writes, batches, flush, reads (get / exists / count / get_many /
 * delete_acked), scans with pagination, scan_prefix, stats and
 * read-your-writes.
 */
#include "harness.h"

#include <stdlib.h>

#define U8(s) ((const uint8_t *)(s))

/* Opens a fresh job on a :memory: instance (fast, private), or on a fresh
 * PostgreSQL schema when the suite runs against PostgreSQL. */
static int32_t memory_job(persistency **p, persistency_job **job) {
    char root[1024];
    int32_t rc = persistency_new(test_scratch_root(root, sizeof root), p);
    if (rc != PERSISTENCY_OK) return rc;
    return persistency_open_job(*p, "ops", job);
}

static void close_memory_job(persistency *p, persistency_job *job) {
    persistency_job_release(job);
    persistency_release(p);
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

static int32_t wait_status(int32_t rc, reply *r) {
    if (rc != PERSISTENCY_OK) return rc;
    return reply_wait(r) ? r->status : PERSISTENCY_ERR_TIMEOUT;
}

static int32_t scan_sync(persistency_job *job, const char *cat, const uint8_t *start,
                         size_t start_len, const uint8_t *stop, size_t stop_len, bool reverse,
                         uint32_t limit, reply *r) {
    return wait_status(persistency_scan(job, cat, start, start_len, stop, stop_len, reverse,
                                        limit, on_reply, r),
                       r);
}

static int32_t count_sync(persistency_job *job, const char *cat, const uint8_t *start,
                          size_t start_len, const uint8_t *stop, size_t stop_len,
                          uint64_t *out) {
    reply r;
    int32_t rc;
    reply_init(&r);
    rc = wait_status(persistency_count(job, cat, start, start_len, stop, stop_len, on_reply, &r),
                     &r);
    *out = r.count;
    reply_free(&r);
    return rc;
}

/* True if the rows' keys are exactly the NUL-terminated strings of want. */
static bool rows_are(const reply *r, const char *const *want, size_t n) {
    size_t i;
    if (r->row_count != n) return false;
    for (i = 0; i < n; i++) {
        if (!bytes_eq(r->rows[i].key, r->rows[i].key_len, U8(want[i]), strlen(want[i]))) {
            return false;
        }
    }
    return true;
}

static void print_rows(const reply *r) {
    size_t i, j;
    fprintf(stderr, "  rows (%zu, has_more %d):", r->row_count, (int)r->has_more);
    for (i = 0; i < r->row_count; i++) {
        fputc(' ', stderr);
        for (j = 0; j < r->rows[i].key_len; j++) fprintf(stderr, "%02x", r->rows[i].key[j]);
    }
    fputc('\n', stderr);
}

#define CHECK_ROWS(r, ...)                                                 \
    do {                                                                   \
        static const char *const want_[] = {__VA_ARGS__};                  \
        if (!rows_are((r), want_, sizeof want_ / sizeof want_[0])) {       \
            print_rows(r);                                                 \
            CHECKF(0, "rows differ from {%s}", #__VA_ARGS__);              \
        }                                                                  \
    } while (0)

/* Puts the ten keys "k0".."k9" (payload "v<i>") in category c. */
static int32_t put_ten(persistency_job *job, const char *c) {
    char key[3], val[3];
    int i;
    for (i = 0; i < 10; i++) {
        int32_t rc;
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        rc = persistency_put(job, c, U8(key), 2, U8(val), 2);
        if (rc != PERSISTENCY_OK) return rc;
    }
    return PERSISTENCY_OK;
}

static void test_put_get_replace_delete(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(!r.found && !r.has_value && r.value_len == 0 && r.error == NULL);
    reply_reset(&r);

    /* Fire-and-forget, then read at once: the read sees it. */
    CHECK_OK(persistency_put(job, "c", U8("k"), 1, U8("one"), 3));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("one"), 3));
    CHECK(!pthread_equal(r.thread, pthread_self())); /* callbacks run on the worker */
    reply_reset(&r);

    CHECK_OK(persistency_put(job, "c", U8("k"), 1, U8("two!"), 4)); /* replaces */
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("two!"), 4));
    reply_reset(&r);

    /* Categories are separate keyspaces. */
    CHECK_OK(get_sync(job, "other", "k", &r));
    CHECK(!r.found);
    reply_reset(&r);

    CHECK_OK(persistency_delete(job, "c", U8("k"), 1));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(!r.found);
    reply_reset(&r);
    CHECK_OK(persistency_delete(job, "c", U8("missing"), 7)); /* deleting nothing is fine */
    CHECK_OK(flush_sync(job));

    /* Empty key and empty payload are values like any other. */
    CHECK_OK(persistency_put(job, "c", NULL, 0, NULL, 0));
    CHECK_OK(persistency_put(job, "", U8("k"), 1, U8("x"), 1));
    CHECK_OK(wait_status(persistency_get(job, "c", NULL, 0, on_reply, &r), &r));
    CHECK(r.found && r.value_len == 0);
    reply_reset(&r);
    CHECK_OK(get_sync(job, "", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("x"), 1));
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_inputs_are_copied(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    char cat[8] = "cat", key[8] = "key", val[8] = "value";
    persistency_op op;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(persistency_put(job, cat, U8(key), 3, U8(val), 5));
    memcpy(cat, "XXX", 3);
    memcpy(key, "YYY", 3);
    memcpy(val, "ZZZZZ", 5);
    op.kind = PERSISTENCY_OP_PUT;
    op.category = cat;
    op.key = U8(key);
    op.key_len = 3;
    op.payload = U8(val);
    op.payload_len = 5;
    CHECK_OK(persistency_write(job, &op, 1, NULL, NULL));
    memset(&op, 0, sizeof op);
    memcpy(cat, "cat", 3);
    memcpy(key, "key", 3);
    CHECK_OK(get_sync(job, cat, key, &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("value"), 5));
    reply_reset(&r);
    CHECK_OK(get_sync(job, "XXX", "YYY", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("ZZZZZ"), 5));
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_large_payload(void) {
    enum { SIZE = 256 * 1024 };
    persistency *p = NULL;
    persistency_job *job = NULL;
    uint8_t *big = malloc(SIZE);
    reply r;
    size_t i;

    reply_init(&r);
    CHECK(big != NULL);
    for (i = 0; i < SIZE; i++) big[i] = (uint8_t)(i * 31u + 7u);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(persistency_put(job, "c", U8("big"), 3, big, SIZE));
    CHECK_OK(get_sync(job, "c", "big", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, big, SIZE));
    free(big);
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_delete_prefix(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    uint64_t n = 0;
    reply r;
    const uint8_t ff[] = {0xFF}, ff1[] = {0xFF, 0x01}, ff2[] = {0xFF, 0xFF}, fe[] = {0xFE};

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(persistency_put(job, "c", U8("a1"), 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("a2"), 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("a"), 1, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("b1"), 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "d", U8("a1"), 2, U8("x"), 1));
    CHECK_OK(persistency_delete_prefix(job, "c", U8("a"), 1));
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 0, &r));
    CHECK_ROWS(&r, "b1");
    reply_reset(&r);
    CHECK_OK(count_sync(job, "d", NULL, 0, NULL, 0, &n));
    CHECK(n == 1);

    /* An all-0xFF prefix has an open-ended range. */
    CHECK_OK(persistency_put(job, "f", ff1, 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "f", ff2, 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "f", fe, 1, U8("x"), 1));
    CHECK_OK(persistency_delete_prefix(job, "f", ff, 1));
    CHECK_OK(count_sync(job, "f", NULL, 0, NULL, 0, &n));
    CHECK(n == 1);

    /* The empty prefix covers the whole category, and only it. */
    CHECK_OK(persistency_delete_prefix(job, "c", NULL, 0));
    CHECK_OK(count_sync(job, "c", NULL, 0, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_OK(count_sync(job, "d", NULL, 0, NULL, 0, &n));
    CHECK(n == 1);
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_batch_is_atomic(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_op ops[4];
    uint64_t n = 0;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(persistency_put(job, "c", U8("old1"), 4, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("old2"), 4, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("zap"), 3, U8("x"), 1));
    memset(ops, 0, sizeof ops);
    ops[0].kind = PERSISTENCY_OP_PUT;
    ops[0].category = "c";
    ops[0].key = U8("new");
    ops[0].key_len = 3;
    ops[0].payload = U8("n");
    ops[0].payload_len = 1;
    ops[1].kind = PERSISTENCY_OP_DELETE;
    ops[1].category = "c";
    ops[1].key = U8("zap");
    ops[1].key_len = 3;
    ops[2].kind = PERSISTENCY_OP_DELETE_PREFIX;
    ops[2].category = "c";
    ops[2].key = U8("old");
    ops[2].key_len = 3;
    ops[3].kind = PERSISTENCY_OP_PUT;
    ops[3].category = "other";
    ops[3].key = U8("k");
    ops[3].key_len = 1;
    ops[3].payload = U8("o");
    ops[3].payload_len = 1;

    /* An unknown kind anywhere rejects the whole batch; nothing is queued. */
    ops[2].kind = 4; /* the first unused kind (3 is DELETE_RANGE) */
    CHECK_INVALID(persistency_write(job, ops, 4, on_reply, &r));
    ops[2].kind = -1;
    CHECK_INVALID(persistency_write(job, ops, 4, on_reply, &r));
    ops[2].kind = PERSISTENCY_OP_DELETE_PREFIX;
    ops[3].category = NULL;
    CHECK_INVALID(persistency_write(job, ops, 4, on_reply, &r));
    ops[3].category = "other";
    ops[3].payload = NULL; /* NULL with a length */
    CHECK_INVALID(persistency_write(job, ops, 4, NULL, NULL));
    ops[3].payload = U8("o");
    CHECK_OK(flush_sync(job));
    CHECK(r.calls == 0);
    CHECK_OK(count_sync(job, "c", NULL, 0, NULL, 0, &n));
    CHECK(n == 3);
    CHECK_OK(count_sync(job, "other", NULL, 0, NULL, 0, &n));
    CHECK(n == 0);

    /* The valid batch applies as a whole and calls back once. */
    CHECK_OK(persistency_write(job, ops, 4, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    CHECK(r.error == NULL);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 0, &r));
    CHECK_ROWS(&r, "new");
    reply_reset(&r);
    CHECK_OK(get_sync(job, "other", "k", &r));
    CHECK(r.found);
    reply_reset(&r);

    /* Fire-and-forget batch, and ops applied in order inside a batch. */
    ops[0].kind = PERSISTENCY_OP_DELETE;
    ops[0].category = "c";
    ops[0].key = U8("new");
    ops[0].key_len = 3;
    ops[1].kind = PERSISTENCY_OP_PUT;
    ops[1].category = "c";
    ops[1].key = U8("new");
    ops[1].key_len = 3;
    ops[1].payload = U8("again");
    ops[1].payload_len = 5;
    CHECK_OK(persistency_write(job, ops, 2, NULL, NULL));
    CHECK_OK(get_sync(job, "c", "new", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("again"), 5));
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_flush(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r1, r2;
    persistency_stats st;
    int i;

    reply_init(&r1);
    reply_init(&r2);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(persistency_flush(job, on_reply, &r1)); /* nothing pending */
    CHECK_REPLY(&r1, PERSISTENCY_OK);
    for (i = 0; i < 50; i++) {
        uint8_t k = (uint8_t)i;
        CHECK_OK(persistency_put(job, "c", &k, 1, &k, 1));
    }
    CHECK_OK(persistency_flush(job, on_reply, &r2));
    CHECK_REPLY(&r2, PERSISTENCY_OK);
    /* The flush callback means all 50 are committed. */
    CHECK_OK(persistency_job_stats(job, &st));
    CHECKF(st.ops_applied == 50, "ops_applied %llu", (unsigned long long)st.ops_applied);
    CHECK(st.ops_failed == 0 && st.transactions >= 1 && st.transactions <= 50);
    close_memory_job(p, job);
    reply_free(&r1);
    reply_free(&r2);
}

static void test_exists_count_get_many(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_bytes keys[5];
    uint64_t n = 0;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(put_ten(job, "c"));
    CHECK_OK(persistency_put(job, "x", U8("k1"), 2, U8("other"), 5));

    CHECK_OK(wait_status(persistency_exists(job, "c", U8("k3"), 2, on_reply, &r), &r));
    CHECK(r.found && r.calls == 1);
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_exists(job, "c", U8("k33"), 3, on_reply, &r), &r));
    CHECK(!r.found);
    reply_reset(&r);

    CHECK_OK(count_sync(job, "c", NULL, 0, NULL, 0, &n));
    CHECK(n == 10);
    CHECK_OK(count_sync(job, "c", U8("k2"), 2, U8("k5"), 2, &n));
    CHECK(n == 3);
    CHECK_OK(count_sync(job, "c", U8("k7"), 2, NULL, 0, &n));
    CHECK(n == 3);
    CHECK_OK(count_sync(job, "c", NULL, 0, U8("k1"), 2, &n));
    CHECK(n == 1);
    CHECK_OK(count_sync(job, "c", U8("k5"), 2, U8("k5"), 2, &n));
    CHECK(n == 0);
    CHECK_OK(count_sync(job, "nothing", NULL, 0, NULL, 0, &n));
    CHECK(n == 0);

    /* get_many: found rows in the order asked, missing ones left out. */
    keys[0].data = U8("k7");
    keys[0].len = 2;
    keys[1].data = U8("nope");
    keys[1].len = 4;
    keys[2].data = U8("k1");
    keys[2].len = 2;
    keys[3].data = NULL;
    keys[3].len = 0;
    keys[4].data = U8("k4");
    keys[4].len = 2;
    CHECK_OK(wait_status(persistency_get_many(job, "c", keys, 5, on_reply, &r), &r));
    CHECK_ROWS(&r, "k7", "k1", "k4");
    CHECK(r.count == 3);
    CHECK(bytes_eq(r.rows[0].payload, r.rows[0].payload_len, U8("v7"), 2));
    CHECK(bytes_eq(r.rows[1].payload, r.rows[1].payload_len, U8("v1"), 2));
    CHECK(bytes_eq(r.rows[2].payload, r.rows[2].payload_len, U8("v4"), 2));
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_get_many(job, "x", keys, 5, on_reply, &r), &r));
    CHECK_ROWS(&r, "k1");
    CHECK(r.count == 1 && bytes_eq(r.rows[0].payload, r.rows[0].payload_len, U8("other"), 5));
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_get_many(job, "c", keys, 0, on_reply, &r), &r));
    CHECK(r.row_count == 0 && r.count == 0);
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_delete_acked(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_stats before, after;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(put_sync(job, "c", "k", "v"));
    CHECK_OK(persistency_job_stats(job, &before));
    CHECK_OK(wait_status(persistency_delete_acked(job, "c", U8("k"), 1, on_reply, &r), &r));
    CHECK(r.found && r.calls == 1);
    CHECK_OK(persistency_job_stats(job, &after));
    CHECK(after.ops_applied == before.ops_applied + 1);
    reply_reset(&r);
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(!r.found);
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_delete_acked(job, "c", U8("k"), 1, on_reply, &r), &r));
    CHECK(!r.found);
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_scan_ranges(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(put_ten(job, "c"));
    CHECK_OK(persistency_put(job, "d", U8("k5"), 2, U8("x"), 1));

    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 0, &r));
    CHECK_ROWS(&r, "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9");
    CHECK(!r.has_more);
    CHECK(bytes_eq(r.rows[3].payload, r.rows[3].payload_len, U8("v3"), 2));
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, true, 0, &r));
    CHECK_ROWS(&r, "k9", "k8", "k7", "k6", "k5", "k4", "k3", "k2", "k1", "k0");
    CHECK(!r.has_more);
    reply_reset(&r);
    /* Half-open [k2, k5), both directions. */
    CHECK_OK(scan_sync(job, "c", U8("k2"), 2, U8("k5"), 2, false, 0, &r));
    CHECK_ROWS(&r, "k2", "k3", "k4");
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k2"), 2, U8("k5"), 2, true, 0, &r));
    CHECK_ROWS(&r, "k4", "k3", "k2");
    reply_reset(&r);
    /* Open-ended on either side; bounds that are not keys. */
    CHECK_OK(scan_sync(job, "c", U8("k7"), 2, NULL, 0, false, 0, &r));
    CHECK_ROWS(&r, "k7", "k8", "k9");
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", NULL, 0, U8("k3"), 2, true, 0, &r));
    CHECK_ROWS(&r, "k2", "k1", "k0");
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k35"), 3, U8("k6\xff"), 3, false, 0, &r));
    CHECK_ROWS(&r, "k4", "k5", "k6");
    reply_reset(&r);
    /* Empty and inverted ranges. */
    CHECK_OK(scan_sync(job, "c", U8("k5"), 2, U8("k5"), 2, false, 0, &r));
    CHECK(r.row_count == 0 && !r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k6"), 2, U8("k2"), 2, true, 3, &r));
    CHECK(r.row_count == 0 && !r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "d", NULL, 0, NULL, 0, false, 0, &r));
    CHECK_ROWS(&r, "k5");
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_scan_limit_has_more(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(put_ten(job, "c"));
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 3, &r));
    CHECK_ROWS(&r, "k0", "k1", "k2");
    CHECK(r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, true, 3, &r));
    CHECK_ROWS(&r, "k9", "k8", "k7");
    CHECK(r.has_more);
    reply_reset(&r);
    /* Exactly limit rows remaining: has_more is false. */
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 10, &r));
    CHECK(r.row_count == 10 && !r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k2"), 2, U8("k5"), 2, true, 3, &r));
    CHECK_ROWS(&r, "k4", "k3", "k2");
    CHECK(!r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k2"), 2, U8("k5"), 2, false, 2, &r));
    CHECK_ROWS(&r, "k2", "k3");
    CHECK(r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 11, &r));
    CHECK(r.row_count == 10 && !r.has_more);
    reply_reset(&r);
    CHECK_OK(scan_sync(job, "c", U8("k9"), 2, NULL, 0, false, 1, &r));
    CHECK_ROWS(&r, "k9");
    CHECK(!r.has_more);
    close_memory_job(p, job);
    reply_free(&r);
}

/* Pages through [start, stop) of category c with the given limit, following
 * the resume rule of API.md; returns the keys seen (joined with '|', bytes
 * outside printable ASCII as \\xx) and the number of pages. */
static int32_t paginate(persistency_job *job, const uint8_t *start, size_t start_len,
                        const uint8_t *stop, size_t stop_len, bool reverse, uint32_t limit,
                        char *seen, size_t seen_cap, int *pages) {
    uint8_t lo[64], hi[64];
    size_t lo_len = start_len, hi_len = stop_len, i;
    bool more = true;

    memcpy(lo, start, start_len);
    memcpy(hi, stop, stop_len);
    seen[0] = '\0';
    *pages = 0;
    while (more) {
        reply r;
        int32_t rc;
        reply_init(&r);
        rc = scan_sync(job, "c", lo, lo_len, hi, hi_len, reverse, limit, &r);
        if (rc != PERSISTENCY_OK || r.row_count > limit || (r.row_count == 0 && r.has_more) ||
            *pages > 100) {
            reply_free(&r);
            return rc != PERSISTENCY_OK ? rc : PERSISTENCY_ERR_INTERNAL;
        }
        (*pages)++;
        for (i = 0; i < r.row_count; i++) {
            size_t used = strlen(seen), j;
            if (used) snprintf(seen + used, seen_cap - used, "|");
            for (j = 0, used = strlen(seen); j < r.rows[i].key_len; j++, used = strlen(seen)) {
                uint8_t b = r.rows[i].key[j];
                snprintf(seen + used, seen_cap - used, (b >= 0x20 && b < 0x7f) ? "%c" : "\\%02x",
                         b);
            }
        }
        more = r.has_more;
        if (more) {
            const row_copy *last = &r.rows[r.row_count - 1];
            if (reverse) { /* descending: the last key becomes the stop */
                memcpy(hi, last->key, last->key_len);
                hi_len = last->key_len;
            } else { /* ascending: the last key plus 0x00 becomes the start */
                memcpy(lo, last->key, last->key_len);
                lo[last->key_len] = 0x00;
                lo_len = last->key_len + 1;
            }
        }
        reply_free(&r);
    }
    return PERSISTENCY_OK;
}

static void test_scan_pagination(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    char seen[512];
    int pages = 0;
    /* Keys that extend each other, so the resume rule matters. */
    const uint8_t a0[] = {'a', 0}, a00[] = {'a', 0, 0}, a01[] = {'a', 0, 1};

    CHECK_OK(memory_job(&p, &job));
    CHECK_OK(put_ten(job, "c"));
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, false, 3, seen, sizeof seen, &pages));
    CHECK(strcmp(seen, "k0|k1|k2|k3|k4|k5|k6|k7|k8|k9") == 0);
    CHECK(pages == 4);
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, true, 3, seen, sizeof seen, &pages));
    CHECK(strcmp(seen, "k9|k8|k7|k6|k5|k4|k3|k2|k1|k0") == 0);
    CHECK(pages == 4);
    /* 10 rows in pages of 5: exactly two pages, the second with has_more false. */
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, false, 5, seen, sizeof seen, &pages));
    CHECK(pages == 2);
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, true, 5, seen, sizeof seen, &pages));
    CHECK(pages == 2);
    CHECK_OK(paginate(job, U8("k2"), 2, U8("k8"), 2, false, 4, seen, sizeof seen, &pages));
    CHECK(strcmp(seen, "k2|k3|k4|k5|k6|k7") == 0 && pages == 2);
    CHECK_OK(paginate(job, U8("k2"), 2, U8("k8"), 2, true, 4, seen, sizeof seen, &pages));
    CHECK(strcmp(seen, "k7|k6|k5|k4|k3|k2") == 0 && pages == 2);

    CHECK_OK(persistency_delete_prefix(job, "c", NULL, 0));
    CHECK_OK(persistency_put(job, "c", U8("a"), 1, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", a0, 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", a00, 3, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", a01, 3, U8("x"), 1));
    CHECK_OK(persistency_put(job, "c", U8("b"), 1, U8("x"), 1));
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, false, 1, seen, sizeof seen, &pages));
    CHECKF(pages == 5 && strcmp(seen, "a|a\\00|a\\00\\00|a\\00\\01|b") == 0, "%d pages: %s",
           pages, seen);
    CHECK_OK(paginate(job, NULL, 0, NULL, 0, true, 2, seen, sizeof seen, &pages));
    CHECKF(pages == 3 && strcmp(seen, "b|a\\00\\01|a\\00\\00|a\\00|a") == 0, "%d pages: %s",
           pages, seen);
    close_memory_job(p, job);
}

/* Builds the key (topic, ts) into out; returns its length. */
static size_t topic_key(persistency_key *k, const char *topic, int64_t ts, uint8_t *out) {
    size_t len = 0;
    const uint8_t *data;
    persistency_key_clear(k);
    persistency_key_push_str(k, topic);
    if (ts >= 0) persistency_key_push_i64(k, ts);
    data = persistency_key_data(k, &len);
    memcpy(out, data, len);
    return len;
}

static void test_scan_prefix(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_key *k = persistency_key_new();
    uint8_t key[64], prefix[64];
    size_t key_len, prefix_len, i;
    int64_t ts;
    reply r;
    const uint8_t ff[] = {0xFF}, ff1[] = {0xFF, 0x01}, ff2[] = {0xFF, 0xFF}, fe[] = {0xFE};

    reply_init(&r);
    CHECK(k != NULL);
    CHECK_OK(memory_job(&p, &job));
    for (ts = -2; ts <= 2; ts++) {
        key_len = topic_key(k, "t1", ts + 1000, key);
        CHECK_OK(persistency_put(job, "m", key, key_len, U8("t1"), 2));
        key_len = topic_key(k, "t2", ts + 1000, key);
        CHECK_OK(persistency_put(job, "m", key, key_len, U8("t2"), 2));
    }
    key_len = topic_key(k, "t", 5, key); /* shorter topic: sorts before, not in t1's range */
    CHECK_OK(persistency_put(job, "m", key, key_len, U8("t"), 1));
    prefix_len = topic_key(k, "t1", -1, prefix);

    CHECK_OK(wait_status(persistency_scan_prefix(job, "m", prefix, prefix_len, false, 0, on_reply,
                                                 &r),
                         &r));
    CHECK(r.row_count == 5 && !r.has_more);
    for (i = 0; i < r.row_count; i++) {
        key_len = topic_key(k, "t1", 998 + (int64_t)i, key);
        CHECK(bytes_eq(r.rows[i].key, r.rows[i].key_len, key, key_len));
        CHECK(bytes_eq(r.rows[i].payload, r.rows[i].payload_len, U8("t1"), 2));
    }
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_scan_prefix(job, "m", prefix, prefix_len, true, 2, on_reply,
                                                 &r),
                         &r));
    CHECK(r.row_count == 2 && r.has_more);
    key_len = topic_key(k, "t1", 1002, key);
    CHECK(bytes_eq(r.rows[0].key, r.rows[0].key_len, key, key_len));
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_scan_prefix(job, "m", prefix, prefix_len, false, 5, on_reply,
                                                 &r),
                         &r));
    CHECK(r.row_count == 5 && !r.has_more);
    reply_reset(&r);
    /* The empty prefix is the whole category. */
    CHECK_OK(wait_status(persistency_scan_prefix(job, "m", NULL, 0, false, 0, on_reply, &r), &r));
    CHECK(r.row_count == 11);
    CHECK(bytes_eq(r.rows[0].payload, r.rows[0].payload_len, U8("t"), 1));
    reply_reset(&r);
    /* An all-0xFF prefix: open-ended. */
    CHECK_OK(persistency_put(job, "f", ff1, 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "f", ff2, 2, U8("x"), 1));
    CHECK_OK(persistency_put(job, "f", fe, 1, U8("x"), 1));
    CHECK_OK(persistency_put(job, "f", ff, 1, U8("x"), 1));
    CHECK_OK(wait_status(persistency_scan_prefix(job, "f", ff, 1, true, 0, on_reply, &r), &r));
    CHECK(r.row_count == 3);
    CHECK(bytes_eq(r.rows[0].key, r.rows[0].key_len, ff2, 2));
    CHECK(bytes_eq(r.rows[2].key, r.rows[2].key_len, ff, 1));
    persistency_key_free(k);
    close_memory_job(p, job);
    reply_free(&r);
}

static void test_read_your_writes(void) {
    enum { N = 150 };
    persistency *p = NULL;
    persistency_job *job = NULL;
    char root[1024];
    int i;

    CHECK_OK(persistency_new(test_root(root, sizeof root, "ryw"), &p));
    CHECK_OK(persistency_open_job(p, "ryw", &job));
    for (i = 0; i < N; i++) {
        uint8_t key[2] = {(uint8_t)(i >> 8), (uint8_t)i}, val[4];
        reply r;
        memcpy(val, &i, sizeof val);
        CHECK_OK(persistency_put(job, "c", key, 2, val, sizeof val));
        reply_init(&r);
        CHECK_OK(wait_status(persistency_get(job, "c", key, 2, on_reply, &r), &r));
        CHECKF(r.found && bytes_eq(r.value, r.value_len, val, sizeof val),
               "write %d not visible to the next read", i);
        reply_reset(&r);
        if (i % 3 == 0) {
            CHECK_OK(persistency_delete(job, "c", key, 2));
            CHECK_OK(wait_status(persistency_exists(job, "c", key, 2, on_reply, &r), &r));
            CHECKF(!r.found, "delete %d not visible to the next read", i);
        }
        reply_free(&r);
    }
    persistency_job_release(job);
    persistency_release(p);
}

static void test_stats(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_stats st;
    persistency_op ops[3];
    char root[1024];
    uint64_t n = 0;
    reply r;
    int i;

    reply_init(&r);
    CHECK_OK(persistency_new(test_root(root, sizeof root, "stats"), &p));
    CHECK_OK(persistency_open_job(p, "s", &job));
    memset(&st, 0xAB, sizeof st);
    CHECK_OK(persistency_job_stats(job, &st));
    CHECK(st.queued == 0 && st.ops_applied == 0 && st.ops_failed == 0 && st.transactions == 0 &&
          st.reads == 0);

    memset(ops, 0, sizeof ops);
    for (i = 0; i < 3; i++) {
        ops[i].kind = PERSISTENCY_OP_PUT;
        ops[i].category = "c";
        ops[i].key = U8("abc") + i;
        ops[i].key_len = 1;
    }
    CHECK_OK(persistency_write(job, ops, 3, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_put(job, "c", U8("d"), 1, NULL, 0));
    CHECK_OK(persistency_put(job, "c", U8("e"), 1, NULL, 0));
    CHECK_OK(get_sync(job, "c", "a", &r)); /* 1 read */
    reply_reset(&r);
    CHECK_OK(count_sync(job, "c", NULL, 0, NULL, 0, &n)); /* 2 */
    CHECK(n == 5);
    CHECK_OK(scan_sync(job, "c", NULL, 0, NULL, 0, false, 0, &r)); /* 3 */
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_exists(job, "c", U8("a"), 1, on_reply, &r), &r)); /* 4 */
    reply_reset(&r);
    CHECK_OK(wait_status(persistency_scan_prefix(job, "c", NULL, 0, false, 0, on_reply, &r),
                         &r)); /* 5 */
    reply_reset(&r);
    CHECK_OK(flush_sync(job));
    CHECK_OK(persistency_job_stats(job, &st));
    CHECKF(st.ops_applied == 5, "ops_applied %llu", (unsigned long long)st.ops_applied);
    CHECK(st.ops_failed == 0);
    CHECK(st.transactions >= 1 && st.transactions <= 3);
    CHECKF(st.reads == 5, "reads %llu", (unsigned long long)st.reads);
    CHECK(st.queued == 0);
    CHECK(st.db_bytes > 0);
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

int main(void) {
    static const test_case tests[] = {
        {"ops/put_get_replace_delete", test_put_get_replace_delete},
        {"ops/inputs_are_copied", test_inputs_are_copied},
        {"ops/large_payload", test_large_payload},
        {"ops/delete_prefix", test_delete_prefix},
        {"ops/batch_is_atomic", test_batch_is_atomic},
        {"ops/flush", test_flush},
        {"ops/exists_count_get_many", test_exists_count_get_many},
        {"ops/delete_acked", test_delete_acked},
        {"ops/scan_ranges", test_scan_ranges},
        {"ops/scan_limit_has_more", test_scan_limit_has_more},
        {"ops/scan_pagination", test_scan_pagination},
        {"ops/scan_prefix", test_scan_prefix},
        {"ops/read_your_writes", test_read_your_writes},
        {"ops/stats", test_stats},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
