#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "yaml.h"

/* Parses text with the default limits; returns the docs array or NULL and
 * leaves the error in *err. */
static json_t *parse(const char *text, struct cass_error **err)
{
    json_t *docs = NULL;
    *err = NULL;
    if (cass_yaml_parse(text, strlen(text), NULL, &docs, err) < 0)
        return NULL;
    return docs;
}

static json_t *parse_n(const char *text, size_t len, const struct cass_yaml_limits *lim,
                       struct cass_error **err)
{
    json_t *docs = NULL;
    *err = NULL;
    if (cass_yaml_parse(text, len, lim, &docs, err) < 0)
        return NULL;
    return docs;
}

/* The value of the only document of text (new reference); fails the test on
 * an error. */
static json_t *value_of(const char *text)
{
    struct cass_error *err = NULL;
    json_t *docs = parse(text, &err);
    ck_assert_msg(docs != NULL, "parse failed: %s: %s", text,
                  err && err->n_items ? err->items[0].message : "?");
    ck_assert_int_eq(json_array_size(docs), 1);
    json_t *v = json_incref(json_object_get(json_array_get(docs, 0), "value"));
    json_decref(docs);
    return v;
}

/* The first error item whose message contains needle, or NULL. */
static const struct cass_error_item *find_item(const struct cass_error *e, const char *needle)
{
    for (size_t i = 0; e && i < e->n_items; i++)
        if (strstr(e->items[i].message, needle))
            return &e->items[i];
    return NULL;
}

/* Parses text expecting failure with an item containing needle at path/line. */
static void expect_error(const char *text, enum cass_error_kind kind, const char *path, int line,
                         const char *needle)
{
    struct cass_error *err = NULL;
    json_t *docs = parse(text, &err);
    ck_assert_msg(docs == NULL, "accepted: %s", text);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->kind == kind, "kind %s for %s", cass_error_kind_name(err->kind), text);
    const struct cass_error_item *it = find_item(err, needle);
    ck_assert_msg(it != NULL, "no \"%s\" in errors of %s (first: %s)", needle, text,
                  err->n_items ? err->items[0].message : "none");
    if (path)
        ck_assert_str_eq(it->path, path);
    if (line > 0)
        ck_assert_int_eq(it->line, line);
    ck_assert_int_gt(it->line, 0);
    ck_assert_int_gt(it->column, 0);
    cass_error_free(err);
}

/* ---- typing -------------------------------------------------------------- */

START_TEST(core_schema_scalars)
{
    _cleanup_json_ json_t *v = value_of("a: null\n"
                                        "b: ~\n"
                                        "c:\n"
                                        "d: Null\n"
                                        "e: true\n"
                                        "f: False\n"
                                        "g: yes\n"
                                        "h: no\n"
                                        "i: on\n"
                                        "j: off\n"
                                        "k: 42\n"
                                        "l: -7\n"
                                        "m: 0x1f\n"
                                        "n: 0o17\n"
                                        "o: 1.0\n"
                                        "p: 1e3\n"
                                        "q: -.5\n"
                                        "r: \"42\"\n"
                                        "s: '1.0'\n"
                                        "t: +12\n"
                                        "u: 0\n"
                                        "v: 1_000\n"
                                        "w: 0b101\n"
                                        "x: 12:30\n"
                                        "y: |\n  block\n"
                                        "z: \"true\"\n");
    ck_assert(json_is_null(json_object_get(v, "a")));
    ck_assert(json_is_null(json_object_get(v, "b")));
    ck_assert(json_is_null(json_object_get(v, "c")));
    ck_assert(json_is_null(json_object_get(v, "d")));
    ck_assert(json_is_true(json_object_get(v, "e")));
    ck_assert(json_is_false(json_object_get(v, "f")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "g")), "yes");
    ck_assert_str_eq(json_string_value(json_object_get(v, "h")), "no");
    ck_assert_str_eq(json_string_value(json_object_get(v, "i")), "on");
    ck_assert_str_eq(json_string_value(json_object_get(v, "j")), "off");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "k")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "l")), -7);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "m")), 31);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "n")), 15);
    ck_assert(json_is_real(json_object_get(v, "o")));
    ck_assert(json_real_value(json_object_get(v, "o")) == 1.0);
    ck_assert(json_real_value(json_object_get(v, "p")) == 1000.0);
    ck_assert(json_real_value(json_object_get(v, "q")) == -0.5);
    ck_assert_str_eq(json_string_value(json_object_get(v, "r")), "42");
    ck_assert_str_eq(json_string_value(json_object_get(v, "s")), "1.0");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "t")), 12);
    ck_assert(json_is_integer(json_object_get(v, "u")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "v")), "1_000");
    ck_assert_str_eq(json_string_value(json_object_get(v, "w")), "0b101");
    ck_assert_str_eq(json_string_value(json_object_get(v, "x")), "12:30");
    ck_assert_str_eq(json_string_value(json_object_get(v, "y")), "block\n");
    ck_assert_str_eq(json_string_value(json_object_get(v, "z")), "true");
}
END_TEST

START_TEST(tags)
{
    _cleanup_json_ json_t *v = value_of("a: !!str 12\n"
                                        "b: !!int \"12\"\n"
                                        "c: !!float 3\n"
                                        "d: !!bool \"true\"\n"
                                        "e: !!null \"\"\n"
                                        "f: !!map {x: 1}\n"
                                        "g: !!seq [1]\n"
                                        "h: ! 12\n"
                                        "i: !!str true\n");
    ck_assert_str_eq(json_string_value(json_object_get(v, "a")), "12");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "b")), 12);
    ck_assert(json_is_real(json_object_get(v, "c")));
    ck_assert(json_real_value(json_object_get(v, "c")) == 3.0);
    ck_assert(json_is_true(json_object_get(v, "d")));
    ck_assert(json_is_null(json_object_get(v, "e")));
    ck_assert(json_is_object(json_object_get(v, "f")));
    ck_assert(json_is_array(json_object_get(v, "g")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "h")), "12");
    ck_assert_str_eq(json_string_value(json_object_get(v, "i")), "true");

    expect_error("a: !foo x\n", CASS_ERR_INVALID, "a", 1, "tag !foo is not supported");
    expect_error("a: !!binary aGVsbG8=\n", CASS_ERR_INVALID, "a", 1, "tag !!binary");
    expect_error("a: !!set {x}\n", CASS_ERR_INVALID, "a", 1, "tag !!set");
    expect_error("a: !!seq {x: 1}\n", CASS_ERR_INVALID, "a", 1, "!!seq is not supported");
    expect_error("a: !!map [1]\n", CASS_ERR_INVALID, "a", 1, "!!map is not supported");
    expect_error("a: !!int abc\n", CASS_ERR_INVALID, "a", 1, "!!int value must be");
    expect_error("a: !!bool yes\n", CASS_ERR_INVALID, "a", 1, "!!bool value must be");
    expect_error("a: !!null x\n", CASS_ERR_INVALID, "a", 1, "!!null value must be");
    expect_error("a: !!float x\n", CASS_ERR_INVALID, "a", 1, "!!float value must be");
}
END_TEST

START_TEST(leading_zero_refused)
{
    expect_error("mode: 010\n", CASS_ERR_INVALID, "mode", 1, "leading zero");
    expect_error("mode: -007\n", CASS_ERR_INVALID, "mode", 1, "write -7");
    /* quoted or 0o: fine */
    _cleanup_json_ json_t *v = value_of("a: \"010\"\nb: 0o10\nc: 0.5\nd: 00.5\n");
    ck_assert_str_eq(json_string_value(json_object_get(v, "a")), "010");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "b")), 8);
    ck_assert(json_real_value(json_object_get(v, "d")) == 0.5);
}
END_TEST

START_TEST(non_finite_refused)
{
    expect_error("a: .inf\n", CASS_ERR_INVALID, "a", 1, "infinity and NaN");
    expect_error("a: -.Inf\n", CASS_ERR_INVALID, "a", 1, "infinity and NaN");
    expect_error("a: .nan\n", CASS_ERR_INVALID, "a", 1, "infinity and NaN");
    expect_error("a: 1e400\n", CASS_ERR_INVALID, "a", 1, "out of range");
    expect_error("a: !!float .NaN\n", CASS_ERR_INVALID, "a", 1, "infinity and NaN");
    _cleanup_json_ json_t *v = value_of("a: \".inf\"\nb: .infx\n");
    ck_assert_str_eq(json_string_value(json_object_get(v, "a")), ".inf");
    ck_assert_str_eq(json_string_value(json_object_get(v, "b")), ".infx");
}
END_TEST

START_TEST(int64_range)
{
    _cleanup_json_ json_t *v = value_of("max: 9223372036854775807\n"
                                        "min: -9223372036854775808\n"
                                        "hex: 0x7fffffffffffffff\n");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "max")), INT64_MAX);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "min")), INT64_MIN);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "hex")), INT64_MAX);
    expect_error("n: 9223372036854775808\n", CASS_ERR_INVALID, "n", 1, "out of range");
    expect_error("n: -9223372036854775809\n", CASS_ERR_INVALID, "n", 1, "out of range");
    expect_error("n: 0x8000000000000000\n", CASS_ERR_INVALID, "n", 1, "out of range");
    expect_error("n: 0o1000000000000000000000\n", CASS_ERR_INVALID, "n", 1, "out of range");
    expect_error("n: [1, 2, 99999999999999999999999999999999]\n", CASS_ERR_INVALID, "n[2]", 1,
                 "out of range");
}
END_TEST

START_TEST(strings_and_keys)
{
    _cleanup_json_ json_t *v = value_of("\"quoted key\": \"caf\\u00e9\"\n"
                                        "plain: caf\xc3\xa9\n"
                                        "'on': 1\n");
    ck_assert_str_eq(json_string_value(json_object_get(v, "quoted key")), "caf\xc3\xa9");
    ck_assert_str_eq(json_string_value(json_object_get(v, "plain")), "caf\xc3\xa9");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "on")), 1);

    expect_error("1: x\n", CASS_ERR_INVALID, "[\"1\"]", 1, "mapping keys must be strings");
    expect_error("a:\n  true: x\n", CASS_ERR_INVALID, "a.true", 2, "quote \"true\"");
    expect_error("? [1, 2]\n: x\n", CASS_ERR_INVALID, "", 1, "not a sequence");
    expect_error("? {a: 1}\n: x\n", CASS_ERR_INVALID, "", 1, "not a mapping");
    expect_error("~: x\n", CASS_ERR_INVALID, "[\"~\"]", 1, "mapping keys must be strings");
    expect_error("a: \"x\\0y\"\n", CASS_ERR_INVALID, "a", 1, "NUL");
    expect_error("\"a\\0\": 1\n", CASS_ERR_INVALID, "", 1, "NUL");
}
END_TEST

START_TEST(json_input)
{
    _cleanup_json_ json_t *v =
        value_of("{\"a\": 1, \"b\": [true, null, \"x\", 2.5],\n\t\"c\": {\"d\": -1}}\n");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(v, "b")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "c"), "d")), -1);
}
END_TEST

/* ---- documents ----------------------------------------------------------- */

START_TEST(documents)
{
    struct cass_error *err = NULL;
    _cleanup_json_ json_t *docs = parse("# comment\n"
                                        "a: 1\n"
                                        "---\n"
                                        "---\n"
                                        "null\n"
                                        "---\n"
                                        "b: 2\n"
                                        "---\n",
                                        &err);
    ck_assert_ptr_nonnull(docs);
    ck_assert_int_eq(json_array_size(docs), 2); /* the empty and null ones are dropped */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(docs, 0), "line")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(docs, 1), "line")), 6);
    json_t *b = json_object_get(json_array_get(docs, 1), "value");
    ck_assert_int_eq(json_integer_value(json_object_get(b, "b")), 2);

    json_t *none = parse("# nothing but a comment\n", &err);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(json_array_size(none), 0);
    json_decref(none);
    none = parse("", &err);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(json_array_size(none), 0);
    json_decref(none);

    /* a scalar or a sequence at the root is a document too: the caller decides */
    none = parse("hello\n--- [1]\n", &err);
    ck_assert_int_eq(json_array_size(none), 2);
    json_decref(none);
}
END_TEST

/* ---- positions and paths ------------------------------------------------- */

static void pos_of(const json_t *doc, const char *path, int *vl, int *vc, int *kl, int *kc)
{
    const json_t *p = json_object_get(json_object_get(doc, "pos"), path);
    ck_assert_msg(json_is_array(p), "no position for %s", path);
    *vl = (int)json_integer_value(json_array_get(p, 0));
    *vc = (int)json_integer_value(json_array_get(p, 1));
    *kl = (int)json_integer_value(json_array_get(p, 2));
    *kc = (int)json_integer_value(json_array_get(p, 3));
}

START_TEST(positions)
{
    struct cass_error *err = NULL;
    _cleanup_json_ json_t *docs = parse("first: 1\n"
                                        "---\n"
                                        "metadata:\n"
                                        "  name: x\n"
                                        "  labels: {\"a.b/c\": v, team: risk}\n"
                                        "spec:\n"
                                        "  mounts:\n"
                                        "    - source: /srv\n"
                                        "      target: /data\n"
                                        "    - {source: /a}\n",
                                        &err);
    ck_assert_ptr_nonnull(docs);
    const json_t *d = json_array_get(docs, 1);
    int vl, vc, kl, kc;
    pos_of(d, "", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vl, 3);
    ck_assert_int_eq(kl, 0);
    pos_of(d, "metadata.name", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vl, 4);
    ck_assert_int_eq(vc, 9);
    ck_assert_int_eq(kl, 4);
    ck_assert_int_eq(kc, 3);
    pos_of(d, "metadata.labels[\"a.b/c\"]", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vl, 5);
    ck_assert_int_eq(vc, 21);
    ck_assert_int_eq(kc, 12);
    pos_of(d, "metadata.labels.team", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vc, 30);
    ck_assert_int_eq(kc, 24);
    pos_of(d, "spec.mounts[0].target", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vl, 9);
    ck_assert_int_eq(vc, 15);
    ck_assert_int_eq(kl, 9);
    ck_assert_int_eq(kc, 7);
    pos_of(d, "spec.mounts[1]", &vl, &vc, &kl, &kc);
    ck_assert_int_eq(vl, 10);
    ck_assert_int_eq(vc, 7);
    ck_assert_int_eq(kl, 0); /* sequence items have no key */
    ck_assert_int_eq(kc, 0);

    /* lookup: exact, key preferred, nearest parent for missing paths */
    const json_t *pos = json_object_get(d, "pos");
    cass_yaml_pos_lookup(pos, "metadata.name", 0, &vl, &vc);
    ck_assert_int_eq(vc, 9);
    cass_yaml_pos_lookup(pos, "metadata.name", 1, &vl, &vc);
    ck_assert_int_eq(vc, 3);
    cass_yaml_pos_lookup(pos, "spec.mounts[1].readOnly", 1, &vl, &vc);
    ck_assert_int_eq(vl, 10);
    ck_assert_int_eq(vc, 7);
    cass_yaml_pos_lookup(pos, "spec.image", 1, &vl, &vc);
    ck_assert_int_eq(vl, 6);
    ck_assert_int_eq(vc, 1);
    cass_yaml_pos_lookup(pos, "metadata.labels[\"x.y\"].z", 0, &vl, &vc);
    ck_assert_int_eq(vl, 5);
    ck_assert_int_eq(vc, 11);
    cass_yaml_pos_lookup(pos, "nothing.here", 0, &vl, &vc);
    ck_assert_int_eq(vl, 3); /* the root */
    cass_yaml_pos_lookup(NULL, "a", 0, &vl, &vc);
    ck_assert_int_eq(vl, 0);
    ck_assert_int_eq(vc, 0);
}
END_TEST

START_TEST(path_helpers)
{
    char *p;
    p = cass_yaml_path_key("", "spec");
    ck_assert_str_eq(p, "spec");
    free(p);
    p = cass_yaml_path_key("spec", "resources");
    ck_assert_str_eq(p, "spec.resources");
    free(p);
    p = cass_yaml_path_key("metadata.labels", "a.b/c");
    ck_assert_str_eq(p, "metadata.labels[\"a.b/c\"]");
    free(p);
    p = cass_yaml_path_key("", "with \"quote\"\n");
    ck_assert_str_eq(p, "[\"with \\\"quote\\\"\\n\"]");
    free(p);
    p = cass_yaml_path_key("x", "9lives");
    ck_assert_str_eq(p, "x[\"9lives\"]");
    free(p);
    p = cass_yaml_path_key("x", "_a-b9");
    ck_assert_str_eq(p, "x._a-b9");
    free(p);
    p = cass_yaml_path_key("x", "");
    ck_assert_str_eq(p, "x[\"\"]");
    free(p);
    p = cass_yaml_path_index("spec.mounts", 3);
    ck_assert_str_eq(p, "spec.mounts[3]");
    free(p);
    p = cass_yaml_path_index("", 0);
    ck_assert_str_eq(p, "[0]");
    free(p);
}
END_TEST

/* ---- refusals and limits ------------------------------------------------- */

START_TEST(aliases_refused)
{
    expect_error("a: &x 1\nb: *x\n", CASS_ERR_INVALID, "a", 1,
                 "anchors and aliases are not supported");
    expect_error("a: &x 1\nb: *x\n", CASS_ERR_INVALID, "b", 2, "*x");
    expect_error("base: &b {x: 1}\nother:\n  <<: *b\n", CASS_ERR_INVALID, "other[\"<<\"]", 3,
                 "(*b)");
}
END_TEST

START_TEST(billion_laughs)
{
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    clock_t t0 = clock();
    expect_error(bomb, CASS_ERR_INVALID, "a", 1, "anchors and aliases are not supported");
    expect_error(bomb, CASS_ERR_INVALID, "i[0]", 9, "(*h)");
    ck_assert_msg(clock() - t0 < CLOCKS_PER_SEC, "the bomb took too long");
}
END_TEST

START_TEST(duplicate_keys)
{
    expect_error("name: a\nimage: x\nname: b\n", CASS_ERR_INVALID, "name", 3,
                 "duplicate key \"name\" (first at line 1)");
    expect_error("spec:\n  env:\n    A: 1\n    B: 2\n    A: 3\n", CASS_ERR_INVALID, "spec.env.A", 5,
                 "first at line 3");
    expect_error("{a: 1, \"a\": 2}\n", CASS_ERR_INVALID, "a", 1, "duplicate key \"a\"");
    /* a nested duplicate value leaves the first one's positions alone */
    struct cass_error *err = NULL;
    json_t *docs = parse("a: {x: 1}\nb: 1\na: {x: 2, x: 3}\n", &err);
    ck_assert_ptr_null(docs);
    ck_assert_ptr_nonnull(find_item(err, "duplicate key \"a\" (first at line 1)"));
    ck_assert_ptr_nonnull(find_item(err, "duplicate key \"x\" (first at line 3)"));
    cass_error_free(err);
}
END_TEST

START_TEST(bad_utf8)
{
    expect_error("a: \xff\n", CASS_ERR_SYNTAX, "", 1, "invalid UTF-8");
    expect_error("a: ok\nb: caf\xc3\n", CASS_ERR_SYNTAX, "", 2, "invalid UTF-8");
    expect_error("a: \xc0\xaf\n", CASS_ERR_SYNTAX, "", 1, "invalid UTF-8");     /* overlong */
    expect_error("a: \xed\xa0\x80\n", CASS_ERR_SYNTAX, "", 1, "invalid UTF-8"); /* surrogate */
    expect_error("a: \xf4\x90\x80\x80\n", CASS_ERR_SYNTAX, "", 1, "invalid UTF-8");
    expect_error("x\n\xe2\x82", CASS_ERR_SYNTAX, "", 2, "invalid UTF-8"); /* truncated */
    /* the column counts characters, not bytes */
    struct cass_error *err = NULL;
    json_t *docs = parse("\xc3\xa9\xc3\xa9: \xff\n", &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->items[0].column, 5);
    cass_error_free(err);
    /* UTF-16 is not sniffed: a BOM-less UTF-16 text is just bad input */
    static const char utf16[] = {'\xff', '\xfe', 'a', 0, ':', 0, ' ', 0, '1', 0};
    docs = parse_n(utf16, sizeof(utf16), NULL, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_SYNTAX);
    ck_assert_int_eq(err->items[0].line, 1);
    cass_error_free(err);
}
END_TEST

START_TEST(control_characters)
{
    /* libyaml's reader refuses these; it reports an offset, we a line */
    static const char nul[] = "a: 1\nb: x\0y\n";
    struct cass_error *err = NULL;
    json_t *docs = parse_n(nul, sizeof(nul) - 1, NULL, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_SYNTAX);
    ck_assert_int_eq(err->items[0].line, 2);
    ck_assert_int_eq(err->items[0].column, 5);
    cass_error_free(err);
    expect_error("a: 1\nb: \x01\n", CASS_ERR_SYNTAX, NULL, 2, "control characters");
}
END_TEST

START_TEST(syntax_errors)
{
    /* syntax errors carry the root path: only the position is reliable */
    expect_error("a: [1, 2\n", CASS_ERR_SYNTAX, "", 1, "did not find expected");
    /* an unclosed quote is reported where it opens, not at the end of input */
    expect_error("a: 1\nb: \"open\nc: 2\n", CASS_ERR_SYNTAX, "", 2, "quoted scalar");
    expect_error("a: b: c\n", CASS_ERR_SYNTAX, NULL, 1, "mapping values are not allowed");
    expect_error("a:\n  - 1\n  b: 2\n", CASS_ERR_SYNTAX, NULL, 3, "");
    expect_error("\"unterminated\n", CASS_ERR_SYNTAX, NULL, 0, "");
    expect_error("a: 1\n\tb: 2\n", CASS_ERR_SYNTAX, NULL, 2, "");
    expect_error("%YAML 2.0\n---\na: 1\n", CASS_ERR_SYNTAX, NULL, 1, "");
}
END_TEST

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + n * ul, tail, tl + 1);
    return s;
}

START_TEST(limit_input_size)
{
    struct cass_error *err = NULL;
    size_t n = 1024 * 1024;
    char *big = malloc(n + 2);
    ck_assert_ptr_nonnull(big);
    /* a valid document of exactly 1 MiB: a key and a long comment */
    memcpy(big, "a: 1\n#", 6);
    memset(big + 6, 'x', n - 7);
    big[n - 1] = '\n';
    json_t *docs = parse_n(big, n, NULL, &err);
    ck_assert_msg(docs != NULL, "1 MiB refused");
    json_decref(docs);
    /* one byte more */
    big[n] = '\n';
    docs = parse_n(big, n + 1, NULL, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(find_item(err, "1048577 bytes"));
    ck_assert_str_eq(err->items[0].path, "");
    ck_assert_int_eq(err->items[0].line, 3); /* where the limit was crossed */
    ck_assert_int_eq(err->items[0].column, 1);
    cass_error_free(err);
    free(big);
}
END_TEST

START_TEST(limit_depth)
{
    _cleanup_free_ char *ok = repeat("", "[", 64, "");
    _cleanup_free_ char *ok2 = repeat(ok, "]", 64, "\n");
    _cleanup_free_ char *deep = repeat("", "[", 65, "");
    _cleanup_free_ char *deep2 = repeat(deep, "]", 65, "\n");
    struct cass_error *err = NULL;
    json_t *docs = parse(ok2, &err);
    ck_assert_msg(docs != NULL, "depth 64 refused");
    json_decref(docs);
    expect_error(deep2, CASS_ERR_TOO_LARGE, NULL, 1, "deeper than 64");

    /* block mappings count the same way */
    char *blk = NULL;
    size_t bn = 0;
    FILE *f = open_memstream(&blk, &bn);
    for (int i = 0; i < 65; i++)
        fprintf(f, "%*sk:\n", 2 * i, "");
    fprintf(f, "%*sleaf: 1\n", 2 * 65, "");
    fclose(f);
    expect_error(blk, CASS_ERR_TOO_LARGE, NULL, 65, "deeper than 64");
    free(blk);

    /* far deeper than libyaml likes: still a clean error, fast */
    _cleanup_free_ char *abyss = repeat("", "[", 500000, "");
    expect_error(abyss, CASS_ERR_TOO_LARGE, NULL, 1, "deeper than 64");
}
END_TEST

START_TEST(limit_items)
{
    struct cass_error *err = NULL;
    _cleanup_free_ char *ok = repeat("[", "1,", 9999, "1]\n");
    json_t *docs = parse(ok, &err);
    ck_assert_msg(docs != NULL, "10000 items refused");
    json_decref(docs);
    _cleanup_free_ char *many = repeat("[", "1,", 10000, "1]\n");
    expect_error(many, CASS_ERR_TOO_LARGE, "", 1, "more than 10000 items");

    char *map = NULL;
    size_t mn = 0;
    FILE *f = open_memstream(&map, &mn);
    fputs("env:\n", f);
    for (int i = 0; i <= 10000; i++)
        fprintf(f, "  k%d: v\n", i);
    fclose(f);
    expect_error(map, CASS_ERR_TOO_LARGE, "env", 10002, "more than 10000 entries");
    free(map);

    struct cass_yaml_limits lim;
    cass_yaml_limits_default(&lim);
    lim.max_items = 2;
    docs = parse_n("[1, 2]", 6, &lim, &err);
    ck_assert_ptr_nonnull(docs);
    json_decref(docs);
    docs = parse_n("[1, 2, 3]", 9, &lim, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    ck_assert_int_eq(err->items[0].column, 8);
    cass_error_free(err);
}
END_TEST

START_TEST(limit_docs)
{
    struct cass_error *err = NULL;
    /* a sweep of a thousand jobs fits in one file */
    _cleanup_free_ char *ok = repeat("", "--- {a: 1}\n", 1000, "");
    json_t *docs = parse(ok, &err);
    ck_assert_ptr_nonnull(docs);
    ck_assert_int_eq(json_array_size(docs), 1000);
    json_decref(docs);
    _cleanup_free_ char *many = repeat("", "--- {a: 1}\n", 1001, "");
    expect_error(many, CASS_ERR_TOO_LARGE, "", 1001, "more than 1000 documents");
    /* empty documents count too: they still cost a parse */
    _cleanup_free_ char *empty = repeat("", "---\n", 10000, "");
    expect_error(empty, CASS_ERR_TOO_LARGE, "", 1001, "more than 1000 documents");
}
END_TEST

START_TEST(limit_scalar)
{
    struct cass_error *err = NULL;
    _cleanup_free_ char *ok = repeat("a: ", "x", 65536, "\n");
    json_t *docs = parse(ok, &err);
    ck_assert_ptr_nonnull(docs);
    json_decref(docs);
    _cleanup_free_ char *big = repeat("a: ", "x", 65537, "\n");
    expect_error(big, CASS_ERR_TOO_LARGE, "a", 1, "65537 bytes");
    _cleanup_free_ char *bigkey = repeat("", "k", 65537, ": 1\n");
    expect_error(bigkey, CASS_ERR_TOO_LARGE, "", 1, "65537 bytes");
}
END_TEST

START_TEST(limit_nodes)
{
    struct cass_error *err = NULL;
    struct cass_yaml_limits lim;
    cass_yaml_limits_default(&lim);
    lim.max_nodes = 5; /* root + 2 keys + 2 values */
    json_t *docs = parse_n("{a: 1, b: 2}", 12, &lim, &err);
    ck_assert_ptr_nonnull(docs);
    json_decref(docs);
    docs = parse_n("{a: 1, b: 2, c: 3}", 18, &lim, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(find_item(err, "more than 5 nodes"));
    ck_assert_int_gt(err->items[0].line, 0);
    cass_error_free(err);

    /* default: 100000 nodes, counted over all documents */
    _cleanup_free_ char *one = repeat("--- [", "0,", 999, "0]\n");
    _cleanup_free_ char *many = repeat("", one, 100, "");
    docs = parse(many, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(find_item(err, "more than 100000 nodes"));
    cass_error_free(err);
}
END_TEST

START_TEST(errors_aggregate)
{
    struct cass_error *err = NULL;
    json_t *docs = parse("a: &x 1\n"
                         "b: 99999999999999999999\n"
                         "c: 1\n"
                         "c: 2\n"
                         "d: !weird x\n"
                         "---\n"
                         "e: .nan\n",
                         &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    ck_assert_int_eq(err->n_items, 5);
    ck_assert_str_eq(err->items[0].path, "a");
    ck_assert_str_eq(err->items[1].path, "b");
    ck_assert_str_eq(err->items[2].path, "c");
    ck_assert_str_eq(err->items[3].path, "d");
    ck_assert_str_eq(err->items[4].path, "e");
    ck_assert_int_eq(err->items[4].line, 7);
    cass_error_free(err);

    /* a hopeless input stops at 100 items plus one that says so */
    _cleanup_free_ char *lots = repeat("", "- !x y\n", 500, "");
    docs = parse(lots, &err);
    ck_assert_ptr_null(docs);
    ck_assert_int_eq(err->n_items, 101);
    ck_assert_ptr_nonnull(find_item(err, "too many errors"));
    cass_error_free(err);
}
END_TEST

START_TEST(error_appends_to_existing)
{
    struct cass_error *err = NULL;
    json_t *docs = NULL;
    cass_error_add_item(&err, "x", 1, 1, "earlier");
    ck_assert_int_eq(cass_yaml_parse("a: *b\n", 6, NULL, &docs, &err), -1);
    ck_assert_int_eq(err->n_items, 2);
    cass_error_free(err);
    /* and a NULL err is allowed */
    ck_assert_int_eq(cass_yaml_parse("a: *b\n", 6, NULL, &docs, NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, core_schema_scalars);
    tcase_add_test(tc, tags);
    tcase_add_test(tc, leading_zero_refused);
    tcase_add_test(tc, non_finite_refused);
    tcase_add_test(tc, int64_range);
    tcase_add_test(tc, strings_and_keys);
    tcase_add_test(tc, json_input);
    tcase_add_test(tc, documents);
    tcase_add_test(tc, positions);
    tcase_add_test(tc, path_helpers);
    tcase_add_test(tc, aliases_refused);
    tcase_add_test(tc, billion_laughs);
    tcase_add_test(tc, duplicate_keys);
    tcase_add_test(tc, bad_utf8);
    tcase_add_test(tc, control_characters);
    tcase_add_test(tc, syntax_errors);
    tcase_add_test(tc, limit_input_size);
    tcase_add_test(tc, limit_depth);
    tcase_add_test(tc, limit_items);
    tcase_add_test(tc, limit_docs);
    tcase_add_test(tc, limit_scalar);
    tcase_add_test(tc, limit_nodes);
    tcase_add_test(tc, errors_aggregate);
    tcase_add_test(tc, error_appends_to_existing);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
