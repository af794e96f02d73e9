/* What happens to specs once applied: runs are launched by a pool of
 * workers, watched through the engine's events, culled when idle, and
 * reconciled with what the engine really runs after any restart. */
#ifndef CASS_LIFECYCLE_H
#define CASS_LIFECYCLE_H

#include <jansson.h>
#include <stdbool.h>

#include "daemon.h"
#include "error.h"

/* Starts the workers, the events watcher (which reconciles first) and the
 * idle culler. */
int cass_lifecycle_start(struct cass_daemon *d, struct cass_error **err);

/* Stops the threads; runs in flight stay as they are and are picked up by
 * the next start's reconcile. */
void cass_lifecycle_stop(struct cass_daemon *d);

/* Checks every spec (the array from cass_spec_load) against the policy,
 * then stores each revision and launches a new run for each spec whose
 * revision changed or whose last run ended. Returns (caller owns)
 *   {"specs": [{"name", "kind", "revision", "changed": bool, "run": {...}}]}
 * Nothing is created when any spec is refused (CASS_ERR_FORBIDDEN). */
json_t *cass_lifecycle_apply(struct cass_daemon *d, const json_t *specs, struct cass_error **err);

/* Stops a run (its containers are stopped and removed) with reason. A run
 * already final is returned unchanged. *ret_run (may be NULL) gets it. */
int cass_lifecycle_run_stop(struct cass_daemon *d, const char *run_id, const char *reason,
                            json_t **ret_run, struct cass_error **err);

/* Starts a new run from a run's recorded revision and image ID, with
 * reproducedFrom set; a job's outputs are compared with the original's when
 * it ends (the run's "comparison"). Returns the new run (caller owns). */
json_t *cass_lifecycle_reproduce(struct cass_daemon *d, const char *run_id,
                                 struct cass_error **err);

/* Goes back to revision to (a full "sha256:..." or at least 12 hex digits
 * of it), or to the revision before the current one, as a new run rolled
 * out like any other. Returns the new run (caller owns). */
json_t *cass_lifecycle_rollback(struct cass_daemon *d, const char *name, const char *to,
                                struct cass_error **err);

/* Stops the spec's runs, marks it deleted (runs stay), and with purge also
 * removes its workspace volume. */
int cass_lifecycle_delete(struct cass_daemon *d, const char *name, bool purge,
                          struct cass_error **err);

/* Makes the store and the engine agree: runs whose containers vanished or
 * exited are marked, launches cut short are started again, and labelled
 * containers that no live run owns are removed. */
int cass_lifecycle_reconcile(struct cass_daemon *d, struct cass_error **err);

/* Where a run's container output is kept once the container is gone
 * (caller owns). */
char *cass_lifecycle_log_path(struct cass_daemon *d, const char *run_id);

/* Records a run's state as an event (the audit log, whose ids are the
 * server-sent event ids) and wakes GET /v1/events streams. */
void cass_lifecycle_emit(struct cass_daemon *d, const json_t *run);

#endif
