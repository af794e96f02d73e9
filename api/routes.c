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
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "engine.h"
#include "imagepush.h"
#include "lifecycle.h"
#include "metrics.h"
#include "pin.h"
#include "eventstream.h"
#include "runlog.h"
#include "protocol.h"
#include "quantity.h"
#include "routes.h"
#include "schema.h"
#include "spec.h"
#include "store.h"
#include "ui.h"

/* arg is the {name} or {id} segment of the path, NULL for fixed paths. */
typedef int (*handler_fn)(struct cass_api_request *req, const char *arg,
                          struct cass_api_reply *reply, struct cass_error **err);

struct route {
    const char *method;
    const char *path; /* as in api/openapi.yaml: at most one {arg} segment */
    handler_fn fn;
    enum cass_scope need; /* NONE: answered to anyone (liveness, version, the document) */
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
        snprintf(gw, sizeof(gw), "%s://%s:%d/models/", cass_daemon_gateway_scheme(req->d),
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

/* ---- who may see and change what ----------------------------------------- */

/* 0 when the caller may act on owner's thing at scope need; else -1 with
 * NOT_FOUND when they may not even see it (others' names do not exist for
 * them) or FORBIDDEN. */
static int owner_check(const struct cass_api_request *req, const char *owner, enum cass_scope need,
                       const char *what, const char *name, struct cass_error **err)
{
    if (cass_auth_allows(&req->who, owner, need))
        return 0;
    if (!cass_auth_allows(&req->who, owner, CASS_SCOPE_READ))
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "%s %s not found", what, name);
    return cass_error_set(err, CASS_ERR_FORBIDDEN, "token %s has scope %s: it cannot change %s %s",
                          req->who.token_id, cass_scope_name(req->who.scope), what, name);
}

/* The live spec name if the caller may act on it at need (caller owns). */
static json_t *spec_for(const struct cass_api_request *req, const char *name, enum cass_scope need,
                        struct cass_error **err)
{
    json_t *spec = cass_store_spec_get(req->d->store, name, err);
    if (spec && owner_check(req, json_string_value(json_object_get(spec, "owner")), need, "spec",
                            name, err) < 0) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

/* The run id if the caller may act on it at need (caller owns). */
static json_t *run_for(const struct cass_api_request *req, const char *id, enum cass_scope need,
                       struct cass_error **err)
{
    json_t *run = cass_store_run_get(req->d->store, id, err);
    if (run && owner_check(req, json_string_value(json_object_get(run, "owner")), need, "run", id,
                           err) < 0) {
        json_decref(run);
        return NULL;
    }
    return run;
}

/* A notebook's URL carries its token: shown to its owner only. */
static void redact(const struct cass_api_request *req, json_t *o, const char *kind,
                   const char *owner)
{
    if (!o || !json_is_object(o) || cass_auth_sees_secrets(&req->who, owner))
        return;
    if (!kind || strcmp(kind, "Notebook") != 0)
        return;
    if (json_is_string(json_object_get(o, "url")))
        json_object_set_new(o, "url", json_null());
    json_object_del(o, "token");
}

static void redact_run(const struct cass_api_request *req, json_t *run)
{
    redact(req, run, json_string_value(json_object_get(run, "kind")),
           json_string_value(json_object_get(run, "owner")));
}

/* The document a spec revision holds, with a notebook token written in it
 * hidden from all but its owner. */
static void redact_document(const struct cass_api_request *req, json_t *rev, const char *owner)
{
    json_t *inner = json_object_get(json_object_get(rev, "spec"), "spec");
    if (!cass_auth_sees_secrets(&req->who, owner) && json_object_get(inner, "token"))
        json_object_set_new(inner, "token", json_string("(hidden)"));
}

/* A spec as shown: its run's URL and a token written in the document are
 * its owner's to see. */
static void redact_spec(const struct cass_api_request *req, json_t *spec)
{
    const char *owner = json_string_value(json_object_get(spec, "owner"));
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    redact(req, spec, kind, owner);
    redact(req, json_object_get(spec, "run"), kind, owner);
    redact_document(req, spec, owner);
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
        json_t *out = cass_lifecycle_apply(req->d, specs, &req->who, err);
        if (!out)
            return -1;
        reply->status = 202;
        reply->body = out;
        reply->audit = 1;
        reply->audit_detail = json_deep_copy(out);
        return 0;
    }
    reply->body = cass_lifecycle_dry_run(req->d, specs, &req->who, err);
    return reply->body ? 0 : -1;
}

/* ---- specs ------------------------------------------------------------- */

static int h_specs_list(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                        struct cass_error **err)
{
    _cleanup_json_ json_t *all = cass_store_spec_list(req->d->store, 0, err);
    if (!all)
        return -1;
    json_t *list = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach(all, i, sp)
    {
        if (!cass_auth_allows(&req->who, json_string_value(json_object_get(sp, "owner")),
                              CASS_SCOPE_READ))
            continue;
        redact_spec(req, sp);
        json_array_append(list, sp);
    }
    reply->body = json_pack("{s:o}", "specs", list);
    return 0;
}

static int h_specs_get(struct cass_api_request *req, const char *name, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    _cleanup_json_ json_t *spec = spec_for(req, name, CASS_SCOPE_READ, err);
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
    json_object_set_new(spec, "spec", json_deep_copy(json_object_get(rev, "spec")));
    redact_spec(req, spec);
    reply->body = TAKE_PTR(spec);
    return 0;
}

static int h_specs_delete(struct cass_api_request *req, const char *name,
                          struct cass_api_reply *reply, struct cass_error **err)
{
    int purge = 0;
    if (query_bool(req, "purge", &purge, err) < 0)
        return -1;
    _cleanup_json_ json_t *spec = spec_for(req, name, CASS_SCOPE_WRITE, err);
    if (!spec || cass_lifecycle_delete(req->d, name, purge, err) < 0)
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
        /* Without admin, one's own only. */
        .owner =
            req->who.scope == CASS_SCOPE_ADMIN ? cass_routes_query(req, "owner") : req->who.user,
    };
    if (parse_limit(req, &f.limit, err) < 0)
        return -1;
    char *next = NULL;
    json_t *runs = cass_store_run_list(req->d->store, &f, &next, err);
    if (!runs)
        return -1;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        add_queue_position(req->d, r);
        redact_run(req, r);
    }
    reply->body = json_pack("{s:o,s:s?}", "runs", runs, "next", next);
    free(next);
    return 0;
}

static int h_runs_get(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                      struct cass_error **err)
{
    reply->body = run_for(req, id, CASS_SCOPE_READ, err);
    if (!reply->body)
        return -1;
    add_queue_position(req->d, reply->body);
    /* Each input's hash, for comparing two runs file by file (a list of
     * runs carries only inputsDigest). */
    json_t *inputs = cass_store_input_hashes_get(req->d->store, id, err);
    if (!inputs)
        return -1;
    json_object_set_new(reply->body, "inputs", inputs);
    redact_run(req, reply->body);
    return 0;
}

/* GET /v1/runs/{id}/spec: the revision the run ran, whatever the spec's
 * current one is (a run page, a comparison of two runs). */
static int h_runs_spec(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    _cleanup_json_ json_t *run = run_for(req, id, CASS_SCOPE_READ, err);
    if (!run)
        return -1;
    json_t *rev = cass_store_revision_get(req->d->store,
                                          json_string_value(json_object_get(run, "revision")), err);
    if (!rev)
        return -1;
    redact_document(req, rev, json_string_value(json_object_get(run, "owner")));
    reply->body = rev;
    return 0;
}

/* GET /v1/specs/{name}/revisions: every revision applied under the name,
 * newest first (a model's history). */
static int h_specs_revisions(struct cass_api_request *req, const char *name,
                             struct cass_api_reply *reply, struct cass_error **err)
{
    _cleanup_json_ json_t *spec = spec_for(req, name, CASS_SCOPE_READ, err);
    if (!spec)
        return -1;
    json_t *revs = cass_store_revision_list(req->d->store, name, err);
    if (!revs)
        return -1;
    const char *owner = json_string_value(json_object_get(spec, "owner"));
    size_t i;
    json_t *r;
    json_array_foreach(revs, i, r)
    {
        redact_document(req, r, owner);
        json_object_set_new(r, "current",
                            json_boolean(json_equal(json_object_get(r, "revision"),
                                                    json_object_get(spec, "revision"))));
    }
    reply->body = json_pack("{s:o}", "revisions", revs);
    return 0;
}

static int h_runs_stop(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    json_t *run = NULL;
    _cleanup_json_ json_t *mine = run_for(req, id, CASS_SCOPE_WRITE, err);
    if (!mine)
        return -1;
    char reason[160];
    snprintf(reason, sizeof(reason), "stopped by %s (%s)", req->who.user, req->actor);
    if (cass_lifecycle_run_stop(req->d, id, reason, &run, err) < 0)
        return -1;
    redact_run(req, run);
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
    _cleanup_json_ json_t *run = run_for(req, id, CASS_SCOPE_READ, err);
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
    /* The dashboard's files are in memory too. */
    return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
           (strcmp(path, "/healthz") == 0 || cass_ui_is_static(path));
}

void cass_routes_cancel_streams(void)
{
    cass_runlog_cancel_all();
    cass_eventstream_cancel_all();
    cass_imagepush_cancel_all();
}

static int h_runs_reproduce(struct cass_api_request *req, const char *id,
                            struct cass_api_reply *reply, struct cass_error **err)
{
    _cleanup_json_ json_t *mine = run_for(req, id, CASS_SCOPE_WRITE, err);
    if (!mine)
        return -1;
    json_t *run = cass_lifecycle_reproduce(req->d, id, err);
    if (!run)
        return -1;
    redact_run(req, run);
    reply->status = 202;
    reply->body = run;
    reply->audit = 1;
    return 0;
}

static int h_specs_rollback(struct cass_api_request *req, const char *name,
                            struct cass_api_reply *reply, struct cass_error **err)
{
    _cleanup_json_ json_t *spec = spec_for(req, name, CASS_SCOPE_WRITE, err);
    if (!spec)
        return -1;
    json_t *run = cass_lifecycle_rollback(req->d, name, cass_routes_query(req, "to"), err);
    if (!run)
        return -1;
    redact_run(req, run);
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
    struct cass_eventstream *x =
        cass_eventstream_open(req->d, after, cass_routes_query(req, "name"),
                              cass_routes_query(req, "run"), &req->who, err);
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

/* ---- images ------------------------------------------------------------------ */

static long push_read(void *ctx, char *buf, size_t max, struct cass_stream_wait *wait)
{
    return cass_imagepush_read(ctx, buf, max, wait);
}

static void push_free(void *ctx)
{
    cass_imagepush_close(ctx);
}

/* The request's body as a JSON object whose members are all strings among
 * fields (NULL-terminated). Caller owns. */
static json_t *string_body(const struct cass_api_request *req, const char *const *fields,
                           struct cass_error **err)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        cass_error_set(err, CASS_ERR_SYNTAX, "the body must be a JSON object: %s",
                       body ? "not an object" : jerr.text);
        json_decref(body);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (fields[i] && strcmp(key, fields[i]) != 0)
            i++;
        if (!fields[i] || !json_is_string(v)) {
            if (fields[i])
                cass_error_set(err, CASS_ERR_INVALID, "%s must be a string", key);
            else
                cass_error_set(err, CASS_ERR_INVALID, "unknown field %s", key);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* POST /v1/images/push {"image", "registry"}: the engine pushes a local
 * image into one of registries:, its progress streamed as JSON lines. */
static int h_images_push(struct cass_api_request *req, const char *arg,
                         struct cass_api_reply *reply, struct cass_error **err)
{
    (void)arg;
    static const char *const fields[] = {"image", "registry", NULL};
    _cleanup_json_ json_t *body = string_body(req, fields, err);
    if (!body)
        return -1;
    const char *image = json_string_value(json_object_get(body, "image"));
    if (!image)
        return cass_error_set(err, CASS_ERR_INVALID, "image is required");
    _cleanup_free_ char *target = cass_imagepush_target(
        req->d->config, image, json_string_value(json_object_get(body, "registry")), err);
    if (!target)
        return -1;
    struct cass_imagepush *p = cass_imagepush_start(req->d, image, target, err);
    if (!p)
        return -1;
    reply->content_type = "application/x-ndjson";
    reply->stream_read = push_read;
    reply->stream_free = push_free;
    reply->stream_ctx = p;
    reply->audit = 1;
    reply->audit_detail = json_pack("{s:s,s:s}", "image", image, "target", target);
    return 0;
}

/* ---- tokens and the audit log ---------------------------------------------- */

/* POST /v1/tokens {"user", "scope", "name", "expiresIn"}: a token of one's
 * own at most one's own scope, or (admin) of anyone at any scope. The
 * secret is in this answer only. */
static int h_tokens_post(struct cass_api_request *req, const char *arg,
                         struct cass_api_reply *reply, struct cass_error **err)
{
    static const char *const fields[] = {"user", "scope", "name", "expiresIn", NULL};
    _cleanup_json_ json_t *body = string_body(req, fields, err);
    if (!body)
        return -1;
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *scope_name = json_string_value(json_object_get(body, "scope"));
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *expires_in = json_string_value(json_object_get(body, "expiresIn"));
    if (!user)
        user = req->who.user;
    enum cass_scope scope;
    if (!scope_name || cass_scope_parse(scope_name, &scope) < 0)
        return cass_error_set(err, CASS_ERR_INVALID, "scope must be read, write or admin");
    if (strcmp(user, CASS_AUTH_LOCAL_USER) == 0)
        return cass_error_set(err, CASS_ERR_INVALID,
                              "user %s is the unix socket's; name the user the token is for",
                              CASS_AUTH_LOCAL_USER);
    if (req->who.scope != CASS_SCOPE_ADMIN &&
        (strcmp(user, req->who.user) != 0 || scope > req->who.scope))
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "a %s token makes tokens of its own user (%s) at most %s; "
                              "others' and larger ones need admin",
                              cass_scope_name(req->who.scope), req->who.user,
                              cass_scope_name(req->who.scope));
    char expires[CASS_STORE_TIME_LEN + 1];
    if (expires_in) {
        int64_t secs = 0;
        if (cass_quantity_duration(expires_in, &secs) < 0 || secs <= 0 || secs > 10LL * 366 * 86400)
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "expiresIn must be a duration such as 90d, 12h or 30m (at "
                                  "most 10 years)");
        time_t at = time(NULL) + (time_t)secs;
        struct tm tm;
        gmtime_r(&at, &tm);
        strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    _cleanup_free_ char *id = NULL, *secret = NULL;
    if (cass_store_token_create(req->d->store, name ? name : user, user, cass_scope_name(scope),
                                expires_in ? expires : NULL, &id, &secret, err) < 0)
        return -1;
    _cleanup_json_ json_t *list = cass_store_token_list(req->d->store, user, err);
    json_t *made = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0)
        made = t;
    reply->status = 201;
    reply->body = made ? json_deep_copy(made) : json_pack("{s:s}", "id", id);
    reply->audit = 1;
    reply->audit_detail = json_deep_copy(reply->body);
    json_object_set_new(reply->body, "secret", json_string(secret));
    return 0;
}

static int h_tokens_list(struct cass_api_request *req, const char *arg,
                         struct cass_api_reply *reply, struct cass_error **err)
{
    const char *user =
        req->who.scope == CASS_SCOPE_ADMIN ? cass_routes_query(req, "user") : req->who.user;
    json_t *list = cass_store_token_list(req->d->store, user, err);
    if (!list)
        return -1;
    reply->body = json_pack("{s:o}", "tokens", list);
    return 0;
}

static int h_tokens_delete(struct cass_api_request *req, const char *id,
                           struct cass_api_reply *reply, struct cass_error **err)
{
    if (cass_store_token_revoke(req->d->store, id,
                                req->who.scope == CASS_SCOPE_ADMIN ? NULL : req->who.user, err) < 0)
        return -1;
    reply->body = json_pack("{s:s,s:b}", "id", id, "revoked", 1);
    reply->audit = 1;
    reply->audit_detail = json_incref(reply->body);
    return 0;
}

/* GET /v1/audit?user=&since=&after=&limit=: oldest first, from after. */
static int h_audit(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                   struct cass_error **err)
{
    unsigned limit = 0;
    if (parse_limit(req, &limit, err) < 0)
        return -1;
    long long after = 0;
    const char *a = cass_routes_query(req, "after");
    if (a) {
        char *end = NULL;
        errno = 0;
        after = strtoll(a, &end, 10);
        if (errno || end == a || *end || after < 0)
            return cass_error_set(err, CASS_ERR_SYNTAX, "after must be an entry id");
    }
    struct cass_audit_filter f = {.user = cass_routes_query(req, "user"),
                                  .since = cass_routes_query(req, "since")};
    json_t *list = cass_store_audit_since(req->d->store, after, limit, &f, err);
    if (!list)
        return -1;
    reply->body = json_pack("{s:o}", "entries", list);
    return 0;
}

static const struct route routes[] = {
    {"GET", "/healthz", h_healthz, CASS_SCOPE_NONE},
    {"GET", "/metrics", h_metrics, CASS_SCOPE_READ},
    {"GET", "/v1/version", h_version, CASS_SCOPE_NONE},
    {"GET", "/v1/openapi.yaml", h_openapi, CASS_SCOPE_NONE},
    {"POST", "/v1/specs", h_specs_post, CASS_SCOPE_WRITE},
    {"GET", "/v1/specs", h_specs_list, CASS_SCOPE_READ},
    {"GET", "/v1/specs/{name}", h_specs_get, CASS_SCOPE_READ},
    {"DELETE", "/v1/specs/{name}", h_specs_delete, CASS_SCOPE_WRITE},
    {"POST", "/v1/specs/{name}/rollback", h_specs_rollback, CASS_SCOPE_WRITE},
    {"GET", "/v1/specs/{name}/revisions", h_specs_revisions, CASS_SCOPE_READ},
    {"GET", "/v1/runs", h_runs_list, CASS_SCOPE_READ},
    {"GET", "/v1/runs/{id}", h_runs_get, CASS_SCOPE_READ},
    {"GET", "/v1/runs/{id}/logs", h_runs_logs, CASS_SCOPE_READ},
    {"GET", "/v1/runs/{id}/spec", h_runs_spec, CASS_SCOPE_READ},
    {"POST", "/v1/runs/{id}/stop", h_runs_stop, CASS_SCOPE_WRITE},
    {"POST", "/v1/runs/{id}/reproduce", h_runs_reproduce, CASS_SCOPE_WRITE},
    {"GET", "/v1/events", h_events, CASS_SCOPE_READ},
    {"POST", "/v1/tokens", h_tokens_post, CASS_SCOPE_READ},
    {"GET", "/v1/tokens", h_tokens_list, CASS_SCOPE_READ},
    {"DELETE", "/v1/tokens/{id}", h_tokens_delete, CASS_SCOPE_READ},
    {"GET", "/v1/audit", h_audit, CASS_SCOPE_ADMIN},
    {"POST", "/v1/images/push", h_images_push, CASS_SCOPE_ADMIN},
    /* The dashboard's session (ui.c): anyone may try, whoami says who. */
    {"POST", "/ui/api/login", cass_ui_login, CASS_SCOPE_NONE},
    {"POST", "/ui/api/logout", cass_ui_logout, CASS_SCOPE_NONE},
    {"GET", "/ui/api/whoami", cass_ui_whoami, CASS_SCOPE_NONE},
};

int cass_routes_header_add(struct cass_api_reply *reply, const char *name, const char *value)
{
    if (reply->nheaders >= CASS_API_HEADERS_MAX)
        return -1;
    char *v = strdup(value);
    if (!v)
        return -1;
    reply->headers[reply->nheaders++] = (struct cass_api_header){.name = name, .value = v};
    return 0;
}

void cass_routes_reply_clear(struct cass_api_reply *reply)
{
    json_decref(reply->body);
    json_decref(reply->audit_detail);
    free(reply->text);
    for (unsigned i = 0; i < reply->nheaders; i++)
        free(reply->headers[i].value);
    if (reply->stream_read && reply->stream_free)
        reply->stream_free(reply->stream_ctx);
    *reply = (struct cass_api_reply){0};
}

void cass_routes_foreach(void (*fn)(const char *method, const char *path, void *ctx), void *ctx)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        fn(routes[i].method, routes[i].path, ctx);
}

/* Matches path against a route; *ret_has_arg says whether the route has an
 * {arg} segment, and on a match that argument (one segment of
 * [A-Za-z0-9._-], at most 127 bytes) is copied to arg. */
static int route_match(const struct route *r, const char *path, char *arg, size_t n,
                       int *ret_has_arg)
{
    const char *open = strchr(r->path, '{');
    *ret_has_arg = open != NULL;
    if (!open)
        return strcmp(r->path, path) == 0;
    size_t plen = (size_t)(open - r->path);
    const char *suffix = strchr(open, '}') + 1;
    if (strncmp(path, r->path, plen) != 0)
        return 0;
    const char *a = path + plen;
    size_t alen = strcspn(a, "/");
    if (alen == 0 || alen >= n || strcmp(a + alen, suffix) != 0)
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

/* The route's scope against the caller's: 401 for nobody, 403 for a scope
 * too small. What is whose is the handlers' to decide. */
static int authorize(const struct cass_api_request *req, const struct route *r,
                     struct cass_api_reply *reply, struct cass_error **err)
{
    if (r->need == CASS_SCOPE_NONE)
        return 0;
    if (req->who.scope == CASS_SCOPE_NONE) {
        reply->status = 401;
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "%s",
                              req->auth_error[0] ? req->auth_error : "not authenticated");
    }
    if (req->who.scope < r->need)
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "token %s of %s has scope %s; %s %s needs %s", req->who.token_id,
                              req->who.user, cass_scope_name(req->who.scope), req->method, r->path,
                              cass_scope_name(r->need));
    return 0;
}

int cass_routes_handle(struct cass_api_request *req, struct cass_api_reply *reply,
                       struct cass_error **err)
{
    int path_known = 0, has_arg = 0;
    char arg[128];
    if (cass_ui_is_static(req->path))
        return cass_ui_static(req, reply, err);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!route_match(&routes[i], req->path, arg, sizeof(arg), &has_arg))
            continue;
        path_known = 1;
        reply->route = routes[i].path;
        if (strcmp(routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            reply->allow[0] = '\0'; /* gathered from the routes before: not a 405 */
            if (req->csrf_error[0]) {
                reply->status = 403;
                reply->problem_type = CASS_PROBLEM_CSRF;
                return cass_error_set(err, CASS_ERR_FORBIDDEN, "%s", req->csrf_error);
            }
            if (authorize(req, &routes[i], reply, err) < 0)
                return -1;
            return routes[i].fn(req, has_arg ? arg : NULL, reply, err);
        }
        size_t used = strlen(reply->allow);
        snprintf(reply->allow + used, sizeof(reply->allow) - used, "%s%s%s", used ? ", " : "",
                 routes[i].method, strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
    }
    if (path_known) {
        reply->status = 405;
        reply->problem_type = CASS_PROBLEM_NO_METHOD;
        return cass_error_set(err, CASS_ERR_INVALID, "method %s is not allowed on %s", req->method,
                              req->path);
    }
    reply->problem_type = CASS_PROBLEM_NO_ROUTE;
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such endpoint: %s %s", req->method,
                          req->path);
}
