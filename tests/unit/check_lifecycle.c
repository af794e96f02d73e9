/* The lifecycle and the kinds' logic against a fake backend (no engine):
 * launch, scheduling and queueing, jobs, resume after a restart, culling,
 * model health and rollouts, concurrent applies. Each test runs a daemon
 * state (store, config, lifecycle threads) in a private directory. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cleanup.h"
#include "daemon.h"
#include "fake_backend.h"
#include "lifecycle.h"
#include "outputs.h"
#include "rotation.h"
#include "spec.h"
#include "store.h"

static char tmpdir[512];
static struct cass_daemon *d;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A daemon state in a fresh directory, with launches and running jobs
 * limited as given. */
static void daemon_up_waiting(int launches, int jobs, int engine_wait_s);
static void daemon_up(int launches, int jobs)
{
    daemon_up_waiting(launches, jobs, 0);
}

/* The same with limits.engineWaitSeconds (0: the default). */
static void daemon_up_waiting(int launches, int jobs, int engine_wait_s)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cassiny-check-lifecycle.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    _cleanup_error_ struct cass_error *err = NULL;
    d = fake_daemon_new(tmpdir, launches, jobs, engine_wait_s, &err);
    ck_assert_msg(d != NULL, "daemon: %s", err ? err->message : "?");
}

/* Stops the threads and frees everything, like a daemon shutting down;
 * with keep the directory stays for a daemon_again. */
static void daemon_down(bool keep)
{
    cass_lifecycle_stop(d);
    cass_daemon_free(d);
    d = NULL;
    if (!keep) {
        fake_reset();
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
    }
}

/* A new daemon on the same state directory: a restart. */
static void daemon_again(int launches, int jobs)
{
    _cleanup_error_ struct cass_error *err = NULL;
    d = fake_daemon_new(tmpdir, launches, jobs, 0, &err);
    ck_assert_msg(d != NULL, "daemon: %s", err ? err->message : "?");
}

/* Applies YAML text; returns the reply (caller owns). */
static json_t *apply(const char *yaml)
{
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *specs = cass_spec_load(yaml, strlen(yaml), &err);
    ck_assert_msg(specs != NULL, "spec: %s", err ? err->message : "?");
    json_t *out = cass_lifecycle_apply(d, specs, NULL, &err);
    ck_assert_msg(out != NULL, "apply: %s", err ? err->message : "?");
    return out;
}

static char *run_of(const json_t *reply, size_t i)
{
    return strdup(json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(reply, "specs"), i), "run"), "id")));
}

static char *status_of(const char *run_id)
{
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, NULL);
    const char *st = json_string_value(json_object_get(run, "status"));
    return strdup(st ? st : "?");
}

/* Waits up to timeout_s for the run to reach status; returns the seconds
 * it took, or fails the test. */
static double wait_status(const char *run_id, const char *status, double timeout_s)
{
    double start = now_s();
    for (;;) {
        _cleanup_free_ char *st = status_of(run_id);
        if (strcmp(st, status) == 0)
            return now_s() - start;
        ck_assert_msg(now_s() - start < timeout_s, "run %s is %s after %.1f s, not %s", run_id, st,
                      timeout_s, status);
        usleep(20 * 1000);
    }
}

/* Applies yaml and waits up to 10 s for its run to be status; the run id
 * (caller frees). */
static char *apply_until(const char *yaml, const char *status)
{
    _cleanup_json_ json_t *out = apply(yaml);
    char *run = run_of(out, 0);
    wait_status(run, status, 10);
    return run;
}

static char *notebook_yaml(const char *name)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s,
                              "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\n"
                              "spec: {image: cassiny/notebook:bookworm}\n",
                              name),
                     0);
    return s;
}

static char *job_yaml(const char *name, int timeout)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s,
                              "apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\n"
                              "spec: {image: cassiny/test-busybox:latest, command: [sleep, '1000'],"
                              " outputs: /outputs, timeoutSeconds: %d}\n",
                              name, timeout),
                     0);
    return s;
}

static char *model_yaml(const char *name, const char *version, int replicas)
{
    char art[600];
    snprintf(art, sizeof(art), "%s/model-%s.bin", tmpdir, version);
    FILE *f = fopen(art, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "weights of %s\n", version);
    fclose(f);
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s,
                              "apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\n"
                              "spec:\n  image: cassiny/model-server:bookworm\n  artifact: %s\n"
                              "  version: %s\n  replicas: %d\n  port: 8080\n"
                              "  health: {path: /ready, intervalSeconds: 1, timeoutSeconds: 1,"
                              " failureThreshold: 3, replaceAfterSeconds: 10}\n",
                              name, art, version, replicas),
                     0);
    return s;
}

static char *container_of(const char *run_id, size_t i)
{
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, NULL);
    const char *c = json_string_value(json_array_get(json_object_get(run, "containers"), i));
    return c ? strdup(c) : NULL;
}

/* ---- notebooks ------------------------------------------------------------- */

START_TEST(notebook_launches_to_ready)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = notebook_yaml("nb");
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "image"), "id")),
                     "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "url")), "?token="));
    ck_assert_int_eq(fake_count(run, true), 1);
    daemon_down(false);
}
END_TEST

START_TEST(notebook_idle_is_culled)
{
    daemon_up(2, 2);
    fake_set_last_activity("2020-01-01T00:00:00Z");
    const char *y = "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: idle}\n"
                    "spec: {image: cassiny/notebook:bookworm, idleTimeout: 2}\n";
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    /* Jupyter's last activity is years old, but idle counts from the time
     * it became ready: not culled at once (a woken notebook was, and woke
     * and was culled again, round and round), then culled. */
    double waited = wait_status(run, "stopped", 10);
    ck_assert_msg(waited >= 1.5, "culled %.2f s after ready, under its idleTimeout of 2 s", waited);
    /* Recorded first, then its container goes. */
    for (int i = 0; i < 100 && fake_count(run, false) > 0; i++)
        usleep(20 * 1000);
    ck_assert_int_eq(fake_count(run, false), 0);
    fake_set_last_activity(NULL);
    daemon_down(false);
}
END_TEST

/* Finding: a Job held a launch worker for its whole life, so N long jobs
 * kept every notebook waiting. */
START_TEST(jobs_do_not_block_notebooks)
{
    daemon_up(2, 2);
    char *runs[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "job%d", i);
        _cleanup_free_ char *y = job_yaml(name, 3600);
        _cleanup_json_ json_t *out = apply(y);
        runs[i] = run_of(out, 0);
    }
    wait_status(runs[0], "running", 10);
    wait_status(runs[1], "running", 10);
    /* The third waits for a job slot, and says where it stands. */
    wait_status(runs[2], "queued", 5);
    ck_assert_int_eq(cass_lifecycle_queue_position(d->lifecycle, runs[2]), 1);
    _cleanup_free_ char *y = notebook_yaml("beside");
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *nb = run_of(out, 0);
    double t = wait_status(nb, "ready", 10);
    ck_assert_msg(t < 3, "notebook took %.1f s beside two jobs", t);
    struct cass_lifecycle_stats st;
    cass_lifecycle_stats(d->lifecycle, &st);
    ck_assert_int_eq(st.running_jobs, 2);
    ck_assert_int_eq(st.job_queue, 1);
    /* A job ends: the queued one runs. */
    _cleanup_free_ char *c0 = container_of(runs[0], 0);
    fake_exit(c0, 0);
    wait_status(runs[0], "succeeded", 10);
    wait_status(runs[2], "running", 10);
    for (int i = 0; i < 3; i++)
        free(runs[i]);
    daemon_down(false);
}
END_TEST

/* Finding: hashing a job's inputs held a launch worker, so every other
 * launch waited behind a large input. The read hook holds the hashing
 * until the test lets it go. */
static atomic_int hashing_held, hashing_release;

static void hold_hashing(const char *path, int attempt)
{
    (void)path, (void)attempt;
    atomic_store(&hashing_held, 1);
    while (!atomic_load(&hashing_release))
        usleep(10 * 1000);
}

START_TEST(input_hashing_does_not_hold_launches)
{
    daemon_up(1, 2);
    char dir[600], file[700];
    snprintf(dir, sizeof(dir), "%s/input", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(file, sizeof(file), "%s/data.csv", dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b\n1,2\n", f);
    fclose(f);
    cass_outputs_set_read_hook(hold_hashing);
    char *y = NULL;
    ck_assert_int_ge(asprintf(&y,
                              "apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: big}\n"
                              "spec: {image: cassiny/test-busybox:latest, command: [sleep, '1000'],"
                              " outputs: /out, inputs: [{source: %s, target: /in}]}\n",
                              dir),
                     0);
    _cleanup_json_ json_t *jout = apply(y);
    free(y);
    _cleanup_free_ char *job = run_of(jout, 0);
    for (int i = 0; i < 500 && !atomic_load(&hashing_held); i++)
        usleep(10 * 1000);
    ck_assert_msg(atomic_load(&hashing_held), "the job never started hashing");
    /* One launch slot, and the job is hashing: a notebook must not wait. */
    _cleanup_free_ char *ny = notebook_yaml("while-hashing");
    _cleanup_json_ json_t *nout = apply(ny);
    _cleanup_free_ char *nb = run_of(nout, 0);
    wait_status(nb, "ready", 10);
    _cleanup_free_ char *st = status_of(job);
    ck_assert_str_eq(st, "creating");
    atomic_store(&hashing_release, 1);
    wait_status(job, "running", 10);
    _cleanup_json_ json_t *r = cass_store_run_get(d->store, job, NULL);
    ck_assert(json_is_string(json_object_get(r, "inputsDigest")));
    cass_outputs_set_read_hook(NULL);
    daemon_down(false);
}
END_TEST

START_TEST(job_exit_codes_and_timeout)
{
    daemon_up(2, 4);
    _cleanup_free_ char *ya = job_yaml("ok", 3600);
    _cleanup_free_ char *yb = job_yaml("bad", 3600);
    _cleanup_free_ char *yc = job_yaml("slow", 1);
    _cleanup_json_ json_t *oa = apply(ya);
    _cleanup_json_ json_t *ob = apply(yb);
    _cleanup_json_ json_t *oc = apply(yc);
    _cleanup_free_ char *a = run_of(oa, 0), *b = run_of(ob, 0), *c = run_of(oc, 0);
    wait_status(a, "running", 10);
    wait_status(b, "running", 10);
    _cleanup_free_ char *ca = container_of(a, 0), *cb = container_of(b, 0);
    fake_exit(ca, 0);
    fake_exit(cb, 3);
    wait_status(a, "succeeded", 10);
    wait_status(b, "failed", 10);
    wait_status(c, "failed", 10);
    _cleanup_json_ json_t *rb = cass_store_run_get(d->store, b, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(rb, "exitCode")), 3);
    _cleanup_json_ json_t *rc = cass_store_run_get(d->store, c, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(rc, "reason")), "timeout");
    /* Their containers are gone (the end is recorded first, then they go),
     * their logs kept. */
    for (int i = 0; i < 100 && fake_count(a, false) + fake_count(b, false) + fake_count(c, false);
         i++)
        usleep(20 * 1000);
    ck_assert_int_eq(fake_count(a, false) + fake_count(b, false) + fake_count(c, false), 0);
    char log[700];
    snprintf(log, sizeof(log), "%s/runs/%s/container.log", tmpdir, a);
    ck_assert_int_eq(access(log, R_OK), 0);
    daemon_down(false);
}
END_TEST

/* A job whose image is not in the engine, under the config as it is:
 * returns its run id (caller owns). */
static char *job_with_image(const char *name, const char *image)
{
    _cleanup_free_ char *y = NULL;
    ck_assert_int_ge(asprintf(&y,
                              "apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\n"
                              "spec: {image: '%s', command: [sleep, '1000']}\n",
                              name, image),
                     0);
    _cleanup_json_ json_t *o = apply(y);
    return run_of(o, 0);
}

static void assert_failed_with(const char *run_id, const char *reason, const char *text)
{
    wait_status(run_id, "failed", 10);
    _cleanup_json_ json_t *r = cass_store_run_get(d->store, run_id, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r, "reason")), reason);
    const char *e = json_string_value(json_object_get(r, "error"));
    ck_assert_msg(e && strstr(e, text), "error \"%s\" does not say \"%s\"", e ? e : "", text);
}

START_TEST(images_pulled_only_from_configured_registries)
{
    daemon_up(2, 4);
    json_object_set_new(json_object_get(d->config, "policy"), "images",
                        json_pack("[s,s]", "cassiny/*", "127.0.0.1:5000/cassiny/*"));
    size_t pulls = fake_pulls();
    /* The defaults: no registries, no pull call. */
    _cleanup_free_ char *a = job_with_image("hub", "cassiny/missing-x:1");
    assert_failed_with(a, "image-not-found",
                       "image cassiny/missing-x:1 is not in the engine and was not pulled: "
                       "registry docker.io is not in registries (none)");
    _cleanup_free_ char *b = job_with_image("private", "127.0.0.1:5000/cassiny/missing-x:1");
    assert_failed_with(b, "image-not-found", "registry 127.0.0.1:5000 is not in registries");
    ck_assert_uint_eq(fake_pulls(), pulls);

    /* Listed: pulled, then it runs; docker.io still is not. */
    json_object_set_new(d->config, "registries", json_pack("[s]", "127.0.0.1:5000"));
    _cleanup_free_ char *c = job_with_image("private2", "127.0.0.1:5000/cassiny/missing-x:1");
    wait_status(c, "running", 10);
    ck_assert_uint_eq(fake_pulls(), pulls + 1);
    _cleanup_free_ char *e = job_with_image("hub2", "cassiny/missing-y:1");
    assert_failed_with(e, "image-not-found",
                       "registry docker.io is not in registries (127.0.0.1:5000)");

    /* pull: never wins. */
    json_object_set_new(d->config, "pull", json_string("never"));
    _cleanup_free_ char *f = job_with_image("private3", "127.0.0.1:5000/cassiny/missing-z:1");
    assert_failed_with(f, "image-not-found", "pulls are off (pull: never)");
    ck_assert_uint_eq(fake_pulls(), pulls + 1);
    daemon_down(false);
}
END_TEST

START_TEST(sweep_of_jobs_runs_to_completion)
{
    daemon_up(2, 4);
    /* 40 jobs in one file; each is ended by the test as soon as it runs. */
    char *y = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&y, &len);
    for (int i = 0; i < 40; i++)
        fprintf(f,
                "---\napiVersion: cassiny/v1\nkind: Job\nmetadata: {name: sweep-%d}\n"
                "spec: {image: cassiny/test-busybox:latest, command: [/bin/true], outputs: /out}\n",
                i);
    fclose(f);
    _cleanup_json_ json_t *out = apply(y);
    free(y);
    size_t n = json_array_size(json_object_get(out, "specs"));
    ck_assert_int_eq(n, 40);
    _cleanup_free_ char *ny = notebook_yaml("during-sweep");
    _cleanup_json_ json_t *nout = apply(ny);
    _cleanup_free_ char *nb = run_of(nout, 0);
    double start = now_s();
    size_t done = 0;
    bool nb_ready = false;
    while (done < n) {
        ck_assert_msg(now_s() - start < 60, "sweep: %zu of %zu done after 60 s", done, n);
        done = 0;
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *r = run_of(out, i);
            _cleanup_free_ char *st = status_of(r);
            if (strcmp(st, "succeeded") == 0) {
                done++;
            } else if (strcmp(st, "running") == 0) {
                _cleanup_free_ char *c = container_of(r, 0);
                if (c)
                    fake_exit(c, 0);
            }
        }
        _cleanup_free_ char *nst = status_of(nb);
        if (!nb_ready && strcmp(nst, "ready") == 0) {
            nb_ready = true;
            ck_assert_msg(done < n, "the notebook waited for the whole sweep");
        }
        usleep(20 * 1000);
    }
    wait_status(nb, "ready", 10);
    daemon_down(false);
}
END_TEST

/* Finding (reliability): killed after its container was created and before
 * it was started, a job came back as succeeded without running. */
START_TEST(job_created_not_started_is_launched_again)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = job_yaml("half", 3600);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "running", 10);
    char instance[64];
    snprintf(instance, sizeof(instance), "%s", d->instance);
    daemon_down(true);
    /* The record a crash between create and start leaves: a container
     * that never ran, listed by the run. */
    char ghost[72] = "ghost000000000000000000000000000000000000000000000000000000000001";
    fake_adopt(ghost, run, "half", instance);
    {
        char db[600];
        snprintf(db, sizeof(db), "%s/cassiny.db", tmpdir);
        _cleanup_error_ struct cass_error *err = NULL;
        struct cass_store *s = cass_store_open(db, &err);
        ck_assert_ptr_nonnull(s);
        _cleanup_json_ json_t *ch = json_pack("{s:[s]}", "containers", ghost);
        ck_assert_int_eq(cass_store_run_update(s, run, ch, NULL, &err), 0);
        cass_store_close(s);
    }
    daemon_again(2, 2);
    /* It must run for real: a new container, started, and not a success. */
    double start = now_s();
    for (;;) {
        _cleanup_free_ char *st = status_of(run);
        ck_assert_msg(strcmp(st, "succeeded") != 0, "a job that never ran was recorded succeeded");
        _cleanup_free_ char *c = container_of(run, 0);
        if (strcmp(st, "running") == 0 && c && strcmp(c, ghost) != 0)
            break;
        ck_assert_msg(now_s() - start < 10, "run is %s", st);
        usleep(20 * 1000);
    }
    ck_assert_int_eq(fake_count(run, true), 1);
    daemon_down(false);
}
END_TEST

/* A crash after a notebook's container was made and listed but before the
 * run left "creating": at the restart that container goes and the run
 * launches with one container, never two (a second would collide on the
 * run's container name in a real engine). */
START_TEST(notebook_cut_short_while_creating_is_launched_again)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = notebook_yaml("cut");
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    char instance[64];
    snprintf(instance, sizeof(instance), "%s", d->instance);
    daemon_down(true);
    char ghost[72] = "ghost000000000000000000000000000000000000000000000000000000000002";
    fake_adopt(ghost, run, "cut", instance);
    {
        char db[600];
        snprintf(db, sizeof(db), "%s/cassiny.db", tmpdir);
        _cleanup_error_ struct cass_error *err = NULL;
        struct cass_store *s = cass_store_open(db, &err);
        ck_assert_ptr_nonnull(s);
        _cleanup_json_ json_t *ch =
            json_pack("{s:s,s:[s]}", "status", "creating", "containers", ghost);
        ck_assert_int_eq(cass_store_run_update(s, run, ch, NULL, &err), 0);
        cass_store_close(s);
    }
    daemon_again(2, 2);
    double start = now_s();
    for (;;) {
        _cleanup_free_ char *st = status_of(run);
        _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
        if (strcmp(st, "ready") == 0 && json_array_size(json_object_get(r, "containers")) == 1)
            break;
        ck_assert_msg(now_s() - start < 10, "run is %s with %zu containers", st,
                      json_array_size(json_object_get(r, "containers")));
        usleep(20 * 1000);
    }
    _cleanup_free_ char *c = container_of(run, 0);
    ck_assert_str_ne(c, ghost);
    ck_assert_int_eq(fake_count(run, false), 1);
    daemon_down(false);
}
END_TEST

/* ---- concurrency ------------------------------------------------------------ */

struct applier {
    int i;
};

static void *apply_one(void *arg)
{
    struct applier *a = arg;
    char *y = NULL;
    ck_assert_int_ge(asprintf(&y,
                              "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: same}\n"
                              "spec: {image: cassiny/notebook:bookworm, env: {N: '%d'}}\n",
                              a->i),
                     0);
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *specs = cass_spec_load(y, strlen(y), &err);
    free(y);
    json_t *out = specs ? cass_lifecycle_apply(d, specs, NULL, &err) : NULL;
    json_decref(out);
    return NULL;
}

/* Finding: 20 concurrent applies of one name leaked containers that
 * survived delete. */
START_TEST(concurrent_applies_leave_one_container)
{
    daemon_up(4, 2);
    pthread_t t[20];
    struct applier a[20];
    for (int i = 0; i < 20; i++) {
        a[i].i = i;
        pthread_create(&t[i], NULL, apply_one, &a[i]);
    }
    for (int i = 0; i < 20; i++)
        pthread_join(t[i], NULL);
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, "same", NULL);
    const char *cur = json_string_value(json_object_get(spec, "runId"));
    wait_status(cur, "ready", 20);
    /* Settled: only the current run has a container. */
    for (int i = 0; i < 100 && fake_count(NULL, false) != 1; i++)
        usleep(50 * 1000);
    ck_assert_int_eq(fake_count(NULL, false), 1);
    ck_assert_int_eq(fake_count(cur, true), 1);
    _cleanup_error_ struct cass_error *err = NULL;
    ck_assert_int_eq(cass_lifecycle_delete(d, "same", false, &err), 0);
    ck_assert_int_eq(fake_count(NULL, false), 0);
    daemon_down(false);
}
END_TEST

/* ---- models ------------------------------------------------------------------- */

/* Finding: the dry-run revision of a Model differed from apply's. */
START_TEST(model_dry_run_revision_is_apply_revision)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = model_yaml("iris", "v1", 1);
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *specs = cass_spec_load(y, strlen(y), &err);
    _cleanup_json_ json_t *dry = cass_lifecycle_dry_run(d, specs, NULL, &err);
    ck_assert_msg(dry != NULL, "dry run: %s", err ? err->message : "?");
    _cleanup_json_ json_t *out = apply(y);
    const char *a = json_string_value(
        json_object_get(json_array_get(json_object_get(dry, "specs"), 0), "revision"));
    const char *b = json_string_value(
        json_object_get(json_array_get(json_object_get(out, "specs"), 0), "revision"));
    ck_assert_str_eq(a, b);
    daemon_down(false);
}
END_TEST

START_TEST(dry_run_runs_the_policy)
{
    daemon_up(2, 2);
    const char *y = "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: bad}\n"
                    "spec: {image: evil/miner:latest}\n";
    _cleanup_error_ struct cass_error *err = NULL;
    _cleanup_json_ json_t *specs = cass_spec_load(y, strlen(y), &err);
    _cleanup_json_ json_t *dry = cass_lifecycle_dry_run(d, specs, NULL, &err);
    ck_assert_ptr_null(dry);
    ck_assert_int_eq(err->kind, CASS_ERR_FORBIDDEN);
    daemon_down(false);
}
END_TEST

/* Finding: one slow health answer took a busy replica out and replaced it;
 * under load that cascaded into an outage. */
START_TEST(model_health_out_of_rotation_not_replaced)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = model_yaml("iris", "v1", 2);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    _cleanup_free_ char *c0 = container_of(run, 0), *c1 = container_of(run, 1);
    ck_assert_ptr_nonnull(c1);
    ck_assert_int_eq(cass_rotation_count_healthy(d->rotation, "iris"), 2);
    /* One slow answer, then fine: nothing changes. */
    fake_set_health(c0, FAKE_HEALTH_SLOW);
    int before = fake_health_requests(c0);
    while (fake_health_requests(c0) < before + 1)
        usleep(50 * 1000);
    fake_set_health(c0, FAKE_HEALTH_OK);
    sleep(2);
    ck_assert_int_eq(cass_rotation_count_healthy(d->rotation, "iris"), 2);
    /* Every replica failing: out of the picks, but the gateway still has
     * somewhere to send requests, and no replica is replaced. */
    fake_set_health(c0, FAKE_HEALTH_FAIL);
    fake_set_health(c1, FAKE_HEALTH_FAIL);
    for (int i = 0; i < 100 && cass_rotation_count_healthy(d->rotation, "iris") > 0; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(cass_rotation_count_healthy(d->rotation, "iris"), 0);
    struct cass_replica rep;
    ck_assert_int_eq(cass_rotation_pick(d->rotation, "iris", NULL, 0, &rep), 0);
    cass_rotation_release(d->rotation, "iris", rep.id);
    _cleanup_free_ char *k0 = container_of(run, 0), *k1 = container_of(run, 1);
    ck_assert_str_eq(k0, c0);
    ck_assert_str_eq(k1, c1);
    _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "replacements")), 0);
    /* Back to health: back in the picks. */
    fake_set_health(c0, FAKE_HEALTH_OK);
    fake_set_health(c1, FAKE_HEALTH_OK);
    for (int i = 0; i < 50 && cass_rotation_count_healthy(d->rotation, "iris") < 2; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(cass_rotation_count_healthy(d->rotation, "iris"), 2);
    daemon_down(false);
}
END_TEST

START_TEST(model_replica_replaced_when_it_exits_or_stays_out)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = model_yaml("iris", "v1", 2);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    _cleanup_free_ char *c0 = container_of(run, 0);
    fake_exit(c0, 1);
    double start = now_s();
    for (;;) {
        _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
        if (json_integer_value(json_object_get(r, "replacements")) == 1 &&
            fake_count(run, true) == 2)
            break;
        ck_assert_msg(now_s() - start < 10, "exited replica not replaced");
        usleep(50 * 1000);
    }
    /* One that stays out longer than replaceAfterSeconds (10 s) goes too. */
    _cleanup_free_ char *c1 = container_of(run, 0);
    fake_set_health(c1, FAKE_HEALTH_FAIL);
    start = now_s();
    for (;;) {
        _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
        if (json_integer_value(json_object_get(r, "replacements")) == 2)
            break;
        ck_assert_msg(now_s() - start < 25, "replica out of rotation never replaced");
        usleep(100 * 1000);
    }
    ck_assert_double_ge(now_s() - start, 10);
    ck_assert_int_eq(fake_count(run, true), 2);
    daemon_down(false);
}
END_TEST

START_TEST(model_rollout_replaces_old_replicas)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y1 = model_yaml("iris", "v1", 2);
    _cleanup_json_ json_t *o1 = apply(y1);
    _cleanup_free_ char *r1 = run_of(o1, 0);
    wait_status(r1, "ready", 10);
    _cleanup_free_ char *y2 = model_yaml("iris", "v2", 2);
    _cleanup_json_ json_t *o2 = apply(y2);
    _cleanup_free_ char *r2 = run_of(o2, 0);
    wait_status(r2, "ready", 10);
    wait_status(r1, "stopped", 5);
    ck_assert_int_eq(fake_count(r1, false), 0);
    ck_assert_int_eq(fake_count(r2, true), 2);
    ck_assert_int_eq(cass_rotation_count(d->rotation, "iris"), 2);
    /* A broken v3 never empties the rotation and leaves v2 serving. */
    fake_fail_next_create();
    _cleanup_free_ char *y3 = model_yaml("iris", "v3", 2);
    _cleanup_json_ json_t *o3 = apply(y3);
    _cleanup_free_ char *r3 = run_of(o3, 0);
    wait_status(r3, "failed", 10);
    _cleanup_free_ char *st2 = status_of(r2);
    ck_assert_str_eq(st2, "ready");
    ck_assert_int_eq(cass_rotation_count(d->rotation, "iris"), 2);
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, "iris", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "runId")), r2);
    daemon_down(false);
}
END_TEST

START_TEST(model_resumes_into_rotation_after_restart)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = model_yaml("iris", "v1", 2);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "ready", 10);
    /* The fake's workloads outlive the daemon like containers do. */
    cass_lifecycle_stop(d);
    cass_daemon_free(d);
    daemon_again(2, 2);
    for (int i = 0; i < 100 && cass_rotation_count(d->rotation, "iris") < 2; i++)
        usleep(50 * 1000);
    ck_assert_int_eq(cass_rotation_count(d->rotation, "iris"), 2);
    _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "replacements")), 0);
    daemon_down(false);
}
END_TEST

START_TEST(orphans_and_unlisted_containers_removed_at_reconcile)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = notebook_yaml("nb");
    _cleanup_free_ char *run = apply_until(y, "ready");
    cass_lifecycle_stop(d);
    /* Two containers nobody lists: one of the live run, one of no run. */
    fake_adopt("orphan00000000000000000000000000000000000000000000000000000000001", run, "nb",
               d->instance);
    fake_adopt("orphan00000000000000000000000000000000000000000000000000000000002", "r-nosuchrun",
               "gone", d->instance);
    cass_daemon_free(d);
    daemon_again(2, 2);
    for (int i = 0; i < 100 && fake_count(NULL, false) != 1; i++)
        usleep(50 * 1000);
    ck_assert_int_eq(fake_count(NULL, false), 1);
    ck_assert_int_eq(fake_count(run, true), 1);
    _cleanup_free_ char *st = status_of(run);
    ck_assert_str_eq(st, "ready");
    daemon_down(false);
}
END_TEST

/* ---- an engine that comes and goes ---------------------------------------- */

static char *field_of(const char *run_id, const char *key)
{
    _cleanup_json_ json_t *run = cass_store_run_get(d->store, run_id, NULL);
    json_t *v = json_object_get(run, key);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

START_TEST(engine_outage_launch_waits_then_runs)
{
    daemon_up(2, 2);
    fake_set_engine_down(true);
    _cleanup_free_ char *y = job_yaml("waits", 60);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    for (double t0 = now_s();; usleep(20 * 1000)) {
        _cleanup_free_ char *reason = field_of(run, "reason");
        if (reason && strcmp(reason, "engine-unavailable") == 0)
            break;
        ck_assert_msg(now_s() - t0 < 5, "run %s never said engine-unavailable", run);
    }
    usleep(1500 * 1000);
    _cleanup_free_ char *st = status_of(run);
    ck_assert_str_eq(st, "pending"); /* not failed as image-not-found */
    ck_assert_int_eq(fake_created(), 0);
    fake_set_engine_down(false);
    double took = wait_status(run, "running", 5);
    /* The ticker requeues it within a second; 10 s leaves room for a loaded machine. */
    ck_assert_msg(took < 10, "ran %.1f s after the engine came back", took);
    _cleanup_free_ char *reason = field_of(run, "reason");
    ck_assert_ptr_null(reason);
    daemon_down(false);
}
END_TEST

START_TEST(engine_outage_past_the_deadline_fails)
{
    daemon_up_waiting(2, 2, 1);
    fake_set_engine_down(true);
    _cleanup_free_ char *y = job_yaml("gives-up", 60);
    _cleanup_json_ json_t *out = apply(y);
    _cleanup_free_ char *run = run_of(out, 0);
    wait_status(run, "failed", 6);
    _cleanup_free_ char *reason = field_of(run, "reason");
    _cleanup_free_ char *error = field_of(run, "error");
    ck_assert_str_eq(reason, "engine-unavailable");
    ck_assert_ptr_nonnull(strstr(error, "limits.engineWaitSeconds"));
    fake_set_engine_down(false);
    daemon_down(false);
}
END_TEST

static char *spec_run(const char *name)
{
    _cleanup_json_ json_t *spec = cass_store_spec_get(d->store, name, NULL);
    const char *r = json_string_value(json_object_get(spec, "runId"));
    return r ? strdup(r) : NULL;
}

START_TEST(model_spec_points_at_the_serving_revision)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y1 = model_yaml("served", "v1", 1);
    _cleanup_free_ char *r1 = apply_until(y1, "ready");
    fake_set_engine_down(true);
    _cleanup_free_ char *y2 = model_yaml("served", "v2", 1);
    _cleanup_json_ json_t *o2 = apply(y2);
    _cleanup_free_ char *r2 = run_of(o2, 0);
    usleep(1000 * 1000);
    _cleanup_free_ char *s2 = status_of(r2);
    ck_assert_str_eq(s2, "pending");
    _cleanup_free_ char *at = spec_run("served");
    ck_assert_str_eq(at, r1);              /* v1 serves: the spec stays on it */
    _cleanup_json_ json_t *o3 = apply(y2); /* the same again: the waiting run */
    _cleanup_free_ char *r3 = run_of(o3, 0);
    ck_assert_str_eq(r3, r2);
    fake_set_engine_down(false);
    wait_status(r2, "ready", 10);
    for (double t0 = now_s();; usleep(20 * 1000)) {
        _cleanup_free_ char *now = spec_run("served");
        if (strcmp(now, r2) == 0)
            break;
        ck_assert_msg(now_s() - t0 < 3, "the spec stays on %s", now);
    }
    daemon_down(false);
}
END_TEST

/* Waits until run is ready again after its n-th restart. */
static void wait_restarted(const char *run, json_int_t n)
{
    for (double t0 = now_s();; usleep(20 * 1000)) {
        _cleanup_json_ json_t *r = cass_store_run_get(d->store, run, NULL);
        if (json_integer_value(json_object_get(r, "restarts")) == n &&
            strcmp(json_string_value(json_object_get(r, "status")), "ready") == 0)
            return;
        ck_assert_msg(now_s() - t0 < 10, "run %s was not restarted a %lld. time: %s", run,
                      (long long)n, json_string_value(json_object_get(r, "status")));
    }
}

START_TEST(notebook_restarted_in_place_when_it_ends)
{
    daemon_up(2, 2);
    _cleanup_free_ char *y = notebook_yaml("comes-back");
    _cleanup_free_ char *run = apply_until(y, "ready");
    _cleanup_free_ char *c0 = container_of(run, 0);
    for (int n = 1; n <= 3; n++) { /* as engine restarts end it */
        fake_exit(c0, 143);
        wait_restarted(run, n);
    }
    _cleanup_free_ char *c1 = container_of(run, 0);
    ck_assert_str_eq(c1, c0);
    ck_assert_int_eq(fake_count(run, true), 1);
    ck_assert_int_eq(fake_created(), 1);

    /* restart: never: failed. */
    const char *never = "apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: stays-down}\n"
                        "spec: {image: cassiny/notebook:bookworm, restart: never}\n";
    _cleanup_free_ char *r2 = apply_until(never, "ready");
    _cleanup_free_ char *c2 = container_of(r2, 0);
    fake_exit(c2, 143);
    wait_status(r2, "failed", 5);
    fake_exit(c0, 1); /* a fourth end within 10 minutes: not started again */
    wait_status(run, "failed", 5);
    daemon_down(false);
}
END_TEST

static Suite *lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("fake backend");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, notebook_launches_to_ready);
    tcase_add_test(tc, notebook_idle_is_culled);
    tcase_add_test(tc, jobs_do_not_block_notebooks);
    tcase_add_test(tc, input_hashing_does_not_hold_launches);
    tcase_add_test(tc, job_exit_codes_and_timeout);
    tcase_add_test(tc, sweep_of_jobs_runs_to_completion);
    tcase_add_test(tc, images_pulled_only_from_configured_registries);
    tcase_add_test(tc, job_created_not_started_is_launched_again);
    tcase_add_test(tc, notebook_cut_short_while_creating_is_launched_again);
    tcase_add_test(tc, concurrent_applies_leave_one_container);
    tcase_add_test(tc, model_dry_run_revision_is_apply_revision);
    tcase_add_test(tc, dry_run_runs_the_policy);
    tcase_add_test(tc, model_health_out_of_rotation_not_replaced);
    tcase_add_test(tc, model_replica_replaced_when_it_exits_or_stays_out);
    tcase_add_test(tc, model_rollout_replaces_old_replicas);
    tcase_add_test(tc, model_resumes_into_rotation_after_restart);
    tcase_add_test(tc, orphans_and_unlisted_containers_removed_at_reconcile);
    tcase_add_test(tc, engine_outage_launch_waits_then_runs);
    tcase_add_test(tc, engine_outage_past_the_deadline_fails);
    tcase_add_test(tc, model_spec_points_at_the_serving_revision);
    tcase_add_test(tc, notebook_restarted_in_place_when_it_ends);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cass_check_run(lifecycle_suite());
}
