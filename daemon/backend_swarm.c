/* The Swarm backend: one workload is one service of a Swarm, through a
 * manager's engine API (the daemon's engine client).
 *
 * The mapping, chosen so that the lifecycle works as on one host:
 * - A Job is a ReplicatedJob service of one completion (MaxConcurrent 1,
 *   TotalCompletions 1); it runs from its creation. Stopping it sets
 *   MaxConcurrent to 0, which shuts its task down and starts none.
 * - A Notebook and each replica of a Model are a Replicated service of one
 *   replica, created with 0 and scaled to 1 by start, to 0 by stop. The
 *   restart condition is none: the daemon replaces what dies, rolls models
 *   replica by replica and drains one from the gateway before it stops it,
 *   exactly as with containers; Swarm only places them.
 * - Labels are the same on the service and its containers, so reconcile
 *   finds services by label after a restart.
 * - Bind mounts keep their host paths: every node must have the policy's
 *   mount roots (and the daemon's stateDir, where job outputs go) at the same
 *   path, a shared mount. The node checks that the source exists when it
 *   takes the task; a task it rejects says why in the run's error.
 * - A named volume (a notebook's workspace) lives on the manager's own
 *   engine, and a workload that mounts one is pinned to the manager's node
 *   (a placement constraint on node.id), so the workspace survives restarts.
 * - Ports are published in host mode; the daemon reaches a task at its
 *   node's address (the node's Status.Addr) and the port the task got
 *   (Status.PortStatus). No routing mesh.
 * - cpus and memory are limits and reservations both; GPUs are a
 *   GenericResources reservation, refused when no node advertises any.
 * - State, wait and the exit code come from the current task's Status
 *   (ContainerStatus.ExitCode); logs from /services/{id}/logs; events from
 *   following the tasks' states (polled once a second: the engine's event
 *   stream of API 1.43 has no task events).
 * - Images run by a reference every node can pull: a pinned image ID is
 *   turned into its repo digest (name@sha256:...) from the manager's image.
 * Images and volumes are the manager's engine's, as the docker backend does
 * them. What a ServiceSpec cannot say on the engines this client speaks to
 * (API <= 1.43) is not had on Swarm, and docs/scale-out.md says so: a job's
 * network "none" (a service cannot join the node-local null network; jobs
 * get the node's default bridge), no-new-privileges and tmpfs mount flags
 * (the nodes' daemon.json "no-new-privileges": true covers the first). */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "launch.h"
#include "protocol.h"

#define POLL_MS 250
/* Longest wait for a started task to run (its node may pull the image). */
#define RUN_WAIT_S 180
#define STOP_GRACE_S 10
/* Longest a non-following read of a service's logs may take. */
#define LOGS_MAX_S 15
/* A service name is a DNS label. */
#define SERVICE_NAME_MAX 63

struct swarm {
    struct cass_backend *docker; /* images and volumes: the manager's own engine */
    pthread_mutex_t lock;
    char self_node[72]; /* the manager's node ID, once learned */
};

static struct cass_engine *engine(struct cass_backend *b, struct cass_error **err)
{
    return cass_daemon_engine(b->d, err);
}

#define ENGINE_OR_FAIL(b, err)                                                                     \
    struct cass_engine *e = engine(b, err);                                                        \
    if (!e)                                                                                        \
    return -1

static struct cass_backend *docker_of(struct cass_backend *b)
{
    return ((struct swarm *)b->impl)->docker;
}

/* Sleeps ms; true when the daemon is stopping. */
static bool nap(struct cass_backend *b, const atomic_int *cancel, long ms)
{
    if (cancel && atomic_load(cancel))
        return true;
    if (b->d && b->d->lifecycle)
        return cass_lifecycle_nap(b->d->lifecycle, ms) != 0 || (cancel && atomic_load(cancel));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return cancel && atomic_load(cancel);
}

/* A missing service is what the caller wanted anyway. */
static int gone_is_fine(int rc, struct cass_error **err)
{
    if (rc < 0 && err && *err && (*err)->kind == CASS_ERR_NOT_FOUND) {
        cass_error_free(TAKE_PTR(*err));
        return 0;
    }
    return rc;
}

/* ---- delegated to the manager's engine ------------------------------------------- */

static int swarm_ping(struct cass_backend *b, struct cass_error **err)
{
    return docker_of(b)->ops->ping(docker_of(b), err);
}

static int swarm_image_resolve(struct cass_backend *b, const char *ref,
                               struct cass_backend_image *ret, struct cass_error **err)
{
    return docker_of(b)->ops->image_resolve(docker_of(b), ref, ret, err);
}

static char *swarm_image_digest(struct cass_backend *b, const char *ref, struct cass_error **err)
{
    return docker_of(b)->ops->image_digest(docker_of(b), ref, err);
}

static int swarm_image_pull(struct cass_backend *b, const char *ref, const atomic_int *cancel,
                            struct cass_error **err)
{
    return docker_of(b)->ops->image_pull(docker_of(b), ref, cancel, err);
}

static int swarm_volume_ensure(struct cass_backend *b, const char *name,
                               const struct cass_container_label *labels, size_t n_labels,
                               struct cass_error **err)
{
    return docker_of(b)->ops->volume_ensure(docker_of(b), name, labels, n_labels, err);
}

static int swarm_volume_remove(struct cass_backend *b, const char *name, struct cass_error **err)
{
    return docker_of(b)->ops->volume_remove(docker_of(b), name, err);
}

static int swarm_volume_check(struct cass_backend *b, const char *name, const char *spec,
                              struct cass_error **err)
{
    return docker_of(b)->ops->volume_check(docker_of(b), name, spec, err);
}

/* ---- the service spec ------------------------------------------------------------ */

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static const char *label_of(const struct cass_container_spec *s, const char *key)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].key && strcmp(s->labels[i].key, key) == 0)
            return s->labels[i].value;
    return NULL;
}

/* "size=N" of a tmpfs option string, 0 when it has none. */
static long long tmpfs_size(const char *options)
{
    const char *p = options ? strstr(options, "size=") : NULL;
    return p ? strtoll(p + 5, NULL, 10) : 0;
}

/* A DNS label of at most 63 characters: the container name, or its end
 * (the run id and replica suffix, which tell services apart) behind
 * "cassiny-". */
static void service_name(const char *name, char out[SERVICE_NAME_MAX + 1])
{
    size_t n = strlen(name);
    if (n <= SERVICE_NAME_MAX) {
        snprintf(out, SERVICE_NAME_MAX + 1, "%s", name);
        return;
    }
    const char *tail = name + n - (SERVICE_NAME_MAX - 8);
    while (*tail == '-')
        tail++;
    snprintf(out, SERVICE_NAME_MAX + 1, "cassiny-%s", tail);
}

static json_t *restart_policy(const struct cass_container_spec *s)
{
    const char *p = s->restart_policy ? s->restart_policy : "no";
    if (strcmp(p, "on-failure") == 0)
        return json_pack("{s:s,s:I}", "Condition", "on-failure", "MaxAttempts",
                         (json_int_t)s->restart_max_retries);
    return json_pack("{s:s}", "Condition", strcmp(p, "no") == 0 ? "none" : "any");
}

json_t *cass_backend_swarm_service_body(const struct cass_container_spec *s, const char *image,
                                        int replicas, const char *pin_node, const char *gpu_kind,
                                        struct cass_error **err)
{
    if (!image || !*image) {
        cass_error_set(err, CASS_ERR_INVALID, "service spec: image is required");
        return NULL;
    }
    if (s->nano_cpus < 0 || s->memory < 0 || s->pids_limit < 0 || replicas < 0) {
        cass_error_set(err, CASS_ERR_INVALID, "service spec: negative limit");
        return NULL;
    }
    if (s->gpus < 0) {
        cass_error_set(err, CASS_ERR_INVALID,
                       "spec.resources.gpus: all GPUs cannot be asked of Swarm (a task reserves "
                       "a count of GenericResources); give a number");
        return NULL;
    }
    if (s->gpus > 0 && !gpu_kind) {
        cass_error_set(err, CASS_ERR_INVALID,
                       "spec.resources.gpus: no node of this Swarm advertises GPUs (Swarm "
                       "services have no device requests; a node offers GPUs as "
                       "node-generic-resources in its daemon.json, e.g. \"gpu=GPU-0\")");
        return NULL;
    }
    _cleanup_json_ json_t *labels = json_object();
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct cass_container_label *l = &s->labels[i];
        if (!l->key || !*l->key || json_object_get(labels, l->key)) {
            cass_error_set(err, CASS_ERR_INVALID, "service spec: empty or repeated label key");
            return NULL;
        }
        json_object_set_new(labels, l->key, json_string(l->value ? l->value : ""));
    }

    json_t *mounts = json_array();
    _cleanup_json_ json_t *cspec =
        json_pack("{s:s,s:O,s:b,s:b,s:b,s:I,s:o}", "Image", image, "Labels", labels, "TTY",
                  (int)s->tty, "Init", (int)s->init, "ReadOnly", (int)s->readonly_rootfs,
                  "StopGracePeriod", (json_int_t)STOP_GRACE_S * 1000000000, "Mounts", mounts);
    if (!cspec)
        goto nomem;
    const struct {
        const char *key;
        const char *const *v;
    } lists[] = {{"Args", s->cmd},
                 {"Command", s->entrypoint},
                 {"Env", s->env},
                 {"CapabilityDrop", s->cap_drop},
                 {"CapabilityAdd", s->cap_add}};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (lists[i].v)
            json_object_set_new(cspec, lists[i].key, strv_json(lists[i].v));
    if (s->user)
        json_object_set_new(cspec, "User", json_string(s->user));
    if (s->working_dir)
        json_object_set_new(cspec, "Dir", json_string(s->working_dir));
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct cass_container_mount *m = &s->mounts[i];
        bool bind = m->type == CASS_MOUNT_BIND;
        if ((m->type != CASS_MOUNT_BIND && m->type != CASS_MOUNT_VOLUME) || !m->source ||
            !m->target || m->target[0] != '/' || (bind && m->source[0] != '/')) {
            cass_error_set(err, CASS_ERR_INVALID, "service spec: invalid mount %zu", i);
            return NULL;
        }
        json_array_append_new(
            mounts, json_pack("{s:s,s:s,s:s,s:b}", "Type", bind ? "bind" : "volume", "Source",
                              m->source, "Target", m->target, "ReadOnly", (int)m->read_only));
    }
    for (size_t i = 0; i < s->n_tmpfs; i++) {
        const struct cass_container_tmpfs *t = &s->tmpfs[i];
        if (!t->target || t->target[0] != '/') {
            cass_error_set(err, CASS_ERR_INVALID, "service spec: invalid tmpfs %zu", i);
            return NULL;
        }
        json_t *o = json_pack("{s:s,s:s,s:{s:i}}", "Type", "tmpfs", "Target", t->target,
                              "TmpfsOptions", "Mode", 01777);
        long long size = tmpfs_size(t->options);
        if (size > 0)
            json_object_set_new(json_object_get(o, "TmpfsOptions"), "SizeBytes",
                                json_integer(size));
        json_array_append_new(mounts, o);
    }

    json_t *limits = json_object(), *reserve = json_object();
    if (s->nano_cpus) {
        json_object_set_new(limits, "NanoCPUs", json_integer(s->nano_cpus));
        json_object_set_new(reserve, "NanoCPUs", json_integer(s->nano_cpus));
    }
    if (s->memory) {
        json_object_set_new(limits, "MemoryBytes", json_integer(s->memory));
        json_object_set_new(reserve, "MemoryBytes", json_integer(s->memory));
    }
    if (s->pids_limit > 0)
        json_object_set_new(limits, "Pids", json_integer(s->pids_limit));
    if (s->gpus > 0)
        json_object_set_new(reserve, "GenericResources",
                            json_pack("[{s:{s:s,s:I}}]", "DiscreteResourceSpec", "Kind", gpu_kind,
                                      "Value", (json_int_t)s->gpus));
    json_t *task = json_pack("{s:O,s:{s:o,s:o},s:o}", "ContainerSpec", cspec, "Resources", "Limits",
                             limits, "Reservations", reserve, "RestartPolicy", restart_policy(s));
    if (!task)
        goto nomem;
    if (pin_node) {
        _cleanup_free_ char *c = cass_xasprintf("node.id==%s", pin_node);
        json_object_set_new(task, "Placement", json_pack("{s:[s]}", "Constraints", c));
    }

    char name[SERVICE_NAME_MAX + 1] = "";
    if (s->name)
        service_name(s->name, name);
    const char *kind = label_of(s, CASS_LABEL_KIND);
    json_t *mode =
        kind && strcmp(kind, "Job") == 0
            ? json_pack("{s:{s:i,s:i}}", "ReplicatedJob", "MaxConcurrent", 1, "TotalCompletions", 1)
            : json_pack("{s:{s:i}}", "Replicated", "Replicas", replicas);
    json_t *svc = json_pack("{s:O,s:o,s:o}", "Labels", labels, "TaskTemplate", task, "Mode", mode);
    if (!svc)
        goto nomem;
    if (name[0])
        json_object_set_new(svc, "Name", json_string(name));
    if (s->n_ports) {
        json_t *ports = json_array();
        for (size_t i = 0; i < s->n_ports; i++) {
            const struct cass_container_port *p = &s->ports[i];
            const char *proto = p->proto ? p->proto : "tcp";
            if (p->container_port < 1 || p->container_port > 65535 || p->host_port < 0 ||
                p->host_port > 65535 || (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
                json_decref(ports);
                json_decref(svc);
                cass_error_set(err, CASS_ERR_INVALID, "service spec: invalid port %zu", i);
                return NULL;
            }
            json_t *o = json_pack("{s:s,s:i,s:s}", "Protocol", proto, "TargetPort",
                                  p->container_port, "PublishMode", "host");
            if (p->host_port)
                json_object_set_new(o, "PublishedPort", json_integer(p->host_port));
            json_array_append_new(ports, o);
        }
        json_object_set_new(svc, "EndpointSpec", json_pack("{s:o}", "Ports", ports));
    }
    return svc;
nomem:
    cass_error_set(err, CASS_ERR_INVALID, "service spec: invalid UTF-8 or out of memory");
    return NULL;
}

/* ---- tasks ----------------------------------------------------------------------- */

static const char *task_state(const json_t *t)
{
    return json_string_value(json_object_get(json_object_get(t, "Status"), "State"));
}

static bool state_is(const char *st, const char *const *set)
{
    for (size_t i = 0; st && set[i]; i++)
        if (strcmp(st, set[i]) == 0)
            return true;
    return false;
}

static const char *const ended[] = {"complete", "failed", "shutdown", "rejected",
                                    "orphaned", "remove", NULL};

const json_t *cass_backend_swarm_current_task(const json_t *tasks)
{
    const json_t *best = NULL;
    bool best_wanted = false;
    const char *best_at = "";
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if (!json_is_object(t))
            continue;
        const char *desired = json_string_value(json_object_get(t, "DesiredState"));
        /* Wanted: the orchestrator means it to run or to have completed. */
        bool wanted =
            desired && (strcmp(desired, "running") == 0 || strcmp(desired, "complete") == 0 ||
                        strcmp(desired, "ready") == 0);
        const char *at = json_string_value(json_object_get(t, "CreatedAt"));
        if (!at)
            at = "";
        if (!best || (wanted && !best_wanted) ||
            (wanted == best_wanted && strcmp(at, best_at) > 0)) {
            best = t;
            best_wanted = wanted;
            best_at = at;
        }
    }
    return best;
}

int cass_backend_swarm_state_parse(const json_t *task, struct cass_workload_state *ret,
                                   struct cass_error **err)
{
    memset(ret, 0, sizeof(*ret));
    ret->exists = true;
    if (!task) {
        snprintf(ret->status, sizeof(ret->status), "created");
        return 0;
    }
    const json_t *status = json_object_get(task, "Status");
    const char *st = json_string_value(json_object_get(status, "State"));
    if (!json_is_object(status) || !st)
        return cass_error_set(err, CASS_ERR_ENGINE, "task: no Status.State");
    const char *at = json_string_value(json_object_get(status, "Timestamp"));
    const char *msg = json_string_value(json_object_get(status, "Err"));
    const json_t *cst = json_object_get(status, "ContainerStatus");
    const char *cid = json_string_value(json_object_get(cst, "ContainerID"));
    json_t *code = json_object_get(cst, "ExitCode");
    if (code && !json_is_integer(code))
        return cass_error_set(err, CASS_ERR_ENGINE, "task: ExitCode is not an integer");
    if (strcmp(st, "running") == 0) {
        ret->running = ret->started = true;
        snprintf(ret->status, sizeof(ret->status), "running");
        if (at)
            snprintf(ret->started_at, sizeof(ret->started_at), "%s", at);
    } else if (state_is(st, ended)) {
        /* It ran when the node made its container and it did not refuse it. */
        ret->started = cid && *cid && strcmp(st, "rejected") != 0;
        ret->exit_code = (int)json_integer_value(code);
        snprintf(ret->status, sizeof(ret->status), "exited");
        if (at)
            snprintf(ret->finished_at, sizeof(ret->finished_at), "%s", at);
        /* A refused task says why ("invalid mount config ... does not exist"). */
        if (msg && *msg)
            snprintf(ret->error, sizeof(ret->error), "task %s: %s", st, msg);
    } else {
        snprintf(ret->status, sizeof(ret->status), "created");
    }
    return 0;
}

int cass_backend_swarm_task_port(const json_t *task, int port, int *ret_port,
                                 struct cass_error **err)
{
    size_t i;
    json_t *p;
    json_array_foreach(
        json_object_get(json_object_get(json_object_get(task, "Status"), "PortStatus"), "Ports"), i,
        p)
    {
        json_t *target = json_object_get(p, "TargetPort");
        json_t *published = json_object_get(p, "PublishedPort");
        if (json_is_integer(target) && json_integer_value(target) == port &&
            json_is_integer(published) && json_integer_value(published) > 0 &&
            json_integer_value(published) <= 65535) {
            *ret_port = (int)json_integer_value(published);
            return 0;
        }
    }
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "task publishes no port for %d", port);
}

/* An address as a host for a URL: an IPv6 one in brackets. */
static int host_of(const char *addr, char out[64])
{
    if (!addr || !*addr || strlen(addr) > 45)
        return -1;
    for (const char *p = addr; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != '.' && *p != ':')
            return -1;
    snprintf(out, 64, strchr(addr, ':') ? "[%s]" : "%s", addr);
    return 0;
}

int cass_backend_swarm_node_parse(const json_t *node, char addr[64], char hostname[64],
                                  struct cass_error **err)
{
    const char *a = json_string_value(json_object_get(json_object_get(node, "Status"), "Addr"));
    const char *h =
        json_string_value(json_object_get(json_object_get(node, "Description"), "Hostname"));
    char buf[64] = "";
    if (!a || !*a || strcmp(a, "0.0.0.0") == 0) {
        /* A manager may say 0.0.0.0: its manager address is "ip:port". */
        const char *m =
            json_string_value(json_object_get(json_object_get(node, "ManagerStatus"), "Addr"));
        const char *colon = m ? strrchr(m, ':') : NULL;
        if (colon && (size_t)(colon - m) < sizeof(buf)) {
            memcpy(buf, m, (size_t)(colon - m));
            buf[colon - m] = '\0';
            if (buf[0] == '[') { /* [v6]:port */
                memmove(buf, buf + 1, strlen(buf));
                buf[strlen(buf) - 1] = '\0';
            }
            a = buf;
        }
    }
    if (host_of(a, addr) < 0)
        return cass_error_set(err, CASS_ERR_ENGINE, "node %s: no usable address",
                              h ? h : "(unnamed)");
    snprintf(hostname, 64, "%s", h && strlen(h) < 64 ? h : "");
    return 0;
}

const char *cass_backend_swarm_gpu_kind(const json_t *nodes)
{
    size_t i, j;
    json_t *n, *r;
    json_array_foreach(nodes, i, n)
    {
        json_t *res = json_object_get(
            json_object_get(json_object_get(n, "Description"), "Resources"), "GenericResources");
        json_array_foreach(res, j, r)
        {
            json_t *spec = json_object_get(r, "DiscreteResourceSpec");
            if (!spec)
                spec = json_object_get(r, "NamedResourceSpec");
            const char *kind = json_string_value(json_object_get(spec, "Kind"));
            if (!kind)
                continue;
            for (const char *p = kind; *p; p++)
                if (strncasecmp(p, "gpu", 3) == 0)
                    return kind;
        }
    }
    return NULL;
}

static void copy_label(const json_t *labels, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(labels, key));
    snprintf(out, n, "%s", v ? v : "");
}

/* The tasks of service id among all (caller owns the array). */
static json_t *tasks_of(const json_t *all, const char *id)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t)
    {
        const char *sid = json_string_value(json_object_get(t, "ServiceID"));
        if (sid && strcmp(sid, id) == 0)
            json_array_append(out, t);
    }
    return out;
}

int cass_backend_swarm_list_parse(const json_t *services, const json_t *tasks,
                                  struct cass_workload_ref **ret, size_t *ret_n,
                                  struct cass_error **err)
{
    size_t n = json_array_size(services);
    struct cass_workload_ref *refs = calloc(n ? n : 1, sizeof(*refs));
    if (!refs)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    size_t k = 0, i;
    json_t *s;
    json_array_foreach(services, i, s)
    {
        const char *id = json_string_value(json_object_get(s, "ID"));
        if (!id || !*id || strlen(id) >= sizeof(refs[k].id))
            continue;
        json_t *lab = json_object_get(json_object_get(s, "Spec"), "Labels");
        snprintf(refs[k].id, sizeof(refs[k].id), "%s", id);
        copy_label(lab, CASS_LABEL_RUN, refs[k].run, sizeof(refs[k].run));
        copy_label(lab, CASS_LABEL_NAME, refs[k].name, sizeof(refs[k].name));
        _cleanup_json_ json_t *mine = tasks_of(tasks, id);
        struct cass_workload_state st;
        if (cass_backend_swarm_state_parse(cass_backend_swarm_current_task(mine), &st, NULL) == 0) {
            snprintf(refs[k].status, sizeof(refs[k].status), "%s", st.status);
            refs[k].running = st.running;
        }
        k++;
    }
    *ret = refs;
    *ret_n = k;
    return (int)k;
}

/* ---- the service and its tasks on the engine ---------------------------------------- */

/* The current task of service id: *ret_task borrowed from *ret_tasks
 * (caller owns), NULL when it has none. A missing service is
 * CASS_ERR_NOT_FOUND. */
static int current(struct cass_engine *e, const char *id, json_t **ret_tasks,
                   const json_t **ret_task, struct cass_error **err)
{
    _cleanup_json_ json_t *svc = cass_engine_service_inspect(e, id, err);
    if (!svc)
        return -1;
    json_t *tasks = cass_engine_task_list(e, id, err);
    if (!tasks)
        return -1;
    *ret_tasks = tasks;
    *ret_task = cass_backend_swarm_current_task(tasks);
    /* A job stopped by the daemon (MaxConcurrent 0) is a new iteration of
     * no tasks: Swarm removes the old one once its container ended, and
     * keeps no record of it. It ended, killed, when the stop took. */
    json_t *job =
        json_object_get(json_object_get(json_object_get(svc, "Spec"), "Mode"), "ReplicatedJob");
    if (!*ret_task && job && json_integer_value(json_object_get(job, "MaxConcurrent")) == 0) {
        json_t *gone = json_pack("{s:s, s:{s:s, s:s?, s:s, s:{s:s, s:i}}}", "DesiredState",
                                 "shutdown", "Status", "State", "shutdown", "Timestamp",
                                 json_string_value(json_object_get(svc, "UpdatedAt")), "Err",
                                 "stopped by the daemon; Swarm keeps no record of the task",
                                 "ContainerStatus", "ContainerID", "(removed)", "ExitCode", 137);
        if (!gone || json_array_append_new(tasks, gone) < 0)
            return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        *ret_task = gone;
    }
    return 0;
}

static int node_find(struct cass_engine *e, const char *node_id, char addr[64], char hostname[64],
                     struct cass_error **err)
{
    _cleanup_json_ json_t *nodes = cass_engine_node_list(e, err);
    if (!nodes)
        return -1;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *id = json_string_value(json_object_get(n, "ID"));
        if (id && strcmp(id, node_id) == 0)
            return cass_backend_swarm_node_parse(n, addr, hostname, err);
    }
    return cass_error_set(err, CASS_ERR_NOT_FOUND, "node %s is not in the Swarm", node_id);
}

/* The manager's own node ID, where volumes live (from /info). */
static int self_node(struct cass_backend *b, struct cass_engine *e, const char **ret,
                     struct cass_error **err)
{
    struct swarm *sw = b->impl;
    pthread_mutex_lock(&sw->lock);
    if (!sw->self_node[0]) {
        _cleanup_json_ json_t *info = cass_engine_info(e, err);
        const char *id =
            json_string_value(json_object_get(json_object_get(info, "Swarm"), "NodeID"));
        if (id && *id && strlen(id) < sizeof(sw->self_node))
            snprintf(sw->self_node, sizeof(sw->self_node), "%s", id);
        else if (info)
            cass_error_set(err, CASS_ERR_ENGINE, "the engine's /info names no Swarm node");
    }
    *ret = sw->self_node;
    pthread_mutex_unlock(&sw->lock);
    return sw->self_node[0] ? 0 : -1;
}

/* The registry part of a reference ("host:5000" of "host:5000/a/b@sha256:.."), or "". */
static void registry_of(const char *ref, char out[256])
{
    const char *slash = strchr(ref, '/');
    size_t n = slash ? (size_t)(slash - ref) : 0;
    out[0] = '\0';
    if (n && n < 256 &&
        (memchr(ref, '.', n) || memchr(ref, ':', n) || (n == 9 && !strncmp(ref, "localhost", 9)))) {
        memcpy(out, ref, n);
        out[n] = '\0';
    }
}

/* The reference every node pulls: an image ID becomes the repo digest of
 * the manager's image, one of a configured registry first. Caller owns. */
static char *pullable(struct cass_backend *b, struct cass_engine *e, const char *image,
                      struct cass_error **err)
{
    if (strncmp(image, "sha256:", 7) != 0)
        return strdup(image);
    struct cass_engine_image img = {0};
    if (cass_engine_image_inspect(e, image, &img, err) < 0)
        return NULL;
    const json_t *regs = cass_cfg_get(b->d->config, "registries");
    char *pick = NULL;
    for (size_t i = 0; i < img.n_repo_digests && !pick; i++) {
        char reg[256];
        registry_of(img.repo_digests[i], reg);
        size_t j;
        json_t *r;
        json_array_foreach(regs, j, r)
        {
            if (reg[0] && json_string_value(r) && strcmp(json_string_value(r), reg) == 0) {
                pick = strdup(img.repo_digests[i]);
                break;
            }
        }
    }
    if (!pick && img.n_repo_digests)
        pick = strdup(img.repo_digests[0]);
    cass_engine_image_clear(&img);
    if (!pick)
        cass_error_set(err, CASS_ERR_INVALID,
                       "image %s came from no registry: on Swarm every node pulls the image, so "
                       "it must come from one of the config's registries (cassinyctl image push)",
                       image);
    return pick;
}

static char *swarm_create(struct cass_backend *b, const struct cass_container_spec *spec,
                          struct cass_error **err)
{
    struct cass_engine *e = engine(b, err);
    if (!e)
        return NULL;
    _cleanup_free_ char *image = pullable(b, e, spec->image, err);
    if (!image)
        return NULL;
    const char *pin = NULL;
    for (size_t i = 0; i < spec->n_mounts; i++)
        if (spec->mounts[i].type == CASS_MOUNT_VOLUME && self_node(b, e, &pin, err) < 0)
            return NULL;
    const char *gpu_kind = NULL;
    _cleanup_json_ json_t *nodes = NULL;
    if (spec->gpus > 0) {
        if (!(nodes = cass_engine_node_list(e, err)))
            return NULL;
        gpu_kind = cass_backend_swarm_gpu_kind(nodes);
    }
    _cleanup_json_ json_t *body =
        cass_backend_swarm_service_body(spec, image, 0, pin, gpu_kind, err);
    if (!body)
        return NULL;
    return cass_engine_service_create(e, body, err);
}

/* Sets a service's replicas (a job's MaxConcurrent) to n, its spec as the
 * engine has it; an update that raced another is tried again. */
static int scale(struct cass_engine *e, const char *id, int n, struct cass_error **err)
{
    for (int tries = 0;; tries++) {
        _cleanup_json_ json_t *svc = cass_engine_service_inspect(e, id, err);
        if (!svc)
            return -1;
        json_t *spec = json_object_get(svc, "Spec");
        json_t *mode = json_object_get(spec, "Mode");
        json_t *version = json_object_get(json_object_get(svc, "Version"), "Index");
        json_t *job = json_object_get(mode, "ReplicatedJob");
        json_t *rep = json_object_get(mode, "Replicated");
        if (!json_is_integer(version) || (!job && !rep))
            return cass_error_set(err, CASS_ERR_ENGINE, "service %.12s: no version or mode", id);
        if (job) {
            if (n > 0)
                return 0; /* a job runs from its creation */
            if (json_integer_value(json_object_get(job, "MaxConcurrent")) == 0)
                return 0;
            json_object_set_new(job, "MaxConcurrent", json_integer(0));
        } else {
            if (json_integer_value(json_object_get(rep, "Replicas")) == n)
                return 0;
            json_object_set_new(rep, "Replicas", json_integer(n));
        }
        _cleanup_error_ struct cass_error *uerr = NULL;
        if (cass_engine_service_update(e, id, json_integer_value(version), spec, &uerr) == 0)
            return 0;
        if (tries >= 3 || !uerr->message || !strstr(uerr->message, "out of sequence")) {
            cass_error_merge(err, &uerr);
            return -1;
        }
    }
}

static int swarm_start(struct cass_backend *b, const char *id, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return scale(e, id, 1, err);
}

static int swarm_mounts(struct cass_backend *b, const char *id, json_t **ret,
                        struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *svc = cass_engine_service_inspect(e, id, err);
    if (!svc)
        return -1;
    json_t *cs = json_object_get(json_object_get(json_object_get(svc, "Spec"), "TaskTemplate"),
                                 "ContainerSpec");
    *ret = cass_backend_bind_mounts(json_object_get(cs, "Mounts"), "Target");
    return 0;
}

static int swarm_state(struct cass_backend *b, const char *id, struct cass_workload_state *ret,
                       struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    memset(ret, 0, sizeof(*ret));
    _cleanup_json_ json_t *tasks = NULL;
    const json_t *task = NULL;
    _cleanup_error_ struct cass_error *ierr = NULL;
    if (current(e, id, &tasks, &task, &ierr) < 0) {
        if (ierr->kind == CASS_ERR_NOT_FOUND)
            return 0;
        cass_error_merge(err, &ierr);
        return -1;
    }
    return cass_backend_swarm_state_parse(task, ret, err);
}

/* Waits until the service's current task runs (ret_task a copy, caller
 * owns) or ended (an error saying how). */
static int wait_running(struct cass_backend *b, struct cass_engine *e, const char *id,
                        json_t **ret_task, struct cass_error **err)
{
    for (double waited = 0; waited < RUN_WAIT_S; waited += POLL_MS / 1000.0) {
        _cleanup_json_ json_t *tasks = NULL;
        const json_t *task = NULL;
        if (current(e, id, &tasks, &task, err) < 0)
            return -1;
        struct cass_workload_state st;
        if (cass_backend_swarm_state_parse(task, &st, err) < 0)
            return -1;
        if (st.running) {
            *ret_task = json_deep_copy(task);
            return 0;
        }
        if (!strcmp(st.status, "exited"))
            return cass_error_set(err, CASS_ERR_NOT_FOUND, "its task ended (%s)",
                                  st.error[0] ? st.error : task_state(task));
        if (nap(b, NULL, POLL_MS))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
    }
    return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                          "its task did not run within %d s (no node fits it, or its node "
                          "cannot pull the image)",
                          RUN_WAIT_S);
}

static int swarm_endpoint(struct cass_backend *b, const char *id, int port, char host[64],
                          int *ret_port, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *task = NULL;
    if (wait_running(b, e, id, &task, err) < 0)
        return -1;
    if (cass_backend_swarm_task_port(task, port, ret_port, err) < 0) {
        cass_error_prefix(err, "on Swarm the daemon reaches a task on its published port "
                               "(publishNotebookPorts must not be false)");
        return -1;
    }
    char hostname[64];
    const char *node = json_string_value(json_object_get(task, "NodeID"));
    if (!node)
        return cass_error_set(err, CASS_ERR_ENGINE, "running task of %.12s has no node", id);
    return node_find(e, node, host, hostname, err);
}

static int swarm_node(struct cass_backend *b, const char *id, char ret[64], struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    ret[0] = '\0';
    _cleanup_json_ json_t *tasks = NULL;
    const json_t *task = NULL;
    if (current(e, id, &tasks, &task, err) < 0)
        return -1;
    const char *node = json_string_value(json_object_get(task, "NodeID"));
    if (!node || !*node)
        return 0;
    char addr[64];
    return node_find(e, node, addr, ret, err);
}

static int swarm_wait(struct cass_backend *b, const char *id, const atomic_int *cancel,
                      int *ret_exit_code, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    for (;;) {
        _cleanup_json_ json_t *tasks = NULL;
        const json_t *task = NULL;
        if (current(e, id, &tasks, &task, err) < 0)
            return -1;
        struct cass_workload_state st;
        if (cass_backend_swarm_state_parse(task, &st, err) < 0)
            return -1;
        /* Not yet placed or pulled is not an end: only a task that ended is. */
        if (!strcmp(st.status, "exited")) {
            *ret_exit_code = st.exit_code;
            return 0;
        }
        if (nap(b, cancel, 500))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "cancelled");
    }
}

/* Ends a service's log stream that the engine does not end: with the
 * container of a task gone, a manager may hold a non-following stream open
 * for good. */
struct logs_watch {
    atomic_int cancel;
    atomic_int done;
    const atomic_int *outer;
};

static void *logs_watch_main(void *arg)
{
    struct logs_watch *w = arg;
    for (int ms = 0; !atomic_load(&w->done); ms += 100) {
        if (ms >= LOGS_MAX_S * 1000 || (w->outer && atomic_load(w->outer))) {
            atomic_store(&w->cancel, 1);
            break;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int swarm_logs(struct cass_backend *b, const char *id,
                      const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                      void *userdata, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *svc = cass_engine_service_inspect(e, id, err);
    if (!svc)
        return -1;
    bool tty = json_is_true(json_object_get(
        json_object_get(json_object_get(json_object_get(svc, "Spec"), "TaskTemplate"),
                        "ContainerSpec"),
        "TTY"));
    if (opts && opts->follow)
        return cass_engine_service_logs(e, id, tty, opts, fn, userdata, err);
    struct logs_watch w = {.outer = opts ? opts->cancel : NULL};
    struct cass_engine_logs_opts o = opts ? *opts : (struct cass_engine_logs_opts){.tail = -1};
    o.cancel = &w.cancel;
    pthread_t t;
    bool watched = pthread_create(&t, NULL, logs_watch_main, &w) == 0;
    int rc = cass_engine_service_logs(e, id, tty, &o, fn, userdata, err);
    atomic_store(&w.done, 1);
    if (watched)
        pthread_join(t, NULL);
    return rc;
}

/* Scales to 0 and waits until the task ended (Swarm stops it: SIGTERM,
 * SIGKILL after its StopGracePeriod). */
static int swarm_stop(struct cass_backend *b, const char *id, int timeout_s,
                      struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_error *serr = NULL;
    if (gone_is_fine(scale(e, id, 0, &serr), &serr) < 0) {
        cass_error_merge(err, &serr);
        return -1;
    }
    int limit = (timeout_s > STOP_GRACE_S ? timeout_s : STOP_GRACE_S) + 15;
    /* Until its task ended: one still pending would run after the scale-down. */
    for (double waited = 0; waited < limit; waited += POLL_MS / 1000.0) {
        _cleanup_json_ json_t *tasks = NULL;
        const json_t *task = NULL;
        _cleanup_error_ struct cass_error *cerr = NULL;
        if (current(e, id, &tasks, &task, &cerr) < 0) {
            if (cerr->kind == CASS_ERR_NOT_FOUND)
                return 0;
            cass_error_merge(err, &cerr);
            return -1;
        }
        struct cass_workload_state st;
        if (cass_backend_swarm_state_parse(task, &st, err) < 0)
            return -1;
        if (!task || !strcmp(st.status, "exited"))
            return 0;
        if (nap(b, NULL, POLL_MS))
            return 0;
    }
    return cass_error_set(err, CASS_ERR_ENGINE,
                          "service %.12s: its task still runs %d s after it was scaled down", id,
                          limit);
}

/* A task on another node cannot be signalled through the manager: it is
 * stopped the same way, within its StopGracePeriod; one that does not stop
 * goes with its service (its logs with it), so that nothing runs on past
 * its end. */
static int swarm_kill(struct cass_backend *b, const char *id, struct cass_error **err)
{
    _cleanup_error_ struct cass_error *serr = NULL;
    if (swarm_stop(b, id, 0, &serr) == 0)
        return 0;
    ENGINE_OR_FAIL(b, err);
    struct cass_error *rerr = NULL;
    int rc = gone_is_fine(cass_engine_service_remove(e, id, &rerr), &rerr);
    if (rc < 0) {
        cass_error_merge(err, &serr);
        cass_error_free(rerr);
    }
    return rc;
}

static int swarm_remove(struct cass_backend *b, const char *id, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_error *rerr = NULL;
    int rc = gone_is_fine(cass_engine_service_remove(e, id, &rerr), &rerr);
    cass_error_merge(err, &rerr);
    return rc;
}

static int swarm_list(struct cass_backend *b, const char *const *labels,
                      struct cass_workload_ref **ret, size_t *ret_n, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *svcs = cass_engine_service_list(e, labels, err);
    if (!svcs)
        return -1;
    _cleanup_json_ json_t *tasks = cass_engine_task_list(e, NULL, err);
    if (!tasks)
        return -1;
    return cass_backend_swarm_list_parse(svcs, tasks, ret, ret_n, err);
}

/* Events by following the tasks' states: a service whose current task
 * began to run is "start", one whose task ended "die" (with its exit
 * code), one that went "destroy". */
static int swarm_events(struct cass_backend *b, const char *const *labels, const atomic_int *cancel,
                        cass_backend_event_fn fn, void *userdata, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *seen = NULL; /* service id -> {run, state} */
    for (;;) {
        _cleanup_json_ json_t *svcs = cass_engine_service_list(e, labels, err);
        _cleanup_json_ json_t *tasks = svcs ? cass_engine_task_list(e, NULL, err) : NULL;
        if (!tasks)
            return -1;
        _cleanup_json_ json_t *now = json_object();
        size_t i;
        json_t *s;
        json_array_foreach(svcs, i, s)
        {
            const char *id = json_string_value(json_object_get(s, "ID"));
            const char *run = json_string_value(json_object_get(
                json_object_get(json_object_get(s, "Spec"), "Labels"), CASS_LABEL_RUN));
            if (!id || !run)
                continue;
            _cleanup_json_ json_t *mine = tasks_of(tasks, id);
            struct cass_workload_state st;
            if (cass_backend_swarm_state_parse(cass_backend_swarm_current_task(mine), &st, NULL) <
                0)
                continue;
            json_object_set_new(
                now, id,
                json_pack("{s:s,s:s,s:i}", "run", run, "state", st.status, "code", st.exit_code));
        }
        int stop = 0;
        const char *id;
        json_t *v;
        json_object_foreach(now, id, v)
        {
            const char *was =
                seen ? json_string_value(json_object_get(json_object_get(seen, id), "state"))
                     : NULL;
            const char *is = json_string_value(json_object_get(v, "state"));
            if (!seen || (was && strcmp(was, is) == 0))
                continue;
            char code[16];
            snprintf(code, sizeof(code), "%lld",
                     (long long)json_integer_value(json_object_get(v, "code")));
            struct cass_backend_event ev = {.id = id,
                                            .run = json_string_value(json_object_get(v, "run"))};
            if (!strcmp(is, "running"))
                ev.action = "start";
            else if (!strcmp(is, "exited")) {
                ev.action = "die";
                ev.exit_code = code;
            }
            if (ev.action && !stop)
                stop = fn(&ev, userdata);
        }
        json_object_foreach(seen, id, v)
        {
            if (json_object_get(now, id) || stop)
                continue;
            struct cass_backend_event ev = {
                .action = "destroy", .id = id, .run = json_string_value(json_object_get(v, "run"))};
            stop = fn(&ev, userdata);
        }
        if (stop)
            return 0;
        json_decref(seen);
        seen = json_incref(now);
        if (nap(b, cancel, 1000))
            return 0;
    }
}

static void swarm_free(struct cass_backend *b)
{
    struct swarm *sw = b->impl;
    if (sw) {
        cass_backend_free(sw->docker);
        pthread_mutex_destroy(&sw->lock);
        free(sw);
    }
    free(b);
}

static const struct cass_backend_ops swarm_ops = {
    .name = "swarm",
    .stop_loses_logs = true,
    .ping = swarm_ping,
    .image_resolve = swarm_image_resolve,
    .image_digest = swarm_image_digest,
    .image_pull = swarm_image_pull,
    .volume_ensure = swarm_volume_ensure,
    .volume_remove = swarm_volume_remove,
    .volume_check = swarm_volume_check,
    .network = NULL, /* services without networks: the node's default bridge */
    .create = swarm_create,
    .start = swarm_start,
    .mounts = swarm_mounts,
    .endpoint = swarm_endpoint,
    .node = swarm_node,
    .state = swarm_state,
    .wait = swarm_wait,
    .logs = swarm_logs,
    .stop = swarm_stop,
    .kill = swarm_kill,
    .remove = swarm_remove,
    .list = swarm_list,
    .events = swarm_events,
    .free = swarm_free,
};

struct cass_backend *cass_backend_swarm_new(struct cass_daemon *d)
{
    struct cass_backend *b = calloc(1, sizeof(*b));
    struct swarm *sw = calloc(1, sizeof(*sw));
    struct cass_backend *docker = cass_backend_docker_new(d);
    if (!b || !sw || !docker) {
        free(b);
        free(sw);
        cass_backend_free(docker);
        return NULL;
    }
    pthread_mutex_init(&sw->lock, NULL);
    sw->docker = docker;
    b->ops = &swarm_ops;
    b->d = d;
    b->impl = sw;
    return b;
}
