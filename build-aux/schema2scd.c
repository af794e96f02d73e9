/* schema2scd: writes a man page source (scdoc) from a template and the JSON
 * Schemas, so that cassiny-spec(5) and cassinyd.yaml(5) list every field the
 * daemon accepts and cannot drift from it. Build tool only.
 *
 * Usage: schema2scd TEMPLATE SCHEMA.json...
 *
 * The template is copied to stdout; a line "@fields NAME.schema.json@" is
 * replaced by one entry per property of that schema, depth first in the
 * schema's order: its dotted path ("[]" for the items of an array), its type,
 * whether it is required, its default, its bounds and its description.
 * $ref to another schema given on the command line ("common.schema.json#/
 * $defs/x") or inside one ("#/$defs/x") is followed; keywords beside a $ref
 * win over the target's. A property without a description (its own or its
 * target's) is an error: the page would say nothing about it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCHEMAS 16
#define MAX_DEPTH 16

struct schema {
    const char *id; /* "$id", e.g. "common.schema.json" */
    json_t *doc;    /* owned */
};

static struct schema schemas[MAX_SCHEMAS];
static size_t n_schemas;
static int failed;

static json_t *schema_doc(const char *id)
{
    for (size_t i = 0; i < n_schemas; i++)
        if (strcmp(schemas[i].id, id) == 0)
            return schemas[i].doc;
    return NULL;
}

/* The node a "$ref" names, seen from document doc_id; *ret_doc_id is the
 * document it is in. Borrowed; NULL when it does not resolve. */
static json_t *ref_target(const char *ref, const char *doc_id, const char **ret_doc_id)
{
    const char *hash = strchr(ref, '#');
    char file[256];
    size_t n = hash ? (size_t)(hash - ref) : strlen(ref);
    if (n >= sizeof(file))
        return NULL;
    memcpy(file, ref, n);
    file[n] = '\0';
    const char *id = n ? file : doc_id;
    json_t *cur = schema_doc(id);
    if (!cur)
        return NULL;
    for (size_t i = 0; i < n_schemas; i++)
        if (strcmp(schemas[i].id, id) == 0)
            *ret_doc_id = schemas[i].id;
    const char *p = hash ? hash + 1 : "";
    while (cur && *p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        char key[128];
        if (k >= sizeof(key))
            return NULL;
        memcpy(key, p, k);
        key[k] = '\0';
        cur = json_object_get(cur, key);
        p += k;
    }
    return cur;
}

/* node with its $ref chain merged in, the nearest keywords winning. Caller
 * owns. *doc_id becomes the document of the innermost target (where its
 * own "#/..." references point). */
static json_t *resolve(const json_t *node, const char **doc_id, const char *path)
{
    json_t *out = json_deep_copy(node);
    for (int depth = 0; out && json_is_string(json_object_get(out, "$ref")); depth++) {
        const char *ref = json_string_value(json_object_get(out, "$ref"));
        const json_t *target = depth < MAX_DEPTH ? ref_target(ref, *doc_id, doc_id) : NULL;
        if (!target) {
            fprintf(stderr, "schema2scd: %s: cannot resolve $ref %s\n", path, ref);
            failed = 1;
            json_object_del(out, "$ref");
            break;
        }
        json_t *merged = json_deep_copy(target);
        json_object_del(out, "$ref");
        json_object_update(merged, out); /* the referring keywords win */
        json_decref(out);
        out = merged;
    }
    return out;
}

/* Writes s with scdoc's markup characters escaped. */
static void put_text(const char *s)
{
    for (; *s; s++) {
        if (*s == '*' || *s == '_' || *s == '\\')
            putchar('\\');
        if (*s == '\n')
            fputs("\n\t", stdout);
        else
            putchar(*s);
    }
}

/* A JSON value as it is written in YAML flow style: strings quoted, lists
 * as [a, b]. */
static void put_value(const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        putchar('[');
        json_array_foreach(v, i, e)
        {
            fputs(i ? ", " : "", stdout);
            put_value(e);
        }
        putchar(']');
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s)
        put_text(s);
    free(s);
}

/* What kind of value it is, in words; doc_id: where p's references point. */
static void put_type(const json_t *p, const char *doc_id)
{
    const char *q = json_string_value(json_object_get(p, "x-cassiny-quantity"));
    const char *type = json_string_value(json_object_get(p, "type"));
    const json_t *en = json_object_get(p, "enum");
    const json_t *cn = json_object_get(p, "const");
    if (q && strcmp(q, "cpus") == 0) {
        fputs("number, or a string of millicpus (\"500m\")", stdout);
    } else if (q && strcmp(q, "memory") == 0) {
        fputs("bytes, or a quantity string (\"512Mi\", \"2Gi\", \"1G\")", stdout);
    } else if (q && strcmp(q, "duration") == 0) {
        fputs("seconds, or a duration string (\"90s\", \"45m\", \"1h30m\", \"1d\")", stdout);
    } else if (json_is_array(en)) {
        fputs("one of ", stdout);
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e)
        {
            fputs(i ? ", " : "", stdout);
            put_value(e);
        }
    } else if (cn) {
        fputs("exactly ", stdout);
        put_value(cn);
    } else if (type && strcmp(type, "object") == 0 &&
               json_is_object(json_object_get(p, "additionalProperties"))) {
        fputs("map of names to strings", stdout);
    } else if (type && strcmp(type, "array") == 0) {
        const char *item_doc = doc_id;
        json_t *items = resolve(json_object_get(p, "items"), &item_doc, "[]");
        const char *it = json_string_value(json_object_get(items, "type"));
        if (json_is_true(json_object_get(items, "x-cassiny-path")))
            it = "absolute path";
        printf("list%s%s%s", it ? " of " : "", it ? it : "", it ? "s" : "");
        json_decref(items);
    } else if (json_is_true(json_object_get(p, "x-cassiny-path"))) {
        fputs("absolute path", stdout);
    } else if (type) {
        fputs(type, stdout);
    } else {
        fputs("any", stdout);
    }
}

/* " From 1 to 64 items." and the like, from the bounds lo and hi (either
 * may be absent); gt: lo is exclusive. */
static void put_range(const json_t *lo, const json_t *hi, int gt, const char *unit)
{
    if (!json_is_number(lo) && !json_is_number(hi))
        return;
    if (json_is_number(lo) && json_is_number(hi) && !gt) {
        fputs(" From ", stdout);
        put_value(lo);
        fputs(" to ", stdout);
        put_value(hi);
    } else if (json_is_number(lo)) {
        fputs(gt ? " More than " : " At least ", stdout);
        put_value(lo);
        if (json_is_number(hi)) {
            fputs(", at most ", stdout);
            put_value(hi);
        }
    } else {
        fputs(" At most ", stdout);
        put_value(hi);
    }
    printf("%s%s.", *unit ? " " : "", unit);
}

static void put_bounds(const json_t *p)
{
    const json_t *gt = json_object_get(p, "exclusiveMinimum");
    put_range(gt ? gt : json_object_get(p, "minimum"), json_object_get(p, "maximum"), gt != NULL,
              "");
    put_range(json_object_get(p, "minLength"), json_object_get(p, "maxLength"), 0, "characters");
    put_range(json_object_get(p, "minItems"), json_object_get(p, "maxItems"), 0, "items");
    put_range(NULL, json_object_get(p, "maxProperties"), 0, "entries");
}

static void walk(const json_t *node, const char *doc_id, const char *path, int required, int depth);

#define PATH_MAX_LEN 1024

/* out = a, sep, b; 0, or -1 (and a failed run) when it does not fit. */
static int join_path(char out[PATH_MAX_LEN], const char *a, const char *sep, const char *b)
{
    int n = snprintf(out, PATH_MAX_LEN, "%s%s%s", a, sep, b);
    if (n < 0 || n >= PATH_MAX_LEN) {
        fprintf(stderr, "schema2scd: %s%s...: path too long\n", a, sep);
        failed = 1;
        return -1;
    }
    return 0;
}

static void walk_properties(const json_t *obj, const char *doc_id, const char *prefix, int depth)
{
    const json_t *props = json_object_get(obj, "properties");
    const json_t *req = json_object_get(obj, "required");
    const char *key;
    json_t *sub;
    json_object_foreach((json_t *)props, key, sub)
    {
        int required = 0;
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r)
        {
            if (json_is_string(r) && strcmp(json_string_value(r), key) == 0)
                required = 1;
        }
        char path[PATH_MAX_LEN];
        if (join_path(path, prefix, *prefix ? "." : "", key) == 0)
            walk(sub, doc_id, path, required, depth + 1);
    }
}

static void walk(const json_t *node, const char *doc_id, const char *path, int required, int depth)
{
    if (depth > MAX_DEPTH) {
        fprintf(stderr, "schema2scd: %s: nested too deep\n", path);
        failed = 1;
        return;
    }
    json_t *p = resolve(node, &doc_id, path);
    if (!p) {
        failed = 1;
        return;
    }
    const char *desc = json_string_value(json_object_get(p, "description"));
    if (!desc || !*desc) {
        fprintf(stderr, "schema2scd: %s: no description in the schema\n", path);
        failed = 1;
    }
    printf("*");
    put_text(path);
    printf("* (");
    put_type(p, doc_id);
    printf(")\n\t");
    put_text(desc ? desc : "");
    if (desc && desc[strlen(desc) - 1] != '.')
        putchar('.');
    if (required)
        fputs(" Required.", stdout);
    if (json_is_true(json_object_get(p, "deprecated")))
        fputs(" Deprecated.", stdout);
    const char *err_msg = json_string_value(json_object_get(p, "errorMessage"));
    if (err_msg) {
        fputs(" The value ", stdout);
        put_text(err_msg);
        putchar('.');
    }
    put_bounds(p);
    const json_t *def = json_object_get(p, "default");
    /* An object's default is its members' defaults, listed with them. */
    if (def && !json_is_object(def)) {
        fputs(" Default: ", stdout);
        put_value(def);
        putchar('.');
    }
    fputs("\n\n", stdout);

    walk_properties(p, doc_id, path, depth);
    const json_t *items = json_object_get(p, "items");
    if (items) {
        char ipath[PATH_MAX_LEN];
        const char *item_doc = doc_id;
        json_t *it =
            join_path(ipath, path, "[]", "") == 0 ? resolve(items, &item_doc, ipath) : NULL;
        if (it)
            walk_properties(it, item_doc, ipath, depth);
        json_decref(it);
    }
    json_decref(p);
}

static int load(const char *file)
{
    json_error_t jerr;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    const char *id = json_string_value(json_object_get(doc, "$id"));
    if (!doc || !id || n_schemas == MAX_SCHEMAS) {
        fprintf(stderr, "schema2scd: %s: %s\n", file,
                !doc ? jerr.text : (!id ? "no $id" : "too many schemas"));
        json_decref(doc);
        return -1;
    }
    schemas[n_schemas++] = (struct schema){id, doc};
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "Usage: schema2scd TEMPLATE SCHEMA.json...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (load(argv[i]) < 0)
            failed = 1;
    FILE *t = failed ? NULL : fopen(argv[1], "re");
    if (!t && !failed) {
        fprintf(stderr, "schema2scd: %s: %s\n", argv[1], strerror(errno));
        failed = 1;
    }
    char line[4096];
    while (t && fgets(line, sizeof(line), t)) {
        char id[256];
        if (sscanf(line, "@fields %255[^@]@", id) != 1) {
            fputs(line, stdout);
            continue;
        }
        const json_t *doc = schema_doc(id);
        if (!doc) {
            fprintf(stderr, "schema2scd: %s: no schema %s given\n", argv[1], id);
            failed = 1;
            continue;
        }
        walk_properties(doc, id, "", 0);
    }
    if (t)
        fclose(t);
    for (size_t i = 0; i < n_schemas; i++)
        json_decref(schemas[i].doc);
    if (fflush(stdout) != 0 || ferror(stdout))
        failed = 1;
    return failed ? 1 : 0;
}
