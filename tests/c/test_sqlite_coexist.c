/*
 * libpersistency and the host's own SQLite in one process.
 *
 * run.sh builds this program several ways: the link-safe static archive
 * next to Debian's libsqlite3 (static and shared), and the shared library
 * with libsqlite3 loaded before it. Each way, the host's sqlite3_* calls
 * must reach the host's SQLite (sqlite3_libversion() is the version of the
 * sqlite3.h it was compiled with) while the library keeps using its own
 * bundled copy (persistency_sqlite_version() is the bundled version) and
 * works. A symbol clash would fail the link; an interposition either way
 * would show as a wrong version on one side.
 */
#include "harness.h"

#include <sqlite3.h>
#include <stdlib.h>

#ifndef PERSISTENCY_EXPECTED_SQLITE
#error "build with -DPERSISTENCY_EXPECTED_SQLITE=\"3.x.y\" (the bundled SQLite's version)"
#endif

static void test_host_sees_its_own_sqlite(void) {
    CHECKF(strcmp(sqlite3_libversion(), SQLITE_VERSION) == 0,
           "host's sqlite3_libversion() is %s, its sqlite3.h says %s", sqlite3_libversion(),
           SQLITE_VERSION);
    CHECK(sqlite3_libversion_number() == SQLITE_VERSION_NUMBER);
}

static void test_library_sees_its_bundled_sqlite(void) {
    const char *v = persistency_sqlite_version();

    CHECK(v != NULL);
    CHECKF(strcmp(v, PERSISTENCY_EXPECTED_SQLITE) == 0, "library runs on SQLite %s, want %s", v,
           PERSISTENCY_EXPECTED_SQLITE);
    /* The point of the test: two different SQLites in one process. */
    CHECKF(strcmp(v, sqlite3_libversion()) != 0,
           "host and library report the same SQLite %s: nothing is tested", v);
}

/* Both SQLites at work at once: the host holds a write transaction on its
 * own database while the library writes and reads a job; then the host's
 * SQLite reads the file the library wrote. */
static void test_both_work_together(void) {
    char root[1024], host_db[1024], job_db[1100];
    sqlite3 *host = NULL;
    sqlite3_stmt *stmt = NULL;
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;
    int rc;

    test_path(host_db, sizeof host_db, "host.db");
    CHECK(sqlite3_open(host_db, &host) == SQLITE_OK);
    CHECK(sqlite3_exec(host, "CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (42);", NULL, NULL,
                       NULL) == SQLITE_OK);

    CHECK_OK(persistency_new(test_path(root, sizeof root, "root"), &p));
    CHECK_OK(persistency_open_job(p, "coexist", &job));
    CHECK_OK(put_sync(job, "c", "k", "from the library"));
    reply_init(&r);
    rc = get_sync(job, "c", "k", &r);
    CHECKF(rc == PERSISTENCY_OK, "get: %s", persistency_status_name(rc));
    CHECK(r.found && bytes_eq(r.value, r.value_len, (const uint8_t *)"from the library", 16));
    reply_free(&r);
    persistency_job_release(job);
    CHECK_OK(persistency_close_job(p, "coexist"));

    CHECK(sqlite3_exec(host, "COMMIT;", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_close(host) == SQLITE_OK);

    /* The job file is an ordinary SQLite database: the host's SQLite reads it. */
    snprintf(job_db, sizeof job_db, "%s/coexist.db", root);
    CHECK(sqlite3_open_v2(job_db, &host, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(host, "SELECT payload FROM kv WHERE category = X'63' AND key = X'6b'",
                             -1, &stmt, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(sqlite3_column_bytes(stmt, 0) == 16 &&
          memcmp(sqlite3_column_blob(stmt, 0), "from the library", 16) == 0);
    sqlite3_finalize(stmt);
    CHECK(sqlite3_close(host) == SQLITE_OK);
    persistency_release(p);
}

int main(void) {
    static const test_case tests[] = {
        {"coexist/host's sqlite3_libversion() is the system SQLite", test_host_sees_its_own_sqlite},
        {"coexist/persistency_sqlite_version() is the bundled SQLite",
         test_library_sees_its_bundled_sqlite},
        {"coexist/host SQLite and library work in one process", test_both_work_together},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
