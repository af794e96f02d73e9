#include "config.h"

#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

int ctl_cmd_version(struct ctl *c, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "Usage: cassinyctl version\n");
        return CASS_EXIT_USAGE;
    }
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *server = ctl_get_json(c, "/v1/version", &code);
    _cleanup_json_ json_t *out = json_pack("{s:{s:s,s:s}}", "client", "version", PACKAGE_VERSION,
                                           "apiVersion", CASS_API_VERSION);
    if (server)
        json_object_set(out, "server", server);
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, out);
        return server ? CASS_EXIT_OK : code;
    }
    printf("Client:  cassinyctl %s (API %s)\n", PACKAGE_VERSION, CASS_API_VERSION);
    if (!server)
        return code;
    printf("Daemon:  cassinyd %s (API %s)\n", json_string_value(json_object_get(server, "version")),
           json_string_value(json_object_get(server, "apiVersion")));
    json_t *engine = json_object_get(server, "engine");
    const char *eerr = json_string_value(json_object_get(engine, "error"));
    if (eerr)
        printf("Engine:  unreachable: %s\n", eerr);
    else
        printf("Engine:  Docker %s (API %s, using %s) %s/%s\n",
               json_string_value(json_object_get(engine, "version")),
               json_string_value(json_object_get(engine, "apiVersion")),
               json_string_value(json_object_get(engine, "negotiatedApiVersion")),
               json_string_value(json_object_get(engine, "os")),
               json_string_value(json_object_get(engine, "arch")));
    return CASS_EXIT_OK;
}
