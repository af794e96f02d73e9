#include "config.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cleanup.h"
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
