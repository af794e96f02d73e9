/* Following GET /v1/events: one long response of server-sent events, parsed
 * as it arrives, and reconnected from the last event seen when it drops. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"
#include "sse.h"

/* Backoff between reconnects: doubles from the first to the last. */
#define BACKOFF_FIRST_S 0.25
#define BACKOFF_MAX_S 5.0

struct stream {
    struct ctl_follow *f;
    struct ctl_sse sse;
    int got_data;
    int malformed;
    int stopped; /* by the callback */
};

static int on_chunk(const char *data, size_t len, void *userdata)
{
    struct stream *s = userdata;
    s->got_data = 1;
    int r = ctl_sse_feed(&s->sse, data, len);
    if (r < 0)
        s->malformed = 1;
    else if (r != 0)
        s->stopped = 1;
    return r != 0;
}

static int on_event(const struct ctl_sse_event *ev, void *userdata)
{
    struct stream *s = userdata;
    ctl_parse_event_id(ev->id, &s->f->since);
    return s->f->fn(ev, s->f->userdata);
}

static int cancelled(const struct ctl_follow *f)
{
    return f->cancel && atomic_load(f->cancel);
}

/* Sleeps s seconds, in slices, returning early once cancelled. */
static void nap(const struct ctl_follow *f, double s)
{
    for (; s > 0 && !cancelled(f); s -= 0.1) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((s < 0.1 ? s : 0.1) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !cancelled(f))
            ;
    }
}

int ctl_follow_events(struct ctl *c, struct ctl_follow *f)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_http *h = ctl_http_new(c, 0, &err);
    if (!h) {
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        return CTL_FOLLOW_FAILED;
    }
    cass_http_set_cancel(h, f->cancel);
    struct stream s = {.f = f};
    ctl_sse_init(&s.sse, on_event, &s);
    const char *filter = f->filter ? f->filter : "";
    double backoff = BACKOFF_FIRST_S;
    int result = CTL_FOLLOW_FAILED, attempts = 0, lost = 0;
    for (;; attempts++) {
        char path[512];
        int n = f->since >= 0
                    ? snprintf(path, sizeof(path), "/v1/events?since=%lld%s%s", f->since,
                               *filter ? "&" : "", filter)
                    : snprintf(path, sizeof(path), "/v1/events%s%s", *filter ? "?" : "", filter);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            fprintf(stderr, "cassinyctl: event filter too long\n");
            break;
        }
        ctl_sse_restart(&s.sse);
        s.got_data = 0;
        long status = 0;
        _cleanup_free_ char *ebody = NULL;
        cass_error_free(TAKE_PTR(err));
        int rc =
            cass_http_stream(h, "GET", path, NULL, NULL, 0, on_chunk, &s, &status, &ebody, &err);
        /* Where this response started: resuming from there misses nothing
         * even when no event came before it dropped. */
        _cleanup_free_ char *start = cass_http_last_header(h, CTL_EVENT_ID_HEADER);
        _cleanup_free_ char *type = cass_http_last_header(h, "Content-Type");
        long long at;
        if (f->since < 0 && ctl_parse_event_id(start, &at) == 0)
            f->since = at;
        int answered = type || s.got_data; /* the daemon replied, then dropped */
        if (cancelled(f)) {
            result = CTL_FOLLOW_CANCELLED;
            break;
        }
        if (rc == 0 && (status < 200 || status > 299)) {
            if (status == 404 && f->fallback_on_404) {
                result = CTL_FOLLOW_NO_ENDPOINT;
                break;
            }
            struct cass_http_response r = {
                .status = status, .body = ebody, .len = ebody ? strlen(ebody) : 0};
            f->exit_code = ctl_print_problem(&r, NULL);
            result = CTL_FOLLOW_FAILED;
            break;
        }
        if (s.malformed) {
            fprintf(stderr, "cassinyctl: malformed event stream from cassinyd\n");
            break;
        }
        if (s.stopped) {
            result = CTL_FOLLOW_STOPPED;
            break;
        }
        if (rc < 0 && attempts == 0 && !answered) {
            ctl_unreachable(c, h, &err);
            fprintf(stderr, "cassinyctl: %s\n", err->message);
            result = CTL_FOLLOW_UNREACHABLE;
            break;
        }
        /* The daemon ended the stream with a retry hint (its lifetime is
         * over): resume after the last event seen, as told, quietly. */
        if (rc == 0 && s.sse.retry_ms >= 0) {
            nap(f, s.sse.retry_ms / 1000.0);
            backoff = BACKOFF_FIRST_S;
            lost = 0;
            if (cancelled(f)) {
                result = CTL_FOLLOW_CANCELLED;
                break;
            }
            continue;
        }
        /* The stream ended (the daemon stopped or the connection broke):
         * back off, then resume after the last event seen. */
        if (answered) {
            backoff = BACKOFF_FIRST_S;
            lost = 0; /* a new outage: say so again */
        }
        if (!lost)
            fprintf(stderr, "cassinyctl: lost the event stream from cassinyd; reconnecting\n");
        lost = 1;
        nap(f, backoff);
        backoff = backoff * 2 < BACKOFF_MAX_S ? backoff * 2 : BACKOFF_MAX_S;
        if (cancelled(f)) {
            result = CTL_FOLLOW_CANCELLED;
            break;
        }
    }
    ctl_sse_clear(&s.sse);
    cass_http_free(h);
    return result;
}
