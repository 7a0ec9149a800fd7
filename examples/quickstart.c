/*
 * libpersistency quick start, in C.
 *
 * Opens an instance under ./data and a job "quickstart", stores a few
 * messages keyed by (content topic, timestamp, message hash) in one atomic
 * batch, waits for the commit, then reads them back: one by key with
 * persistency_get, and every message of one topic with a prefix scan,
 * two rows per page. Exits non-zero on any error.
 *
 * Build and run from the repository root: examples/quickstart.sh
 *
 * Callbacks run on the job's worker thread, and the pointers they receive
 * live only during the call: every callback here copies what it needs and
 * signals the main thread through a mutex and a condition variable.
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistency.h"

#define CATEGORY "messages"
#define PAGE_SIZE 2
#define MAX_ROWS 16
#define MAX_KEY 128
#define MAX_PAYLOAD 128

/* A message as the host knows it. */
typedef struct message {
    const char *topic;
    int64_t timestamp;
    const char *text;
} message;

static const message MESSAGES[] = {
    {"/waku/2/rs/0/chat", 1700000001, "hello"},
    {"/waku/2/rs/0/chat", 1700000002, "how are you?"},
    {"/waku/2/rs/0/news", 1700000003, "breaking: it works"},
    {"/waku/2/rs/0/chat", 1700000004, "fine, thanks"},
    {"/waku/2/rs/0/chat", 1700000005, "bye"},
};
#define N_MESSAGES (sizeof MESSAGES / sizeof MESSAGES[0])

/* One row copied out of a callback. */
typedef struct row {
    uint8_t key[MAX_KEY];
    size_t key_len;
    char payload[MAX_PAYLOAD + 1];
} row;

/* What an async call reported, copied for the main thread. */
typedef struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int32_t status;
    char error[256];
    bool found;
    char value[MAX_PAYLOAD + 1];
    row rows[MAX_ROWS];
    size_t row_count;
    bool has_more;
} outcome;

static void copy_text(char *dst, const uint8_t *src, size_t len) {
    if (len > MAX_PAYLOAD) len = MAX_PAYLOAD;
    if (len) memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The callback of every async call below: copy, then signal. */
static void on_result(const persistency_result *result, void *user_data) {
    outcome *o = user_data;
    size_t i;

    pthread_mutex_lock(&o->mu);
    o->status = result->status;
    snprintf(o->error, sizeof o->error, "%s", result->error ? result->error : "");
    o->found = result->found;
    copy_text(o->value, result->value, result->value ? result->value_len : 0);
    o->row_count = 0;
    for (i = 0; i < result->row_count && i < MAX_ROWS; i++) {
        const persistency_row *r = &result->rows[i];
        size_t n = r->key_len < MAX_KEY ? r->key_len : MAX_KEY;
        memcpy(o->rows[i].key, r->key, n);
        o->rows[i].key_len = n;
        copy_text(o->rows[i].payload, r->payload, r->payload_len);
        o->row_count++;
    }
    o->has_more = result->has_more;
    o->done = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static void outcome_init(outcome *o) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
}

/* Waits for the callback of a call that returned `status`; returns the final status. */
static int32_t wait_for(int32_t status, outcome *o) {
    if (status != PERSISTENCY_OK) return status;
    pthread_mutex_lock(&o->mu);
    while (!o->done) pthread_cond_wait(&o->cv, &o->mu);
    o->done = 0;
    pthread_mutex_unlock(&o->mu);
    if (o->status != PERSISTENCY_OK) {
        fprintf(stderr, "callback: %s: %s\n", persistency_status_name(o->status), o->error);
    }
    return o->status;
}

/* Reports a failed synchronous call; true if it failed. */
static bool failed(const char *what, int32_t status) {
    const char *msg;
    if (status == PERSISTENCY_OK) return false;
    msg = persistency_last_error();
    fprintf(stderr, "%s failed: %s (%s)\n", what, persistency_status_name(status),
            msg ? msg : "see above");
    return true;
}

/* A stand-in for the message hash (FNV-1a spread over 32 bytes; not cryptographic). */
static void message_hash(const message *m, uint8_t hash[32]) {
    uint64_t h = 1469598103934665603u;
    const char *p;
    int i;
    for (p = m->text; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211u;
    h ^= (uint64_t)m->timestamp;
    for (i = 0; i < 32; i++) {
        h = (h ^ (uint64_t)i) * 1099511628211u;
        hash[i] = (uint8_t)(h >> 56);
    }
}

/* Builds the key (topic, timestamp, hash) of a message. */
static int32_t message_key(persistency_key *k, const message *m) {
    uint8_t hash[32];
    int32_t rc;
    message_hash(m, hash);
    persistency_key_clear(k);
    rc = persistency_key_push_str(k, m->topic);
    if (rc == PERSISTENCY_OK) rc = persistency_key_push_i64(k, m->timestamp);
    if (rc == PERSISTENCY_OK) rc = persistency_key_push_bytes(k, hash, sizeof hash);
    return rc;
}

/* Decodes the timestamp of a (topic, timestamp, hash) key. */
static int64_t key_timestamp(const uint8_t *key, size_t len) {
    size_t topic_len, i;
    uint64_t v = 0;
    if (len < 2) return 0;
    topic_len = ((size_t)key[0] << 8) | key[1];
    if (len < 2 + topic_len + 8) return 0;
    for (i = 0; i < 8; i++) v = (v << 8) | key[2 + topic_len + i];
    v ^= UINT64_C(0x8000000000000000);
    return (int64_t)v;
}

static int write_messages(persistency_job *job, persistency_key *k) {
    uint8_t keys[N_MESSAGES][MAX_KEY];
    persistency_op ops[N_MESSAGES];
    outcome o;
    size_t i;
    int32_t rc;

    for (i = 0; i < N_MESSAGES; i++) {
        const uint8_t *data;
        size_t len = 0;
        if (failed("building a key", message_key(k, &MESSAGES[i]))) return 1;
        data = persistency_key_data(k, &len);
        memcpy(keys[i], data, len);
        ops[i].kind = PERSISTENCY_OP_PUT;
        ops[i].category = CATEGORY;
        ops[i].key = keys[i];
        ops[i].key_len = len;
        ops[i].payload = (const uint8_t *)MESSAGES[i].text;
        ops[i].payload_len = strlen(MESSAGES[i].text);
    }
    outcome_init(&o);
    /* One atomic batch; its callback runs once the transaction committed. */
    rc = wait_for(persistency_write(job, ops, N_MESSAGES, on_result, &o), &o);
    if (failed("persistency_write", rc)) return 1;
    printf("wrote %zu messages in one batch\n", N_MESSAGES);
    /* flush: everything accepted so far is committed (here: already is). */
    rc = wait_for(persistency_flush(job, on_result, &o), &o);
    if (failed("persistency_flush", rc)) return 1;
    printf("flushed\n");
    return 0;
}

static int read_one(persistency_job *job, persistency_key *k) {
    const message *m = &MESSAGES[2];
    const uint8_t *key;
    size_t len = 0;
    outcome o;
    int32_t rc;

    if (failed("building a key", message_key(k, m))) return 1;
    key = persistency_key_data(k, &len);
    outcome_init(&o);
    rc = wait_for(persistency_get(job, CATEGORY, key, len, on_result, &o), &o);
    if (failed("persistency_get", rc)) return 1;
    if (!o.found || strcmp(o.value, m->text) != 0) {
        fprintf(stderr, "get: expected \"%s\", found %d \"%s\"\n", m->text, (int)o.found, o.value);
        return 1;
    }
    printf("get %s @%" PRId64 " -> \"%s\"\n", m->topic, m->timestamp, o.value);
    return 0;
}

static int scan_topic(persistency_job *job, persistency_key *k, const char *topic) {
    uint8_t prefix[MAX_KEY], start[MAX_KEY + 1], stop[MAX_KEY];
    size_t prefix_len = 0, start_len, stop_len = 0, total = 0, i;
    const uint8_t *data;
    int page = 0;
    outcome o;
    int32_t rc;

    /* The prefix is the key built from the leading parts only. */
    persistency_key_clear(k);
    if (failed("building a prefix", persistency_key_push_str(k, topic))) return 1;
    data = persistency_key_data(k, &prefix_len);
    memcpy(prefix, data, prefix_len);
    if (failed("persistency_prefix_stop", persistency_prefix_stop(prefix, prefix_len, stop, &stop_len))) {
        return 1;
    }
    outcome_init(&o);
    /* First page: scan_prefix. Next pages: scan [last key + 0x00, prefix stop). */
    rc = wait_for(persistency_scan_prefix(job, CATEGORY, prefix, prefix_len, false, PAGE_SIZE,
                                          on_result, &o),
                  &o);
    for (;;) {
        if (failed("scan", rc)) return 1;
        page++;
        for (i = 0; i < o.row_count; i++) {
            printf("  page %d: %s @%" PRId64 " \"%s\"\n", page, topic,
                   key_timestamp(o.rows[i].key, o.rows[i].key_len), o.rows[i].payload);
        }
        total += o.row_count;
        if (!o.has_more) break;
        start_len = o.rows[o.row_count - 1].key_len;
        memcpy(start, o.rows[o.row_count - 1].key, start_len);
        start[start_len++] = 0x00;
        rc = wait_for(persistency_scan(job, CATEGORY, start, start_len, stop, stop_len, false,
                                       PAGE_SIZE, on_result, &o),
                      &o);
    }
    printf("scan of %s: %zu messages in %d pages of at most %d\n", topic, total, page, PAGE_SIZE);
    return total == 4 ? 0 : 1;
}

int main(void) {
    persistency *db = NULL;
    persistency_job *job = NULL;
    persistency_key *key = NULL;
    persistency_stats stats;
    int rc = 1;

    printf("libpersistency %s\n", persistency_version());
    if (failed("persistency_new", persistency_new("./data", &db))) return 1;
    if (failed("persistency_open_job", persistency_open_job(db, "quickstart", &job))) goto done;
    printf("opened job \"%s\" under %s\n", persistency_job_id(job), persistency_root_dir(db));
    key = persistency_key_new();
    if (key == NULL) goto done;

    if (write_messages(job, key) != 0) goto done;
    if (read_one(job, key) != 0) goto done;
    if (scan_topic(job, key, "/waku/2/rs/0/chat") != 0) goto done;
    if (failed("persistency_job_stats", persistency_job_stats(job, &stats))) goto done;
    printf("stats: %" PRIu64 " ops applied in %" PRIu64 " transactions, %" PRIu64
           " reads, %" PRIu64 " bytes on disk\n",
           stats.ops_applied, stats.transactions, stats.reads, stats.db_bytes);
    rc = 0;

done:
    persistency_key_free(key);
    persistency_job_release(job);
    /* Releasing the last reference closes the instance and its jobs. */
    persistency_release(db);
    printf("%s\n", rc == 0 ? "done" : "FAILED");
    return rc;
}
