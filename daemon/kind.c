#include "config.h"

#include <string.h>

#include "kind.h"
#include "vocab.h"

/* Every kind the daemon runs, from the one list (lib/vocab.h). */
#define KIND_ENTRY(name, file) &cass_kind_##file,
static const struct cass_kind *const kinds[] = {CASS_VOCAB_KINDS(KIND_ENTRY)};

const struct cass_kind *cass_kind_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}
