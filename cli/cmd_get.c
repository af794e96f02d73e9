/* get [KIND] [NAME]: the specs the daemon knows, with live status and URL. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define GET_USAGE "Usage: cassinyctl get [KIND] [NAME]\n"

static void print_specs(const json_t *list)
{
    static const char *const headers[] = {"NAME", "KIND", "STATUS", "URL", "AGE"};
    struct cass_table *t = cass_table_new(5, headers);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        char age[32];
        ctl_format_age(ctl_str(s, "createdAt", NULL), age, sizeof(age));
        const char *degraded = ctl_str(s, "degraded", NULL);
        char status[96];
        snprintf(status, sizeof(status), "%s%s%s", ctl_str(s, "status", "-"),
                 degraded ? " (degraded: " : "", degraded ? degraded : "");
        if (degraded)
            strncat(status, ")", sizeof(status) - strlen(status) - 1);
        const char *cells[] = {ctl_str(s, "name", ""), ctl_str(s, "kind", ""), status,
                               ctl_str(s, "url", "-"), age};
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
}

static int get_one(struct ctl *c, const char *kind, const char *name)
{
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *spec = ctl_fetch_spec(c, name, &code);
    if (!spec)
        return code;
    if (kind && strcmp(ctl_str(spec, "kind", ""), kind) != 0) {
        fprintf(stderr, "cassinyctl: no %s named %s (it is a %s)\n", kind, name,
                ctl_str(spec, "kind", "?"));
        return CASS_EXIT_FAILURE;
    }
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, spec);
        return CASS_EXIT_OK;
    }
    _cleanup_json_ json_t *one = json_pack("[O]", spec);
    print_specs(one);
    return CASS_EXIT_OK;
}

int ctl_cmd_get(struct ctl *c, int argc, char **argv)
{
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fputs(GET_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    const char *kind = NULL, *name = NULL;
    if (argc == 3) {
        if (!(kind = ctl_kind_parse(argv[1]))) {
            fprintf(stderr, "cassinyctl get: unknown kind \"");
            ctl_fputs_clean(argv[1], stderr);
            fprintf(stderr, "\": use notebook, job or model\n");
            return CASS_EXIT_USAGE;
        }
        name = argv[2];
    } else if (argc == 2 && !(kind = ctl_kind_parse(argv[1]))) {
        name = argv[1];
    }
    if (name) {
        if (ctl_check_target("get", name, 0))
            return CASS_EXIT_USAGE;
        return get_one(c, kind, name);
    }

    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *reply = ctl_get_json(c, "/v1/specs", &code);
    if (!reply)
        return code;
    json_t *specs = json_object_get(reply, "specs");
    if (!json_is_array(specs)) {
        fprintf(stderr, "cassinyctl: malformed reply from cassinyd: no specs list\n");
        return CASS_EXIT_FAILURE;
    }
    _cleanup_json_ json_t *shown = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        if (!kind || strcmp(ctl_str(s, "kind", ""), kind) == 0)
            json_array_append(shown, s);
    }
    if (c->output != CASS_OUTPUT_TABLE) {
        _cleanup_json_ json_t *out = json_pack("{s:O}", "specs", shown);
        cass_output_value(stdout, c->output, out);
        return CASS_EXIT_OK;
    }
    if (json_array_size(shown) == 0) {
        fprintf(stderr, "No %ss.\n", kind ? kind : "spec");
        return CASS_EXIT_OK;
    }
    print_specs(shown);
    return CASS_EXIT_OK;
}
