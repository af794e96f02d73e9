#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bytes.h"
#include "cleanup.h"
#include "cfg.h"
#include "engine.h"
#include "hub.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "protocol.h"
#include "routes.h"
#include "server.h"
#include "store.h"

/* Handlers that may wait (the store, the engine, apply) run here, off the
 * event loop, on a connection suspended meanwhile. */
#define API_WORKERS 8
/* A connection past limits.maxConnections gets this long to send the
 * request that is answered 503. */
#define OVER_LIMIT_GRACE_MS 2000
/* At a stop, how long requests in flight have to finish. */
#define API_DRAIN_MS 5000

struct request;

/* One of the sockets the API is served on: the unix socket, or the TCP
 * listener (listen:), with TLS when listen.tls is set. Both share the
 * server's workers, hub and limits. */
struct listener {
    struct cass_server *s;
    struct MHD_Daemon *mhd;
    int fd;
    bool owns_fd;     /* bound here (not passed by the service manager) */
    bool network;     /* TCP: its requests are marked network */
    bool tls;         /* HTTPS */
    bool client_cert; /* listen.tls.clientCA: a certificate signed by it is required */
    char name[CASS_LISTEN_PEER_MAX + 16]; /* for the log */
};

struct cass_server {
    struct cass_daemon *d;
    struct listener local, tcp;
    struct cass_listen_tls tls; /* listen.tls, kept until libmicrohttpd stops */
    struct cass_hub *hub;
    char *socket_path;
    bool owns_path; /* bound here, so removed at the stop (not when passed in) */
    size_t max_body;
    unsigned max_conn;
    unsigned idle_timeout; /* seconds */
    int64_t request_timeout_ms;
    atomic_uint live;     /* connections open now */
    atomic_uint requests; /* from their head to their end */

    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct request *queue_head, **queue_tail;
    bool workers_stop;
    pthread_t workers[API_WORKERS];
    unsigned nworkers;
};

/* Per-connection state (MHD's socket context). */
struct conn {
    struct cass_hub_conn hc;
    bool over_limit;                 /* accepted past limits.maxConnections: answered 503 */
    bool network;                    /* on the TCP listener */
    bool tls;                        /* over TLS */
    bool client_cert;                /* a client certificate signed by clientCA is required */
    bool cert_ok;                    /* and it was checked */
    unsigned uid;                    /* the unix socket's peer; -1 when unknown */
    char from[CASS_LISTEN_PEER_MAX]; /* "uid:N" on the unix socket, "ADDR:PORT" on TCP */
};

enum request_state { REQ_RECEIVING, REQ_QUEUED, REQ_DONE };

/* Per-request state, kept by libmicrohttpd between calls of the handler. */
struct request {
    char *body;
    size_t len, cap;
    int too_large;
    int started;    /* the access handler has seen it */
    int bad_path;   /* the raw path holds a byte no name can: refused with 400 */
    bool in_flight; /* counted in s->requests: from its head until answered */
    enum request_state state;
    /* For the worker, and its outcome once REQ_DONE. */
    struct request *next;
    struct MHD_Connection *conn;
    const char *method, *url; /* MHD's, valid for the request */
    struct cass_api_reply reply;
    long long event_id;
    int64_t arrived_ms; /* when its head was first seen (monotonic) */
};

/* A streamed response: its reply and where it waits, owned by MHD's
 * response once queued. */
struct stream {
    struct cass_server *s;
    struct cass_api_reply reply;
    struct cass_hub_park park;
};

/* Called with the request line's URI before libmicrohttpd decodes it (see
 * cass_routes_path_ok). Returns the request's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->bad_path = !cass_routes_path_ok(uri);
    return r;
}

static void request_free(struct request *r)
{
    if (!r)
        return;
    cass_routes_reply_clear(&r->reply);
    free(r->body);
    free(r);
}

/* What every response carries besides its body. event_id >= 0 is sent as
 * X-Cassiny-Event-Id (see handle); retry_after as Retry-After; allow, when
 * set, as Allow (a 405); close ends the connection after the response. */
struct extras {
    long long event_id;
    unsigned retry_after;
    const char *allow;
    bool close;
    const struct cass_api_reply *reply; /* its headers and cache_control, when set */
};

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status,
                             struct MHD_Response *resp, const char *content_type,
                             const struct extras *x)
{
    if (!resp)
        return MHD_NO;
    /* A 204 or 304 has no body, so no type either. */
    if (status != 204 && status != 304)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    const struct cass_api_reply *reply = x->reply;
    MHD_add_response_header(resp, "Cache-Control",
                            reply && reply->cache_control ? reply->cache_control : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (unsigned i = 0; reply && i < reply->nheaders; i++)
        MHD_add_response_header(resp, reply->headers[i].name, reply->headers[i].value);
    char num[32];
    if (x->event_id >= 0) {
        snprintf(num, sizeof(num), "%lld", x->event_id);
        MHD_add_response_header(resp, CASS_HEADER_EVENT_ID, num);
    }
    if (x->retry_after) {
        snprintf(num, sizeof(num), "%u", x->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (x->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, x->allow);
    if (x->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
                                 const char *content_type, const char *text, size_t len,
                                 const struct extras *x)
{
    return queue(conn, status,
                 MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY),
                 content_type, x);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status,
                                 const char *content_type, const json_t *body,
                                 const struct extras *x)
{
    _cleanup_free_ char *text = json_dumps(body, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return send_text(conn, 500, CASS_MEDIA_PROBLEM, "{\"status\":500}", 14,
                         &(struct extras){.event_id = -1});
    size_t n = strlen(text);
    text[n] = '\0';
    _cleanup_free_ char *withnl = malloc(n + 2);
    if (!withnl)
        return MHD_NO;
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    return send_text(conn, status, content_type, withnl, n + 1, x);
}

/* A stream that ends with an error closes its connection, but libmicrohttpd
 * 0.9.75 (epoll) frees a connection closed from a content reader only when
 * it visits it again: on an event, or from the oldest end of its list of
 * connections with the default timeout, behind every older idle one. With
 * a timeout of its own the connection is on the short list visited on
 * every pass, and its descriptor and slot are freed at once. */
static ssize_t stream_fail(struct stream *st)
{
    MHD_set_connection_option(st->park.conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              st->s->idle_timeout == 1 ? 2u : 1u);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    if (st->park.hung_up)
        return stream_fail(st);
    st->park.wait = (struct cass_stream_wait){.fd = -1};
    long n = st->reply.stream_read(st->reply.stream_ctx, buf, max, &st->park.wait);
    if (n > 0)
        return n;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n != CASS_STREAM_AGAIN)
        return stream_fail(st);
    /* Nothing now: the connection waits in the hub, suspended, and MHD
     * calls again once resumed. */
    st->park.refill = st->reply.stream_refill;
    st->park.ctx = st->reply.stream_ctx;
    if (cass_hub_park(st->s->hub, &st->park) < 0)
        return stream_fail(st);
    return 0;
}

static void stream_done(void *cls)
{
    struct stream *st = cls;
    cass_routes_reply_clear(&st->reply);
    free(st);
}

/* Hands the stream of reply to libmicrohttpd, which owns it from here. */
static enum MHD_Result send_stream(struct cass_server *s, struct MHD_Connection *conn,
                                   unsigned status, struct cass_api_reply *reply,
                                   const struct extras *x)
{
    struct stream *st = calloc(1, sizeof(*st));
    if (!st)
        return MHD_NO;
    st->s = s;
    st->reply = *reply;
    *reply = (struct cass_api_reply){0};
    st->park.conn = conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    st->park.sock = ci ? ci->connect_fd : -1;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  stream_reader, st, stream_done);
    if (!resp) {
        stream_done(st);
        return MHD_NO;
    }
    /* The idle timeout stays: a parked stream does not count as idle
     * (suspended), a peer that stops reading does. */
    return queue(conn, status, resp,
                 st->reply.content_type ? st->reply.content_type : "text/plain; charset=utf-8", x);
}

static enum MHD_Result send_problem(struct MHD_Connection *conn, unsigned status,
                                    const char *detail, const struct extras *x)
{
    _cleanup_json_ json_t *p = cass_problem_new(status, detail);
    return send_json(conn, status, CASS_MEDIA_PROBLEM, p, x);
}

/* route: the route's pattern, or "(none)" for what was answered before
 * routing (refused, too large) or matched no route. */
static void count_status(const char *method, const char *route, unsigned status, int64_t arrived_ms)
{
    char code[8];
    snprintf(code, sizeof(code), "%u", status);
    route = route ? route : "(none)";
    /* Methods are free text from the client: only the ones routes have. */
    const char *m = !strcmp(method, "GET") || !strcmp(method, "POST") ||
                            !strcmp(method, "DELETE") || !strcmp(method, "HEAD")
                        ? method
                        : "other";
    cass_metric_add(CASS_M_API_REQUESTS, 1, route, m, code);
    cass_metric_observe(CASS_M_API_DURATION, (double)(cass_stream_now_ms() - arrived_ms) / 1000.0,
                        route);
}
/* The peer of a new connection, for the principal and the audit log: its
 * address and port on TCP ("ADDR:PORT"), its uid on the unix socket. */
static void peer_of(struct MHD_Connection *conn, struct conn *c)
{
    snprintf(c->from, sizeof(c->from), "unknown");
    c->uid = (unsigned)-1;
    if (c->network) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr)
            cass_auth_format_addr(ci->client_addr, c->from, sizeof(c->from));
        return;
    }
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (c->hc.fd >= 0 && getsockopt(c->hc.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        c->uid = (unsigned)cred.uid;
        snprintf(c->from, sizeof(c->from), "uid:%u", c->uid);
    }
}

static struct conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Who is calling: on the unix socket its peer's uid, the local admin; on the
 * TCP listener the user of the bearer token it shows, or without an
 * Authorization header the token of the dashboard's session cookie (nobody,
 * with the reason, when none or a bad one). A state-changing request must
 * come from no other site's page (Origin), and one the session cookie
 * authenticated must repeat its CSRF value (auth.h); req->csrf_error says
 * why not. Where it came from is the connection's (on_connection). */
static void principal_of(struct cass_server *s, struct MHD_Connection *conn,
                         struct cass_api_request *req)
{
    const struct conn *c = conn_of(conn);
    req->network = !c || c->network; /* unknown: the stricter side */
    req->tls = c && c->tls;
    const char *cookies = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie");
    char secret[CASS_AUTH_SECRET_MAX + 1] = "";
    size_t secret_len = 0;
    if (!req->network) {
        cass_auth_local(&req->who, c->uid);
    } else if (cass_routes_inline(req->method, req->path)) {
        /* Answered on the event loop to anyone (/healthz, the dashboard's
         * files, which a browser asks for with the session cookie): no
         * token is looked up in the store there. */
    } else {
        _cleanup_error_ struct cass_error *aerr = NULL;
        const char *authz =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *session =
            authz && *authz ? NULL
                            : cass_auth_cookie_find(cookies, CASS_AUTH_SESSION_COOKIE, &secret_len);
        int rc;
        if (session && cass_auth_cookie_safe(session, secret_len)) {
            memcpy(secret, session, secret_len);
            secret[secret_len] = '\0';
            req->credential = true;
            rc = cass_auth_secret(s->d, secret, c ? c->from : "unknown", &req->who, &aerr);
            req->via_cookie = rc == 0;
            if (rc < 0)
                cass_error_prefix(&aerr, "the session cookie (log in again)");
        } else if (session) {
            req->credential = true;
            rc = cass_error_set(&aerr, CASS_ERR_UNAUTHORIZED,
                                "the session cookie holds no token (log in again)");
        } else {
            req->credential = authz && *authz;
            rc = cass_auth_bearer(s->d, authz, c ? c->from : "unknown", &req->who, &aerr);
        }
        if (rc < 0)
            snprintf(req->auth_error, sizeof(req->auth_error), "%s",
                     aerr && aerr->message ? aerr->message : "not authenticated");
    }
    snprintf(req->actor, sizeof(req->actor), "%s", req->who.from);
    if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
        return;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    _cleanup_error_ struct cass_error *cerr = NULL;
    if (!cass_auth_same_origin(origin, host))
        snprintf(req->csrf_error, sizeof(req->csrf_error),
                 "csrf: a change asked from the page of another site (Origin %.60s, Host %.60s)",
                 origin, host ? host : "none");
    /* A login acts on no one's authority but its body's token: a session
     * cookie it comes with (another user's, an old one) needs no value. */
    else if (req->via_cookie && strcmp(req->path, "/ui/api/login") != 0 &&
             cass_auth_csrf_check(
                 s->d->session_key_set ? s->d->session_key : NULL, secret, secret_len,
                 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CASS_AUTH_CSRF_HEADER), cookies,
                 &cerr) < 0)
        snprintf(req->csrf_error, sizeof(req->csrf_error), "%s", cerr->message);
}

/* At most this many 401s without any token are audited per second: a
 * scan of the port must not fill the disk with them. */
#define AUDIT_ANONYMOUS_PER_SECOND 10

static bool anonymous_refusal_audited(void)
{
    static _Atomic long long window;
    static atomic_uint count;
    long long now = (long long)time(NULL);
    long long w = atomic_load(&window);
    if (w != now && atomic_compare_exchange_strong(&window, &w, now))
        atomic_store(&count, 0);
    return atomic_fetch_add(&count, 1) < AUDIT_ANONYMOUS_PER_SECOND;
}

/* Refusals are audited with who asked: every 403, every 401 of a token
 * that is no token (a revoked or expired one is audited where it is told
 * apart, cass_auth_bearer), and 401s without any token up to
 * AUDIT_ANONYMOUS_PER_SECOND a second. */
static void audit_request(struct cass_server *s, const struct cass_api_request *req,
                          const struct cass_api_reply *reply)
{
    bool anonymous =
        reply->status == 401 && !req->credential && !reply->audit_refusal && !reply->not_refusal;
    bool refused =
        reply->status == 403 || (reply->status == 401 && reply->audit_refusal) ||
        (reply->status == 401 && req->credential && !strstr(req->auth_error, " is revoked") &&
         !strstr(req->auth_error, " is expired")) ||
        (anonymous && anonymous_refusal_audited());
    if (!s->d->store || (!reply->audit && !refused))
        return;
    _cleanup_free_ char *action = NULL;
    if (asprintf(&action, "%s %s", req->method, req->path) < 0)
        action = NULL;
    struct cass_audit_entry e = {
        .actor = req->actor,
        .user = req->who.user[0] ? req->who.user : NULL,
        .token_id = req->who.token_id,
        .owner = req->who.user[0] ? req->who.user : NULL,
        .action = refused ? "refused" : req->method,
        .target = refused && action ? action : req->path,
        .status = (int)reply->status,
        .detail = reply->audit_detail,
    };
    _cleanup_error_ struct cass_error *aerr = NULL;
    if (cass_store_audit_add(s->d->store, &e, &aerr) < 0)
        log_warn("audit: %s", aerr->message);
    else
        cass_daemon_events_notify(s->d);
}

/* Runs the route of r and keeps its outcome in r->reply (an error as a
 * problem body); may wait on the store or the engine. */
static void handle(struct cass_server *s, struct request *r)
{
    struct MHD_Connection *conn = r->conn;
    const char *method = r->method, *url = r->url;
    struct cass_api_request req = {
        .d = s->d,
        .conn = conn,
        .method = method,
        .path = url,
        .body = r->body ? r->body : "",
        .body_len = r->len,
    };
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    principal_of(s, conn, &req);

    struct cass_api_reply *reply = &r->reply;
    *reply = (struct cass_api_reply){.status = 200};
    _cleanup_error_ struct cass_error *err = NULL;
    /* X-Cassiny-Event-Id: the last event id before a state-changing request
     * (or an event stream) was handled. Every event the request causes has
     * a greater id, so GET /v1/events?since=N misses none of them. */
    r->event_id = -1;
    if (s->d->store && ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
                        strcmp(url, "/v1/events") == 0))
        r->event_id = cass_store_audit_last_id(s->d->store, NULL);
    if (cass_routes_handle(&req, reply, &err) < 0) {
        if (!err)
            cass_error_set(&err, CASS_ERR_INTERNAL, "handler failed without an error");
        unsigned status = reply->status >= 400 ? reply->status : cass_problem_status(err);
        json_t *p = cass_problem_from_error(err);
        if (p) {
            json_object_set_new(p, "status", json_integer(status));
            json_object_set_new(p, "title", json_string(cass_problem_title(status)));
            if (reply->problem_type)
                json_object_set_new(p, "type", json_string(reply->problem_type));
        }
        if (status >= 500)
            log_error("%s %s: %s", method, url, err->message ? err->message : "?");
        else
            log_debug("%s %s: %u %s", method, url, status, err->message ? err->message : "");
        json_decref(reply->body);
        free(reply->text);
        reply->text = NULL;
        if (reply->stream_read && reply->stream_free)
            reply->stream_free(reply->stream_ctx);
        reply->stream_read = NULL;
        reply->data = NULL;
        reply->cache_control = NULL;
        reply->body = p ? p : json_null();
        reply->content_type = CASS_MEDIA_PROBLEM;
        reply->status = status;
    } else if (!reply->text && !reply->stream_read && !reply->data) {
        reply->content_type = CASS_MEDIA_JSON;
    }
    count_status(method, reply->route, reply->status, r->arrived_ms);
    audit_request(s, &req, reply);
}

/* Sends the outcome of handle, on MHD's thread. */
static enum MHD_Result respond(struct cass_server *s, struct MHD_Connection *conn,
                               struct request *r)
{
    struct cass_api_reply *reply = &r->reply;
    struct extras x = {.event_id = r->event_id,
                       .retry_after = reply->retry_after,
                       .allow = reply->allow[0] ? reply->allow : NULL,
                       .reply = reply};
    if (reply->status == 204 || reply->status == 304)
        return send_text(conn, reply->status, NULL, "", 0, &x);
    if (reply->data)
        /* Embedded and never freed: not copied. */
        return queue(conn, reply->status,
                     MHD_create_response_from_buffer(reply->data_len, (void *)reply->data,
                                                     MHD_RESPMEM_PERSISTENT),
                     reply->content_type, &x);
    if (reply->stream_read && strcmp(r->method, "HEAD") == 0) {
        /* libmicrohttpd (0.9.75) ends a chunked answer to HEAD with a last
         * chunk, a body that HEAD must not have (clients fail to parse the
         * next bytes): the headers of a stream are sent without it. */
        if (reply->stream_free)
            reply->stream_free(reply->stream_ctx);
        reply->stream_read = NULL;
        return send_text(conn, reply->status,
                         reply->content_type ? reply->content_type : "text/plain", "", 0, &x);
    }
    if (reply->stream_read) {
        /* A stream lasts until it is cancelled, at a stop too: not a
         * request a stop waits for. */
        if (r->in_flight)
            atomic_fetch_sub(&s->requests, 1);
        r->in_flight = false;
        return send_stream(s, conn, reply->status, reply, &x);
    }
    if (reply->text)
        return send_text(conn, reply->status,
                         reply->content_type ? reply->content_type : "text/plain", reply->text,
                         strlen(reply->text), &x);
    return send_json(conn, reply->status, reply->content_type,
                     reply->body ? reply->body : json_null(), &x);
}

static void *worker_main(void *arg)
{
    struct cass_server *s = arg;
    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        while (!s->queue_head && !s->workers_stop)
            pthread_cond_wait(&s->queue_cond, &s->queue_lock);
        struct request *r = s->queue_head;
        if (!r)
            break;
        s->queue_head = r->next;
        if (!s->queue_head)
            s->queue_tail = &s->queue_head;
        pthread_mutex_unlock(&s->queue_lock);
        handle(s, r);
        r->state = REQ_DONE;
        MHD_resume_connection(r->conn);
        pthread_mutex_lock(&s->queue_lock);
    }
    pthread_mutex_unlock(&s->queue_lock);
    return NULL;
}

/* Suspends the connection of r and gives r to a worker; MHD calls the
 * access handler again once the worker resumed it. */
static enum MHD_Result enqueue(struct cass_server *s, struct request *r)
{
    r->state = REQ_QUEUED;
    r->next = NULL;
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&s->queue_lock);
    *s->queue_tail = r;
    s->queue_tail = &r->next;
    pthread_cond_signal(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
    return MHD_YES;
}

/* The request is in (or answered early): its deadline no longer runs. */
static void request_arrived(struct cass_server *s, struct MHD_Connection *conn)
{
    struct conn *c = conn_of(conn);
    if (c)
        cass_hub_conn_arm(s->hub, &c->hc, 0);
}

static enum MHD_Result send_too_large(struct cass_server *s, struct MHD_Connection *conn,
                                      const char *method, const struct request *r)
{
    count_status(method, NULL, 413, r->arrived_ms);
    char detail[128];
    snprintf(detail, sizeof(detail), "request body larger than %zu bytes", s->max_body);
    return send_problem(conn, 413, detail, &(struct extras){.event_id = -1});
}

/* Whether the TLS client of conn presented a certificate that the client CA
 * signed (and that is valid now). The handshake already requires one
 * (on_connection): this is the check libmicrohttpd itself does not do. */
static bool client_cert_ok(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned status = 0;
    return ci && ci->tls_session &&
           gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) == 0 &&
           status == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct cass_server *s = cls;
    struct request *r = *con_cls;

    if (!r || !r->started) {
        if (!r && !(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        *con_cls = r;
        r->started = 1;
        r->arrived_ms = cass_stream_now_ms();
        r->in_flight = true;
        atomic_fetch_add(&s->requests, 1);
        struct conn *c = conn_of(conn);
        if (c && c->client_cert && !c->cert_ok && !client_cert_ok(conn)) {
            request_arrived(s, conn);
            count_status(method, NULL, 403, r->arrived_ms);
            return send_problem(conn, 403,
                                "this listener takes only clients with a certificate signed by "
                                "its client CA (listen.tls.clientCA)",
                                &(struct extras){.event_id = -1, .close = true});
        }
        if (c && c->client_cert)
            c->cert_ok = true;
        if (c && c->over_limit) {
            request_arrived(s, conn);
            count_status(method, NULL, 503, r->arrived_ms);
            char detail[160];
            snprintf(detail, sizeof(detail),
                     "%u connections are open, the most there may be (limits.maxConnections)",
                     s->max_conn);
            return send_problem(conn, 503, detail,
                                &(struct extras){.event_id = -1, .retry_after = 1, .close = true});
        }
        if (r->bad_path) {
            request_arrived(s, conn);
            count_status(method, NULL, 400, r->arrived_ms);
            return send_problem(conn, 400,
                                "the path holds a byte that no name or route can: a NUL, a "
                                "control byte, a space, an encoded slash or a bad escape",
                                &(struct extras){.event_id = -1});
        }
        /* Refuse a declared oversized body before reading any of it. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || *end || n > s->max_body) {
                r->too_large = 1;
                request_arrived(s, conn);
                return send_too_large(s, conn, method, r);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large)
            return MHD_YES;
        if (r->len + n > s->max_body) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return MHD_YES;
        }
        if (cass_bytes_append(&r->body, &r->len, &r->cap, upload_data, n) < 0)
            return MHD_NO;
        return MHD_YES;
    }

    switch (r->state) {
    case REQ_DONE:
        return respond(s, conn, r);
    case REQ_QUEUED:
        return MHD_YES; /* not resumed yet */
    case REQ_RECEIVING:
        break;
    }
    request_arrived(s, conn);
    if (r->too_large)
        return send_too_large(s, conn, method, r);
    r->conn = conn;
    r->method = method;
    r->url = url;
    if (!cass_routes_inline(method, url))
        return enqueue(s, r);
    handle(s, r);
    r->state = REQ_DONE;
    return respond(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct cass_server *s = cls;
    struct request *r = *con_cls;
    if (r && r->in_flight)
        atomic_fetch_sub(&s->requests, 1);
    request_free(r);
    *con_cls = NULL;
    /* Kept alive: the next request's deadline runs from here. */
    struct conn *c = conn_of(conn);
    if (c)
        cass_hub_conn_arm(s->hub, &c->hc, cass_stream_now_ms() + s->request_timeout_ms);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct listener *l = cls;
    struct cass_server *s = l->s;
    struct conn *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c) {
            /* At shutdown the hub is gone before libmicrohttpd closes what
             * is left (cass_server_stop): nothing to take it out of. */
            if (s->hub)
                cass_hub_conn_remove(s->hub, &c->hc);
            free(c);
            *socket_context = NULL;
        }
        atomic_fetch_sub(&s->live, 1);
        return;
    }
    unsigned live = atomic_fetch_add(&s->live, 1) + 1;
    if (!(c = calloc(1, sizeof(*c))))
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->hc.fd = ci ? ci->connect_fd : -1;
    /* The hub's deadline bounds the TLS handshake too: it runs from here. */
    c->hc.tls = l->tls;
    c->network = l->network;
    c->tls = l->tls;
    c->client_cert = l->client_cert;
    peer_of(conn, c);
    if (l->client_cert) {
        /* libmicrohttpd only asks for a certificate (GNUTLS_CERT_REQUEST)
         * and checks none: the handshake fails without one signed by the
         * client CA. */
        const union MHD_ConnectionInfo *ti =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ti && ti->tls_session) {
            gnutls_session_t ts = (gnutls_session_t)ti->tls_session;
            gnutls_certificate_server_set_request(ts, GNUTLS_CERT_REQUIRE);
            gnutls_session_set_verify_cert(ts, NULL, 0);
        }
    }
    c->over_limit = live > s->max_conn;
    int64_t grace = c->over_limit && s->request_timeout_ms > OVER_LIMIT_GRACE_MS
                        ? OVER_LIMIT_GRACE_MS
                        : s->request_timeout_ms;
    if (c->hc.fd >= 0 && s->hub)
        cass_hub_conn_add(s->hub, &c->hc, cass_stream_now_ms() + grace);
    else
        c->hc.killed = true; /* never shut down by the hub: not in its list */
    *socket_context = c;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_debug("http: %s", buf);
}

/* A stale socket file from a crashed daemon is removed; a live one (someone
 * accepts on it) is an error, so that two daemons never share a socket. */
static int prepare_socket_path(const char *path, struct cass_error **err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : cass_error_errno(err, errno, "stat %s", path);
    if (!S_ISSOCK(st.st_mode))
        return cass_error_set(err, CASS_ERR_CONFLICT, "%s exists and is not a socket", path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cass_error_errno(err, errno, "socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return cass_error_set(err, CASS_ERR_CONFLICT, "another daemon is serving on %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return cass_error_errno(err, errno, "remove stale socket %s", path);
    return 0;
}

static int listen_unix(const char *path, const char *group, struct cass_error **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return cass_error_set(err, CASS_ERR_INVALID, "socket path too long: %s", path);
    if (prepare_socket_path(path, err) < 0)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cass_error_errno(err, errno, "socket");
    /* Created 0600 then opened to the group: never a moment of world access. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0) {
        int e = errno;
        close(fd);
        return cass_error_errno(err, e, "bind %s", path);
    }
    struct group *gr = group && *group ? getgrnam(group) : NULL;
    if (gr) {
        if (chown(path, (uid_t)-1, gr->gr_gid) < 0 || chmod(path, 0660) < 0)
            log_warn("cannot give %s to group %s: %s", path, group, strerror(errno));
    } else if (group && *group) {
        log_warn("group %s does not exist: %s is usable by root only", group, path);
    }
    if (listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return cass_error_errno(err, e, "listen %s", path);
    }
    return fd;
}

static void workers_stop(struct cass_server *s)
{
    pthread_mutex_lock(&s->queue_lock);
    s->workers_stop = true;
    pthread_cond_broadcast(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
    for (unsigned i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
}

static void server_free(struct cass_server *s)
{
    workers_stop(s);
    cass_hub_free(s->hub);
    cass_listen_tls_clear(&s->tls);
    pthread_cond_destroy(&s->queue_cond);
    pthread_mutex_destroy(&s->queue_lock);
    free(s->socket_path);
    free(s);
}

static json_int_t config_int_or(struct cass_daemon *d, const char *path, json_int_t dflt)
{
    json_int_t v = cass_daemon_config_int(d, path);
    return v > 0 ? v : dflt;
}

/* A socket the service manager passed: the path it is bound to (for the
 * log and the stop) into buf, "" when it has none. */
static void socket_name(int fd, char *buf, size_t n)
{
    struct sockaddr_un sa = {0};
    socklen_t len = sizeof(sa);
    buf[0] = '\0';
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_family == AF_UNIX &&
        sa.sun_path[0])
        snprintf(buf, n, "%.*s", (int)sizeof(sa.sun_path), sa.sun_path);
}

/* Starts libmicrohttpd for l on l->fd. One event loop over epoll: an idle
 * connection costs a descriptor and its memory, no thread and no
 * FD_SETSIZE. Nothing on the loop waits: handlers run on the workers and
 * streams wait in the hub, their connections suspended meanwhile
 * (docs/architecture.md). */
static int listener_start(struct cass_server *s, struct listener *l, unsigned over,
                          struct cass_error **err)
{
    struct MHD_OptionItem tls_opts[CASS_LISTEN_MHD_OPTIONS];
    cass_listen_mhd_options(l->tls ? &s->tls : NULL, tls_opts);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    l->mhd = MHD_start_daemon(
        flags | (l->tls ? MHD_USE_TLS : 0), 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_CONNECTION_LIMIT,
        s->max_conn + over, MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!l->mhd)
        return cass_error_set(err, CASS_ERR_INTERNAL, "libmicrohttpd failed to start on %s%s",
                              l->name, l->tls ? " with TLS (the debug log says why)" : "");
    return 0;
}

/* Stops libmicrohttpd for l, its listening socket left open (the caller's
 * to close). */
static void listener_stop(struct listener *l)
{
    if (!l->mhd)
        return;
    MHD_quiesce_daemon(l->mhd);
    MHD_stop_daemon(TAKE_PTR(l->mhd));
}

/* The TCP listener of the config's listen, when it has one: its TLS
 * credentials read and its socket bound (or tcp_fd, passed by the service
 * manager, checked), libmicrohttpd not started yet. */
static int tcp_prepare(struct cass_server *s, int tcp_fd, struct cass_error **err)
{
    struct listener *l = &s->tcp;
    const json_t *lc = cass_cfg_get(s->d->config, "listen");
    if (!lc) {
        if (tcp_fd >= 0)
            return cass_error_set(err, CASS_ERR_INVALID,
                                  "the service manager passed a TCP socket for the API "
                                  "(api-tcp), but the config has no listen");
        return 0;
    }
    const char *addr = json_string_value(json_object_get(lc, "address"));
    int port = (int)json_integer_value(json_object_get(lc, "port"));
    const json_t *tls = json_object_get(lc, "tls");
    if (tls && cass_listen_tls_config(tls, "listen.tls", &s->tls, err) < 0)
        return -1;
    l->network = true;
    l->tls = tls != NULL;
    l->client_cert = s->tls.ca != NULL;
    if (tcp_fd < 0) {
        l->fd = cass_listen_tcp(addr, port, !l->tls, err);
        if (l->fd < 0) {
            cass_error_prefix(err, "listen");
            return -1;
        }
        l->owns_fd = true;
    } else {
        l->fd = tcp_fd;
    }
    struct sockaddr_storage sa = {0};
    socklen_t len = sizeof(sa);
    char where[CASS_LISTEN_PEER_MAX] = "?";
    if (getsockname(l->fd, (struct sockaddr *)&sa, &len) == 0)
        cass_auth_format_addr((struct sockaddr *)&sa, where, sizeof(where));
    snprintf(l->name, sizeof(l->name), "%s://%s", l->tls ? "https" : "http", where);
    int bound_port = sa.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                     : sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                                : 0;
    if (tcp_fd >= 0 && port > 0 && port != bound_port)
        log_warn("the API's TCP socket passed by the service manager is %s, not port %d "
                 "(listen.port)",
                 where, port);
    if (!l->tls && !cass_listen_loopback_addr((struct sockaddr *)&sa))
        return cass_error_set(err, CASS_ERR_INVALID,
                              "listen: the socket passed by the service manager is on %s, not "
                              "a loopback address, and listen has no tls: plain HTTP on a "
                              "non-loopback address would send tokens in the clear",
                              where);
    return 0;
}

static void tcp_close(struct cass_server *s)
{
    listener_stop(&s->tcp);
    if (s->tcp.owns_fd && s->tcp.fd >= 0)
        close(s->tcp.fd);
    s->tcp.fd = -1;
}

struct cass_server *cass_server_start(struct cass_daemon *d, int listen_fd, int tcp_fd,
                                      struct cass_error **err)
{
    const char *path = cass_daemon_config_str(d, "socket");
    if (!path || !*path) {
        cass_error_set(err, CASS_ERR_INVALID, "no socket path configured");
        return NULL;
    }
    struct cass_server *s = calloc(1, sizeof(*s));
    if (!s) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->d = d;
    s->local = (struct listener){.s = s, .fd = -1};
    s->tcp = (struct listener){.s = s, .fd = -1};
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    s->queue_tail = &s->queue_head;
    s->socket_path = strdup(path);
    s->max_body = (size_t)config_int_or(d, "limits.maxBodyBytes", CASS_MAX_BODY_BYTES);
    s->max_conn = (unsigned)config_int_or(d, "limits.maxConnections", 4096);
    s->idle_timeout = (unsigned)config_int_or(d, "limits.idleTimeoutSeconds", 30);
    s->request_timeout_ms = config_int_or(d, "limits.requestTimeoutSeconds", 60) * 1000;
    /* Past the limit a few more are let in to be told 503; past those
     * libmicrohttpd closes a new connection at once. */
    unsigned over = s->max_conn / 16 > 16 ? s->max_conn / 16 : 16;

    if (!s->socket_path || !(s->hub = cass_hub_start(d, err))) {
        if (!s->socket_path)
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        server_free(s);
        return NULL;
    }
    for (; s->nworkers < API_WORKERS; s->nworkers++)
        if (pthread_create(&s->workers[s->nworkers], NULL, worker_main, s) != 0)
            break;
    if (s->nworkers == 0) {
        cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the API's workers");
        server_free(s);
        return NULL;
    }
    /* The TCP listener first: its certificate or address is what most
     * likely fails, before anything listens. */
    if (tcp_prepare(s, tcp_fd, err) < 0) {
        tcp_close(s);
        server_free(s);
        return NULL;
    }
    struct listener *l = &s->local;
    l->fd = listen_fd;
    snprintf(l->name, sizeof(l->name), "%s", path);
    if (l->fd >= 0) {
        /* Its path, owner and mode are the service manager's (the .socket
         * unit); it stays when this daemon stops. */
        char bound[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
        socket_name(l->fd, bound, sizeof(bound));
        if (strcmp(bound, path) != 0)
            log_warn("the API socket passed by the service manager is %s, not %s (socket)",
                     bound[0] ? bound : "unnamed", path);
    } else {
        l->fd = listen_unix(path, cass_daemon_config_str(d, "socketGroup"), err);
        if (l->fd < 0) {
            tcp_close(s);
            server_free(s);
            return NULL;
        }
        s->owns_path = true;
        l->owns_fd = true;
    }
    if (listener_start(s, l, over, err) < 0 ||
        (s->tcp.fd >= 0 && listener_start(s, &s->tcp, over, err) < 0)) {
        listener_stop(l);
        if (s->owns_path) {
            close(l->fd);
            unlink(path);
        }
        tcp_close(s);
        server_free(s);
        return NULL;
    }
    if (s->tcp.mhd && s->tcp.tls)
        log_info("API also on %s (TLS%s)", s->tcp.name,
                 s->tcp.client_cert ? "; clients need a certificate signed by listen.tls.clientCA"
                                    : "");
    else if (s->tcp.mhd)
        log_warn("API also on %s: plain HTTP, so loopback only (tokens cross it in the clear); "
                 "set listen.tls to serve other hosts",
                 s->tcp.name);
    return s;
}

void cass_server_stop(struct cass_server *s)
{
    if (!s)
        return;
    /* New connections wait in the socket's backlog for the next daemon
     * when the service manager holds it; the requests here finish first. */
    int fd = MHD_quiesce_daemon(s->local.mhd);
    int tfd = s->tcp.mhd ? MHD_quiesce_daemon(s->tcp.mhd) : -1;
    cass_routes_cancel_streams();
    unsigned left = cass_daemon_drain(&s->requests, &s->live, API_DRAIN_MS);
    if (left)
        log_warn("API: %u requests still in flight after %d s; cut short", left,
                 API_DRAIN_MS / 1000);
    /* Every suspended connection is resumed before libmicrohttpd stops:
     * the workers finish what they hold, the hub lets go of every stream
     * (which then ends, cancelled). */
    workers_stop(s);
    cass_hub_stop(s->hub);
    MHD_stop_daemon(TAKE_PTR(s->local.mhd));
    if (s->tcp.mhd)
        MHD_stop_daemon(TAKE_PTR(s->tcp.mhd));
    /* Freed only now: closing the connections left takes them out of it. */
    cass_hub_free(TAKE_PTR(s->hub));
    if (fd >= 0)
        close(fd);
    if (tfd >= 0)
        close(tfd);
    if (s->owns_path)
        unlink(s->socket_path);
    server_free(s);
}
