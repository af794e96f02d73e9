/* reproduce RUN [--wait] [--timeout S]: runs a run again from its recorded
 * revision and image ID; with --wait, follows it to its end and says how its
 * outputs compare with the original's. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define REPRODUCE_USAGE "Usage: cassinyctl reproduce RUN [--wait] [--timeout SECONDS]\n"

static void print_paths(const char *what, const json_t *paths)
{
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p)
    {
        printf("%s: ", what);
        ctl_fputs_clean(json_string_value(p), stdout);
        putchar('\n');
    }
}

/* Says how a finished reproduction compares with its original; returns the
 * exit code: 0 when the outputs are identical. */
static int report_comparison(const struct ctl *c, const json_t *run)
{
    const char *orig = ctl_str(run, "reproducedFrom", "?");
    json_t *cmp = json_object_get(run, "comparison");
    int table = c->output == CASS_OUTPUT_TABLE;
    if (!json_is_object(cmp)) {
        fprintf(stderr, "cassinyctl: no comparison with %s was recorded", orig);
        const char *error = ctl_str(run, "error", NULL);
        if (error) {
            fputs(": ", stderr);
            ctl_fputs_clean(error, stderr);
        }
        fputc('\n', stderr);
        return CASS_EXIT_FAILURE;
    }
    orig = ctl_str(cmp, "original", orig);
    int identical = json_is_true(json_object_get(cmp, "identical"));
    if (table) {
        if (identical) {
            printf("identical to %s\n", orig);
        } else {
            printf("outputs differ from %s:\n", orig);
            print_paths("changed", json_object_get(cmp, "changed"));
            print_paths("added", json_object_get(cmp, "added"));
            print_paths("removed", json_object_get(cmp, "removed"));
        }
        if (json_is_true(json_object_get(cmp, "inputsChanged")))
            printf("inputs changed since %s\n", orig);
    }
    return identical ? CASS_EXIT_OK : CASS_EXIT_FAILURE;
}

int ctl_cmd_reproduce(struct ctl *c, int argc, char **argv)
{
    int wait = 0, ch;
    /* A Job is bounded by its own timeoutSeconds: by default, wait as long. */
    long timeout_s = 7 * 86400;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'w':
            wait = 1;
            break;
        case 'T':
            if (ctl_parse_long("reproduce", "--timeout", optarg, 1, 7 * 86400, &timeout_s) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(REPRODUCE_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(REPRODUCE_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    const char *id = argv[optind];
    if (!ctl_run_id_valid(id)) {
        fputs("cassinyctl reproduce: \"", stderr);
        ctl_fputs_clean(id, stderr);
        fputs("\" is not a run id (r- and 26 characters; see cassinyctl runs)\n", stderr);
        return CASS_EXIT_USAGE;
    }
    char path[128], missing[128];
    snprintf(path, sizeof(path), "/v1/runs/%s/reproduce", id);
    snprintf(missing, sizeof(missing), "no run %s", id);
    int code = CASS_EXIT_OK;
    long long since = -1;
    _cleanup_json_ json_t *run = ctl_call_json_event(c, "POST", path, missing, &since, &code);
    if (!run)
        return code;
    if (c->output == CASS_OUTPUT_TABLE) {
        ctl_fputs_clean(ctl_str(run, "id", "?"), stdout);
        putchar('\n');
        fflush(stdout);
    }
    if (!wait) {
        if (c->output != CASS_OUTPUT_TABLE)
            cass_output_value(stdout, c->output, run);
        return CASS_EXIT_OK;
    }
    _cleanup_json_ json_t *runs = json_pack("[O]", run);
    int tty = 0;
    FILE *progress = ctl_progress_stream(c, &tty);
    code = ctl_wait_runs(c, runs, (double)timeout_s, since, progress, tty);
    json_t *final = json_array_get(runs, 0);
    if (c->output != CASS_OUTPUT_TABLE)
        cass_output_value(stdout, c->output, final);
    if (!ctl_run_settled(final))
        return code; /* timed out or lost: already said */
    if (c->output == CASS_OUTPUT_TABLE && code == CASS_EXIT_OK)
        ctl_print_run_outcome(final, stdout);
    /* A Job has outputs to compare, even when it failed (if it got as far
     * as hashing them); others have none. */
    if (strcmp(ctl_str(final, "kind", ""), "Job") != 0)
        return code;
    if (code != CASS_EXIT_OK) {
        if (json_is_object(json_object_get(final, "comparison")))
            report_comparison(c, final);
        return code;
    }
    return report_comparison(c, final);
}
