/* Hashes a tree with cass_outputs_manifest_parallel for the hashing
 * benchmark (tests/bench/hash.sh), timing each manifest on its own:
 *
 *   hash_tree [-c CACHE] [-t THREADS] [-n TIMES] [-m MANIFEST] DIR
 *
 * Prints one JSON line per manifest: {"ms", "cpu_ms", "files", "bytes",
 * "read"}: wall and CPU (user + system, all threads) time, and the files
 * actually read (0 when the cache answered for all of them); then
 * {"open_ms"} for the cache. -m writes the last manifest there
 * as "sha256  path" lines, the format of sha256sum, to check the hashes
 * against another tool's. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "outputs.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* User and system time of the whole process, all threads. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int fail(struct cass_error *err, const char *what)
{
    fprintf(stderr, "hash_tree: %s: ", what);
    cass_error_fprint(stderr, err, NULL);
    cass_error_free(err);
    return 1;
}

static long number(const char *s, const char *what, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > 1000000) {
        fprintf(stderr, "hash_tree: %s must be an integer >= %ld, not \"%s\"\n", what, min, s);
        exit(2);
    }
    return v;
}

static int write_sums(const char *path, const json_t *m)
{
    _cleanup_fclose_ FILE *f = fopen(path, "we");
    if (!f) {
        fprintf(stderr, "hash_tree: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e)
    {
        fprintf(f, "%s  %s\n", json_string_value(json_object_get(e, "sha256")),
                json_string_value(json_object_get(e, "path")));
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cache_path = NULL, *sums = NULL;
    long threads = 0, times = 1;
    int opt;
    while ((opt = getopt(argc, argv, "c:t:n:m:")) != -1) {
        switch (opt) {
        case 'c':
            cache_path = optarg;
            break;
        case 't':
            threads = number(optarg, "THREADS", 0);
            break;
        case 'n':
            times = number(optarg, "TIMES", 1);
            break;
        case 'm':
            sums = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc - 1)
        goto usage;
    const char *dir = argv[optind];
    struct cass_error *err = NULL;
    struct cass_hashcache *cache = NULL;
    double open_ms = 0;
    if (cache_path) {
        double t0 = now_ms();
        cache = cass_hashcache_open(cache_path, &err);
        open_ms = now_ms() - t0;
        if (!cache)
            return fail(err, cache_path);
    }
    json_t *m = NULL;
    for (long i = 0; i < times; i++) {
        json_decref(m);
        unsigned long long read0 = cass_outputs_files_read();
        double t0 = now_ms(), c0 = cpu_ms();
        m = cass_outputs_manifest_parallel(dir, "", cache, (unsigned)threads, &err);
        double ms = now_ms() - t0, cpu = cpu_ms() - c0;
        if (!m) {
            cass_hashcache_close(cache);
            return fail(err, dir);
        }
        long long bytes = 0;
        size_t k;
        json_t *e;
        json_array_foreach(m, k, e)
        {
            bytes += json_integer_value(json_object_get(e, "size"));
        }
        printf("{\"ms\": %.3f, \"cpu_ms\": %.3f, \"files\": %zu, \"bytes\": %lld, "
               "\"read\": %llu}\n",
               ms, cpu, json_array_size(m), bytes, cass_outputs_files_read() - read0);
    }
    if (cache) {
        struct cass_error *cerr = cass_hashcache_take_error(cache);
        if (cerr)
            fail(cerr, "cache");
        cass_hashcache_close(cache);
    }
    printf("{\"open_ms\": %.3f}\n", open_ms);
    int rc = sums && write_sums(sums, m) < 0 ? 1 : 0;
    json_decref(m);
    return rc;
usage:
    fputs("Usage: hash_tree [-c CACHE] [-t THREADS] [-n TIMES] [-m MANIFEST] DIR\n", stderr);
    return 2;
}
