/* The daemon's configuration: one YAML file checked against
 * schemas/config.schema.json (which also holds the defaults), then
 * command-line flags, each of which names a config key. */
#ifndef CASS_CFG_H
#define CASS_CFG_H

#include <jansson.h>

#include "error.h"

/* One row per flag that sets a config key. */
struct cass_cfg_flag {
    const char *flag; /* "state-dir" */
    const char *key;  /* "stateDir" */
    const char *help;
};
extern const struct cass_cfg_flag cass_cfg_flags[];

/* Reads and validates path; when path is NULL or (with !must_exist) the file
 * is missing, the defaults alone. Returns a new object (caller owns) or NULL
 * with *err (items carry the file's lines). */
json_t *cass_cfg_load(const char *path, int must_exist, struct cass_error **err);

/* Sets key (a top-level string key from cass_cfg_flags) to value and
 * validates the whole config again. */
int cass_cfg_set(json_t **cfg, const char *key, const char *value, struct cass_error **err);

/* The value at a dotted path ("limits.maxBodyBytes"), borrowed; NULL if absent. */
json_t *cass_cfg_get(const json_t *cfg, const char *path);

#endif
