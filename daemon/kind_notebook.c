/* Notebook: a Jupyter server with a generated token, its port published,
 * ready when /api/status answers with the token, culled when idle. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "failpoint.h"
#include "hash.h"
#include "http.h"
#include "kind.h"
#include "lifecycle.h"
#include "log.h"
#include "notebook.h"
#include "protocol.h"
#include "store.h"

#define READY_TIMEOUT_S 180

/* Waits until Jupyter answers with the token, the container exits, or the
 * timeout passes. */
static int wait_ready(struct cass_launch *l, const char *cid, const char *base, const char *token,
                      struct cass_error **err)
{
    double start = cass_now();
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
        double now = cass_now();
        if (now - last_inspect > 1.0) {
            last_inspect = now;
            if (cass_launch_check_running(l, cid, err) < 0) {
                l->reason = "exited";
                return -1;
            }
        }
        if (now - start > READY_TIMEOUT_S)
            return cass_error_set(err, CASS_ERR_UNAVAILABLE,
                                  "Jupyter did not answer /api/status within %d s (%s)",
                                  READY_TIMEOUT_S, perr->message);
        if (cass_lifecycle_nap(l->lc, delay))
            return cass_error_set(err, CASS_ERR_UNAVAILABLE, "daemon stopping");
        /* Jupyter usually answers within a second or two: ask often until
         * then, so that readiness is seen promptly, then back off. */
        delay = now - start < 10 ? 100 : 500;
    }
}

static int notebook_launch(struct cass_launch *l, struct cass_error **err)
{
    struct cass_daemon *d = l->d;
    const json_t *spec = l->spec;
    const char *workdir = l->workdir ? l->workdir : "/home/jovyan/work";

    /* The workspace volume, kept across runs. */
    const char *workspace = json_string_value(json_object_get(spec, "workspace"));
    if (workspace) {
        struct cass_container_label vlabels[] = {{CASS_LABEL_NAME, l->name},
                                                 {CASS_LABEL_KIND, "Notebook"},
                                                 {CASS_LABEL_INSTANCE, d->instance}};
        if (l->b->ops->volume_ensure(l->b, workspace, vlabels, 3, err) < 0) {
            if ((*err)->kind == CASS_ERR_FORBIDDEN)
                l->reason = "policy-refused";
            return -1;
        }
    }

    const char *given = json_string_value(json_object_get(spec, "token"));
    _cleanup_free_ char *token = given ? strdup(given) : cass_hash_random_token(32, err);
    if (!token)
        return -1;

    cass_launch_spec_init(l, -1, NULL);
    cass_strv_addf(&l->env, "JUPYTER_TOKEN=%s", token);
    cass_launch_cmd_add(l, json_object_get(spec, "command"));

    size_t nm = 0;
    _cleanup_free_ struct cass_container_mount *mounts =
        cass_launch_bind_mounts(l, "mounts", false, 1, &nm);
    if (workspace)
        mounts[nm++] = (struct cass_container_mount){
            .type = CASS_MOUNT_VOLUME, .source = workspace, .target = workdir};
    int port = (int)json_integer_value(json_object_get(spec, "port"));
    const char *publish = cass_daemon_config_str(d, "publishAddress");
    struct cass_container_port ports[] = {{.container_port = port, .host_ip = publish}};
    l->cs.mounts = mounts;
    l->cs.n_mounts = nm;
    l->cs.ports = ports;
    l->cs.n_ports = 1;

    _cleanup_free_ char *cid = cass_launch_create(l, err);
    if (!cid)
        return -1;
    if (cass_launch_record(l, json_pack("{s:s,s:s}", "status", "starting", "token", token), err) <
        0)
        return -1;

    char reach[64];
    int host_port = 0;
    bool exited = false;
    if (cass_launch_start_published(l, cid, port, reach, &host_port, &exited, err) < 0) {
        if (exited)
            l->reason = "exited";
        return -1;
    }
    _cleanup_free_ char *base = cass_xasprintf("http://%s:%d", reach, host_port);
    _cleanup_free_ char *etok = cass_http_escape(token);
    _cleanup_free_ char *url = cass_xasprintf("http://%s:%d/?token=%s", publish, host_port, etok);
    if (cass_launch_record(l,
                           json_pack("{s:[{s:i,s:s,s:i}]}", "ports", "containerPort", port,
                                     "hostIp", publish, "hostPort", host_port),
                           err) < 0)
        return -1;
    l->reason = "not-ready";
    if (wait_ready(l, cid, base, token, err) < 0)
        return -1;
    l->reason = "launch-failed";
    if (cass_launch_record(l, json_pack("{s:s,s:s}", "status", "ready", "url", url), err) < 0)
        return -1;
    CASS_FAILPOINT("launch.after-record-running");
    log_info("run %s: notebook %s ready at %s:%d", l->run_id, l->name, publish, host_port);
    return 0;
}

/* After a restart: a notebook that still runs serves on; one that ended
 * failed; one that never got ready is launched again. */
static int notebook_resume(struct cass_launch *l, struct cass_error **err)
{
    const char *status = json_string_value(json_object_get(l->run, "status"));
    if (cass_store_status_final(status)) {
        cass_run_remove_workloads(l->d, l->b, l->run);
        return 0;
    }
    const char *cid = json_string_value(json_array_get(json_object_get(l->run, "containers"), 0));
    if (strcmp(status, "ready") == 0) {
        struct cass_workload_state st;
        if (l->b->ops->state(l->b, cid, &st, err) < 0)
            return -1;
        if (!st.exists) {
            l->reason = "container-vanished";
            return cass_error_set(err, CASS_ERR_ENGINE,
                                  "its container was removed while the daemon was not watching");
        }
        if (cass_launch_check_running(l, cid, err) < 0) {
            l->reason = "exited";
            return -1;
        }
        return 0;
    }
    /* Cut short before it was ready: start again from a clean slate. */
    cass_run_remove_workloads(l->d, l->b, l->run);
    if (cass_launch_record(l, json_pack("{s:s,s:[]}", "status", "pending", "containers"), err) < 0)
        return -1;
    return 1;
}

static void notebook_tick(struct cass_lifecycle *lc, const json_t *r)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    if (strcmp(json_string_value(json_object_get(r, "status")), "ready") != 0)
        return;
    _cleanup_error_ struct cass_error *cerr = NULL;
    _cleanup_json_ json_t *doc = cass_run_doc(d, r, &cerr);
    json_t *idle = json_object_get(json_object_get(doc, "spec"), "idleTimeout");
    if (!json_is_integer(idle) || json_integer_value(idle) <= 0)
        return;
    json_int_t timeout = json_integer_value(idle);
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *token = json_string_value(json_object_get(r, "token"));
    json_t *p0 = json_array_get(json_object_get(r, "ports"), 0);
    int host_port = (int)json_integer_value(json_object_get(p0, "hostPort"));
    const char *host_ip = json_string_value(json_object_get(p0, "hostIp"));
    if (!token || host_port <= 0)
        return;
    const char *reach =
        !host_ip || !*host_ip || strcmp(host_ip, "0.0.0.0") == 0 ? "127.0.0.1" : host_ip;
    _cleanup_free_ char *base = cass_xasprintf("http://%s:%d", reach, host_port);
    _cleanup_json_ json_t *status = NULL;
    if (cass_notebook_status(base, token, 2000, &status, &cerr) < 0) {
        log_debug("cull: run %s: %s", id, cerr->message);
        return;
    }
    /* Asking for the kernels counts as activity in Jupyter, so ask only
     * once the notebook already looks idle, and decide on that answer. */
    if (cass_notebook_idle_decide(status, NULL, timeout, cass_now(), &cerr) != 1)
        return;
    _cleanup_json_ json_t *kernels = cass_notebook_kernels(base, token, 2000, &cerr);
    if (!kernels)
        return;
    if (cass_notebook_idle_decide(status, kernels, timeout, cass_now(), &cerr) != 1) {
        log_debug("cull: run %s idle but a kernel is busy: spared", id);
        return;
    }
    _cleanup_free_ char *reason =
        cass_xasprintf("idle: no activity for %lld s", (long long)timeout);
    log_info("run %s: %s; stopping it", id, reason);
    _cleanup_error_ struct cass_error *serr = NULL;
    if (cass_lifecycle_run_stop(d, id, reason, NULL, &serr) < 0)
        log_warn("cull: run %s: %s", id, serr->message);
}

static void notebook_died(struct cass_lifecycle *lc, const json_t *run, const char *code)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    struct cass_backend *b = cass_lifecycle_backend(lc);
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *cid = json_string_value(json_array_get(json_object_get(run, "containers"), 0));
    _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, NULL);
    bool oom = json_is_true(json_object_get(now, "oomKilled"));
    /* The engine's record says how it ended, and when; an event may also
     * be an old one, replayed from before a restart. */
    struct cass_workload_state st = {0};
    if (cid && b->ops->state(b, cid, &st, NULL) == 0 && st.running)
        return;
    _cleanup_free_ char *msg =
        !st.exists ? strdup("its container was removed behind the daemon's back")
                   : cass_xasprintf("container exited%s%s%s", code ? " with code " : "",
                                    code ? code : "", oom ? " (out of memory)" : "");
    _cleanup_json_ json_t *ch = json_pack("{s:s,s:s,s:s}", "status", "failed", "reason",
                                          !st.exists ? "container-vanished"
                                          : oom      ? "oom"
                                                     : "exited",
                                          "error", msg);
    if (st.exists)
        json_object_set_new(ch, "exitCode", json_integer(st.exit_code));
    if (st.finished_at[0])
        json_object_set_new(ch, "finishedAt", json_string(st.finished_at));
    if (cass_run_change(d, run_id, ch, NULL, NULL) == 0)
        log_warn("run %s failed: %s", run_id, msg);
}

const struct cass_kind cass_kind_notebook = {
    .name = "Notebook",
    .launch = notebook_launch,
    .resume = notebook_resume,
    .tick = notebook_tick,
    .died = notebook_died,
    .replaces_before_launch = true,
};
