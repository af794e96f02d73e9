/* Model: replicas of a model server behind the gateway's rotation, rolled
 * to a new revision one replica at a time (new before old), watched by
 * health checks that take a failing replica out of the rotation and
 * replace it only when its container is gone or it stayed out too long. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "failpoint.h"
#include "hash.h"
#include "http.h"
#include "kind.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "outputs.h"
#include "rotation.h"
#include "store.h"

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
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        return cass_xasprintf("sha256:%s",
                              json_string_value(json_object_get(json_array_get(m, 0), "sha256")));
    char hex[65];
    cass_outputs_digest(m, hex);
    return cass_xasprintf("sha256:%s", hex);
}

/* A model's revision covers its artifact: the same spec over a retrained
 * model is a new revision. Apply and dry run both come here. */
static int model_prepare(json_t *doc, int line, struct cass_error **err)
{
    json_t *spec = json_object_get(doc, "spec");
    const char *artifact = json_string_value(json_object_get(spec, "artifact"));
    struct cass_error *one = NULL;
    _cleanup_free_ char *digest = artifact ? artifact_digest(artifact, &one) : NULL;
    if (!digest) {
        cass_error_add_item(err, "spec.artifact", line, 1, "cannot hash the artifact: %s",
                            one && one->message ? one->message : "?");
        cass_error_free(one);
        return -1;
    }
    json_object_set_new(spec, "artifactSha256", json_string(digest));
    return 0;
}

/* The artifact must still be what was applied: hashed again at every
 * launch, replacements included. */
static int artifact_check(struct cass_launch *l, struct cass_error **err)
{
    l->reason = "artifact-changed";
    const char *artifact = json_string_value(json_object_get(l->spec, "artifact"));
    const char *applied = json_string_value(json_object_get(l->spec, "artifactSha256"));
    _cleanup_free_ char *digest = artifact_digest(artifact, err);
    if (!digest)
        return -1;
    if (applied && strcmp(applied, digest) != 0)
        return cass_error_set(err, CASS_ERR_CONFLICT,
                              "artifact %s changed since the spec was applied (%s, now %s); "
                              "apply it again",
                              artifact, applied, digest);
    l->reason = "not-healthy";
    return cass_launch_record(
        l, json_pack("{s:[{s:s,s:s}]}", "artifacts", "path", artifact, "sha256", digest + 7), err);
}

static int probe_health(const char *host, int port, const char *path, long timeout_ms)
{
    _cleanup_free_ char *base = cass_xasprintf("http://%s:%d", host, port);
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

static const char *health_path(const json_t *spec)
{
    return json_string_value(json_object_get(json_object_get(spec, "health"), "path"));
}

static long health_int(const json_t *spec, const char *key, long dflt)
{
    json_t *v = json_object_get(json_object_get(spec, "health"), key);
    return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

/* The tokens of spec.auth a replica of spec takes. */
static void replica_auth(const json_t *spec, struct cass_replica *rep)
{
    rep->n_tokens = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(spec, "auth"), "tokens"), i, t)
    {
        const char *h = json_string_value(json_object_get(t, "sha256"));
        if (h && strlen(h) == 64 && rep->n_tokens < CASS_REPLICA_MAX_TOKENS)
            snprintf(rep->tokens[rep->n_tokens++], sizeof(rep->tokens[0]), "%s", h);
    }
}

/* Creates and starts replica index of the run and waits until its health
 * check passes; then it joins the rotation. */
static int start_replica(struct cass_launch *l, int index, struct cass_error **err)
{
    const json_t *spec = l->spec;
    const char *artifact = json_string_value(json_object_get(spec, "artifact"));
    const char *base = strrchr(artifact, '/') ? strrchr(artifact, '/') + 1 : artifact;
    struct stat st;
    bool is_file = lstat(artifact, &st) == 0 && S_ISREG(st.st_mode);
    _cleanup_free_ char *target = is_file ? cass_xasprintf("/model/%s", base) : strdup("/model");
    int port = (int)json_integer_value(json_object_get(spec, "port"));

    /* A replacement gets a fresh name: a random suffix. */
    unsigned char rnd[2];
    cass_hash_random(rnd, sizeof(rnd), NULL);
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "%d-%02x%02x", index, rnd[0], rnd[1]);
    cass_launch_spec_init(l, index, suffix);
    cass_strv_addf(&l->env, "CASSINY_MODEL_NAME=%s", l->name);
    cass_strv_addf(&l->env, "CASSINY_MODEL_VERSION=%s",
                   json_string_value(json_object_get(spec, "version")));
    cass_strv_addf(&l->env, "CASSINY_MODEL_PATH=%s", target);
    cass_strv_addf(&l->env, "CASSINY_MODEL_PORT=%d", port);
    struct cass_container_mount mounts[] = {{.type = CASS_MOUNT_BIND,
                                             .source = artifact,
                                             .target = target,
                                             .read_only = true,
                                             .field = "spec.artifact"}};
    const char *publish = cass_daemon_config_str(l->d, "publishAddress");
    struct cass_container_port ports[] = {{.container_port = port, .host_ip = publish}};
    l->cs.mounts = mounts;
    l->cs.n_mounts = 1;
    l->cs.ports = ports;
    l->cs.n_ports = 1;

    _cleanup_free_ char *cid = cass_launch_create(l, err);
    if (!cid)
        return -1;
    struct cass_replica rep = {0};
    bool exited = false;
    if (cass_launch_start_published(l, cid, port, rep.host, &rep.port, &exited, err) < 0)
        return -1;
    snprintf(rep.id, sizeof(rep.id), "%s", cid);
    double deadline = cass_now() + MODEL_READY_TIMEOUT_S;
    double last_inspect = 0;
    long timeout_ms = health_int(spec, "timeoutSeconds", 1) * 1000;
    for (;;) {
        if (probe_health(rep.host, rep.port, health_path(spec), timeout_ms) == 0)
            break;
        double now = cass_now();
        if (now - last_inspect > 1.0) {
            last_inspect = now;
            if (cass_launch_check_running(l, cid, err) < 0)
                return -1;
        }
        if (now > deadline)
            return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                                  "replica %d did not pass its health check (GET %s) within %d s",
                                  index, health_path(spec), MODEL_READY_TIMEOUT_S);
        if (cass_lifecycle_nap(l->lc, 200))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
    }
    CASS_FAILPOINT("rollout.after-new-replica-healthy");
    replica_auth(spec, &rep);
    cass_rotation_add(l->d->rotation, l->name, l->run_id, &rep);
    CASS_FAILPOINT("rollout.after-rotation-switch");
    log_info("run %s: replica %d of %s healthy on port %d", l->run_id, index, l->name, rep.port);
    return 0;
}

/* Takes a replica out of rotation, lets its requests finish, and stops it,
 * keeping its logs; the run's container list loses it. */
static void retire_replica(struct cass_lifecycle *lc, const char *run_id, const char *name,
                           const char *cid)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    cass_rotation_remove(d->rotation, name, cid);
    for (int waited = 0; cass_rotation_inflight(d->rotation, cid) > 0 && waited < DRAIN_TIMEOUT_MS;
         waited += 50)
        cass_lifecycle_nap(lc, 50);
    cass_run_remove_workload(d, cass_lifecycle_backend(lc), run_id, name, cid);
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, NULL);
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
    _cleanup_json_ json_t *ch = json_pack("{s:o}", "containers", keep);
    cass_run_change(d, run_id, ch, NULL, NULL);
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

static const char *first_container(struct cass_daemon *d, const char *run_id, json_t **hold)
{
    *hold = cass_store_run_get(d->store, run_id, NULL);
    return json_string_value(json_array_get(json_object_get(*hold, "containers"), 0));
}

/* The spec points at the revision that serves: a spec left on one of the
 * runs this rollout replaced (a failure path that pointed back, a restart
 * in between) moves to this one. A newer apply, pointing elsewhere, wins. */
static void spec_to_serving(struct cass_launch *l, const json_t *old)
{
    _cleanup_json_ json_t *spec = cass_store_spec_get(l->d->store, l->name, NULL);
    const char *at = json_string_value(json_object_get(spec, "runId"));
    size_t i;
    json_t *o;
    json_array_foreach(old, i, o)
    {
        if (!at || strcmp(at, json_string_value(json_object_get(o, "id"))) != 0)
            continue;
        _cleanup_error_ struct cass_error *err = NULL;
        if (cass_store_spec_put(l->d->store, l->name, "Model", l->revision, l->run_id, &err) < 0)
            log_warn("run %s: cannot point spec %s at it: %s", l->run_id, l->name, err->message);
        return;
    }
}

/* A new revision rolls over one replica at a time: start a new one, wait
 * for its health check, add it to the rotation, then drain and stop an old
 * one. If a new replica never gets healthy, the new ones go, the old ones
 * keep serving and the spec points back at them. */
static int rollout(struct cass_launch *l, struct cass_error **err)
{
    struct cass_daemon *d = l->d;
    _cleanup_json_ json_t *old = serving_runs(d, l->name, l->run_id);
    int replicas = (int)json_integer_value(json_object_get(l->spec, "replicas"));
    if (cass_launch_record(l, json_pack("{s:s}", "status", "starting"), err) < 0)
        return -1;
    for (int i = 0; i < replicas; i++) {
        if (start_replica(l, i, err) < 0) {
            /* No outage: the new replicas go, the old ones stay where they
             * are (never out of rotation, so no request finds none). */
            cass_rotation_remove_run(d->rotation, l->name, l->run_id);
            /* Cut short by a shutdown, it is resumed at the next start and
             * rolls on from there: the spec stays on it. */
            json_t *o0 = json_array_get(old, 0);
            if (o0 && !atomic_load(cass_lifecycle_cancel(l->lc)))
                cass_store_spec_put(d->store, l->name, "Model",
                                    json_string_value(json_object_get(o0, "revision")),
                                    json_string_value(json_object_get(o0, "id")), NULL);
            return -1;
        }
        /* Then one old replica goes. */
        size_t j;
        json_t *o;
        json_array_foreach(old, j, o)
        {
            const char *oid = json_string_value(json_object_get(o, "id"));
            _cleanup_json_ json_t *cur = NULL;
            const char *cid = first_container(d, oid, &cur);
            if (cid) {
                retire_replica(l->lc, oid, l->name, cid);
                CASS_FAILPOINT("rollout.after-old-replica-stopped");
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
            _cleanup_json_ json_t *cur = NULL;
            const char *cid = first_container(d, oid, &cur);
            if (!cid)
                break;
            retire_replica(l->lc, oid, l->name, cid);
            CASS_FAILPOINT("rollout.after-old-replica-stopped");
        }
        _cleanup_free_ char *why = cass_xasprintf("replaced by %s", l->run_id);
        cass_run_status(d, oid, "stopped", why, NULL);
    }
    _cleanup_free_ char *url =
        cass_xasprintf("%s://%s:%d/models/%s/", cass_daemon_gateway_scheme(d),
                       cass_daemon_config_str(d, "gateway.address"), d->gateway_port, l->name);
    if (cass_launch_record(l, json_pack("{s:s,s:s}", "status", "ready", "url", url), err) < 0)
        return -1;
    /* It serves now: the spec points at it (apply left it at the revision
     * that served while this one launched), unless a newer apply moved it. */
    spec_to_serving(l, old);
    CASS_FAILPOINT("rollout.after-spec-pointer-moved");
    log_info("run %s: model %s ready with %d replicas at %s", l->run_id, l->name, replicas, url);
    return 0;
}

static int model_launch(struct cass_launch *l, struct cass_error **err)
{
    if (artifact_check(l, err) < 0)
        return -1;
    cass_lifecycle_set_rolling(l->lc, l->name, true);
    cass_metric_add(CASS_M_ROLLOUTS_STARTED, 1, l->name);
    _cleanup_json_ json_t *old = serving_runs(l->d, l->name, l->run_id);
    int rc = rollout(l, err);
    cass_lifecycle_set_rolling(l->lc, l->name, false);
    /* rolled_back: the revision before kept serving; failed: there was none. */
    const char *result = rc == 0                                     ? "succeeded"
                         : atomic_load(cass_lifecycle_cancel(l->lc)) ? "interrupted"
                         : json_array_size(old) > 0                  ? "rolled_back"
                                                                     : "failed";
    cass_metric_add(CASS_M_ROLLOUTS_FINISHED, 1, l->name, result);
    return rc;
}

/* Puts running replica cid of a run back in the rotation, healthy or not
 * per one probe now (the health rounds decide from there). */
static int rejoin(struct cass_daemon *d, struct cass_backend *b, const char *name,
                  const char *run_id, const json_t *spec, const char *cid, struct cass_error **err)
{
    int port = (int)json_integer_value(json_object_get(spec, "port"));
    long timeout_ms = health_int(spec, "timeoutSeconds", 1) * 1000;
    struct cass_replica rep = {0};
    snprintf(rep.id, sizeof(rep.id), "%s", cid);
    if (b->ops->endpoint(b, cid, port, rep.host, &rep.port, err) < 0)
        return -1;
    bool ok = probe_health(rep.host, rep.port, health_path(spec), timeout_ms) == 0;
    replica_auth(spec, &rep);
    cass_rotation_add(d->rotation, name, run_id, &rep);
    if (!ok)
        cass_rotation_health(d->rotation, cid, false, 1, cass_now());
    log_info("run %s: replica %.12s of %s back in the rotation%s", run_id, cid, name,
             ok ? "" : " (failing its health check)");
    return 0;
}

/* The running replicas of a ready model, up to its count, back in the
 * rotation before the gateway answers (a daemon restart). What is gone,
 * exited or one too many is left to model_resume, which replaces it. */
static int model_restore(struct cass_lifecycle *lc, const json_t *run)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    struct cass_backend *b = cass_lifecycle_backend(lc);
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    if (strcmp(json_string_value(json_object_get(run, "status")), "ready") != 0)
        return 0;
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *doc = cass_run_doc(d, run, &err);
    const json_t *spec = json_object_get(doc, "spec");
    if (!spec) {
        log_warn("run %s: no spec to restore its replicas from: %s", run_id,
                 err && err->message ? err->message : "?");
        return 0;
    }
    int want = (int)json_integer_value(json_object_get(spec, "replicas"));
    int back = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        const char *cid = json_string_value(c);
        struct cass_workload_state st;
        if (back >= want || !cid || b->ops->state(b, cid, &st, &err) < 0 || !st.exists ||
            !st.running || rejoin(d, b, name, run_id, spec, cid, &err) < 0) {
            if (err)
                log_warn("run %s: replica %.12s of %s not restored: %s", run_id, cid ? cid : "?",
                         name, err->message ? err->message : "?");
            cass_error_free(TAKE_PTR(err));
            continue;
        }
        back++;
    }
    return back;
}

/* Makes a ready model whole, from a launch worker: replicas whose container
 * is gone or exited, or that stayed out of the rotation longer than
 * health.replaceAfterSeconds, are replaced one at a time, after the policy
 * and the artifact were checked again; running ones that are not in the
 * rotation (after a restart) join it, healthy or not (the health checks
 * decide from there). Also the way back in after a restart. */
static int model_resume(struct cass_launch *l, struct cass_error **err)
{
    struct cass_daemon *d = l->d;
    const char *status = json_string_value(json_object_get(l->run, "status"));
    if (cass_store_status_final(status)) {
        cass_run_remove_workloads(d, l->b, l->run);
        return 0;
    }
    if (strcmp(status, "ready") != 0) {
        /* Cut short: the old revision still serves; launch again. */
        cass_run_remove_workloads(d, l->b, l->run);
        if (cass_launch_record(l, json_pack("{s:s,s:[]}", "status", "pending", "containers"), err) <
            0)
            return -1;
        return 1;
    }
    long replace_after = health_int(l->spec, "replaceAfterSeconds", 120);
    int want = (int)json_integer_value(json_object_get(l->spec, "replicas"));
    _cleanup_json_ json_t *containers = json_deep_copy(json_object_get(l->run, "containers"));
    int alive = 0, replaced = 0;
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *cid = json_string_value(c);
        struct cass_workload_state st;
        if (l->b->ops->state(l->b, cid, &st, err) < 0)
            return -1;
        double out = cass_rotation_out_seconds(d->rotation, cid, cass_now());
        const char *why = NULL;
        if (!st.exists || !st.running)
            why = st.exists ? "exited" : "is gone";
        else if (alive >= want)
            why = "is one too many";
        else if (out > replace_after)
            why = "stayed out of the rotation too long";
        if (why) {
            log_warn("run %s: replica %.12s of %s %s; replacing it", l->run_id, cid, l->name, why);
            retire_replica(l->lc, l->run_id, l->name, cid);
            replaced++;
            continue;
        }
        alive++;
        if (out < 0 && rejoin(d, l->b, l->name, l->run_id, l->spec, cid, err) < 0)
            return -1;
    }
    if (alive < want) {
        /* What launches goes through the same checks as any launch. */
        if (cass_launch_policy(l, err) < 0 || cass_launch_image(l, err) < 0 ||
            artifact_check(l, err) < 0)
            return -1;
        for (int k = alive; k < want; k++) {
            if (start_replica(l, k, err) < 0)
                return -1;
        }
    }
    if (replaced > 0) {
        _cleanup_json_ json_t *now = cass_store_run_get(d->store, l->run_id, NULL);
        json_int_t n = json_integer_value(json_object_get(now, "replacements"));
        _cleanup_json_ json_t *ch = json_pack("{s:I}", "replacements", n + replaced);
        cass_run_change(d, l->run_id, ch, NULL, NULL);
    }
    return 0;
}

/* Per-run time of the last health round, so that each model is checked
 * every health.intervalSeconds. */
static struct {
    pthread_mutex_t lock;
    struct {
        char run[40];
        double at;
    } last[256];
} rounds = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool round_due(const char *run_id, double interval, double now)
{
    pthread_mutex_lock(&rounds.lock);
    size_t free_slot = 256, oldest = 0;
    bool due = true;
    for (size_t i = 0; i < 256; i++) {
        if (strcmp(rounds.last[i].run, run_id) == 0) {
            due = now - rounds.last[i].at >= interval;
            if (due)
                rounds.last[i].at = now;
            pthread_mutex_unlock(&rounds.lock);
            return due;
        }
        if (!rounds.last[i].run[0] && free_slot == 256)
            free_slot = i;
        if (rounds.last[i].at < rounds.last[oldest].at)
            oldest = i;
    }
    size_t k = free_slot < 256 ? free_slot : oldest;
    snprintf(rounds.last[k].run, sizeof(rounds.last[k].run), "%s", run_id);
    rounds.last[k].at = now;
    pthread_mutex_unlock(&rounds.lock);
    return due;
}

/* A ready model none of whose replicas is in the gateway's picks says so
 * (degraded: why) as the gateway's 503s do; the mark goes when one answers
 * again. */
static void degraded_mark(struct cass_daemon *d, const json_t *run, int answering)
{
    const char *was = json_string_value(json_object_get(run, "degraded"));
    const char *now = answering > 0 ? NULL
                      : atomic_load(&d->engine_state) == CASS_ENGINE_DOWN
                          ? CASS_REASON_ENGINE_UNAVAILABLE
                          : "no-replica-answers";
    if ((!was && !now) || (was && now && strcmp(was, now) == 0))
        return;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    _cleanup_json_ json_t *ch = json_pack("{s:s?}", "degraded", now);
    if (!now)
        json_object_set_new(ch, "degraded", json_null());
    if (cass_store_run_update(d->store, run_id, ch, NULL, NULL) == 0) {
        if (now)
            log_warn("run %s: no replica of %s answers (%s): the model is degraded", run_id,
                     json_string_value(json_object_get(run, "name")), now);
        else
            log_info("run %s: %s answers again", run_id,
                     json_string_value(json_object_get(run, "name")));
    }
}

/* One health round of a ready model: every member is probed; threshold
 * consecutive failures take it out of the picks, one success brings it
 * back. Anything to replace or put back is handed to a launch worker
 * (model_resume), never done here, so the ticker never waits on a launch. */
static void model_tick(struct cass_lifecycle *lc, const json_t *run)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    if (strcmp(json_string_value(json_object_get(run, "status")), "ready") != 0 ||
        cass_lifecycle_held(lc, run_id) || cass_lifecycle_rolling(lc, name))
        return;
    _cleanup_json_ json_t *doc = cass_run_doc(d, run, NULL);
    const json_t *spec = json_object_get(doc, "spec");
    if (!spec || !round_due(run_id, (double)health_int(spec, "intervalSeconds", 2), cass_now()))
        return;
    int threshold = (int)health_int(spec, "failureThreshold", 3);
    long replace_after = health_int(spec, "replaceAfterSeconds", 120);
    long timeout_ms = health_int(spec, "timeoutSeconds", 1) * 1000;
    int want = (int)json_integer_value(json_object_get(spec, "replicas"));
    struct cass_backend *b = cass_lifecycle_backend(lc);
    bool repair = (int)json_array_size(json_object_get(run, "containers")) != want;
    int answering = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        const char *cid = json_string_value(c);
        struct cass_replica rep;
        if (cass_rotation_get(d->rotation, cid, &rep) < 0) {
            repair = true; /* not in the rotation: put back or replace */
            continue;
        }
        bool ok = probe_health(rep.host, rep.port, health_path(spec), timeout_ms) == 0;
        double out = cass_rotation_health(d->rotation, cid, ok, threshold, cass_now());
        if (out <= 0)
            answering++;
        if (ok)
            continue;
        struct cass_workload_state st;
        if (b->ops->state(b, cid, &st, NULL) == 0 && !st.running) {
            repair = true;
        } else if (out > replace_after) {
            repair = true;
        } else if (out > 0) {
            log_debug("run %s: replica %.12s of %s out of the rotation for %.0f s", run_id, cid,
                      name, out);
        }
    }
    degraded_mark(d, run, answering);
    if (repair && !cass_lifecycle_held(lc, run_id))
        cass_lifecycle_enqueue(lc, run_id, "Model");
}

static void model_died(struct cass_lifecycle *lc, const json_t *run, const char *exit_code)
{
    (void)exit_code;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    if (strcmp(json_string_value(json_object_get(run, "status")), "ready") == 0 &&
        !cass_lifecycle_held(lc, run_id) &&
        !cass_lifecycle_rolling(lc, json_string_value(json_object_get(run, "name"))))
        cass_lifecycle_enqueue(lc, run_id, "Model");
}

const struct cass_kind cass_kind_model = {
    .name = "Model",
    .prepare = model_prepare,
    .launch = model_launch,
    .resume = model_resume,
    .restore = model_restore,
    .tick = model_tick,
    .died = model_died,
};
