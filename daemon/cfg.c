#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cleanup.h"
#include "engine.h"
#include "listen.h"
#include "protocol.h"
#include "schema.h"
#include "spec.h"
#include "yaml.h"

#define CONFIG_SCHEMA "config.schema.json"
#define CONFIG_MAX_BYTES (1024 * 1024)

const struct cass_cfg_flag cass_cfg_flags[] = {
    {"state-dir", "stateDir", "directory for the database and run data"},
    {"socket", "socket", "unix socket to serve the API on"},
    {"docker-host", "dockerHost", "Docker Engine address (unix:///PATH)"},
    {"log-level", "logLevel", "error, warn, info or debug"},
    {"log-format", "logFormat", "text or json"},
    {"publish-address", "publishAddress", "host address that container ports are published on"},
    {NULL, NULL, NULL},
};

static char *read_file(const char *path, size_t *ret_len, struct cass_error **err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f) {
        cass_error_errno(err, errno, "open %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0) {
        cass_error_errno(err, errno, "stat %s", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
        cass_error_set(err, CASS_ERR_TOO_LARGE, "%s: not a regular file of at most %d bytes", path,
                       CONFIG_MAX_BYTES);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    buf[n] = '\0';
    *ret_len = n;
    return buf;
}

/* Deprecated names: the old key, when it alone is set, gives its value to the
 * new one; both set is refused. */
static const struct {
    const char *old_key;
    const char *new_key;
} aliases[] = {
    {"limits.maxConcurrentRuns", "limits.maxConcurrentLaunches"},
};

/* Path keys whose default follows configure (lib/protocol.h) rather than
 * the schema, which states the FHS paths that a Debian build also gets. */
static const struct {
    const char *key;
    const char *value;
} path_defaults[] = {
    {"socket", CASS_DEFAULT_SOCKET},
    {"stateDir", CASS_DEFAULT_STATE_DIR},
};

/* pos holds the keys the file set (with their lines). */
static int set_path_defaults(json_t *cfg, const json_t *pos, struct cass_error **err)
{
    for (size_t i = 0; i < sizeof(path_defaults) / sizeof(path_defaults[0]); i++) {
        if (json_object_get(pos, path_defaults[i].key))
            continue;
        if (json_object_set_new(cfg, path_defaults[i].key, json_string(path_defaults[i].value)))
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int key_line(const json_t *pos, const char *path, int *ret_col)
{
    int line = 0;
    cass_yaml_pos_lookup(pos, path, 1, &line, ret_col);
    return line;
}

/* The TCP listeners (listen, gateway): plain HTTP only on loopback for the
 * API, and the PEM files of tls readable, of their kind, the key the
 * certificate's, each refusal at the line of the key it is about. */
static void check_listeners(const json_t *cfg, const json_t *pos, struct cass_error **e)
{
    static const char *const owners[] = {"listen", "gateway"};
    for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
        const char *owner = owners[i];
        const json_t *l = cass_cfg_get(cfg, owner);
        if (!json_is_object(l))
            continue;
        const json_t *tls = json_object_get(l, "tls");
        char path[64];
        int col = 0, line = 0;
        if (!tls && strcmp(owner, "listen") == 0) {
            const char *addr = json_string_value(json_object_get(l, "address"));
            if (!cass_listen_loopback_name(addr)) {
                line = key_line(pos, "listen.address", &col);
                cass_error_add_item(e, "listen.address", line, col,
                                    "%s is not a loopback address, and listen has no tls: plain "
                                    "HTTP on a non-loopback address would send tokens in the "
                                    "clear (set listen.tls, or listen on 127.0.0.1)",
                                    addr ? addr : "(none)");
            }
            continue;
        }
        if (!tls)
            continue;
        static const char *const files[] = {"cert", "key", "clientCA"};
        struct cass_listen_tls t;
        enum cass_listen_tls_file which = CASS_LISTEN_TLS_CERT;
        _cleanup_error_ struct cass_error *terr = NULL;
        if (cass_listen_tls_load(json_string_value(json_object_get(tls, "cert")),
                                 json_string_value(json_object_get(tls, "key")),
                                 json_string_value(json_object_get(tls, "clientCA")), &t, &which,
                                 &terr) < 0) {
            snprintf(path, sizeof(path), "%s.tls.%s", owner, files[which]);
            line = key_line(pos, path, &col);
            cass_error_add_item(e, path, line, col, "%s", terr->message);
            continue;
        }
        cass_listen_tls_clear(&t);
    }
}

/* Sets (value) or, with value NULL, removes the key at a dotted path. */
static void set_path(json_t *cfg, const char *path, json_t *value)
{
    const char *dot = strrchr(path, '.');
    _cleanup_free_ char *parent = dot ? strndup(path, (size_t)(dot - path)) : NULL;
    json_t *obj = dot ? cass_cfg_get(cfg, parent) : cfg;
    if (json_is_object(obj) && value)
        json_object_set(obj, dot ? dot + 1 : path, value);
    else if (json_is_object(obj))
        json_object_del(obj, dot ? dot + 1 : path);
}

static void resolve_aliases(json_t *cfg, const json_t *pos, struct cass_error **warn,
                            struct cass_error **e)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        const char *old_key = aliases[i].old_key, *new_key = aliases[i].new_key;
        json_t *old_v = cass_cfg_get(cfg, old_key);
        int old_col = 0, old_line = key_line(pos, old_key, &old_col);
        if (old_v && json_object_get(pos, new_key)) {
            int new_col = 0, new_line = key_line(pos, new_key, &new_col);
            cass_error_add_item(e, old_key, old_line, old_col,
                                "deprecated name of %s, which is also set (line %d); keep only %s",
                                new_key, new_line, new_key);
            cass_error_add_item(e, new_key, new_line, new_col,
                                "also set under its deprecated name %s (line %d); keep only %s",
                                old_key, old_line, new_key);
            continue;
        }
        if (old_v) {
            cass_error_add_item(warn, old_key, old_line, old_col,
                                "deprecated name of %s, which it sets; rename it", new_key);
            set_path(cfg, new_key, old_v);
            /* Only the new name is read: the old one must not linger. */
            set_path(cfg, old_key, NULL);
        }
    }
}

json_t *cass_cfg_parse(const char *text, size_t len, struct cass_error **ret_warnings,
                       struct cass_error **err)
{
    _cleanup_json_ json_t *cfg = NULL;
    _cleanup_json_ json_t *pos = NULL;
    if (!text || len == 0 || strspn(text, " \t\r\n") == len) {
        const json_t *schema = cass_schema_get(CONFIG_SCHEMA);
        if (!schema) {
            cass_error_set(err, CASS_ERR_INTERNAL, "embedded %s is missing", CONFIG_SCHEMA);
            return NULL;
        }
        _cleanup_json_ json_t *empty = json_object();
        cfg = cass_schema_apply(schema, empty, NULL, "", err);
        pos = json_object();
    } else {
        cfg = cass_spec_load_as_pos(text, len, CONFIG_SCHEMA, &pos, err);
    }
    if (!cfg || !pos) {
        if (cfg)
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (set_path_defaults(cfg, pos, err) < 0)
        return NULL;
    struct cass_error *e = NULL, *warn = NULL;
    check_listeners(cfg, pos, &e);
    resolve_aliases(cfg, pos, &warn, &e);
    if (e) {
        cass_error_free(warn);
        free(e->message);
        if (asprintf(&e->message, "config refused: %zu error%s", e->n_items,
                     e->n_items == 1 ? "" : "s") < 0)
            e->message = NULL;
        cass_error_merge(err, &e);
        return NULL;
    }
    if (ret_warnings)
        *ret_warnings = warn;
    else
        cass_error_free(warn);
    return TAKE_PTR(cfg);
}

json_t *cass_cfg_load(const char *path, int must_exist, struct cass_error **ret_warnings,
                      struct cass_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (path) {
        _cleanup_error_ struct cass_error *rerr = NULL;
        text = read_file(path, &len, &rerr);
        if (!text && (must_exist || rerr->kind != CASS_ERR_NOT_FOUND)) {
            cass_error_merge(err, &rerr);
            return NULL;
        }
    }
    struct cass_error *warn = NULL;
    json_t *cfg = cass_cfg_parse(text, len, &warn, err);
    if (!cfg) {
        if (err && *err && !(*err)->file && path)
            (*err)->file = strdup(path);
        return NULL;
    }
    if (warn && !warn->file && path)
        warn->file = strdup(path);
    if (ret_warnings)
        *ret_warnings = warn;
    else
        cass_error_free(warn);
    return cfg;
}

int cass_cfg_set(json_t **cfg, const char *key, const char *value, struct cass_error **err)
{
    _cleanup_json_ json_t *copy = json_deep_copy(*cfg);
    if (!copy)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    json_object_set_new(copy, key, json_string(value));
    const json_t *schema = cass_schema_get(CONFIG_SCHEMA);
    if (!schema)
        return cass_error_set(err, CASS_ERR_INTERNAL, "embedded %s is missing", CONFIG_SCHEMA);
    json_t *checked = cass_schema_apply(schema, copy, NULL, "", err);
    if (!checked)
        return -1;
    json_decref(*cfg);
    *cfg = checked;
    return 0;
}

json_t *cass_cfg_get(const json_t *cfg, const char *path)
{
    const json_t *cur = cfg;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

const char *cass_cfg_backend(const json_t *cfg, const json_t *info, char **ret_note,
                             struct cass_error **err)
{
    const char *engine = json_string_value(cass_cfg_get(cfg, "engine"));
    if (!engine ||
        (strcmp(engine, "docker") && strcmp(engine, "auto") && strcmp(engine, "swarm"))) {
        cass_error_set(err, CASS_ERR_INVALID, "engine: %s: no such backend in this version",
                       engine ? engine : "(unset)");
        return NULL;
    }
    *ret_note = NULL;
    if (!strcmp(engine, "docker"))
        return "docker";
    bool active = false, manager = false;
    _cleanup_error_ struct cass_error *serr = NULL;
    if (!strcmp(engine, "swarm")) {
        /* Services are made on a manager only: an engine that says it is
         * not one is refused now rather than every launch later. One that
         * does not answer yet is waited for, as for any engine. */
        if (!info) {
            if (asprintf(ret_note, "engine: swarm: the engine did not answer /info; whether it "
                                   "is a Swarm manager is checked by the launches") < 0)
                *ret_note = NULL;
            return "swarm";
        }
        if (cass_engine_info_swarm(info, &active, &manager, &serr) == 0 && active && manager)
            return "swarm";
        const char *state =
            json_string_value(json_object_get(json_object_get(info, "Swarm"), "LocalNodeState"));
        cass_error_set(err, CASS_ERR_INVALID,
                       "engine: swarm: the engine at dockerHost is not an active Swarm manager "
                       "(%s%s); point dockerHost at a manager, or use engine: docker or auto",
                       state && *state ? "its Swarm state is " : "it gives no Swarm state",
                       state && *state ? state : "");
        return NULL;
    }
    /* auto: Swarm on a manager, plain containers anywhere else; a worker
     * cannot create services, and an engine that does not say is taken as
     * a plain one, with a note. */
    if (!info) {
        if (asprintf(ret_note, "engine: auto: the engine did not answer /info, so whether it is "
                               "a Swarm manager is unknown; using plain containers") < 0)
            *ret_note = NULL;
    } else if (cass_engine_info_swarm(info, &active, &manager, &serr) < 0) {
        if (asprintf(ret_note,
                     "engine: auto: cannot read the Swarm state from /info (%s); using "
                     "plain containers",
                     serr && serr->message ? serr->message : "?") < 0)
            *ret_note = NULL;
    } else if (active && manager) {
        return "swarm";
    }
    return "docker";
}
