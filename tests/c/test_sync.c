/*
 * Sync sets through the C API: adds (fire-and-forget and acknowledged),
 * removes, prunes, summaries against XORs computed here, splits, items,
 * unions, the length, persistence across a reopen, and every argument
 * error (NULL pointers, short output arrays, the reserved largest id).
 */
#include "harness.h"

#define N 500

static persistency_sync_id make_id(int64_t time, uint32_t seed) {
    persistency_sync_id id;
    uint32_t x = seed * 2654435761u + 1;
    id.time = time;
    for (int k = 0; k < 32; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        id.hash[k] = (uint8_t)x;
    }
    return id;
}

static persistency_sync_id lowest(void) {
    persistency_sync_id id;
    memset(&id, 0, sizeof id);
    id.time = INT64_MIN;
    return id;
}

static persistency_sync_id highest(void) {
    persistency_sync_id id;
    id.time = INT64_MAX;
    memset(id.hash, 0xff, sizeof id.hash);
    return id;
}

/* The XOR of the hashes of ids[from..to). */
static void xor_of(const persistency_sync_id *ids, size_t from, size_t to, uint8_t out[32]) {
    memset(out, 0, 32);
    for (size_t i = from; i < to; i++)
        for (int k = 0; k < 32; k++) out[k] ^= ids[i].hash[k];
}

static void test_sync_round_trip(void) {
    static persistency_sync_id ids[N];
    static persistency_sync_id got[N];
    persistency *p;
    persistency_job *job;
    uint64_t n = 99;
    size_t count = 99;
    uint8_t want[32];
    persistency_sync_summary sum;
    persistency_sync_part parts[8];
    const char *one[] = {"topic"};
    const char *both[] = {"topic", "other"};
    persistency_sync_id lo = lowest(), hi = highest();
    persistency_sync_id extra[2];

    /* Times 0..N-1 in order: ids[] is sorted. */
    for (int i = 0; i < N; i++) ids[i] = make_id(i, (uint32_t)i);
    CHECK_OK(open_instance("sync", &p));
    CHECK_OK(persistency_open_job(p, "sync", &job));
    CHECK_OK(persistency_sync_add(job, "topic", ids, N / 2));
    CHECK_OK(persistency_sync_add_sync(job, "topic", ids + N / 2 - 10, N / 2 + 10, &n));
    CHECK(n == N / 2);
    CHECK_OK(persistency_sync_len_sync(job, "topic", &n));
    CHECK(n == N);

    CHECK_OK(persistency_sync_summary_sync(job, one, 1, &lo, &hi, &sum));
    xor_of(ids, 0, N, want);
    CHECK(sum.count == N && memcmp(sum.fingerprint, want, 32) == 0);
    CHECK_OK(persistency_sync_summary_sync(job, one, 1, &ids[100], &ids[300], &sum));
    xor_of(ids, 100, 300, want);
    CHECK(sum.count == 200 && memcmp(sum.fingerprint, want, 32) == 0);

    CHECK_OK(persistency_sync_split_sync(job, one, 1, &ids[0], &ids[400], 8, parts, 8));
    for (int i = 0; i < 8; i++) {
        CHECK(parts[i].count == 50);
        CHECK(parts[i].start.time == 50 * i && parts[i].stop.time == 50 * (i + 1));
        xor_of(ids, (size_t)(50 * i), (size_t)(50 * (i + 1)), want);
        CHECK(memcmp(parts[i].fingerprint, want, 32) == 0);
    }

    CHECK_OK(persistency_sync_items_sync(job, one, 1, &ids[10], &hi, got, 20, &count));
    CHECK(count == 20);
    CHECK(memcmp(got, ids + 10, 20 * sizeof got[0]) == 0);

    /* A union with a second set holding two more ids. */
    extra[0] = make_id(-5, 7777);
    extra[1] = make_id(9000, 8888);
    CHECK_OK(persistency_sync_add_sync(job, "other", extra, 2, &n));
    CHECK(n == 2);
    CHECK_OK(persistency_sync_summary_sync(job, both, 2, &lo, &hi, &sum));
    CHECK(sum.count == N + 2);
    CHECK_OK(persistency_sync_items_sync(job, both, 2, &lo, &hi, got, 1, &count));
    CHECK(count == 1 && got[0].time == -5);

    /* Removes and prunes. */
    CHECK_OK(persistency_sync_remove(job, "topic", ids, 10));
    CHECK_OK(persistency_sync_remove_sync(job, "topic", ids, 20, &n));
    CHECK(n == 10);
    CHECK_OK(persistency_sync_prune_sync(job, "topic", 100, &n));
    CHECK(n == 80);
    CHECK_OK(persistency_sync_prune(job, "other", 0));
    CHECK_OK(persistency_sync_len_sync(job, "other", &n));
    CHECK(n == 1);

    /* The set survives closing the instance. */
    persistency_job_release(job);
    CHECK_OK(persistency_close(p));
    persistency_release(p);
    CHECK_OK(open_instance("sync", &p));
    CHECK_OK(persistency_open_job(p, "sync", &job));
    CHECK_OK(persistency_sync_summary_sync(job, one, 1, &lo, &hi, &sum));
    xor_of(ids, 100, N, want);
    CHECK(sum.count == N - 100 && memcmp(sum.fingerprint, want, 32) == 0);
    persistency_job_release(job);
    persistency_release(p);
}

static void test_sync_argument_errors(void) {
    persistency *p;
    persistency_job *job;
    uint64_t n = 5;
    size_t count = 5;
    persistency_sync_summary sum;
    persistency_sync_part parts[2];
    persistency_sync_id got[2];
    const char *one[] = {"s"};
    const char *twice[] = {"s", "s"};
    const char *null_name[] = {NULL};
    persistency_sync_id lo = lowest(), hi = highest(), id = make_id(1, 1);

    CHECK_OK(persistency_new(":memory:", &p));
    CHECK_OK(persistency_open_job(p, "args", &job));
    CHECK_INVALID(persistency_sync_add(NULL, "s", &id, 1));
    CHECK_INVALID(persistency_sync_add(job, NULL, &id, 1));
    CHECK_INVALID(persistency_sync_add(job, "", &id, 1));
    CHECK_INVALID(persistency_sync_add(job, "s", NULL, 1));
    CHECK_INVALID(persistency_sync_add_sync(job, "s", &hi, 1, &n));
    CHECK(n == 0);
    CHECK_OK(persistency_sync_add_sync(job, "s", NULL, 0, NULL));
    CHECK_INVALID(persistency_sync_remove_sync(NULL, "s", &id, 1, &n));
    CHECK_INVALID(persistency_sync_prune(job, NULL, 0));
    CHECK_INVALID(persistency_sync_summary_sync(job, one, 1, &lo, &hi, NULL));
    CHECK_INVALID(persistency_sync_summary_sync(job, NULL, 1, &lo, &hi, &sum));
    CHECK_INVALID(persistency_sync_summary_sync(job, one, 0, &lo, &hi, &sum));
    CHECK_INVALID(persistency_sync_summary_sync(job, twice, 2, &lo, &hi, &sum));
    CHECK_INVALID(persistency_sync_summary_sync(job, null_name, 1, &lo, &hi, &sum));
    CHECK_INVALID(persistency_sync_summary_sync(job, one, 1, NULL, &hi, &sum));
    CHECK_INVALID(persistency_sync_split_sync(job, one, 1, &lo, &hi, 3, parts, 2));
    CHECK_INVALID(persistency_sync_split_sync(job, one, 1, &lo, &hi, 0, parts, 2));
    CHECK_INVALID(persistency_sync_split_sync(job, one, 1, &lo, &hi, 2, NULL, 2));
    CHECK_INVALID(persistency_sync_items_sync(job, one, 1, &lo, &hi, got, 0, &count));
    CHECK(count == 0);
    CHECK_INVALID(persistency_sync_items_sync(job, one, 1, &lo, &hi, got, 2, NULL));
    CHECK_INVALID(persistency_sync_len_sync(job, "s", NULL));
    CHECK_OK(persistency_sync_split_sync(job, one, 1, &lo, &hi, 2, parts, 2));
    CHECK(parts[0].count == 0 && parts[1].count == 0);
    CHECK_OK(persistency_close_job(p, "args"));
    CHECK_STATUS(persistency_sync_len_sync(job, "s", &n), PERSISTENCY_ERR_CLOSED);
    persistency_job_release(job);
    persistency_release(p);
}

int main(void) {
    static const test_case tests[] = {
        {"sync/round_trip", test_sync_round_trip},
        {"sync/argument_errors", test_sync_argument_errors},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
