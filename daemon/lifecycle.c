/* What happens to specs once applied: the queues and the limits that
 * schedule launches, apply and the other verbs, and the threads (launch
 * workers, job runners, the ticker and the engine watcher). The steps of a
 * launch are in launch.c, what each kind does in kind_*.c, reconcile and
 * the events watcher in reconcile.c. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "failpoint.h"
#include "kind.h"
#include "launch.h"
#include "lifecycle.h"
#include "log.h"
#include "notebook.h"
#include "outputs.h"
#include "policy.h"
#include "reconcile.h"
#include "spec.h"
#include "store.h"
#include "yaml.h"

#define TICK_MS 1000
#define PING_MS 500    /* the pinger's period: with the ping's 1 s timeout, true within 2 s */
#define DISK_PROBE_S 2 /* how often the ticker looks for room on the disk */
#define THREAD_STACK (512u << 10)

/* One queued run. */
struct item {
    char run_id[40];
    char name[64];
    struct item *next;
};

struct queue {
    struct item *head, *tail;
    size_t n;
    size_t idle; /* threads waiting on it */
};

/* What a launch worker or job runner has in hand. */
struct hold {
    char run_id[40];
    char name[64];
};

struct cass_lifecycle {
    struct cass_daemon *d;
    struct cass_backend *backend;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct queue launches; /* notebooks, models, repairs: limits.maxConcurrentLaunches workers */
    struct queue jobs;     /* jobs: limits.maxRunningJobs runners */
    struct hold *held;     /* one per thread of the two pools */
    size_t n_held;
    size_t slots, slots_used; /* runs being created and started */
    pthread_cond_t slot_cond;
    char (*rolling)[64];
    size_t n_rolling;
    bool stopping;
    atomic_int cancel;
    pthread_mutex_t apply_lock;
    pthread_t *threads;
    size_t n_threads, n_workers, n_runners;
    pthread_t ticker, watcher, pinger;
    bool ticker_started, watcher_started, pinger_started;
    bool reconcile_due; /* the ticker's: after the disk had room again */
    struct cass_hashcache *hashcache;
};

struct cass_daemon *cass_lifecycle_daemon(struct cass_lifecycle *lc)
{
    return lc->d;
}

struct cass_backend *cass_lifecycle_backend(struct cass_lifecycle *lc)
{
    return lc->backend;
}

const atomic_int *cass_lifecycle_cancel(struct cass_lifecycle *lc)
{
    return &lc->cancel;
}

int cass_lifecycle_nap(struct cass_lifecycle *lc, long ms)
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

json_t *cass_lifecycle_hash_tree(struct cass_lifecycle *lc, const char *dir, const char *prefix,
                                 struct cass_error **err)
{
    json_t *m = cass_outputs_manifest_parallel(dir, prefix, lc->hashcache, 0, err);
    _cleanup_error_ struct cass_error *cerr =
        lc->hashcache ? cass_hashcache_take_error(lc->hashcache) : NULL;
    if (cerr)
        log_warn("input hash cache: %s (hashing without it where it failed)", cerr->message);
    return m;
}

/* The cache of input hashes: a speed-up only, so one that cannot be
 * opened is made again, and failing that the daemon hashes without it. */
static struct cass_hashcache *hashcache_open(struct cass_daemon *d)
{
    _cleanup_free_ char *path =
        cass_xasprintf("%s/%s", cass_daemon_config_str(d, "stateDir"), CASS_HASHCACHE_FILE);
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_hashcache *c = cass_hashcache_open(path, &err);
    if (!c && unlink(path) == 0) {
        log_warn("input hash cache %s: %s; starting a new one", path, err->message);
        cass_error_free(TAKE_PTR(err));
        c = cass_hashcache_open(path, &err);
    }
    if (!c)
        log_warn("input hash cache %s: %s; inputs are hashed in full every time", path,
                 err->message);
    return c;
}

/* ---- slots ------------------------------------------------------------------- */

void cass_lifecycle_slot_acquire(struct cass_lifecycle *lc)
{
    pthread_mutex_lock(&lc->lock);
    while (lc->slots_used >= lc->slots && !lc->stopping)
        pthread_cond_wait(&lc->slot_cond, &lc->lock);
    lc->slots_used++;
    pthread_mutex_unlock(&lc->lock);
}

void cass_lifecycle_slot_release(struct cass_lifecycle *lc)
{
    pthread_mutex_lock(&lc->lock);
    if (lc->slots_used > 0)
        lc->slots_used--;
    pthread_cond_signal(&lc->slot_cond);
    pthread_mutex_unlock(&lc->lock);
}

/* ---- rollouts ---------------------------------------------------------------- */

bool cass_lifecycle_rolling(struct cass_lifecycle *lc, const char *name)
{
    bool busy = false;
    pthread_mutex_lock(&lc->lock);
    for (size_t i = 0; i < lc->n_rolling && !busy; i++)
        busy = strcmp(lc->rolling[i], name) == 0;
    pthread_mutex_unlock(&lc->lock);
    return busy;
}

void cass_lifecycle_set_rolling(struct cass_lifecycle *lc, const char *name, bool on)
{
    pthread_mutex_lock(&lc->lock);
    for (size_t i = 0; i < lc->n_rolling; i++) {
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

/* ---- queues ------------------------------------------------------------------ */

static bool queued_in(const struct queue *q, const char *run_id)
{
    for (const struct item *it = q->head; it; it = it->next)
        if (strcmp(it->run_id, run_id) == 0)
            return true;
    return false;
}

static bool held_locked(struct cass_lifecycle *lc, const char *run_id)
{
    if (queued_in(&lc->launches, run_id) || queued_in(&lc->jobs, run_id))
        return true;
    for (size_t i = 0; i < lc->n_held; i++)
        if (strcmp(lc->held[i].run_id, run_id) == 0)
            return true;
    return false;
}

bool cass_lifecycle_held(struct cass_lifecycle *lc, const char *run_id)
{
    pthread_mutex_lock(&lc->lock);
    bool h = held_locked(lc, run_id);
    pthread_mutex_unlock(&lc->lock);
    return h;
}

/* Only the launch workers' holds count: a job runs beside its own kind. */
static bool name_held(struct cass_lifecycle *lc, const char *name)
{
    for (size_t i = 0; i < lc->n_workers; i++)
        if (strcmp(lc->held[i].name, name) == 0)
            return true;
    return false;
}

void cass_lifecycle_enqueue(struct cass_lifecycle *lc, const char *run_id, const char *kind_name)
{
    const struct cass_kind *kind = cass_kind_find(kind_name);
    bool job = kind && kind->runs_to_completion;
    struct item *it = calloc(1, sizeof(*it));
    if (!it) {
        log_error("out of memory queueing run %s", run_id);
        return;
    }
    snprintf(it->run_id, sizeof(it->run_id), "%s", run_id);
    _cleanup_json_ json_t *run = cass_store_run_get(lc->d->store, run_id, NULL);
    snprintf(it->name, sizeof(it->name), "%s",
             run ? json_string_value(json_object_get(run, "name")) : "");
    pthread_mutex_lock(&lc->lock);
    struct queue *q = job ? &lc->jobs : &lc->launches;
    if (held_locked(lc, run_id)) {
        pthread_mutex_unlock(&lc->lock);
        free(it);
        return;
    }
    bool waits = q->n >= q->idle;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    pthread_cond_broadcast(&lc->cond);
    pthread_mutex_unlock(&lc->lock);
    const char *st = json_string_value(json_object_get(run, "status"));
    /* Only a pending run becomes queued; a worker may have taken it already. */
    if (waits && st && strcmp(st, "pending") == 0) {
        _cleanup_json_ json_t *ch = json_pack("{s:s,s:s}", "status", "queued", "reason",
                                              job ? "waiting for a job slot (limits.maxRunningJobs)"
                                                  : "waiting for a launch slot");
        _cleanup_json_ json_t *now = NULL;
        /* The store refuses the change if a worker moved it on meanwhile. */
        _cleanup_json_ json_t *cur = cass_store_run_get(lc->d->store, run_id, NULL);
        if (strcmp(json_string_value(json_object_get(cur, "status")), "pending") == 0)
            cass_run_change(lc->d, run_id, ch, NULL, NULL);
    }
}

/* The first item a thread of this pool may take: for launches, not one
 * whose name another launch has in hand (one launch per name at a time, so
 * that concurrent applies of one name end with one set of containers). */
static struct item *take(struct cass_lifecycle *lc, struct queue *q, bool per_name)
{
    struct item **p = &q->head, *prev = NULL;
    for (; *p; prev = *p, p = &(*p)->next) {
        if (per_name && name_held(lc, (*p)->name))
            continue;
        struct item *it = *p;
        *p = it->next;
        if (q->tail == it)
            q->tail = prev;
        q->n--;
        return it;
    }
    return NULL;
}

struct pool_arg {
    struct cass_lifecycle *lc;
    size_t index; /* into lc->held */
    bool jobs;
};

static void *pool_main(void *arg)
{
    struct pool_arg *pa = arg;
    struct cass_lifecycle *lc = pa->lc;
    struct queue *q = pa->jobs ? &lc->jobs : &lc->launches;
    struct hold *h = &lc->held[pa->index];
    pthread_mutex_lock(&lc->lock);
    for (;;) {
        struct item *it = NULL;
        q->idle++;
        while (!lc->stopping && !(it = take(lc, q, !pa->jobs)))
            pthread_cond_wait(&lc->cond, &lc->lock);
        q->idle--;
        if (lc->stopping) {
            free(it);
            break;
        }
        snprintf(h->run_id, sizeof(h->run_id), "%s", it->run_id);
        snprintf(h->name, sizeof(h->name), "%s", it->name);
        pthread_mutex_unlock(&lc->lock);

        cass_launch_run(lc, it->run_id);
        free(it);

        pthread_mutex_lock(&lc->lock);
        h->run_id[0] = h->name[0] = '\0';
        /* A name became free: a launch held back for it may go now. */
        pthread_cond_broadcast(&lc->cond);
    }
    pthread_mutex_unlock(&lc->lock);
    free(pa);
    return NULL;
}

long cass_lifecycle_queue_position(struct cass_lifecycle *lc, const char *run_id)
{
    long pos = 0;
    pthread_mutex_lock(&lc->lock);
    for (int k = 0; k < 2; k++) {
        long i = 1;
        for (struct item *it = (k ? lc->jobs : lc->launches).head; it; it = it->next, i++)
            if (strcmp(it->run_id, run_id) == 0)
                pos = i;
    }
    pthread_mutex_unlock(&lc->lock);
    return pos;
}

void cass_lifecycle_stats(struct cass_lifecycle *lc, struct cass_lifecycle_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    pthread_mutex_lock(&lc->lock);
    ret->launch_queue = lc->launches.n;
    ret->job_queue = lc->jobs.n;
    ret->launching = lc->slots_used;
    ret->max_launches = lc->slots;
    ret->max_running_jobs = lc->n_runners;
    for (size_t i = 0; i < lc->n_held; i++)
        if (lc->held[i].run_id[0] && i >= lc->n_workers)
            ret->running_jobs++;
    pthread_mutex_unlock(&lc->lock);
}

/* ---- events ------------------------------------------------------------------- */

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
    struct cass_audit_entry e = {.actor = "cassinyd",
                                 .owner = json_string_value(json_object_get(run, "owner")),
                                 .action = "run",
                                 .target = json_string_value(json_object_get(run, "id")),
                                 .detail = detail};
    if (cass_store_audit_add(d->store, &e, &err) < 0)
        log_warn("event for run: %s", err->message);
    pthread_mutex_lock(&d->events_lock);
    d->events_seq++;
    pthread_cond_broadcast(&d->events_cond);
    pthread_mutex_unlock(&d->events_lock);
}

/* ---- apply, stop, delete ---------------------------------------------------- */

/* A workspace that names a volume someone else made is refused here, with
 * its line, as well as at every launch (the volume may appear later). An
 * engine that does not answer now leaves it to the launch. */
static void workspace_check(struct cass_daemon *d, const json_t *s, struct cass_error **perr)
{
    const json_t *doc = json_object_get(s, "spec");
    const char *ws = json_string_value(json_object_get(json_object_get(doc, "spec"), "workspace"));
    struct cass_backend *b = d->lifecycle ? cass_lifecycle_backend(d->lifecycle) : NULL;
    if (!ws || !b || !b->ops->volume_check)
        return;
    const char *name = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
    _cleanup_error_ struct cass_error *verr = NULL;
    if (b->ops->volume_check(b, ws, name, &verr) == 0 || verr->kind != CASS_ERR_FORBIDDEN)
        return;
    int line, col;
    cass_yaml_pos_lookup(json_object_get(s, "pos"), "spec.workspace", 0, &line, &col);
    const char *msg = verr->message;
    if (!strncmp(msg, "spec.workspace: ", 16))
        msg += 16;
    cass_error_add_item(perr, "spec.workspace", line, col, "%s", msg);
}

/* Every spec judged as apply would: the whole policy, then what the host
 * adds to the document (a model's artifact hash), and the canonical text
 * and revision made again from the result. A dry run stops here, so its
 * answer and its revision are apply's. */
static int judge(struct cass_daemon *d, json_t *specs, const struct cass_principal *who,
                 struct cass_error **err)
{
    /* Names are one namespace: a live spec of another user's is not for
     * this caller to change (nor to learn more of than that it exists). */
    struct cass_error *oerr = NULL;
    size_t j;
    json_t *sp;
    json_array_foreach(specs, j, sp)
    {
        const char *name = json_string_value(json_object_get(sp, "name"));
        _cleanup_json_ json_t *cur = cass_store_spec_get(d->store, name, NULL);
        if (!cur || !who ||
            cass_auth_allows(who, json_string_value(json_object_get(cur, "owner")),
                             CASS_SCOPE_WRITE))
            continue;
        int line, col;
        cass_yaml_pos_lookup(json_object_get(sp, "pos"), "metadata.name", 0, &line, &col);
        cass_error_add_item(&oerr, "metadata.name", line, col,
                            "the name %s is taken by another user's spec: choose another", name);
    }
    if (oerr) {
        oerr->kind = CASS_ERR_CONFLICT;
        free(oerr->message);
        oerr->message = strdup("a name is taken");
        cass_error_merge(err, &oerr);
        return -1;
    }
    _cleanup_json_ json_t *policy = cass_daemon_policy(d);
    size_t i;
    json_t *s;
    struct cass_error *perr = NULL;
    json_array_foreach(specs, i, s)
    {
        struct cass_error *one = NULL;
        if (cass_policy_check(policy, cass_daemon_config_str(d, "dockerHost"),
                              json_object_get(s, "spec"), json_object_get(s, "pos"), &one) < 0)
            cass_error_merge(&perr, &one);
        workspace_check(d, s, &perr);
    }
    if (perr) {
        perr->kind = CASS_ERR_FORBIDDEN;
        free(perr->message);
        perr->message = strdup("refused by the daemon's policy");
        cass_error_merge(err, &perr);
        return -1;
    }
    struct cass_error *aerr = NULL;
    json_array_foreach(specs, i, s)
    {
        const struct cass_kind *kind =
            cass_kind_find(json_string_value(json_object_get(s, "kind")));
        json_t *doc = json_object_get(s, "spec");
        if (!kind || !kind->prepare)
            continue;
        if (kind->prepare(doc, (int)json_integer_value(json_object_get(s, "line")), &aerr) < 0)
            continue;
        _cleanup_free_ char *canonical = cass_spec_canonical(doc);
        _cleanup_free_ char *revision = cass_spec_revision(doc);
        json_object_set_new(s, "canonical", json_string(canonical));
        json_object_set_new(s, "revision", json_string(revision));
    }
    if (aerr) {
        cass_error_merge(err, &aerr);
        return -1;
    }
    return 0;
}

json_t *cass_lifecycle_dry_run(struct cass_daemon *d, const json_t *specs_in,
                               const struct cass_principal *who, struct cass_error **err)
{
    _cleanup_json_ json_t *specs = json_deep_copy(specs_in);
    if (!specs) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (judge(d, specs, who, err) < 0)
        return NULL;
    json_t *list = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        _cleanup_json_ json_t *cur =
            cass_store_spec_get(d->store, json_string_value(json_object_get(s, "name")), NULL);
        const char *cur_rev = json_string_value(json_object_get(cur, "revision"));
        json_array_append_new(
            list, json_pack("{s:O,s:O,s:O,s:O,s:O,s:b}", "kind", json_object_get(s, "kind"), "name",
                            json_object_get(s, "name"), "revision", json_object_get(s, "revision"),
                            "line", json_object_get(s, "line"), "spec", json_object_get(s, "spec"),
                            "changed",
                            !cur_rev || strcmp(cur_rev, json_string_value(
                                                            json_object_get(s, "revision"))) != 0));
    }
    return json_pack("{s:b,s:o}", "dryRun", 1, "specs", list);
}

/* A new run of name replaces what has not started launching yet: older
 * runs still pending or queued are stopped before they make anything (a
 * job's runs run beside each other). */
static void supersede(struct cass_daemon *d, const char *name, const char *kind_name,
                      const char *new_id)
{
    const struct cass_kind *kind = cass_kind_find(kind_name);
    if (kind && kind->runs_to_completion)
        return;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *st = json_string_value(json_object_get(r, "status"));
        if (strcmp(json_string_value(json_object_get(r, "name")), name) != 0 ||
            strcmp(id, new_id) == 0 || (strcmp(st, "pending") != 0 && strcmp(st, "queued") != 0))
            continue;
        _cleanup_free_ char *why = cass_xasprintf("superseded by %s", new_id);
        cass_run_status(d, id, "stopped", why, NULL);
    }
}

/* New work is refused while the state directory is full: what it would
 * start could not be recorded. */
static int refuse_when_full(struct cass_daemon *d, struct cass_error **err)
{
    if (!cass_store_full(d->store))
        return 0;
    return cass_error_set(err, CASS_ERR_NOSPACE,
                          "the state directory %s is full: new work is refused until it has "
                          "room again (the daemon checks every %d s)",
                          cass_daemon_config_str(d, "stateDir"), DISK_PROBE_S);
}

/* An active run of name at revision that has not served yet (a Model's new
 * revision waiting while the old one serves); caller owns. */
static json_t *waiting_run(struct cass_daemon *d, const char *name, const char *rev)
{
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0 &&
            strcmp(json_string_value(json_object_get(r, "revision")), rev) == 0 &&
            strcmp(json_string_value(json_object_get(r, "status")), "ready") != 0)
            return json_incref(r);
    }
    return NULL;
}

json_t *cass_lifecycle_apply(struct cass_daemon *d, const json_t *specs_in,
                             const struct cass_principal *who, struct cass_error **err)
{
    struct cass_principal local;
    if (!who) {
        cass_auth_local(&local, (unsigned)getuid());
        who = &local;
    }
    struct cass_lifecycle *lc = d->lifecycle;
    if (refuse_when_full(d, err) < 0)
        return NULL;
    _cleanup_json_ json_t *specs = json_deep_copy(specs_in);
    if (!specs) {
        cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (judge(d, specs, who, err) < 0)
        return NULL;

    pthread_mutex_lock(&lc->apply_lock);
    /* One transaction for the whole file: its revisions, specs and runs are
     * all stored or none is (a crash or a full disk halfway leaves nothing
     * to run without a spec). */
    if (cass_store_tx_begin(d->store, err) < 0) {
        pthread_mutex_unlock(&lc->apply_lock);
        return NULL;
    }
    json_t *out = json_array();
    json_t *to_launch = json_array();
    int rc = 0;
    size_t i;
    json_t *s;
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
        CASS_FAILPOINT("apply.after-revision");
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
        /* A Model's spec points at the revision that serves: a new one
         * takes it over when it is ready (rollout), so while it waits the
         * same apply finds it rather than making another. */
        bool serving = false;
        if (strcmp(kind, "Model") == 0 && cur_run) {
            if ((run = waiting_run(d, name, rev))) {
                json_array_append_new(out,
                                      json_pack("{s:s,s:s,s:s,s:b,s:O}", "name", name, "kind", kind,
                                                "revision", rev, "changed", 0, "run", run));
                continue;
            }
            _cleanup_json_ json_t *cr = cass_store_run_get(d->store, cur_run, NULL);
            serving = strcmp(json_string_value(json_object_get(cr, "status")) ?: "", "ready") == 0;
        }
        /* A new spec (or one deleted before) is the caller's; an existing
         * one keeps its owner, whoever (an admin) applies it. */
        const char *owner = cur ? json_string_value(json_object_get(cur, "owner")) : who->user;
        _cleanup_json_ json_t *proto =
            json_pack("{s:s,s:s,s:s,s:{s:s},s:s}", "name", name, "kind", kind, "revision", rev,
                      "image", "ref",
                      json_string_value(json_object_get(
                          json_object_get(json_object_get(s, "spec"), "spec"), "image")),
                      "owner", owner);
        if (cass_store_run_insert(d->store, proto, &run, err) < 0) {
            rc = -1;
            break;
        }
        cass_lifecycle_emit(d, run);
        CASS_FAILPOINT("apply.after-run-stored");
        /* A Model's spec stays on the revision that serves until the new
         * one takes over (kind_model.c). */
        if (!serving &&
            cass_store_spec_put(d->store, name, kind, rev,
                                json_string_value(json_object_get(run, "id")), err) < 0) {
            rc = -1;
            break;
        }
        if (!cur && cass_store_spec_owner_set(d->store, name, owner, err) < 0) {
            rc = -1;
            break;
        }
        CASS_FAILPOINT("apply.after-spec-stored");
        supersede(d, name, kind, json_string_value(json_object_get(run, "id")));
        json_array_append_new(
            to_launch, json_pack("{s:O,s:s}", "id", json_object_get(run, "id"), "kind", kind));
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:b,s:O}", "name", name, "kind", kind,
                                             "revision", rev, "changed", 1, "run", run));
    }
    CASS_FAILPOINT("apply.before-commit");
    if (rc == 0)
        rc = cass_store_tx_commit(d->store, err);
    else
        cass_store_tx_rollback(d->store);
    if (rc < 0)
        json_array_clear(to_launch);
    pthread_mutex_unlock(&lc->apply_lock);
    json_t *one;
    json_array_foreach(to_launch, i, one)
    {
        cass_lifecycle_enqueue(lc, json_string_value(json_object_get(one, "id")),
                               json_string_value(json_object_get(one, "kind")));
    }
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
        if (cass_run_status(d, run_id, "stopped", reason, &serr) < 0 &&
            serr->kind != CASS_ERR_CONFLICT) {
            cass_error_merge(err, &serr);
            return -1;
        }
        struct cass_backend *b = d->lifecycle->backend;
        const char *kind = json_string_value(json_object_get(run, "kind"));
        const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
        if (strcmp(kind, "Job") == 0 && cid) {
            /* Its worker (or a new one) records the exit and the outputs. */
            _cleanup_error_ struct cass_error *kerr = NULL;
            if (b->ops->stop_loses_logs)
                (void)cass_run_keep_log(d, b, run_id, cid);
            if (b->ops->stop(b, cid, CASS_STOP_TIMEOUT_S, &kerr) < 0)
                log_warn("stop %.12s: %s", cid, kerr->message);
            if (!cass_lifecycle_held(d->lifecycle, run_id))
                cass_lifecycle_enqueue(d->lifecycle, run_id, kind);
        } else {
            cass_run_remove_workloads(d, b, run);
        }
        log_info("run %s stopped: %s", run_id, reason);
    }
    if (ret_run)
        *ret_run = cass_store_run_get(d->store, run_id, err);
    return 0;
}

json_t *cass_lifecycle_reproduce(struct cass_daemon *d, const char *run_id, struct cass_error **err)
{
    if (refuse_when_full(d, err) < 0)
        return NULL;
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
    cass_lifecycle_enqueue(d->lifecycle, json_string_value(json_object_get(run, "id")), kind);
    log_info("run %s reproduces %s", json_string_value(json_object_get(run, "id")), run_id);
    return run;
}

/* A new run of name at revision rev, the spec moved to it with the run in
 * one transaction, then queued. With expect_run, only while the spec still
 * points at that run (CONFLICT otherwise: someone else moved it first).
 * Returns the new run (caller owns). */
static json_t *launch_revision(struct cass_daemon *d, const char *name, const char *kind,
                               const char *target, const char *expect_run, struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    pthread_mutex_lock(&lc->apply_lock);
    if (expect_run) {
        _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, name, err);
        const char *cur = json_string_value(json_object_get(spec, "runId"));
        if (!spec || !cur || strcmp(cur, expect_run) != 0) {
            pthread_mutex_unlock(&lc->apply_lock);
            if (spec)
                cass_error_set(err, CASS_ERR_CONFLICT, "%s has a newer run than %s", name,
                               expect_run);
            return NULL;
        }
    }
    _cleanup_json_ json_t *proto =
        json_pack("{s:s,s:s,s:s,s:{}}", "name", name, "kind", kind, "revision", target, "image");
    _cleanup_json_ json_t *rev = cass_store_revision_get(d->store, target, err);
    json_t *run = NULL;
    if (rev) {
        json_object_set_new(json_object_get(proto, "image"), "ref",
                            json_string(json_string_value(json_object_get(
                                json_object_get(json_object_get(rev, "spec"), "spec"), "image"))));
        /* The run and the spec's move to it together, or neither. */
        if (cass_store_tx_begin(d->store, err) == 0) {
            bool ok = cass_store_run_insert(d->store, proto, &run, err) == 0;
            if (ok) {
                supersede(d, name, kind, json_string_value(json_object_get(run, "id")));
                ok = cass_store_spec_put(d->store, name, kind, target,
                                         json_string_value(json_object_get(run, "id")), err) == 0;
            }
            if (ok)
                ok = cass_store_tx_commit(d->store, err) == 0;
            else
                cass_store_tx_rollback(d->store);
            if (!ok) {
                json_decref(run);
                run = NULL;
            }
        }
    }
    pthread_mutex_unlock(&lc->apply_lock);
    if (!run)
        return NULL;
    cass_lifecycle_emit(d, run);
    cass_lifecycle_enqueue(lc, json_string_value(json_object_get(run, "id")), kind);
    return run;
}

json_t *cass_lifecycle_wake(struct cass_daemon *d, const char *name, const char *run_id,
                            struct cass_error **err)
{
    if (refuse_when_full(d, err) < 0)
        return NULL;
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, name, err);
    if (!spec)
        return NULL;
    const char *rev = json_string_value(json_object_get(spec, "revision"));
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    json_t *run = launch_revision(d, name, kind, rev, run_id, err);
    if (run)
        log_info("%s: woken after idle culling (run %s replaces %s)", name,
                 json_string_value(json_object_get(run, "id")), run_id);
    return run;
}

json_t *cass_lifecycle_rollback(struct cass_daemon *d, const char *name, const char *to,
                                struct cass_error **err)
{
    if (refuse_when_full(d, err) < 0)
        return NULL;
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
    json_t *run = launch_revision(d, name, kind, target, NULL, err);
    if (!run)
        return NULL;
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
        if (ws && lc->backend->ops->volume_remove(lc->backend, ws, err) < 0) {
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

/* ---- threads ------------------------------------------------------------------ */

static void engine_waits(struct cass_lifecycle *lc, bool up);
static void disk_check(struct cass_lifecycle *lc);

/* Periodic work of the kinds on every live run (culling, health), of the
 * runs that wait for the engine, and the room on the disk. */
static void *ticker_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    unsigned n = 0;
    while (!cass_lifecycle_nap(lc, TICK_MS)) {
        if (n++ % (DISK_PROBE_S * 1000 / TICK_MS) == 0)
            disk_check(lc);
        if (cass_store_full(lc->d->store))
            continue;
        engine_waits(lc, atomic_load(&lc->d->engine_state) == CASS_ENGINE_UP);
        _cleanup_json_ json_t *active = cass_store_runs_active(lc->d->store, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(active, i, r)
        {
            const struct cass_kind *kind =
                cass_kind_find(json_string_value(json_object_get(r, "kind")));
            if (kind && kind->tick)
                kind->tick(lc, r);
            if (atomic_load(&lc->cancel))
                break;
        }
    }
    return NULL;
}

/* Runs that wait for the engine (launch.c): queued again once it answers,
 * failed once they waited longer than limits.engineWaitSeconds. */
static void engine_waits(struct cass_lifecycle *lc, bool up)
{
    struct cass_daemon *d = lc->d;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    json_int_t limit = cass_daemon_config_int(d, "limits.engineWaitSeconds");
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *reason = json_string_value(json_object_get(r, "reason"));
        if (strcmp(json_string_value(json_object_get(r, "status")), "pending") != 0 || !reason ||
            strcmp(reason, CASS_REASON_ENGINE_UNAVAILABLE) != 0 || cass_lifecycle_held(lc, id))
            continue;
        if (up) {
            cass_lifecycle_enqueue(lc, id, json_string_value(json_object_get(r, "kind")));
            continue;
        }
        double since = cass_now();
        const char *s = json_string_value(json_object_get(r, "engineWaitSince"));
        if (s)
            cass_notebook_parse_time(s, &since);
        if (cass_now() - since < (double)limit)
            continue;
        _cleanup_free_ char *msg = cass_xasprintf(
            "the engine did not answer for %lld s (limits.engineWaitSeconds); apply the spec "
            "again once it does",
            (long long)limit);
        cass_run_fail(d, id, CASS_REASON_ENGINE_UNAVAILABLE, msg);
    }
}

/* Room on the disk: probed while the store is marked full (or nearly so);
 * when it comes back, the reconcile finishes what waited for it (a job that
 * ended meanwhile gets its end and its logs). */
static void disk_check(struct cass_lifecycle *lc)
{
    struct cass_daemon *d = lc->d;
    bool was = cass_store_full(d->store);
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_store_probe(d->store, cass_daemon_config_str(d, "stateDir"), &err) < 0) {
        if (!was)
            log_warn("the state directory is full (%s): new work is refused until it has room",
                     err ? err->message : "?");
        return;
    }
    if (was) {
        log_info("the state directory has room again: finishing what waited for it");
        lc->reconcile_due = true;
    }
    if (lc->reconcile_due && atomic_load(&d->engine_state) == CASS_ENGINE_UP) {
        if (cass_reconcile(d, &err) < 0)
            log_warn("reconcile after the full disk: %s", err->message);
        else
            lc->reconcile_due = false;
    }
}

/* The engine's state for /healthz and /metrics, true within two seconds:
 * a ping every PING_MS, on its own thread so that a hanging engine (or a
 * busy store) holds up nothing else. */
static void *pinger_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    struct cass_daemon *d = lc->d;
    do {
        _cleanup_error_ struct cass_error *err = NULL;
        int now =
            lc->backend->ops->ping(lc->backend, &err) == 0 ? CASS_ENGINE_UP : CASS_ENGINE_DOWN;
        int was = atomic_exchange(&d->engine_state, now);
        if (was == CASS_ENGINE_DOWN && now == CASS_ENGINE_UP) {
            atomic_fetch_add(&d->engine_reconnects, 1);
            log_info("the engine answers again");
        } else if (was != CASS_ENGINE_DOWN && now == CASS_ENGINE_DOWN) {
            log_warn("the engine does not answer: %s", err ? err->message : "?");
        }
    } while (!cass_lifecycle_nap(lc, PING_MS));
    return NULL;
}

static int start_thread(struct cass_lifecycle *lc, pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    int rc = pthread_create(t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    (void)lc;
    return rc;
}

int cass_lifecycle_start(struct cass_daemon *d, struct cass_error **err)
{
    /* main chose the backend from the engine key (and, for auto, /info). */
    const char *name = d->backend ? d->backend : cass_daemon_config_str(d, "engine");
    struct cass_backend *b = cass_backend_new(d, name, err);
    return b ? cass_lifecycle_start_with(d, b, err) : -1;
}

int cass_lifecycle_start_with(struct cass_daemon *d, struct cass_backend *backend,
                              struct cass_error **err)
{
    struct cass_lifecycle *lc = calloc(1, sizeof(*lc));
    if (!lc) {
        cass_backend_free(backend);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    lc->d = d;
    pthread_mutex_init(&lc->lock, NULL);
    pthread_cond_init(&lc->cond, NULL);
    pthread_cond_init(&lc->slot_cond, NULL);
    pthread_mutex_init(&lc->apply_lock, NULL);
    lc->backend = backend;
    lc->hashcache = hashcache_open(d);
    json_int_t launches = cass_daemon_config_int(d, "limits.maxConcurrentLaunches");
    json_int_t jobs = cass_daemon_config_int(d, "limits.maxRunningJobs");
    lc->slots = launches > 0 ? (size_t)launches : 4;
    lc->n_workers = lc->slots;
    lc->n_runners = jobs > 0 ? (size_t)jobs : 4;
    lc->n_held = lc->n_workers + lc->n_runners;
    lc->n_rolling = lc->n_workers + 1;
    lc->held = calloc(lc->n_held, sizeof(*lc->held));
    lc->rolling = calloc(lc->n_rolling, sizeof(*lc->rolling));
    lc->threads = calloc(lc->n_held, sizeof(*lc->threads));
    if (!lc->held || !lc->rolling || !lc->threads) {
        free(lc->held);
        free(lc->rolling);
        free(lc->threads);
        cass_backend_free(lc->backend);
        cass_hashcache_close(lc->hashcache);
        free(lc);
        return cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    d->lifecycle = lc;
    for (size_t i = 0; i < lc->n_held; i++) {
        struct pool_arg *pa = malloc(sizeof(*pa));
        if (!pa)
            abort();
        *pa = (struct pool_arg){.lc = lc, .index = i, .jobs = i >= lc->n_workers};
        if (start_thread(lc, &lc->threads[i], pool_main, pa) != 0) {
            free(pa);
            cass_lifecycle_stop(d);
            return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start worker threads");
        }
        lc->n_threads++;
    }
    lc->watcher_started = start_thread(lc, &lc->watcher, cass_reconcile_watcher_main, lc) == 0;
    lc->ticker_started = start_thread(lc, &lc->ticker, ticker_main, lc) == 0;
    lc->pinger_started = start_thread(lc, &lc->pinger, pinger_main, lc) == 0;
    if (!lc->watcher_started || !lc->ticker_started || !lc->pinger_started) {
        cass_lifecycle_stop(d);
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start lifecycle threads");
    }
    log_info("launches: %zu at a time; jobs: %zu running at a time; engine backend: %s", lc->slots,
             lc->n_runners, lc->backend->ops->name);
    return 0;
}

static void queue_clear(struct queue *q)
{
    while (q->head) {
        struct item *it = q->head;
        q->head = it->next;
        free(it);
    }
    q->tail = NULL;
    q->n = 0;
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
    pthread_cond_broadcast(&lc->slot_cond);
    pthread_mutex_unlock(&lc->lock);
    for (size_t i = 0; i < lc->n_threads; i++)
        pthread_join(lc->threads[i], NULL);
    if (lc->watcher_started)
        pthread_join(lc->watcher, NULL);
    if (lc->ticker_started)
        pthread_join(lc->ticker, NULL);
    if (lc->pinger_started)
        pthread_join(lc->pinger, NULL);
    queue_clear(&lc->launches);
    queue_clear(&lc->jobs);
    cass_backend_free(lc->backend);
    cass_hashcache_close(lc->hashcache);
    free(lc->held);
    free(lc->rolling);
    free(lc->threads);
    pthread_mutex_destroy(&lc->lock);
    pthread_cond_destroy(&lc->cond);
    pthread_cond_destroy(&lc->slot_cond);
    pthread_mutex_destroy(&lc->apply_lock);
    free(lc);
    d->lifecycle = NULL;
}

pthread_mutex_t *cass_lifecycle_apply_lock(struct cass_lifecycle *lc)
{
    return &lc->apply_lock;
}
