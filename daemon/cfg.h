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
 * is missing, the defaults alone. Beyond the schema: keys this build cannot
 * honour (engine: swarm) are refused, listen without tls on an address that
 * is not loopback is refused, the PEM files of listen.tls and gateway.tls
 * are read and checked (cass_listen_tls_load), and deprecated names are
 * resolved (limits.maxConcurrentRuns sets limits.maxConcurrentLaunches, both
 * set is refused), so that the new name always holds the value in effect.
 * Returns a new object (caller owns) or NULL with *err (items carry the
 * file's lines). *ret_warnings (when not NULL; caller owns, NULL when there is
 * none) gets one item per deprecated key used, with its line. */
json_t *cass_cfg_load(const char *path, int must_exist, struct cass_error **ret_warnings,
                      struct cass_error **err);

/* The same for text in memory; error and warning items carry no file name. */
json_t *cass_cfg_parse(const char *text, size_t len, struct cass_error **ret_warnings,
                       struct cass_error **err);

/* The workload backend for a loaded config: the static name of one this
 * build has ("docker", "swarm"), or NULL with *err. For engine: auto, info
 * is the engine's /info (NULL when it did not answer): "swarm" on an active
 * Swarm manager, else "docker"; *ret_note (caller owns) is set to a
 * sentence to log as a warning when auto could not tell (no /info, or one
 * it cannot read), else NULL; untouched on failure. */
const char *cass_cfg_backend(const json_t *cfg, const json_t *info, char **ret_note,
                             struct cass_error **err);

/* Sets key (a top-level string key from cass_cfg_flags) to value and
 * validates the whole config again. */
int cass_cfg_set(json_t **cfg, const char *key, const char *value, struct cass_error **err);

/* The value at a dotted path ("limits.maxBodyBytes"), borrowed; NULL if absent. */
json_t *cass_cfg_get(const json_t *cfg, const char *path);

#endif
