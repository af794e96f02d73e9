#include "config.h"

/* The REST request path on arbitrary requests, against a real daemon core:
 * a store in a private directory, the lifecycle's threads and a fake
 * backend (tests/unit/fake_backend.c), so that applies, deletes, stops and
 * reproductions run for real and nothing reaches a Docker Engine.
 *
 * An input is a request as text:
 *
 *     METHOD SP RAW-URI LF        the URI as sent: %-escapes, ?query
 *     Name: value LF ...          Content-Type, Accept, Content-Length
 *     LF
 *     body
 *
 * It takes the path the server takes after libmicrohttpd has read the
 * request: the raw-URI check (cass_routes_path_ok, 400 when it fails), the
 * path and query decoded as libmicrohttpd decodes them, cass_routes_handle,
 * then what api/server.c's dispatch does with the reply (problem object,
 * JSON text, the streamed body read to its end, the audit entry). Calling
 * the routes directly rather than through libmicrohttpd over a socket pair
 * spends each execution in our code (libmicrohttpd's parser is not
 * instrumented, so it would only slow the fuzzer down) and keeps query
 * values byte for byte as libmicrohttpd hands them over.
 *
 * Every answer must have a status from 100 to 599, a 2xx but 204 must carry a
 * body, text, an embedded file or stream, and no request may cause a 500:
 * each is a bug (abort).
 *
 * The daemon's state grows with every apply: it is thrown away and made
 * anew every RESET_EVERY inputs, and at exit. Each input waits for the
 * launches it caused (settle), so that one input's work is not the next's. */

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "eventstream.h"
#include "fake_backend.h"
#include "lifecycle.h"
#include "problem.h"
#include "routes.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 256
#define MAX_STREAM_READS 64

static char dir[256];
static struct cass_daemon *d;
static unsigned inputs;

static void daemon_down(void)
{
    if (!d)
        return;
    cass_lifecycle_stop(d);
    cass_daemon_free(d);
    d = NULL;
    fake_reset();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_rest: cannot remove %s\n", dir);
}

static void daemon_up(void)
{
    /* A RAM-backed directory when there is one: SQLite syncs each commit. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/cassiny-fuzz-rest.XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("fuzz_rest: mkdtemp");
        abort();
    }
    _cleanup_error_ struct cass_error *err = NULL;
    d = fake_daemon_new(dir, 2, 2, 0, &err);
    if (!d) {
        fprintf(stderr, "fuzz_rest: daemon: %s\n", err && err->message ? err->message : "?");
        abort();
    }
    /* Until the daemon has reconciled and follows the events, its new
     * threads allocate while libFuzzer's leak check after this input runs,
     * and LeakSanitizer does not see into a thread that has just started:
     * what they hold would be reported as leaked. */
    for (int i = 0; i < 2000 && !fake_watched(); i++)
        usleep(1000);
}

static void at_exit(void)
{
    daemon_down();
}

/* The next line of [*p, end) without its CR LF, NUL-terminated in a copy
 * (caller owns); NULL at the end. */
static char *next_line(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *line = strndup(*p, n); /* a NUL in it ends it, as it would in C */
    *p += nl ? n + 1 : n;
    size_t len = line ? strlen(line) : 0;
    if (len && line[len - 1] == '\r')
        line[len - 1] = '\0';
    return line;
}

/* The query as libmicrohttpd splits and decodes it: "&"-separated, "k=v"
 * or a bare "k" (value ""), both unescaped, the first of a repeated key
 * kept. Values are bytes as they come (no UTF-8 check). Caller owns. */
static json_t *query_parse(char *q)
{
    json_t *o = json_object();
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv && o; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        char *v = eq ? eq + 1 : kv + strlen(kv);
        if (eq)
            *eq = '\0';
        MHD_http_unescape(kv);
        MHD_http_unescape(v);
        if (!json_object_get(o, kv))
            json_object_set_new_nocheck(o, kv, json_string_nocheck(v));
    }
    return o;
}

/* Reads a streamed reply as libmicrohttpd would, bounded, then frees it. */
static void drain(struct cass_api_reply *reply)
{
    char buf[16 * 1024];
    for (int i = 0; i < MAX_STREAM_READS; i++) {
        struct cass_stream_wait wait = {.fd = -1};
        long n = reply->stream_read(reply->stream_ctx, buf, sizeof(buf), &wait);
        /* A stream with nothing to say yet would make the server wait: the
         * fuzzer takes what there is, refilled once if it waits for events. */
        if (n == CASS_STREAM_AGAIN && wait.events && reply->stream_refill &&
            reply->stream_refill(reply->stream_ctx) == 1)
            continue;
        if (n <= 0)
            break;
    }
    if (reply->stream_free)
        reply->stream_free(reply->stream_ctx);
}

/* Ends what the request started and waits (up to 2 s) until no launch or
 * job is queued or under way: the request's work is done before the next
 * input, so that libFuzzer's leak check after each input sees no
 * allocation a daemon thread holds in flight. Workloads end with code 0 (a
 * job succeeds, a notebook or model replica dies): the fake's jobs would
 * otherwise run, and hold the job slots, for ever. */
static void settle(void)
{
    for (int i = 0; i < 2000; i++) {
        size_t ended = fake_exit_all(0);
        struct cass_lifecycle_stats st;
        cass_lifecycle_stats(d->lifecycle, &st);
        if (!ended && !st.launch_queue && !st.job_queue && !st.launching && !st.running_jobs)
            return;
        usleep(1000);
    }
}

static void handle(const char *method, const char *uri, const char *content_type, const char *body,
                   size_t body_len)
{
    if (!cass_routes_path_ok(uri))
        return; /* 400 */
    _cleanup_free_ char *path = strdup(uri);
    if (!path)
        return;
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    MHD_http_unescape(path);
    _cleanup_json_ json_t *query = query_parse(q ? q : (char[]){""});
    struct cass_api_request req = {
        .d = d,
        .method = method,
        .path = path,
        .content_type = content_type,
        .body = body,
        .body_len = body_len,
        .query = query,
    };
    cass_auth_local(&req.who, 0);
    snprintf(req.actor, sizeof(req.actor), "fuzz");
    struct cass_api_reply reply = {.status = 200};
    _cleanup_error_ struct cass_error *err = NULL;
    int rc = cass_routes_handle(&req, &reply, &err);
    unsigned status;
    if (rc < 0) {
        status = reply.status >= 400 ? reply.status : (err ? cass_problem_status(err) : 500);
        _cleanup_json_ json_t *p = err ? cass_problem_from_error(err) : NULL;
        _cleanup_free_ char *text = p ? json_dumps(p, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (!err || !text) {
            fprintf(stderr, "fuzz_rest: %s %s failed without a problem to send\n", method, path);
            abort();
        }
    } else {
        status = reply.status;
        if (reply.stream_read) {
            drain(&reply);
        } else if (!reply.text && !reply.data && status != 204 && status != 304) {
            _cleanup_free_ char *text =
                reply.body ? json_dumps(reply.body, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
            if (!text) {
                fprintf(stderr, "fuzz_rest: %s %s: %u without a body\n", method, path, status);
                abort();
            }
        }
    }
    if (status < 100 || status > 599 || status == 500) {
        fprintf(stderr, "fuzz_rest: %s %s: status %u: %s\n", method, path, status,
                err && err->message ? err->message : "");
        abort();
    }
    if (reply.audit) {
        _cleanup_error_ struct cass_error *aerr = NULL;
        cass_store_audit_append(d->store, req.actor, method, path, (int)status, reply.audit_detail,
                                &aerr);
    }
    reply.stream_read = NULL; /* drained and freed above */
    cass_routes_reply_clear(&reply);
    settle();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!d) {
        /* Streams return what they have instead of waiting for more. */
        cass_eventstream_cancel_all();
        /* OpenSSL would clean up at exit before at_exit has stopped the
         * daemon's threads, which hash and draw tokens: it must not. */
        OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
        atexit(at_exit);
        daemon_up();
    }
    if (++inputs % RESET_EVERY == 0) {
        daemon_down();
        daemon_up();
    }

    const char *p = (const char *)data, *end = p + size;
    _cleanup_free_ char *request_line = next_line(&p, end);
    if (!request_line)
        return 0;
    char *sp = strchr(request_line, ' ');
    if (!sp)
        return 0;
    *sp = '\0';
    const char *method = request_line, *uri = sp + 1;

    _cleanup_free_ char *content_type = NULL;
    long long content_length = -1;
    for (;;) {
        _cleanup_free_ char *h = next_line(&p, end);
        if (!h || !*h)
            break;
        char *colon = strchr(h, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *v = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(h, "Content-Type") == 0 && !content_type)
            content_type = strdup(v);
        else if (strcasecmp(h, "Content-Length") == 0)
            content_length = strtoll(v, NULL, 10);
        /* Accept: the routes do no content negotiation, nothing reads it. */
    }

    /* The body as the server hands it over: at most Content-Length bytes
     * (the framing), NUL-terminated. */
    size_t body_len = (size_t)(end - p);
    if (content_length >= 0 && (unsigned long long)content_length < body_len)
        body_len = (size_t)content_length;
    _cleanup_free_ char *body = malloc(body_len + 1);
    if (!body)
        return 0;
    memcpy(body, p, body_len);
    body[body_len] = '\0';
    handle(method, uri, content_type, body, body_len);
    return 0;
}
