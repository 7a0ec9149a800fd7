/*
 * NULL and bad arguments to every function: each status-returning call
 * gives PERSISTENCY_ERR_INVALID_ARGUMENT with a last_error message, never
 * invokes its callback and changes nothing; functions without a status
 * treat NULL as a no-op (or return NULL / false).
 */
#include "harness.h"

#include <stdlib.h>

#define U8(s) ((const uint8_t *)(s))

static void test_instance_args(void) {
    persistency *p = NULL;
    char root[1024];

    test_path(root, sizeof root, "args-root");
    CHECK_INVALID(persistency_new(NULL, &p));
    CHECK_INVALID(persistency_new(root, NULL));
    CHECK_INVALID(persistency_instance(NULL, &p));
    CHECK_INVALID(persistency_instance(root, NULL));
    CHECK_INVALID(persistency_instance_current(NULL));
    CHECK_INVALID(persistency_close(NULL));
    CHECK(persistency_root_dir(NULL) == NULL);
    persistency_release(NULL);
    /* The failed persistency_instance(root, NULL) installed nothing. */
    CHECK_CLOSED(persistency_instance_current(&p));
    CHECK(p == NULL);
}

static void test_job_registry_args(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    char root[1024], outside[1024];
    FILE *f;

    persistency_job_options_init(&o);
    persistency_job_options_init(NULL);
    test_path(root, sizeof root, "args-jobs");
    f = fopen(test_path(outside, sizeof outside, "victim.db"), "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_OK(persistency_new(root, &p));
    CHECK_INVALID(persistency_open_job(NULL, "j", &job));
    CHECK_INVALID(persistency_open_job(p, NULL, &job));
    CHECK_INVALID(persistency_open_job(p, "j", NULL));
    CHECK_INVALID(persistency_open_job_with(NULL, "j", &o, &job));
    CHECK_INVALID(persistency_open_job_with(p, NULL, &o, &job));
    CHECK_INVALID(persistency_open_job_with(p, "j", &o, NULL));
    CHECK_INVALID(persistency_find_job(NULL, "j", &job));
    CHECK_INVALID(persistency_find_job(p, NULL, &job));
    CHECK(!persistency_has_job(NULL, "j"));
    CHECK(!persistency_has_job(p, NULL));
    CHECK_INVALID(persistency_close_job(NULL, "j"));
    CHECK_INVALID(persistency_close_job(p, NULL));
    CHECK_INVALID(persistency_drop_job(NULL, "j"));
    CHECK_INVALID(persistency_drop_job(p, NULL));
    /* No path traversal: "../victim" never reaches the file system. */
    CHECK_INVALID(persistency_drop_job(p, "../victim"));
    CHECK(path_exists(outside));
    CHECK(!path_exists(root)); /* nothing above opened a job */
    CHECK(job == NULL);

    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK_INVALID(persistency_find_job(p, "j", NULL));
    CHECK(persistency_job_id(NULL) == NULL);
    persistency_job_release(NULL);
    persistency_job_release(job);
    persistency_release(p);
}

typedef struct arg_env {
    persistency *p;
    persistency_job *job;
    counter calls;
    char *long_category; /* 65536 bytes: one too many */
} arg_env;

static bool env_open(arg_env *e) {
    size_t n = 65536;
    memset(e, 0, sizeof *e);
    counter_init(&e->calls);
    e->long_category = malloc(n + 1);
    if (e->long_category == NULL) return false;
    memset(e->long_category, 'c', n);
    e->long_category[n] = '\0';
    return persistency_new(":memory:", &e->p) == PERSISTENCY_OK &&
           persistency_open_job(e->p, "args", &e->job) == PERSISTENCY_OK;
}

static void env_close(arg_env *e) {
    persistency_job_release(e->job);
    persistency_release(e->p);
    counter_destroy(&e->calls);
    free(e->long_category);
}

/* Flushes, then checks no rejected call called back or wrote anything. */
static bool env_untouched(arg_env *e) {
    reply r;
    bool ok;
    reply_init(&r);
    ok = persistency_flush(e->job, on_reply, &r) == PERSISTENCY_OK && reply_wait(&r);
    reply_reset(&r);
    ok = ok && counter_get(&e->calls) == 0;
    ok = ok && persistency_count(e->job, "c", NULL, 0, NULL, 0, on_reply, &r) == PERSISTENCY_OK &&
         reply_wait(&r) && r.status == PERSISTENCY_OK && r.count == 0;
    reply_free(&r);
    return ok;
}

static void test_write_args(void) {
    arg_env e;
    persistency_op op;
    const char *lc;

    CHECK(env_open(&e));
    lc = e.long_category;
    CHECK_INVALID(persistency_put(NULL, "c", U8("k"), 1, U8("v"), 1));
    CHECK_INVALID(persistency_put(e.job, NULL, U8("k"), 1, U8("v"), 1));
    CHECK_INVALID(persistency_put(e.job, "c", NULL, 1, U8("v"), 1));
    CHECK_INVALID(persistency_put(e.job, "c", U8("k"), 1, NULL, 1));
    CHECK_INVALID(persistency_put(e.job, lc, U8("k"), 1, U8("v"), 1));
    CHECK_INVALID(persistency_delete(NULL, "c", U8("k"), 1));
    CHECK_INVALID(persistency_delete(e.job, NULL, U8("k"), 1));
    CHECK_INVALID(persistency_delete(e.job, "c", NULL, 1));
    CHECK_INVALID(persistency_delete(e.job, lc, U8("k"), 1));
    CHECK_INVALID(persistency_delete_prefix(NULL, "c", U8("k"), 1));
    CHECK_INVALID(persistency_delete_prefix(e.job, NULL, U8("k"), 1));
    CHECK_INVALID(persistency_delete_prefix(e.job, "c", NULL, 1));
    CHECK_INVALID(persistency_delete_prefix(e.job, lc, U8("k"), 1));

    memset(&op, 0, sizeof op);
    op.kind = PERSISTENCY_OP_PUT;
    op.category = "c";
    op.key = U8("k");
    op.key_len = 1;
    CHECK_INVALID(persistency_write(NULL, &op, 1, on_count, &e.calls));
    CHECK_INVALID(persistency_write(e.job, NULL, 1, on_count, &e.calls));
    op.kind = 4; /* the first unused kind (3 is DELETE_RANGE) */
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    op.kind = 1000;
    CHECK_INVALID(persistency_write(e.job, &op, 1, NULL, NULL));
    op.kind = -1;
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    op.kind = PERSISTENCY_OP_DELETE;
    op.category = NULL;
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    op.category = lc;
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    op.category = "c";
    op.key = NULL;
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    op.kind = PERSISTENCY_OP_PUT;
    op.key = U8("k");
    op.payload_len = 4;
    CHECK_INVALID(persistency_write(e.job, &op, 1, on_count, &e.calls));
    CHECK_INVALID(persistency_flush(NULL, on_count, &e.calls));
    CHECK_INVALID(persistency_flush(e.job, NULL, NULL));
    CHECK(env_untouched(&e));
    env_close(&e);
}

static void test_read_args(void) {
    arg_env e;
    persistency_bytes keys[2];
    persistency_stats st;
    counter *c;
    const char *lc;
    const uint8_t k[] = {'k'};

    CHECK(env_open(&e));
    c = &e.calls;
    lc = e.long_category;
    keys[0].data = k;
    keys[0].len = 1;
    keys[1].data = NULL;
    keys[1].len = 1; /* NULL with a length */

    CHECK_INVALID(persistency_get(NULL, "c", k, 1, on_count, c));
    CHECK_INVALID(persistency_get(e.job, NULL, k, 1, on_count, c));
    CHECK_INVALID(persistency_get(e.job, "c", NULL, 1, on_count, c));
    CHECK_INVALID(persistency_get(e.job, "c", k, 1, NULL, c));
    CHECK_INVALID(persistency_get(e.job, lc, k, 1, on_count, c));
    CHECK_INVALID(persistency_exists(NULL, "c", k, 1, on_count, c));
    CHECK_INVALID(persistency_exists(e.job, NULL, k, 1, on_count, c));
    CHECK_INVALID(persistency_exists(e.job, "c", NULL, 1, on_count, c));
    CHECK_INVALID(persistency_exists(e.job, "c", k, 1, NULL, c));
    CHECK_INVALID(persistency_exists(e.job, lc, k, 1, on_count, c));
    CHECK_INVALID(persistency_scan(NULL, "c", k, 1, k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan(e.job, NULL, k, 1, k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan(e.job, "c", NULL, 1, k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan(e.job, "c", k, 1, NULL, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan(e.job, "c", k, 1, k, 1, false, 0, NULL, c));
    CHECK_INVALID(persistency_scan(e.job, lc, k, 1, k, 1, true, 5, on_count, c));
    CHECK_INVALID(persistency_scan_prefix(NULL, "c", k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan_prefix(e.job, NULL, k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan_prefix(e.job, "c", NULL, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_scan_prefix(e.job, "c", k, 1, false, 0, NULL, c));
    CHECK_INVALID(persistency_scan_prefix(e.job, lc, k, 1, false, 0, on_count, c));
    CHECK_INVALID(persistency_count(NULL, "c", k, 1, k, 1, on_count, c));
    CHECK_INVALID(persistency_count(e.job, NULL, k, 1, k, 1, on_count, c));
    CHECK_INVALID(persistency_count(e.job, "c", NULL, 1, k, 1, on_count, c));
    CHECK_INVALID(persistency_count(e.job, "c", k, 1, NULL, 1, on_count, c));
    CHECK_INVALID(persistency_count(e.job, "c", k, 1, k, 1, NULL, c));
    CHECK_INVALID(persistency_count(e.job, lc, k, 1, k, 1, on_count, c));
    CHECK_INVALID(persistency_delete_acked(NULL, "c", k, 1, on_count, c));
    CHECK_INVALID(persistency_delete_acked(e.job, NULL, k, 1, on_count, c));
    CHECK_INVALID(persistency_delete_acked(e.job, "c", NULL, 1, on_count, c));
    CHECK_INVALID(persistency_delete_acked(e.job, "c", k, 1, NULL, c));
    CHECK_INVALID(persistency_delete_acked(e.job, lc, k, 1, on_count, c));
    CHECK_INVALID(persistency_get_many(NULL, "c", keys, 1, on_count, c));
    CHECK_INVALID(persistency_get_many(e.job, NULL, keys, 1, on_count, c));
    CHECK_INVALID(persistency_get_many(e.job, "c", NULL, 1, on_count, c));
    CHECK_INVALID(persistency_get_many(e.job, "c", keys, 2, on_count, c));
    CHECK_INVALID(persistency_get_many(e.job, "c", keys, 1, NULL, c));
    CHECK_INVALID(persistency_get_many(e.job, lc, keys, 1, on_count, c));
    CHECK_INVALID(persistency_job_stats(NULL, &st));
    CHECK_INVALID(persistency_job_stats(e.job, NULL));
    CHECK(env_untouched(&e));
    env_close(&e);
}

static void test_longest_category_is_fine(void) {
    arg_env e;
    reply r;

    CHECK(env_open(&e));
    reply_init(&r);
    e.long_category[65535] = '\0'; /* 65535 bytes: the longest allowed */
    CHECK_OK(persistency_put(e.job, e.long_category, U8("k"), 1, U8("v"), 1));
    CHECK_OK(get_sync(e.job, e.long_category, "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, U8("v"), 1));
    reply_free(&r);
    env_close(&e);
}

static void test_success_clears_error(void) {
    arg_env e;
    persistency_stats st;

    CHECK(env_open(&e));
    CHECK_INVALID(persistency_put(e.job, NULL, NULL, 0, NULL, 0));
    CHECK_OK(persistency_put(e.job, "c", NULL, 0, NULL, 0));
    CHECK_INVALID(persistency_job_stats(e.job, NULL));
    CHECK_OK(persistency_job_stats(e.job, &st));
    CHECK_INVALID(persistency_flush(e.job, NULL, NULL));
    CHECK_OK(persistency_close_job(e.p, "not-open"));
    env_close(&e);
}

int main(void) {
    static const test_case tests[] = {
        {"args/instance_args", test_instance_args},
        {"args/job_registry_args", test_job_registry_args},
        {"args/write_args", test_write_args},
        {"args/read_args", test_read_args},
        {"args/longest_category_is_fine", test_longest_category_is_fine},
        {"args/success_clears_error", test_success_clears_error},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
