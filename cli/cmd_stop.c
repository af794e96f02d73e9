/* stop RUN: stop one run; its record stays. */
#include "config.h"

#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

int ctl_cmd_stop(struct ctl *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: cassinyctl stop RUN\n");
        return CASS_EXIT_USAGE;
    }
    const char *id = argv[1];
    if (!ctl_run_id_valid(id)) {
        fprintf(stderr, "cassinyctl stop: \"");
        ctl_fputs_clean(id, stderr);
        fprintf(stderr, "\" is not a run id (r- and 26 characters; see cassinyctl runs)\n");
        return CASS_EXIT_USAGE;
    }
    char path[128], missing[128], done[128];
    snprintf(path, sizeof(path), "/v1/runs/%s/stop", id);
    snprintf(missing, sizeof(missing), "no run %s", id);
    snprintf(done, sizeof(done), "stopped %s", id);
    return ctl_act(c, "POST", path, missing, done);
}
