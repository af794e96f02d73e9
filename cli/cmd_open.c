/* open NAME: the URL (with its token) of a spec's current run once it is ready. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

int ctl_cmd_open(struct ctl *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: cassinyctl open NAME\n");
        return CASS_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (ctl_check_target("open", name, 0))
        return CASS_EXIT_USAGE;
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *spec = ctl_fetch_spec(c, name, &code);
    if (!spec)
        return code;
    json_t *run = json_object_get(spec, "run");
    const char *status = ctl_str(run, "status", NULL), *url = ctl_str(run, "url", NULL);
    if (!json_is_object(run)) {
        fprintf(stderr, "cassinyctl: %s has no run\n", name);
        return CASS_EXIT_FAILURE;
    }
    if (!url || !status || strcmp(status, "ready") != 0) {
        if (status && strcmp(status, "ready") == 0 &&
            strcmp(ctl_str(spec, "kind", ""), "Notebook") == 0)
            fprintf(stderr, "cassinyctl: %s is ready; its URL is its owner's (%s) only\n", name,
                    ctl_str(spec, "owner", "?"));
        else if (status && strcmp(status, "ready") == 0)
            fprintf(stderr, "cassinyctl: %s (a %s) has no URL\n", name, ctl_str(spec, "kind", "?"));
        else
            fprintf(stderr, "cassinyctl: %s is not ready: its run %s is %s\n", name,
                    ctl_str(run, "id", "?"), ctl_status_word(ctl_str(run, "kind", NULL), status));
        return CASS_EXIT_FAILURE;
    }
    if (c->output != CASS_OUTPUT_TABLE) {
        _cleanup_json_ json_t *out =
            json_pack("{s:s,s:s,s:s}", "name", name, "run", ctl_str(run, "id", ""), "url", url);
        cass_output_value(stdout, c->output, out);
        return CASS_EXIT_OK;
    }
    ctl_fputs_clean(url, stdout);
    putchar('\n');
    return CASS_EXIT_OK;
}
