/* The spec pipeline: YAML text in, validated canonical specs and their
 * revision hashes out. Used by cassinyd and by `cassinyctl validate`. */
#ifndef CASS_SPEC_H
#define CASS_SPEC_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

#define CASS_SPEC_API_VERSION "cassiny/v1"

/* Loads every document of buf (YAML or JSON text). On success returns a new
 * array (caller owns) with one object per document, in order:
 *   {"kind": "Notebook", "name": "churn-analysis", "line": 1,
 *    "spec": <the whole document, validated, defaults filled, quantities
 *             canonical>,
 *    "canonical": "<spec as canonical JSON text>",
 *    "revision": "sha256:<hex of canonical>",
 *    "pos": <the document's position map, see cass_yaml_parse>}
 * On failure returns NULL and *err holds every error of every document as
 * items (path relative to its document, absolute line and column). An
 * input with no document at all is an error. */
json_t *cass_spec_load(const char *buf, size_t len, struct cass_error **err);

/* Canonical JSON text of v: sorted keys, no insignificant whitespace, ASCII
 * only, reals with up to 15 significant digits. Caller owns. */
char *cass_spec_canonical(const json_t *v);

/* "sha256:<hex>" of the canonical JSON text of v. Caller owns. */
char *cass_spec_revision(const json_t *v);

/* Loads one YAML document against the named embedded schema (for instance
 * "config.schema.json"); returns the value with defaults filled (caller
 * owns) or NULL with *err as for cass_spec_load. */
json_t *cass_spec_load_as(const char *buf, size_t len, const char *schema_name,
                          struct cass_error **err);

/* As cass_spec_load_as; on success also sets *ret_pos (when ret_pos is not
 * NULL) to the document's position map (new reference, caller owns; an
 * empty object for an empty document), so that checks beyond the schema can
 * name lines too. */
json_t *cass_spec_load_as_pos(const char *buf, size_t len, const char *schema_name,
                              json_t **ret_pos, struct cass_error **err);

#endif
