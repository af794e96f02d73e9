/* Waiting for launched runs (apply --wait): poll each run until it is ready,
 * running or over, with progress for people. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
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

/* Replaces runs[i] by its current state; -1 after saying why not. */
static int refresh(struct ctl *c, json_t *runs, size_t i)
{
    int code = CASS_EXIT_OK;
    json_t *fresh = ctl_fetch_run(c, ctl_str(json_array_get(runs, i), "id", ""), &code);
    if (!fresh)
        return -1;
    json_array_set_new(runs, i, fresh);
    return 0;
}

enum { WAIT_SETTLED, WAIT_FAILED, WAIT_ABORT };

static int wait_one(struct ctl *c, json_t *runs, size_t i, double start, double timeout_s,
                    int name_width, FILE *progress, int tty)
{
    char last[32] = "", line[512];
    double interval = 0.2;
    /* A run waited for after others has moved on since the apply reply. */
    if (i > 0 && refresh(c, runs, i) < 0)
        return WAIT_ABORT;
    for (;;) {
        json_t *run = json_array_get(runs, i);
        const char *status = ctl_str(run, "status", "");
        double elapsed = now_s() - start;
        if (progress && (tty || strcmp(last, status) != 0)) {
            progress_line(run, name_width, elapsed, line, sizeof(line));
            show(progress, tty, line);
        }
        snprintf(last, sizeof(last), "%s", status);
        if (ctl_status_settled(status)) {
            if (progress && tty)
                fputc('\n', progress);
            if (strcmp(status, "failed") == 0 || strcmp(status, "stopped") == 0) {
                report_failure(run);
                return WAIT_FAILED;
            }
            return WAIT_SETTLED;
        }
        if (elapsed >= timeout_s) {
            if (progress && tty)
                fputc('\n', progress);
            fprintf(stderr, "cassinyctl: timed out after %.0fs waiting for %s (still %s)\n",
                    timeout_s, ctl_str(run, "name", "?"), status);
            return WAIT_ABORT;
        }
        double left = timeout_s - elapsed;
        sleep_s(interval < left ? interval : left);
        interval = interval * 1.5 < 1.0 ? interval * 1.5 : 1.0;
        if (refresh(c, runs, i) < 0) {
            if (progress && tty)
                fputc('\n', progress);
            return WAIT_ABORT;
        }
    }
}

int ctl_wait_runs(struct ctl *c, json_t *runs, double timeout_s, FILE *progress, int tty)
{
    double start = now_s();
    int name_width = 0, code = CASS_EXIT_OK;
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run)
    {
        int n = (int)strlen(ctl_str(run, "name", ""));
        if (n > name_width)
            name_width = n;
    }
    /* One run at a time: they launch concurrently in the daemon, so the
     * total is the same, and each gets one line of its own. */
    for (i = 0; i < json_array_size(runs); i++) {
        int r = wait_one(c, runs, i, start, timeout_s, name_width, progress, tty);
        if (r == WAIT_ABORT)
            return CASS_EXIT_FAILURE;
        if (r == WAIT_FAILED)
            code = CASS_EXIT_FAILURE;
    }
    return code;
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
