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

/* Whether p may act on something owned by owner (NULL: no owner yet) at
 * scope need: the scope is enough and the owner is p's user, or p is admin. */
bool cass_auth_allows(const struct cass_principal *p, const char *owner, enum cass_scope need);

/* Whether p sees the secrets (URL and token) of owner's notebook: only the
 * owner does. */
bool cass_auth_sees_secrets(const struct cass_principal *p, const char *owner);

#endif
