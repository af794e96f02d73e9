/* runs [NAME] [--status S] [--kind K] [--limit N]: run history, newest
 * first, following the daemon's pages until the limit. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"
#include "vocab.h"

#define RUNS_USAGE "Usage: cassinyctl runs [NAME] [--status S] [--kind K] [--limit N]\n"

/* Appends "&key=value" (value percent-encoded) to a query of at most n bytes. */
static int add_param(char *q, size_t n, const char *key, const char *value)
{
    if (!value)
        return 0;
    _cleanup_free_ char *e = cass_http_escape(value);
    size_t used = strlen(q);
    int w = e ? snprintf(q + used, n - used, "&%s=%s", key, e) : -1;
    return w < 0 || (size_t)w >= n - used ? -1 : 0;
}

/* RUN NAME KIND STATUS REASON CREATED, and REPRODUCES when any of the runs
 * is a reproduction. */
static void print_runs(const struct ctl *c, const json_t *runs)
{
    static const char *const headers[] = {"RUN",    "NAME",    "KIND",      "STATUS",
                                          "REASON", "CREATED", "REPRODUCES"};
    size_t i;
    json_t *r;
    size_t ncols = 6;
    json_array_foreach(runs, i, r)
    {
        if (ctl_str(r, "reproducedFrom", NULL))
            ncols = 7;
    }
    struct cass_table *t = cass_table_new(ncols, headers);
    json_array_foreach(runs, i, r)
    {
        char created[64];
        ctl_format_time(c, ctl_str(r, "createdAt", NULL), created, sizeof(created));
        const char *cells[] = {ctl_str(r, "id", ""),
                               ctl_str(r, "name", ""),
                               ctl_str(r, "kind", ""),
                               ctl_str(r, "status", ""),
                               ctl_str(r, "reason", "-"),
                               created,
                               ctl_str(r, "reproducedFrom", "-")};
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
}

int ctl_cmd_runs(struct ctl *c, int argc, char **argv)
{
    const char *status = NULL, *kind = NULL, *name = NULL;
    long limit = 50;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 's':
            status = optarg;
            if (!cass_vocab_status_valid(status)) {
                fprintf(stderr, "cassinyctl runs: --status must be one of pending, queued, "
                                "creating, starting, ready, running, succeeded, failed, "
                                "stopped\n");
                return CASS_EXIT_USAGE;
            }
            break;
        case 'k':
            if (!(kind = ctl_kind_parse(optarg))) {
                fprintf(stderr, "cassinyctl runs: --kind must be notebook, job or model\n");
                return CASS_EXIT_USAGE;
            }
            break;
        case 'l':
            if (ctl_parse_long("runs", "--limit", optarg, 1, 100000, &limit) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(RUNS_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        fputs(RUNS_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    if (optind == argc - 1) {
        name = argv[optind];
        if (ctl_check_target("runs", name, 0))
            return CASS_EXIT_USAGE;
    }

    _cleanup_json_ json_t *all = json_array();
    _cleanup_free_ char *cursor = NULL;
    int code = CASS_EXIT_OK;
    do {
        long want = limit - (long)json_array_size(all);
        char q[1024];
        snprintf(q, sizeof(q), "/v1/runs?limit=%ld", want < 1000 ? want : 1000);
        if (add_param(q, sizeof(q), "name", name) < 0 ||
            add_param(q, sizeof(q), "status", status) < 0 ||
            add_param(q, sizeof(q), "kind", kind) < 0 ||
            add_param(q, sizeof(q), "cursor", cursor) < 0) {
            fprintf(stderr, "cassinyctl runs: query too long\n");
            return CASS_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *page = ctl_get_json(c, q, &code);
        if (!page)
            return code;
        json_t *runs = json_object_get(page, "runs");
        if (!json_is_array(runs)) {
            fprintf(stderr, "cassinyctl: malformed reply from cassinyd: no runs list\n");
            return CASS_EXIT_FAILURE;
        }
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r)
        {
            if ((long)json_array_size(all) < limit)
                json_array_append(all, r);
        }
        free(cursor);
        const char *next = ctl_str(page, "next", NULL);
        /* An empty page with a cursor would loop for ever. */
        cursor = next && json_array_size(runs) > 0 ? strdup(next) : NULL;
    } while (cursor && (long)json_array_size(all) < limit);

    if (c->output != CASS_OUTPUT_TABLE) {
        _cleanup_json_ json_t *out = json_pack("{s:O,s:s?}", "runs", all, "next", cursor);
        cass_output_value(stdout, c->output, out);
        return CASS_EXIT_OK;
    }
    if (json_array_size(all) == 0) {
        fprintf(stderr, "No runs.\n");
        return CASS_EXIT_OK;
    }
    print_runs(c, all);
    return CASS_EXIT_OK;
}
