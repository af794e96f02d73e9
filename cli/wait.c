/* Waiting for launched runs (apply --wait, reproduce --wait): follow the
 * daemon's events until each run is ready, running (a Job: over) or over,
 * with progress for people. A daemon without events is polled. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Columns of the terminal behind f, so that an updating line never wraps
 * (\r only returns to the start of the last row). */
static size_t term_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    return 80;
}

/* "NAME  WORD  (DETAIL)  3.2s" for one run. */
static void progress_line(const json_t *run, int name_width, double elapsed, char *out, size_t n)
{
    const char *status = ctl_str(run, "status", NULL);
    const char *kind = ctl_str(run, "kind", NULL);
    char detail[128] = "";
    json_t *image = json_object_get(run, "image");
    const char *container =
        json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    if (status && strcmp(status, "creating") == 0) {
        const char *id = ctl_str(image, "id", NULL);
        if (id) {
            char hex[20];
            ctl_short_digest(id, hex);
            snprintf(detail, sizeof(detail), "  (image sha256:%s\u2026)", hex);
        } else {
            snprintf(detail, sizeof(detail), "  (image %.100s)", ctl_str(image, "ref", "?"));
        }
    } else if (status && strcmp(status, "starting") == 0 && container) {
        snprintf(detail, sizeof(detail), "  (container %.12s)", container);
    }
    snprintf(out, n, "%-*s  %s%s  %.1fs", name_width, ctl_str(run, "name", "?"),
             ctl_status_word(kind, status), detail, elapsed);
}

static void show(FILE *f, int tty, const char *line)
{
    if (tty) {
        /* Cut at the terminal width, counting UTF-8 lead bytes only. */
        size_t max = term_width(f) - 1, cols = 0, i = 0;
        for (; line[i]; i++) {
            if (((unsigned char)line[i] & 0xc0) != 0x80 && ++cols > max)
                break;
        }
        fputs("\r\033[K", f);
        fwrite(line, 1, i, f);
    } else {
        fputs(line, f);
        fputc('\n', f);
    }
    fflush(f);
}

static void report_failure(const json_t *run)
{
    fprintf(stderr, "cassinyctl: %s %s (run %s)", ctl_str(run, "name", "?"),
            ctl_str(run, "status", "?"), ctl_str(run, "id", "?"));
    const char *reason = ctl_str(run, "reason", NULL), *error = ctl_str(run, "error", NULL);
    json_t *code = json_object_get(run, "exitCode");
    if (reason) {
        fputs(": ", stderr);
        ctl_fputs_clean(reason, stderr);
    }
    if (error) {
        fputs(": ", stderr);
        ctl_fputs_clean(error, stderr);
    }
    if (json_is_integer(code))
        fprintf(stderr, " (exit code %lld)", (long long)json_integer_value(code));
    fputc('\n', stderr);
}

/* One wait: the runs, which of them is shown, and the progress line. In
 * event mode a ticker thread redraws the line (terminal) and enforces the
 * timeout; lock guards everything below it. */
struct waiter {
    struct ctl *c;
    double start, timeout_s;
    int name_width;
    FILE *progress;
    int tty;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    json_t *runs;
    size_t cur;    /* the run being shown */
    char last[32]; /* its status as last shown */
    int code;      /* CASS_EXIT_FAILURE once a run failed */
    int done;      /* every run settled */
    int stop;      /* the ticker should end */
    int timed_out;
    atomic_int cancel; /* ends the event stream */
};

/* The line of the current run: redrawn on a terminal, else printed when its
 * status changed. */
static void draw(struct waiter *w)
{
    json_t *run = json_array_get(w->runs, w->cur);
    const char *status = ctl_str(run, "status", "");
    if (w->progress && (w->tty || strcmp(w->last, status) != 0)) {
        char line[512];
        progress_line(run, w->name_width, now_s() - w->start, line, sizeof(line));
        show(w->progress, w->tty, line);
    }
    snprintf(w->last, sizeof(w->last), "%s", status);
}

static void end_line(const struct waiter *w)
{
    if (w->progress && w->tty)
        fputc('\n', w->progress);
}

/* The current state of run id, or NULL (said on stderr unless quiet). */
static json_t *fetch(struct ctl *c, const char *id, int quiet)
{
    if (!quiet) {
        int code = CASS_EXIT_OK;
        return ctl_fetch_run(c, id, &code);
    }
    char path[128];
    snprintf(path, sizeof(path), "/v1/runs/%s", id);
    struct cass_http_response r = {0};
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *v = NULL;
    if (ctl_request(c, "GET", path, NULL, NULL, 0, &r, NULL, &err) == 0 && r.status == 200)
        v = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, NULL);
    cass_http_response_clear(&r);
    return v;
}

/* Replaces the current run by its state now; -1 after saying why not. */
static int refresh_current(struct waiter *w)
{
    json_t *fresh = fetch(w->c, ctl_str(json_array_get(w->runs, w->cur), "id", ""), 0);
    if (!fresh)
        return -1;
    json_array_set_new(w->runs, w->cur, fresh);
    return 0;
}

/* Shows the current run and moves past the runs that have settled, saying
 * why a run failed. When polling (refresh), each next run is fetched before
 * it is shown: it has moved on since the reply. -1: a fetch failed. */
static int advance(struct waiter *w, int refresh)
{
    for (;;) {
        draw(w);
        json_t *run = json_array_get(w->runs, w->cur);
        if (!ctl_run_settled(run))
            return 0;
        end_line(w);
        const char *status = ctl_str(run, "status", "");
        if (strcmp(status, "failed") == 0 || strcmp(status, "stopped") == 0) {
            report_failure(run);
            w->code = CASS_EXIT_FAILURE;
        }
        w->last[0] = '\0';
        if (++w->cur == json_array_size(w->runs)) {
            w->done = 1;
            return 0;
        }
        if (refresh && refresh_current(w) < 0)
            return -1;
    }
}

static int timed_out(const struct waiter *w)
{
    end_line(w);
    json_t *run = json_array_get(w->runs, w->cur);
    fprintf(stderr, "cassinyctl: timed out after %.0fs waiting for %s (still %s)\n", w->timeout_s,
            ctl_str(run, "name", "?"), ctl_str(run, "status", "?"));
    return CASS_EXIT_FAILURE;
}

/* For a daemon without events: polls the shown run, more slowly as it goes. */
static int wait_poll(struct waiter *w)
{
    double interval = 0.2;
    for (;;) {
        if (advance(w, 1) < 0) {
            end_line(w);
            return CASS_EXIT_FAILURE;
        }
        if (w->done)
            return w->code;
        double elapsed = now_s() - w->start;
        if (elapsed >= w->timeout_s)
            return timed_out(w);
        double left = w->timeout_s - elapsed;
        sleep_s(interval < left ? interval : left);
        interval = interval * 1.5 < 1.0 ? interval * 1.5 : 1.0;
        if (refresh_current(w) < 0) {
            end_line(w);
            return CASS_EXIT_FAILURE;
        }
    }
}

/* A run event: if it is about one of ours, take that run's current state
 * (the event has only some of its fields) and move the display on. */
static int on_event(const struct ctl_sse_event *ev, void *userdata)
{
    struct waiter *w = userdata;
    if (strcmp(ev->event, "run") != 0)
        return 0;
    _cleanup_json_ json_t *data = json_loadb(ev->data, ev->data_len, 0, NULL);
    const char *id = ctl_str(data, "id", "");
    size_t k, n = json_array_size(w->runs);
    for (k = 0; k < n; k++)
        if (strcmp(ctl_str(json_array_get(w->runs, k), "id", ""), id) == 0)
            break;
    if (k == n)
        return 0;
    json_t *fresh = fetch(w->c, id, 1);
    pthread_mutex_lock(&w->lock);
    if (fresh) {
        json_array_set_new(w->runs, k, fresh);
    } else {
        /* The daemon went away just now: what the event says will do. */
        json_object_del(data, "time");
        json_object_update(json_array_get(w->runs, k), data);
    }
    advance(w, 0);
    int done = w->done;
    pthread_mutex_unlock(&w->lock);
    return done;
}

static void *ticker(void *arg)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop && !w->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
        if (w->stop || w->done)
            break;
        if (now_s() - w->start >= w->timeout_s) {
            w->timed_out = 1;
            atomic_store(&w->cancel, 1);
            break;
        }
        if (w->tty)
            draw(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int wait_events(struct waiter *w, long long since)
{
    advance(w, 0);
    if (w->done)
        return w->code;
    pthread_t thread;
    if (pthread_create(&thread, NULL, ticker, w) != 0)
        return wait_poll(w);
    /* One run: the daemon filters; several: all runs, filtered here. */
    char filter[64] = "";
    if (json_array_size(w->runs) - w->cur == 1)
        snprintf(filter, sizeof(filter), "run=%.40s",
                 ctl_str(json_array_get(w->runs, w->cur), "id", ""));
    struct ctl_follow f = {.filter = filter,
                           .since = since,
                           .cancel = &w->cancel,
                           .fallback_on_404 = 1,
                           .fn = on_event,
                           .userdata = w};
    int r = ctl_follow_events(w->c, &f);
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(thread, NULL);
    if (w->done)
        return w->code;
    if (w->timed_out)
        return timed_out(w);
    if (r == CTL_FOLLOW_NO_ENDPOINT)
        return wait_poll(w);
    end_line(w);
    return CASS_EXIT_FAILURE;
}

int ctl_wait_runs(struct ctl *c, json_t *runs, double timeout_s, long long since, FILE *progress,
                  int tty)
{
    struct waiter w = {.c = c,
                       .start = now_s(),
                       .timeout_s = timeout_s,
                       .progress = progress,
                       .tty = tty,
                       .runs = runs,
                       .code = CASS_EXIT_OK};
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run)
    {
        int n = (int)strlen(ctl_str(run, "name", ""));
        if (n > w.name_width)
            w.name_width = n;
    }
    if (json_array_size(runs) == 0)
        return CASS_EXIT_OK;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.wake, NULL);
    /* One run at a time: they launch concurrently in the daemon, so the
     * total is the same, and each gets one line of its own. */
    int code = since >= 0 ? wait_events(&w, since) : wait_poll(&w);
    pthread_cond_destroy(&w.wake);
    pthread_mutex_destroy(&w.lock);
    return code;
}

FILE *ctl_progress_stream(const struct ctl *c, int *ret_tty)
{
    /* Progress is for people: on stdout in table form, else on a terminal's stderr only. */
    if (c->output == CASS_OUTPUT_TABLE) {
        *ret_tty = c->tty;
        return stdout;
    }
    *ret_tty = isatty(STDERR_FILENO);
    return *ret_tty ? stderr : NULL;
}

void ctl_print_run_outcome(const json_t *run, FILE *f)
{
    const char *name = ctl_str(run, "name", "?"), *status = ctl_str(run, "status", "?");
    const char *url = ctl_str(run, "url", NULL);
    if (strcmp(status, "ready") == 0 && url) {
        fprintf(f, "%s is ready: ", name);
        ctl_fputs_clean(url, f);
        fputc('\n', f);
    } else if (strcmp(status, "ready") == 0 || strcmp(status, "running") == 0) {
        fprintf(f, "%s is %s\n", name, status);
    } else if (strcmp(status, "succeeded") == 0) {
        fprintf(f, "%s succeeded\n", name);
    }
}
