#include "config.h"

/* The parsers of what the Docker Engine answers, on arbitrary bytes: the
 * first byte picks the reply, the rest is its body.
 *
 *   c  container inspect: state, published port, the backend's state
 *   i  image inspect
 *   e  events stream (JSON lines) and the backend's reading of each event
 *   w  wait reply
 *   l  logs, multiplexed (8-byte frame headers); r: raw (a TTY container)
 *   p  container list, as the backend reads it
 *   v  version (API negotiation); n: info (Swarm state)
 *   x  an error reply: the next two bytes are the HTTP status
 *   t  a Swarm task list: the current task, its state and port
 *   o  a Swarm node list: addresses, GPUs; s: a service list with itself as tasks
 * Any other first byte picks one of these by its value.
 *
 * The streamed ones (events, logs) are fed twice, whole and in pieces of
 * every few bytes, and must give the same result both ways: a stream
 * arrives split wherever the socket splits it. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"
#include "engine.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_engine: %s\n", what);
        abort();
    }
}

/* A reply parsed as JSON of type: NULL exactly when err says why. */
static json_t *reply(const char *body, size_t len, json_type type, const char *what)
{
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *j = cass_engine_reply_parse(body, len, type, what, &err);
    check(!j == !!err, "a reply is either parsed or an error");
    return j;
}

static void container_inspect(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_OBJECT, "inspect container");
    if (!j)
        return;
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_container_state st = {0};
    if (cass_engine_container_state(j, &st, &err) == 0) {
        check(st.status != NULL, "a parsed state has a status");
        cass_container_state_clear(&st);
    }
    cass_error_free(TAKE_PTR(err));
    _cleanup_free_ char *ip = NULL;
    int port = 0;
    if (cass_engine_container_host_port(j, 8888, NULL, &ip, &port, &err) == 0)
        check(ip && port >= 1 && port <= 65535, "a published port is a port");
    cass_error_free(TAKE_PTR(err));
    struct cass_workload_state ws;
    if (cass_backend_docker_state_parse(j, &ws, &err) == 0)
        check(ws.exists && memchr(ws.status, '\0', sizeof(ws.status)),
              "a workload state is terminated");
}

static void image_inspect(const char *body, size_t len)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_engine_image img = {0};
    if (cass_engine_image_parse(body, len, &img, &err) < 0) {
        check(err != NULL && img.id == NULL, "a failed image parse leaves ret alone");
        return;
    }
    check(img.id && *img.id, "an image has an id");
    for (size_t i = 0; i < img.n_repo_digests; i++)
        check(img.repo_digests[i] != NULL, "digests are strings");
    cass_engine_image_clear(&img);
}

/* What a stream gave: enough to compare two feedings of the same bytes. */
struct tally {
    size_t items;
    size_t bytes[4];
    uint64_t hash;
};

static void mix(struct tally *t, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        t->hash = (t->hash ^ b[i]) * 1099511628211u;
}

static int on_event(json_t *ev, void *ud)
{
    struct tally *t = ud;
    t->items++;
    struct cass_backend_event be;
    if (cass_backend_docker_event_parse(ev, &be)) {
        mix(t, be.action, strlen(be.action) + 1);
        mix(t, be.run, strlen(be.run) + 1);
        if (be.id)
            mix(t, be.id, strlen(be.id) + 1);
        if (be.exit_code)
            mix(t, be.exit_code, strlen(be.exit_code) + 1);
    }
    return 0;
}

/* A stream parser: feed and finish as cass_engine_jsonl_* and
 * cass_engine_demux_* have them. */
typedef int (*feed_fn)(void *parser, const char *data, size_t len, struct cass_error **err);
typedef int (*finish_fn)(void *parser, struct cass_error **err);

/* Feeds body in pieces of step bytes (0: whole), then finishes; returns the
 * final code, which must fail exactly with an error. */
static int feed(void *parser, feed_fn fn, finish_fn fin, const char *body, size_t len, size_t step)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int r = 0;
    for (size_t off = 0; r == 0 && off < len;) {
        size_t n = step && step < len - off ? step : len - off;
        r = fn(parser, body + off, n, &err);
        off += n;
    }
    if (r == 0)
        r = fin(parser, &err);
    check((r < 0) == (err != NULL), "a stream fails with an error");
    return r;
}

static int jsonl_feed(void *j, const char *data, size_t len, struct cass_error **err)
{
    return cass_engine_jsonl_feed(j, data, len, err);
}

static int jsonl_finish(void *j, struct cass_error **err)
{
    return cass_engine_jsonl_finish(j, err);
}

static int events_feed(const char *body, size_t len, size_t step, struct tally *t)
{
    struct cass_engine_jsonl j;
    cass_engine_jsonl_init(&j, on_event, t);
    int r = feed(&j, jsonl_feed, jsonl_finish, body, len, step);
    cass_engine_jsonl_clear(&j);
    return r;
}

static void events(const char *body, size_t len)
{
    struct tally whole = {0}, pieces = {0};
    int a = events_feed(body, len, 0, &whole);
    int b = events_feed(body, len, 1 + len % 7, &pieces);
    check(a == b && whole.items == pieces.items && whole.hash == pieces.hash,
          "events split anywhere read the same");
}

static void wait_reply(const char *body, size_t len)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int code = -12345;
    int r = cass_engine_wait_parse(body, len, &code, &err);
    check((r < 0) == (err != NULL), "a wait reply fails with an error");
    check(r == 0 || code == -12345, "a failed wait reply leaves the exit code alone");
}

static int on_log(int stream, const char *p, size_t n, void *ud)
{
    struct tally *t = ud;
    check(stream == 1 || stream == 2, "log bytes are stdout or stderr");
    check(n > 0, "log data is never empty");
    t->items++;
    t->bytes[stream] += n;
    /* Only the stream's bytes, in order: pieces may split one frame. */
    mix(t, p, n);
    return 0;
}

static int demux_feed(void *dm, const char *data, size_t len, struct cass_error **err)
{
    return cass_engine_demux_feed(dm, data, len, err);
}

static int demux_finish(void *dm, struct cass_error **err)
{
    return cass_engine_demux_finish(dm, err);
}

static int logs_feed(const char *body, size_t len, bool raw, size_t step, struct tally *t)
{
    struct cass_engine_demux dm;
    cass_engine_demux_init(&dm, raw, on_log, t);
    return feed(&dm, demux_feed, demux_finish, body, len, step);
}

static void logs(const char *body, size_t len, bool raw)
{
    struct tally whole = {0}, pieces = {0};
    int a = logs_feed(body, len, raw, 0, &whole);
    int b = logs_feed(body, len, raw, 1 + len % 11, &pieces);
    /* Pieces hand over a frame in parts: compare bytes, not calls. */
    check(a == b && whole.bytes[1] == pieces.bytes[1] && whole.bytes[2] == pieces.bytes[2] &&
              whole.hash == pieces.hash,
          "logs split anywhere read the same");
}

static void container_list(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_ARRAY, "list containers");
    if (!j)
        return;
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_workload_ref *refs = NULL;
    size_t n = 0;
    int r = cass_backend_docker_list_parse(j, &refs, &n, &err);
    if (r >= 0) {
        check((size_t)r == n && n <= json_array_size(j), "a list has at most what was sent");
        for (size_t i = 0; i < n; i++)
            check(refs[i].id[0] && memchr(refs[i].id, '\0', sizeof(refs[i].id)),
                  "a listed workload has an id");
    }
    free(refs);
}

static void swarm_tasks(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_ARRAY, "list tasks");
    if (!j)
        return;
    const json_t *cur = cass_backend_swarm_current_task(j);
    bool any = false;
    size_t i;
    json_t *t;
    json_array_foreach(j, i, t) any = any || json_is_object(t);
    check(!cur == !any && (!cur || json_is_object(cur)), "a list of tasks has a current task");
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_workload_state st;
    if (cass_backend_swarm_state_parse(cur, &st, &err) == 0)
        check(st.exists && memchr(st.status, '\0', sizeof(st.status)) &&
                  memchr(st.error, '\0', sizeof(st.error)) && (!st.running || st.started),
              "a task state is terminated, and running means started");
    cass_error_free(TAKE_PTR(err));
    int port = 0;
    if (cass_backend_swarm_task_port(cur, 8080, &port, &err) == 0)
        check(port >= 1 && port <= 65535, "a task's port is a port");
}

static void swarm_nodes(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_ARRAY, "list nodes");
    if (!j)
        return;
    size_t i;
    json_t *n;
    json_array_foreach(j, i, n)
    {
        char addr[64], host[64];
        _cleanup_error_ struct cass_error *err = NULL;
        if (cass_backend_swarm_node_parse(n, addr, host, &err) == 0)
            check(addr[0] && !strchr(addr, '/') && memchr(host, '\0', sizeof(host)),
                  "a node address is a host");
    }
    cass_backend_swarm_gpu_kind(j);
}

static void swarm_services(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_ARRAY, "list services");
    if (!j)
        return;
    struct cass_workload_ref *refs = NULL;
    size_t n = 0;
    int r = cass_backend_swarm_list_parse(j, j, &refs, &n, NULL);
    check(r < 0 || ((size_t)r == n && n <= json_array_size(j)), "a list has at most what was sent");
    free(refs);
}

static void version(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_OBJECT, "version");
    if (!j)
        return;
    _cleanup_error_ struct cass_error *err = NULL;
    int minor = cass_engine_version_choose(j, len % 2 ? "1.43" : NULL, &err);
    check(minor < 0 || (minor >= CASS_ENGINE_API_MIN_MINOR && minor <= CASS_ENGINE_API_MAX_MINOR),
          "the chosen API version is one this client speaks");
}

static void info(const char *body, size_t len)
{
    _cleanup_json_ json_t *j = reply(body, len, JSON_OBJECT, "info");
    if (!j)
        return;
    _cleanup_error_ struct cass_error *err = NULL;
    bool active = false, manager = false;
    if (cass_engine_info_swarm(j, &active, &manager, &err) == 0)
        check(active || !manager, "a manager is an active node");
}

static void error_reply(const char *body, size_t len)
{
    if (len < 2)
        return;
    long status = (unsigned char)body[0] << 8 | (unsigned char)body[1];
    _cleanup_error_ struct cass_error *err = NULL;
    int r = cass_engine_error_from_reply(status, body + 2, len - 2, "fuzz", &err);
    check(r == -1 && err && err->message && err->status == (int)status,
          "an error reply is an error with its status");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char selectors[] = "ciewlrpvnxtos";
    char sel = (char)data[0];
    if (!strchr(selectors, sel) || !sel)
        sel = selectors[data[0] % (sizeof(selectors) - 1)];
    /* A copy of exactly the body: any read past it is caught. */
    size_t len = size - 1;
    _cleanup_free_ char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    switch (sel) {
    case 'c':
        container_inspect(body, len);
        break;
    case 'i':
        image_inspect(body, len);
        break;
    case 'e':
        events(body, len);
        break;
    case 'w':
        wait_reply(body, len);
        break;
    case 'l':
    case 'r':
        logs(body, len, sel == 'r');
        break;
    case 'p':
        container_list(body, len);
        break;
    case 't':
        swarm_tasks(body, len);
        break;
    case 'o':
        swarm_nodes(body, len);
        break;
    case 's':
        swarm_services(body, len);
        break;
    case 'v':
        version(body, len);
        break;
    case 'n':
        info(body, len);
        break;
    case 'x':
        error_reply(body, len);
        break;
    }
    return 0;
}
