/* Who is calling, and what they may do.
 *
 * Every request has a principal: on the unix socket the local admin (the
 * socket's mode and group decide who gets there); on the TCP listener and
 * the gateway, the user of a bearer token (Authorization: Bearer SECRET).
 * A token has one scope:
 *
 *   read   see one's own specs, runs, logs, events
 *   write  read, and apply, stop, delete, reproduce, roll back one's own
 *   admin  everything, everyone's, tokens of others, the audit log
 *
 * Every spec and run has an owner (the user who first applied the spec;
 * "local" for the unix socket). Without admin a user sees and changes only
 * their own: others' names answer 404 and are left out of lists and event
 * streams. A notebook's URL and token are shown to its owner only (an
 * admin who is not the owner sees the notebook without them). */
#ifndef CASS_AUTH_H
#define CASS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"
#include "error.h"

enum cass_scope { CASS_SCOPE_NONE = 0, CASS_SCOPE_READ, CASS_SCOPE_WRITE, CASS_SCOPE_ADMIN };

#define CASS_AUTH_LOCAL_USER "local"
#define CASS_AUTH_USER_MAX 64

struct cass_principal {
    char user[CASS_AUTH_USER_MAX]; /* "" when nobody was authenticated */
    char token_id[32];             /* "t-<ULID>", "" on the unix socket */
    enum cass_scope scope;         /* CASS_SCOPE_NONE when not authenticated */
    bool local;                    /* the unix socket's local admin */
    char from[72];                 /* "uid:N" on the unix socket, "ADDR:PORT" on TCP */
};

/* "read", "write", "admin"; NULL for NONE. */
const char *cass_scope_name(enum cass_scope s);
/* 0 and *ret for a scope's name, -1 for anything else. */
int cass_scope_parse(const char *name, enum cass_scope *ret);

struct sockaddr;
/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) of a peer, for the audit log. */
void cass_auth_format_addr(const struct sockaddr *sa, char *buf, size_t n);

/* The principal of the unix socket's peer (uid in from). */
void cass_auth_local(struct cass_principal *p, unsigned uid);

/* Decides the principal of an Authorization header value (may be NULL) on a
 * network listener; from is the peer's address for the audit log.
 * 0 with *p filled when the header holds a live, unexpired token.
 * -1 with *err of kind UNAUTHORIZED when there is no header, a malformed
 * one, or a secret that is unknown, revoked or expired (the message says
 * which, without echoing the secret); the refusal is audited with the
 * token id when the secret is known. */
int cass_auth_bearer(struct cass_daemon *d, const char *authorization, const char *from,
                     struct cass_principal *p, struct cass_error **err);

/* As cass_auth_bearer, for the secret itself (a session cookie's value):
 * 0 with *p filled, or -1 with *err (UNAUTHORIZED; revoked and expired
 * tokens audited). */
int cass_auth_secret(struct cass_daemon *d, const char *secret, const char *from,
                     struct cass_principal *p, struct cass_error **err);

/* --- the dashboard's session (docs/dashboard.md) -------------------------------
 *
 * POST /ui/api/login sets two cookies: CASS_AUTH_SESSION_COOKIE holds the
 * API token (HttpOnly: no script reads it) and CASS_AUTH_CSRF_COOKIE a value
 * derived from it (script-readable), which every state-changing request that
 * the session cookie authenticates must repeat in CASS_AUTH_CSRF_HEADER. The
 * value is an HMAC of the token's digest under the key of this state
 * directory, so it is checked without any state and a page from another
 * site, which can neither read the cookie nor compute it, cannot send it. */
#define CASS_AUTH_SESSION_COOKIE "cassiny-session"
#define CASS_AUTH_CSRF_COOKIE "cassiny-csrf"
#define CASS_AUTH_CSRF_HEADER "X-CSRF-Token"
#define CASS_AUTH_KEY_LEN 32
#define CASS_AUTH_CSRF_LEN 64 /* hex */
/* The longest secret a cookie is looked at for. */
#define CASS_AUTH_SECRET_MAX 512

/* Reads the key the CSRF values are made with from the state directory
 * (stateDir/session-key), creating it once, into d->session_key. Kept
 * across restarts, so that an open dashboard keeps working through one. */
int cass_auth_key_load(struct cass_daemon *d, struct cass_error **err);

/* The value of cookie name in a Cookie header (may be NULL): borrowed, with
 * its length in *ret_len; NULL when it has none. */
const char *cass_auth_cookie_find(const char *header, const char *name, size_t *ret_len);

/* Whether secret can be a cookie's value as it is: 1 to
 * CASS_AUTH_SECRET_MAX bytes of [A-Za-z0-9._~+/=-]. */
bool cass_auth_cookie_safe(const char *secret, size_t len);

/* The CSRF value of the session of secret under key: CASS_AUTH_CSRF_LEN
 * hex digits and a NUL in out. */
void cass_auth_csrf_value(const unsigned char key[CASS_AUTH_KEY_LEN], const char *secret,
                          size_t secret_len, char out[CASS_AUTH_CSRF_LEN + 1]);

/* The CSRF check of a state-changing request authenticated by the session
 * cookie of secret: 0 when header (the X-CSRF-Token value, may be NULL) is
 * the session's value and equals the CSRF cookie of cookie_header; -1 with
 * *err (FORBIDDEN, the message says what is missing or wrong) otherwise, or
 * when key is NULL. */
int cass_auth_csrf_check(const unsigned char *key, const char *secret, size_t secret_len,
                         const char *header, const char *cookie_header, struct cass_error **err);

/* Whether a browser's Origin header (may be NULL: not a browser's request,
 * or one that sent none) names the host of the Host header: "null" and
 * another host or port are not. Checked on every state-changing request,
 * on the unix socket too, whose local admin needs no login when a browser
 * reaches it through a forwarded socket. */
bool cass_auth_same_origin(const char *origin, const char *host);

/* Whether p may act on something owned by owner (NULL: no owner yet) at
 * scope need: the scope is enough and the owner is p's user, or p is admin. */
bool cass_auth_allows(const struct cass_principal *p, const char *owner, enum cass_scope need);

/* Whether p sees the secrets (URL and token) of owner's notebook: only the
 * owner does. */
bool cass_auth_sees_secrets(const struct cass_principal *p, const char *owner);

#endif
