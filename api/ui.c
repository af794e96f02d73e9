#include "config.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cleanup.h"
#include "hash.h"
#include "protocol.h"
#include "ui.h"

static const struct {
    const char *ext;
    const char *type;
} media_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".ttf", "font/ttf"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
    {".wasm", "application/wasm"},
};

const char *cass_ui_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
            if (strcasecmp(dot, media_types[i].ext) == 0)
                return media_types[i].type;
    return "application/octet-stream";
}

bool cass_ui_hashed(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strchr(base, '.');
    if (!dot)
        return false;
    const char *dash = NULL;
    for (const char *p = base; p < dot; p++)
        if (*p == '-')
            dash = p;
    if (!dash || dot - dash - 1 < 8)
        return false;
    for (const char *p = dash + 1; p < dot; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

bool cass_ui_is_static(const char *path)
{
    if (strcmp(path, "/ui") == 0)
        return true;
    if (strncmp(path, "/ui/", 4) != 0)
        return false;
    const char *rest = path + 4;
    return !(strncmp(rest, "api", 3) == 0 && (rest[3] == '\0' || rest[3] == '/'));
}

int cass_ui_headers(struct cass_api_reply *reply)
{
    return cass_routes_header_add(reply, "Content-Security-Policy", CASS_UI_CSP) < 0 ||
                   cass_routes_header_add(reply, "Referrer-Policy", "no-referrer") < 0 ||
                   cass_routes_header_add(reply, "X-Frame-Options", "DENY") < 0
               ? -1
               : 0;
}

/* Each file's ETag, made once: a digest of its bytes. */
#define ETAG_LEN 24
static char (*etags)[ETAG_LEN];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void etags_make(void)
{
    size_t n = 0;
    while (cass_ui_files[n].name)
        n++;
    etags = calloc(n ? n : 1, sizeof(*etags));
    for (size_t i = 0; etags && i < n; i++) {
        char hex[CASS_SHA256_HEX_LEN + 1];
        cass_hash_sha256_hex(cass_ui_files[i].data, cass_ui_files[i].size, hex);
        snprintf(etags[i], ETAG_LEN, "\"%.20s\"", hex);
    }
}

/* The file of name, or NULL; its index in *ret_i. */
static const struct cass_ui_file *file_find(const char *name, size_t *ret_i)
{
    for (size_t i = 0; cass_ui_files[i].name; i++)
        if (strcmp(cass_ui_files[i].name, name) == 0) {
            *ret_i = i;
            return &cass_ui_files[i];
        }
    return NULL;
}

/* Whether an If-None-Match header names etag (or is "*"). */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header)
        return false;
    size_t n = strlen(etag);
    for (const char *p = header; *p;) {
        p += strspn(p, " \t,");
        size_t k = strcspn(p, ",");
        const char *v = p;
        size_t vk = k;
        while (vk && v[vk - 1] == ' ')
            vk--;
        if (vk >= 2 && strncmp(v, "W/", 2) == 0)
            v += 2, vk -= 2;
        if ((vk == 1 && *v == '*') || (vk == n && strncmp(v, etag, n) == 0))
            return true;
        p += k;
    }
    return false;
}

int cass_ui_static(struct cass_api_request *req, struct cass_api_reply *reply,
                   struct cass_error **err)
{
    reply->route = "/ui/";
    if (cass_ui_headers(reply) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        reply->status = 405;
        snprintf(reply->allow, sizeof(reply->allow), "GET, HEAD");
        reply->problem_type = CASS_PROBLEM_NO_METHOD;
        return cass_error_set(err, CASS_ERR_INVALID, "the dashboard's files are read with GET");
    }
    if (strcmp(req->path, "/ui") == 0) {
        reply->status = 301;
        reply->text = strdup("");
        reply->content_type = "text/plain; charset=utf-8";
        if (!reply->text || cass_routes_header_add(reply, "Location", "/ui/") < 0)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return 0;
    }
    const char *name = req->path + 4;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t i = 0;
    const struct cass_ui_file *f = *name ? file_find(name, &i) : NULL;
    /* The app's own routes (/ui/runs/r-..., /ui/compare) are its page. */
    if (!f && !strchr(base, '.'))
        f = file_find("index.html", &i);
    if (!f) {
        if (!file_find("index.html", &i))
            return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                  "this cassinyd was built without the dashboard's files");
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "the dashboard has no file %s", name);
    }
    pthread_once(&etags_once, etags_make);
    const char *etag = etags ? etags[i] : NULL;
    reply->cache_control =
        cass_ui_hashed(f->name) ? "public, max-age=31536000, immutable" : "no-cache";
    if (etag && cass_routes_header_add(reply, "ETag", etag) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    const char *inm =
        req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match") : NULL;
    reply->content_type = cass_ui_content_type(f->name);
    if (etag && etag_matches(inm, etag)) {
        reply->status = 304;
        reply->data = "";
        reply->data_len = 0;
        return 0;
    }
    reply->status = 200;
    reply->data = f->data;
    reply->data_len = f->size;
    return 0;
}

/* ---- the session --------------------------------------------------------------- */

/* The two cookies of a session (secret NULL: both cleared). */
static int set_cookies(const struct cass_api_request *req, struct cass_api_reply *reply,
                       const char *secret, size_t secret_len, const unsigned char *key)
{
    const char *secure = req->tls ? "; Secure" : "";
    char csrf[CASS_AUTH_CSRF_LEN + 1] = "";
    if (secret)
        cass_auth_csrf_value(key, secret, secret_len, csrf);
    const char *clear = secret ? "" : "; Max-Age=0";
    _cleanup_free_ char *session = NULL, *token = NULL;
    if (asprintf(&session, "%s=%.*s; Path=/; HttpOnly; SameSite=Strict%s%s",
                 CASS_AUTH_SESSION_COOKIE, secret ? (int)secret_len : 0, secret ? secret : "",
                 secure, clear) < 0)
        session = NULL;
    if (asprintf(&token, "%s=%s; Path=/; SameSite=Strict%s%s", CASS_AUTH_CSRF_COOKIE, csrf, secure,
                 clear) < 0)
        token = NULL;
    if (!session || !token || cass_routes_header_add(reply, "Set-Cookie", session) < 0 ||
        cass_routes_header_add(reply, "Set-Cookie", token) < 0)
        return -1;
    return 0;
}

static bool is_json(const char *ct)
{
    size_t n = strlen(CASS_MEDIA_JSON);
    return ct && strncasecmp(ct, CASS_MEDIA_JSON, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* POST /ui/api/login {"token": SECRET}: the token checked as the bearer
 * token would be, then kept in the session cookie. JSON only: a form of
 * another site cannot send it without the browser asking this server
 * first (CORS), which it never allows. */
int cass_ui_login(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                  struct cass_error **err)
{
    if (cass_ui_headers(reply) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    if (!is_json(req->content_type)) {
        reply->status = 415;
        return cass_error_set(err, CASS_ERR_SYNTAX,
                              "the login is a JSON body {\"token\": \"...\"} sent as %s",
                              CASS_MEDIA_JSON);
    }
    json_error_t jerr;
    _cleanup_json_ json_t *body =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body))
        return cass_error_set(err, CASS_ERR_SYNTAX, "the body must be a JSON object: %s",
                              body ? "not an object" : jerr.text);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) if (strcmp(key, "token") != 0) return cass_error_set(
        err, CASS_ERR_INVALID, "unknown field %s (the login takes token only)", key);
    const char *secret = json_string_value(json_object_get(body, "token"));
    if (!secret)
        return cass_error_set(err, CASS_ERR_INVALID, "token must be a string");
    size_t len = strlen(secret);
    struct cass_principal p;
    _cleanup_error_ struct cass_error *aerr = NULL;
    if (!cass_auth_cookie_safe(secret, len)) {
        reply->status = 401;
        reply->audit_refusal = true;
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED,
                              "that is no API token (one word of letters, digits and ._~+/=-, "
                              "at most %d)",
                              CASS_AUTH_SECRET_MAX);
    }
    if (cass_auth_secret(req->d, secret, req->who.from, &p, &aerr) < 0) {
        reply->status = aerr && aerr->kind == CASS_ERR_UNAUTHORIZED ? 401 : 503;
        /* Revoked and expired tokens are audited where they are told apart. */
        reply->audit_refusal = reply->status == 401 && aerr && aerr->message &&
                               !strstr(aerr->message, " is revoked") &&
                               !strstr(aerr->message, " is expired");
        return cass_error_set(err, aerr ? aerr->kind : CASS_ERR_UNAUTHORIZED, "%s",
                              aerr && aerr->message ? aerr->message : "not a token");
    }
    if (!req->d->session_key_set)
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "this daemon has no session key");
    if (set_cookies(req, reply, secret, len, req->d->session_key) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    /* Audited as the user who logged in. */
    req->who = p;
    reply->status = 204;
    reply->audit = 1;
    return 0;
}

int cass_ui_logout(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                   struct cass_error **err)
{
    if (cass_ui_headers(reply) < 0 || set_cookies(req, reply, NULL, 0, NULL) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    reply->status = 204;
    return 0;
}

int cass_ui_whoami(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                   struct cass_error **err)
{
    if (cass_ui_headers(reply) < 0)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    if (req->who.scope == CASS_SCOPE_NONE) {
        /* The login page asks this first: without a credential shown, the
         * 401 is its answer, not a refusal of anything. */
        reply->status = 401;
        reply->not_refusal = !req->credential;
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "%s",
                              req->auth_error[0] ? req->auth_error : "not logged in");
    }
    reply->body = json_pack("{s:s,s:s,s:b}", "user", req->who.user, "scope",
                            cass_scope_name(req->who.scope), "local", req->who.local);
    if (reply->body && !req->who.local)
        json_object_set_new(reply->body, "tokenId", json_string(req->who.token_id));
    return reply->body ? 0 : cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
}
