/* describe NAME|RUN: everything recorded about a spec's current run, or about
 * one run, as a block for people (or the raw object with -o json|yaml). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

/* "Label:          value", with "-" for a missing value. */
static void field(const char *label, const char *value)
{
    printf("%-17s", label);
    ctl_fputs_clean(value && *value ? value : "-", stdout);
    putchar('\n');
}

static void time_field(const struct ctl *c, const char *label, const char *ts)
{
    char age[32] = "", line[96];
    if (ts && c->tty)
        ctl_format_age(ts, age, sizeof(age));
    snprintf(line, sizeof(line), "%s%s%s%s", ts ? ts : "", *age ? " (" : "", age,
             *age ? " ago)" : "");
    field(label, line);
}

/* The strings of an array joined with ", ". Caller owns. */
static char *join(const json_t *a, size_t max_each)
{
    size_t cap = 1, i;
    json_t *v;
    json_array_foreach(a, i, v) cap += strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
    char *out = calloc(1, cap);
    if (!out)
        abort();
    json_array_foreach(a, i, v)
    {
        if (i > 0)
            strcat(out, ", ");
        strncat(out, json_string_value(v) ? json_string_value(v) : "", max_each);
    }
    return out;
}

/* Artifacts (path and full hash) or outputs (path, size and a short hash). */
static void print_files(const char *title, const json_t *list, int outputs)
{
    if (json_array_size(list) == 0)
        return;
    printf("%s:\n", title);
    static const char *const headers[] = {"  PATH", "SIZE", "SHA256"};
    struct cass_table *t = cass_table_new(3, headers);
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        char size[32] = "-", path[512], hash[20];
        json_t *sz = json_object_get(f, "size");
        if (outputs && json_is_integer(sz))
            snprintf(size, sizeof(size), "%lld", (long long)json_integer_value(sz));
        snprintf(path, sizeof(path), "  %s", ctl_str(f, "path", ""));
        ctl_short_digest(ctl_str(f, "sha256", ""), hash);
        const char *cells[] = {path, size, outputs ? hash : ctl_str(f, "sha256", "")};
        cass_table_add(t, cells);
    }
    cass_table_print(t, stdout);
    cass_table_free(t);
}

/* "changed: a, b; added: c" for the file lists of a comparison. */
static void print_differences(const json_t *cmp)
{
    static const char *const kinds[] = {"changed", "added", "removed"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const json_t *paths = json_object_get(cmp, kinds[k]);
        if (json_array_size(paths) == 0)
            continue;
        _cleanup_free_ char *list = join(paths, 200);
        char label[32];
        snprintf(label, sizeof(label), "  %s:", kinds[k]);
        field(label, list);
    }
}

/* Where a run came from and, for a reproduction that ended, how its
 * outputs compare with the original's. */
static void print_lineage(const json_t *run)
{
    const char *orig = ctl_str(run, "reproducedFrom", NULL);
    field("Reproduced from:", orig);
    json_t *cmp = json_object_get(run, "comparison");
    if (!orig || !json_is_object(cmp))
        return;
    char line[160];
    orig = ctl_str(cmp, "original", orig);
    int identical = json_is_true(json_object_get(cmp, "identical"));
    snprintf(line, sizeof(line), "%s %.40s%s",
             identical ? "outputs identical to" : "outputs differ from", orig,
             json_is_true(json_object_get(cmp, "inputsChanged")) ? " (inputs changed since)" : "");
    field("Comparison:", line);
    print_differences(cmp);
}

static void print_run(const struct ctl *c, const json_t *run)
{
    field("Run:", ctl_str(run, "id", NULL));
    field("Status:", ctl_str(run, "status", NULL));
    field("Reason:", ctl_str(run, "reason", NULL));
    field("Error:", ctl_str(run, "error", NULL));
    json_t *code = json_object_get(run, "exitCode");
    if (json_is_integer(code))
        printf("%-17s%lld\n", "Exit code:", (long long)json_integer_value(code));
    field("URL:", ctl_str(run, "url", NULL));
    json_t *image = json_object_get(run, "image");
    field("Image:", ctl_str(image, "ref", NULL));
    field("  ID:", ctl_str(image, "id", NULL));
    _cleanup_free_ char *digests = join(json_object_get(image, "repoDigests"), 200);
    field("  RepoDigests:", digests);
    _cleanup_free_ char *containers = join(json_object_get(run, "containers"), 12);
    field("Containers:", containers);
    char nodes[512] = "";
    size_t used_nodes = 0;
    const char *wid;
    json_t *node;
    json_object_foreach(json_object_get(run, "nodes"), wid, node)
    {
        int n = snprintf(nodes + used_nodes, sizeof(nodes) - used_nodes, "%s%.12s on %.64s",
                         used_nodes ? ", " : "", wid, json_string_value(node) ?: "?");
        if (n < 0 || (size_t)n >= sizeof(nodes) - used_nodes)
            break;
        used_nodes += (size_t)n;
    }
    field("Nodes:", nodes);
    char ports[512] = "";
    size_t i, used = 0;
    json_t *p;
    json_array_foreach(json_object_get(run, "ports"), i, p)
    {
        int n = snprintf(ports + used, sizeof(ports) - used, "%s%.64s:%lld->%lld", i ? ", " : "",
                         ctl_str(p, "hostIp", ""),
                         (long long)json_integer_value(json_object_get(p, "hostPort")),
                         (long long)json_integer_value(json_object_get(p, "containerPort")));
        if (n < 0 || (size_t)n >= sizeof(ports) - used)
            break;
        used += (size_t)n;
    }
    field("Ports:", ports);
    time_field(c, "Created:", ctl_str(run, "createdAt", NULL));
    time_field(c, "Started:", ctl_str(run, "startedAt", NULL));
    time_field(c, "Ready:", ctl_str(run, "readyAt", NULL));
    time_field(c, "Finished:", ctl_str(run, "finishedAt", NULL));
    if (strcmp(ctl_str(run, "kind", ""), "Job") == 0) {
        field("Inputs digest:", ctl_str(run, "inputsDigest", NULL));
        field("Outputs digest:", ctl_str(run, "outputsDigest", NULL));
    }
    print_lineage(run);
    print_files("Artifacts", json_object_get(run, "artifacts"), 0);
    print_files("Outputs", json_object_get(run, "outputs"), 1);
}

int ctl_cmd_describe(struct ctl *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: cassinyctl describe NAME|RUN\n");
        return CASS_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (ctl_check_target("describe", arg, 1))
        return CASS_EXIT_USAGE;
    int code = CASS_EXIT_OK;
    int is_run = ctl_run_id_valid(arg);
    _cleanup_json_ json_t *obj =
        is_run ? ctl_fetch_run(c, arg, &code) : ctl_fetch_spec(c, arg, &code);
    if (!obj)
        return code;
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, obj);
        return CASS_EXIT_OK;
    }
    field("Name:", ctl_str(obj, "name", NULL));
    field("Kind:", ctl_str(obj, "kind", NULL));
    field("Revision:", ctl_str(obj, "revision", NULL));
    if (is_run) {
        print_run(c, obj);
        return CASS_EXIT_OK;
    }
    if (ctl_str(obj, "deletedAt", NULL))
        time_field(c, "Deleted:", ctl_str(obj, "deletedAt", NULL));
    time_field(c, "Applied:", ctl_str(obj, "updatedAt", NULL));
    json_t *run = json_object_get(obj, "run");
    if (json_is_object(run))
        print_run(c, run);
    else
        field("Run:", "none");
    return CASS_EXIT_OK;
}
