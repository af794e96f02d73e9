#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "http.h"

struct cass_http {
    CURL *curl;
    char *socket_path; /* for unix:// hosts */
    char *base;        /* URL prefix, e.g. "http://localhost" */
    char *auth_header;
    char *extra_header; /* "Name: value" or NULL (cass_http_set_header) */
    char *cacert;       /* CA bundle for https:// hosts; NULL: the system's */
    long timeout_ms;
    size_t max_body;
    const atomic_int *cancel;
    int cancelled; /* the last transfer was cancelled */
    int untrusted; /* the last transfer failed: the server's certificate was not trusted */
    char *headers; /* raw response headers of the last transfer */
    size_t headers_len;
};

/* Response headers kept per transfer; the engine's are a few hundred bytes. */
#define MAX_HEADER_BYTES (64u << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct cass_http *cass_http_new(const char *host, struct cass_error **err)
{
    pthread_once(&curl_once, curl_init_once);
    struct cass_http *h = calloc(1, sizeof(*h));
    if (!h) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->max_body = 64u << 20;
    if (strncmp(host, "unix://", 7) == 0) {
        if (host[7] != '/') {
            cass_error_set(err, CASS_ERR_INVALID, "unix socket path must be absolute: %s", host);
            free(h);
            return NULL;
        }
        h->socket_path = strdup(host + 7);
        h->base = strdup("http://localhost");
    } else if (strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0 ||
               strncmp(host, "tcp://", 6) == 0) {
        size_t n = strlen(host);
        while (n > 0 && host[n - 1] == '/')
            n--;
        /* tcp://HOST:PORT is how Docker writes a plain-HTTP engine address. */
        if (strncmp(host, "tcp://", 6) == 0) {
            if (asprintf(&h->base, "http://%.*s", (int)(n - 6), host + 6) < 0)
                h->base = NULL;
        } else {
            h->base = strndup(host, n);
        }
    } else {
        cass_error_set(err, CASS_ERR_INVALID,
                       "host must be unix:///PATH, tcp://HOST:PORT, http://HOST:PORT or "
                       "https://HOST:PORT: %s",
                       host);
        free(h);
        return NULL;
    }
    h->curl = curl_easy_init();
    if (!h->curl || !h->base) {
        cass_http_free(h);
        cass_error_set(err, CASS_ERR_NOMEM, "cannot create HTTP handle");
        return NULL;
    }
    return h;
}

void cass_http_free(struct cass_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->socket_path);
    free(h->base);
    free(h->auth_header);
    free(h->extra_header);
    free(h->cacert);
    free(h->headers);
    free(h);
}

void cass_http_set_token(struct cass_http *h, const char *token)
{
    free(h->auth_header);
    h->auth_header = NULL;
    if (token && asprintf(&h->auth_header, "Authorization: Bearer %s", token) < 0)
        h->auth_header = NULL;
}

int cass_http_set_header(struct cass_http *h, const char *name, const char *value)
{
    free(h->extra_header);
    h->extra_header = NULL;
    if (!name)
        return 0;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return -1;
    if (asprintf(&h->extra_header, "%s: %s", name, value) < 0) {
        h->extra_header = NULL;
        return -1;
    }
    return 0;
}

int cass_http_set_cacert(struct cass_http *h, const char *path, struct cass_error **err)
{
    free(h->cacert);
    h->cacert = NULL;
    if (!path)
        return 0;
    /* Checked here, so that a typo is not reported as an untrusted server. */
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return cass_error_errno(err, errno, "CA file %s", path);
    if (!(h->cacert = strdup(path)))
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    return 0;
}

int cass_http_untrusted(const struct cass_http *h)
{
    return h->untrusted;
}

void cass_http_set_timeout(struct cass_http *h, long timeout_ms)
{
    h->timeout_ms = timeout_ms;
}

void cass_http_set_max_body(struct cass_http *h, size_t max)
{
    h->max_body = max;
}

void cass_http_set_cancel(struct cass_http *h, const atomic_int *cancel)
{
    h->cancel = cancel;
}

int cass_http_cancelled(const struct cass_http *h)
{
    return h->cancelled;
}

char *cass_http_last_header(const struct cass_http *h, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = h->headers;
    const char *end = p ? p + h->headers_len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = line_end;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            return strndup(v, (size_t)(ve - v));
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct cass_http *h = userdata;
    size_t n = size * nmemb;
    /* A new status line (after a 100 Continue or a redirect) starts a new block. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        h->headers_len = 0;
    if (h->headers_len + n > MAX_HEADER_BYTES)
        return n; /* keep what fits; the rest is not needed */
    char *b = realloc(h->headers, h->headers_len + n + 1);
    if (!b)
        return 0;
    memcpy(b + h->headers_len, data, n);
    h->headers = b;
    h->headers_len += n;
    b[h->headers_len] = '\0';
    return n;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct cass_http *h = userdata;
    if (h->cancel && atomic_load(h->cancel)) {
        h->cancelled = 1;
        return 1;
    }
    return 0;
}

void cass_http_response_clear(struct cass_http_response *r)
{
    free(r->body);
    free(r->content_type);
    memset(r, 0, sizeof(*r));
}

struct sink {
    struct cass_http *h;
    char *buf;
    size_t len, cap;
    int too_large;
    /* streaming */
    cass_http_chunk_fn fn;
    void *userdata;
    int status_known;
    long status;
    int stopped;
};

static int sink_append(struct sink *s, const char *data, size_t n)
{
    if (s->len + n > s->h->max_body) {
        s->too_large = 1;
        return -1;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

static size_t write_buffered(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    return sink_append(s, data, n) < 0 ? 0 : n;
}

static size_t write_stream(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (!s->status_known) {
        curl_easy_getinfo(s->h->curl, CURLINFO_RESPONSE_CODE, &s->status);
        s->status_known = 1;
    }
    if (s->status < 200 || s->status > 299)
        return sink_append(s, data, n) < 0 ? 0 : n;
    if (s->fn(data, n, s->userdata) != 0) {
        s->stopped = 1;
        return 0;
    }
    return n;
}

static int perform(struct cass_http *h, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len,
                   curl_write_callback writer, struct sink *sink, struct cass_error **err)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    _cleanup_free_ char *url = NULL;
    if (asprintf(&url, "%s%s", h->base, path) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (h->socket_path)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->socket_path);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* Always verified (peer and host name); only the authority may change. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->cacert);
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    h->untrusted = 0;
    if (h->timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writer);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    h->headers_len = 0;
    if (h->headers)
        h->headers[0] = '\0';
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    h->cancelled = 0;
    if (h->cancel) {
        if (atomic_load(h->cancel)) {
            h->cancelled = 1;
            return 0;
        }
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    }

    struct curl_slist *headers = NULL;
    if (h->auth_header)
        headers = curl_slist_append(headers, h->auth_header);
    if (h->extra_header)
        headers = curl_slist_append(headers, h->extra_header);
    headers = curl_slist_append(headers, "Expect:");
    if (body) {
        _cleanup_free_ char *ct = NULL;
        if (asprintf(&ct, "Content-Type: %s", content_type ? content_type : "application/json") >=
            0)
            headers = curl_slist_append(headers, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

    if (rc == CURLE_WRITE_ERROR && sink->stopped)
        return 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK && h->cancelled)
        return 0;
    if (sink->too_large)
        return cass_error_set(err, CASS_ERR_TOO_LARGE, "%s %s: response larger than %zu bytes",
                              method, path, h->max_body);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
        h->untrusted = 1;
        return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                              "%s: the server's certificate is not trusted (%s)", h->base,
                              detail[0] ? detail : curl_easy_strerror(rc));
    }
    if (rc != CURLE_OK) {
        enum cass_error_kind kind =
            (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
             rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_GOT_NOTHING ||
             rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE)
                ? CASS_ERR_UNAVAILABLE
                : CASS_ERR_IO;
        return cass_error_set(err, kind, "%s %s%s: %s", method,
                              h->socket_path ? h->socket_path : h->base, path,
                              curl_easy_strerror(rc));
    }
    return 0;
}

int cass_http_request(struct cass_http *h, const char *method, const char *path,
                      const char *content_type, const char *body, size_t body_len,
                      struct cass_http_response *ret, struct cass_error **err)
{
    struct sink s = {.h = h};
    if (perform(h, method, path, content_type, body, body_len, write_buffered, &s, err) < 0) {
        free(s.buf);
        return -1;
    }
    memset(ret, 0, sizeof(*ret));
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &ret->status);
    char *ct = NULL;
    curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct);
    ret->content_type = ct ? strdup(ct) : NULL;
    ret->body = s.buf ? s.buf : strdup("");
    ret->len = s.len;
    return 0;
}

int cass_http_stream(struct cass_http *h, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len,
                     cass_http_chunk_fn fn, void *userdata, long *ret_status, char **ret_error_body,
                     struct cass_error **err)
{
    struct sink s = {.h = h, .fn = fn, .userdata = userdata};
    if (ret_error_body)
        *ret_error_body = NULL;
    if (perform(h, method, path, content_type, body, body_len, write_stream, &s, err) < 0) {
        free(s.buf);
        return -1;
    }
    long status = s.status;
    if (!s.status_known)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (ret_status)
        *ret_status = status;
    if (ret_error_body && (status < 200 || status > 299))
        *ret_error_body = s.buf ? s.buf : strdup("");
    else
        free(s.buf);
    return 0;
}

char *cass_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return NULL;
    char *r = strdup(e);
    curl_free(e);
    return r;
}
