/* Which replicas of each model take requests. The lifecycle adds a replica
 * once its health check passes and removes it before stopping it; the
 * gateway picks from here, round robin, and counts requests in flight so
 * that a replica is drained before it goes. */
#ifndef CASS_ROTATION_H
#define CASS_ROTATION_H

#include <jansson.h>
#include <stdbool.h>

struct cass_rotation;

#define CASS_REPLICA_MAX_TOKENS 16

struct cass_replica {
    char id[72];   /* container id */
    char host[64]; /* where the gateway reaches it */
    int port;
    /* spec.auth of its revision: the SHA-256 (hex) of each token the
     * gateway lets through to it; none: anyone. */
    unsigned n_tokens;
    char tokens[CASS_REPLICA_MAX_TOKENS][65];
};

struct cass_rotation *cass_rotation_new(void);
void cass_rotation_free(struct cass_rotation *r);

/* Adds (or updates) a replica of model name. */
void cass_rotation_add(struct cass_rotation *r, const char *name, const char *run_id,
                       const struct cass_replica *rep);
/* Takes a replica out: no new request goes to it. */
void cass_rotation_remove(struct cass_rotation *r, const char *name, const char *id);
/* Takes the replicas of one run of a model out. */
void cass_rotation_remove_run(struct cass_rotation *r, const char *name, const char *run_id);
/* Takes every replica of a model out. */
void cass_rotation_clear(struct cass_rotation *r, const char *name);

/* Picks the next healthy replica of name, round robin, skipping the ids in
 * skip (n of them), and counts a request in flight on it; when no member is
 * healthy, any member (overload must not become an outage). 0 and *ret
 * filled, or -1 when no replica is left. */
int cass_rotation_pick(struct cass_rotation *r, const char *name, const char *const *skip, size_t n,
                       struct cass_replica *ret);
/* Ends a request counted by pick. */
void cass_rotation_release(struct cass_rotation *r, const char *name, const char *id);

/* Requests in flight on a replica (also after it was removed). */
int cass_rotation_inflight(struct cass_rotation *r, const char *id);
/* Records one health check of a member: threshold consecutive failures
 * take it out of the picks (it stays a member), one success brings it
 * back. Returns how many seconds it has been out (0 while healthy), or -1
 * when id is not a member. */
double cass_rotation_health(struct cass_rotation *r, const char *id, bool ok, int threshold,
                            double now);
/* How long a member has been out of the picks (0 while healthy), -1 when
 * id is not a member. */
double cass_rotation_out_seconds(struct cass_rotation *r, const char *id, double now);
/* A member's address: 0 and *ret, or -1 when id is not a member. */
int cass_rotation_get(struct cass_rotation *r, const char *id, struct cass_replica *ret);
/* Members of name that are healthy. */
size_t cass_rotation_count_healthy(struct cass_rotation *r, const char *name);

/* Number of replicas of name in rotation. */
size_t cass_rotation_count(struct cass_rotation *r, const char *name);
/* Whether the replica is in rotation. */
bool cass_rotation_has(struct cass_rotation *r, const char *name, const char *id);

#endif
