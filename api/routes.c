#include "config.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "lifecycle.h"
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

static int h_healthz(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                     struct cass_error **err)
{
    struct cass_daemon *d = req->d;
    pthread_mutex_lock(&d->engine_lock);
    int up = d->engine != NULL;
    pthread_mutex_unlock(&d->engine_lock);
    /* Liveness of the daemon itself: a dead engine is reported, not fatal. */
    reply->body = json_pack("{s:s,s:s,s:s*}", "status", "ok", "engine",
                            up ? "connected" : "unknown", "backend", d->backend);
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
        snprintf(gw, sizeof(gw), "http://%s:%d/models/",
                 cass_daemon_config_str(req->d, "gateway.address"), req->d->gateway_port);
        json_object_set_new(out, "gateway", json_string(gw));
    }
    reply->body = TAKE_PTR(out);
    return 0;
}

static int h_metrics(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
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
    /* Runs by kind and status, from the store. */
    _cleanup_error_ struct cass_error *cerr = NULL;
    _cleanup_json_ json_t *counts = cass_store_run_counts(d->store, &cerr);
    if (counts) {
        char *more = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&more, &len);
        if (f) {
            fputs(text, f);
            fputs("# HELP cassiny_runs Runs in the history, by kind and status.\n"
                  "# TYPE cassiny_runs gauge\n",
                  f);
            size_t i;
            json_t *c;
            json_array_foreach(counts, i, c)
            {
                fprintf(f, "cassiny_runs{kind=\"%s\",status=\"%s\"} %lld\n",
                        json_string_value(json_object_get(c, "kind")),
                        json_string_value(json_object_get(c, "status")),
                        (long long)json_integer_value(json_object_get(c, "count")));
            }
            fclose(f);
            free(text);
            text = more;
        }
    }
    reply->text = text;
    reply->content_type = "text/plain; version=0.0.4";
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
    reply->body = json_pack("{s:o,s:s?}", "runs", runs, "next", next);
    free(next);
    return 0;
}

static int h_runs_get(struct cass_api_request *req, const char *id, struct cass_api_reply *reply,
                      struct cass_error **err)
{
    reply->body = cass_store_run_get(req->d->store, id, err);
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

/* Logs: a thread copies the engine's demultiplexed stream into a pipe that
 * the connection's thread reads; closing either end ends both. */
struct log_stream {
    struct log_stream *next; /* in live_streams */
    int fds[2];
    atomic_int cancel;
    pthread_t thread;
    struct cass_engine *engine;
    char *container;
    struct cass_engine_logs_opts opts;
};

/* Set at shutdown: every open stream ends. */
static atomic_int streams_cancelled;

/* Open follows, so that shutdown can end them (a connection thread blocked
 * on a quiet follow would otherwise hold the server up). */
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_stream *live_streams;

void cass_routes_cancel_streams(void)
{
    atomic_store(&streams_cancelled, 1);
    pthread_mutex_lock(&streams_lock);
    for (struct log_stream *ls = live_streams; ls; ls = ls->next)
        atomic_store(&ls->cancel, 1);
    pthread_mutex_unlock(&streams_lock);
}

static int log_pipe_write(int stream, const char *data, size_t len, void *ud)
{
    struct log_stream *ls = ud;
    while (len > 0) {
        ssize_t n = write(ls->fds[1], data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 1; /* the client went away */
        data += n;
        len -= (size_t)n;
    }
    return atomic_load(&ls->cancel) ? 1 : 0;
}

static void *log_thread(void *arg)
{
    struct log_stream *ls = arg;
    struct cass_error *err = NULL;
    if (cass_engine_container_logs(ls->engine, ls->container, &ls->opts, log_pipe_write, ls, &err) <
            0 &&
        !atomic_load(&ls->cancel)) {
        char line[512];
        int n = snprintf(line, sizeof(line), "\n[cassiny: log stream ended: %s]\n",
                         err->message ? err->message : "?");
        if (n > 0 && write(ls->fds[1], line, (size_t)n) < 0)
            n = 0;
    }
    cass_error_free(err);
    close(ls->fds[1]);
    ls->fds[1] = -1;
    return NULL;
}

static long log_stream_read(void *ctx, char *buf, size_t max)
{
    struct log_stream *ls = ctx;
    for (;;) {
        ssize_t n = read(ls->fds[0], buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static void log_stream_free(void *ctx)
{
    struct log_stream *ls = ctx;
    pthread_mutex_lock(&streams_lock);
    for (struct log_stream **p = &live_streams; *p; p = &(*p)->next)
        if (*p == ls) {
            *p = ls->next;
            break;
        }
    pthread_mutex_unlock(&streams_lock);
    atomic_store(&ls->cancel, 1);
    close(ls->fds[0]);
    pthread_join(ls->thread, NULL);
    free(ls->container);
    free(ls);
}

static long file_stream_read(void *ctx, char *buf, size_t max)
{
    int fd = (int)(intptr_t)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static void file_stream_free(void *ctx)
{
    close((int)(intptr_t)ctx);
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
    const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    struct cass_engine *e = NULL;
    _cleanup_json_ json_t *ins = NULL;
    if (cid) {
        _cleanup_error_ struct cass_error *ierr = NULL;
        e = cass_daemon_engine(req->d, &ierr);
        ins = e ? cass_engine_container_inspect(e, cid, &ierr) : NULL;
    }
    reply->content_type = "text/plain; charset=utf-8";
    if (!ins) {
        /* The container is gone: serve what was kept. */
        _cleanup_free_ char *path = cass_lifecycle_log_path(req->d, id);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                  "run %s has no container and no kept logs", id);
        reply->stream_read = file_stream_read;
        reply->stream_free = file_stream_free;
        reply->stream_ctx = (void *)(intptr_t)fd;
        return 0;
    }
    struct log_stream *ls = calloc(1, sizeof(*ls));
    if (!ls || pipe2(ls->fds, O_CLOEXEC) < 0) {
        free(ls);
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot make a pipe for the logs");
    }
    ls->engine = e;
    ls->container = strdup(cid);
    ls->opts.follow = follow;
    ls->opts.tail = tail;
    ls->opts.cancel = &ls->cancel;
    if (pthread_create(&ls->thread, NULL, log_thread, ls) != 0) {
        close(ls->fds[0]);
        close(ls->fds[1]);
        free(ls->container);
        free(ls);
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the log thread");
    }
    pthread_mutex_lock(&streams_lock);
    ls->next = live_streams;
    live_streams = ls;
    pthread_mutex_unlock(&streams_lock);
    reply->stream_read = log_stream_read;
    reply->stream_free = log_stream_free;
    reply->stream_ctx = ls;
    return 0;
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

struct sse {
    struct cass_daemon *d;
    int64_t last_id;
    char *name;    /* only runs of this name, may be NULL */
    char *run;     /* only this run, may be NULL */
    char *pending; /* formatted text not yet sent */
    size_t len, off;
};

static void sse_format(struct sse *x, json_t *entries)
{
    size_t i;
    json_t *en;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    json_array_foreach(entries, i, en)
    {
        json_int_t id = json_integer_value(json_object_get(en, "id"));
        if (id > x->last_id)
            x->last_id = id;
        const char *action = json_string_value(json_object_get(en, "action"));
        json_t *detail = json_object_get(en, "detail");
        bool is_run = action && strcmp(action, "run") == 0;
        if ((x->name || x->run) && !is_run)
            continue;
        if (x->name &&
            strcmp(x->name, json_string_value(json_object_get(detail, "name")) ?: "") != 0)
            continue;
        if (x->run && strcmp(x->run, json_string_value(json_object_get(detail, "id")) ?: "") != 0)
            continue;
        json_t *data =
            is_run
                ? json_deep_copy(detail)
                : json_pack("{s:O,s:O,s:O,s:O}", "actor", json_object_get(en, "actor"), "action",
                            json_object_get(en, "action"), "target", json_object_get(en, "target"),
                            "status", json_object_get(en, "status"));
        if (!data)
            continue;
        json_object_set(data, "time", json_object_get(en, "time"));
        char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(data);
        if (text)
            fprintf(f, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id,
                    is_run ? "run" : "request", text);
        free(text);
    }
    fclose(f);
    free(x->pending);
    x->pending = buf;
    x->len = len;
    x->off = 0;
}

static long sse_read(void *ctx, char *buf, size_t max)
{
    struct sse *x = ctx;
    struct cass_daemon *d = x->d;
    for (int idle = 0;;) {
        if (x->off < x->len) {
            size_t n = x->len - x->off < max ? x->len - x->off : max;
            memcpy(buf, x->pending + x->off, n);
            x->off += n;
            return (long)n;
        }
        if (atomic_load(&streams_cancelled) || atomic_load(&d->stopping))
            return 0;
        pthread_mutex_lock(&d->events_lock);
        unsigned long seq = d->events_seq;
        pthread_mutex_unlock(&d->events_lock);
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *entries = cass_store_audit_since(d->store, x->last_id, 100, &err);
        if (!entries)
            return -1;
        if (json_array_size(entries) > 0) {
            sse_format(x, entries);
            idle = 0;
            continue;
        }
        if (++idle >= 15) {
            /* A comment now and then keeps proxies and clients from giving up. */
            static const char ka[] = ": keep-alive\n\n";
            if (max < sizeof(ka) - 1)
                return -1;
            memcpy(buf, ka, sizeof(ka) - 1);
            return (long)(sizeof(ka) - 1);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&d->events_lock);
        while (d->events_seq == seq) {
            if (pthread_cond_timedwait(&d->events_cond, &d->events_lock, &until) != 0)
                break;
        }
        pthread_mutex_unlock(&d->events_lock);
    }
}

static void sse_free(void *ctx)
{
    struct sse *x = ctx;
    free(x->name);
    free(x->run);
    free(x->pending);
    free(x);
}

static int h_events(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                    struct cass_error **err)
{
    struct sse *x = calloc(1, sizeof(*x));
    if (!x)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    x->d = req->d;
    const char *last =
        req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID") : NULL;
    if (!last)
        last = cass_routes_query(req, "since");
    if (last) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(last, &end, 10);
        if (errno || end == last || *end || v < 0) {
            free(x);
            return cass_error_set(err, CASS_ERR_SYNTAX,
                                  "Last-Event-ID (or since) must be an event id");
        }
        x->last_id = v;
    } else {
        _cleanup_error_ struct cass_error *lerr = NULL;
        x->last_id = cass_store_audit_last_id(req->d->store, &lerr);
        if (x->last_id < 0)
            x->last_id = 0;
    }
    const char *name = cass_routes_query(req, "name");
    const char *run = cass_routes_query(req, "run");
    x->name = name ? strdup(name) : NULL;
    x->run = run ? strdup(run) : NULL;
    reply->content_type = "text/event-stream";
    reply->stream_read = sse_read;
    reply->stream_free = sse_free;
    reply->stream_ctx = x;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/healthz", NULL, h_healthz},
    {"GET", "/metrics", NULL, h_metrics},
    {"GET", "/v1/version", NULL, h_version},
    {"GET", "/v1/openapi.yaml", NULL, h_openapi},
    {"POST", "/v1/specs", NULL, h_specs_post},
    {"GET", "/v1/specs", NULL, h_specs_list},
    {"GET", "/v1/specs/", "", h_specs_get},
    {"DELETE", "/v1/specs/", "", h_specs_delete},
    {"POST", "/v1/specs/", "/rollback", h_specs_rollback},
    {"GET", "/v1/runs", NULL, h_runs_list},
    {"GET", "/v1/runs/", "", h_runs_get},
    {"GET", "/v1/runs/", "/logs", h_runs_logs},
    {"POST", "/v1/runs/", "/stop", h_runs_stop},
    {"POST", "/v1/runs/", "/reproduce", h_runs_reproduce},
    {"GET", "/v1/events", NULL, h_events},
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
