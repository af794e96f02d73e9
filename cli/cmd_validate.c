#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"
#include "spec.h"

int ctl_cmd_validate(struct ctl *c, int argc, char **argv)
{
    const char *files[64];
    size_t nfiles = 0;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        if (ch == 'f' && nfiles < 64) {
            files[nfiles++] = optarg;
            continue;
        }
        fprintf(stderr, "Usage: cassinyctl validate -f FILE [-f FILE...]\n");
        return CASS_EXIT_USAGE;
    }
    if (nfiles == 0 || optind < argc) {
        fprintf(stderr, "Usage: cassinyctl validate -f FILE [-f FILE...]\n");
        return CASS_EXIT_USAGE;
    }

    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *all = json_array();
    for (size_t i = 0; i < nfiles; i++) {
        _cleanup_error_ struct cass_error *err = NULL;
        size_t len = 0;
        _cleanup_free_ char *text = ctl_read_file(files[i], CASS_MAX_BODY_BYTES, &len, &err);
        _cleanup_json_ json_t *specs = text ? cass_spec_load(text, len, &err) : NULL;
        if (!specs) {
            if (err->n_items == 0)
                fprintf(stderr, "%s: ", files[i]);
            cass_error_fprint(stderr, err, files[i]);
            code = ctl_exit_for(err) == CASS_EXIT_USAGE ? CASS_EXIT_USAGE : CASS_EXIT_FAILURE;
            continue;
        }
        size_t j;
        json_t *s;
        json_array_foreach(specs, j, s)
        {
            json_t *o = json_deep_copy(s);
            json_object_del(o, "canonical");
            json_object_del(o, "pos");
            json_object_set_new(o, "file", json_string(files[i]));
            json_array_append_new(all, o);
        }
    }
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, all);
        return code;
    }
    if (json_array_size(all) == 0)
        return code;
    static const char *const headers[] = {"FILE", "LINE", "KIND", "NAME", "REVISION"};
    struct cass_table *t = cass_table_new(5, headers);
    size_t j;
    json_t *s;
    json_array_foreach(all, j, s)
    {
        char line[24], rev[20];
        snprintf(line, sizeof(line), "%lld",
                 (long long)json_integer_value(json_object_get(s, "line")));
        ctl_short_digest(json_string_value(json_object_get(s, "revision")), rev);
        const char *cells[] = {json_string_value(json_object_get(s, "file")), line,
                               json_string_value(json_object_get(s, "kind")),
                               json_string_value(json_object_get(s, "name")), rev};
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
    return code;
}
