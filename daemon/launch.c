/* The one launch path (see launch.h) and the run helpers the kinds share. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "failpoint.h"
#include "images.h"
#include "kind.h"
#include "launch.h"
#include "metrics.h"
#include "lifecycle.h"
#include "log.h"
#include "pin.h"
#include "policy.h"
#include "protocol.h"
#include "rotation.h"
#include "runlog.h"
#include "store.h"

double cass_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

char *cass_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

void cass_strv_add(struct cass_strv *s, char *owned)
{
    char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
    if (!v || !owned)
        abort();
    s->v = v;
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

void cass_strv_addf(struct cass_strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *str = NULL;
    int n = vasprintf(&str, fmt, ap);
    va_end(ap);
    cass_strv_add(s, n < 0 ? NULL : str); /* NULL aborts */
}

void cass_strv_free(struct cass_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

#define START_RETRY_S 20

/* ---- runs ------------------------------------------------------------------- */

int cass_run_change(struct cass_daemon *d, const char *run_id, const json_t *changes,
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

int cass_run_status(struct cass_daemon *d, const char *run_id, const char *status,
                    const char *reason, struct cass_error **err)
{
    _cleanup_json_ json_t *ch = json_pack("{s:s,s:s?}", "status", status, "reason", reason);
    return cass_run_change(d, run_id, ch, NULL, err);
}

void cass_run_fail(struct cass_daemon *d, const char *run_id, const char *reason, const char *error)
{
    _cleanup_json_ json_t *ch =
        json_pack("{s:s,s:s,s:s?}", "status", "failed", "reason", reason, "error", error);
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_run_change(d, run_id, ch, NULL, &err) < 0) {
        if (err->kind != CASS_ERR_CONFLICT)
            log_error("run %s: cannot record failure: %s", run_id, err->message);
        return;
    }
    log_warn("run %s failed: %s%s%s", run_id, reason, error ? ": " : "", error ? error : "");
}

json_t *cass_run_doc(struct cass_daemon *d, const json_t *run, struct cass_error **err)
{
    const char *rev = json_string_value(json_object_get(run, "revision"));
    _cleanup_json_ json_t *r = cass_store_revision_get(d->store, rev, err);
    if (!r)
        return NULL;
    return json_incref(json_object_get(r, "spec"));
}

void cass_run_remove_workload(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                              const char *name, const char *id)
{
    if (name)
        cass_rotation_remove(d->rotation, name, id);
    _cleanup_error_ struct cass_error *err = NULL;
    if (b->ops->stop(b, id, CASS_STOP_TIMEOUT_S, &err) < 0)
        log_warn("stop container %.12s: %s", id, err->message);
    cass_error_free(TAKE_PTR(err));
    if (run_id && cass_run_keep_log(d, b, run_id, id) != 0 && cass_store_full(d->store)) {
        /* The rest of its log is in the engine only: the container stays
         * until there is room (the recovery's reconcile removes it). */
        log_warn("container %.12s of run %s kept until the disk has room for its log", id, run_id);
        return;
    }
    if (b->ops->remove(b, id, &err) < 0)
        log_warn("remove container %.12s: %s", id, err->message);
}

int cass_run_keep_log(struct cass_daemon *d, struct cass_backend *b, const char *run_id,
                      const char *id)
{
    int saved = cass_runlog_save(d, b, run_id, id);
    _cleanup_json_ json_t *run = saved == 0 ? cass_store_run_get(d->store, run_id, NULL) : NULL;
    if (saved == 1 || json_is_true(json_object_get(run, "logTruncated"))) {
        /* Said on the run as well as in the log; a later full copy clears it. */
        _cleanup_json_ json_t *ch = json_pack("{s:b}", "logTruncated", saved == 1);
        cass_store_run_update(d->store, run_id, ch, NULL, NULL);
    }
    return saved;
}

void cass_run_remove_workloads(struct cass_daemon *d, struct cass_backend *b, const json_t *run)
{
    size_t i;
    json_t *c;
    const char *run_id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    json_array_foreach(json_object_get(run, "containers"), i, c)
    {
        if (json_string_value(c))
            cass_run_remove_workload(d, b, run_id, name, json_string_value(c));
    }
}

void cass_launch_container_name(const char *name, const char *run_id, char *out, size_t n)
{
    size_t len = strlen(run_id);
    snprintf(out, n, "cassiny-%s-%s", name, run_id + (len > 10 ? len - 10 : 0));
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* ---- the steps --------------------------------------------------------------- */

int cass_launch_record(struct cass_launch *l, json_t *changes, struct cass_error **err)
{
    json_t *now = NULL;
    int rc = cass_run_change(l->d, l->run_id, changes, &now, err);
    json_decref(changes);
    if (rc < 0)
        return -1;
    const char *st = json_string_value(json_object_get(now, "status"));
    /* A fresh launch is timed to its run's first running or ready. */
    if (l->launch_start > 0 && st && (!strcmp(st, "running") || !strcmp(st, "ready"))) {
        cass_metric_observe(CASS_M_LAUNCH_DURATION, cass_now() - l->launch_start, l->kind);
        l->launch_start = 0;
    }
    if (cass_store_status_final(st))
        rc = cass_error_set(err, CASS_ERR_CONFLICT, "run %s was %s while it launched", l->run_id,
                            st);
    json_decref(now);
    return rc;
}

int cass_launch_policy(struct cass_launch *l, struct cass_error **err)
{
    l->reason = "policy-refused";
    struct cass_error *perr = NULL;
    if (cass_policy_check(l->policy, cass_daemon_config_str(l->d, "dockerHost"), l->doc, NULL,
                          &perr) == 0)
        return 0;
    /* Say which rule, in one line: the run's error is read by people. */
    _cleanup_free_ char *msg = NULL;
    if (perr->n_items > 0)
        msg = cass_xasprintf("refused by the policy at launch: %s: %s", perr->items[0].path,
                             perr->items[0].message);
    cass_error_set(err, CASS_ERR_FORBIDDEN, "%s", msg ? msg : perr->message);
    cass_error_free(perr);
    return -1;
}

/* How to get an image that packaging/images/ builds: "; build it with
 * SCRIPT", or "" for any other image. Static. */
static const char *image_build_hint(const char *ref)
{
    if (strncmp(ref, "cassiny/notebook", 16) == 0)
        return "; build it with packaging/images/build-notebook-image.sh";
    if (strncmp(ref, "cassiny/model-server", 20) == 0)
        return "; build it with packaging/images/build-model-server-image.sh";
    return "";
}

/* The name@digest a run recorded from one of the config's registries (its
 * first such repoDigests entry), or NULL. Caller owns. */
static char *recorded_pin(const struct cass_launch *l, const json_t *image)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(image, "repoDigests"), i, v)
    {
        const char *s = json_string_value(v);
        if (s && strchr(s, '@') && cass_images_registry_of(l->d->config, s, NULL, NULL) == 1)
            return strdup(s);
    }
    return NULL;
}

/* Resolves ref in the engine, pulling it first when it is missing and the
 * config allows a pull from its registry. */
static int resolve_or_pull(struct cass_launch *l, const char *ref, struct cass_backend_image *img,
                           struct cass_error **err)
{
    struct cass_backend *b = l->b;
    _cleanup_error_ struct cass_error *ierr = NULL;
    if (b->ops->image_resolve(b, ref, img, &ierr) == 0)
        return 0;
    if (ierr->kind != CASS_ERR_NOT_FOUND) {
        cass_error_merge(err, &ierr);
        return -1;
    }
    cass_error_free(TAKE_PTR(ierr));
    /* images.c decides whether it may be pulled, and from where. */
    _cleanup_free_ char *registry = NULL;
    if (cass_images_pull_check(l->d->config, ref, &registry, &ierr) < 0) {
        log_info("run %s: image %s not present and not pulled: %s", l->run_id, ref, ierr->message);
        return cass_error_set(err, CASS_ERR_NOT_FOUND,
                              "image %s is not in the engine and was not pulled: %s%s", ref,
                              ierr->message, image_build_hint(ref));
    }
    log_info("run %s: image %s not present, pulling it from %s", l->run_id, ref, registry);
    if (b->ops->image_pull(b, ref, cass_lifecycle_cancel(l->lc), &ierr) < 0 ||
        b->ops->image_resolve(b, ref, img, &ierr) < 0)
        return cass_error_set(err, CASS_ERR_NOT_FOUND,
                              "image %s is not in the engine and the pull from %s failed: %s", ref,
                              registry, ierr ? ierr->message : "?");
    return 0;
}

/* For a reference from one of the config's registries, the name@digest
 * its tag stands for in the registry now (asked through the engine), so
 * that what runs is what the registry held at apply, on every node; a
 * reference with a digest already is its own pin. NULL in *ret_pin for
 * any other reference. */
static int pin_from_registry(struct cass_launch *l, const char *ref, char **ret_pin,
                             struct cass_error **err)
{
    struct cass_backend *b = l->b;
    _cleanup_free_ char *registry = NULL;
    int listed = cass_images_registry_of(l->d->config, ref, &registry, err);
    if (listed <= 0 || !b->ops->image_digest) {
        *ret_pin = NULL;
        return listed < 0 ? -1 : 0;
    }
    if (strchr(ref, '@')) {
        *ret_pin = strdup(ref);
        return *ret_pin ? 0 : cass_error_set(err, CASS_ERR_NOMEM, "out of memory");
    }
    _cleanup_error_ struct cass_error *derr = NULL;
    _cleanup_free_ char *digest = b->ops->image_digest(b, ref, &derr);
    if (!digest)
        return cass_error_set(err, derr->kind, "image %s: registry %s did not give its digest: %s",
                              ref, registry, derr->message);
    *ret_pin = cass_images_pin(ref, digest);
    log_info("run %s: image %s is %s", l->run_id, ref, *ret_pin);
    return 0;
}

/* digests (an array, stolen) with pin first, once. New reference. */
static json_t *digests_with(json_t *digests, const char *pin)
{
    if (!pin)
        return digests;
    json_t *out = json_pack("[s]", pin);
    size_t i;
    json_t *v;
    json_array_foreach(digests, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), pin) != 0)
            json_array_append(out, v);
    }
    json_decref(digests);
    return out;
}

int cass_launch_image(struct cass_launch *l, struct cass_error **err)
{
    struct cass_backend *b = l->b;
    const char *ref = json_string_value(json_object_get(l->spec, "image"));
    json_t *image = json_object_get(l->run, "image");
    const char *pinned = json_string_value(json_object_get(image, "id"));
    struct cass_backend_image img = {0};
    _cleanup_free_ char *pin = NULL;
    _cleanup_error_ struct cass_error *ierr = NULL;
    l->reason = "image-not-found";
    if (pinned) {
        /* A reproduction or a resume: the recorded image, and the recorded
         * digest it came by from a configured registry, whatever the tag
         * says today. */
        pin = recorded_pin(l, image);
        if (b->ops->image_resolve(b, pinned, &img, &ierr) < 0) {
            if (ierr->kind != CASS_ERR_NOT_FOUND) {
                cass_error_merge(err, &ierr);
                return -1;
            }
            const char *digest =
                json_string_value(json_array_get(json_object_get(image, "repoDigests"), 0));
            if (pin) {
                if (resolve_or_pull(l, pin, &img, err) < 0)
                    return -1;
                if (strcmp(img.id, pinned) != 0) {
                    cass_error_set(err, CASS_ERR_CONFLICT, "image %s is %s, not the recorded %s",
                                   pin, img.id, pinned);
                    cass_backend_image_clear(&img);
                    return -1;
                }
            } else if (digest) {
                return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                      "image %s (%s) is no longer in the engine; pull %s to "
                                      "reproduce this run",
                                      pinned, ref, digest);
            } else {
                return cass_error_set(err, CASS_ERR_NOT_FOUND,
                                      "image %s (%s) is no longer in the engine and came from no "
                                      "registry; rebuild it from the same recipe to reproduce%s",
                                      pinned, ref, image_build_hint(ref));
            }
        }
    } else if (pin_from_registry(l, ref, &pin, err) < 0 ||
               resolve_or_pull(l, pin ? pin : ref, &img, err) < 0) {
        return -1;
    }
    l->image_id = TAKE_PTR(img.id);
    l->image_ref = TAKE_PTR(pin);
    l->image_user = TAKE_PTR(img.user);
    l->workdir = TAKE_PTR(img.working_dir);
    l->image_cmd = TAKE_PTR(img.cmd);
    json_t *digests = digests_with(TAKE_PTR(img.repo_digests), l->image_ref);
    cass_backend_image_clear(&img);
    l->reason = "launch-failed";
    if (cass_launch_record(
            l, json_pack("{s:{s:s,s:o}}", "image", "id", l->image_id, "repoDigests", digests),
            err) < 0)
        return -1;
    CASS_FAILPOINT("launch.after-image-pin");
    return cass_policy_user(l->policy, l->image_user, &l->user, err);
}

void cass_launch_spec_init(struct cass_launch *l, int replica, const char *suffix)
{
    cass_strv_free(&l->env);
    cass_strv_free(&l->cmd);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(l->spec, "env"), k, v)
        cass_strv_addf(&l->env, "%s=%s", k, json_string_value(v));

    size_t n = 0;
    l->labels[n++] = (struct cass_container_label){CASS_LABEL_NAME, l->name};
    l->labels[n++] = (struct cass_container_label){CASS_LABEL_KIND, l->kind};
    l->labels[n++] = (struct cass_container_label){CASS_LABEL_RUN, l->run_id};
    l->labels[n++] = (struct cass_container_label){CASS_LABEL_REVISION, l->revision};
    l->labels[n++] = (struct cass_container_label){CASS_LABEL_INSTANCE, l->d->instance};
    if (replica >= 0) {
        snprintf(l->replica_label, sizeof(l->replica_label), "%d", replica);
        l->labels[n++] = (struct cass_container_label){CASS_LABEL_REPLICA, l->replica_label};
    }
    char base[100];
    cass_launch_container_name(l->name, l->run_id, base, sizeof(base));
    if (suffix)
        snprintf(l->cname, sizeof(l->cname), "%s-%s", base, suffix);
    else
        snprintf(l->cname, sizeof(l->cname), "%s", base);

    const json_t *res = json_object_get(l->spec, "resources");
    cass_policy_tmp_options(json_integer_value(json_object_get(l->policy, "tmpSize")),
                            json_integer_value(json_object_get(res, "memory")), l->tmp_options);
    l->tmpfs[0] = (struct cass_container_tmpfs){CASS_POLICY_TMP, l->tmp_options};
    l->cs = (struct cass_container_spec){
        .name = l->cname,
        /* name@digest from a registry (what every node of a cluster can
         * pull), else the local image ID. */
        .image = l->image_ref ? l->image_ref : l->image_id,
        .user = l->user,
        .labels = l->labels,
        .n_labels = n,
        .nano_cpus = (int64_t)(json_number_value(json_object_get(res, "cpus")) * 1e9 + 0.5),
        .memory = (int64_t)json_integer_value(json_object_get(res, "memory")),
        .gpus = (int)json_integer_value(json_object_get(res, "gpus")),
        .pids_limit = json_is_integer(json_object_get(res, "pids"))
                          ? json_integer_value(json_object_get(res, "pids"))
                          : json_integer_value(json_object_get(l->policy, "defaultPids")),
        .cap_drop = cass_policy_cap_drop(),
        .security_opt = cass_policy_security_opt(),
        .readonly_rootfs = true,
        .tmpfs = l->tmpfs,
        .n_tmpfs = 1,
        .restart_policy = "no",
        .init = true, /* signals reach the program and zombies are reaped */
    };
}

struct cass_container_mount *cass_launch_bind_mounts(struct cass_launch *l, const char *key,
                                                     bool read_only, size_t extra, size_t *ret_n)
{
    const json_t *list = json_object_get(l->spec, key);
    size_t n = json_array_size(list);
    struct cass_container_mount *m = calloc(n + extra + 1, sizeof(*m));
    if (!m)
        abort();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        m[i] = (struct cass_container_mount){
            .type = CASS_MOUNT_BIND,
            .source = json_string_value(json_object_get(v, "source")),
            .target = json_string_value(json_object_get(v, "target")),
            .read_only = read_only || json_is_true(json_object_get(v, "readOnly")),
        };
        cass_strv_addf(&l->fields, "spec.%s[%zu].source", key, i);
        m[i].field = l->fields.v[l->fields.n - 1];
    }
    *ret_n = n;
    return m;
}

void cass_launch_cmd_add(struct cass_launch *l, const json_t *argv)
{
    size_t i;
    json_t *v;
    json_array_foreach(argv, i, v) cass_strv_add(&l->cmd, strdup(json_string_value(v)));
}

/* Pins every bind source of l->cs (see pin.h) into l->pins, unless it is
 * there already; *ret gets a copy of the mounts with the sources to hand
 * over (caller frees). */
static int pin_mounts(struct cass_launch *l, struct cass_container_mount **ret,
                      struct cass_error **err)
{
    if (!l->pins)
        l->pins = cass_pins_new();
    size_t n = l->cs.n_mounts;
    struct cass_container_mount *m = calloc(n ? n : 1, sizeof(*m));
    if (!m)
        abort();
    const json_t *policy = l->policy;
    const char *docker_host = cass_daemon_config_str(l->d, "dockerHost");
    for (size_t i = 0; i < n; i++) {
        m[i] = l->cs.mounts[i];
        if (m[i].type != CASS_MOUNT_BIND)
            continue;
        /* Pinned already when the kind staged it (a job's inputs, hashed
         * through their pins), else now. */
        m[i].source = cass_pins_find(l->pins, m[i].target);
        if (!m[i].source)
            m[i].source = cass_pins_add(l->pins, l->cs.mounts[i].source, m[i].target, m[i].field,
                                        policy, docker_host, err);
        if (!m[i].source) {
            l->reason = "policy-refused";
            free(m);
            return -1;
        }
    }
    *ret = m;
    return 0;
}

/* The engine's own record of the mounts against the pins. */
static int verify_mounts(struct cass_launch *l, const char *id, struct cass_error **err)
{
    if (!l->b->ops->mounts || !cass_pins_count(l->pins))
        return 0;
    _cleanup_json_ json_t *got = NULL;
    if (l->b->ops->mounts(l->b, id, &got, err) < 0)
        return -1;
    if (cass_pins_verify(l->pins, got, err) < 0) {
        l->reason = "policy-refused";
        return -1;
    }
    return 0;
}

char *cass_launch_create(struct cass_launch *l, struct cass_error **err)
{
    l->cs.env = (const char *const *)l->env.v;
    if (l->cmd.n)
        l->cs.cmd = (const char *const *)l->cmd.v;
    if (!l->cs.network_mode && l->b->ops->network &&
        l->b->ops->network(l->b, &l->cs.network_mode, err) < 0)
        return NULL;
    _cleanup_free_ struct cass_container_mount *pinned = NULL;
    if (pin_mounts(l, &pinned, err) < 0)
        return NULL;
    const struct cass_container_mount *as_spec = l->cs.mounts;
    l->cs.mounts = pinned;
    char *id = l->b->ops->create(l->b, &l->cs, err);
    l->cs.mounts = as_spec;
    if (!id)
        return NULL;
    if (verify_mounts(l, id, err) < 0) {
        cass_run_remove_workload(l->d, l->b, NULL, NULL, id);
        free(id);
        return NULL;
    }
    CASS_FAILPOINT("launch.after-create");
    _cleanup_error_ struct cass_error *gerr = NULL;
    _cleanup_json_ json_t *cur = cass_store_run_get(l->d->store, l->run_id, &gerr);
    json_t *containers = json_deep_copy(json_object_get(cur, "containers"));
    if (!containers)
        containers = json_array();
    json_array_append_new(containers, json_string(id));
    if (!cur || cass_launch_record(l, json_pack("{s:o}", "containers", containers), err) < 0) {
        /* Stopped or deleted meanwhile: what we just made must not stay. */
        if (!cur)
            cass_error_merge(err, &gerr);
        cass_run_remove_workload(l->d, l->b, NULL, NULL, id);
        free(id);
        return NULL;
    }
    CASS_FAILPOINT("launch.after-create-recorded");
    return id;
}

/* Collects the last lines of a container's output for an error message. */
struct tail_buf {
    char buf[2048];
    size_t len;
};

static int tail_collect(int stream, const char *data, size_t len, void *ud)
{
    (void)stream;
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

int cass_launch_check_running(struct cass_launch *l, const char *id, struct cass_error **err)
{
    struct cass_workload_state st;
    if (l->b->ops->state(l->b, id, &st, err) < 0)
        return -1;
    if (st.running)
        return 0;
    if (!st.exists)
        return cass_error_set(err, CASS_ERR_ENGINE, "container exited: it was removed");
    if (!st.started && st.error[0])
        return cass_error_set(err, CASS_ERR_ENGINE, "it never ran: %s", st.error);
    struct tail_buf t = {.len = 0};
    struct cass_engine_logs_opts o = {.tail = 15};
    _cleanup_error_ struct cass_error *lerr = NULL;
    bool have_tail = l->b->ops->logs(l->b, id, &o, tail_collect, &t, &lerr) == 0 && t.len > 0;
    return cass_error_set(err, CASS_ERR_ENGINE, "container exited (code %d%s)%s%s", st.exit_code,
                          st.oom_killed ? ", out of memory" : "",
                          have_tail ? " before it was ready; its last output:\n" : "",
                          have_tail ? t.buf : "");
}

/* Starts a created container. An engine that is shutting down stops its
 * containers first and answers 5xx meanwhile: such an answer is tried again
 * every second for START_RETRY_S, and when the engine stops answering
 * within that time the error says it went away (CASS_ERR_UNAVAILABLE), so
 * that the run waits for it instead of failing. The pins of its mounts go
 * once it started. */
int cass_launch_start(struct cass_launch *l, const char *id, struct cass_error **err)
{
    struct cass_error *serr = NULL;
    for (int tries = 0;; tries++) {
        if (l->b->ops->start(l->b, id, &serr) == 0) {
            /* Mounted: the container's mounts are copies; the pins go. */
            cass_pins_free(TAKE_PTR(l->pins));
            return 0;
        }
        if (serr->kind != CASS_ERR_ENGINE || serr->status < 500 || tries >= START_RETRY_S ||
            cass_lifecycle_nap(l->lc, 1000))
            break;
        _cleanup_error_ struct cass_error *perr = NULL;
        if (l->b->ops->ping(l->b, &perr) < 0) {
            serr->kind = CASS_ERR_UNAVAILABLE;
            cass_error_prefix(&serr, "the engine went away (%s)", perr->message);
            break;
        }
        log_debug("start %.12s: %s; trying again", id, serr->message);
        cass_error_free(TAKE_PTR(serr));
    }
    cass_error_merge(err, &serr);
    return -1;
}

int cass_launch_start_published(struct cass_launch *l, const char *id, int port, char host[64],
                                int *ret_port, bool *ret_exited, struct cass_error **err)
{
    *ret_exited = false;
    if (cass_launch_start(l, id, err) < 0)
        return -1;
    CASS_FAILPOINT("launch.after-start");
    if (l->b->ops->endpoint(l->b, id, port, host, ret_port, err) < 0) {
        _cleanup_error_ struct cass_error *xerr = NULL;
        if (cass_launch_check_running(l, id, &xerr) < 0) {
            *ret_exited = true;
            cass_error_free(TAKE_PTR(*err));
            cass_error_merge(err, &xerr);
        }
        return -1;
    }
    cass_launch_note_node(l, id);
    return 0;
}

void cass_launch_note_node(struct cass_launch *l, const char *id)
{
    char node[64] = "";
    _cleanup_error_ struct cass_error *err = NULL;
    if (!l->b->ops->node || l->b->ops->node(l->b, id, node, &err) < 0 || !node[0])
        return;
    _cleanup_json_ json_t *cur = cass_store_run_get(l->d->store, l->run_id, NULL);
    json_t *nodes = json_object_get(cur, "nodes");
    nodes = json_is_object(nodes) ? json_deep_copy(nodes) : json_object();
    /* Only the run's workloads of now: a replaced replica's node goes. */
    json_t *keep = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cur, "containers"), i, c)
    {
        json_t *n = json_object_get(nodes, json_string_value(c));
        if (n)
            json_object_set(keep, json_string_value(c), n);
    }
    json_decref(nodes);
    json_object_set_new(keep, id, json_string(node));
    _cleanup_json_ json_t *ch = json_pack("{s:o}", "nodes", keep);
    cass_store_run_update(l->d->store, l->run_id, ch, NULL, NULL);
}

void cass_launch_slot_release(struct cass_launch *l)
{
    if (l->holds_slot) {
        l->holds_slot = false;
        cass_lifecycle_slot_release(l->lc);
    }
}

static void launch_clear(struct cass_launch *l)
{
    cass_launch_slot_release(l);
    json_decref(l->run);
    json_decref(l->doc);
    json_decref(l->policy);
    free(l->image_id);
    free(l->image_ref);
    free(l->image_user);
    free(l->workdir);
    json_decref(l->image_cmd);
    cass_strv_free(&l->env);
    cass_strv_free(&l->cmd);
    cass_strv_free(&l->fields);
    cass_pins_free(l->pins);
}

/* The engine did not answer: a run that had not started yet waits for it
 * (pending, reason engine-unavailable, since when in engineWaitSince; a
 * container it created is no longer listed, so the reconcile after the
 * engine's return removes it); the lifecycle's ticker queues it again when
 * the engine answers, or fails it past limits.engineWaitSeconds. A run that
 * serves, or may have started, keeps its status: the reconcile after the
 * engine's return resumes it by its kind's rules. */
static void wait_for_engine(struct cass_launch *l, const json_t *run, const struct cass_error *why)
{
    const char *status = json_string_value(json_object_get(run, "status"));
    if (strcmp(status, "ready") == 0 || strcmp(status, "running") == 0 ||
        (strcmp(status, "starting") == 0 &&
         json_array_size(json_object_get(run, "containers")) > 0)) {
        log_debug("run %s: the engine does not answer (%s); decided when it does", l->run_id,
                  why ? why->message : "?");
        return;
    }
    _cleanup_free_ char *msg =
        cass_xasprintf("waiting for the engine, which does not answer (%s); at most %lld s "
                       "(limits.engineWaitSeconds)",
                       why ? why->message : "?",
                       (long long)cass_daemon_config_int(l->d, "limits.engineWaitSeconds"));
    _cleanup_json_ json_t *ch =
        json_pack("{s:s,s:s,s:s,s:[],s:[]}", "status", "pending", "reason",
                  CASS_REASON_ENGINE_UNAVAILABLE, "error", msg, "containers", "ports");
    if (!json_is_string(json_object_get(run, "engineWaitSince"))) {
        char now[CASS_STORE_TIME_LEN + 1];
        cass_store_time_now(now);
        json_object_set_new(ch, "engineWaitSince", json_string(now));
    }
    _cleanup_error_ struct cass_error *err = NULL;
    if (cass_run_change(l->d, l->run_id, ch, NULL, &err) < 0) {
        log_warn("run %s: cannot record that it waits for the engine: %s", l->run_id, err->message);
        return;
    }
    log_info("run %s: waits for the engine: %s", l->run_id, why ? why->message : "?");
}

/* A launch step failed because the engine went away (a transport error and
 * the engine does not answer a ping), not because of what it answered. */
static bool engine_gone(struct cass_launch *l, const struct cass_error *err)
{
    if (!err || err->kind != CASS_ERR_UNAVAILABLE)
        return false;
    _cleanup_error_ struct cass_error *perr = NULL;
    return l->b->ops->ping(l->b, &perr) < 0;
}

/* Runs of the same name that a new one replaces before it launches. */
static void stop_other_runs(struct cass_launch *l)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *active = cass_store_runs_active(l->d->store, &err);
    size_t i;
    json_t *r;
    json_array_foreach(active, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *st = json_string_value(json_object_get(r, "status"));
        /* One not launched yet came later (apply stops older ones): it
         * replaces this one when its turn comes, not the other way. */
        if (strcmp(json_string_value(json_object_get(r, "name")), l->name) != 0 ||
            strcmp(id, l->run_id) == 0 || strcmp(st, "pending") == 0 || strcmp(st, "queued") == 0)
            continue;
        _cleanup_free_ char *reason = cass_xasprintf("replaced by %s", l->run_id);
        cass_run_status(l->d, id, "stopped", reason, NULL);
        cass_run_remove_workloads(l->d, l->b, r);
        log_info("run %s stopped: %s", id, reason);
    }
}

void cass_launch_run(struct cass_lifecycle *lc, const char *run_id)
{
    struct cass_daemon *d = cass_lifecycle_daemon(lc);
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_launch l = {
        .lc = lc, .d = d, .b = cass_lifecycle_backend(lc), .policy = cass_daemon_policy(d)};
    l.run = cass_store_run_get(d->store, run_id, &err);
    if (!l.run) {
        log_error("run %s: %s", run_id, err->message);
        return;
    }
    l.run_id = json_string_value(json_object_get(l.run, "id"));
    l.name = json_string_value(json_object_get(l.run, "name"));
    l.revision = json_string_value(json_object_get(l.run, "revision"));
    l.kind = json_string_value(json_object_get(l.run, "kind"));
    const char *status = json_string_value(json_object_get(l.run, "status"));
    const struct cass_kind *kind = cass_kind_find(l.kind);
    l.doc = cass_run_doc(d, l.run, &err);
    l.spec = json_object_get(l.doc, "spec");
    l.reason = "launch-failed";
    int rc = -1;
    bool has_workload = json_array_size(json_object_get(l.run, "containers")) > 0;

    if (!kind || !l.doc) {
        cass_run_fail(d, run_id, "launch-failed", err ? err->message : "unknown kind");
        goto out;
    }
    if (cass_store_status_final(status)) {
        /* Ended while it waited, or while the daemon was down: what it left
         * is the kind's to record (a job's exit), then it goes. */
        if (kind->resume && has_workload)
            kind->resume(&l, NULL);
        else
            cass_run_remove_workloads(d, l.b, l.run);
        goto out;
    }
    if (cass_store_full(d->store)) {
        /* Nothing it does could be recorded: it stays as it is and the
         * recovery from the full disk queues it again. */
        log_info("run %s: waits until the disk has room", run_id);
        goto out;
    }
    if (l.b->ops->ping(l.b, &err) < 0) {
        wait_for_engine(&l, l.run, err);
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(l.run, "reason")) ?: "",
               CASS_REASON_ENGINE_UNAVAILABLE) == 0) {
        _cleanup_json_ json_t *ch = json_pack("{s:n,s:n}", "reason", "error");
        cass_store_run_update(d->store, run_id, ch, NULL, NULL);
    }
    if (kind->resume && has_workload &&
        (strcmp(status, "running") == 0 || strcmp(status, "starting") == 0 ||
         strcmp(status, "ready") == 0)) {
        log_info("run %s: following %s container again", run_id, l.kind);
        rc = kind->resume(&l, &err);
        if (rc <= 0)
            goto done;
        /* Cut short: launched again below, from the record resume reset. */
        json_decref(l.run);
        if (!(l.run = cass_store_run_get(d->store, run_id, &err)))
            goto failed;
        l.run_id = json_string_value(json_object_get(l.run, "id"));
        l.name = json_string_value(json_object_get(l.run, "name"));
        l.revision = json_string_value(json_object_get(l.run, "revision"));
        l.kind = json_string_value(json_object_get(l.run, "kind"));
        rc = -1;
    } else if (has_workload) {
        /* Cut short between making its container and starting it (still
         * creating): what it made goes, logs kept, and it launches from a
         * clean slate; its container's name would collide otherwise. */
        log_info("run %s: %s when the daemon stopped; launching it again", run_id, status);
        cass_run_remove_workloads(d, l.b, l.run);
        if (cass_launch_record(&l, json_pack("{s:[]}", "containers"), &err) < 0)
            goto failed;
    }
    l.launch_start = cass_now();
    if (cass_launch_policy(&l, &err) < 0)
        goto failed;
    if (kind->stage &&
        (cass_launch_record(&l, json_pack("{s:s}", "status", "creating"), &err) < 0 ||
         kind->stage(&l, &err) < 0))
        goto failed;
    cass_lifecycle_slot_acquire(lc);
    l.holds_slot = true;
    if (kind->replaces_before_launch)
        stop_other_runs(&l);
    if (!kind->stage && cass_launch_record(&l, json_pack("{s:s}", "status", "creating"), &err) < 0)
        goto failed;
    if (cass_launch_image(&l, &err) < 0)
        goto failed;
    rc = kind->launch(&l, &err);
done:
    if (rc == 0)
        goto out;
failed:
    if (atomic_load(cass_lifecycle_cancel(lc))) {
        /* Shutting down: the next start's reconcile launches it again. */
        log_info("run %s: launch interrupted by shutdown", run_id);
        goto out;
    }
    if (engine_gone(&l, err)) {
        _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, NULL);
        if (now) {
            wait_for_engine(&l, now, err);
            goto out;
        }
    }
    if (cass_store_full(d->store)) {
        /* What it made stays until its end can be recorded. */
        log_warn("run %s: %s; left as it is until the disk has room", run_id,
                 err ? err->message : "?");
        goto out;
    }
    {
        /* Leave nothing behind: the run says what happened; its containers go. */
        _cleanup_error_ struct cass_error *gerr = NULL;
        _cleanup_json_ json_t *now = cass_store_run_get(d->store, run_id, &gerr);
        if (now && !cass_store_status_final(json_string_value(json_object_get(now, "status")))) {
            cass_run_fail(d, run_id, l.reason, err ? err->message : "?");
            cass_metric_add(CASS_M_LAUNCH_FAILURES, 1, l.kind, l.reason);
        }
        if (now)
            cass_run_remove_workloads(d, l.b, now);
    }
out:
    launch_clear(&l);
}
