/* What cassinyctl prints: a table for people, JSON or YAML for scripts. */
#ifndef CASS_OUTPUT_H
#define CASS_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

enum cass_output_format { CASS_OUTPUT_TABLE = 0, CASS_OUTPUT_JSON, CASS_OUTPUT_YAML };

int cass_output_format_parse(const char *s, enum cass_output_format *ret);

/* Pretty JSON with sorted keys and a final newline. */
void cass_output_json(FILE *f, const json_t *v);

/* Block-style YAML; strings that YAML would read as something else are
 * quoted. Returns -1 if the emitter fails. */
int cass_output_yaml(FILE *f, const json_t *v);

/* v as JSON or YAML by format (TABLE prints JSON). */
void cass_output_value(FILE *f, enum cass_output_format format, const json_t *v);

/* A text table with a header row and columns padded to their widest cell.
 * Cells are copied; control characters are replaced so that text from a
 * container cannot move the cursor. */
struct cass_table;
struct cass_table *cass_table_new(size_t ncols, const char *const *headers);
void cass_table_add(struct cass_table *t, const char *const *cells);
void cass_table_print(const struct cass_table *t, FILE *f);
void cass_table_free(struct cass_table *t);

#endif
