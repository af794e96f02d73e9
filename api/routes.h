/* REST routes and their handlers, independent of the HTTP library so that
 * they can be tested without a socket. */
#ifndef CASS_ROUTES_H
#define CASS_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "auth.h"
#include "daemon.h"
#include "error.h"
#include "stream.h"

struct MHD_Connection;

struct cass_api_request {
    struct cass_daemon *d;
    struct MHD_Connection *conn; /* for query arguments; NULL in tests */
    const char *method;
    const char *path;
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated, may be "" */
    size_t body_len;
    char actor[72]; /* who.from, for messages */
    json_t *query;  /* tests only: query arguments when conn is NULL (borrowed) */
    /* Who is calling (filled by the server before routing): the local admin
     * on the unix socket, a token's user on a network listener; scope NONE
     * with auth_error saying why when nobody could be authenticated. */
    struct cass_principal who;
    char auth_error[160];
    /* Where it came from: the TCP listener (listen:) or the unix socket;
     * who.from says who there ("ADDR:PORT" on TCP, "uid:N" on the socket). */
    bool network;
    bool tls; /* the connection is HTTPS: the dashboard's cookies are Secure */
    /* The dashboard's session (auth.h): who was authenticated by the
     * session cookie (no Authorization header), whose secret is kept here
     * for the CSRF check; credential says a token was shown at all (a
     * header or the cookie), for the audit of refusals. */
    bool via_cookie;
    bool credential;
    /* Set when a state-changing request fails the CSRF check (the session
     * cookie without its X-CSRF-Token, or another site's Origin): every
     * route answers it 403. */
    char csrf_error[200];
};

/* The response headers a handler may add: Set-Cookie, Location and the
 * dashboard's security headers. */
#define CASS_API_HEADERS_MAX 10

struct cass_api_header {
    const char *name; /* static */
    char *value;      /* owned */
};

struct cass_api_reply {
    unsigned status;
    const char *route; /* the matched route's pattern ("/v1/runs/{id}"), static; NULL: none */
    json_t *body;      /* owned by the reply */
    char *text;        /* alternative to body, owned */
    const char *content_type; /* for text */
    /* A streamed body (logs, events): stream_read fills buf and returns the
     * bytes written, 0 at the end, -1 on error, or CASS_STREAM_AGAIN with
     * *wait filled; it never blocks (it runs on the server's event loop).
     * stream_refill, when set, is called off the event loop after
     * wait->events fired: 1 when there is something to read. stream_free is
     * called once when the response is done or the client went away. */
    long (*stream_read)(void *ctx, char *buf, size_t max, struct cass_stream_wait *wait);
    int (*stream_refill)(void *ctx);
    void (*stream_free)(void *ctx);
    void *stream_ctx;
    unsigned retry_after;     /* seconds; sent as Retry-After when not 0 */
    const char *problem_type; /* static; on failure, the problem's type instead of the kind's */
    char allow[64];           /* a 405: the methods the path serves ("GET, HEAD"), sent as Allow */
    /* A body sent as it is, never copied (an embedded file): static. */
    const void *data;
    size_t data_len;
    const char *cache_control; /* static; NULL: no-store */
    struct cass_api_header headers[CASS_API_HEADERS_MAX];
    unsigned nheaders;
    bool audit_refusal;   /* audit this 401 as a refusal (a failed login) */
    bool not_refusal;     /* a 401 that answers a question ("who am I?"): not audited */
    int audit;            /* state-changing: append to the audit log */
    json_t *audit_detail; /* owned, may be NULL */
};

/* The problem types of the router's own answers, so that a client (and
 * tests/openapi) tells "no such route" from a handler's 404 ("no such spec"). */
#define CASS_PROBLEM_NO_ROUTE "urn:cassiny:problem:no-such-route"
#define CASS_PROBLEM_NO_METHOD "urn:cassiny:problem:method-not-allowed"
/* A state-changing request refused by the CSRF check (403). */
#define CASS_PROBLEM_CSRF "urn:cassiny:problem:csrf"

/* Adds a response header (name static, value copied); 0, or -1 when the
 * reply has CASS_API_HEADERS_MAX already or memory is out. */
int cass_routes_header_add(struct cass_api_reply *reply, const char *name, const char *value);

/* Frees what reply owns (body, text, headers, a stream not handed on) and
 * zeroes it. */
void cass_routes_reply_clear(struct cass_api_reply *reply);

/* Routes one request. On success fills reply (status and body or text) and
 * returns 0; on failure returns -1 with *err (and optionally reply->status
 * set to override the status derived from the error kind). */
int cass_routes_handle(struct cass_api_request *req, struct cass_api_reply *reply,
                       struct cass_error **err);

/* Calls fn with each route's method and path, in the form of
 * api/openapi.yaml ("/v1/specs/{name}"); HEAD, served wherever GET is, is
 * not listed. The strings are static. */
void cass_routes_foreach(void (*fn)(const char *method, const char *path, void *ctx), void *ctx);

/* Whether the raw request URI (before any decoding; the query after '?'
 * is not looked at) can name a route: 0 when its path, decoded, holds a
 * NUL, a control byte, a space or a byte above 0x7e, encodes a slash
 * ("a%2Fb" must not become two segments) or has a bad escape. */
int cass_routes_path_ok(const char *uri);

/* A query argument, borrowed; NULL when absent. */
const char *cass_routes_query(const struct cass_api_request *req, const char *key);

/* Whether the route of method and path answers from memory, never waiting
 * on the store or the engine: the server runs it on its event loop, the
 * others on its workers. */
bool cass_routes_inline(const char *method, const char *path);

/* Ends every open log follow (at shutdown). */
void cass_routes_cancel_streams(void);

#endif
