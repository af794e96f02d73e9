/* The one launch path and what the workload kinds share: every run, from
 * apply, reproduce, rollback, a replacement replica or a resume after a
 * restart, is launched by cass_launch_run, which checks the policy at that
 * moment, resolves and pins the image, and hands the kind a launch context
 * with a container spec already filled (labels, env, limits, hardening).
 *
 * Internal to the daemon: lifecycle.c (queues), the kinds (kind_*.c) and
 * reconcile.c use it; api/ does not. */
#ifndef CASS_LAUNCH_H
#define CASS_LAUNCH_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "backend.h"
#include "daemon.h"
#include "error.h"
#include "policy.h"

#define CASS_STOP_TIMEOUT_S 10

struct cass_lifecycle;

/* Growable NULL-terminated list of owned strings (env, cmd). */
struct cass_strv {
    char **v;
    size_t n;
};
void cass_strv_add(struct cass_strv *s, char *owned);
void cass_strv_addf(struct cass_strv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cass_strv_free(struct cass_strv *s);

/* One launch of one run. Built by cass_launch_run; a kind's launch and
 * resume read it and may add to cs (its mounts, ports, cmd). */
struct cass_launch {
    struct cass_lifecycle *lc;
    struct cass_daemon *d;
    struct cass_backend *b;
    json_t *run;        /* owned: the run as stored when the launch began */
    json_t *doc;        /* owned: its revision's document */
    json_t *policy;     /* owned: the policy when the launch began, for all its checks */
    const json_t *spec; /* doc.spec, borrowed */
    const char *run_id, *name, *revision, *kind;

    /* Filled by the image step (cass_launch_image). */
    char *image_id;
    char *image_ref;   /* name@sha256:... when it came from a configured registry, else NULL */
    char *image_user;  /* the image's own user, may be NULL */
    char *workdir;     /* the image's working directory, may be NULL */
    json_t *image_cmd; /* the image's default command (owned), may be NULL */
    const char *user;  /* who the container runs as (policy.allowRootUser) */

    /* The container spec: labels, env (spec.env first), limits, hardening
     * and image/user filled by cass_launch_spec_init; storage is owned here. */
    struct cass_container_spec cs;
    struct cass_strv env, cmd;
    struct cass_strv fields; /* the spec fields of the mounts' sources */
    struct cass_pins *pins;  /* the bind sources pinned for the container being made */
    struct cass_container_label labels[8];
    struct cass_container_tmpfs tmpfs[2]; /* /tmp; a kind may add one */
    char tmp_options[CASS_POLICY_TMP_OPTIONS_MAX];
    char replica_label[16];
    char cname[128];

    double launch_start; /* cass_now() when a fresh launch began, 0 for a resume */
    const char *reason;  /* the step that failed, for the run's record */
    bool holds_slot;     /* a launch slot is held (released by cass_launch_slot_release) */
};

/* Launches (or, after a restart, resumes) run_id to its end state. Called
 * from a launch worker or a job runner. */
void cass_launch_run(struct cass_lifecycle *lc, const char *run_id);

/* Checks the run's spec against the policy as it is now (paths resolved
 * now, not when it was applied). */
int cass_launch_policy(struct cass_launch *l, struct cass_error **err);

/* Resolves the spec's image (or, for a reproduction, the recorded image
 * ID), records the ID and digests in the run, and decides the user. */
int cass_launch_image(struct cass_launch *l, struct cass_error **err);

/* (Re)fills l->cs for one container of this run: name (suffix may be NULL),
 * image ID, user, labels (replica >= 0 adds io.cassiny.replica), env from
 * spec.env, resources, hardening. Clears cmd and env first. */
void cass_launch_spec_init(struct cass_launch *l, int replica, const char *suffix);

/* The mounts of the spec's list `key` ([{source, target, readOnly}]) as
 * bind mounts, read-only when read_only or the entry says so, each naming
 * its field (for the pin's policy check), with room for extra more after
 * them; *ret_n gets the count filled. Strings are borrowed from the spec
 * and l. Caller frees the array. */
struct cass_container_mount *cass_launch_bind_mounts(struct cass_launch *l, const char *key,
                                                     bool read_only, size_t extra, size_t *ret_n);
/* Appends the strings of a JSON array (spec.command) to l->cmd. */
void cass_launch_cmd_add(struct cass_launch *l, const json_t *argv);

/* Creates the container of l->cs and records it in the run's containers
 * at once, so that a failure or a restart finds it. Every bind source is
 * pinned first (daemon/pin.h: resolved now, policed again when it came
 * from the spec, handed over so that a later swap cannot redirect it), and
 * after create the engine's own record of the mounts must name exactly
 * what was pinned; otherwise the container is removed and the launch
 * fails (reason policy-refused). When the run became final meanwhile
 * (stopped, deleted, superseded), removes it again and fails. Returns the
 * id (caller owns). */
char *cass_launch_create(struct cass_launch *l, struct cass_error **err);

/* Records changes in the run (and an event for a status change). Fails
 * with CASS_ERR_CONFLICT when the run became final meanwhile. changes is
 * taken over. */
int cass_launch_record(struct cass_launch *l, json_t *changes, struct cass_error **err);

/* -1 with an error saying how the workload ended (with its last output)
 * when it is no longer running; 0 while it runs. */
int cass_launch_check_running(struct cass_launch *l, const char *id, struct cass_error **err);

/* Starts a created container; a 5xx answer (an engine shutting down
 * answers so while it stops its containers) is tried again for a while, and
 * becomes CASS_ERR_UNAVAILABLE when the engine stops answering meanwhile.
 * Once it started, the pins of its mounts go (the container's mounts are
 * copies). */
int cass_launch_start(struct cass_launch *l, const char *id, struct cass_error **err);
/* Starts id and learns where its port is reached. A workload that died at
 * once has no port: the error says how it ended and *ret_exited is set. */
int cass_launch_start_published(struct cass_launch *l, const char *id, int port, char host[64],
                                int *ret_port, bool *ret_exited, struct cass_error **err);

/* Records in the run's `nodes` ({workload id: node}) where workload id
 * runs, when the backend places workloads on nodes and it is placed. */
void cass_launch_note_node(struct cass_launch *l, const char *id);

/* Launch slots bound the runs being created and started at once
 * (limits.maxConcurrentLaunches). A job gives its slot back once its
 * container runs. */
void cass_launch_slot_release(struct cass_launch *l);

/* Sleeps up to ms; 1 when the lifecycle is stopping. */
int cass_lifecycle_nap(struct cass_lifecycle *lc, long ms);
/* Set at shutdown: ends engine streams and waits. */
const atomic_int *cass_lifecycle_cancel(struct cass_lifecycle *lc);
struct cass_backend *cass_lifecycle_backend(struct cass_lifecycle *lc);
struct cass_daemon *cass_lifecycle_daemon(struct cass_lifecycle *lc);
void cass_lifecycle_slot_acquire(struct cass_lifecycle *lc);
void cass_lifecycle_slot_release(struct cass_lifecycle *lc);
/* Whether a rollout of name owns its replicas now. */
bool cass_lifecycle_rolling(struct cass_lifecycle *lc, const char *name);
void cass_lifecycle_set_rolling(struct cass_lifecycle *lc, const char *name, bool on);
/* Whether a worker or runner has the run now or will soon. */
bool cass_lifecycle_held(struct cass_lifecycle *lc, const char *run_id);
/* Queues a run for launch (jobs to the job queue). */
void cass_lifecycle_enqueue(struct cass_lifecycle *lc, const char *run_id, const char *kind);

/* ---- runs ------------------------------------------------------------------- */

/* Every change of a run goes through here: the store, then for a change of
 * status an event. changes borrowed; *ret_run (may be NULL) gets the run. */
int cass_run_change(struct cass_daemon *d, const char *run_id, const json_t *changes,
                    json_t **ret_run, struct cass_error **err);
int cass_run_status(struct cass_daemon *d, const char *run_id, const char *status,
                    const char *reason, struct cass_error **err);
/* Marks a run failed (logged); a run already final stays as it is. */
void cass_run_fail(struct cass_daemon *d, const char *run_id, const char *reason,
                   const char *error);
/* The document of a run's revision (caller owns). */
json_t *cass_run_doc(struct cass_daemon *d, const json_t *run, struct cass_error **err);

/* Stops and removes every container of a run, its logs kept first, and
 * takes them out of the model rotation. Missing ones are fine. */
void cass_run_remove_workloads(struct cass_daemon *d, struct cass_backend *b, const json_t *run);
/* Keeps the log of workload id of run_id (cass_runlog_save) and says on the
 * run whether it was cut short by a full disk (logTruncated). Returns what
 * cass_runlog_save returned. */
int cass_run_keep_log(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                      const char *id);
/* The same as cass_run_remove_workloads for one workload of a run; while
 * the disk is full, one whose log could not be kept whole stays. */
void cass_run_remove_workload(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                              const char *name, const char *id);

/* "cassiny-<name>-<the run id's last 10 characters>" (lowercase). */
void cass_launch_container_name(const char *name, const char *run_id, char *out, size_t n);

/* The reason of a run that waits for (or gave up on) the engine. */
#define CASS_REASON_ENGINE_UNAVAILABLE "engine-unavailable"

double cass_now(void);
char *cass_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
