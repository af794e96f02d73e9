/* token create|list|revoke: the API tokens of users; audit: who did what. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "protocol.h"

#define TOKEN_USAGE                                                                                \
    "Usage: cassinyctl token create --user NAME --scope read|write|admin [--expires DURATION]\n"   \
    "                               [--name LABEL]\n"                                              \
    "       cassinyctl token list [--user NAME]\n"                                                 \
    "       cassinyctl token revoke ID\n"
#define AUDIT_USAGE "Usage: cassinyctl audit [--user NAME] [--since TIME] [--limit N]\n"

/* Appends "&key=value" (percent-encoded) to q, NULL values left out. */
static void add_query(char *q, size_t n, const char *key, const char *value)
{
    if (!value)
        return;
    _cleanup_free_ char *e = cass_http_escape(value);
    size_t used = strlen(q);
    if (e)
        snprintf(q + used, n - used, "%s%s=%s", used ? "&" : "?", key, e);
}

/* POST path with a JSON body; the reply's JSON (caller owns), or NULL with
 * *ret_exit set and the problem printed. */
static json_t *post_json(struct ctl *c, const char *path, const json_t *body, int *ret_exit)
{
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_http_response r = {0};
    if (!text ||
        ctl_request(c, "POST", path, CASS_MEDIA_JSON, text, strlen(text), &r, NULL, &err) < 0) {
        fprintf(stderr, "cassinyctl: %s\n", err ? err->message : "out of memory");
        *ret_exit = CASS_EXIT_FAILURE;
        return NULL;
    }
    if (r.status < 200 || r.status > 299) {
        *ret_exit = ctl_print_problem(&r, NULL);
        cass_http_response_clear(&r);
        return NULL;
    }
    json_error_t jerr;
    json_t *reply = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &jerr);
    cass_http_response_clear(&r);
    if (!reply) {
        fprintf(stderr, "cassinyctl: malformed reply from cassinyd: %s\n", jerr.text);
        *ret_exit = CASS_EXIT_FAILURE;
    }
    return reply;
}

static int token_create(struct ctl *c, const char *user, const char *scope, const char *expires,
                        const char *name)
{
    if (!scope) {
        fprintf(stderr, "cassinyctl token create: --scope read|write|admin is required\n%s",
                TOKEN_USAGE);
        return CASS_EXIT_USAGE;
    }
    _cleanup_json_ json_t *body = json_pack("{s:s}", "scope", scope);
    if (user)
        json_object_set_new(body, "user", json_string(user));
    if (expires)
        json_object_set_new(body, "expiresIn", json_string(expires));
    if (name)
        json_object_set_new(body, "name", json_string(name));
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *t = post_json(c, "/v1/tokens", body, &code);
    if (!t)
        return code;
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, t);
        return CASS_EXIT_OK;
    }
    printf("token %s of %s, scope %s, %s%s\n", ctl_str(t, "id", "?"), ctl_str(t, "user", "?"),
           ctl_str(t, "scope", "?"), ctl_str(t, "expiresAt", NULL) ? "expires " : "never expires",
           ctl_str(t, "expiresAt", ""));
    printf("secret (shown this once; the daemon keeps only its hash):\n%s\n",
           ctl_str(t, "secret", ""));
    return CASS_EXIT_OK;
}

/* GET path and show the array under key: as it is with -o json|yaml, else
 * as a table of the 8 headers whose cells row fills for each item. */
static int show_list(struct ctl *c, const char *path, const char *key, const char *const headers[8],
                     void (*row)(const struct ctl *c, const json_t *item, struct cass_table *t))
{
    int code = CASS_EXIT_OK;
    _cleanup_json_ json_t *reply = ctl_get_json(c, path, &code);
    if (!reply)
        return code;
    if (c->output != CASS_OUTPUT_TABLE) {
        cass_output_value(stdout, c->output, reply);
        return CASS_EXIT_OK;
    }
    struct cass_table *t = cass_table_new(8, headers);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(reply, key), i, item) row(c, item, t);
    cass_table_print(t, stdout);
    cass_table_free(t);
    return CASS_EXIT_OK;
}

static void token_row(const struct ctl *c, const json_t *tok, struct cass_table *t)
{
    char created[64], used[64];
    ctl_format_time(c, ctl_str(tok, "createdAt", NULL), created, sizeof(created));
    ctl_format_time(c, ctl_str(tok, "lastUsedAt", NULL), used, sizeof(used));
    const char *cells[] = {ctl_str(tok, "id", ""),
                           ctl_str(tok, "name", ""),
                           ctl_str(tok, "user", ""),
                           ctl_str(tok, "scope", ""),
                           created,
                           ctl_str(tok, "expiresAt", "never"),
                           used[0] ? used : "-",
                           ctl_str(tok, "revokedAt", "-")};
    cass_table_add(t, cells);
}

static int token_list(struct ctl *c, const char *user)
{
    char q[256] = "", path[300];
    add_query(q, sizeof(q), "user", user);
    snprintf(path, sizeof(path), "/v1/tokens%s", q);
    static const char *const headers[] = {"ID",      "NAME",    "USER", "SCOPE",
                                          "CREATED", "EXPIRES", "USED", "REVOKED"};
    return show_list(c, path, "tokens", headers, token_row);
}

static void audit_row(const struct ctl *c, const json_t *e, struct cass_table *t)
{
    (void)c;
    char id[24], st[16];
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(e, "id")));
    snprintf(st, sizeof(st), "%lld", (long long)json_integer_value(json_object_get(e, "status")));
    const char *cells[] = {id,
                           ctl_str(e, "time", ""),
                           ctl_str(e, "user", "-"),
                           ctl_str(e, "tokenId", "-"),
                           ctl_str(e, "actor", "-"),
                           ctl_str(e, "action", ""),
                           ctl_str(e, "target", "-"),
                           st};
    cass_table_add(t, cells);
}

int ctl_cmd_token(struct ctl *c, int argc, char **argv)
{
    const char *user = NULL, *scope = NULL, *expires = NULL, *name = NULL;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'u':
            user = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        default:
            fputs(TOKEN_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    int rest = argc - optind - 1;
    if (sub && strcmp(sub, "create") == 0 && rest == 0)
        return token_create(c, user, scope, expires, name);
    if (sub && strcmp(sub, "list") == 0 && rest == 0 && !scope && !expires && !name)
        return token_list(c, user);
    if (sub && strcmp(sub, "revoke") == 0 && rest == 1 && !user && !scope && !expires && !name) {
        const char *id = argv[optind + 1];
        if (strncmp(id, "t-", 2) != 0 || strlen(id) != 28) {
            fprintf(stderr, "cassinyctl token revoke: \"");
            ctl_fputs_clean(id, stderr);
            fprintf(stderr, "\" is not a token id (t- and 26 characters; see token list)\n");
            return CASS_EXIT_USAGE;
        }
        char path[128], missing[128], done[128];
        snprintf(path, sizeof(path), "/v1/tokens/%s", id);
        snprintf(missing, sizeof(missing), "no token %s", id);
        snprintf(done, sizeof(done), "revoked %s", id);
        return ctl_act(c, "DELETE", path, missing, done);
    }
    fputs(TOKEN_USAGE, stderr);
    return CASS_EXIT_USAGE;
}

int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
    const char *user = NULL, *since = NULL, *limit = NULL;
    int ch;
    while ((ch = ctl_getopt(c, argc, argv)) != -1) {
        switch (ch) {
        case 'u':
            user = optarg;
            break;
        case 's':
            since = optarg;
            break;
        case 'l':
            limit = optarg;
            break;
        default:
            fputs(AUDIT_USAGE, stderr);
            return CASS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fputs(AUDIT_USAGE, stderr);
        return CASS_EXIT_USAGE;
    }
    long n = 100;
    if (limit && ctl_parse_long("audit", "--limit", limit, 1, 1000, &n) < 0)
        return CASS_EXIT_USAGE;
    char q[512] = "", nbuf[16];
    snprintf(nbuf, sizeof(nbuf), "%ld", n);
    add_query(q, sizeof(q), "user", user);
    add_query(q, sizeof(q), "since", since);
    add_query(q, sizeof(q), "limit", nbuf);
    char path[600];
    snprintf(path, sizeof(path), "/v1/audit%s", q);
    static const char *const headers[] = {"ID",   "TIME",   "USER",   "TOKEN",
                                          "FROM", "ACTION", "TARGET", "STATUS"};
    return show_list(c, path, "entries", headers, audit_row);
}
