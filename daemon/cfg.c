#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "cfg.h"
#include "schema.h"
#include "spec.h"

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

json_t *cass_cfg_load(const char *path, int must_exist, struct cass_error **err)
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
    if (!text || len == 0 || strspn(text, " \t\r\n") == len) {
        const json_t *schema = cass_schema_get(CONFIG_SCHEMA);
        if (!schema) {
            cass_error_set(err, CASS_ERR_INTERNAL, "embedded %s is missing", CONFIG_SCHEMA);
            return NULL;
        }
        _cleanup_json_ json_t *empty = json_object();
        return cass_schema_apply(schema, empty, NULL, "", err);
    }
    json_t *cfg = cass_spec_load_as(text, len, CONFIG_SCHEMA, err);
    if (!cfg && err && *err && !(*err)->file)
        (*err)->file = strdup(path);
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
