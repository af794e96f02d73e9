/* The engine client against a real Docker Engine ($CASS_DOCKER_HOST, default
 * the local socket) with a tiny image ($CASS_TEST_IMAGE). Everything created
 * carries io.cassiny.run=<unique per run> and is removed by that label after
 * each test case, in the runner process, so a failing test leaves nothing.
 * No engine is a failure: the integration runner starts one first. */
#include "config.h"

#include "check_run.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "protocol.h"

static const char *host;
static const char *image;
static char run_label[96]; /* "io.cassiny.run=engine-live-PID-TIME" */
static char run_value[64];
static char tmpdir[256]; /* bind-mounted read-only; made by main */

static struct cass_engine *engine; /* per test (forked child) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define ck_assert_ok(expr, err)                                                                    \
    ck_assert_msg((expr) >= 0, "%s failed: %s", #expr, (err) ? (err)->message : "?")

static void setup(void)
{
    _cleanup_error_ struct cass_error *err = NULL;
    engine = cass_engine_new(host, &err);
    ck_assert_msg(engine != NULL, "no engine at %s: %s", host, err ? err->message : "?");
}

static void teardown(void)
{
    cass_engine_free(engine);
    engine = NULL;
}

/* In the runner process: remove whatever carries this run's label. */
static void cleanup_by_label(void)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_engine *e = cass_engine_new(host, &err);
    if (!e)
        return;
    const char *labels[] = {run_label, NULL};
    _cleanup_json_ json_t *list = cass_engine_container_list(e, labels, true, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (id)
            cass_engine_container_remove(e, id, true, true, NULL);
    }
    _cleanup_json_ json_t *vols = cass_engine_volume_list(e, labels, NULL);
    json_array_foreach(vols, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "Name"));
        if (name)
            cass_engine_volume_remove(e, name, true, NULL);
    }
    cass_engine_free(e);
}

static void unchecked_teardown(void)
{
    cleanup_by_label();
}

/* A unique-per-test name, also used as the io.cassiny.name label. */
static void unique_name(char *buf, size_t n, const char *what)
{
    static int counter;
    snprintf(buf, n, "cass-%s-%s-%d", run_value, what, ++counter);
}

static char *create_simple(const char *name, const char *const *cmd, bool tty,
                           const struct cass_container_port *ports, size_t n_ports)
{
    struct cass_container_label labels[] = {
        {CASS_LABEL_NAME, name},
        {CASS_LABEL_KIND, "Job"},
        {CASS_LABEL_RUN, run_value},
        {CASS_LABEL_REVISION, "sha256:0"},
    };
    const char *drop[] = {"ALL", NULL};
    struct cass_container_spec spec = {
        .name = name,
        .image = image,
        .cmd = cmd,
        .labels = labels,
        .n_labels = 4,
        .cap_drop = drop,
        .tty = tty,
        .ports = ports,
        .n_ports = n_ports,
    };
    _cleanup_error_ struct cass_error *err = NULL;
    char *id = cass_engine_container_create(engine, &spec, &err);
    ck_assert_msg(id != NULL, "create %s: %s", name, err ? err->message : "?");
    return id;
}

/* ---- connection ------------------------------------------------------------- */

START_TEST(negotiate_ping_version_info)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int minor = cass_engine_parse_api_version(cass_engine_api_version(engine));
    ck_assert_int_ge(minor, CASS_ENGINE_API_MIN_MINOR);
    ck_assert_int_le(minor, CASS_ENGINE_API_MAX_MINOR);
    ck_assert_str_eq(cass_engine_host(engine), host);
    ck_assert_ok(cass_engine_ping(engine, &err), err);

    _cleanup_json_ json_t *v = cass_engine_version(engine, &err);
    ck_assert_msg(v != NULL, "%s", err ? err->message : "");
    const char *api = json_string_value(json_object_get(v, "ApiVersion"));
    ck_assert_ptr_nonnull(api);
    int server = cass_engine_parse_api_version(api);
    ck_assert_int_eq(minor,
                     server < CASS_ENGINE_API_MAX_MINOR ? server : CASS_ENGINE_API_MAX_MINOR);

    _cleanup_json_ json_t *info = cass_engine_info(engine, &err);
    ck_assert_msg(info != NULL, "%s", err ? err->message : "");
    ck_assert(json_is_string(json_object_get(info, "ServerVersion")));
    bool active = true, manager = true;
    ck_assert_ok(cass_engine_info_swarm(info, &active, &manager, &err), err);
    ck_assert(!manager || active);

    /* Re-negotiating (as after an engine restart) keeps the same answer. */
    ck_assert_ok(cass_engine_negotiate(engine, &err), err);
    ck_assert_int_eq(cass_engine_parse_api_version(cass_engine_api_version(engine)), minor);
}
END_TEST

struct hammer {
    int failures;
};

static void *hammer_thread(void *ud)
{
    struct hammer *h = ud;
    for (int i = 0; i < 20; i++) {
        struct cass_error *err = NULL;
        json_t *v = i % 2 ? cass_engine_version(engine, &err) : NULL;
        if (i % 2 == 0 && cass_engine_ping(engine, &err) < 0)
            __atomic_add_fetch(&h->failures, 1, __ATOMIC_SEQ_CST);
        if (i % 2 && !v)
            __atomic_add_fetch(&h->failures, 1, __ATOMIC_SEQ_CST);
        json_decref(v);
        cass_error_free(err);
    }
    return NULL;
}

START_TEST(shared_engine_many_threads)
{
    struct hammer h = {0};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(h.failures, 0);
}
END_TEST

/* ---- images ------------------------------------------------------------------ */

START_TEST(image_inspect_and_missing)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct cass_engine_image img = {0};
    ck_assert_ok(cass_engine_image_inspect(engine, image, &img, &err), err);
    ck_assert(strncmp(img.id, "sha256:", 7) == 0);
    ck_assert_uint_eq(strlen(img.id), 7 + 64);
    ck_assert_ptr_nonnull(img.repo_digests);
    /* By its ID too, as the daemon creates containers. */
    struct cass_engine_image again = {0};
    ck_assert_ok(cass_engine_image_inspect(engine, img.id, &again, &err), err);
    ck_assert_str_eq(again.id, img.id);
    cass_engine_image_clear(&again);
    cass_engine_image_clear(&img);

    ck_assert_int_eq(cass_engine_image_inspect(engine, "cassiny/no-such-image:never", &img, &err),
                     -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_int_eq(err->status, 404);
    ck_assert_msg(strstr(err->message, "no-such-image") != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));

    /* A reference that would leave its path element is refused before asking. */
    ck_assert_int_eq(cass_engine_image_inspect(engine, "../../containers/json", &img, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
}
END_TEST

static int count_progress(json_t *obj, void *ud)
{
    (void)obj;
    (*(int *)ud)++;
    return 0;
}

START_TEST(image_pull_missing_fails_clearly)
{
    _cleanup_error_ struct cass_error *err = NULL;
    int lines = 0;
    double t0 = now_s();
    ck_assert_int_eq(cass_engine_image_pull(engine, "cassiny/no-such-image-anywhere:1",
                                            count_progress, &lines, NULL, &err),
                     -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->kind == CASS_ERR_ENGINE || err->kind == CASS_ERR_NOT_FOUND, "kind %s: %s",
                  cass_error_kind_name(err->kind), err->message);
    ck_assert_int_ne(err->status, 0);
    ck_assert(strlen(err->message) > strlen("pull image: "));
    ck_assert_double_lt(now_s() - t0, 60);
}
END_TEST

/* ---- the main lifecycle ------------------------------------------------------------ */

struct event_log {
    char name[128];
    char actions[32][16];
    char ids[32][72];
    int n;
    bool saw_die;
    atomic_int cancel;
    int result;
    char error[256];
};

static int on_event(json_t *ev, void *ud)
{
    struct event_log *l = ud;
    const json_t *actor = json_object_get(ev, "Actor");
    const char *action = json_string_value(json_object_get(ev, "Action"));
    const char *id = json_string_value(json_object_get(actor, "ID"));
    if (l->n < 32 && action && id) {
        snprintf(l->actions[l->n], sizeof(l->actions[0]), "%s", action);
        snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", id);
        l->n++;
    }
    if (action && strcmp(action, "die") == 0)
        l->saw_die = true;
    return l->saw_die;
}

static void *events_thread(void *ud)
{
    struct event_log *l = ud;
    _cleanup_error_ struct cass_error *err = NULL;
    char label[192];
    snprintf(label, sizeof(label), "%s=%s", CASS_LABEL_NAME, l->name);
    const char *labels[] = {label, NULL};
    const char *types[] = {"container", NULL};
    const char *events[] = {"create", "start", "die", NULL};
    char since[32];
    snprintf(since, sizeof(since), "%lld", (long long)time(NULL) - 1);
    struct cass_engine_events_opts o = {
        .labels = labels, .types = types, .events = events, .since = since, .cancel = &l->cancel};
    l->result = cass_engine_events(engine, &o, on_event, l, &err);
    if (err)
        snprintf(l->error, sizeof(l->error), "%s", err->message);
    return NULL;
}

struct logs_buf {
    char out[2][4096];
    size_t len[2];
};

static int on_log(int stream, const char *data, size_t len, void *ud)
{
    struct logs_buf *b = ud;
    ck_assert(stream == 1 || stream == 2);
    size_t room = sizeof(b->out[0]) - 1 - b->len[stream - 1];
    if (len > room)
        len = room;
    memcpy(b->out[stream - 1] + b->len[stream - 1], data, len);
    b->len[stream - 1] += len;
    b->out[stream - 1][b->len[stream - 1]] = '\0';
    return 0;
}

START_TEST(container_lifecycle)
{
    _cleanup_error_ struct cass_error *err = NULL;
    char name[128], vol[160];
    unique_name(name, sizeof(name), "life");
    snprintf(vol, sizeof(vol), "%s-vol", name);

    /* Events first, in their own thread, so create/start/die are all seen. */
    struct event_log ev = {0};
    snprintf(ev.name, sizeof(ev.name), "%s", name);
    pthread_t et;
    ck_assert_int_eq(pthread_create(&et, NULL, events_thread, &ev), 0);

    struct cass_container_label labels[] = {
        {CASS_LABEL_NAME, name},
        {CASS_LABEL_KIND, "Job"},
        {CASS_LABEL_RUN, run_value},
        {CASS_LABEL_REVISION, "sha256:1234"},
    };
    _cleanup_free_ char *vname = cass_engine_volume_create(engine, vol, labels + 2, 1, &err);
    ck_assert_msg(vname != NULL, "%s", err ? err->message : "");

    const char *cmd[] = {"sh", "-c",
                         "echo out; echo err >&2; cat /data/f; touch /vol/x && echo touched; "
                         "touch /data/y 2>/dev/null || echo ro; echo $GREETING; exit 3",
                         NULL};
    const char *env[] = {"GREETING=hi", NULL};
    const char *drop[] = {"ALL", NULL};
    const char *sec[] = {"no-new-privileges", NULL};
    struct cass_container_mount mounts[] = {
        {CASS_MOUNT_BIND, tmpdir, "/data", true, NULL},
        {CASS_MOUNT_VOLUME, vol, "/vol", false, NULL},
    };
    struct cass_container_port ports[] = {{8080, NULL, "127.0.0.1", 0}};
    struct cass_container_spec spec = {
        .name = name,
        .image = image,
        .cmd = cmd,
        .env = env,
        .user = "0:0", /* root without capabilities: owns the fresh volume */
        .labels = labels,
        .n_labels = 4,
        .mounts = mounts,
        .n_mounts = 2,
        .ports = ports,
        .n_ports = 1,
        .nano_cpus = 500000000,
        .memory = 64 << 20,
        .cap_drop = drop,
        .security_opt = sec,
        .restart_policy = "no",
    };
    _cleanup_free_ char *id = cass_engine_container_create(engine, &spec, &err);
    ck_assert_msg(id != NULL, "%s", err ? err->message : "");
    ck_assert_uint_eq(strlen(id), 64);

    ck_assert_ok(cass_engine_container_start(engine, id, &err), err);
    int code = -1;
    ck_assert_ok(cass_engine_container_wait(engine, id, CASS_WAIT_NOT_RUNNING, NULL, &code, &err),
                 err);
    ck_assert_int_eq(code, 3);

    struct logs_buf logs = {0};
    ck_assert_ok(cass_engine_container_logs(engine, id, NULL, on_log, &logs, &err), err);
    ck_assert_str_eq(logs.out[0], "out\nhello-from-bind\ntouched\nro\nhi\n");
    ck_assert_str_eq(logs.out[1], "err\n");

    /* Only stderr, with timestamps. */
    struct logs_buf errs = {0};
    struct cass_engine_logs_opts lo = {.no_stdout = true, .tail = -1, .timestamps = true};
    ck_assert_ok(cass_engine_container_logs(engine, id, &lo, on_log, &errs, &err), err);
    ck_assert_uint_eq(errs.len[0], 0);
    ck_assert_msg(strstr(errs.out[1], "Z err\n") != NULL, "%s", errs.out[1]);
    /* One line only (the engine counts lines of both streams, whose order in
     * its log is not fixed). */
    struct logs_buf tail = {0};
    struct cass_engine_logs_opts to = {.tail = 1};
    ck_assert_ok(cass_engine_container_logs(engine, id, &to, on_log, &tail, &err), err);
    ck_assert_msg((strcmp(tail.out[0], "hi\n") == 0 && tail.len[1] == 0) ||
                      (strcmp(tail.out[1], "err\n") == 0 && tail.len[0] == 0),
                  "tail 1: [%s] [%s]", tail.out[0], tail.out[1]);

    _cleanup_json_ json_t *ins = cass_engine_container_inspect(engine, id, &err);
    ck_assert_msg(ins != NULL, "%s", err ? err->message : "");
    json_t *cfg = json_object_get(ins, "Config");
    json_t *hc = json_object_get(ins, "HostConfig");
    json_t *lab = json_object_get(cfg, "Labels");
    ck_assert_str_eq(json_string_value(json_object_get(lab, CASS_LABEL_NAME)), name);
    ck_assert_str_eq(json_string_value(json_object_get(lab, CASS_LABEL_KIND)), "Job");
    ck_assert_str_eq(json_string_value(json_object_get(lab, CASS_LABEL_RUN)), run_value);
    ck_assert_str_eq(json_string_value(json_object_get(lab, CASS_LABEL_REVISION)), "sha256:1234");
    ck_assert_int_eq(json_integer_value(json_object_get(hc, "Memory")), 64 << 20);
    ck_assert_int_eq(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)), "ALL");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
                     "no-new-privileges");
    json_t *pb =
        json_array_get(json_object_get(json_object_get(hc, "PortBindings"), "8080/tcp"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(pb, "HostIp")), "127.0.0.1");

    struct cass_container_state st;
    ck_assert_ok(cass_engine_container_state(ins, &st, &err), err);
    ck_assert_str_eq(st.status, "exited");
    ck_assert(!st.running);
    ck_assert(!st.oom_killed);
    ck_assert_int_eq(st.exit_code, 3);
    ck_assert_ptr_nonnull(st.started_at);
    ck_assert_ptr_nonnull(st.finished_at);
    ck_assert_str_ne(st.finished_at, "0001-01-01T00:00:00Z");
    cass_container_state_clear(&st);

    /* Listed by its label, and nothing else is. */
    char by_name[192];
    snprintf(by_name, sizeof(by_name), "%s=%s", CASS_LABEL_NAME, name);
    const char *filter[] = {by_name, NULL};
    _cleanup_json_ json_t *list = cass_engine_container_list(engine, filter, true, &err);
    ck_assert_msg(list != NULL, "%s", err ? err->message : "");
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "Id")), id);
    _cleanup_json_ json_t *running = cass_engine_container_list(engine, filter, false, &err);
    ck_assert_int_eq(json_array_size(running), 0);
    const char *nobody[] = {CASS_LABEL_NAME "=cass-no-such-name-at-all", NULL};
    _cleanup_json_ json_t *none = cass_engine_container_list(engine, nobody, true, &err);
    ck_assert_int_eq(json_array_size(none), 0);

    /* The events thread saw create, start and die for it. */
    for (int i = 0; i < 100 && !ev.saw_die; i++)
        usleep(100000);
    atomic_store(&ev.cancel, 1);
    pthread_join(et, NULL);
    ck_assert_msg(ev.result == 0, "events: %s", ev.error);
    ck_assert_int_ge(ev.n, 3);
    bool seen[3] = {false};
    for (int i = 0; i < ev.n; i++) {
        ck_assert_str_eq(ev.ids[i], id);
        seen[0] |= strcmp(ev.actions[i], "create") == 0;
        seen[1] |= strcmp(ev.actions[i], "start") == 0;
        seen[2] |= strcmp(ev.actions[i], "die") == 0;
    }
    ck_assert(seen[0] && seen[1] && seen[2]);
    ck_assert_str_eq(ev.actions[0], "create");

    /* The same events again, from the past, in a stream that ends by itself. */
    char since[32], until[32];
    snprintf(since, sizeof(since), "%lld", (long long)time(NULL) - 120);
    snprintf(until, sizeof(until), "%lld", (long long)time(NULL) + 1);
    struct event_log past = {0};
    struct cass_engine_events_opts po = {.labels = filter, .since = since, .until = until};
    ck_assert_ok(cass_engine_events(engine, &po, on_event, &past, &err), err);
    ck_assert_int_ge(past.n, 3);

    ck_assert_ok(cass_engine_container_remove(engine, id, false, false, &err), err);
    _cleanup_json_ json_t *gone = cass_engine_container_inspect(engine, id, &err);
    ck_assert_ptr_null(gone);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_int_eq(err->status, 404);
    cass_error_free(TAKE_PTR(err));

    /* The volume kept what the container wrote; remove it now. */
    ck_assert_ok(cass_engine_volume_remove(engine, vol, false, &err), err);
}
END_TEST

/* ---- stop, kill, wait cancel ---------------------------------------------------------- */

struct waiter {
    char id[72];
    atomic_int cancel;
    int result;
    int kind;
    int code;
};

static void *wait_thread(void *ud)
{
    struct waiter *w = ud;
    struct cass_error *err = NULL;
    w->result = cass_engine_container_wait(engine, w->id, CASS_WAIT_NOT_RUNNING, &w->cancel,
                                           &w->code, &err);
    w->kind = err ? (int)err->kind : -1;
    cass_error_free(err);
    return NULL;
}

START_TEST(stop_kill_and_cancel)
{
    _cleanup_error_ struct cass_error *err = NULL;
    const char *cmd[] = {"sleep", "30", NULL};
    char n1[128], n2[128];
    unique_name(n1, sizeof(n1), "stop");
    unique_name(n2, sizeof(n2), "kill");
    struct cass_container_port ports[] = {{8080, NULL, "127.0.0.1", 0}};
    _cleanup_free_ char *a = create_simple(n1, cmd, false, ports, 1);
    _cleanup_free_ char *b = create_simple(n2, cmd, false, NULL, 0);
    ck_assert_ok(cass_engine_container_start(engine, a, &err), err);
    ck_assert_ok(cass_engine_container_start(engine, b, &err), err);
    /* Starting again is not an error. */
    ck_assert_ok(cass_engine_container_start(engine, a, &err), err);

    /* The engine-chosen host port is published while it runs. */
    _cleanup_json_ json_t *ins = cass_engine_container_inspect(engine, a, &err);
    ck_assert_ptr_nonnull(ins);
    _cleanup_free_ char *ip = NULL;
    int port = 0;
    ck_assert_ok(cass_engine_container_host_port(ins, 8080, "tcp", &ip, &port, &err), err);
    ck_assert_str_eq(ip, "127.0.0.1");
    ck_assert_int_gt(port, 0);
    struct cass_container_state st;
    ck_assert_ok(cass_engine_container_state(ins, &st, &err), err);
    ck_assert(st.running);
    ck_assert_str_eq(st.status, "running");
    ck_assert_int_gt(st.pid, 0);
    cass_container_state_clear(&st);

    /* A wait cancelled from another thread returns promptly. */
    struct waiter w = {0};
    snprintf(w.id, sizeof(w.id), "%s", b);
    pthread_t wt;
    ck_assert_int_eq(pthread_create(&wt, NULL, wait_thread, &w), 0);
    usleep(300000);
    double t0 = now_s();
    atomic_store(&w.cancel, 1);
    pthread_join(wt, NULL);
    ck_assert_double_lt(now_s() - t0, 5);
    ck_assert_int_eq(w.result, -1);
    ck_assert_int_eq(w.kind, CASS_ERR_UNAVAILABLE);

    /* sleep as PID 1 ignores SIGTERM: stop kills it after the timeout. */
    t0 = now_s();
    ck_assert_ok(cass_engine_container_stop(engine, a, 1, &err), err);
    ck_assert_double_lt(now_s() - t0, 15);
    int code = -1;
    ck_assert_ok(cass_engine_container_wait(engine, a, CASS_WAIT_NOT_RUNNING, NULL, &code, &err),
                 err);
    ck_assert_int_eq(code, 137);
    /* Stopping a stopped container is fine. */
    ck_assert_ok(cass_engine_container_stop(engine, a, 1, &err), err);

    ck_assert_ok(cass_engine_container_kill(engine, b, "SIGKILL", &err), err);
    ck_assert_ok(cass_engine_container_wait(engine, b, CASS_WAIT_NOT_RUNNING, NULL, &code, &err),
                 err);
    ck_assert_int_eq(code, 137);

    /* Killing it again: the engine's 409 with its message. */
    ck_assert_int_eq(cass_engine_container_kill(engine, b, NULL, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_CONFLICT);
    ck_assert_int_eq(err->status, 409);
    ck_assert_msg(strstr(err->message, "is not running") != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));

    ck_assert_ok(cass_engine_container_remove(engine, a, true, true, &err), err);
    ck_assert_ok(cass_engine_container_remove(engine, b, true, true, &err), err);
}
END_TEST

static void *cancel_later(void *ud)
{
    usleep(2000000);
    atomic_store((atomic_int *)ud, 1);
    return NULL;
}

START_TEST(logs_follow_cancel_and_tty)
{
    _cleanup_error_ struct cass_error *err = NULL;
    char n1[128], n2[128];
    unique_name(n1, sizeof(n1), "tty");
    unique_name(n2, sizeof(n2), "follow");
    const char *tty_cmd[] = {"sh", "-c", "echo tty-out; echo tty-err >&2", NULL};
    _cleanup_free_ char *t = create_simple(n1, tty_cmd, true, NULL, 0);
    ck_assert_ok(cass_engine_container_start(engine, t, &err), err);
    int code = -1;
    ck_assert_ok(cass_engine_container_wait(engine, t, CASS_WAIT_NOT_RUNNING, NULL, &code, &err),
                 err);
    ck_assert_int_eq(code, 0);
    struct logs_buf raw = {0};
    ck_assert_ok(cass_engine_container_logs(engine, t, NULL, on_log, &raw, &err), err);
    /* A TTY merges both streams, raw, with CRLF. */
    ck_assert_str_eq(raw.out[0], "tty-out\r\ntty-err\r\n");
    ck_assert_uint_eq(raw.len[1], 0);

    /* Following a running container until cancelled. */
    const char *cmd[] = {"sh", "-c", "echo started; sleep 30", NULL};
    _cleanup_free_ char *f = create_simple(n2, cmd, false, NULL, 0);
    ck_assert_ok(cass_engine_container_start(engine, f, &err), err);
    atomic_int cancel = 0;
    struct logs_buf fl = {0};
    struct cass_engine_logs_opts o = {.follow = true, .tail = -1, .cancel = &cancel};
    pthread_t ct;
    ck_assert_int_eq(pthread_create(&ct, NULL, cancel_later, &cancel), 0);
    double t0 = now_s();
    ck_assert_ok(cass_engine_container_logs(engine, f, &o, on_log, &fl, &err), err);
    pthread_join(ct, NULL);
    /* It returned because of the cancel, not because the container ended. */
    ck_assert_double_ge(now_s() - t0, 1.5);
    ck_assert_double_lt(now_s() - t0, 10);
    ck_assert_str_eq(fl.out[0], "started\n");
}
END_TEST

/* ---- volumes and errors ------------------------------------------------------------ */

START_TEST(volume_create_inspect_remove)
{
    _cleanup_error_ struct cass_error *err = NULL;
    char name[128];
    unique_name(name, sizeof(name), "vol");
    struct cass_container_label labels[] = {{CASS_LABEL_RUN, run_value}, {CASS_LABEL_NAME, name}};
    _cleanup_free_ char *got = cass_engine_volume_create(engine, name, labels, 2, &err);
    ck_assert_msg(got != NULL, "%s", err ? err->message : "");
    ck_assert_str_eq(got, name);

    _cleanup_json_ json_t *v = cass_engine_volume_inspect(engine, name, &err);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "Name")), name);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(v, "Labels"), CASS_LABEL_RUN)),
        run_value);

    char by_name[192];
    snprintf(by_name, sizeof(by_name), "%s=%s", CASS_LABEL_NAME, name);
    const char *filter[] = {by_name, NULL};
    _cleanup_json_ json_t *list = cass_engine_volume_list(engine, filter, &err);
    ck_assert_int_eq(json_array_size(list), 1);

    ck_assert_ok(cass_engine_volume_remove(engine, name, false, &err), err);
    _cleanup_json_ json_t *gone = cass_engine_volume_inspect(engine, name, &err);
    ck_assert_ptr_null(gone);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_int_eq(err->status, 404);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_engine_volume_remove(engine, name, false, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(engine_errors_surface)
{
    _cleanup_error_ struct cass_error *err = NULL;
    char name[128];
    unique_name(name, sizeof(name), "dup");
    const char *cmd[] = {"true", NULL};
    _cleanup_free_ char *id = create_simple(name, cmd, false, NULL, 0);

    struct cass_container_label labels[] = {{CASS_LABEL_RUN, run_value}};
    struct cass_container_spec dup = {
        .name = name, .image = image, .labels = labels, .n_labels = 1};
    ck_assert_ptr_null(cass_engine_container_create(engine, &dup, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_CONFLICT);
    ck_assert_int_eq(err->status, 409);
    ck_assert_msg(strstr(err->message, "already in use") != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));

    struct cass_container_spec noimg = {
        .image = "cassiny/no-such-image:never", .labels = labels, .n_labels = 1};
    ck_assert_ptr_null(cass_engine_container_create(engine, &noimg, &err));
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_int_eq(err->status, 404);
    cass_error_free(TAKE_PTR(err));

    static const char *missing = "cass-no-such-container-at-all";
    ck_assert_int_eq(cass_engine_container_start(engine, missing, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    ck_assert_int_eq(err->status, 404);
    ck_assert_msg(strstr(err->message, missing) != NULL, "%s", err->message);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_engine_container_remove(engine, missing, true, false, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    int code;
    ck_assert_int_eq(
        cass_engine_container_wait(engine, missing, CASS_WAIT_NOT_RUNNING, NULL, &code, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));
    struct logs_buf lb = {0};
    ck_assert_int_eq(cass_engine_container_logs(engine, missing, NULL, on_log, &lb, &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_NOT_FOUND);
    cass_error_free(TAKE_PTR(err));

    /* Names that would not stay one path element never reach the engine. */
    ck_assert_int_eq(cass_engine_container_start(engine, "../../info", &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
    cass_error_free(TAKE_PTR(err));
    ck_assert_int_eq(cass_engine_container_kill(engine, id, "KILL&x=1", &err), -1);
    ck_assert_int_eq(err->kind, CASS_ERR_INVALID);
}
END_TEST

START_TEST(events_cancel_idle_stream)
{
    _cleanup_error_ struct cass_error *err = NULL;
    struct event_log ev = {0};
    snprintf(ev.name, sizeof(ev.name), "cass-nothing-matches-%s", run_value);
    pthread_t et;
    ck_assert_int_eq(pthread_create(&et, NULL, events_thread, &ev), 0);
    usleep(500000);
    double t0 = now_s();
    atomic_store(&ev.cancel, 1);
    pthread_join(et, NULL);
    ck_assert_double_lt(now_s() - t0, 5);
    ck_assert_msg(ev.result == 0, "%s", ev.error);
    ck_assert_int_eq(ev.n, 0);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("engine-live");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, unchecked_teardown);
    tcase_add_test(tc, negotiate_ping_version_info);
    tcase_add_test(tc, shared_engine_many_threads);
    tcase_add_test(tc, image_inspect_and_missing);
    tcase_add_test(tc, image_pull_missing_fails_clearly);
    tcase_add_test(tc, container_lifecycle);
    tcase_add_test(tc, stop_kill_and_cancel);
    tcase_add_test(tc, logs_follow_cancel_and_tty);
    tcase_add_test(tc, volume_create_inspect_remove);
    tcase_add_test(tc, engine_errors_surface);
    tcase_add_test(tc, events_cancel_idle_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    host = getenv("CASS_DOCKER_HOST");
    if (!host || !*host)
        host = CASS_DEFAULT_DOCKER_HOST;
    image = getenv("CASS_TEST_IMAGE");
    if (!image || !*image)
        image = "cassiny/test-busybox:latest";
    snprintf(run_value, sizeof(run_value), "engine-live-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(run_label, sizeof(run_label), "%s=%s", CASS_LABEL_RUN, run_value);

    snprintf(tmpdir, sizeof(tmpdir), "%s/cass-engine-live-XXXXXX", P_tmpdir);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    chmod(tmpdir, 0755);
    char file[300];
    snprintf(file, sizeof(file), "%s/f", tmpdir);
    FILE *f = fopen(file, "w");
    if (!f || fputs("hello-from-bind\n", f) < 0 || fclose(f) != 0) {
        perror(file);
        return EXIT_FAILURE;
    }
    chmod(file, 0644);

    int failed = cass_check_failures(live_suite());

    cleanup_by_label();
    unlink(file);
    rmdir(tmpdir);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
