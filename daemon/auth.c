#include "config.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cleanup.h"
#include "hash.h"
#include "store.h"

/* Longest Authorization value looked at: a secret is far shorter. */
#define AUTH_HEADER_MAX 1024

static const char *const scope_names[] = {
    [CASS_SCOPE_READ] = "read", [CASS_SCOPE_WRITE] = "write", [CASS_SCOPE_ADMIN] = "admin"};

const char *cass_scope_name(enum cass_scope s)
{
    return s >= CASS_SCOPE_READ && s <= CASS_SCOPE_ADMIN ? scope_names[s] : NULL;
}

int cass_scope_parse(const char *name, enum cass_scope *ret)
{
    for (int s = CASS_SCOPE_READ; name && s <= CASS_SCOPE_ADMIN; s++)
        if (strcmp(name, scope_names[s]) == 0) {
            *ret = (enum cass_scope)s;
            return 0;
        }
    return -1;
}

void cass_auth_format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[64], port[16];
    socklen_t len =
        sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, n, "unknown");
        return;
    }
    snprintf(buf, n, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

void cass_auth_local(struct cass_principal *p, unsigned uid)
{
    *p = (struct cass_principal){.scope = CASS_SCOPE_ADMIN, .local = true};
    snprintf(p->user, sizeof(p->user), "%s", CASS_AUTH_LOCAL_USER);
    snprintf(p->from, sizeof(p->from), "uid:%u", uid);
}

/* The refusal of a token that exists: in the audit log with its id. */
static void audit_refusal(struct cass_daemon *d, const struct cass_store_token *t, const char *from,
                          const char *why)
{
    if (!d->store)
        return;
    struct cass_audit_entry e = {.actor = from,
                                 .user = t->user,
                                 .token_id = t->id,
                                 .owner = t->user,
                                 .action = "refused",
                                 .target = why,
                                 .status = 401};
    if (cass_store_audit_add(d->store, &e, NULL) > 0)
        cass_daemon_events_notify(d);
}

int cass_auth_bearer(struct cass_daemon *d, const char *authorization, const char *from,
                     struct cass_principal *p, struct cass_error **err)
{
    *p = (struct cass_principal){0};
    snprintf(p->from, sizeof(p->from), "%s", from ? from : "");
    if (!authorization || !*authorization)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED,
                              "this listener needs an API token: Authorization: Bearer TOKEN");
    size_t n = strnlen(authorization, AUTH_HEADER_MAX + 1);
    if (n > AUTH_HEADER_MAX)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED,
                              "the Authorization header is longer than %d bytes", AUTH_HEADER_MAX);
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED,
                              "the Authorization header must be \"Bearer TOKEN\"");
    const char *secret = authorization + 7;
    while (*secret == ' ')
        secret++;
    for (const char *c = secret; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return cass_error_set(err, CASS_ERR_UNAUTHORIZED,
                                  "a token is one word of printable characters");
    if (!*secret)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "the bearer token is empty");
    return cass_auth_secret(d, secret, from, p, err);
}

int cass_auth_secret(struct cass_daemon *d, const char *secret, const char *from,
                     struct cass_principal *p, struct cass_error **err)
{
    *p = (struct cass_principal){0};
    snprintf(p->from, sizeof(p->from), "%s", from ? from : "");
    if (!d->store)
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "the store is not open");
    struct cass_store_token t;
    _cleanup_error_ struct cass_error *lerr = NULL;
    int found = cass_store_token_lookup(d->store, secret, &t, &lerr);
    if (found < 0)
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "cannot check the token: %s",
                              lerr ? lerr->message : "?");
    if (found == 0)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "unknown token");
    if (t.revoked || t.expired) {
        audit_refusal(d, &t, from, t.revoked ? "revoked token" : "expired token");
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "token %s is %s", t.id,
                              t.revoked ? "revoked" : "expired");
    }
    if (cass_scope_parse(t.scope, &p->scope) < 0)
        return cass_error_set(err, CASS_ERR_UNAUTHORIZED, "token %s has no valid scope", t.id);
    snprintf(p->user, sizeof(p->user), "%s", t.user);
    snprintf(p->token_id, sizeof(p->token_id), "%s", t.id);
    return 0;
}

/* ---- the dashboard's session ------------------------------------------------ */

int cass_auth_key_load(struct cass_daemon *d, struct cass_error **err)
{
    char hex[2 * CASS_AUTH_KEY_LEN + 1];
    if (cass_daemon_state_value(d, "session-key", CASS_AUTH_KEY_LEN, hex, sizeof(hex), err) < 0)
        return -1;
    if (strlen(hex) != 2 * CASS_AUTH_KEY_LEN ||
        strspn(hex, "0123456789abcdef") != 2 * CASS_AUTH_KEY_LEN)
        return cass_error_set(err, CASS_ERR_IO, "%s/session-key: not %d hex digits",
                              cass_daemon_config_str(d, "stateDir"), 2 * CASS_AUTH_KEY_LEN);
    for (size_t i = 0; i < CASS_AUTH_KEY_LEN; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        d->session_key[i] = (unsigned char)v;
    }
    d->session_key_set = true;
    return 0;
}

const char *cass_auth_cookie_find(const char *header, const char *name, size_t *ret_len)
{
    size_t k = strlen(name);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t;");
        size_t n = strcspn(p, ";");
        if (n > k && strncmp(p, name, k) == 0 && p[k] == '=') {
            size_t v = n - k - 1;
            while (v && (p[k + v] == ' ' || p[k + v] == '\t'))
                v--; /* spaces before the next ';' are not the value's */
            *ret_len = v;
            return p + k + 1;
        }
        p += n;
    }
    return NULL;
}

bool cass_auth_cookie_safe(const char *secret, size_t len)
{
    if (!secret || len == 0 || len > CASS_AUTH_SECRET_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = secret[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._~+/=-", c)) ||
            c == '\0')
            return false;
    }
    return true;
}

void cass_auth_csrf_value(const unsigned char key[CASS_AUTH_KEY_LEN], const char *secret,
                          size_t secret_len, char out[CASS_AUTH_CSRF_LEN + 1])
{
    char digest[CASS_SHA256_HEX_LEN + 1], msg[CASS_SHA256_HEX_LEN + 16];
    cass_hash_sha256_hex(secret, secret_len, digest);
    int n = snprintf(msg, sizeof(msg), "csrf:%s", digest);
    cass_hash_hmac_sha256_hex(key, CASS_AUTH_KEY_LEN, msg, (size_t)n, out);
}

int cass_auth_csrf_check(const unsigned char *key, const char *secret, size_t secret_len,
                         const char *header, const char *cookie_header, struct cass_error **err)
{
    if (!key)
        return cass_error_set(err, CASS_ERR_FORBIDDEN, "csrf: this daemon has no session key");
    if (!header || !*header)
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "csrf: a change made with the session cookie needs the header %s "
                              "(the value of the cookie %s)",
                              CASS_AUTH_CSRF_HEADER, CASS_AUTH_CSRF_COOKIE);
    char want[CASS_AUTH_CSRF_LEN + 1];
    cass_auth_csrf_value(key, secret, secret_len, want);
    if (!cass_hash_same_secret(header, strlen(header), want))
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "csrf: the %s header is not this session's (log in again)",
                              CASS_AUTH_CSRF_HEADER);
    size_t n = 0;
    const char *cookie = cass_auth_cookie_find(cookie_header, CASS_AUTH_CSRF_COOKIE, &n);
    if (!cookie || !cass_hash_same_secret(cookie, n, want))
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "csrf: the %s cookie is missing or not this session's (log in again)",
                              CASS_AUTH_CSRF_COOKIE);
    return 0;
}

bool cass_auth_same_origin(const char *origin, const char *host)
{
    if (!origin)
        return true;
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    /* "null" (a sandboxed frame, a file) and anything else are no origin
     * of this server. */
    if (!rest || !host || !*host)
        return false;
    return strcasecmp(rest, host) == 0;
}

bool cass_auth_allows(const struct cass_principal *p, const char *owner, enum cass_scope need)
{
    if (!p || p->scope < need || p->scope == CASS_SCOPE_NONE)
        return false;
    if (p->scope == CASS_SCOPE_ADMIN)
        return true;
    return !owner || strcmp(owner, p->user) == 0;
}

bool cass_auth_sees_secrets(const struct cass_principal *p, const char *owner)
{
    return p && p->scope != CASS_SCOPE_NONE && owner && strcmp(owner, p->user) == 0;
}
