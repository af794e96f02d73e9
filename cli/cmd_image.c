/* image push IMAGE [--registry ADDR]: the daemon's engine pushes a local
 * image into one of its registries; the progress (JSON lines) is shown as
 * one line that redraws on a terminal, the finished layers and the result
 * elsewhere, and the lines themselves with -o json. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define IMAGE_USAGE "Usage: cassinyctl image push IMAGE [--registry ADDR]\n"
/* Longest progress line taken from the daemon. */
#define LINE_MAX_BYTES 8192
/* Layers tracked for the progress line. */
#define MAX_LAYERS 256

struct layer {
    char id[65];
    long long current, total;
    int done;
};

struct push {
    struct ctl *c;
    const char *image;
    char line[LINE_MAX_BYTES + 1];
    size_t len;
    int too_long;
    struct layer layers[MAX_LAYERS];
    size_t n_layers;
    json_t *result; /* the last line: {"status": "pushed"} or {"error"} */
    int drawn;      /* a progress line is on the terminal */
    int failed;     /* stdout went away or a line was not JSON */
};

static struct layer *layer_for(struct push *p, const char *id)
{
    for (size_t i = 0; i < p->n_layers; i++)
        if (strcmp(p->layers[i].id, id) == 0)
            return &p->layers[i];
    if (p->n_layers == MAX_LAYERS || strlen(id) >= sizeof(p->layers[0].id))
        return NULL;
    struct layer *l = &p->layers[p->n_layers++];
    snprintf(l->id, sizeof(l->id), "%s", id);
    return l;
}

/* A finished layer: pushed now, or the registry had it. */
static int finished(const char *status)
{
    return strcmp(status, "Pushed") == 0 || strcmp(status, "Layer already exists") == 0 ||
           strncmp(status, "Mounted from", 12) == 0;
}

static void draw(struct push *p)
{
    size_t done = 0;
    long long cur = 0, tot = 0;
    for (size_t i = 0; i < p->n_layers; i++) {
        done += (size_t)p->layers[i].done;
        cur += p->layers[i].done ? p->layers[i].total : p->layers[i].current;
        tot += p->layers[i].total;
    }
    fputs("\r\033[Kpushing ", stdout);
    ctl_fputs_clean(p->image, stdout);
    printf(": %zu/%zu layers", done, p->n_layers);
    if (tot > 0)
        printf(", %.1f/%.1f MB", (double)cur / 1e6, (double)tot / 1e6);
    fflush(stdout);
    p->drawn = 1;
}

static void on_line(struct push *p, const char *text, size_t len)
{
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        p->failed = 1;
        return;
    }
    if (p->c->output == CASS_OUTPUT_JSON) {
        _cleanup_free_ char *s = json_dumps(o, JSON_COMPACT);
        if (s && (puts(s) < 0 || fflush(stdout) != 0))
            p->failed = 1;
    }
    if (json_object_get(o, "error") || json_object_get(o, "digest") ||
        json_object_get(o, "image")) {
        json_decref(p->result);
        p->result = json_incref(o);
        return;
    }
    const char *id = ctl_str(o, "layer", NULL);
    const char *status = ctl_str(o, "status", "");
    struct layer *l = id ? layer_for(p, id) : NULL;
    if (!l)
        return;
    json_t *cur = json_object_get(o, "current"), *tot = json_object_get(o, "total");
    if (json_is_integer(cur))
        l->current = json_integer_value(cur);
    if (json_is_integer(tot))
        l->total = json_integer_value(tot);
    if (!l->done && finished(status)) {
        l->done = 1;
        if (p->c->output == CASS_OUTPUT_TABLE && !p->c->tty) {
            printf("layer %s: ", l->id);
            ctl_fputs_clean(status, stdout);
            putchar('\n');
        }
    }
    if (p->c->output == CASS_OUTPUT_TABLE && p->c->tty)
        draw(p);
}

static int on_chunk(const char *data, size_t len, void *userdata)
{
    struct push *p = userdata;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (p->len < LINE_MAX_BYTES)
                p->line[p->len++] = data[i];
            else
                p->too_long = 1;
            continue;
        }
        if (p->too_long)
            p->failed = 1;
        else if (p->len > 0)
            on_line(p, p->line, p->len);
        p->len = 0;
        p->too_long = 0;
    }
    return p->failed;
}

static int push(struct ctl *c, const char *image, const char *registry)
{
    _cleanup_json_ json_t *body = json_pack("{s:s}", "image", image);
    if (body && registry)
        json_object_set_new(body, "registry", json_string(registry));
    _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text) {
        fprintf(stderr, "cassinyctl: out of memory\n");
        return CASS_EXIT_FAILURE;
    }
    _cleanup_error_ struct cass_error *err = NULL;
    /* A large image takes minutes: no overall timeout. */
    struct cass_http *h = ctl_http_new(c, 0, &err);
    struct push *p = calloc(1, sizeof(*p));
    if (!p) {
        cass_http_free(h);
        fprintf(stderr, "cassinyctl: out of memory\n");
        return CASS_EXIT_FAILURE;
    }
    p->c = c;
    p->image = image;
    long status = 0;
    _cleanup_free_ char *ebody = NULL;
    int rc = h ? cass_http_stream(h, "POST", "/v1/images/push", "application/json", text,
                                  strlen(text), on_chunk, p, &status, &ebody, &err)
               : -1;
    if (rc < 0)
        ctl_unreachable(c, h, &err);
    cass_http_free(h);
    if (p->drawn)
        putchar('\n');
    int code = CASS_EXIT_OK;
    if (rc < 0) {
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        code = CASS_EXIT_FAILURE;
    } else if (status < 200 || status > 299) {
        struct cass_http_response r = {
            .status = status, .body = ebody, .len = ebody ? strlen(ebody) : 0};
        code = ctl_print_problem(&r, NULL);
    } else if (p->failed) {
        fprintf(stderr, "cassinyctl: image push: a malformed progress line from the daemon\n");
        code = CASS_EXIT_FAILURE;
    } else if (!p->result) {
        fprintf(stderr, "cassinyctl: image push: the daemon ended the push without a result\n");
        code = CASS_EXIT_FAILURE;
    } else if (json_object_get(p->result, "error")) {
        fputs("cassinyctl: image push failed: ", stderr);
        ctl_fputs_clean(ctl_str(p->result, "error", "?"), stderr);
        fputc('\n', stderr);
        code = CASS_EXIT_FAILURE;
    } else if (c->output == CASS_OUTPUT_YAML) {
        cass_output_yaml(stdout, p->result);
    } else if (c->output == CASS_OUTPUT_TABLE) {
        fputs("pushed ", stdout);
        ctl_fputs_clean(ctl_str(p->result, "image", "?"), stdout);
        fputs(" ", stdout);
        ctl_fputs_clean(ctl_str(p->result, "digest", "(no digest given)"), stdout);
        fputc('\n', stdout);
    }
    json_decref(p->result);
    free(p);
    return code;
}

int ctl_cmd_image(struct ctl *c, int argc, char **argv)
{
    const char *registry = NULL;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'r':
            registry = optarg;
            break;
        default:
            fputs(IMAGE_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind != argc - 2 || strcmp(argv[optind], "push") != 0) {
        fputs(IMAGE_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    return push(c, argv[optind + 1], registry);
}
