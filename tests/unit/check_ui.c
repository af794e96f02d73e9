/* The dashboard's session and files: cookies, the CSRF value and its
 * check, Origin, the session key in the state directory, and /ui and
 * /ui/api through the routes, without a socket. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "routes.h"
#include "store.h"
#include "ui.h"

static const char *cookie(const char *header, const char *name, char *buf, size_t n)
{
    size_t len = 0;
    const char *v = cass_auth_cookie_find(header, name, &len);
    if (!v)
        return NULL;
    snprintf(buf, n, "%.*s", (int)len, v);
    return buf;
}

START_TEST(cookie_parsing)
{
    char b[128];
    ck_assert_str_eq(cookie("cassiny-session=abc", "cassiny-session", b, sizeof(b)), "abc");
    ck_assert_str_eq(cookie("a=1; cassiny-session=abc; b=2", "cassiny-session", b, sizeof(b)),
                     "abc");
    ck_assert_str_eq(cookie("a=1;cassiny-csrf=x y ;b", "cassiny-csrf", b, sizeof(b)), "x y");
    /* A longer or shorter name is another cookie. */
    ck_assert_ptr_null(cookie("cassiny-session-old=abc", "cassiny-session", b, sizeof(b)));
    ck_assert_ptr_null(cookie("xcassiny-session=abc", "cassiny-session", b, sizeof(b)));
    ck_assert_ptr_null(cookie("cassiny-session", "cassiny-session", b, sizeof(b)));
    ck_assert_ptr_null(cookie(NULL, "cassiny-session", b, sizeof(b)));
    ck_assert_ptr_null(cookie("", "cassiny-session", b, sizeof(b)));
    /* The first of two wins. */
    ck_assert_str_eq(cookie("s=1; s=2", "s", b, sizeof(b)), "1");
    ck_assert_str_eq(cookie("s=", "s", b, sizeof(b)), "");

    ck_assert(cass_auth_cookie_safe("Ab0._~+/=-", 10));
    ck_assert(!cass_auth_cookie_safe("", 0));
    ck_assert(!cass_auth_cookie_safe("a;b", 3));
    ck_assert(!cass_auth_cookie_safe("a b", 3));
    ck_assert(!cass_auth_cookie_safe("a\"b", 3));
    ck_assert(!cass_auth_cookie_safe("a\0b", 3));
    char big[CASS_AUTH_SECRET_MAX + 2];
    memset(big, 'a', sizeof(big));
    ck_assert(cass_auth_cookie_safe(big, CASS_AUTH_SECRET_MAX));
    ck_assert(!cass_auth_cookie_safe(big, CASS_AUTH_SECRET_MAX + 1));
}
END_TEST

START_TEST(csrf_values)
{
    unsigned char k1[CASS_AUTH_KEY_LEN], k2[CASS_AUTH_KEY_LEN];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    char a[CASS_AUTH_CSRF_LEN + 1], b[CASS_AUTH_CSRF_LEN + 1], c[CASS_AUTH_CSRF_LEN + 1];
    cass_auth_csrf_value(k1, "secret", 6, a);
    cass_auth_csrf_value(k1, "secret", 6, b);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strlen(a), CASS_AUTH_CSRF_LEN);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), CASS_AUTH_CSRF_LEN);
    /* Neither the token nor its digest. */
    ck_assert_ptr_null(strstr(a, "secret"));
    cass_auth_csrf_value(k2, "secret", 6, c);
    ck_assert_str_ne(a, c);
    cass_auth_csrf_value(k1, "secreT", 6, c);
    ck_assert_str_ne(a, c);

    char jar[200];
    snprintf(jar, sizeof(jar), "cassiny-session=secret; cassiny-csrf=%s", a);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_auth_csrf_check(k1, "secret", 6, a, jar, &err), 0);
    ck_assert_ptr_null(err);
    struct {
        const unsigned char *key;
        const char *header, *cookies, *msg;
    } bad[] = {
        {k1, NULL, jar, "needs the header X-CSRF-Token"},
        {k1, "", jar, "needs the header X-CSRF-Token"},
        {k1, c, jar, "header is not this session's"},
        {k2, a, jar, "header is not this session's"},
        {k1, a, "cassiny-session=secret", "cookie is missing"},
        {k1, a, "cassiny-csrf=0000", "cookie is missing or not this session's"},
        {NULL, a, jar, "no session key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(
            cass_auth_csrf_check(bad[i].key, "secret", 6, bad[i].header, bad[i].cookies, &err), -1);
        ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
        ck_assert_msg(strstr(err->message, bad[i].msg), "case %zu: %s", i, err->message);
        ck_assert_int_eq(strncmp(err->message, "csrf: ", 6), 0);
        cass_error_free(TAKE_PTR(err));
    }
    /* The header of another session of the same key. */
    ck_assert_int_eq(cass_auth_csrf_check(k1, "other", 5, a, jar, &err), -1);
    cass_error_free(TAKE_PTR(err));
}
END_TEST

START_TEST(origins)
{
    ck_assert(cass_auth_same_origin(NULL, "127.0.0.1:8443"));
    ck_assert(cass_auth_same_origin("http://127.0.0.1:8443", "127.0.0.1:8443"));
    ck_assert(cass_auth_same_origin("https://Server.Example:8443", "server.example:8443"));
    ck_assert(!cass_auth_same_origin("null", "127.0.0.1:8443"));
    ck_assert(!cass_auth_same_origin("http://127.0.0.1:8444", "127.0.0.1:8443"));
    ck_assert(!cass_auth_same_origin("http://evil.example", "127.0.0.1:8443"));
    ck_assert(!cass_auth_same_origin("http://127.0.0.1:8443/x", "127.0.0.1:8443"));
    ck_assert(!cass_auth_same_origin("ftp://127.0.0.1:8443", "127.0.0.1:8443"));
    ck_assert(!cass_auth_same_origin("http://127.0.0.1:8443", NULL));
    ck_assert(!cass_auth_same_origin("http://127.0.0.1:8443", ""));
}
END_TEST

static char state[] = "/tmp/check_ui.XXXXXX";

static struct cass_daemon *daemon_new(void)
{
    _cleanup_error_ struct cass_error *err = NULL;
    json_t *config = cass_cfg_load(NULL, 0, NULL, &err);
    ck_assert_ptr_nonnull(config);
    json_object_set_new(config, "stateDir", json_string(state));
    struct cass_daemon *d = cass_daemon_new(config);
    d->store = cass_store_open(":memory:", &err);
    ck_assert_ptr_nonnull(d->store);
    ck_assert_int_eq(cass_auth_key_load(d, &err), 0);
    return d;
}

static void daemon_free(struct cass_daemon *d)
{
    cass_store_close(d->store);
    d->store = NULL;
    cass_daemon_free(d);
}

START_TEST(session_key)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_daemon *d = daemon_new();
    ck_assert(d->session_key_set);
    char path[128];
    snprintf(path, sizeof(path), "%s/session-key", state);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 2 * CASS_AUTH_KEY_LEN);
    unsigned char first[CASS_AUTH_KEY_LEN];
    memcpy(first, d->session_key, sizeof(first));
    daemon_free(d);
    /* The same key after a restart. */
    d = daemon_new();
    ck_assert_int_eq(memcmp(first, d->session_key, sizeof(first)), 0);
    /* A file that is no key is an error, not a new key. */
    FILE *f = fopen(path, "we");
    fputs("0123", f);
    fclose(f);
    d->session_key_set = false;
    ck_assert_int_eq(cass_auth_key_load(d, &err), -1);
    ck_assert(!d->session_key_set);
    ck_assert(strstr(err->message, "session-key"));
    unlink(path);
    daemon_free(d);
}
END_TEST

struct call {
    int rc;
    struct cass_api_reply reply;
    struct cass_error *err;
};

/* A request to the routes on the TCP listener (as nobody) or the unix
 * socket (the local admin). */
static struct call call(struct cass_daemon *d, bool network, const char *method, const char *path,
                        const char *ct, const char *body)
{
    struct call c = {.reply = {.status = 200}};
    struct cass_api_request req = {.d = d,
                                   .method = method,
                                   .path = path,
                                   .content_type = ct,
                                   .body = body ? body : "",
                                   .body_len = body ? strlen(body) : 0,
                                   .network = network};
    if (!network)
        cass_auth_local(&req.who, 0);
    c.rc = cass_routes_handle(&req, &c.reply, &c.err);
    return c;
}

static void call_clear(struct call *c)
{
    cass_routes_reply_clear(&c->reply);
    cass_error_free(c->err);
}

static const char *header(const struct cass_api_reply *r, const char *name, unsigned nth)
{
    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0 && nth-- == 0)
            return r->headers[i].value;
    return NULL;
}

static const struct cass_ui_file *index_file(void)
{
    for (const struct cass_ui_file *f = cass_ui_files; f->name; f++)
        if (strcmp(f->name, "index.html") == 0)
            return f;
    return NULL;
}

START_TEST(files)
{
    ck_assert_str_eq(cass_ui_content_type("index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(cass_ui_content_type("assets/app-X.JS"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(cass_ui_content_type("a.css"), "text/css; charset=utf-8");
    ck_assert_str_eq(cass_ui_content_type("a.woff2"), "font/woff2");
    ck_assert_str_eq(cass_ui_content_type("a.svg"), "image/svg+xml");
    ck_assert_str_eq(cass_ui_content_type("a.d/b"), "application/octet-stream");
    ck_assert_str_eq(cass_ui_content_type("README"), "application/octet-stream");
    ck_assert(cass_ui_hashed("assets/app-3QXJ5Z7A.js"));
    ck_assert(cass_ui_hashed("chunk-ABCDEFGH1.css"));
    ck_assert(!cass_ui_hashed("index.html"));
    ck_assert(!cass_ui_hashed("app-short.js"));
    ck_assert(!cass_ui_hashed("my-app-lowercase.js"));
    ck_assert(!cass_ui_hashed("app-ABCDEFGH"));
    ck_assert(cass_ui_is_static("/ui"));
    ck_assert(cass_ui_is_static("/ui/"));
    ck_assert(cass_ui_is_static("/ui/runs/r-1"));
    ck_assert(cass_ui_is_static("/ui/apis"));
    ck_assert(!cass_ui_is_static("/ui/api"));
    ck_assert(!cass_ui_is_static("/ui/api/whoami"));
    ck_assert(!cass_ui_is_static("/uix"));
    ck_assert(!cass_ui_is_static("/v1/specs"));

    const struct cass_ui_file *index = index_file();
    ck_assert_msg(index, "ui/dist has no index.html");
    struct cass_daemon *d = daemon_new();
    /* Files need no login: the login page is one. */
    const char *pages[] = {"/ui/", "/ui/runs/r-01ABC", "/ui/compare/a/b"};
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        struct call c = call(d, true, "GET", pages[i], NULL, NULL);
        ck_assert_int_eq(c.rc, 0);
        ck_assert_uint_eq(c.reply.status, 200);
        ck_assert_ptr_eq(c.reply.data, index->data);
        ck_assert_uint_eq(c.reply.data_len, index->size);
        ck_assert_str_eq(c.reply.content_type, "text/html; charset=utf-8");
        ck_assert_str_eq(c.reply.cache_control, "no-cache");
        ck_assert_str_eq(header(&c.reply, "Content-Security-Policy", 0), CASS_UI_CSP);
        ck_assert_str_eq(header(&c.reply, "Referrer-Policy", 0), "no-referrer");
        ck_assert_ptr_nonnull(header(&c.reply, "ETag", 0));
        call_clear(&c);
    }
    /* Every embedded file, with its type and cache. */
    for (const struct cass_ui_file *f = cass_ui_files; f->name; f++) {
        char path[512];
        snprintf(path, sizeof(path), "/ui/%s", f->name);
        struct call c = call(d, false, "HEAD", path, NULL, NULL);
        ck_assert_int_eq(c.rc, 0);
        ck_assert_ptr_eq(c.reply.data, f->data);
        ck_assert_str_eq(c.reply.content_type, cass_ui_content_type(f->name));
        ck_assert_str_eq(c.reply.cache_control, cass_ui_hashed(f->name)
                                                    ? "public, max-age=31536000, immutable"
                                                    : "no-cache");
        call_clear(&c);
    }
    struct call c = call(d, true, "GET", "/ui", NULL, NULL);
    ck_assert_uint_eq(c.reply.status, 301);
    ck_assert_str_eq(header(&c.reply, "Location", 0), "/ui/");
    call_clear(&c);
    c = call(d, true, "GET", "/ui/assets/nosuch-ABCDEFGH.js", NULL, NULL);
    ck_assert_int_eq(c.rc, -1);
    ck_assert_int_eq(c.err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(header(&c.reply, "Content-Security-Policy", 0));
    call_clear(&c);
    c = call(d, false, "POST", "/ui/", NULL, NULL);
    ck_assert_int_eq(c.rc, -1);
    ck_assert_uint_eq(c.reply.status, 405);
    ck_assert_str_eq(c.reply.allow, "GET, HEAD");
    call_clear(&c);
    /* /ui/api is the router's: no page for an unknown route there. */
    c = call(d, false, "GET", "/ui/api/nosuch", NULL, NULL);
    ck_assert_int_eq(c.rc, -1);
    ck_assert_str_eq(c.reply.problem_type, CASS_PROBLEM_NO_ROUTE);
    call_clear(&c);
    daemon_free(d);
}
END_TEST

START_TEST(login_whoami_logout)
{
    struct cass_daemon *d = daemon_new();
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_free_ char *id = NULL, *secret = NULL;
    ck_assert_int_eq(
        cass_store_token_create(d->store, "laptop", "ann", "write", NULL, &id, &secret, &err), 0);

    /* On the unix socket: the local admin, no login. */
    struct call c = call(d, false, "GET", "/ui/api/whoami", NULL, NULL);
    ck_assert_int_eq(c.rc, 0);
    ck_assert(json_is_true(json_object_get(c.reply.body, "local")));
    ck_assert_str_eq(json_string_value(json_object_get(c.reply.body, "user")),
                     CASS_AUTH_LOCAL_USER);
    ck_assert_str_eq(json_string_value(json_object_get(c.reply.body, "scope")), "admin");
    ck_assert_ptr_null(json_object_get(c.reply.body, "tokenId"));
    call_clear(&c);
    /* On TCP without a session: 401. */
    c = call(d, true, "GET", "/ui/api/whoami", NULL, NULL);
    ck_assert_int_eq(c.rc, -1);
    ck_assert_uint_eq(c.reply.status, 401);
    call_clear(&c);

    struct {
        const char *ct, *body;
        unsigned status;
        bool refusal;
    } bad[] = {
        {NULL, "{\"token\":\"x\"}", 415, false},
        {"text/plain", "{\"token\":\"x\"}", 415, false},
        {"application/json", "{\"token\":", 400, false},
        {"application/json", "[]", 400, false},
        {"application/json", "{\"token\":1}", 422, false},
        {"application/json", "{\"token\":\"x\",\"user\":\"ann\"}", 422, false},
        {"application/json", "{\"token\":\"a\",\"token\":\"b\"}", 400, false},
        {"application/json", "{\"token\":\"unknown\"}", 401, true},
        {"application/json", "{\"token\":\"has space\"}", 401, true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = call(d, true, "POST", "/ui/api/login", bad[i].ct, bad[i].body);
        ck_assert_int_eq(c.rc, -1);
        unsigned st = c.reply.status >= 400 ? c.reply.status : 0;
        if (!st)
            st = c.err->kind == CASS_ERR_SYNTAX ? 400 : c.err->kind == CASS_ERR_INVALID ? 422 : 0;
        ck_assert_msg(st == bad[i].status, "case %zu: %u, not %u (%s)", i, st, bad[i].status,
                      c.err->message);
        ck_assert(c.reply.audit_refusal == bad[i].refusal);
        ck_assert_ptr_null(header(&c.reply, "Set-Cookie", 0));
        call_clear(&c);
    }

    char body[256];
    snprintf(body, sizeof(body), "{\"token\": \"%s\"}", secret);
    c = call(d, true, "POST", "/ui/api/login", "application/json; charset=utf-8", body);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_uint_eq(c.reply.status, 204);
    ck_assert_int_eq(c.reply.audit, 1);
    const char *session = header(&c.reply, "Set-Cookie", 0);
    const char *csrf = header(&c.reply, "Set-Cookie", 1);
    char want[512];
    snprintf(want, sizeof(want), "cassiny-session=%s; Path=/; HttpOnly; SameSite=Strict", secret);
    ck_assert_str_eq(session, want);
    char value[CASS_AUTH_CSRF_LEN + 1];
    cass_auth_csrf_value(d->session_key, secret, strlen(secret), value);
    snprintf(want, sizeof(want), "cassiny-csrf=%s; Path=/; SameSite=Strict", value);
    ck_assert_str_eq(csrf, want);
    call_clear(&c);

    /* Over TLS the cookies are Secure. */
    struct cass_api_request req = {.d = d,
                                   .method = "POST",
                                   .path = "/ui/api/login",
                                   .content_type = "application/json",
                                   .body = body,
                                   .body_len = strlen(body),
                                   .network = true,
                                   .tls = true};
    struct cass_api_reply reply = {.status = 200};
    ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), 0);
    ck_assert(strstr(header(&reply, "Set-Cookie", 0), "; HttpOnly; SameSite=Strict; Secure"));
    ck_assert(strstr(header(&reply, "Set-Cookie", 1), "; SameSite=Strict; Secure"));
    ck_assert_ptr_null(strstr(header(&reply, "Set-Cookie", 1), "HttpOnly"));
    /* The login is audited as its user. */
    ck_assert_str_eq(req.who.user, "ann");
    cass_routes_reply_clear(&reply);

    /* A revoked token logs in no more. */
    ck_assert_int_eq(cass_store_token_revoke(d->store, id, NULL, &err), 0);
    c = call(d, true, "POST", "/ui/api/login", "application/json", body);
    ck_assert_uint_eq(c.reply.status, 401);
    ck_assert(strstr(c.err->message, "revoked"));
    /* audited where it was told revoked, not twice */
    ck_assert(!c.reply.audit_refusal);
    call_clear(&c);

    c = call(d, true, "POST", "/ui/api/logout", NULL, NULL);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_uint_eq(c.reply.status, 204);
    ck_assert_str_eq(header(&c.reply, "Set-Cookie", 0),
                     "cassiny-session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ck_assert_str_eq(header(&c.reply, "Set-Cookie", 1),
                     "cassiny-csrf=; Path=/; SameSite=Strict; Max-Age=0");
    call_clear(&c);
    daemon_free(d);
}
END_TEST

/* A request that failed the CSRF check is refused by every route it names,
 * before its handler and its scope are looked at. */
START_TEST(csrf_refused_by_routes)
{
    struct cass_daemon *d = daemon_new();
    const char *paths[][2] = {{"POST", "/ui/api/logout"},
                              {"POST", "/ui/api/login"},
                              {"DELETE", "/v1/specs/x"},
                              {"POST", "/v1/specs"},
                              {"POST", "/v1/runs/r-1/stop"}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct cass_api_request req = {
            .d = d, .method = paths[i][0], .path = paths[i][1], .body = "", .network = true};
        cass_auth_local(&req.who, 0);
        snprintf(req.csrf_error, sizeof(req.csrf_error), "csrf: test");
        struct cass_api_reply reply = {.status = 200};
        struct cass_error *err = NULL;
        ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), -1);
        ck_assert_uint_eq(reply.status, 403);
        ck_assert_str_eq(reply.problem_type, CASS_PROBLEM_CSRF);
        ck_assert_str_eq(err->message, "csrf: test");
        cass_routes_reply_clear(&reply);
        cass_error_free(err);
    }
    /* An unknown route is still the router's 404. */
    struct cass_api_request req = {.d = d, .method = "POST", .path = "/v1/nosuch", .body = ""};
    snprintf(req.csrf_error, sizeof(req.csrf_error), "csrf: test");
    struct cass_api_reply reply = {.status = 200};
    struct cass_error *err = NULL;
    ck_assert_int_eq(cass_routes_handle(&req, &reply, &err), -1);
    ck_assert_str_eq(reply.problem_type, CASS_PROBLEM_NO_ROUTE);
    cass_routes_reply_clear(&reply);
    cass_error_free(err);
    daemon_free(d);
}
END_TEST

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(state));
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/session-key", state);
    unlink(path);
    rmdir(state);
    snprintf(state, sizeof(state), "/tmp/check_ui.XXXXXX");
}

int main(void)
{
    Suite *s = suite_create("ui");
    TCase *tc = tcase_create("ui");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cookie_parsing);
    tcase_add_test(tc, csrf_values);
    tcase_add_test(tc, origins);
    tcase_add_test(tc, session_key);
    tcase_add_test(tc, files);
    tcase_add_test(tc, login_whoami_logout);
    tcase_add_test(tc, csrf_refused_by_routes);
    suite_add_tcase(s, tc);
    return cass_check_run(s);
}
