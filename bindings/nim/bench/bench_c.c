/* The twin of bench.nim through the C ABI: the same job, rows, keys and
 * reads; a blocking wait (mutex + condition variable) per get one at a
 * time, and one wait for 1,000 callbacks in flight. Each phase runs five
 * times and the best is printed, as in bench.nim.
 *
 *   bench_c <root_dir>
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "persistency.h"

enum { ROWS = 10000, SEQUENTIAL = 20000, BATCH = 1000, ROUNDS = 20, REPS = 5 };

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int pending;
    int missing;
} counter;

static void on_get(const persistency_result *r, void *user_data) {
    counter *c = user_data;
    pthread_mutex_lock(&c->mu);
    if (r->status != PERSISTENCY_OK || !r->found) c->missing++;
    if (--c->pending == 0) pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void on_done(const persistency_result *r, void *user_data) {
    (void)r;
    on_get(&(persistency_result){.status = PERSISTENCY_OK, .found = true}, user_data);
}

static void wait_all(counter *c) {
    pthread_mutex_lock(&c->mu);
    while (c->pending > 0) pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void key_of(int i, uint8_t out[32]) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    for (int j = 0; j < 32; j++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        out[j] = (uint8_t)(x & 0xFF);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *what, int n, double ns) {
    printf("%s: %.2f us/get, %.0f gets/s\n", what, ns / n / 1000.0, n / (ns / 1e9));
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: bench_c <root_dir>\n"); return 2; }
    persistency *p = NULL;
    persistency_job *job = NULL;
    if (persistency_new(argv[1], &p) != PERSISTENCY_OK ||
        persistency_open_job(p, "bench", &job) != PERSISTENCY_OK) {
        fprintf(stderr, "open: %s\n", persistency_last_error());
        return 1;
    }
    uint8_t key[32], payload[256] = {0};
    for (int i = 0; i < ROWS; i++) {
        key_of(i, key);
        if (persistency_put(job, "b", key, 32, payload, sizeof payload) != PERSISTENCY_OK) return 1;
    }
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0};
    if (persistency_flush(job, on_done, &c) != PERSISTENCY_OK) return 1;
    wait_all(&c);

    double best = 1e300;
    for (int rep = 0; rep < REPS; rep++) {
        double start = now_ns();
        for (int i = 0; i < SEQUENTIAL; i++) {
            key_of((i * 7919) % ROWS, key);
            pthread_mutex_lock(&c.mu);
            c.pending = 1;
            pthread_mutex_unlock(&c.mu);
            if (persistency_get(job, "b", key, 32, on_get, &c) != PERSISTENCY_OK) return 1;
            wait_all(&c);
        }
        double ns = now_ns() - start;
        if (ns < best) best = ns;
    }
    report("c get, one at a time", SEQUENTIAL, best);

    best = 1e300;
    for (int rep = 0; rep < REPS; rep++) {
        double start = now_ns();
        for (int round = 0; round < ROUNDS; round++) {
            pthread_mutex_lock(&c.mu);
            c.pending = BATCH;
            pthread_mutex_unlock(&c.mu);
            for (int i = 0; i < BATCH; i++) {
                key_of(((round * BATCH + i) * 7919) % ROWS, key);
                if (persistency_get(job, "b", key, 32, on_get, &c) != PERSISTENCY_OK) return 1;
            }
            wait_all(&c);
        }
        double ns = now_ns() - start;
        if (ns < best) best = ns;
    }
    report("c 1,000 gets in flight", ROUNDS * BATCH, best);
    if (c.missing != 0) { fprintf(stderr, "%d gets missed\n", c.missing); return 1; }
    persistency_job_release(job);
    persistency_release(p);
    return 0;
}
