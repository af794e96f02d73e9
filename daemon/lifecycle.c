#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "hash.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "notebook.h"
#include "outputs.h"
#include "rotation.h"
#include "spec.h"
#include "policy.h"
#include "protocol.h"
#include "store.h"

#define STOP_TIMEOUT_S 10
#define READY_TIMEOUT_S 180
#define CULL_TICK_S 2
#define CASS_RUN_LOG_MAX (8u << 20)       /* kept per run: the end of the output */
#define CASS_RUN_LOG_READ_MAX (64u << 20) /* read at most this much to find it */

struct job {
    char *run_id;
    struct job *next;
};

struct cass_lifecycle {
    struct cass_daemon *d;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    size_t busy;
    char *inflight[64];   /* run ids the workers hold now (n_workers at most) */
    char rolling[64][64]; /* names of models being rolled out */
    bool stopping;
    atomic_int cancel; /* set at shutdown: ends engine streams and waits */
    pthread_mutex_t apply_lock;
    pthread_t *workers;
    size_t n_workers;
    pthread_t culler, watcher;
    bool culler_started, watcher_started;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* Every change of a run goes through here: the store first, then, for a
 * change of status, an event for GET /v1/events. changes is borrowed;
 * *ret_run (may be NULL) gets the run as stored. */
static int run_change(struct cass_daemon *d, const char *run_id, const json_t *changes,
                      json_t **ret_run, struct cass_error **err)
{
    json_t *run = NULL;
    if (cass_store_run_update(d->store, run_id, changes, &run, err) < 0)
        return -1;
    if (json_object_get(changes, "status"))
        cass_lifecycle_emit(d, run);
    if (ret_run)
        *ret_run = run;
    else
        json_decref(run);
    return 0;
}

static int run_status(struct cass_daemon *d, const char *run_id, const char *status,
                      const char *reason, struct cass_error **err)
{
    _cleanup_json_ json_t *ch = json_pack("{s:s,s:s?}", "status", status, "reason", reason);
    return run_change(d, run_id, ch, NULL, err);
}

void cass_lifecycle_emit(struct cass_daemon *d, const json_t *run)
{
    if (!run)
        return;
    _cleanup_json_ json_t *detail = json_object();
    static const char *const keys[] = {"id",     "name",     "kind", "status",
                                       "reason", "exitCode", "url",  "reproducedFrom"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(run, keys[i]);
        if (v)
            json_object_set(detail, keys[i], v);
    }
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_store_audit_append(d->store, "cassinyd", "run",
                                json_string_value(json_object_get(run, "id")), 0, detail, &err) < 0)
        log_warn("event for run: %s", err->message);
    pthread_mutex_lock(&d->events_lock);
    d->events_seq++;
    pthread_cond_broadcast(&d->events_cond);
    pthread_mutex_unlock(&d->events_lock);
}

/* Sleeps up to ms, returning early (1) when the lifecycle is stopping. */
static int nap(struct cass_lifecycle *lc, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lc->lock);
    while (!lc->stopping) {
        if (pthread_cond_timedwait(&lc->cond, &lc->lock, &until) == ETIMEDOUT)
            break;
    }
    int stopping = lc->stopping;
    pthread_mutex_unlock(&lc->lock);
    return stopping;
}

static void enqueue(struct cass_lifecycle *lc, const char *run_id)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j || !(j->run_id = strdup(run_id))) {
        free(j);
        log_error("out of memory queueing run %s", run_id);
        return;
    }
    pthread_mutex_lock(&lc->lock);
    bool queued = lc->busy >= lc->n_workers || lc->head;
    if (lc->tail)
        lc->tail->next = j;
    else
        lc->head = j;
    lc->tail = j;
    pthread_cond_broadcast(&lc->cond);
    pthread_mutex_unlock(&lc->lock);
    if (queued) {
        _cleanup_error_ struct cass_error *err = NULL;
        /* Only a pending run becomes queued; a worker may have taken it already. */
        _cleanup_json_ json_t *run = cass_store_run_get(lc->d->store, run_id, &err);
        const char *st = json_string_value(json_object_get(run, "status"));
        if (st && strcmp(st, "pending") == 0)
            run_status(lc->d, run_id, "queued", NULL, NULL);
    }
}

/* Whether a worker has the run now or will soon. */
static bool held(struct cass_lifecycle *lc, const char *run_id)
{
    bool h = false;
    pthread_mutex_lock(&lc->lock);
    for (struct job *q = lc->head; q && !h; q = q->next)
        h = strcmp(q->run_id, run_id) == 0;
    for (size_t i = 0; i < 64 && !h; i++)
        h = lc->inflight[i] && strcmp(lc->inflight[i], run_id) == 0;
    pthread_mutex_unlock(&lc->lock);
    return h;
}

/* ---- helpers over the store ------------------------------------------- */

static void run_fail(struct cass_daemon *d, const char *run_id, const char *reason,
                     const char *error)
{
    _cleanup_json_ json_t *ch =
        json_pack("{s:s,s:s,s:s?}", "status", "failed", "reason", reason, "error", error);
    _cleanup_error_ struct cass_error *err = NULL;
    if (run_change(d, run_id, ch, NULL, &err) < 0) {
        if (err->kind != CASS_ERR_CONFLICT)
            log_error("run %s: cannot record failure: %s", run_id, err->message);
        return;
    }
    log_warn("run %s failed: %s%s%s", run_id, reason, error ? ": " : "", error ? error : "");
}

static int run_update_fields(struct cass_daemon *d, const char *run_id, json_t *changes,
                             struct cass_error **err)
{
    int rc = run_change(d, run_id, changes, NULL, err);
    json_decref(changes);
    return rc;
}

/* The spec document of a run's revision (caller owns). */
static json_t *run_doc(struct cass_daemon *d, const json_t *run, struct cass_error **err)
{
    const char *rev = json_string_value(json_object_get(run, "revision"));
    _cleanup_json_ json_t *r = cass_store_revision_get(d->store, rev, err);
    if (!r)
        return NULL;
    return json_incref(json_object_get(r, "spec"));
}

struct log_file {
    FILE *f;
    size_t written;
};

static int log_to_file(int stream, const char *data, size_t len, void *ud)
{
    struct log_file *lf = ud;
    if (lf->written + len > CASS_RUN_LOG_READ_MAX)
        return 1;
    lf->written += fwrite(data, 1, len, lf->f);
    return 0;
}

/* Cuts a kept log down to its last CASS_RUN_LOG_MAX bytes, where a failing
 * program says why, with a first line that says what was dropped. */
static int keep_tail(const char *path, size_t size)
{
    _cleanup_fclose_ FILE *in = fopen(path, "re");
    _cleanup_free_ char *cut = xasprintf("%s.cut", path);
    _cleanup_fclose_ FILE *out = in ? fopen(cut, "we") : NULL;
    if (!in || !out || fseeko(in, (off_t)(size - CASS_RUN_LOG_MAX), SEEK_SET) < 0)
        return -1;
    fprintf(out, "[cassiny: the first %zu bytes of this log were dropped]\n",
            size - CASS_RUN_LOG_MAX);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            return -1;
    if (fflush(out) != 0)
        return -1;
    return rename(cut, path);
}

char *cass_lifecycle_log_path(struct cass_daemon *d, const char *run_id)
{
    return xasprintf("%s/runs/%s/container.log", cass_daemon_config_str(d, "stateDir"), run_id);
}

/* Keeps a container's output in the state directory before the container
 * goes, so that logs stay readable after the run. */
static void save_logs(struct cass_daemon *d, struct cass_engine *e, const char *run_id,
                      const char *cid)
{
    const char *state = cass_daemon_config_str(d, "stateDir");
    _cleanup_free_ char *runs = xasprintf("%s/runs", state);
    _cleanup_free_ char *dir = xasprintf("%s/runs/%s", state, run_id);
    if ((mkdir(runs, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        log_warn("run %s: cannot keep logs: mkdir %s: %s", run_id, dir, strerror(errno));
        return;
    }
    _cleanup_free_ char *path = cass_lifecycle_log_path(d, run_id);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    struct log_file lf = {.f = fopen(tmp, "we")};
    if (!lf.f) {
        log_warn("run %s: cannot keep logs: %s: %s", run_id, tmp, strerror(errno));
        return;
    }
    struct cass_engine_logs_opts o = {.tail = -1};
    _cleanup_error_ struct cass_error *err = NULL;
    int rc = cass_engine_container_logs(e, cid, &o, log_to_file, &lf, &err);
    if (fclose(lf.f) != 0 || rc < 0) {
        if (err && err->kind != CASS_ERR_NOT_FOUND)
            log_warn("run %s: cannot keep logs: %s", run_id, err->message);
        unlink(tmp);
        return;
    }
    if (lf.written > CASS_RUN_LOG_MAX && keep_tail(tmp, lf.written) < 0)
        log_warn("run %s: cannot shorten the kept log: %s", run_id, strerror(errno));
    if (rename(tmp, path) < 0)
        log_warn("run %s: cannot keep logs: rename: %s", run_id, strerror(errno));
}

/* Stops and removes every container of a run, keeping its logs. Missing
 * ones are fine. */
static void remove_containers(struct cass_daemon *d, struct cass_engine *e, const json_t *run)
{
    size_t i;
    json_t *c;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        const char *id = json_string_value(c);
        if (!id)
            continue;
        if (name)
            cass_rotation_remove(d->rotation, name, id);
        _cleanup_error_ struct cass_error *err = NULL;
        if (cass_engine_container_stop(e, id, STOP_TIMEOUT_S, &err) < 0 &&
            err->kind != CASS_ERR_NOT_FOUND)
            log_warn("stop container %.12s: %s", id, err->message);
        cass_error_free(TAKE_PTR(err));
        if (run_id)
            save_logs(d, e, run_id, id);
        if (cass_engine_container_remove(e, id, true, false, &err) < 0 &&
            err->kind != CASS_ERR_NOT_FOUND)
            log_warn("remove container %.12s: %s", id, err->message);
    }
}

/* ---- launching a notebook ------------------------------------------------- */

/* Container names: "cassiny-<name>-<the run id's last 10 characters>". */
static void container_name(const char *name, const char *run_id, char *out, size_t n)
{
    size_t len = strlen(run_id);
    snprintf(out, n, "cassiny-%s-%s", name, run_id + (len > 10 ? len - 10 : 0));
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

struct strv {
    char **v;
    size_t n;
};

static void strv_add(struct strv *s, char *owned)
{
    char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
    if (!v || !owned)
        abort();
    s->v = v;
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Collects the last lines of a container's output for an error message. */
struct tail_buf {
    char buf[2048];
    size_t len;
};

static int tail_collect(int stream, const char *data, size_t len, void *ud)
{
    struct tail_buf *t = ud;
    for (size_t i = 0; i < len; i++) {
        if (t->len == sizeof(t->buf) - 1) {
            memmove(t->buf, t->buf + 1024, t->len - 1024);
            t->len -= 1024;
        }
        t->buf[t->len++] = data[i];
    }
    t->buf[t->len] = '\0';
    return 0;
}

static char *container_tail(struct cass_engine *e, const char *id)
{
    struct tail_buf t = {.len = 0};
    struct cass_engine_logs_opts o = {.tail = 15};
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_engine_container_logs(e, id, &o, tail_collect, &t, &err) < 0 || t.len == 0)
        return NULL;
    return strdup(t.buf);
}

static char *image_missing_hint(const char *ref)
{
    const char *script = strncmp(ref, "cassiny/notebook", 16) == 0
                             ? "packaging/images/build-notebook-image.sh"
                         : strncmp(ref, "cassiny/model-server", 20) == 0
                             ? "packaging/images/build-model-server-image.sh"
                             : NULL;
    if (script)
        return xasprintf("image %s is not in the engine and no registry provided it; build it "
                         "with %s",
                         ref, script);
    return xasprintf("image %s is not in the engine and could not be pulled", ref);
}

/* -1 with an error that says how the container ended (and its last output)
 * when it is no longer running; 0 while it runs. */
static int check_running(struct cass_engine *e, const char *cid, struct cass_error **err)
{
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, cid, err);
    if (!ins)
        return -1;
    struct cass_container_state st = {0};
    if (cass_engine_container_state(ins, &st, err) < 0)
        return -1;
    bool running = st.running;
    int code = st.exit_code;
    bool oom = st.oom_killed;
    cass_container_state_clear(&st);
    if (running)
        return 0;
    _cleanup_free_ char *tail = container_tail(e, cid);
    return cass_error_set(err, CASS_ERR_ENGINE, "container exited (code %d%s)%s%s", code,
                          oom ? ", out of memory" : "",
                          tail ? " before it was ready; its last output:\n" : "", tail ? tail : "");
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

/* Starts a created container and learns the host port the engine chose for
 * port. A container that died at once has no port: the error then says
 * how it ended, and *ret_exited is set. */
static int start_published(struct cass_engine *e, const char *cid, int port, char reach[64],
                           int *ret_port, bool *ret_exited, struct cass_error **err)
{
    *ret_exited = false;
    if (cass_engine_container_start(e, cid, err) < 0)
        return -1;
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, cid, err);
    if (!ins)
        return -1;
    _cleanup_free_ char *host_ip = NULL;
    if (cass_engine_container_host_port(ins, port, NULL, &host_ip, ret_port, err) < 0) {
        _cleanup_error_ struct cass_error *xerr = NULL;
        if (check_running(e, cid, &xerr) < 0) {
            *ret_exited = true;
            cass_error_free(TAKE_PTR(*err));
            cass_error_merge(err, &xerr);
        }
        return -1;
    }
    reach_host(host_ip, reach);
    return 0;
}

/* Waits until Jupyter answers with the token, the container exits, or the
 * timeout passes. */
static int wait_ready(struct cass_lifecycle *lc, struct cass_engine *e, const char *cid,
                      const char *base, const char *token, struct cass_error **err)
{
    double start = now_seconds();
    long delay = 100;
    double last_inspect = 0;
    for (;;) {
        _cleanup_error_ struct cass_error *perr = NULL;
        if (cass_notebook_status(base, token, 2000, NULL, &perr) == 0)
            return 0;
        if (perr->kind == CASS_ERR_UNAUTHORIZED)
            return cass_error_set(err, CASS_ERR_ENGINE,
                                  "Jupyter refused the run's token: does the image honour "
                                  "JUPYTER_TOKEN?");
        double now = now_seconds();
        if (now - last_inspect > 1.0) {
            last_inspect = now;
            if (check_running(e, cid, err) < 0)
                return -1;
        }
        if (now - start > READY_TIMEOUT_S)
            return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                                  "Jupyter did not answer /api/status within %d s (%s)",
                                  READY_TIMEOUT_S, perr->message);
        if (nap(lc, delay))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
        /* Jupyter usually answers within a second or two: ask often until
         * then, so that readiness is seen promptly, then back off. */
        delay = now - start < 10 ? 100 : 500;
    }
}

/* Finds the run's image and records its ID and digests in the run. A
 * reproduction names the ID it must use; otherwise the reference is looked
 * up (and pulled when a registry has it). Outputs are the caller's. */
static int resolve_image(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                         const char *ref, char **ret_id, char **ret_user, char **ret_workdir,
                         struct cass_error **err)
{
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *pinned = json_string_value(json_object_get(json_object_get(run, "image"), "id"));
    struct cass_engine_image img = {0};
    _cleanup_error_ struct cass_error *ierr = NULL;
    if (pinned) {
        if (cass_engine_image_inspect(e, pinned, &img, &ierr) < 0) {
            json_t *digests = json_object_get(json_object_get(run, "image"), "repoDigests");
            const char *digest = json_string_value(json_array_get(digests, 0));
            _cleanup_free_ char *hint = image_missing_hint(ref);
            if (ierr->kind != CASS_ERR_NOT_FOUND) {
                cass_error_merge(err, &ierr);
                return -1;
            }
            if (digest)
                return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                      "image %s (%s) is no longer in the engine; pull %s to "
                                      "reproduce this run",
                                      pinned, ref, digest);
            return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                  "image %s (%s) is no longer in the engine and came from no "
                                  "registry; rebuild it from the same recipe to reproduce (%s)",
                                  pinned, ref, hint);
        }
    } else if (cass_engine_image_inspect(e, ref, &img, &ierr) < 0) {
        if (ierr->kind != CASS_ERR_NOT_FOUND) {
            cass_error_merge(err, &ierr);
            return -1;
        }
        cass_error_free(TAKE_PTR(ierr));
        log_info("run %s: image %s not present, trying to pull it", run_id, ref);
        if (cass_engine_image_pull(e, ref, NULL, NULL, &lc->cancel, &ierr) < 0 ||
            cass_engine_image_inspect(e, ref, &img, &ierr) < 0) {
            _cleanup_free_ char *hint = image_missing_hint(ref);
            return cass_error_set(err, CASS_ERR_NOT_FOUND, "%s (%s)", hint,
                                  ierr ? ierr->message : "?");
        }
    }
    json_t *digests = json_array();
    for (size_t i = 0; i < img.n_repo_digests; i++)
        json_array_append_new(digests, json_string(img.repo_digests[i]));
    *ret_id = strdup(img.id);
    *ret_user = img.user ? strdup(img.user) : NULL;
    *ret_workdir = img.working_dir ? strdup(img.working_dir) : NULL;
    cass_engine_image_clear(&img);
    return run_update_fields(
        lc->d, run_id, json_pack("{s:{s:s,s:o}}", "image", "id", *ret_id, "repoDigests", digests),
        err);
}

/* The image pinned by ID and the user to run it as (policy.allowRootUser
 * decides for root images). ret_workdir may be NULL. *reason (may be NULL)
 * names the step that failed. Outputs are the caller's; *ret_user points
 * into *ret_user_buf or at static storage. */
static int image_and_user(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                          const json_t *spec, char **ret_image, char **ret_user_buf,
                          char **ret_workdir, const char **ret_user, const char **reason,
                          struct cass_error **err)
{
    _cleanup_free_ char *workdir = NULL;
    if (reason)
        *reason = "image-not-found";
    if (resolve_image(lc, e, run, json_string_value(json_object_get(spec, "image")), ret_image,
                      ret_user_buf, &workdir, err) < 0)
        return -1;
    if (reason)
        *reason = "launch-failed";
    if (ret_workdir)
        *ret_workdir = TAKE_PTR(workdir);
    return cass_policy_user(json_object_get(lc->d->config, "policy"), *ret_user_buf, ret_user, err);
}

/* *reason names the step that failed, for the run's record. */
static int launch_notebook(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                           const json_t *doc, const char **reason, struct cass_error **err)
{
    struct cass_daemon *d = lc->d;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    const char *revision = json_string_value(json_object_get(run, "revision"));
    const json_t *spec = json_object_get(doc, "spec");

    /* 1. The image, pinned by ID from here on, and its user. */
    _cleanup_free_ char *image_id = NULL, *image_user = NULL, *workdir = NULL;
    const char *user = NULL;
    if (image_and_user(lc, e, run, spec, &image_id, &image_user, &workdir, &user, reason, err) < 0)
        return -1;
    if (!workdir)
        workdir = strdup("/home/jovyan/work");

    /* 2. The workspace volume, kept across runs. */
    const char *workspace = json_string_value(json_object_get(spec, "workspace"));
    struct cass_container_label vlabels[] = {
        {CASS_LABEL_NAME, name}, {CASS_LABEL_KIND, "Notebook"}, {CASS_LABEL_INSTANCE, d->instance}};
    if (workspace) {
        _cleanup_free_ char *vol = cass_engine_volume_create(e, workspace, vlabels, 3, err);
        if (!vol)
            return -1;
    }

    /* 3. The container. */
    _cleanup_free_ char *token = NULL;
    const char *given = json_string_value(json_object_get(spec, "token"));
    token = given ? strdup(given) : cass_hash_random_token(32, err);
    if (!token)
        return -1;

    struct strv env = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(spec, "env"), k, v)
        strv_add(&env, xasprintf("%s=%s", k, json_string_value(v)));
    strv_add(&env, xasprintf("JUPYTER_TOKEN=%s", token));

    struct strv cmd = {0};
    json_t *cmdv = json_object_get(spec, "command");
    size_t i;
    json_array_foreach(cmdv, i, v) strv_add(&cmd, strdup(json_string_value(v)));

    size_t nm = json_array_size(json_object_get(spec, "mounts"));
    struct cass_container_mount *mounts = calloc(nm + 1, sizeof(*mounts));
    if (!mounts)
        abort();
    json_array_foreach(json_object_get(spec, "mounts"), i, v)
    {
        mounts[i].type = CASS_MOUNT_BIND;
        mounts[i].source = json_string_value(json_object_get(v, "source"));
        mounts[i].target = json_string_value(json_object_get(v, "target"));
        mounts[i].read_only = json_is_true(json_object_get(v, "readOnly"));
    }
    if (workspace)
        mounts[nm++] = (struct cass_container_mount){
            .type = CASS_MOUNT_VOLUME, .source = workspace, .target = workdir};

    int port = (int)json_integer_value(json_object_get(spec, "port"));
    const char *publish = cass_daemon_config_str(d, "publishAddress");
    struct cass_container_port ports[] = {{.container_port = port, .host_ip = publish}};
    struct cass_container_label labels[] = {{CASS_LABEL_NAME, name},
                                            {CASS_LABEL_KIND, "Notebook"},
                                            {CASS_LABEL_RUN, run_id},
                                            {CASS_LABEL_REVISION, revision},
                                            {CASS_LABEL_INSTANCE, d->instance}};
    const json_t *res = json_object_get(spec, "resources");
    char cname[128];
    container_name(name, run_id, cname, sizeof(cname));
    struct cass_container_spec cs = {
        .name = cname,
        .image = image_id,
        .cmd = cmd.n ? (const char *const *)cmd.v : NULL,
        .env = (const char *const *)env.v,
        .user = user,
        .labels = labels,
        .n_labels = 5,
        .mounts = mounts,
        .n_mounts = nm,
        .ports = ports,
        .n_ports = 1,
        .nano_cpus = (int64_t)(json_number_value(json_object_get(res, "cpus")) * 1e9 + 0.5),
        .memory = (int64_t)json_integer_value(json_object_get(res, "memory")),
        .gpus = (int)json_integer_value(json_object_get(res, "gpus")),
        .cap_drop = cass_policy_cap_drop(),
        .security_opt = cass_policy_security_opt(),
        .restart_policy = "no",
        .init = true, /* signals reach the program and zombies are reaped */
    };
    char *cid = cass_engine_container_create(e, &cs, err);
    strv_free(&env);
    strv_free(&cmd);
    free(mounts);
    if (!cid)
        return -1;
    _cleanup_free_ char *cid_owned = cid;
    if (run_update_fields(
            d, run_id,
            json_pack("{s:[s],s:s,s:s}", "containers", cid, "status", "starting", "token", token),
            err) < 0)
        return -1;

    /* 4. Start, learn the engine-chosen port, wait for Jupyter. */
    char reach[64];
    int host_port = 0;
    bool exited = false;
    if (start_published(e, cid, port, reach, &host_port, &exited, err) < 0) {
        if (exited)
            *reason = "exited";
        return -1;
    }
    _cleanup_free_ char *base = xasprintf("http://%s:%d", reach, host_port);
    _cleanup_free_ char *etok = cass_http_escape(token);
    _cleanup_free_ char *url = xasprintf("http://%s:%d/?token=%s", publish, host_port, etok);
    if (run_update_fields(d, run_id,
                          json_pack("{s:[{s:i,s:s,s:i}]}", "ports", "containerPort", port, "hostIp",
                                    publish, "hostPort", host_port),
                          err) < 0)
        return -1;
    *reason = "not-ready";
    if (wait_ready(lc, e, cid, base, token, err) < 0) {
        if (strncmp((*err)->message, "container exited", 16) == 0)
            *reason = "exited";
        return -1;
    }
    *reason = "launch-failed";
    if (run_update_fields(d, run_id, json_pack("{s:s,s:s}", "status", "ready", "url", url), err) <
        0)
        return -1;
    log_info("run %s: notebook %s ready at %s:%d", run_id, name, publish, host_port);
    return 0;
}

/* ---- jobs ------------------------------------------------------------------ */

static char *run_dir(struct cass_daemon *d, const char *run_id)
{
    return xasprintf("%s/runs/%s", cass_daemon_config_str(d, "stateDir"), run_id);
}

static int mkdir_mode(const char *path, mode_t mode, struct cass_error **err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return cass_error_errno(err, errno, "mkdir %s", path);
    /* Explicit, past the umask: the job's user must be able to write. */
    if (chmod(path, mode) < 0)
        return cass_error_errno(err, errno, "chmod %s", path);
    return 0;
}

/* Kills the container when the deadline passes or the daemon stops, so
 * that the worker's wait returns. */
struct deadline {
    struct cass_lifecycle *lc;
    struct cass_engine *e;
    const char *cid;
    double at;              /* 0: none */
    atomic_int cancel_wait; /* wakes the wait on shutdown */
    atomic_int done;
    atomic_int fired;
    pthread_t thread;
};

static void *deadline_main(void *arg)
{
    struct deadline *dl = arg;
    while (!atomic_load(&dl->done)) {
        if (nap(dl->lc, 250)) {
            atomic_store(&dl->cancel_wait, 1);
            return NULL;
        }
        if (dl->at > 0 && now_seconds() >= dl->at && !atomic_load(&dl->done)) {
            atomic_store(&dl->fired, 1);
            _cleanup_error_ struct cass_error *err = NULL;
            if (cass_engine_container_kill(dl->e, dl->cid, "SIGKILL", &err) < 0 &&
                err->kind != CASS_ERR_CONFLICT)
                log_warn("timeout: kill %.12s: %s", dl->cid, err->message);
            return NULL;
        }
    }
    return NULL;
}

/* Hashes a job's inputs, one manifest for all of them with paths under
 * their container targets. Returns the manifest (caller owns). */
static json_t *hash_inputs(const json_t *spec, struct cass_error **err)
{
    json_t *all = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(json_object_get(spec, "inputs"), i, in)
    {
        const char *src = json_string_value(json_object_get(in, "source"));
        const char *target = json_string_value(json_object_get(in, "target"));
        json_t *m = cass_outputs_manifest(src, target + 1, err);
        if (!m) {
            cass_error_prefix(err, "hashing input %s", src);
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, m);
        json_decref(m);
    }
    return all;
}

/* What a finished job's run says: its exit, its outputs, and for a
 * reproduction how they compare with the original's. */
static void finish_job(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                       const char *cid, bool timed_out)
{
    struct cass_daemon *d = lc->d;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, cid, &err);
    struct cass_container_state st = {0};
    if (!ins || cass_engine_container_state(ins, &st, &err) < 0) {
        run_fail(d, run_id, "container-vanished", err ? err->message : "container is gone");
        return;
    }
    int code = st.exit_code;
    bool oom = st.oom_killed;
    cass_container_state_clear(&st);
    if (!oom && code == 137 && !timed_out) {
        /* The engine may report the OOM kill just after the exit: look
         * again, and at what the events watcher recorded. */
        nap(lc, 300);
        _cleanup_json_ json_t *again = cass_engine_container_inspect(e, cid, NULL);
        if (again && cass_engine_container_state(again, &st, NULL) == 0) {
            oom = st.oom_killed;
            cass_container_state_clear(&st);
        }
    }
    if (!oom) {
        _cleanup_json_ json_t *stored = cass_store_run_get(d->store, run_id, NULL);
        oom = json_is_true(json_object_get(stored, "oomKilled"));
    }

    _cleanup_json_ json_t *ch = json_pack("{s:i}", "exitCode", code);
    _cleanup_free_ char *dir = run_dir(d, run_id);
    _cleanup_free_ char *outdir = xasprintf("%s/outputs", dir);
    _cleanup_json_ json_t *manifest = cass_outputs_manifest(outdir, "", &err);
    if (manifest) {
        if (cass_store_run_outputs_put(d->store, run_id, manifest, &err) < 0)
            log_warn("run %s: outputs: %s", run_id, err->message);
        char digest[65];
        cass_outputs_digest(manifest, digest);
        json_object_set_new(ch, "outputsDigest", json_string(digest));
    } else {
        log_warn("run %s: cannot hash outputs: %s", run_id, err->message);
        json_object_set_new(ch, "error", json_string(err->message));
    }
    cass_error_free(TAKE_PTR(err));

    const char *orig = json_string_value(json_object_get(run, "reproducedFrom"));
    if (orig && manifest) {
        _cleanup_json_ json_t *o = cass_store_run_get(d->store, orig, &err);
        if (o) {
            json_t *cmp = cass_outputs_compare(json_object_get(o, "outputs"), manifest);
            const char *a = json_string_value(json_object_get(o, "inputsDigest"));
            const char *b = json_string_value(json_object_get(run, "inputsDigest"));
            _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, NULL);
            if (now)
                b = json_string_value(json_object_get(now, "inputsDigest"));
            json_object_set_new(cmp, "inputsChanged", json_boolean(a && b && strcmp(a, b) != 0));
            json_object_set_new(cmp, "original", json_string(orig));
            json_object_set_new(ch, "comparison", cmp);
        }
        cass_error_free(TAKE_PTR(err));
    }

    const char *status = code == 0 && !timed_out && !oom ? "succeeded" : "failed";
    const char *reason = timed_out ? "timeout" : oom ? "oom" : code == 0 ? "completed" : "failed";
    _cleanup_json_ json_t *cur = cass_store_run_get(d->store, run_id, NULL);
    if (cur && cass_store_status_final(json_string_value(json_object_get(cur, "status")))) {
        /* Stopped by someone: it stays stopped, with what it left. */
        if (run_change(d, run_id, ch, NULL, &err) < 0)
            log_warn("run %s: %s", run_id, err->message);
    } else {
        json_object_set_new(ch, "status", json_string(status));
        json_object_set_new(ch, "reason", json_string(reason));
        if (timed_out)
            json_object_set_new(ch, "error", json_string("killed: ran longer than timeoutSeconds"));
        else if (oom)
            json_object_set_new(ch, "error", json_string("killed: out of memory"));
        if (run_change(d, run_id, ch, NULL, &err) < 0)
            log_warn("run %s: %s", run_id, err->message);
        else
            log_info("run %s %s (%s, exit code %d)", run_id, status, reason, code);
    }
    _cleanup_json_ json_t *final = cass_store_run_get(d->store, run_id, NULL);
    remove_containers(d, e, final ? final : run);
}

/* Waits for a started job's container and finishes the run; also the way
 * back in after a daemon restart. */
static int wait_job(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                    const json_t *spec, const char *cid, struct cass_error **err)
{
    struct deadline dl = {.lc = lc, .e = e, .cid = cid};
    json_int_t timeout = json_integer_value(json_object_get(spec, "timeoutSeconds"));
    const char *started = json_string_value(json_object_get(run, "startedAt"));
    double start = now_seconds();
    if (started)
        cass_notebook_parse_time(started, &start); /* RFC 3339 with milliseconds */
    if (timeout > 0)
        dl.at = start + (double)timeout;
    if (pthread_create(&dl.thread, NULL, deadline_main, &dl) != 0)
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the timeout thread");
    int code = 0;
    _cleanup_error_ struct cass_error *werr = NULL;
    int rc =
        cass_engine_container_wait(e, cid, CASS_WAIT_NOT_RUNNING, &dl.cancel_wait, &code, &werr);
    atomic_store(&dl.done, 1);
    pthread_join(dl.thread, NULL);
    if (atomic_load(&lc->cancel))
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
    if (rc < 0 && werr->kind != CASS_ERR_NOT_FOUND) {
        cass_error_merge(err, &werr);
        return -1;
    }
    finish_job(lc, e, run, cid, atomic_load(&dl.fired));
    return 0;
}

static int launch_job(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                      const json_t *doc, const char **reason, struct cass_error **err)
{
    struct cass_daemon *d = lc->d;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    const char *revision = json_string_value(json_object_get(run, "revision"));
    const json_t *spec = json_object_get(doc, "spec");

    _cleanup_free_ char *image_id = NULL, *image_user = NULL;
    const char *user = NULL;
    if (image_and_user(lc, e, run, spec, &image_id, &image_user, NULL, &user, reason, err) < 0)
        return -1;

    /* Inputs are hashed before the job can see them. */
    _cleanup_json_ json_t *inputs = hash_inputs(spec, err);
    if (!inputs)
        return -1;
    char digest[65];
    cass_outputs_digest(inputs, digest);
    if (cass_store_input_hashes_put(d->store, run_id, inputs, err) < 0 ||
        run_update_fields(d, run_id, json_pack("{s:s}", "inputsDigest", digest), err) < 0)
        return -1;

    /* A fresh outputs directory for every run. */
    _cleanup_free_ char *runs = xasprintf("%s/runs", cass_daemon_config_str(d, "stateDir"));
    _cleanup_free_ char *dir = run_dir(d, run_id);
    _cleanup_free_ char *outdir = xasprintf("%s/outputs", dir);
    if (mkdir_mode(runs, 0711, err) < 0 || mkdir_mode(dir, 0711, err) < 0 ||
        mkdir_mode(outdir, 0777, err) < 0)
        return -1;
    const char *outputs = json_string_value(json_object_get(spec, "outputs"));

    struct strv env = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(spec, "env"), k, v)
        strv_add(&env, xasprintf("%s=%s", k, json_string_value(v)));
    strv_add(&env, xasprintf("CASSINY_RUN=%s", run_id));
    strv_add(&env, xasprintf("CASSINY_OUTPUTS=%s", outputs));

    struct strv cmd = {0};
    size_t i;
    const char *nb = json_string_value(json_object_get(spec, "notebook"));
    if (nb) {
        /* Headless, into the outputs; no timing metadata, so that the same
         * computation gives the same executed notebook. */
        const char *base = strrchr(nb, '/') ? strrchr(nb, '/') + 1 : nb;
        static const char *const argv[] = {"python3",
                                           "-m",
                                           "nbconvert",
                                           "--to",
                                           "notebook",
                                           "--execute",
                                           "--ExecutePreprocessor.timeout=-1",
                                           "--ExecutePreprocessor.record_timing=False"};
        for (i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
            strv_add(&cmd, strdup(argv[i]));
        strv_add(&cmd, strdup("--output-dir"));
        strv_add(&cmd, strdup(outputs));
        strv_add(&cmd, strdup("--output"));
        strv_add(&cmd, strdup(base));
        strv_add(&cmd, strdup(nb));
    } else {
        json_array_foreach(json_object_get(spec, "command"), i, v)
            strv_add(&cmd, strdup(json_string_value(v)));
    }

    size_t ni = json_array_size(json_object_get(spec, "inputs"));
    struct cass_container_mount *mounts = calloc(ni + 1, sizeof(*mounts));
    if (!mounts)
        abort();
    json_array_foreach(json_object_get(spec, "inputs"), i, v)
    {
        mounts[i].type = CASS_MOUNT_BIND;
        mounts[i].source = json_string_value(json_object_get(v, "source"));
        mounts[i].target = json_string_value(json_object_get(v, "target"));
        mounts[i].read_only = true; /* inputs are never writable */
    }
    mounts[ni] = (struct cass_container_mount){
        .type = CASS_MOUNT_BIND, .source = outdir, .target = outputs, .read_only = false};

    struct cass_container_label labels[] = {{CASS_LABEL_NAME, name},
                                            {CASS_LABEL_KIND, "Job"},
                                            {CASS_LABEL_RUN, run_id},
                                            {CASS_LABEL_REVISION, revision},
                                            {CASS_LABEL_INSTANCE, d->instance}};
    const json_t *res = json_object_get(spec, "resources");
    char cname[128];
    container_name(name, run_id, cname, sizeof(cname));
    struct cass_container_spec cs = {
        .name = cname,
        .image = image_id,
        .cmd = (const char *const *)cmd.v,
        .env = (const char *const *)env.v,
        .user = user,
        .labels = labels,
        .n_labels = 5,
        .mounts = mounts,
        .n_mounts = ni + 1,
        .nano_cpus = (int64_t)(json_number_value(json_object_get(res, "cpus")) * 1e9 + 0.5),
        .memory = (int64_t)json_integer_value(json_object_get(res, "memory")),
        .gpus = (int)json_integer_value(json_object_get(res, "gpus")),
        .cap_drop = cass_policy_cap_drop(),
        .security_opt = cass_policy_security_opt(),
        .restart_policy = "no",
        .init = true, /* signals reach the program and zombies are reaped */
        .network_mode = "none",
    };
    char *cid = cass_engine_container_create(e, &cs, err);
    strv_free(&env);
    strv_free(&cmd);
    free(mounts);
    if (!cid)
        return -1;
    _cleanup_free_ char *cid_owned = cid;
    if (run_update_fields(
            d, run_id, json_pack("{s:[s],s:s}", "containers", cid, "status", "starting"), err) < 0)
        return -1;
    if (cass_engine_container_start(e, cid, err) < 0)
        return -1;
    json_t *now_run = NULL;
    _cleanup_json_ json_t *ch = json_pack("{s:s}", "status", "running");
    if (run_change(d, run_id, ch, &now_run, err) < 0)
        return -1;
    *reason = "failed";
    int rc = wait_job(lc, e, now_run, spec, cid, err);
    json_decref(now_run);
    return rc;
}

/* Whether a rollout of name is under way (its worker owns the replicas). */
static bool rolling(struct cass_lifecycle *lc, const char *name)
{
    bool busy = false;
    pthread_mutex_lock(&lc->lock);
    for (size_t i = 0; i < 64 && !busy; i++)
        busy = lc->rolling[i][0] && strcmp(lc->rolling[i], name) == 0;
    pthread_mutex_unlock(&lc->lock);
    return busy;
}

static void set_rolling(struct cass_lifecycle *lc, const char *name, bool on)
{
    pthread_mutex_lock(&lc->lock);
    for (size_t i = 0; i < 64; i++) {
        if (on && !lc->rolling[i][0]) {
            snprintf(lc->rolling[i], sizeof(lc->rolling[i]), "%s", name);
            break;
        }
        if (!on && strcmp(lc->rolling[i], name) == 0) {
            lc->rolling[i][0] = '\0';
            break;
        }
    }
    pthread_mutex_unlock(&lc->lock);
}

/* ---- models ---------------------------------------------------------------- */

#define MODEL_READY_TIMEOUT_S 120
#define DRAIN_TIMEOUT_MS 10000

/* The artifact's hash: a file's own sha256, or for a directory the sha256
 * of its sorted manifest. Caller owns the "sha256:<hex>" text. */
static char *artifact_digest(const char *path, struct cass_error **err)
{
    _cleanup_json_ json_t *m = cass_outputs_manifest(path, "", err);
    if (!m)
        return NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return xasprintf("sha256:%s",
                         json_string_value(json_object_get(json_array_get(m, 0), "sha256")));
    char hex[65];
    cass_outputs_digest(m, hex);
    return xasprintf("sha256:%s", hex);
}

static int probe_health(const char *host, int port, const char *path, long timeout_ms)
{
    _cleanup_free_ char *base = xasprintf("http://%s:%d", host, port);
    struct cass_http *h = cass_http_new(base, NULL);
    if (!h)
        return -1;
    cass_http_set_timeout(h, timeout_ms);
    cass_http_set_max_body(h, 1u << 20);
    struct cass_http_response r = {0};
    int rc = cass_http_request(h, "GET", path, NULL, NULL, 0, &r, NULL);
    cass_http_free(h);
    int ok = rc == 0 && r.status >= 200 && r.status < 300;
    cass_http_response_clear(&r);
    return ok ? 0 : -1;
}

struct model_ctx {
    const json_t *run;
    const json_t *spec;
    const char *image_id;
    const char *user;
};

/* Creates and starts replica index of a model run and waits until its
 * health check passes. *ret describes it; its id is in the run's
 * containers (and must be removed by the caller on failure). */
static int start_replica(struct cass_lifecycle *lc, struct cass_engine *e,
                         const struct model_ctx *m, int index, struct cass_replica *ret,
                         struct cass_error **err)
{
    struct cass_daemon *d = lc->d;
    const char *run_id = json_string_value(json_object_get(m->run, "id"));
    const char *name = json_string_value(json_object_get(m->run, "name"));
    const char *revision = json_string_value(json_object_get(m->run, "revision"));
    const json_t *spec = m->spec;
    const char *artifact = json_string_value(json_object_get(spec, "artifact"));
    const char *base = strrchr(artifact, '/') ? strrchr(artifact, '/') + 1 : artifact;
    struct stat st;
    bool is_file = stat(artifact, &st) == 0 && S_ISREG(st.st_mode);
    _cleanup_free_ char *target = is_file ? xasprintf("/model/%s", base) : strdup("/model");
    int port = (int)json_integer_value(json_object_get(spec, "port"));
    const json_t *health = json_object_get(spec, "health");
    const char *hpath = json_string_value(json_object_get(health, "path"));
    json_int_t htimeout = json_integer_value(json_object_get(health, "timeoutSeconds"));

    struct strv env = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(spec, "env"), k, v)
        strv_add(&env, xasprintf("%s=%s", k, json_string_value(v)));
    strv_add(&env, xasprintf("CASSINY_MODEL_NAME=%s", name));
    strv_add(&env, xasprintf("CASSINY_MODEL_VERSION=%s",
                             json_string_value(json_object_get(spec, "version"))));
    strv_add(&env, xasprintf("CASSINY_MODEL_PATH=%s", target));
    strv_add(&env, xasprintf("CASSINY_MODEL_PORT=%d", port));

    struct cass_container_mount mounts[] = {
        {.type = CASS_MOUNT_BIND, .source = artifact, .target = target, .read_only = true}};
    const char *publish = cass_daemon_config_str(d, "publishAddress");
    struct cass_container_port ports[] = {{.container_port = port, .host_ip = publish}};
    char idx[16];
    snprintf(idx, sizeof(idx), "%d", index);
    struct cass_container_label labels[] = {{CASS_LABEL_NAME, name},
                                            {CASS_LABEL_KIND, "Model"},
                                            {CASS_LABEL_RUN, run_id},
                                            {CASS_LABEL_REVISION, revision},
                                            {CASS_LABEL_INSTANCE, d->instance},
                                            {"io.cassiny.replica", idx}};
    const json_t *res = json_object_get(spec, "resources");
    char cname[128], shortname[100];
    container_name(name, run_id, shortname, sizeof(shortname));
    /* A replacement gets a fresh name: the suffix counts up. */
    char suffix[12];
    cass_hash_random(suffix, 4, NULL);
    snprintf(cname, sizeof(cname), "%s-%d-%02x%02x", shortname, index, (unsigned char)suffix[0],
             (unsigned char)suffix[1]);
    struct cass_container_spec cs = {
        .name = cname,
        .image = m->image_id,
        .env = (const char *const *)env.v,
        .user = m->user,
        .labels = labels,
        .n_labels = 6,
        .mounts = mounts,
        .n_mounts = 1,
        .ports = ports,
        .n_ports = 1,
        .nano_cpus = (int64_t)(json_number_value(json_object_get(res, "cpus")) * 1e9 + 0.5),
        .memory = (int64_t)json_integer_value(json_object_get(res, "memory")),
        .gpus = (int)json_integer_value(json_object_get(res, "gpus")),
        .cap_drop = cass_policy_cap_drop(),
        .security_opt = cass_policy_security_opt(),
        .restart_policy = "no",
        .init = true, /* signals reach the program and zombies are reaped */
    };
    _cleanup_free_ char *cid = cass_engine_container_create(e, &cs, err);
    strv_free(&env);
    if (!cid)
        return -1;
    /* Recorded at once, so that a failure or a restart finds it. */
    _cleanup_json_ json_t *cur = cass_store_run_get(d->store, run_id, err);
    if (!cur)
        return -1;
    json_t *containers = json_deep_copy(json_object_get(cur, "containers"));
    json_array_append_new(containers, json_string(cid));
    if (run_update_fields(d, run_id, json_pack("{s:o}", "containers", containers), err) < 0)
        return -1;
    char reach[64];
    int host_port = 0;
    bool exited = false;
    if (start_published(e, cid, port, reach, &host_port, &exited, err) < 0)
        return -1;
    double deadline = now_seconds() + MODEL_READY_TIMEOUT_S;
    double last_inspect = 0;
    for (;;) {
        if (probe_health(reach, host_port, hpath, (long)htimeout * 1000) == 0)
            break;
        double now = now_seconds();
        if (now - last_inspect > 1.0) {
            last_inspect = now;
            if (check_running(e, cid, err) < 0)
                return -1;
        }
        if (now > deadline)
            return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                                  "replica %d did not pass its health check (GET %s) within %d s",
                                  index, hpath, MODEL_READY_TIMEOUT_S);
        if (nap(lc, 200))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
    }
    snprintf(ret->id, sizeof(ret->id), "%s", cid);
    snprintf(ret->host, sizeof(ret->host), "%s", reach);
    ret->port = host_port;
    return 0;
}

/* Takes a replica out of rotation, lets its requests finish, and stops it,
 * keeping its logs; the run's container list loses it. */
static void retire_replica(struct cass_lifecycle *lc, struct cass_engine *e, const char *run_id,
                           const char *name, const char *cid)
{
    struct cass_daemon *d = lc->d;
    cass_rotation_remove(d->rotation, name, cid);
    for (int waited = 0; cass_rotation_inflight(d->rotation, cid) > 0 && waited < DRAIN_TIMEOUT_MS;
         waited += 50)
        nap(lc, 50);
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, &err);
    if (!run)
        return;
    json_t *keep = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        if (strcmp(json_string_value(c), cid) != 0)
            json_array_append(keep, c);
    }
    _cleanup_json_ json_t *one = json_pack("{s:s,s:[s]}", "id", run_id, "containers", cid);
    remove_containers(d, e, one);
    run_update_fields(d, run_id, json_pack("{s:o}", "containers", keep), NULL);
}

/* The ready model runs of name other than except (caller owns). */
static json_t *serving_runs(struct cass_daemon *d, const char *name, const char *except)
{
    json_t *out = json_array();
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "kind")), "Model") != 0 ||
            strcmp(json_string_value(json_object_get(r, "name")), name) != 0 ||
            strcmp(json_string_value(json_object_get(r, "id")), except) == 0 ||
            strcmp(json_string_value(json_object_get(r, "status")), "ready") != 0)
            continue;
        json_array_append(out, r);
    }
    return out;
}

static int rollout(struct cass_lifecycle *lc, struct cass_engine *e, const struct model_ctx *mp,
                   const char *name, struct cass_error **err);

/* A new revision rolls over one replica at a time: start a new one, wait
 * for its health check, add it to the rotation, then drain and stop an old
 * one. If a new replica never gets healthy, the new ones go, the old ones
 * keep serving and the spec points back at them. */
static int launch_model(struct cass_lifecycle *lc, struct cass_engine *e, const json_t *run,
                        const json_t *doc, const char **reason, struct cass_error **err)
{
    struct cass_daemon *d = lc->d;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    const json_t *spec = json_object_get(doc, "spec");

    _cleanup_free_ char *image_id = NULL, *user_buf = NULL;
    const char *user = NULL;
    if (image_and_user(lc, e, run, spec, &image_id, &user_buf, NULL, &user, reason, err) < 0)
        return -1;

    /* The artifact must still be what was applied. */
    *reason = "artifact-changed";
    const char *artifact = json_string_value(json_object_get(spec, "artifact"));
    const char *applied = json_string_value(json_object_get(spec, "artifactSha256"));
    _cleanup_free_ char *digest = artifact_digest(artifact, err);
    if (!digest)
        return -1;
    if (applied && strcmp(applied, digest) != 0)
        return cass_error_set(err, CASS_ERR_CONFLICT,
                              "artifact %s changed since the spec was applied (%s, now %s); "
                              "apply it again",
                              artifact, applied, digest);
    if (run_update_fields(
            d, run_id,
            json_pack("{s:[{s:s,s:s}]}", "artifacts", "path", artifact, "sha256", digest + 7),
            err) < 0)
        return -1;

    struct model_ctx m = {.run = run, .spec = spec, .image_id = image_id, .user = user};
    *reason = "not-healthy";
    set_rolling(lc, name, true);
    int rc = rollout(lc, e, &m, name, err);
    set_rolling(lc, name, false);
    return rc;
}

static int rollout(struct cass_lifecycle *lc, struct cass_engine *e, const struct model_ctx *mp,
                   const char *name, struct cass_error **err)
{
    struct cass_daemon *d = lc->d;
    struct model_ctx m = *mp;
    const json_t *spec = m.spec;
    const char *run_id = json_string_value(json_object_get(m.run, "id"));
    _cleanup_json_ json_t *old = serving_runs(d, name, run_id);
    int replicas = (int)json_integer_value(json_object_get(spec, "replicas"));
    if (run_status(d, run_id, "starting", NULL, err) < 0)
        return -1;
    for (int i = 0; i < replicas; i++) {
        struct cass_replica rep;
        if (start_replica(lc, e, &m, i, &rep, err) < 0) {
            /* No outage: the new replicas go, the old ones stay where they
             * are (never out of rotation, so no request finds none). */
            cass_rotation_remove_run(d->rotation, name, run_id);
            json_t *o0 = json_array_get(old, 0);
            if (o0)
                cass_store_spec_put(d->store, name, "Model",
                                    json_string_value(json_object_get(o0, "revision")),
                                    json_string_value(json_object_get(o0, "id")), NULL);
            return -1;
        }
        cass_rotation_add(d->rotation, name, run_id, &rep);
        log_info("run %s: replica %d of %s healthy on port %d", run_id, i, name, rep.port);
        /* Then one old replica goes. */
        size_t j;
        json_t *o;
        json_array_foreach(old, j, o)
        {
            const char *oid = json_string_value(json_object_get(o, "id"));
            _cleanup_json_ json_t *cur = cass_store_run_get(d->store, oid, NULL);
            const char *cid =
                json_string_value(json_array_get(json_object_get(cur, "containers"), 0));
            if (cid) {
                retire_replica(lc, e, oid, name, cid);
                break;
            }
        }
    }
    /* Old replicas beyond the new count, then the old runs themselves. */
    size_t j;
    json_t *o;
    json_array_foreach(old, j, o)
    {
        const char *oid = json_string_value(json_object_get(o, "id"));
        for (;;) {
            _cleanup_json_ json_t *cur = cass_store_run_get(d->store, oid, NULL);
            const char *cid =
                json_string_value(json_array_get(json_object_get(cur, "containers"), 0));
            if (!cid)
                break;
            retire_replica(lc, e, oid, name, cid);
        }
        _cleanup_free_ char *why = xasprintf("replaced by %s", run_id);
        run_status(d, oid, "stopped", why, NULL);
    }
    _cleanup_free_ char *url =
        xasprintf("http://%s:%d/models/%s/", cass_daemon_config_str(d, "gateway.address"),
                  d->gateway_port, name);
    if (run_update_fields(d, run_id, json_pack("{s:s,s:s}", "status", "ready", "url", url), err) <
        0)
        return -1;
    log_info("run %s: model %s ready with %d replicas at %s", run_id, name, replicas, url);
    return 0;
}

/* Health of one replica: its published port answers the health path. On
 * success *rep says where it is. */
static bool replica_healthy(struct cass_engine *e, const char *cid, const json_t *spec,
                            struct cass_replica *rep)
{
    const json_t *health = json_object_get(spec, "health");
    int port = (int)json_integer_value(json_object_get(spec, "port"));
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(e, cid, NULL);
    _cleanup_free_ char *ip = NULL;
    memset(rep, 0, sizeof(*rep));
    if (!ins || cass_engine_container_host_port(ins, port, NULL, &ip, &rep->port, NULL) < 0)
        return false;
    snprintf(rep->id, sizeof(rep->id), "%s", cid);
    reach_host(ip, rep->host);
    return probe_health(rep->host, rep->port, json_string_value(json_object_get(health, "path")),
                        (long)json_integer_value(json_object_get(health, "timeoutSeconds")) *
                            1000) == 0;
}

/* Keeps one ready model whole: a replica that fails its health check
 * leaves the rotation and is replaced, and missing ones are started. */
static void monitor_model(struct cass_lifecycle *lc, struct cass_engine *e, const char *run_id)
{
    struct cass_daemon *d = lc->d;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, &err);
    if (!run)
        return;
    char name[64];
    snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(run, "name")));
    _cleanup_json_ json_t *doc = run_doc(d, run, NULL);
    const json_t *spec = json_object_get(doc, "spec");
    if (!spec)
        return;
    _cleanup_json_ json_t *containers = json_deep_copy(json_object_get(run, "containers"));
    int alive = 0, replaced = 0;
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *cid = json_string_value(c);
        struct cass_replica rep;
        if (replica_healthy(e, cid, spec, &rep)) {
            alive++;
            if (!cass_rotation_has(d->rotation, name, cid))
                cass_rotation_add(d->rotation, name, run_id, &rep);
            continue;
        }
        log_warn("run %s: replica %.12s of %s failed its health check; replacing it", run_id, cid,
                 name);
        retire_replica(lc, e, run_id, name, cid);
        replaced++;
    }
    int want = (int)json_integer_value(json_object_get(spec, "replicas"));
    if (alive >= want)
        return;
    _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, &err);
    if (!now)
        return;
    _cleanup_free_ char *image_id = NULL, *user_buf = NULL;
    const char *user = NULL;
    if (image_and_user(lc, e, now, spec, &image_id, &user_buf, NULL, &user, NULL, &err) < 0) {
        log_warn("run %s: cannot replace replicas: %s", run_id, err->message);
        return;
    }
    struct model_ctx m = {.run = now, .spec = spec, .image_id = image_id, .user = user};
    for (int k = alive; k < want; k++) {
        struct cass_replica rep;
        if (start_replica(lc, e, &m, k, &rep, &err) < 0) {
            log_warn("run %s: replacement replica failed: %s", run_id, err->message);
            break;
        }
        cass_rotation_add(d->rotation, name, run_id, &rep);
        log_info("run %s: replacement replica of %s healthy on port %d", run_id, name, rep.port);
    }
    json_int_t n = json_integer_value(json_object_get(now, "replacements"));
    _cleanup_json_ json_t *ch =
        json_pack("{s:I}", "replacements", n + (replaced ? replaced : want - alive));
    run_change(d, run_id, ch, NULL, NULL);
}

static void monitor_models(struct cass_lifecycle *lc)
{
    struct cass_daemon *d = lc->d;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    struct cass_engine *e = active ? cass_daemon_engine(d, NULL) : NULL;
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *run_id = json_string_value(json_object_get(r, "id"));
        if (!e || strcmp(json_string_value(json_object_get(r, "kind")), "Model") != 0 ||
            strcmp(json_string_value(json_object_get(r, "status")), "ready") != 0 ||
            held(lc, run_id) || rolling(lc, json_string_value(json_object_get(r, "name"))))
            continue;
        monitor_model(lc, e, run_id);
    }
}

/* Stops the runs of name other than keep_id that are still live. */
static void stop_other_runs(struct cass_lifecycle *lc, struct cass_engine *e, const char *name,
                            const char *keep_id)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *active = cass_store_runs_active(lc->d->store, &err);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (strcmp(json_string_value(json_object_get(r, "name")), name) != 0 ||
            strcmp(id, keep_id) == 0)
            continue;
        _cleanup_free_ char *reason = xasprintf("replaced by %s", keep_id);
        run_status(lc->d, id, "stopped", reason, NULL);
        remove_containers(lc->d, e, r);
        log_info("run %s stopped: %s", id, reason);
    }
}

static void launch(struct cass_lifecycle *lc, const char *run_id)
{
    struct cass_daemon *d = lc->d;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, &err);
    if (!run) {
        log_error("run %s: %s", run_id, err->message);
        return;
    }
    const char *status = json_string_value(json_object_get(run, "status"));
    const char *kind = json_string_value(json_object_get(run, "kind"));
    const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    bool is_job = strcmp(kind, "Job") == 0;
    _cleanup_json_ json_t *doc = run_doc(d, run, &err);
    struct cass_engine *e = doc ? cass_daemon_engine(d, &err) : NULL;
    if (cass_store_status_final(status)) {
        /* Stopped while it waited, or while the daemon was down: a job's
         * container still holds its exit and outputs. */
        if (e && cid && is_job)
            finish_job(lc, e, run, cid, false);
        else if (e)
            remove_containers(d, e, run);
        return;
    }
    if (!e) {
        run_fail(d, run_id, "engine-unavailable", err ? err->message : "?");
        return;
    }
    const char *reason = "launch-failed";
    int rc;
    if (is_job && cid && (strcmp(status, "running") == 0 || strcmp(status, "starting") == 0)) {
        /* Back after a restart: the job ran on; wait for it again. */
        log_info("run %s: following job container %.12s again", run_id, cid);
        reason = "failed";
        rc = wait_job(lc, e, run, json_object_get(doc, "spec"), cid, &err);
    } else {
        if (strcmp(kind, "Notebook") == 0)
            stop_other_runs(lc, e, json_string_value(json_object_get(run, "name")), run_id);
        if (run_status(d, run_id, "creating", NULL, &err) < 0) {
            log_warn("run %s: %s", run_id, err->message);
            return;
        }
        rc = strcmp(kind, "Notebook") == 0 ? launch_notebook(lc, e, run, doc, &reason, &err)
             : is_job                      ? launch_job(lc, e, run, doc, &reason, &err)
                                           : launch_model(lc, e, run, doc, &reason, &err);
    }
    if (rc == 0)
        return;
    if (atomic_load(&lc->cancel)) {
        /* Shutting down: the next start's reconcile launches it again. */
        log_info("run %s: launch interrupted by shutdown", run_id);
        return;
    }
    /* Leave nothing behind: the run says what happened; its container goes. */
    _cleanup_error_ struct cass_error *gerr = NULL;
    _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, &gerr);
    if (now && !cass_store_status_final(json_string_value(json_object_get(now, "status")))) {
        run_fail(d, run_id, reason, err->message);
    }
    if (now)
        remove_containers(d, e, now);
}

static void *worker_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    for (;;) {
        pthread_mutex_lock(&lc->lock);
        while (!lc->head && !lc->stopping)
            pthread_cond_wait(&lc->cond, &lc->lock);
        if (lc->stopping) {
            pthread_mutex_unlock(&lc->lock);
            return NULL;
        }
        struct job *j = lc->head;
        lc->head = j->next;
        if (!lc->head)
            lc->tail = NULL;
        lc->busy++;
        size_t slot = 0;
        while (slot < 63 && lc->inflight[slot])
            slot++;
        lc->inflight[slot] = j->run_id;
        pthread_mutex_unlock(&lc->lock);

        launch(lc, j->run_id);

        pthread_mutex_lock(&lc->lock);
        lc->inflight[slot] = NULL;
        lc->busy--;
        pthread_mutex_unlock(&lc->lock);
        free(j->run_id);
        free(j);
    }
}

/* ---- apply, stop, delete -------------------------------------------------- */

/* A model's revision covers its artifact: the same spec over a retrained
 * model is a new revision. The digest goes into the document as
 * spec.artifactSha256 and the canonical text and revision are made again. */
static int add_artifact_digests(json_t *specs, struct cass_error **err)
{
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "kind")), "Model") != 0)
            continue;
        json_t *doc = json_object_get(s, "spec");
        json_t *spec = json_object_get(doc, "spec");
        const char *artifact = json_string_value(json_object_get(spec, "artifact"));
        struct cass_error *one = NULL;
        _cleanup_free_ char *digest = artifact ? artifact_digest(artifact, &one) : NULL;
        if (!digest) {
            cass_error_add_item(
                err, "spec.artifact", (int)json_integer_value(json_object_get(s, "line")), 1,
                "cannot hash the artifact: %s", one && one->message ? one->message : "?");
            cass_error_free(one);
            continue;
        }
        json_object_set_new(spec, "artifactSha256", json_string(digest));
        char *canonical = cass_spec_canonical(doc);
        char *revision = cass_spec_revision(doc);
        json_object_set_new(s, "canonical", json_string(canonical));
        json_object_set_new(s, "revision", json_string(revision));
        free(canonical);
        free(revision);
    }
    return err && *err ? -1 : 0;
}

json_t *cass_lifecycle_apply(struct cass_daemon *d, const json_t *specs_in, struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    _cleanup_json_ json_t *specs = json_deep_copy(specs_in);
    if (!specs) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const json_t *policy = json_object_get(d->config, "policy");
    size_t i;
    json_t *s;
    /* Every spec is judged before anything happens to any of them. */
    struct cass_error *perr = NULL;
    json_array_foreach(specs, i, s)
    {
        struct cass_error *one = NULL;
        if (cass_policy_check(policy, cass_daemon_config_str(d, "dockerHost"),
                              json_object_get(s, "spec"), json_object_get(s, "pos"), &one) < 0)
            cass_error_merge(&perr, &one);
    }
    if (perr) {
        perr->kind = CASS_ERR_FORBIDDEN;
        free(perr->message);
        perr->message = strdup("refused by the daemon's policy");
        cass_error_merge(err, &perr);
        return NULL;
    }
    if (add_artifact_digests(specs, err) < 0)
        return NULL;

    pthread_mutex_lock(&lc->apply_lock);
    json_t *out = json_array();
    json_t *to_launch = json_array();
    int rc = 0;
    json_array_foreach(specs, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *kind = json_string_value(json_object_get(s, "kind"));
        const char *rev = json_string_value(json_object_get(s, "revision"));
        const char *canonical = json_string_value(json_object_get(s, "canonical"));
        if (cass_store_revision_put(d->store, rev, name, kind, canonical, err) < 0) {
            rc = -1;
            break;
        }
        _cleanup_error_ struct cass_error *gerr = NULL;
        _cleanup_json_ json_t *cur = cass_store_spec_get(d->store, name, &gerr);
        const char *cur_rev = json_string_value(json_object_get(cur, "revision"));
        const char *cur_run = json_string_value(json_object_get(cur, "runId"));
        _cleanup_json_ json_t *run = NULL;
        if (cur && cur_rev && cur_run && strcmp(cur_rev, rev) == 0) {
            run = cass_store_run_get(d->store, cur_run, &gerr);
            const char *st = json_string_value(json_object_get(run, "status"));
            /* Unchanged: a live run stays; a job that succeeded is done (run
             * it again with reproduce); anything else that ended restarts. */
            if (run && (!cass_store_status_final(st) ||
                        (strcmp(kind, "Job") == 0 && strcmp(st, "succeeded") == 0))) {
                json_array_append_new(out,
                                      json_pack("{s:s,s:s,s:s,s:b,s:O}", "name", name, "kind", kind,
                                                "revision", rev, "changed", 0, "run", run));
                continue;
            }
            json_decref(TAKE_PTR(run));
        }
        _cleanup_json_ json_t *proto = json_pack(
            "{s:s,s:s,s:s,s:{s:s}}", "name", name, "kind", kind, "revision", rev, "image", "ref",
            json_string_value(
                json_object_get(json_object_get(json_object_get(s, "spec"), "spec"), "image")));
        if (cass_store_run_insert(d->store, proto, &run, err) < 0 ||
            (cass_lifecycle_emit(d, run), 0) ||
            cass_store_spec_put(d->store, name, kind, rev,
                                json_string_value(json_object_get(run, "id")), err) < 0) {
            rc = -1;
            break;
        }
        json_array_append(to_launch, json_object_get(run, "id"));
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:b,s:O}", "name", name, "kind", kind,
                                             "revision", rev, "changed", 1, "run", run));
    }
    pthread_mutex_unlock(&lc->apply_lock);
    json_t *id;
    json_array_foreach(to_launch, i, id) enqueue(lc, json_string_value(id));
    json_decref(to_launch);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return json_pack("{s:o}", "specs", out);
}

int cass_lifecycle_run_stop(struct cass_daemon *d, const char *run_id, const char *reason,
                            json_t **ret_run, struct cass_error **err)
{
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, err);
    if (!run)
        return -1;
    if (!cass_store_status_final(json_string_value(json_object_get(run, "status")))) {
        /* Final first: the engine's "die" event then finds nothing to mark. */
        _cleanup_error_ struct cass_error *serr = NULL;
        if (run_status(d, run_id, "stopped", reason, &serr) < 0 &&
            serr->kind != CASS_ERR_CONFLICT) {
            cass_error_merge(err, &serr);
            return -1;
        }
        struct cass_engine *e = cass_daemon_engine(d, err);
        if (!e)
            return -1;
        const char *kind = json_string_value(json_object_get(run, "kind"));
        const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
        if (strcmp(kind, "Job") == 0 && cid) {
            /* Its worker (or a new one) records the exit and the outputs. */
            _cleanup_error_ struct cass_error *kerr = NULL;
            if (cass_engine_container_stop(e, cid, STOP_TIMEOUT_S, &kerr) < 0 &&
                kerr->kind != CASS_ERR_NOT_FOUND)
                log_warn("stop %.12s: %s", cid, kerr->message);
            if (!held(d->lifecycle, run_id))
                enqueue(d->lifecycle, run_id);
        } else {
            remove_containers(d, e, run);
        }
        log_info("run %s stopped: %s", run_id, reason);
    }
    if (ret_run)
        *ret_run = cass_store_run_get(d->store, run_id, err);
    return 0;
}

json_t *cass_lifecycle_reproduce(struct cass_daemon *d, const char *run_id, struct cass_error **err)
{
    _cleanup_json_ json_t *orig = cass_store_run_get(d->store, run_id, err);
    if (!orig)
        return NULL;
    const char *kind = json_string_value(json_object_get(orig, "kind"));
    json_t *image = json_object_get(orig, "image");
    if (strcmp(kind, "Model") == 0) {
        cass_error_set(err, CASS_ERR_CONFLICT, "Model runs cannot be reproduced by this version");
        return NULL;
    }
    if (!json_is_string(json_object_get(image, "id"))) {
        cass_error_set(err, CASS_ERR_CONFLICT,
                       "run %s never resolved its image, so there is nothing to reproduce; "
                       "apply its spec again instead",
                       run_id);
        return NULL;
    }
    /* The recorded revision and image ID, whatever the tag says today. */
    _cleanup_json_ json_t *proto = json_pack(
        "{s:O,s:O,s:O,s:{s:O,s:O,s:O},s:s}", "name", json_object_get(orig, "name"), "kind",
        json_object_get(orig, "kind"), "revision", json_object_get(orig, "revision"), "image",
        "ref", json_object_get(image, "ref"), "id", json_object_get(image, "id"), "repoDigests",
        json_object_get(image, "repoDigests"), "reproducedFrom", run_id);
    json_t *run = NULL;
    if (!proto || cass_store_run_insert(d->store, proto, &run, err) < 0)
        return NULL;
    cass_lifecycle_emit(d, run);
    enqueue(d->lifecycle, json_string_value(json_object_get(run, "id")));
    log_info("run %s reproduces %s", json_string_value(json_object_get(run, "id")), run_id);
    return run;
}

json_t *cass_lifecycle_rollback(struct cass_daemon *d, const char *name, const char *to,
                                struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, name, err);
    if (!spec)
        return NULL;
    const char *cur = json_string_value(json_object_get(spec, "revision"));
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    _cleanup_json_ json_t *revs = cass_store_revision_list(d->store, name, err);
    if (!revs)
        return NULL;
    /* Without "to": the newest other revision that ever served (a run of
     * it became ready, or a job of it succeeded); a revision that never
     * worked is no place to go back to. */
    struct cass_store_run_filter f = {.name = name, .limit = CASS_STORE_LIST_MAX};
    _cleanup_json_ json_t *runs = to ? NULL : cass_store_run_list(d->store, &f, NULL, err);
    if (!to && !runs)
        return NULL;
    const char *target = NULL;
    size_t i, j;
    json_t *r, *rr;
    json_array_foreach(revs, i, r)
    {
        const char *rev = json_string_value(json_object_get(r, "revision"));
        if (to) {
            if (strcmp(rev, to) == 0 || (strlen(to) >= 12 && strstr(rev, to) == rev + 7)) {
                target = rev;
                break;
            }
            continue;
        }
        if (strcmp(rev, cur) == 0)
            continue;
        json_array_foreach(runs, j, rr)
        {
            if (strcmp(json_string_value(json_object_get(rr, "revision")), rev) == 0 &&
                (json_is_string(json_object_get(rr, "readyAt")) ||
                 strcmp(json_string_value(json_object_get(rr, "status")), "succeeded") == 0)) {
                target = rev;
                break;
            }
        }
        if (target)
            break;
    }
    if (!target) {
        cass_error_set(err, CASS_ERR_NOT_FOUND, "%s has no %s revision to go back to", name,
                       to ? to : "earlier");
        return NULL;
    }
    if (strcmp(target, cur) == 0) {
        cass_error_set(err, CASS_ERR_CONFLICT, "%s is already at %s", name, target);
        return NULL;
    }
    pthread_mutex_lock(&lc->apply_lock);
    _cleanup_json_ json_t *proto =
        json_pack("{s:s,s:s,s:s,s:{}}", "name", name, "kind", kind, "revision", target, "image");
    _cleanup_json_ json_t *rev = cass_store_revision_get(d->store, target, err);
    json_t *run = NULL;
    if (rev) {
        json_object_set_new(json_object_get(proto, "image"), "ref",
                            json_string(json_string_value(json_object_get(
                                json_object_get(json_object_get(rev, "spec"), "spec"), "image"))));
        if (cass_store_run_insert(d->store, proto, &run, err) == 0 &&
            cass_store_spec_put(d->store, name, kind, target,
                                json_string_value(json_object_get(run, "id")), err) < 0) {
            json_decref(run);
            run = NULL;
        }
    }
    pthread_mutex_unlock(&lc->apply_lock);
    if (!run)
        return NULL;
    cass_lifecycle_emit(d, run);
    enqueue(lc, json_string_value(json_object_get(run, "id")));
    log_info("%s: rolling back to %s (run %s)", name, target,
             json_string_value(json_object_get(run, "id")));
    return run;
}

int cass_lifecycle_delete(struct cass_daemon *d, const char *name, bool purge,
                          struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, name, err);
    if (!spec)
        return -1;
    pthread_mutex_lock(&lc->apply_lock);
    int rc = 0;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, err);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0 &&
            cass_lifecycle_run_stop(d, json_string_value(json_object_get(r, "id")), "deleted", NULL,
                                    err) < 0)
            rc = -1;
    }
    if (rc == 0 && purge) {
        _cleanup_json_ json_t *rev = cass_store_revision_get(
            d->store, json_string_value(json_object_get(spec, "revision")), err);
        const char *ws = json_string_value(
            json_object_get(json_object_get(json_object_get(rev, "spec"), "spec"), "workspace"));
        struct cass_engine *e = ws ? cass_daemon_engine(d, err) : NULL;
        if (ws && (!e || cass_engine_volume_remove(e, ws, true, err) < 0)) {
            if (err && *err && (*err)->kind == CASS_ERR_NOT_FOUND)
                cass_error_free(TAKE_PTR(*err));
            else
                rc = -1;
        }
    }
    if (rc == 0)
        rc = cass_store_spec_delete(d->store, name, err);
    pthread_mutex_unlock(&lc->apply_lock);
    return rc;
}

/* ---- reconcile ----------------------------------------------------------------- */

static const char *label_of(const json_t *container, const char *key)
{
    return json_string_value(json_object_get(json_object_get(container, "Labels"), key));
}

int cass_lifecycle_reconcile(struct cass_daemon *d, struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    struct cass_engine *e = cass_daemon_engine(d, err);
    if (!e)
        return -1;
    const char *const filter[] = {CASS_LABEL_RUN, d->instance_label, NULL};
    _cleanup_json_ json_t *containers = cass_engine_container_list(e, filter, true, err);
    if (!containers)
        return -1;
    pthread_mutex_lock(&lc->apply_lock);
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, err);
    if (!active) {
        pthread_mutex_unlock(&lc->apply_lock);
        return -1;
    }
    /* Runs the workers hold right now are theirs, not reconcile's. */
    size_t i, j;
    json_t *r, *c;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *status = json_string_value(json_object_get(r, "status"));
        json_t *mine = NULL;
        json_array_foreach(containers, j, c)
        {
            const char *run_label = label_of(c, CASS_LABEL_RUN);
            if (run_label && strcmp(run_label, id) == 0) {
                mine = c;
                break;
            }
        }
        const char *state = json_string_value(json_object_get(mine, "State"));
        bool running = state && strcmp(state, "running") == 0;
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (held(lc, id))
            continue;
        if (strcmp(kind, "Job") == 0 &&
            (strcmp(status, "running") == 0 || strcmp(status, "starting") == 0)) {
            /* A job runs on without us: follow it again (or record its end). */
            if (mine)
                enqueue(lc, id);
            else
                run_fail(d, id, "container-vanished",
                         "its container was removed behind the daemon's back");
            continue;
        }
        if (strcmp(kind, "Model") == 0 && strcmp(status, "ready") == 0)
            continue; /* the monitor puts live replicas back and replaces the rest */
        if (strcmp(status, "ready") == 0 || strcmp(status, "running") == 0) {
            if (!mine)
                run_fail(d, id, "container-vanished",
                         "its container was removed behind the daemon's back");
            else if (!running)
                run_fail(d, id, "exited", json_string_value(json_object_get(mine, "Status")));
            continue;
        }
        /* A launch cut short (pending, queued, creating, starting), and no
         * worker has it: start it again from a clean slate. */
        log_info("run %s was %s when the daemon stopped: launching it again", id, status);
        if (mine) {
            _cleanup_error_ struct cass_error *rerr = NULL;
            const char *cid = json_string_value(json_object_get(mine, "Id"));
            if (cid)
                cass_engine_container_remove(e, cid, true, false, &rerr);
        }
        _cleanup_json_ json_t *ch = json_pack("{s:s,s:[]}", "status", "pending", "containers");
        _cleanup_error_ struct cass_error *uerr = NULL;
        if (run_change(d, id, ch, NULL, &uerr) < 0)
            log_warn("run %s: %s", id, uerr->message);
        enqueue(lc, id);
    }
    /* Containers that no live run owns are orphans. */
    json_array_foreach(containers, j, c)
    {
        const char *run_label = label_of(c, CASS_LABEL_RUN);
        const char *cid = json_string_value(json_object_get(c, "Id"));
        if (!run_label || !cid)
            continue;
        bool owned = false;
        json_array_foreach(active, i, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), run_label) == 0)
                owned = true;
        }
        if (owned)
            continue;
        log_warn("removing container %.12s of run %s: no live run owns it", cid, run_label);
        _cleanup_error_ struct cass_error *rerr = NULL;
        if (cass_engine_container_remove(e, cid, true, false, &rerr) < 0 &&
            rerr->kind != CASS_ERR_NOT_FOUND)
            log_warn("remove %.12s: %s", cid, rerr->message);
    }
    pthread_mutex_unlock(&lc->apply_lock);
    return 0;
}

/* ---- events watcher --------------------------------------------------------- */

static int on_event(json_t *ev, void *ud)
{
    struct cass_lifecycle *lc = ud;
    const char *action = json_string_value(json_object_get(ev, "Action"));
    json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
    const char *run_id = json_string_value(json_object_get(attrs, CASS_LABEL_RUN));
    if (!action || !run_id)
        return 0;
    log_debug("engine event %s for run %s", action, run_id);
    if (strcmp(action, "oom") == 0) {
        _cleanup_json_ json_t *ch = json_pack("{s:b}", "oomKilled", 1);
        cass_store_run_update(lc->d->store, run_id, ch, NULL, NULL);
        return 0;
    }
    if (strcmp(action, "die") != 0 && strcmp(action, "destroy") != 0)
        return 0;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *run = cass_store_run_get(lc->d->store, run_id, &err);
    const char *status = json_string_value(json_object_get(run, "status"));
    /* Only a serving run dies unexpectedly; launches and jobs' workers
     * handle their own. */
    if (!status || (strcmp(status, "ready") != 0 && strcmp(status, "running") != 0) ||
        strcmp(json_string_value(json_object_get(run, "kind")), "Notebook") != 0)
        return 0;
    const char *code = json_string_value(json_object_get(attrs, "exitCode"));
    bool oom = json_is_true(json_object_get(run, "oomKilled"));
    _cleanup_free_ char *msg =
        xasprintf("container %s%s%s%s", strcmp(action, "die") == 0 ? "exited" : "was removed",
                  code ? " with code " : "", code ? code : "", oom ? " (out of memory)" : "");
    _cleanup_json_ json_t *ch = json_pack("{s:s,s:s,s:s}", "status", "failed", "reason",
                                          oom ? "oom" : "exited", "error", msg);
    if (code)
        json_object_set_new(ch, "exitCode", json_integer(atoi(code)));
    if (run_change(lc->d, run_id, ch, NULL, &err) == 0)
        log_warn("run %s failed: %s", run_id, msg);
    return 0;
}

static void *watcher_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    long backoff = 500;
    bool need_reconcile = true;
    while (!atomic_load(&lc->cancel)) {
        _cleanup_error_ struct cass_error *err = NULL;
        struct cass_engine *e = cass_daemon_engine(lc->d, &err);
        if (e && cass_engine_ping(e, &err) == 0) {
            if (need_reconcile) {
                if (cass_lifecycle_reconcile(lc->d, &err) < 0) {
                    log_warn("reconcile: %s", err->message);
                    cass_error_free(TAKE_PTR(err));
                } else {
                    need_reconcile = false;
                    log_info("reconciled with the engine");
                }
            }
            char since[32];
            snprintf(since, sizeof(since), "%lld", (long long)time(NULL) - 1);
            const char *const labels[] = {CASS_LABEL_RUN, lc->d->instance_label, NULL};
            static const char *const types[] = {"container", NULL};
            static const char *const events[] = {"die", "oom", "destroy", NULL};
            struct cass_engine_events_opts o = {.labels = labels,
                                                .types = types,
                                                .events = events,
                                                .since = since,
                                                .cancel = &lc->cancel};
            backoff = 500;
            if (cass_engine_events(e, &o, on_event, lc, &err) < 0 && !atomic_load(&lc->cancel))
                log_warn("engine events: %s; reconnecting", err ? err->message : "?");
            /* Whatever happened while we were not listening is found by
             * comparing again. */
            need_reconcile = true;
        } else if (err) {
            log_debug("engine not answering: %s", err->message);
        }
        if (nap(lc, backoff))
            break;
        if (backoff < 5000)
            backoff *= 2;
    }
    return NULL;
}

/* ---- idle culling ------------------------------------------------------------ */

static void cull_once(struct cass_lifecycle *lc)
{
    struct cass_daemon *d = lc->d;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, &err);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "status")), "ready") != 0 ||
            strcmp(json_string_value(json_object_get(r, "kind")), "Notebook") != 0)
            continue;
        _cleanup_error_ struct cass_error *cerr = NULL;
        _cleanup_json_ json_t *doc = run_doc(d, r, &cerr);
        json_t *idle = json_object_get(json_object_get(doc, "spec"), "idleTimeout");
        if (!json_is_integer(idle) || json_integer_value(idle) <= 0)
            continue;
        json_int_t timeout = json_integer_value(idle);
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *token = json_string_value(json_object_get(r, "token"));
        json_t *p0 = json_array_get(json_object_get(r, "ports"), 0);
        int host_port = (int)json_integer_value(json_object_get(p0, "hostPort"));
        const char *host_ip = json_string_value(json_object_get(p0, "hostIp"));
        if (!token || host_port <= 0)
            continue;
        char reach[64];
        reach_host(host_ip, reach);
        _cleanup_free_ char *base = xasprintf("http://%s:%d", reach, host_port);
        _cleanup_json_ json_t *status = NULL;
        if (cass_notebook_status(base, token, 2000, &status, &cerr) < 0) {
            log_debug("cull: run %s: %s", id, cerr->message);
            continue;
        }
        /* Asking for the kernels counts as activity in Jupyter, so ask only
         * once the notebook already looks idle, and decide on that answer. */
        int verdict = cass_notebook_idle_decide(status, NULL, timeout, now_seconds(), &cerr);
        if (verdict != 1)
            continue;
        _cleanup_json_ json_t *kernels = cass_notebook_kernels(base, token, 2000, &cerr);
        if (!kernels)
            continue;
        verdict = cass_notebook_idle_decide(status, kernels, timeout, now_seconds(), &cerr);
        if (verdict != 1) {
            log_debug("cull: run %s idle but a kernel is busy: spared", id);
            continue;
        }
        _cleanup_free_ char *reason = xasprintf("idle: no activity for %lld s", (long long)timeout);
        log_info("run %s: %s; stopping it", id, reason);
        _cleanup_error_ struct cass_error *serr = NULL;
        if (cass_lifecycle_run_stop(d, id, reason, NULL, &serr) < 0)
            log_warn("cull: run %s: %s", id, serr->message);
    }
}

static void *culler_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    while (!nap(lc, CULL_TICK_S * 1000)) {
        cull_once(lc);
        monitor_models(lc);
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

int cass_lifecycle_start(struct cass_daemon *d, struct cass_error **err)
{
    struct cass_lifecycle *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    lc->d = d;
    pthread_mutex_init(&lc->lock, NULL);
    pthread_cond_init(&lc->cond, NULL);
    pthread_mutex_init(&lc->apply_lock, NULL);
    json_int_t n = cass_daemon_config_int(d, "limits.maxConcurrentRuns");
    lc->n_workers = n > 0 ? (size_t)n : 4;
    if (lc->n_workers > 63)
        lc->n_workers = 63;
    lc->workers = calloc(lc->n_workers, sizeof(*lc->workers));
    if (!lc->workers) {
        free(lc);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    d->lifecycle = lc;
    for (size_t i = 0; i < lc->n_workers; i++)
        if (pthread_create(&lc->workers[i], NULL, worker_main, lc) != 0) {
            lc->n_workers = i;
            cass_lifecycle_stop(d);
            return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start worker threads");
        }
    lc->watcher_started = pthread_create(&lc->watcher, NULL, watcher_main, lc) == 0;
    lc->culler_started = pthread_create(&lc->culler, NULL, culler_main, lc) == 0;
    if (!lc->watcher_started || !lc->culler_started) {
        cass_lifecycle_stop(d);
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start lifecycle threads");
    }
    return 0;
}

void cass_lifecycle_stop(struct cass_daemon *d)
{
    struct cass_lifecycle *lc = d->lifecycle;
    if (!lc)
        return;
    pthread_mutex_lock(&lc->lock);
    lc->stopping = true;
    atomic_store(&lc->cancel, 1);
    pthread_cond_broadcast(&lc->cond);
    pthread_mutex_unlock(&lc->lock);
    for (size_t i = 0; i < lc->n_workers; i++)
        pthread_join(lc->workers[i], NULL);
    if (lc->watcher_started)
        pthread_join(lc->watcher, NULL);
    if (lc->culler_started)
        pthread_join(lc->culler, NULL);
    while (lc->head) {
        struct job *j = lc->head;
        lc->head = j->next;
        free(j->run_id);
        free(j);
    }
    free(lc->workers);
    pthread_mutex_destroy(&lc->lock);
    pthread_cond_destroy(&lc->cond);
    pthread_mutex_destroy(&lc->apply_lock);
    free(lc);
    d->lifecycle = NULL;
}
