#include "config.h"

#include <string.h>

#include "vocab.h"

#define KIND_ENTRY(name, file) {#name, #file ".schema.json"},
const struct cass_vocab_kind cass_vocab_kinds[] = {CASS_VOCAB_KINDS(KIND_ENTRY){NULL, NULL}};

const char *const cass_vocab_statuses[] = {"pending", "queued",    "creating", "starting", "ready",
                                           "running", "succeeded", "failed",   "stopped",  NULL};

const struct cass_vocab_kind *cass_vocab_kind(const char *name)
{
    for (const struct cass_vocab_kind *k = cass_vocab_kinds; name && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

bool cass_vocab_status_valid(const char *status)
{
    for (const char *const *s = cass_vocab_statuses; status && *s; s++)
        if (strcmp(*s, status) == 0)
            return true;
    return false;
}

bool cass_vocab_status_final(const char *status)
{
    return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "stopped") == 0);
}

bool cass_vocab_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 63 || name[0] == '-' || name[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return false;
    return true;
}

bool cass_vocab_run_id_valid(const char *id)
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    /* The first character of a ULID holds 3 bits of the time: 0 to 7. */
    if (!id || strncmp(id, "r-", 2) != 0 || strlen(id) != 28 || id[2] > '7')
        return false;
    for (size_t i = 2; i < 28; i++)
        if (!strchr(crockford, id[i]))
            return false;
    return true;
}
