/* The Go binding's benchmarks (bench_test.go), through the C ABI directly:
 * 32-byte random keys, 256-byte payloads, one on-disk job with default
 * options; fire-and-forget puts followed by one flush, then sequential
 * blocking gets of random existing keys. Build and run with run.sh.
 *
 *   bench [n_puts [n_gets]]     (defaults 100000 100000)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "persistency.h"

enum { KEY_LEN = 32, PAYLOAD_LEN = 256, GET_KEYS = 10000 };

/* One blocking wait for one callback. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    int32_t status;
    int found;
    size_t value_len;
} waiter;

static void waiter_init(waiter *w) {
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = 0;
}

static void on_result(const persistency_result *r, void *user_data) {
    waiter *w = user_data;
    pthread_mutex_lock(&w->mu);
    w->status = r->status;
    w->found = r->found;
    w->value_len = r->value_len;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static void wait_for(waiter *w) {
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        pthread_cond_wait(&w->cond, &w->mu);
    }
    w->done = 0;
    pthread_mutex_unlock(&w->mu);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)next_random();
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(persistency_status s, const char *what) {
    if (s != PERSISTENCY_OK) {
        const char *msg = persistency_last_error();
        fprintf(stderr, "%s: %s: %s\n", what, persistency_status_name(s), msg ? msg : "");
        exit(1);
    }
}

static persistency_job *open_job(persistency *p, const char *id) {
    persistency_job *job = NULL;
    check(persistency_open_job(p, id, &job), "open_job");
    return job;
}

static void flush(persistency_job *job, waiter *w) {
    check(persistency_flush(job, on_result, w), "flush");
    wait_for(w);
    check(w->status, "flush callback");
}

int main(int argc, char **argv) {
    size_t n_puts = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t n_gets = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    char root[] = "/tmp/persistency-bench-XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    persistency *p = NULL;
    check(persistency_new(root, &p), "new");
    waiter w;
    waiter_init(&w);
    uint8_t payload[PAYLOAD_LEN];
    fill_random(payload, sizeof payload);

    /* Puts: keys generated before the timed region, as in the Go benchmark. */
    uint8_t *keys = malloc(n_puts * KEY_LEN);
    if (keys == NULL) {
        return 1;
    }
    fill_random(keys, n_puts * KEY_LEN);
    persistency_job *job = open_job(p, "bench_put");
    double t0 = now();
    for (size_t i = 0; i < n_puts; i++) {
        check(persistency_put(job, "messages", keys + i * KEY_LEN, KEY_LEN, payload, PAYLOAD_LEN), "put");
    }
    flush(job, &w);
    double put_s = now() - t0;
    printf("C put: %zu puts in %.3f s: %.0f puts/s, %.0f ns/op\n", n_puts, put_s, n_puts / put_s,
           put_s * 1e9 / n_puts);
    persistency_job_release(job);
    free(keys);

    /* Gets: sequential, each waiting for its callback. */
    uint8_t *get_keys = malloc((size_t)GET_KEYS * KEY_LEN);
    if (get_keys == NULL) {
        return 1;
    }
    fill_random(get_keys, (size_t)GET_KEYS * KEY_LEN);
    job = open_job(p, "bench_get");
    for (size_t i = 0; i < GET_KEYS; i++) {
        check(persistency_put(job, "messages", get_keys + i * KEY_LEN, KEY_LEN, payload, PAYLOAD_LEN), "put");
    }
    flush(job, &w);
    t0 = now();
    for (size_t i = 0; i < n_gets; i++) {
        const uint8_t *key = get_keys + (next_random() % GET_KEYS) * KEY_LEN;
        check(persistency_get(job, "messages", key, KEY_LEN, on_result, &w), "get");
        wait_for(&w);
        if (w.status != PERSISTENCY_OK || !w.found || w.value_len != PAYLOAD_LEN) {
            fprintf(stderr, "get %zu: status %d found %d len %zu\n", i, w.status, w.found, w.value_len);
            return 1;
        }
    }
    double get_s = now() - t0;
    printf("C get: %zu gets in %.3f s: %.0f gets/s, %.0f ns/op\n", n_gets, get_s, n_gets / get_s,
           get_s * 1e9 / n_gets);

    /* Blocking gets: the call Go's Get makes, one plain call each. */
    t0 = now();
    for (size_t i = 0; i < n_gets; i++) {
        const uint8_t *key = get_keys + (next_random() % GET_KEYS) * KEY_LEN;
        const persistency_result *reply = NULL;
        check(persistency_get_sync(job, "messages", key, KEY_LEN, &reply), "get_sync");
        if (!reply->found || reply->value_len != PAYLOAD_LEN) {
            fprintf(stderr, "get_sync %zu: found %d len %zu\n", i, reply->found, reply->value_len);
            return 1;
        }
        persistency_reply_free(reply);
    }
    double sync_s = now() - t0;
    printf("C blocking get: %zu gets in %.3f s: %.0f gets/s, %.0f ns/op\n", n_gets, sync_s,
           n_gets / sync_s, sync_s * 1e9 / n_gets);
    persistency_job_release(job);
    free(get_keys);

    check(persistency_drop_job(p, "bench_put"), "drop");
    check(persistency_drop_job(p, "bench_get"), "drop");
    persistency_release(p);
    rmdir(root);
    return 0;
}
