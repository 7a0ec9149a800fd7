/* The test harness: runner, checks, callback helpers, scratch directory. */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Hang guard for waits on callbacks: generous, because valgrind is slow.
 * It only turns a deadlock into a failure; no test asserts on timing. */
#define HANG_GUARD_SECONDS 120

static const char *current_test;
static int current_failed;
static char scratch_dir[512];

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "  %s:%d: [%s] ", file, line, current_test ? current_test : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = 1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) {
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int run_tests(const test_case *tests, size_t n) {
    const char *tmp = getenv("TMPDIR");
    size_t i;
    int failed = 0;

    snprintf(scratch_dir, sizeof scratch_dir, "%s/persistency-ctest-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(scratch_dir) == NULL) {
        fprintf(stderr, "mkdtemp failed: %s\n", strerror(errno));
        return 2;
    }
    printf("1..%zu\n", n); /* the plan: run.sh checks that every test reported */
    fflush(stdout);
    for (i = 0; i < n; i++) {
        current_test = tests[i].name;
        current_failed = 0;
        tests[i].fn();
        printf("%s - %s\n", current_failed ? "not ok" : "ok", tests[i].name);
        fflush(stdout);
        failed += current_failed;
    }
    current_test = NULL;
    remove_tree(scratch_dir);
    return failed ? 1 : 0;
}

const char *test_dir(void) { return scratch_dir; }

char *test_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", scratch_dir, name);
    return buf;
}

/* A PostgreSQL root with a fresh schema, or NULL without
 * PERSISTENCY_TEST_POSTGRES. */
static char *postgres_root(char *buf, size_t n) {
    static unsigned serial;
    const char *uri = getenv("PERSISTENCY_TEST_POSTGRES");
    if (uri == NULL || *uri == '\0') return NULL;
    snprintf(buf, n, "%s%cschema=c_%ld_%ld_%u", uri, strchr(uri, '?') ? '&' : '?',
             (long)getpid(), (long)time(NULL), serial++);
    return buf;
}

char *test_root(char *buf, size_t n, const char *name) {
    return postgres_root(buf, n) ? buf : test_path(buf, n, name);
}

char *test_scratch_root(char *buf, size_t n) {
    if (postgres_root(buf, n) == NULL) snprintf(buf, n, ":memory:");
    return buf;
}

bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool bytes_eq(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static uint8_t *copy_bytes(const uint8_t *p, size_t len) {
    /* Always a valid allocation, so an empty value differs from "none". */
    uint8_t *out = malloc(len ? len : 1);
    if (out == NULL) abort();
    if (len) memcpy(out, p, len);
    return out;
}

void reply_init(reply *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void reply_clear(reply *r) {
    size_t i;
    for (i = 0; i < r->row_count; i++) {
        free(r->rows[i].key);
        free(r->rows[i].payload);
    }
    free(r->rows);
    free(r->value);
    free(r->error);
}

void reply_free(reply *r) {
    reply_clear(r);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

void reply_reset(reply *r) {
    reply_free(r);
    reply_init(r);
}

void on_reply(const persistency_result *result, void *user_data) {
    reply *r = user_data;
    size_t i;

    pthread_mutex_lock(&r->mu);
    if (r->calls == 0) {
        r->thread = pthread_self();
        r->status = result->status;
        r->backend_code = result->backend_code;
        if (result->error) {
            r->error = (char *)copy_bytes((const uint8_t *)result->error,
                                          strlen(result->error) + 1);
        }
        r->found = result->found;
        if (result->value) {
            r->has_value = true;
            r->value = copy_bytes(result->value, result->value_len);
            r->value_len = result->value_len;
        }
        r->count = result->count;
        r->has_more = result->has_more;
        if (result->row_count) {
            r->rows = calloc(result->row_count, sizeof *r->rows);
            if (r->rows == NULL) abort();
            for (i = 0; i < result->row_count; i++) {
                const persistency_row *row = &result->rows[i];
                r->rows[i].key = copy_bytes(row->key, row->key_len);
                r->rows[i].key_len = row->key_len;
                r->rows[i].payload = copy_bytes(row->payload, row->payload_len);
                r->rows[i].payload_len = row->payload_len;
            }
            r->row_count = result->row_count;
        }
    }
    r->calls++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static struct timespec deadline(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += HANG_GUARD_SECONDS;
    return ts;
}

bool reply_wait(reply *r) {
    struct timespec ts = deadline();
    bool ok = true;
    pthread_mutex_lock(&r->mu);
    while (r->calls == 0 && ok) {
        ok = pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT;
    }
    ok = r->calls > 0;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void counter_init(counter *c) {
    c->value = 0;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

void counter_destroy(counter *c) {
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

void counter_add(counter *c) {
    pthread_mutex_lock(&c->mu);
    c->value++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

uint64_t counter_get(counter *c) {
    uint64_t v;
    pthread_mutex_lock(&c->mu);
    v = c->value;
    pthread_mutex_unlock(&c->mu);
    return v;
}

bool counter_wait(counter *c, uint64_t n) {
    struct timespec ts = deadline();
    bool ok = true;
    pthread_mutex_lock(&c->mu);
    while (c->value < n && ok) {
        ok = pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT;
    }
    ok = c->value >= n;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void on_count(const persistency_result *result, void *user_data) {
    (void)result;
    counter_add(user_data);
}

int32_t open_instance(const char *name, persistency **out) {
    char path[1024];
    return persistency_new(test_path(path, sizeof path, name), out);
}

int32_t get_sync(persistency_job *job, const char *category, const char *key, reply *r) {
    int32_t rc = persistency_get(job, category, (const uint8_t *)key, strlen(key), on_reply, r);
    if (rc != PERSISTENCY_OK) return rc;
    if (!reply_wait(r)) return PERSISTENCY_ERR_TIMEOUT;
    return r->status;
}

int32_t put_sync(persistency_job *job, const char *category, const char *key,
                 const char *payload) {
    persistency_op op;
    reply r;
    int32_t rc;

    memset(&op, 0, sizeof op);
    op.kind = PERSISTENCY_OP_PUT;
    op.category = category;
    op.key = (const uint8_t *)key;
    op.key_len = strlen(key);
    op.payload = (const uint8_t *)payload;
    op.payload_len = strlen(payload);
    reply_init(&r);
    rc = persistency_write(job, &op, 1, on_reply, &r);
    if (rc == PERSISTENCY_OK) rc = reply_wait(&r) ? r.status : PERSISTENCY_ERR_TIMEOUT;
    reply_free(&r);
    return rc;
}
