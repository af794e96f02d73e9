#include "config.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "engine.h"
#include "protocol.h"
#include "routes.h"
#include "spec.h"
#include "store.h"

typedef int (*handler_fn)(struct cass_api_request *req, struct cass_api_reply *reply,
                          struct cass_error **err);

struct route {
    const char *method;
    const char *path;
    handler_fn fn;
};

const char *cass_routes_query(const struct cass_api_request *req, const char *key)
{
    if (req->conn)
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
    return req->query ? json_string_value(json_object_get(req->query, key)) : NULL;
}

/* "true"/"1" and a bare "?dryRun" are true; "false"/"0" false; anything else
 * is an error, so that a typo never turns a dry run into a real one. */
static int query_bool(const struct cass_api_request *req, const char *key, int *ret,
                      struct cass_error **err)
{
    *ret = 0;
    const char *v = cass_routes_query(req, key);
    if (!v)
        return 0;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *ret = 1;
    else if (strcmp(v, "false") != 0 && strcmp(v, "0") != 0)
        return cass_error_set(err, CASS_ERR_SYNTAX, "query parameter %s must be true or false",
                              key);
    return 0;
}

static int h_healthz(struct cass_api_request *req, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    struct cass_daemon *d = req->d;
    pthread_mutex_lock(&d->engine_lock);
    int up = d->engine != NULL;
    pthread_mutex_unlock(&d->engine_lock);
    /* Liveness of the daemon itself: a dead engine is reported, not fatal. */
    reply->body = json_pack("{s:s,s:s}", "status", "ok", "engine", up ? "connected" : "unknown");
    return reply->body ? 0 : cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
}

static int h_version(struct cass_api_request *req, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    _cleanup_json_ json_t *out =
        json_pack("{s:s,s:s}", "version", PACKAGE_VERSION, "apiVersion", CASS_API_VERSION);
    if (!out)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    _cleanup_error_ struct cass_error *eerr = NULL;
    struct cass_engine *e = cass_daemon_engine(req->d, &eerr);
    _cleanup_json_ json_t *v = e ? cass_engine_version(e, &eerr) : NULL;
    if (v) {
        json_t *engine = json_object();
        const char *keys[][2] = {{"Version", "version"},
                                 {"ApiVersion", "apiVersion"},
                                 {"Os", "os"},
                                 {"Arch", "arch"},
                                 {"KernelVersion", "kernelVersion"}};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_t *x = json_object_get(v, keys[i][0]);
            if (json_is_string(x))
                json_object_set(engine, keys[i][1], x);
        }
        json_object_set_new(engine, "negotiatedApiVersion",
                            json_string(cass_engine_api_version(e)));
        json_object_set_new(out, "engine", engine);
    } else {
        json_object_set_new(
            out, "engine",
            json_pack("{s:s}", "error", eerr && eerr->message ? eerr->message : "unreachable"));
    }
    reply->body = TAKE_PTR(out);
    return 0;
}

static int h_metrics(struct cass_api_request *req, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    struct cass_daemon *d = req->d;
    pthread_mutex_lock(&d->engine_lock);
    int up = d->engine != NULL;
    pthread_mutex_unlock(&d->engine_lock);
    char *text = NULL;
    int n = asprintf(&text,
                     "# HELP cassiny_up Whether cassinyd is serving.\n"
                     "# TYPE cassiny_up gauge\ncassiny_up 1\n"
                     "# HELP cassiny_engine_connected Whether the Docker Engine answered.\n"
                     "# TYPE cassiny_engine_connected gauge\ncassiny_engine_connected %d\n"
                     "# HELP cassiny_start_time_seconds When cassinyd started.\n"
                     "# TYPE cassiny_start_time_seconds gauge\ncassiny_start_time_seconds %lld\n"
                     "# HELP cassiny_http_requests_total HTTP requests answered.\n"
                     "# TYPE cassiny_http_requests_total counter\n"
                     "cassiny_http_requests_total{class=\"all\"} %lu\n"
                     "cassiny_http_requests_total{class=\"4xx\"} %lu\n"
                     "cassiny_http_requests_total{class=\"5xx\"} %lu\n",
                     up, (long long)d->started_at, atomic_load(&d->requests_total),
                     atomic_load(&d->requests_4xx), atomic_load(&d->requests_5xx));
    if (n < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    reply->text = text;
    reply->content_type = "text/plain; version=0.0.4";
    return 0;
}

static int spec_media_ok(const char *ct)
{
    if (!ct || !*ct)
        return 1;
    static const char *const ok[] = {CASS_MEDIA_YAML, CASS_MEDIA_JSON, "application/x-yaml",
                                     "text/yaml", "text/x-yaml"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

static int h_specs_post(struct cass_api_request *req, struct cass_api_reply *reply,
                        struct cass_error **err)
{
    int dry_run = 0;
    if (query_bool(req, "dryRun", &dry_run, err) < 0)
        return -1;
    if (!spec_media_ok(req->content_type)) {
        reply->status = 415;
        return cass_error_set(err, CASS_ERR_SYNTAX,
                              "Content-Type %s is not accepted: send application/yaml or "
                              "application/json",
                              req->content_type);
    }
    _cleanup_json_ json_t *specs = cass_spec_load(req->body, req->body_len, err);
    if (!specs)
        return -1;
    if (!dry_run) {
        reply->status = 501;
        return cass_error_set(err, CASS_ERR_INTERNAL,
                              "launching specs is not available in this version; use "
                              "?dryRun=true to validate");
    }
    json_t *list = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        json_array_append_new(
            list,
            json_pack("{s:O,s:O,s:O,s:O,s:O}", "kind", json_object_get(s, "kind"), "name",
                      json_object_get(s, "name"), "revision", json_object_get(s, "revision"),
                      "line", json_object_get(s, "line"), "spec", json_object_get(s, "spec")));
    }
    reply->body = json_pack("{s:b,s:o}", "dryRun", 1, "specs", list);
    return reply->body ? 0 : cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
}

static const struct route routes[] = {
    {"GET", "/healthz", h_healthz},
    {"GET", "/metrics", h_metrics},
    {"GET", "/v1/version", h_version},
    {"POST", "/v1/specs", h_specs_post},
};

int cass_routes_handle(struct cass_api_request *req, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    int path_known = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, req->path) != 0)
            continue;
        path_known = 1;
        if (strcmp(routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return routes[i].fn(req, reply, err);
    }
    if (path_known) {
        reply->status = 405;
        return cass_error_set(err, CASS_ERR_INVALID, "method %s is not allowed on %s", req->method,
                              req->path);
    }
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such endpoint: %s %s", req->method,
                          req->path);
}
