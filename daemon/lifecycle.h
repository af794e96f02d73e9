/* What happens to specs once applied: runs are launched by a pool of
 * workers, watched through the engine's events, culled when idle, and
 * reconciled with what the engine really runs after any restart. */
#ifndef CASS_LIFECYCLE_H
#define CASS_LIFECYCLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "daemon.h"
#include "error.h"

/* Starts the workers, the events watcher (which reconciles first) and the
 * idle culler. */
int cass_lifecycle_start(struct cass_daemon *d, struct cass_error **err);

struct cass_backend;
/* The same with a backend of the caller's (tests: a fake one), which the
 * lifecycle takes over. */
int cass_lifecycle_start_with(struct cass_daemon *d, struct cass_backend *backend,
                              struct cass_error **err);

/* Stops the threads; runs in flight stay as they are and are picked up by
 * the next start's reconcile. */
void cass_lifecycle_stop(struct cass_daemon *d);

/* Checks every spec (the array from cass_spec_load) against the policy,
 * then stores each revision and launches a new run for each spec whose
 * revision changed or whose last run ended. Returns (caller owns)
 *   {"specs": [{"name", "kind", "revision", "changed": bool, "run": {...}}]}
 * Nothing is created when any spec is refused (CASS_ERR_FORBIDDEN). */
struct cass_principal;
/* who applies (NULL: the local admin): a new spec is theirs; a live spec of
 * another user's is refused (CONFLICT, naming metadata.name) unless who is
 * admin. */
json_t *cass_lifecycle_apply(struct cass_daemon *d, const json_t *specs,
                             const struct cass_principal *who, struct cass_error **err);

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

/* Starts a notebook again after idle culling stopped run_id: a new run of
 * the spec's current revision, the spec moved to it, as apply would; only
 * while the spec still points at run_id (CONFLICT when another request
 * woke it first, or a newer apply came). Returns the new run (caller
 * owns). */
json_t *cass_lifecycle_wake(struct cass_daemon *d, const char *name, const char *run_id,
                            struct cass_error **err);

/* Stops the spec's runs, marks it deleted (runs stay), and with purge also
 * removes its workspace volume. */
int cass_lifecycle_delete(struct cass_daemon *d, const char *name, bool purge,
                          struct cass_error **err);

/* What apply would answer, without storing or launching anything: the
 * whole policy and the same revisions (a model's artifact hash included).
 * Returns (caller owns) {"dryRun": true, "specs": [{kind, name, revision,
 * line, spec, changed}]}. */
json_t *cass_lifecycle_dry_run(struct cass_daemon *d, const json_t *specs,
                               const struct cass_principal *who, struct cass_error **err);

/* Where a queued run stands in its queue (1 is next), 0 when not queued. */
long cass_lifecycle_queue_position(struct cass_lifecycle *lc, const char *run_id);

struct cass_lifecycle_stats {
    size_t launch_queue;     /* runs waiting for a launch worker */
    size_t job_queue;        /* jobs waiting for a job slot */
    size_t launching;        /* runs being created and started now */
    size_t running_jobs;     /* jobs a runner has in hand */
    size_t max_launches;     /* limits.maxConcurrentLaunches */
    size_t max_running_jobs; /* limits.maxRunningJobs */
};
void cass_lifecycle_stats(struct cass_lifecycle *lc, struct cass_lifecycle_stats *ret);

/* The manifest of a job's input tree (parallel and cached where the
 * hashing module allows). Caller owns. */
json_t *cass_lifecycle_hash_tree(struct cass_lifecycle *lc, const char *dir, const char *prefix,
                                 struct cass_error **err);

/* Held by apply, delete and reconcile while they compare the store with
 * the engine. */
pthread_mutex_t *cass_lifecycle_apply_lock(struct cass_lifecycle *lc);

/* Records a run's state as an event (the audit log, whose ids are the
 * server-sent event ids) and wakes GET /v1/events streams. */
void cass_lifecycle_emit(struct cass_daemon *d, const json_t *run);

#endif
