/*
 * Instances and jobs: root validation, lazy root creation, open / find /
 * has / close / drop, reopening, idempotent open, file conflicts between
 * instances, job options, and handles that outlive a close.
 */
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Opens a job, writes one row with a batch and waits for its commit. */
static int32_t open_and_put(persistency *p, const char *id, persistency_job **job) {
    int32_t rc = persistency_open_job(p, id, job);
    if (rc != PERSISTENCY_OK) return rc;
    return put_sync(*job, "c", "k", "v");
}

static void test_root_validation(void) {
    char file[1024], under_file[1100], path[1024];
    persistency *p = NULL;

    test_path(file, sizeof file, "plain-file");
    write_file(file, "x");
    snprintf(under_file, sizeof under_file, "%s/sub/dir", file);

    CHECK_INVALID(persistency_new("", &p));
    CHECK(p == NULL);
    CHECK_INVALID(persistency_new(file, &p));
    CHECK_INVALID(persistency_new(under_file, &p));
    CHECK(p == NULL);

    /* A missing path under an existing directory is fine. */
    CHECK_OK(persistency_new(test_path(path, sizeof path, "missing/a/b"), &p));
    CHECK(p != NULL);
    CHECK(strcmp(persistency_root_dir(p), path) == 0);
    persistency_release(p);
    CHECK(!path_exists(path));
}

static void test_root_created_on_first_open(void) {
    char root[1024], db[1100];
    persistency *p = NULL;
    persistency_job *job = NULL;

    test_path(root, sizeof root, "lazy/root");
    CHECK_OK(persistency_new(root, &p));
    CHECK(!path_exists(root));
    CHECK(!persistency_has_job(p, "j1"));
    CHECK(!path_exists(root));
    CHECK_OK(persistency_open_job(p, "j1", &job));
    CHECK(is_dir(root));
    snprintf(db, sizeof db, "%s/j1.db", root);
    CHECK(path_exists(db));
    CHECK(strcmp(persistency_job_id(job), "j1") == 0);
    persistency_job_release(job);
    persistency_release(p);
}

static void test_open_is_idempotent(void) {
    persistency *p = NULL;
    persistency_job *a = NULL, *b = NULL, *found = NULL;
    persistency_job_options fail_opts;

    CHECK_OK(open_instance("idem", &p));
    persistency_job_options_init(&fail_opts);
    fail_opts.full_policy = PERSISTENCY_FULL_FAIL;
    CHECK_OK(persistency_open_job(p, "job", &a));
    CHECK_OK(persistency_open_job(p, "job", &b));
    CHECK(a == b);
    persistency_job_release(b);
    b = NULL;
    /* The options of the first open stand; a second open is still the same job. */
    CHECK_OK(persistency_open_job_with(p, "job", &fail_opts, &b));
    CHECK(a == b);
    CHECK_OK(persistency_find_job(p, "job", &found));
    CHECK(found == a);
    /* Three extra references: the job stays usable after dropping them. */
    persistency_job_release(b);
    persistency_job_release(found);
    CHECK_OK(put_sync(a, "c", "k", "v"));
    persistency_job_release(a);
    persistency_release(p);
}

static void test_find_has_close(void) {
    persistency *p = NULL;
    persistency_job *job = NULL, *found = NULL;

    CHECK_OK(open_instance("find", &p));
    CHECK_STATUS(persistency_find_job(p, "nope", &found), PERSISTENCY_ERR_JOB_NOT_FOUND);
    CHECK(persistency_last_error() != NULL);
    CHECK(!persistency_has_job(p, "nope"));
    CHECK_OK(persistency_close_job(p, "nope")); /* not open: a no-op */

    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK(persistency_has_job(p, "j"));
    CHECK_OK(persistency_find_job(p, "j", &found));
    CHECK(found == job);
    persistency_job_release(found);

    CHECK_OK(persistency_close_job(p, "j"));
    CHECK(!persistency_has_job(p, "j"));
    CHECK_STATUS(persistency_find_job(p, "j", &found), PERSISTENCY_ERR_JOB_NOT_FOUND);
    CHECK_OK(persistency_close_job(p, "j")); /* idempotent */
    /* The handle is still valid memory: its id is readable, calls are CLOSED. */
    CHECK(strcmp(persistency_job_id(job), "j") == 0);
    CHECK_CLOSED(persistency_put(job, "c", (const uint8_t *)"k", 1, NULL, 0));
    persistency_job_release(job);
    persistency_release(p);
}

static void test_reopen_keeps_data(void) {
    persistency *p = NULL, *again = NULL;
    persistency_job *job = NULL, *old = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(open_instance("reopen", &p));
    CHECK_OK(open_and_put(p, "keep", &job));
    old = job;
    CHECK_OK(persistency_close_job(p, "keep"));
    CHECK_OK(persistency_open_job(p, "keep", &job));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, (const uint8_t *)"v", 1));
    /* The old handle stays closed: reopening made a new job. */
    CHECK_CLOSED(persistency_put(old, "c", (const uint8_t *)"k", 1, NULL, 0));
    persistency_job_release(old);
    persistency_job_release(job);
    /* Releasing the last reference closes the jobs; a new instance sees the data. */
    persistency_release(p);

    reply_reset(&r);
    CHECK_OK(open_instance("reopen", &again));
    CHECK_OK(persistency_open_job(again, "keep", &job));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(r.found && bytes_eq(r.value, r.value_len, (const uint8_t *)"v", 1));
    persistency_job_release(job);
    persistency_release(again);
    reply_free(&r);
}

static void test_two_instances_same_file(void) {
    persistency *a = NULL, *b = NULL;
    persistency_job *ja = NULL, *jb = NULL, *other = NULL;

    CHECK_OK(open_instance("shared", &a));
    CHECK_OK(open_instance("shared", &b));
    CHECK(a != b);
    CHECK_OK(persistency_open_job(a, "j", &ja));
    CHECK_INVALID(persistency_open_job(b, "j", &jb));
    CHECK(jb == NULL);
    CHECK(!persistency_has_job(b, "j"));
    /* Another file of the same root is fine. */
    CHECK_OK(persistency_open_job(b, "other", &other));
    /* Once a lets go, b may open it. */
    CHECK_OK(persistency_close_job(a, "j"));
    CHECK_OK(persistency_open_job(b, "j", &jb));
    {
        persistency_job *again = NULL;
        CHECK_INVALID(persistency_open_job(a, "j", &again));
        CHECK(again == NULL);
    }
    persistency_job_release(ja);
    persistency_job_release(jb);
    persistency_job_release(other);
    persistency_release(a);
    persistency_release(b);
}

static void test_same_file_other_spelling(void) {
    char root[1024], alias[1100];
    persistency *a = NULL, *b = NULL;
    persistency_job *ja = NULL, *jb = NULL;

    test_path(root, sizeof root, "spelled");
    snprintf(alias, sizeof alias, "%s/../spelled", root);
    CHECK_OK(persistency_new(root, &a));
    CHECK_OK(persistency_new(alias, &b));
    CHECK(strcmp(persistency_root_dir(b), alias) == 0);
    CHECK_OK(persistency_open_job(a, "j", &ja));
    CHECK_INVALID(persistency_open_job(b, "j", &jb));
    /* And the other way round. */
    CHECK_OK(persistency_open_job(b, "k", &jb));
    persistency_job_release(jb);
    jb = NULL;
    CHECK_INVALID(persistency_open_job(a, "k", &jb));
    CHECK(jb == NULL);
    persistency_job_release(ja);
    persistency_release(a);
    persistency_release(b);
}

static void test_memory_root(void) {
    persistency *a = NULL, *b = NULL;
    persistency_job *ja = NULL, *jb = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(persistency_new(":memory:", &a));
    CHECK_OK(persistency_new(":memory:", &b));
    CHECK_OK(persistency_open_job(a, "j", &ja));
    CHECK_OK(persistency_open_job(b, "j", &jb)); /* never conflicts */
    CHECK_OK(put_sync(ja, "c", "k", "in a"));
    /* Each instance has its own private database. */
    CHECK_OK(get_sync(jb, "c", "k", &r));
    CHECK(!r.found);
    reply_reset(&r);
    CHECK_OK(get_sync(ja, "c", "k", &r));
    CHECK(r.found);
    CHECK(!path_exists(":memory:"));
    CHECK(!path_exists(":memory:/j.db"));
    persistency_job_release(ja);
    persistency_job_release(jb);
    persistency_release(a);
    persistency_release(b);
    reply_free(&r);
}

static void test_job_id_validation(void) {
    char longest[129], too_long[130];
    persistency *p = NULL;
    persistency_job *job = NULL;
    const char *bad[] = {"", ".hidden", "..", "../escape", "a/b", "a\\b", "sp ace",
                         "semi;colon", "\xc3\xa9t\xc3\xa9", "new\nline"};
    size_t i;

    memset(longest, 'a', 128);
    longest[128] = '\0';
    memset(too_long, 'b', 129);
    too_long[129] = '\0';
    CHECK_OK(open_instance("ids", &p));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(persistency_open_job(p, bad[i], &job) == PERSISTENCY_ERR_INVALID_ARGUMENT,
               "job id %zu accepted", i);
        CHECK(persistency_last_error() != NULL);
        CHECK(job == NULL);
        CHECK_INVALID(persistency_close_job(p, bad[i]));
        CHECK_INVALID(persistency_drop_job(p, bad[i]));
        CHECK(!persistency_has_job(p, bad[i]));
    }
    CHECK_INVALID(persistency_open_job(p, too_long, &job));
    CHECK_OK(persistency_open_job(p, longest, &job));
    persistency_job_release(job);
    CHECK_OK(persistency_open_job(p, "Az09_.-x", &job));
    persistency_job_release(job);
    CHECK_OK(persistency_open_job(p, "a..b", &job));
    persistency_job_release(job);
    persistency_release(p);
}

static void test_drop_job(void) {
    char root[1024], db[1100], wal[1100], shm[1100];
    persistency *p = NULL;
    persistency_job *job = NULL;
    reply r;

    reply_init(&r);
    test_path(root, sizeof root, "drop");
    snprintf(db, sizeof db, "%s/gone.db", root);
    snprintf(wal, sizeof wal, "%s/gone.db-wal", root);
    snprintf(shm, sizeof shm, "%s/gone.db-shm", root);
    CHECK_OK(persistency_new(root, &p));
    CHECK_OK(persistency_drop_job(p, "never-existed")); /* a missing file is fine */
    CHECK_OK(open_and_put(p, "gone", &job));
    CHECK(path_exists(db));
    /* Dropping an open job closes it, then deletes the file and its sidecars. */
    CHECK_OK(persistency_drop_job(p, "gone"));
    CHECK(!persistency_has_job(p, "gone"));
    CHECK(!path_exists(db) && !path_exists(wal) && !path_exists(shm));
    CHECK_CLOSED(persistency_flush(job, on_reply, &r));
    persistency_job_release(job);
    CHECK_OK(persistency_drop_job(p, "gone"));
    /* A reopened job starts empty. */
    CHECK_OK(persistency_open_job(p, "gone", &job));
    CHECK_OK(get_sync(job, "c", "k", &r));
    CHECK(!r.found);
    persistency_job_release(job);
    /* Dropping a closed job deletes its file too. */
    CHECK_OK(persistency_close_job(p, "gone"));
    CHECK(path_exists(db));
    CHECK_OK(persistency_drop_job(p, "gone"));
    CHECK(!path_exists(db));
    persistency_release(p);
    reply_free(&r);
}

static void test_persistency_close(void) {
    persistency *p = NULL;
    persistency_job *a = NULL, *b = NULL, *again = NULL;
    reply r;

    reply_init(&r);
    CHECK_OK(open_instance("close-all", &p));
    CHECK_OK(open_and_put(p, "a", &a));
    CHECK_OK(open_and_put(p, "b", &b));
    CHECK_OK(persistency_close(p));
    CHECK(!persistency_has_job(p, "a") && !persistency_has_job(p, "b"));
    CHECK_CLOSED(persistency_put(a, "c", (const uint8_t *)"k", 1, NULL, 0));
    CHECK_CLOSED(persistency_get(b, "c", (const uint8_t *)"k", 1, on_reply, &r));
    CHECK(r.calls == 0);
    CHECK_OK(persistency_close(p)); /* idempotent */
    /* The instance stays usable. */
    CHECK_OK(persistency_open_job(p, "a", &again));
    CHECK_OK(get_sync(again, "c", "k", &r));
    CHECK(r.found);
    persistency_job_release(again);
    persistency_job_release(a);
    persistency_job_release(b);
    persistency_release(p);
    reply_free(&r);
}

static void test_closed_handle_calls(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_op op;
    persistency_bytes keys[1];
    persistency_stats st;
    counter calls;
    const uint8_t k[] = {1};

    counter_init(&calls);
    memset(&op, 0, sizeof op);
    op.kind = PERSISTENCY_OP_PUT;
    op.category = "c";
    op.key = k;
    op.key_len = 1;
    keys[0].data = k;
    keys[0].len = 1;
    CHECK_OK(open_instance("closed", &p));
    CHECK_OK(persistency_open_job(p, "j", &job));
    CHECK_OK(persistency_close_job(p, "j"));

    CHECK_CLOSED(persistency_put(job, "c", k, 1, k, 1));
    CHECK_CLOSED(persistency_delete(job, "c", k, 1));
    CHECK_CLOSED(persistency_delete_prefix(job, "c", k, 1));
    CHECK_CLOSED(persistency_write(job, &op, 1, on_count, &calls));
    CHECK_CLOSED(persistency_write(job, &op, 1, NULL, NULL));
    CHECK_CLOSED(persistency_flush(job, on_count, &calls));
    CHECK_CLOSED(persistency_get(job, "c", k, 1, on_count, &calls));
    CHECK_CLOSED(persistency_exists(job, "c", k, 1, on_count, &calls));
    CHECK_CLOSED(persistency_scan(job, "c", NULL, 0, NULL, 0, false, 0, on_count, &calls));
    CHECK_CLOSED(persistency_scan_prefix(job, "c", k, 1, true, 1, on_count, &calls));
    CHECK_CLOSED(persistency_count(job, "c", NULL, 0, NULL, 0, on_count, &calls));
    CHECK_CLOSED(persistency_delete_acked(job, "c", k, 1, on_count, &calls));
    CHECK_CLOSED(persistency_get_many(job, "c", keys, 1, on_count, &calls));
    CHECK_CLOSED(persistency_job_stats(job, &st));
    CHECK(counter_get(&calls) == 0);
    /* Releasing after the close is fine, and so is closing the instance. */
    persistency_job_release(job);
    CHECK_OK(persistency_close(p));
    persistency_release(p);
    counter_destroy(&calls);
}

static void test_job_options(void) {
    persistency *p = NULL;
    persistency_job *job = NULL;
    persistency_job_options o;
    const int32_t syncs[] = {PERSISTENCY_SYNC_NORMAL, PERSISTENCY_SYNC_OFF, PERSISTENCY_SYNC_FULL};
    size_t i;

    /* The first version's init writes its 24 bytes and nothing past them. */
    memset(&o, 0xAB, sizeof o);
    persistency_job_options_init(&o);
    CHECK(o.struct_size == 24);
    CHECK(o.synchronous == PERSISTENCY_SYNC_NORMAL);
    CHECK(o.queue_capacity > 0); /* the actual default, not 0 */
    CHECK(o.full_policy == PERSISTENCY_FULL_BLOCK);
    CHECK(o.max_db_bytes == 0);
    CHECK(o.max_queue_bytes == 0xABABABABABABABABull);
    /* The sized init fills every field of this header's struct. */
    memset(&o, 0xAB, sizeof o);
    CHECK_OK(persistency_job_options_init_sized(&o, sizeof o));
    CHECK(o.struct_size == sizeof o);
    CHECK(o.synchronous == PERSISTENCY_SYNC_NORMAL);
    CHECK(o.max_queue_bytes == 64u << 20);
    /* A smaller struct gets the version that fits; too small is refused. */
    memset(&o, 0xAB, sizeof o);
    CHECK_OK(persistency_job_options_init_sized(&o, 24));
    CHECK(o.struct_size == 24 && o.max_queue_bytes == 0xABABABABABABABABull);
    CHECK_OK(persistency_job_options_init_sized(&o, sizeof o + 16));
    CHECK(o.struct_size == sizeof o);
    CHECK_INVALID(persistency_job_options_init_sized(&o, 23));
    CHECK_INVALID(persistency_job_options_init_sized(NULL, sizeof o));
    persistency_job_options_init_sized(&o, sizeof o);

    CHECK_OK(open_instance("options", &p));
    o.synchronous = 3;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.synchronous = -1;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    persistency_job_options_init_sized(&o, sizeof o);
    o.full_policy = 2;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.full_policy = -1;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    persistency_job_options_init_sized(&o, sizeof o);
    o.struct_size = 0;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.struct_size = 4;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.struct_size = (uint32_t)sizeof o - 1;
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    o.struct_size = 23; /* below the first version */
    CHECK_INVALID(persistency_open_job_with(p, "bad", &o, &job));
    CHECK(job == NULL);
    /* A host built against the first version (no max_queue_bytes). */
    o.struct_size = (uint32_t)offsetof(persistency_job_options, max_queue_bytes);
    CHECK(o.struct_size == 24);
    CHECK_OK(persistency_open_job_with(p, "v1", &o, &job));
    CHECK_OK(put_sync(job, "c", "k", "v"));
    persistency_job_release(job);
    job = NULL;
    CHECK_OK(persistency_close_job(p, "v1"));
    CHECK(!persistency_has_job(p, "bad"));

    /* NULL options are the defaults; each synchronous mode works. */
    CHECK_OK(persistency_open_job_with(p, "defaults", NULL, &job));
    CHECK_OK(put_sync(job, "c", "k", "v"));
    persistency_job_release(job);
    for (i = 0; i < 3; i++) {
        char id[32];
        persistency_job_options_init(&o);
        o.synchronous = syncs[i];
        o.queue_capacity = 0; /* 0 means the default */
        snprintf(id, sizeof id, "sync-%d", (int)syncs[i]);
        CHECK_OK(persistency_open_job_with(p, id, &o, &job));
        CHECK_OK(put_sync(job, "c", "k", "v"));
        persistency_job_release(job);
    }
    persistency_release(p);
}

static void test_foreign_files_refused(void) {
    char root[1024], path[1100];
    persistency *p = NULL;
    persistency_job *job = NULL;
    FILE *f;
    long size;
    unsigned char version[4] = {0, 0, 0, 2};

    test_path(root, sizeof root, "foreign");
    CHECK_OK(persistency_new(root, &p));
    CHECK_OK(open_and_put(p, "v2", &job));
    persistency_job_release(job);
    job = NULL;
    CHECK_OK(persistency_close_job(p, "v2"));

    /* After a clean close the WAL is checkpointed: patch user_version (offset 60). */
    snprintf(path, sizeof path, "%s/v2.db-wal", root);
    CHECKF(!path_exists(path), "%s survived a clean close", path);
    snprintf(path, sizeof path, "%s/v2.db", root);
    f = fopen(path, "r+b");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    if (size < 100 || fseek(f, 60, SEEK_SET) != 0 || fwrite(version, 1, 4, f) != 4) {
        fclose(f);
        CHECKF(0, "cannot patch %s", path);
    }
    fclose(f);
    CHECK_STATUS(persistency_open_job(p, "v2", &job), PERSISTENCY_ERR_BACKEND);
    CHECK(persistency_last_error() != NULL);
    CHECK(job == NULL && !persistency_has_job(p, "v2"));

    /* A file that is not a database at all. */
    snprintf(path, sizeof path, "%s/junk.db", root);
    write_file(path, "this is not an SQLite database, not even close; padding padding padding "
                     "padding padding padding padding padding padding padding padding padding");
    CHECK_STATUS(persistency_open_job(p, "junk", &job), PERSISTENCY_ERR_BACKEND);
    CHECK(job == NULL);
    persistency_release(p);
}

int main(void) {
    static const test_case tests[] = {
        {"lifecycle/root_validation", test_root_validation},
        {"lifecycle/root_created_on_first_open", test_root_created_on_first_open},
        {"lifecycle/open_is_idempotent", test_open_is_idempotent},
        {"lifecycle/find_has_close", test_find_has_close},
        {"lifecycle/reopen_keeps_data", test_reopen_keeps_data},
        {"lifecycle/two_instances_same_file", test_two_instances_same_file},
        {"lifecycle/same_file_other_spelling", test_same_file_other_spelling},
        {"lifecycle/memory_root", test_memory_root},
        {"lifecycle/job_id_validation", test_job_id_validation},
        {"lifecycle/drop_job", test_drop_job},
        {"lifecycle/persistency_close", test_persistency_close},
        {"lifecycle/closed_handle_calls", test_closed_handle_calls},
        {"lifecycle/job_options", test_job_options},
        {"lifecycle/foreign_files_refused", test_foreign_files_refused},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
