/*
 * The version three ways: the header's PERSISTENCY_VERSION_* macros, the
 * crate version in Cargo.toml (passed by run.sh as PERSISTENCY_EXPECTED_VERSION)
 * and what the loaded library reports, plus the SQLite version it runs on.
 */
#include "harness.h"

#include <stdlib.h>

#ifndef PERSISTENCY_EXPECTED_VERSION
#error "build with -DPERSISTENCY_EXPECTED_VERSION=\"x.y.z\" (the crate version)"
#endif

/* The macros are usable in #if, as the ABI policy promises. */
#if !defined(PERSISTENCY_VERSION_MAJOR) || !defined(PERSISTENCY_VERSION_MINOR) || \
    !defined(PERSISTENCY_VERSION_PATCH) || !defined(PERSISTENCY_VERSION_NUMBER)
#error "the header lacks the PERSISTENCY_VERSION_* macros"
#endif
#if PERSISTENCY_VERSION_NUMBER != \
    PERSISTENCY_VERSION_MAJOR * 1000000 + PERSISTENCY_VERSION_MINOR * 1000 + PERSISTENCY_VERSION_PATCH
#error "PERSISTENCY_VERSION_NUMBER disagrees with MAJOR/MINOR/PATCH"
#endif

static void test_header_matches_cargo_toml(void) {
    char parts[64];

    CHECKF(strcmp(PERSISTENCY_VERSION_STRING, PERSISTENCY_EXPECTED_VERSION) == 0,
           "header says %s, Cargo.toml %s", PERSISTENCY_VERSION_STRING,
           PERSISTENCY_EXPECTED_VERSION);
    snprintf(parts, sizeof parts, "%d.%d.%d", PERSISTENCY_VERSION_MAJOR,
             PERSISTENCY_VERSION_MINOR, PERSISTENCY_VERSION_PATCH);
    /* A pre-release suffix ("-rc.1") may follow the three numbers. */
    CHECKF(strncmp(PERSISTENCY_VERSION_STRING, parts, strlen(parts)) == 0,
           "string %s, numbers %s", PERSISTENCY_VERSION_STRING, parts);
}

static void test_runtime_matches_header(void) {
    const char *v = persistency_version();

    CHECK(v != NULL);
    CHECKF(strcmp(v, PERSISTENCY_VERSION_STRING) == 0, "library %s, header %s", v,
           PERSISTENCY_VERSION_STRING);
}

static void test_sqlite_version_is_static_and_plausible(void) {
    const char *v = persistency_sqlite_version();
    int major = 0, minor = 0;

    CHECK(v != NULL);
    CHECK(persistency_sqlite_version() == v);
    CHECKF(sscanf(v, "%d.%d", &major, &minor) == 2 && major == 3 && minor > 0,
           "unexpected SQLite version %s", v);
    /* Not a status-returning call: it leaves the last error alone. */
    CHECK_INVALID(persistency_new(NULL, NULL));
    persistency_sqlite_version();
    CHECK(persistency_last_error() != NULL);
}

int main(void) {
    static const test_case tests[] = {
        {"version/header matches Cargo.toml", test_header_matches_cargo_toml},
        {"version/persistency_version() matches the header", test_runtime_matches_header},
        {"version/persistency_sqlite_version()", test_sqlite_version_is_static_and_plausible},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
