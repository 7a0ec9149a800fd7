/*
 * Maintenance (issue 14): delete_range (call and batch op), job_backup,
 * job_compact, job_check, metrics_text and string_free, with bad input.
 */
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>

#define U8(s) ((const uint8_t *)(s))

static int32_t wait_status(int32_t rc, reply *r) {
    if (rc != PERSISTENCY_OK) return rc;
    return reply_wait(r) ? r->status : PERSISTENCY_ERR_TIMEOUT;
}

static int32_t count_all(persistency_job *job, const char *cat, uint64_t *out) {
    reply r;
    int32_t rc;
    reply_init(&r);
    rc = wait_status(persistency_count(job, cat, NULL, 0, NULL, 0, on_reply, &r), &r);
    *out = r.count;
    reply_free(&r);
    return rc;
}

static int32_t puts_sync(persistency_job *job, const char *keys) {
    const char *k;
    int32_t rc = PERSISTENCY_OK;
    char key[2] = {0, 0};
    for (k = keys; *k && rc == PERSISTENCY_OK; k++) {
        key[0] = *k;
        rc = put_sync(job, "c", key, "payload");
    }
    return rc;
}

static void test_delete_range(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_op ops[2];
    uint64_t n = 0;
    reply r;

    reply_init(&r);
    CHECK_OK(open_instance("range", &p));
    CHECK_OK(persistency_open_job(p, "r", &job));
    CHECK_OK(puts_sync(job, "abcdefgh"));
    CHECK_OK(persistency_delete_range(job, "c", U8("b"), 1, U8("d"), 1));
    CHECK_OK(count_all(job, "c", &n));
    CHECKF(n == 6, "%llu rows after [b, d)", (unsigned long long)n);
    /* stop_len 0: no upper bound. */
    CHECK_OK(persistency_delete_range(job, "c", U8("g"), 1, NULL, 0));
    CHECK_OK(count_all(job, "c", &n));
    CHECKF(n == 4, "%llu rows after [g, end)", (unsigned long long)n);
    /* As a batch op: key is the start, payload the stop. */
    memset(ops, 0, sizeof ops);
    ops[0].kind = PERSISTENCY_OP_DELETE_RANGE;
    ops[0].category = "c";
    ops[0].key = U8("a");
    ops[0].key_len = 1;
    ops[0].payload = U8("e");
    ops[0].payload_len = 1;
    ops[1].kind = PERSISTENCY_OP_PUT;
    ops[1].category = "c";
    ops[1].key = U8("z");
    ops[1].key_len = 1;
    CHECK_OK(persistency_write(job, ops, 2, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(count_all(job, "c", &n)); /* e, f, z */
    CHECKF(n == 3, "%llu rows after the batch", (unsigned long long)n);
    /* Bad input: start after stop (call and batch), NULLs. */
    CHECK_INVALID(persistency_delete_range(job, "c", U8("x"), 1, U8("b"), 1));
    ops[0].key = U8("y");
    CHECK_INVALID(persistency_write(job, ops, 2, on_reply, &r));
    CHECK(r.calls == 0);
    CHECK_INVALID(persistency_delete_range(NULL, "c", NULL, 0, NULL, 0));
    CHECK_INVALID(persistency_delete_range(job, NULL, NULL, 0, NULL, 0));
    CHECK_INVALID(persistency_delete_range(job, "c", NULL, 3, NULL, 0));
    CHECK_INVALID(persistency_delete_range(job, "c", NULL, 0, NULL, 3));
    CHECK_OK(count_all(job, "c", &n));
    CHECK(n == 3);
    CHECK_OK(persistency_close_job(p, "r"));
    CHECK_CLOSED(persistency_delete_range(job, "c", NULL, 0, NULL, 0));
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

static void test_backup(void) {
    persistency *p = NULL, *restored = NULL;
    persistency_job *job = NULL, *copy = NULL;
    char dest[1024], missing[1024], root[1024], moved[1100];
    reply r;

    reply_init(&r);
    CHECK_OK(open_instance("backup", &p));
    CHECK_OK(persistency_open_job(p, "b", &job));
    CHECK_OK(puts_sync(job, "abc"));
    CHECK_OK(persistency_put(job, "c", U8("d"), 1, U8("fire-and-forget"), 15));
    test_path(dest, sizeof dest, "b.backup");
    CHECK_OK(persistency_job_backup(job, dest, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK(path_exists(dest));
    /* The copy opens as a job file and holds every write before the call. */
    test_path(root, sizeof root, "restored");
    CHECK(mkdir(root, 0700) == 0);
    snprintf(moved, sizeof moved, "%s/copy.db", root);
    CHECK(rename(dest, moved) == 0);
    CHECK_OK(persistency_new(root, &restored));
    CHECK_OK(persistency_open_job(restored, "copy", &copy));
    CHECK_OK(get_sync(copy, "c", "d", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("fire-and-forget"), 15));
    reply_reset(&r);
    /* Bad input. */
    CHECK_INVALID(persistency_job_backup(job, moved, on_reply, &r)); /* exists */
    CHECK_INVALID(persistency_job_backup(job, test_path(missing, sizeof missing, "no/dir/b.db"),
                                         on_reply, &r));
    CHECK_INVALID(persistency_job_backup(job, NULL, on_reply, &r));
    CHECK_INVALID(persistency_job_backup(job, "", on_reply, &r));
    CHECK_INVALID(persistency_job_backup(job, dest, NULL, NULL));
    CHECK_INVALID(persistency_job_backup(NULL, dest, on_reply, &r));
    CHECK(r.calls == 0);
    CHECK_OK(persistency_close_job(p, "b"));
    CHECK_CLOSED(persistency_job_backup(job, dest, on_reply, &r));
    CHECK(!path_exists(dest));
    persistency_job_release(copy);
    persistency_release(restored);
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

static void test_backup_in_memory(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    char dest[1024];
    reply r;

    reply_init(&r);
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job(p, "m", &job));
    CHECK_OK(puts_sync(job, "xyz"));
    CHECK_OK(persistency_job_backup(job, test_path(dest, sizeof dest, "m.db"), on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    CHECK(path_exists(dest));
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

static void test_compact_and_check(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_stats before, after;
    persistency_op ops[100];
    uint8_t keys[100], payload[2000];
    int i, round;
    reply r;

    reply_init(&r);
    memset(payload, 7, sizeof payload);
    CHECK_OK(open_instance("compact", &p));
    CHECK_OK(persistency_open_job(p, "k", &job));
    for (round = 0; round < 20; round++) {
        memset(ops, 0, sizeof ops);
        for (i = 0; i < 100; i++) {
            keys[i] = (uint8_t)i;
            ops[i].kind = PERSISTENCY_OP_PUT;
            ops[i].category = round % 2 ? "odd" : "even";
            ops[i].key = &keys[i];
            ops[i].key_len = 1;
            ops[i].payload = payload;
            ops[i].payload_len = sizeof payload - (size_t)round;
        }
        CHECK_OK(persistency_write(job, ops, 100, on_reply, &r));
        CHECK_REPLY(&r, PERSISTENCY_OK);
        reply_reset(&r);
    }
    CHECK_OK(persistency_job_compact(job, on_reply, &r)); /* checkpoints the fill */
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_job_stats(job, &before));
    CHECK_OK(persistency_delete_range(job, "even", NULL, 0, NULL, 0));
    CHECK_OK(persistency_delete_range(job, "odd", NULL, 0, U8("\x50"), 1));
    CHECK_OK(persistency_job_compact(job, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_job_stats(job, &after));
    CHECKF(after.db_bytes * 2 < before.db_bytes, "%llu of %llu bytes",
           (unsigned long long)after.db_bytes, (unsigned long long)before.db_bytes);
    CHECK_OK(persistency_job_check(job, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    CHECK(r.error == NULL);
    reply_reset(&r);
    CHECK_INVALID(persistency_job_compact(job, NULL, NULL));
    CHECK_INVALID(persistency_job_check(job, NULL, NULL));
    CHECK_INVALID(persistency_job_compact(NULL, on_reply, &r));
    CHECK_INVALID(persistency_job_check(NULL, on_reply, &r));
    CHECK(r.calls == 0);
    CHECK_OK(persistency_close_job(p, "k"));
    CHECK_CLOSED(persistency_job_compact(job, on_reply, &r));
    CHECK_CLOSED(persistency_job_check(job, on_reply, &r));
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

static void test_check_damaged_file(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_op ops[200];
    uint8_t keys[200][2], payload[300];
    char file[1024];
    FILE *f;
    long size;
    int i;
    reply r;

    reply_init(&r);
    memset(payload, 1, sizeof payload);
    memset(ops, 0, sizeof ops);
    CHECK_OK(open_instance("damaged", &p));
    CHECK_OK(persistency_open_job(p, "d", &job));
    for (i = 0; i < 200; i++) {
        keys[i][0] = (uint8_t)(i / 100);
        keys[i][1] = (uint8_t)i;
        ops[i].kind = PERSISTENCY_OP_PUT;
        ops[i].category = "c";
        ops[i].key = keys[i];
        ops[i].key_len = 2;
        ops[i].payload = payload;
        ops[i].payload_len = sizeof payload;
    }
    CHECK_OK(persistency_write(job, ops, 200, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_job_compact(job, on_reply, &r)); /* everything into the file */
    CHECK_REPLY(&r, PERSISTENCY_OK);
    reply_reset(&r);
    CHECK_OK(persistency_close_job(p, "d"));
    persistency_job_release(job);
    job = NULL;
    /* Scribble over a page in the middle of the table. */
    snprintf(file, sizeof file, "%s/damaged/d.db", test_dir());
    f = fopen(file, "r+b");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    size = ftell(f);
    CHECK(size > 8 * 4096);
    CHECK(fseek(f, size / 4096 / 2 * 4096, SEEK_SET) == 0);
    for (i = 0; i < 4096; i++) fputc(0xA5, f);
    CHECK(fclose(f) == 0);
    CHECK_OK(persistency_open_job(p, "d", &job));
    CHECK_OK(persistency_job_check(job, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_ERR_BACKEND);
    CHECKF(r.backend_code == 11, "backend_code %d, want SQLITE_CORRUPT", r.backend_code);
    CHECK(r.error != NULL && strstr(r.error, "integrity check failed") != NULL);
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

/* The value of the sample line that starts with prefix, or -1. */
static long long sample_value(const char *text, const char *prefix) {
    const char *line = text;
    size_t n = strlen(prefix);
    while (line && *line) {
        if (strncmp(line, prefix, n) == 0) return atoll(line + n);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return -1;
}

static void test_metrics_text(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_stats st;
    char *text;
    reply r;

    reply_init(&r);
    CHECK(persistency_metrics_text(NULL) == NULL);
    CHECK(persistency_last_error() != NULL);
    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job(p, "m", &job));
    CHECK_OK(puts_sync(job, "abcd"));
    CHECK_OK(get_sync(job, "c", "a", &r));
    reply_reset(&r);
    CHECK_OK(persistency_job_stats(job, &st));
    text = persistency_metrics_text(p);
    CHECK(text != NULL);
    CHECK(persistency_last_error() == NULL);
    CHECK(strstr(text, "# TYPE persistency_ops_applied_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE persistency_live_bytes gauge\n") != NULL);
    CHECK(strstr(text, "# HELP persistency_errors_total ") != NULL);
    CHECK(sample_value(text, "persistency_ops_applied_total{job=\"m\"} ") ==
          (long long)st.ops_applied);
    CHECK(sample_value(text, "persistency_reads_total{job=\"m\"} ") == (long long)st.reads);
    CHECK(sample_value(text, "persistency_transactions_total{job=\"m\"} ") ==
          (long long)st.transactions);
    CHECK(sample_value(text, "persistency_file_size_bytes{job=\"m\"} ") ==
          (long long)st.db_bytes);
    CHECK(sample_value(text, "persistency_errors_total{job=\"m\",kind=\"full\"} ") == 0);
    persistency_string_free(text);
    persistency_string_free(NULL);
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

static long long file_bytes(const char *db) {
    char wal[1100];
    long long total = 0;
    struct stat st;
    if (stat(db, &st) == 0) total += (long long)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (stat(wal, &st) == 0) total += (long long)st.st_size;
    return total;
}

/* The Rust and Go tests' scenario: 20 cycles of writing twice the cap;
 * after every commit settles the files are within 15 % of the cap and the
 * rows kept are the newest, contiguous. */
static void test_retention(void) {
    enum { CAP = 512 * 1024, ROW = 400, BATCH = 50 };
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    const char *categories[] = {"msgs"};
    persistency_op ops[BATCH];
    uint8_t keys[BATCH][4], payload[ROW];
    char db[1024];
    uint32_t next = 0, k;
    uint64_t kept = 0;
    int cycle, b, i;
    reply r;

    reply_init(&r);
    memset(payload, 1, sizeof payload);
    CHECK_OK(persistency_job_options_init_sized(&o, sizeof o));
    CHECK(o.struct_size == sizeof o);
    CHECK(o.retention_max_bytes == 0 && o.retention_categories == NULL &&
          o.retention_category_count == 0);
    o.retention_max_bytes = CAP;
    o.retention_categories = categories;
    o.retention_category_count = 1;
    CHECK_OK(open_instance("retention", &p));
    CHECK_OK(persistency_open_job_with(p, "capped", &o, &job));
    snprintf(db, sizeof db, "%s/retention/capped.db", test_dir());
    for (cycle = 0; cycle < 20; cycle++) {
        for (b = 0; b < 2 * CAP / (BATCH * ROW); b++) {
            memset(ops, 0, sizeof ops);
            for (i = 0; i < BATCH; i++) {
                k = next + (uint32_t)i; /* big-endian: keys sort as numbers */
                keys[i][0] = (uint8_t)(k >> 24);
                keys[i][1] = (uint8_t)(k >> 16);
                keys[i][2] = (uint8_t)(k >> 8);
                keys[i][3] = (uint8_t)k;
                ops[i].kind = PERSISTENCY_OP_PUT;
                ops[i].category = "msgs";
                ops[i].key = keys[i];
                ops[i].key_len = 4;
                ops[i].payload = payload;
                ops[i].payload_len = ROW;
            }
            CHECK_OK(persistency_write(job, ops, BATCH, on_reply, &r));
            CHECK_REPLY(&r, PERSISTENCY_OK);
            reply_reset(&r);
            next += BATCH;
            CHECK_OK(persistency_flush(job, on_reply, &r)); /* after retention */
            CHECK_REPLY(&r, PERSISTENCY_OK);
            reply_reset(&r);
            CHECKF(file_bytes(db) <= CAP + CAP * 15 / 100, "cycle %d: %lld bytes, cap %d", cycle,
                   file_bytes(db), CAP);
        }
        /* The newest rows, contiguous: the last key and exactly `kept` before it. */
        CHECK_OK(persistency_scan(job, "msgs", NULL, 0, NULL, 0, false, 0, on_reply, &r));
        CHECK_REPLY(&r, PERSISTENCY_OK);
        kept = r.row_count;
        CHECK(kept > 0 && kept < next);
        for (i = 0; i < (int)kept; i++) {
            const uint8_t *key = r.rows[i].key;
            k = ((uint32_t)key[0] << 24) | ((uint32_t)key[1] << 16) | ((uint32_t)key[2] << 8) |
                key[3];
            CHECKF(k == next - (uint32_t)kept + (uint32_t)i, "cycle %d: row %d has key %u", cycle,
                   i, k);
        }
        reply_reset(&r);
    }
    /* A write over half the cap is refused whole. */
    memset(ops, 0, sizeof ops);
    ops[0].kind = PERSISTENCY_OP_PUT;
    ops[0].category = "msgs";
    ops[0].key = U8("big");
    ops[0].key_len = 3;
    {
        uint8_t *big = calloc(CAP / 2 + 1, 1);
        CHECK(big != NULL);
        ops[0].payload = big;
        ops[0].payload_len = CAP / 2 + 1;
        CHECK_OK(persistency_write(job, ops, 1, on_reply, &r));
        free(big);
    }
    CHECK_REPLY(&r, PERSISTENCY_ERR_FULL);
    reply_reset(&r);
    /* A NULL category is refused; first- and second-version struct sizes
     * still open (without retention); a size inside a field is refused. */
    categories[0] = NULL;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.struct_size = 40;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.struct_size = 24;
    persistency_job_release(job);
    job = NULL;
    CHECK_OK(persistency_open_job_with(p, "v1", &o, &job));
    persistency_job_release(job);
    job = NULL;
    o.struct_size = 32;
    CHECK_OK(persistency_open_job_with(p, "v2", &o, &job));
    persistency_job_release(job);
    persistency_release(p);
    reply_free(&r);
}

int main(void) {
    static const test_case tests[] = {
        {"maintenance/delete_range", test_delete_range},
        {"maintenance/backup", test_backup},
        {"maintenance/backup_in_memory", test_backup_in_memory},
        {"maintenance/compact_and_check", test_compact_and_check},
        {"maintenance/check_damaged_file", test_check_damaged_file},
        {"maintenance/metrics_text", test_metrics_text},
        {"maintenance/retention", test_retention},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
