#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "http.h"
#include "launch.h"
#include "notebook.h"
#include "policy.h"

static json_t *get_json(const char *base, const char *path, const char *token, long timeout_ms,
                        struct cass_error **err)
{
    struct cass_http *h = cass_http_new(base, err);
    if (!h)
        return NULL;
    cass_http_set_timeout(h, timeout_ms);
    cass_http_set_max_body(h, 4u << 20);
    _cleanup_free_ char *etok = cass_http_escape(token ? token : "");
    _cleanup_free_ char *url = NULL;
    /* no_track_activity: our own polling must not count as use, or nothing
     * would ever look idle. */
    if (!etok || asprintf(&url, "%s?no_track_activity=1&token=%s", path, etok) < 0) {
        cass_http_free(h);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    struct cass_http_response r = {0};
    int rc = cass_http_request(h, "GET", url, NULL, NULL, 0, &r, err);
    cass_http_free(h);
    if (rc < 0)
        return NULL;
    json_t *v = NULL;
    if (r.status == 200) {
        json_error_t jerr;
        v = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!v)
            cass_error_set(err, CASS_ERR_ENGINE, "Jupyter %s: malformed JSON: %s", path, jerr.text);
    } else if (r.status == 401 || r.status == 403) {
        cass_error_set(err, CASS_ERR_UNAUTHORIZED, "Jupyter %s refused the token (%ld)", path,
                       r.status);
    } else {
        cass_error_set(err, CASS_ERR_UNAVAILABLE, "Jupyter %s answered %ld", path, r.status);
    }
    cass_http_response_clear(&r);
    return v;
}

int cass_notebook_status(const char *base, const char *token, long timeout_ms, json_t **ret_status,
                         struct cass_error **err)
{
    json_t *v = get_json(base, "/api/status", token, timeout_ms, err);
    if (!v)
        return -1;
    if (!json_is_object(v)) {
        json_decref(v);
        return cass_error_set(err, CASS_ERR_ENGINE, "Jupyter /api/status: not an object");
    }
    if (ret_status)
        *ret_status = v;
    else
        json_decref(v);
    return 0;
}

json_t *cass_notebook_kernels(const char *base, const char *token, long timeout_ms,
                              struct cass_error **err)
{
    json_t *v = get_json(base, "/api/kernels", token, timeout_ms, err);
    if (v && !json_is_array(v)) {
        json_decref(v);
        cass_error_set(err, CASS_ERR_ENGINE, "Jupyter /api/kernels: not an array");
        return NULL;
    }
    return v;
}

int cass_notebook_parse_time(const char *s, double *ret)
{
    if (!s)
        return -1;
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    double frac = 0;
    if (*p == '.') {
        double scale = 0.1;
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9') {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ret = (double)t + frac;
    return 0;
}

int cass_notebook_idle_decide(const json_t *status, const json_t *kernels, int64_t idle_timeout_s,
                              double since, double now, struct cass_error **err)
{
    double last = 0;
    const char *la = json_string_value(json_object_get(status, "last_activity"));
    if (cass_notebook_parse_time(la, &last) < 0)
        return cass_error_set(err, CASS_ERR_ENGINE, "Jupyter status has no valid last_activity");
    if (since > last)
        last = since;
    if (now - last < (double)idle_timeout_s)
        return 0;
    if (!kernels)
        return 1;
    if (!json_is_array(kernels))
        return cass_error_set(err, CASS_ERR_ENGINE, "Jupyter kernels: not an array");
    size_t i;
    json_t *k;
    json_array_foreach(kernels, i, k)
    {
        const char *state = json_string_value(json_object_get(k, "execution_state"));
        /* Busy or still starting: someone's work is in flight. */
        if (state && (strcmp(state, "busy") == 0 || strcmp(state, "starting") == 0))
            return 0;
    }
    return 1;
}

void cass_notebook_env(struct cass_strv *env, const json_t *spec_env, const char *home)
{
    if (!json_object_get(spec_env, "HOME"))
        cass_strv_addf(env, "HOME=%s", home);
    if (!json_object_get(spec_env, "JUPYTER_RUNTIME_DIR"))
        cass_strv_addf(env, "JUPYTER_RUNTIME_DIR=%s/jupyter-runtime", CASS_POLICY_TMP);
}

char *cass_notebook_base_url(const char *name)
{
    return cass_xasprintf("/notebooks/%s/", name);
}

int cass_notebook_endpoint(const json_t *run, char host[64], int *port, const char **prefix)
{
    const json_t *ep = json_object_get(run, "endpoint");
    const char *h = json_string_value(json_object_get(ep, "host"));
    json_int_t p = json_integer_value(json_object_get(ep, "port"));
    const char *base = json_string_value(json_object_get(run, "baseUrl"));
    if (!h) {
        /* Recorded before endpoints: the published port, at "/". */
        json_t *p0 = json_array_get(json_object_get(run, "ports"), 0);
        h = json_string_value(json_object_get(p0, "hostIp"));
        p = json_integer_value(json_object_get(p0, "hostPort"));
        if (!h || !*h || strcmp(h, "0.0.0.0") == 0)
            h = "127.0.0.1";
        base = "/";
    }
    if (p <= 0 || p > 65535 || strlen(h) >= 64 || !base || base[0] != '/' ||
        base[strlen(base) - 1] != '/')
        return -1;
    snprintf(host, 64, "%s", h);
    *port = (int)p;
    *prefix = base;
    return 0;
}

char *cass_notebook_base(const json_t *run)
{
    char host[64];
    int port;
    const char *prefix;
    if (cass_notebook_endpoint(run, host, &port, &prefix) < 0)
        return NULL;
    return cass_xasprintf("http://%s:%d%.*s", host, port, (int)strlen(prefix) - 1, prefix);
}
