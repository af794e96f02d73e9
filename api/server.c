#include "config.h"

#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "log.h"
#include "problem.h"
#include "protocol.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct cass_server {
    struct cass_daemon *d;
    struct MHD_Daemon *mhd;
    char *socket_path;
    size_t max_body;
};

/* Per-request state, kept by libmicrohttpd between calls of the handler. */
struct request {
    char *body;
    size_t len, cap;
    int too_large;
    int started;  /* the access handler has seen it */
    int bad_path; /* the raw path holds a byte no name can: refused with 400 */
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
    free(r->body);
    free(r);
}

/* event_id >= 0 is sent as X-Cassiny-Event-Id (see dispatch). */
static void add_event_id(struct MHD_Response *resp, long long event_id)
{
    if (event_id < 0)
        return;
    char id[32];
    snprintf(id, sizeof(id), "%lld", event_id);
    MHD_add_response_header(resp, CASS_HEADER_EVENT_ID, id);
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
                                 const char *content_type, const char *text, size_t len,
                                 long long event_id)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    add_event_id(resp, event_id);
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status,
                                 const char *content_type, const json_t *body, long long event_id)
{
    _cleanup_free_ char *text = json_dumps(body, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return send_text(conn, 500, CASS_MEDIA_PROBLEM, "{\"status\":500}", 14, -1);
    size_t n = strlen(text);
    text[n] = '\0';
    _cleanup_free_ char *withnl = malloc(n + 2);
    if (!withnl)
        return MHD_NO;
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    return send_text(conn, status, content_type, withnl, n + 1, event_id);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct cass_api_reply *r = cls;
    long n = r->stream_read(r->stream_ctx, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_done(void *cls)
{
    struct cass_api_reply *r = cls;
    if (r->stream_free)
        r->stream_free(r->stream_ctx);
    free(r);
}

/* Hands the stream of reply to libmicrohttpd, which owns it from here. */
static enum MHD_Result send_stream(struct MHD_Connection *conn, unsigned status,
                                   const char *content_type, struct cass_api_reply *reply,
                                   long long event_id)
{
    struct cass_api_reply *copy = malloc(sizeof(*copy));
    if (!copy) {
        if (reply->stream_free)
            reply->stream_free(reply->stream_ctx);
        return MHD_NO;
    }
    *copy = *reply;
    reply->stream_read = NULL;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  stream_reader, copy, stream_done);
    if (!resp) {
        stream_done(copy);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type ? content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    add_event_id(resp, event_id);
    /* Follows last as long as the client wants. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_problem(struct MHD_Connection *conn, unsigned status,
                                    const char *detail)
{
    _cleanup_json_ json_t *p = cass_problem_new(status, detail);
    return send_json(conn, status, CASS_MEDIA_PROBLEM, p, -1);
}

static void count_status(struct cass_daemon *d, unsigned status)
{
    atomic_fetch_add(&d->requests_total, 1);
    if (status >= 500)
        atomic_fetch_add(&d->requests_5xx, 1);
    else if (status >= 400)
        atomic_fetch_add(&d->requests_4xx, 1);
}

/* Who is calling: the peer's uid on the unix socket. */
static void peer_actor(struct MHD_Connection *conn, char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        snprintf(buf, n, "uid:%u", (unsigned)cred.uid);
}

static enum MHD_Result dispatch(struct cass_server *s, struct MHD_Connection *conn,
                                const char *method, const char *url, struct request *r)
{
    struct cass_api_request req = {
        .d = s->d,
        .conn = conn,
        .method = method,
        .path = url,
        .body = r->body ? r->body : "",
        .body_len = r->len,
    };
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    peer_actor(conn, req.actor, sizeof(req.actor));

    struct cass_api_reply reply = {.status = 200};
    _cleanup_error_ struct cass_error *err = NULL;
    /* X-Cassiny-Event-Id: the last event id before a state-changing request
     * (or an event stream) was handled. Every event the request causes has
     * a greater id, so GET /v1/events?since=N misses none of them. */
    long long event_id = -1;
    if (s->d->store && ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
                        strcmp(url, "/v1/events") == 0))
        event_id = cass_store_audit_last_id(s->d->store, NULL);
    int rc = cass_routes_handle(&req, &reply, &err);
    enum MHD_Result ret;
    unsigned status;
    if (rc < 0) {
        if (!err)
            cass_error_set(&err, CASS_ERR_INTERNAL, "handler failed without an error");
        status = reply.status >= 400 ? reply.status : cass_problem_status(err);
        _cleanup_json_ json_t *p = cass_problem_from_error(err);
        if (p) {
            json_object_set_new(p, "status", json_integer(status));
            json_object_set_new(p, "title", json_string(cass_problem_title(status)));
        }
        if (status >= 500)
            log_error("%s %s: %s", method, url, err->message ? err->message : "?");
        else
            log_debug("%s %s: %u %s", method, url, status, err->message ? err->message : "");
        ret = send_json(conn, status, CASS_MEDIA_PROBLEM, p, event_id);
    } else if (reply.stream_read) {
        status = reply.status;
        ret = send_stream(conn, status, reply.content_type, &reply, event_id);
    } else if (reply.text) {
        status = reply.status;
        ret = send_text(conn, status, reply.content_type ? reply.content_type : "text/plain",
                        reply.text, strlen(reply.text), event_id);
    } else {
        status = reply.status;
        ret = send_json(conn, status, CASS_MEDIA_JSON, reply.body ? reply.body : json_null(),
                        event_id);
    }
    count_status(s->d, status);
    if (reply.audit && s->d->store) {
        _cleanup_error_ struct cass_error *aerr = NULL;
        if (cass_store_audit_append(s->d->store, req.actor, method, url, (int)status,
                                    reply.audit_detail, &aerr) < 0)
            log_warn("audit: %s", aerr->message);
    }
    json_decref(reply.body);
    json_decref(reply.audit_detail);
    free(reply.text);
    return ret;
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
        if (r->bad_path) {
            count_status(s->d, 400);
            return send_problem(conn, 400,
                                "the path holds a byte that no name or route can: a NUL, a "
                                "control byte, a space, an encoded slash or a bad escape");
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
                count_status(s->d, 413);
                char detail[128];
                snprintf(detail, sizeof(detail), "request body larger than %zu bytes", s->max_body);
                return send_problem(conn, 413, detail);
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
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 8192;
            while (cap < r->len + n + 1)
                cap *= 2;
            char *b = realloc(r->body, cap);
            if (!b)
                return MHD_NO;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }

    if (r->too_large) {
        count_status(s->d, 413);
        char detail[128];
        snprintf(detail, sizeof(detail), "request body larger than %zu bytes", s->max_body);
        return send_problem(conn, 413, detail);
    }
    return dispatch(s, conn, method, url, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_free(*con_cls);
    *con_cls = NULL;
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

struct cass_server *cass_server_start(struct cass_daemon *d, struct cass_error **err)
{
    const char *path = cass_daemon_config_str(d, "socket");
    if (!path || !*path) {
        cass_error_set(err, CASS_ERR_INVALID, "no socket path configured");
        return NULL;
    }
    if (json_object_get(d->config, "listen")) {
        cass_error_set(err, CASS_ERR_INVALID,
                       "listen: the TCP listener is not available in this version; use the "
                       "unix socket");
        return NULL;
    }
    struct cass_server *s = calloc(1, sizeof(*s));
    if (!s) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->d = d;
    s->socket_path = strdup(path);
    json_int_t max_body = cass_daemon_config_int(d, "limits.maxBodyBytes");
    s->max_body = max_body > 0 ? (size_t)max_body : CASS_MAX_BODY_BYTES;
    json_int_t max_conn = cass_daemon_config_int(d, "limits.maxConnections");
    if (max_conn <= 0)
        max_conn = 64;

    int fd = listen_unix(path, cass_daemon_config_str(d, "socketGroup"), err);
    if (fd < 0) {
        free(s->socket_path);
        free(s);
        return NULL;
    }
    /* A thread per connection: log follows and event streams block for long
     * times; the connection limit bounds the threads. poll(), not select():
     * a descriptor past FD_SETSIZE (the gateway's connections count too)
     * must not make the API refuse connections. */
    s->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)max_conn, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        unlink(path);
        free(s->socket_path);
        free(s);
        cass_error_set(err, CASS_ERR_INTERNAL, "libmicrohttpd failed to start on %s", path);
        return NULL;
    }
    return s;
}

void cass_server_stop(struct cass_server *s)
{
    if (!s)
        return;
    MHD_quiesce_daemon(s->mhd);
    cass_routes_cancel_streams();
    MHD_stop_daemon(s->mhd);
    unlink(s->socket_path);
    free(s->socket_path);
    free(s);
}
