#include "config.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "engine.h"
#include "lifecycle.h"
#include "metrics.h"
#include "pin.h"
#include "eventstream.h"
#include "runlog.h"
#include "protocol.h"
#include "routes.h"
#include "schema.h"
#include "spec.h"
#include "store.h"

/* arg is the {name} or {id} segment of the path, NULL for fixed paths. */
typedef int (*handler_fn)(struct cass_api_request *req, const char *arg,
                          struct cass_api_reply *reply, struct cass_error **err);

struct route {
    const char *method;
    const char *prefix; /* the path, or the part before {arg} */
    const char *suffix; /* NULL: fixed path; else what follows {arg} ("" for none) */
    handler_fn fn;
    const char *pattern; /* as the OpenAPI document names it, for metrics */
};

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int cass_routes_path_ok(const char *uri)
{
    for (const char *p = uri; *p && *p != '?'; p++) {
        int v = (unsigned char)*p;
        if (*p == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0)
                return 0;
            v = hi * 16 + lo;
            p += 2;
            if (v == '/')
                return 0;
        }
        if (v < 0x21 || v > 0x7e)
            return 0;
    }
    return 1;
}

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

static int h_healthz(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    struct cass_daemon *d = req->d;
    int st = atomic_load(&d->engine_state);
    /* Liveness of the daemon itself: a dead engine is reported, not fatal. */
    reply->body =
        json_pack("{s:s,s:s,s:s,s:s*}", "status", "ok", "engine",
                  st == CASS_ENGINE_UP     ? "connected"
                  : st == CASS_ENGINE_DOWN ? "unreachable"
                                           : "unknown",
                  "store", cass_store_full(d->store) ? "disk-full" : "ok", "backend", d->backend);
    /* How bind sources reach the engine (daemon/pin.h). */
    json_object_set_new(reply->body, "mounts", json_string(cass_pin_mode()));
    return reply->body ? 0 : cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
}

static int h_version(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
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
    /* Chosen at start from the config, whether or not the engine answers now. */
    if (req->d->backend)
        json_object_set_new(json_object_get(out, "engine"), "backend",
                            json_string(req->d->backend));
    if (req->d->gateway_port > 0) {
        char gw[128];
        snprintf(gw, sizeof(gw), "%s://%s:%d/models/",
                 cass_cfg_get(req->d->config, "gateway.tls") ? "https" : "http",
                 cass_daemon_config_str(req->d, "gateway.address"), req->d->gateway_port);
        json_object_set_new(out, "gateway", json_string(gw));
    }
    reply->body = TAKE_PTR(out);
    return 0;
}

static int h_metrics(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    char *text = cass_metrics_render(req->d);
    if (!text)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    reply->text = text;
    reply->content_type = CASS_METRICS_CONTENT_TYPE;
    return 0;
}

/* api/openapi.yaml, embedded at build time (build-aux/embed.sh). */
extern const struct cass_schema_file cass_api_files[];

static int h_openapi(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    for (const struct cass_schema_file *f = cass_api_files; f->name; f++) {
        if (strcmp(f->name, "openapi.yaml") != 0)
            continue;
        reply->text = strdup(f->text);
        if (!reply->text)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        reply->content_type = CASS_MEDIA_YAML;
        return 0;
    }
    return cass_error_set(err, CASS_ERR_INTERNAL, "openapi.yaml is not built in");
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

static int h_specs_post(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
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
        json_t *out = cass_lifecycle_apply(req->d, specs, err);
        if (!out)
            return -1;
        reply->status = 202;
        reply->body = out;
        reply->audit = 1;
        reply->audit_detail = json_deep_copy(out);
        return 0;
    }
    reply->body = cass_lifecycle_dry_run(req->d, specs, err);
    return reply->body ? 0 : -1;
}

/* ---- specs ------------------------------------------------------------- */

static int h_specs_list(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                        struct cass_error **err)
{
    json_t *list = cass_store_spec_list(req->d->store, 0, err);
    if (!list)
        return -1;
    reply->body = json_pack("{s:o}", "specs", list);
    return 0;
}

static int h_specs_get(struct cass_api_request *req, const char *name, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    _cleanup_json_ json_t *spec = cass_store_spec_get(req->d->store, name, err);
    if (!spec)
        return -1;
    const char *run_id = json_string_value(json_object_get(spec, "runId"));
    json_t *run = run_id ? cass_store_run_get(req->d->store, run_id, err) : json_null();
    if (!run)
        return -1;
    json_object_set_new(spec, "run", run);
    _cleanup_json_ json_t *rev = cass_store_revision_get(
        req->d->store, json_string_value(json_object_get(spec, "revision")), err);
    if (!rev)
        return -1;
    json_object_set(spec, "spec", json_object_get(rev, "spec"));
    reply->body = TAKE_PTR(spec);
    return 0;
}

static int h_specs_delete(struct cass_api_request *req, const char *name,
                          struct cass_api_reply *reply, struct cass_error **err)
{
    int purge = 0;
    if (query_bool(req, "purge", &purge, err) < 0)
        return -1;
    if (cass_lifecycle_delete(req->d, name, purge, err) < 0)
        return -1;
    reply->body = json_pack("{s:s,s:b,s:b}", "name", name, "deleted", 1, "purged", purge);
    reply->audit = 1;
    reply->audit_detail = json_incref(reply->body);
    return 0;
}

/* ---- runs -------------------------------------------------------------- */

static int parse_limit(const struct cass_api_request *req, unsigned *ret, struct cass_error **err)
{
    const char *v = cass_routes_query(req, "limit");
    *ret = 0;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > 1000)
        return cass_error_set(err, CASS_ERR_SYNTAX, "limit must be a number from 1 to 1000");
    *ret = (unsigned)n;
    return 0;
}

/* A queued run says where it stands in its queue. */
static void add_queue_position(struct cass_daemon *d, json_t *run)
{
    const char *st = json_string_value(json_object_get(run, "status"));
    if (!d->lifecycle || !st || strcmp(st, "queued") != 0)
        return;
    long pos =
        cass_lifecycle_queue_position(d->lifecycle, json_string_value(json_object_get(run, "id")));
    if (pos > 0)
        json_object_set_new(run, "queuePosition", json_integer(pos));
}

static int h_runs_list(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    struct cass_store_run_filter f = {
        .name = cass_routes_query(req, "name"),
        .kind = cass_routes_query(req, "kind"),
        .status = cass_routes_query(req, "status"),
        .cursor = cass_routes_query(req, "cursor"),
    };
    if (parse_limit(req, &f.limit, err) < 0)
        return -1;
    char *next = NULL;
    json_t *runs = cass_store_run_list(req->d->store, &f, &next, err);
    if (!runs)
        return -1;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) add_queue_position(req->d, r);
    reply->body = json_pack("{s:o,s:s?}", "runs", runs, "next", next);
    free(next);
    return 0;
}

static int h_runs_get(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                      struct cass_error **err)
{
    reply->body = cass_store_run_get(req->d->store, id, err);
    if (reply->body)
        add_queue_position(req->d, reply->body);
    return reply->body ? 0 : -1;
}

static int h_runs_stop(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    json_t *run = NULL;
    char reason[96];
    snprintf(reason, sizeof(reason), "stopped by %s", req->actor);
    if (cass_lifecycle_run_stop(req->d, id, reason, &run, err) < 0)
        return -1;
    reply->body = run;
    reply->audit = 1;
    return 0;
}

static long log_read(void *ctx, char *buf, size_t max, struct cass_stream_wait *wait)
{
    return cass_runlog_read(ctx, buf, max, wait);
}

static void log_free(void *ctx)
{
    cass_runlog_close(ctx);
}

static int h_runs_logs(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    int follow = 0;
    if (query_bool(req, "follow", &follow, err) < 0)
        return -1;
    int tail = -1;
    const char *t = cass_routes_query(req, "tail");
    if (t) {
        char *end = NULL;
        long n = strtol(t, &end, 10);
        if (end == t || *end || n < 0 || n > 1000000)
            return cass_error_set(err, CASS_ERR_SYNTAX, "tail must be a number of lines");
        tail = (int)n;
    }
    _cleanup_json_ json_t *run = cass_store_run_get(req->d->store, id, err);
    if (!run)
        return -1;
    struct cass_runlog_reader *r = cass_runlog_open(req->d, run, follow, tail, err);
    if (!r)
        return -1;
    reply->content_type = "text/plain; charset=utf-8";
    reply->stream_read = log_read;
    reply->stream_free = log_free;
    reply->stream_ctx = r;
    return 0;
}

bool cass_routes_inline(const char *method, const char *path)
{
    return strcmp(method, "GET") == 0 && strcmp(path, "/healthz") == 0;
}

void cass_routes_cancel_streams(void)
{
    cass_runlog_cancel_all();
    cass_eventstream_cancel_all();
}

static int h_runs_reproduce(struct cass_api_request *req, const char *id,
                            struct cass_api_reply *reply, struct cass_error **err)
{
    json_t *run = cass_lifecycle_reproduce(req->d, id, err);
    if (!run)
        return -1;
    reply->status = 202;
    reply->body = run;
    reply->audit = 1;
    return 0;
}

static int h_specs_rollback(struct cass_api_request *req, const char *name,
                            struct cass_api_reply *reply, struct cass_error **err)
{
    json_t *run = cass_lifecycle_rollback(req->d, name, cass_routes_query(req, "to"), err);
    if (!run)
        return -1;
    reply->status = 202;
    reply->body = run;
    reply->audit = 1;
    return 0;
}

/* ---- events: server-sent, from the audit log ------------------------------ */

static long sse_read(void *ctx, char *buf, size_t max, struct cass_stream_wait *wait)
{
    return cass_eventstream_read(ctx, buf, max, wait);
}

static int sse_refill(void *ctx)
{
    return cass_eventstream_refill(ctx);
}

static void sse_free(void *ctx)
{
    cass_eventstream_close(ctx);
}

static int h_events(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                    struct cass_error **err)
{
    long long after = -1;
    const char *last =
        req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID") : NULL;
    if (!last)
        last = cass_routes_query(req, "since");
    if (last) {
        char *end = NULL;
        errno = 0;
        after = strtoll(last, &end, 10);
        if (errno || end == last || *end || after < 0)
            return cass_error_set(err, CASS_ERR_SYNTAX,
                                  "Last-Event-ID (or since) must be an event id");
    }
    struct cass_eventstream *x = cass_eventstream_open(
        req->d, after, cass_routes_query(req, "name"), cass_routes_query(req, "run"), err);
    if (!x) {
        /* Too many streams: one may end soon. */
        if (err && *err && (*err)->kind == CASS_ERR_UNAVAILABLE)
            reply->retry_after = 5;
        return -1;
    }
    reply->content_type = "text/event-stream";
    reply->stream_read = sse_read;
    reply->stream_refill = sse_refill;
    reply->stream_free = sse_free;
    reply->stream_ctx = x;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/healthz", NULL, h_healthz, "/healthz"},
    {"GET", "/metrics", NULL, h_metrics, "/metrics"},
    {"GET", "/v1/version", NULL, h_version, "/v1/version"},
    {"GET", "/v1/openapi.yaml", NULL, h_openapi, "/v1/openapi.yaml"},
    {"POST", "/v1/specs", NULL, h_specs_post, "/v1/specs"},
    {"GET", "/v1/specs", NULL, h_specs_list, "/v1/specs"},
    {"GET", "/v1/specs/", "", h_specs_get, "/v1/specs/{name}"},
    {"DELETE", "/v1/specs/", "", h_specs_delete, "/v1/specs/{name}"},
    {"POST", "/v1/specs/", "/rollback", h_specs_rollback, "/v1/specs/{name}/rollback"},
    {"GET", "/v1/runs", NULL, h_runs_list, "/v1/runs"},
    {"GET", "/v1/runs/", "", h_runs_get, "/v1/runs/{id}"},
    {"GET", "/v1/runs/", "/logs", h_runs_logs, "/v1/runs/{id}/logs"},
    {"POST", "/v1/runs/", "/stop", h_runs_stop, "/v1/runs/{id}/stop"},
    {"POST", "/v1/runs/", "/reproduce", h_runs_reproduce, "/v1/runs/{id}/reproduce"},
    {"GET", "/v1/events", NULL, h_events, "/v1/events"},
};

/* Matches path against a route; on a match with an argument, copies the
 * argument (one segment of [A-Za-z0-9._-], at most 127 bytes) to arg. */
static int route_match(const struct route *r, const char *path, char *arg, size_t n)
{
    if (!r->suffix)
        return strcmp(r->prefix, path) == 0;
    size_t plen = strlen(r->prefix);
    if (strncmp(path, r->prefix, plen) != 0)
        return 0;
    const char *a = path + plen;
    size_t alen = strcspn(a, "/");
    if (alen == 0 || alen >= n || strcmp(a + alen, r->suffix) != 0)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    memcpy(arg, a, alen);
    arg[alen] = '\0';
    return 1;
}

int cass_routes_handle(struct cass_api_request *req, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    int path_known = 0;
    char arg[128];
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!route_match(&routes[i], req->path, arg, sizeof(arg)))
            continue;
        path_known = 1;
        reply->route = routes[i].pattern;
        if (strcmp(routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return routes[i].fn(req, routes[i].suffix ? arg : NULL, reply, err);
    }
    if (path_known) {
        reply->status = 405;
        return cass_error_set(err, CASS_ERR_INVALID, "method %s is not allowed on %s", req->method,
                              req->path);
    }
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such endpoint: %s %s", req->method,
                          req->path);
}
