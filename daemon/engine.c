#include "config.h"

#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "engine.h"
#include "http.h"

/* Idle HTTP handles kept for buffered calls; more are made when all are busy. */
#define POOL_MAX 8
/* Buffered calls give up after this long; streams and waits have no limit. */
#define DEFAULT_TIMEOUT_MS 120000L
#define PING_TIMEOUT_MS 1000L
#define NEGOTIATE_TIMEOUT_MS 10000L
/* Largest engine error message kept. */
#define MAX_MESSAGE 4096

struct cass_engine {
    char *host;
    atomic_int api_minor;
    pthread_mutex_t lock; /* guards idle/n_idle */
    struct cass_http *idle[POOL_MAX];
    size_t n_idle;
};

static const char *const api_versions[] = {"1.41", "1.42", "1.43"};

static void response_clearp(struct cass_http_response *r)
{
    cass_http_response_clear(r);
}
#define _cleanup_response_ _cleanup_(response_clearp)

/* ---- handle pool ------------------------------------------------------------ */

static struct cass_http *handle_get(struct cass_engine *e, struct cass_error **err)
{
    struct cass_http *h = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->n_idle > 0)
        h = e->idle[--e->n_idle];
    pthread_mutex_unlock(&e->lock);
    if (!h)
        h = cass_http_new(e->host, err);
    if (h)
        cass_http_set_timeout(h, DEFAULT_TIMEOUT_MS);
    return h;
}

static void handle_put(struct cass_engine *e, struct cass_http *h)
{
    if (!h)
        return;
    cass_http_set_cancel(h, NULL);
    cass_http_set_header(h, NULL, NULL);
    pthread_mutex_lock(&e->lock);
    if (e->n_idle < POOL_MAX) {
        e->idle[e->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    cass_http_free(h);
}

/* ---- small helpers --------------------------------------------------------- */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Container ids and names, volume names: what the engine itself allows
 * ([a-zA-Z0-9][a-zA-Z0-9_.-]*), so they are safe in a path. */
static int check_name(const char *s, const char *what, struct cass_error **err)
{
    if (!s || !*s)
        return cass_error_set(err, CASS_ERR_INVALID, "%s is empty", what);
    size_t n = strlen(s);
    if (n > 255 || !is_alnum(s[0]))
        return cass_error_set(err, CASS_ERR_INVALID, "invalid %s", what);
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return cass_error_set(err, CASS_ERR_INVALID, "invalid %s", what);
    return 0;
}

/* Image references: name[:tag][@digest] or an image ID. Only the characters
 * a reference can hold, and no dot segments, so it stays one path element
 * sequence the engine routes as the name. */
static int check_ref(const char *s, struct cass_error **err)
{
    if (!s || !*s)
        return cass_error_set(err, CASS_ERR_INVALID, "image reference is empty");
    size_t n = strlen(s);
    if (n > 512)
        return cass_error_set(err, CASS_ERR_INVALID, "image reference is too long");
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-' && c != '/' && c != ':' && c != '@')
            return cass_error_set(err, CASS_ERR_INVALID, "invalid image reference");
        if ((i == 0 || s[i - 1] == '/') && (c == '.' || c == '/'))
            return cass_error_set(err, CASS_ERR_INVALID, "invalid image reference");
    }
    if (s[n - 1] == '/')
        return cass_error_set(err, CASS_ERR_INVALID, "invalid image reference");
    return 0;
}

static json_t *strv_to_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && v[i]; i++) {
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *cass_engine_reply_parse(const char *body, size_t len, json_type type, const char *what,
                                struct cass_error **err)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        cass_error_set(err, CASS_ERR_ENGINE, "%s: malformed reply from the engine: %s", what,
                       jerr.text);
        return NULL;
    }
    if (json_typeof(j) != type) {
        json_decref(j);
        cass_error_set(err, CASS_ERR_ENGINE, "%s: reply from the engine is not a JSON %s", what,
                       type == JSON_OBJECT ? "object" : "array");
        return NULL;
    }
    return j;
}

/* Typed field access: a missing (or null) optional field leaves *ret alone;
 * a present field of another type is an error. field() returns 1 with *ret_v
 * set when the field is there and of the type want names, 0 when it is
 * absent, -1 otherwise. */
static int field(const json_t *o, const char *key, bool required, const char *want, json_t **ret_v,
                 const char *what, struct cass_error **err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: reply lacks %s", what, key);
        return 0;
    }
    bool ok = strcmp(want, "a string") == 0 ? json_is_string(v)
              : strcmp(want, "a boolean") == 0
                  ? json_is_boolean(v)
                  : json_is_integer(v) && json_integer_value(v) >= INT_MIN &&
                        json_integer_value(v) <= INT_MAX;
    if (!ok)
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: %s is not %s", what, key, want);
    *ret_v = v;
    return 1;
}

static int get_string(const json_t *o, const char *key, bool required, const char **ret,
                      const char *what, struct cass_error **err)
{
    json_t *v = NULL;
    int rc = field(o, key, required, "a string", &v, what, err);
    if (rc > 0)
        *ret = json_string_value(v);
    return rc < 0 ? -1 : 0;
}

static int get_bool(const json_t *o, const char *key, bool required, bool *ret, const char *what,
                    struct cass_error **err)
{
    json_t *v = NULL;
    int rc = field(o, key, required, "a boolean", &v, what, err);
    if (rc > 0)
        *ret = json_is_true(v);
    return rc < 0 ? -1 : 0;
}

static int get_int(const json_t *o, const char *key, bool required, int *ret, const char *what,
                   struct cass_error **err)
{
    json_t *v = NULL;
    int rc = field(o, key, required, "an integer", &v, what, err);
    if (rc > 0)
        *ret = (int)json_integer_value(v);
    return rc < 0 ? -1 : 0;
}

static int get_object(const json_t *o, const char *key, bool required, const json_t **ret,
                      const char *what, struct cass_error **err)
{
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: reply lacks %s", what, key);
        return 0;
    }
    if (!json_is_object(v))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: %s is not an object", what, key);
    *ret = v;
    return 0;
}

/* Hands *from over to *err (or drops it when the caller has no room). */
static int move_error(struct cass_error **err, struct cass_error **from)
{
    if (err && !*err)
        *err = TAKE_PTR(*from);
    cass_error_free(TAKE_PTR(*from));
    return -1;
}

/* ---- errors and URLs -------------------------------------------------------- */

int cass_engine_error_from_reply(long status, const char *body, size_t len, const char *what,
                                 struct cass_error **err)
{
    if (!err || *err)
        return -1;
    enum cass_error_kind kind = status == 404   ? CASS_ERR_NOT_FOUND
                                : status == 409 ? CASS_ERR_CONFLICT
                                                : CASS_ERR_ENGINE;
    _cleanup_json_ json_t *j = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *m = json_is_object(j) ? json_object_get(j, "message") : NULL;
    if (json_is_string(m) && json_string_length(m) > 0)
        cass_error_set(
            err, kind, "%s: %.*s", what,
            (int)(json_string_length(m) < MAX_MESSAGE ? json_string_length(m) : MAX_MESSAGE),
            json_string_value(m));
    else
        cass_error_set(err, kind, "%s: the engine answered HTTP %ld", what, status);
    (*err)->status = (int)status;
    return -1;
}

static int json_add_list(json_t *o, const char *key, const char *const *v)
{
    if (!v || !v[0])
        return 0;
    return json_object_set_new(o, key, strv_to_json(v));
}

char *cass_engine_filters_query(const char *const *labels, const char *const *types,
                                const char *const *events, struct cass_error **err)
{
    _cleanup_json_ json_t *f = json_object();
    if (!f || json_add_list(f, "label", labels) < 0 || json_add_list(f, "type", types) < 0 ||
        json_add_list(f, "event", events) < 0) {
        cass_error_set(err, CASS_ERR_INVALID, "filters: invalid UTF-8 or out of memory");
        return NULL;
    }
    if (json_object_size(f) == 0)
        return NULL;
    _cleanup_free_ char *s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
    char *q = s ? cass_http_escape(s) : NULL;
    if (!q)
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return q;
}

/* "/v1.41" + the formatted rest. Caller owns the result. */
static char *vpath(struct cass_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *vpath(struct cass_engine *e, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *rest = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&rest, fmt, ap);
    va_end(ap);
    char *p = NULL;
    if (r < 0 || asprintf(&p, "/v1.%d%s", atomic_load(&e->api_minor), rest) < 0)
        return NULL;
    return p;
}

/* The path of a list call: base ("/volumes?", "/containers/json?all=1&")
 * with filters on labels, if any. Caller owns the result. */
static char *list_path(struct cass_engine *e, const char *base, const char *const *labels,
                       struct cass_error **err)
{
    _cleanup_error_ struct cass_error *ferr = NULL;
    _cleanup_free_ char *f = cass_engine_filters_query(labels, NULL, NULL, &ferr);
    if (ferr) {
        move_error(err, &ferr);
        return NULL;
    }
    /* A base without parameters loses its '?' (or '&'). */
    size_t n = strlen(base) - (f ? 0 : 1);
    char *p = vpath(e, "%.*s%s%s", (int)n, base, f ? "filters=" : "", f ? f : "");
    if (!p)
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return p;
}

/* ---- requests --------------------------------------------------------------- */

/* One buffered request on a pooled handle; any status is a success here. */
static int call(struct cass_engine *e, const char *method, const char *path, const json_t *body,
                long timeout_ms, const atomic_int *cancel, struct cass_http_response *ret,
                bool *ret_cancelled, struct cass_error **err)
{
    if (!path)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    _cleanup_free_ char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    struct cass_http *h = handle_get(e, err);
    if (!h)
        return -1;
    cass_http_set_timeout(h, timeout_ms);
    cass_http_set_cancel(h, cancel);
    int r = cass_http_request(h, method, path, text ? "application/json" : NULL, text,
                              text ? strlen(text) : 0, ret, err);
    if (ret_cancelled)
        *ret_cancelled = r == 0 && cass_http_cancelled(h);
    handle_put(e, h);
    return r;
}

static bool ok_status(long s)
{
    return s >= 200 && s <= 299;
}

/* A request whose 2xx reply is a JSON value of type. Caller owns the result. */
static json_t *call_json(struct cass_engine *e, const char *method, const char *path,
                         const json_t *body, json_type type, const char *what,
                         struct cass_error **err)
{
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, method, path, body, DEFAULT_TIMEOUT_MS, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "%s", what);
        return NULL;
    }
    if (!ok_status(r.status)) {
        cass_engine_error_from_reply(r.status, r.body, r.len, what, err);
        return NULL;
    }
    return cass_engine_reply_parse(r.body, r.len, type, what, err);
}

/* A required string field of a reply that names something (an id, a
 * volume) and must be safe to put in a path. Caller owns the copy. */
static char *name_field(const json_t *j, const char *key, const char *what, const char *name_what,
                        struct cass_error **err)
{
    const char *v = NULL;
    if (get_string(j, key, true, &v, what, err) < 0 || check_name(v, name_what, err) < 0)
        return NULL;
    char *ret = strdup(v);
    if (!ret)
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return ret;
}

/* A request whose reply body does not matter; 304 (nothing to do) is fine. */
static int call_plain(struct cass_engine *e, const char *method, const char *path, long timeout_ms,
                      const char *what, struct cass_error **err)
{
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, method, path, NULL, timeout_ms, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "%s", what);
        return -1;
    }
    if (!ok_status(r.status) && r.status != 304)
        return cass_engine_error_from_reply(r.status, r.body, r.len, what, err);
    return 0;
}

struct stream_result {
    long status;
    char *error_body; /* non-2xx replies */
    bool cancelled;
};

/* The registry credentials a pull or push sends (X-Registry-Auth, base64
 * JSON): none, "{}", since the registries are reached without them; the
 * push route requires the header. */
#define REGISTRY_AUTH_NONE "e30="

/* A streamed request; auth, when not NULL, goes as X-Registry-Auth. */
static int call_stream(struct cass_engine *e, const char *method, const char *path,
                       const char *auth, const atomic_int *cancel, cass_http_chunk_fn fn,
                       void *userdata, struct stream_result *ret, struct cass_error **err)
{
    if (!path)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    struct cass_http *h = handle_get(e, err);
    if (!h)
        return -1;
    if (auth && cass_http_set_header(h, "X-Registry-Auth", auth) < 0) {
        handle_put(e, h);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    cass_http_set_timeout(h, 0);
    cass_http_set_cancel(h, cancel);
    int r = cass_http_stream(h, method, path, NULL, NULL, 0, fn, userdata, &ret->status,
                             &ret->error_body, err);
    ret->cancelled = r == 0 && cass_http_cancelled(h);
    handle_put(e, h);
    return r;
}

/* ---- connection --------------------------------------------------------------- */

int cass_engine_parse_api_version(const char *s)
{
    if (!s || strncmp(s, "1.", 2) != 0)
        return -1;
    const char *p = s + 2;
    if (*p < '0' || *p > '9')
        return -1;
    int minor = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        minor = minor * 10 + (*p - '0');
        if (minor > 9999)
            return -1;
    }
    return *p ? -1 : minor;
}

int cass_engine_choose_api_version(const char *server_version, const char *min_version,
                                   struct cass_error **err)
{
    int server = cass_engine_parse_api_version(server_version);
    if (server < 0)
        return cass_error_set(err, CASS_ERR_ENGINE, "engine API version is malformed");
    int chosen = server < CASS_ENGINE_API_MAX_MINOR ? server : CASS_ENGINE_API_MAX_MINOR;
    if (chosen < CASS_ENGINE_API_MIN_MINOR)
        return cass_error_set(err, CASS_ERR_ENGINE,
                              "engine speaks API 1.%d, older than 1.%d which this client needs",
                              server, CASS_ENGINE_API_MIN_MINOR);
    if (min_version) {
        int min = cass_engine_parse_api_version(min_version);
        if (min < 0)
            return cass_error_set(err, CASS_ERR_ENGINE, "engine minimum API version is malformed");
        if (min > chosen)
            return cass_error_set(err, CASS_ERR_ENGINE,
                                  "engine needs API 1.%d or newer, this client speaks up to 1.%d",
                                  min, CASS_ENGINE_API_MAX_MINOR);
    }
    return chosen;
}

/* On a connection of its own, never a pooled one: an engine that is going
 * away stops taking new connections while it still answers on old ones, and
 * a ping must see what a new client sees. */
static int ping(struct cass_engine *e, long timeout_ms, char **ret_header, struct cass_error **err)
{
    _cleanup_response_ struct cass_http_response r = {0};
    struct cass_http *h = cass_http_new(e->host, err);
    if (!h)
        return -1;
    cass_http_set_timeout(h, timeout_ms);
    int rc = cass_http_request(h, "GET", "/_ping", NULL, NULL, 0, &r, err);
    if (rc == 0 && ret_header)
        *ret_header = cass_http_last_header(h, "API-Version");
    cass_http_free(h);
    if (rc < 0) {
        cass_error_prefix(err, "docker engine at %s", e->host);
        return -1;
    }
    if (r.status != 200)
        return cass_engine_error_from_reply(r.status, r.body, r.len, "ping", err);
    return 0;
}

int cass_engine_ping(struct cass_engine *e, struct cass_error **err)
{
    /* Short: the daemon's view of the engine must be true within 2 s, and
     * an engine that takes longer than this to answer /_ping is not one
     * to launch on. */
    return ping(e, PING_TIMEOUT_MS, NULL, err);
}

int cass_engine_negotiate(struct cass_engine *e, struct cass_error **err)
{
    _cleanup_free_ char *header = NULL;
    if (ping(e, NEGOTIATE_TIMEOUT_MS, &header, err) < 0)
        return -1;
    /* /version is unversioned here: it is how we learn what to speak. */
    _cleanup_json_ json_t *v = call_json(e, "GET", "/version", NULL, JSON_OBJECT, "version", err);
    if (!v)
        return -1;
    int minor = cass_engine_version_choose(v, header, err);
    if (minor < 0)
        return -1;
    atomic_store(&e->api_minor, minor);
    return 0;
}

int cass_engine_version_choose(const json_t *version, const char *header, struct cass_error **err)
{
    const char *api = NULL, *min = NULL;
    if (get_string(version, "ApiVersion", false, &api, "version", err) < 0 ||
        get_string(version, "MinAPIVersion", false, &min, "version", err) < 0)
        return -1;
    if (!api)
        api = header;
    if (!api)
        return cass_error_set(err, CASS_ERR_ENGINE, "the engine does not say its API version");
    return cass_engine_choose_api_version(api, min, err);
}

struct cass_engine *cass_engine_new(const char *host, struct cass_error **err)
{
    if (!host)
        host = "unix:///var/run/docker.sock";
    /* Fail on a bad host before anything else. */
    struct cass_http *probe = cass_http_new(host, err);
    if (!probe)
        return NULL;
    struct cass_engine *e = calloc(1, sizeof(*e));
    if (!e || !(e->host = strdup(host))) {
        free(e);
        cass_http_free(probe);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    atomic_init(&e->api_minor, CASS_ENGINE_API_MIN_MINOR);
    e->idle[e->n_idle++] = probe;
    if (cass_engine_negotiate(e, err) < 0) {
        cass_engine_free(e);
        return NULL;
    }
    return e;
}

void cass_engine_free(struct cass_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_idle; i++)
        cass_http_free(e->idle[i]);
    pthread_mutex_destroy(&e->lock);
    free(e->host);
    free(e);
}

const char *cass_engine_api_version(const struct cass_engine *e)
{
    int minor = atomic_load(&e->api_minor);
    return api_versions[minor - CASS_ENGINE_API_MIN_MINOR];
}

const char *cass_engine_host(const struct cass_engine *e)
{
    return e->host;
}

json_t *cass_engine_version(struct cass_engine *e, struct cass_error **err)
{
    _cleanup_free_ char *p = vpath(e, "/version");
    return call_json(e, "GET", p, NULL, JSON_OBJECT, "version", err);
}

json_t *cass_engine_info(struct cass_engine *e, struct cass_error **err)
{
    _cleanup_free_ char *p = vpath(e, "/info");
    return call_json(e, "GET", p, NULL, JSON_OBJECT, "info", err);
}

int cass_engine_info_swarm(const json_t *info, bool *ret_active, bool *ret_manager,
                           struct cass_error **err)
{
    if (!json_is_object(info))
        return cass_error_set(err, CASS_ERR_ENGINE, "info: not an object");
    const json_t *swarm = NULL;
    if (get_object(info, "Swarm", false, &swarm, "info", err) < 0)
        return -1;
    const char *state = NULL;
    bool control = false;
    if (swarm && (get_string(swarm, "LocalNodeState", false, &state, "info", err) < 0 ||
                  get_bool(swarm, "ControlAvailable", false, &control, "info", err) < 0))
        return -1;
    bool active = state && strcmp(state, "active") == 0;
    *ret_active = active;
    *ret_manager = active && control;
    return 0;
}

/* ---- images ------------------------------------------------------------------- */

void cass_engine_image_clear(struct cass_engine_image *img)
{
    if (!img)
        return;
    free(img->id);
    for (size_t i = 0; i < img->n_repo_digests; i++)
        free(img->repo_digests[i]);
    free(img->repo_digests);
    free(img->user);
    free(img->working_dir);
    json_decref(img->cmd);
    memset(img, 0, sizeof(*img));
}

int cass_engine_image_parse(const char *body, size_t len, struct cass_engine_image *ret,
                            struct cass_error **err)
{
    const char *what = "inspect image";
    _cleanup_json_ json_t *j = cass_engine_reply_parse(body, len, JSON_OBJECT, what, err);
    if (!j)
        return -1;
    const char *id = NULL;
    if (get_string(j, "Id", true, &id, what, err) < 0)
        return -1;
    if (!*id)
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: Id is empty", what);
    json_t *rd = json_object_get(j, "RepoDigests");
    if (rd && !json_is_null(rd) && !json_is_array(rd))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: RepoDigests is not an array", what);
    size_t n = json_is_array(rd) ? json_array_size(rd) : 0;
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(rd, i)))
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: RepoDigests holds a non-string", what);
    struct cass_engine_image img = {0};
    img.id = strdup(id);
    img.repo_digests = calloc(n ? n : 1, sizeof(char *));
    if (!img.id || !img.repo_digests) {
        cass_engine_image_clear(&img);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        img.repo_digests[i] = strdup(json_string_value(json_array_get(rd, i)));
        if (!img.repo_digests[i]) {
            cass_engine_image_clear(&img);
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        }
        img.n_repo_digests = i + 1;
    }
    /* The user and working directory the image asks for; both optional. */
    json_t *config = json_object_get(j, "Config");
    if (config && !json_is_null(config) && !json_is_object(config)) {
        cass_engine_image_clear(&img);
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: Config is not an object", what);
    }
    const char *fields[] = {"User", "WorkingDir"};
    char **slots[] = {&img.user, &img.working_dir};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(config, fields[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            cass_engine_image_clear(&img);
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: Config.%s is not a string", what,
                                  fields[i]);
        }
        if (json_is_string(v) && *json_string_value(v) &&
            !(*slots[i] = strdup(json_string_value(v)))) {
            cass_engine_image_clear(&img);
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        }
    }
    /* The command it runs by default (a kind may add to it). */
    json_t *cmd = json_object_get(config, "Cmd");
    if (json_is_array(cmd)) {
        size_t k;
        json_t *a;
        json_array_foreach(cmd, k, a) if (!json_is_string(a))
        {
            cass_engine_image_clear(&img);
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: Config.Cmd holds a non-string", what);
        }
        img.cmd = json_incref(cmd);
    } else if (cmd && !json_is_null(cmd)) {
        cass_engine_image_clear(&img);
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: Config.Cmd is not an array", what);
    }
    *ret = img;
    return 0;
}

int cass_engine_image_inspect(struct cass_engine *e, const char *ref, struct cass_engine_image *ret,
                              struct cass_error **err)
{
    if (check_ref(ref, err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/images/%s/json", ref);
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, "GET", p, NULL, DEFAULT_TIMEOUT_MS, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "inspect image %s", ref);
        return -1;
    }
    if (!ok_status(r.status))
        return cass_engine_error_from_reply(r.status, r.body, r.len, "inspect image", err);
    return cass_engine_image_parse(r.body, r.len, ret, err);
}

struct pull_ctx {
    struct cass_engine_jsonl lines;
    cass_engine_json_fn progress;
    void *userdata;
    char *error;  /* the first error line's text */
    char *digest; /* a push's aux.Digest */
    struct cass_error *err;
    bool stopped;
};

static int pull_line(json_t *obj, void *userdata)
{
    struct pull_ctx *c = userdata;
    json_t *detail = json_object_get(obj, "errorDetail");
    json_t *error = json_object_get(obj, "error");
    if (detail || error) {
        json_t *m = json_is_object(detail) ? json_object_get(detail, "message") : NULL;
        if (!json_is_string(m))
            m = error;
        c->error = strdup(json_is_string(m) ? json_string_value(m) : "malformed error message");
        return 1;
    }
    const char *digest = json_string_value(json_object_get(json_object_get(obj, "aux"), "Digest"));
    if (digest && cass_engine_digest_valid(digest)) {
        free(c->digest);
        c->digest = strdup(digest);
    }
    if (c->progress && c->progress(obj, c->userdata) != 0) {
        c->stopped = true;
        return 1;
    }
    return 0;
}

static int pull_chunk(const char *data, size_t len, void *userdata)
{
    struct pull_ctx *c = userdata;
    return cass_engine_jsonl_feed(&c->lines, data, len, &c->err) != 0;
}

/* Splits ref into its name and its tag or digest ("latest" when it has
 * neither); both owned by the caller. */
static int split_ref(const char *ref, char **ret_name, char **ret_tag, struct cass_error **err)
{
    if (check_ref(ref, err) < 0)
        return -1;
    _cleanup_free_ char *name = strdup(ref);
    if (!name)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    const char *tag = "latest";
    char *at = strchr(name, '@');
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');
    if (at) {
        *at = '\0';
        tag = at + 1;
    } else if (colon) {
        *colon = '\0';
        tag = colon + 1;
    }
    if (!*name || !*tag)
        return cass_error_set(err, CASS_ERR_INVALID, "invalid image reference");
    char *t = strdup(tag);
    if (!t)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    *ret_name = TAKE_PTR(name);
    *ret_tag = t;
    return 0;
}

/* A pull or a push: a stream of JSON progress lines in a 200, where an
 * error line is the failure. what is "pull" or "push". */
static int progress_stream(struct cass_engine *e, const char *p, const char *ref, const char *what,
                           cass_engine_json_fn progress, void *userdata, const atomic_int *cancel,
                           char **ret_digest, struct cass_error **err)
{
    struct pull_ctx c = {.progress = progress, .userdata = userdata};
    cass_engine_jsonl_init(&c.lines, pull_line, &c);
    struct stream_result sr = {0};
    int r = call_stream(e, "POST", p, REGISTRY_AUTH_NONE, cancel, pull_chunk, &c, &sr, err);
    if (r == 0 && !sr.cancelled && ok_status(sr.status) && !c.err && !c.error && !c.stopped)
        r = cass_engine_jsonl_finish(&c.lines, &c.err);
    cass_engine_jsonl_clear(&c.lines);
    _cleanup_free_ char *error_body = sr.error_body;
    _cleanup_free_ char *error_line = c.error;
    _cleanup_free_ char *digest = c.digest;
    _cleanup_error_ struct cass_error *line_err = c.err;
    if (r < 0 && !line_err) {
        cass_error_prefix(err, "%s %s", what, ref);
        return -1;
    }
    if (sr.cancelled || c.stopped)
        return 0;
    if (!ok_status(sr.status)) {
        char w[32];
        snprintf(w, sizeof(w), "%s image", what);
        return cass_engine_error_from_reply(sr.status, error_body,
                                            error_body ? strlen(error_body) : 0, w, err);
    }
    if (line_err) {
        cass_error_prefix(&line_err, "%s %s", what, ref);
        return move_error(err, &line_err);
    }
    if (error_line) {
        cass_error_set(err, CASS_ERR_ENGINE, "%s %s: %.*s", what, ref, MAX_MESSAGE, error_line);
        if (err && *err)
            (*err)->status = (int)sr.status;
        return -1;
    }
    if (ret_digest)
        *ret_digest = TAKE_PTR(digest);
    return 0;
}

int cass_engine_image_pull(struct cass_engine *e, const char *ref, cass_engine_json_fn progress,
                           void *userdata, const atomic_int *cancel, struct cass_error **err)
{
    /* fromImage without a tag pulls every tag: always name one. */
    _cleanup_free_ char *name = NULL, *tag = NULL;
    if (split_ref(ref, &name, &tag, err) < 0)
        return -1;
    _cleanup_free_ char *qn = cass_http_escape(name);
    _cleanup_free_ char *qt = cass_http_escape(tag);
    if (!qn || !qt)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    _cleanup_free_ char *p = vpath(e, "/images/create?fromImage=%s&tag=%s", qn, qt);
    return progress_stream(e, p, ref, "pull", progress, userdata, cancel, NULL, err);
}

int cass_engine_image_push(struct cass_engine *e, const char *ref, cass_engine_json_fn progress,
                           void *userdata, const atomic_int *cancel, char **ret_digest,
                           struct cass_error **err)
{
    _cleanup_free_ char *name = NULL, *tag = NULL;
    if (split_ref(ref, &name, &tag, err) < 0)
        return -1;
    if (strchr(ref, '@'))
        return cass_error_set(err, CASS_ERR_INVALID, "push %s: push a tag, not a digest", ref);
    _cleanup_free_ char *qt = cass_http_escape(tag);
    if (!qt)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    _cleanup_free_ char *p = vpath(e, "/images/%s/push?tag=%s", name, qt);
    _cleanup_free_ char *digest = NULL;
    if (progress_stream(e, p, ref, "push", progress, userdata, cancel, &digest, err) < 0)
        return -1;
    if (ret_digest)
        *ret_digest = TAKE_PTR(digest);
    return 0;
}

int cass_engine_image_tag(struct cass_engine *e, const char *ref, const char *target,
                          struct cass_error **err)
{
    _cleanup_free_ char *name = NULL, *tag = NULL;
    if (check_ref(ref, err) < 0 || split_ref(target, &name, &tag, err) < 0)
        return -1;
    if (strchr(target, '@'))
        return cass_error_set(err, CASS_ERR_INVALID, "tag %s: the new name needs a tag", target);
    _cleanup_free_ char *qn = cass_http_escape(name);
    _cleanup_free_ char *qt = cass_http_escape(tag);
    if (!qn || !qt)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    _cleanup_free_ char *p = vpath(e, "/images/%s/tag?repo=%s&tag=%s", ref, qn, qt);
    return call_plain(e, "POST", p, DEFAULT_TIMEOUT_MS, "tag image", err);
}

int cass_engine_image_untag(struct cass_engine *e, const char *ref, struct cass_error **err)
{
    if (check_ref(ref, err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/images/%s?noprune=1", ref);
    return call_plain(e, "DELETE", p, DEFAULT_TIMEOUT_MS, "untag image", err);
}

bool cass_engine_digest_valid(const char *s)
{
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

char *cass_engine_distribution_parse(const char *body, size_t len, struct cass_error **err)
{
    const char *what = "distribution inspect";
    _cleanup_json_ json_t *j = cass_engine_reply_parse(body, len, JSON_OBJECT, what, err);
    if (!j)
        return NULL;
    const json_t *desc = NULL;
    const char *digest = NULL;
    if (get_object(j, "Descriptor", true, &desc, what, err) < 0 ||
        get_string(desc, "digest", true, &digest, what, err) < 0)
        return NULL;
    if (!cass_engine_digest_valid(digest)) {
        cass_error_set(err, CASS_ERR_ENGINE, "%s: Descriptor.digest is not a sha256 digest", what);
        return NULL;
    }
    char *d = strdup(digest);
    if (!d)
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return d;
}

char *cass_engine_distribution_digest(struct cass_engine *e, const char *ref,
                                      struct cass_error **err)
{
    if (check_ref(ref, err) < 0)
        return NULL;
    _cleanup_free_ char *p = vpath(e, "/distribution/%s/json", ref);
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, "GET", p, NULL, DEFAULT_TIMEOUT_MS, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "ask the registry for %s", ref);
        return NULL;
    }
    if (!ok_status(r.status)) {
        cass_engine_error_from_reply(r.status, r.body, r.len, "ask the registry for the digest",
                                     err);
        return NULL;
    }
    return cass_engine_distribution_parse(r.body, r.len, err);
}

/* ---- containers ------------------------------------------------------------------ */

static bool valid_restart(const char *p)
{
    return !p || strcmp(p, "no") == 0 || strcmp(p, "on-failure") == 0 || strcmp(p, "always") == 0 ||
           strcmp(p, "unless-stopped") == 0;
}

json_t *cass_engine_container_body(const struct cass_container_spec *s, struct cass_error **err)
{
    if (!s->image || !*s->image) {
        cass_error_set(err, CASS_ERR_INVALID, "container spec: image is required");
        return NULL;
    }
    if (s->nano_cpus < 0 || s->memory < 0 || s->gpus < -1 || s->restart_max_retries < 0) {
        cass_error_set(err, CASS_ERR_INVALID, "container spec: negative limit");
        return NULL;
    }
    if (!valid_restart(s->restart_policy)) {
        cass_error_set(err, CASS_ERR_INVALID, "container spec: unknown restart policy");
        return NULL;
    }
    _cleanup_json_ json_t *root = json_object();
    _cleanup_json_ json_t *hc = json_object();
    if (!root || !hc)
        goto nomem;
    int bad = 0;
    bad |= json_object_set_new(root, "Image", json_string(s->image));
    if (s->cmd)
        bad |= json_object_set_new(root, "Cmd", strv_to_json(s->cmd));
    if (s->entrypoint)
        bad |= json_object_set_new(root, "Entrypoint", strv_to_json(s->entrypoint));
    if (s->env)
        bad |= json_object_set_new(root, "Env", strv_to_json(s->env));
    if (s->user)
        bad |= json_object_set_new(root, "User", json_string(s->user));
    if (s->working_dir)
        bad |= json_object_set_new(root, "WorkingDir", json_string(s->working_dir));
    bad |= json_object_set_new(root, "Tty", json_boolean(s->tty));
    bad |= json_object_set_new(root, "OpenStdin", json_false());
    bad |= json_object_set_new(root, "AttachStdin", json_false());
    bad |= json_object_set_new(root, "AttachStdout", json_true());
    bad |= json_object_set_new(root, "AttachStderr", json_true());

    json_t *labels = json_object();
    bad |= json_object_set_new(root, "Labels", labels);
    for (size_t i = 0; labels && i < s->n_labels; i++) {
        const struct cass_container_label *l = &s->labels[i];
        if (!l->key || !*l->key || json_object_get(labels, l->key)) {
            cass_error_set(err, CASS_ERR_INVALID, "container spec: empty or repeated label key");
            return NULL;
        }
        bad |= json_object_set_new(labels, l->key, json_string(l->value ? l->value : ""));
    }

    if (s->n_mounts) {
        json_t *mounts = json_array();
        bad |= json_object_set_new(hc, "Mounts", mounts);
        for (size_t i = 0; mounts && i < s->n_mounts; i++) {
            const struct cass_container_mount *m = &s->mounts[i];
            bool bind = m->type == CASS_MOUNT_BIND;
            if ((m->type != CASS_MOUNT_BIND && m->type != CASS_MOUNT_VOLUME) || !m->source ||
                !m->target || m->target[0] != '/' || (bind && m->source[0] != '/') ||
                (!bind && check_name(m->source, "volume name", err) < 0)) {
                cass_error_set(err, CASS_ERR_INVALID, "container spec: invalid mount %zu", i);
                return NULL;
            }
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:b}", "Type", bind ? "bind" : "volume", "Source",
                          m->source, "Target", m->target, "ReadOnly", (int)m->read_only);
            bad |= json_array_append_new(mounts, o);
        }
    }

    if (s->n_ports) {
        json_t *exposed = json_object();
        json_t *bindings = json_object();
        bad |= json_object_set_new(root, "ExposedPorts", exposed);
        bad |= json_object_set_new(hc, "PortBindings", bindings);
        for (size_t i = 0; exposed && bindings && i < s->n_ports; i++) {
            const struct cass_container_port *p = &s->ports[i];
            const char *proto = p->proto ? p->proto : "tcp";
            if (p->container_port < 1 || p->container_port > 65535 || p->host_port < 0 ||
                p->host_port > 65535 ||
                (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
                 strcmp(proto, "sctp") != 0)) {
                cass_error_set(err, CASS_ERR_INVALID, "container spec: invalid port %zu", i);
                return NULL;
            }
            char key[32], host_port[8] = "";
            snprintf(key, sizeof(key), "%d/%s", p->container_port, proto);
            if (p->host_port)
                snprintf(host_port, sizeof(host_port), "%d", p->host_port);
            bad |= json_object_set_new(exposed, key, json_object());
            json_t *list = json_object_get(bindings, key);
            if (!list) {
                list = json_array();
                bad |= json_object_set_new(bindings, key, list);
            }
            bad |= json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp",
                                                         p->host_ip ? p->host_ip : "", "HostPort",
                                                         host_port));
        }
    }

    if (s->nano_cpus)
        bad |= json_object_set_new(hc, "NanoCpus", json_integer(s->nano_cpus));
    if (s->pids_limit > 0)
        bad |= json_object_set_new(hc, "PidsLimit", json_integer(s->pids_limit));
    if (s->memory)
        bad |= json_object_set_new(hc, "Memory", json_integer(s->memory));
    if (s->gpus)
        bad |= json_object_set_new(hc, "DeviceRequests",
                                   json_pack("[{s:s, s:I, s:[[s]]}]", "Driver", "", "Count",
                                             (json_int_t)s->gpus, "Capabilities", "gpu"));
    if (s->cap_drop)
        bad |= json_object_set_new(hc, "CapDrop", strv_to_json(s->cap_drop));
    if (s->cap_add)
        bad |= json_object_set_new(hc, "CapAdd", strv_to_json(s->cap_add));
    if (s->security_opt)
        bad |= json_object_set_new(hc, "SecurityOpt", strv_to_json(s->security_opt));
    bad |= json_object_set_new(hc, "ReadonlyRootfs", json_boolean(s->readonly_rootfs));
    if (s->n_tmpfs) {
        json_t *tmpfs = json_object();
        bad |= json_object_set_new(hc, "Tmpfs", tmpfs);
        for (size_t i = 0; tmpfs && i < s->n_tmpfs; i++) {
            const struct cass_container_tmpfs *t = &s->tmpfs[i];
            if (!t->target || t->target[0] != '/' || json_object_get(tmpfs, t->target)) {
                cass_error_set(err, CASS_ERR_INVALID, "container spec: invalid tmpfs %zu", i);
                return NULL;
            }
            bad |= json_object_set_new(tmpfs, t->target, json_string(t->options ? t->options : ""));
        }
    }
    bad |= json_object_set_new(hc, "Init", json_boolean(s->init));
    const char *policy = s->restart_policy ? s->restart_policy : "no";
    bad |= json_object_set_new(
        hc, "RestartPolicy",
        json_pack("{s:s, s:i}", "Name", policy, "MaximumRetryCount",
                  strcmp(policy, "on-failure") == 0 ? s->restart_max_retries : 0));
    if (s->network_mode)
        bad |= json_object_set_new(hc, "NetworkMode", json_string(s->network_mode));
    bad |= json_object_set(root, "HostConfig", hc);
    if (bad)
        goto nomem;
    return TAKE_PTR(root);
nomem:
    cass_error_set(err, CASS_ERR_INVALID, "container spec: invalid UTF-8 or out of memory");
    return NULL;
}

char *cass_engine_container_create(struct cass_engine *e, const struct cass_container_spec *spec,
                                   struct cass_error **err)
{
    if (spec->name && check_name(spec->name, "container name", err) < 0)
        return NULL;
    _cleanup_json_ json_t *body = cass_engine_container_body(spec, err);
    if (!body)
        return NULL;
    _cleanup_free_ char *p = spec->name ? vpath(e, "/containers/create?name=%s", spec->name)
                                        : vpath(e, "/containers/create");
    _cleanup_json_ json_t *j = call_json(e, "POST", p, body, JSON_OBJECT, "create container", err);
    return j ? name_field(j, "Id", "create container", "container id from the engine", err) : NULL;
}

int cass_engine_container_start(struct cass_engine *e, const char *id, struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/containers/%s/start", id);
    return call_plain(e, "POST", p, DEFAULT_TIMEOUT_MS, "start container", err);
}

int cass_engine_container_stop(struct cass_engine *e, const char *id, int timeout_s,
                               struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return -1;
    _cleanup_free_ char *p = timeout_s >= 0 ? vpath(e, "/containers/%s/stop?t=%d", id, timeout_s)
                                            : vpath(e, "/containers/%s/stop", id);
    long limit = (timeout_s >= 0 && timeout_s < 86400 ? timeout_s + 60L : 300L) * 1000L;
    return call_plain(e, "POST", p, limit, "stop container", err);
}

int cass_engine_container_kill(struct cass_engine *e, const char *id, const char *signal,
                               struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return -1;
    if (!signal)
        signal = "SIGKILL";
    for (const char *s = signal; *s; s++)
        if (!is_alnum(*s) && *s != '+' && *s != '-')
            return cass_error_set(err, CASS_ERR_INVALID, "invalid signal");
    if (!*signal || strlen(signal) > 32)
        return cass_error_set(err, CASS_ERR_INVALID, "invalid signal");
    _cleanup_free_ char *p = vpath(e, "/containers/%s/kill?signal=%s", id, signal);
    return call_plain(e, "POST", p, DEFAULT_TIMEOUT_MS, "kill container", err);
}

int cass_engine_container_remove(struct cass_engine *e, const char *id, bool force, bool volumes,
                                 struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return -1;
    _cleanup_free_ char *p =
        vpath(e, "/containers/%s?force=%d&v=%d", id, force ? 1 : 0, volumes ? 1 : 0);
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, "DELETE", p, NULL, DEFAULT_TIMEOUT_MS, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "remove container");
        return -1;
    }
    if (!ok_status(r.status))
        return cass_engine_error_from_reply(r.status, r.body, r.len, "remove container", err);
    return 0;
}

json_t *cass_engine_container_inspect(struct cass_engine *e, const char *id,
                                      struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return NULL;
    _cleanup_free_ char *p = vpath(e, "/containers/%s/json", id);
    return call_json(e, "GET", p, NULL, JSON_OBJECT, "inspect container", err);
}

json_t *cass_engine_container_list(struct cass_engine *e, const char *const *labels, bool all,
                                   struct cass_error **err)
{
    _cleanup_free_ char *p =
        list_path(e, all ? "/containers/json?all=1&" : "/containers/json?", labels, err);
    if (!p)
        return NULL;
    return call_json(e, "GET", p, NULL, JSON_ARRAY, "list containers", err);
}

void cass_container_state_clear(struct cass_container_state *s)
{
    if (!s)
        return;
    free(s->status);
    free(s->started_at);
    free(s->finished_at);
    free(s->error);
    memset(s, 0, sizeof(*s));
}

static int dup_opt(const char *s, char **ret)
{
    if (!s)
        return 0;
    *ret = strdup(s);
    return *ret ? 0 : -1;
}

int cass_engine_container_state(const json_t *inspect, struct cass_container_state *ret,
                                struct cass_error **err)
{
    const char *what = "container state";
    if (!json_is_object(inspect))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: not an object", what);
    const json_t *st = NULL, *cfg = NULL;
    if (get_object(inspect, "State", true, &st, what, err) < 0 ||
        get_object(inspect, "Config", false, &cfg, what, err) < 0)
        return -1;
    struct cass_container_state s = {0};
    const char *status = NULL, *started = NULL, *finished = NULL, *error = NULL;
    if (get_string(st, "Status", true, &status, what, err) < 0 ||
        get_bool(st, "Running", true, &s.running, what, err) < 0 ||
        get_bool(st, "OOMKilled", false, &s.oom_killed, what, err) < 0 ||
        get_int(st, "ExitCode", false, &s.exit_code, what, err) < 0 ||
        get_int(st, "Pid", false, &s.pid, what, err) < 0 ||
        get_string(st, "StartedAt", false, &started, what, err) < 0 ||
        get_string(st, "FinishedAt", false, &finished, what, err) < 0 ||
        get_string(st, "Error", false, &error, what, err) < 0 ||
        (cfg && get_bool(cfg, "Tty", false, &s.tty, what, err) < 0))
        return -1;
    if (error && !*error)
        error = NULL;
    if (dup_opt(status, &s.status) < 0 || dup_opt(started, &s.started_at) < 0 ||
        dup_opt(finished, &s.finished_at) < 0 || dup_opt(error, &s.error) < 0) {
        cass_container_state_clear(&s);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    *ret = s;
    return 0;
}

int cass_engine_container_ip(const json_t *inspect, char **ret_ip, struct cass_error **err)
{
    const char *what = "container networks";
    const json_t *ns = NULL, *nets = NULL;
    if (!json_is_object(inspect))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: not an object", what);
    if (get_object(inspect, "NetworkSettings", false, &ns, what, err) < 0 ||
        (ns && get_object(ns, "Networks", false, &nets, what, err) < 0))
        return -1;
    const char *key;
    json_t *n;
    json_object_foreach((json_t *)nets, key, n)
    {
        const char *ip = json_string_value(json_object_get(n, "IPAddress"));
        struct in_addr a;
        if (!ip || !*ip)
            continue;
        if (inet_pton(AF_INET, ip, &a) != 1)
            return cass_error_set(err, CASS_ERR_ENGINE, "%s: %s: not an IPv4 address", what, key);
        if (!(*ret_ip = strdup(ip)))
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return 0;
    }
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "the container has no network address");
}

int cass_engine_container_host_port(const json_t *inspect, int container_port, const char *proto,
                                    char **ret_host_ip, int *ret_host_port, struct cass_error **err)
{
    const char *what = "container ports";
    if (!json_is_object(inspect))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: not an object", what);
    char key[32];
    snprintf(key, sizeof(key), "%d/%s", container_port, proto ? proto : "tcp");
    const json_t *ns = NULL, *ports = NULL;
    if (get_object(inspect, "NetworkSettings", false, &ns, what, err) < 0 ||
        (ns && get_object(ns, "Ports", false, &ports, what, err) < 0))
        return -1;
    json_t *list = ports ? json_object_get(ports, key) : NULL;
    if (list && !json_is_null(list) && !json_is_array(list))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: %s is not an array", what, key);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "port %s is not published", key);
    json_t *b = json_array_get(list, 0);
    if (!json_is_object(b))
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: %s holds a non-object", what, key);
    const char *ip = NULL, *port = NULL;
    if (get_string(b, "HostIp", false, &ip, what, err) < 0 ||
        get_string(b, "HostPort", true, &port, what, err) < 0)
        return -1;
    char *end = NULL;
    errno = 0;
    long n = strtol(port, &end, 10);
    if (errno || end == port || *end || n < 1 || n > 65535 || port[0] < '0' || port[0] > '9')
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: HostPort is not a port", what);
    if (ret_host_ip) {
        *ret_host_ip = strdup(ip ? ip : "");
        if (!*ret_host_ip)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    *ret_host_port = (int)n;
    return 0;
}

int cass_engine_container_wait(struct cass_engine *e, const char *id,
                               enum cass_engine_wait_condition cond, const atomic_int *cancel,
                               int *ret_exit_code, struct cass_error **err)
{
    if (check_name(id, "container id", err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/containers/%s/wait?condition=%s", id,
                                   cond == CASS_WAIT_NEXT_EXIT ? "next-exit" : "not-running");
    _cleanup_response_ struct cass_http_response r = {0};
    bool cancelled = false;
    if (call(e, "POST", p, NULL, 0, cancel, &r, &cancelled, err) < 0) {
        cass_error_prefix(err, "wait for container");
        return -1;
    }
    if (cancelled)
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "cancelled");
    if (!ok_status(r.status))
        return cass_engine_error_from_reply(r.status, r.body, r.len, "wait for container", err);
    return cass_engine_wait_parse(r.body, r.len, ret_exit_code, err);
}

int cass_engine_wait_parse(const char *body, size_t len, int *ret_exit_code,
                           struct cass_error **err)
{
    const char *what = "wait for container";
    _cleanup_json_ json_t *j = cass_engine_reply_parse(body, len, JSON_OBJECT, what, err);
    int code = 0;
    if (!j || get_int(j, "StatusCode", true, &code, what, err) < 0)
        return -1;
    const json_t *werr = NULL;
    const char *msg = NULL;
    if (get_object(j, "Error", false, &werr, what, err) < 0)
        return -1;
    if (werr && get_string(werr, "Message", false, &msg, what, err) < 0)
        return -1;
    if (msg && *msg)
        return cass_error_set(err, CASS_ERR_ENGINE, "%s: %.*s", what, MAX_MESSAGE, msg);
    *ret_exit_code = code;
    return 0;
}

/* ---- logs ----------------------------------------------------------------------- */

void cass_engine_demux_init(struct cass_engine_demux *d, bool raw, cass_engine_log_fn fn,
                            void *userdata)
{
    memset(d, 0, sizeof(*d));
    d->raw = raw;
    d->fn = fn;
    d->userdata = userdata;
}

static int demux_fail(struct cass_engine_demux *d, struct cass_error **err, const char *msg)
{
    d->failed = true;
    return cass_error_set(err, CASS_ERR_ENGINE, "log stream: %s", msg);
}

int cass_engine_demux_feed(struct cass_engine_demux *d, const char *data, size_t len,
                           struct cass_error **err)
{
    if (d->failed)
        return cass_error_set(err, CASS_ERR_ENGINE, "log stream: already failed");
    if (d->raw)
        return len && d->fn(1, data, len, d->userdata) != 0 ? 1 : 0;
    while (len > 0) {
        if (d->remaining == 0) {
            size_t take = 8 - d->header_len;
            if (take > len)
                take = len;
            memcpy(d->header + d->header_len, data, take);
            d->header_len += take;
            data += take;
            len -= take;
            if (d->header_len < 8)
                break;
            d->header_len = 0;
            const unsigned char *h = d->header;
            uint32_t size =
                (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | (uint32_t)h[7];
            if (h[0] > 3 || h[1] || h[2] || h[3])
                return demux_fail(d, err, "invalid frame header");
            if (size > CASS_ENGINE_MAX_FRAME)
                return demux_fail(d, err, "frame too large");
            /* Stream 3 carries an error from the engine itself. */
            if (h[0] == 3)
                return demux_fail(d, err, "the engine reported an error");
            d->stream = h[0] == 0 ? 1 : h[0];
            d->remaining = size;
            continue;
        }
        size_t take = d->remaining < len ? d->remaining : len;
        d->remaining -= take;
        if (d->fn(d->stream, data, take, d->userdata) != 0)
            return 1;
        data += take;
        len -= take;
    }
    return 0;
}

int cass_engine_demux_finish(struct cass_engine_demux *d, struct cass_error **err)
{
    if (d->failed)
        return cass_error_set(err, CASS_ERR_ENGINE, "log stream: already failed");
    if (!d->raw && (d->header_len || d->remaining))
        return demux_fail(d, err, "stream ended inside a frame");
    return 0;
}

struct logs_ctx {
    struct cass_engine_demux demux;
    struct cass_error *err;
    bool stopped;
};

static int logs_chunk(const char *data, size_t len, void *userdata)
{
    struct logs_ctx *c = userdata;
    int r = cass_engine_demux_feed(&c->demux, data, len, &c->err);
    if (r == 1)
        c->stopped = true;
    return r != 0;
}

/* The logs of a container or a service ("containers", "services"),
 * demultiplexed unless tty. */
static int logs_stream(struct cass_engine *e, const char *what, const char *id, bool tty,
                       const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                       void *userdata, struct cass_error **err)
{
    static const struct cass_engine_logs_opts defaults = {.tail = -1};
    if (!opts)
        opts = &defaults;
    char tail[24] = "all";
    if (opts->tail >= 0)
        snprintf(tail, sizeof(tail), "%d", opts->tail);
    _cleanup_free_ char *p =
        vpath(e, "/%s/%s/logs?stdout=%d&stderr=%d&follow=%d&timestamps=%d&tail=%s&since=%" PRId64,
              what, id, !opts->no_stdout, !opts->no_stderr, opts->follow, opts->timestamps, tail,
              opts->since > 0 ? opts->since : 0);
    struct logs_ctx c = {0};
    cass_engine_demux_init(&c.demux, tty, fn, userdata);
    struct stream_result sr = {0};
    int r = call_stream(e, "GET", p, NULL, opts->cancel, logs_chunk, &c, &sr, err);
    _cleanup_free_ char *error_body = sr.error_body;
    _cleanup_error_ struct cass_error *demux_err = c.err;
    const char *label = strcmp(what, "services") == 0 ? "service logs" : "container logs";
    if (demux_err)
        return move_error(err, &demux_err);
    if (r < 0) {
        cass_error_prefix(err, "%s", label);
        return -1;
    }
    if (sr.cancelled || c.stopped)
        return 0;
    if (!ok_status(sr.status))
        return cass_engine_error_from_reply(sr.status, error_body,
                                            error_body ? strlen(error_body) : 0, label, err);
    return cass_engine_demux_finish(&c.demux, err);
}

int cass_engine_container_logs(struct cass_engine *e, const char *id,
                               const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                               void *userdata, struct cass_error **err)
{
    _cleanup_json_ json_t *inspect = cass_engine_container_inspect(e, id, err);
    if (!inspect)
        return -1;
    struct cass_container_state st = {0};
    if (cass_engine_container_state(inspect, &st, err) < 0)
        return -1;
    bool tty = st.tty;
    cass_container_state_clear(&st);
    return logs_stream(e, "containers", id, tty, opts, fn, userdata, err);
}

/* ---- JSON lines ------------------------------------------------------------------- */

void cass_engine_jsonl_init(struct cass_engine_jsonl *j, cass_engine_json_fn fn, void *userdata)
{
    memset(j, 0, sizeof(*j));
    j->fn = fn;
    j->userdata = userdata;
}

void cass_engine_jsonl_clear(struct cass_engine_jsonl *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}

static int jsonl_line(struct cass_engine_jsonl *j, const char *p, size_t n, struct cass_error **err)
{
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n)
        return 0;
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loadb(p + i, n - i, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        j->failed = true;
        return cass_error_set(err, CASS_ERR_ENGINE, "malformed line from the engine: %s",
                              jerr.text);
    }
    if (!json_is_object(o)) {
        j->failed = true;
        return cass_error_set(err, CASS_ERR_ENGINE, "line from the engine is not an object");
    }
    return j->fn(o, j->userdata) != 0 ? 1 : 0;
}

static int jsonl_append(struct cass_engine_jsonl *j, const char *data, size_t n,
                        struct cass_error **err)
{
    if (j->len + n > CASS_ENGINE_MAX_LINE) {
        j->failed = true;
        return cass_error_set(err, CASS_ERR_TOO_LARGE, "line from the engine is too long");
    }
    if (j->len + n > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (cap < j->len + n)
            cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->failed = true;
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, data, n);
    j->len += n;
    return 0;
}

int cass_engine_jsonl_feed(struct cass_engine_jsonl *j, const char *data, size_t len,
                           struct cass_error **err)
{
    if (j->failed)
        return cass_error_set(err, CASS_ERR_ENGINE, "line stream: already failed");
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        if (!nl)
            return jsonl_append(j, data, len, err);
        size_t n = (size_t)(nl - data);
        int r;
        if (j->len == 0) {
            if (n > CASS_ENGINE_MAX_LINE) {
                j->failed = true;
                return cass_error_set(err, CASS_ERR_TOO_LARGE, "line from the engine is too long");
            }
            r = jsonl_line(j, data, n, err);
        } else {
            if (jsonl_append(j, data, n, err) < 0)
                return -1;
            r = jsonl_line(j, j->buf, j->len, err);
            j->len = 0;
        }
        data += n + 1;
        len -= n + 1;
        if (r != 0)
            return r;
    }
    return 0;
}

int cass_engine_jsonl_finish(struct cass_engine_jsonl *j, struct cass_error **err)
{
    if (j->failed)
        return cass_error_set(err, CASS_ERR_ENGINE, "line stream: already failed");
    if (j->len == 0)
        return 0;
    int r = jsonl_line(j, j->buf, j->len, err);
    j->len = 0;
    return r < 0 ? -1 : 0;
}

/* ---- events ----------------------------------------------------------------------- */

struct events_ctx {
    struct cass_engine_jsonl lines;
    struct cass_error *err;
    bool stopped;
};

static int events_chunk(const char *data, size_t len, void *userdata)
{
    struct events_ctx *c = userdata;
    int r = cass_engine_jsonl_feed(&c->lines, data, len, &c->err);
    if (r == 1)
        c->stopped = true;
    return r != 0;
}

static int append_param(char **q, const char *name, const char *value, struct cass_error **err)
{
    if (!value)
        return 0;
    _cleanup_free_ char *v = cass_http_escape(value);
    char *n = NULL;
    if (!v || asprintf(&n, "%s%c%s=%s", *q ? *q : "", *q ? '&' : '?', name, v) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    free(*q);
    *q = n;
    return 0;
}

int cass_engine_events(struct cass_engine *e, const struct cass_engine_events_opts *opts,
                       cass_engine_json_fn fn, void *userdata, struct cass_error **err)
{
    static const struct cass_engine_events_opts none = {0};
    if (!opts)
        opts = &none;
    _cleanup_error_ struct cass_error *ferr = NULL;
    _cleanup_free_ char *f =
        cass_engine_filters_query(opts->labels, opts->types, opts->events, &ferr);
    if (ferr)
        return move_error(err, &ferr);
    _cleanup_free_ char *q = NULL;
    if (append_param(&q, "since", opts->since, err) < 0 ||
        append_param(&q, "until", opts->until, err) < 0)
        return -1;
    _cleanup_free_ char *p =
        vpath(e, "/events%s%s%s", q ? q : "", f ? (q ? "&filters=" : "?filters=") : "", f ? f : "");
    struct events_ctx c = {0};
    cass_engine_jsonl_init(&c.lines, fn, userdata);
    struct stream_result sr = {0};
    int r = call_stream(e, "GET", p, NULL, opts->cancel, events_chunk, &c, &sr, err);
    if (r == 0 && !sr.cancelled && !c.stopped && !c.err && ok_status(sr.status))
        cass_engine_jsonl_finish(&c.lines, &c.err);
    cass_engine_jsonl_clear(&c.lines);
    _cleanup_free_ char *error_body = sr.error_body;
    _cleanup_error_ struct cass_error *line_err = c.err;
    if (line_err) {
        cass_error_prefix(&line_err, "events");
        return move_error(err, &line_err);
    }
    if (r < 0) {
        cass_error_prefix(err, "events");
        return -1;
    }
    if (sr.cancelled || c.stopped)
        return 0;
    if (!ok_status(sr.status))
        return cass_engine_error_from_reply(sr.status, error_body,
                                            error_body ? strlen(error_body) : 0, "events", err);
    return 0;
}

/* ---- volumes ------------------------------------------------------------------------ */

char *cass_engine_volume_create(struct cass_engine *e, const char *name,
                                const struct cass_container_label *labels, size_t n_labels,
                                struct cass_error **err)
{
    if (name && check_name(name, "volume name", err) < 0)
        return NULL;
    _cleanup_json_ json_t *body = json_object();
    json_t *l = json_object();
    int bad = !body || json_object_set_new(body, "Labels", l);
    if (name)
        bad |= json_object_set_new(body, "Name", json_string(name));
    for (size_t i = 0; !bad && i < n_labels; i++) {
        if (!labels[i].key || !*labels[i].key || json_object_get(l, labels[i].key)) {
            cass_error_set(err, CASS_ERR_INVALID, "volume: empty or repeated label key");
            return NULL;
        }
        bad |= json_object_set_new(l, labels[i].key,
                                   json_string(labels[i].value ? labels[i].value : ""));
    }
    if (bad) {
        cass_error_set(err, CASS_ERR_INVALID, "volume: invalid UTF-8 or out of memory");
        return NULL;
    }
    _cleanup_free_ char *p = vpath(e, "/volumes/create");
    _cleanup_json_ json_t *j = call_json(e, "POST", p, body, JSON_OBJECT, "create volume", err);
    return j ? name_field(j, "Name", "create volume", "volume name from the engine", err) : NULL;
}

/* The id of the network called name that carries label (the smallest id
 * when two daemons made one each at once), or NULL; *ret_foreign is set
 * when a network of that name exists without the label or with traffic
 * between its containers on. */
static char *network_pick(struct cass_engine *e, const char *name, const char *label,
                          bool *ret_foreign, struct cass_error **err)
{
    _cleanup_free_ char *p = vpath(e, "/networks");
    _cleanup_json_ json_t *list = call_json(e, "GET", p, NULL, JSON_ARRAY, "list networks", err);
    if (!list)
        return NULL;
    const char *best = NULL;
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n)
    {
        const char *nm = json_string_value(json_object_get(n, "Name"));
        const char *id = json_string_value(json_object_get(n, "Id"));
        if (!nm || !id || strcmp(nm, name) != 0)
            continue;
        const char *icc = json_string_value(
            json_object_get(json_object_get(n, "Options"), "com.docker.network.bridge.enable_icc"));
        if (!json_object_get(json_object_get(n, "Labels"), label) || !icc ||
            strcmp(icc, "false") != 0) {
            *ret_foreign = true;
            continue;
        }
        if (!best || strcmp(id, best) < 0)
            best = id;
    }
    char *ret = best ? strdup(best) : NULL;
    if (best && (!ret || check_name(ret, "network id", err) < 0)) {
        free(ret);
        return NULL;
    }
    return ret;
}

char *cass_engine_network_ensure(struct cass_engine *e, const char *name, const char *label,
                                 struct cass_error **err)
{
    if (check_name(name, "network name", err) < 0)
        return NULL;
    bool foreign = false;
    _cleanup_error_ struct cass_error *lerr = NULL;
    char *id = network_pick(e, name, label, &foreign, &lerr);
    if (!id && !foreign && !lerr) {
        _cleanup_json_ json_t *body =
            json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "Name", name, "Driver", "bridge", "Options",
                      "com.docker.network.bridge.enable_icc", "false", "Labels", label, "");
        _cleanup_free_ char *cp = vpath(e, "/networks/create");
        _cleanup_json_ json_t *j =
            call_json(e, "POST", cp, body, JSON_OBJECT, "create network", err);
        if (!j)
            return NULL;
        /* Another daemon may have made one at the same moment: every daemon
         * picks the same one. */
        id = network_pick(e, name, label, &foreign, &lerr);
    }
    if (lerr) {
        cass_error_merge(err, &lerr);
        return NULL;
    }
    if (!id)
        cass_error_set(err, CASS_ERR_FORBIDDEN,
                       "network %s exists and is not Cassiny's own (no %s label, or traffic "
                       "between its containers is on)",
                       name, label);
    return id;
}

json_t *cass_engine_volume_inspect(struct cass_engine *e, const char *name, struct cass_error **err)
{
    if (check_name(name, "volume name", err) < 0)
        return NULL;
    _cleanup_free_ char *p = vpath(e, "/volumes/%s", name);
    return call_json(e, "GET", p, NULL, JSON_OBJECT, "inspect volume", err);
}

int cass_engine_volume_remove(struct cass_engine *e, const char *name, bool force,
                              struct cass_error **err)
{
    if (check_name(name, "volume name", err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/volumes/%s?force=%d", name, force ? 1 : 0);
    _cleanup_response_ struct cass_http_response r = {0};
    if (call(e, "DELETE", p, NULL, DEFAULT_TIMEOUT_MS, NULL, &r, NULL, err) < 0) {
        cass_error_prefix(err, "remove volume");
        return -1;
    }
    if (!ok_status(r.status))
        return cass_engine_error_from_reply(r.status, r.body, r.len, "remove volume", err);
    return 0;
}

json_t *cass_engine_volume_list(struct cass_engine *e, const char *const *labels,
                                struct cass_error **err)
{
    _cleanup_free_ char *p = list_path(e, "/volumes?", labels, err);
    if (!p)
        return NULL;
    _cleanup_json_ json_t *j = call_json(e, "GET", p, NULL, JSON_OBJECT, "list volumes", err);
    if (!j)
        return NULL;
    json_t *v = json_object_get(j, "Volumes");
    if (!v || json_is_null(v))
        return json_array();
    if (!json_is_array(v)) {
        cass_error_set(err, CASS_ERR_ENGINE, "list volumes: Volumes is not an array");
        return NULL;
    }
    return json_incref(v);
}

/* ---- swarm ------------------------------------------------------------------ */

char *cass_engine_service_create(struct cass_engine *e, const json_t *spec, struct cass_error **err)
{
    _cleanup_free_ char *p = vpath(e, "/services/create");
    _cleanup_json_ json_t *j = call_json(e, "POST", p, spec, JSON_OBJECT, "create service", err);
    return j ? name_field(j, "ID", "create service", "service id from the engine", err) : NULL;
}

json_t *cass_engine_service_inspect(struct cass_engine *e, const char *id, struct cass_error **err)
{
    if (check_name(id, "service id", err) < 0)
        return NULL;
    _cleanup_free_ char *p = vpath(e, "/services/%s", id);
    return call_json(e, "GET", p, NULL, JSON_OBJECT, "inspect service", err);
}

int cass_engine_service_update(struct cass_engine *e, const char *id, json_int_t version,
                               const json_t *spec, struct cass_error **err)
{
    if (check_name(id, "service id", err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/services/%s/update?version=%lld", id, (long long)version);
    _cleanup_json_ json_t *j = call_json(e, "POST", p, spec, JSON_OBJECT, "update service", err);
    return j ? 0 : -1;
}

int cass_engine_service_remove(struct cass_engine *e, const char *id, struct cass_error **err)
{
    if (check_name(id, "service id", err) < 0)
        return -1;
    _cleanup_free_ char *p = vpath(e, "/services/%s", id);
    return call_plain(e, "DELETE", p, DEFAULT_TIMEOUT_MS, "remove service", err);
}

json_t *cass_engine_service_list(struct cass_engine *e, const char *const *labels,
                                 struct cass_error **err)
{
    _cleanup_free_ char *p = list_path(e, "/services?", labels, err);
    if (!p)
        return NULL;
    return call_json(e, "GET", p, NULL, JSON_ARRAY, "list services", err);
}

json_t *cass_engine_task_list(struct cass_engine *e, const char *service_id,
                              struct cass_error **err)
{
    _cleanup_free_ char *q = NULL;
    if (service_id) {
        if (check_name(service_id, "service id", err) < 0)
            return NULL;
        _cleanup_json_ json_t *f = json_pack("{s:[s]}", "service", service_id);
        _cleanup_free_ char *s = f ? json_dumps(f, JSON_COMPACT) : NULL;
        if (!s || !(q = cass_http_escape(s))) {
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
            return NULL;
        }
    }
    _cleanup_free_ char *p = vpath(e, "/tasks%s%s", q ? "?filters=" : "", q ? q : "");
    return call_json(e, "GET", p, NULL, JSON_ARRAY, "list tasks", err);
}

json_t *cass_engine_node_list(struct cass_engine *e, struct cass_error **err)
{
    _cleanup_free_ char *p = vpath(e, "/nodes");
    return call_json(e, "GET", p, NULL, JSON_ARRAY, "list nodes", err);
}

int cass_engine_service_logs(struct cass_engine *e, const char *id, bool tty,
                             const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                             void *userdata, struct cass_error **err)
{
    if (check_name(id, "service id", err) < 0)
        return -1;
    return logs_stream(e, "services", id, tty, opts, fn, userdata, err);
}
