/* Notebook: a Jupyter server with a generated token, its port published,
 * ready when /api/status answers with the token, culled when idle. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cleanup.h"
#include "failpoint.h"
#include "hash.h"
#include "http.h"
#include "kind.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "notebook.h"
#include "protocol.h"
#include "store.h"

#define READY_TIMEOUT_S 180
#define RESTART_BURST 3 /* restarts allowed within RESTART_WINDOW_S */
#define RESTART_WINDOW_S 600

/* publishNotebookPorts: whether Jupyter's port is also on the host. */
static bool publishes(struct cass_daemon *d)
{
    return !json_is_false(cass_cfg_get(d->config, "publishNotebookPorts"));
}

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

/* Whether one of spec.mounts has target path (a mount there is the work
 * directory, and two mounts on one target are refused by the engine). */
static bool mounted_at(const json_t *spec, const char *path)
{
    size_t i, n = strlen(path);
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        const char *t = json_string_value(json_object_get(m, "target"));
        if (t && strncmp(t, path, n) == 0 && strspn(t + n, "/") == strlen(t + n))
            return true;
    }
    return false;
}

/* A started notebook container, reached at reach:host_port (its published
 * port, or its own address and port on the bridge network): records where,
 * waits until Jupyter answers with the token under its base URL, records it
 * ready with its URL (the gateway's /notebooks/NAME/, the same for every
 * run). what says so in the log ("ready"). */
static int serve_when_ready(struct cass_launch *l, const char *cid, int port, const char *reach,
                            int host_port, const char *token, const char *base_url,
                            const char *what, struct cass_error **err)
{
    struct cass_daemon *d = l->d;
    const char *publish = cass_daemon_config_str(d, "publishAddress");
    bool published = publishes(d);
    _cleanup_free_ char *gw_path = cass_notebook_base_url(l->name);
    _cleanup_free_ char *base =
        cass_xasprintf("http://%s:%d%.*s", reach, host_port, (int)strlen(base_url) - 1, base_url);
    _cleanup_free_ char *etok = cass_http_escape(token);
    _cleanup_free_ char *url = cass_xasprintf(
        "%s://%s:%d%s?token=%s", cass_daemon_gateway_scheme(d),
        cass_daemon_config_str(d, "gateway.address"), d->gateway_port, gw_path, etok);
    json_t *ports = published ? json_pack("[{s:i,s:s,s:i}]", "containerPort", port, "hostIp",
                                          publish, "hostPort", host_port)
                              : json_array();
    if (cass_launch_record(l,
                           json_pack("{s:o,s:{s:s,s:i},s:s}", "ports", ports, "endpoint", "host",
                                     reach, "port", host_port, "baseUrl", base_url),
                           err) < 0)
        return -1;
    l->reason = "not-ready";
    if (wait_ready(l, cid, base, token, err) < 0)
        return -1;
    l->reason = "launch-failed";
    if (cass_launch_record(l, json_pack("{s:s,s:s}", "status", "ready", "url", url), err) < 0)
        return -1;
    log_info("run %s: notebook %s %s at %s:%d%s", l->run_id, l->name, what, reach, host_port,
             base_url);
    return 0;
}

/* The token of the newest earlier run of the same notebook and owner, so
 * that a new run (woken after culling, a new revision) keeps the URL its
 * owner holds; NULL when there is none (caller owns). */
static char *previous_token(struct cass_launch *l)
{
    struct cass_store_run_filter f = {.name = l->name, .kind = "Notebook", .limit = 20};
    _cleanup_json_ json_t *runs = cass_store_run_list(l->d->store, &f, NULL, NULL);
    json_t *owner = json_object_get(l->run, "owner");
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        const char *tok = json_string_value(json_object_get(r, "token"));
        if (strcmp(json_string_value(json_object_get(r, "id")), l->run_id) == 0 || !tok)
            continue;
        json_t *o = json_object_get(r, "owner");
        if ((!o && !owner) || (o && owner && json_equal(o, owner)))
            return strdup(tok);
        return NULL; /* someone else's notebook of that name: a fresh token */
    }
    return NULL;
}

/* Whether argv runs Jupyter (a program or module named jupyter*, notebook
 * or jupyterlab): that one is told its base URL on its command line. */
static bool runs_jupyter(const json_t *argv)
{
    for (size_t i = 0; i < json_array_size(argv) && i < 4; i++) {
        const char *a = json_string_value(json_array_get(argv, i));
        const char *b = a ? strrchr(a, '/') : NULL;
        b = b ? b + 1 : a;
        if (b && (strncmp(b, "jupyter", 7) == 0 || strcmp(b, "notebook") == 0))
            return true;
    }
    return false;
}

/* Jupyter's command line: the spec's command or the image's, with the base
 * URL the gateway forwards (both spellings: the classic notebook server and
 * jupyter_server; each ignores the other's). Another program is left as it
 * is, with the path in CASSINY_BASE_URL, and is reached at "/" (the gateway
 * takes /notebooks/NAME off). *ret_base_url gets the path it serves under
 * (caller owns). */
static int command_line(struct cass_launch *l, char **ret_base_url, struct cass_error **err)
{
    const json_t *cmd = json_object_get(l->spec, "command");
    if (!cmd)
        cmd = l->image_cmd;
    _cleanup_free_ char *base_url = cass_notebook_base_url(l->name);
    cass_strv_addf(&l->env, "CASSINY_BASE_URL=%s", base_url);
    cass_launch_cmd_add(l, json_object_get(l->spec, "command"));
    if (!runs_jupyter(cmd)) {
        *ret_base_url = strdup("/");
        return 0;
    }
    if (!json_object_get(l->spec, "command"))
        cass_launch_cmd_add(l, cmd);
    cass_strv_addf(&l->cmd, "--NotebookApp.base_url=%s", base_url);
    cass_strv_addf(&l->cmd, "--ServerApp.base_url=%s", base_url);
    *ret_base_url = TAKE_PTR(base_url);
    return 0;
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

    /* A run launched again (its container could not be restarted) keeps
     * the token its URL carries. */
    const char *given = json_string_value(json_object_get(spec, "token"));
    if (!given)
        given = json_string_value(json_object_get(l->run, "token"));
    _cleanup_free_ char *token = given ? strdup(given) : previous_token(l);
    if (!token)
        token = cass_hash_random_token(32, err);
    if (!token)
        return -1;

    cass_launch_spec_init(l, -1, NULL);
    cass_strv_addf(&l->env, "JUPYTER_TOKEN=%s", token);
    /* The root file system is read-only: Jupyter's home (its settings, the
     * notebook-signing key, IPython's history) is the work directory, its
     * runtime files (kernel connection files, with their keys) are on the
     * /tmp tmpfs, and without a workspace the work directory is a tmpfs too. */
    cass_notebook_env(&l->env, json_object_get(spec, "env"), workdir);
    /* Owned by the user Jupyter runs as when it is numeric (the engine
     * makes tmpfs mounts but /tmp root's, mode 755, and ignores mode=: the
     * contents API could save nothing there). */
    char work_options[CASS_POLICY_TMP_OPTIONS_MAX + 32];
    unsigned uid = 0, gid = 0;
    int got = l->user ? sscanf(l->user, "%u:%u", &uid, &gid) : 0;
    if (got == 2)
        snprintf(work_options, sizeof(work_options), "%s,uid=%u,gid=%u", l->tmp_options, uid, gid);
    else if (got == 1 && strspn(l->user, "0123456789") == strlen(l->user))
        snprintf(work_options, sizeof(work_options), "%s,uid=%u", l->tmp_options, uid);
    else
        snprintf(work_options, sizeof(work_options), "%s", l->tmp_options);
    if (!workspace && strcmp(workdir, "/") != 0 && !mounted_at(spec, workdir))
        l->tmpfs[l->cs.n_tmpfs++] = (struct cass_container_tmpfs){workdir, work_options};
    _cleanup_free_ char *base_url = NULL;
    if (command_line(l, &base_url, err) < 0)
        return -1;

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
    l->cs.n_ports = publishes(d) ? 1 : 0;

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
    if (serve_when_ready(l, cid, port, reach, host_port, token, base_url, "ready", err) < 0)
        return -1;
    CASS_FAILPOINT("launch.after-record-running");
    return 0;
}

/* spec.restart: absent or "always" starts a ready notebook's container
 * again when it ended without the daemon stopping it. */
static bool restarts(const json_t *spec)
{
    const char *p = json_string_value(json_object_get(spec, "restart"));
    return !p || strcmp(p, "never") != 0;
}

/* Whether a restart now would be one more than RESTART_BURST within
 * RESTART_WINDOW_S (a program that keeps ending is not started forever);
 * fills times with the restarts inside the window and this one. */
static bool crash_looping(const json_t *run, json_t *times)
{
    double now = cass_now();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(run, "restartTimes"), i, t)
    {
        double at = 0;
        if (json_is_string(t) && cass_notebook_parse_time(json_string_value(t), &at) == 0 &&
            now - at < RESTART_WINDOW_S)
            json_array_append(times, t);
    }
    char stamp[CASS_STORE_TIME_LEN + 1];
    cass_store_time_now(stamp);
    json_array_append_new(times, json_string(stamp));
    return json_array_size(times) > RESTART_BURST;
}

/* The same container started again (its workspace, token and files are
 * the run's), ready again once Jupyter answers; at most RESTART_BURST
 * times within RESTART_WINDOW_S, then the run fails. 1 (launch it again)
 * when the engine will not start that container any more. */
static int notebook_restart(struct cass_launch *l, const char *cid, struct cass_error **err)
{
    /* "starting" already: a restart the engine cut short, tried again. */
    bool again = strcmp(json_string_value(json_object_get(l->run, "status")), "starting") == 0;
    _cleanup_json_ json_t *times = json_array();
    if (!again && crash_looping(l->run, times))
        return cass_error_set(err, CASS_ERR_ENGINE,
                              "container exited %d times within %d s; not restarted again "
                              "(spec.restart)",
                              RESTART_BURST + 1, RESTART_WINDOW_S);
    const char *token = json_string_value(json_object_get(l->run, "token"));
    int port = (int)json_integer_value(json_object_get(l->spec, "port"));
    json_int_t n = json_integer_value(json_object_get(l->run, "restarts"));
    log_info("run %s: notebook %s ended without being stopped; starting it again (restart %lld)",
             l->run_id, l->name, (long long)n + (again ? 0 : 1));
    if (!token ||
        (!again && cass_launch_record(l,
                                      json_pack("{s:s,s:I,s:O,s:n}", "status", "starting",
                                                "restarts", n + 1, "restartTimes", times, "url"),
                                      err) < 0))
        return token ? -1 : cass_error_set(err, CASS_ERR_INTERNAL, "the run has no token");
    char reach[64];
    int host_port = 0;
    bool exited = false;
    if (cass_launch_start_published(l, cid, port, reach, &host_port, &exited, err) < 0) {
        if ((*err)->kind == CASS_ERR_UNAVAILABLE || exited)
            return -1; /* the engine went away: tried again when it is back */
        struct cass_workload_state st;
        if ((*err)->kind == CASS_ERR_NOT_FOUND ||
            (l->b->ops->state(l->b, cid, &st, NULL) == 0 &&
             (!st.exists || strcmp(st.status, "removing") == 0))) {
            /* Removed behind the daemon's back (its die event came before
             * its removal): not restarted, as a removed container never is. */
            cass_error_free(TAKE_PTR(*err));
            l->reason = "container-vanished";
            return cass_error_set(err, CASS_ERR_ENGINE,
                                  "its container was removed behind the daemon's back");
        }
        /* An engine just restarted may refuse to start an old container
         * ("task ... already exists"): a new container for the same run,
         * on the same workspace, then. */
        log_warn("run %s: cannot start its container again (%s); launching a new one on the "
                 "same workspace",
                 l->run_id, (*err)->message);
        cass_error_free(TAKE_PTR(*err));
        cass_run_remove_workloads(l->d, l->b, l->run);
        if (cass_launch_record(l, json_pack("{s:s,s:[]}", "status", "pending", "containers"), err) <
            0)
            return -1;
        return 1;
    }
    const char *base_url = json_string_value(json_object_get(l->run, "baseUrl"));
    return serve_when_ready(l, cid, port, reach, host_port, token, base_url ? base_url : "/",
                            "ready again", err);
}

/* After a restart: a notebook that still runs serves on; one that ended
 * is started again (spec.restart) or failed; one that never got ready is
 * launched again. */
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
            if (!restarts(l->spec) || (*err)->kind != CASS_ERR_ENGINE)
                return -1;
            cass_error_free(TAKE_PTR(*err));
            return notebook_restart(l, cid, err);
        }
        return 0;
    }
    if (strcmp(status, "starting") == 0 && cid &&
        json_integer_value(json_object_get(l->run, "restarts")) > 0 && restarts(l->spec)) {
        struct cass_workload_state st;
        if (l->b->ops->state(l->b, cid, &st, err) < 0)
            return -1;
        if (st.exists && !st.running)
            return notebook_restart(l, cid, err);
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
    _cleanup_free_ char *base = cass_notebook_base(r);
    if (!token || !base)
        return;
    _cleanup_json_ json_t *status = NULL;
    if (cass_notebook_status(base, token, 2000, &status, &cerr) < 0) {
        log_debug("cull: run %s: %s", id, cerr->message);
        return;
    }
    /* Jupyter's last activity, recorded when it moves: what the
     * dashboard counts the idle time left from. */
    const char *la = json_string_value(json_object_get(status, "last_activity"));
    double last;
    if (la && cass_notebook_parse_time(la, &last) == 0 &&
        !json_equal(json_object_get(r, "lastActivity"), json_object_get(status, "last_activity"))) {
        _cleanup_json_ json_t *ch = json_pack("{s:s}", "lastActivity", la);
        _cleanup_error_ struct cass_error *uerr = NULL;
        if (cass_store_run_update(d->store, id, ch, NULL, &uerr) < 0)
            log_debug("cull: run %s: recording its last activity: %s", id, uerr->message);
    }
    /* Idle from when it became ready at the earliest: Jupyter's clock
     * starts when its process does, and a notebook woken by a request must
     * not be culled for the time it took to start. */
    double ready = 0;
    if (cass_notebook_parse_time(json_string_value(json_object_get(r, "readyAt")), &ready) < 0)
        ready = 0;
    /* Asking for the kernels counts as activity in Jupyter, so ask only
     * once the notebook already looks idle, and decide on that answer. */
    if (cass_notebook_idle_decide(status, NULL, timeout, ready, cass_now(), &cerr) != 1)
        return;
    _cleanup_json_ json_t *kernels = cass_notebook_kernels(base, token, 2000, &cerr);
    if (!kernels)
        return;
    if (cass_notebook_idle_decide(status, kernels, timeout, ready, cass_now(), &cerr) != 1) {
        log_debug("cull: run %s idle but a kernel is busy: spared", id);
        return;
    }
    _cleanup_free_ char *reason =
        cass_xasprintf("idle: no activity for %lld s", (long long)timeout);
    log_info("run %s: %s; stopping it", id, reason);
    _cleanup_error_ struct cass_error *serr = NULL;
    if (cass_lifecycle_run_stop(d, id, reason, NULL, &serr) < 0)
        log_warn("cull: run %s: %s", id, serr->message);
    else
        cass_metric_add(CASS_M_NOTEBOOKS_CULLED, 1);
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
    _cleanup_error_ struct cass_error *serr = NULL;
    if (cid && b->ops->state(b, cid, &st, &serr) < 0) {
        /* The engine went away with it (a restart): the reconcile when it
         * answers again decides, from what the engine then says. */
        log_info("run %s: its container ended and the engine does not say how (%s)", run_id,
                 serr->message);
        return;
    }
    if (st.running)
        return;
    _cleanup_json_ json_t *doc = cass_run_doc(d, run, NULL);
    if (st.exists && restarts(json_object_get(doc, "spec"))) {
        /* A launch worker starts it again (notebook_resume). */
        cass_lifecycle_enqueue(lc, run_id, "Notebook");
        return;
    }
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
