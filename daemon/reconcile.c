#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "failpoint.h"
#include "kind.h"
#include "launch.h"
#include "lifecycle.h"
#include "log.h"
#include "protocol.h"
#include "reconcile.h"
#include "store.h"

static bool listed(const json_t *run, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        if (json_is_string(c) && strcmp(json_string_value(c), id) == 0)
            return true;
    }
    return false;
}

static const json_t *find_run(const json_t *active, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0)
            return r;
    }
    return NULL;
}

int cass_reconcile(struct cass_daemon *d, struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    struct cass_backend *b = cass_lifecycle_backend(lc);
    const char *const filter[] = {CASS_LABEL_RUN, d->instance_label, NULL};
    _cleanup_free_ struct cass_workload_ref *refs = NULL;
    size_t n = 0;
    if (b->ops->list(b, filter, &refs, &n, err) < 0)
        return -1;
    CASS_FAILPOINT("reconcile.after-listing");
    pthread_mutex_t *lock = cass_lifecycle_apply_lock(lc);
    pthread_mutex_lock(lock);
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, err);
    if (!active) {
        pthread_mutex_unlock(lock);
        return -1;
    }
    /* Workloads first: every one is kept by a live run that lists it, or
     * goes (logs kept). Runs a thread has in hand are that thread's. */
    for (size_t i = 0; i < n; i++) {
        const json_t *run = find_run(active, refs[i].run);
        if (run && (listed(run, refs[i].id) || cass_lifecycle_held(lc, refs[i].run)))
            continue;
        log_warn("removing container %.12s of run %s: %s", refs[i].id, refs[i].run,
                 run ? "the run does not list it (made just before a crash)"
                     : "no live run owns it");
        cass_run_remove_workload(d, b, refs[i].run, refs[i].name[0] ? refs[i].name : NULL,
                                 refs[i].id);
        CASS_FAILPOINT("reconcile.after-removal");
    }
    /* Then runs: the launch path resumes each by its kind's rules. */
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (cass_lifecycle_held(lc, id))
            continue;
        cass_lifecycle_enqueue(lc, id, json_string_value(json_object_get(r, "kind")));
    }
    pthread_mutex_unlock(lock);
    return 0;
}

int cass_reconcile_restore(struct cass_daemon *d, struct cass_error **err)
{
    struct cass_lifecycle *lc = d->lifecycle;
    struct cass_backend *b = cass_lifecycle_backend(lc);
    if (b->ops->ping(b, err) < 0)
        return -1;
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, err);
    if (!active)
        return -1;
    int back = 0;
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const struct cass_kind *kind =
            cass_kind_find(json_string_value(json_object_get(r, "kind")));
        if (kind && kind->restore)
            back += kind->restore(lc, r);
    }
    return back;
}

static int on_event(const struct cass_backend_event *ev, void *ud)
{
    struct cass_lifecycle *lc = ud;
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    log_debug("engine event %s for run %s", ev->action, ev->run);
    if (strcmp(ev->action, "oom") == 0) {
        _cleanup_json_ json_t *ch = json_pack("{s:b}", "oomKilled", 1);
        cass_store_run_update(d->store, ev->run, ch, NULL, NULL);
        return 0;
    }
    if (strcmp(ev->action, "die") != 0 && strcmp(ev->action, "destroy") != 0)
        return 0;
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, ev->run, NULL);
    const char *status = json_string_value(json_object_get(run, "status"));
    /* Only a serving run dies unexpectedly; launches and job runners see
     * their own ends. */
    if (!status || (strcmp(status, "ready") != 0 && strcmp(status, "running") != 0) ||
        !listed(run, ev->id ? ev->id : ""))
        return 0;
    const struct cass_kind *kind = cass_kind_find(json_string_value(json_object_get(run, "kind")));
    if (kind && kind->died)
        kind->died(lc, run, ev->exit_code);
    return 0;
}

void *cass_reconcile_watcher_main(void *arg)
{
    struct cass_lifecycle *lc = arg;
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    struct cass_backend *b = cass_lifecycle_backend(lc);
    const atomic_int *cancel = cass_lifecycle_cancel(lc);
    long backoff = 500;
    bool need_reconcile = true;
    while (!atomic_load(cancel)) {
        _cleanup_error_ struct cass_error *err = NULL;
        if (b->ops->ping(b, &err) == 0) {
            if (need_reconcile) {
                if (cass_reconcile(d, &err) < 0) {
                    log_warn("reconcile: %s", err->message);
                    cass_error_free(TAKE_PTR(err));
                } else {
                    need_reconcile = false;
                    log_info("reconciled with the engine");
                }
            }
            const char *const labels[] = {CASS_LABEL_RUN, d->instance_label, NULL};
            backoff = 500;
            if (b->ops->events(b, labels, cancel, on_event, lc, &err) < 0 && !atomic_load(cancel))
                log_warn("engine events: %s; reconnecting", err ? err->message : "?");
            /* Whatever happened while we were not listening is found by
             * comparing again. */
            need_reconcile = true;
        } else if (err) {
            log_debug("engine not answering: %s", err->message);
        }
        if (cass_lifecycle_nap(lc, backoff))
            break;
        if (backoff < 5000)
            backoff *= 2;
    }
    return NULL;
}
