/* A small HTTP client over libcurl, speaking to a unix socket
 * ("unix:///run/cassiny.sock") or TCP ("http://127.0.0.1:8080"). Used by
 * the engine client (to the Docker socket) and by cassinyctl (to cassinyd).
 * One handle is not thread-safe; make one per thread. */
#ifndef CASS_HTTP_H
#define CASS_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "error.h"

struct cass_http;

struct cass_http_response {
    long status;
    char *content_type; /* owned, may be NULL */
    char *body;         /* owned, NUL-terminated, may contain NULs before len */
    size_t len;
};

/* Returns a new handle (caller owns; cass_http_free). host is "unix:///path",
 * "http://host:port", "https://host:port" or "tcp://host:port" (Docker's
 * way of writing http://host:port). */
struct cass_http *cass_http_new(const char *host, struct cass_error **err);
void cass_http_free(struct cass_http *h);

/* Bearer token sent with every request; NULL to clear. The string is copied. */
void cass_http_set_token(struct cass_http *h, const char *token);
/* One more header sent with every request ("name: value"), or none with
 * name NULL; -1 when value holds a line break or memory runs out. */
int cass_http_set_header(struct cass_http *h, const char *name, const char *value);
/* For https:// hosts: the server's certificate is verified (chain and host
 * name) against the CA certificates in the PEM file path, or with NULL the
 * system's store. -1 with *err when path cannot be opened. */
int cass_http_set_cacert(struct cass_http *h, const char *path, struct cass_error **err);
/* Whether the last transfer on h failed because the server's certificate
 * was not trusted (the error's message says why). */
int cass_http_untrusted(const struct cass_http *h);
/* Whole-request timeout in milliseconds; 0 for none (streams). */
void cass_http_set_timeout(struct cass_http *h, long timeout_ms);
/* Largest body a buffered request accepts (default 64 MiB). */
void cass_http_set_max_body(struct cass_http *h, size_t max);

/* Buffered request. body may be NULL. ret is filled on success (status may be
 * any HTTP status; only transport failures are errors) and released with
 * cass_http_response_clear. */
int cass_http_request(struct cass_http *h, const char *method, const char *path,
                      const char *content_type, const char *body, size_t body_len,
                      struct cass_http_response *ret, struct cass_error **err);

void cass_http_response_clear(struct cass_http_response *r);

/* Called for each piece of a 2xx response body as it arrives. Return 0 to go
 * on, non-zero to stop the transfer (which is then not an error). */
typedef int (*cass_http_chunk_fn)(const char *data, size_t len, void *userdata);

/* Streaming request. A 2xx body goes to fn; any other status is buffered and
 * returned in *ret_error_body (caller frees) with *ret_status set, and is not
 * an error of this function. */
int cass_http_stream(struct cass_http *h, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len,
                     cass_http_chunk_fn fn, void *userdata, long *ret_status, char **ret_error_body,
                     struct cass_error **err);

/* Cancels transfers on h, from any thread, once *cancel becomes non-zero
 * (checked about once a second while idle, more often while data flows); NULL
 * to stop watching. A cancelled transfer returns 0 like a stopped stream: ask
 * cass_http_cancelled() when it matters. *cancel must outlive the transfers. */
void cass_http_set_cancel(struct cass_http *h, const atomic_int *cancel);
/* Whether the last transfer on h ended because of its cancel flag. */
int cass_http_cancelled(const struct cass_http *h);

/* Value of response header `name` (case-insensitive, first occurrence,
 * surrounding blanks trimmed) of the last transfer on h. Caller owns the
 * result; NULL when the header was absent. */
char *cass_http_last_header(const struct cass_http *h, const char *name);

/* Percent-encodes s for a query string. Caller owns the result. */
char *cass_http_escape(const char *s);

#endif
