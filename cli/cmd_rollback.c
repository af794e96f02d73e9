/* rollback NAME [--to REVISION] [--wait]: goes back to an earlier revision,
 * rolled out like any change (for a model: one replica at a time). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define ROLLBACK_USAGE                                                                             \
    "Usage: cassinyctl rollback NAME [--to REVISION] [--wait] [--timeout SECONDS]\n"

/* "sha256:" and hex, or at least 12 hex digits of one. */
static int revision_valid(const char *s)
{
    if (strncmp(s, "sha256:", 7) == 0)
        s += 7;
    size_t n = strspn(s, "0123456789abcdef");
    return n >= 12 && n <= 64 && s[n] == '\0';
}

int ctl_cmd_rollback(struct ctl *c, int argc, char **argv)
{
    const char *to = NULL;
    int wait = 0, ch;
    long timeout_s = 300;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 't':
            to = optarg;
            break;
        case 'w':
            wait = 1;
            break;
        case 'T':
            if (ctl_parse_long("rollback", "--timeout", optarg, 1, 86400, &timeout_s) < 0)
                return CASS_EXIT_USAGE;
            break;
        default:
            fputs(ROLLBACK_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !ctl_name_valid(argv[optind]) || (to && !revision_valid(to))) {
        fputs(ROLLBACK_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    const char *name = argv[optind];
    char path[256], missing[128];
    snprintf(path, sizeof(path), "/v1/specs/%s/rollback%s%s", name, to ? "?to=" : "", to ? to : "");
    snprintf(missing, sizeof(missing), "no spec named %s, or no such revision", name);
    int code = CASS_EXIT_OK;
    long long since = -1;
    _cleanup_json_ json_t *run = ctl_call_json_event(c, "POST", path, missing, &since, &code);
    if (!run)
        return code;
    if (c->output == CASS_OUTPUT_TABLE) {
        printf("%s: rolling back to %.19s as run ", name, ctl_str(run, "revision", "?"));
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
    else if (code == CASS_EXIT_OK && ctl_run_settled(final))
        ctl_print_run_outcome(final, stdout);
    return code;
}
