#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole spec pipeline on arbitrary bytes: it must return, not crash,
 * leak or hang, whatever comes in. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cass_error *err = NULL;
    json_t *docs = cass_spec_load((const char *)data, size, &err);
    json_decref(docs);
    cass_error_free(err);
    return 0;
}
