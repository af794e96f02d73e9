/* YAML (through libyaml) into jansson values, keeping where every node came
 * from. Untrusted input: every size and count is capped. */
#ifndef CASS_YAML_H
#define CASS_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

struct cass_yaml_limits {
    size_t max_bytes;  /* whole input (1 MiB) */
    int max_depth;     /* nesting of mappings and sequences (64) */
    size_t max_items;  /* entries in one mapping or sequence (10000) */
    size_t max_docs;   /* documents in one input (1000) */
    size_t max_scalar; /* bytes in one scalar (65536) */
    size_t max_nodes;  /* nodes in one input (100000) */
};

void cass_yaml_limits_default(struct cass_yaml_limits *lim);

/* Parses every document of buf (separated by `---`). On success *ret_docs is
 * a new array (caller owns), one object per document:
 *   {"value": <the document as JSON>, "line": <line of the document start>,
 *    "pos": {"<path>": [value_line, value_col, key_line, key_col], ...}}
 * Paths are "" for the root, then "spec", "spec.resources.memory",
 * "spec.mounts[0].source"; a key that is not [A-Za-z_][A-Za-z0-9_-]* is
 * written as ["key"] with JSON string escapes (metadata.labels["a.b/c"]).
 * key_line/key_col are 0 for the root and for sequence items. Lines and
 * columns are 1-based.
 *
 * Scalars follow the YAML 1.2 core schema: plain null/~/empty -> null,
 * true/false -> boolean, integers (decimal, 0x, 0o) and floats -> numbers,
 * anything quoted or tagged !!str -> string. Refused, each as an error item
 * with its path and position: syntax errors, anchors and aliases, duplicate
 * keys, non-string keys, integers that overflow int64, non-finite floats,
 * invalid UTF-8, and every limit above. *err has kind SYNTAX for syntax and
 * encoding errors, TOO_LARGE for limits, INVALID for the rest. */
int cass_yaml_parse(const char *buf, size_t len, const struct cass_yaml_limits *lim,
                    json_t **ret_docs, struct cass_error **err);

/* Appends one path segment: key of a mapping (quoted when needed) or index
 * of a sequence. Caller owns the result. Shared with the schema validator so
 * that both write paths the same way. */
char *cass_yaml_path_key(const char *base, const char *key);
char *cass_yaml_path_index(const char *base, size_t index);

/* Looks up the position of path in a "pos" object; prefers the key position
 * when want_key is set and one exists. Missing paths give the nearest parent
 * that has a position. */
void cass_yaml_pos_lookup(const json_t *pos, const char *path, int want_key, int *ret_line,
                          int *ret_col);

#endif
