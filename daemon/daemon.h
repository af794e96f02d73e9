/* The daemon's shared state, handed to the API layer and the workers. */
#ifndef CASS_DAEMON_H
#define CASS_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "error.h"

struct cass_engine;
struct cass_store;
struct cass_lifecycle;
struct cass_rotation;

enum { CASS_ENGINE_UNKNOWN = 0, CASS_ENGINE_UP, CASS_ENGINE_DOWN };

/* What this process serves (docs/architecture.md, "Restarts"). */
enum cass_role {
    CASS_ROLE_ALL = 0, /* the API, the lifecycle and the gateway: one process */
    CASS_ROLE_CONTROL, /* --no-gateway: all but the gateway, which a gateway process serves */
    CASS_ROLE_GATEWAY, /* --gateway-only: the gateway, from the table a control process keeps */
};

struct cass_daemon {
    json_t *config; /* owned; validated, defaults filled, flags applied; as at start */
    /* config's policy, replaced whole by a reload (SIGHUP): read it with
     * cass_daemon_policy, never through config. */
    pthread_mutex_t policy_lock;
    json_t *policy;
    struct cass_store *store;
    struct cass_lifecycle *lifecycle; /* owned by lifecycle.c */
    struct cass_rotation *rotation;   /* replicas of models taking requests */
    int gateway_port;                 /* where the gateway listens, 0 when it does not */
    enum cass_role role;              /* set at start, then fixed */
    const char *backend;              /* workload backend chosen at start ("docker"), static */
    time_t started_at;
    char instance[40];       /* this state directory's id, for CASS_LABEL_INSTANCE */
    char instance_label[96]; /* "io.cassiny.instance=<id>" */
    /* The key of the dashboard's CSRF values (auth.h), kept in the state
     * directory; session_key_set false until it is loaded (then every
     * cookie-authenticated change is refused). */
    unsigned char session_key[32];
    bool session_key_set;
    atomic_bool stopping;

    pthread_mutex_t engine_lock;
    struct cass_engine *engine; /* NULL while the engine cannot be reached */
    char *engine_error;         /* why, when engine is NULL */
    /* The engine as the lifecycle's pinger last saw it (every second):
     * CASS_ENGINE_UNKNOWN until the first answer, then UP or DOWN. */
    atomic_int engine_state;
    atomic_ulong engine_reconnects; /* DOWN -> UP transitions */

    /* Wakes event streams when something was recorded. */
    pthread_mutex_t events_lock;
    pthread_cond_t events_cond;
    unsigned long events_seq;
};

/* "https" when the gateway serves TLS (gateway.tls), else "http": the
 * scheme of the addresses of models and notebooks. Static. */
const char *cass_daemon_gateway_scheme(const struct cass_daemon *d);

/* Config accessors: the value at a dotted path ("policy.maxCpus"), borrowed. */
const char *cass_daemon_config_str(const struct cass_daemon *d, const char *path);
json_int_t cass_daemon_config_int(const struct cass_daemon *d, const char *path);

/* The policy as it is now: a new reference (json_decref it), the same
 * object for the whole of one check even if a reload replaces it meanwhile. */
json_t *cass_daemon_policy(struct cass_daemon *d);

/* Puts policy (taken over) in place of the current one. */
void cass_daemon_policy_set(struct cass_daemon *d, json_t *policy);

/* Wakes the event streams: something was appended to the audit log. */
void cass_daemon_events_notify(struct cass_daemon *d);

/* The engine client, connecting (and negotiating the API version) if there
 * is none yet. Borrowed: valid until cass_daemon_free. NULL with *err of
 * kind UNAVAILABLE while the engine does not answer. */
struct cass_engine *cass_daemon_engine(struct cass_daemon *d, struct cass_error **err);

/* A daemon state around config (which it takes over); the caller adds the
 * store and starts the rest. */
struct cass_daemon *cass_daemon_new(json_t *config);

/* The value kept in stateDir/name: lowercase letters and digits, fewer
 * than n, into buf; made once of nbytes random bytes in hex (a file of
 * mode 0600) when there is none. */
int cass_daemon_state_value(const struct cass_daemon *d, const char *name, size_t nbytes, char *buf,
                            size_t n, struct cass_error **err);

/* Reads the instance id kept in the state directory, creating it once. */
int cass_daemon_instance_load(struct cass_daemon *d, struct cass_error **err);

void cass_daemon_free(struct cass_daemon *d);

/* A connection accepted just before a server stopped accepting has its
 * request on the way for about this long. */
#define CASS_DAEMON_DRAIN_GRACE_MS 200

/* For a server that stopped accepting (the API, the gateway): waits until
 * no request is in flight and, for at most CASS_DAEMON_DRAIN_GRACE_MS, no
 * connection is open either (idle kept-alive ones may stay open), all
 * within timeout_ms. Returns the requests still in flight then. */
unsigned cass_daemon_drain(const atomic_uint *requests, const atomic_uint *connections,
                           long timeout_ms);

#endif
