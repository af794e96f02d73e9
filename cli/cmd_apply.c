#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

int ctl_cmd_apply(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"filename", required_argument, NULL, 'f'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *file = NULL;
    int dry_run = 0, ch;
    while ((ch = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            file = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        default:
            fprintf(stderr, "Usage: cassinyctl apply -f FILE [--dry-run]\n");
            return 2;
        }
    }
    if (!file || optind < argc) {
        fprintf(stderr, "Usage: cassinyctl apply -f FILE [--dry-run]\n");
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
    if (ctl_request(c, "POST", path, CASS_MEDIA_YAML, text, len, &r, &err) < 0) {
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
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, reply);
        return CASS_EXIT_OK;
    }
    static const char *const headers[] = {"KIND", "NAME", "REVISION", "RESULT"};
    struct cass_table *t = cass_table_new(4, headers);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(reply, "specs"), i, s)
    {
        const char *rev = json_string_value(json_object_get(s, "revision"));
        char shortrev[20];
        snprintf(shortrev, sizeof(shortrev), "%.12s",
                 rev && strncmp(rev, "sha256:", 7) == 0 ? rev + 7 : (rev ? rev : ""));
        const char *cells[] = {json_string_value(json_object_get(s, "kind")),
                               json_string_value(json_object_get(s, "name")), shortrev,
                               dry_run ? "valid (dry run)" : "applied"};
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
    return CASS_EXIT_OK;
}
