/* Which replicas of each model take requests. The lifecycle adds a replica
 * once its health check passes and removes it before stopping it; the
 * gateway picks from here, round robin, and counts requests in flight so
 * that a replica is drained before it goes.
 *
 * The table lives in memory shared between processes (a file of the state
 * directory, mapped by each), under a process-shared robust mutex: the
 * gateway can run as a process of its own (cassinyd --gateway-only) that
 * keeps serving from it while the daemon that changes it restarts or is
 * killed. A process that dies holding the lock leaves it to the next one
 * (EOWNERDEAD); every change is a few stores into one slot. The same table
 * carries the gateway's port and its requests to the daemon (wake a culled
 * notebook, ask the engine for a notebook's new address). */
#ifndef CASS_ROTATION_H
#define CASS_ROTATION_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

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

/* At most this many replicas of all models together, and requests queued
 * for the daemon. */
#define CASS_ROTATION_SLOTS 2048
#define CASS_ROTATION_REQUESTS 64

/* A table of this process only (anonymous shared memory). */
struct cass_rotation *cass_rotation_new(void);
/* The table in file path, made when there is none (or one of another
 * layout: it is made again), shared with every process that opens it. NULL
 * with *err. */
struct cass_rotation *cass_rotation_open(const char *path, struct cass_error **err);
/* Unmaps it (the table stays for the other processes). */
void cass_rotation_free(struct cass_rotation *r);

/* The gateway that serves from it starts: it listens on port, and no
 * request is in flight (one counted by a gateway that died never ends). */
void cass_rotation_gateway_attach(struct cass_rotation *r, int port);
/* The port the gateway said, 0 before one did. */
int cass_rotation_gateway_port(struct cass_rotation *r);

/* A daemon that starts rebuilds the table: begin returns a generation that
 * every add stamps from then on; sweep takes out every member that was not
 * added since (a replica the previous daemon had, gone meanwhile). */
unsigned cass_rotation_generation_begin(struct cass_rotation *r);
void cass_rotation_sweep(struct cass_rotation *r, unsigned generation);

/* The gateway's requests to the daemon, oldest first. */
enum cass_rotation_request_kind {
    CASS_ROTATION_WAKE = 1,     /* start culled notebook name (run run_id) again */
    CASS_ROTATION_ENDPOINT = 2, /* record the engine's address of notebook run run_id */
};
/* Queues one (an equal one queued already is not repeated): 0, or -1 when
 * the queue is full. */
int cass_rotation_request(struct cass_rotation *r, enum cass_rotation_request_kind kind,
                          const char *name, const char *run_id);
/* Takes the oldest: its kind, name (64) and run_id (32), or 0 when none. */
int cass_rotation_request_take(struct cass_rotation *r, char name[64], char run_id[32]);

/* For tests: takes the lock and never gives it back, as a process killed
 * while holding it would. */
void cass_rotation_test_abandon_lock(struct cass_rotation *r);

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
