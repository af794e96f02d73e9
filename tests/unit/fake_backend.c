#include "config.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "fake_backend.h"
#include "lifecycle.h"
#include "protocol.h"
#include "store.h"

#define MAX_WORKLOADS 512

struct workload {
    bool used, removed, started, running;
    char id[72];
    char run[64], name[64], instance[64];
    int exit_code;
    int port; /* container port published, 0: none */
    enum fake_health health;
    int health_requests;
    bool die_pending;                     /* ended: the events stream says so once */
    char started_at[40], finished_at[40]; /* RFC 3339, as the engine says them */
    struct MHD_Daemon *http;
    int http_port;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct workload w[MAX_WORKLOADS];
    size_t created, removed;
    unsigned long next_id;
    bool fail_next_create;
    bool engine_down; /* every call fails as if the socket did not answer */
    char last_activity[40];
    size_t pulls;
    char pulled[256]; /* the last reference pulled: it exists from then on */
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct workload *find(const char *id)
{
    for (size_t i = 0; i < MAX_WORKLOADS; i++)
        if (fk.w[i].used && !fk.w[i].removed && strcmp(fk.w[i].id, id) == 0)
            return &fk.w[i];
    return NULL;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)method, (void)version, (void)upload, (void)upload_size, (void)state;
    struct workload *w = cls;
    char body[256];
    unsigned status = 200;
    if (strcmp(url, "/api/status") == 0) {
        pthread_mutex_lock(&fk.lock);
        char now[40];
        time_t t = time(NULL);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        snprintf(body, sizeof(body),
                 "{\"started\":\"%s\",\"last_activity\":\"%s\",\"connections\":0,\"kernels\":0}",
                 now, fk.last_activity[0] ? fk.last_activity : now);
        pthread_mutex_unlock(&fk.lock);
    } else if (strcmp(url, "/api/kernels") == 0) {
        snprintf(body, sizeof(body), "[]");
    } else {
        pthread_mutex_lock(&fk.lock);
        /* A process that exited answers nothing useful. */
        enum fake_health h = w->running ? w->health : FAKE_HEALTH_FAIL;
        w->health_requests++;
        pthread_mutex_unlock(&fk.lock);
        if (h == FAKE_HEALTH_SLOW)
            usleep(1500 * 1000);
        status = h == FAKE_HEALTH_FAIL ? 503 : 200;
        snprintf(body, sizeof(body), "{\"ready\":%s}", status == 200 ? "true" : "false");
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void stamp(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char sec[24];
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

/* What curl says when the engine's socket does not answer. */
static bool down(struct cass_error **err)
{
    pthread_mutex_lock(&fk.lock);
    bool dn = fk.engine_down;
    pthread_mutex_unlock(&fk.lock);
    if (dn)
        cass_error_set(err, CASS_ERR_UNAVAILABLE, "GET /_ping: Couldn't connect to server");
    return dn;
}

static int f_ping(struct cass_backend *b, struct cass_error **err)
{
    (void)b;
    return down(err) ? -1 : 0;
}

static int f_image_resolve(struct cass_backend *b, const char *ref, struct cass_backend_image *ret,
                           struct cass_error **err)
{
    if (down(err))
        return -1;
    (void)b;
    pthread_mutex_lock(&fk.lock);
    bool pulled = strcmp(ref, fk.pulled) == 0;
    pthread_mutex_unlock(&fk.lock);
    if (strstr(ref, "missing") && !pulled)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such image: %s", ref);
    *ret = (struct cass_backend_image){
        .id = strdup("sha256:1111111111111111111111111111111111111111111111111111111111111111"),
        .repo_digests = json_array(),
        .user = strdup("1000"),
    };
    return 0;
}

static int f_image_pull(struct cass_backend *b, const char *ref, const atomic_int *cancel,
                        struct cass_error **err)
{
    (void)b, (void)cancel, (void)err;
    pthread_mutex_lock(&fk.lock);
    fk.pulls++;
    snprintf(fk.pulled, sizeof(fk.pulled), "%s", ref);
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int f_volume_ensure(struct cass_backend *b, const char *name,
                           const struct cass_container_label *labels, size_t n,
                           struct cass_error **err)
{
    (void)b, (void)name, (void)labels, (void)n, (void)err;
    return 0;
}

static int f_volume_remove(struct cass_backend *b, const char *name, struct cass_error **err)
{
    (void)b, (void)name, (void)err;
    return 0;
}

static const char *label(const struct cass_container_spec *s, const char *key)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i].key, key) == 0)
            return s->labels[i].value;
    return "";
}

static char *f_create(struct cass_backend *b, const struct cass_container_spec *spec,
                      struct cass_error **err)
{
    if (down(err))
        return NULL;
    (void)b;
    pthread_mutex_lock(&fk.lock);
    if (fk.fail_next_create) {
        fk.fail_next_create = false;
        pthread_mutex_unlock(&fk.lock);
        cass_error_set(err, CASS_ERR_ENGINE, "create failed (test)");
        return NULL;
    }
    struct workload *w = NULL;
    for (size_t i = 0; i < MAX_WORKLOADS && !w; i++)
        if (!fk.w[i].used)
            w = &fk.w[i];
    if (!w) {
        pthread_mutex_unlock(&fk.lock);
        cass_error_set(err, CASS_ERR_ENGINE, "too many fake workloads");
        return NULL;
    }
    memset(w, 0, sizeof(*w));
    w->used = true;
    snprintf(w->id, sizeof(w->id), "fake%060lu", ++fk.next_id);
    snprintf(w->run, sizeof(w->run), "%s", label(spec, CASS_LABEL_RUN));
    snprintf(w->name, sizeof(w->name), "%s", label(spec, CASS_LABEL_NAME));
    snprintf(w->instance, sizeof(w->instance), "%s", label(spec, CASS_LABEL_INSTANCE));
    w->port = spec->n_ports ? spec->ports[0].container_port : 0;
    fk.created++;
    char *id = strdup(w->id);
    pthread_mutex_unlock(&fk.lock);
    return id;
}

static int f_start(struct cass_backend *b, const char *id, struct cass_error **err)
{
    if (down(err))
        return -1;
    (void)b;
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (!w) {
        pthread_mutex_unlock(&fk.lock);
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such container %s", id);
    }
    if (!w->running) { /* an ended one starts again, as a container does */
        w->started = w->running = true;
        stamp(w->started_at);
        if (w->port && !w->http) {
            w->http = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                           MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
                                       0, NULL, NULL, answer, w, MHD_OPTION_END);
            const union MHD_DaemonInfo *info =
                w->http ? MHD_get_daemon_info(w->http, MHD_DAEMON_INFO_BIND_PORT) : NULL;
            w->http_port = info ? info->port : 0;
        }
    }
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int f_endpoint(struct cass_backend *b, const char *id, int port, char host[64],
                      int *ret_port, struct cass_error **err)
{
    (void)b, (void)port;
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    int p = w && w->running ? w->http_port : 0;
    pthread_mutex_unlock(&fk.lock);
    if (p <= 0)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "port not published");
    snprintf(host, 64, "127.0.0.1");
    *ret_port = p;
    return 0;
}

static int f_state(struct cass_backend *b, const char *id, struct cass_workload_state *ret,
                   struct cass_error **err)
{
    if (down(err))
        return -1;
    (void)b, (void)err;
    memset(ret, 0, sizeof(*ret));
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (w) {
        ret->exists = true;
        ret->running = w->running;
        ret->started = w->started;
        ret->exit_code = w->exit_code;
        snprintf(ret->status, sizeof(ret->status), "%s",
                 w->running   ? "running"
                 : w->started ? "exited"
                              : "created");
        snprintf(ret->started_at, sizeof(ret->started_at), "%s", w->started_at);
        snprintf(ret->finished_at, sizeof(ret->finished_at), "%s", w->finished_at);
    }
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int f_wait(struct cass_backend *b, const char *id, const atomic_int *cancel,
                  int *ret_exit_code, struct cass_error **err)
{
    (void)b;
    pthread_mutex_lock(&fk.lock);
    for (;;) {
        struct workload *w = find(id);
        if (!w) {
            pthread_mutex_unlock(&fk.lock);
            return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such container %s", id);
        }
        if (!w->running) {
            *ret_exit_code = w->exit_code;
            pthread_mutex_unlock(&fk.lock);
            return 0;
        }
        if (cancel && atomic_load(cancel)) {
            pthread_mutex_unlock(&fk.lock);
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "cancelled");
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&fk.cond, &fk.lock, &until);
    }
}

static int f_logs(struct cass_backend *b, const char *id, const struct cass_engine_logs_opts *o,
                  cass_engine_log_fn fn, void *ud, struct cass_error **err)
{
    (void)b, (void)o;
    pthread_mutex_lock(&fk.lock);
    bool ok = find(id) != NULL;
    pthread_mutex_unlock(&fk.lock);
    if (!ok)
        return cass_error_set(err, CASS_ERR_NOT_FOUND, "no such container %s", id);
    char line[128];
    snprintf(line, sizeof(line), "output of %.16s\n", id);
    fn(1, line, strlen(line), ud);
    return 0;
}

static void stop_locked(struct workload *w, int code)
{
    if (w->running) {
        w->running = false;
        w->exit_code = code;
        w->die_pending = true;
        stamp(w->finished_at);
    }
    pthread_cond_broadcast(&fk.cond);
}

static int f_stop(struct cass_backend *b, const char *id, int timeout_s, struct cass_error **err)
{
    (void)b, (void)timeout_s, (void)err;
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (w)
        stop_locked(w, 143);
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int f_kill(struct cass_backend *b, const char *id, struct cass_error **err)
{
    (void)b, (void)err;
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (w)
        stop_locked(w, 137);
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int f_remove(struct cass_backend *b, const char *id, struct cass_error **err)
{
    (void)b, (void)err;
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    struct MHD_Daemon *http = NULL;
    if (w) {
        stop_locked(w, 137);
        w->removed = true;
        http = w->http;
        w->http = NULL;
        fk.removed++;
    }
    pthread_mutex_unlock(&fk.lock);
    if (http)
        MHD_stop_daemon(http);
    return 0;
}

static bool has_label(const struct workload *w, const char *sel)
{
    const char *eq = strchr(sel, '=');
    size_t klen = eq ? (size_t)(eq - sel) : strlen(sel);
    const char *val = eq ? eq + 1 : NULL;
    const struct {
        const char *key, *value;
    } labels[] = {
        {CASS_LABEL_RUN, w->run}, {CASS_LABEL_NAME, w->name}, {CASS_LABEL_INSTANCE, w->instance}};
    for (size_t i = 0; i < 3; i++)
        if (strlen(labels[i].key) == klen && strncmp(labels[i].key, sel, klen) == 0)
            return !val || strcmp(val, labels[i].value) == 0;
    return false;
}

static int f_list(struct cass_backend *b, const char *const *labels, struct cass_workload_ref **ret,
                  size_t *ret_n, struct cass_error **err)
{
    (void)b, (void)err;
    struct cass_workload_ref *refs = calloc(MAX_WORKLOADS, sizeof(*refs));
    size_t n = 0;
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < MAX_WORKLOADS; i++) {
        struct workload *w = &fk.w[i];
        if (!w->used || w->removed)
            continue;
        bool all = true;
        for (size_t k = 0; labels && labels[k] && all; k++)
            all = has_label(w, labels[k]);
        if (!all)
            continue;
        snprintf(refs[n].id, sizeof(refs[n].id), "%s", w->id);
        snprintf(refs[n].run, sizeof(refs[n].run), "%s", w->run);
        snprintf(refs[n].name, sizeof(refs[n].name), "%s", w->name);
        refs[n].running = w->running;
        n++;
    }
    pthread_mutex_unlock(&fk.lock);
    *ret = refs;
    *ret_n = n;
    return (int)n;
}

/* Calls of f_events in progress. */
static atomic_int watchers;

static int f_events(struct cass_backend *b, const char *const *labels, const atomic_int *cancel,
                    cass_backend_event_fn fn, void *userdata, struct cass_error **err)
{
    (void)b, (void)labels;
    atomic_fetch_add(&watchers, 1);
    while (!atomic_load(cancel)) {
        if (down(err)) {
            atomic_fetch_sub(&watchers, 1);
            return -1; /* the stream is lost with the engine */
        }
        struct cass_backend_event ev = {.action = "die"};
        char id[72], run[64], code[16];
        pthread_mutex_lock(&fk.lock);
        for (size_t i = 0; i < MAX_WORKLOADS && !ev.id; i++) {
            struct workload *w = &fk.w[i];
            if (w->used && w->die_pending) {
                w->die_pending = false;
                snprintf(id, sizeof(id), "%s", w->id);
                snprintf(run, sizeof(run), "%s", w->run);
                snprintf(code, sizeof(code), "%d", w->exit_code);
                ev.id = id, ev.run = run, ev.exit_code = code;
            }
        }
        pthread_mutex_unlock(&fk.lock);
        if (ev.id)
            fn(&ev, userdata);
        else
            usleep(20 * 1000);
    }
    atomic_fetch_sub(&watchers, 1);
    return 0;
}

bool fake_watched(void)
{
    return atomic_load(&watchers) > 0;
}

/* Workloads outlive the daemon, like containers: a restarted daemon finds
 * them. fake_reset ends them. */
static void f_free(struct cass_backend *b)
{
    free(b);
}

void fake_reset(void)
{
    pthread_mutex_lock(&fk.lock);
    struct MHD_Daemon *https[MAX_WORKLOADS];
    size_t n = 0;
    for (size_t i = 0; i < MAX_WORKLOADS; i++)
        if (fk.w[i].http) {
            https[n++] = fk.w[i].http;
            fk.w[i].http = NULL;
        }
    pthread_mutex_unlock(&fk.lock);
    for (size_t i = 0; i < n; i++)
        MHD_stop_daemon(https[i]);
    pthread_mutex_lock(&fk.lock);
    memset(fk.w, 0, sizeof(fk.w));
    fk.pulled[0] = '\0';
    pthread_mutex_unlock(&fk.lock);
}

static const struct cass_backend_ops fake_ops = {
    .name = "fake",
    .ping = f_ping,
    .image_resolve = f_image_resolve,
    .image_pull = f_image_pull,
    .volume_ensure = f_volume_ensure,
    .volume_remove = f_volume_remove,
    .create = f_create,
    .start = f_start,
    .endpoint = f_endpoint,
    .state = f_state,
    .wait = f_wait,
    .logs = f_logs,
    .stop = f_stop,
    .kill = f_kill,
    .remove = f_remove,
    .list = f_list,
    .events = f_events,
    .free = f_free,
};

struct cass_backend *fake_backend_new(void)
{
    struct cass_backend *b = calloc(1, sizeof(*b));
    b->ops = &fake_ops;
    return b;
}

size_t fake_pulls(void)
{
    pthread_mutex_lock(&fk.lock);
    size_t n = fk.pulls;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

size_t fake_created(void)
{
    pthread_mutex_lock(&fk.lock);
    size_t n = fk.created;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

size_t fake_removed(void)
{
    pthread_mutex_lock(&fk.lock);
    size_t n = fk.removed;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

size_t fake_count(const char *run, bool running_only)
{
    size_t n = 0;
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < MAX_WORKLOADS; i++) {
        struct workload *w = &fk.w[i];
        if (w->used && !w->removed && (!run || strcmp(w->run, run) == 0) &&
            (!running_only || w->running))
            n++;
    }
    pthread_mutex_unlock(&fk.lock);
    return n;
}

bool fake_nth(const char *run, size_t n, char out[72])
{
    bool found = false;
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < MAX_WORKLOADS && !found; i++) {
        struct workload *w = &fk.w[i];
        if (w->used && !w->removed && strcmp(w->run, run) == 0 && n-- == 0) {
            snprintf(out, 72, "%s", w->id);
            found = true;
        }
    }
    pthread_mutex_unlock(&fk.lock);
    return found;
}

void fake_exit(const char *id, int code)
{
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (w)
        stop_locked(w, code);
    pthread_mutex_unlock(&fk.lock);
}

size_t fake_exit_all(int code)
{
    size_t n = 0;
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < MAX_WORKLOADS; i++) {
        struct workload *w = &fk.w[i];
        if (w->used && !w->removed && w->running) {
            stop_locked(w, code);
            n++;
        }
    }
    pthread_mutex_unlock(&fk.lock);
    return n;
}

void fake_set_health(const char *id, enum fake_health h)
{
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    if (w)
        w->health = h;
    pthread_mutex_unlock(&fk.lock);
}

int fake_health_requests(const char *id)
{
    pthread_mutex_lock(&fk.lock);
    struct workload *w = find(id);
    int n = w ? w->health_requests : 0;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

void fake_set_last_activity(const char *when)
{
    pthread_mutex_lock(&fk.lock);
    snprintf(fk.last_activity, sizeof(fk.last_activity), "%s", when ? when : "");
    pthread_mutex_unlock(&fk.lock);
}

void fake_fail_next_create(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.fail_next_create = true;
    pthread_mutex_unlock(&fk.lock);
}

void fake_adopt(const char *id, const char *run, const char *name, const char *instance)
{
    pthread_mutex_lock(&fk.lock);
    for (size_t i = 0; i < MAX_WORKLOADS; i++) {
        struct workload *w = &fk.w[i];
        if (w->used)
            continue;
        memset(w, 0, sizeof(*w));
        w->used = true;
        snprintf(w->id, sizeof(w->id), "%s", id);
        snprintf(w->run, sizeof(w->run), "%s", run);
        snprintf(w->name, sizeof(w->name), "%s", name);
        snprintf(w->instance, sizeof(w->instance), "%s", instance);
        fk.created++;
        break;
    }
    pthread_mutex_unlock(&fk.lock);
}

void fake_set_engine_down(bool is_down)
{
    pthread_mutex_lock(&fk.lock);
    fk.engine_down = is_down;
    pthread_mutex_unlock(&fk.lock);
}

struct cass_daemon *fake_daemon_new(const char *dir, int launches, int jobs, int engine_wait_s,
                                    struct cass_error **err)
{
    json_t *cfg = cass_cfg_load(NULL, 0, NULL, err);
    if (!cfg)
        return NULL;
    _cleanup_free_ char *no_engine = NULL, *db = NULL;
    if (asprintf(&no_engine, "unix://%s/no-engine.sock", dir) < 0 ||
        asprintf(&db, "%s/cassiny.db", dir) < 0) {
        json_decref(cfg);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    json_object_set_new(cfg, "stateDir", json_string(dir));
    json_object_set_new(cfg, "dockerHost", json_string(no_engine));
    json_t *limits = json_object_get(cfg, "limits");
    json_object_set_new(limits, "maxConcurrentLaunches", json_integer(launches));
    json_object_set_new(limits, "maxRunningJobs", json_integer(jobs));
    if (engine_wait_s > 0)
        json_object_set_new(limits, "engineWaitSeconds", json_integer(engine_wait_s));
    json_object_set_new(json_object_get(cfg, "policy"), "mountRoots", json_pack("[s]", dir));
    struct cass_daemon *d = cass_daemon_new(cfg);
    if (!d) {
        json_decref(cfg);
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (cass_daemon_instance_load(d, err) < 0 || !(d->store = cass_store_open(db, err)) ||
        cass_lifecycle_start_with(d, fake_backend_new(), err) < 0) {
        cass_daemon_free(d);
        return NULL;
    }
    return d;
}
