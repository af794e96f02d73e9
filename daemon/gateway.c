#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "cleanup.h"
#include "bytes.h"
#include "gateway.h"
#include "hash.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "nbgw.h"
#include "protocol.h"
#include "rotation.h"
#include "store.h"
#include "stream.h"

#define GATEWAY_MAX_BODY (16u << 20)
#define GATEWAY_MAX_ATTEMPTS 8
/* A connection's thread runs libmicrohttpd and one blocking libcurl
 * transfer to an IP literal (no resolver): far less than glibc's 8 MiB. */
#define GATEWAY_THREAD_STACK (256u << 10)
/* The default of gateway.maxConnections in schemas/config.schema.json. */
#define GATEWAY_DEFAULT_CONNECTIONS 2048

/* Requests in flight on one replica, and so its connections: more wait in
 * the gateway or go to another replica with room. Without a bound every
 * client connection became a connection to a replica, and the Python server
 * (a thread per connection, a listen backlog of 5, one GIL) still had not
 * answered 67 of 1,100 requests sent at once after 90 s (docs/gateway.md). */
#define GATEWAY_REPLICA_CONNECTIONS 64
/* How long a request waits for room on a replica before a 503. */
#define GATEWAY_QUEUE_SECONDS 30
/* At a stop, how long requests in flight have to finish. */
#define GATEWAY_DRAIN_MS 10000

/* One replica the gateway has talked to: requests in flight and the idle
 * handles whose connections to it stay open. */
struct slot {
    char name[64];
    char id[72];
    int busy;
    int waiting; /* requests waiting for room on it (it is not freed while > 0) */
    /* One request's room at a time: a finished request wakes one waiter
     * of its own replica, not every waiting thread of the gateway (measured:
     * a broadcast to some 900 waiters at 1,024 connections spent most of
     * the gateway's CPU in futexes and context switches). */
    pthread_cond_t room;
    CURL *idle[GATEWAY_REPLICA_CONNECTIONS];
    size_t n_idle;
};

struct cass_gateway {
    struct cass_daemon *d;
    struct MHD_Daemon *mhd;
    int port;
    unsigned max_connections;
    bool tls;                     /* gateway.tls: HTTPS */
    struct cass_listen_tls creds; /* kept until libmicrohttpd stops */
    atomic_uint requests;         /* from their head to their answer sent */
    atomic_uint connections;      /* open client connections */
    pthread_mutex_t lock;         /* slots */
    struct cass_nbgw *nb;         /* /notebooks/ */
    struct slot **slots;
    size_t n_slots, cap_slots;
};

struct greq {
    char *raw_uri; /* as the client sent it: path and query, still escaped */
    char *body;
    size_t len, cap, limit;
    int too_large;
    int64_t arrived_ms;
    unsigned status;     /* what it was answered */
    const char *failure; /* the gateway's own reason when it answered an error itself */
};

/* The slot of a replica, made if new; NULL when out of memory. Under lock. */
static struct slot *slot_get(struct cass_gateway *g, const char *name, const char *id)
{
    for (size_t i = 0; i < g->n_slots; i++)
        if (strcmp(g->slots[i]->id, id) == 0)
            return g->slots[i];
    if (g->n_slots == g->cap_slots) {
        size_t cap = g->cap_slots ? 2 * g->cap_slots : 8;
        struct slot **v = realloc(g->slots, cap * sizeof(*v));
        if (!v)
            return NULL;
        g->slots = v;
        g->cap_slots = cap;
    }
    struct slot *sl = calloc(1, sizeof(*sl));
    if (!sl)
        return NULL;
    snprintf(sl->name, sizeof(sl->name), "%s", name);
    snprintf(sl->id, sizeof(sl->id), "%s", id);
    pthread_cond_init(&sl->room, NULL);
    g->slots[g->n_slots++] = sl;
    return sl;
}

static void slot_free(struct slot *sl)
{
    for (size_t i = 0; i < sl->n_idle; i++)
        curl_easy_cleanup(sl->idle[i]);
    pthread_cond_destroy(&sl->room);
    free(sl);
}

/* Ends a request of slot_take: c (NULL if none) joins the idle handles.
 * A replica that left the rotation loses its slot with its last request. */
static void slot_give(struct cass_gateway *g, const char *id, CURL *c)
{
    struct slot *gone = NULL;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->n_slots; i++) {
        struct slot *sl = g->slots[i];
        if (strcmp(sl->id, id) != 0)
            continue;
        sl->busy--;
        if (c && sl->n_idle < GATEWAY_REPLICA_CONNECTIONS) {
            sl->idle[sl->n_idle++] = c;
            c = NULL;
        }
        if (sl->waiting > 0)
            pthread_cond_signal(&sl->room);
        else if (sl->busy == 0 && !cass_rotation_has(g->d->rotation, sl->name, sl->id)) {
            gone = sl;
            g->slots[i] = g->slots[--g->n_slots];
        }
        break;
    }
    pthread_mutex_unlock(&g->lock);
    if (c)
        curl_easy_cleanup(c);
    if (gone)
        slot_free(gone);
}

/* Takes room for one request on a replica, at once (wait 0) or within
 * GATEWAY_QUEUE_SECONDS, with a handle for it (one of the replica's idle
 * ones if any: its connection is open). 0 and *ret_c (slot_give it back),
 * or -1. */
static int slot_take(struct cass_gateway *g, const char *name, const char *id, int wait,
                     CURL **ret_c)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += GATEWAY_QUEUE_SECONDS;
    CURL *c = NULL;
    int rc = -1;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        struct slot *sl = slot_get(g, name, id);
        if (!sl)
            break;
        if (sl->busy < GATEWAY_REPLICA_CONNECTIONS) {
            sl->busy++;
            c = sl->n_idle ? sl->idle[--sl->n_idle] : NULL;
            rc = 0;
            break;
        }
        if (!wait)
            break;
        sl->waiting++;
        int w = pthread_cond_timedwait(&sl->room, &g->lock, &deadline);
        sl->waiting--;
        if (w != 0)
            break;
    }
    pthread_mutex_unlock(&g->lock);
    if (rc == 0 && !c && !(c = curl_easy_init())) {
        slot_give(g, id, NULL);
        return -1;
    }
    *ret_c = c;
    return rc;
}
/* The next replica of name with room, round robin, skipping the n ids in
 * skip; when every replica is full, the first one picked, once it has room.
 * 0 with *ret and *ret_c (cass_rotation_release and slot_give when done),
 * -1 when no replica is left, -2 when none had room in time. */
static int pick_replica(struct cass_gateway *g, const char *name, const char *const *skip, size_t n,
                        struct cass_replica *ret, CURL **ret_c)
{
    struct cass_rotation *rot = g->d->rotation;
    const char *sk[2 * GATEWAY_MAX_ATTEMPTS];
    char full[GATEWAY_MAX_ATTEMPTS][72];
    size_t n_full = 0;
    memcpy(sk, skip, n * sizeof(*sk));
    struct cass_replica first, rep;
    while (n_full < GATEWAY_MAX_ATTEMPTS && cass_rotation_pick(rot, name, sk, n, &rep) == 0) {
        if (slot_take(g, name, rep.id, 0, ret_c) == 0) {
            if (n_full)
                cass_rotation_release(rot, name, first.id);
            *ret = rep;
            return 0;
        }
        if (n_full == 0)
            first = rep;
        else
            cass_rotation_release(rot, name, rep.id);
        snprintf(full[n_full], sizeof(full[0]), "%s", rep.id);
        sk[n++] = full[n_full++];
    }
    if (n_full == 0)
        return -1;
    if (slot_take(g, name, first.id, 1, ret_c) < 0) {
        cass_rotation_release(rot, name, first.id);
        return -2;
    }
    *ret = first;
    return 0;
}

struct upstream {
    char *body;
    size_t len, cap;
    int too_large;
    int got_headers;
    char content_type[128];
    char version[128];
};

static size_t up_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct upstream *u = ud;
    size_t n = size * nmemb;
    if (u->len + n > GATEWAY_MAX_BODY) {
        u->too_large = 1;
        return 0;
    }
    return cass_bytes_append(&u->body, &u->len, &u->cap, data, n) < 0 ? 0 : n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outn)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    size_t vn = n - k - 1;
    while (vn && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
    }
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
        vn--;
    if (vn >= outn)
        vn = outn - 1;
    memcpy(out, v, vn);
    out[vn] = '\0';
}

static size_t up_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct upstream *u = ud;
    size_t n = size * nmemb;
    u->got_headers = 1;
    header_value(data, n, "Content-Type", u->content_type, sizeof(u->content_type));
    header_value(data, n, "Cassiny-Model-Version", u->version, sizeof(u->version));
    return n;
}

struct query_buf {
    FILE *f;
    int first;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct query_buf *q = cls;
    char *k = curl_easy_escape(NULL, key, 0);
    char *v = value ? curl_easy_escape(NULL, value, 0) : NULL;
    fprintf(q->f, "%c%s%s%s", q->first ? '?' : '&', k ? k : "", v ? "=" : "", v ? v : "");
    q->first = 0;
    curl_free(k);
    curl_free(v);
    return MHD_YES;
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Content Too Large";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

struct MHD_Response *cass_gateway_problem(unsigned status, const char *detail)
{
    _cleanup_json_ json_t *p =
        json_pack("{s:s,s:s,s:I,s:s}", "type", "about:blank", "title", status_title(status),
                  "status", (json_int_t)status, "detail", detail);
    _cleanup_free_ char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_COPY);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CASS_MEDIA_PROBLEM);
    return r;
}

/* The gateway's own answers: RFC 9457 problems, as the API's. */
static enum MHD_Result reply_problem(struct MHD_Connection *conn, unsigned status,
                                     const char *detail)
{
    struct MHD_Response *r = cass_gateway_problem(status, detail);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The transfer failed before the replica said anything: safe to try the
 * next one. */
static int not_started(CURLcode rc, const struct upstream *u)
{
    if (u->got_headers)
        return 0;
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING || rc == CURLE_SEND_ERROR ||
           rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT;
}

/* A model with spec.auth takes a request whose bearer token hashes to one
 * of its tokens: 0 then, 401 without a (well-formed) bearer token, 403 for
 * any other. Every hash is compared, in constant time. */
static unsigned model_auth(struct MHD_Connection *conn, const struct cass_replica *rep)
{
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h) > 1024)
        return 401;
    const char *secret = h + 7;
    while (*secret == ' ')
        secret++;
    if (!*secret)
        return 401;
    char hash[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex(secret, strlen(secret), hash);
    unsigned char match = 0;
    for (unsigned i = 0; i < rep->n_tokens; i++) {
        unsigned char diff = 0;
        for (size_t k = 0; k < CASS_SHA256_HEX_LEN; k++)
            diff |= (unsigned char)(hash[k] ^ rep->tokens[i][k]);
        match |= (unsigned char)(diff == 0);
    }
    return match ? 0 : 403;
}

static enum MHD_Result forward(struct cass_gateway *g, struct MHD_Connection *conn,
                               const char *method, const char *name, const char *rest,
                               struct greq *req)
{
    struct cass_rotation *rot = g->d->rotation;
    _cleanup_free_ char *query = NULL;
    size_t qlen = 0;
    struct query_buf q = {.f = open_memstream(&query, &qlen), .first = 1};
    if (!q.f)
        return MHD_NO;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    fclose(q.f);
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");

    char tried[GATEWAY_MAX_ATTEMPTS][72];
    const char *skip[GATEWAY_MAX_ATTEMPTS];
    size_t n_tried = 0;
    while (n_tried < GATEWAY_MAX_ATTEMPTS) {
        struct cass_replica rep;
        CURL *c = NULL;
        int picked = pick_replica(g, name, skip, n_tried, &rep, &c);
        if (picked == -2) {
            char busy[256];
            snprintf(busy, sizeof(busy), "every replica of model %s is busy", name);
            req->status = 503;
            req->failure = "busy";
            return reply_problem(conn, 503, busy);
        }
        if (picked < 0)
            break;
        if (rep.n_tokens > 0) {
            unsigned st = model_auth(conn, &rep);
            if (st) {
                slot_give(g, rep.id, c);
                cass_rotation_release(rot, name, rep.id);
                char why[256];
                snprintf(why, sizeof(why),
                         st == 401 ? "model %s takes a token: Authorization: Bearer TOKEN"
                                   : "this token is not one of model %s's (spec.auth)",
                         name);
                req->status = st;
                req->failure = st == 401 ? "no-token" : "wrong-token";
                return reply_problem(conn, st, why);
            }
        }
        char url[1024];
        snprintf(url, sizeof(url), "http://%s:%d%s%s", rep.host, rep.port, rest,
                 query ? query : "");
        struct upstream u = {.len = 0};
        struct curl_slist *hdrs = NULL;
        char line[300];
        if (ct) {
            snprintf(line, sizeof(line), "Content-Type: %s", ct);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (accept) {
            snprintf(line, sizeof(line), "Accept: %s", accept);
            hdrs = curl_slist_append(hdrs, line);
        }
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, up_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &u);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, up_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &u);
        if (strcmp(method, "HEAD") == 0)
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else if (req->len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
        }
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
        slot_give(g, rep.id, c);
        cass_rotation_release(rot, name, rep.id);
        if (rc != CURLE_OK || status == 0) {
            free(u.body);
            if (not_started(rc, &u)) {
                log_debug("gateway: %s replica %.12s: %s; trying the next", name, rep.id,
                          curl_easy_strerror(rc));
                snprintf(tried[n_tried], sizeof(tried[0]), "%s", rep.id);
                skip[n_tried] = tried[n_tried];
                n_tried++;
                continue;
            }
            req->status = 502;
            req->failure = u.too_large ? "too-large" : "upstream-failed";
            return reply_problem(conn, 502,
                                 u.too_large ? "the model's answer is too large"
                                             : "the model failed while answering");
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(
            u.len, u.body ? u.body : (void *)"",
            u.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!r) {
            free(u.body);
            return MHD_NO;
        }
        if (u.content_type[0])
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, u.content_type);
        if (u.version[0])
            MHD_add_response_header(r, "Cassiny-Model-Version", u.version);
        MHD_add_response_header(r, "Cassiny-Replica", rep.id);
        req->status = (unsigned)status;
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
        MHD_destroy_response(r);
        return ret;
    }
    char detail[256];
    snprintf(detail, sizeof(detail), "model %s has no ready replica", name);
    req->status = 503;
    req->failure = "no-ready-replica";
    return reply_problem(conn, 503, detail);
}

/* Counts an answer to a request for model (a name the client sent: a label
 * only when a spec of that name is a Model, so that made-up names cannot
 * grow the metrics). */
static void count_answer(struct cass_gateway *g, const char *model, const struct greq *r)
{
    const char *label = "(none)";
    if (model && cass_rotation_count(g->d->rotation, model) > 0) {
        label = model;
    } else if (model && g->d->store) {
        _cleanup_json_ json_t *spec = cass_store_spec_get(g->d->store, model, NULL);
        const char *kind = json_string_value(json_object_get(spec, "kind"));
        if (kind && strcmp(kind, "Model") == 0)
            label = model;
    }
    char code[8];
    snprintf(code, sizeof(code), "%u", r->status);
    cass_metric_add(CASS_M_GATEWAY_REQUESTS, 1, label, code);
    cass_metric_observe(CASS_M_GATEWAY_DURATION,
                        (double)(cass_stream_now_ms() - r->arrived_ms) / 1000.0, label);
    if (r->failure)
        cass_metric_add(CASS_M_GATEWAY_ERRORS, 1, label, r->failure);
}

static enum MHD_Result reply_metrics(struct cass_gateway *g, struct MHD_Connection *conn)
{
    char *text = cass_metrics_render(g->d);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CASS_METRICS_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* An answer before any model was picked: counted without a model. */
static enum MHD_Result refuse(struct cass_gateway *g, struct MHD_Connection *conn, struct greq *r,
                              unsigned status, const char *detail)
{
    r->status = status;
    count_answer(g, NULL, r);
    return reply_problem(conn, status, detail);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct cass_gateway *g = cls;
    struct greq *r = *con_cls;
    if (!r)
        return MHD_NO;
    if (!r->limit) {
        r->limit = strncmp(url, "/notebooks/", 11) == 0 ? CASS_NBGW_MAX_BODY : GATEWAY_MAX_BODY;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->len + n > r->limit) {
            r->too_large = 1;
            return MHD_YES;
        }
        if (cass_bytes_append(&r->body, &r->len, &r->cap, upload_data, n) < 0)
            return MHD_NO;
        return MHD_YES;
    }
    if (r->too_large)
        return refuse(g, conn, r, 413, "request body too large");
    /* Prometheus scrapes over TCP, and this is the daemon's TCP listener:
     * the same page as the API's GET /metrics (no secrets in it). */
    if (strcmp(url, "/metrics") == 0 && (!strcmp(method, "GET") || !strcmp(method, "HEAD")))
        return reply_metrics(g, conn);
    if (strncmp(url, "/notebooks/", 11) == 0) {
        enum MHD_Result ret =
            cass_nbgw_request(g->nb, conn, url, r->raw_uri, method, r->body, r->len, &r->status);
        if (r->status)
            count_answer(g, NULL, r);
        return ret;
    }
    /* /models/NAME/REST */
    if (strncmp(url, "/models/", 8) != 0)
        return refuse(g, conn, r, 404,
                      "the gateway serves /models/NAME/... and /notebooks/NAME/...");
    const char *name = url + 8;
    size_t nlen = strcspn(name, "/");
    if (nlen == 0 || nlen > 63)
        return refuse(g, conn, r, 404, "no model name in the path");
    char model[64];
    memcpy(model, name, nlen);
    model[nlen] = '\0';
    for (size_t i = 0; i < nlen; i++)
        if (!((model[i] >= 'a' && model[i] <= 'z') || (model[i] >= '0' && model[i] <= '9') ||
              model[i] == '-'))
            return refuse(g, conn, r, 404, "not a model name");
    const char *rest = name[nlen] ? name + nlen : "/";
    enum MHD_Result ret = forward(g, conn, method, model, rest, r);
    if (r->status)
        count_answer(g, model, r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct cass_gateway *g = cls;
    struct greq *r = *con_cls;
    if (r) {
        free(r->body);
        free(r->raw_uri);
        free(r);
        atomic_fetch_sub(&g->requests, 1);
    }
    *con_cls = NULL;
}

/* Every request begins here, with the URI as the client sent it (the
 * access handler gets it decoded): a notebook's path and query are
 * forwarded as they came. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct cass_gateway *g = cls;
    struct greq *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!(r->raw_uri = strdup(uri))) {
        free(r);
        return NULL;
    }
    r->arrived_ms = cass_stream_now_ms();
    atomic_fetch_add(&g->requests, 1);
    return r;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct cass_gateway *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&g->connections, 1);
    else
        atomic_fetch_sub(&g->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_debug("gateway: %s", buf);
}

/* Binds and listens on the config's address and port; the listening
 * descriptor (caller owns), or -1 with *err. */
static int listen_tcp(struct cass_daemon *d, struct cass_error **err)
{
    const char *addr = cass_daemon_config_str(d, "gateway.address");
    json_int_t port = cass_daemon_config_int(d, "gateway.port");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!addr || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return cass_error_set(err, CASS_ERR_INVALID, "gateway.address must be an IPv4 address: %s",
                              addr ? addr : "(none)");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cass_error_errno(err, errno, "socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        cass_error_set(err, CASS_ERR_CONFLICT, "the gateway cannot listen on %s:%lld: %s", addr,
                       (long long)port, strerror(e));
        return -1;
    }
    return fd;
}

struct cass_gateway *cass_gateway_start(struct cass_daemon *d, int listen_fd,
                                        struct cass_error **err)
{
    struct cass_listen_tls creds = {0};
    const json_t *tls = cass_cfg_get(d->config, "gateway.tls");
    if (tls && cass_listen_tls_config(tls, "gateway.tls", &creds, err) < 0)
        return NULL;
    int fd = listen_fd >= 0 ? listen_fd : listen_tcp(d, err);
    if (fd < 0) {
        cass_listen_tls_clear(&creds);
        return NULL;
    }
    struct cass_gateway *g = calloc(1, sizeof(*g));
    if (!g) {
        if (listen_fd < 0)
            close(fd);
        cass_listen_tls_clear(&creds);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->d = d;
    g->tls = tls != NULL;
    g->creds = creds;
    if (!(g->nb = cass_nbgw_new(d))) {
        if (listen_fd < 0)
            close(fd);
        cass_listen_tls_clear(&g->creds);
        free(g);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    json_int_t max_conn = cass_daemon_config_int(d, "gateway.maxConnections");
    g->max_connections = max_conn > 0 ? (unsigned)max_conn : GATEWAY_DEFAULT_CONNECTIONS;
    pthread_mutex_init(&g->lock, NULL);
    /* A thread per connection (a request blocks only its own thread, however
     * slow its replica), waiting in poll(): no FD_SETSIZE limit. Past the
     * limit libmicrohttpd closes a new connection at once. docs/gateway.md
     * has the measurements behind this choice. ITC: a stop can quiesce it
     * (stop accepting) and let requests in flight finish. With TLS the
     * handshake runs on the connection's thread, bounded by the same
     * connection timeout. */
    struct MHD_OptionItem tls_opts[CASS_LISTEN_MHD_OPTIONS];
    cass_listen_mhd_options(g->tls ? &g->creds : NULL, tls_opts);
    g->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | (g->tls ? MHD_USE_TLS : 0),
        0, NULL, NULL, on_request, g, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, g,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, g, MHD_OPTION_URI_LOG_CALLBACK, on_uri, g,
        MHD_OPTION_CONNECTION_LIMIT, g->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_THREAD_STACK_SIZE, (size_t)GATEWAY_THREAD_STACK, MHD_OPTION_ARRAY,
        tls_opts, MHD_OPTION_END);
    if (!g->mhd) {
        if (listen_fd < 0)
            close(fd);
        pthread_mutex_destroy(&g->lock);
        cass_listen_tls_clear(&g->creds);
        cass_nbgw_free(g->nb);
        free(g);
        cass_error_set(err, CASS_ERR_INTERNAL, "libmicrohttpd failed to start the gateway");
        return NULL;
    }
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    g->port = getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET
                  ? ntohs(sa.sin_port)
                  : 0;
    char where[CASS_LISTEN_PEER_MAX];
    cass_auth_format_addr((struct sockaddr *)&sa, where, sizeof(where));
    if (!g->tls && !cass_listen_loopback_addr((struct sockaddr *)&sa))
        log_warn("the gateway serves plain HTTP on %s, beyond this host: set gateway.tls so that "
                 "model answers (and any token) do not cross the network in the clear",
                 where);
    json_int_t want = cass_daemon_config_int(d, "gateway.port");
    if (listen_fd >= 0 && want > 0 && want != g->port)
        log_warn("the gateway socket passed by the service manager is on port %d, not %lld "
                 "(gateway.port)",
                 g->port, (long long)want);
    /* No request of a gateway before this one is in flight any more. */
    cass_rotation_gateway_attach(d->rotation, g->port);
    return g;
}

void cass_gateway_stop(struct cass_gateway *g)
{
    if (!g)
        return;
    /* New connections wait in the listening socket's backlog, which the
     * service manager keeps for the next daemon; those open here are
     * answered first. */
    int fd = MHD_quiesce_daemon(g->mhd);
    /* WebSockets are the application's once upgraded: closed before
     * libmicrohttpd stops. */
    cass_nbgw_close_all(g->nb);
    unsigned left = cass_daemon_drain(&g->requests, &g->connections, GATEWAY_DRAIN_MS);
    if (left)
        log_warn("gateway: %u requests still in flight after %d s; cut short", left,
                 GATEWAY_DRAIN_MS / 1000);
    MHD_stop_daemon(g->mhd);
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < g->n_slots; i++)
        slot_free(g->slots[i]);
    free(g->slots);
    cass_nbgw_free(g->nb);
    pthread_mutex_destroy(&g->lock);
    cass_listen_tls_clear(&g->creds);
    free(g);
}

int cass_gateway_port(const struct cass_gateway *g)
{
    return g ? g->port : 0;
}
