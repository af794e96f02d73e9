/* An engine backend in memory, for the lifecycle's unit tests: workloads
 * are records that a test starts, ends and breaks at will. Each started
 * workload that publishes a port gets a small HTTP server of its own on
 * loopback that answers like Jupyter (/api/status, /api/kernels) and like a
 * model server (any other path: the workload's health). */
#ifndef CASS_FAKE_BACKEND_H
#define CASS_FAKE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "daemon.h"
#include "error.h"

enum fake_health {
    FAKE_HEALTH_OK = 0,
    FAKE_HEALTH_FAIL, /* answers 503 */
    FAKE_HEALTH_SLOW, /* answers after 1.5 s */
};

/* A new fake backend (owned by the lifecycle once started with it). */
struct cass_backend *fake_backend_new(void);

/* A daemon state in the existing directory dir, as cassinyd would make it,
 * with the lifecycle's threads started over a new fake backend: its config
 * has stateDir dir, policy.mountRoots [dir], the launch and job limits
 * given (and limits.engineWaitSeconds when engine_wait_s > 0) and a
 * dockerHost that answers nothing (nothing reaches a real engine); its
 * store is dir/cassiny.db. Caller owns (cass_lifecycle_stop,
 * then cass_daemon_free). NULL with *err. */
struct cass_daemon *fake_daemon_new(const char *dir, int launches, int jobs, int engine_wait_s,
                                    struct cass_error **err);

/* Counts, over the whole life of the backend. */
size_t fake_created(void);
size_t fake_removed(void);
/* Image pulls asked for; a pulled reference resolves from then on (an
 * image whose reference holds "missing" does not resolve before). */
size_t fake_pulls(void);
/* Workloads that exist now (created, not removed), optionally of one run
 * label (NULL: all); running ones only when running_only. */
size_t fake_count(const char *run, bool running_only);
/* The id of the n-th existing workload of run (0-based), into out. */
bool fake_nth(const char *run, size_t n, char out[72]);

/* Ends a running workload with code (as if its process exited); the events
 * stream says "die" once. */
void fake_exit(const char *id, int code);
/* Whether a daemon follows the fake's events now: it has reconciled. */
bool fake_watched(void);
/* Ends every running workload with code; returns how many. */
size_t fake_exit_all(int code);
/* Sets how a workload answers health checks. */
void fake_set_health(const char *id, enum fake_health h);
/* Jupyter's last_activity for every notebook ("2020-01-01T00:00:00Z" makes
 * them idle). NULL: now. */
void fake_set_last_activity(const char *when);
/* While down, every call a launch makes fails as when the engine's socket
 * does not answer (CASS_ERR_UNAVAILABLE), and the events stream is lost. */
void fake_set_engine_down(bool down);
/* Makes the next create fail once. */
void fake_fail_next_create(void);
/* Adds a workload as if an earlier daemon had created it (not started). */
void fake_adopt(const char *id, const char *run, const char *name, const char *instance);
/* Stops and forgets every workload. */
void fake_reset(void);
/* Health requests answered so far by workload id. */
int fake_health_requests(const char *id);

#endif
