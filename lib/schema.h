/* A validator for the subset of JSON Schema draft 2020-12 that the schemas in
 * schemas/ use: type, properties, required, additionalProperties, enum,
 * const, pattern (POSIX extended regex), minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, minLength, maxLength (in code points), items, minItems,
 * maxItems, minProperties, maxProperties, propertyNames, oneOf, anyOf, not,
 * $ref ("#/$defs/x" and "other.schema.json#/$defs/x" against the embedded
 * files), $defs, default, title/description (ignored), plus two of ours:
 *   "x-cassiny-quantity": "memory" | "cpus" | "duration"
 *       the value (string or number) is converted to its canonical number
 *       (bytes, cpus as a real rounded to 1/1000, whole seconds) before the
 *       numeric keywords of the same schema apply;
 *   "x-cassiny-path": true
 *       an absolute path with no "." or ".." component, no "//" and no
 *       trailing "/" (except "/" itself). */
#ifndef CASS_SCHEMA_H
#define CASS_SCHEMA_H

#include <jansson.h>

#include "error.h"

/* The schema files compiled into the binaries (build-aux/embed.sh). */
struct cass_schema_file {
    const char *name; /* "notebook.schema.json" */
    const char *text;
};
extern const struct cass_schema_file cass_schema_files[];

/* Parsed embedded schema by file name; borrowed (cached for the process
 * lifetime, thread-safe). NULL if unknown or unparsable. */
const json_t *cass_schema_get(const char *name);

/* Validates instance against schema and reports every error (not just the
 * first) as an item: path, position from pos (see cass_yaml_parse; may be
 * NULL), and a message naming the rule ("unknown field \"cpu\"; allowed:
 * cpus, memory, gpus", "must be at least 1", ...). On success returns a new
 * value (caller owns) with defaults filled and quantities converted; on
 * failure NULL with *err of kind INVALID. base_path is the path of instance
 * ("" for a whole document). */
/* Checks that schema uses only the keywords above (annotations such as
 * title, description, $comment, examples and errorMessage are allowed) and
 * that its patterns compile. cass_schema_get refuses files that fail this.
 * Returns 0, or -1 with one item per problem (path inside the schema). */
int cass_schema_check(const json_t *schema, struct cass_error **err);

json_t *cass_schema_apply(const json_t *schema, const json_t *instance, const json_t *pos,
                          const char *base_path, struct cass_error **err);

#endif
