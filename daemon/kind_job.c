/* Job: runs to completion on its own runner (limits.maxRunningJobs), with
 * read-only inputs hashed before it starts (outside the launch slots) and a
 * fresh outputs directory hashed when it ends; a reproduction compares its
 * outputs with the original's. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "failpoint.h"
#include "kind.h"
#include "lifecycle.h"
#include "log.h"
#include "notebook.h"
#include "outputs.h"
#include "pin.h"
#include "runlog.h"
#include "store.h"

static char *run_dir(struct cass_daemon *d, const char *run_id)
{
    return cass_xasprintf("%s/runs/%s", cass_daemon_config_str(d, "stateDir"), run_id);
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

/* Hashes a job's inputs into one manifest with paths under their container
 * targets, before the job can see them. */
static int job_stage(struct cass_launch *l, struct cass_error **err)
{
    _cleanup_json_ json_t *all = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(json_object_get(l->spec, "inputs"), i, in)
    {
        const char *src = json_string_value(json_object_get(in, "source"));
        const char *target = json_string_value(json_object_get(in, "target"));
        /* Hashed through the pin the container will mount: what is recorded
         * is what it reads, whatever happens to the path meanwhile. */
        if (!l->pins)
            l->pins = cass_pins_new();
        _cleanup_free_ char *field = cass_xasprintf("spec.inputs[%zu].source", i);
        const char *pinned = cass_pins_add(l->pins, src, target, field, l->policy,
                                           cass_daemon_config_str(l->d, "dockerHost"), err);
        if (!pinned) {
            l->reason = "policy-refused";
            return -1;
        }
        _cleanup_json_ json_t *m = cass_lifecycle_hash_tree(l->lc, pinned, target + 1, err);
        if (!m) {
            cass_error_prefix(err, "hashing input %s", src);
            return -1;
        }
        json_array_extend(all, m);
    }
    char digest[65];
    cass_outputs_digest(all, digest);
    if (cass_store_input_hashes_put(l->d->store, l->run_id, all, err) < 0)
        return -1;
    return cass_launch_record(l, json_pack("{s:s}", "inputsDigest", digest), err);
}

/* Kills the container when the deadline passes, so that the wait returns;
 * wakes the wait when the daemon stops. */
struct deadline {
    struct cass_launch *l;
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
        if (cass_lifecycle_nap(dl->l->lc, 250)) {
            atomic_store(&dl->cancel_wait, 1);
            return NULL;
        }
        if (dl->at > 0 && cass_now() >= dl->at && !atomic_load(&dl->done)) {
            atomic_store(&dl->fired, 1);
            if (dl->l->b->ops->stop_loses_logs)
                (void)cass_run_keep_log(dl->l->d, dl->l->b, dl->l->run_id, dl->cid);
            _cleanup_error_ struct cass_error *err = NULL;
            if (dl->l->b->ops->kill(dl->l->b, dl->cid, &err) < 0)
                log_warn("timeout: kill %.12s: %s", dl->cid, err->message);
            return NULL;
        }
    }
    return NULL;
}

/* What a finished job's run says: its exit, its outputs, and for a
 * reproduction how they compare with the original's. Then its container
 * goes, its logs kept. */
static void finish(struct cass_launch *l, const char *cid, bool timed_out)
{
    struct cass_daemon *d = l->d;
    const char *run_id = l->run_id;
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_workload_state st;
    if (l->b->ops->state(l->b, cid, &st, &err) < 0 || !st.exists) {
        cass_run_fail(d, run_id, "container-vanished", err ? err->message : "container is gone");
        return;
    }
    if (!st.started) {
        /* An exit code of 0 from a container that never ran is no success. */
        cass_run_fail(d, run_id, "launch-failed",
                      st.error[0] ? st.error : "its container never started");
        cass_run_remove_workload(d, l->b, run_id, l->name, cid);
        return;
    }
    cass_launch_note_node(l, cid);
    CASS_FAILPOINT("job.after-exit-seen");
    int code = st.exit_code;
    bool oom = st.oom_killed;
    if (!oom && code == 137 && !timed_out) {
        /* The engine may report the OOM kill just after the exit: look
         * again, and at what the events watcher recorded. */
        cass_lifecycle_nap(l->lc, 300);
        struct cass_workload_state again;
        if (l->b->ops->state(l->b, cid, &again, NULL) == 0)
            oom = again.oom_killed;
    }
    _cleanup_json_ json_t *stored = cass_store_run_get(d->store, run_id, NULL);
    if (!oom)
        oom = json_is_true(json_object_get(stored, "oomKilled"));

    _cleanup_json_ json_t *ch = json_pack("{s:i}", "exitCode", code);
    /* The engine's own times are the truth, not when we noticed. */
    if (st.started_at[0] && !json_is_string(json_object_get(stored, "startedAt")))
        json_object_set_new(ch, "startedAt", json_string(st.started_at));
    if (st.finished_at[0])
        json_object_set_new(ch, "finishedAt", json_string(st.finished_at));
    _cleanup_free_ char *dir = run_dir(d, run_id);
    _cleanup_free_ char *outdir = cass_xasprintf("%s/outputs", dir);
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
    CASS_FAILPOINT("job.after-outputs-hashed");

    const char *orig = json_string_value(json_object_get(l->run, "reproducedFrom"));
    if (orig && manifest) {
        _cleanup_json_ json_t *o = cass_store_run_get(d->store, orig, &err);
        if (o) {
            json_t *cmp = cass_outputs_compare(json_object_get(o, "outputs"), manifest);
            const char *a = json_string_value(json_object_get(o, "inputsDigest"));
            const char *b = json_string_value(json_object_get(stored, "inputsDigest"));
            json_object_set_new(cmp, "inputsChanged", json_boolean(a && b && strcmp(a, b) != 0));
            json_object_set_new(cmp, "original", json_string(orig));
            json_object_set_new(ch, "comparison", cmp);
        }
        cass_error_free(TAKE_PTR(err));
    }

    /* Its output is kept before the run says it ended, so that whoever
     * sees the end finds the logs; cut short by a full disk, the run says so. */
    int saved = cass_runlog_save(d, l->b, run_id, cid);
    if (saved == 1)
        json_object_set_new(ch, "logTruncated", json_true());
    else if (saved == 0 && json_is_true(json_object_get(stored, "logTruncated")))
        json_object_set_new(ch, "logTruncated", json_false());
    bool recorded = true;

    const char *status = code == 0 && !timed_out && !oom ? "succeeded" : "failed";
    const char *reason = timed_out ? "timeout" : oom ? "oom" : code == 0 ? "completed" : "failed";
    if (stored && cass_store_status_final(json_string_value(json_object_get(stored, "status")))) {
        /* Stopped by someone: it stays stopped, with what it left. */
        json_object_del(ch, "finishedAt");
        if (cass_run_change(d, run_id, ch, NULL, &err) < 0) {
            log_warn("run %s: %s", run_id, err->message);
            recorded = false;
        }
    } else {
        json_object_set_new(ch, "status", json_string(status));
        json_object_set_new(ch, "reason", json_string(reason));
        if (timed_out)
            json_object_set_new(ch, "error", json_string("killed: ran longer than timeoutSeconds"));
        else if (oom)
            json_object_set_new(ch, "error", json_string("killed: out of memory"));
        if (cass_run_change(d, run_id, ch, NULL, &err) < 0) {
            log_warn("run %s: %s", run_id, err->message);
            recorded = false;
        } else {
            log_info("run %s %s (%s, exit code %d)", run_id, status, reason, code);
        }
    }
    if ((!recorded || saved != 0) && cass_store_full(d->store)) {
        /* The container is the only record of its end (or of the rest of its
         * log) until the disk has room: the recovery's reconcile finishes it. */
        log_warn("run %s: container %.12s kept until the disk has room for its %s", run_id, cid,
                 recorded ? "log" : "end");
        return;
    }
    CASS_FAILPOINT("job.after-final-record");
    CASS_FAILPOINT("job.before-container-removal");
    cass_run_remove_workload(d, l->b, NULL, l->name, cid); /* logs kept above */
}

/* Waits for a started job's container and finishes the run. */
static int follow(struct cass_launch *l, const char *cid, struct cass_error **err)
{
    struct deadline dl = {.l = l, .cid = cid};
    json_int_t timeout = json_integer_value(json_object_get(l->spec, "timeoutSeconds"));
    _cleanup_json_ json_t *now = cass_store_run_get(l->d->store, l->run_id, NULL);
    const char *started = json_string_value(json_object_get(now, "startedAt"));
    double start = cass_now();
    if (started)
        cass_notebook_parse_time(started, &start); /* RFC 3339 with milliseconds */
    if (timeout > 0)
        dl.at = start + (double)timeout;
    if (pthread_create(&dl.thread, NULL, deadline_main, &dl) != 0)
        return cass_error_set(err, CASS_ERR_INTERNAL, "cannot start the timeout thread");
    int code = 0;
    _cleanup_error_ struct cass_error *werr = NULL;
    int rc = l->b->ops->wait(l->b, cid, &dl.cancel_wait, &code, &werr);
    atomic_store(&dl.done, 1);
    pthread_join(dl.thread, NULL);
    if (atomic_load(cass_lifecycle_cancel(l->lc)))
        return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
    if (rc < 0 && werr->kind != CASS_ERR_NOT_FOUND) {
        cass_error_merge(err, &werr);
        return -1;
    }
    finish(l, cid, atomic_load(&dl.fired));
    return 0;
}

static int job_launch(struct cass_launch *l, struct cass_error **err)
{
    struct cass_daemon *d = l->d;
    const json_t *spec = l->spec;

    /* A fresh outputs directory for every run. */
    _cleanup_free_ char *runs = cass_xasprintf("%s/runs", cass_daemon_config_str(d, "stateDir"));
    _cleanup_free_ char *dir = run_dir(d, l->run_id);
    _cleanup_free_ char *outdir = cass_xasprintf("%s/outputs", dir);
    if (mkdir_mode(runs, 0711, err) < 0 || mkdir_mode(dir, 0711, err) < 0 ||
        mkdir_mode(outdir, 0777, err) < 0)
        return -1;
    const char *outputs = json_string_value(json_object_get(spec, "outputs"));

    cass_launch_spec_init(l, -1, NULL);
    cass_strv_addf(&l->env, "CASSINY_RUN=%s", l->run_id);
    cass_strv_addf(&l->env, "CASSINY_OUTPUTS=%s", outputs);
    const char *nb = json_string_value(json_object_get(spec, "notebook"));
    if (nb) {
        /* Headless, into the outputs; no timing metadata, so that the same
         * computation gives the same executed notebook. The root is
         * read-only: Jupyter's home is scratch space on /tmp. */
        cass_notebook_env(&l->env, json_object_get(spec, "env"), CASS_POLICY_TMP);
        const char *base = strrchr(nb, '/') ? strrchr(nb, '/') + 1 : nb;
        static const char *const argv[] = {"python3",
                                           "-m",
                                           "nbconvert",
                                           "--to",
                                           "notebook",
                                           "--execute",
                                           "--ExecutePreprocessor.timeout=-1",
                                           "--ExecutePreprocessor.record_timing=False",
                                           "--output-dir"};
        for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
            cass_strv_add(&l->cmd, strdup(argv[i]));
        cass_strv_add(&l->cmd, strdup(outputs));
        cass_strv_add(&l->cmd, strdup("--output"));
        cass_strv_add(&l->cmd, strdup(base));
        cass_strv_add(&l->cmd, strdup(nb));
    } else {
        cass_launch_cmd_add(l, json_object_get(spec, "command"));
    }

    size_t ni = 0; /* inputs are never writable */
    _cleanup_free_ struct cass_container_mount *mounts =
        cass_launch_bind_mounts(l, "inputs", true, 1, &ni);
    mounts[ni] = (struct cass_container_mount){
        .type = CASS_MOUNT_BIND, .source = outdir, .target = outputs, .read_only = false};
    l->cs.mounts = mounts;
    l->cs.n_mounts = ni + 1;
    l->cs.network_mode = "none";

    _cleanup_free_ char *cid = cass_launch_create(l, err);
    if (!cid)
        return -1;
    if (cass_launch_record(l, json_pack("{s:s}", "status", "starting"), err) < 0)
        return -1;
    if (cass_launch_start(l, cid, err) < 0)
        return -1;
    CASS_FAILPOINT("launch.after-start");
    /* Running: the launch slot is for launches, not for a job's whole life. */
    cass_launch_slot_release(l);
    struct cass_workload_state st;
    _cleanup_json_ json_t *ch = json_pack("{s:s}", "status", "running");
    if (l->b->ops->state(l->b, cid, &st, NULL) == 0 && st.started_at[0])
        json_object_set_new(ch, "startedAt", json_string(st.started_at));
    if (cass_launch_record(l, json_incref(ch), err) < 0)
        return -1;
    cass_launch_note_node(l, cid);
    CASS_FAILPOINT("launch.after-record-running");
    l->reason = "failed";
    return follow(l, cid, err);
}

/* After a restart: a job that ran on is followed again (or its end
 * recorded); one whose container never started is launched again, never
 * taken for a success. */
static int job_resume(struct cass_launch *l, struct cass_error **err)
{
    const char *cid = json_string_value(json_array_get(json_object_get(l->run, "containers"), 0));
    const char *status = json_string_value(json_object_get(l->run, "status"));
    struct cass_workload_state st;
    if (l->b->ops->state(l->b, cid, &st, err) < 0)
        return -1;
    if (cass_store_status_final(status)) {
        if (st.exists && st.started)
            finish(l, cid, false);
        else
            cass_run_remove_workloads(l->d, l->b, l->run);
        return 0;
    }
    if (!st.exists) {
        l->reason = "container-vanished";
        return cass_error_set(err, CASS_ERR_ENGINE,
                              "its container was removed while the daemon was not watching");
    }
    if (!st.started) {
        log_info("run %s: its container was created but never started: launching it again",
                 l->run_id);
        cass_run_remove_workloads(l->d, l->b, l->run);
        if (cass_launch_record(l, json_pack("{s:s,s:[]}", "status", "pending", "containers"), err) <
            0)
            return -1;
        return 1;
    }
    if (strcmp(status, "running") != 0) {
        _cleanup_json_ json_t *ch =
            json_pack("{s:s,s:s}", "status", "running", "startedAt", st.started_at);
        if (cass_launch_record(l, json_incref(ch), err) < 0)
            return -1;
    }
    l->reason = "failed";
    return follow(l, cid, err);
}

const struct cass_kind cass_kind_job = {
    .name = "Job",
    .runs_to_completion = true,
    .stage = job_stage,
    .launch = job_launch,
    .resume = job_resume,
};
