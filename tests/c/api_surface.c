/*
 * Proves that include/persistency.h matches the C API contract
 * (docs/c-api.md): every function, type, constant and struct field named
 * there is used here with its documented type. Compiled with -Werror, so a
 * renamed item, a changed signature (incompatible function pointer) or a
 * changed field type fails the build.
 * It is also linked and run, so every function is found in the library.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "persistency.h"

/* C99 compile-time assertion (a negative array size fails the build). */
#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]

/* Status codes. */
STATIC_CHECK(ok, PERSISTENCY_OK == 0);
STATIC_CHECK(backend, PERSISTENCY_ERR_BACKEND == 1);
STATIC_CHECK(closed, PERSISTENCY_ERR_CLOSED == 2);
STATIC_CHECK(invalid, PERSISTENCY_ERR_INVALID_ARGUMENT == 3);
STATIC_CHECK(timeout, PERSISTENCY_ERR_TIMEOUT == 4);
STATIC_CHECK(not_found, PERSISTENCY_ERR_JOB_NOT_FOUND == 5);
STATIC_CHECK(busy, PERSISTENCY_ERR_BUSY == 6);
STATIC_CHECK(full, PERSISTENCY_ERR_FULL == 7);
STATIC_CHECK(internal, PERSISTENCY_ERR_INTERNAL == 8);
/* Job options. */
STATIC_CHECK(sync_normal, PERSISTENCY_SYNC_NORMAL == 0);
STATIC_CHECK(sync_off, PERSISTENCY_SYNC_OFF == 1);
STATIC_CHECK(sync_full, PERSISTENCY_SYNC_FULL == 2);
STATIC_CHECK(full_block, PERSISTENCY_FULL_BLOCK == 0);
STATIC_CHECK(full_fail, PERSISTENCY_FULL_FAIL == 1);
/* Op kinds. */
STATIC_CHECK(op_put, PERSISTENCY_OP_PUT == 0);
STATIC_CHECK(op_delete, PERSISTENCY_OP_DELETE == 1);
STATIC_CHECK(op_delete_prefix, PERSISTENCY_OP_DELETE_PREFIX == 2);
STATIC_CHECK(op_delete_range, PERSISTENCY_OP_DELETE_RANGE == 3);
/* Log levels. */
STATIC_CHECK(log_error, PERSISTENCY_LOG_ERROR == 1);
STATIC_CHECK(log_warn, PERSISTENCY_LOG_WARN == 2);
STATIC_CHECK(log_info, PERSISTENCY_LOG_INFO == 3);
STATIC_CHECK(log_debug, PERSISTENCY_LOG_DEBUG == 4);

/* Struct fields in their documented order (these structs are versioned ABI). */
STATIC_CHECK(opt_order,
             offsetof(persistency_job_options, struct_size) == 0 &&
             offsetof(persistency_job_options, struct_size) < offsetof(persistency_job_options, synchronous) &&
             offsetof(persistency_job_options, synchronous) < offsetof(persistency_job_options, queue_capacity) &&
             offsetof(persistency_job_options, queue_capacity) < offsetof(persistency_job_options, full_policy) &&
             offsetof(persistency_job_options, full_policy) < offsetof(persistency_job_options, max_db_bytes) &&
             offsetof(persistency_job_options, max_db_bytes) < offsetof(persistency_job_options, max_queue_bytes) &&
             offsetof(persistency_job_options, max_queue_bytes) < offsetof(persistency_job_options, retention_max_bytes) &&
             offsetof(persistency_job_options, retention_max_bytes) < offsetof(persistency_job_options, retention_categories) &&
             offsetof(persistency_job_options, retention_categories) < offsetof(persistency_job_options, retention_category_count));
STATIC_CHECK(op_order,
             offsetof(persistency_op, kind) == 0 &&
             offsetof(persistency_op, kind) < offsetof(persistency_op, category) &&
             offsetof(persistency_op, category) < offsetof(persistency_op, key) &&
             offsetof(persistency_op, key) < offsetof(persistency_op, key_len) &&
             offsetof(persistency_op, key_len) < offsetof(persistency_op, payload) &&
             offsetof(persistency_op, payload) < offsetof(persistency_op, payload_len));
STATIC_CHECK(row_order,
             offsetof(persistency_row, key) == 0 &&
             offsetof(persistency_row, key) < offsetof(persistency_row, key_len) &&
             offsetof(persistency_row, key_len) < offsetof(persistency_row, payload) &&
             offsetof(persistency_row, payload) < offsetof(persistency_row, payload_len));
STATIC_CHECK(result_order,
             offsetof(persistency_result, status) == 0 &&
             offsetof(persistency_result, status) < offsetof(persistency_result, backend_code) &&
             offsetof(persistency_result, backend_code) < offsetof(persistency_result, error) &&
             offsetof(persistency_result, error) < offsetof(persistency_result, found) &&
             offsetof(persistency_result, found) < offsetof(persistency_result, value) &&
             offsetof(persistency_result, value) < offsetof(persistency_result, value_len) &&
             offsetof(persistency_result, value_len) < offsetof(persistency_result, count) &&
             offsetof(persistency_result, count) < offsetof(persistency_result, rows) &&
             offsetof(persistency_result, rows) < offsetof(persistency_result, row_count) &&
             offsetof(persistency_result, row_count) < offsetof(persistency_result, has_more));
STATIC_CHECK(bytes_order,
             offsetof(persistency_bytes, data) == 0 &&
             offsetof(persistency_bytes, data) < offsetof(persistency_bytes, len));
STATIC_CHECK(stats_order,
             offsetof(persistency_stats, queued) == 0 &&
             offsetof(persistency_stats, queued) < offsetof(persistency_stats, ops_applied) &&
             offsetof(persistency_stats, ops_applied) < offsetof(persistency_stats, ops_failed) &&
             offsetof(persistency_stats, ops_failed) < offsetof(persistency_stats, transactions) &&
             offsetof(persistency_stats, transactions) < offsetof(persistency_stats, reads) &&
             offsetof(persistency_stats, reads) < offsetof(persistency_stats, db_bytes));

/* Every function, as a pointer of its documented type. */
struct api_table {
    const char *(*last_error)(void);
    const char *(*status_name)(int32_t);
    const char *(*version)(void);

    persistency_status (*instance)(const char *, persistency **);
    persistency_status (*instance_current)(persistency **);
    persistency_status (*reset)(void);
    persistency_status (*new_)(const char *, persistency **);
    persistency_status (*close)(persistency *);
    void (*release)(persistency *);
    const char *(*root_dir)(const persistency *);

    persistency_status (*open_job)(persistency *, const char *, persistency_job **);
    persistency_status (*open_job_with)(persistency *, const char *,
                                        const persistency_job_options *, persistency_job **);
    persistency_status (*find_job)(persistency *, const char *, persistency_job **);
    bool (*has_job)(persistency *, const char *);
    persistency_status (*close_job)(persistency *, const char *);
    persistency_status (*drop_job)(persistency *, const char *);
    void (*job_release)(persistency_job *);
    const char *(*job_id)(const persistency_job *);
    void (*job_options_init)(persistency_job_options *);
    persistency_status (*job_options_init_sized)(persistency_job_options *, size_t);
    uint32_t (*set_wait_timeout)(uint32_t);

    persistency_status (*put)(persistency_job *, const char *, const uint8_t *, size_t,
                              const uint8_t *, size_t);
    persistency_status (*delete_)(persistency_job *, const char *, const uint8_t *, size_t);
    persistency_status (*delete_prefix)(persistency_job *, const char *, const uint8_t *, size_t);
    persistency_status (*write)(persistency_job *, const persistency_op *, size_t,
                                persistency_callback, void *);
    persistency_status (*flush)(persistency_job *, persistency_callback, void *);

    persistency_status (*get)(persistency_job *, const char *, const uint8_t *, size_t,
                              persistency_callback, void *);
    persistency_status (*exists)(persistency_job *, const char *, const uint8_t *, size_t,
                                 persistency_callback, void *);
    persistency_status (*scan)(persistency_job *, const char *, const uint8_t *, size_t,
                               const uint8_t *, size_t, bool, uint32_t,
                               persistency_callback, void *);
    persistency_status (*scan_prefix)(persistency_job *, const char *, const uint8_t *, size_t,
                                      bool, uint32_t, persistency_callback, void *);
    persistency_status (*count)(persistency_job *, const char *, const uint8_t *, size_t,
                                const uint8_t *, size_t, persistency_callback, void *);
    persistency_status (*delete_acked)(persistency_job *, const char *, const uint8_t *, size_t,
                                       persistency_callback, void *);
    persistency_status (*get_many)(persistency_job *, const char *, const persistency_bytes *,
                                   size_t, persistency_callback, void *);

    persistency_status (*job_stats)(persistency_job *, persistency_stats *);
    void (*set_logger)(persistency_log_callback, void *, int32_t);

    persistency_key *(*key_new)(void);
    void (*key_free)(persistency_key *);
    void (*key_clear)(persistency_key *);
    persistency_status (*key_push_str)(persistency_key *, const char *);
    persistency_status (*key_push_bytes)(persistency_key *, const uint8_t *, size_t);
    persistency_status (*key_push_i64)(persistency_key *, int64_t);
    persistency_status (*key_push_u64)(persistency_key *, uint64_t);
    persistency_status (*key_push_u8)(persistency_key *, uint8_t);
    persistency_status (*key_push_bool)(persistency_key *, bool);
    persistency_status (*key_push_raw)(persistency_key *, const uint8_t *, size_t);
    const uint8_t *(*key_data)(const persistency_key *, size_t *);
    persistency_status (*prefix_stop)(const uint8_t *, size_t, uint8_t *, size_t *);
    /* Blocking reads (issue 13). */
    persistency_status (*get_sync)(persistency_job *, const char *, const uint8_t *, size_t,
                                   const persistency_result **);
    persistency_status (*exists_sync)(persistency_job *, const char *, const uint8_t *, size_t,
                                      bool *);
    persistency_status (*count_sync)(persistency_job *, const char *, const uint8_t *, size_t,
                                     const uint8_t *, size_t, uint64_t *);
    persistency_status (*scan_sync)(persistency_job *, const char *, const uint8_t *, size_t,
                                    const uint8_t *, size_t, bool, uint32_t,
                                    const persistency_result **);
    persistency_status (*scan_prefix_sync)(persistency_job *, const char *, const uint8_t *,
                                           size_t, bool, uint32_t, const persistency_result **);
    persistency_status (*get_many_sync)(persistency_job *, const char *,
                                        const persistency_bytes *, size_t,
                                        const persistency_result **);
    void (*reply_free)(const persistency_result *);
    persistency_status (*cursor_open)(persistency_job *, const char *, const uint8_t *, size_t,
                                      const uint8_t *, size_t, bool, uint32_t,
                                      persistency_cursor **);
    persistency_status (*cursor_next)(persistency_cursor *, const persistency_result **);
    void (*cursor_close)(persistency_cursor *);
    /* Maintenance (issue 14). */
    persistency_status (*job_backup)(persistency_job *, const char *, persistency_callback,
                                     void *);
    persistency_status (*delete_range)(persistency_job *, const char *, const uint8_t *,
                                       size_t, const uint8_t *, size_t);
    persistency_status (*job_compact)(persistency_job *, persistency_callback, void *);
    persistency_status (*job_check)(persistency_job *, persistency_callback, void *);
    char *(*metrics_text)(const persistency *);
    void (*string_free)(char *);
    /* Sync sets (issue 18). */
    persistency_status (*sync_add)(persistency_job *, const char *, const persistency_sync_id *,
                                   size_t);
    persistency_status (*sync_add_sync)(persistency_job *, const char *,
                                        const persistency_sync_id *, size_t, uint64_t *);
    persistency_status (*sync_remove)(persistency_job *, const char *,
                                      const persistency_sync_id *, size_t);
    persistency_status (*sync_remove_sync)(persistency_job *, const char *,
                                           const persistency_sync_id *, size_t, uint64_t *);
    persistency_status (*sync_prune)(persistency_job *, const char *, int64_t);
    persistency_status (*sync_prune_sync)(persistency_job *, const char *, int64_t, uint64_t *);
    persistency_status (*sync_summary_sync)(persistency_job *, const char *const *, size_t,
                                            const persistency_sync_id *,
                                            const persistency_sync_id *,
                                            persistency_sync_summary *);
    persistency_status (*sync_split_sync)(persistency_job *, const char *const *, size_t,
                                          const persistency_sync_id *,
                                          const persistency_sync_id *, uint32_t,
                                          persistency_sync_part *, size_t);
    persistency_status (*sync_items_sync)(persistency_job *, const char *const *, size_t,
                                          const persistency_sync_id *,
                                          const persistency_sync_id *, persistency_sync_id *,
                                          size_t, size_t *);
    persistency_status (*sync_len_sync)(persistency_job *, const char *, uint64_t *);
};

static const struct api_table api = {
    persistency_last_error,
    persistency_status_name,
    persistency_version,
    persistency_instance,
    persistency_instance_current,
    persistency_reset,
    persistency_new,
    persistency_close,
    persistency_release,
    persistency_root_dir,
    persistency_open_job,
    persistency_open_job_with,
    persistency_find_job,
    persistency_has_job,
    persistency_close_job,
    persistency_drop_job,
    persistency_job_release,
    persistency_job_id,
    persistency_job_options_init,
    persistency_job_options_init_sized,
    persistency_set_wait_timeout,
    persistency_put,
    persistency_delete,
    persistency_delete_prefix,
    persistency_write,
    persistency_flush,
    persistency_get,
    persistency_exists,
    persistency_scan,
    persistency_scan_prefix,
    persistency_count,
    persistency_delete_acked,
    persistency_get_many,
    persistency_job_stats,
    persistency_set_logger,
    persistency_key_new,
    persistency_key_free,
    persistency_key_clear,
    persistency_key_push_str,
    persistency_key_push_bytes,
    persistency_key_push_i64,
    persistency_key_push_u64,
    persistency_key_push_u8,
    persistency_key_push_bool,
    persistency_key_push_raw,
    persistency_key_data,
    persistency_prefix_stop,
    persistency_get_sync,
    persistency_exists_sync,
    persistency_count_sync,
    persistency_scan_sync,
    persistency_scan_prefix_sync,
    persistency_get_many_sync,
    persistency_reply_free,
    persistency_cursor_open,
    persistency_cursor_next,
    persistency_cursor_close,
    persistency_job_backup,
    persistency_delete_range,
    persistency_job_compact,
    persistency_job_check,
    persistency_metrics_text,
    persistency_string_free,
    persistency_sync_add,
    persistency_sync_add_sync,
    persistency_sync_remove,
    persistency_sync_remove_sync,
    persistency_sync_prune,
    persistency_sync_prune_sync,
    persistency_sync_summary_sync,
    persistency_sync_split_sync,
    persistency_sync_items_sync,
    persistency_sync_len_sync,
};

/* The callback typedefs have the documented signatures. */
static void result_cb(const persistency_result *result, void *user_data) {
    (void)result;
    (void)user_data;
}
static void log_cb(int32_t level, const char *message, void *user_data) {
    (void)level;
    (void)message;
    (void)user_data;
}

/* Every field, through a pointer of its documented type. */
static int field_types(void) {
    persistency_status status = PERSISTENCY_OK;
    int32_t *status_p = &status;
    persistency_callback cb = result_cb;
    persistency_log_callback lcb = log_cb;
    persistency_job_options o;
    persistency_op op;
    persistency_row row;
    persistency_result res;
    persistency_bytes b;
    persistency_stats st;
    persistency_sync_part part;
    int used = 0;

    memset(&o, 0, sizeof o);
    memset(&op, 0, sizeof op);
    memset(&row, 0, sizeof row);
    memset(&res, 0, sizeof res);
    memset(&b, 0, sizeof b);
    memset(&st, 0, sizeof st);
    memset(&part, 0, sizeof part);
    {
        int64_t *s1 = &part.start.time;
        uint8_t (*s2)[32] = &part.stop.hash;
        uint64_t *s3 = &part.count;
        uint8_t (*s4)[32] = &part.fingerprint;
        persistency_sync_summary sum;
        uint64_t *s5 = &sum.count;
        uint8_t (*s6)[32] = &sum.fingerprint;
        memset(&sum, 0, sizeof sum);
        used += (s1 != NULL) + (s2 != NULL) + (s3 != NULL) + (s4 != NULL) + (s5 != NULL) +
                (s6 != NULL);
    }
    {
        uint32_t *o1 = &o.struct_size;
        int32_t *o2 = &o.synchronous;
        uint32_t *o3 = &o.queue_capacity;
        int32_t *o4 = &o.full_policy;
        uint64_t *o5 = &o.max_db_bytes;
        uint64_t *o6 = &o.max_queue_bytes;
        uint64_t *o7 = &o.retention_max_bytes;
        const char *const **o8 = &o.retention_categories;
        size_t *o9 = &o.retention_category_count;
        int32_t *p1 = &op.kind;
        const char **p2 = &op.category;
        const uint8_t **p3 = &op.key;
        size_t *p4 = &op.key_len;
        const uint8_t **p5 = &op.payload;
        size_t *p6 = &op.payload_len;
        const uint8_t **r1 = &row.key;
        size_t *r2 = &row.key_len;
        const uint8_t **r3 = &row.payload;
        size_t *r4 = &row.payload_len;
        int32_t *s1 = &res.status;
        int32_t *s2 = &res.backend_code;
        const char **s3 = &res.error;
        bool *s4 = &res.found;
        const uint8_t **s5 = &res.value;
        size_t *s6 = &res.value_len;
        uint64_t *s7 = &res.count;
        const persistency_row **s8 = &res.rows;
        size_t *s9 = &res.row_count;
        bool *s10 = &res.has_more;
        const uint8_t **b1 = &b.data;
        size_t *b2 = &b.len;
        uint64_t *t1 = &st.queued;
        uint64_t *t2 = &st.ops_applied;
        uint64_t *t3 = &st.ops_failed;
        uint64_t *t4 = &st.transactions;
        uint64_t *t5 = &st.reads;
        uint64_t *t6 = &st.db_bytes;
        used = (o1 && o2 && o3 && o4 && o5 && o6 && o7 && o8 && o9 && p1 && p2 && p3 && p4 && p5 && p6 && r1 && r2 &&
                r3 && r4 && s1 && s2 && s3 && s4 && s5 && s6 && s7 && s8 && s9 && s10 && b1 &&
                b2 && t1 && t2 && t3 && t4 && t5 && t6 && status_p && cb && lcb);
    }
    return used;
}

int main(void) {
    persistency_job_options defaults;

    /* Linking already proved every symbol exists; call the side-effect-free ones. */
    if (!field_types()) return 1;
    api.job_options_init(&defaults);
    if (defaults.struct_size != 24) {
        fprintf(stderr, "persistency_job_options_init set struct_size %u, want 24\n",
                (unsigned)defaults.struct_size);
        return 1;
    }
    if (api.job_options_init_sized(&defaults, sizeof defaults) != PERSISTENCY_OK
        || defaults.struct_size != sizeof defaults) {
        fprintf(stderr, "persistency_job_options_init_sized set struct_size %u, want %zu\n",
                (unsigned)defaults.struct_size, sizeof defaults);
        return 1;
    }
    if (api.status_name(PERSISTENCY_OK) == NULL || api.last_error() != NULL) return 1;
    api.reply_free(NULL); /* NULL is ignored */
    api.cursor_close(NULL);
    api.string_free(NULL); /* a no-op */
    printf("api surface: %zu functions, version %s\n",
           sizeof api / sizeof api.last_error, api.version());
    return 0;
}
