#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "hash.h"
#include "spec.h"

static const char notebook[] =
    "apiVersion: cassiny/v1\n"
    "kind: Notebook\n"
    "metadata:\n"
    "  name: churn-analysis\n"
    "  labels: {team: risk}\n"
    "spec:\n"
    "  image: cassiny/notebook:bookworm\n"
    "  resources: {cpus: 1.5, memory: 2Gi, gpus: 0}\n"
    "  env: {MLFLOW_TRACKING_URI: \"http://mlflow:5000\"}\n"
    "  mounts: [{source: /srv/data/churn, target: /data, readOnly: true}]\n"
    "  workspace: churn-ws\n"
    "  idleTimeout: 1h\n";

/* The same notebook: other key order, quoting, flow/block style, comments,
 * and quantities written another way. */
static const char notebook_again[] = "# the same, written differently\n"
                                     "kind: \"Notebook\"\n"
                                     "spec:\n"
                                     "  idleTimeout: 60m\n"
                                     "  workspace: 'churn-ws'\n"
                                     "  mounts:\n"
                                     "    - target: /data\n"
                                     "      readOnly: true\n"
                                     "      source: \"/srv/data/churn\"\n"
                                     "  env:\n"
                                     "    MLFLOW_TRACKING_URI: http://mlflow:5000\n"
                                     "  resources:\n"
                                     "    memory: 2147483648\n"
                                     "    gpus: 0\n"
                                     "    cpus: 1500m\n"
                                     "  image: cassiny/notebook:bookworm\n"
                                     "metadata: {labels: {\"team\": risk}, name: churn-analysis}\n"
                                     "apiVersion: cassiny/v1\n";

static const char notebook_json[] =
    "{\"apiVersion\": \"cassiny/v1\", \"kind\": \"Notebook\",\n"
    " \"metadata\": {\"name\": \"churn-analysis\", \"labels\": {\"team\": \"risk\"}},\n"
    " \"spec\": {\"image\": \"cassiny/notebook:bookworm\",\n"
    "  \"resources\": {\"cpus\": \"1.5\", \"memory\": \"2Gi\", \"gpus\": 0},\n"
    "  \"env\": {\"MLFLOW_TRACKING_URI\": \"http://mlflow:5000\"},\n"
    "  \"mounts\": [{\"source\": \"/srv/data/churn\", \"target\": \"/data\", \"readOnly\": "
    "true}],\n"
    "  \"workspace\": \"churn-ws\", \"idleTimeout\": 3600}}\n";

static const char three[] =
    "apiVersion: cassiny/v1\n"
    "kind: Notebook\n"
    "metadata: {name: nb}\n"
    "spec: {image: cassiny/notebook:bookworm}\n"
    "---\n"
    "apiVersion: cassiny/v1\n"
    "kind: Job\n"
    "metadata: {name: train-churn}\n"
    "spec:\n"
    "  image: cassiny/notebook:bookworm\n"
    "  notebook: /project/train.ipynb\n"
    "  inputs: [{source: /srv/projects/churn, target: /project}]\n"
    "  outputs: /outputs\n"
    "  timeoutSeconds: 3600\n"
    "---\n"
    "apiVersion: cassiny/v1\n"
    "kind: Model\n"
    "metadata: {name: churn-model}\n"
    "spec:\n"
    "  image: cassiny/model-server:bookworm\n"
    "  artifact: /srv/models/churn/model.joblib\n"
    "  version: v3\n"
    "  replicas: 2\n"
    "  port: 8080\n"
    "  health: {path: /v2/health/ready, intervalSeconds: 2, timeoutSeconds: 1}\n"
    "---\n";

static json_t *load(const char *text, struct cass_error **err)
{
    *err = NULL;
    return cass_spec_load(text, strlen(text), err);
}

static json_t *load_ok(const char *text)
{
    struct cass_error *err = NULL;
    json_t *r = load(text, &err);
    ck_assert_msg(r != NULL, "refused: %s: %s:%d: %s", err ? err->message : "?",
                  err && err->n_items ? err->items[0].path : "",
                  err && err->n_items ? err->items[0].line : 0,
                  err && err->n_items ? err->items[0].message : "");
    return r;
}

static const char *revision_of(const json_t *docs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(docs, i), "revision"));
}

static const struct cass_error_item *find_item(const struct cass_error *e, const char *path)
{
    for (size_t i = 0; e && i < e->n_items; i++)
        if (!strcmp(e->items[i].path, path))
            return &e->items[i];
    return NULL;
}

START_TEST(three_kinds)
{
    _cleanup_json_ json_t *docs = load_ok(three);
    ck_assert_int_eq(json_array_size(docs), 3); /* the trailing --- adds nothing */
    static const char *kinds[] = {"Notebook", "Job", "Model"};
    static const char *names[] = {"nb", "train-churn", "churn-model"};
    static const int lines[] = {1, 5, 15};
    for (size_t i = 0; i < 3; i++) {
        const json_t *d = json_array_get(docs, i);
        ck_assert_str_eq(json_string_value(json_object_get(d, "kind")), kinds[i]);
        ck_assert_str_eq(json_string_value(json_object_get(d, "name")), names[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(d, "line")), lines[i]);
        const json_t *spec = json_object_get(d, "spec");
        ck_assert(json_is_object(spec));
        /* the position map comes along, with absolute lines */
        const json_t *pos = json_object_get(json_object_get(d, "pos"), "kind");
        ck_assert(json_is_array(pos));
        ck_assert_int_eq(json_integer_value(json_array_get(pos, 0)), lines[i] + (i ? 2 : 1));
        /* canonical is the spec's canonical text, revision its sha256 */
        _cleanup_free_ char *canon = cass_spec_canonical(spec);
        ck_assert_str_eq(json_string_value(json_object_get(d, "canonical")), canon);
        char hex[CASS_SHA256_HEX_LEN + 1];
        cass_hash_sha256_hex(canon, strlen(canon), hex);
        const char *rev = revision_of(docs, i);
        ck_assert_int_eq(strlen(rev), 7 + 64);
        ck_assert(strncmp(rev, "sha256:", 7) == 0);
        ck_assert_str_eq(rev + 7, hex);
        _cleanup_free_ char *rev2 = cass_spec_revision(spec);
        ck_assert_str_eq(rev2, rev);
    }
}
END_TEST

START_TEST(quantities_canonical)
{
    _cleanup_json_ json_t *docs = load_ok(notebook);
    const json_t *res = json_object_get(
        json_object_get(json_object_get(json_array_get(docs, 0), "spec"), "spec"), "resources");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "memory")), 2147483648LL);
    ck_assert(json_real_value(json_object_get(res, "cpus")) == 1.5);
    const json_t *spec = json_object_get(json_object_get(json_array_get(docs, 0), "spec"), "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "idleTimeout")), 3600);
}
END_TEST

START_TEST(same_meaning_same_revision)
{
    _cleanup_json_ json_t *a = load_ok(notebook);
    _cleanup_json_ json_t *b = load_ok(notebook_again);
    _cleanup_json_ json_t *c = load_ok(notebook_json);
    ck_assert_str_eq(revision_of(a, 0), revision_of(b, 0));
    ck_assert_str_eq(revision_of(a, 0), revision_of(c, 0));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "canonical")),
                     json_string_value(json_object_get(json_array_get(b, 0), "canonical")));
}
END_TEST

START_TEST(defaults_are_part_of_the_revision)
{
    /* writing a default explicitly changes nothing */
    const json_t *port = NULL;
    _cleanup_json_ json_t *a = load_ok("apiVersion: cassiny/v1\nkind: Notebook\n"
                                       "metadata: {name: nb}\nspec: {image: img}\n");
    port = json_object_get(json_object_get(json_object_get(json_array_get(a, 0), "spec"), "spec"),
                           "port");
    if (!json_is_integer(port))
        return; /* the schema has no default port */
    char text[256];
    snprintf(text, sizeof(text),
             "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\n"
             "spec: {image: img, port: %" JSON_INTEGER_FORMAT "}\n",
             json_integer_value(port));
    _cleanup_json_ json_t *b = load_ok(text);
    ck_assert_str_eq(revision_of(a, 0), revision_of(b, 0));
}
END_TEST

START_TEST(different_meaning_different_revision)
{
    static const char *variants[] = {
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\nspec: {image: img}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb2}\nspec: {image: img}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\nspec: {image: img2}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\n"
        "spec: {image: img, resources: {memory: 3Gi}}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\n"
        "spec: {image: img, resources: {memory: 3G}}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\n"
        "spec: {image: img, env: {A: \"1\"}}\n",
        "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: nb}\n"
        "spec: {image: img, env: {A: \"01\"}}\n",
        "apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: nb}\n"
        "spec: {image: img, command: [a]}\n",
    };
    size_t n = sizeof(variants) / sizeof(variants[0]);
    char *revs[sizeof(variants) / sizeof(variants[0])];
    for (size_t i = 0; i < n; i++) {
        json_t *d = load_ok(variants[i]);
        revs[i] = strdup(revision_of(d, 0));
        json_decref(d);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(strcmp(revs[i], revs[j]) != 0, "variants %zu and %zu collide", i, j);
    for (size_t i = 0; i < n; i++)
        free(revs[i]);
}
END_TEST

START_TEST(canonical_text)
{
    _cleanup_json_ json_t *v = json_pack("{s:i,s:s,s:f,s:f,s:[i,b,n]}", "b", 1, "a", "caf\xc3\xa9",
                                         "r", 0.1, "c", 2.0, "z", 3, 1);
    _cleanup_free_ char *t = cass_spec_canonical(v);
    ck_assert_str_eq(t, "{\"a\":\"caf\\u00E9\",\"b\":1,\"c\":2.0,\"r\":0.1,\"z\":[3,true,null]}");
}
END_TEST

START_TEST(envelope_errors)
{
    struct cass_error *err = NULL;
    json_t *r = load("kind: Notebook\nmetadata: {name: x}\nspec: {image: i}\n", &err);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    const struct cass_error_item *it = find_item(err, "apiVersion");
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->message, "required field \"apiVersion\" is missing");
    cass_error_free(err);

    r = load("apiVersion: cassiny/v2\nkind: Notebook\n", &err);
    ck_assert_ptr_null(r);
    it = find_item(err, "apiVersion");
    ck_assert_str_eq(it->message, "must be \"cassiny/v1\"");
    ck_assert_int_eq(it->line, 1);
    ck_assert_int_eq(it->column, 13);
    cass_error_free(err);

    r = load("apiVersion: cassiny/v1\nkind: Pod\nmetadata: {name: x}\n", &err);
    ck_assert_ptr_null(r);
    it = find_item(err, "kind");
    ck_assert_str_eq(it->message, "must be one of: Notebook, Job, Model");
    ck_assert_int_eq(it->line, 2);
    ck_assert_int_eq(it->column, 7);
    cass_error_free(err);

    r = load("apiVersion: cassiny/v1\nmetadata: {name: x}\n", &err);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(find_item(err, "kind")->message, "required field \"kind\" is missing");
    cass_error_free(err);

    r = load("- just\n- a list\n", &err);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(find_item(err, "")->message, "must be a mapping"));
    cass_error_free(err);
}
END_TEST

START_TEST(no_document)
{
    struct cass_error *err = NULL;
    ck_assert_ptr_null(load("", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    ck_assert_str_eq(err->items[0].message, "no document in the input");
    cass_error_free(err);
    ck_assert_ptr_null(load("# only a comment\n---\n---\n", &err));
    ck_assert_str_eq(err->items[0].message, "no document in the input");
    cass_error_free(err);
    err = NULL;
    ck_assert_ptr_null(cass_spec_load(NULL, 0, &err));
    cass_error_free(err);
}
END_TEST

START_TEST(errors_of_all_documents)
{
    struct cass_error *err = NULL;
    json_t *r = load("apiVersion: cassiny/v1\n"
                     "kind: Notebook\n"
                     "metadata: {name: Bad_Name}\n"
                     "spec: {image: img}\n"
                     "---\n"
                     "apiVersion: cassiny/v1\n"
                     "kind: Notebook\n"
                     "metadata: {name: fine}\n"
                     "spec: {image: img}\n"
                     "---\n"
                     "apiVersion: cassiny/v1\n"
                     "kind: Model\n"
                     "metadata: {name: m}\n"
                     "spec:\n"
                     "  image: img\n"
                     "  bogus: 1\n"
                     "---\n"
                     "kind: Nope\n",
                     &err);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    ck_assert_uint_ge(err->n_items, 4);
    const struct cass_error_item *it = find_item(err, "metadata.name");
    ck_assert_ptr_nonnull(it);
    ck_assert_int_eq(it->line, 3);
    it = find_item(err, "spec.bogus");
    ck_assert_ptr_nonnull(it);
    ck_assert_int_eq(it->line, 16); /* absolute line */
    ck_assert_int_eq(it->column, 3);
    ck_assert_ptr_nonnull(strstr(it->message, "unknown field \"bogus\""));
    it = find_item(err, "kind");
    ck_assert_int_eq(it->line, 18);
    ck_assert_ptr_nonnull(find_item(err, "apiVersion"));
    ck_assert_ptr_nonnull(strstr(err->message, "errors"));
    cass_error_free(err);
}
END_TEST

START_TEST(duplicate_names)
{
    struct cass_error *err = NULL;
    json_t *r =
        load("apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: a}\nspec: {image: i}\n"
             "---\n"
             "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: a}\n"
             "spec: {image: j}\n",
             &err);
    ck_assert_ptr_null(r);
    const struct cass_error_item *it = find_item(err, "metadata.name");
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->message, "duplicate name \"a\" (also used by the document at line 1)");
    ck_assert_int_eq(it->line, 8);
    cass_error_free(err);
}
END_TEST

START_TEST(parse_errors_pass_through)
{
    struct cass_error *err = NULL;
    ck_assert_ptr_null(load("a: [\n", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_SYNTAX);
    ck_assert_int_gt(err->items[0].line, 0);
    cass_error_free(err);

    ck_assert_ptr_null(load("apiVersion: &v cassiny/v1\nkind: *v\n", &err));
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err->items[0].message, "anchors and aliases"));
    cass_error_free(err);

    size_t n = 1024 * 1024 + 1;
    char *big = malloc(n);
    err = NULL;
    memset(big, '#', n);
    ck_assert_ptr_null(cass_spec_load(big, n, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_TOO_LARGE);
    ck_assert_int_eq(err->items[0].line, 1);
    cass_error_free(err);
    free(big);
}
END_TEST

START_TEST(load_as_config)
{
    struct cass_error *err = NULL;
    /* a file of comments only is an empty mapping with every default */
    json_t *cfg = cass_spec_load_as("# nothing\n", 10, "config.schema.json", &err);
    ck_assert_ptr_nonnull(cfg);
    ck_assert(json_is_object(cfg));
    json_decref(cfg);

    cfg = cass_spec_load_as("{}\n---\n{}\n", 10, "config.schema.json", &err);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err->items[0].message, "expected one document, found 2"));
    ck_assert_int_eq(err->items[0].line, 2);
    cass_error_free(err);
    err = NULL;

    cfg = cass_spec_load_as("a: 1\n", 5, "nope.schema.json", &err);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err->kind, CASS_ERR_INTERNAL);
    cass_error_free(err);
    err = NULL;

    cfg = cass_spec_load_as("[1\n", 3, "config.schema.json", &err);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err->kind, CASS_ERR_SYNTAX);
    cass_error_free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, three_kinds);
    tcase_add_test(tc, quantities_canonical);
    tcase_add_test(tc, same_meaning_same_revision);
    tcase_add_test(tc, defaults_are_part_of_the_revision);
    tcase_add_test(tc, different_meaning_different_revision);
    tcase_add_test(tc, canonical_text);
    tcase_add_test(tc, envelope_errors);
    tcase_add_test(tc, no_document);
    tcase_add_test(tc, errors_of_all_documents);
    tcase_add_test(tc, duplicate_names);
    tcase_add_test(tc, parse_errors_pass_through);
    tcase_add_test(tc, load_as_config);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
