/*
 * The link-safe archive keeps the library's panic boundary working.
 *
 * link-safe-archive.sh turns the Rust runtime's symbols (the unwinder's
 * personality routine among them) into local ones. run.sh links this
 * program against a link-safe archive of a `fault-injection` build, next to
 * Debian's static libsqlite3, and checks that panics at an entry point and
 * inside a worker still unwind to the boundary and become
 * PERSISTENCY_ERR_INTERNAL, and that the job goes on working.
 */
#include "harness.h"

#include <sqlite3.h>

/* The categories that make the fault-injection build panic (src/lib.rs). */
#define PANIC_AT_ENTRY "persistency.fault.panic-entry"
#define PANIC_IN_WORKER "persistency.fault.panic"

static void test_entry_panic_is_caught(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;

    CHECK_OK(open_instance("entry", &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK_STATUS(persistency_put(job, PANIC_AT_ENTRY, (const uint8_t *)"k", 1, NULL, 0),
                 PERSISTENCY_ERR_INTERNAL);
    CHECK(persistency_last_error() != NULL);
    CHECK_OK(put_sync(job, "c", "k", "still works"));
    persistency_job_release(job);
    persistency_release(p);
}

static void test_worker_panic_reaches_the_callback(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;

    CHECK_OK(open_instance("worker", &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    reply_init(&r);
    CHECK_OK(persistency_get(job, PANIC_IN_WORKER, (const uint8_t *)"k", 1, on_reply, &r));
    CHECK_REPLY(&r, PERSISTENCY_ERR_INTERNAL);
    reply_free(&r);
    reply_init(&r);
    CHECK_OK(put_sync(job, "c", "k", "v"));
    CHECK(get_sync(job, "c", "k", &r) == PERSISTENCY_OK && r.found);
    reply_free(&r);
    persistency_job_release(job);
    persistency_release(p);
}

static void test_host_sqlite_untouched(void) {
    CHECK(strcmp(sqlite3_libversion(), SQLITE_VERSION) == 0);
}

int main(void) {
    static const test_case tests[] = {
        {"archive panic/entry point panic becomes ERR_INTERNAL", test_entry_panic_is_caught},
        {"archive panic/worker panic reaches the callback as ERR_INTERNAL",
         test_worker_panic_reaches_the_callback},
        {"archive panic/host's SQLite is its own", test_host_sqlite_untouched},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
