/* GET /v1/events as a stream: the audit log's entries after an id,
 * formatted as server-sent events, waiting for more when there are none. */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "eventstream.h"
#include "store.h"

#define EVENTS_PAGE 100
/* What a client waits before it reconnects, after the lifetime's end. */
#define EVENTS_RETRY_MS "1000"

/* Set at shutdown: every open stream ends. */
static atomic_int cancelled;

void cass_eventstream_cancel_all(void)
{
    atomic_store(&cancelled, 1);
}

struct cass_eventstream {
    struct cass_daemon *d;
    int64_t last_id;
    char *name;                /* only runs of this name, may be NULL */
    char *run;                 /* only this run, may be NULL */
    struct cass_principal who; /* entries about others' things are left out without admin */
    char *pending;             /* formatted text not yet sent */
    size_t len, off;
    int64_t next_beat, end_at, beat_ms; /* cass_stream_now_ms() */
    bool ended;                         /* the lifetime's end was queued */
    bool failed;                        /* the store failed: end with an error */
};

/* Streams open now, against limits.maxEventStreams. */
static atomic_int open_streams;

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
        /* A notebook's URL carries its token: its owner's only (an admin
         * streams everyone's events, without them). */
        if (is_run &&
            !cass_auth_sees_secrets(&x->who, json_string_value(json_object_get(en, "owner"))) &&
            strcmp(json_string_value(json_object_get(detail, "kind")) ?: "", "Notebook") == 0 &&
            json_is_string(json_object_get(data, "url")))
            json_object_set_new(data, "url", json_null());
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

/* Queues text to send after what is pending (which is all sent by now). */
static void set_pending(struct cass_eventstream *x, const char *text)
{
    free(x->pending);
    x->pending = strdup(text);
    x->len = x->pending ? strlen(x->pending) : 0;
    x->off = 0;
}

int cass_eventstream_refill(struct cass_eventstream *x)
{
    if (x->off < x->len || x->failed)
        return 1;
    /* A filter can skip a whole page: look further until something is to
     * be sent or the log is read to its end. */
    for (;;) {
        _cleanup_error_ struct cass_error *err = NULL;
        _cleanup_json_ json_t *entries = cass_store_audit_since(
            x->d->store, x->last_id, EVENTS_PAGE,
            &(struct cass_audit_filter){.owner =
                                            x->who.scope == CASS_SCOPE_ADMIN ? NULL : x->who.user},
            &err);
        if (!entries) {
            x->failed = true;
            return 1;
        }
        if (json_array_size(entries) == 0)
            return 0;
        sse_format(x, entries);
        if (x->off < x->len)
            return 1;
        if (json_array_size(entries) < EVENTS_PAGE)
            return 0;
    }
}

long cass_eventstream_read(struct cass_eventstream *x, char *buf, size_t max,
                           struct cass_stream_wait *wait)
{
    int64_t now = cass_stream_now_ms();
    if (x->off >= x->len && !x->ended) {
        if (x->failed)
            return -1;
        if (atomic_load(&cancelled) || atomic_load(&x->d->stopping))
            return 0;
        if (now >= x->end_at) {
            /* Lived long enough: end with a hint, the client resumes from
             * its Last-Event-ID. */
            set_pending(x, "retry: " EVENTS_RETRY_MS "\n: this stream reached its lifetime "
                           "(limits.eventStreamLifetimeSeconds); reconnect with Last-Event-ID\n\n");
            x->ended = true;
        } else if (now >= x->next_beat) {
            /* Keeps proxies from giving up, and finds a peer that is gone. */
            set_pending(x, ": keep-alive\n\n");
        }
    }
    if (x->off < x->len) {
        size_t n = x->len - x->off < max ? x->len - x->off : max;
        memcpy(buf, x->pending + x->off, n);
        x->off += n;
        x->next_beat = now + x->beat_ms;
        return (long)n;
    }
    if (x->ended)
        return 0;
    wait->fd = -1;
    wait->events = true;
    wait->until_ms = x->next_beat < x->end_at ? x->next_beat : x->end_at;
    return CASS_STREAM_AGAIN;
}

void cass_eventstream_close(struct cass_eventstream *x)
{
    atomic_fetch_sub(&open_streams, 1);
    free(x->name);
    free(x->run);
    free(x->pending);
    free(x);
}

struct cass_eventstream *cass_eventstream_open(struct cass_daemon *d, long long after_id,
                                               const char *name, const char *run,
                                               const struct cass_principal *who,
                                               struct cass_error **err)
{
    json_int_t max = cass_daemon_config_int(d, "limits.maxEventStreams");
    if (atomic_fetch_add(&open_streams, 1) >= (max > 0 ? max : 256)) {
        atomic_fetch_sub(&open_streams, 1);
        cass_error_set(err, CASS_ERR_UNAVAILABLE,
                       "%lld event streams are open, the most there may be "
                       "(limits.maxEventStreams); try again later",
                       (long long)max);
        return NULL;
    }
    struct cass_eventstream *x = calloc(1, sizeof(*x));
    if (!x) {
        atomic_fetch_sub(&open_streams, 1);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    x->d = d;
    json_int_t beat = cass_daemon_config_int(d, "limits.heartbeatSeconds");
    json_int_t life = cass_daemon_config_int(d, "limits.eventStreamLifetimeSeconds");
    int64_t now = cass_stream_now_ms();
    x->beat_ms = (beat > 0 ? beat : 15) * 1000;
    x->next_beat = now + x->beat_ms;
    x->end_at = now + (life > 0 ? life : 3600) * 1000;
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
    if (who)
        x->who = *who;
    else
        cass_auth_local(&x->who, 0);
    return x;
}
