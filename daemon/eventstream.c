/* GET /v1/events as a stream: the audit log's entries after an id,
 * formatted as server-sent events, waiting for more when there are none. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "eventstream.h"
#include "store.h"

/* Set at shutdown: every open stream ends. */
static atomic_int cancelled;

void cass_eventstream_cancel_all(void)
{
    atomic_store(&cancelled, 1);
}

struct cass_eventstream {
    struct cass_daemon *d;
    int64_t last_id;
    char *name;    /* only runs of this name, may be NULL */
    char *run;     /* only this run, may be NULL */
    char *pending; /* formatted text not yet sent */
    size_t len, off;
};

static void sse_format(struct cass_eventstream *x, json_t *entries)
{
    size_t i;
    json_t *en;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    json_array_foreach(entries, i, en)
    {
        json_int_t id = json_integer_value(json_object_get(en, "id"));
        if (id > x->last_id)
            x->last_id = id;
        const char *action = json_string_value(json_object_get(en, "action"));
        json_t *detail = json_object_get(en, "detail");
        bool is_run = action && strcmp(action, "run") == 0;
        if ((x->name || x->run) && !is_run)
            continue;
        if (x->name &&
            strcmp(x->name, json_string_value(json_object_get(detail, "name")) ?: "") != 0)
            continue;
        if (x->run && strcmp(x->run, json_string_value(json_object_get(detail, "id")) ?: "") != 0)
            continue;
        json_t *data =
            is_run
                ? json_deep_copy(detail)
                : json_pack("{s:O,s:O,s:O,s:O}", "actor", json_object_get(en, "actor"), "action",
                            json_object_get(en, "action"), "target", json_object_get(en, "target"),
                            "status", json_object_get(en, "status"));
        if (!data)
            continue;
        json_object_set(data, "time", json_object_get(en, "time"));
        char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(data);
        if (text)
            fprintf(f, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id,
                    is_run ? "run" : "request", text);
        free(text);
    }
    fclose(f);
    free(x->pending);
    x->pending = buf;
    x->len = len;
    x->off = 0;
}

long cass_eventstream_read(struct cass_eventstream *x, char *buf, size_t max)
{
    struct cass_daemon *d = x->d;
    for (int idle = 0;;) {
        if (x->off < x->len) {
            size_t n = x->len - x->off < max ? x->len - x->off : max;
            memcpy(buf, x->pending + x->off, n);
            x->off += n;
            return (long)n;
        }
        if (atomic_load(&cancelled) || atomic_load(&d->stopping))
            return 0;
        pthread_mutex_lock(&d->events_lock);
        unsigned long seq = d->events_seq;
        pthread_mutex_unlock(&d->events_lock);
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *entries = cass_store_audit_since(d->store, x->last_id, 100, &err);
        if (!entries)
            return -1;
        if (json_array_size(entries) > 0) {
            sse_format(x, entries);
            idle = 0;
            continue;
        }
        if (++idle >= 15) {
            /* A comment now and then keeps proxies and clients from giving up. */
            static const char ka[] = ": keep-alive\n\n";
            if (max < sizeof(ka) - 1)
                return -1;
            memcpy(buf, ka, sizeof(ka) - 1);
            return (long)(sizeof(ka) - 1);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&d->events_lock);
        while (d->events_seq == seq) {
            if (pthread_cond_timedwait(&d->events_cond, &d->events_lock, &until) != 0)
                break;
        }
        pthread_mutex_unlock(&d->events_lock);
    }
}

void cass_eventstream_close(struct cass_eventstream *x)
{
    free(x->name);
    free(x->run);
    free(x->pending);
    free(x);
}

struct cass_eventstream *cass_eventstream_open(struct cass_daemon *d, long long after_id,
                                               const char *name, const char *run,
                                               struct cass_error **err)
{
    struct cass_eventstream *x = calloc(1, sizeof(*x));
    if (!x) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    x->d = d;
    if (after_id >= 0) {
        x->last_id = after_id;
    } else {
        _cleanup_error_ struct cass_error *lerr = NULL;
        x->last_id = cass_store_audit_last_id(d->store, &lerr);
        if (x->last_id < 0)
            x->last_id = 0;
    }
    x->name = name ? strdup(name) : NULL;
    x->run = run ? strdup(run) : NULL;
    return x;
}
