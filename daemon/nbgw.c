#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bytes.h"
#include "cleanup.h"
#include "hash.h"
#include "launch.h"
#include "lifecycle.h"
#include "log.h"
#include "nbgw.h"
#include "notebook.h"
#include "protocol.h"
#include "rotation.h"
#include "store.h"

/* A token longer than this is refused as malformed before any comparison
 * (a spec's token is at most 256 characters, a generated one 43). */
#define NBGW_TOKEN_MAX 512
/* The head of Jupyter's answer to a WebSocket upgrade. */
#define NBGW_HEAD_MAX (16u << 10)
#define NBGW_CONNECT_MS 2000
#define NBGW_HEAD_MS 10000
/* A relay that cannot write for this long ends (a client that stopped
 * reading). */
#define NBGW_SEND_MS 30000
#define NBGW_TIMEOUT_MS 300000L
/* How often the starting page reloads itself. */
#define NBGW_RETRY_S 2

struct ws {
    struct ws *next;
    struct cass_nbgw *n;
    int up; /* to Jupyter */
    MHD_socket client;
    struct MHD_UpgradeResponseHandle *urh;
    char *early; /* Jupyter's bytes after its 101 head, for the client first */
    size_t n_early;
    char *extra; /* the client's bytes libmicrohttpd read past its head */
    size_t n_extra;
};

/* Idle libcurl handles kept with their open connections to Jupyter: a
 * request to a notebook asked recently costs no TCP handshake. */
#define NBGW_IDLE_HANDLES 32

struct cass_nbgw {
    struct cass_daemon *d;
    CURL *idle[NBGW_IDLE_HANDLES];
    size_t n_idle;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct ws *open;   /* relays running */
    unsigned reserved; /* WebSockets being set up or relayed */
    bool closing;
};

struct cass_nbgw *cass_nbgw_new(struct cass_daemon *d)
{
    struct cass_nbgw *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->d = d;
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->changed, NULL);
    return n;
}

unsigned cass_nbgw_websockets(struct cass_nbgw *n)
{
    pthread_mutex_lock(&n->lock);
    unsigned k = n->reserved;
    pthread_mutex_unlock(&n->lock);
    return k;
}

void cass_nbgw_close_all(struct cass_nbgw *n)
{
    if (!n)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&n->lock);
    n->closing = true;
    /* Each relay sees its upstream end and closes both sides. */
    for (struct ws *w = n->open; w; w = w->next)
        shutdown(w->up, SHUT_RDWR);
    while (n->reserved > 0)
        if (pthread_cond_timedwait(&n->changed, &n->lock, &deadline) != 0)
            break;
    if (n->reserved)
        log_warn("gateway: %u notebook WebSockets still open at the stop", n->reserved);
    pthread_mutex_unlock(&n->lock);
}

void cass_nbgw_free(struct cass_nbgw *n)
{
    if (!n)
        return;
    cass_nbgw_close_all(n);
    for (size_t i = 0; i < n->n_idle; i++)
        curl_easy_cleanup(n->idle[i]);
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->changed);
    free(n);
}

/* A handle for one request (an idle one if any), NULL when out of memory. */
static CURL *handle_take(struct cass_nbgw *n)
{
    pthread_mutex_lock(&n->lock);
    CURL *c = n->n_idle ? n->idle[--n->n_idle] : NULL;
    pthread_mutex_unlock(&n->lock);
    if (c)
        curl_easy_reset(c);
    return c ? c : curl_easy_init();
}

static void handle_give(struct cass_nbgw *n, CURL *c)
{
    pthread_mutex_lock(&n->lock);
    if (n->n_idle < NBGW_IDLE_HANDLES) {
        n->idle[n->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&n->lock);
    if (c)
        curl_easy_cleanup(c);
}

static bool reserve(struct cass_nbgw *n)
{
    pthread_mutex_lock(&n->lock);
    bool ok = !n->closing && n->reserved < CASS_NBGW_MAX_WEBSOCKETS;
    if (ok)
        n->reserved++;
    pthread_mutex_unlock(&n->lock);
    return ok;
}

static void unreserve(struct cass_nbgw *n, struct ws *w)
{
    pthread_mutex_lock(&n->lock);
    if (w)
        for (struct ws **p = &n->open; *p; p = &(*p)->next)
            if (*p == w) {
                *p = w->next;
                break;
            }
    n->reserved--;
    pthread_cond_broadcast(&n->changed);
    pthread_mutex_unlock(&n->lock);
}

/* --- answers of the gateway's own ------------------------------------------ */

static bool wants_html(struct MHD_Connection *conn)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    return a && strstr(a, "text/html");
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r,
                             unsigned *ret_status)
{
    if (!r)
        return MHD_NO;
    *ret_status = status;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A small page for a browser: title and one paragraph (text is ours, with
 * the notebook's name, which is a DNS label: nothing to escape). */
static struct MHD_Response *page(const char *title, const char *text, bool refresh)
{
    _cleanup_free_ char *html = cass_xasprintf(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">%s"
        "<title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p></body></html>\n",
        refresh ? "<meta http-equiv=\"refresh\" content=\"2\">" : "", title, title, text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(html), html, MHD_RESPMEM_MUST_COPY);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    return r;
}

/* 401 (no credentials), 403 (wrong ones) or 400 (malformed ones): JSON, or
 * for a browser a page saying how to log in. */
static enum MHD_Result refuse(struct MHD_Connection *conn, const char *name, unsigned status,
                              const char *detail, unsigned *ret_status)
{
    struct MHD_Response *r;
    if (wants_html(conn) && status != 400) {
        _cleanup_free_ char *text = cass_xasprintf(
            "%s. Open the notebook's URL with its token, as <code>cassinyctl open %s</code> "
            "prints it (<code>/notebooks/%s/?token=&hellip;</code>): the gateway then keeps you "
            "logged in with a cookie.",
            detail, name, name);
        r = page(status == 401 ? "Log in to this notebook" : "Not your notebook", text, false);
    } else {
        r = cass_gateway_problem(status, detail);
    }
    if (r && status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"cassiny\", Token realm=\"cassiny\"");
    return queue(conn, status, r, ret_status);
}

/* 503 with Retry-After while the notebook starts: a self-reloading page for
 * browsers, a problem for API clients. */
static enum MHD_Result starting(struct MHD_Connection *conn, const char *name, const char *why,
                                unsigned *ret_status)
{
    _cleanup_free_ char *detail = cass_xasprintf("notebook %s is starting%s", name, why);
    struct MHD_Response *r;
    if (wants_html(conn)) {
        _cleanup_free_ char *text = cass_xasprintf(
            "Notebook <b>%s</b> is starting%s. This page reloads itself until it is ready.", name,
            why);
        r = page("Starting your notebook", text, true);
    } else {
        r = cass_gateway_problem(503, detail);
    }
    if (r) {
        char s[16];
        snprintf(s, sizeof(s), "%d", NBGW_RETRY_S);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, s);
    }
    return queue(conn, 503, r, ret_status);
}

static enum MHD_Result problem(struct MHD_Connection *conn, unsigned status, const char *detail,
                               unsigned *ret_status)
{
    return queue(conn, status, cass_gateway_problem(status, detail), ret_status);
}

/* --- who is asking ------------------------------------------------------------- */

/* The cookie's value for a notebook token: a digest of it, so that the
 * cookie never holds the token itself. */
static void cookie_value(const char *token, char out[CASS_SHA256_HEX_LEN + 1])
{
    _cleanup_free_ char *s = cass_xasprintf("cassiny-nb-cookie:%s", token);
    cass_hash_sha256_hex(s, strlen(s), out);
}

/* The Cookie header for Jupyter: the client's without Cassiny's own cookies
 * ("cassiny-*": the gateway's, and the dashboard's session, which holds an
 * API token, when the dashboard is served on the same host) (caller owns;
 * NULL when nothing is left). */
static char *cookies_upstream(const char *header)
{
    if (!header)
        return NULL;
    static const char ours[] = "cassiny-";
    size_t k = sizeof(ours) - 1;
    char *out = calloc(1, strlen(header) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const char *p = header; *p;) {
        p += strspn(p, " \t;");
        size_t n = strcspn(p, ";");
        if (n && !(n > k && strncmp(p, ours, k) == 0)) {
            if (o)
                out[o++] = ';', out[o++] = ' ';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = '\0';
    if (!o) {
        free(out);
        return NULL;
    }
    return out;
}

enum who { WHO_NOBODY, WHO_MALFORMED, WHO_WRONG, WHO_TOKEN, WHO_OWNER };

/* Decides who the request is from, against the notebook's token and its
 * owner. *login is set when it logged in with ?token= (the answer sets the
 * cookie); detail says why when it is refused. */
static enum who authenticate(struct cass_nbgw *n, struct MHD_Connection *conn, const char *token,
                             const char *owner, bool *login, const char **detail)
{
    *login = false;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *query = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (auth) {
        size_t sp = strcspn(auth, " ");
        const char *v = auth + sp + strspn(auth + sp, " ");
        size_t vn = strlen(v);
        while (vn && v[vn - 1] == ' ')
            vn--;
        bool is_token = sp == 5 && strncasecmp(auth, "token", 5) == 0;
        bool is_bearer = sp == 6 && strncasecmp(auth, "bearer", 6) == 0;
        if (!is_token && !is_bearer) {
            *detail = "the Authorization header must be \"token TOKEN\" (the notebook's token) or "
                      "\"Bearer SECRET\" (an API token)";
            return WHO_MALFORMED;
        }
        if (vn == 0 || vn > NBGW_TOKEN_MAX || memchr(v, ' ', vn)) {
            *detail = vn ? "the Authorization header's token is malformed or too long"
                         : "the Authorization header has no token";
            return WHO_MALFORMED;
        }
        if (is_token) {
            if (token && cass_hash_same_secret(v, vn, token))
                return WHO_TOKEN;
            *detail = "that is not this notebook's token";
            return WHO_WRONG;
        }
        struct cass_principal p;
        _cleanup_error_ struct cass_error *aerr = NULL;
        char from[72] = "unknown";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr)
            cass_auth_format_addr(ci->client_addr, from, sizeof(from));
        /* As on the API: an unknown, revoked or expired token is no
         * credential (401, audited by cass_auth_bearer). */
        if (cass_auth_bearer(n->d, auth, from, &p, &aerr) < 0) {
            *detail = "the API token is unknown, revoked or expired";
            return WHO_NOBODY;
        }
        /* The owner's only, an admin's token too: an admin may stop a
         * notebook, not open it (as its URL is shown to its owner only). */
        if (!cass_auth_sees_secrets(&p, owner)) {
            *detail = "this notebook is not yours";
            return WHO_WRONG;
        }
        return WHO_OWNER;
    }
    if (query) {
        size_t qn = strlen(query);
        if (qn == 0 || qn > NBGW_TOKEN_MAX) {
            *detail = qn ? "the token is too long" : "the token is empty";
            return WHO_MALFORMED;
        }
        if (token && cass_hash_same_secret(query, qn, token)) {
            *login = true;
            return WHO_TOKEN;
        }
        *detail = "that is not this notebook's token";
        return WHO_WRONG;
    }
    size_t cn = 0;
    const char *cookie = cass_auth_cookie_find(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie"), CASS_NBGW_COOKIE, &cn);
    if (cookie) {
        char want[CASS_SHA256_HEX_LEN + 1];
        if (token) {
            cookie_value(token, want);
            if (cass_hash_same_secret(cookie, cn, want))
                return WHO_TOKEN;
        }
        *detail = "the login cookie is no longer valid (the notebook's token changed)";
        return WHO_WRONG;
    }
    *detail = "this notebook needs its token or its owner's API token";
    return WHO_NOBODY;
}

/* The notebook's token: the run's, or while a new run has none yet (it is
 * pending), the newest earlier run's, which it inherits (kind_notebook.c).
 * Borrowed from runs. */
static const char *notebook_token(struct cass_daemon *d, const char *name, const json_t *run,
                                  json_t **runs)
{
    const char *t = json_string_value(json_object_get(run, "token"));
    if (t)
        return t;
    struct cass_store_run_filter f = {.name = name, .kind = "Notebook", .limit = 5};
    *runs = cass_store_run_list(d->store, &f, NULL, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(*runs, i, r)
    {
        if ((t = json_string_value(json_object_get(r, "token"))))
            return t;
    }
    return NULL;
}

/* --- HTTP ------------------------------------------------------------------------ */

struct upbuf {
    char *body;
    size_t len, cap;
    bool too_large;
    struct curl_slist *headers; /* the answer's header lines to pass on */
};

static size_t up_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct upbuf *u = ud;
    size_t n = size * nmemb;
    if (u->len + n > CASS_NBGW_MAX_BODY) {
        u->too_large = true;
        return 0;
    }
    return cass_bytes_append(&u->body, &u->len, &u->cap, data, n) < 0 ? 0 : n;
}

/* Headers of Jupyter's answer that are the connection's, not the answer's:
 * libmicrohttpd writes its own. */
static bool hop_by_hop(const char *line, size_t k)
{
    static const char *const names[] = {"Connection",     "Keep-Alive", "Transfer-Encoding",
                                        "Content-Length", "Server",     "Date",
                                        "Upgrade"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == k && strncasecmp(line, names[i], k) == 0)
            return true;
    return false;
}

static size_t up_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct upbuf *u = ud;
    size_t total = size * nmemb, n = total;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new answer (after a 100 Continue): its headers only. */
        curl_slist_free_all(u->headers);
        u->headers = NULL;
        return total;
    }
    size_t k = 0;
    while (k < n && data[k] != ':' && data[k] != '\r' && data[k] != '\n')
        k++;
    if (k == 0 || k >= n || data[k] != ':' || hop_by_hop(data, k))
        return total;
    while (n && (data[n - 1] == '\r' || data[n - 1] == '\n'))
        n--;
    _cleanup_free_ char *line = strndup(data, n);
    if (line)
        u->headers = curl_slist_append(u->headers, line);
    return total;
}

/* Adds Jupyter's header lines to r; a Location that points at Jupyter's own
 * address becomes a path (the gateway's, since the base URL matches). */
static void pass_headers(struct MHD_Response *r, const struct curl_slist *h, const char *upstream)
{
    size_t ul = strlen(upstream);
    for (; h; h = h->next) {
        const char *line = h->data;
        size_t k = strcspn(line, ":");
        _cleanup_free_ char *name = strndup(line, k);
        const char *v = line + k + 1;
        v += strspn(v, " \t");
        if (!name)
            continue;
        if (strcasecmp(name, "Location") == 0 && strncmp(v, upstream, ul) == 0 && v[ul] == '/')
            v += ul;
        MHD_add_response_header(r, name, v);
    }
}

struct hdr_ctx {
    struct curl_slist *list;
    bool websocket; /* the raw lines for a replayed upgrade */
};

/* The client's headers that Jupyter needs; Authorization and Cookie are
 * set by the gateway. For a WebSocket, every header but those (Host,
 * Origin, Upgrade, Sec-WebSocket-*: Jupyter checks the origin against the
 * host). */
static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct hdr_ctx *c = cls;
    static const char *const http[] = {
        "Content-Type",     "Accept",        "Accept-Encoding",   "X-XSRFToken",
        "X-Requested-With", "If-None-Match", "If-Modified-Since", "Range",
        "Accept-Language"};
    if (strcasecmp(key, "Authorization") == 0 || strcasecmp(key, "Cookie") == 0 || !value)
        return MHD_YES;
    bool pass = c->websocket;
    for (size_t i = 0; !pass && i < sizeof(http) / sizeof(http[0]); i++)
        pass = strcasecmp(key, http[i]) == 0;
    if (pass) {
        _cleanup_free_ char *line = cass_xasprintf("%s: %s", key, value);
        c->list = curl_slist_append(c->list, line);
    }
    return MHD_YES;
}

/* The headers to send Jupyter (caller frees): the client's that matter, its
 * cookies but the gateway's, and the notebook's token. */
static struct curl_slist *upstream_headers(struct MHD_Connection *conn, const char *token,
                                           bool websocket)
{
    struct hdr_ctx c = {.websocket = websocket};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &c);
    _cleanup_free_ char *auth = cass_xasprintf("Authorization: token %s", token);
    c.list = curl_slist_append(c.list, auth);
    _cleanup_free_ char *cookies =
        cookies_upstream(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie"));
    if (cookies) {
        _cleanup_free_ char *line = cass_xasprintf("Cookie: %s", cookies);
        c.list = curl_slist_append(c.list, line);
    }
    if (!websocket)
        c.list = curl_slist_append(c.list, "Expect:");
    return c.list;
}

/* Secure when the connection itself is TLS (libmicrohttpd's HTTPS says
 * which protocol; plain HTTP has none). */
static void login_cookie(struct MHD_Connection *conn, struct MHD_Response *r, const char *name,
                         const char *token)
{
    char v[CASS_SHA256_HEX_LEN + 1];
    cookie_value(token, v);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_PROTOCOL);
    bool tls = ci != NULL;
    _cleanup_free_ char *c =
        cass_xasprintf("%s=%s; Path=/notebooks/%s/; HttpOnly; SameSite=Strict%s", CASS_NBGW_COOKIE,
                       v, name, tls ? "; Secure" : "");
    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, c);
}

int cass_nbgw_endpoint_refresh(struct cass_daemon *d, const json_t *run, char host[64], int *port)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    struct cass_backend *b = d->lifecycle ? cass_lifecycle_backend(d->lifecycle) : NULL;
    _cleanup_json_ json_t *doc = cass_run_doc(d, run, NULL);
    json_int_t cport = json_integer_value(json_object_get(json_object_get(doc, "spec"), "port"));
    if (!cid || !b || cport <= 0)
        return -1;
    char h[64];
    int p = 0;
    _cleanup_error_ struct cass_error *err = NULL;
    if (b->ops->endpoint(b, cid, (int)cport, h, &p, &err) < 0) {
        log_debug("gateway: notebook run %s: %s", id, err ? err->message : "no address");
        return -1;
    }
    if (strcmp(h, host) == 0 && p == *port)
        return -1; /* the same: it is not the address that failed */
    log_info("gateway: notebook run %s now at %s:%d (was %s:%d)", id, h, p, host, *port);
    _cleanup_json_ json_t *ch = json_pack("{s:{s:s,s:i}}", "endpoint", "host", h, "port", p);
    cass_store_run_update(d->store, id, ch, NULL, NULL);
    snprintf(host, 64, "%s", h);
    *port = p;
    return 0;
}

/* The same from a gateway process (--gateway-only), which has no engine:
 * the daemon is asked through the rotation's table and the run watched for
 * the address it records, for at most 3 s. */
static int endpoint_refresh(struct cass_nbgw *n, const json_t *run, char host[64], int *port)
{
    struct cass_daemon *d = n->d;
    if (d->role != CASS_ROLE_GATEWAY)
        return cass_nbgw_endpoint_refresh(d, run, host, port);
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    if (!id || cass_rotation_request(d->rotation, CASS_ROTATION_ENDPOINT, name ? name : "", id) < 0)
        return -1;
    for (int waited = 0; waited < 3000; waited += 100) {
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
        _cleanup_json_ json_t *now = cass_store_run_get(d->store, id, NULL);
        char h[64];
        int p = 0;
        const char *prefix = NULL;
        if (now && cass_notebook_endpoint(now, h, &p, &prefix) == 0 &&
            (strcmp(h, host) != 0 || p != *port)) {
            snprintf(host, 64, "%s", h);
            *port = p;
            return 0;
        }
    }
    return -1;
}

/* forward_http's answer when the connection to Jupyter could not be made
 * and the caller asked to try again (the address may have changed). */
#define FORWARD_RETRY ((enum MHD_Result) - 1)

static enum MHD_Result forward_http(struct cass_nbgw *n, struct MHD_Connection *conn,
                                    const char *name, const char *host, int port,
                                    const char *raw_uri, const char *method, const char *body,
                                    size_t len, const char *token, bool login, bool may_retry,
                                    unsigned *ret_status)
{
    _cleanup_free_ char *upstream = cass_xasprintf("http://%s:%d", host, port);
    _cleanup_free_ char *url = cass_xasprintf("%s%s", upstream, raw_uri);
    CURL *c = handle_take(n);
    if (!c)
        return MHD_NO;
    struct curl_slist *hdrs = upstream_headers(conn, token, false);
    struct upbuf u = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)NBGW_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, NBGW_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, up_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &u);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, up_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &u);
    /* Compressed or not, the bytes pass as Jupyter sent them. */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
             strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK)
        handle_give(n, c);
    else
        curl_easy_cleanup(c);
    if (rc != CURLE_OK || status < 100 || status > 599) {
        bool answered = u.headers != NULL;
        free(u.body);
        curl_slist_free_all(u.headers);
        log_debug("gateway: notebook %s: %s", name, curl_easy_strerror(rc));
        if (may_retry &&
            (rc == CURLE_COULDNT_CONNECT || (rc == CURLE_OPERATION_TIMEDOUT && !answered)))
            return FORWARD_RETRY;
        return problem(conn, 502,
                       u.too_large ? "the notebook's answer is larger than the gateway passes "
                                     "(64 MiB)"
                                   : "the notebook failed to answer",
                       ret_status);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(u.len, u.body ? u.body : (void *)"",
                                        u.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(u.body);
        curl_slist_free_all(u.headers);
        return MHD_NO;
    }
    pass_headers(r, u.headers, upstream);
    curl_slist_free_all(u.headers);
    if (login)
        login_cookie(conn, r, name, token);
    return queue(conn, (unsigned)status, r, ret_status);
}

/* --- WebSocket --------------------------------------------------------------------- */

/* Writes all of buf to fd, waiting for room at most NBGW_SEND_MS each time;
 * 0, or -1 when fd is gone or stuck. */
static int send_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
        if (k > 0) {
            buf += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, NBGW_SEND_MS) == 1 && !(p.revents & (POLLERR | POLLNVAL)))
                continue;
        }
        return -1;
    }
    return 0;
}

/* Copies bytes both ways until either side ends; then both are closed (a
 * frame the client sends after Jupyter went finds a closed connection). */
static void *relay(void *arg)
{
    struct ws *w = arg;
    char buf[16384];
    /* Frames go on at once: Nagle's wait for an ACK, against the peer's
     * delayed ACK, cost some 40 ms per kernel reply (measured). */
    int one = 1;
    setsockopt(w->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(w->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool ok = send_all(w->up, w->extra, w->n_extra) == 0 &&
              send_all(w->client, w->early, w->n_early) == 0;
    while (ok) {
        struct pollfd p[2] = {{.fd = w->client, .events = POLLIN}, {.fd = w->up, .events = POLLIN}};
        int k = poll(p, 2, -1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        for (int i = 0; i < 2 && ok; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
                continue;
            ssize_t got = recv(p[i].fd, buf, sizeof(buf), 0);
            if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                continue;
            ok = got > 0 && send_all(p[1 - i].fd, buf, (size_t)got) == 0;
        }
    }
    shutdown(w->up, SHUT_RDWR);
    close(w->up);
    MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
    struct cass_nbgw *n = w->n;
    free(w->early);
    free(w->extra);
    unreserve(n, w);
    free(w);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct ws *w = cls;
    struct cass_nbgw *n = w->n;
    w->client = sock;
    w->urh = urh;
    if (extra_in_size && (w->extra = malloc(extra_in_size))) {
        memcpy(w->extra, extra_in, extra_in_size);
        w->n_extra = extra_in_size;
    }
    pthread_mutex_lock(&n->lock);
    w->next = n->open;
    n->open = w;
    if (n->closing)
        shutdown(w->up, SHUT_RDWR);
    pthread_mutex_unlock(&n->lock);
    /* A thread per WebSocket (at most CASS_NBGW_MAX_WEBSOCKETS): each blocks
     * in poll() on its two sockets only. */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128u << 10);
    int e = pthread_create(&t, &attr, relay, w);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        log_warn("gateway: no thread for a notebook WebSocket: %s", strerror(e));
        close(w->up);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        free(w->early);
        free(w->extra);
        unreserve(n, w);
        free(w);
    }
}

/* A TCP connection to host:port within NBGW_CONNECT_MS; the socket or -1. */
static int connect_to(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int e = 0;
    socklen_t el = sizeof(e);
    if (poll(&p, 1, NBGW_CONNECT_MS) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 ||
        e != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads Jupyter's answer head (up to its blank line) into head; what came
 * after it goes to *ret_early. The status, or -1. */
static int read_head(int fd, char *head, size_t cap, char **ret_early, size_t *ret_n)
{
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left =
            NBGW_HEAD_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return -1;
        ssize_t k = recv(fd, head + len, cap - 1 - len, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        len += (size_t)k;
        head[len] = '\0';
        char *end = strstr(head, "\r\n\r\n");
        if (end) {
            size_t hl = (size_t)(end - head) + 4;
            if (len > hl && (*ret_early = malloc(len - hl))) {
                memcpy(*ret_early, head + hl, len - hl);
                *ret_n = len - hl;
            }
            head[hl - 2] = '\0';
            int status = 0;
            if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
                return -1;
            return status;
        }
        if (len == cap - 1)
            return -1;
    }
}

/* Adds the headers of Jupyter's 101 that the client needs. */
static void pass_upgrade_headers(struct MHD_Response *r, char *head)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save); /* the status line */
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *v = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(line, "Upgrade") == 0 || strncasecmp(line, "Sec-WebSocket-", 14) == 0 ||
            strcasecmp(line, "Set-Cookie") == 0)
            MHD_add_response_header(r, line, v);
    }
}

static enum MHD_Result forward_websocket(struct cass_nbgw *n, struct MHD_Connection *conn,
                                         const char *name, const char *host, int port,
                                         const char *raw_uri, const char *token,
                                         unsigned *ret_status)
{
    if (!reserve(n))
        return problem(conn, 503, "too many notebook WebSockets are open through the gateway",
                       ret_status);
    int up = connect_to(host, port);
    if (up < 0) {
        unreserve(n, NULL);
        return problem(conn, 502, "the notebook does not answer", ret_status);
    }
    /* The client's upgrade request, replayed, with the notebook's token. */
    struct curl_slist *hdrs = upstream_headers(conn, token, true);
    char *req = NULL;
    size_t rlen = 0;
    FILE *f = open_memstream(&req, &rlen);
    if (f) {
        fprintf(f, "GET %s HTTP/1.1\r\n", raw_uri);
        for (struct curl_slist *h = hdrs; h; h = h->next)
            fprintf(f, "%s\r\n", h->data);
        fputs("\r\n", f);
        fclose(f);
    }
    curl_slist_free_all(hdrs);
    char head[NBGW_HEAD_MAX];
    char *early = NULL;
    size_t n_early = 0;
    int status = req && send_all(up, req, rlen) == 0
                     ? read_head(up, head, sizeof(head), &early, &n_early)
                     : -1;
    free(req);
    if (status != 101) {
        close(up);
        free(early);
        unreserve(n, NULL);
        if (status < 0)
            return problem(conn, 502, "the notebook failed to answer the WebSocket upgrade",
                           ret_status);
        _cleanup_free_ char *detail =
            cass_xasprintf("the notebook answered %d to the WebSocket upgrade", status);
        return problem(conn, status >= 400 && status < 600 ? (unsigned)status : 502, detail,
                       ret_status);
    }
    struct ws *w = calloc(1, sizeof(*w));
    struct MHD_Response *r = w ? MHD_create_response_for_upgrade(on_upgrade, w) : NULL;
    if (!r) {
        close(up);
        free(early);
        free(w);
        unreserve(n, NULL);
        return MHD_NO;
    }
    w->n = n;
    w->up = up;
    w->early = early;
    w->n_early = n_early;
    pass_upgrade_headers(r, head);
    log_debug("gateway: notebook %s: WebSocket %s", name, raw_uri);
    *ret_status = 101;
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    if (ret != MHD_YES) {
        close(up);
        free(early);
        free(w);
        unreserve(n, NULL);
    }
    return ret;
}

static bool is_upgrade(struct MHD_Connection *conn)
{
    const char *u = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
    const char *c = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
    return u && c && strcasecmp(u, "websocket") == 0 && strcasestr(c, "upgrade");
}

/* --- the route ---------------------------------------------------------------------- */

enum MHD_Result cass_nbgw_request(struct cass_nbgw *n, struct MHD_Connection *conn, const char *url,
                                  const char *raw_uri, const char *method, const char *body,
                                  size_t len, unsigned *ret_status)
{
    struct cass_daemon *d = n->d;
    *ret_status = 0;
    const char *p = url + strlen("/notebooks/");
    size_t nlen = strcspn(p, "/");
    char name[64];
    if (nlen == 0 || nlen > 63 || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") < nlen)
        return problem(conn, 404, "no notebook name in the path", ret_status);
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    if (!p[nlen]) {
        /* /notebooks/NAME: the notebook is at /notebooks/NAME/. */
        const char *q = strchr(raw_uri, '?');
        _cleanup_free_ char *to = cass_xasprintf("/notebooks/%s/%s", name, q ? q : "");
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
        return queue(conn, 301, r, ret_status);
    }
    _cleanup_error_ struct cass_error *serr = NULL;
    _cleanup_json_ json_t *spec = d->store ? cass_store_spec_get(d->store, name, &serr) : NULL;
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    if (!kind || strcmp(kind, "Notebook") != 0) {
        _cleanup_free_ char *detail = cass_xasprintf("there is no notebook %s", name);
        return problem(conn, 404, detail, ret_status);
    }
    const char *run_id = json_string_value(json_object_get(spec, "runId"));
    _cleanup_json_ json_t *run = run_id ? cass_store_run_get(d->store, run_id, NULL) : NULL;
    _cleanup_json_ json_t *runs = NULL;
    const char *token = notebook_token(d, name, run, &runs);
    const char *owner = json_string_value(json_object_get(run, "owner"));
    if (!owner)
        owner = json_string_value(json_object_get(spec, "owner"));
    bool login = false;
    const char *detail = NULL;
    switch (authenticate(n, conn, token, owner, &login, &detail)) {
    case WHO_NOBODY:
        return refuse(conn, name, 401, detail, ret_status);
    case WHO_MALFORMED:
        return refuse(conn, name, 400, detail, ret_status);
    case WHO_WRONG:
        return refuse(conn, name, 403, detail, ret_status);
    case WHO_TOKEN:
    case WHO_OWNER:
        break;
    }
    const char *status = json_string_value(json_object_get(run, "status"));
    const char *reason = json_string_value(json_object_get(run, "reason"));
    if (status && strcmp(status, "stopped") == 0 && reason && strncmp(reason, "idle", 4) == 0) {
        /* Culled is not gone: its owner's request starts it again. */
        _cleanup_error_ struct cass_error *werr = NULL;
        _cleanup_json_ json_t *woken = NULL;
        if (d->role == CASS_ROLE_GATEWAY) {
            /* A gateway process asks the daemon, which starts it as below. */
            if (cass_rotation_request(d->rotation, CASS_ROTATION_WAKE, name, run_id) < 0)
                return problem(conn, 503, "the daemon has too many requests queued; try again",
                               ret_status);
        } else if (!(woken = cass_lifecycle_wake(d, name, run_id, &werr)) &&
                   werr->kind != CASS_ERR_CONFLICT) {
            _cleanup_free_ char *msg =
                cass_xasprintf("notebook %s cannot be started again: %s", name, werr->message);
            return problem(conn, 503, msg, ret_status);
        }
        return starting(conn, name, " again (it was stopped after being idle)", ret_status);
    }
    if (!status || (cass_store_status_final(status))) {
        _cleanup_free_ char *msg =
            cass_xasprintf("notebook %s is not running (%s%s%s); apply it again to start it", name,
                           status ? status : "no run", reason ? ": " : "", reason ? reason : "");
        return problem(conn, 503, msg, ret_status);
    }
    char host[64];
    int port = 0;
    const char *prefix = NULL;
    if (strcmp(status, "ready") != 0)
        return starting(conn, name, "", ret_status);
    if (!token || cass_notebook_endpoint(run, host, &port, &prefix) < 0)
        return problem(conn, 503, "the notebook's run records no address to reach it at",
                       ret_status);
    /* Jupyter serves under /notebooks/NAME/ (its base URL): the path goes as
     * it came; a server at "/" (not Jupyter, or a run from before) gets it
     * without that prefix. */
    const char *seg = strncmp(raw_uri, "/notebooks/", 11) == 0 ? strchr(raw_uri + 11, '/') : NULL;
    if (!seg)
        return problem(conn, 404, "no notebook name in the path", ret_status);
    if (strcmp(prefix, "/") == 0)
        raw_uri = seg;
    if (is_upgrade(conn))
        return forward_websocket(n, conn, name, host, port, raw_uri, token, ret_status);
    enum MHD_Result ret = forward_http(n, conn, name, host, port, raw_uri, method, body, len, token,
                                       login, true, ret_status);
    if (ret != FORWARD_RETRY)
        return ret;
    /* A container started again (docker restart, an engine restart) may
     * have a new address on the network, or a new host port: asked of the
     * engine, recorded, and tried once more. */
    if (endpoint_refresh(n, run, host, &port) < 0)
        return problem(conn, 502, "the notebook failed to answer", ret_status);
    ret = forward_http(n, conn, name, host, port, raw_uri, method, body, len, token, login, false,
                       ret_status);
    return ret == FORWARD_RETRY ? MHD_NO : ret;
}
