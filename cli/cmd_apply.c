#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define APPLY_USAGE "Usage: cassinyctl apply -f FILE [--dry-run] [--wait] [--timeout SECONDS]\n"

/* KIND NAME REVISION, then RUN STATUS for launched specs, and RESULT. */
static void print_specs(json_t *reply, int dry_run)
{
    static const char *const headers[] = {"KIND", "NAME", "REVISION", "RUN", "STATUS", "RESULT"};
    static const char *const dry_headers[] = {"KIND", "NAME", "REVISION", "RESULT"};
    struct cass_table *t = cass_table_new(dry_run ? 4 : 6, dry_run ? dry_headers : headers);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(reply, "specs"), i, s)
    {
        char rev[20];
        ctl_short_digest(ctl_str(s, "revision", NULL), rev);
        json_t *run = json_object_get(s, "run");
        const char *result = dry_run                                        ? "valid (dry run)"
                             : json_is_false(json_object_get(s, "changed")) ? "unchanged"
                                                                            : "applied";
        const char *cells[] = {ctl_str(s, "kind", ""),  ctl_str(s, "name", ""),      rev,
                               ctl_str(run, "id", "-"), ctl_str(run, "status", "-"), result};
        if (dry_run)
            cells[3] = result;
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
}

/* Waits for the runs of an apply reply and puts their final state back into
 * it; since is the reply's event id. */
static int wait_for_reply(struct ctl *c, json_t *reply, double timeout_s, long long since)
{
    json_t *specs = json_object_get(reply, "specs");
    _cleanup_json_ json_t *runs = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        if (json_is_object(json_object_get(s, "run")))
            json_array_append(runs, json_object_get(s, "run"));
    }
    int tty = 0;
    FILE *progress = ctl_progress_stream(c, &tty);
    int code = ctl_wait_runs(c, runs, timeout_s, since, progress, tty);
    size_t k = 0;
    json_array_foreach(specs, i, s)
    {
        if (json_is_object(json_object_get(s, "run")))
            json_object_set(s, "run", json_array_get(runs, k++));
    }
    if (c->output == CASS_OUTPUT_TABLE) {
        json_array_foreach(runs, i, s) ctl_print_run_outcome(s, stdout);
    }
    return code;
}

int ctl_cmd_apply(struct ctl *c, int argc, char **argv)
{
    const char *file = NULL;
    int dry_run = 0, wait = 0, ch;
    long timeout_s = 300;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'f':
            file = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'w':
            wait = 1;
            break;
        case 'T':
            if (ctl_parse_long("apply", "--timeout", optarg, 1, 7 * 86400, &timeout_s) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(APPLY_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (!file || optind < argc) {
        fputs(APPLY_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    if (dry_run && wait) {
        fprintf(stderr, "cassinyctl apply: --wait has nothing to wait for with --dry-run\n");
        return CASS_EXIT_USAGE;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    size_t len = 0;
    /* Read a little past the limit so that the daemon, not us, says 413. */
    _cleanup_free_ char *text = ctl_read_file(file, 2 * CASS_MAX_BODY_BYTES, &len, &err);
    if (!text) {
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        return ctl_exit_for(err);
    }
    struct cass_http_response r = {0};
    const char *path = dry_run ? "/v1/specs?dryRun=true" : "/v1/specs";
    long long since = -1;
    if (ctl_request(c, "POST", path, CASS_MEDIA_YAML, text, len, &r, &since, &err) < 0) {
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        return CASS_EXIT_FAILURE;
    }
    if (r.status < 200 || r.status > 299) {
        int code = ctl_print_problem(&r, file);
        cass_http_response_clear(&r);
        return code;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *reply = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &jerr);
    cass_http_response_clear(&r);
    if (!reply) {
        fprintf(stderr, "cassinyctl: malformed reply from cassinyd: %s\n", jerr.text);
        return CASS_EXIT_FAILURE;
    }
    int code = CASS_EXIT_OK;
    if (c->output == CASS_OUTPUT_TABLE) {
        print_specs(reply, dry_run);
        fflush(stdout);
    }
    if (wait)
        code = wait_for_reply(c, reply, (double)timeout_s, since);
    if (c->output != CASS_OUTPUT_TABLE)
        cass_output_value(stdout, c->output, reply);
    return code;
}
