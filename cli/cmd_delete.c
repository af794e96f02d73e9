/* delete NAME [--purge]: stop a spec's runs and remove it (its history stays). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

int ctl_cmd_delete(struct ctl *c, int argc, char **argv)
{
    int purge = 0, ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        if (ch != 'p') {
            fprintf(stderr, "Usage: cassinyctl delete NAME [--purge]\n");
            return CASS_EXIT_USAGE;
        }
        purge = 1;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "Usage: cassinyctl delete NAME [--purge]\n");
        return CASS_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (ctl_check_target("delete", name, 0))
        return CASS_EXIT_USAGE;
    char path[128], missing[128], done[160];
    snprintf(path, sizeof(path), "/v1/specs/%s%s", name, purge ? "?purge=true" : "");
    snprintf(missing, sizeof(missing), "no spec named %s", name);
    snprintf(done, sizeof(done), "deleted %s%s", name, purge ? " and its workspace volume" : "");
    return ctl_act(c, "DELETE", path, missing, done);
}
