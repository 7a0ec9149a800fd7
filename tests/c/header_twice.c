/* Including the header twice must be harmless (include guard). */
#include "persistency.h"
#include "persistency.h"

/** Uses the header so the translation unit is not empty. */
int header_twice_anchor(persistency_status status);
int header_twice_anchor(persistency_status status) {
    return status == PERSISTENCY_ERR_INVALID_ARGUMENT;
}
