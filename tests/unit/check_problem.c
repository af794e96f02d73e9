/* problem+json mapping and the routes, driven without a socket. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "problem.h"
#include "routes.h"
#include "schema.h"
#include "store.h"
#include "yaml.h"

static struct cass_daemon *daemon_new(void)
{
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *config = cass_cfg_load(NULL, 0, NULL, &err);
    ck_assert_msg(config != NULL, "defaults: %s", err ? err->message : "?");
    struct cass_daemon *d = cass_daemon_new(config);
    /* An engine that is not there: the API must say so, not fail. */
    json_object_set_new(d->config, "dockerHost", json_string("unix:///nonexistent/docker.sock"));
    d->store = cass_store_open(":memory:", &err);
    ck_assert_ptr_nonnull(d->store);
    return d;
}

struct result {
    int rc;
    unsigned status;
    json_t *body;
    struct cass_error *err;
};

static struct result call(struct cass_daemon *d, const char *method, const char *path,
                          const char *ct, const char *body, json_t *query)
{
    struct cass_api_request req = {.d = d,
                                   .method = method,
                                   .path = path,
                                   .content_type = ct,
                                   .body = body ? body : "",
                                   .body_len = body ? strlen(body) : 0,
                                   .query = query};
    struct cass_api_reply reply = {.status = 200};
    cass_auth_local(&req.who, 0);
    struct result r = {0};
    r.rc = cass_routes_handle(&req, &reply, &r.err);
    if (r.rc < 0) {
        r.status = reply.status >= 400 ? reply.status : cass_problem_status(r.err);
        r.body = cass_problem_from_error(r.err);
    } else {
        r.status = reply.status;
        r.body = reply.body ? json_incref(reply.body) : json_string(reply.text ? reply.text : "");
    }
    cass_routes_reply_clear(&reply);
    return r;
}

static void result_clear(struct result *r)
{
    json_decref(r->body);
    cass_error_free(r->err);
}

START_TEST(status_mapping)
{
    struct {
        enum cass_error_kind kind;
        unsigned status;
    } cases[] = {{CASS_ERR_INVALID, 422},     {CASS_ERR_SYNTAX, 400},   {CASS_ERR_TOO_LARGE, 413},
                 {CASS_ERR_NOT_FOUND, 404},   {CASS_ERR_CONFLICT, 409}, {CASS_ERR_FORBIDDEN, 403},
                 {CASS_ERR_UNAVAILABLE, 503}, {CASS_ERR_ENGINE, 502},   {CASS_ERR_IO, 500},
                 {CASS_ERR_NOSPACE, 507}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cass_error *e = NULL;
        cass_error_set(&e, cases[i].kind, "x");
        ck_assert_uint_eq(cass_problem_status(e), cases[i].status);
        json_t *p = cass_problem_from_error(e);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), cases[i].status);
        ck_assert_str_eq(json_string_value(json_object_get(p, "detail")), "x");
        json_decref(p);
        cass_error_free(e);
    }
    struct cass_error *e = NULL;
    cass_error_add_item(&e, "spec.resources.memory", 7, 13, "bad quantity");
    json_t *p = cass_problem_from_error(e);
    json_t *it = json_array_get(json_object_get(p, "errors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "path")), "spec.resources.memory");
    ck_assert_int_eq(json_integer_value(json_object_get(it, "line")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(it, "column")), 13);
    json_decref(p);
    cass_error_free(e);
}
END_TEST

/* A message quoting bytes a client sent (GET /v1/runs?name=%FF) is still a
 * problem object: before, json_pack refused it and the server answered 500. */
START_TEST(problem_not_utf8)
{
    struct cass_error *e = NULL;
    cass_error_set(&e, CASS_ERR_INVALID, "invalid name filter \"\xff\xfe\xc3\xa9\xed\xa0\x80\"");
    cass_error_add_item(&e, "spec.\xc0\xaf", 1, 2, "bad \xf5");
    _cleanup_json_ json_t *p = cass_problem_from_error(e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(json_string_value(json_object_get(p, "detail")),
                     "invalid name filter \"??\xc3\xa9???\"");
    json_t *it = json_array_get(json_object_get(p, "errors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "path")), "spec.??");
    ck_assert_str_eq(json_string_value(json_object_get(it, "message")), "bad ?");
    cass_error_free(e);
}
END_TEST

START_TEST(routes_path_check)
{
    const char *ok[] = {"/v1/specs/nb-1", "/v1/runs?name=%00%2F%FF", "/v1/specs/a%41b", "/"};
    const char *bad[] = {"/v1/specs/nb%00.yaml", "/v1/specs/a%2Fb", "/v1/specs/a%2fb",
                         "/v1/specs/%zz",        "/v1/specs/%4",    "/v1/specs/a b",
                         "/v1/specs/a%20b",      "/v1/specs/\x7f",  "/v1/specs/%C3%A9",
                         "/v1/specs/a%0d%0a"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(cass_routes_path_ok(ok[i]), "%s refused", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!cass_routes_path_ok(bad[i]), "%s accepted", bad[i]);
}
END_TEST

START_TEST(routes_basic)
{
    struct cass_daemon *d = daemon_new();
    struct result r = call(d, "GET", "/healthz", NULL, NULL, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.body, "status")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(r.body, "engine")), "unknown");
    ck_assert_ptr_null(json_object_get(r.body, "backend")); /* not chosen yet */
    result_clear(&r);

    /* The backend chosen at start is shown whether or not the engine answers. */
    d->backend = "docker";
    r = call(d, "GET", "/healthz", NULL, NULL, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r.body, "backend")), "docker");
    result_clear(&r);

    r = call(d, "GET", "/v1/version", NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(r.body, "engine"), "error"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.body, "engine"), "backend")), "docker");
    result_clear(&r);

    r = call(d, "GET", "/v1/nothing", NULL, NULL, NULL);
    ck_assert_uint_eq(r.status, 404);
    result_clear(&r);

    r = call(d, "DELETE", "/healthz", NULL, NULL, NULL);
    ck_assert_uint_eq(r.status, 405);
    result_clear(&r);

    r = call(d, "GET", "/metrics", NULL, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(json_string_value(r.body), "cassiny_up 1"));
    result_clear(&r);
    cass_daemon_free(d);
}
END_TEST

static const char good[] = "apiVersion: cassiny/v1\n"
                           "kind: Notebook\n"
                           "metadata: {name: churn}\n"
                           "spec:\n"
                           "  image: cassiny/notebook:bookworm\n";

START_TEST(routes_dry_run)
{
    struct cass_daemon *d = daemon_new();
    json_t *q = json_pack("{s:s}", "dryRun", "true");
    struct result r = call(d, "POST", "/v1/specs", "application/yaml", good, q);
    ck_assert_msg(r.rc == 0, "dry run failed: %s", r.err ? r.err->message : "");
    json_t *s0 = json_array_get(json_object_get(r.body, "specs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "name")), "churn");
    ck_assert_int_eq(strncmp(json_string_value(json_object_get(s0, "revision")), "sha256:", 7), 0);
    result_clear(&r);

    const char bad[] = "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: Bad}\n"
                       "spec:\n  image: x\n  resources: {cpu: 1}\n";
    r = call(d, "POST", "/v1/specs", "application/yaml", bad, q);
    ck_assert_uint_eq(r.status, 422);
    ck_assert_uint_ge(json_array_size(json_object_get(r.body, "errors")), 2);
    result_clear(&r);

    r = call(d, "POST", "/v1/specs", "text/plain", good, q);
    ck_assert_uint_eq(r.status, 415);
    result_clear(&r);

    json_object_set_new(q, "dryRun", json_string("maybe"));
    r = call(d, "POST", "/v1/specs", "application/yaml", good, q);
    ck_assert_uint_eq(r.status, 400);
    result_clear(&r);

    r = call(d, "POST", "/v1/specs", "application/yaml", "a: [", q);
    ck_assert_uint_eq(r.status, 400);
    result_clear(&r);
    json_decref(q);
    cass_daemon_free(d);
}
END_TEST

START_TEST(routes_openapi)
{
    struct cass_daemon *d = daemon_new();
    struct cass_api_request req = {.d = d, .method = "GET", .path = "/v1/openapi.yaml", .body = ""};
    struct cass_api_reply reply = {.status = 200};
    struct cass_error *err = NULL;
    ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), 0);
    ck_assert_uint_eq(reply.status, 200);
    ck_assert_ptr_null(reply.body);
    ck_assert_ptr_nonnull(reply.text);
    ck_assert_str_eq(reply.content_type, "application/yaml");
    ck_assert_int_eq(strncmp(reply.text, "openapi: 3.1", 12), 0);
    ck_assert_ptr_nonnull(strstr(reply.text, "\n  /v1/openapi.yaml:\n"));
    free(reply.text);

    struct result r = call(d, "POST", "/v1/openapi.yaml", NULL, NULL, NULL);
    ck_assert_uint_eq(r.status, 405);
    result_clear(&r);
    cass_daemon_free(d);
}
END_TEST

/* api/openapi.yaml as built in, parsed: its "paths" object (caller owns). */
static json_t *openapi_paths(void)
{
    extern const struct cass_schema_file cass_api_files[];
    const char *text = NULL;
    for (const struct cass_schema_file *f = cass_api_files; f->name; f++)
        if (strcmp(f->name, "openapi.yaml") == 0)
            text = f->text;
    ck_assert_ptr_nonnull(text);
    struct cass_yaml_limits lim;
    cass_yaml_limits_default(&lim);
    _cleanup_json_ json_t *docs = NULL;
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_msg(cass_yaml_parse(text, strlen(text), &lim, &docs, &err) == 0, "openapi.yaml: %s",
                  err ? err->message : "?");
    json_t *paths = json_object_get(json_object_get(json_array_get(docs, 0), "value"), "paths");
    ck_assert_msg(json_is_object(paths), "openapi.yaml has no paths");
    return json_incref(paths);
}

static const char *const http_methods[] = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};

struct route_seen {
    json_t *paths;  /* borrowed */
    json_t *routes; /* "METHOD PATH" -> true */
    int missing;
};

static void route_in_doc(const char *method, const char *path, void *ctx)
{
    struct route_seen *rs = ctx;
    char lower[16] = {0}, key[256];
    for (size_t i = 0; method[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)(method[i] - 'A' + 'a');
    snprintf(key, sizeof(key), "%s %s", method, path);
    json_object_set_new(rs->routes, key, json_true());
    if (!json_object_get(json_object_get(rs->paths, path), lower)) {
        fprintf(stderr, "route %s is not in api/openapi.yaml\n", key);
        rs->missing++;
    }
}

/* The routes table and the document's paths name the same operations, both
 * ways; the router's own 404 and 405 carry their problem types. */
START_TEST(routes_match_openapi)
{
    _cleanup_json_ json_t *paths = openapi_paths();
    struct route_seen rs = {.paths = paths, .routes = json_object()};
    cass_routes_foreach(route_in_doc, &rs);
    ck_assert_uint_ge(json_object_size(rs.routes), 15);
    const char *path;
    json_t *item;
    int undocumented = 0;
    json_object_foreach(paths, path, item)
    {
        for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
            if (!json_object_get(item, http_methods[i]))
                continue;
            char key[256], upper[16] = {0};
            for (size_t j = 0; http_methods[i][j]; j++)
                upper[j] = (char)(http_methods[i][j] - 'a' + 'A');
            snprintf(key, sizeof(key), "%s %s", upper, path);
            if (!json_object_get(rs.routes, key)) {
                fprintf(stderr, "api/openapi.yaml has %s, which no route serves\n", key);
                undocumented++;
            }
        }
    }
    json_decref(rs.routes);
    ck_assert_msg(rs.missing == 0, "%d routes are not in api/openapi.yaml", rs.missing);
    ck_assert_msg(undocumented == 0, "%d operations of api/openapi.yaml have no route",
                  undocumented);

    struct cass_daemon *d = daemon_new();
    const char *cases[][3] = {{"GET", "/v1/nothing", CASS_PROBLEM_NO_ROUTE},
                              {"GET", "/v1/specs/a/b", CASS_PROBLEM_NO_ROUTE},
                              {"DELETE", "/healthz", CASS_PROBLEM_NO_METHOD},
                              {"PUT", "/v1/specs/x", CASS_PROBLEM_NO_METHOD}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cass_api_request req = {
            .d = d, .method = cases[i][0], .path = cases[i][1], .body = ""};
        struct cass_api_reply reply = {.status = 200};
        _cleanup_error_ struct cass_error *err = NULL;
        ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), -1);
        ck_assert_str_eq(reply.problem_type, cases[i][2]);
    }
    /* A 405 says what the path serves. */
    struct cass_api_request preq = {.d = d, .method = "PUT", .path = "/v1/specs/x", .body = ""};
    struct cass_api_reply preply = {.status = 200};
    _cleanup_error_ struct cass_error *perr = NULL;
    ck_assert_int_eq(cass_routes_handle(&preq, &preply, &perr), -1);
    ck_assert_str_eq(preply.allow, "GET, HEAD, DELETE");
    /* ...and only a 405 does: DELETE passes GET's route before its own. */
    struct cass_api_request dreq = {
        .d = d, .method = "DELETE", .path = "/v1/specs/nosuch", .body = ""};
    struct cass_api_reply dreply = {.status = 200};
    cass_auth_local(&dreq.who, 0);
    _cleanup_error_ struct cass_error *derr = NULL;
    ck_assert_int_eq(cass_routes_handle(&dreq, &dreply, &derr), -1);
    ck_assert_uint_eq(cass_problem_status(derr), 404);
    ck_assert_str_eq(dreply.allow, "");
    /* A handler's own 404 is not the router's. */
    struct cass_api_request req = {.d = d, .method = "GET", .path = "/v1/specs/nosuch", .body = ""};
    struct cass_api_reply reply = {.status = 200};
    cass_auth_local(&req.who, 0);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), -1);
    ck_assert_uint_eq(cass_problem_status(err), 404);
    ck_assert_ptr_null(reply.problem_type);
    /* Nobody (a network caller without a token) gets 401 before the handler. */
    struct cass_api_request nreq = {
        .d = d, .method = "GET", .path = "/v1/specs/nosuch", .body = ""};
    struct cass_api_reply nreply = {.status = 200};
    _cleanup_error_ struct cass_error *nerr = NULL;
    ck_assert_int_eq(cass_routes_handle(&nreq, &nreply, &nerr), -1);
    ck_assert_uint_eq(nreply.status, 401);
    cass_daemon_free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_mapping);
    tcase_add_test(tc, problem_not_utf8);
    tcase_add_test(tc, routes_path_check);
    tcase_add_test(tc, routes_basic);
    tcase_add_test(tc, routes_dry_run);
    tcase_add_test(tc, routes_openapi);
    tcase_add_test(tc, routes_match_openapi);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
