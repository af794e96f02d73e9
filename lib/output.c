#include "config.h"

#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "output.h"

int cass_output_format_parse(const char *s, enum cass_output_format *ret)
{
    if (strcmp(s, "table") == 0)
        *ret = CASS_OUTPUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *ret = CASS_OUTPUT_JSON;
    else if (strcmp(s, "yaml") == 0)
        *ret = CASS_OUTPUT_YAML;
    else
        return -1;
    return 0;
}

void cass_output_json(FILE *f, const json_t *v)
{
    json_dumpf(v, f, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fputc('\n', f);
}

/* Plain scalars only where a YAML 1.1 or 1.2 reader sees the same string. */
static int plain_safe(const char *s)
{
    static const char *const reserved[] = {"true", "false", "yes", "no", "on",
                                           "off",  "null",  "y",   "n",  "~"};
    if (!*s || strlen(s) > 200)
        return 0;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(s, reserved[i]) == 0)
            return 0;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '/' || s[0] == '_'))
        return 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("_-./@+=", c) || (c == ':' && p[1] != ' ' && p[1])))
            return 0;
    }
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, int quoted)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                      quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                             : YAML_PLAIN_SCALAR_STYLE))
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_value(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        size_t n = json_object_size(v);
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (!keys)
            return -1;
        size_t i = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) keys[i++] = k;
        qsort(keys, n, sizeof(*keys), (int (*)(const void *, const void *))strcmp);
        int rc = 0;
        for (i = 0; i < n && rc == 0; i++) {
            rc = emit_scalar(em, keys[i], !plain_safe(keys[i]));
            if (rc == 0)
                rc = emit_value(em, json_object_get(v, keys[i]));
        }
        free(keys);
        if (rc < 0)
            return -1;
        if (!yaml_mapping_end_event_initialize(&ev))
            return -1;
        return yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (emit_value(em, x) < 0)
                return -1;
        }
        if (!yaml_sequence_end_event_initialize(&ev))
            return -1;
        return yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        return emit_scalar(em, s, !plain_safe(s));
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, buf, 0);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
        if (!strpbrk(buf, ".eE"))
            strcat(buf, ".0");
        return emit_scalar(em, buf, 0);
    case JSON_TRUE:
        return emit_scalar(em, "true", 0);
    case JSON_FALSE:
        return emit_scalar(em, "false", 0);
    case JSON_NULL:
        return emit_scalar(em, "null", 0);
    }
    return -1;
}

static int write_file(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, (FILE *)data) == size;
}

int cass_output_yaml(FILE *f, const json_t *v)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return -1;
    yaml_emitter_set_output(&em, write_file, f);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 120);
    int rc = -1;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
        yaml_emitter_emit(&em, &ev) &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
        yaml_emitter_emit(&em, &ev) && emit_value(&em, v) == 0 &&
        yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
        yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev))
        rc = 0;
    yaml_emitter_delete(&em);
    return rc;
}

void cass_output_value(FILE *f, enum cass_output_format format, const json_t *v)
{
    if (format == CASS_OUTPUT_YAML)
        cass_output_yaml(f, v);
    else
        cass_output_json(f, v);
}

struct cass_table {
    size_t ncols, nrows;
    char **cells; /* (nrows + 1) * ncols, row 0 the header */
};

static char *clean_cell(const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c)
        abort();
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return c;
}

struct cass_table *cass_table_new(size_t ncols, const char *const *headers)
{
    struct cass_table *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->ncols = ncols;
    cass_table_add(t, headers);
    t->nrows = 0;
    return t;
}

void cass_table_add(struct cass_table *t, const char *const *cells)
{
    size_t row = t->cells ? t->nrows + 1 : 0;
    char **c = realloc(t->cells, (row + 1) * t->ncols * sizeof(*c));
    if (!c)
        abort();
    t->cells = c;
    for (size_t i = 0; i < t->ncols; i++)
        c[row * t->ncols + i] = clean_cell(cells[i]);
    if (row > 0)
        t->nrows++;
}

void cass_table_print(const struct cass_table *t, FILE *f)
{
    size_t width[32] = {0};
    size_t ncols = t->ncols < 32 ? t->ncols : 32;
    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t i = 0; i < ncols; i++) {
            size_t n = strlen(t->cells[r * t->ncols + i]);
            if (n > width[i])
                width[i] = n;
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t i = 0; i < ncols; i++) {
            const char *cell = t->cells[r * t->ncols + i];
            if (i + 1 < ncols)
                fprintf(f, "%-*s   ", (int)width[i], cell);
            else
                fprintf(f, "%s", cell);
        }
        fputc('\n', f);
    }
}

void cass_table_free(struct cass_table *t)
{
    if (!t)
        return;
    size_t n = t->cells ? (t->nrows + 1) * t->ncols : 0;
    for (size_t i = 0; i < n; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
