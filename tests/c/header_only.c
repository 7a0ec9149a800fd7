/* Compiles include/persistency.h on its own (as C99 and as C++). */
#include "persistency.h"

/** Keeps the translation unit non-empty and uses a type and a constant. */
int header_only_anchor(const persistency_result *result);
int header_only_anchor(const persistency_result *result) {
    return result != NULL && result->status == PERSISTENCY_OK;
}
