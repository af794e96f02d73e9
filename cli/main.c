/* cassinyctl: the command-line client of cassinyd. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

/* Flags of the verbs: the val of each is what the verb's switch sees. */
static const struct ctl_flag apply_flags[] = {
    {"filename", 'f', true, CTL_VALUE_FILE, false}, {"dry-run", 'n', false, CTL_VALUE_NONE, false},
    {"wait", 'w', false, CTL_VALUE_NONE, false},    {"timeout", 'T', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag validate_flags[] = {
    {"filename", 'f', true, CTL_VALUE_FILE, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag logs_flags[] = {
    {"follow", 'f', true, CTL_VALUE_NONE, false},
    {"tail", 'n', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag runs_flags[] = {
    {"status", 's', false, CTL_VALUE_STATUS, false},
    {"kind", 'k', false, CTL_VALUE_KIND, false},
    {"limit", 'l', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag reproduce_flags[] = {
    {"wait", 'w', false, CTL_VALUE_NONE, false},
    {"timeout", 'T', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag rollback_flags[] = {
    {"to", 't', false, CTL_VALUE_TEXT, false},
    {"wait", 'w', false, CTL_VALUE_NONE, false},
    {"timeout", 'T', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag events_flags[] = {
    {"name", 'n', false, CTL_VALUE_NAME, false},
    {"run", 'r', false, CTL_VALUE_RUN, false},
    {"since", 's', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag token_flags[] = {
    {"user", 'u', false, CTL_VALUE_TEXT, false},    {"scope", 's', false, CTL_VALUE_TEXT, false},
    {"expires", 'e', false, CTL_VALUE_TEXT, false}, {"name", 'n', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag audit_flags[] = {
    {"user", 'u', false, CTL_VALUE_TEXT, false},
    {"since", 's', false, CTL_VALUE_TEXT, false},
    {"limit", 'l', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag image_flags[] = {
    {"registry", 'r', false, CTL_VALUE_TEXT, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};
static const struct ctl_flag delete_flags[] = {
    {"purge", 'p', false, CTL_VALUE_NONE, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};

const struct ctl_flag ctl_global_flags[] = {
    {"host", 'H', true, CTL_VALUE_TEXT, false},    {"token", 't', true, CTL_VALUE_TEXT, false},
    {"output", 'o', true, CTL_VALUE_OUTPUT, true}, {"help", 'h', true, CTL_VALUE_NONE, false},
    {"version", 'V', true, CTL_VALUE_NONE, false}, {"cacert", 'C', false, CTL_VALUE_FILE, false},
    {NULL, 0, false, CTL_VALUE_NONE, false},
};

#define NO_ARGS                                                                                    \
    {                                                                                              \
        CTL_VALUE_NONE, CTL_VALUE_NONE                                                             \
    }
#define ONE_ARG(v)                                                                                 \
    {                                                                                              \
        v, CTL_VALUE_NONE                                                                          \
    }

const struct ctl_verb ctl_verbs[] = {
    {"apply", ctl_cmd_apply, apply_flags, NO_ARGS,
     "apply -f FILE [--dry-run] [--wait] [--timeout SECONDS]\n"
     "                               send specs to the daemon (and wait until they run)"},
    {"validate", ctl_cmd_validate, validate_flags, NO_ARGS,
     "validate -f FILE             check specs locally"},
    {"get",
     ctl_cmd_get,
     NULL,
     {CTL_VALUE_KIND_OR_NAME, CTL_VALUE_NAME},
     "get [KIND] [NAME]            list specs with their status and URL"},
    {"describe", ctl_cmd_describe, NULL, ONE_ARG(CTL_VALUE_TARGET),
     "describe NAME|RUN            everything recorded about a spec or run"},
    {"open", ctl_cmd_open, NULL, ONE_ARG(CTL_VALUE_NAME),
     "open NAME                    print the URL of a ready notebook"},
    {"logs", ctl_cmd_logs, logs_flags, ONE_ARG(CTL_VALUE_TARGET),
     "logs NAME|RUN [-f] [--tail N]\n"
     "                               print (or follow) a run's output"},
    {"runs", ctl_cmd_runs, runs_flags, ONE_ARG(CTL_VALUE_NAME),
     "runs [NAME] [--status S] [--kind K] [--limit N]\n"
     "                               run history, newest first"},
    {"stop", ctl_cmd_stop, NULL, ONE_ARG(CTL_VALUE_RUN), "stop RUN                     stop a run"},
    {"reproduce", ctl_cmd_reproduce, reproduce_flags, ONE_ARG(CTL_VALUE_RUN),
     "reproduce RUN [--wait] [--timeout SECONDS]\n"
     "                               run it again from its recorded revision and image\n"
     "                               (--wait: and compare its outputs with the original's)"},
    {"rollback", ctl_cmd_rollback, rollback_flags, ONE_ARG(CTL_VALUE_NAME),
     "rollback NAME [--to REVISION] [--wait] [--timeout SECONDS]\n"
     "                               go back to the previous (or that) revision"},
    {"events", ctl_cmd_events, events_flags, NO_ARGS,
     "events [--name NAME] [--run RUN] [--since ID]\n"
     "                               follow state changes as they happen"},
    {"delete", ctl_cmd_delete, delete_flags, ONE_ARG(CTL_VALUE_NAME),
     "delete NAME [--purge]        stop and remove a spec (--purge: and its workspace)"},
    {"token",
     ctl_cmd_token,
     token_flags,
     {CTL_VALUE_TEXT, CTL_VALUE_TEXT},
     "token create --user NAME --scope read|write|admin [--expires DURATION] [--name LABEL]\n"
     "                               make an API token (its secret is shown once);\n"
     "                               token list [--user NAME]: the tokens, no secrets;\n"
     "                               token revoke ID"},
    {"image",
     ctl_cmd_image,
     image_flags,
     {CTL_VALUE_IMAGE_ACTION, CTL_VALUE_TEXT},
     "image push IMAGE [--registry ADDR]\n"
     "                               put a local image into a registry of the config's\n"
     "                               registries:, with progress (admin)"},
    {"audit", ctl_cmd_audit, audit_flags, NO_ARGS,
     "audit [--user NAME] [--since TIME] [--limit N]\n"
     "                               who did what, from where, with which result (admin)"},
    {"version", ctl_cmd_version, NULL, NO_ARGS,
     "version                      client, daemon and engine versions"},
    {"__complete", ctl_cmd_complete, NULL, NO_ARGS, NULL},
    {NULL, NULL, NULL, NO_ARGS, NULL},
};

const struct ctl_verb *ctl_verb_find(const char *name)
{
    for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

/* getopt_long's tables from flags: so starts with prefix ("+" or ""). */
static void build_getopt(const struct ctl_flag *flags, const char *prefix, struct option *lo,
                         char *so)
{
    size_t n = 0, k = 0;
    for (const char *p = prefix; *p; p++)
        so[k++] = *p;
    for (const struct ctl_flag *f = flags; f && f->name && n < CTL_MAX_FLAGS; f++, n++) {
        int arg = f->value == CTL_VALUE_NONE ? no_argument : required_argument;
        lo[n] = (struct option){f->name, arg, NULL, f->val};
        if (f->short_too) {
            so[k++] = (char)f->val;
            if (arg == required_argument)
                so[k++] = ':';
        }
    }
    lo[n] = (struct option){NULL, 0, NULL, 0};
    so[k] = '\0';
}

int ctl_getopt(struct ctl *c, int argc, char **argv)
{
    return getopt_long(argc, argv, c->shortopts, c->longopts, NULL);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: cassinyctl [--host unix:///PATH | https://HOST:PORT] [--token T]\n"
               "                  [--cacert FILE] [-o table|json|yaml] VERB [ARGS]\n\nVerbs:\n");
    for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
        if (v->usage)
            fprintf(f, "  %s\n", v->usage);
    fprintf(f, "\nKIND is notebook, job or model. RUN is a run id (r-...).\n"
               "The host defaults to $CASSINY_HOST, else unix://" CASS_DEFAULT_SOCKET ";\n"
               "the token to $CASSINY_TOKEN; the CA file of https hosts to $CASSINY_CACERT,\n"
               "else the system's. See cassinyctl(1).\n"
               "Exit codes: 0 success, 1 failure, 2 bad usage or invalid spec.\n");
}

int ctl_exit_for(const struct cass_error *e)
{
    if (!e)
        return CASS_EXIT_FAILURE;
    switch (e->kind) {
    case CASS_ERR_INVALID:
    case CASS_ERR_SYNTAX:
    case CASS_ERR_TOO_LARGE:
        return CASS_EXIT_USAGE;
    default:
        return CASS_EXIT_FAILURE;
    }
}

struct cass_http *ctl_http_new(struct ctl *c, long timeout_ms, struct cass_error **err)
{
    struct cass_http *h = cass_http_new(c->host, err);
    if (!h)
        return NULL;
    if (c->token)
        cass_http_set_token(h, c->token);
    if (c->cacert && cass_http_set_cacert(h, c->cacert, err) < 0) {
        cass_http_free(h);
        return NULL;
    }
    cass_http_set_timeout(h, timeout_ms);
    return h;
}

void ctl_unreachable(const struct ctl *c, const struct cass_http *h, struct cass_error **err)
{
    if (!err || !*err)
        return;
    char *m = NULL;
    if (h && cass_http_untrusted(h) &&
        asprintf(&m, "%s: pass --cacert FILE (or set CASSINY_CACERT) with the CA that signed it",
                 (*err)->message) >= 0) {
        free((*err)->message);
        (*err)->message = m;
        return;
    }
    cass_error_prefix(err, "cannot reach cassinyd at %s", c->host);
}

int ctl_request(struct ctl *c, const char *method, const char *path, const char *content_type,
                const char *body, size_t len, struct cass_http_response *ret,
                long long *ret_event_id, struct cass_error **err)
{
    if (ret_event_id)
        *ret_event_id = -1;
    struct cass_http *h = ctl_http_new(c, 120000, err);
    if (!h)
        return -1;
    int rc = cass_http_request(h, method, path, content_type, body, len, ret, err);
    if (rc == 0 && ret_event_id) {
        _cleanup_free_ char *v = cass_http_last_header(h, CTL_EVENT_ID_HEADER);
        ctl_parse_event_id(v, ret_event_id);
    }
    if (rc < 0)
        ctl_unreachable(c, h, err);
    cass_http_free(h);
    return rc;
}

json_t *ctl_get_json(struct ctl *c, const char *path, int *ret_exit)
{
    return ctl_call_json(c, "GET", path, NULL, ret_exit);
}

json_t *ctl_call_json(struct ctl *c, const char *method, const char *path, const char *not_found,
                      int *ret_exit)
{
    return ctl_call_json_event(c, method, path, not_found, NULL, ret_exit);
}

json_t *ctl_call_json_event(struct ctl *c, const char *method, const char *path,
                            const char *not_found, long long *ret_event_id, int *ret_exit)
{
    struct cass_http_response r = {0};
    _cleanup_error_ struct cass_error *err = NULL;
    if (ctl_request(c, method, path, NULL, NULL, 0, &r, ret_event_id, &err) < 0) {
        fprintf(stderr, "cassinyctl: %s\n", err->message);
        *ret_exit = CASS_EXIT_FAILURE;
        return NULL;
    }
    json_t *v = NULL;
    if (r.status >= 200 && r.status < 300) {
        json_error_t jerr;
        v = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
            fprintf(stderr, "cassinyctl: malformed reply from cassinyd: %s\n", jerr.text);
            *ret_exit = CASS_EXIT_FAILURE;
        }
    } else if (r.status == 404 && not_found) {
        fprintf(stderr, "cassinyctl: %s\n", not_found);
        *ret_exit = CASS_EXIT_FAILURE;
    } else {
        *ret_exit = ctl_print_problem(&r, NULL);
    }
    cass_http_response_clear(&r);
    return v;
}

int ctl_print_problem(const struct cass_http_response *r, const char *file)
{
    json_error_t jerr;
    _cleanup_json_ json_t *p = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
    const char *detail = json_string_value(json_object_get(p, "detail"));
    const char *title = json_string_value(json_object_get(p, "title"));
    json_t *items = json_object_get(p, "errors");
    if (json_is_array(items) && json_array_size(items) > 0) {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *path = json_string_value(json_object_get(it, "path"));
            const char *msg = json_string_value(json_object_get(it, "message"));
            json_int_t line = json_integer_value(json_object_get(it, "line"));
            json_int_t col = json_integer_value(json_object_get(it, "column"));
            if (!path || !*path)
                path = ".";
            if (line > 0)
                fprintf(stderr, "%s:%lld:%lld: %s: %s\n", file ? file : "-", (long long)line,
                        (long long)col, path, msg ? msg : "");
            else
                fprintf(stderr, "%s: %s: %s\n", file ? file : "-", path, msg ? msg : "");
        }
    } else if (detail) {
        fprintf(stderr, "cassinyctl: %s (%ld %s)\n", detail, r->status, title ? title : "");
    } else {
        fprintf(stderr, "cassinyctl: cassinyd answered %ld\n", r->status);
    }
    switch (r->status) {
    case 400:
    case 413:
    case 415:
    case 422:
        return CASS_EXIT_USAGE;
    default:
        return CASS_EXIT_FAILURE;
    }
}

char *ctl_read_file(const char *path, size_t max, size_t *ret_len, struct cass_error **err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (!f) {
        cass_error_errno(err, errno, "%s", path);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            if (cap > max)
                break;
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int read_err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (read_err) {
        free(buf);
        cass_error_set(err, CASS_ERR_IO, "%s: read error", path);
        return NULL;
    }
    if (len > max) {
        free(buf);
        cass_error_set(err, CASS_ERR_TOO_LARGE, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

static int set_output(struct ctl *c, const char *v)
{
    if (!v || cass_output_format_parse(v, &c->output) < 0) {
        fprintf(stderr, "cassinyctl: -o must be table, json or yaml\n");
        return -1;
    }
    return 0;
}

/* "-o FMT" may also follow the verb ("cassinyctl get -o json"): takes it
 * (-o X, -oX, --output X, --output=X) out of the verb's arguments, up to a
 * "--". Returns the new argc, or -1 after a bad value. */
static int take_output_option(struct ctl *c, int argc, char **argv)
{
    int out = 1, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (set_output(c, ++i < argc ? argv[i] : NULL) < 0)
                return -1;
            continue;
        }
        if (strncmp(a, "-o", 2) == 0 && a[2] != '-')
            v = a + 2;
        else if (strncmp(a, "--output=", 9) == 0)
            v = a + 9;
        if (v) {
            if (set_output(c, v) < 0)
                return -1;
            continue;
        }
        argv[out++] = argv[i];
    }
    for (; i < argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    struct ctl c = {.output = CASS_OUTPUT_TABLE, .tty = isatty(STDOUT_FILENO)};
    c.host = getenv("CASSINY_HOST");
    if (!c.host || !*c.host)
        c.host = "unix://" CASS_DEFAULT_SOCKET;
    c.token = getenv("CASSINY_TOKEN");
    c.cacert = getenv("CASSINY_CACERT");
    if (c.cacert && !*c.cacert)
        c.cacert = NULL;

    int ch;
    /* '+': stop at the verb; its own options are parsed by the verb. */
    build_getopt(ctl_global_flags, "+", c.longopts, c.shortopts);
    while ((ch = ctl_getopt(&c, argc, argv)) != -1) {
        switch (ch) {
        case 'H':
            c.host = optarg;
            break;
        case 't':
            c.token = optarg;
            break;
        case 'C':
            c.cacert = optarg;
            break;
        case 'o':
            if (set_output(&c, optarg) < 0)
                return CASS_EXIT_USAGE;
            break;
        case 'h':
            usage(stdout);
            return CASS_EXIT_OK;
        case 'V':
            printf("cassinyctl %s\n", PACKAGE_VERSION);
            return CASS_EXIT_OK;
        default:
            usage(stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CASS_EXIT_USAGE;
    }
    const char *name = argv[optind];
    c.verb = ctl_verb_find(name);
    if (c.verb) {
        char **vargv = argv + optind;
        /* __complete's words are a command line being typed, not options. */
        int vargc = c.verb->fn == ctl_cmd_complete ? argc - optind
                                                   : take_output_option(&c, argc - optind, vargv);
        if (vargc < 0)
            return CASS_EXIT_USAGE;
        build_getopt(c.verb->flags, "", c.longopts, c.shortopts);
        optind = 0; /* 0: reset GNU getopt fully, out of the "+" mode */
        return c.verb->fn(&c, vargc, vargv);
    }
    fprintf(stderr, "cassinyctl: unknown verb \"%s\"\n\n", name);
    usage(stderr);
    return CASS_EXIT_USAGE;
}
