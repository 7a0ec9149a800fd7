/*
 * The process-wide instance: persistency_instance / _current / _reset.
 * Its own program, because the slot is global to the process.
 */
#include "harness.h"

#include <stdlib.h>

/* What a callback saw when it tried to reset from the worker thread. */
typedef struct reset_probe {
    reply done;
    int32_t reset_status;
    bool had_message;
} reset_probe;

static void reset_from_callback(const persistency_result *result, void *user_data) {
    reset_probe *probe = user_data;
    probe->reset_status = persistency_reset();
    probe->had_message = persistency_last_error() != NULL;
    on_reply(result, &probe->done);
}

static void test_no_instance_yet(void) {
    persistency *p = NULL;
    CHECK_CLOSED(persistency_instance_current(&p));
    CHECK(p == NULL);
    CHECK_OK(persistency_reset()); /* empty slot: OK */
    CHECK_CLOSED(persistency_instance_current(&p));
}

static void test_bad_root_installs_nothing(void) {
    char file[1024];
    persistency *p = NULL;
    FILE *f = fopen(test_path(file, sizeof file, "not-a-dir"), "w");

    CHECK(f != NULL);
    fclose(f);
    CHECK_INVALID(persistency_instance("", &p));
    CHECK_INVALID(persistency_instance(file, &p));
    CHECK_INVALID(persistency_instance(NULL, &p));
    CHECK_CLOSED(persistency_instance_current(&p));
    CHECK(p == NULL);
}

static void test_same_root_same_instance(void) {
    char root_a[1024], root_b[1024], alias[1100];
    persistency *p1 = NULL, *p2 = NULL, *cur = NULL, *other = NULL;

    test_path(root_a, sizeof root_a, "global-a");
    test_path(root_b, sizeof root_b, "global-b");
    snprintf(alias, sizeof alias, "%s/../global-a", root_a);
    CHECK_OK(persistency_instance(root_a, &p1));
    CHECK_OK(persistency_instance(root_a, &p2));
    CHECK(p1 == p2);
    CHECK_OK(persistency_instance_current(&cur));
    CHECK(cur == p1);
    CHECK(strcmp(persistency_root_dir(cur), root_a) == 0);
    /* Another root, even another spelling of the same one, is refused. */
    CHECK_INVALID(persistency_instance(root_b, &other));
    CHECK_INVALID(persistency_instance(alias, &other));
    CHECK(other == NULL);
    /* Every handle is a reference of its own; dropping them keeps the slot. */
    persistency_release(p1);
    persistency_release(p2);
    persistency_release(cur);
    cur = NULL;
    CHECK_OK(persistency_instance_current(&cur));
    CHECK(strcmp(persistency_root_dir(cur), root_a) == 0);
    persistency_release(cur);
    CHECK_OK(persistency_reset());
}

static void test_reset_closes_old_handles(void) {
    char root_a[1024], root_b[1024];
    persistency *old = NULL, *fresh = NULL, *cur = NULL;
    persistency_job *job = NULL, *again = NULL;
    persistency_stats st;
    reply r;

    reply_init(&r);
    test_path(root_a, sizeof root_a, "reset-a");
    test_path(root_b, sizeof root_b, "reset-b");
    CHECK_OK(persistency_instance(root_a, &old));
    CHECK_OK(persistency_open_job(old, "j", &job));
    CHECK_OK(put_sync(job, "c", "k", "v"));

    CHECK_OK(persistency_reset());
    CHECK_CLOSED(persistency_instance_current(&cur));
    /* The old instance and its jobs are closed for good. */
    CHECK_CLOSED(persistency_put(job, "c", (const uint8_t *)"k", 1, NULL, 0));
    CHECK_CLOSED(persistency_get(job, "c", (const uint8_t *)"k", 1, on_reply, &r));
    CHECK_CLOSED(persistency_job_stats(job, &st));
    CHECK_CLOSED(persistency_open_job(old, "j", &again));
    CHECK_CLOSED(persistency_open_job(old, "other", &again));
    CHECK_CLOSED(persistency_find_job(old, "j", &again));
    CHECK(!persistency_has_job(old, "j"));
    CHECK(again == NULL);
    CHECK_OK(persistency_reset()); /* idempotent */

    /* Now another root may be installed; the old one keeps its data. */
    CHECK_OK(persistency_instance(root_b, &fresh));
    CHECK(fresh != old);
    CHECK_OK(persistency_instance_current(&cur));
    CHECK(cur == fresh);
    persistency_release(cur);
    CHECK_OK(persistency_reset());
    persistency_release(fresh);
    fresh = NULL;
    CHECK_OK(persistency_instance(root_a, &fresh));
    CHECK_OK(persistency_open_job(fresh, "j", &again));
    CHECK_OK(get_sync(again, "c", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, (const uint8_t *)"v", 1));
    CHECK(r.calls == 1);

    persistency_job_release(again);
    persistency_job_release(job);
    persistency_release(old);
    persistency_release(fresh);
    CHECK_OK(persistency_reset());
    reply_free(&r);
}

static void test_reset_completes_pending_callbacks(void) {
    enum { N = 300 };
    char root[1024];
    persistency *p = NULL;
    persistency_job *job = NULL;
    counter done;
    int i;

    counter_init(&done);
    CHECK_OK(persistency_instance(test_path(root, sizeof root, "reset-pending"), &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    for (i = 0; i < N; i++) {
        uint8_t key[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        persistency_op op = {PERSISTENCY_OP_PUT, "c", key, 2, key, 2};
        CHECK_OK(persistency_write(job, &op, 1, on_count, &done));
    }
    CHECK_OK(persistency_reset());
    /* reset closed the job: every accepted callback has run, none twice. */
    CHECK(counter_get(&done) == N);
    persistency_job_release(job);
    persistency_release(p);
    counter_destroy(&done);
}

static void test_reset_from_callback_refused(void) {
    char root[1024];
    persistency *p = NULL, *cur = NULL;
    persistency_job *job = NULL;
    reset_probe probe;
    reply r;

    reply_init(&probe.done);
    reply_init(&r);
    probe.reset_status = -1;
    probe.had_message = false;
    CHECK_OK(persistency_instance(test_path(root, sizeof root, "reset-cb"), &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK_OK(persistency_flush(job, reset_from_callback, &probe));
    CHECK_REPLY(&probe.done, PERSISTENCY_OK);
    CHECK_STATUS(probe.reset_status, PERSISTENCY_ERR_INVALID_ARGUMENT);
    CHECK(probe.had_message);
    /* Nothing changed: the slot and the job are intact. */
    CHECK_OK(persistency_instance_current(&cur));
    CHECK(cur == p);
    CHECK_OK(put_sync(job, "c", "k", "still open"));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(r.found);
    persistency_release(cur);
    persistency_job_release(job);
    CHECK_OK(persistency_reset());
    persistency_release(p);
    reply_free(&probe.done);
    reply_free(&r);
}

static void test_instance_and_new_coexist(void) {
    char root[1024];
    persistency *global = NULL, *own = NULL, *cur = NULL;

    test_path(root, sizeof root, "coexist");
    CHECK_OK(persistency_instance(root, &global));
    CHECK_OK(persistency_new(root, &own));
    CHECK(own != global);
    /* reset leaves independent instances alone. */
    CHECK_OK(persistency_reset());
    CHECK_CLOSED(persistency_instance_current(&cur));
    {
        persistency_job *job = NULL;
        CHECK_OK(persistency_open_job(own, "j", &job));
        persistency_job_release(job);
    }
    persistency_release(global);
    persistency_release(own);
}

int main(void) {
    static const test_case tests[] = {
        {"global/no_instance_yet", test_no_instance_yet},
        {"global/bad_root_installs_nothing", test_bad_root_installs_nothing},
        {"global/same_root_same_instance", test_same_root_same_instance},
        {"global/reset_closes_old_handles", test_reset_closes_old_handles},
        {"global/reset_completes_pending_callbacks", test_reset_completes_pending_callbacks},
        {"global/reset_from_callback_refused", test_reset_from_callback_refused},
        {"global/instance_and_new_coexist", test_instance_and_new_coexist},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
