/* The plain-container backend: one workload is one container of the
 * Docker Engine, through the daemon's engine client (which reconnects). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cleanup.h"
#include "daemon.h"
#include "protocol.h"

/* What the backend keeps between calls. */
struct docker {
    pthread_mutex_t lock;
    char *network_id; /* CASS_NETWORK's, once learned */
};

static struct cass_engine *engine(struct cass_backend *b, struct cass_error **err)
{
    return cass_daemon_engine(b->d, err);
}

#define ENGINE_OR_FAIL(b, err)                                                                     \
    struct cass_engine *e = engine(b, err);                                                        \
    if (!e)                                                                                        \
    return -1

static int docker_ping(struct cass_backend *b, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return cass_engine_ping(e, err);
}

static int docker_image_resolve(struct cass_backend *b, const char *ref,
                                struct cass_backend_image *ret, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_engine_image img = {0};
    if (cass_engine_image_inspect(e, ref, &img, err) < 0)
        return -1;
    json_t *digests = json_array();
    for (size_t i = 0; i < img.n_repo_digests; i++)
        json_array_append_new(digests, json_string(img.repo_digests[i]));
    *ret = (struct cass_backend_image){.id = TAKE_PTR(img.id),
                                       .repo_digests = digests,
                                       .user = TAKE_PTR(img.user),
                                       .working_dir = TAKE_PTR(img.working_dir),
                                       .cmd = TAKE_PTR(img.cmd)};
    cass_engine_image_clear(&img);
    return 0;
}

static char *docker_image_digest(struct cass_backend *b, const char *ref, struct cass_error **err)
{
    struct cass_engine *e = engine(b, err);
    return e ? cass_engine_distribution_digest(e, ref, err) : NULL;
}

static int docker_image_pull(struct cass_backend *b, const char *ref, const atomic_int *cancel,
                             struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return cass_engine_image_pull(e, ref, NULL, NULL, cancel, err);
}

/* Whether a volume is this daemon's own: made by it, for the spec named
 * (its labels say so). Creating a volume that exists returns the existing
 * one, whoever made it, so this is asked after every create and before
 * every removal. */
static int volume_ours(struct cass_engine *e, struct cass_daemon *d, const char *name,
                       const char *spec, struct cass_error **err)
{
    _cleanup_json_ json_t *v = cass_engine_volume_inspect(e, name, err);
    if (!v)
        return -1;
    json_t *labels = json_object_get(v, "Labels");
    const char *inst = json_string_value(json_object_get(labels, CASS_LABEL_INSTANCE));
    const char *owner = json_string_value(json_object_get(labels, CASS_LABEL_NAME));
    if (!inst || strcmp(inst, d->instance) != 0 || !owner || (spec && strcmp(owner, spec) != 0))
        return cass_error_set(err, CASS_ERR_FORBIDDEN,
                              "spec.workspace: volume %s was not made by this cassinyd for %s%s; "
                              "Cassiny uses only workspaces it created (name another one)",
                              name, spec ? spec : "this spec",
                              owner ? " (it belongs to another spec)" : "");
    return 0;
}

static const char *label_value(const struct cass_container_label *labels, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].value;
    return NULL;
}

static int docker_volume_ensure(struct cass_backend *b, const char *name,
                                const struct cass_container_label *labels, size_t n_labels,
                                struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_free_ char *v = cass_engine_volume_create(e, name, labels, n_labels, err);
    if (!v)
        return -1;
    return volume_ours(e, b->d, name, label_value(labels, n_labels, CASS_LABEL_NAME), err);
}

static int docker_volume_remove(struct cass_backend *b, const char *name, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    if (volume_ours(e, b->d, name, NULL, err) < 0)
        return -1;
    return cass_engine_volume_remove(e, name, true, err);
}

static int docker_volume_check(struct cass_backend *b, const char *name, const char *spec,
                               struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_error_ struct cass_error *ierr = NULL;
    if (volume_ours(e, b->d, name, spec, &ierr) == 0 || ierr->kind == CASS_ERR_NOT_FOUND)
        return 0;
    cass_error_merge(err, &ierr);
    return -1;
}

/* The network's id, learned once per backend (the network is kept). */
static int docker_network(struct cass_backend *b, const char **ret, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct docker *dk = b->impl;
    pthread_mutex_lock(&dk->lock);
    if (!dk->network_id)
        dk->network_id = cass_engine_network_ensure(e, CASS_NETWORK, CASS_LABEL_NETWORK, err);
    *ret = dk->network_id;
    pthread_mutex_unlock(&dk->lock);
    return *ret ? 0 : -1;
}

static char *docker_create(struct cass_backend *b, const struct cass_container_spec *spec,
                           struct cass_error **err)
{
    struct cass_engine *e = engine(b, err);
    char *id = e ? cass_engine_container_create(e, spec, err) : NULL;
    if (!id && err && *err && (*err)->kind == CASS_ERR_NOT_FOUND) {
        /* The network may have been removed behind our back: learn it again. */
        struct docker *dk = b->impl;
        pthread_mutex_lock(&dk->lock);
        free(dk->network_id);
        dk->network_id = NULL;
        pthread_mutex_unlock(&dk->lock);
    }
    return id;
}

static int docker_start(struct cass_backend *b, const char *id, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return cass_engine_container_start(e, id, err);
}

/* Where the daemon reaches a published port: the engine's host address,
 * with the wildcard addresses made loopback. */
static void reach_host(const char *ip, char out[64])
{
    snprintf(out, 64, "%s",
             !ip || !*ip || strcmp(ip, "0.0.0.0") == 0 ? "127.0.0.1"
             : strcmp(ip, "::") == 0                   ? "[::1]"
                                                       : ip);
}

static int docker_endpoint(struct cass_backend *b, const char *id, int port, char host[64],
                           int *ret_port, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, id, err);
    if (!ins)
        return -1;
    _cleanup_free_ char *ip = NULL;
    _cleanup_error_ struct cass_error *perr = NULL;
    if (cass_engine_container_host_port(ins, port, NULL, &ip, ret_port, &perr) == 0) {
        reach_host(ip, host);
        return 0;
    }
    /* Not published (publishNotebookPorts: false): its address on the
     * daemon's bridge network, which the host reaches. */
    char key[32];
    snprintf(key, sizeof(key), "%d/tcp", port);
    json_t *bindings = json_object_get(json_object_get(ins, "HostConfig"), "PortBindings");
    if (perr->kind != CASS_ERR_NOT_FOUND || json_object_get(bindings, key)) {
        cass_error_merge(err, &perr);
        return -1;
    }
    if (cass_engine_container_ip(ins, &ip, err) < 0)
        return -1;
    snprintf(host, 64, "%s", ip);
    *ret_port = port;
    return 0;
}

static bool engine_time_set(const char *t)
{
    return t && *t && strncmp(t, "0001-01-01", 10) != 0;
}

static int docker_state(struct cass_backend *b, const char *id, struct cass_workload_state *ret,
                        struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_error_ struct cass_error *ierr = NULL;
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, id, &ierr);
    memset(ret, 0, sizeof(*ret));
    if (!ins) {
        if (ierr->kind == CASS_ERR_NOT_FOUND)
            return 0;
        cass_error_merge(err, &ierr);
        return -1;
    }
    return cass_backend_docker_state_parse(ins, ret, err);
}

int cass_backend_docker_state_parse(const json_t *inspect, struct cass_workload_state *ret,
                                    struct cass_error **err)
{
    memset(ret, 0, sizeof(*ret));
    struct cass_container_state st = {0};
    if (cass_engine_container_state(inspect, &st, err) < 0)
        return -1;
    ret->exists = true;
    ret->running = st.running;
    ret->oom_killed = st.oom_killed;
    ret->exit_code = st.exit_code;
    ret->started = engine_time_set(st.started_at);
    if (ret->started)
        snprintf(ret->started_at, sizeof(ret->started_at), "%s", st.started_at);
    if (engine_time_set(st.finished_at))
        snprintf(ret->finished_at, sizeof(ret->finished_at), "%s", st.finished_at);
    snprintf(ret->status, sizeof(ret->status), "%s", st.status ? st.status : "");
    cass_container_state_clear(&st);
    return 0;
}

static int docker_mounts(struct cass_backend *b, const char *id, json_t **ret,
                         struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, id, err);
    if (!ins)
        return -1;
    *ret = cass_backend_bind_mounts(json_object_get(ins, "Mounts"), "Destination");
    return 0;
}

json_t *cass_backend_bind_mounts(const json_t *mounts, const char *target_key)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *src = json_string_value(json_object_get(m, "Source"));
        const char *dst = json_string_value(json_object_get(m, target_key));
        if (type && !strcmp(type, "bind") && src && dst)
            json_array_append_new(out, json_pack("{s:s,s:s}", "source", src, "target", dst));
    }
    return out;
}

static int docker_wait(struct cass_backend *b, const char *id, const atomic_int *cancel,
                       int *ret_exit_code, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return cass_engine_container_wait(e, id, CASS_WAIT_NOT_RUNNING, cancel, ret_exit_code, err);
}

static int docker_logs(struct cass_backend *b, const char *id,
                       const struct cass_engine_logs_opts *opts, cass_engine_log_fn fn,
                       void *userdata, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    return cass_engine_container_logs(e, id, opts, fn, userdata, err);
}

/* A missing container is what the caller wanted anyway. */
static int gone_is_fine(int rc, struct cass_error **err)
{
    if (rc < 0 && err && *err && (*err)->kind == CASS_ERR_NOT_FOUND) {
        cass_error_free(TAKE_PTR(*err));
        return 0;
    }
    return rc;
}

static int docker_stop(struct cass_backend *b, const char *id, int timeout_s,
                       struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_error *serr = NULL;
    int rc = gone_is_fine(cass_engine_container_stop(e, id, timeout_s, &serr), &serr);
    cass_error_merge(err, &serr);
    return rc;
}

static int docker_kill(struct cass_backend *b, const char *id, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_error *kerr = NULL;
    int rc = cass_engine_container_kill(e, id, "SIGKILL", &kerr);
    if (rc < 0 && kerr->kind == CASS_ERR_CONFLICT) { /* not running */
        cass_error_free(TAKE_PTR(kerr));
        rc = 0;
    }
    rc = gone_is_fine(rc, &kerr);
    cass_error_merge(err, &kerr);
    return rc;
}

static int docker_remove(struct cass_backend *b, const char *id, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    struct cass_error *rerr = NULL;
    int rc = gone_is_fine(cass_engine_container_remove(e, id, true, false, &rerr), &rerr);
    cass_error_merge(err, &rerr);
    return rc;
}

static void copy_label(const json_t *labels, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(labels, key));
    snprintf(out, n, "%s", v ? v : "");
}

static int docker_list(struct cass_backend *b, const char *const *labels,
                       struct cass_workload_ref **ret, size_t *ret_n, struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    _cleanup_json_ json_t *all = cass_engine_container_list(e, labels, true, err);
    if (!all)
        return -1;
    return cass_backend_docker_list_parse(all, ret, ret_n, err);
}

int cass_backend_docker_list_parse(const json_t *all, struct cass_workload_ref **ret, size_t *ret_n,
                                   struct cass_error **err)
{
    size_t n = json_array_size(all);
    struct cass_workload_ref *refs = calloc(n ? n : 1, sizeof(*refs));
    if (!refs)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    size_t k = 0, i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        const char *state = json_string_value(json_object_get(c, "State"));
        /* An empty id would name no container (and every call on it fails). */
        if (!id || !*id || strlen(id) >= sizeof(refs[k].id))
            continue;
        json_t *lab = json_object_get(c, "Labels");
        snprintf(refs[k].id, sizeof(refs[k].id), "%s", id);
        copy_label(lab, CASS_LABEL_RUN, refs[k].run, sizeof(refs[k].run));
        copy_label(lab, CASS_LABEL_NAME, refs[k].name, sizeof(refs[k].name));
        snprintf(refs[k].status, sizeof(refs[k].status), "%s", state ? state : "");
        refs[k].running = state && strcmp(state, "running") == 0;
        k++;
    }
    *ret = refs;
    *ret_n = k;
    return (int)k;
}

struct events_ctx {
    cass_backend_event_fn fn;
    void *userdata;
};

bool cass_backend_docker_event_parse(const json_t *ev, struct cass_backend_event *ret)
{
    json_t *actor = json_object_get(ev, "Actor");
    json_t *attrs = json_object_get(actor, "Attributes");
    *ret = (struct cass_backend_event){
        .action = json_string_value(json_object_get(ev, "Action")),
        .id = json_string_value(json_object_get(actor, "ID")),
        .run = json_string_value(json_object_get(attrs, CASS_LABEL_RUN)),
        .exit_code = json_string_value(json_object_get(attrs, "exitCode")),
    };
    return ret->action && ret->run;
}

static int on_engine_event(json_t *ev, void *ud)
{
    struct events_ctx *ctx = ud;
    struct cass_backend_event be;
    if (!cass_backend_docker_event_parse(ev, &be))
        return 0;
    return ctx->fn(&be, ctx->userdata);
}

static int docker_events(struct cass_backend *b, const char *const *labels,
                         const atomic_int *cancel, cass_backend_event_fn fn, void *userdata,
                         struct cass_error **err)
{
    ENGINE_OR_FAIL(b, err);
    char since[32];
    snprintf(since, sizeof(since), "%lld", (long long)time(NULL) - 1);
    static const char *const types[] = {"container", NULL};
    static const char *const events[] = {"start", "die", "oom", "destroy", NULL};
    struct cass_engine_events_opts o = {
        .labels = labels, .types = types, .events = events, .since = since, .cancel = cancel};
    struct events_ctx ctx = {fn, userdata};
    return cass_engine_events(e, &o, on_engine_event, &ctx, err);
}

static void docker_free(struct cass_backend *b)
{
    struct docker *dk = b->impl;
    if (dk) {
        pthread_mutex_destroy(&dk->lock);
        free(dk->network_id);
        free(dk);
    }
    free(b);
}

static const struct cass_backend_ops docker_ops = {
    .name = "docker",
    .ping = docker_ping,
    .image_resolve = docker_image_resolve,
    .image_digest = docker_image_digest,
    .image_pull = docker_image_pull,
    .volume_ensure = docker_volume_ensure,
    .volume_remove = docker_volume_remove,
    .volume_check = docker_volume_check,
    .network = docker_network,
    .create = docker_create,
    .start = docker_start,
    .mounts = docker_mounts,
    .endpoint = docker_endpoint,
    .state = docker_state,
    .wait = docker_wait,
    .logs = docker_logs,
    .stop = docker_stop,
    .kill = docker_kill,
    .remove = docker_remove,
    .list = docker_list,
    .events = docker_events,
    .free = docker_free,
};

struct cass_backend *cass_backend_docker_new(struct cass_daemon *d)
{
    struct cass_backend *b = calloc(1, sizeof(*b));
    struct docker *dk = calloc(1, sizeof(*dk));
    if (!b || !dk) {
        free(b);
        free(dk);
        return NULL;
    }
    pthread_mutex_init(&dk->lock, NULL);
    b->ops = &docker_ops;
    b->d = d;
    b->impl = dk;
    return b;
}

struct cass_backend *cass_backend_new(struct cass_daemon *d, const char *name,
                                      struct cass_error **err)
{
    bool swarm = name && strcmp(name, "swarm") == 0;
    if (swarm || !name || strcmp(name, "docker") == 0 || strcmp(name, "auto") == 0) {
        struct cass_backend *b = swarm ? cass_backend_swarm_new(d) : cass_backend_docker_new(d);
        if (!b)
            cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return b;
    }
    cass_error_set(err, CASS_ERR_INVALID, "engine: %s: no such backend (docker, swarm or auto)",
                   name);
    return NULL;
}

void cass_backend_free(struct cass_backend *b)
{
    if (b)
        b->ops->free(b);
}

void cass_backend_image_clear(struct cass_backend_image *img)
{
    free(img->id);
    json_decref(img->repo_digests);
    free(img->user);
    free(img->working_dir);
    json_decref(img->cmd);
    memset(img, 0, sizeof(*img));
}
