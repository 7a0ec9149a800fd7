/*
 * The key builder against every shared vector (tests/data/keys.json), the
 * prefix stop, the builder's argument checks, status names, the version
 * string and the last-error rules.
 */
#include "harness.h"

#include <stdlib.h>

#include "key_vectors.h"

#ifndef PERSISTENCY_EXPECTED_VERSION
#error "build with -DPERSISTENCY_EXPECTED_VERSION=\"x.y.z\" (the crate version)"
#endif

static void print_hex(const char *label, const uint8_t *p, size_t n) {
    size_t i;
    fprintf(stderr, "  %s (%zu):", label, n);
    for (i = 0; i < n; i++) fprintf(stderr, "%02x", p[i]);
    fputc('\n', stderr);
}

static int32_t push_part(persistency_key *k, const kv_part *part) {
    switch (part->kind) {
    case KV_STR:
        /* push_str takes a C string; a string with a NUL in it goes through
         * push_bytes, whose encoding is the same (length, then bytes). */
        if (part->has_nul) return persistency_key_push_bytes(k, part->bytes, part->len);
        return persistency_key_push_str(k, (const char *)part->bytes);
    case KV_BYTES:
        return persistency_key_push_bytes(k, part->bytes, part->len);
    case KV_RAW:
        return persistency_key_push_raw(k, part->bytes, part->len);
    case KV_I64:
        return persistency_key_push_i64(k, part->i64);
    case KV_U64:
        return persistency_key_push_u64(k, part->u64);
    case KV_U8:
        return persistency_key_push_u8(k, (uint8_t)part->u64);
    case KV_BOOL:
        return persistency_key_push_bool(k, part->u64 != 0);
    default:
        return -1;
    }
}

static void test_vectors_encode(void) {
    persistency_key *k = persistency_key_new();
    size_t c, i, len;
    const uint8_t *data;

    CHECK(k != NULL);
    CHECK(KV_CASE_COUNT > 100);
    for (c = 0; c < KV_CASE_COUNT; c++) {
        const kv_case *v = &kv_cases[c];
        persistency_key_clear(k);
        for (i = 0; i < v->n_parts; i++) {
            CHECKF(push_part(k, &v->parts[i]) == PERSISTENCY_OK, "case %zu part %zu (%s): %s", c,
                   i, v->parts[i].type_name, persistency_last_error());
        }
        len = 12345;
        data = persistency_key_data(k, &len);
        if (!bytes_eq(data, len, v->key, v->key_len)) {
            print_hex("got ", data, len);
            print_hex("want", v->key, v->key_len);
            persistency_key_free(k);
            CHECKF(0, "case %zu: encoded key differs", c);
        }
    }
    persistency_key_free(k);
}

static void test_vectors_prefix_stop(void) {
    size_t c;
    for (c = 0; c < KV_CASE_COUNT; c++) {
        const kv_case *v = &kv_cases[c];
        uint8_t *out = malloc(v->key_len + 1);
        size_t out_len = 999;
        CHECK(out != NULL);
        memset(out, 0xEE, v->key_len + 1);
        CHECK_OK(persistency_prefix_stop(v->key, v->key_len, out, &out_len));
        if (!bytes_eq(out, out_len, v->stop, v->stop_len)) {
            print_hex("got ", out, out_len);
            print_hex("want", v->stop, v->stop_len);
            free(out);
            CHECKF(0, "case %zu: prefix stop differs", c);
        }
        /* "room for prefix_len bytes": nothing is written beyond it. */
        CHECKF(out[v->key_len] == 0xEE, "case %zu: wrote past prefix_len", c);
        free(out);
    }
}

static void test_raw_embeds_a_key(void) {
    persistency_key *inner = persistency_key_new(), *outer = persistency_key_new();
    const uint8_t *data;
    size_t len = 0, inner_len = 0;
    uint8_t inner_copy[64];

    CHECK(inner && outer);
    CHECK_OK(persistency_key_push_str(inner, "topic"));
    CHECK_OK(persistency_key_push_i64(inner, -5));
    data = persistency_key_data(inner, &inner_len);
    CHECK(inner_len == 2 + 5 + 8);
    memcpy(inner_copy, data, inner_len);
    CHECK_OK(persistency_key_push_u8(outer, 7));
    CHECK_OK(persistency_key_push_raw(outer, inner_copy, inner_len));
    CHECK_OK(persistency_key_push_bool(outer, true));
    data = persistency_key_data(outer, &len);
    CHECK(len == 1 + inner_len + 1);
    CHECK(data[0] == 7 && memcmp(data + 1, inner_copy, inner_len) == 0 && data[len - 1] == 1);
    persistency_key_free(inner);
    persistency_key_free(outer);
}

static void test_builder_clear_and_empty(void) {
    persistency_key *k = persistency_key_new();
    const uint8_t *data;
    size_t len = 77;

    CHECK(k != NULL);
    data = persistency_key_data(k, &len);
    CHECK(len == 0);
    (void)data; /* may be NULL for an empty key */
    CHECK_OK(persistency_key_push_str(k, ""));
    data = persistency_key_data(k, &len);
    CHECK(len == 2 && data[0] == 0 && data[1] == 0);
    CHECK_OK(persistency_key_push_bytes(k, NULL, 0));
    data = persistency_key_data(k, &len);
    CHECK(len == 4);
    CHECK_OK(persistency_key_push_raw(k, NULL, 0));
    data = persistency_key_data(k, &len);
    CHECK(len == 4);
    persistency_key_clear(k);
    len = 77;
    persistency_key_data(k, &len);
    CHECK(len == 0);
    CHECK_OK(persistency_key_push_u64(k, 1));
    data = persistency_key_data(k, &len);
    CHECK(len == 8 && data[7] == 1 && data[0] == 0);
    persistency_key_free(k);
    persistency_key_free(NULL); /* a no-op */
    persistency_key_clear(NULL);
}

static void test_builder_order(void) {
    /* Signed integers sort numerically as bytes; strings by length, then bytes. */
    const int64_t ints[] = {INT64_MIN, -1000, -1, 0, 1, 255, 256, INT64_MAX};
    uint8_t prev[16], cur[16];
    const uint8_t *data;
    size_t i, prev_len = 0, len = 0;
    persistency_key *k = persistency_key_new();

    CHECK(k != NULL);
    for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        persistency_key_clear(k);
        CHECK_OK(persistency_key_push_i64(k, ints[i]));
        data = persistency_key_data(k, &len);
        CHECK(len == 8);
        memcpy(cur, data, 8);
        if (i > 0) CHECKF(memcmp(prev, cur, 8) < 0, "i64 order broken at %zu", i);
        memcpy(prev, cur, 8);
    }
    persistency_key_clear(k);
    CHECK_OK(persistency_key_push_str(k, "zz"));
    data = persistency_key_data(k, &prev_len);
    CHECK(prev_len == 4);
    memcpy(prev, data, prev_len);
    persistency_key_clear(k);
    CHECK_OK(persistency_key_push_str(k, "aaa"));
    data = persistency_key_data(k, &len);
    CHECK(len == 5);
    memcpy(cur, data, len);
    CHECK(memcmp(prev, cur, 4) < 0); /* shorter first, though "zz" > "aaa" */
    persistency_key_free(k);
}

static void test_builder_rejects(void) {
    enum { BIG = 65536 };
    persistency_key *k = persistency_key_new();
    char *s = malloc(BIG + 1);
    uint8_t before[16];
    const uint8_t *data;
    size_t len = 0, before_len = 0;

    CHECK(k != NULL && s != NULL);
    memset(s, 'x', BIG);
    s[BIG] = '\0';
    CHECK_OK(persistency_key_push_str(k, "ab"));
    data = persistency_key_data(k, &before_len);
    CHECK(before_len == 4);
    memcpy(before, data, before_len);

    /* An over-long part is refused and leaves the key as it was. */
    CHECK_INVALID(persistency_key_push_bytes(k, (const uint8_t *)s, BIG));
    CHECK_INVALID(persistency_key_push_str(k, s));
    data = persistency_key_data(k, &len);
    CHECK(bytes_eq(data, len, before, before_len));
    /* 65535 bytes is the longest part. */
    s[BIG - 1] = '\0';
    CHECK_OK(persistency_key_push_str(k, s));
    data = persistency_key_data(k, &len);
    CHECK(len == before_len + 2 + 65535 && data[before_len] == 0xFF && data[before_len + 1] == 0xFF);
    CHECK_OK(persistency_key_push_bytes(k, (const uint8_t *)s, BIG - 1));

    CHECK_INVALID(persistency_key_push_str(NULL, "a"));
    CHECK_INVALID(persistency_key_push_str(k, NULL));
    CHECK_INVALID(persistency_key_push_bytes(NULL, (const uint8_t *)"a", 1));
    CHECK_INVALID(persistency_key_push_bytes(k, NULL, 1));
    CHECK_INVALID(persistency_key_push_raw(NULL, (const uint8_t *)"a", 1));
    CHECK_INVALID(persistency_key_push_raw(k, NULL, 1));
    CHECK_INVALID(persistency_key_push_i64(NULL, 1));
    CHECK_INVALID(persistency_key_push_u64(NULL, 1));
    CHECK_INVALID(persistency_key_push_u8(NULL, 1));
    CHECK_INVALID(persistency_key_push_bool(NULL, true));
    len = 5;
    CHECK(persistency_key_data(NULL, &len) == NULL);
    free(s);
    persistency_key_free(k);
}

static void test_prefix_stop_args(void) {
    const uint8_t p[] = {0x01, 0xFF}, all_ff[] = {0xFF, 0xFF};
    uint8_t out[4];
    size_t out_len = 9;

    CHECK_OK(persistency_prefix_stop(p, 2, out, &out_len));
    CHECK(out_len == 1 && out[0] == 0x02);
    out_len = 9;
    CHECK_OK(persistency_prefix_stop(all_ff, 2, NULL, &out_len)); /* open-ended: out unused */
    CHECK(out_len == 0);
    out_len = 9;
    CHECK_OK(persistency_prefix_stop(NULL, 0, NULL, &out_len));
    CHECK(out_len == 0);
    CHECK_INVALID(persistency_prefix_stop(p, 2, out, NULL));
    CHECK_INVALID(persistency_prefix_stop(NULL, 2, out, &out_len));
    CHECK_INVALID(persistency_prefix_stop(p, 2, NULL, &out_len)); /* a bound needs room */
}

static void test_status_names(void) {
    static const char *const names[] = {
        "PERSISTENCY_OK",
        "PERSISTENCY_ERR_BACKEND",
        "PERSISTENCY_ERR_CLOSED",
        "PERSISTENCY_ERR_INVALID_ARGUMENT",
        "PERSISTENCY_ERR_TIMEOUT",
        "PERSISTENCY_ERR_JOB_NOT_FOUND",
        "PERSISTENCY_ERR_BUSY",
        "PERSISTENCY_ERR_FULL",
        "PERSISTENCY_ERR_INTERNAL",
    };
    int32_t s;
    for (s = 0; s < 9; s++) {
        const char *got = persistency_status_name(s);
        CHECKF(got && strcmp(got, names[s]) == 0, "status %d named %s", (int)s, got ? got : "NULL");
    }
    CHECK(strcmp(persistency_status_name(9), "PERSISTENCY_UNKNOWN") == 0);
    CHECK(strcmp(persistency_status_name(-1), "PERSISTENCY_UNKNOWN") == 0);
    CHECK(strcmp(persistency_status_name(INT32_MAX), "PERSISTENCY_UNKNOWN") == 0);
    CHECK(persistency_status_name(PERSISTENCY_ERR_BUSY) == persistency_status_name(6)); /* static */
}

static void test_version(void) {
    const char *v = persistency_version();
    CHECK(v != NULL);
    CHECKF(strcmp(v, PERSISTENCY_EXPECTED_VERSION) == 0, "version %s, want %s", v,
           PERSISTENCY_EXPECTED_VERSION);
    CHECK(persistency_version() == v);
}

static void *fail_on_other_thread(void *arg) {
    persistency_key *k = NULL;
    int *saw_error = arg;
    /* Fresh thread: nothing failed here yet. */
    saw_error[0] = persistency_last_error() != NULL;
    saw_error[1] = persistency_key_push_u8(k, 1) == PERSISTENCY_ERR_INVALID_ARGUMENT &&
                   persistency_last_error() != NULL;
    return NULL;
}

static void test_last_error_rules(void) {
    persistency *p = NULL;
    persistency_key *k = persistency_key_new();
    pthread_t t;
    size_t len = 0;
    int other[2] = {-1, -1};
    char saved[256];

    CHECK(k != NULL);
    CHECK_OK(persistency_key_push_u8(k, 1));
    CHECK(persistency_last_error() == NULL);
    CHECK_INVALID(persistency_new(NULL, &p));
    snprintf(saved, sizeof saved, "%s", persistency_last_error());
    CHECK(strlen(saved) > 0);
    /* Functions that do not return a status leave it alone. */
    persistency_status_name(3);
    persistency_version();
    persistency_key_data(k, &len);
    CHECK(persistency_last_error() != NULL && strcmp(persistency_last_error(), saved) == 0);
    /* It is per thread. */
    CHECK(pthread_create(&t, NULL, fail_on_other_thread, other) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(other[0] == 0 && other[1] == 1);
    CHECK(persistency_last_error() != NULL && strcmp(persistency_last_error(), saved) == 0);
    /* A success clears it; another failure replaces it. */
    CHECK_OK(persistency_key_push_bool(k, false));
    CHECK(persistency_last_error() == NULL);
    CHECK_INVALID(persistency_key_push_raw(k, NULL, 3));
    CHECK_OK(persistency_prefix_stop(NULL, 0, NULL, &len));
    CHECK(persistency_last_error() == NULL);
    persistency_key_free(k);
}

int main(void) {
    static const test_case tests[] = {
        {"keys/vectors_encode", test_vectors_encode},
        {"keys/vectors_prefix_stop", test_vectors_prefix_stop},
        {"keys/raw_embeds_a_key", test_raw_embeds_a_key},
        {"keys/builder_clear_and_empty", test_builder_clear_and_empty},
        {"keys/builder_order", test_builder_order},
        {"keys/builder_rejects", test_builder_rejects},
        {"keys/prefix_stop_args", test_prefix_stop_args},
        {"keys/status_names", test_status_names},
        {"keys/version", test_version},
        {"keys/last_error_rules", test_last_error_rules},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
