/* Fills a cassinyd state directory with run history for the memory
 * benchmark (tests/bench/run.sh): N runs (default 10000) of NAMES spec names
 * (default 100), each run of its own revision, all in final states, written
 * through the store API exactly as the daemon writes them. Run it before the
 * daemon starts on that state directory.
 *
 *   fill_store STATE_DIR [RUNS [NAMES]]
 *
 * Each revision is a real Notebook spec put through the spec pipeline (so its
 * canonical JSON and hash are what `apply` would store); each run carries the
 * fields a finished notebook run has (image ID, container, port, URL, times)
 * and ends stopped or failed. The last run of every name is made
 * its spec's current run, so GET /v1/specs lists NAMES specs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "error.h"
#include "hash.h"
#include "spec.h"
#include "store.h"

static int fail(struct cass_error *err, const char *what)
{
    fprintf(stderr, "fill_store: %s: ", what);
    cass_error_fprint(stderr, err, NULL);
    cass_error_free(err);
    return 1;
}

static long parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 10000000) {
        fprintf(stderr, "fill_store: %s must be a positive integer, not \"%s\"\n", what, s);
        exit(2);
    }
    return v;
}

/* RFC 3339 UTC with milliseconds: t seconds since the epoch and ms. */
static void fmt_time(time_t t, unsigned ms, char out[CASS_STORE_TIME_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, CASS_STORE_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, CASS_STORE_TIME_LEN + 1 - n, ".%03uZ", ms % 1000u);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fputs("Usage: fill_store STATE_DIR [RUNS [NAMES]]\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    long runs = argc > 2 ? parse_count(argv[2], "RUNS") : 10000;
    long names = argc > 3 ? parse_count(argv[3], "NAMES") : 100;
    if (names > runs)
        names = runs;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "fill_store: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, CASS_STORE_FILE) < 0)
        return 1;
    struct cass_error *err = NULL;
    struct cass_store *s = cass_store_open(path, &err);
    if (!s)
        return fail(err, path);

    /* A plausible image ID, fixed for the whole history. */
    char image_hex[CASS_SHA256_HEX_LEN + 1];
    cass_hash_sha256_hex("cassiny/notebook:bookworm", 25, image_hex);
    char image_id[80];
    snprintf(image_id, sizeof(image_id), "sha256:%s", image_hex);

    /* How notebook runs end: replaced by a new revision, deleted, culled, or failed. */
    static const char *const finals[] = {"stopped", "stopped", "stopped", "failed", "failed"};
    static const char *const reasons[] = {"replaced", "deleted", "idle", "exited",
                                          "container-vanished"};
    time_t base = time(NULL) - (time_t)runs * 60; /* one run a minute, ending now */
    int rc = 0;
    for (long i = 0; i < runs && rc == 0; i++) {
        long n = i % names;
        char name[32];
        snprintf(name, sizeof(name), "bench-nb-%04ld", n);
        /* A different env value per run gives each run its own revision. */
        char yaml[512];
        int len = snprintf(yaml, sizeof(yaml),
                           "apiVersion: cassiny/v1\nkind: Notebook\n"
                           "metadata: {name: %s, labels: {team: bench}}\n"
                           "spec:\n  image: cassiny/notebook:bookworm\n"
                           "  resources: {cpus: 1, memory: 1Gi}\n"
                           "  env: {BENCH_SEQ: \"%ld\"}\n  idleTimeout: 1h\n",
                           name, i);
        _cleanup_json_ json_t *docs = cass_spec_load(yaml, (size_t)len, &err);
        if (!docs)
            return fail(err, "spec");
        json_t *doc = json_array_get(docs, 0);
        const char *rev = json_string_value(json_object_get(doc, "revision"));
        if (cass_store_revision_put(s, rev, name, "Notebook",
                                    json_string_value(json_object_get(doc, "canonical")), &err) < 0)
            return fail(err, "revision_put");

        char created[CASS_STORE_TIME_LEN + 1], started[CASS_STORE_TIME_LEN + 1],
            ready[CASS_STORE_TIME_LEN + 1];
        time_t t = base + (time_t)i * 60;
        fmt_time(t, (unsigned)(i % 1000), created);
        fmt_time(t + 1, (unsigned)(i * 7 % 1000), started);
        fmt_time(t + 4, (unsigned)(i * 13 % 1000), ready);
        char cid_seed[64], cid[CASS_SHA256_HEX_LEN + 1], url[160];
        snprintf(cid_seed, sizeof(cid_seed), "container-%ld", i);
        cass_hash_sha256_hex(cid_seed, strlen(cid_seed), cid);
        int port = 32768 + (int)(i % 28000);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=%.43s", port, cid + 8);
        _cleanup_json_ json_t *run = json_pack(
            "{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:[]},s:[s],s:s,s:[{s:i,s:s,s:i}],s:s,s:s,s:s}", "name",
            name, "kind", "Notebook", "revision", rev, "status", "ready", "image", "ref",
            "cassiny/notebook:bookworm", "id", image_id, "repoDigests", "containers", cid, "url",
            url, "ports", "containerPort", 8888, "hostIp", "127.0.0.1", "hostPort", port,
            "createdAt", created, "startedAt", started, "readyAt", ready);
        json_t *stored = NULL;
        if (!run || cass_store_run_insert(s, run, &stored, &err) < 0)
            return fail(err, "run_insert");
        const char *id = json_string_value(json_object_get(stored, "id"));
        size_t k = (size_t)i % (sizeof(finals) / sizeof(finals[0]));
        if (cass_store_run_set_status(s, id, finals[k], reasons[k], NULL, &err) < 0)
            rc = fail(err, "run_set_status");
        else if (i >= runs - names && cass_store_spec_put(s, name, "Notebook", rev, id, &err) < 0)
            rc = fail(err, "spec_put");
        json_decref(stored);
        if ((i + 1) % 2000 == 0)
            fprintf(stderr, "fill_store: %ld runs\n", i + 1);
    }
    cass_store_close(s);
    if (rc == 0)
        printf("%ld runs of %ld specs in %s\n", runs, names, path);
    return rc;
}
