#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "cleanup.h"
#include "daemon.h"
#include "lifecycle.h"
#include "metrics.h"
#include "store.h"

#define MAX_LABELS 3
#define MAX_BUCKETS 16

enum family_type { COUNTER, HISTOGRAM };

struct series {
    struct series *next;
    char *values[MAX_LABELS];
    double value; /* counter: the total; histogram: the sum */
    unsigned long long count;
    unsigned long long buckets[MAX_BUCKETS]; /* not cumulative; summed when written */
};

struct family {
    const char *name, *help;
    enum family_type type;
    const char *labels[MAX_LABELS];
    const double *bounds; /* histogram upper bounds, ascending; +Inf implied */
    size_t n_bounds;
    struct series *series;
};

static const double api_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double launch_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300};
static const double gateway_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60};
#define BOUNDS(b) b, sizeof(b) / sizeof(b[0])

static struct family families[CASS_M_COUNT] = {
    [CASS_M_API_REQUESTS] = {"cassiny_api_requests_total",
                             "API requests answered, by route pattern, method and status code.",
                             COUNTER,
                             {"route", "method", "code"}},
    [CASS_M_API_DURATION] = {"cassiny_api_request_duration_seconds",
                             "Time from a request's arrival to its answer (to the start of a "
                             "streamed answer), by route pattern.",
                             HISTOGRAM,
                             {"route"},
                             BOUNDS(api_bounds)},
    [CASS_M_LAUNCH_DURATION] = {"cassiny_launch_duration_seconds",
                                "Time from a launch's start to its run running (a job) or ready "
                                "(a notebook, a model), by kind.",
                                HISTOGRAM,
                                {"kind"},
                                BOUNDS(launch_bounds)},
    [CASS_M_LAUNCH_FAILURES] = {"cassiny_launch_failures_total",
                                "Launches that failed before their run ran, by kind and reason.",
                                COUNTER,
                                {"kind", "reason"}},
    [CASS_M_GATEWAY_REQUESTS] = {"cassiny_gateway_requests_total",
                                 "Requests the model gateway answered, by model and status code.",
                                 COUNTER,
                                 {"model", "code"}},
    [CASS_M_GATEWAY_DURATION] = {"cassiny_gateway_request_duration_seconds",
                                 "Time from a gateway request's arrival to its answer, by model.",
                                 HISTOGRAM,
                                 {"model"},
                                 BOUNDS(gateway_bounds)},
    [CASS_M_GATEWAY_ERRORS] =
        {"cassiny_gateway_errors_total",
         "Requests the gateway answered itself with an error, by model and "
         "reason (no-ready-replica, busy, upstream-failed, too-large, no-token, wrong-token).",
         COUNTER,
         {"model", "reason"}},
    [CASS_M_ROLLOUTS_STARTED] = {"cassiny_rollouts_started_total",
                                 "Model rollouts begun (a first launch counts), by model.",
                                 COUNTER,
                                 {"model"}},
    [CASS_M_ROLLOUTS_FINISHED] = {"cassiny_rollouts_finished_total",
                                  "Model rollouts ended, by model and result (succeeded, "
                                  "rolled_back: the old replicas kept serving, interrupted: cut "
                                  "by a shutdown and resumed at the next start).",
                                  COUNTER,
                                  {"model", "result"}},
    [CASS_M_NOTEBOOKS_CULLED] = {"cassiny_notebooks_culled_total",
                                 "Notebooks stopped by idle culling.",
                                 COUNTER,
                                 {NULL}},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t n_labels(const struct family *f)
{
    size_t n = 0;
    while (n < MAX_LABELS && f->labels[n])
        n++;
    return n;
}

/* The series of these label values, made if new; NULL when out of memory.
 * Under lock. */
static struct series *series_get(struct family *f, va_list ap)
{
    const char *v[MAX_LABELS] = {0};
    size_t n = n_labels(f);
    for (size_t i = 0; i < n; i++) {
        v[i] = va_arg(ap, const char *);
        if (!v[i])
            v[i] = "";
    }
    for (struct series *s = f->series; s; s = s->next) {
        size_t i = 0;
        while (i < n && strcmp(s->values[i], v[i]) == 0)
            i++;
        if (i == n)
            return s;
    }
    struct series *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(s->values[i] = strdup(v[i]))) {
            for (size_t j = 0; j < i; j++)
                free(s->values[j]);
            free(s);
            return NULL;
        }
    /* At the end: series are written in the order they first appeared. */
    struct series **tail = &f->series;
    while (*tail)
        tail = &(*tail)->next;
    *tail = s;
    return s;
}

void cass_metric_add(enum cass_metric_id id, double v, ...)
{
    if (id >= CASS_M_COUNT || families[id].type != COUNTER || !(v >= 0))
        return;
    va_list ap;
    va_start(ap, v);
    pthread_mutex_lock(&lock);
    struct series *s = series_get(&families[id], ap);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

void cass_metric_observe(enum cass_metric_id id, double v, ...)
{
    if (id >= CASS_M_COUNT || families[id].type != HISTOGRAM || isnan(v))
        return;
    struct family *f = &families[id];
    va_list ap;
    va_start(ap, v);
    pthread_mutex_lock(&lock);
    struct series *s = series_get(f, ap);
    if (s) {
        s->value += v;
        s->count++;
        size_t b = 0;
        while (b < f->n_bounds && v > f->bounds[b])
            b++;
        if (b < f->n_bounds)
            s->buckets[b]++;
    }
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

static void write_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void write_value(FILE *f, double v)
{
    if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", f);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.9g", v);
}

/* name{labels of s[,le="bound"]} */
static void write_name(FILE *f, const char *name, const char *suffix, const struct family *fam,
                       const struct series *s, const char *le)
{
    fprintf(f, "%s%s", name, suffix);
    size_t n = n_labels(fam);
    if (n == 0 && !le)
        return;
    fputc('{', f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s=\"", i ? "," : "", fam->labels[i]);
        write_escaped(f, s->values[i]);
        fputc('"', f);
    }
    if (le)
        fprintf(f, "%sle=\"%s\"", n ? "," : "", le);
    fputc('}', f);
}

void cass_metrics_header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void cass_metrics_write(FILE *f)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < CASS_M_COUNT; i++) {
        const struct family *fam = &families[i];
        /* A family without labels is written from the start (at 0). */
        if (!fam->series && n_labels(fam) > 0)
            continue;
        cass_metrics_header(f, fam->name, fam->type == COUNTER ? "counter" : "histogram",
                            fam->help);
        if (!fam->series) {
            fprintf(f, "%s 0\n", fam->name);
            continue;
        }
        for (const struct series *s = fam->series; s; s = s->next) {
            if (fam->type == COUNTER) {
                write_name(f, fam->name, "", fam, s, NULL);
                fputc(' ', f);
                write_value(f, s->value);
                fputc('\n', f);
                continue;
            }
            unsigned long long cum = 0;
            for (size_t b = 0; b < fam->n_bounds; b++) {
                cum += s->buckets[b];
                char le[32];
                snprintf(le, sizeof(le), "%g", fam->bounds[b]);
                write_name(f, fam->name, "_bucket", fam, s, le);
                fprintf(f, " %llu\n", cum);
            }
            write_name(f, fam->name, "_bucket", fam, s, "+Inf");
            fprintf(f, " %llu\n", s->count);
            write_name(f, fam->name, "_sum", fam, s, NULL);
            fputc(' ', f);
            write_value(f, s->value);
            fputc('\n', f);
            write_name(f, fam->name, "_count", fam, s, NULL);
            fprintf(f, " %llu\n", s->count);
        }
    }
    pthread_mutex_unlock(&lock);
}

void cass_metrics_sample(FILE *f, const char *name, double value, ...)
{
    va_list ap;
    va_start(ap, value);
    fputs(name, f);
    const char *k;
    int first = 1;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        fprintf(f, "%s%s=\"", first ? "{" : ",", k);
        write_escaped(f, v ? v : "");
        fputc('"', f);
        first = 0;
    }
    va_end(ap);
    if (!first)
        fputc('}', f);
    fputc(' ', f);
    write_value(f, value);
    fputc('\n', f);
}

void cass_metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < CASS_M_COUNT; i++) {
        struct series *s = families[i].series;
        while (s) {
            struct series *next = s->next;
            for (size_t j = 0; j < MAX_LABELS; j++)
                free(s->values[j]);
            free(s);
            s = next;
        }
        families[i].series = NULL;
    }
    pthread_mutex_unlock(&lock);
}

/* --- the whole page -------------------------------------------------------- */

/* cassiny_runs_total: final statuses only, so that it only grows (runs are
 * never forgotten); the others are a gauge of what is on the way now. */
static void write_run_counts(FILE *f, const json_t *counts)
{
    for (int final = 1; final >= 0; final--) {
        const char *name = final ? "cassiny_runs_total" : "cassiny_runs_active";
        cass_metrics_header(
            f, name, final ? "counter" : "gauge",
            final ? "Runs that ended, by kind and final status (succeeded, failed, stopped)."
                  : "Runs not ended yet, by kind and status (pending, queued, creating, "
                    "starting, running, ready).");
        size_t i;
        json_t *c;
        json_array_foreach(counts, i, c)
        {
            const char *st = json_string_value(json_object_get(c, "status"));
            if ((cass_store_status_final(st) != 0) != final)
                continue;
            cass_metrics_sample(f, name, (double)json_integer_value(json_object_get(c, "count")),
                                "kind", json_string_value(json_object_get(c, "kind")), "status", st,
                                NULL);
        }
    }
}

/* cassiny_tasks: the workloads of live runs by the node they run on, as
 * the runs recorded it (backends that place workloads on nodes: Swarm). */
static void write_node_counts(FILE *f, const json_t *active)
{
    _cleanup_json_ json_t *per = json_object();
    size_t i, j;
    json_t *r, *c;
    json_array_foreach(active, i, r)
    {
        json_t *nodes = json_object_get(r, "nodes");
        json_array_foreach(json_object_get(r, "containers"), j, c)
        {
            const char *node = json_string_value(json_object_get(nodes, json_string_value(c)));
            if (!node)
                continue;
            json_int_t n = json_integer_value(json_object_get(per, node));
            json_object_set_new(per, node, json_integer(n + 1));
        }
    }
    if (json_object_size(per) == 0)
        return;
    cass_metrics_header(f, "cassiny_tasks", "gauge",
                        "Workloads of live runs, by the Swarm node they run on.");
    const char *node;
    json_t *n;
    json_object_foreach(per, node, n)
        cass_metrics_sample(f, "cassiny_tasks", (double)json_integer_value(n), "node", node, NULL);
}

char *cass_metrics_render(struct cass_daemon *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    const struct {
        const char *name, *type, *help;
        double value;
    } fixed[] = {
        {"cassiny_up", "gauge", "Whether cassinyd is serving.", 1},
        {"cassiny_start_time_seconds", "gauge", "When cassinyd started, in seconds since 1970.",
         (double)d->started_at},
        {"cassiny_engine_connected", "gauge",
         "Whether the Docker Engine answered the last ping (every second).",
         atomic_load(&d->engine_state) == CASS_ENGINE_UP},
        {"cassiny_engine_reconnects_total", "counter",
         "Times the engine answered again after it did not.",
         (double)atomic_load(&d->engine_reconnects)},
        {"cassiny_store_disk_full", "gauge",
         "Whether the state directory is full (new work refused with 507).",
         cass_store_full(d->store)},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        /* A gateway process talks to no engine: the daemon's page says. */
        if (d->role == CASS_ROLE_GATEWAY && strncmp(fixed[i].name, "cassiny_engine_", 15) == 0)
            continue;
        cass_metrics_header(f, fixed[i].name, fixed[i].type, fixed[i].help);
        cass_metrics_sample(f, fixed[i].name, fixed[i].value, NULL);
    }
    int64_t size = cass_store_size(d->store, NULL);
    if (size >= 0) {
        cass_metrics_header(f, "cassiny_store_size_bytes", "gauge",
                            "Size of the database (runs, revisions, audit log).");
        cass_metrics_sample(f, "cassiny_store_size_bytes", (double)size, NULL);
    }
    struct statvfs vfs;
    if (statvfs(cass_daemon_config_str(d, "stateDir"), &vfs) == 0) {
        cass_metrics_header(f, "cassiny_state_free_bytes", "gauge",
                            "Bytes free for cassinyd in the state directory's file system.");
        cass_metrics_sample(f, "cassiny_state_free_bytes", (double)vfs.f_bavail * vfs.f_frsize,
                            NULL);
    }
    if (d->lifecycle) {
        struct cass_lifecycle_stats st;
        cass_lifecycle_stats(d->lifecycle, &st);
        cass_metrics_header(f, "cassiny_queue_length", "gauge", "Runs waiting, by queue.");
        cass_metrics_sample(f, "cassiny_queue_length", (double)st.launch_queue, "queue", "launch",
                            NULL);
        cass_metrics_sample(f, "cassiny_queue_length", (double)st.job_queue, "queue", "job", NULL);
        const struct {
            const char *name, *help;
            size_t value;
        } lc[] = {
            {"cassiny_launches_in_progress", "Runs being created and started.", st.launching},
            {"cassiny_launches_max", "limits.maxConcurrentLaunches.", st.max_launches},
            {"cassiny_jobs_running", "Jobs a runner has in hand.", st.running_jobs},
            {"cassiny_jobs_running_max", "limits.maxRunningJobs.", st.max_running_jobs},
        };
        for (size_t i = 0; i < sizeof(lc) / sizeof(lc[0]); i++) {
            cass_metrics_header(f, lc[i].name, "gauge", lc[i].help);
            cass_metrics_sample(f, lc[i].name, (double)lc[i].value, NULL);
        }
    }
    _cleanup_json_ json_t *counts = cass_store_run_counts(d->store, NULL);
    if (counts)
        write_run_counts(f, counts);
    _cleanup_json_ json_t *active = cass_store_runs_active(d->store, NULL);
    if (active)
        write_node_counts(f, active);
    cass_metrics_write(f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
