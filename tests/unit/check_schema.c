#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "schema.h"
#include "yaml.h"

static json_t *load_json(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, je.text);
    return v;
}

/* Applies a schema (JSON text) to an instance (YAML text, positions kept).
 * Returns the result or NULL with *err. */
static json_t *run(const char *schema_text, const char *yaml_text, struct cass_error **err)
{
    _cleanup_json_ json_t *schema = load_json(schema_text);
    _cleanup_json_ json_t *docs = NULL;
    struct cass_error *perr = NULL;
    *err = NULL;
    ck_assert_int_eq(cass_yaml_parse(yaml_text, strlen(yaml_text), NULL, &docs, &perr), 0);
    ck_assert_int_eq(json_array_size(docs), 1);
    const json_t *doc = json_array_get(docs, 0);
    return cass_schema_apply(schema, json_object_get(doc, "value"), json_object_get(doc, "pos"), "",
                             err);
}

static void expect_ok(const char *schema_text, const char *yaml_text, const char *want_json)
{
    struct cass_error *err = NULL;
    _cleanup_json_ json_t *out = run(schema_text, yaml_text, &err);
    ck_assert_msg(out != NULL, "refused %s: %s: %s", yaml_text,
                  err && err->n_items ? err->items[0].path : "",
                  err && err->n_items ? err->items[0].message : "?");
    if (want_json) {
        _cleanup_json_ json_t *want = load_json(want_json);
        _cleanup_free_ char *got = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        ck_assert_msg(json_equal(want, out), "got %s, want %s", got, want_json);
        /* same type, not just same number */
        ck_assert_int_eq(json_typeof(want), json_typeof(out));
    }
}

static const struct cass_error_item *find_item(const struct cass_error *e, const char *path)
{
    for (size_t i = 0; e && i < e->n_items; i++)
        if (!strcmp(e->items[i].path, path))
            return &e->items[i];
    return NULL;
}

/* Expects failure with an item at path whose message is exactly message
 * (or contains it when partial), at line:col when line > 0. */
static void expect_err_at(const char *schema_text, const char *yaml_text, const char *path,
                          const char *message, int line, int col)
{
    struct cass_error *err = NULL;
    json_t *out = run(schema_text, yaml_text, &err);
    ck_assert_msg(out == NULL, "accepted %s", yaml_text);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    const struct cass_error_item *it = find_item(err, path);
    ck_assert_msg(it != NULL, "no error at \"%s\" for %s (first: %s: %s)", path, yaml_text,
                  err->n_items ? err->items[0].path : "",
                  err->n_items ? err->items[0].message : "");
    ck_assert_msg(strstr(it->message, message) != NULL, "message \"%s\" lacks \"%s\"", it->message,
                  message);
    if (line > 0) {
        ck_assert_int_eq(it->line, line);
        ck_assert_int_eq(it->column, col);
    }
    cass_error_free(err);
}

static void expect_err(const char *schema_text, const char *yaml_text, const char *path,
                       const char *message)
{
    expect_err_at(schema_text, yaml_text, path, message, 0, 0);
}

START_TEST(kw_type)
{
    const char *s =
        "{\"properties\": {\"s\": {\"type\": \"string\"}, \"i\": {\"type\": \"integer\"},"
        " \"n\": {\"type\": \"number\"}, \"b\": {\"type\": \"boolean\"},"
        " \"o\": {\"type\": \"object\"}, \"a\": {\"type\": \"array\"},"
        " \"z\": {\"type\": \"null\"}, \"m\": {\"type\": [\"string\", \"integer\"]}}}";
    expect_ok(s, "{s: x, i: 1, n: 1.5, b: true, o: {}, a: [], z: null, m: 3}", NULL);
    expect_ok(s, "{n: 2, m: x}", NULL);
    /* an integral real where only an integer will do becomes the integer */
    expect_ok(s, "{i: 2.0}", "{\"i\": 2}");
    expect_ok(s, "{n: 2.0}", "{\"n\": 2.0}");
    expect_err_at(s, "s: 1", "s", "must be a string, not an integer", 1, 4);
    expect_err(s, "i: 1.5", "i", "must be an integer, not a number");
    expect_err(s, "i: \"1\"", "i", "must be an integer, not a string");
    expect_err(s, "n: x", "n", "must be a number");
    expect_err(s, "b: yes", "b", "must be a boolean, not a string");
    expect_err(s, "o: []", "o", "must be an object, not an array");
    expect_err(s, "a: {}", "a", "must be an array, not an object");
    expect_err(s, "z: 0", "z", "must be a null");
    expect_err(s, "m: true", "m", "must be a string or an integer, not a boolean");
}
END_TEST

START_TEST(kw_properties_additional_required)
{
    const char *s = "{\"type\": \"object\", \"additionalProperties\": false,"
                    " \"required\": [\"image\"],"
                    " \"properties\": {\"image\": {\"type\": \"string\"},"
                    "  \"resources\": {\"type\": \"object\", \"additionalProperties\": false,"
                    "   \"properties\": {\"memory\": {}, \"gpus\": {}, \"cpus\": {}}}}}";
    expect_ok(s, "image: x\nresources: {cpus: 1}\n",
              "{\"image\": \"x\", \"resources\": {\"cpus\": 1}}");
    expect_err_at(s, "image: x\nresources:\n  cpu: 1\n", "resources.cpu",
                  "unknown field \"cpu\" (allowed: cpus, gpus, memory)", 3, 3);
    expect_err_at(s, "resources: {}\n", "image", "required field \"image\" is missing", 1, 1);
    expect_err_at(s, "image: x\nresources:\n  x: 1\n  memory: 1\n", "resources.x", "unknown field",
                  3, 3);
    /* required at a nested level points at the parent's key */
    const char *n = "{\"properties\": {\"spec\": {\"required\": [\"image\"]}}}";
    expect_err_at(n, "kind: x\nspec:\n  other: 1\n", "spec.image",
                  "required field \"image\" is missing", 2, 1);
    /* additionalProperties as a schema */
    const char *env = "{\"additionalProperties\": {\"type\": \"string\"}}";
    expect_ok(env, "{A: x, B: y}", NULL);
    expect_err_at(env, "A: x\nB: 1\n", "B", "must be a string", 2, 4);
    /* no properties at all */
    expect_err("{\"additionalProperties\": false}", "a: 1", "a",
               "unknown field \"a\" (no fields allowed");
    /* odd keys get quoted paths */
    expect_err("{\"additionalProperties\": false}", "\"a.b\": 1", "[\"a.b\"]", "unknown field");
}
END_TEST

START_TEST(kw_enum_const)
{
    const char *s = "{\"properties\": {\"kind\": {\"enum\": [\"Notebook\", \"Job\", \"Model\"]},"
                    " \"n\": {\"enum\": [1, null, true]}, \"c\": {\"const\": \"cassiny/v1\"}}}";
    expect_ok(s, "{kind: Job, n: null, c: cassiny/v1}", NULL);
    expect_err_at(s, "kind: job\n", "kind", "must be one of: Notebook, Job, Model", 1, 7);
    expect_err(s, "n: 2", "n", "must be one of: 1, null, true");
    expect_err(s, "c: cassiny/v2", "c", "must be \"cassiny/v1\"");
    /* enum compares types: "1" is not 1 */
    expect_err(s, "n: \"1\"", "n", "must be one of");
}
END_TEST

START_TEST(kw_pattern)
{
    const char *s =
        "{\"properties\": {\"name\": {\"type\": \"string\","
        " \"pattern\": \"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$\"},"
        " \"nice\": {\"pattern\": \"^[a-z]+$\", \"errorMessage\": \"must be lowercase letters\"},"
        " \"sub\": {\"pattern\": \"b+\"}}}";
    expect_ok(s, "{name: churn-analysis, nice: abc, sub: abbbc}", NULL);
    expect_err(s, "name: Churn", "name", "must match ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
    expect_err(s, "name: a-", "name", "must match");
    struct cass_error *err = NULL;
    json_t *out = run(s, "nice: ABC", &err);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err->items[0].message, "must be lowercase letters");
    cass_error_free(err);
    /* unanchored: a search, as JSON Schema says */
    expect_err(s, "sub: ac", "sub", "must match b+");
    /* pattern ignores non-strings */
    expect_ok(s, "{sub: 12}", NULL);
    /* a broken pattern is a schema error, reported, not a crash */
    expect_err("{\"pattern\": \"([a-\"}", "x", "", "does not compile");
}
END_TEST

START_TEST(kw_numbers)
{
    const char *s = "{\"properties\": {\"r\": {\"minimum\": 1, \"maximum\": 10},"
                    " \"x\": {\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1.5},"
                    " \"big\": {\"maximum\": 9223372036854775807}}}";
    expect_ok(s, "{r: 1, x: 1.25, big: 9223372036854775807}", NULL);
    expect_ok(s, "{r: 10}", NULL);
    expect_err_at(s, "r: 0", "r", "must be at least 1", 1, 4);
    expect_err(s, "r: 11", "r", "must be at most 10");
    expect_err(s, "r: 10.5", "r", "must be at most 10");
    expect_err(s, "x: 0", "x", "must be greater than 0");
    expect_err(s, "x: 1.5", "x", "must be less than 1.5");
    /* numeric keywords ignore non-numbers */
    expect_ok(s, "{r: abc}", NULL);
}
END_TEST

START_TEST(kw_lengths)
{
    const char *s = "{\"properties\": {\"s\": {\"minLength\": 2, \"maxLength\": 3},"
                    " \"e\": {\"minLength\": 1}, \"a\": {\"minItems\": 1, \"maxItems\": 2},"
                    " \"o\": {\"minProperties\": 1, \"maxProperties\": 1}}}";
    expect_ok(s, "{s: ab, e: x, a: [1], o: {k: v}}", NULL);
    expect_ok(s, "{s: \"\xc3\xa9\xc3\xa9\xc3\xa9\"}", NULL); /* 3 code points, 6 bytes */
    expect_err(s, "s: a", "s", "must be at least 2 characters long");
    expect_err(s, "s: abcd", "s", "must be at most 3 characters long");
    expect_err(s, "e: \"\"", "e", "must not be empty");
    expect_err(s, "a: []", "a", "must have at least 1 item");
    expect_err(s, "a: [1, 2, 3]", "a", "must have at most 2 items");
    expect_err(s, "o: {}", "o", "must have at least 1 field");
    expect_err(s, "o: {a: 1, b: 2}", "o", "must have at most 1 field");
}
END_TEST

START_TEST(kw_items)
{
    const char *s =
        "{\"properties\": {\"cmd\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
        " \"mounts\": {\"items\": {\"required\": [\"source\"],"
        "   \"properties\": {\"readOnly\": {\"default\": false}}}}}}";
    expect_ok(s, "cmd: [python3, x.py]", NULL);
    expect_err_at(s, "cmd: [python3, 3]", "cmd[1]", "must be a string", 1, 16);
    expect_ok(s, "mounts: [{source: /a}]",
              "{\"mounts\": [{\"source\": \"/a\", \"readOnly\": false}]}");
    expect_err(s, "mounts: [{source: /a}, {target: /b}]", "mounts[1].source",
               "required field \"source\" is missing");
}
END_TEST

START_TEST(kw_property_names)
{
    const char *s = "{\"propertyNames\": {\"pattern\": \"^[A-Z_][A-Z0-9_]*$\","
                    " \"maxLength\": 8}}";
    expect_ok(s, "{PATH: x, MY_VAR: y}", NULL);
    expect_err_at(s, "A: 1\nbad-name: 2\n", "bad-name",
                  "invalid field name \"bad-name\": must match", 2, 1);
    expect_err(s, "LONGER_THAN_8: 1", "LONGER_THAN_8", "at most 8 characters");
}
END_TEST

START_TEST(kw_one_any_not)
{
    const char *one = "{\"oneOf\": [{\"title\": \"command\", \"required\": [\"command\"]},"
                      " {\"title\": \"notebook\", \"required\": [\"notebook\"]}]}";
    expect_ok(one, "command: [x]", NULL);
    expect_ok(one, "notebook: /a.ipynb", NULL);
    expect_err(one, "command: [x]\nnotebook: /a.ipynb\n", "",
               "must match exactly one form, but matches both \"command\" and \"notebook\"");
    expect_err(one, "other: 1", "",
               "must match exactly one of 2 forms, but matches none: (1) command: required field "
               "\"command\" is missing; (2) notebook: required field \"notebook\" is missing");

    /* a branch that fails only deeper down is the best match: its errors are shown */
    const char *typed = "{\"properties\": {\"image\": {\"oneOf\": [{\"type\": \"string\"},"
                        " {\"type\": \"object\", \"required\": [\"ref\"],"
                        "  \"properties\": {\"ref\": {\"type\": \"string\"}}}]}}}";
    expect_ok(typed, "image: x", NULL);
    expect_ok(typed, "image: {ref: x}", NULL);
    expect_err_at(typed, "image:\n  ref: 1\n", "image.ref", "must be a string", 2, 8);
    expect_err(typed, "image: 1", "image", "matches none");

    /* untitled, both match */
    expect_err("{\"oneOf\": [{}, {\"type\": \"object\"}]}", "a: 1", "",
               "matches 2 (forms 1 and 2)");

    const char *any =
        "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\", \"minimum\": 0}]}";
    _cleanup_json_ json_t *anyof = load_json(any);
    struct cass_error *err = NULL;
    json_t *v = json_integer(3);
    json_t *r = cass_schema_apply(anyof, v, NULL, "x", &err);
    ck_assert_ptr_nonnull(r);
    json_decref(r);
    json_decref(v);
    v = json_integer(-3);
    r = cass_schema_apply(anyof, v, NULL, "x", &err);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err->items[0].path, "x");
    ck_assert_str_eq(err->items[0].message, "must be at least 0");
    ck_assert_int_eq(err->items[0].line, 0); /* no positions given */
    cass_error_free(err);
    err = NULL;
    json_decref(v);

    const char *not = "{\"properties\": {\"p\": {\"not\": {\"const\": \"/\"}},"
                      " \"q\": {\"not\": {\"title\": \"the root\", \"const\": \"/\"}}}}";
    expect_ok(not, "{p: /a, q: /b}", NULL);
    expect_err(not, "p: /", "p", "must not match the excluded form");
    expect_err(not, "q: /", "q", "must not be the root");

    /* defaults of the matching branch are kept */
    expect_ok("{\"oneOf\": [{\"required\": [\"a\"], \"properties\": {\"d\": {\"default\": 1}}},"
              " {\"required\": [\"b\"]}]}",
              "a: 0", "{\"a\": 0, \"d\": 1}");
}
END_TEST

START_TEST(kw_ref_defs)
{
    const char *s =
        "{\"$defs\": {\"port\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 65535},"
        " \"ports\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/port\"}},"
        " \"a~b/c\": {\"const\": 1}},"
        " \"properties\": {\"port\": {\"$ref\": \"#/$defs/port\", \"default\": 8888},"
        "  \"ports\": {\"$ref\": \"#/$defs/ports\"},"
        "  \"esc\": {\"$ref\": \"#/$defs/a~0b~1c\"},"
        "  \"tree\": {\"type\": \"object\", \"properties\": {\"sub\": {\"$ref\": "
        "\"#/properties/tree\"}}},"
        "  \"bad\": {\"$ref\": \"#/$defs/nope\"},"
        "  \"ext\": {\"$ref\": \"nope.schema.json#/$defs/x\"}}}";
    expect_ok(s, "{ports: [80, 443]}", "{\"port\": 8888, \"ports\": [80, 443]}");
    expect_err(s, "port: 0", "port", "must be at least 1");
    expect_err(s, "ports: [80, 70000]", "ports[1]", "must be at most 65535");
    expect_ok(s, "esc: 1", NULL);
    expect_err(s, "esc: 2", "esc", "must be 1");
    expect_ok(s, "tree: {sub: {sub: {}}}", NULL);
    expect_err(s, "tree: {sub: {sub: 1}}", "tree.sub.sub", "must be an object");
    expect_err(s, "bad: 1", "bad", "cannot resolve $ref \"#/$defs/nope\"");
    expect_err(s, "ext: 1", "ext", "cannot resolve $ref");
    /* a $ref loop is caught, not followed forever */
    expect_err("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/a\"}}, \"$ref\": \"#/$defs/a\"}", "x: 1",
               "", "nesting deeper");
}
END_TEST

START_TEST(embedded_files)
{
    /* every embedded file parses and passes the keyword check */
    size_t n = 0;
    for (const struct cass_schema_file *f = cass_schema_files; f->name; f++, n++) {
        _cleanup_json_ json_t *s = json_loads(f->text, JSON_REJECT_DUPLICATES, NULL);
        ck_assert_msg(s != NULL, "%s is not JSON", f->name);
        struct cass_error *err = NULL;
        int r = cass_schema_check(s, &err);
        ck_assert_msg(r == 0, "%s: %s: %s", f->name, err && err->n_items ? err->items[0].path : "",
                      err && err->n_items ? err->items[0].message : "");
        ck_assert_ptr_nonnull(cass_schema_get(f->name));
    }
    ck_assert_uint_ge(n, 4);
    ck_assert_ptr_eq(cass_schema_get("notebook.schema.json"),
                     cass_schema_get("notebook.schema.json"));
    ck_assert_ptr_null(cass_schema_get("nope.schema.json"));
    ck_assert_ptr_null(cass_schema_get(NULL));
}
END_TEST

START_TEST(cross_file_ref)
{
    /* whatever common.schema.json holds, its $defs resolve through the table */
    const json_t *common = cass_schema_get("common.schema.json");
    ck_assert_ptr_nonnull(common);
    const json_t *defs = json_object_get(common, "$defs");
    if (!json_is_object(defs) || !json_object_get(defs, "name"))
        return; /* placeholder schemas */
    expect_ok("{\"properties\": {\"n\": {\"$ref\": \"common.schema.json#/$defs/name\"}}}",
              "n: churn-analysis", NULL);
    expect_err("{\"properties\": {\"n\": {\"$ref\": \"common.schema.json#/$defs/name\"}}}",
               "n: Not_A_Label", "n", "");
}
END_TEST

START_TEST(schema_check)
{
    struct cass_error *err = NULL;
    _cleanup_json_ json_t *good =
        load_json("{\"$schema\": \"x\", \"title\": \"t\", \"type\": \"object\","
                  " \"properties\": {\"required\": {\"type\": \"string\", \"pattern\": \"^a\"}},"
                  " \"$defs\": {\"format\": {\"oneOf\": [true, {\"not\": {}}]}}}");
    ck_assert_int_eq(cass_schema_check(good, &err), 0);
    ck_assert_ptr_null(err);
    _cleanup_json_ json_t *bad =
        load_json("{\"properties\": {\"a\": {\"format\": \"uri\"}, \"b\": {\"pattern\": \"(\"}},"
                  " \"if\": {}, \"x-cassiny-quantity\": \"apples\"}");
    ck_assert_int_eq(cass_schema_check(bad, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
    ck_assert_int_eq(err->n_items, 4);
    ck_assert_ptr_nonnull(find_item(err, "properties.a.format"));
    ck_assert_ptr_nonnull(find_item(err, "properties.b.pattern"));
    ck_assert_ptr_nonnull(find_item(err, "if"));
    cass_error_free(err);
}
END_TEST

START_TEST(x_quantity)
{
    const char *s = "{\"properties\": {"
                    " \"memory\": {\"x-cassiny-quantity\": \"memory\", \"minimum\": 4194304},"
                    " \"cpus\": {\"x-cassiny-quantity\": \"cpus\", \"exclusiveMinimum\": 0},"
                    " \"idle\": {\"x-cassiny-quantity\": \"duration\", \"maximum\": 86400},"
                    " \"dflt\": {\"x-cassiny-quantity\": \"memory\", \"default\": \"1Gi\"},"
                    " \"typed\": {\"type\": \"string\", \"x-cassiny-quantity\": \"cpus\"}}}";
    expect_ok(s, "{memory: 2Gi, cpus: 500m, idle: 1h30m, typed: 2}",
              "{\"memory\": 2147483648, \"cpus\": 0.5, \"idle\": 5400, \"dflt\": 1073741824,"
              " \"typed\": 2.0}");
    expect_ok(s, "{memory: 1048576000, cpus: 1.5, idle: 90}",
              "{\"memory\": 1048576000, \"cpus\": 1.5, \"idle\": 90, \"dflt\": 1073741824}");
    expect_ok(s, "{cpus: 2}", "{\"cpus\": 2.0, \"dflt\": 1073741824}");
    expect_ok(s, "{memory: 1.5Gi}", "{\"memory\": 1610612736, \"dflt\": 1073741824}");
    expect_err_at(s, "memory: 2GB", "memory", "must be a memory size: ", 1, 9);
    expect_err(s, "memory: 1Ki", "memory", "must be at least 4194304");
    expect_err(s, "memory: true", "memory", "must be a memory size");
    expect_err(s, "cpus: 0", "cpus", "must be greater than 0");
    expect_err(s, "cpus: 0.0001", "cpus", "must be a CPU count: ");
    expect_err(s, "cpus: -1", "cpus", "must be a CPU count");
    expect_err(s, "idle: 2d", "idle", "must be at most 86400");
    expect_err(s, "idle: soon", "idle", "must be a duration: ");
}
END_TEST

START_TEST(x_path)
{
    const char *s = "{\"additionalProperties\": {\"x-cassiny-path\": true}}";
    expect_ok(s, "{a: /, b: /srv/data, c: /a/b.c/..d, d: /.hidden}", NULL);
    expect_err(s, "a: srv/data", "a", "must be an absolute path");
    expect_err(s, "a: \"\"", "a", "must be an absolute path");
    expect_err(s, "a: /srv/../etc", "a", "must not contain \".\" or \"..\" components");
    expect_err(s, "a: /srv/./x", "a", "\".\" or \"..\"");
    expect_err(s, "a: /srv/..", "a", "\".\" or \"..\"");
    expect_err(s, "a: /.", "a", "\".\" or \"..\"");
    expect_err(s, "a: /srv//x", "a", "must not contain \"//\"");
    expect_err(s, "a: /srv/", "a", "must not end with \"/\"");
    /* only strings are paths; the type keyword handles the rest */
    expect_ok(s, "{a: 1}", NULL);
}
END_TEST

START_TEST(defaults)
{
    const char *s = "{\"type\": \"object\", \"properties\": {"
                    " \"port\": {\"type\": \"integer\", \"default\": 8888},"
                    " \"labels\": {\"type\": \"object\", \"default\": {}},"
                    " \"resources\": {\"type\": \"object\", \"default\": {},"
                    "   \"properties\": {\"memory\": {\"x-cassiny-quantity\": \"memory\", "
                    "\"default\": \"1Gi\"},"
                    "     \"cpus\": {\"x-cassiny-quantity\": \"cpus\", \"default\": 1},"
                    "     \"gpus\": {\"type\": \"integer\", \"default\": 0}}},"
                    " \"health\": {\"type\": \"object\","
                    "   \"properties\": {\"path\": {\"default\": \"/\"}}},"
                    " \"noDefault\": {\"type\": \"string\"}}}";
    expect_ok(s, "{}",
              "{\"port\": 8888, \"labels\": {}, \"resources\": {\"memory\": 1073741824,"
              " \"cpus\": 1.0, \"gpus\": 0}}");
    expect_ok(s, "resources: {memory: 2Gi}\nport: 80\n",
              "{\"port\": 80, \"labels\": {}, \"resources\": {\"memory\": 2147483648,"
              " \"cpus\": 1.0, \"gpus\": 0}}");
    /* a present object without a default still gets its children's defaults */
    expect_ok(s, "health: {}",
              "{\"port\": 8888, \"labels\": {}, \"resources\": {\"memory\": 1073741824,"
              " \"cpus\": 1.0, \"gpus\": 0}, \"health\": {\"path\": \"/\"}}");
    /* defaults reached through $ref */
    expect_ok("{\"$defs\": {\"p\": {\"type\": \"integer\", \"default\": 5}},"
              " \"properties\": {\"p\": {\"$ref\": \"#/$defs/p\"}}}",
              "{}", "{\"p\": 5}");
    /* a default that breaks its own schema is reported (a schema bug) */
    expect_err("{\"properties\": {\"p\": {\"type\": \"integer\", \"default\": \"x\"}}}", "{}", "p",
               "must be an integer");
    /* the input is not modified */
    _cleanup_json_ json_t *schema = load_json(s);
    _cleanup_json_ json_t *in = load_json("{}");
    struct cass_error *err = NULL;
    _cleanup_json_ json_t *out = cass_schema_apply(schema, in, NULL, "", &err);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(json_object_size(in), 0);
}
END_TEST

START_TEST(all_errors_reported)
{
    const char *s =
        "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"image\"],"
        " \"properties\": {\"name\": {\"pattern\": \"^[a-z]+$\"},"
        "  \"replicas\": {\"type\": \"integer\", \"minimum\": 1},"
        "  \"mounts\": {\"items\": {\"properties\": {\"source\": {\"x-cassiny-path\": true}}}}}}";
    struct cass_error *err = NULL;
    json_t *out = run(s,
                      "name: Bad\n"
                      "replicas: 0\n"
                      "extra: 1\n"
                      "mounts:\n"
                      "  - source: rel\n"
                      "  - source: /ok\n"
                      "  - source: /x/../y\n",
                      &err);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(err->n_items, 6);
    ck_assert_str_eq(err->items[0].path, "name");
    ck_assert_int_eq(err->items[0].line, 1);
    ck_assert_int_eq(err->items[0].column, 7);
    ck_assert_str_eq(err->items[1].path, "replicas");
    ck_assert_str_eq(err->items[2].path, "extra");
    ck_assert_int_eq(err->items[2].line, 3);
    ck_assert_int_eq(err->items[2].column, 1);
    ck_assert_str_eq(err->items[3].path, "mounts[0].source");
    ck_assert_int_eq(err->items[3].line, 5);
    ck_assert_int_eq(err->items[3].column, 13);
    ck_assert_str_eq(err->items[4].path, "mounts[2].source");
    ck_assert_str_eq(err->items[5].path, "image");
    cass_error_free(err);

    /* the cap: 100 items and one that says there were more */
    _cleanup_json_ json_t *schema = load_json("{\"items\": {\"type\": \"string\"}}");
    _cleanup_json_ json_t *arr = json_array();
    for (int i = 0; i < 500; i++)
        json_array_append_new(arr, json_integer(i));
    err = NULL;
    ck_assert_ptr_null(cass_schema_apply(schema, arr, NULL, "", &err));
    ck_assert_int_eq(err->n_items, 101);
    cass_error_free(err);
}
END_TEST

START_TEST(boolean_schemas)
{
    expect_ok("true", "a: 1", NULL);
    expect_err("false", "a: 1", "", "is not allowed here");
    expect_err("{\"properties\": {\"a\": false}}", "a: 1", "a", "is not allowed here");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kw_type);
    tcase_add_test(tc, kw_properties_additional_required);
    tcase_add_test(tc, kw_enum_const);
    tcase_add_test(tc, kw_pattern);
    tcase_add_test(tc, kw_numbers);
    tcase_add_test(tc, kw_lengths);
    tcase_add_test(tc, kw_items);
    tcase_add_test(tc, kw_property_names);
    tcase_add_test(tc, kw_one_any_not);
    tcase_add_test(tc, kw_ref_defs);
    tcase_add_test(tc, embedded_files);
    tcase_add_test(tc, cross_file_ref);
    tcase_add_test(tc, schema_check);
    tcase_add_test(tc, x_quantity);
    tcase_add_test(tc, x_path);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, all_errors_reported);
    tcase_add_test(tc, boolean_schemas);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
