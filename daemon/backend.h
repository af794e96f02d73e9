/* What the workload kinds ask of an engine, as one table of functions per
 * backend (the shape of crun's cgroup managers): plain Docker containers
 * today (backend_docker.c), Swarm services next, and an in-memory fake for
 * the lifecycle's unit tests.
 *
 * A workload is what one replica of a run becomes on the engine: a
 * container here, a service task on Swarm. It is described once by
 * struct cass_container_spec (env, labels, limits, hardening, mounts, the
 * port to publish) and named by the id the backend returns. Everything a
 * backend says is untrusted input; nothing here logs. */
#ifndef CASS_BACKEND_H
#define CASS_BACKEND_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine.h"
#include "error.h"

struct cass_daemon;

/* How a workload stands, from the engine's own record. */
struct cass_workload_state {
    bool exists; /* false: gone (removed, or never made) */
    bool running;
    bool started; /* it ran at some point (the engine's StartedAt is set) */
    bool oom_killed;
    int exit_code;
    char started_at[40];  /* RFC 3339, "" when never */
    char finished_at[40]; /* RFC 3339, "" while running or never */
    char status[32];      /* the engine's word: "created", "running", "exited", ... */
    char error[256];      /* why the engine could not run it (a rejected task), "" */
};

/* A workload found by its labels: id and the labels the daemon put on it. */
struct cass_workload_ref {
    char id[72];
    char run[64];    /* CASS_LABEL_RUN */
    char name[64];   /* CASS_LABEL_NAME */
    char status[32]; /* as in cass_workload_state */
    bool running;
};

/* An image as the daemon pins it. */
struct cass_backend_image {
    char *id;             /* "sha256:..." */
    json_t *repo_digests; /* array of strings */
    char *user;           /* NULL when the image sets none */
    char *working_dir;    /* NULL when the image sets none */
    json_t *cmd;          /* its default command (array of strings), NULL when none */
};
void cass_backend_image_clear(struct cass_backend_image *img);

/* An engine event about a workload, reduced to what the lifecycle uses. */
struct cass_backend_event {
    const char *action; /* "die", "oom", "destroy", "start" */
    const char *id;
    const char *run;       /* CASS_LABEL_RUN */
    const char *exit_code; /* may be NULL */
};
typedef int (*cass_backend_event_fn)(const struct cass_backend_event *ev, void *userdata);

struct cass_backend;

struct cass_backend_ops {
    const char *name; /* "docker" */
    /* Stopping a Job's workload takes its output with it (a Swarm job's
     * task goes when it is stopped), so it is kept before the stop. */
    bool stop_loses_logs;

    /* Whether the engine answers now. */
    int (*ping)(struct cass_backend *b, struct cass_error **err);

    /* The image ref (a tag, name@sha256:, or an image ID) as it is in the
     * engine; CASS_ERR_NOT_FOUND when absent. ret untouched on failure. */
    int (*image_resolve)(struct cass_backend *b, const char *ref, struct cass_backend_image *ret,
                         struct cass_error **err);
    /* The manifest digest ("sha256:...", caller owns) the registry holds
     * for ref (name:tag) now, asked through the engine; ref need not be
     * local. CASS_ERR_NOT_FOUND when the registry has no such tag. */
    char *(*image_digest)(struct cass_backend *b, const char *ref, struct cass_error **err);
    /* Fetches ref from a registry; 0 when it is there afterwards. */
    int (*image_pull)(struct cass_backend *b, const char *ref, const atomic_int *cancel,
                      struct cass_error **err);

    /* A named volume with labels, kept across runs; an existing one is fine. */
    int (*volume_ensure)(struct cass_backend *b, const char *name,
                         const struct cass_container_label *labels, size_t n_labels,
                         struct cass_error **err);
    int (*volume_remove)(struct cass_backend *b, const char *name, struct cass_error **err);
    /* 0 when volume name is absent or was made by this daemon for spec;
     * CASS_ERR_FORBIDDEN when it exists and is someone else's. NULL in a
     * backend without volumes of its own. */
    int (*volume_check)(struct cass_backend *b, const char *name, const char *spec,
                        struct cass_error **err);

    /* The network for workloads that have one (kept across runs, made when
     * missing; see CASS_NETWORK); *ret is static. NULL: the engine's default. */
    int (*network)(struct cass_backend *b, const char **ret, struct cass_error **err);

    /* Creates a workload (not started). Returns its id (caller owns). */
    char *(*create)(struct cass_backend *b, const struct cass_container_spec *spec,
                    struct cass_error **err);
    int (*start)(struct cass_backend *b, const char *id, struct cass_error **err);
    /* The bind mounts the engine recorded for the workload, as an array
     * of {source, target} (caller owns); the launch checks them against
     * what it pinned. NULL in a backend that cannot say. */
    int (*mounts)(struct cass_backend *b, const char *id, json_t **ret, struct cass_error **err);
    /* Where the daemon reaches container port `port` of the workload. */
    int (*endpoint)(struct cass_backend *b, const char *id, int port, char host[64], int *ret_port,
                    struct cass_error **err);
    /* The node a workload runs (or ran) on, by its hostname; "" while it
     * is not placed yet. NULL in a backend of one host. */
    int (*node)(struct cass_backend *b, const char *id, char ret[64], struct cass_error **err);
    /* The workload's state; a missing workload is exists = false, not an error. */
    int (*state)(struct cass_backend *b, const char *id, struct cass_workload_state *ret,
                 struct cass_error **err);
    /* Blocks until the workload is not running (at once if it is not), or
     * *cancel is set (CASS_ERR_UNAVAILABLE "cancelled"). */
    int (*wait)(struct cass_backend *b, const char *id, const atomic_int *cancel,
                int *ret_exit_code, struct cass_error **err);
    int (*logs)(struct cass_backend *b, const char *id, const struct cass_engine_logs_opts *opts,
                cass_engine_log_fn fn, void *userdata, struct cass_error **err);
    /* SIGTERM, then SIGKILL after timeout_s. Stopping a stopped one is fine. */
    int (*stop)(struct cass_backend *b, const char *id, int timeout_s, struct cass_error **err);
    /* SIGKILL now; a workload that is not running is fine. */
    int (*kill)(struct cass_backend *b, const char *id, struct cass_error **err);
    /* Removes it (forced); a missing one is fine. */
    int (*remove)(struct cass_backend *b, const char *id, struct cass_error **err);
    /* Every workload carrying all labels ("key" or "key=value"). Returns
     * the count and *ret (caller frees), or -1. */
    int (*list)(struct cass_backend *b, const char *const *labels, struct cass_workload_ref **ret,
                size_t *ret_n, struct cass_error **err);
    /* Follows the engine's events about workloads with labels until the
     * stream ends, fn returns non-zero or *cancel is set. */
    int (*events)(struct cass_backend *b, const char *const *labels, const atomic_int *cancel,
                  cass_backend_event_fn fn, void *userdata, struct cass_error **err);

    void (*free)(struct cass_backend *b);
};

struct cass_backend {
    const struct cass_backend_ops *ops;
    struct cass_daemon *d;
    void *impl;
};

/* The plain-container backend over the daemon's engine client. Caller owns. */
struct cass_backend *cass_backend_docker_new(struct cass_daemon *d);

/* The parsing halves of the plain-container backend, pure functions over
 * the engine's replies (fuzzed by tests/fuzz/fuzz_engine.c). */
/* A workload's state from a container inspect object; ret is zeroed first. */
int cass_backend_docker_state_parse(const json_t *inspect, struct cass_workload_state *ret,
                                    struct cass_error **err);
/* The workloads of a container list (an array; entries without a usable Id,
 * a non-empty string that fits, are skipped). Returns the count and *ret (caller frees), or -1. */
int cass_backend_docker_list_parse(const json_t *all, struct cass_workload_ref **ret, size_t *ret_n,
                                   struct cass_error **err);
/* An engine event reduced to what the lifecycle uses; its strings are
 * borrowed from ev. False when it lacks an action or a run label. */
bool cass_backend_docker_event_parse(const json_t *ev, struct cass_backend_event *ret);

/* The Swarm backend over the daemon's engine client, which must be a
 * manager's (see backend_swarm.c for how a workload maps to a service).
 * Caller owns. */
struct cass_backend *cass_backend_swarm_new(struct cass_daemon *d);

/* The parsing halves of the Swarm backend, pure functions over the
 * engine's replies (fuzzed by tests/fuzz/fuzz_engine.c). */
/* The ServiceSpec of a workload: one service per workload, a Job (label
 * io.cassiny.kind) as a ReplicatedJob of one completion, anything else
 * Replicated with replicas (0 at create, 1 once started); image is the
 * reference every node pulls; pin_node (may be NULL) a node ID it must run
 * on (the workload mounts a volume, which lives on that node); gpu_kind
 * the GenericResources kind the nodes advertise GPUs as (NULL: none does,
 * and a spec asking for GPUs is refused). Caller owns. */
json_t *cass_backend_swarm_service_body(const struct cass_container_spec *spec, const char *image,
                                        int replicas, const char *pin_node, const char *gpu_kind,
                                        struct cass_error **err);
/* The task that stands for a service now among tasks (a /tasks array): the
 * newest one the orchestrator still wants, else the newest. Borrowed from
 * tasks; NULL when there is none. */
const json_t *cass_backend_swarm_current_task(const json_t *tasks);
/* A workload's state from its current task (NULL: none yet); ret is zeroed first. */
int cass_backend_swarm_state_parse(const json_t *task, struct cass_workload_state *ret,
                                   struct cass_error **err);
/* The host port of a running task's host-mode published port
 * (Status.PortStatus); CASS_ERR_NOT_FOUND when it has none (yet). */
int cass_backend_swarm_task_port(const json_t *task, int port, int *ret_port,
                                 struct cass_error **err);
/* A node's address (Status.Addr, or its manager address when that says
 * 0.0.0.0) and hostname from a /nodes entry. */
int cass_backend_swarm_node_parse(const json_t *node, char addr[64], char hostname[64],
                                  struct cass_error **err);
/* The GenericResources kind under which some node of a /nodes array
 * advertises GPUs ("gpu", "NVIDIA-GPU", ...: a kind containing "gpu", any
 * case), or NULL. Borrowed from nodes. */
const char *cass_backend_swarm_gpu_kind(const json_t *nodes);
/* The workloads of a /services array, with their state from tasks (a
 * /tasks array). Returns the count and *ret (caller frees), or -1. */
int cass_backend_swarm_list_parse(const json_t *services, const json_t *tasks,
                                  struct cass_workload_ref **ret, size_t *ret_n,
                                  struct cass_error **err);

/* The bind mounts of an engine's list of mounts (a container's "Mounts",
 * target under "Destination"; a service's, under "Target") as an array of
 * {source, target}, what ops->mounts returns. Caller owns. */
json_t *cass_backend_bind_mounts(const json_t *mounts, const char *target_key);

/* The backend named by the config's engine key as cass_cfg_backend chose
 * it ("docker", "swarm"; "auto" and NULL are docker); others are refused
 * with the reason. Caller owns. */
struct cass_backend *cass_backend_new(struct cass_daemon *d, const char *name,
                                      struct cass_error **err);
void cass_backend_free(struct cass_backend *b);

#endif
