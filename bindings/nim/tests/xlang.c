/* Cross-language check for the Nim binding's test suite.
 *
 * Usage: xlang <root_dir>
 *
 * Opens job "xlang" under <root_dir> (written by the Nim test), builds the
 * key ("xlang", -5 i64, 7 u64, true, 3 u8) with the C key builder, reads it
 * and checks that the payload is the 256 bytes 0..255 the Nim side stored.
 * Then writes its own row: key ("from-c", 42 i64) -> "hello from c", which
 * the Nim side reads back. Prints "xlang ok" and exits 0 on success.
 */
#include <persistency.h>
#include <stdio.h>
#include <string.h>

struct got {
    int called;
    int32_t status;
    bool found;
    size_t len;
    uint8_t bytes[512];
};

static void on_get(const persistency_result *r, void *user_data) {
    struct got *g = user_data;
    g->called++;
    g->status = r->status;
    g->found = r->found;
    g->len = r->value_len;
    if (r->found && r->value_len <= sizeof g->bytes) {
        memcpy(g->bytes, r->value, r->value_len);
    }
}

static void on_flush(const persistency_result *r, void *user_data) {
    int32_t *status = user_data;
    *status = r->status;
}

static int fail(const char *what, int32_t st) {
    const char *msg = persistency_last_error();
    fprintf(stderr, "xlang: %s: %s (%s)\n", what, persistency_status_name(st),
            msg ? msg : "");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: xlang <root_dir>\n");
        return 2;
    }
    persistency *p = NULL;
    persistency_job *job = NULL;
    int32_t st = persistency_new(argv[1], &p);
    if (st != PERSISTENCY_OK) return fail("new", st);
    st = persistency_open_job(p, "xlang", &job);
    if (st != PERSISTENCY_OK) return fail("open_job", st);

    persistency_key *k = persistency_key_new();
    if (persistency_key_push_str(k, "xlang") || persistency_key_push_i64(k, -5) ||
        persistency_key_push_u64(k, 7) || persistency_key_push_bool(k, true) ||
        persistency_key_push_u8(k, 3)) {
        return fail("key", PERSISTENCY_ERR_INVALID_ARGUMENT);
    }
    size_t klen = 0;
    const uint8_t *kdata = persistency_key_data(k, &klen);

    /* get runs its callback on the worker; close_job waits for it. */
    struct got g = {0};
    st = persistency_get(job, "rows", kdata, klen, on_get, &g);
    if (st != PERSISTENCY_OK) return fail("get", st);
    int32_t flushed = -1;
    st = persistency_flush(job, on_flush, &flushed);
    if (st != PERSISTENCY_OK) return fail("flush", st);
    persistency_key_clear(k);
    persistency_key_push_str(k, "from-c");
    persistency_key_push_i64(k, 42);
    kdata = persistency_key_data(k, &klen);
    const char *hello = "hello from c";
    st = persistency_put(job, "rows", kdata, klen, (const uint8_t *)hello, strlen(hello));
    if (st != PERSISTENCY_OK) return fail("put", st);
    st = persistency_close_job(p, "xlang");
    if (st != PERSISTENCY_OK) return fail("close_job", st);

    if (flushed != PERSISTENCY_OK || g.called != 1 || g.status != PERSISTENCY_OK || !g.found ||
        g.len != 256) {
        fprintf(stderr, "xlang: row not found as written (called %d status %d found %d len %zu)\n",
                g.called, g.status, g.found, g.len);
        return 1;
    }
    for (size_t i = 0; i < 256; i++) {
        if (g.bytes[i] != (uint8_t)i) {
            fprintf(stderr, "xlang: payload byte %zu is %u\n", i, g.bytes[i]);
            return 1;
        }
    }
    persistency_key_free(k);
    persistency_job_release(job);
    persistency_release(p);
    printf("xlang ok\n");
    return 0;
}
