/* logs NAME|RUN [-f] [--tail N]: a run's output, copied as it arrives. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define LOGS_USAGE "Usage: cassinyctl logs NAME|RUN [-f|--follow] [--tail N]\n"

struct sink {
    int tty;
    int failed; /* stdout went away */
};

/* The bytes come from a container: on a terminal, control characters other
 * than newline, tab and carriage return are shown as '?' so that they cannot
 * drive it; elsewhere they pass unchanged. */
static int write_chunk(const char *data, size_t len, void *userdata)
{
    struct sink *s = userdata;
    if (s->tty) {
        char buf[4096];
        while (len > 0) {
            size_t n = len < sizeof(buf) ? len : sizeof(buf);
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)data[i];
                buf[i] = (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') || ch == 0x7f
                             ? '?'
                             : (char)ch;
            }
            if (fwrite(buf, 1, n, stdout) != n)
                break;
            data += n;
            len -= n;
        }
    } else {
        fwrite(data, 1, len, stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        s->failed = 1;
        return 1;
    }
    return 0;
}

/* The run id for a name (its current run) or a run id. Caller owns. */
static char *resolve_run(struct ctl *c, const char *arg, int *ret_exit)
{
    if (ctl_run_id_valid(arg))
        return strdup(arg);
    _cleanup_json_ json_t *spec = ctl_fetch_spec(c, arg, ret_exit);
    if (!spec)
        return NULL;
    const char *id = ctl_str(spec, "runId", NULL);
    if (!id) {
        fprintf(stderr, "cassinyctl: %s has no run\n", arg);
        *ret_exit = CASS_EXIT_FAILURE;
        return NULL;
    }
    return strdup(id);
}

int ctl_cmd_logs(struct ctl *c, int argc, char **argv)
{
    int follow = 0, ch;
    long tail = -1;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'f':
            follow = 1;
            break;
        case 'n':
            if (ctl_parse_long("logs", "--tail", optarg, 0, 1000000, &tail) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(LOGS_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(LOGS_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    const char *arg = argv[optind];
    if (ctl_check_target("logs", arg, 1))
        return CASS_EXIT_USAGE;
    int code = CASS_EXIT_OK;
    _cleanup_free_ char *id = resolve_run(c, arg, &code);
    if (!id)
        return code;

    char path[160];
    int n =
        snprintf(path, sizeof(path), "/v1/runs/%s/logs?follow=%s", id, follow ? "true" : "false");
    if (tail >= 0)
        snprintf(path + n, sizeof(path) - (size_t)n, "&tail=%ld", tail);
    _cleanup_error_ struct cass_error *err = NULL;
    /* A follow lasts as long as the run does: no overall timeout then. */
    struct cass_http *h = ctl_http_new(c, follow ? 0 : 600000, &err);
    struct sink s = {.tty = c->tty};
    long status = 0;
    _cleanup_free_ char *ebody = NULL;
    int rc =
        h ? cass_http_stream(h, "GET", path, NULL, NULL, 0, write_chunk, &s, &status, &ebody, &err)
          : -1;
    cass_http_free(h);
    if (rc < 0) {
        cass_error_prefix(&err, "cannot reach cassinyd at %s", c->host);
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        return CASS_EXIT_FAILURE;
    }
    if (status < 200 || status > 299) {
        struct cass_http_response r = {
            .status = status, .body = ebody, .len = ebody ? strlen(ebody) : 0};
        return ctl_print_problem(&r, NULL);
    }
    return s.failed ? CASS_EXIT_FAILURE : CASS_EXIT_OK;
}
